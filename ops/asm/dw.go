package asm

import (
	"fmt"
	"math"
)

// A direct 3×3 depthwise convolution (DepthwisePlanes), assembly paths
// on amd64 and arm64 and a Go one:
//   - the row kernel (dw_amd64.s) reads the input planes where they are,
//     with no zero-bordered copy. Output vectors whose taps are all inside
//     the plane use plain loads; the few at the left and right edges clear
//     the lanes outside the plane with masks (made once per call, the same
//     for every row and plane), by masked loads where a plain load could
//     leave src; rows above and below the plane read a row of zeros. At
//     stride 1 it computes two output rows at a time, each input row
//     loaded once for both;
//   - with AVX-512, at stride 1 on rows of more than 16 outputs,
//     dw3x3s1AVX512 (dw512.go in _gen) loads each input vector once (at
//     the row's edges with zero-masking loads that keep the lanes inside
//     the row; a masked lane never faults) and takes the other two taps
//     from it and the next vector with VALIGND;
//   - for small planes, whose rows are one or two vectors with masked
//     edges, the channel-interleaved kernel (dwc8_amd64.s) takes eight
//     planes at a time, one per lane;
//   - on arm64, the NEON row kernel (dw_arm64.s) computes four outputs
//     whose taps are inside the plane at a time, from the three input
//     rows (a row of zeros above and below the plane; at stride 2 by
//     de-interleaving loads), Go the outputs at the edges, and the NEON
//     epilogue adds the bias and applies the activation plane by plane;
//   - depthwisePlanesGo, for purego builds and CPUs without AVX2.
// Many planes go through one call, so that small planes (7×7, 14×14) pay
// no per-plane call cost.

// DepthwiseGeom is the geometry of the planes of a 3×3 depthwise
// convolution: H×W input planes, OH×OW output planes, padding PadT rows
// above and PadL columns left of the input (the bottom and right padding
// follow from the output size), and Stride (1 or 2) in both directions.
type DepthwiseGeom struct {
	H, W, OH, OW, PadT, PadL, Stride int
}

// dwLayout is where the parts of DepthwisePlanes's scratch go, and which
// output vectors need masked loads: those of columns below xl or from
// xr on (multiples of 8).
type dwLayout struct {
	nv             int // output vectors per row
	taps           int // masked loads per input row and vector
	zero, zeroLen  int // the row of zeros
	sink           int // where a missing second output row goes
	masks, total   int
	xl, xr, xlast  int
	maskOff        [4]int // the column offset of each load
	maxOff         int    // the last column a vector reads, from its first
	stride, pl, wd int
}

func (g *DepthwiseGeom) layout() dwLayout {
	l := dwLayout{nv: (g.OW + 7) / 8, stride: g.Stride, pl: g.PadL, wd: g.W}
	if g.Stride == 1 {
		l.taps, l.maskOff, l.maxOff = 3, [4]int{0, 1, 2}, 9
	} else {
		// The loads of DWS2ROW: columns 0-7, 8-15, 2-9 and 10-17.
		l.taps, l.maskOff, l.maxOff = 4, [4]int{0, 8, 2, 10}, 17
	}
	l.zeroLen = (g.Stride*8*l.nv + 24 + 7) / 8 * 8
	l.sink = l.zeroLen
	l.masks = l.sink + 8*l.nv + 8
	l.total = l.masks + l.nv*l.taps*8
	l.xlast = 8 * (l.nv - 1)
	// Vectors [vl, vr) read only columns inside the plane.
	vl := (g.PadL + 8*g.Stride - 1) / (8 * g.Stride)
	vr := vl
	for vr < l.nv && g.Stride*8*vr-g.PadL+l.maxOff < g.W {
		vr++
	}
	l.xl, l.xr = 8*vl, 8*vr
	return l
}

// masked reports whether output vector v needs masked loads.
func (l *dwLayout) masked(v int) bool { return 8*v < l.xl || 8*v >= l.xr }

