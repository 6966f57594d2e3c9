package ops

import (
	"fmt"
	"math"

	"github.com/onyxrt/onyx/tensor"
)

// Gradient rules of GridSample, AffineGrid and DeformConv, with their
// backward kernels (float64 arithmetic, results in the inputs' types):
//
//	GridSampleGrad(dy, x, grid) mode=linear|nearest|cubic, padding_mode, align_corners -> (dx, dgrid)
//	AffineGridGrad(dgrid, size) align_corners -> dtheta
//	DeformConvGrad(dy, x, w, offset, [b], [mask]) (DeformConv's attributes) -> (dx, dw, doffset, db, dmask)
//
// GridSample's dgrid is the derivative of the interpolation weights with
// respect to the sampling point (zero for nearest); the padding modes move
// the pixel indices, which are piecewise constant in the grid.

// gradVision returns the rule of one of this file's operators, or nil.
func gradVision(name string) GradFunc {
	switch name {
	case "GridSample":
		return gradGridSample
	case "AffineGrid":
		return func(g GradContext) error {
			return gradKernel(g, "AffineGridGrad", []string{g.OutputGrad(0), g.Input(1)}, 1,
				IntAttr("align_corners", g.Node().Int("align_corners", 0)))
		}
	case "DeformConv":
		return func(g GradContext) error {
			b := g.Node()
			ins := []string{g.OutputGrad(0)}
			for i := 0; i < b.NumInputs; i++ {
				ins = append(ins, g.Input(i))
			}
			return gradKernel(g, "DeformConvGrad", ins, b.NumInputs, CopyAttrs(b)...)
		}
	}
	return nil
}

// ---- GridSample ----

// gradGridSample emits GridSampleGrad with the mode named as at opset 20
// (bilinear and bicubic of opset 16 are linear and cubic).
func gradGridSample(g GradContext) error {
	b := g.Node()
	linear, cubic := "bilinear", "bicubic"
	if b.Opset >= 20 {
		linear, cubic = "linear", "cubic"
	}
	mode := b.String("mode", linear)
	switch mode {
	case linear:
		mode = "linear"
	case cubic:
		mode = "cubic"
	}
	return gradKernel(g, "GridSampleGrad", []string{g.OutputGrad(0), g.Input(0), g.Input(1)}, 2,
		StringAttr("mode", mode), StringAttr("padding_mode", b.String("padding_mode", "zeros")),
		IntAttr("align_corners", b.Int("align_corners", 0)))
}

func buildGridSampleGrad(b *Builder) (Kernel, error) {
	a := gridSampleAttrs{anyRank: true}
	mode := b.String("mode", "linear")
	pad := b.String("padding_mode", "zeros")
	a.align = b.Int("align_corners", 0) != 0
	if err := b.Err(); err != nil {
		return nil, err
	}
	switch mode {
	case "linear":
		a.mode = gsLinear
	case "nearest":
		a.mode = gsNearest
	case "cubic":
		a.mode = gsCubic
	default:
		return nil, fmt.Errorf("GridSampleGrad: mode %q is not linear, nearest or cubic", mode)
	}
	switch pad {
	case "zeros":
		a.padding = gsZeros
	case "border":
		a.padding = gsBorder
	case "reflection":
		a.padding = gsReflection
	default:
		return nil, fmt.Errorf("GridSampleGrad: padding_mode %q is not zeros, border or reflection", pad)
	}
	return KernelFunc(func(rc *RunContext, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
		if err := Need(in, 3); err != nil {
			return nil, err
		}
		dyT, xT, gT := in[0], in[1], in[2]
		xs, gs := xT.Shape(), gT.Shape()
		if len(xs) < 3 || len(gs) != len(xs) || gs[0] != xs[0] || gs[len(gs)-1] != len(xs)-2 {
			return nil, fmt.Errorf("GridSampleGrad: grid shape %v does not fit X shape %v", gs, xs)
		}
		for _, d := range xs[2:] {
			if d == 0 {
				return nil, fmt.Errorf("GridSampleGrad: X has an empty spatial dimension: shape %v", xs)
			}
		}
		if err := gxSameShape("GridSampleGrad: dY", dyT, append([]int{xs[0], xs[1]}, gs[1:len(gs)-1]...)); err != nil {
			return nil, err
		}
		dy, err := gxFloats(dyT, "GridSampleGrad: dY")
		if err != nil {
			return nil, err
		}
		x, err := gxFloats(xT, "GridSampleGrad: X")
		if err != nil {
			return nil, err
		}
		grid, err := gxFloats(gT, "GridSampleGrad: grid")
		if err != nil {
			return nil, err
		}
		dx, dgrid := gridSampleGrad(dy, x, xs, grid, gs, a, b.Out(1))
		outs := []*tensor.Tensor{nil, nil}
		if outs[0], err = gxOut(dx, xT.DType(), xs); err != nil {
			return nil, err
		}
		if dgrid != nil {
			if outs[1], err = gxOut(dgrid, gT.DType(), gs); err != nil {
				return nil, err
			}
		}
		return outs, nil
	}), nil
}

