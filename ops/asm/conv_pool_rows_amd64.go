//go:build !purego

package asm

import "unsafe"

// sumPlaneRowsAVX512 is in conv_pool_rows_amd64.s.
//
//go:noescape
func sumPlaneRowsAVX512(dst *float32, ldd int, nx int, ny int, src *float32, lds int, kh int, kw int, sh int, scale *float32, rows *float32)

// sumPlaneRows runs sumPlaneRowsAVX512 with AVX-512 on rows of more
// than 8 outputs, else SumPlane's kernel (AVX2 or Go: the same results).
// On 8 outputs or fewer the AVX2 kernel's one 8-lane vector a row beats
// the two passes (BenchmarkSumPlaneRows on Zen 5: 7×7 19 against 29 ns
// a plane; 14×14 50 against 29, 28×28 196 against 119).
func sumPlaneRows(dst []float32, ldd, nx, ny int, src []float32, lds, kh, kw, sh, maskRows int, scale, rows []float32) {
	if convAVX2 && hasAVX512 && nx > 8 {
		sumPlaneRowsAVX512(unsafe.SliceData(dst), ldd, nx, ny, unsafe.SliceData(src), lds, kh, kw, sh, unsafe.SliceData(scale), unsafe.SliceData(rows))
		return
	}
	poolSumPlane(dst, ldd, nx, ny, src, lds, kh, kw, sh, 1, maskRows, scale)
}
