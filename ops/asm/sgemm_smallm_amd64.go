//go:build !purego

package asm

import "unsafe"

// sgemm4RowsAVX2 is in sgemm_smallm_amd64.s.
//
//go:noescape
func sgemm4RowsAVX2(k int, a *float32, lda int, b0 *float32, b1 *float32, b2 *float32, c *float32, ldc int, alpha float32, beta float32, ng int)

func init() {
	// The four-row kernel gives what the AVX2 and AVX-512 tiles of four
	// rows give, bit for bit: it joins both implementations (see
	// sgemmImpl.rows4).
	for _, im := range archSgemmImpls {
		if im.name == "avx2" || im.name == "avx512" {
			im.rows4 = rows4AVX2
		}
	}
}

// rows4AVX2 checks the extents of a four-row block (see sgemmImpl.rows4)
// and runs the kernel.
func rows4AVX2(k int, a []float32, lda int, b [3][]float32, c []float32, ldc int, alpha, beta float32, ng int) {
	if k <= 0 || ng < 2 || ng > 3 {
		panic("asm: bad four-row block")
	}
	_ = a[3*lda+k-1]
	_ = c[3*ldc+8*ng-1]
	for g := 0; g < ng; g++ {
		_ = b[g][(k-1)*panelN+7]
	}
	b2 := unsafe.SliceData(b[0])
	if ng == 3 {
		b2 = unsafe.SliceData(b[2])
	}
	sgemm4RowsAVX2(k, unsafe.SliceData(a), lda, unsafe.SliceData(b[0]), unsafe.SliceData(b[1]), b2, unsafe.SliceData(c), ldc, alpha, beta, ng)
}
