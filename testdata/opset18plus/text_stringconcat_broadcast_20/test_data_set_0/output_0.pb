
2left-x2left-yy2left-é2x2yy2éBy