package ops

import (
	"fmt"
	"math"

	"github.com/onyxrt/onyx/tensor"
)

// Gradient rules of LpPool, GlobalLpPool, MaxRoiPool, RoiAlign and
// MaxUnpool, with their backward kernels (float64 arithmetic, results in
// the gradient's type). Each takes the forward node's attributes:
//
//	LpPoolGrad(dy, x), GlobalLpPoolGrad(dy, x)    dy·|x|^(p-1)·sign(x)·y^(1-p) per window
//	MaxRoiPoolGrad(dy, x, rois)                   dy routed to each bin's maximum
//	RoiAlignGrad(dy, x, rois, batch_indices)      dy spread over the bilinear samples
//	MaxUnpoolGrad(dy, x, indices, [output_shape]) dy read back at the indices
//
// The rois get no gradient (see partialGrads).

// gradPool returns the rule of one of this file's operators, or nil.
func gradPool(name string) GradFunc {
	switch name {
	case "LpPool", "GlobalLpPool", "MaxRoiPool":
		return func(g GradContext) error {
			b := g.Node()
			ins := []string{g.OutputGrad(0)}
			for i := 0; i < b.NumInputs; i++ {
				ins = append(ins, g.Input(i))
			}
			return gradKernel(g, name+"Grad", ins, 1, CopyAttrs(b)...)
		}
	case "MaxUnpool":
		return func(g GradContext) error {
			b := g.Node()
			ins := []string{g.OutputGrad(0), g.Input(0), g.Input(1)}
			if b.In(2) {
				ins = append(ins, g.Input(2))
			}
			return gradKernel(g, "MaxUnpoolGrad", ins, 1, CopyAttrs(b)...)
		}
	case "RoiAlign":
		return gradRoiAlign
	}
	return nil
}

// ---- LpPool, GlobalLpPool ----

// lpTapGrad adds into dx the gradient of y = (Σ|x_t|^p)^(1/p) over taps.
func lpTapGrad(dx, x []float64, taps []int, p, y, dy float64) {
	if y == 0 || dy == 0 {
		return
	}
	for _, t := range taps {
		v := x[t]
		var d float64
		switch p {
		case 1:
			d = 1
		case 2:
			d = math.Abs(v) / y
		default:
			d = math.Pow(math.Abs(v), p-1) * math.Pow(y, 1-p)
		}
		if v < 0 {
			d = -d
		} else if v == 0 {
			d = 0
		}
		dx[t] += dy * d
	}
}

func buildLpPoolGrad(b *Builder) (Kernel, error) {
	a, err := readPoolAttrs(b, poolLp)
	if err != nil {
		return nil, err
	}
	return KernelFunc(func(rc *RunContext, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
		if err := Need(in, 2); err != nil {
			return nil, err
		}
		dyT, xT := in[0], in[1]
		xs := xT.Shape()
		p, err := a.plan(xs)
		if err != nil {
			return nil, err
		}
		if err := gxSameShape("LpPoolGrad: dY", dyT, a.outShape(xs, p)); err != nil {
			return nil, err
		}
		dy, err := gxFloats(dyT, "LpPoolGrad: dY")
		if err != nil {
			return nil, err
		}
		x, err := gxFloats(xT, "LpPoolGrad: X")
		if err != nil {
			return nil, err
		}
		dx := make([]float64, len(x))
		for pl := 0; pl < p.nc; pl++ {
			src := x[pl*p.inSize : (pl+1)*p.inSize]
			dst := dx[pl*p.inSize : (pl+1)*p.inSize]
			for o := 0; o < p.outSize; o++ {
				taps := p.offs[p.start[o]:p.start[o+1]]
				lpTapGrad(dst, src, taps, a.p, lpNorm(src, taps, a.p), dy[pl*p.outSize+o])
			}
		}
		return rc.one(gxOut(dx, dyT.DType(), xs))
	}), nil
}

