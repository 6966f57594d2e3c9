package ops

import (
	"fmt"
	"math"

	"github.com/onyxrt/onyx/tensor"
)

// The elementwise family: arithmetic (this file), unary math (unary.go),
// comparison and logic (logic.go), activations and Clip (activation.go),
// Softmax/LogSoftmax/Hardmax (softmax.go), Cast/CastLike (cast.go), all
// built on the broadcasting helpers of broadcast.go.

func registerElementwise(r *Registry) {
	// Arithmetic with broadcasting (opset < 7: legacy broadcast/axis attributes).
	regVersions(r, "Add", binaryBuilder(opAdd.apply), 1, 6, 7, 13, 14)
	regVersions(r, "Sub", binaryBuilder(opSub.apply), 1, 6, 7, 13, 14)
	regVersions(r, "Mul", binaryBuilder(opMul.apply), 1, 6, 7, 13, 14)
	regVersions(r, "Div", binaryBuilder(opDiv.apply), 1, 6, 7, 13, 14)
	regVersions(r, "Pow", binaryBuilder(powTensors), 1, 7, 12, 13, 15)
	regVersions(r, "Mod", buildMod, 10, 13)
	regVersions(r, "BitShift", buildBitShift, 11)
	regVersions(r, "BitwiseAnd", binaryBuilder(bitAnd.apply), 18)
	regVersions(r, "BitwiseOr", binaryBuilder(bitOr.apply), 18)
	regVersions(r, "BitwiseXor", binaryBuilder(bitXor.apply), 18)
	regVersions(r, "Sum", variadicBuilder(opAdd, false), 1, 6, 8, 13)
	regVersions(r, "Mean", variadicBuilder(opAdd, true), 1, 6, 8, 13)
	regVersions(r, "Max", variadicBuilder(opMax, false), 1, 6, 8, 12, 13)
	regVersions(r, "Min", variadicBuilder(opMin, false), 1, 6, 8, 12, 13)

	registerUnary(r)      // unary.go
	registerLogic(r)      // logic.go
	registerActivation(r) // activation.go
	registerSoftmax(r)    // softmax.go
	registerCast(r)       // cast.go
}

// regVersions registers one Def per listed ONNX version of an operator,
// all sharing build (which reads b.Opset where behaviour differs).
func regVersions(r *Registry, name string, build func(*Builder) (Kernel, error), since ...int) {
	for _, s := range since {
		r.Register(&Def{Name: name, Since: s, Build: build})
	}
}

// one wraps a single result (or error) as a kernel's output list in a
// fresh slice; kernels with a RunContext use rc.one, which allocates
// nothing.
func one(t *tensor.Tensor, err error) ([]*tensor.Tensor, error) {
	if err != nil {
		return nil, err
	}
	return []*tensor.Tensor{t}, nil
}

// binaryFn computes a broadcasting binary operator.
type binaryFn func(rc *RunContext, a, b *tensor.Tensor) (*tensor.Tensor, error)

// binaryBuilder builds a two-input operator. Below opset 7 it honours the
// legacy broadcast/axis attributes.
func binaryBuilder(fn binaryFn) func(b *Builder) (Kernel, error) {
	return func(b *Builder) (Kernel, error) {
		lb := readLegacyBroadcast(b)
		if err := b.Err(); err != nil {
			return nil, err
		}
		return binaryKernelFunc(lb, fn), nil
	}
}

func binaryKernelFunc(lb *legacyBroadcast, fn binaryFn) Kernel {
	return KernelFunc(func(rc *RunContext, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
		if err := Need(in, 2); err != nil {
			return nil, err
		}
		a, b, err := lb.prepare(in[0], in[1])
		if err != nil {
			return nil, err
		}
		return rc.one(fn(rc, a, b))
	})
}

// legacyBroadcast holds the opset 1-6 `broadcast` and `axis` attributes of
// Add, Sub, Mul, Div, Pow, And, Or, Xor, Equal, Less and Greater. A nil
// *legacyBroadcast (opset 7 and later) means numpy-style broadcasting.
type legacyBroadcast struct {
	on      bool
	axis    int64
	hasAxis bool
}

