package ops

import (
	"strings"
	"testing"

	"github.com/onyxrt/onyx/tensor"
)

// Opset 18-21 behaviour of the common operators (the end-to-end fixtures
// are testdata/opset18plus/common_*). Expected values are computed by hand.

func TestOpset18Plus(t *testing.T) {
	f := func(shape []int, v ...float32) *tensor.Tensor { return tensor.From(shape, v) }
	three := []bool{true, true, true}
	cases := []struct {
		name     string
		register func(*Registry)
		op       string
		opset    int
		attrs    map[string]any
		outs     []bool
		in       []*tensor.Tensor
		want     []*tensor.Tensor
		errHas   string
	}{
		{name: "Split-18 num_outputs uneven", register: registerTensorOps, op: "Split", opset: 18,
			attrs: map[string]any{"num_outputs": 3}, outs: three,
			in:   []*tensor.Tensor{f([]int{7}, 0, 1, 2, 3, 4, 5, 6)},
			want: []*tensor.Tensor{f([]int{3}, 0, 1, 2), f([]int{3}, 3, 4, 5), f([]int{1}, 6)}},
		{name: "Split-18 num_outputs last part empty", register: registerTensorOps, op: "Split", opset: 18,
			attrs: map[string]any{"num_outputs": 3}, outs: three, in: []*tensor.Tensor{f([]int{4}, 0, 1, 2, 3)},
			want: []*tensor.Tensor{f([]int{2}, 0, 1), f([]int{2}, 2, 3), f([]int{0})}}, // ceil(4/3) = 2
		{name: "Split-18 num_outputs negative last part", register: registerTensorOps, op: "Split", opset: 18,
			attrs: map[string]any{"num_outputs": 4}, outs: []bool{true, true, true, true},
			in:     []*tensor.Tensor{f([]int{5}, 0, 1, 2, 3, 4)},
			errHas: "cannot be split"}, // ceil(5/4) = 2: 2, 2, 2 leave -1
		{name: "Split-18 num_outputs mismatch", register: registerTensorOps, op: "Split", opset: 18,
			attrs: map[string]any{"num_outputs": 2}, outs: three, in: []*tensor.Tensor{f([]int{6}, 0, 1, 2, 3, 4, 5)},
			errHas: "num_outputs 2"},
		{name: "Pad-19 wrap", register: registerTensorOps, op: "Pad", opset: 19, attrs: map[string]any{"mode": "wrap"},
			in:   []*tensor.Tensor{f([]int{3}, 1, 2, 3), tensor.From([]int{2}, []int64{2, 1})},
			want: []*tensor.Tensor{f([]int{6}, 2, 3, 1, 2, 3, 1)}},
		{name: "Pad-19 wrap after crop", register: registerTensorOps, op: "Pad", opset: 19, attrs: map[string]any{"mode": "wrap"},
			in:   []*tensor.Tensor{f([]int{4}, 1, 2, 3, 4), tensor.From([]int{2}, []int64{-1, 2})},
			want: []*tensor.Tensor{f([]int{5}, 2, 3, 4, 2, 3)}},
		{name: "Pad-18 has no wrap", register: registerTensorOps, op: "Pad", opset: 18, attrs: map[string]any{"mode": "wrap"},
			in: []*tensor.Tensor{f([]int{3}, 1, 2, 3), tensor.From([]int{2}, []int64{1, 1})}, errHas: "unsupported mode"},
		{name: "Cast-19 float8 round trip", register: registerCast, op: "Cast", opset: 19, attrs: map[string]any{"to": 1},
			in:   []*tensor.Tensor{castF8(t, f([]int{3}, 1, 0.3, 1000), tensor.Float8E4M3FN)},
			want: []*tensor.Tensor{f([]int{3}, 1, 0.3125, 448)}},
		{name: "Cast-21 to int4", register: registerCast, op: "Cast", opset: 21, attrs: map[string]any{"to": 22},
			in: []*tensor.Tensor{f([]int{1}, 1)}, errHas: "int4"},
		{name: "ReduceL1-18 noop keeps the elementwise part", register: registerReduce, op: "ReduceL1", opset: 18,
			attrs: map[string]any{"noop_with_empty_axes": 1},
			in:    []*tensor.Tensor{f([]int{3}, -1, 2, -3), tensor.From([]int{0}, []int64{})},
			want:  []*tensor.Tensor{f([]int{3}, 1, 2, 3)}},
		{name: "ReduceMax-20 bool", register: registerReduce, op: "ReduceMax", opset: 20, attrs: map[string]any{"keepdims": 0},
			in:   []*tensor.Tensor{tensor.From([]int{2, 2}, []bool{false, true, false, false}), tensor.From([]int{1}, []int64{1})},
			want: []*tensor.Tensor{tensor.From([]int{2}, []bool{true, false})}},
		{name: "ReduceMin-20 bool all axes", register: registerReduce, op: "ReduceMin", opset: 20,
			in:   []*tensor.Tensor{tensor.From([]int{3}, []bool{true, true, true})},
			want: []*tensor.Tensor{tensor.From([]int{1}, []bool{true})}},
		{name: "QuantizeLinear-21 blocked", register: registerQuantize, op: "QuantizeLinear", opset: 21,
			attrs: map[string]any{"block_size": 2}, // x / [1, 1, 2, 2]: 1, 2, 1.5 -> 2, 2
			in:    []*tensor.Tensor{f([]int{1, 4}, 1, 2, 3, 4), f([]int{1, 2}, 1, 2)},
			want:  []*tensor.Tensor{tensor.From([]int{1, 4}, []uint8{1, 2, 2, 2})}},
		{name: "QuantizeLinear-21 blocked bad scale", register: registerQuantize, op: "QuantizeLinear", opset: 21,
			attrs: map[string]any{"block_size": 2},
			in:    []*tensor.Tensor{f([]int{1, 5}, 1, 2, 3, 4, 5), f([]int{1, 2}, 1, 2)}, errHas: "does not fit"},
		{name: "QuantizeLinear-21 output_dtype int16", register: registerQuantize, op: "QuantizeLinear", opset: 21,
			attrs: map[string]any{"output_dtype": int(tensor.Int16)},
			in:    []*tensor.Tensor{f([]int{3}, -70000, 2.5, 70000), f([]int{1}, 1)},
			want:  []*tensor.Tensor{tensor.From([]int{3}, []int16{-32768, 2, 32767})}},
		{name: "QuantizeLinear-21 output_dtype float8", register: registerQuantize, op: "QuantizeLinear", opset: 21,
			attrs: map[string]any{"output_dtype": 19}, in: []*tensor.Tensor{f([]int{1}, 1), f([]int{1}, 1)},
			errHas: "float8e5m2"},
		{name: "DequantizeLinear-19 float16 scale", register: registerQuantize, op: "DequantizeLinear", opset: 19,
			in: []*tensor.Tensor{tensor.From([]int{2}, []uint8{10, 0}),
				tensor.From([]int{1}, []tensor.Half{tensor.HalfFrom(0.5)}), tensor.From([]int{1}, []uint8{4})},
			want: []*tensor.Tensor{tensor.From([]int{2}, []tensor.Half{tensor.HalfFrom(3), tensor.HalfFrom(-2)})}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := famRun(c.register, c.op, c.opset, c.attrs, c.outs, c.in...)
			if c.errHas != "" {
				if err == nil || !strings.Contains(err.Error(), c.errHas) {
					t.Fatalf("error %v, want one containing %q", err, c.errHas)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != len(c.want) {
				t.Fatalf("%d outputs, want %d", len(got), len(c.want))
			}
			for i, w := range c.want {
				famCheck(t, c.name, got[i], w, 0)
			}
		})
	}
}

// castF8 converts a float32 tensor to a float8 type (saturating).
func castF8(t *testing.T, x *tensor.Tensor, dt tensor.DType) *tensor.Tensor {
	t.Helper()
	y, err := x.Cast(dt)
	if err != nil {
		t.Fatal(err)
	}
	return y
}