func buildGlobalLpPoolGrad(b *Builder) (Kernel, error) {
	p := readP(b)
	if err := b.Err(); err != nil {
		return nil, err
	}
	if p <= 0 {
		return nil, fmt.Errorf("GlobalLpPoolGrad: p must be positive, got %v", p)
	}
	return KernelFunc(func(rc *RunContext, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
		if err := Need(in, 2); err != nil {
			return nil, err
		}
		dyT, xT := in[0], in[1]
		xs := xT.Shape()
		if len(xs) < 2 {
			return nil, fmt.Errorf("GlobalLpPoolGrad: X must have rank at least 2, got shape %v", xs)
		}
		planes := xs[0] * xs[1]
		if dyT.Len() != planes {
			return nil, fmt.Errorf("GlobalLpPoolGrad: dY has shape %v for X %v", dyT.Shape(), xs)
		}
		dy, err := gxFloats(dyT, "GlobalLpPoolGrad: dY")
		if err != nil {
			return nil, err
		}
		x, err := gxFloats(xT, "GlobalLpPoolGrad: X")
		if err != nil {
			return nil, err
		}
		dx := make([]float64, len(x))
		if planes > 0 {
			size := len(x) / planes
			taps := make([]int, size)
			for i := range taps {
				taps[i] = i
			}
			for pl := 0; pl < planes; pl++ {
				src := x[pl*size : (pl+1)*size]
				lpTapGrad(dx[pl*size:(pl+1)*size], src, taps, p, lpNorm(src, taps, p), dy[pl])
			}
		}
		return rc.one(gxOut(dx, dyT.DType(), xs))
	}), nil
}

// ---- MaxRoiPool ----

func buildMaxRoiPoolGrad(b *Builder) (Kernel, error) {
	pooled := ToInts(b.RequireInts("pooled_shape"))
	scale := float64(b.Float("spatial_scale", 1))
	if err := b.Err(); err != nil {
		return nil, err
	}
	if len(pooled) != 2 || pooled[0] <= 0 || pooled[1] <= 0 {
		return nil, fmt.Errorf("MaxRoiPoolGrad: pooled_shape must hold two positive sizes, got %v", pooled)
	}
	return KernelFunc(func(rc *RunContext, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
		if err := Need(in, 3); err != nil {
			return nil, err
		}
		dyT, xT, rT := in[0], in[1], in[2]
		xs := xT.Shape()
		if len(xs) != 4 || rT.Rank() != 2 || rT.Shape()[1] != 5 {
			return nil, fmt.Errorf("MaxRoiPoolGrad: X %v must be 4-D and rois %v [num_rois, 5]", xs, rT.Shape())
		}
		nr := rT.Shape()[0]
		if err := gxSameShape("MaxRoiPoolGrad: dY", dyT, []int{nr, xs[1], pooled[0], pooled[1]}); err != nil {
			return nil, err
		}
		dy, err := gxFloats(dyT, "MaxRoiPoolGrad: dY")
		if err != nil {
			return nil, err
		}
		x, err := gxFloats(xT, "MaxRoiPoolGrad: X")
		if err != nil {
			return nil, err
		}
		rois, err := gxFloats(rT, "MaxRoiPoolGrad: rois")
		if err != nil {
			return nil, err
		}
		n, c, h, w := xs[0], xs[1], xs[2], xs[3]
		ph, pw := pooled[0], pooled[1]
		dx := make([]float64, len(x))
		for r := 0; r < nr; r++ {
			roi := rois[r*5 : r*5+5]
			bi := int(roi[0])
			if bi < 0 || bi >= n || float64(bi) != roi[0] {
				return nil, fmt.Errorf("MaxRoiPoolGrad: roi %d has batch index %v, out of range [0, %d)", r, roi[0], n)
			}
			x1, y1 := int(math.Round(roi[1]*scale)), int(math.Round(roi[2]*scale))
			x2, y2 := int(math.Round(roi[3]*scale)), int(math.Round(roi[4]*scale))
			rh := float64(max(y2-y1+1, 1)) / float64(ph)
			rw := float64(max(x2-x1+1, 1)) / float64(pw)
			for ci := 0; ci < c; ci++ {
				base := (bi*c + ci) * h * w
				for i := 0; i < ph; i++ {
					hs := min(max(int(math.Floor(float64(i)*rh))+y1, 0), h)
					he := min(max(int(math.Ceil(float64(i+1)*rh))+y1, 0), h)
					for j := 0; j < pw; j++ {
						ws := min(max(int(math.Floor(float64(j)*rw))+x1, 0), w)
						we := min(max(int(math.Ceil(float64(j+1)*rw))+x1, 0), w)
						if he <= hs || we <= ws {
							continue
						}
						best := base + hs*w + ws
						for yy := hs; yy < he; yy++ {
							for xx := ws; xx < we; xx++ {
								if x[base+yy*w+xx] > x[best] {
									best = base + yy*w + xx
								}
							}
						}
						dx[best] += dy[((r*c+ci)*ph+i)*pw+j]
					}
				}
			}
		}
		return rc.one(gxOut(dx, dyT.DType(), xs))
	}), nil
}

// ---- RoiAlign ----

