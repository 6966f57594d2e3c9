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

//go:noescape
func dw3x3s1AVX512(dst *float32, dstEnd uintptr, src, w, bias *float32, bstep int, zero *float32, masks *uint16, planes, h, wd, oh, ow, pt, pl, nv int, lo, hi, alpha float32, mode int)

// dwAVX512 is whether stride-1 depthwise convolutions of rows of 17 to
// dw512MaxW outputs run on dw3x3s1AVX512 (the AVX-512 SGEMM's CPUs).
// Measured on a Xeon with AVX-512, the two kernels alternating in one
// process (fastest of 40 blocks of 5 calls), dst at six offsets from
// src: 28×28 planes 1.16-1.70 times as many outputs per ns as the AVX2
// row kernel, 56×56 1.00-1.23, 112×112 1.17-1.38; MobileNetV2 as a
// whole, two sessions alternating run by run, 0.999 (one thread) and
// 0.977 (two) of the time, the Keras MobileNetV2 0.971. On rows of one
// vector it is far slower when dst is 4 KB from src (7×7 planes 0.15
// outputs per ns against 0.7-0.8 with dst elsewhere: its masked loads
// wait for the stores in flight that seem to alias them), so those rows
// stay with the other kernels.
var dwAVX512 = convAVX2 && sgemmDefault.name == "avx512"

// dw512MaxW is the widest output row dw3x3s1AVX512 takes: dw512MaxV
// vectors of 16 outputs (its masks are on the stack, two per vector).
const dw512MaxW = 16 * dw512MaxV

const dw512MaxV = 16

// s1AVX512Fits reports whether dw3x3s1AVX512 takes the planes g: stride
// 1, rows of 17 to dw512MaxW outputs.
func (g *DepthwiseGeom) s1AVX512Fits() bool {
	return g.Stride == 1 && g.OW > 16 && g.OW <= dw512MaxW
}

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
	if dwAVX512 && g.s1AVX512Fits() {
		depthwiseS1AVX512(dst, src, planes, g, l, w, bias, act, scratch)
		return
	}
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

// depthwiseS1AVX512 runs dw3x3s1AVX512 (the row of zeros cleared) on
// stride-1 planes of at most dw512MaxW outputs a row.
func depthwiseS1AVX512(dst, src []float32, planes int, g *DepthwiseGeom, l *dwLayout, w, bias []float32, act *ConvAct, scratch []float32) {
	nv := (g.OW + 15) / 16
	// masks[2v] keeps the lanes of input vector v (columns 16v − PadL
	// on) inside the row, masks[2v+1] the outputs of vector v below OW.
	var masks [2*dw512MaxV + 2]uint16
	for v := 0; v <= nv; v++ {
		// Lanes [lo, hi) read columns [0, W).
		lo, hi := max(0, g.PadL-16*v), min(16, g.W+g.PadL-16*v)
		if lo < hi {
			masks[2*v] = uint16(1<<hi - 1<<lo)
		}
		if v < nv {
			masks[2*v+1] = uint16(1<<min(16, g.OW-16*v) - 1)
		}
	}
	zero := &scratch[l.zero]
	b, bstep := zero, 0
	if bias != nil {
		b, bstep = unsafe.SliceData(bias), 4
	}
	end := uintptr(unsafe.Pointer(unsafe.SliceData(dst))) + uintptr(4*planes*g.OH*g.OW)
	dw3x3s1AVX512(unsafe.SliceData(dst), end, unsafe.SliceData(src), unsafe.SliceData(w), b, bstep, zero, &masks[0],
		planes, g.H, g.W, g.OH, g.OW, g.PadT, g.PadL, nv, act.Lo, act.Hi, act.Alpha, act.mode())
}