func readLegacyBroadcast(b *Builder) *legacyBroadcast {
	if b.Opset >= 7 {
		return nil
	}
	return &legacyBroadcast{
		on:      b.Int("broadcast", 0) != 0,
		axis:    b.Int("axis", 0),
		hasAxis: b.Has("axis"),
	}
}

// prepare reshapes B for legacy unidirectional broadcasting: with
// broadcast=1, B's dimensions are aligned with A's starting at axis
// (default: trailing alignment) and must each equal A's or be 1. With
// broadcast=0 the spec wants equal shapes; Onyx leniently falls back to
// numpy broadcasting so that sloppy old exporters still load.
func (lb *legacyBroadcast) prepare(a, b *tensor.Tensor) (*tensor.Tensor, *tensor.Tensor, error) {
	if lb == nil || !lb.on || tensor.ShapeEqual(a.Shape(), b.Shape()) {
		return a, b, nil
	}
	ra, rb := a.Rank(), b.Rank()
	if rb > ra {
		return nil, nil, fmt.Errorf("broadcast: B of shape %v has higher rank than A of shape %v", b.Shape(), a.Shape())
	}
	axis := int64(ra - rb)
	if lb.hasAxis {
		axis = lb.axis
		if axis < 0 {
			axis += int64(ra)
		}
		if axis < 0 || axis > int64(ra-rb) {
			return nil, nil, fmt.Errorf("broadcast axis %d out of range for A %v and B %v", lb.axis, a.Shape(), b.Shape())
		}
	}
	shape := make([]int, ra)
	for i := range shape {
		shape[i] = 1
	}
	for i, d := range b.Shape() {
		ad := a.Shape()[int(axis)+i]
		if d != ad && d != 1 {
			return nil, nil, fmt.Errorf("broadcast: B %v does not fit A %v at axis %d", b.Shape(), a.Shape(), axis)
		}
		shape[int(axis)+i] = d
	}
	b2, err := b.Reshape(shape...)
	if err != nil {
		return nil, nil, err
	}
	return a, b2, nil
}

// sameType checks that two inputs have one element type.
func sameType(a, b *tensor.Tensor) error {
	if a.DType() != b.DType() {
		return fmt.Errorf("input element types differ: %v and %v", a.DType(), b.DType())
	}
	return nil
}

// upcast2 widens a half-precision pair to float32 (see Upcast).
func upcast2(a, b *tensor.Tensor) (*tensor.Tensor, *tensor.Tensor, tensor.DType, error) {
	a, dt, err := Upcast(a)
	if err != nil {
		return nil, nil, dt, err
	}
	b, _, err = Upcast(b)
	return a, b, dt, err
}

// numOp is a same-type numeric binary operation with tight slice loops.
type numOp uint8

const (
	opAdd numOp = iota
	opSub
	opMul
	opDiv   // integers truncate toward zero, like C
	opMax   // NaN-propagating (Go's max)
	opMin   // NaN-propagating (Go's min)
	opPRelu // max(x,0) + slope*min(x,0): branch-free
)

var numOpNames = [...]string{"Add", "Sub", "Mul", "Div", "Max", "Min", "PRelu"}

