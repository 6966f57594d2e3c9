package tensor

import (
	"errors"
	"fmt"
	"math"
	"math/bits"
	"reflect"
	"slices"
	"strings"
)

// MaxBytes is the largest tensor New will allocate (8 GiB, or what an int
// holds on 32-bit platforms). Larger requests
// are reported as errors rather than crashing the process.
const MaxBytes = min(8<<30, math.MaxInt)

// ErrTooLarge is wrapped by the error New returns for absurd shapes.
var ErrTooLarge = errors.New("tensor too large")

// Elem is the set of Go element types a Tensor can hold.
type Elem interface {
	~float32 | ~float64 | ~int8 | ~int16 | ~int32 | ~int64 |
		~uint8 | ~uint16 | ~uint32 | ~uint64 | ~bool | ~string
}

// Tensor is a dense, row-major n-dimensional array. Data is one Go slice
// whose element type matches DType: []float32, []float64, []Half, []BF16,
// []int8 ... []uint64, []bool or []string. A rank-0 tensor (a scalar) has
// an empty shape and one element.
//
// A Tensor handed to or returned by a Session must not be mutated while it
// is in use elsewhere; kernels always write to fresh outputs.
type Tensor struct {
	dtype DType
	shape []int
	data  any
	// pool links a header that a HeaderPool handed out to its pool (nil
	// for every other tensor).
	pool *poolLink
}

// NumElements returns the product of shape, or an error when a dimension is
// negative or the product overflows.
func NumElements(shape []int) (int, error) {
	n := 1
	for _, d := range shape {
		if d < 0 {
			return 0, fmt.Errorf("negative dimension %d in shape %v", d, slices.Clone(shape))
		}
		// An overflow check without a division: both factors are
		// non-negative, so the product fits when its high word is zero
		// and its low word is at most MaxInt.
		hi, lo := bits.Mul(uint(n), uint(d))
		if hi != 0 || lo > math.MaxInt {
			return 0, fmt.Errorf("shape %v: %w (element count overflows)", slices.Clone(shape), ErrTooLarge)
		}
		n = int(lo)
	}
	return n, nil
}

// New allocates a zero-filled tensor. It fails on an unsupported dtype, a
// negative dimension, or a size above MaxBytes.
func New(dt DType, shape ...int) (*Tensor, error) {
	n, err := NumElements(shape)
	if err != nil {
		return nil, err
	}
	if !dt.Supported() {
		return nil, fmt.Errorf("unsupported dtype %v", dt)
	}
	sz := dt.Size()
	if sz == 0 {
		sz = 16 // a string header
	}
	if n > MaxBytes/sz {
		return nil, fmt.Errorf("shape %v of %v needs %d bytes: %w (limit %d)", slices.Clone(shape), dt, uint64(n)*uint64(sz), ErrTooLarge, MaxBytes)
	}
	return &Tensor{dtype: dt, shape: cloneInts(shape), data: makeSlice(dt, n)}, nil
}

// MustNew is New for shapes known to be valid (tests, constants); it panics
// on error.
func MustNew(dt DType, shape ...int) *Tensor {
	t, err := New(dt, shape...)
	if err != nil {
		panic(err)
	}
	return t
}

func makeSlice(dt DType, n int) any {
	if dt.isFloat8() {
		return make([]Float8, n)
	}
	switch dt {
	case Float32:
		return make([]float32, n)
	case Float64:
		return make([]float64, n)
	case Float16:
		return make([]Half, n)
	case BFloat16:
		return make([]BF16, n)
	case Int8:
		return make([]int8, n)
	case Int16:
		return make([]int16, n)
	case Int32:
		return make([]int32, n)
	case Int64:
		return make([]int64, n)
	case Uint8:
		return make([]uint8, n)
	case Uint16:
		return make([]uint16, n)
	case Uint32:
		return make([]uint32, n)
	case Uint64:
		return make([]uint64, n)
	case Bool:
		return make([]bool, n)
	case String:
		return make([]string, n)
	}
	return nil
}

// DTypeOf returns the DType of a Go slice type, or Undefined.
func DTypeOf(data any) DType {
	switch data.(type) {
	case []float32:
		return Float32
	case []float64:
		return Float64
	case []Half:
		return Float16
	case []BF16:
		return BFloat16
	case []int8:
		return Int8
	case []int16:
		return Int16
	case []int32:
		return Int32
	case []int64:
		return Int64
	case []uint8:
		return Uint8
	case []uint16:
		return Uint16
	case []uint32:
		return Uint32
	case []uint64:
		return Uint64
	case []bool:
		return Bool
	case []string:
		return String
	}
	return Undefined
}

// FromSlice wraps data (not copied) as a tensor of the given shape. It fails
// when len(data) does not match the shape or the slice type is not an
// element type.
func FromSlice(shape []int, data any) (*Tensor, error) {
	dt := DTypeOf(data)
	if dt == Undefined {
		return nil, fmt.Errorf("unsupported slice type %T", data)
	}
	n, err := NumElements(shape)
	if err != nil {
		return nil, err
	}
	if l := sliceLen(data); l != n {
		return nil, fmt.Errorf("shape %v needs %d elements, data has %d", slices.Clone(shape), n, l)
	}
	return &Tensor{dtype: dt, shape: cloneInts(shape), data: data}, nil
}

