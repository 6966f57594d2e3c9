package ops

import (
	"fmt"
	"math"
	"math/rand/v2"

	"github.com/onyxrt/onyx/tensor"
)

// Random generators: RandomNormal, RandomUniform, RandomNormalLike,
// RandomUniformLike, Multinomial and Bernoulli.
//
// A node with a `seed` attribute draws from a PCG generator seeded with
// it, created afresh in every call, so each run of the node gives the same
// values (ONNX leaves successive runs unspecified). A node without a seed
// draws from a generator seeded from math/rand/v2's runtime source, again
// created inside the call: kernels hold no mutable state. No runtime
// reproduces another's streams (the backend suite's expected values come
// from numpy's global RNG), so only distributions, shapes and types are
// portable.

func registerRandom(r *Registry) {
	r.Register(
		&Def{Name: "RandomNormal", Since: 1, Build: randomBuilder(false, false)},
		&Def{Name: "RandomUniform", Since: 1, Build: randomBuilder(true, false)},
		&Def{Name: "RandomNormalLike", Since: 1, Build: randomBuilder(false, true)},
		&Def{Name: "RandomUniformLike", Since: 1, Build: randomBuilder(true, true)},
		&Def{Name: "Multinomial", Since: 7, Build: buildMultinomial},
		&Def{Name: "Bernoulli", Since: 15, Build: buildBernoulli},
	)
}

// rngSeed is a node's seed attribute, if it has one.
type rngSeed struct {
	set  bool
	bits uint64
}

// pcgStream is the fixed second word of PCG's state for seeded nodes.
const pcgStream = 0x9e3779b97f4a7c15

func readSeed(b *Builder) rngSeed {
	if !b.Has("seed") {
		return rngSeed{}
	}
	return rngSeed{set: true, bits: math.Float64bits(float64(b.Float("seed", 0)))}
}

// source returns a new generator for one call: from the node's seed
// attribute, else from the run's seed (RunContext.Seed), else from fresh
// entropy.
func (s rngSeed) source(rc *RunContext) *rand.Rand {
	if s.set {
		return rand.New(rand.NewPCG(s.bits, pcgStream))
	}
	if rc != nil && rc.Seeded {
		return rand.New(rand.NewPCG(rc.Seed, pcgStream))
	}
	return rand.New(rand.NewPCG(rand.Uint64(), rand.Uint64()))
}

// randomFloatType reports whether dt is an output type of the generators.
func randomFloatType(dt tensor.DType) bool {
	return dt == tensor.Float32 || dt == tensor.Float64 || dt == tensor.Float16 || dt == tensor.BFloat16
}

// randomBuilder builds RandomNormal/RandomUniform (shape from the `shape`
// attribute, dtype default float) and their *Like forms (shape of the
// input, dtype default the input's). Normal draws are mean + scale*N(0,1);
// uniform draws are in [low, high).
func randomBuilder(uniform, like bool) func(*Builder) (Kernel, error) {
	return func(b *Builder) (Kernel, error) {
		seed := readSeed(b)
		var p1, p2 float64 // mean, scale or low, high
		if uniform {
			p1, p2 = float64(b.Float("low", 0)), float64(b.Float("high", 1))
		} else {
			p1, p2 = float64(b.Float("mean", 0)), float64(b.Float("scale", 1))
		}
		dt := tensor.Undefined
		if b.Has("dtype") || !like {
			dt = tensor.DType(b.Int("dtype", int64(tensor.Float32)))
			if !randomFloatType(dt) {
				b.Fail("dtype %v is not a float type", dt)
			}
		}
		var shape []int
		if !like {
			for _, d := range b.RequireInts("shape") {
				if d < 0 || d > math.MaxInt32 {
					b.Fail("shape %v has a negative or huge dimension", b.Ints("shape", nil))
					break
				}
				shape = append(shape, int(d))
			}
		}
		if err := b.Err(); err != nil {
			return nil, err
		}
		if uniform && !(p2 >= p1) {
			return nil, fmt.Errorf("high (%g) is below low (%g)", p2, p1)
		}
		return KernelFunc(func(rc *RunContext, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
			outType, outShape := dt, shape
			if like {
				x, err := tensorArg(in, 0, "input")
				if err != nil {
					return nil, err
				}
				outShape = x.Shape()
				if outType == tensor.Undefined {
					outType = x.DType()
					if !randomFloatType(outType) {
						return nil, fmt.Errorf("input type %v is not a float type and the node sets no dtype", outType)
					}
				}
			}
			vt, v, err := newOutput[float64](outShape)
			if err != nil {
				return nil, err
			}
			rng := seed.source(rc)
			for i := range v {
				if uniform {
					v[i] = p1 + (p2-p1)*rng.Float64()
				} else {
					v[i] = p1 + p2*rng.NormFloat64()
				}
			}
			y, err := sigOutput(outType, vt)
			if err != nil {
				return nil, err
			}
			if uniform {
				clampBelow(y, p1, p2)
			}
			return rc.Results(y), nil
		}), nil
	}
}

