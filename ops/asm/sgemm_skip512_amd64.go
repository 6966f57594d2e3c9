//go:build !purego

package asm

import "unsafe"

// skipAVX512 are the kernels for SgemmSkip of the AVX-512
// implementation: the AVX2 ones (whose results its four-row and one-row
// products share), but for the row-listed product (two to four panels at
// a time in 512-bit vectors), the pair-listed and the union-listed ones
// and the scans that list rows, pairs and the union, which are AVX-512
// kernels.
var skipAVX512 = &skipKernels{rows4: skipRows4AVX2, scan4: skipScan4, count4: skipCount4, rows: skipRowsAVX512Go, row: skipRowAVX2, nonZero: nonZeroMask, scanRows4: skipScanRows4512, pairs: skipPairsAVX512Go, scanPairs: skipScanPairs512, union: skipUnionAVX512Go, scanUnion: skipScanUnion512}

// skipRowsAVX512 is in sgemm_skip512_amd64.s.
//
//go:noescape
func skipRowsAVX512(offs *int32, a *float32, lda int, starts *int32, b *float32, ps int, np int, c *float32, ldc int, alpha float32, beta float32)

// skipRowsAVX512Go checks the extents of a row-listed block (see
// skipKernels.rows) and runs skipRowsAVX512 on its panels four at a
// time, three on the rest when there are three, skipRows2AVX512 on two
// (two rows at a time: one row's four 512-bit accumulators would leave
// the FMA units waiting on their four-cycle chains) and skipRowsAVX2 on
// one.
//
// On Zen 5 a listed step of skipRowsAVX512 takes 7-8 cycles with every
// panel row in L1 (9-11 from L2), not the 4 of its eight multiply-adds:
// loads whose address comes from a load (the step's offset) issue at
// about one a cycle there, loads of computed addresses at two. Walking
// the four rows' lists in turn over runs of 16 to 196 steps, so that
// rows sharing a step find its panel rows in L1, saved nothing (tried on
// the MNIST MLP's first layer, 2026-11-29).
func skipRowsAVX512Go(offs []int32, a []float32, lda int, starts []int32, b []float32, kb, np int, c []float32, ldc int, alpha, beta float32) {
	checkListedBlock(offs, a, lda, starts, 4, b, kb, np, c, ldc)
	ps := kb * panelN * 4
	q := 0
	for ; np-q >= 3; q += min(4, np-q) {
		skipRowsAVX512(unsafe.SliceData(offs), unsafe.SliceData(a), lda, unsafe.SliceData(starts), &b[q*panelN*kb], ps, min(4, np-q), &c[q*panelN], ldc, alpha, beta)
	}
	if np-q == 2 {
		skipRows2AVX512(unsafe.SliceData(offs), unsafe.SliceData(a), lda, unsafe.SliceData(starts), &b[q*panelN*kb], ps, &c[q*panelN], ldc, alpha, beta)
		return
	}
	skipRowsAVX2Panels(offs, a, lda, starts, b, kb, q, np, c, ldc, alpha, beta)
}

// skipRows2AVX512 is in sgemm_skip512_amd64.s.
//
//go:noescape
func skipRows2AVX512(offs *int32, a *float32, lda int, starts *int32, b *float32, ps int, c *float32, ldc int, alpha float32, beta float32)

// skipScanRows4AVX512 is in sgemm_skip512_amd64.s.
//
//go:noescape
func skipScanRows4AVX512(kb int, a *float32, lda int, offs *int32, ends *int32)

// skipScanRows4512 is scanRows4 (see skipKernels) by skipScanRows4AVX512.
func skipScanRows4512(kb int, a []float32, lda int, offs []int32, ends []int32) {
	_ = ends[3]
	if kb <= 0 {
		clear(ends[:4])
		return
	}
	_ = a[3*lda+kb-1]
	_ = offs[4*kb+15]
	skipScanRows4AVX512(kb, unsafe.SliceData(a), lda, unsafe.SliceData(offs), unsafe.SliceData(ends))
}

// skipPairsAVX512 is in sgemm_skip512_amd64.s.
//
//go:noescape
func skipPairsAVX512(offs *int32, a *float32, lda int, starts *int32, b *float32, ps int, np int, c *float32, ldc int, alpha float32, beta float32)

// skipPairsAVX512Go checks the extents of a pair-listed block (see
// skipKernels.pairs) and runs skipPairsAVX512 on its panels four at a
// time.
func skipPairsAVX512Go(offs []int32, a []float32, lda int, starts []int32, b []float32, kb, np int, c []float32, ldc int, alpha, beta float32) {
	checkListedBlock(offs, a, lda, starts, 2, b, kb, np, c, ldc)
	ps := kb * panelN * 4
	for q := 0; q < np; q += 4 {
		skipPairsAVX512(unsafe.SliceData(offs), unsafe.SliceData(a), lda, unsafe.SliceData(starts), &b[q*panelN*kb], ps, min(4, np-q), &c[q*panelN], ldc, alpha, beta)
	}
}

// skipScanPairsAVX512 is in sgemm_skip512_amd64.s.
//
//go:noescape
func skipScanPairsAVX512(kb int, a *float32, lda int, offs *int32, ends *int32) (rows int)

// skipScanPairs512 is scanPairs (see skipKernels) by skipScanPairsAVX512.
func skipScanPairs512(kb int, a []float32, lda int, offs []int32, ends []int32) int {
	_ = ends[1]
	if kb <= 0 {
		ends[0], ends[1] = 0, 0
		return 0
	}
	_ = a[3*lda+kb-1]
	_ = offs[2*kb+15]
	return skipScanPairsAVX512(kb, unsafe.SliceData(a), lda, unsafe.SliceData(offs), unsafe.SliceData(ends))
}

// skipUnionAVX512 is in sgemm_skip512_amd64.s.
//
//go:noescape
func skipUnionAVX512(offs *int32, a *float32, lda int, starts *int32, b *float32, ps int, np int, c *float32, ldc int, alpha float32, beta float32)

// skipUnionAVX512Go checks the extents of a block listed once for the
// four rows (see skipKernels.union) and runs skipUnionAVX512 on it.
func skipUnionAVX512Go(offs []int32, a []float32, lda int, starts []int32, b []float32, kb, np int, c []float32, ldc int, alpha, beta float32) {
	checkListedBlock(offs, a, lda, starts, 1, b, kb, np, c, ldc)
	skipUnionAVX512(unsafe.SliceData(offs), unsafe.SliceData(a), lda, unsafe.SliceData(starts), unsafe.SliceData(b), kb*panelN*4, np, unsafe.SliceData(c), ldc, alpha, beta)
}

// skipScanUnionAVX512 is in sgemm_skip512_amd64.s.
//
//go:noescape
func skipScanUnionAVX512(kb int, a *float32, lda int, offs *int32) (n, rows, pairs int)

// skipScanUnion512 is scanUnion (see skipKernels) by skipScanUnionAVX512.
func skipScanUnion512(kb int, a []float32, lda int, offs []int32) (n, rows, pairs int) {
	if kb <= 0 {
		return 0, 0, 0
	}
	_ = a[3*lda+kb-1]
	_ = offs[kb+15]
	return skipScanUnionAVX512(kb, unsafe.SliceData(a), lda, unsafe.SliceData(offs))
}
