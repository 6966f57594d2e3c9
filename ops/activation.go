package ops

import (
	"fmt"
	"math"

	"github.com/onyxrt/onyx/tensor"
)

// Activations and Clip: Relu, LeakyRelu, PRelu, Elu, Selu, Sigmoid,
// HardSigmoid, HardSwish, Tanh, Softplus, Softsign, ThresholdedRelu, Celu,
// Shrink, Mish, Gelu and Clip.

func registerActivation(r *Registry) {
	regVersions(r, "Relu", unaryBuilder(numericUnary(uRelu)), 1, 6, 13, 14)
	regVersions(r, "Sigmoid", floatBuilder(floatUnary{sigmoidSlice32, mathLoop[float64](sigmoid64), grainHeavy}), 1, 6, 13)
	regVersions(r, "Tanh", floatBuilder(floatUnary{tanhSlice32, mathLoop[float64](math.Tanh), grainHeavy}), 1, 6, 13)
	regVersions(r, "Softplus", floatBuilder(floatMath(softplus64, grainHeavy)), 1)
	regVersions(r, "Softsign", floatBuilder(floatUnary{softsignLoop[float32], softsignLoop[float64], grainCheap}), 1)
	regVersions(r, "HardSwish", floatBuilder(floatUnary{hardSigmoidLoop[float32](1.0/6, 0.5, true), hardSigmoidLoop[float64](1.0/6, 0.5, true), grainCheap}), 14)
	regVersions(r, "Mish", floatBuilder(floatMath(mish64, grainHeavy)), 18)

	regVersions(r, "LeakyRelu", floatAttrBuilder(func(b *Builder) floatUnary {
		alpha := b.Float("alpha", 0.01)
		return floatUnary{leakyLoop[float32](alpha), leakyLoop[float64](alpha), grainCheap}
	}), 1, 6, 16)
	regVersions(r, "ThresholdedRelu", floatAttrBuilder(func(b *Builder) floatUnary {
		alpha := b.Float("alpha", 1)
		return floatUnary{thresholdedLoop[float32](alpha), thresholdedLoop[float64](alpha), grainCheap}
	}), 10)
	regVersions(r, "HardSigmoid", floatAttrBuilder(func(b *Builder) floatUnary {
		alpha, beta := b.Float("alpha", 0.2), b.Float("beta", 0.5)
		return floatUnary{hardSigmoidLoop[float32](alpha, beta, false), hardSigmoidLoop[float64](alpha, beta, false), grainCheap}
	}), 1, 6)
	regVersions(r, "Elu", floatAttrBuilder(func(b *Builder) floatUnary {
		alpha := float64(b.Float("alpha", 1))
		return floatMath(func(x float64) float64 {
			if x < 0 {
				return alpha * math.Expm1(x)
			}
			return x
		}, grainHeavy)
	}), 1, 6)
	regVersions(r, "Selu", floatAttrBuilder(func(b *Builder) floatUnary {
		defAlpha, defGamma := float32(1.67326319217681884765625), float32(1.05070102214813232421875)
		if b.Opset < 6 { // Selu-1 had rounder defaults
			defAlpha, defGamma = 1.6732, 1.0507
		}
		alpha, gamma := float64(b.Float("alpha", defAlpha)), float64(b.Float("gamma", defGamma))
		return floatMath(func(x float64) float64 {
			if x <= 0 {
				return gamma * alpha * math.Expm1(x)
			}
			return gamma * x
		}, grainHeavy)
	}), 1, 6)
	regVersions(r, "Celu", floatAttrBuilder(func(b *Builder) floatUnary {
		alpha := float64(b.Float("alpha", 1))
		if alpha == 0 {
			b.Fail("Celu alpha must not be 0")
		}
		return floatMath(func(x float64) float64 {
			if x > 0 {
				return x
			}
			return alpha * math.Expm1(x/alpha)
		}, grainHeavy)
	}), 12)
	regVersions(r, "Gelu", floatAttrBuilder(func(b *Builder) floatUnary {
		switch approx := b.String("approximate", "none"); approx {
		case "none":
			return floatMath(geluErf64, grainHeavy)
		case "tanh":
			return floatUnary{geluTanh32, mathLoop[float64](geluTanh64), grainHeavy}
		default:
			b.Fail("Gelu approximate must be \"none\" or \"tanh\", got %q", approx)
		}
		return floatUnary{}
	}), 20)

	regVersions(r, "Shrink", buildShrink, 9)
	regVersions(r, "PRelu", buildPRelu, 1, 6, 7, 9, 16)
	regVersions(r, "Clip", buildClip, 1, 6, 11, 12, 13)
}

