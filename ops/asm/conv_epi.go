package asm

import (
	"fmt"
	"math"
	"sync"
)

// This file holds the convolution helpers: an activation epilogue that
// adds a per-row bias, a GEMM driver whose right operand is packed by the
// caller (im2col straight into panels) and whose output tiles get the
// epilogue while they are in cache, and a direct 3×3 depthwise kernel.

// ConvAct is an activation fused into a convolution's output: a clamp to
// [Lo, Hi] as min(max(x, Lo), Hi) (Relu is Lo = 0, Hi = +Inf; no
// activation is ±Inf), or, when Leaky, x < 0 ? Alpha*x : x. NaNs pass
// through unchanged.
type ConvAct struct {
	Leaky  bool
	Lo, Hi float32
	Alpha  float32
}

// ConvActNone returns the identity activation.
func ConvActNone() ConvAct {
	return ConvAct{Lo: float32(math.Inf(-1)), Hi: float32(math.Inf(1))}
}

// actMode is the mode argument of the assembly kernels.
func (a *ConvAct) mode() int {
	if a.Leaky {
		return 1
	}
	return 0
}

// apply is the scalar activation.
func (a *ConvAct) apply(v float32) float32 {
	if a.Leaky {
		if v < 0 {
			return v * a.Alpha
		}
		return v
	}
	if v < a.Lo {
		v = a.Lo
	}
	if v > a.Hi {
		v = a.Hi
	}
	return v
}

// BiasAct sets dst[i*ldd+j] = act(src[i*lds+j] + bias[i]) for i < rows,
// j < n (no bias when bias is nil). src and dst may be the same matrix.
func BiasAct(rows, n int, src []float32, lds int, bias []float32, act *ConvAct, dst []float32, ldd int) {
	if rows <= 0 || n <= 0 {
		return
	}
	_ = src[(rows-1)*lds+n-1]
	_ = dst[(rows-1)*ldd+n-1]
	if bias != nil {
		_ = bias[rows-1]
	}
	biasAct(rows, n, src, lds, bias, act, dst, ldd)
}

// biasActGo is the reference of biasAct.
func biasActGo(rows, n int, src []float32, lds int, bias []float32, act *ConvAct, dst []float32, ldd int) {
	for i := 0; i < rows; i++ {
		var b float32
		if bias != nil {
			b = bias[i]
		}
		s := src[i*lds : i*lds+n]
		d := dst[i*ldd : i*ldd+n]
		switch {
		case act.Leaky:
			al := act.Alpha
			for j, v := range s {
				v += b
				if v < 0 {
					v *= al
				}
				d[j] = v
			}
		default:
			lo, hi := act.Lo, act.Hi
			for j, v := range s {
				v += b
				if v < lo {
					v = lo
				}
				if v > hi {
					v = hi
				}
				d[j] = v
			}
		}
	}
}

// ScaleBiasAct sets dst[i*ldd+j] = act(src[i*lds+j]*scale[i] + bias[i])
// for i < rows, j < n, the product rounded to float32 before the sum (an
// inference BatchNormalization and its activation, each channel a row).
// src and dst may be the same matrix.
func ScaleBiasAct(rows, n int, src []float32, lds int, scale, bias []float32, act *ConvAct, dst []float32, ldd int) {
	if rows <= 0 || n <= 0 {
		return
	}
	_ = src[(rows-1)*lds+n-1]
	_ = dst[(rows-1)*ldd+n-1]
	_ = scale[rows-1]
	_ = bias[rows-1]
	scaleBiasAct(rows, n, src, lds, scale, bias, act, dst, ldd)
}

