package asm

import "fmt"

// This file holds the kernels of the position-major convolution (an
// implicit GEMM, ops/conv_pos.go): each output position of a convolution
// is a row of the product, each output channel a column, and the rows of
// the im2col matrix are never built. A position is an offset into the
// input, an im2col row index (input channel and kernel tap) another, and
// the im2col element is the input at their sum; the weights are packed
// once into panels of PosPanel channels. An epilogue then max-pools the
// rows (optionally), adds the bias, applies the activation, and writes
// the result channel by channel, as NCHW wants it.

// PosTileRows is the number of positions (rows of the product) that one
// step of ConvPosTiles computes.
const PosTileRows = 6

// PosPanel is the number of output channels in one panel of packed
// weights (the columns of a ConvPosTiles tile).
const PosPanel = 16

// ConvPosAccelerated reports whether the position-major kernels run as
// assembly here. Without it they are Go loops that lose to im2col and
// the SGEMM kernel (NEON on arm64), so callers should not choose them.
func ConvPosAccelerated() bool { return convPosAccelerated() }

// Offsets is an immutable table of int32 offsets with its bounds, which
// the kernels of this file check once per call instead of scanning the
// table.
type Offsets struct {
	off    []int32
	lo, hi int32
}

// NewOffsets returns the table of the offsets off (copied).
func NewOffsets(off []int32) *Offsets {
	o := &Offsets{off: append([]int32(nil), off...)}
	if len(off) > 0 {
		o.lo, o.hi = minMax(off)
	}
	return o
}

// Len returns the number of offsets.
func (o *Offsets) Len() int { return len(o.off) }

// ConvPosTiles computes nt tiles of PosTileRows positions by PosPanel
// channels from the positions pos[p0:] and the im2col rows kOff[k0:k0+k]:
// for tile t, row i < PosTileRows and channel j < PosPanel,
//
//	s = Σ_{p<k} x[pos[p0+t*PosTileRows+i] + kOff[k0+p]] * b[p*PosPanel+j]
//	c[(t*PosTileRows+i)*ldc+j] = s  (or c[...] + s when acc)
//
// b is a panel of packed weights (k rows of PosPanel floats). Every
// offset of pos plus every offset of kOff must index x.
func ConvPosTiles(k int, x []float32, pos *Offsets, p0, nt int, kOff *Offsets, k0 int, b []float32, c []float32, ldc int, acc bool) {
	if nt <= 0 || k <= 0 {
		if k <= 0 && nt > 0 && !acc {
			for r := 0; r < nt*PosTileRows; r++ {
				clear(c[r*ldc : r*ldc+PosPanel])
			}
		}
		return
	}
	if ldc < PosPanel {
		panic(fmt.Sprintf("asm.ConvPosTiles: ldc %d", ldc))
	}
	po, ko := posOffsets("ConvPosTiles", x, pos, p0, nt, kOff, k0, k)
	_ = b[k*PosPanel-1]
	_ = c[(nt*PosTileRows-1)*ldc+PosPanel-1]
	convPosTiles(k, x, po, nt, ko, b, c, ldc, acc)
}

// posOffsets checks the positions pos[p0:] of nt tiles and the im2col
// rows kOff[k0:k0+k] against the input x (every sum of the two must index
// it) and returns those entries; fn names the caller in the panic.
func posOffsets(fn string, x []float32, pos *Offsets, p0, nt int, kOff *Offsets, k0, k int) (po, ko []int32) {
	if p0 < 0 || k0 < 0 {
		panic(fmt.Sprintf("asm.%s: p0 %d, k0 %d", fn, p0, k0))
	}
	po = pos.off[p0 : p0+nt*PosTileRows]
	ko = kOff.off[k0 : k0+k]
	if int64(pos.lo)+int64(kOff.lo) < 0 || int64(pos.hi)+int64(kOff.hi) >= int64(len(x)) {
		panic(fmt.Sprintf("asm.%s: offsets %d..%d + %d..%d outside an input of %d", fn, pos.lo, pos.hi, kOff.lo, kOff.hi, len(x)))
	}
	return po, ko
}

