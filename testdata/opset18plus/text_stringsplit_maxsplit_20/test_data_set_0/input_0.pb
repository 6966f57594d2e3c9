2
1--2--3--42--lead2noneBx