// scaleBiasActGo is the reference of scaleBiasAct.
func scaleBiasActGo(rows, n int, src []float32, lds int, scale, bias []float32, act *ConvAct, dst []float32, ldd int) {
	for i := 0; i < rows; i++ {
		m, b := scale[i], bias[i]
		s := src[i*lds : i*lds+n]
		d := dst[i*ldd : i*ldd+n]
		for j, v := range s {
			v = float32(v*m) + b // the conversion keeps the product rounded (no FMA)
			switch {
			case act.Leaky:
				if v < 0 {
					v *= act.Alpha
				}
			default:
				if v < act.Lo {
					v = act.Lo
				}
				if v > act.Hi {
					v = act.Hi
				}
			}
			d[j] = v
		}
	}
}

// BiasSumAct sets dst[i*ldd+j] = act(src[i*lds+j] + bias[i] + z[i*ldz+j])
// for i < rows, j < n (no bias when bias is nil), adding in that order:
// (src + bias) + z, as a Conv with a bias followed by an Add gives. src,
// z and dst may be the same matrix.
func BiasSumAct(rows, n int, src []float32, lds int, bias, z []float32, ldz int, act *ConvAct, dst []float32, ldd int) {
	if rows <= 0 || n <= 0 {
		return
	}
	if z == nil {
		BiasAct(rows, n, src, lds, bias, act, dst, ldd)
		return
	}
	_ = src[(rows-1)*lds+n-1]
	_ = dst[(rows-1)*ldd+n-1]
	_ = z[(rows-1)*ldz+n-1]
	if bias != nil {
		_ = bias[rows-1]
	}
	biasSumAct(rows, n, src, lds, bias, z, ldz, act, dst, ldd)
}

// BiasSumActPacked is BiasSumAct into rows of dst that follow each other
// (ldd = n), for a dst that overlaps neither src nor z: every row but the
// last is written in whole vectors, whose spill past the row the next
// row overwrites, so that only the last row needs masked stores (which
// are slow). z may be nil.
func BiasSumActPacked(rows, n int, src []float32, lds int, bias, z []float32, ldz int, act *ConvAct, dst []float32) {
	if rows <= 0 || n <= 0 {
		return
	}
	if n >= 8 && rows > 1 && n%8 != 0 && lds >= n && (z == nil || ldz >= n) {
		// Rows 0..rows-2 as rows of roundUp(n, 8) floats: the extra
		// floats read lie in the next row, and those written are
		// overwritten by it.
		nv := roundUp(n, 8)
		_ = src[(rows-1)*lds+n-1]
		_ = dst[(rows-1)*n+n-1]
		if bias != nil {
			_ = bias[rows-1]
		}
		if z != nil {
			_ = z[(rows-1)*ldz+n-1]
			biasSumAct(rows-1, nv, src, lds, bias, z, ldz, act, dst, n)
		} else {
			biasAct(rows-1, nv, src, lds, bias, act, dst, n)
		}
		last := rows - 1
		var bl, zl []float32
		if bias != nil {
			bl = bias[last : last+1]
		}
		if z != nil {
			zl = z[last*ldz:]
		}
		BiasSumAct(1, n, src[last*lds:], lds, bl, zl, ldz, act, dst[last*n:], n)
		return
	}
	BiasSumAct(rows, n, src, lds, bias, z, ldz, act, dst, n)
}

// biasSumActGo is the reference of biasSumAct.
func biasSumActGo(rows, n int, src []float32, lds int, bias, z []float32, ldz int, act *ConvAct, dst []float32, ldd int) {
	for i := 0; i < rows; i++ {
		var b float32
		if bias != nil {
			b = bias[i]
		}
		s := src[i*lds : i*lds+n]
		zr := z[i*ldz : i*ldz+n]
		d := dst[i*ldd : i*ldd+n]
		for j, v := range s {
			d[j] = act.apply(v + b + zr[j])
		}
	}
}

// PanelWidth is the number of columns in one panel of a packed right-hand
// operand (see PackFunc).
const PanelWidth = panelN

// PackFunc fills dst with the kb×nb block of a right-hand operand B whose
// top-left element is B[p0][j0], in panels: the columns j0+32q..j0+32q+31
// form panel q at dst[q*32*kb:], one row of 32 floats per p (row p0+r at
// dst[q*32*kb+32*r:]); the columns of the last panel past nb may hold
// anything (they are computed and dropped). dst extends CopyRunsSlack
// floats past the panels.
type PackFunc func(p0, kb, j0, nb int, dst []float32)

