
BxJGÏM&Ìüº*JXI