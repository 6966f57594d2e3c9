package ops

import (
	"math"

	"github.com/onyxrt/onyx/ops/asm"
	"github.com/onyxrt/onyx/tensor"
)

// Unary elementwise math: Neg, Abs, Reciprocal, Floor, Ceil, Round, Sqrt,
// Exp, Log, the trigonometric and hyperbolic functions, Sign, Erf, IsNaN,
// IsInf and BitwiseNot.

func registerUnary(r *Registry) {
	regVersions(r, "Neg", unaryBuilder(numericUnary(uNeg)), 1, 6, 13)
	regVersions(r, "Abs", unaryBuilder(numericUnary(uAbs)), 1, 6, 13)
	regVersions(r, "Sign", unaryBuilder(numericUnary(uSign)), 9, 13)
	regVersions(r, "Erf", unaryBuilder(numericUnary(uErf)), 9, 13)
	regVersions(r, "BitwiseNot", unaryBuilder(numericUnary(uBitNot)), 18)

	regVersions(r, "Reciprocal", floatBuilder(floatUnary{recip[float32], recip[float64], grainCheap}), 1, 6, 13)
	regVersions(r, "Sqrt", floatBuilder(floatUnary{sqrtLoop[float32], sqrtLoop[float64], grainCheap}), 1, 6, 13)
	regVersions(r, "Exp", floatBuilder(floatUnary{expSlice32, mathLoop[float64](math.Exp), grainHeavy}), 1, 6, 13)
	regVersions(r, "Floor", floatBuilder(floatMath(math.Floor, grainCheap)), 1, 6, 13)
	regVersions(r, "Ceil", floatBuilder(floatMath(math.Ceil, grainCheap)), 1, 6, 13)
	regVersions(r, "Round", floatBuilder(floatMath(math.RoundToEven, grainCheap)), 11)
	regVersions(r, "Log", floatBuilder(floatMath(math.Log, grainHeavy)), 1, 6, 13)
	for _, f := range []struct {
		name  string
		since int
		fn    func(float64) float64
	}{
		{"Sin", 7, math.Sin}, {"Cos", 7, math.Cos}, {"Tan", 7, math.Tan},
		{"Asin", 7, math.Asin}, {"Acos", 7, math.Acos}, {"Atan", 7, math.Atan},
		{"Sinh", 9, math.Sinh}, {"Cosh", 9, math.Cosh}, {"Asinh", 9, math.Asinh},
		{"Acosh", 9, math.Acosh}, {"Atanh", 9, math.Atanh},
	} {
		regVersions(r, f.name, floatBuilder(floatMath(f.fn, grainHeavy)), f.since)
	}

	regVersions(r, "IsNaN", unaryBuilder(isNaNTensor), 9, 13, 20)
	regVersions(r, "IsInf", buildIsInf, 10, 20)
}

// unaryFn computes a one-input operator.
type unaryFn func(rc *RunContext, x *tensor.Tensor) (*tensor.Tensor, error)

// unaryBuilder builds an attribute-less one-input operator.
func unaryBuilder(fn unaryFn) func(b *Builder) (Kernel, error) {
	return func(b *Builder) (Kernel, error) { return unaryKernel(fn), nil }
}

func unaryKernel(fn unaryFn) Kernel {
	return KernelFunc(func(rc *RunContext, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
		if err := Need(in, 1); err != nil {
			return nil, err
		}
		return rc.one(fn(rc, in[0]))
	})
}

// mapUnary allocates an output of x's shape with element type D and fills
// it with f over chunks of x's data (in parallel when large).
func mapUnary[S, D tensor.Elem](rc *RunContext, x *tensor.Tensor, f func(d []D, s []S), grain int) (*tensor.Tensor, error) {
	s, err := dataAs[S](x)
	if err != nil {
		return nil, err
	}
	out, d, err := newOutputUninit[D](rc, x.Shape())
	if err != nil {
		return nil, err
	}
	if ewSerial(rc, len(d), grain) {
		f(d, s)
	} else {
		ewParallel(rc, len(d), grain, func(lo, hi int) { f(d[lo:hi], s[lo:hi]) })
	}
	return out, nil
}