// PackBlock is a PackFunc for a plain row-major B (k×n at stride ldb).
func PackBlock(b []float32, ldb, p0, kb, j0, nb int, dst []float32) {
	if kb <= 0 || nb <= 0 {
		return
	}
	_ = b[(p0+kb-1)*ldb+j0+nb-1]
	_ = dst[roundUp(nb, panelN)*kb-1]
	packBBlock(false, kb, nb, b, ldb, p0, j0, dst)
}

// PackedBufLen is the length a PackFunc destination needs for blocks of
// up to kb×nb.
func PackedBufLen(kb, nb int) int { return roundUp(nb, panelN) * kb }

// SgemmActBlocks returns the block sizes that SgemmAct asks its PackFunc
// for: kb rows (all calls but the last of a column block) and nb columns.
func SgemmActBlocks(k int) (kb, nb int) { return actKBlock(k), nc }

var actBufPool = sync.Pool{New: func() any {
	b := alignedFloats(kc*nc + CopyRunsSlack)
	return &b
}}

// SgemmAct computes C = act(A·B + bias) for an m×k matrix A (row-major
// at stride lda), a k×n matrix B that pack supplies in panels, bias of
// length m (or nil) and C m×n at stride ldc: each tile of C gets the bias
// and the activation as soon as its last product is stored.
func SgemmAct(m, n, k int, a []float32, lda int, pack PackFunc, bias []float32, act *ConvAct, c []float32, ldc int) {
	SgemmActSum(m, n, k, a, lda, pack, bias, nil, 0, act, c, ldc)
}

// SgemmActSum is SgemmAct that also adds an m×n matrix z (at stride ldz;
// nil for none) before the activation: C = act(A·B + bias + z), summed
// in that order (see BiasSumAct), each tile while it is in cache. z must
// not overlap C.
func SgemmActSum(m, n, k int, a []float32, lda int, pack PackFunc, bias, z []float32, ldz int, act *ConvAct, c []float32, ldc int) {
	if m <= 0 || n <= 0 {
		return
	}
	_ = c[(m-1)*ldc+n-1]
	if bias != nil {
		_ = bias[m-1]
	}
	if z != nil {
		_ = z[(m-1)*ldz+n-1]
	}
	if act == nil {
		none := ConvActNone()
		act = &none
	}
	if k <= 0 {
		if z != nil {
			// (0 + bias) + z: a zero product, as a Conv of nothing gives.
			zero := make([]float32, n)
			for i := 0; i < m; i++ {
				var bi []float32
				if bias != nil {
					bi = bias[i : i+1]
				}
				biasSumAct(1, n, zero, n, bi, z[i*ldz:], ldz, act, c[i*ldc:], ldc)
			}
			return
		}
		for i := 0; i < m; i++ {
			clear(c[i*ldc : i*ldc+n])
		}
		biasAct(m, n, c, ldc, bias, act, c, ldc)
		return
	}
	checkA(false, m, k, a, lda)
	im := sgemmDefault
	// The blocked product with the epilogue (sgemm_act.go): applied in
	// the tiles' stores where the implementation has such tiles and the
	// product pays for them, else to each block of C while it is in cache.
	sgemmActBlocked(im, m, n, k, a, lda, pack, bias, z, ldz, act, c, ldc)
}

// actKC bounds the k blocks of SgemmAct: a panel of B (actKC×32 floats)
// stays in L1 while the tiles of a row chunk pass over it.
const actKC = 256

// actKBlock splits k into equal blocks of at most actKC.
func actKBlock(k int) int {
	if k <= actKC {
		return max(k, 1)
	}
	nb := (k + actKC - 1) / actKC
	return (k + nb - 1) / nb
}