// From is the typed form of FromSlice; it panics when len(data) does not
// match shape, so use it for literals.
func From[T Elem](shape []int, data []T) *Tensor {
	t, err := FromSlice(shape, any(data))
	if err != nil {
		panic(err)
	}
	return t
}

// Scalar returns a rank-0 tensor holding v.
func Scalar[T Elem](v T) *Tensor { return From(nil, []T{v}) }

func sliceLen(data any) int {
	switch s := data.(type) {
	case []Float8:
		return len(s)
	case []float32:
		return len(s)
	case []float64:
		return len(s)
	case []Half:
		return len(s)
	case []BF16:
		return len(s)
	case []int8:
		return len(s)
	case []int16:
		return len(s)
	case []int32:
		return len(s)
	case []int64:
		return len(s)
	case []uint8:
		return len(s)
	case []uint16:
		return len(s)
	case []uint32:
		return len(s)
	case []uint64:
		return len(s)
	case []bool:
		return len(s)
	case []string:
		return len(s)
	}
	return -1
}

// DType returns the element type.
func (t *Tensor) DType() DType { return t.dtype }

// Shape returns the dimensions. The slice may be shared with other
// tensors of that shape (see HeaderPool): never modify it. It stays valid
// for as long as it is kept, even after the tensor is dead.
func (t *Tensor) Shape() []int { return t.shape }

// Rank returns the number of dimensions.
func (t *Tensor) Rank() int { return len(t.shape) }

// Len returns the number of elements (of a sequence: its length; of an
// optional: 1 when it holds a value).
func (t *Tensor) Len() int {
	switch d := t.data.(type) {
	case seqData:
		return len(d.elems)
	case optData:
		if d.value != nil {
			return 1
		}
		return 0
	}
	return sliceLen(t.data)
}

// Data returns the underlying slice ([]float32, []int64, ...).
func (t *Tensor) Data() any { return t.data }

// Data returns t's elements as []T, or nil when T is not t's element type.
func Data[T Elem](t *Tensor) []T {
	s, _ := t.data.([]T)
	return s
}

// Zero sets every element of t to its type's zero value.
func Zero(t *Tensor) {
	if t.data != nil {
		reflect.ValueOf(t.data).Clear()
	}
}

// Float32s returns the data of a Float32 tensor (nil otherwise).
func (t *Tensor) Float32s() []float32 { return Data[float32](t) }

// Int64s returns the data of an Int64 tensor (nil otherwise).
func (t *Tensor) Int64s() []int64 { return Data[int64](t) }

// Reshape returns a tensor sharing t's data with a new shape of the same
// element count.
func (t *Tensor) Reshape(shape ...int) (*Tensor, error) {
	n, err := NumElements(shape)
	if err != nil {
		return nil, err
	}
	if n != t.Len() {
		return nil, fmt.Errorf("cannot reshape %v (%d elements) to %v (%d elements)", t.shape, t.Len(), slices.Clone(shape), n)
	}
	return &Tensor{dtype: t.dtype, shape: cloneInts(shape), data: t.data}, nil
}

// Clone returns a deep copy of t.
func (t *Tensor) Clone() *Tensor {
	switch d := t.data.(type) {
	case seqData:
		elems := make([]*Tensor, len(d.elems))
		for i, e := range d.elems {
			elems[i] = e.Clone()
		}
		return NewSequence(t.dtype, elems)
	case optData:
		if d.value == nil {
			return t
		}
		return NewOptional(d.value.Clone(), t.dtype, d.seq)
	}
	c := &Tensor{dtype: t.dtype, shape: cloneInts(t.shape), data: makeSlice(t.dtype, t.Len())}
	copySlice(c.data, t.data)
	return c
}

func copySlice(dst, src any) {
	switch d := dst.(type) {
	case []Float8:
		copy(d, src.([]Float8))
	case []float32:
		copy(d, src.([]float32))
	case []float64:
		copy(d, src.([]float64))
	case []Half:
		copy(d, src.([]Half))
	case []BF16:
		copy(d, src.([]BF16))
	case []int8:
		copy(d, src.([]int8))
	case []int16:
		copy(d, src.([]int16))
	case []int32:
		copy(d, src.([]int32))
	case []int64:
		copy(d, src.([]int64))
	case []uint8:
		copy(d, src.([]uint8))
	case []uint16:
		copy(d, src.([]uint16))
	case []uint32:
		copy(d, src.([]uint32))
	case []uint64:
		copy(d, src.([]uint64))
	case []bool:
		copy(d, src.([]bool))
	case []string:
		copy(d, src.([]string))
	}
}

