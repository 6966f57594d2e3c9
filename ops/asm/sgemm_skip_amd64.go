//go:build !purego

package asm

import "unsafe"

// sgemmSkip4AVX2 is in sgemm_skip_amd64.s.
//
//go:noescape
func sgemmSkip4AVX2(cnt int, idx *int32, a *float32, lda int, b0 *float32, b1 *float32, b2 *float32, c *float32, ldc int, alpha float32, beta float32, ng int)

// skipScan4AVX2 is in sgemm_skip_amd64.s.
//
//go:noescape
func skipScan4AVX2(n int, a *float32, lda int, idx *int32) int

// skipAVX2 are the AVX2 kernels for SgemmSkip.
var skipAVX2 = &skipKernels{rows4: skipRows4AVX2, scan4: skipScan4}

// skipScan4 is scanSteps4 with the steps below kb&^7 scanned by
// skipScan4AVX2.
func skipScan4(kb int, a []float32, lda int, idx []int32) int {
	n8 := kb &^ 7
	if n8 == 0 {
		return scanSteps4(0, kb, a, lda, idx, 0)
	}
	_ = a[3*lda+kb-1]
	_ = idx[kb-1]
	e := skipScan4AVX2(n8, unsafe.SliceData(a), lda, unsafe.SliceData(idx))
	return scanSteps4(n8, kb, a, lda, idx, e)
}

// skipKernelsFor returns the kernels for SgemmSkip that give what im
// gives, bit for bit, or nil.
func skipKernelsFor(im *sgemmImpl) *skipKernels {
	if im.name == "avx2" && hasAVX2FMA {
		return skipAVX2
	}
	return nil
}

// skipRows4AVX2 checks the extents of a listed four-row block (see
// skipKernels.rows4) and runs the kernel.
func skipRows4AVX2(idx []int32, a []float32, lda int, b [3][]float32, c []float32, ldc int, alpha, beta float32, ng int) {
	if ng < 2 || ng > 3 {
		panic("asm: bad listed four-row block")
	}
	_ = c[3*ldc+8*ng-1]
	_ = idx[:len(idx)+skipAhead] // read ahead for prefetching
	if cnt := len(idx); cnt > 0 {
		// The steps increase: the first and last bound them all.
		lo, hi := int(idx[0]), int(idx[cnt-1])
		_ = a[3*lda+hi]
		for g := 0; g < ng; g++ {
			if lo < 0 || hi*panelN+8 > len(b[g]) {
				panic("asm: listed step outside B")
			}
		}
	}
	b2 := unsafe.SliceData(b[0])
	if ng == 3 {
		b2 = unsafe.SliceData(b[2])
	}
	sgemmSkip4AVX2(len(idx), unsafe.SliceData(idx), unsafe.SliceData(a), lda, unsafe.SliceData(b[0]), unsafe.SliceData(b[1]), b2, unsafe.SliceData(c), ldc, alpha, beta, ng)
}
