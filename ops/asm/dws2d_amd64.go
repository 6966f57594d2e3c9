//go:build !purego

package asm

import "unsafe"

// dws2dArgs are the arguments of dws2dAVX2 (dws2d_amd64.s reads the
// fields at fixed offsets: keep the order and the 8-byte fields).
type dws2dArgs struct {
	dst, src, w, bias, zero *float32
	planes, h, half, oh, pt int
	lo, hi                  float32
}

//go:noescape
func dws2dAVX2(a *dws2dArgs)

// depthwiseS2Deint is DepthwiseS2DeintPlanes with the extents checked.
func depthwiseS2Deint(dst, src []float32, planes int, g *DepthwiseGeom, w, bias []float32, act *ConvAct, zero []float32) {
	if !convAVX2 {
		depthwiseS2DeintGo(dst, src, planes, g, w, bias, act)
		return
	}
	a := dws2dArgs{
		dst: unsafe.SliceData(dst), src: unsafe.SliceData(src), w: unsafe.SliceData(w), zero: unsafe.SliceData(zero),
		planes: planes, h: g.H, half: g.OW, oh: g.OH, pt: g.PadT, lo: act.Lo, hi: act.Hi,
	}
	if bias != nil {
		a.bias = unsafe.SliceData(bias)
	}
	dws2dAVX2(&a)
}
