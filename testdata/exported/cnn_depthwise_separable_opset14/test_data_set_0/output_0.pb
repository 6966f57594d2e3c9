
BlogitsJ8™Ã=.Šý=MAt>uî7>Š>¾oÌB>E±v>î]½=<·þ=Dšr>Ìý7>ŒI¾V%D>$…w>