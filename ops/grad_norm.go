package ops

import (
	"fmt"
	"math"

	"github.com/onyxrt/onyx/tensor"
)

// Gradient rules of InstanceNormalization, GroupNormalization, LRN,
// LpNormalization and MeanVarianceNormalization, with their backward
// kernels (float64 arithmetic, results in the gradient's type):
//
//	GroupNormGrad(dy, x, scale) num_groups (0: one per channel), per_channel, epsilon -> (dx, dscale, dbias)
//	LRNGrad(dy, x) alpha, beta, bias, size
//	LpNormGrad(dy, x) axis, p
//	MVNGrad(dy, x) axes
//
// Every normalization z = (x - mean)/sigma over a group of N elements has
// dx = (dz - mean(dz) - (x - mean)·Σ dz(x - mean)/(N·sigma·s))/sigma, with
// s = sqrt(var): sigma = sqrt(var + eps) gives the familiar form
// (dz - mean(dz) - z·mean(dz·z))/sigma, MVN's sigma = sqrt(var) + 1e-9
// the other.

// gradNorm returns the rule of one of this file's operators, or nil.
func gradNorm(name string) GradFunc {
	switch name {
	case "InstanceNormalization":
		return func(g GradContext) error {
			eps := g.Node().Float("epsilon", 1e-5)
			return gradKernel(g, "GroupNormGrad", []string{g.OutputGrad(0), g.Input(0), g.Input(1)}, 3,
				IntAttr("num_groups", 0), IntAttr("per_channel", 1), FloatAttr("epsilon", eps))
		}
	case "GroupNormalization":
		return func(g GradContext) error {
			b := g.Node()
			pc := int64(0)
			if b.Opset >= 21 {
				pc = 1
			}
			return gradKernel(g, "GroupNormGrad", []string{g.OutputGrad(0), g.Input(0), g.Input(1)}, 3,
				IntAttr("num_groups", b.RequireInt("num_groups")), IntAttr("per_channel", pc), FloatAttr("epsilon", b.Float("epsilon", 1e-5)))
		}
	case "LRN":
		return func(g GradContext) error {
			b := g.Node()
			return gradKernel(g, "LRNGrad", []string{g.OutputGrad(0), g.Input(0)}, 1,
				FloatAttr("alpha", b.Float("alpha", 1e-4)), FloatAttr("beta", b.Float("beta", 0.75)),
				FloatAttr("bias", b.Float("bias", 1)), IntAttr("size", b.RequireInt("size")))
		}
	case "LpNormalization":
		return func(g GradContext) error {
			b := g.Node()
			return gradKernel(g, "LpNormGrad", []string{g.OutputGrad(0), g.Input(0)}, 1,
				IntAttr("axis", b.Int("axis", -1)), IntAttr("p", b.Int("p", 2)))
		}
	case "MeanVarianceNormalization":
		return func(g GradContext) error {
			return gradKernel(g, "MVNGrad", []string{g.OutputGrad(0), g.Input(0)}, 1,
				IntsAttr("axes", g.Node().Ints("axes", []int64{0, 2, 3})...))
		}
	}
	return nil
}

// normGroupGrad sets dx for one normalized group: dz is the gradient of
// z = (x - mean)/sigma and s = sqrt(var).
func normGroupGrad(dx, dz, x []float64, mean, sigma, s float64) {
	n := float64(len(x))
	if n == 0 {
		return
	}
	var sdz, sdzx float64
	for i, v := range x {
		sdz += dz[i]
		sdzx += dz[i] * (v - mean)
	}
	k := 0.0
	if s != 0 {
		k = sdzx / (n * sigma * s)
	}
	for i, v := range x {
		dx[i] = (dz[i] - sdz/n - (v-mean)*k) / sigma
	}
}

// normMeanVar returns the mean and the biased variance of v.
func normMeanVar(v []float64) (mean, variance float64) {
	if len(v) == 0 {
		return 0, 0
	}
	for _, e := range v {
		mean += e
	}
	mean /= float64(len(v))
	for _, e := range v {
		variance += (e - mean) * (e - mean)
	}
	return mean, variance / float64(len(v))
}

