package ops

import (
	"fmt"
	"slices"

	"github.com/onyxrt/onyx/tensor"
)

// Float is the constraint for kernels written once for float32 and float64.
type Float interface{ ~float32 | ~float64 }

// Number is every numeric Go element type.
type Number interface {
	~float32 | ~float64 | ~int8 | ~int16 | ~int32 | ~int64 |
		~uint8 | ~uint16 | ~uint32 | ~uint64
}

// NormAxis maps a possibly negative axis into [0, rank), or fails.
func NormAxis(axis int64, rank int) (int, error) {
	a := int(axis)
	if a < -rank || a >= rank || (rank == 0 && a != 0 && a != -1) {
		return 0, fmt.Errorf("axis %d is out of range for rank %d", axis, rank)
	}
	if a < 0 {
		a += rank
	}
	return a, nil
}

// NormAxes normalizes every axis and rejects duplicates.
func NormAxes(axes []int64, rank int) ([]int, error) {
	return normAxesInto(make([]int, 0, len(axes)), axes, rank)
}

// normAxesInto is NormAxes appending to dst[:0] (a caller's stack buffer
// spares the allocation).
func normAxesInto(dst []int, axes []int64, rank int) ([]int, error) {
	out := dst[:0]
	for _, ax := range axes {
		a, err := NormAxis(ax, rank)
		if err != nil {
			return nil, err
		}
		for _, b := range out {
			if a == b {
				return nil, fmt.Errorf("axis %d appears twice in %v", a, slices.Clone(axes))
			}
		}
		out = append(out, a)
	}
	return out, nil
}

// Need checks that inputs 0..n-1 are present.
func Need(inputs []*tensor.Tensor, n int) error {
	if len(inputs) < n {
		return fmt.Errorf("expected at least %d inputs, got %d", n, len(inputs))
	}
	for i := 0; i < n; i++ {
		if inputs[i] == nil {
			return fmt.Errorf("required input %d is missing", i)
		}
	}
	return nil
}

// Opt returns input i, or nil when it is absent.
func Opt(inputs []*tensor.Tensor, i int) *tensor.Tensor {
	if i < len(inputs) {
		return inputs[i]
	}
	return nil
}

// ErrDType reports an element type a kernel does not handle.
func ErrDType(what string, dt tensor.DType) error {
	return fmt.Errorf("%s: unsupported element type %v", what, dt)
}

// ToInts converts int64s to ints.
func ToInts(v []int64) []int {
	out := make([]int, len(v))
	for i, x := range v {
		out[i] = int(x)
	}
	return out
}

// Upcast returns t as float32 when it is float16 or bfloat16 (so one
// float32 kernel serves the half types), along with the original type.
// Use Downcast on the results.
func Upcast(t *tensor.Tensor) (*tensor.Tensor, tensor.DType, error) {
	if t == nil {
		return nil, tensor.Undefined, nil
	}
	dt := t.DType()
	if dt == tensor.Float16 || dt == tensor.BFloat16 {
		u, err := t.Cast(tensor.Float32)
		return u, dt, err
	}
	return t, dt, nil
}

// Downcast converts a float32 result back to dt when Upcast widened it.
func Downcast(t *tensor.Tensor, dt tensor.DType) (*tensor.Tensor, error) {
	if t == nil || t.DType() == dt || (dt != tensor.Float16 && dt != tensor.BFloat16) {
		return t, nil
	}
	return t.Cast(dt)
}
