//go:build !purego

package asm

// The channel-interleaved depthwise path (dwc8_amd64.s): eight planes at
// a time are transposed into a zero-bordered buffer whose positions hold
// one float per plane, convolved there with a vector of eight filters
// per tap (no masks, no shuffles, every lane an output), and transposed
// back. It beats the plane-by-plane kernel on small planes, whose rows
// are one or two vectors with masked edges.

// dwc8Args are the arguments of dwc8Compute (offsets in dwc8_amd64.s).
type dwc8Args struct {
	o, p, wv, bias      *float32
	wp, oh, ow, s, mode int
	lo, hi              [8]float32
}

//go:noescape
func dwc8In(p *float32, wp int, src *float32, planeBytes int, rowBytes int, rows int, cols int)

//go:noescape
func dwc8Compute(a *dwc8Args)

//go:noescape
func dwc8ComputeS1(a *dwc8Args)

//go:noescape
func dwc8Out(dst *float32, planeBytes int, o *float32, n int, nplanes int)

// dwc8Layout is where the parts of the scratch of depthwiseC8 go.
type dwc8Layout struct {
	hp, wp                      int
	p, o, zero, wv, bias, total int
}

func (g *DepthwiseGeom) c8Layout() dwc8Layout {
	var l dwc8Layout
	l.hp, l.wp = (g.OH-1)*g.Stride+3, (g.OW-1)*g.Stride+3
	l.p = 0
	// P has Stride+1 more rows for the positions past the last that
	// dwc8Compute computes.
	l.o = l.p + (l.hp+g.Stride+1)*l.wp*8
	l.zero = l.o + (g.OH*g.OW+8)*8
	l.wv = l.zero + 8*g.H*g.W
	l.bias = l.wv + 9*8
	l.total = l.bias + 8
	return l
}

// useC8 reports whether depthwisePlanes takes the channel-interleaved
// path: for planes of at most 16 outputs a row (28 at stride 2, which
// the row kernel pays for in shuffles), when there are planes enough to
// fill the lanes. (Measured with BenchmarkDepthwisePaths: the row kernel
// wins from 32 outputs a row on, where its rows are mostly unmasked
// vectors and the interleaved buffer outgrows the L1 cache.)
func (g *DepthwiseGeom) useC8(planes int) bool {
	return planes >= 8 && g.c8Fits()
}

// c8Fits reports whether the planes are small enough for the
// channel-interleaved path.
func (g *DepthwiseGeom) c8Fits() bool {
	return convAVX2 && (g.OW <= 16 || g.Stride == 2 && g.OW <= 28)
}

// c8S1 reports whether depthwiseC8 computes by groups of four outputs
// of a row (dwc8ComputeS1, stride 1), which computes (4 − OW%4)%4
// outputs past each row's end: where that wastes at most a quarter of
// the work. (It makes half the loads of dwc8Compute, which bound it:
// 17-21% more outputs per CPU-ns on 7×7, 8×8 and 14×14 planes in
// BenchmarkDwc8Parts, medians of 15.)
func (g *DepthwiseGeom) c8S1() bool {
	pad := (4 - g.OW%4) % 4
	return g.Stride == 1 && 4*pad <= g.OW+pad
}

// depthwiseC8 is depthwisePlanes by blocks of eight planes.
func depthwiseC8(dst, src []float32, planes int, g *DepthwiseGeom, w, bias []float32, act *ConvAct, scratch []float32) {
	depthwiseC8With(dst, src, planes, g, w, bias, act, scratch, g.c8S1())
}

// depthwiseC8With is depthwiseC8 with the compute kernel chosen: by
// groups of four outputs of a row (s1, at stride 1) or of four positions
// in order.
func depthwiseC8With(dst, src []float32, planes int, g *DepthwiseGeom, w, bias []float32, act *ConvAct, scratch []float32, s1 bool) {
	l := g.c8Layout()
	scratch = scratch[:l.total]
	clear(scratch[l.p:l.o])
	a := dwc8Args{
		o: &scratch[l.o], p: &scratch[l.p], wv: &scratch[l.wv], bias: &scratch[l.bias],
		wp: l.wp, oh: g.OH, ow: g.OW, s: g.Stride, mode: act.mode(),
	}
	for k := range a.lo {
		a.lo[k], a.hi[k] = act.Lo, act.Hi
		if act.Leaky {
			a.lo[k] = act.Alpha
		}
	}
	s1 = s1 && g.Stride == 1
	rows := min(g.H, l.hp-g.PadT)
	cols := min(g.W, l.wp-g.PadL)
	in, out := g.H*g.W, g.OH*g.OW
	wv, bv := scratch[l.wv:l.wv+72], scratch[l.bias:l.bias+8]
	clear(bv)
	for b := 0; b < planes; b += 8 {
		nb := min(8, planes-b)
		x := src[b*in:]
		if nb < 8 {
			// The last planes, and zero planes after them.
			x = scratch[l.zero : l.zero+8*in]
			copy(x, src[b*in:planes*in])
			clear(x[nb*in:])
			clear(wv)
			clear(bv)
		}
		for k := 0; k < nb; k++ {
			f := w[9*(b+k) : 9*(b+k)+9 : 9*(b+k)+9]
			wv[k], wv[8+k], wv[16+k] = f[0], f[1], f[2]
			wv[24+k], wv[32+k], wv[40+k] = f[3], f[4], f[5]
			wv[48+k], wv[56+k], wv[64+k] = f[6], f[7], f[8]
		}
		if bias != nil {
			copy(bv, bias[b:b+nb])
		}
		if rows > 0 && cols > 0 {
			dwc8In(&scratch[l.p+(g.PadT*l.wp+g.PadL)*8], l.wp, &x[0], 4*in, 4*g.W, rows, cols)
		}
		// Direct calls: &a passed to a function value would escape.
		if s1 {
			dwc8ComputeS1(&a)
		} else {
			dwc8Compute(&a)
		}
		dwc8Out(&dst[b*out], 4*out, &scratch[l.o], out, nb)
	}
}
