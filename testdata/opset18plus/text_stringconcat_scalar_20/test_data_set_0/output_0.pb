
2a_suffix2	bc_suffix2_suffix2déf_suffixBy