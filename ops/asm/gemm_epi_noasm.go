//go:build !amd64 || purego

package asm

// Without assembly the product epilogue is the Go reference.

func gemmBiasClamp(rows, n int, c []float32, ldc int, bias []float32, ldb int, lo, hi float32) {
	gemmBiasClampGo(rows, n, c, ldc, bias, ldb, lo, hi)
}