// floatUnary is a float-only unary operator: a loop per float type
// (float16 and bfloat16 run the float32 loop). Loops write len(d) results
// from s (len(s) >= len(d)).
type floatUnary struct {
	f32   func(d, s []float32)
	f64   func(d, s []float64)
	grain int
}

func (u floatUnary) run(rc *RunContext, x *tensor.Tensor) (*tensor.Tensor, error) {
	x, dt, err := Upcast(x)
	if err != nil {
		return nil, err
	}
	var out *tensor.Tensor
	switch x.DType() {
	case tensor.Float32:
		out, err = mapUnary(rc, x, u.f32, u.grain)
	case tensor.Float64:
		out, err = mapUnary(rc, x, u.f64, u.grain)
	default:
		return nil, ErrDType("input", dt)
	}
	if err != nil {
		return nil, err
	}
	return Downcast(out, dt)
}

// floatBuilder builds an attribute-less float unary operator.
func floatBuilder(u floatUnary) func(b *Builder) (Kernel, error) {
	return unaryBuilder(u.run)
}

// floatMath lifts a float64 function to a floatUnary (one call per element).
func floatMath(f func(float64) float64, grain int) floatUnary {
	return floatUnary{mathLoop[float32](f), mathLoop[float64](f), grain}
}

func mathLoop[T Float](f func(float64) float64) func(d, s []T) {
	return func(d, s []T) {
		s = s[:len(d)]
		for i, x := range s {
			d[i] = T(f(float64(x)))
		}
	}
}

func recip[T Float](d, s []T) {
	s = s[:len(d)]
	for i, x := range s {
		d[i] = 1 / x
	}
}

func sqrtLoop[T Float](d, s []T) {
	s = s[:len(d)]
	for i, x := range s {
		d[i] = T(math.Sqrt(float64(x)))
	}
}

// unaryKind names the unary operators that accept integers as well.
type unaryKind uint8

const (
	uNeg unaryKind = iota
	uAbs
	uSign
	uErf
	uBitNot
	uRelu
)

var unaryKindNames = [...]string{"Neg", "Abs", "Sign", "Erf", "BitwiseNot", "Relu"}

// numericUnary returns the kernel function of an operator that accepts
// every numeric type (BitwiseNot: integers only).
func numericUnary(k unaryKind) unaryFn {
	// The loops are picked here, once: a generic function value made at
	// run time is a closure allocated on the heap.
	var (
		f32, f64          = numUnaryLoop[float32](k), numUnaryLoop[float64](k)
		i8, i16, i32, i64 = numUnaryLoop[int8](k), numUnaryLoop[int16](k), numUnaryLoop[int32](k), numUnaryLoop[int64](k)
		u8, u16, u32, u64 = numUnaryLoop[uint8](k), numUnaryLoop[uint16](k), numUnaryLoop[uint32](k), numUnaryLoop[uint64](k)
	)
	return func(rc *RunContext, x *tensor.Tensor) (*tensor.Tensor, error) {
		if k == uBitNot {
			return bitNotTensor(rc, x)
		}
		x, dt, err := Upcast(x)
		if err != nil {
			return nil, err
		}
		var out *tensor.Tensor
		switch x.DType() {
		case tensor.Float32:
			out, err = mapUnary(rc, x, f32, grainCheap)
		case tensor.Float64:
			out, err = mapUnary(rc, x, f64, grainCheap)
		case tensor.Int8:
			out, err = mapUnary(rc, x, i8, grainCheap)
		case tensor.Int16:
			out, err = mapUnary(rc, x, i16, grainCheap)
		case tensor.Int32:
			out, err = mapUnary(rc, x, i32, grainCheap)
		case tensor.Int64:
			out, err = mapUnary(rc, x, i64, grainCheap)
		case tensor.Uint8:
			out, err = mapUnary(rc, x, u8, grainCheap)
		case tensor.Uint16:
			out, err = mapUnary(rc, x, u16, grainCheap)
		case tensor.Uint32:
			out, err = mapUnary(rc, x, u32, grainCheap)
		case tensor.Uint64:
			out, err = mapUnary(rc, x, u64, grainCheap)
		default:
			return nil, ErrDType(unaryKindNames[k], dt)
		}
		if err != nil {
			return nil, err
		}
		return Downcast(out, dt)
	}
}