// gsCubicDerivs returns the derivatives of gsCubicCoeffs(t) with respect
// to t, for t in [0, 1).
func gsCubicDerivs(t float64) [4]float64 {
	const a = -0.75
	u, q, r := t+1, 1-t, 2-t
	return [4]float64{
		3*a*u*u - 10*a*u + 8*a,
		3*(a+2)*t*t - 2*(a+3)*t,
		-(3*(a+2)*q*q - 2*(a+3)*q),
		-(3*a*r*r - 10*a*r + 8*a),
	}
}

// gridSampleGrad returns dX and (when wantGrid) dgrid of GridSample.
func gridSampleGrad(dy, x []float64, xs []int, grid []float64, gs []int, a gridSampleAttrs, wantGrid bool) (dx, dgrid []float64) {
	k := len(xs) - 2
	n, c := xs[0], xs[1]
	in := xs[2:]
	inStride := tensor.Strides(in)
	inSize := prod(in)
	points := prod(gs[1 : len(gs)-1])
	dx = make([]float64, len(x))
	if wantGrid {
		dgrid = make([]float64, len(grid))
	}
	lo, hi, dvdg := make([]float64, k), make([]float64, k), make([]float64, k)
	for d, size := range in {
		lo[d], hi[d] = -0.5, float64(size)-0.5
		dvdg[d] = float64(size) / 2
		if a.align {
			lo[d], hi[d] = 0, float64(size-1)
			dvdg[d] = float64(size-1) / 2
		}
	}
	taps := map[gsMode]int{gsLinear: 2, gsNearest: 1, gsCubic: 4}[a.mode]
	axOff := make([][]int, k)
	axW := make([][]float64, k)
	axD := make([][]float64, k) // d weight / d pixel coordinate
	for d := range axOff {
		axOff[d], axW[d], axD[d] = make([]int, taps), make([]float64, taps), make([]float64, taps)
	}
	ctr := make([]int, k)
	dv := make([]float64, k)
	for bi := 0; bi < n; bi++ {
		for p := 0; p < points; p++ {
			gp := grid[(bi*points+p)*k : (bi*points+p+1)*k]
			for d := 0; d < k; d++ {
				v := gsDenormalize(gp[k-1-d], in[d], a.align)
				switch a.mode {
				case gsNearest:
					axOff[d][0] = gsAxis(gsFloor(math.RoundToEven(v)), in[d], lo[d], hi[d], a.padding)
					axW[d][0], axD[d][0] = 1, 0
				case gsLinear:
					i := gsFloor(v)
					axOff[d][0] = gsAxis(i, in[d], lo[d], hi[d], a.padding)
					axOff[d][1] = gsAxis(i+1, in[d], lo[d], hi[d], a.padding)
					axW[d][0], axW[d][1] = float64(i+1)-v, v-float64(i)
					axD[d][0], axD[d][1] = -1, 1
				case gsCubic:
					i := gsFloor(v)
					cf, cd := gsCubicCoeffs(v-float64(i)), gsCubicDerivs(v-float64(i))
					for t := 0; t < 4; t++ {
						axOff[d][t] = gsAxis(i-1+t, in[d], lo[d], hi[d], a.padding)
						axW[d][t], axD[d][t] = cf[t], cd[t]
					}
				}
			}
			clear(ctr)
			clear(dv)
			for {
				off, w := 0, 1.0
				for d := 0; d < k; d++ {
					o := axOff[d][ctr[d]]
					if o < 0 {
						off = -1
						break
					}
					off += o * inStride[d]
					w *= axW[d][ctr[d]]
				}
				if off >= 0 {
					var val float64 // Σ_c dy·x at this tap
					for ch := 0; ch < c; ch++ {
						g := dy[(bi*c+ch)*points+p]
						img := (bi*c + ch) * inSize
						dx[img+off] += g * w
						val += g * x[img+off]
					}
					if wantGrid && a.mode != gsNearest {
						for d := 0; d < k; d++ {
							pw := axD[d][ctr[d]]
							for e := 0; e < k; e++ {
								if e != d {
									pw *= axW[e][ctr[e]]
								}
							}
							dv[d] += val * pw
						}
					}
				}
				d := k - 1
				for ; d >= 0; d-- {
					ctr[d]++
					if ctr[d] < taps {
						break
					}
					ctr[d] = 0
				}
				if d < 0 {
					break
				}
			}
			if wantGrid {
				for d := 0; d < k; d++ {
					dgrid[(bi*points+p)*k+k-1-d] = dv[d] * dvdg[d]
				}
			}
		}
	}
	return dx, dgrid
}