// ConvPosTilesPanels is ConvPosTiles on the panels q0 ≤ q < q1 of the
// packed weights w (panel q's rows k0 ≤ p < k0+k at
// w[(q*kdim+p)*PosPanel:], kdim rows a panel) into the columns
// q*PosPanel of c, with the same results bit for bit. With the AVX-512
// kernel it takes two panels a call where it can (convPosTiles2AVX512:
// each broadcast of the input feeds twice the multiply-adds).
func ConvPosTilesPanels(k int, x []float32, pos *Offsets, p0, nt int, kOff *Offsets, k0 int, w []float32, kdim, q0, q1 int, c []float32, ldc int, acc bool) {
	q := q0
	if convPos512 && nt > 0 && k > 0 && q1-q0 >= 2 {
		if ldc < 2*PosPanel || k0+k > kdim {
			panic(fmt.Sprintf("asm.ConvPosTilesPanels: ldc %d, k0 %d, k %d of %d", ldc, k0, k, kdim))
		}
		po, ko := posOffsets("ConvPosTilesPanels", x, pos, p0, nt, kOff, k0, k)
		for ; q1-q >= 2; q += 2 {
			b := w[(q*kdim+k0)*PosPanel:]
			_ = b[(kdim+k)*PosPanel-1] // the second panel's rows
			cq := c[q*PosPanel:]
			_ = cq[(nt*PosTileRows-1)*ldc+2*PosPanel-1]
			convPosTiles2(k, x, po, nt, ko, b, 4*kdim*PosPanel, cq, ldc, acc)
		}
	}
	for ; q < q1; q++ {
		ConvPosTiles(k, x, pos, p0, nt, kOff, k0, w[(q*kdim+k0)*PosPanel:(q*kdim+k0+k)*PosPanel], c[q*PosPanel:], ldc, acc)
	}
}

func minMax(s []int32) (lo, hi int32) {
	lo, hi = s[0], s[0]
	for _, v := range s[1:] {
		lo, hi = min(lo, v), max(hi, v)
	}
	return lo, hi
}

// convPosTilesGo is the reference of convPosTiles.
func convPosTilesGo(k int, x []float32, posOff []int32, nt int, kOff []int32, b []float32, c []float32, ldc int, acc bool) {
	for r := 0; r < nt*PosTileRows; r++ {
		xr := x[posOff[r]:]
		cr := c[r*ldc : r*ldc+PosPanel]
		var s [PosPanel]float32
		for p := 0; p < k; p++ {
			v := xr[kOff[p]]
			bp := b[p*PosPanel : p*PosPanel+PosPanel]
			for j := range s {
				s[j] += v * bp[j]
			}
		}
		for j := range cr {
			if acc {
				cr[j] += s[j]
			} else {
				cr[j] = s[j]
			}
		}
	}
}

// ConvPosEpi writes 8*groups channels of nq output positions of a
// position-major product c (one row per position, its channels side by
// side): for q < nq and channel j < 8*groups,
//
//	y[j*ldy+q] = act(max_{t<win} c[src[(q/8*win+t)*8+q%8]+j] + bias[j])
//
// (no bias when bias is nil). src holds element offsets of rows of c,
// for each block of 8 positions the 8 rows of window element 0, then
// those of element 1, and so on; it must have entries for roundUp(nq, 8)
// positions (the extra ones are read, not stored). win > 1 is a max
// pool, whose result is the same as pooling after the activation for
// the monotone activations this is used with (act must not be a
// LeakyRelu with a negative Alpha).
func ConvPosEpi(c []float32, src *Offsets, win, nq, groups int, bias []float32, act *ConvAct, y []float32, ldy int) {
	if nq <= 0 || groups <= 0 {
		return
	}
	if win <= 0 || act.Leaky && !(act.Alpha >= 0) {
		panic(fmt.Sprintf("asm.ConvPosEpi: window %d, activation %+v", win, *act))
	}
	so := src.off[:roundUp(nq, 8)*win]
	if src.lo < 0 || int(src.hi)+8*groups > len(c) {
		panic(fmt.Sprintf("asm.ConvPosEpi: rows %d..%d (+%d) outside %d floats", src.lo, src.hi, 8*groups, len(c)))
	}
	if bias != nil {
		_ = bias[8*groups-1]
	}
	if ldy < nq {
		panic(fmt.Sprintf("asm.ConvPosEpi: ldy %d < %d positions", ldy, nq))
	}
	_ = y[(8*groups-1)*ldy+nq-1]
	convPosEpi(c, so, win, nq, groups, bias, act, y, ldy)
}

// convPosEpiGo is the reference of convPosEpi.
func convPosEpiGo(c []float32, src []int32, win, nq, groups int, bias []float32, act *ConvAct, y []float32, ldy int) {
	for q := 0; q < nq; q++ {
		for j := 0; j < 8*groups; j++ {
			at := (q/8*win)*8 + q%8
			v := c[int(src[at])+j]
			for t := 1; t < win; t++ {
				if u := c[int(src[at+8*t])+j]; u > v {
					v = u
				}
			}
			if bias != nil {
				v += bias[j]
			}
			y[j*ldy+q] = act.apply(v)
		}
	}
}