func numUnaryLoop[T Number](k unaryKind) func(d, s []T) {
	switch k {
	case uNeg:
		return negLoop[T]
	case uAbs:
		return absLoop[T]
	case uSign:
		return signLoop[T]
	case uErf:
		return erfLoop[T]
	case uRelu:
		return reluLoop[T]
	}
	return nil
}

func negLoop[T Number](d, s []T) {
	s = s[:len(d)]
	for i, x := range s {
		d[i] = -x
	}
}

func absLoop[T Number](d, s []T) {
	s = s[:len(d)]
	var zero T
	if zero-1 > 0 { // unsigned
		copy(d, s)
		return
	}
	for i, x := range s {
		d[i] = max(x, -x) // branch-free; |-0| = +0, NaN stays NaN
	}
}

func signLoop[T Number](d, s []T) {
	s = s[:len(d)]
	var one T = 1
	for i, x := range s {
		switch {
		case x > 0:
			d[i] = one
		case x < 0:
			d[i] = 0 - one
		default:
			d[i] = x // 0 or NaN
		}
	}
}

func erfLoop[T Number](d, s []T) {
	s = s[:len(d)]
	for i, x := range s {
		d[i] = T(math.Erf(float64(x)))
	}
}

func reluLoop[T Number](d, s []T) {
	s = s[:len(d)]
	for i, x := range s {
		d[i] = max(x, 0) // branch-free; NaN stays NaN
	}
}

func bitNotTensor(rc *RunContext, x *tensor.Tensor) (*tensor.Tensor, error) {
	switch x.DType() {
	case tensor.Int8:
		return mapUnary(rc, x, bitNotLoop[int8], grainCheap)
	case tensor.Int16:
		return mapUnary(rc, x, bitNotLoop[int16], grainCheap)
	case tensor.Int32:
		return mapUnary(rc, x, bitNotLoop[int32], grainCheap)
	case tensor.Int64:
		return mapUnary(rc, x, bitNotLoop[int64], grainCheap)
	case tensor.Uint8:
		return mapUnary(rc, x, bitNotLoop[uint8], grainCheap)
	case tensor.Uint16:
		return mapUnary(rc, x, bitNotLoop[uint16], grainCheap)
	case tensor.Uint32:
		return mapUnary(rc, x, bitNotLoop[uint32], grainCheap)
	case tensor.Uint64:
		return mapUnary(rc, x, bitNotLoop[uint64], grainCheap)
	}
	return nil, ErrDType("BitwiseNot", x.DType())
}

func bitNotLoop[T intElem](d, s []T) {
	s = s[:len(d)]
	for i, x := range s {
		d[i] = ^x
	}
}

// ---- IsNaN, IsInf ----

func isNaNTensor(rc *RunContext, x *tensor.Tensor) (*tensor.Tensor, error) {
	x, dt, err := Upcast(x)
	if err != nil {
		return nil, err
	}
	switch x.DType() {
	case tensor.Float32:
		return mapUnary(rc, x, isNaNLoop[float32], grainCheap)
	case tensor.Float64:
		return mapUnary(rc, x, isNaNLoop[float64], grainCheap)
	}
	return nil, ErrDType("IsNaN", dt)
}

func isNaNLoop[T Float](d []bool, s []T) {
	s = s[:len(d)]
	for i, x := range s {
		d[i] = x != x
	}
}

func buildIsInf(b *Builder) (Kernel, error) {
	neg := b.Int("detect_negative", 1) != 0
	pos := b.Int("detect_positive", 1) != 0
	if err := b.Err(); err != nil {
		return nil, err
	}
	f32, f64 := isInfLoop[float32](neg, pos), isInfLoop[float64](neg, pos)
	return unaryKernel(func(rc *RunContext, x *tensor.Tensor) (*tensor.Tensor, error) {
		x, dt, err := Upcast(x)
		if err != nil {
			return nil, err
		}
		switch x.DType() {
		case tensor.Float32:
			return mapUnary(rc, x, f32, grainCheap)
		case tensor.Float64:
			return mapUnary(rc, x, f64, grainCheap)
		}
		return nil, ErrDType("IsInf", dt)
	}), nil
}

