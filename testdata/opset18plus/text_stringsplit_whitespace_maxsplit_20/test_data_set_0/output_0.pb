
2a2b  c2x2yB
substrings