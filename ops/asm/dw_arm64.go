//go:build !purego

package asm

import "unsafe"

// The NEON 3×3 depthwise convolution (dw_arm64.s): plane by plane and
// row by row, dw3x3RowNEON computes the outputs whose taps are all inside
// the plane four at a time from the three input rows (a row above or
// below the plane is a row of zeros), Go the few at the edges, then one
// NEON pass adds the bias and applies the activation (biasAct). When
// INFER_KERNELS=generic chose the generic SGEMM, the Go version runs.

//go:noescape
func dw3x3RowNEON(o *float32, r0 *float32, r1 *float32, r2 *float32, w *float32, groups int, stride int)

// archScratchLen is the row of zeros.
func (g *DepthwiseGeom) archScratchLen() int { return g.W }

func depthwisePlanes(dst, src []float32, planes int, g *DepthwiseGeom, l *dwLayout, w, bias []float32, act *ConvAct, scratch []float32) {
	if !neonKernels {
		depthwisePlanesGo(dst, src, planes, g, w, bias, act)
		return
	}
	depthwisePlanesNEON(dst, src, planes, g, w, bias, act, scratch)
}

// dwNEONGroups returns the first output of a row that dw3x3RowNEON
// computes and how many groups of four: from the first output whose
// taps start inside the plane, the groups whose loads stay inside it
// (at stride 2 a group loads one column past its last tap).
func (g *DepthwiseGeom) dwNEONGroups() (x0, groups int) {
	s := g.Stride
	x0 = min(g.OW, (g.PadL+s-1)/s)
	last := 5 // the last column a group loads, from its first tap
	if s == 2 {
		last = 9
	}
	for x0+4*groups+4 <= g.OW && (x0+4*groups)*s-g.PadL+last < g.W {
		groups++
	}
	return x0, groups
}

func depthwisePlanesNEON(dst, src []float32, planes int, g *DepthwiseGeom, w, bias []float32, act *ConvAct, scratch []float32) {
	s := g.Stride
	x0, groups := g.dwNEONGroups()
	x1 := x0 + 4*groups
	c0 := x0*s - g.PadL // the first tap of output x0
	zero := scratch[:g.W]
	clear(zero)
	for p := 0; p < planes; p++ {
		plane := src[p*g.H*g.W : (p+1)*g.H*g.W]
		out := dst[p*g.OH*g.OW : (p+1)*g.OH*g.OW]
		wp := w[9*p : 9*p+9]
		for y := 0; y < g.OH; y++ {
			o := out[y*g.OW : (y+1)*g.OW]
			if groups > 0 {
				var rows [3]*float32
				for i := range rows {
					rows[i] = &zero[c0]
					if r := y*s + i - g.PadT; r >= 0 && r < g.H {
						rows[i] = &plane[r*g.W+c0]
					}
				}
				dw3x3RowNEON(&o[x0], rows[0], rows[1], rows[2], unsafe.SliceData(wp), groups, s)
			}
			for x := 0; x < g.OW; x++ {
				if x == x0 && groups > 0 {
					if x = x1; x >= g.OW {
						break
					}
				}
				o[x] = dwTaps(plane, g, wp, y, x)
			}
		}
		var b []float32
		if bias != nil {
			b = bias[p : p+1]
		}
		n := g.OH * g.OW
		biasAct(1, n, out, n, b, act, out, n)
	}
}

// dwTaps is the sum of the taps of output (y, x) inside the plane, in
// the order of the definition.
func dwTaps(plane []float32, g *DepthwiseGeom, wp []float32, y, x int) float32 {
	var v float32
	for i := 0; i < 3; i++ {
		r := y*g.Stride + i - g.PadT
		if r < 0 || r >= g.H {
			continue
		}
		for j := 0; j < 3; j++ {
			if c := x*g.Stride + j - g.PadL; c >= 0 && c < g.W {
				v += wp[3*i+j] * plane[r*g.W+c]
			}
		}
	}
	return v
}