// apply computes a op b with broadcasting for every numeric type
// (float16/bfloat16 through float32).
func (op numOp) apply(rc *RunContext, a, b *tensor.Tensor) (*tensor.Tensor, error) {
	if err := sameType(a, b); err != nil {
		return nil, err
	}
	if op == opDiv && a.DType().IsInt() {
		if err := checkNoZero(b); err != nil {
			return nil, err
		}
	}
	a, b, dt, err := upcast2(a, b)
	if err != nil {
		return nil, err
	}
	var out *tensor.Tensor
	switch a.DType() {
	case tensor.Float32:
		out, err = broadcastBinary[float32, float32, float32](rc, a, b, numKernel[float32]{op}, grainCheap)
	case tensor.Float64:
		out, err = broadcastBinary[float64, float64, float64](rc, a, b, numKernel[float64]{op}, grainCheap)
	case tensor.Int8:
		out, err = broadcastBinary[int8, int8, int8](rc, a, b, numKernel[int8]{op}, grainCheap)
	case tensor.Int16:
		out, err = broadcastBinary[int16, int16, int16](rc, a, b, numKernel[int16]{op}, grainCheap)
	case tensor.Int32:
		out, err = broadcastBinary[int32, int32, int32](rc, a, b, numKernel[int32]{op}, grainCheap)
	case tensor.Int64:
		out, err = broadcastBinary[int64, int64, int64](rc, a, b, numKernel[int64]{op}, grainCheap)
	case tensor.Uint8:
		out, err = broadcastBinary[uint8, uint8, uint8](rc, a, b, numKernel[uint8]{op}, grainCheap)
	case tensor.Uint16:
		out, err = broadcastBinary[uint16, uint16, uint16](rc, a, b, numKernel[uint16]{op}, grainCheap)
	case tensor.Uint32:
		out, err = broadcastBinary[uint32, uint32, uint32](rc, a, b, numKernel[uint32]{op}, grainCheap)
	case tensor.Uint64:
		out, err = broadcastBinary[uint64, uint64, uint64](rc, a, b, numKernel[uint64]{op}, grainCheap)
	default:
		return nil, ErrDType(numOpNames[op], dt)
	}
	if err != nil {
		return nil, err
	}
	return Downcast(out, dt)
}

// checkNoZero fails when an integer divisor tensor holds a zero (Go would
// panic; C would be undefined).
func checkNoZero(t *tensor.Tensor) error {
	var zero bool
	switch s := t.Data().(type) {
	case []int8:
		zero = hasZero(s)
	case []int16:
		zero = hasZero(s)
	case []int32:
		zero = hasZero(s)
	case []int64:
		zero = hasZero(s)
	case []uint8:
		zero = hasZero(s)
	case []uint16:
		zero = hasZero(s)
	case []uint32:
		zero = hasZero(s)
	case []uint64:
		zero = hasZero(s)
	}
	if zero {
		return fmt.Errorf("integer division by zero")
	}
	return nil
}

func hasZero[T Number](s []T) bool {
	for _, v := range s {
		if v == 0 {
			return true
		}
	}
	return false
}

// numKernel implements binaryKernel for a numOp with one loop per op.
type numKernel[T Number] struct{ op numOp }

func (k numKernel[T]) vv(o, a, b []T) {
	a, b = a[:len(o)], b[:len(o)]
	switch k.op {
	case opAdd:
		for i := range o {
			o[i] = a[i] + b[i]
		}
	case opSub:
		for i := range o {
			o[i] = a[i] - b[i]
		}
	case opMul:
		for i := range o {
			o[i] = a[i] * b[i]
		}
	case opDiv:
		for i := range o {
			o[i] = a[i] / b[i]
		}
	case opMax:
		for i := range o {
			o[i] = max(a[i], b[i])
		}
	case opMin:
		for i := range o {
			o[i] = min(a[i], b[i])
		}
	case opPRelu:
		for i := range o {
			x := a[i]
			o[i] = max(x, 0) + b[i]*min(x, 0)
		}
	}
}

func (k numKernel[T]) vs(o, a []T, y T) {
	a = a[:len(o)]
	switch k.op {
	case opAdd:
		for i := range o {
			o[i] = a[i] + y
		}
	case opSub:
		for i := range o {
			o[i] = a[i] - y
		}
	case opMul:
		for i := range o {
			o[i] = a[i] * y
		}
	case opDiv:
		for i := range o {
			o[i] = a[i] / y
		}
	case opMax:
		for i := range o {
			o[i] = max(a[i], y)
		}
	case opMin:
		for i := range o {
			o[i] = min(a[i], y)
		}
	case opPRelu:
		for i := range o {
			x := a[i]
			o[i] = max(x, 0) + y*min(x, 0)
		}
	}
}