// fillMasks writes the masks of the masked vectors: lane k of load t of
// vector v is set when its column s·8v − PadL + maskOff[t] + k is inside
// the plane.
func (l *dwLayout) fillMasks(scratch []float32) {
	on := math.Float32frombits(0xffffffff)
	for v := 0; v < l.nv; v++ {
		if !l.masked(v) {
			continue
		}
		m := scratch[l.masks+v*l.taps*8 : l.masks+(v+1)*l.taps*8]
		for t := 0; t < l.taps; t++ {
			for k := 0; k < 8; k++ {
				c := l.stride*8*v - l.pl + l.maskOff[t] + k
				m[8*t+k] = 0
				if c >= 0 && c < l.wd {
					m[8*t+k] = on
				}
			}
		}
	}
}

// ScratchLen is how many floats of scratch DepthwisePlanes needs.
func (g *DepthwiseGeom) ScratchLen() int {
	l := g.layout()
	return max(l.total, g.archScratchLen())
}

// DepthwisePlanes computes planes output planes of a 3×3 depthwise
// convolution: for plane p < planes, y < OH and x < OW,
// dst[p·OH·OW + y·OW + x] = act(bias[p] + Σi,j w[9p+3i+j]·in(p, y·s+i−PadT,
// x·s+j−PadL)), where in(p, r, c) is src[p·H·W + r·W + c] inside the H×W
// plane and 0 outside. bias may be nil (no bias); act nil is the identity.
// scratch holds g.ScratchLen() floats (its contents do not matter).
func DepthwisePlanes(dst, src []float32, planes int, g *DepthwiseGeom, w, bias []float32, act *ConvAct, scratch []float32) {
	if planes <= 0 || g.OH <= 0 || g.OW <= 0 {
		return
	}
	if !DepthwiseSupported(g.Stride) || g.H <= 0 || g.W <= 0 || g.PadT < 0 || g.PadL < 0 {
		panic(fmt.Sprintf("asm.DepthwisePlanes: bad geometry %+v", *g))
	}
	_ = dst[planes*g.OH*g.OW-1]
	_ = src[planes*g.H*g.W-1]
	_ = w[9*planes-1]
	if bias != nil {
		_ = bias[planes-1]
	}
	if act == nil {
		none := ConvActNone()
		act = &none
	}
	_ = scratch[g.ScratchLen()-1]
	l := g.layout()
	depthwisePlanes(dst, src, planes, g, &l, w, bias, act, scratch)
}

// depthwisePlanesGo is the Go version of depthwisePlanes: per output row
// and input row, the columns whose taps are inside the plane without
// checks, the others with.
func depthwisePlanesGo(dst, src []float32, planes int, g *DepthwiseGeom, w, bias []float32, act *ConvAct) {
	s := g.Stride
	// Outputs [x0, x1) read columns inside the plane.
	x0 := min(g.OW, (g.PadL+s-1)/s)
	x1 := x0
	if g.W+g.PadL-2 > 0 {
		x1 = max(x0, min(g.OW, (g.W+g.PadL-3)/s+1))
	}
	for p := 0; p < planes; p++ {
		plane := src[p*g.H*g.W : (p+1)*g.H*g.W]
		out := dst[p*g.OH*g.OW : (p+1)*g.OH*g.OW]
		var b float32
		if bias != nil {
			b = bias[p]
		}
		for i := range out {
			out[i] = b
		}
		for y := 0; y < g.OH; y++ {
			o := out[y*g.OW : (y+1)*g.OW]
			for i := 0; i < 3; i++ {
				r := y*s + i - g.PadT
				if r < 0 || r >= g.H {
					continue
				}
				row := plane[r*g.W : (r+1)*g.W]
				w0, w1, w2 := w[9*p+3*i], w[9*p+3*i+1], w[9*p+3*i+2]
				for x := x0; x < x1; x++ {
					c := x*s - g.PadL
					o[x] += w0*row[c] + w1*row[c+1] + w2*row[c+2]
				}
				// The edges: outputs [0, x0) and [x1, OW).
				for x := 0; x < g.OW; x++ {
					if x == x0 {
						if x = x1; x >= g.OW {
							break
						}
					}
					c := x*s - g.PadL
					for j, wj := range [3]float32{w0, w1, w2} {
						if c+j >= 0 && c+j < g.W {
							o[x] += wj * row[c+j]
						}
					}
				}
			}
		}
		for i, v := range out {
			out[i] = act.apply(v)
		}
	}
}
