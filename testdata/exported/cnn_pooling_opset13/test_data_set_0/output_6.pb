
Badaptive_max_1Jµ@]_õ?d–ý?ÛT·?~@Èð?