func (k numKernel[T]) sv(o []T, x T, b []T) {
	b = b[:len(o)]
	switch k.op {
	case opAdd:
		for i := range o {
			o[i] = x + b[i]
		}
	case opSub:
		for i := range o {
			o[i] = x - b[i]
		}
	case opMul:
		for i := range o {
			o[i] = x * b[i]
		}
	case opDiv:
		for i := range o {
			o[i] = x / b[i]
		}
	case opMax:
		for i := range o {
			o[i] = max(x, b[i])
		}
	case opMin:
		for i := range o {
			o[i] = min(x, b[i])
		}
	case opPRelu:
		p, n := max(x, 0), min(x, 0)
		for i := range o {
			o[i] = p + b[i]*n
		}
	}
}

// variadicBuilder builds Sum, Mean, Max and Min: a left fold of op over any
// number of broadcasting inputs (Mean divides the sum by the count).
func variadicBuilder(op numOp, mean bool) func(b *Builder) (Kernel, error) {
	return func(b *Builder) (Kernel, error) {
		return KernelFunc(func(rc *RunContext, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
			if len(in) == 0 {
				return nil, fmt.Errorf("needs at least one input")
			}
			if err := Need(in, len(in)); err != nil {
				return nil, err
			}
			dt := in[0].DType()
			acc, _, err := Upcast(in[0])
			if err != nil {
				return nil, err
			}
			if len(in) == 1 {
				c, err := rc.NewUninit(acc.DType(), acc.Shape()...)
				if err != nil {
					return nil, err
				}
				if err := tensor.Copy(c, acc); err != nil {
					return nil, err
				}
				acc = c
			}
			for i, t := range in[1:] {
				if t.DType() != dt {
					return nil, fmt.Errorf("input element types differ: %v and %v", dt, t.DType())
				}
				u, _, err := Upcast(t)
				if err != nil {
					return nil, err
				}
				prev := acc
				if acc, err = op.apply(rc, acc, u); err != nil {
					return nil, err
				}
				if i > 0 {
					rc.Free(prev) // an intermediate sum of ours
				}
			}
			if mean && len(in) > 1 {
				if err := scaleInPlace(acc, 1/float64(len(in))); err != nil {
					return nil, err
				}
			}
			return rc.one(Downcast(acc, dt))
		}), nil
	}
}

// scaleInPlace multiplies a freshly computed float tensor by s (integer
// tensors are divided by 1/s, truncating).
func scaleInPlace(t *tensor.Tensor, s float64) error {
	switch d := t.Data().(type) {
	case []float32:
		f := float32(s)
		for i := range d {
			d[i] *= f
		}
	case []float64:
		for i := range d {
			d[i] *= s
		}
	case []int8:
		divInts(d, s)
	case []int16:
		divInts(d, s)
	case []int32:
		divInts(d, s)
	case []int64:
		divInts(d, s)
	case []uint8:
		divInts(d, s)
	case []uint16:
		divInts(d, s)
	case []uint32:
		divInts(d, s)
	case []uint64:
		divInts(d, s)
	default:
		return ErrDType("Mean", t.DType())
	}
	return nil
}

func divInts[T Number](d []T, s float64) {
	n := T(math.Round(1 / s))
	for i := range d {
		d[i] /= n
	}
}

// ---- Pow ----