func buildGroupNormGrad(b *Builder) (Kernel, error) {
	groups := int(b.Int("num_groups", 0))
	perChannel := b.Int("per_channel", 1) != 0
	eps := float64(b.Float("epsilon", 1e-5))
	if err := b.Err(); err != nil {
		return nil, err
	}
	if groups < 0 {
		return nil, fmt.Errorf("GroupNormGrad: num_groups %d is negative", groups)
	}
	return KernelFunc(func(rc *RunContext, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
		if err := Need(in, 3); err != nil {
			return nil, err
		}
		dyT, xT, sT := in[0], in[1], in[2]
		xs := xT.Shape()
		if len(xs) < 2 {
			return nil, fmt.Errorf("GroupNormGrad: X must have shape [N, C, ...], got %v", xs)
		}
		if err := gxSameShape("GroupNormGrad: dY", dyT, xs); err != nil {
			return nil, err
		}
		n, c, spatial := xs[0], xs[1], prod(xs[2:])
		g := groups
		if g == 0 {
			g = c
		}
		if c%g != 0 {
			return nil, fmt.Errorf("GroupNormGrad: the %d channels do not split into %d groups", c, g)
		}
		np := g
		if perChannel {
			np = c
		}
		if sT.Len() != np {
			return nil, fmt.Errorf("GroupNormGrad: scale has shape %v, want %d values", sT.Shape(), np)
		}
		dy, err := gxFloats(dyT, "GroupNormGrad: dY")
		if err != nil {
			return nil, err
		}
		x, err := gxFloats(xT, "GroupNormGrad: X")
		if err != nil {
			return nil, err
		}
		scale, err := gxFloats(sT, "GroupNormGrad: scale")
		if err != nil {
			return nil, err
		}
		cpg := c / g
		size := cpg * spatial
		dx := make([]float64, len(x))
		ds, db := make([]float64, np), make([]float64, np)
		dz := make([]float64, size)
		for s := 0; s < n; s++ {
			for gi := 0; gi < g; gi++ {
				off := (s*c + gi*cpg) * spatial
				blk := x[off : off+size]
				mean, variance := normMeanVar(blk)
				sigma := math.Sqrt(variance + eps)
				for ci := 0; ci < cpg; ci++ {
					p := gi
					if perChannel {
						p = gi*cpg + ci
					}
					for j := ci * spatial; j < (ci+1)*spatial; j++ {
						gy := dy[off+j]
						dz[j] = gy * scale[p]
						ds[p] += gy * (blk[j] - mean) / sigma
						db[p] += gy
					}
				}
				normGroupGrad(dx[off:off+size], dz, blk, mean, sigma, sigma)
			}
		}
		outs := make([]*tensor.Tensor, 3)
		if outs[0], err = gxOut(dx, dyT.DType(), xs); err != nil {
			return nil, err
		}
		for i, v := range [][]float64{ds, db} {
			if b.Out(i + 1) {
				if outs[i+1], err = gxOut(v, sT.DType(), sT.Shape()); err != nil {
					return nil, err
				}
			}
		}
		return outs, nil
	}), nil
}

// buildLRNGrad: y_c = x_c·d_c^-β with d_c = bias + α/size·Σ x_i² over the
// channels i of c's window, so dx_j = dy_j·d_j^-β - 2αβ/size·x_j·Σ
// dy_c·x_c·d_c^(-β-1) over the windows c that hold j.
func buildLRNGrad(b *Builder) (Kernel, error) {
	alpha := float64(b.Float("alpha", 1e-4))
	beta := float64(b.Float("beta", 0.75))
	bias := float64(b.Float("bias", 1))
	size := int(b.RequireInt("size"))
	if err := b.Err(); err != nil {
		return nil, err
	}
	if size <= 0 {
		return nil, fmt.Errorf("LRNGrad: size must be positive, got %d", size)
	}
	return KernelFunc(func(rc *RunContext, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
		if err := Need(in, 2); err != nil {
			return nil, err
		}
		dyT, xT := in[0], in[1]
		xs := xT.Shape()
		if len(xs) < 2 {
			return nil, fmt.Errorf("LRNGrad: X must have rank at least 2, got shape %v", xs)
		}
		if err := gxSameShape("LRNGrad: dY", dyT, xs); err != nil {
			return nil, err
		}
		dy, err := gxFloats(dyT, "LRNGrad: dY")
		if err != nil {
			return nil, err
		}
		x, err := gxFloats(xT, "LRNGrad: X")
		if err != nil {
			return nil, err
		}
		n, c, inner := xs[0], xs[1], prod(xs[2:])
		lo, hi := (size-1)/2, size-1-(size-1)/2
		dx := make([]float64, len(x))
		d, t := make([]float64, c), make([]float64, c)
		k := alpha / float64(size)
		for s := 0; s < n; s++ {
			for j := 0; j < inner; j++ {
				at := func(ch int) int { return (s*c+ch)*inner + j }
				for ch := 0; ch < c; ch++ {
					sq := 0.0
					for i := max(0, ch-lo); i <= min(c-1, ch+hi); i++ {
						sq += x[at(i)] * x[at(i)]
					}
					d[ch] = bias + k*sq
					t[ch] = dy[at(ch)] * x[at(ch)] * math.Pow(d[ch], -beta-1)
				}
				for ch := 0; ch < c; ch++ {
					sum := 0.0
					for i := max(0, ch-hi); i <= min(c-1, ch+lo); i++ {
						sum += t[i]
					}
					dx[at(ch)] = dy[at(ch)]*math.Pow(d[ch], -beta) - 2*k*beta*x[at(ch)]*sum
				}
			}
		}
		return rc.one(gxOut(dx, dyT.DType(), xs))
	}), nil
}

