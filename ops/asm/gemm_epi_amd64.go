//go:build !purego

package asm

import "unsafe"

// The AVX2 product epilogue of gemm_epi_amd64.s; without AVX2 and FMA, or
// when INFER_KERNELS=generic chose the generic SGEMM, the Go reference
// runs.

//go:noescape
func gemmBiasClampAVX2(c *float32, ldc int, rows int, n int, bias *float32, ldb int, lo float32, hi float32, z float32)

// gemmBiasClamp is GemmBiasClamp with the extents checked.
func gemmBiasClamp(rows, n int, c []float32, ldc int, bias []float32, ldb int, lo, hi float32) {
	if !convAVX2 {
		gemmBiasClampGo(rows, n, c, ldc, bias, ldb, lo, hi)
		return
	}
	gemmBiasClampAVX2(unsafe.SliceData(c), ldc, rows, n, unsafe.SliceData(bias), ldb, lo, hi, zeroFor(lo))
}