// powTensors computes x**y. The result has x's type; y may be any numeric
// type (opset 12+). Float bases use math.Pow in float64 (exact squares and
// square roots for the common scalar exponents); integer bases with
// integer exponents use exact repeated squaring.
func powTensors(rc *RunContext, x, y *tensor.Tensor) (*tensor.Tensor, error) {
	x, dt, err := Upcast(x)
	if err != nil {
		return nil, err
	}
	if !y.DType().IsNumeric() {
		return nil, ErrDType("Pow exponent", y.DType())
	}
	yInt := y.DType().IsInt()
	var yf *tensor.Tensor // y as float64 (for float bases and float exponents)
	if !yInt || dt.IsFloat() {
		if y.DType() == tensor.Float64 {
			yf = y
		} else if f, ok, err := castNumeric(rc, y, tensor.Float64); ok {
			if err != nil {
				return nil, err
			}
			yf = f
			defer rc.Free(f)
		} else if yf, err = y.Cast(tensor.Float64); err != nil {
			return nil, err
		}
	}
	var out *tensor.Tensor
	switch x.DType() {
	case tensor.Float32:
		out, err = broadcastBinary[float32, float64, float32](rc, x, yf, powKernel[float32]{}, grainHeavy)
	case tensor.Float64:
		out, err = broadcastBinary[float64, float64, float64](rc, x, yf, powKernel[float64]{}, grainHeavy)
	case tensor.Int8:
		out, err = powInt[int8](rc, x, y, yf)
	case tensor.Int16:
		out, err = powInt[int16](rc, x, y, yf)
	case tensor.Int32:
		out, err = powInt[int32](rc, x, y, yf)
	case tensor.Int64:
		out, err = powInt[int64](rc, x, y, yf)
	case tensor.Uint8:
		out, err = powInt[uint8](rc, x, y, yf)
	case tensor.Uint16:
		out, err = powInt[uint16](rc, x, y, yf)
	case tensor.Uint32:
		out, err = powInt[uint32](rc, x, y, yf)
	case tensor.Uint64:
		out, err = powInt[uint64](rc, x, y, yf)
	default:
		return nil, ErrDType("Pow", dt)
	}
	if err != nil {
		return nil, err
	}
	return Downcast(out, dt)
}

func powInt[T Number](rc *RunContext, x, y, yf *tensor.Tensor) (*tensor.Tensor, error) {
	if yf != nil {
		return broadcastBinary[T, float64, T](rc, x, yf, funcKernel[T, float64, T](powIntFloat[T]), grainHeavy)
	}
	yi, err := y.AsInt64s()
	if err != nil {
		return nil, err
	}
	y64, err := tensor.FromSlice(y.Shape(), yi)
	if err != nil {
		return nil, err
	}
	return broadcastBinary[T, int64, T](rc, x, y64, funcKernel[T, int64, T](powIntInt[T]), grainCheap)
}

// powIntInt is x**e by repeated squaring (wrapping on overflow); negative
// exponents give the truncated real power (1, ±1 or 0).
func powIntInt[T Number](x T, e int64) T {
	if e < 0 {
		return powIntFloat(x, float64(e))
	}
	r := T(1)
	for e > 0 {
		if e&1 == 1 {
			r *= x
		}
		x *= x
		e >>= 1
	}
	return r
}

func powIntFloat[T Number](x T, e float64) T {
	p := math.Pow(float64(x), e)
	if p != p {
		return 0
	}
	return T(p)
}

// powKernel is x**y for float x and float64 y.
type powKernel[T Float] struct{}

func (powKernel[T]) vv(o, a []T, b []float64) {
	a, b = a[:len(o)], b[:len(o)]
	for i := range o {
		o[i] = T(math.Pow(float64(a[i]), b[i]))
	}
}

func (powKernel[T]) vs(o, a []T, y float64) {
	a = a[:len(o)]
	switch y {
	case 1:
		copy(o, a)
	case 2:
		for i, x := range a {
			o[i] = x * x
		}
	case 3:
		for i, x := range a {
			f := float64(x)
			o[i] = T(f * f * f)
		}
	case 0.5:
		for i, x := range a {
			f := float64(x)
			if f == 0 || math.IsInf(f, -1) {
				o[i] = T(math.Pow(f, 0.5))
			} else {
				o[i] = T(math.Sqrt(f))
			}
		}
	case -1:
		for i, x := range a {
			o[i] = 1 / x
		}
	default:
		for i, x := range a {
			o[i] = T(math.Pow(float64(x), y))
		}
	}
}

func (powKernel[T]) sv(o []T, x T, b []float64) {
	b = b[:len(o)]
	f := float64(x)
	for i := range o {
		o[i] = T(math.Pow(f, b[i]))
	}
}

// ---- Mod ----