// ---- AffineGrid ----

// buildAffineGridGrad: grid[b, p, r] = Σ_j theta[b, r, j]·hom_p[j], so
// dtheta[b, r, j] = Σ_p dgrid[b, p, r]·hom_p[j].
func buildAffineGridGrad(b *Builder) (Kernel, error) {
	align := b.Int("align_corners", 0) != 0
	if err := b.Err(); err != nil {
		return nil, err
	}
	return KernelFunc(func(rc *RunContext, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
		if err := Need(in, 2); err != nil {
			return nil, err
		}
		dgT, sizeT := in[0], in[1]
		sz, err := sizeT.AsInt64s()
		if err != nil || sizeT.Rank() != 1 || (len(sz) != 4 && len(sz) != 5) {
			return nil, fmt.Errorf("AffineGridGrad: size must be a 1-D tensor of 4 or 5 integers, got %v", sizeT)
		}
		k := len(sz) - 2
		dims := make([]int, k)
		for i, d := range sz[2:] {
			if d <= 0 || d > math.MaxInt32 {
				return nil, fmt.Errorf("AffineGridGrad: size %v has a non-positive spatial dimension", sz)
			}
			dims[i] = int(d)
		}
		n := int(sz[0])
		if err := gxSameShape("AffineGridGrad: dgrid", dgT, append(append([]int{n}, dims...), k)); err != nil {
			return nil, err
		}
		dg, err := gxFloats(dgT, "AffineGridGrad: dgrid")
		if err != nil {
			return nil, err
		}
		base := make([][]float64, k)
		for d, size := range dims {
			base[d] = make([]float64, size)
			for i := range base[d] {
				switch {
				case !align:
					base[d][i] = float64(2*i+1)/float64(size) - 1
				case size > 1:
					base[d][i] = float64(2*i)/float64(size-1) - 1
				default:
					base[d][i] = -1
				}
			}
		}
		points := prod(dims)
		dth := make([]float64, n*k*(k+1))
		idx := make([]int, k)
		hom := make([]float64, k+1)
		hom[k] = 1
		for bi := 0; bi < n; bi++ {
			th := dth[bi*k*(k+1) : (bi+1)*k*(k+1)]
			clear(idx)
			for p := 0; p < points; p++ {
				for d := 0; d < k; d++ {
					hom[d] = base[k-1-d][idx[k-1-d]]
				}
				gp := dg[(bi*points+p)*k : (bi*points+p+1)*k]
				for r := 0; r < k; r++ {
					for j, h := range hom {
						th[r*(k+1)+j] += gp[r] * h
					}
				}
				for d := k - 1; d >= 0; d-- {
					idx[d]++
					if idx[d] < dims[d] {
						break
					}
					idx[d] = 0
				}
			}
		}
		return rc.one(gxOut(dth, dgT.DType(), []int{n, k, k + 1}))
	}), nil
}

// ---- DeformConv ----

func buildDeformConvGrad(b *Builder) (Kernel, error) {
	a := deformAttrs{spatialAttrs: readSpatial(b, false)}
	a.group = int(b.Int("group", 1))
	a.offGroup = int(b.Int("offset_group", 1))
	if err := b.Err(); err != nil {
		return nil, err
	}
	if a.group <= 0 || a.offGroup <= 0 {
		return nil, fmt.Errorf("DeformConvGrad: group %d and offset_group %d must be positive", a.group, a.offGroup)
	}
	nOut := b.NumOutputs
	return KernelFunc(func(rc *RunContext, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
		if err := Need(in, 4); err != nil {
			return nil, err
		}
		dyT, X, W, off, B, mask := in[0], in[1], in[2], in[3], Opt(in, 4), Opt(in, 5)
		p, err := a.plan(X, W, off, B, mask)
		if err != nil {
			return nil, err
		}
		if err := gxSameShape("DeformConvGrad: dY", dyT, []int{p.n, p.m, p.oh, p.ow}); err != nil {
			return nil, err
		}
		vals := make([][]float64, 5)
		for i, t := range []*tensor.Tensor{dyT, X, W, off, mask} {
			if t == nil {
				continue
			}
			if vals[i], err = gxFloats(t, "DeformConvGrad input"); err != nil {
				return nil, err
			}
		}
		gr := deformConvGrad(p, vals[0], vals[1], vals[2], vals[3], vals[4])
		like := []*tensor.Tensor{X, W, off, B, mask}
		outs := make([]*tensor.Tensor, nOut)
		for i := range outs {
			if !b.Out(i) || gr[i] == nil {
				continue
			}
			dt, shape := dyT.DType(), []int{len(gr[i])} // the bias's gradient when there is no bias
			if like[i] != nil {
				dt, shape = like[i].DType(), like[i].Shape()
			}
			if outs[i], err = gxOut(gr[i], dt, shape); err != nil {
				return nil, err
			}
		}
		return outs, nil
	}), nil
}