// clampBelow moves values that rounding to a narrow float type carried up
// to high back just below it, so that uniform draws stay in [low, high).
func clampBelow(t *tensor.Tensor, low, high float64) {
	if !(high > low) {
		return
	}
	switch s := t.Data().(type) {
	case []float32:
		h := float32(high)
		for i, v := range s {
			if v >= h {
				s[i] = math.Nextafter32(h, float32(low))
			}
		}
	case []tensor.Half:
		h := tensor.HalfFrom(float32(high))
		for i, v := range s {
			if v.Float32() >= h.Float32() {
				s[i] = halfBelow(h)
			}
		}
	case []tensor.BF16:
		h := tensor.BF16From(float32(high))
		for i, v := range s {
			if v.Float32() >= h.Float32() {
				s[i] = halfBelow(h)
			}
		}
	}
}

// halfBelow returns the largest 16-bit float (binary16 or bfloat16, given
// as its bits) below h, for finite h.
func halfBelow[H ~uint16](h H) H {
	switch {
	case h&0x7fff == 0: // ±0: the smallest negative subnormal
		return 0x8001
	case h&0x8000 == 0: // positive: one step down in magnitude
		return h - 1
	}
	return h + 1 // negative: one step up in magnitude
}

// buildMultinomial draws sample_size class indices per row of a
// [batch, classes] tensor of unnormalized log-probabilities. Classes with
// -Inf weight are never drawn; a row with no finite weight is an error.
func buildMultinomial(b *Builder) (Kernel, error) {
	seed := readSeed(b)
	dt := tensor.DType(b.Int("dtype", int64(tensor.Int32)))
	samples := b.Int("sample_size", 1)
	if err := b.Err(); err != nil {
		return nil, err
	}
	if dt != tensor.Int32 && dt != tensor.Int64 {
		return nil, fmt.Errorf("dtype %v must be int32 or int64", dt)
	}
	if samples < 1 || samples > math.MaxInt32 {
		return nil, fmt.Errorf("sample_size must be positive, is %d", samples)
	}
	return KernelFunc(func(rc *RunContext, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
		x, err := tensorArg(in, 0, "input")
		if err != nil {
			return nil, err
		}
		if !randomFloatType(x.DType()) {
			return nil, ErrDType("Multinomial", x.DType())
		}
		if x.Rank() != 2 {
			return nil, fmt.Errorf("input must be [batch_size, class_size], has shape %v", x.Shape())
		}
		batch, classes := x.Shape()[0], x.Shape()[1]
		s := int(samples)
		outShape := []int{batch, s}
		yt, idx, err := newOutput[int64](outShape)
		if err != nil {
			return nil, err
		}
		logits := x.Float64s()
		cdf := make([]float64, classes)
		rng := seed.source(rc)
		for r := 0; r < batch; r++ {
			row := logits[r*classes : (r+1)*classes]
			mx := math.Inf(-1)
			for _, v := range row {
				if math.IsNaN(v) || math.IsInf(v, 1) {
					return nil, fmt.Errorf("row %d holds %v, not a log-probability", r, v)
				}
				mx = max(mx, v)
			}
			if math.IsInf(mx, -1) {
				return nil, fmt.Errorf("row %d has no class with non-zero probability", r)
			}
			acc := 0.0
			for j, v := range row {
				acc += math.Exp(v - mx)
				cdf[j] = acc
			}
			for k := 0; k < s; k++ {
				u := rng.Float64() * acc
				lo, hi := 0, classes-1 // the first class whose cdf exceeds u
				for lo < hi {
					mid := (lo + hi) / 2
					if cdf[mid] > u {
						hi = mid
					} else {
						lo = mid + 1
					}
				}
				idx[r*s+k] = int64(lo)
			}
		}
		y := yt
		if dt == tensor.Int32 {
			if y, err = yt.Cast(tensor.Int32); err != nil {
				return nil, err
			}
		}
		return rc.Results(y), nil
	}), nil
}

// buildBernoulli draws 1 with probability p and 0 otherwise for each
// element p of the input (p <= 0 or NaN never gives 1, p >= 1 always
// does). The output type is the dtype attribute (any numeric type or
// bool), by default the input's.
func buildBernoulli(b *Builder) (Kernel, error) {
	seed := readSeed(b)
	dt := tensor.Undefined
	if b.Has("dtype") {
		dt = tensor.DType(b.Int("dtype", 0))
		if !dt.IsNumeric() && dt != tensor.Bool {
			b.Fail("dtype %v is not a numeric or bool type", dt)
		}
	}
	if err := b.Err(); err != nil {
		return nil, err
	}
	return KernelFunc(func(rc *RunContext, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
		x, err := tensorArg(in, 0, "input")
		if err != nil {
			return nil, err
		}
		if !randomFloatType(x.DType()) {
			return nil, ErrDType("Bernoulli", x.DType())
		}
		outType := dt
		if outType == tensor.Undefined {
			outType = x.DType()
		}
		p := x.Float64s()
		rng := seed.source(rc)
		vt, v, err := newOutput[float64](x.Shape())
		if err != nil {
			return nil, err
		}
		for i, pi := range p {
			if rng.Float64() < pi {
				v[i] = 1
			}
		}
		y, err := sigOutput(outType, vt)
		if err != nil {
			return nil, err
		}
		return rc.Results(y), nil
	}), nil
}
