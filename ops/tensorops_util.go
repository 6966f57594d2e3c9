package ops

import (
	"fmt"
	"math"
	"unsafe"

	"github.com/onyxrt/onyx/tensor"
)

// Layout helpers shared by the tensor-layout family (tensorops.go and the
// files it lists). Layout operators only move elements, so they work on
// the raw storage of a tensor: every fixed-size element type is viewed as
// the unsigned integer of the same width (float32 as uint32, bool as uint8,
// float16 as uint16, ...) and strings stay strings. A layout kernel is thus
// instantiated five times instead of once per element type.

// layoutElem is the storage a layout kernel is instantiated for.
type layoutElem interface {
	uint8 | uint16 | uint32 | uint64 | string
}

// layoutPtr returns the address and length of a tensor's storage.
func layoutPtr(data any) (unsafe.Pointer, int) {
	switch s := data.(type) {
	case []float32:
		return unsafe.Pointer(unsafe.SliceData(s)), len(s)
	case []float64:
		return unsafe.Pointer(unsafe.SliceData(s)), len(s)
	case []tensor.Half:
		return unsafe.Pointer(unsafe.SliceData(s)), len(s)
	case []tensor.BF16:
		return unsafe.Pointer(unsafe.SliceData(s)), len(s)
	case []int8:
		return unsafe.Pointer(unsafe.SliceData(s)), len(s)
	case []int16:
		return unsafe.Pointer(unsafe.SliceData(s)), len(s)
	case []int32:
		return unsafe.Pointer(unsafe.SliceData(s)), len(s)
	case []int64:
		return unsafe.Pointer(unsafe.SliceData(s)), len(s)
	case []tensor.Float8:
		return unsafe.Pointer(unsafe.SliceData(s)), len(s)
	case []uint8:
		return unsafe.Pointer(unsafe.SliceData(s)), len(s)
	case []uint16:
		return unsafe.Pointer(unsafe.SliceData(s)), len(s)
	case []uint32:
		return unsafe.Pointer(unsafe.SliceData(s)), len(s)
	case []uint64:
		return unsafe.Pointer(unsafe.SliceData(s)), len(s)
	case []bool:
		return unsafe.Pointer(unsafe.SliceData(s)), len(s)
	}
	return nil, 0
}

// layoutRaw returns t's storage viewed as []T. T must be the storage type
// layoutPick chose for t's dtype (string for strings, else the unsigned
// integer of the element's width); anything else is a programming error.
func layoutRaw[T layoutElem](t *tensor.Tensor) []T {
	if s, ok := t.Data().([]T); ok {
		return s
	}
	var zero T
	if _, isStr := any(zero).(string); isStr || int(unsafe.Sizeof(zero)) != t.DType().Size() {
		panic(fmt.Sprintf("ops: layoutRaw: %T view of a %v tensor", zero, t.DType()))
	}
	p, n := layoutPtr(t.Data())
	if n == 0 {
		return nil
	}
	return unsafe.Slice((*T)(p), n)
}

// layoutPick returns the instantiation of a layout kernel that matches the
// storage of dtype dt: f1, f2, f4, f8 for 1-, 2-, 4- and 8-byte elements,
// fs for strings.
func layoutPick[F any](dt tensor.DType, f1, f2, f4, f8, fs F) (F, error) {
	if dt == tensor.String {
		return fs, nil
	}
	if dt.Supported() {
		switch dt.Size() {
		case 1:
			return f1, nil
		case 2:
			return f2, nil
		case 4:
			return f4, nil
		case 8:
			return f8, nil
		}
	}
	var zero F
	return zero, fmt.Errorf("unsupported element type %v", dt)
}

// layoutWidth returns the storage width layoutPick dispatches on: 1, 2, 4
// or 8 bytes, 0 for strings. Kernels switch on it to call their generic
// instantiations directly: a call through the function value layoutPick
// returns makes every slice argument escape to the heap.
func layoutWidth(dt tensor.DType) (int, error) {
	if dt == tensor.String {
		return 0, nil
	}
	if dt.Supported() {
		switch w := dt.Size(); w {
		case 1, 2, 4, 8:
			return w, nil
		}
	}
	return 0, fmt.Errorf("unsupported element type %v", dt)
}

