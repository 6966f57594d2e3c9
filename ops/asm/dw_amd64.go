//go:build !purego

package asm

import "unsafe"

// dwArgs are the arguments of dwConv3x3AVX2 (dw_amd64.s reads the
// fields at fixed offsets: keep the order and the 8-byte fields).
type dwArgs struct {
	dst, src, w, bias, zero, sink, masks                       *float32
	planes, h, wd, oh, ow, pt, pl, stride, mode, xl, xr, xlast int
	lo, hi, alpha                                              float32
	// Row bases (at column -PadL) from which every load is inside src.
	safeLo, safeHi uintptr
}

//go:noescape
func dwConv3x3AVX2(a *dwArgs)

// archScratchLen is the scratch the channel-interleaved path needs, if
// it may take these planes.
func (g *DepthwiseGeom) archScratchLen() int {
	if !g.c8Fits() {
		return 0
	}
	l := g.c8Layout()
	return l.total
}

// depthwisePlanes is DepthwisePlanes with the extents checked.
func depthwisePlanes(dst, src []float32, planes int, g *DepthwiseGeom, l *dwLayout, w, bias []float32, act *ConvAct, scratch []float32) {
	if !convAVX2 {
		depthwisePlanesGo(dst, src, planes, g, w, bias, act)
		return
	}
	if g.useC8(planes) {
		depthwiseC8(dst, src, planes, g, w, bias, act, scratch)
		return
	}
	clear(scratch[l.zero : l.zero+l.zeroLen])
	l.fillMasks(scratch)
	depthwiseRowsAVX2(dst, src, planes, g, l, w, bias, act, scratch)
}

// depthwiseRowsAVX2 runs dwConv3x3AVX2 (the row of zeros cleared and the
// masks filled).
func depthwiseRowsAVX2(dst, src []float32, planes int, g *DepthwiseGeom, l *dwLayout, w, bias []float32, act *ConvAct, scratch []float32) {
	a := dwArgs{
		dst: unsafe.SliceData(dst), src: unsafe.SliceData(src), w: unsafe.SliceData(w),
		zero: &scratch[l.zero], sink: &scratch[l.sink], masks: &scratch[l.masks],
		planes: planes, h: g.H, wd: g.W, oh: g.OH, ow: g.OW, pt: g.PadT, pl: g.PadL, stride: g.Stride,
		mode: act.mode(), xl: l.xl, xr: l.xr, xlast: l.xlast,
		lo: act.Lo, hi: act.Hi, alpha: act.Alpha,
	}
	if bias != nil {
		a.bias = unsafe.SliceData(bias)
	}
	// A row base rb reads [rb, rb + 4·span) (the masks clear the lanes
	// outside the plane); the rows whose reads stay inside src use plain
	// loads.
	span := uintptr(4 * (g.Stride*l.xlast + l.maxOff + 1))
	a.safeLo = uintptr(unsafe.Pointer(unsafe.SliceData(src)))
	if end := a.safeLo + uintptr(4*planes*g.H*g.W); end >= a.safeLo+span {
		a.safeHi = end - span
	}
	dwConv3x3AVX2(&a)
}
