package ops

import (
	"fmt"
	"math"

	"github.com/onyxrt/onyx/tensor"
)

// GroupNormalization (opsets 18 and 21) normalizes X [N, C, D1..Dn] over
// each of num_groups groups of C/num_groups consecutive channels (and all
// spatial positions) of every sample: y = scale*(x-mean)/sqrt(var+eps) +
// bias with the biased variance. At opset 18 scale and bias hold one value
// per group; from opset 21 one per channel, and the normalization stage is
// computed in the precision of stash_type (1: float32, the default; 11:
// float64; 10 and 16: float16 and bfloat16) before the scale and bias
// are applied in X's type. Statistics are accumulated in float64.

// groupNormAttrs are the parsed attributes of GroupNormalization.
type groupNormAttrs struct {
	eps        float64
	groups     int
	perChannel bool         // opset 21: scale and bias are [C]
	stash      tensor.DType // Undefined below opset 21: X's own precision
}

func buildGroupNorm(b *Builder) (Kernel, error) {
	a := groupNormAttrs{eps: float64(b.Float("epsilon", 1e-5)), perChannel: b.Opset >= 21}
	g := b.RequireInt("num_groups")
	stash := int64(0)
	if a.perChannel {
		stash = b.Int("stash_type", 1)
	}
	if err := b.Err(); err != nil {
		return nil, err
	}
	if g <= 0 || g > math.MaxInt32 {
		return nil, fmt.Errorf("num_groups must be positive, got %d", g)
	}
	a.groups = int(g)
	switch tensor.DType(stash) {
	case tensor.Undefined, tensor.Float32, tensor.Float64, tensor.Float16, tensor.BFloat16:
		a.stash = tensor.DType(stash)
	default:
		return nil, fmt.Errorf("stash_type %d is not a floating-point type", stash)
	}
	return KernelFunc(func(rc *RunContext, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
		if err := Need(in, 3); err != nil {
			return nil, err
		}
		return rc.one(groupNorm(in[0], in[1], in[2], a))
	}), nil
}

func groupNorm(x, scale, bias *tensor.Tensor, a groupNormAttrs) (*tensor.Tensor, error) {
	if !x.DType().IsFloat() {
		return nil, ErrDType("X", x.DType())
	}
	if err := sameDType("GroupNormalization", x, scale, bias); err != nil {
		return nil, err
	}
	xs := x.Shape()
	if len(xs) < 2 {
		return nil, fmt.Errorf("X must have shape [N, C, ...], got %v", xs)
	}
	c := xs[1]
	if c%a.groups != 0 {
		return nil, fmt.Errorf("the %d channels of X do not split into %d groups", c, a.groups)
	}
	want := a.groups
	if a.perChannel {
		want = c
	}
	for _, t := range []*tensor.Tensor{scale, bias} {
		if t.Rank() != 1 || t.Len() != want {
			return nil, fmt.Errorf("scale and bias must have shape [%d], got %v and %v", want, scale.Shape(), bias.Shape())
		}
	}
	stash := a.stash
	if stash == tensor.Undefined {
		stash = x.DType()
	}
	switch x.DType() {
	case tensor.Float64:
		y := groupNormT(x.Float64s(), scale.Float64s(), bias.Float64s(), xs, a, stash)
		return tensor.FromSlice(xs, y)
	case tensor.Float32:
		y := groupNormT(x.Float32s(), scale.Float32s(), bias.Float32s(), xs, a, stash)
		return tensor.FromSlice(xs, y)
	}
	// float16, bfloat16: scale and bias in float32, then round to X's type.
	xf, dt, err := Upcast(x)
	if err != nil {
		return nil, err
	}
	sf, _, err := Upcast(scale)
	if err != nil {
		return nil, err
	}
	bf, _, err := Upcast(bias)
	if err != nil {
		return nil, err
	}
	y, err := tensor.FromSlice(xs, groupNormT(xf.Float32s(), sf.Float32s(), bf.Float32s(), xs, a, stash))
	if err != nil {
		return nil, err
	}
	return Downcast(y, dt)
}

// groupNormRound rounds v to the precision of the stash type.
func groupNormRound(v float64, stash tensor.DType) float64 {
	switch stash {
	case tensor.Float32:
		return float64(float32(v))
	case tensor.Float16:
		return float64(tensor.HalfFrom(float32(v)).Float32())
	case tensor.BFloat16:
		return float64(tensor.BF16From(float32(v)).Float32())
	}
	return v
}

func groupNormT[T Float](x, scale, bias []T, xs []int, a groupNormAttrs, stash tensor.DType) []T {
	n, c := xs[0], xs[1]
	spatial := prod(xs[2:])
	cpg := c / a.groups
	size := cpg * spatial // elements of one group
	y := make([]T, len(x))
	for b := 0; b < n; b++ {
		for g := 0; g < a.groups; g++ {
			off := (b*c + g*cpg) * spatial
			blk := x[off : off+size]
			var sum float64
			for _, v := range blk {
				sum += groupNormRound(float64(v), stash)
			}
			mean := groupNormRound(sum/float64(size), stash)
			var sq float64
			for _, v := range blk {
				d := groupNormRound(float64(v), stash) - mean
				sq += d * d
			}
			inv := 1 / math.Sqrt(groupNormRound(sq/float64(size), stash)+groupNormRound(a.eps, stash))
			for ci := 0; ci < cpg; ci++ {
				p := g
				if a.perChannel {
					p = g*cpg + ci
				}
				s, bi := scale[p], bias[p]
				o := off + ci*spatial
				for j, v := range x[o : o+spatial] {
					norm := groupNormRound((groupNormRound(float64(v), stash)-mean)*inv, stash)
					y[o+j] = s*T(norm) + bi
				}
			}
		}
	}
	return y
}