// actMC is about how many rows of A SgemmAct keeps in L2 (a multiple of
// every mr: 6 and 14).
const actMC = 126

// chunkEnd returns the end of the chunk of rows that starts at i0: actMC
// rows, or all that remain when that leaves fewer than a tile.
func chunkEnd(i0, m, mr int) int {
	if m-i0 < actMC+mr {
		return m
	}
	return i0 + actMC
}

// tileRows is the number of rows of the next tile when left rows remain
// and tiles hold up to mr: mr, except that a remainder of one or two rows
// is shared with the tile before it (6+2 rows run as 4+4), since thin
// tiles waste most of the kernel's work.
func tileRows(left, mr int) int {
	if left <= mr {
		return left
	}
	if r := left - mr; r < mr && r <= 2 && mr > 3 {
		return (left + 1) / 2
	}
	return mr
}

// DepthwiseSupported reports whether the depthwise 3x3 kernels
// (DepthwisePlanes) handle stride s.
func DepthwiseSupported(s int) bool { return s == 1 || s == 2 }

// CopyRunsSlack is how many floats from the start of a run CopyRuns may
// read from src and write to dst (a whole panel row).
const CopyRunsSlack = panelN

// CopyRuns is a packer for an operand whose rows are sets of contiguous
// runs of one source: for panel q < np and row r < kb, each run i in
// [panelStart[q], panelStart[q+1]) copies the runs[3i+2] groups of 8
// floats at src[rowOff[r]+runs[3i]:] to the panel row at column
// runs[3i+1], that is to dst[(q*kb+r)*32+runs[3i+1]:]. The runs of a panel
// must be in increasing column order: a run may copy up to CopyRunsSlack
// floats from its start, spilling past its end, which the next run, the
// next row or the next panel overwrites (the columns of the last panel
// past the runs are left holding whatever finite values the spills put
// there); src and dst must extend CopyRunsSlack floats past the start of
// the last run read or written.
func CopyRuns(dst []float32, kb, np int, src []float32, rowOff, runs, panelStart []int32) {
	if kb <= 0 || np <= 0 {
		return
	}
	_ = dst[np*panelN*kb+CopyRunsSlack-1]
	_ = rowOff[kb-1]
	_ = panelStart[np]
	nr := int(panelStart[np])
	if nr < 0 || int(panelStart[0]) < 0 || int(panelStart[0]) > nr || 3*nr > len(runs) {
		panic("asm.CopyRuns: bad run table")
	}
	lo, hi := rowOff[0], rowOff[0]
	for _, o := range rowOff[:kb] {
		lo, hi = min(lo, o), max(hi, o)
	}
	for q := 0; q < np; q++ {
		if panelStart[q] > panelStart[q+1] {
			panic("asm.CopyRuns: bad run table")
		}
	}
	for i := int(panelStart[0]); i < nr; i++ {
		s, d, n := int64(runs[3*i]), runs[3*i+1], int64(runs[3*i+2])
		if n <= 0 || d < 0 || d >= panelN || int64(lo)+s < 0 || int64(hi)+s+max(8*n, CopyRunsSlack) > int64(len(src)) {
			panic(fmt.Sprintf("asm.CopyRuns: run %d (src %d, column %d, %d groups) outside a source of %d", i, s, d, n, len(src)))
		}
	}
	copyRuns(dst, kb, np, src, rowOff, runs, panelStart)
}

// copyRunsGo is the reference of copyRuns.
func copyRunsGo(dst []float32, kb, np int, src []float32, rowOff, runs, panelStart []int32) {
	for q := 0; q < np; q++ {
		for r := 0; r < kb; r++ {
			d := dst[(q*kb+r)*panelN:]
			s := src[rowOff[r]:]
			for i := panelStart[q]; i < panelStart[q+1]; i++ {
				so, do, n := runs[3*i], runs[3*i+1], 8*runs[3*i+2]
				copy(d[do:do+n], s[so:so+n])
			}
		}
	}
}