// floatAttrBuilder builds a float unary operator whose loops depend on
// attributes read by mk.
func floatAttrBuilder(mk func(b *Builder) floatUnary) func(b *Builder) (Kernel, error) {
	return func(b *Builder) (Kernel, error) {
		u := mk(b)
		if err := b.Err(); err != nil {
			return nil, err
		}
		return unaryKernel(u.run), nil
	}
}

func sigmoid64(x float64) float64 {
	if x >= 0 {
		return 1 / (1 + math.Exp(-x))
	}
	e := math.Exp(x)
	return e / (1 + e)
}

// softplus64 is log(1 + e**x) without overflow.
func softplus64(x float64) float64 {
	if x > 0 {
		return x + math.Log1p(math.Exp(-x))
	}
	return math.Log1p(math.Exp(x))
}

func mish64(x float64) float64 { return x * math.Tanh(softplus64(x)) }

func geluErf64(x float64) float64 { return 0.5 * x * (1 + math.Erf(x/math.Sqrt2)) }

const sqrt2OverPi = 0.7978845608028654 // sqrt(2/pi)

func geluTanh64(x float64) float64 {
	return 0.5 * x * (1 + math.Tanh(sqrt2OverPi*(x+0.044715*x*x*x)))
}

func geluTanh32(d, s []float32) {
	s = s[:len(d)]
	for i, x := range s {
		d[i] = 0.5 * x * (1 + tanhFast32(sqrt2OverPi*(x+0.044715*x*x*x)))
	}
}

func softsignLoop[T Float](d, s []T) {
	s = s[:len(d)]
	for i, x := range s {
		a := x
		if a < 0 {
			a = -a
		}
		d[i] = x / (1 + a)
	}
}

func leakyLoop[T Float](alpha float32) func(d, s []T) {
	a := T(alpha)
	return func(d, s []T) {
		s = s[:len(d)]
		for i, x := range s {
			d[i] = max(x, 0) + a*min(x, 0) // branch-free
		}
	}
}

func thresholdedLoop[T Float](alpha float32) func(d, s []T) {
	a := T(alpha)
	return func(d, s []T) {
		s = s[:len(d)]
		for i, x := range s {
			if !(x > a) {
				x = 0
			}
			d[i] = x
		}
	}
}

// hardSigmoidLoop is max(0, min(1, alpha*x+beta)), times x when swish.
func hardSigmoidLoop[T Float](alpha, beta float32, swish bool) func(d, s []T) {
	a, b := T(alpha), T(beta)
	return func(d, s []T) {
		s = s[:len(d)]
		for i, x := range s {
			v := min(max(a*x+b, 0), 1)
			if swish {
				v *= x
			}
			d[i] = v
		}
	}
}

// ---- Shrink ----

func buildShrink(b *Builder) (Kernel, error) {
	lambd := float64(b.Float("lambd", 0.5))
	bias := float64(b.Float("bias", 0))
	if err := b.Err(); err != nil {
		return nil, err
	}
	return unaryKernel(func(rc *RunContext, x *tensor.Tensor) (*tensor.Tensor, error) {
		x, dt, err := Upcast(x)
		if err != nil {
			return nil, err
		}
		var out *tensor.Tensor
		switch x.DType() {
		case tensor.Float32:
			out, err = mapUnary(rc, x, shrinkLoop[float32](lambd, bias), grainCheap)
		case tensor.Float64:
			out, err = mapUnary(rc, x, shrinkLoop[float64](lambd, bias), grainCheap)
		case tensor.Int8:
			out, err = mapUnary(rc, x, shrinkLoop[int8](lambd, bias), grainCheap)
		case tensor.Int16:
			out, err = mapUnary(rc, x, shrinkLoop[int16](lambd, bias), grainCheap)
		case tensor.Int32:
			out, err = mapUnary(rc, x, shrinkLoop[int32](lambd, bias), grainCheap)
		case tensor.Int64:
			out, err = mapUnary(rc, x, shrinkLoop[int64](lambd, bias), grainCheap)
		case tensor.Uint8:
			out, err = mapUnary(rc, x, shrinkLoop[uint8](lambd, bias), grainCheap)
		case tensor.Uint16:
			out, err = mapUnary(rc, x, shrinkLoop[uint16](lambd, bias), grainCheap)
		case tensor.Uint32:
			out, err = mapUnary(rc, x, shrinkLoop[uint32](lambd, bias), grainCheap)
		case tensor.Uint64:
			out, err = mapUnary(rc, x, shrinkLoop[uint64](lambd, bias), grainCheap)
		default:
			return nil, ErrDType("Shrink", dt)
		}
		if err != nil {
			return nil, err
		}
		return Downcast(out, dt)
	}), nil
}

