// Package gorgoniautil converts between the harness's feeds and the
// gorgonia.org/tensor values that both Go peers (gonnx, onnx-go) use.
package gorgoniautil

import (
	"fmt"

	"github.com/onyxrt/onyx/benchmarks/internal/harness"
	gtensor "gorgonia.org/tensor"
)

// Tensor wraps a feed's data (shared, not copied) in a dense tensor.
func Tensor(f harness.Feed) gtensor.Tensor {
	if f.F32 != nil {
		return gtensor.New(gtensor.WithShape(f.Shape...), gtensor.WithBacking(f.F32))
	}
	return gtensor.New(gtensor.WithShape(f.Shape...), gtensor.WithBacking(f.I64))
}

// Summarize summarizes an output tensor.
func Summarize(name string, t gtensor.Tensor) (*harness.Summary, error) {
	if t == nil {
		return nil, harness.ErrNoOutput
	}
	shape := []int(t.Shape())
	switch d := t.Data().(type) {
	case []float32:
		return harness.Summarize(name, shape, d), nil
	case []float64:
		return harness.Summarize(name, shape, d), nil
	case []int64:
		return harness.Summarize(name, shape, d), nil
	case []int32:
		return harness.Summarize(name, shape, d), nil
	case float32:
		return harness.Summarize(name, shape, []float32{d}), nil
	case float64:
		return harness.Summarize(name, shape, []float64{d}), nil
	}
	return nil, fmt.Errorf("output %q holds %T", name, t.Data())
}
