
ByJ}l‹€q’iu