// shrinkLoop is x+bias below -lambd, x-bias above lambd, 0 between
// (computed in float64, then converted back to T).
func shrinkLoop[T Number](lambd, bias float64) func(d, s []T) {
	return func(d, s []T) {
		s = s[:len(d)]
		for i, x := range s {
			f := float64(x)
			switch {
			case f < -lambd:
				d[i] = T(f + bias)
			case f > lambd:
				d[i] = T(f - bias)
			default:
				d[i] = 0
			}
		}
	}
}

// ---- PRelu ----

func buildPRelu(b *Builder) (Kernel, error) {
	legacy := b.Opset < 7
	return binaryKernelFunc(nil, func(rc *RunContext, x, slope *tensor.Tensor) (*tensor.Tensor, error) {
		return preluTensors(rc, x, slope, legacy)
	}), nil
}

// preluTensors is x<0 ? slope*x : x with slope broadcast to x's shape
// (unidirectionally). Below opset 7 (legacy), a 1-D slope of length C is
// taken per channel (dimension 1), as the converters of the time emitted.
func preluTensors(rc *RunContext, x, slope *tensor.Tensor, legacy bool) (*tensor.Tensor, error) {
	if s, ok := channelSlope(x, slope); ok && legacy {
		slope = s
	}
	var buf [8]int
	shape, err := broadcastShape2(buf[:0], x.Shape(), slope.Shape())
	if err != nil || !tensor.ShapeEqual(shape, x.Shape()) {
		return nil, fmt.Errorf("slope of shape %v does not broadcast to input shape %v", slope.Shape(), x.Shape())
	}
	return opPRelu.apply(rc, x, slope)
}

func channelSlope(x, slope *tensor.Tensor) (*tensor.Tensor, bool) {
	if slope.Rank() != 1 || x.Rank() < 2 || slope.Shape()[0] != x.Shape()[1] {
		return nil, false
	}
	shape := make([]int, x.Rank()-1)
	for i := range shape {
		shape[i] = 1
	}
	shape[0] = x.Shape()[1]
	s, err := slope.Reshape(shape...)
	return s, err == nil
}

// ---- Clip ----

func buildClip(b *Builder) (Kernel, error) {
	var lo, hi *tensor.Tensor // attribute bounds (opset < 11), as float32 scalars
	if b.Opset < 11 {
		if b.Has("min") || b.Opset >= 6 {
			lo = tensor.Scalar(b.Float("min", -math.MaxFloat32))
		}
		if b.Has("max") || b.Opset >= 6 {
			hi = tensor.Scalar(b.Float("max", math.MaxFloat32))
		}
	}
	if err := b.Err(); err != nil {
		return nil, err
	}
	attrs := b.Opset < 11
	return KernelFunc(func(rc *RunContext, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
		if err := Need(in, 1); err != nil {
			return nil, err
		}
		x := in[0]
		l, h := lo, hi
		if attrs {
			var err error
			if l, err = castBound(l, x.DType()); err != nil {
				return nil, err
			}
			if h, err = castBound(h, x.DType()); err != nil {
				return nil, err
			}
		} else {
			l, h = Opt(in, 1), Opt(in, 2)
		}
		return rc.one(clipTensor(rc, x, l, h))
	}), nil
}

