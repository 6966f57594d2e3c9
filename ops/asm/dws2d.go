package asm

import "fmt"

// A stride-2 3×3 depthwise convolution on deinterleaved rows. A stride-2
// convolution reads, for output column x, input columns 2x−1, 2x and
// 2x+1; on rows stored as their even columns followed by their odd ones
// (DeinterleaveRows) those are three unit-stride runs, odd[x−1], even[x]
// and odd[x], so that its vectors need no shuffles (the row kernel of
// dw_amd64.s spends three shuffles per input row and output vector on
// stride 2). The MobileNet block (ops/conv_dwblock*.go) makes such rows
// by packing the expand convolution's input columns in that order.

// DeinterleaveRows writes each of the rows rows of w floats of src (one
// after the other, w even) to dst as its even columns followed by its odd
// ones: dst[r·w+k] = src[r·w+2k] and dst[r·w+w/2+k] = src[r·w+2k+1] for
// k < w/2 (Deinterleave row by row). dst and src must not overlap.
func DeinterleaveRows(dst, src []float32, rows, w int) {
	if rows <= 0 || w <= 0 {
		return
	}
	if w%2 != 0 {
		panic(fmt.Sprintf("asm.DeinterleaveRows: odd width %d", w))
	}
	h := w / 2
	for r := 0; r < rows; r++ {
		d := dst[r*w : (r+1)*w]
		deinterleave(d[:h], d[h:], src[r*w:(r+1)*w])
	}
}

// DepthwiseS2Deint reports whether DepthwiseS2DeintPlanes computes the
// geometry g: stride 2, one column of padding on the left, an even input
// width and half as many output columns.
func (g *DepthwiseGeom) DepthwiseS2Deint() bool {
	return g.Stride == 2 && g.PadL == 1 && g.W >= 2 && g.W%2 == 0 && g.OW == g.W/2 && g.H > 0 && g.OH > 0 && g.PadT >= 0
}

// DepthwiseS2DeintPlanes is DepthwisePlanes for a geometry g for which
// g.DepthwiseS2Deint(), on input planes whose rows are deinterleaved
// (DeinterleaveRows): the same outputs, up to rounding (the sums run in
// another order). act must not be Leaky. zero holds g.W zeros (the rows
// above and below the planes).
func DepthwiseS2DeintPlanes(dst, src []float32, planes int, g *DepthwiseGeom, w, bias []float32, act *ConvAct, zero []float32) {
	if planes <= 0 {
		return
	}
	if !g.DepthwiseS2Deint() || act.Leaky {
		panic(fmt.Sprintf("asm.DepthwiseS2DeintPlanes: bad geometry %+v or leaky activation", *g))
	}
	_ = dst[planes*g.OH*g.OW-1]
	_ = src[planes*g.H*g.W-1]
	_ = w[9*planes-1]
	if bias != nil {
		_ = bias[planes-1]
	}
	_ = zero[g.W-1]
	depthwiseS2Deint(dst, src, planes, g, w, bias, act, zero)
}

// depthwiseS2DeintGo is the Go version of DepthwiseS2DeintPlanes.
func depthwiseS2DeintGo(dst, src []float32, planes int, g *DepthwiseGeom, w, bias []float32, act *ConvAct) {
	h := g.OW
	for p := 0; p < planes; p++ {
		plane := src[p*g.H*g.W : (p+1)*g.H*g.W]
		out := dst[p*g.OH*g.OW : (p+1)*g.OH*g.OW]
		f := w[9*p : 9*p+9 : 9*p+9]
		var b float32
		if bias != nil {
			b = bias[p]
		}
		for y := 0; y < g.OH; y++ {
			o := out[y*h : (y+1)*h]
			for x := range o {
				o[x] = b
			}
			for i := 0; i < 3; i++ {
				r := 2*y + i - g.PadT
				if r < 0 || r >= g.H {
					continue
				}
				row := plane[r*g.W : (r+1)*g.W]
				ev, od := row[:h], row[h:]
				w0, w1, w2 := f[3*i], f[3*i+1], f[3*i+2]
				o[0] += w1*ev[0] + w2*od[0]
				for x := 1; x < h; x++ {
					o[x] += w0*od[x-1] + w1*ev[x] + w2*od[x]
				}
			}
			for x, v := range o {
				o[x] = act.apply(v)
			}
		}
	}
}