// gradRoiAlign emits RoiAlignGrad with the attributes resolved for the
// opset (opset 10 always used output_half_pixel coordinates).
func gradRoiAlign(g GradContext) error {
	b := g.Node()
	ctm := "output_half_pixel"
	if b.Opset >= 16 {
		ctm = b.String("coordinate_transformation_mode", "half_pixel")
	}
	return gradKernel(g, "RoiAlignGrad", []string{g.OutputGrad(0), g.Input(0), g.Input(1), g.Input(2)}, 1,
		StringAttr("mode", b.String("mode", "avg")), IntAttr("output_height", b.Int("output_height", 1)),
		IntAttr("output_width", b.Int("output_width", 1)), IntAttr("sampling_ratio", b.Int("sampling_ratio", 0)),
		FloatAttr("spatial_scale", b.Float("spatial_scale", 1)), StringAttr("coordinate_transformation_mode", ctm))
}

func buildRoiAlignGrad(b *Builder) (Kernel, error) {
	mode := b.String("mode", "avg")
	ra := &roiAlign{
		max: mode == "max", oh: int(b.Int("output_height", 1)), ow: int(b.Int("output_width", 1)),
		ratio: int(b.Int("sampling_ratio", 0)), scale: float64(b.Float("spatial_scale", 1)),
		halfPixel: b.String("coordinate_transformation_mode", "half_pixel") == "half_pixel",
	}
	if err := b.Err(); err != nil {
		return nil, err
	}
	if mode != "avg" && mode != "max" {
		return nil, fmt.Errorf("RoiAlignGrad: mode %q is not avg or max", mode)
	}
	if ra.oh <= 0 || ra.ow <= 0 || ra.ratio < 0 {
		return nil, fmt.Errorf("RoiAlignGrad: bad output size %dx%d or sampling_ratio %d", ra.oh, ra.ow, ra.ratio)
	}
	return KernelFunc(func(rc *RunContext, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
		if err := Need(in, 4); err != nil {
			return nil, err
		}
		dyT, xT, rT, iT := in[0], in[1], in[2], in[3]
		xs := xT.Shape()
		if len(xs) != 4 || rT.Rank() != 2 || rT.Shape()[1] != 4 {
			return nil, fmt.Errorf("RoiAlignGrad: X %v must be 4-D and rois %v [num_rois, 4]", xs, rT.Shape())
		}
		idx, err := iT.AsInt64s()
		if err != nil {
			return nil, fmt.Errorf("batch_indices: %w", err)
		}
		nr := rT.Shape()[0]
		if len(idx) != nr {
			return nil, fmt.Errorf("RoiAlignGrad: batch_indices has %d entries, rois has %d", len(idx), nr)
		}
		if err := gxSameShape("RoiAlignGrad: dY", dyT, []int{nr, xs[1], ra.oh, ra.ow}); err != nil {
			return nil, err
		}
		dy, err := gxFloats(dyT, "RoiAlignGrad: dY")
		if err != nil {
			return nil, err
		}
		x, err := gxFloats(xT, "RoiAlignGrad: X")
		if err != nil {
			return nil, err
		}
		rois, err := gxFloats(rT, "RoiAlignGrad: rois")
		if err != nil {
			return nil, err
		}
		c, h, w := xs[1], xs[2], xs[3]
		dx := make([]float64, len(x))
		if h == 0 || w == 0 {
			return rc.one(gxOut(dx, dyT.DType(), xs))
		}
		for r, bi := range idx {
			if bi < 0 || bi >= int64(xs[0]) {
				return nil, fmt.Errorf("RoiAlignGrad: batch index %d of roi %d is out of range", bi, r)
			}
			samples, per, count := roiAlignSamples(ra, rois[r*4:r*4+4], h, w)
			for ci := 0; ci < c; ci++ {
				base := (int(bi)*c + ci) * h * w
				plane, dplane := x[base:base+h*w], dx[base:base+h*w]
				for bin := 0; bin < ra.oh*ra.ow; bin++ {
					g := dy[(r*c+ci)*ra.oh*ra.ow+bin]
					ss := samples[bin*per : (bin+1)*per]
					if !ra.max {
						for _, s := range ss {
							for k := 0; k < 4; k++ {
								dplane[s.pos[k]] += g * s.w[k] / count
							}
						}
						continue
					}
					// The forward takes the largest weighted corner of
					// each sample, then the largest sample (the first on
					// ties): the gradient goes to that corner.
					var acc float64
					bs, bk := -1, 0
					for si, s := range ss {
						v, vk := s.w[0]*plane[s.pos[0]], 0
						for k := 1; k < 4; k++ {
							if u := s.w[k] * plane[s.pos[k]]; u > v {
								v, vk = u, k
							}
						}
						if si == 0 || v > acc {
							acc, bs, bk = v, si, vk
						}
					}
					if bs >= 0 {
						dplane[ss[bs].pos[bk]] += g * ss[bs].w[bk]
					}
				}
			}
		}
		return rc.one(gxOut(dx, dyT.DType(), xs))
	}), nil
}