func castBound(t *tensor.Tensor, dt tensor.DType) (*tensor.Tensor, error) {
	if t == nil || t.DType() == dt {
		return t, nil
	}
	return t.Cast(dt)
}

// clipTensor clamps x to [lo, hi]; a nil bound is absent. Bounds must be
// single-element tensors of x's type. When lo > hi every element becomes
// hi (numpy.clip); NaN stays NaN.
func clipTensor(rc *RunContext, x, lo, hi *tensor.Tensor) (*tensor.Tensor, error) {
	for _, t := range [2]*tensor.Tensor{lo, hi} {
		if t == nil {
			continue
		}
		if t.Len() != 1 {
			return nil, fmt.Errorf("Clip bounds must be scalars, got shape %v", t.Shape())
		}
		if t.DType() != x.DType() {
			return nil, fmt.Errorf("Clip bound type %v differs from input type %v", t.DType(), x.DType())
		}
	}
	x, dt, err := Upcast(x)
	if err != nil {
		return nil, err
	}
	if lo, _, err = Upcast(lo); err != nil {
		return nil, err
	}
	if hi, _, err = Upcast(hi); err != nil {
		return nil, err
	}
	var out *tensor.Tensor
	switch x.DType() {
	case tensor.Float32:
		out, err = clipT[float32](rc, x, lo, hi)
	case tensor.Float64:
		out, err = clipT[float64](rc, x, lo, hi)
	case tensor.Int8:
		out, err = clipT[int8](rc, x, lo, hi)
	case tensor.Int16:
		out, err = clipT[int16](rc, x, lo, hi)
	case tensor.Int32:
		out, err = clipT[int32](rc, x, lo, hi)
	case tensor.Int64:
		out, err = clipT[int64](rc, x, lo, hi)
	case tensor.Uint8:
		out, err = clipT[uint8](rc, x, lo, hi)
	case tensor.Uint16:
		out, err = clipT[uint16](rc, x, lo, hi)
	case tensor.Uint32:
		out, err = clipT[uint32](rc, x, lo, hi)
	case tensor.Uint64:
		out, err = clipT[uint64](rc, x, lo, hi)
	default:
		return nil, ErrDType("Clip", dt)
	}
	if err != nil {
		return nil, err
	}
	return Downcast(out, dt)
}

func clipT[T Number](rc *RunContext, x, lo, hi *tensor.Tensor) (*tensor.Tensor, error) {
	l, h := numLimits[T]()
	if lo != nil {
		l = tensor.Data[T](lo)[0]
	}
	if hi != nil {
		h = tensor.Data[T](hi)[0]
	}
	s, err := dataAs[T](x)
	if err != nil {
		return nil, err
	}
	out, d, err := newOutputUninit[T](rc, x.Shape())
	if err != nil {
		return nil, err
	}
	if ewSerial(rc, len(d), grainCheap) {
		clipLoop(d, s, l, h)
	} else {
		ewParallel(rc, len(d), grainCheap, func(lo, hi int) { clipLoop(d[lo:hi], s[lo:hi], l, h) })
	}
	return out, nil
}

func clipLoop[T Number](d, s []T, l, h T) {
	s = s[:len(d)]
	for i, v := range s {
		d[i] = min(max(v, l), h) // branch-free; NaN stays NaN
	}
}

// numLimits returns the lowest and highest values of T (±Inf for floats).
func numLimits[T Number]() (lo, hi T) {
	var z T
	switch any(z).(type) {
	case float32, float64:
		inf := math.Inf(1)
		return T(-inf), T(inf)
	case int8:
		return intLimits[T](math.MinInt8, math.MaxInt8)
	case int16:
		return intLimits[T](math.MinInt16, math.MaxInt16)
	case int32:
		return intLimits[T](math.MinInt32, math.MaxInt32)
	case int64:
		return intLimits[T](math.MinInt64, math.MaxInt64)
	case uint8:
		return intLimits[T](0, math.MaxUint8)
	case uint16:
		return intLimits[T](0, math.MaxUint16)
	case uint32:
		return intLimits[T](0, math.MaxUint32)
	case uint64:
		var m uint64 = math.MaxUint64
		return 0, T(m)
	}
	return lo, hi
}

func intLimits[T Number](lo, hi int64) (T, T) { return T(lo), T(hi) }
