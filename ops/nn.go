package ops

// registerNN registers the neural-network operators: matrix products
// (gemm.go), convolutions (conv.go), pooling (pool.go), normalizations
// (norm.go) and Dropout (dropout.go).
func registerNN(r *Registry) {
	registerGemm(r)
	registerConv(r)
	registerDwBlock(r)
	registerPool(r)
	registerNorm(r)
	registerDropout(r)
}