// deformConvGrad returns dX, dW, doffset, dB and dmask (nil when mask is)
// of DeformConv by direct loops over the sampled taps.
func deformConvGrad(p *deformPlan, dy, x, w, off, mask []float64) [5][]float64 {
	taps := p.kh * p.kw
	cg, mg := p.c/p.group, p.m/p.group
	cpo := p.c / p.offGroup
	outSize := p.oh * p.ow
	plane := p.h * p.w
	var g [5][]float64
	g[0], g[1], g[2], g[3] = make([]float64, len(x)), make([]float64, len(w)), make([]float64, len(off)), make([]float64, p.m)
	if mask != nil {
		g[4] = make([]float64, len(mask))
	}
	for n := 0; n < p.n; n++ {
		for mo := 0; mo < p.m; mo++ {
			for _, v := range dy[(n*p.m+mo)*outSize : (n*p.m+mo+1)*outSize] {
				g[3][mo] += v
			}
		}
		for og := 0; og < p.offGroup; og++ {
			offBase := (n*p.offGroup + og) * 2 * taps * outSize
			maskBase := (n*p.offGroup + og) * taps * outSize
			for i := 0; i < p.kh; i++ {
				for j := 0; j < p.kw; j++ {
					t := i*p.kw + j
					for q := 0; q < outSize; q++ {
						oh, ow := q/p.ow, q%p.ow
						hh := float64(oh*p.sh-p.ph+i*p.dh) + off[offBase+2*t*outSize+q]
						ww := float64(ow*p.sw-p.pw+j*p.dw) + off[offBase+(2*t+1)*outSize+q]
						if !(hh > -1 && hh < float64(p.h) && ww > -1 && ww < float64(p.w)) {
							continue
						}
						m := 1.0
						if mask != nil {
							m = mask[maskBase+t*outSize+q]
						}
						h0f, w0f := math.Floor(hh), math.Floor(ww)
						lh, lw := hh-h0f, ww-w0f
						h0, w0 := int(h0f), int(w0f)
						// The corners inside the image: offsets, weights and
						// the weights' derivatives along h and w.
						var cpos [4]int
						var cw, ch, cwd [4]float64
						var cin [4]bool
						for k, d := range [4][2]int{{0, 0}, {0, 1}, {1, 0}, {1, 1}} {
							hy, wx := h0+d[0], w0+d[1]
							cin[k] = hy >= 0 && hy < p.h && wx >= 0 && wx < p.w
							cpos[k] = hy*p.w + wx
							fh, fw := 1-lh, 1-lw
							dh, dw := -1.0, -1.0
							if d[0] == 1 {
								fh, dh = lh, 1
							}
							if d[1] == 1 {
								fw, dw = lw, 1
							}
							cw[k], ch[k], cwd[k] = fh*fw, dh*fw, fh*dw
						}
						var dOffH, dOffW, dMask float64
						for c := og * cpo; c < (og+1)*cpo; c++ {
							gi, cc := c/cg, c%cg
							xp := x[(n*p.c+c)*plane : (n*p.c+c+1)*plane]
							var bil, bh, bw float64
							for k := 0; k < 4; k++ {
								if cin[k] {
									v := xp[cpos[k]]
									bil += cw[k] * v
									bh += ch[k] * v
									bw += cwd[k] * v
								}
							}
							col := m * bil
							var dcol float64
							for mo := gi * mg; mo < (gi+1)*mg; mo++ {
								gy := dy[(n*p.m+mo)*outSize+q]
								wi := (mo*cg+cc)*taps + t
								dcol += gy * w[wi]
								g[1][wi] += gy * col
							}
							if dcol == 0 {
								continue
							}
							dxp := g[0][(n*p.c+c)*plane : (n*p.c+c+1)*plane]
							for k := 0; k < 4; k++ {
								if cin[k] {
									dxp[cpos[k]] += dcol * m * cw[k]
								}
							}
							dOffH += dcol * m * bh
							dOffW += dcol * m * bw
							dMask += dcol * bil
						}
						g[2][offBase+2*t*outSize+q] += dOffH
						g[2][offBase+(2*t+1)*outSize+q] += dOffW
						if mask != nil {
							g[4][maskBase+t*outSize+q] += dMask
						}
					}
				}
			}
		}
	}
	return g
}
