package ops

import "math"

// MaxPoolGrad over 1-D and 2-D planes without tap lists: each window is
// walked directly (as the forward maxPool2D does), and the common 2×2,
// stride-2, unpadded pooling writes every element of dX once, so that its
// output needs no zeroing.
//
// With relu set (MaxPoolGrad's attribute activation="Relu", which the
// train package sets when it fuses the Relu gradient that follows into
// the pooling gradient), X is the output of a Relu and the result is also
// multiplied by that Relu's derivative: a window's gradient goes to its
// first maximum only when that maximum is positive.

// maxPoolGrad2x2OK reports whether the 2-D plan is the 2×2, stride-2,
// unpadded pooling whose windows all lie inside the image.
func maxPoolGrad2x2OK(g *geom) bool {
	return len(g.in) == 2 && g.k[0] == 2 && g.k[1] == 2 && g.s[0] == 2 && g.s[1] == 2 && g.d[0] == 1 && g.d[1] == 1 &&
		g.pb[0] == 0 && g.pb[1] == 0 && 2*g.out[0] <= g.in[0] && 2*g.out[1] <= g.in[1]
}

// firstMax reports whether v replaces best as the running maximum of a
// window walked in order: larger, or a number where best is NaN (the
// order and rule of poolGradRun).
func firstMax[T Float](v, best T) bool { return v > best || (best != best && v == v) }

// maxPoolGrad2x2 writes dx for planes [p0, p1): in each 2×2 window the
// first maximum of x gets dy, the other three elements 0, and elements
// outside every window 0.
func maxPoolGrad2x2[T Float](g *geom, inSize, outSize, p0, p1 int, x, dy, dx []T, relu bool) {
	w, oh, ow := g.in[1], g.out[0], g.out[1]
	for pl := p0; pl < p1; pl++ {
		src := x[pl*inSize : (pl+1)*inSize]
		dst := dx[pl*inSize : (pl+1)*inSize]
		gp := dy[pl*outSize : (pl+1)*outSize]
		for i := 0; i < oh; i++ {
			r0 := src[2*i*w : 2*i*w+2*ow]
			r1 := src[(2*i+1)*w : (2*i+1)*w+2*ow]
			d0 := dst[2*i*w : (2*i+1)*w]
			d1 := dst[(2*i+1)*w : (2*i+2)*w]
			gr := gp[i*ow : (i+1)*ow]
			r1 = r1[:len(r0)]
			for j, gv := range gr {
				a, b, c, d := r0[2*j], r0[2*j+1], r1[2*j], r1[2*j+1]
				best, bi := a, 0
				if firstMax(b, best) {
					best, bi = b, 1
				}
				if firstMax(c, best) {
					best, bi = c, 2
				}
				if firstMax(d, best) {
					best, bi = d, 3
				}
				if relu && !(best > 0) {
					gv = 0
				}
				var g0, g1, g2, g3 T
				switch bi {
				case 0:
					g0 = gv
				case 1:
					g1 = gv
				case 2:
					g2 = gv
				default:
					g3 = gv
				}
				d0[2*j], d0[2*j+1], d1[2*j], d1[2*j+1] = g0, g1, g2, g3
			}
			clear(d0[2*ow:])
			clear(d1[2*ow:])
		}
		clear(dst[2*oh*w:])
	}
}

// maxPoolGrad2D adds dy to the first maximum of each window of x for
// planes [p0, p1) of any 2-D geometry; dx must be zero on entry.
func maxPoolGrad2D[T Float](g *geom, inSize, outSize, p0, p1 int, x, dy, dx []T, relu bool) {
	h, w, oh, ow := g.in[0], g.in[1], g.out[0], g.out[1]
	dh, dw := g.d[0], g.d[1]
	xr := make([][2]int, ow)
	for j := range xr {
		lo, hi := taps2D(j*g.s[1]-g.pb[1], g.k[1], dw, 0, w)
		xr[j] = [2]int{lo, hi}
	}
	for pl := p0; pl < p1; pl++ {
		src := x[pl*inSize : (pl+1)*inSize]
		dst := dx[pl*inSize : (pl+1)*inSize]
		gp := dy[pl*outSize : (pl+1)*outSize]
		for i := 0; i < oh; i++ {
			y0 := i*g.s[0] - g.pb[0]
			ylo, yhi := taps2D(y0, g.k[0], dh, 0, h)
			if ylo >= yhi {
				continue
			}
			for j, r := range xr {
				if r[0] >= r[1] {
					continue
				}
				x0 := j*g.s[1] - g.pb[1]
				bi := (y0+ylo*dh)*w + x0 + r[0]*dw
				best := src[bi]
				for ki := ylo; ki < yhi; ki++ {
					row := (y0 + ki*dh) * w
					for kj := r[0]; kj < r[1]; kj++ {
						o := row + x0 + kj*dw
						if v := src[o]; firstMax(v, best) {
							best, bi = v, o
						}
					}
				}
				if !relu || best > 0 {
					dst[bi] += gp[i*ow+j]
				}
			}
		}
	}
}