// buildLpNormGrad: y = x/‖x‖ along axis. For p = 2, dx = (dy - y·Σ dy·y)/‖x‖;
// for p = 1, dx = dy/‖x‖ - sign(x)·Σ dy·x/‖x‖². A zero slice (whose output
// is zero) gets a zero gradient.
func buildLpNormGrad(b *Builder) (Kernel, error) {
	axis := b.Int("axis", -1)
	p := b.Int("p", 2)
	if err := b.Err(); err != nil {
		return nil, err
	}
	if p != 1 && p != 2 {
		return nil, fmt.Errorf("LpNormGrad: p must be 1 or 2, got %d", p)
	}
	return KernelFunc(func(rc *RunContext, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
		if err := Need(in, 2); err != nil {
			return nil, err
		}
		dyT, xT := in[0], in[1]
		xs := xT.Shape()
		if err := gxSameShape("LpNormGrad: dY", dyT, xs); err != nil {
			return nil, err
		}
		a, err := NormAxis(axis, len(xs))
		if err != nil || len(xs) == 0 {
			return nil, fmt.Errorf("LpNormGrad: axis %d does not fit shape %v", axis, xs)
		}
		dy, err := gxFloats(dyT, "LpNormGrad: dY")
		if err != nil {
			return nil, err
		}
		x, err := gxFloats(xT, "LpNormGrad: X")
		if err != nil {
			return nil, err
		}
		outer, n, inner := prod(xs[:a]), xs[a], prod(xs[a+1:])
		dx := make([]float64, len(x))
		for o := 0; o < outer; o++ {
			for i := 0; i < inner; i++ {
				base := o*n*inner + i
				norm, dot := 0.0, 0.0
				for k := 0; k < n; k++ {
					v := x[base+k*inner]
					if p == 1 {
						norm += math.Abs(v)
					} else {
						norm += v * v
					}
					dot += v * dy[base+k*inner]
				}
				if p == 2 {
					norm = math.Sqrt(norm)
				}
				if norm == 0 {
					continue
				}
				for k := 0; k < n; k++ {
					e := base + k*inner
					v := x[e]
					if p == 2 {
						dx[e] = (dy[e] - v*dot/(norm*norm)) / norm
						continue
					}
					sgn := 0.0
					switch {
					case v > 0:
						sgn = 1
					case v < 0:
						sgn = -1
					}
					dx[e] = dy[e]/norm - sgn*dot/(norm*norm)
				}
			}
		}
		return rc.one(gxOut(dx, dyT.DType(), xs))
	}), nil
}

// buildMVNGrad: y = (x - mean)/(sqrt(var) + 1e-9) over the axes.
func buildMVNGrad(b *Builder) (Kernel, error) {
	axes := b.Ints("axes", []int64{0, 2, 3})
	if err := b.Err(); err != nil {
		return nil, err
	}
	return KernelFunc(func(rc *RunContext, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
		if err := Need(in, 2); err != nil {
			return nil, err
		}
		dyT, xT := in[0], in[1]
		xs := xT.Shape()
		if err := gxSameShape("MVNGrad: dY", dyT, xs); err != nil {
			return nil, err
		}
		ax, err := NormAxes(axes, len(xs))
		if err != nil {
			return nil, err
		}
		dy, err := gxFloats(dyT, "MVNGrad: dY")
		if err != nil {
			return nil, err
		}
		x, err := gxFloats(xT, "MVNGrad: X")
		if err != nil {
			return nil, err
		}
		group, ng := groupIndex(xs, ax)
		// Gather every group's elements, normalize, scatter back.
		members := make([][]int, ng)
		for i, gi := range group {
			members[gi] = append(members[gi], i)
		}
		dx := make([]float64, len(x))
		for _, idx := range members {
			xv, dz, out := make([]float64, len(idx)), make([]float64, len(idx)), make([]float64, len(idx))
			for k, i := range idx {
				xv[k], dz[k] = x[i], dy[i]
			}
			mean, variance := normMeanVar(xv)
			s := math.Sqrt(variance)
			normGroupGrad(out, dz, xv, mean, s+1e-9, s)
			for k, i := range idx {
				dx[i] = out[k]
			}
		}
		return rc.one(gxOut(dx, dyT.DType(), xs))
	}), nil
}