func buildMod(b *Builder) (Kernel, error) {
	fmod := b.Int("fmod", 0)
	if fmod != 0 && fmod != 1 {
		b.Fail("fmod must be 0 or 1, got %d", fmod)
	}
	if err := b.Err(); err != nil {
		return nil, err
	}
	c := fmod == 1
	return binaryKernelFunc(nil, func(rc *RunContext, a, b *tensor.Tensor) (*tensor.Tensor, error) {
		return modTensors(rc, a, b, c)
	}), nil
}

// modTensors is Mod: with fmod the remainder has the dividend's sign (C
// fmod / Go %); without, the divisor's sign (Python %, numpy.mod). The
// spec requires fmod=1 for floats; Onyx computes numpy.mod there.
func modTensors(rc *RunContext, a, b *tensor.Tensor, fmod bool) (*tensor.Tensor, error) {
	if err := sameType(a, b); err != nil {
		return nil, err
	}
	if a.DType().IsInt() {
		if err := checkNoZero(b); err != nil {
			return nil, err
		}
	}
	a, b, dt, err := upcast2(a, b)
	if err != nil {
		return nil, err
	}
	var out *tensor.Tensor
	switch a.DType() {
	case tensor.Float32:
		out, err = modRun(rc, a, b, fmod, modFloat[float32], modFloorFloat[float32])
	case tensor.Float64:
		out, err = modRun(rc, a, b, fmod, modFloat[float64], modFloorFloat[float64])
	case tensor.Int8:
		out, err = modRun(rc, a, b, fmod, modTrunc[int8], modFloorInt[int8])
	case tensor.Int16:
		out, err = modRun(rc, a, b, fmod, modTrunc[int16], modFloorInt[int16])
	case tensor.Int32:
		out, err = modRun(rc, a, b, fmod, modTrunc[int32], modFloorInt[int32])
	case tensor.Int64:
		out, err = modRun(rc, a, b, fmod, modTrunc[int64], modFloorInt[int64])
	case tensor.Uint8:
		out, err = modRun(rc, a, b, fmod, modTrunc[uint8], modTrunc[uint8])
	case tensor.Uint16:
		out, err = modRun(rc, a, b, fmod, modTrunc[uint16], modTrunc[uint16])
	case tensor.Uint32:
		out, err = modRun(rc, a, b, fmod, modTrunc[uint32], modTrunc[uint32])
	case tensor.Uint64:
		out, err = modRun(rc, a, b, fmod, modTrunc[uint64], modTrunc[uint64])
	default:
		return nil, ErrDType("Mod", dt)
	}
	if err != nil {
		return nil, err
	}
	return Downcast(out, dt)
}

func modRun[T tensor.Elem](rc *RunContext, a, b *tensor.Tensor, fmod bool, trunc, floor func(T, T) T) (*tensor.Tensor, error) {
	f := floor
	if fmod {
		f = trunc
	}
	return broadcastBinary[T, T, T](rc, a, b, funcKernel[T, T, T](f), grainCheap)
}

func modTrunc[T intElem](a, b T) T { return a % b }

func modFloorInt[T signedInt](a, b T) T {
	r := a % b
	if r != 0 && (r < 0) != (b < 0) {
		r += b
	}
	return r
}

func modFloat[T Float](a, b T) T { return T(math.Mod(float64(a), float64(b))) }

func modFloorFloat[T Float](a, b T) T {
	r := math.Mod(float64(a), float64(b))
	if r != 0 && (r < 0) != (b < 0) {
		r += float64(b)
	}
	return T(r)
}

// ---- bit operations ----

// intElem is every Go integer element type.
type intElem interface {
	~int8 | ~int16 | ~int32 | ~int64 | ~uint8 | ~uint16 | ~uint32 | ~uint64
}

// signedInt is every signed Go integer element type.
type signedInt interface {
	~int8 | ~int16 | ~int32 | ~int64
}

// bitOp is an integer bit operation.
type bitOp uint8

const (
	bitAnd bitOp = iota
	bitOr
	bitXor
	bitShl
	bitShr // logical for unsigned, arithmetic for signed types
)