// b2u is 1 for true, 0 for false, without a branch.
func b2u(c bool) uint32 {
	var x uint32
	if c {
		x = 1
	}
	return x
}

// maxPoolGrad2x2F32 is maxPoolGrad2x2 for float32: see
// maxPoolGrad2x2PlaneF32.
func maxPoolGrad2x2F32(g *geom, inSize, outSize, p0, p1 int, x, dy, dx []float32, relu bool) {
	h, w, oh, ow := g.in[0], g.in[1], g.out[0], g.out[1]
	for pl := p0; pl < p1; pl++ {
		maxPoolGrad2x2PlaneF32(x[pl*inSize:(pl+1)*inSize], h, w, dy[pl*outSize:(pl+1)*outSize], oh, ow, dx[pl*inSize:], w, relu)
	}
}

// maxPoolGrad2x2PlaneF32 writes the gradient of one h×w plane x under
// 2×2 stride-2 max pooling (oh×ow windows, all inside the plane), given
// the pooled gradient dy, into dx: h rows of w values at stride rw >= w,
// zeros in the rw-w columns after each row. It returns the sum of the
// values written. It does not branch on the data (a window's maximum is
// as likely in any of its four places, so a branch per comparison is
// mispredicted half the time): the maximum m is found with max, and the
// gradient goes to the first element equal to m through bit masks. A
// window holding a NaN takes the scalar rule.
func maxPoolGrad2x2PlaneF32(x []float32, h, w int, dy []float32, oh, ow int, dx []float32, rw int, relu bool) float32 {
	var reluMask uint32
	if relu {
		reluMask = ^uint32(0)
	}
	var sum float32
	for i := 0; i < oh; i++ {
		r0 := x[2*i*w : 2*i*w+2*ow]
		r1 := x[(2*i+1)*w : (2*i+1)*w+2*ow]
		d0 := dx[2*i*rw : 2*i*rw+2*ow]
		d1 := dx[(2*i+1)*rw : (2*i+1)*rw+2*ow]
		gr := dy[i*ow : (i+1)*ow]
		r1, d0, d1 = r1[:len(r0)], d0[:len(r0)], d1[:len(r0)]
		for j, gv := range gr {
			a, b, c, d := r0[2*j], r0[2*j+1], r1[2*j], r1[2*j+1]
			m := max(max(a, b), max(c, d))
			if m != m {
				sum += maxPoolGrad2x2Window(a, b, c, d, gv, relu, d0[2*j:2*j+2], d1[2*j:2*j+2])
				continue
			}
			// Without relu, keep everything; with it, only m > 0.
			gb := math.Float32bits(gv) & (^reluMask | -b2u(m > 0))
			sum += math.Float32frombits(gb)
			s0 := -b2u(a == m)
			s1 := -b2u(b == m) &^ s0
			s2 := -b2u(c == m) &^ (s0 | s1)
			s3 := ^(s0 | s1 | s2)
			d0[2*j] = math.Float32frombits(gb & s0)
			d0[2*j+1] = math.Float32frombits(gb & s1)
			d1[2*j] = math.Float32frombits(gb & s2)
			d1[2*j+1] = math.Float32frombits(gb & s3)
		}
		clear(dx[2*i*rw+2*ow : (2*i+1)*rw])
		clear(dx[(2*i+1)*rw+2*ow : (2*i+2)*rw])
	}
	for y := 2 * oh; y < h; y++ {
		clear(dx[y*rw : (y+1)*rw])
	}
	return sum
}

// maxPoolGrad2x2Window writes one 2×2 window's gradient by the scalar rule
// (the first maximum, NaNs losing to numbers) and returns it.
func maxPoolGrad2x2Window(a, b, c, d, gv float32, relu bool, d0, d1 []float32) float32 {
	best, bi := a, 0
	if firstMax(b, best) {
		best, bi = b, 1
	}
	if firstMax(c, best) {
		best, bi = c, 2
	}
	if firstMax(d, best) {
		best, bi = d, 3
	}
	if relu && !(best > 0) {
		gv = 0
	}
	d0[0], d0[1], d1[0], d1[1] = 0, 0, 0, 0
	switch bi {
	case 0:
		d0[0] = gv
	case 1:
		d0[1] = gv
	case 2:
		d1[0] = gv
	default:
		d1[1] = gv
	}
	return gv
}