func isInfLoop[T Float](neg, pos bool) func(d []bool, s []T) {
	return func(d []bool, s []T) {
		s = s[:len(d)]
		for i, x := range s {
			f := float64(x)
			d[i] = (pos && math.IsInf(f, 1)) || (neg && math.IsInf(f, -1))
		}
	}
}

// ---- fast float32 exponential ----

// expCore32 is e**x in float32 for -87 < x < 88 (Cephes expf: a degree-6
// polynomial on the reduced argument, within 1 ulp). It is small enough
// to be inlined into loops.
func expCore32(x float32) float32 {
	const magic = 12582912 // 1.5 * 2**23: adding it rounds to an integer
	t := x*1.44269504088896341 + magic
	n := t - magic
	r := x - n*0.693359375 - n*-2.12194440e-4
	p := ((((1.9875691500e-4*r+1.3981999507e-3)*r+8.3334519073e-3)*r+4.1665795894e-2)*r+1.6666665459e-1)*r + 5.0000001201e-1
	// t's low mantissa bits hold n + 0x400000; shifting them into the
	// exponent field (the rest overflows out) gives 2**n.
	return (p*r*r + r + 1) * math.Float32frombits((math.Float32bits(t)+127)<<23)
}

// expFast32 is e**x in float32: expCore32 where it applies, math.Exp for
// the extremes and NaN.
func expFast32(x float32) float32 {
	if x > -87 && x < 88 {
		return expCore32(x)
	}
	return float32(math.Exp(float64(x)))
}

// expSlice32 sets d[i] = e**s[i] (d may be s): asm.Exp, eight lanes at a
// time with AVX2 and its Go reference otherwise (purego,
// INFER_KERNELS=generic, other architectures), within 1-2 ulps over the
// whole float32 range, subnormal results included.
func expSlice32(d, s []float32) { asm.Exp(s[:len(d)], d) }

// sigmoidFast32 is 1/(1+e**-x) in float32.
func sigmoidFast32(x float32) float32 { return 1 / (1 + expFast32(-x)) }

// sigmoidSlice32 sets d[i] = sigmoid(s[i]).
func sigmoidSlice32(d, s []float32) {
	s = s[:len(d)]
	for i, x := range s {
		if x > -87 && x < 87 {
			d[i] = 1 / (1 + expCore32(-x))
		} else {
			d[i] = sigmoidFast32(x)
		}
	}
}

// tanhFast32 is tanh in float32: Cephes tanhf's odd polynomial below
// 0.625, 1 - 2/(e**2|x| + 1) above.
func tanhFast32(x float32) float32 {
	a := x
	if a < 0 {
		a = -a
	}
	var r float32
	switch {
	case a < 0.625:
		z := x * x
		return ((((-5.70498872745e-3*z+2.06390887954e-2)*z-5.37397155531e-2)*z+1.33314422036e-1)*z-3.33332819422e-1)*z*x + x
	case a < 9.1:
		r = 1 - 2/(expCore32(2*a)+1)
	case a >= 9.1:
		r = 1
	default: // NaN
		return x
	}
	if x < 0 {
		return -r
	}
	return r
}

// tanhSlice32 sets d[i] = tanh(s[i]).
func tanhSlice32(d, s []float32) {
	s = s[:len(d)]
	for i, x := range s {
		a := x
		if a < 0 {
			a = -a
		}
		if a < 0.625 {
			z := x * x
			d[i] = ((((-5.70498872745e-3*z+2.06390887954e-2)*z-5.37397155531e-2)*z+1.33314422036e-1)*z-3.33332819422e-1)*z*x + x
			continue
		}
		if a < 9.1 {
			r := 1 - 2/(expCore32(2*a)+1)
			if x < 0 {
				r = -r
			}
			d[i] = r
			continue
		}
		d[i] = tanhFast32(x)
	}
}
