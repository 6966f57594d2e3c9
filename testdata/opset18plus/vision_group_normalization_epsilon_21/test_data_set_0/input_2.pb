BbiasJåðd> ÀA½Í_>f#×¾/Æ
? sE¾