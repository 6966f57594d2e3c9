package ops

import (
	"fmt"
	"math/rand/v2"

	"github.com/onyxrt/onyx/tensor"
)

// This file holds Dropout. Before opset 12 Dropout is run as in inference
// (the output is the input; the is_test attribute of opsets 1 and 6 is
// accepted and ignored). From opset 12 a true training_mode input drops
// elements with probability ratio and scales the rest by 1/(1-ratio).
// With the seed attribute the draws reproduce numpy's
// np.random.seed(seed); np.random.uniform(size=x.shape) >= ratio, which is
// how the ONNX reference defines the mask; each run with a given seed
// gives the same mask. Without it the mask comes from the run's seed
// (RunContext.Seed) when the run has one, else from a fresh seed.

func registerDropout(r *Registry) {
	for _, v := range []int{1, 6, 7, 10, 12, 13} {
		r.Register(&Def{Name: "Dropout", Since: v, Build: buildDropout})
	}
}

func buildDropout(b *Builder) (Kernel, error) {
	b.Float("ratio", 0.5)
	b.Int("is_test", 0)
	seeded := b.Has("seed")
	seed := b.Int("seed", 0)
	if err := b.Err(); err != nil {
		return nil, err
	}
	opset := b.Opset
	wantMask := b.Out(1)
	k := func(rc *RunContext, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
		if err := Need(in, 1); err != nil {
			return nil, err
		}
		X := in[0]
		if err := checkDType("Dropout", X, floatTypes...); err != nil {
			return nil, err
		}
		training := false
		ratio := 0.5
		if opset >= 12 {
			if r := Opt(in, 1); r != nil {
				if r.Len() != 1 || !r.DType().IsFloat() {
					return nil, fmt.Errorf("ratio must be a float scalar, got %v", r)
				}
				ratio = r.Float64s()[0]
			}
			if t := Opt(in, 2); t != nil {
				tv, ok := t.Data().([]bool)
				if !ok || len(tv) != 1 {
					return nil, fmt.Errorf("training_mode must be a bool scalar, got %v", t)
				}
				training = tv[0]
			}
		}
		if training && !(ratio >= 0 && ratio < 1) {
			return nil, fmt.Errorf("ratio must be in [0, 1), got %v", ratio)
		}
		if training && ratio == 0 {
			training = false
		}
		var y, mask *tensor.Tensor
		if !training {
			// The identity: a view, like Identity's.
			y, err := rc.View(X, X.Shape()...)
			if err != nil {
				return nil, err
			}
			if wantMask {
				if opset < 10 {
					if mask, err = rc.NewUninit(X.DType(), X.Shape()...); err != nil {
						return nil, err
					}
					fillOnes(mask)
				} else {
					if mask, err = rc.NewUninit(tensor.Bool, X.Shape()...); err != nil {
						return nil, err
					}
					for i := range tensor.Data[bool](mask) {
						tensor.Data[bool](mask)[i] = true
					}
				}
			}
			return rc.Results(y, mask), nil
		}
		s := uint32(seed)
		switch {
		case seeded:
		case rc != nil && rc.Seeded:
			s = uint32(rc.Seed ^ rc.Seed>>32)
		default:
			s = rand.Uint32()
		}
		keep := make([]bool, X.Len())
		mt := newMT19937(s)
		for i := range keep {
			keep[i] = mt.float64() >= ratio
		}
		y = tensor.MustNew(X.DType(), X.Shape()...)
		switch X.DType() {
		case tensor.Float32:
			dropoutApply(X.Float32s(), y.Float32s(), keep, ratio)
		case tensor.Float64:
			dropoutApply(tensor.Data[float64](X), tensor.Data[float64](y), keep, ratio)
		default:
			return nil, ErrDType("Dropout", X.DType())
		}
		if wantMask {
			mask, _ = tensor.FromSlice(X.Shape(), keep)
		}
		return rc.Results(y, mask), nil
	}
	return halfWrap(k), nil
}

func fillOnes(t *tensor.Tensor) {
	switch s := t.Data().(type) {
	case []float32:
		for i := range s {
			s[i] = 1
		}
	case []float64:
		for i := range s {
			s[i] = 1
		}
	case []tensor.Half:
		for i := range s {
			s[i] = tensor.HalfFrom(1)
		}
	case []tensor.BF16:
		for i := range s {
			s[i] = tensor.BF16From(1)
		}
	}
}

func dropoutApply[T Float](x, y []T, keep []bool, ratio float64) {
	scale := T(1 / (1 - ratio))
	for i, v := range x {
		if keep[i] {
			y[i] = v * scale
		} else {
			y[i] = v * 0 // keeps the sign of zero and NaN for Inf, as x*mask*scale does
		}
	}
}

// mt19937 is the Mersenne Twister with numpy's legacy integer seeding.
type mt19937 struct {
	mt  [624]uint32
	pos int
}

func newMT19937(seed uint32) *mt19937 {
	m := &mt19937{pos: 624}
	m.mt[0] = seed
	for i := 1; i < 624; i++ {
		m.mt[i] = 1812433253*(m.mt[i-1]^(m.mt[i-1]>>30)) + uint32(i)
	}
	return m
}

func (m *mt19937) uint32() uint32 {
	if m.pos >= 624 {
		const upper, lower = 0x80000000, 0x7fffffff
		for i := 0; i < 624; i++ {
			y := m.mt[i]&upper | m.mt[(i+1)%624]&lower
			v := m.mt[(i+397)%624] ^ y>>1
			if y&1 != 0 {
				v ^= 0x9908b0df
			}
			m.mt[i] = v
		}
		m.pos = 0
	}
	y := m.mt[m.pos]
	m.pos++
	y ^= y >> 11
	y ^= y << 7 & 0x9d2c5680
	y ^= y << 15 & 0xefc60000
	y ^= y >> 18
	return y
}

// float64 returns a uniform value in [0, 1) with 53 random bits, like
// numpy's random_sample.
func (m *mt19937) float64() float64 {
	a, b := m.uint32()>>5, m.uint32()>>6
	return (float64(a)*67108864 + float64(b)) / 9007199254740992
}