// roiAlignSamples returns the bilinear samples of every bin of one roi
// (per samples a bin), as roiAlignRun makes them, and the averaging count.
func roiAlignSamples(ra *roiAlign, roi []float64, h, w int) (samples []roiSample, per int, count float64) {
	off := 0.0
	if ra.halfPixel {
		off = 0.5
	}
	x1, y1 := roi[0]*ra.scale-off, roi[1]*ra.scale-off
	x2, y2 := roi[2]*ra.scale-off, roi[3]*ra.scale-off
	rw, rh := x2-x1, y2-y1
	if !ra.halfPixel {
		rw, rh = math.Max(rw, 1), math.Max(rh, 1)
	}
	bh, bw := rh/float64(ra.oh), rw/float64(ra.ow)
	gh, gw := ra.ratio, ra.ratio
	if ra.ratio == 0 {
		gh, gw = int(math.Ceil(rh/float64(ra.oh))), int(math.Ceil(rw/float64(ra.ow)))
	}
	count = float64(max(gh*gw, 1))
	if gh < 0 || gw < 0 || gh*gw > 1<<20 {
		// NaN or absurd boxes: no samples (as if outside the image).
		gh, gw = 0, 0
	}
	for ph := 0; ph < ra.oh; ph++ {
		for pw := 0; pw < ra.ow; pw++ {
			for iy := 0; iy < gh; iy++ {
				yy := y1 + float64(ph)*bh + (float64(iy)+0.5)*bh/float64(gh)
				for ix := 0; ix < gw; ix++ {
					xx := x1 + float64(pw)*bw + (float64(ix)+0.5)*bw/float64(gw)
					s := bilinearSample(yy, xx, h, w)
					for _, p := range s.pos {
						if p < 0 || p >= h*w {
							s = roiSample{} // NaN coordinates
							break
						}
					}
					samples = append(samples, s)
				}
			}
		}
	}
	return samples, max(gh*gw, 0), count
}

// ---- MaxUnpool ----

func buildMaxUnpoolGrad(b *Builder) (Kernel, error) {
	a := readSpatial(b, true)
	if err := b.Err(); err != nil {
		return nil, err
	}
	return KernelFunc(func(rc *RunContext, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
		if err := Need(in, 3); err != nil {
			return nil, err
		}
		dyT, xT, iT := in[0], in[1], in[2]
		xs := xT.Shape()
		n, c, sp, err := spatial(xs, 3, "X")
		if err != nil {
			return nil, err
		}
		if !tensor.ShapeEqual(iT.Shape(), xs) {
			return nil, fmt.Errorf("MaxUnpoolGrad: indices have shape %v, X has %v", iT.Shape(), xs)
		}
		idx, err := iT.AsInt64s()
		if err != nil {
			return nil, fmt.Errorf("indices: %w", err)
		}
		if len(a.kernel) != len(sp) {
			return nil, fmt.Errorf("MaxUnpoolGrad: kernel_shape %v does not match X %v", a.kernel, xs)
		}
		geo, err := a.resolve(sp, a.kernel)
		if err != nil {
			return nil, err
		}
		def := []int{n, c}
		for i := range sp {
			def = append(def, (sp[i]-1)*geo.s[i]+a.kernel[i]-geo.pb[i]-geo.pe[i])
		}
		out := def
		if os := Opt(in, 3); os != nil {
			v, err := os.AsInt64s()
			if err != nil {
				return nil, fmt.Errorf("output_shape: %w", err)
			}
			if len(v) != len(xs) {
				return nil, fmt.Errorf("MaxUnpoolGrad: output_shape %v does not fit X %v", v, xs)
			}
			out = ToInts(v)
		}
		if err := gxSameShape("MaxUnpoolGrad: dY", dyT, out); err != nil {
			return nil, err
		}
		dy, err := gxFloats(dyT, "MaxUnpoolGrad: dY")
		if err != nil {
			return nil, err
		}
		// The output element each input element was written to, as
		// MaxUnpool maps it; on collisions the last write wins.
		dst, err := unpoolTargets(idx, def, out)
		if err != nil {
			return nil, fmt.Errorf("MaxUnpoolGrad: %w", err)
		}
		last := map[int]int{}
		for i, o := range dst {
			if o >= 0 {
				last[o] = i
			}
		}
		dx := make([]float64, len(idx))
		for i, o := range dst {
			if o >= 0 && last[o] == i {
				dx[i] = dy[o]
			}
		}
		return rc.one(gxOut(dx, dyT.DType(), xs))
	}), nil
}