// String formats the tensor's type, shape and up to 8 leading values.
func (t *Tensor) String() string {
	switch t.Kind() {
	case KindSequence:
		parts := make([]string, len(t.Elems()))
		for i, e := range t.Elems() {
			parts[i] = e.String()
		}
		return "seq(" + strings.Join(parts, ", ") + ")"
	case KindOptional:
		if v, ok := t.OptionalValue(); ok {
			return "optional(" + v.String() + ")"
		}
		return "optional(none)"
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%v%v", t.dtype, t.shape)
	n := t.Len()
	show := min(n, 8)
	b.WriteString(" [")
	for i := 0; i < show; i++ {
		if i > 0 {
			b.WriteByte(' ')
		}
		fmt.Fprint(&b, t.Format(i))
	}
	if show < n {
		b.WriteString(" ...")
	}
	b.WriteByte(']')
	return b.String()
}

// Format returns element i as a string.
func (t *Tensor) Format(i int) string {
	switch s := t.data.(type) {
	case []Half:
		return fmt.Sprint(s[i].Float32())
	case []BF16:
		return fmt.Sprint(s[i].Float32())
	case []string:
		return fmt.Sprintf("%q", s[i])
	}
	v, _ := t.At(i)
	return fmt.Sprint(v)
}

// At returns element i as a Go value (float64 for every float type,
// int64/uint64 for integers, bool, string), for printing and tests.
func (t *Tensor) At(i int) (any, bool) {
	switch s := t.data.(type) {
	case []Float8:
		return float64(Float8ToFloat32(t.dtype, s[i])), true
	case []float32:
		return float64(s[i]), true
	case []float64:
		return s[i], true
	case []Half:
		return float64(s[i].Float32()), true
	case []BF16:
		return float64(s[i].Float32()), true
	case []int8:
		return int64(s[i]), true
	case []int16:
		return int64(s[i]), true
	case []int32:
		return int64(s[i]), true
	case []int64:
		return s[i], true
	case []uint8:
		return uint64(s[i]), true
	case []uint16:
		return uint64(s[i]), true
	case []uint32:
		return uint64(s[i]), true
	case []uint64:
		return s[i], true
	case []bool:
		return s[i], true
	case []string:
		return s[i], true
	}
	return nil, false
}

// Float64s returns a copy of the elements converted to float64 (bools as
// 0/1). It returns nil for strings.
func (t *Tensor) Float64s() []float64 {
	switch s := t.data.(type) {
	case []Float8:
		out := make([]float64, len(s))
		for i, v := range s {
			out[i] = float64(Float8ToFloat32(t.dtype, v))
		}
		return out
	case []float32:
		return convert[float32, float64](s)
	case []float64:
		return append([]float64(nil), s...)
	case []Half:
		out := make([]float64, len(s))
		for i, v := range s {
			out[i] = float64(v.Float32())
		}
		return out
	case []BF16:
		out := make([]float64, len(s))
		for i, v := range s {
			out[i] = float64(v.Float32())
		}
		return out
	case []int8:
		return convert[int8, float64](s)
	case []int16:
		return convert[int16, float64](s)
	case []int32:
		return convert[int32, float64](s)
	case []int64:
		return convert[int64, float64](s)
	case []uint8:
		return convert[uint8, float64](s)
	case []uint16:
		return convert[uint16, float64](s)
	case []uint32:
		return convert[uint32, float64](s)
	case []uint64:
		return convert[uint64, float64](s)
	case []bool:
		out := make([]float64, len(s))
		for i, v := range s {
			if v {
				out[i] = 1
			}
		}
		return out
	}
	return nil
}

// AsInt64s returns the elements of an integer or bool tensor converted to
// int64 (a copy unless t is already Int64). Use it to read index-like inputs
// (shapes, axes, indices) whatever their integer type.
func (t *Tensor) AsInt64s() ([]int64, error) {
	switch s := t.data.(type) {
	case []int64:
		return s, nil
	case []int32:
		return convert[int32, int64](s), nil
	case []int16:
		return convert[int16, int64](s), nil
	case []int8:
		return convert[int8, int64](s), nil
	case []uint8:
		return convert[uint8, int64](s), nil
	case []uint16:
		return convert[uint16, int64](s), nil
	case []uint32:
		return convert[uint32, int64](s), nil
	case []uint64:
		return convert[uint64, int64](s), nil
	case []bool:
		out := make([]int64, len(s))
		for i, v := range s {
			if v {
				out[i] = 1
			}
		}
		return out, nil
	}
	return nil, fmt.Errorf("expected an integer tensor, got %v", t.dtype)
}

type number interface {
	~float32 | ~float64 | ~int8 | ~int16 | ~int32 | ~int64 |
		~uint8 | ~uint16 | ~uint32 | ~uint64
}

func convert[S, D number](s []S) []D {
	out := make([]D, len(s))
	for i, v := range s {
		out[i] = D(v)
	}
	return out
}

func cloneInts(s []int) []int {
	if s == nil {
		return []int{}
	}
	return append([]int{}, s...)
}

// ShapeEqual reports whether two concrete shapes are the same.
func ShapeEqual(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// Strides returns the row-major element strides of shape.
func Strides(shape []int) []int {
	s := make([]int, len(shape))
	acc := 1
	for i := len(shape) - 1; i >= 0; i-- {
		s[i] = acc
		acc *= shape[i]
	}
	return s
}