// numberPick returns the instantiation of a numeric kernel for dtype dt
// (float16 and bfloat16 excluded: callers upcast them).
func numberPick[F any](dt tensor.DType, f32, f64, i8, i16, i32, i64, u8, u16, u32, u64 F) (F, error) {
	switch dt {
	case tensor.Float32:
		return f32, nil
	case tensor.Float64:
		return f64, nil
	case tensor.Int8:
		return i8, nil
	case tensor.Int16:
		return i16, nil
	case tensor.Int32:
		return i32, nil
	case tensor.Int64:
		return i64, nil
	case tensor.Uint8:
		return u8, nil
	case tensor.Uint16:
		return u16, nil
	case tensor.Uint32:
		return u32, nil
	case tensor.Uint64:
		return u64, nil
	}
	var zero F
	return zero, fmt.Errorf("unsupported element type %v", dt)
}

// layoutNew allocates a zeroed output tensor of dt and shape from the
// run's allocator, checking the size.
func layoutNew(rc *RunContext, dt tensor.DType, shape []int) (*tensor.Tensor, error) {
	return rc.NewTensor(dt, shape...)
}

// layoutNewUninit is layoutNew for kernels that write every element.
func layoutNewUninit(rc *RunContext, dt tensor.DType, shape []int) (*tensor.Tensor, error) {
	return rc.NewUninit(dt, shape...)
}

// intsBuf returns buf[:n] when buf is long enough, else a new slice: with
// a caller's stack array as buf, small shapes cost no allocation.
func intsBuf(buf []int, n int) []int {
	if n <= len(buf) {
		return buf[:n]
	}
	return make([]int, n)
}

// stridesInto is tensor.Strides writing into dst (of len(shape)).
func stridesInto(dst, shape []int) []int {
	acc := 1
	for i := len(shape) - 1; i >= 0; i-- {
		dst[i] = acc
		acc *= shape[i]
	}
	return dst
}

// layoutCopy copies a block of the given shape from src (first element at
// so, element strides ss) to dst (first element at do, strides ds). Strides
// may be zero (broadcast reads) or negative (reversed reads).
func layoutCopy[T layoutElem](dst []T, do int, ds []int, src []T, so int, ss []int, shape []int) {
	// Simplify: drop size-1 dimensions and merge dimensions that are
	// contiguous in both source and destination.
	var nBuf, dBuf, sBuf, iBuf [8]int
	n := intsBuf(nBuf[:], len(shape))[:0]
	dstr := intsBuf(dBuf[:], len(shape))[:0]
	sstr := intsBuf(sBuf[:], len(shape))[:0]
	for i, d := range shape {
		if d == 0 {
			return
		}
		if d == 1 {
			continue
		}
		if k := len(n) - 1; k >= 0 && dstr[k] == ds[i]*d && sstr[k] == ss[i]*d {
			n[k] *= d
			dstr[k] = ds[i]
			sstr[k] = ss[i]
			continue
		}
		n = append(n, d)
		dstr = append(dstr, ds[i])
		sstr = append(sstr, ss[i])
	}
	r := len(n)
	if r == 0 {
		dst[do] = src[so]
		return
	}
	inner, dIn, sIn := n[r-1], dstr[r-1], sstr[r-1]
	idx := intsBuf(iBuf[:], r-1)
	clear(idx)
	for {
		switch {
		case dIn == 1 && sIn == 1:
			copy(dst[do:do+inner], src[so:so+inner])
		case dIn == 1 && sIn == 0:
			v := src[so]
			seg := dst[do : do+inner]
			for j := range seg {
				seg[j] = v
			}
		default:
			d, s := do, so
			for j := 0; j < inner; j++ {
				dst[d] = src[s]
				d += dIn
				s += sIn
			}
		}
		// Advance the odometer over the outer dimensions.
		k := r - 2
		for ; k >= 0; k-- {
			idx[k]++
			do += dstr[k]
			so += sstr[k]
			if idx[k] < n[k] {
				break
			}
			do -= dstr[k] * n[k]
			so -= sstr[k] * n[k]
			idx[k] = 0
		}
		if k < 0 {
			return
		}
	}
}