var bitOpNames = [...]string{"BitwiseAnd", "BitwiseOr", "BitwiseXor", "BitShift", "BitShift"}

func buildBitShift(b *Builder) (Kernel, error) {
	dir := b.String("direction", "")
	var op bitOp
	switch dir {
	case "LEFT":
		op = bitShl
	case "RIGHT":
		op = bitShr
	default:
		b.Fail("direction must be LEFT or RIGHT, got %q", dir)
	}
	if err := b.Err(); err != nil {
		return nil, err
	}
	return binaryKernelFunc(nil, op.apply), nil
}

func (op bitOp) apply(rc *RunContext, a, b *tensor.Tensor) (*tensor.Tensor, error) {
	if err := sameType(a, b); err != nil {
		return nil, err
	}
	switch a.DType() {
	case tensor.Int8:
		return broadcastBinary[int8, int8, int8](rc, a, b, bitKernel[int8]{op}, grainCheap)
	case tensor.Int16:
		return broadcastBinary[int16, int16, int16](rc, a, b, bitKernel[int16]{op}, grainCheap)
	case tensor.Int32:
		return broadcastBinary[int32, int32, int32](rc, a, b, bitKernel[int32]{op}, grainCheap)
	case tensor.Int64:
		return broadcastBinary[int64, int64, int64](rc, a, b, bitKernel[int64]{op}, grainCheap)
	case tensor.Uint8:
		return broadcastBinary[uint8, uint8, uint8](rc, a, b, bitKernel[uint8]{op}, grainCheap)
	case tensor.Uint16:
		return broadcastBinary[uint16, uint16, uint16](rc, a, b, bitKernel[uint16]{op}, grainCheap)
	case tensor.Uint32:
		return broadcastBinary[uint32, uint32, uint32](rc, a, b, bitKernel[uint32]{op}, grainCheap)
	case tensor.Uint64:
		return broadcastBinary[uint64, uint64, uint64](rc, a, b, bitKernel[uint64]{op}, grainCheap)
	}
	return nil, ErrDType(bitOpNames[op], a.DType())
}

// bitKernel implements binaryKernel for a bitOp. Shift counts are taken as
// unsigned: a count of at least the bit width (or a negative one) shifts
// everything out.
type bitKernel[T intElem] struct{ op bitOp }

func (k bitKernel[T]) vv(o, a, b []T) {
	a, b = a[:len(o)], b[:len(o)]
	switch k.op {
	case bitAnd:
		for i := range o {
			o[i] = a[i] & b[i]
		}
	case bitOr:
		for i := range o {
			o[i] = a[i] | b[i]
		}
	case bitXor:
		for i := range o {
			o[i] = a[i] ^ b[i]
		}
	case bitShl:
		for i := range o {
			o[i] = a[i] << uint64(b[i])
		}
	case bitShr:
		for i := range o {
			o[i] = a[i] >> uint64(b[i])
		}
	}
}

func (k bitKernel[T]) vs(o, a []T, y T) {
	a = a[:len(o)]
	switch k.op {
	case bitAnd:
		for i := range o {
			o[i] = a[i] & y
		}
	case bitOr:
		for i := range o {
			o[i] = a[i] | y
		}
	case bitXor:
		for i := range o {
			o[i] = a[i] ^ y
		}
	case bitShl:
		for i := range o {
			o[i] = a[i] << uint64(y)
		}
	case bitShr:
		for i := range o {
			o[i] = a[i] >> uint64(y)
		}
	}
}

func (k bitKernel[T]) sv(o []T, x T, b []T) {
	b = b[:len(o)]
	switch k.op {
	case bitAnd:
		for i := range o {
			o[i] = x & b[i]
		}
	case bitOr:
		for i := range o {
			o[i] = x | b[i]
		}
	case bitXor:
		for i := range o {
			o[i] = x ^ b[i]
		}
	case bitShl:
		for i := range o {
			o[i] = x << uint64(b[i])
		}
	case bitShr:
		for i := range o {
			o[i] = x >> uint64(b[i])
		}
	}
}
