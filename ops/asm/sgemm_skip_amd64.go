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
var skipAVX2 = &skipKernels{rows4: skipRows4AVX2, scan4: skipScan4, count4: skipCount4, rows: skipRowsAVX2Go, row: skipRowAVX2, nonZero: nonZeroMask, scanRows4: skipScanRows4}

// nonZeroMask checks the length of a (see skipKernels.nonZero) and runs
// nonZeroMaskAVX2.
func nonZeroMask(a []float32) uint64 {
	if len(a)%8 != 0 || len(a) > 64 {
		panic("asm: bad length for a non-zero mask")
	}
	if len(a) == 0 {
		return 0
	}
	return nonZeroMaskAVX2(len(a), unsafe.SliceData(a))
}

// skipRowAVX2 checks the extents of a listed one-row block (see
// skipKernels.row) and runs sgemvSkipAVX2 on it.
func skipRowAVX2(ev, od []int32, a, b []float32, kb, np int, c []float32, alpha, beta float32) {
	if np < 1 || kb < 1 || len(a) < kb {
		panic("asm: bad listed one-row block")
	}
	_ = c[np*panelN-1]
	_ = b[np*panelN*kb-1]
	// Each list increases: its first and last bound it.
	for _, l := range [2][]int32{ev, od} {
		if len(l) > 0 && (l[0] < 0 || int(l[len(l)-1]) >= kb*panelN*4 || l[len(l)-1]%(panelN*4) != 0) {
			panic("asm: listed step outside the block")
		}
	}
	sgemvSkipAVX2(len(ev), len(od), unsafe.SliceData(ev), unsafe.SliceData(od), unsafe.SliceData(a), unsafe.SliceData(b), unsafe.SliceData(c), np, kb*panelN*4, alpha, beta)
}

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
	switch {
	case im.name == "avx512" && hasAVX512:
		return skipAVX512
	case (im.name == "avx2" || im.name == "avx512") && hasAVX2FMA:
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

// skipRowsAVX2 is in sgemm_skip_amd64.s.
//
//go:noescape
func skipRowsAVX2(offs *int32, a *float32, lda int, starts *int32, b *float32, ps int, np int, c *float32, ldc int, alpha float32, beta float32)

// skipScanRows4AVX2 is in sgemm_skip_amd64.s.
//
//go:noescape
func skipScanRows4AVX2(kb int, a *float32, lda int, offs *int32, ends *int32)

// skipScanRows4 is scanRows4 (see skipKernels) by skipScanRows4AVX2.
func skipScanRows4(kb int, a []float32, lda int, offs []int32, ends []int32) {
	_ = ends[3]
	if kb <= 0 {
		clear(ends[:4])
		return
	}
	_ = a[3*lda+kb-1]
	_ = offs[4*kb+7]
	skipScanRows4AVX2(kb, unsafe.SliceData(a), lda, unsafe.SliceData(offs), unsafe.SliceData(ends))
}

// skipRowsAVX2Go checks the extents of a row-listed block (see
// skipKernels.rows) and runs the kernel on its panels, two at a time
// (eight accumulators keep the FMA units busy), three where two would
// leave one alone.
func skipRowsAVX2Go(offs []int32, a []float32, lda int, starts []int32, b []float32, kb, np int, c []float32, ldc int, alpha, beta float32) {
	checkListedBlock(offs, a, lda, starts, 4, b, kb, np, c, ldc)
	skipRowsAVX2Panels(offs, a, lda, starts, b, kb, 0, np, c, ldc, alpha, beta)
}

// skipRowsAVX2Panels runs skipRowsAVX2 on the panels q0 <= q < q1 of a
// checked row-listed block.
func skipRowsAVX2Panels(offs []int32, a []float32, lda int, starts []int32, b []float32, kb, q0, q1 int, c []float32, ldc int, alpha, beta float32) {
	ps := kb * panelN * 4
	for q := q0; q < q1; {
		n := 2
		switch r := q1 - q; {
		case r == 1:
			n = 1
		case r == 3:
			n = 3
		}
		skipRowsAVX2(unsafe.SliceData(offs), unsafe.SliceData(a), lda, unsafe.SliceData(starts), &b[q*panelN*kb], ps, n, &c[q*panelN], ldc, alpha, beta)
		q += n
	}
}

// checkListedBlock panics unless the operands of a block listed in
// nlists lists (4: a row-listed block, see skipKernels.rows; 2:
// pair-listed; 1: union-listed) hold what its kernels read and write.
func checkListedBlock(offs []int32, a []float32, lda int, starts []int32, nlists int, b []float32, kb, np int, c []float32, ldc int) {
	if np < 1 || kb < 1 {
		panic("asm: bad listed block")
	}
	_ = starts[nlists]
	_ = c[3*ldc+panelN*np-1]
	_ = b[np*panelN*kb-1]
	// Each list's steps increase: its first and last bound them all.
	for i := 0; i < nlists; i++ {
		e0, e1 := int(starts[i]), int(starts[i+1])
		if e0 < 0 || e0 > e1 || e1 > len(offs) {
			panic("asm: bad list")
		}
		if e0 < e1 {
			lo, hi := offs[e0], offs[e1-1]
			if lo < 0 || int(hi) >= kb*panelN*4 || hi%(panelN*4) != 0 {
				panic("asm: listed step outside the block")
			}
		}
	}
	_ = a[3*lda+kb-1]
}

// skipCount4AVX2 is in sgemm_skip_amd64.s.
//
//go:noescape
func skipCount4AVX2(n int, a *float32, lda int) (union int, rows int)

// skipCount4 is countSteps4 with the steps below kb&^7 counted by
// skipCount4AVX2.
func skipCount4(kb int, a []float32, lda int) (union, rows int) {
	n8 := kb &^ 7
	if n8 == 0 {
		return countSteps4(0, kb, a, lda)
	}
	_ = a[3*lda+kb-1]
	u, r := skipCount4AVX2(n8, unsafe.SliceData(a), lda)
	tu, tr := countSteps4(n8, kb, a, lda)
	return u + tu, r + tr
}