// layoutFill sets every element of s to v.
func layoutFill[T layoutElem](s []T, v T) {
	if len(s) == 0 {
		return
	}
	s[0] = v
	for filled := 1; filled < len(s); filled *= 2 {
		copy(s[filled:], s[:filled])
	}
}

// layoutInts reads a 1-D (or scalar) integer tensor such as a shape, axes
// or pads input.
func layoutInts(t *tensor.Tensor, what string) ([]int64, error) {
	if t == nil {
		return nil, fmt.Errorf("%s input is missing", what)
	}
	if t.Rank() > 1 {
		return nil, fmt.Errorf("%s must be a 1-D tensor, got shape %v", what, t.Shape())
	}
	v, err := t.AsInt64s()
	if err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	return v, nil
}

// layoutScalarInt reads a one-element integer (or float) tensor.
func layoutScalarInt(t *tensor.Tensor, what string) (int64, error) {
	if t == nil {
		return 0, fmt.Errorf("%s input is missing", what)
	}
	if t.Len() != 1 {
		return 0, fmt.Errorf("%s must have exactly one element, got shape %v", what, t.Shape())
	}
	if t.DType().IsFloat() {
		f := t.Float64s()[0]
		if math.IsNaN(f) || f >= math.MaxInt64 || f < math.MinInt64 {
			return 0, fmt.Errorf("%s value %v is not a valid integer", what, f)
		}
		return int64(f), nil
	}
	v, err := t.AsInt64s()
	if err != nil {
		return 0, fmt.Errorf("%s: %w", what, err)
	}
	return v[0], nil
}

// layoutDims converts int64 dimensions to ints, rejecting negative ones and
// values that do not fit an int or whose product overflows.
func layoutDims(v []int64, what string) ([]int, error) {
	return layoutDimsInto(nil, v, what)
}

// layoutDimsInto is layoutDims writing into dst, or into a new slice when
// dst is shorter than v.
func layoutDimsInto(dst []int, v []int64, what string) ([]int, error) {
	if len(dst) < len(v) {
		dst = make([]int, len(v))
	}
	out := dst[:len(v)]
	for i, d := range v {
		if d < 0 {
			return nil, fmt.Errorf("%s has negative dimension %d", what, d)
		}
		if uint64(d) > uint64(math.MaxInt) {
			return nil, fmt.Errorf("%s dimension %d: %w", what, d, tensor.ErrTooLarge)
		}
		out[i] = int(d)
	}
	if _, err := tensor.NumElements(out); err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	return out, nil
}

// layoutProd is the product of dims (which the caller knows cannot
// overflow, being a tensor's shape or part of it).
func layoutProd(dims []int) int {
	p := 1
	for _, d := range dims {
		p *= d
	}
	return p
}

// layoutIndex wraps a possibly negative index into [0, n), or fails.
func layoutIndex(i int64, n int) (int, error) {
	if i < -int64(n) || i >= int64(n) {
		return 0, fmt.Errorf("index %d is out of range [%d, %d)", i, -n, n)
	}
	if i < 0 {
		i += int64(n)
	}
	return int(i), nil
}

// layoutClone returns t with a new shape (same element count), sharing
// t's data: kernels never write their inputs, and the runtime keeps a
// buffer from being recycled while a view of it is alive.
func layoutClone(t *tensor.Tensor, shape []int) (*tensor.Tensor, error) {
	return t.Reshape(shape...)
}

// layoutCount converts an element count computed in uint64 to an int,
// rejecting counts no tensor could hold.
func layoutCount(n uint64, what string) (int, error) {
	if n > uint64(tensor.MaxBytes) || n > uint64(math.MaxInt) {
		return 0, fmt.Errorf("%s has %d elements: %w", what, n, tensor.ErrTooLarge)
	}
	return int(n), nil
}
