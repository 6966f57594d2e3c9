package ops

import (
	"context"
	"math"
	"strings"
	"testing"

	"github.com/onyxrt/onyx/tensor"
)

// famRun builds op from a registry holding only the family that register
// fills, with outputs requested as outs says (nil: one output), and
// runs it on in (nil for an omitted optional input).
func famRun(register func(*Registry), op string, opset int, attrs map[string]any, outs []bool, in ...*tensor.Tensor) ([]*tensor.Tensor, error) {
	r := NewRegistry()
	register(r)
	def, err := r.Lookup("", op, opset)
	if err != nil {
		return nil, err
	}
	present := make([]bool, len(in))
	for i, t := range in {
		present[i] = t != nil
	}
	if outs == nil {
		outs = []bool{true}
	}
	b := &Builder{OpType: op, Opset: opset, NumInputs: len(in), NumOutputs: len(outs),
		InputPresent: present, OutputPresent: outs, Attrs: map[string]*Attr{}}
	for k, v := range attrs {
		a := &Attr{Name: k}
		switch x := v.(type) {
		case int:
			a.Type, a.Int = AttrInt, int64(x)
		case string:
			a.Type, a.String = AttrString, x
		case []int:
			a.Type, a.Ints = AttrInts, make([]int64, len(x))
			for i, e := range x {
				a.Ints[i] = int64(e)
			}
		default:
			panic("unsupported attribute type")
		}
		b.Attrs[k] = a
	}
	k, err := def.Build(b)
	if err != nil {
		return nil, err
	}
	return k.Run(&RunContext{Ctx: context.Background(), Threads: 2}, in)
}

// famCheck compares got with want (same dtype and shape; floats within
// rel/abs tol, NaN equal to NaN, other types exactly).
func famCheck(t *testing.T, what string, got, want *tensor.Tensor, tol float64) {
	t.Helper()
	if got == nil {
		t.Fatalf("%s: nil output", what)
	}
	if got.DType() != want.DType() || !tensor.ShapeEqual(got.Shape(), want.Shape()) {
		t.Fatalf("%s: got %v%v, want %v%v", what, got.DType(), got.Shape(), want.DType(), want.Shape())
	}
	g, w := got.Float64s(), want.Float64s()
	for i := range w {
		if math.IsNaN(w[i]) && math.IsNaN(g[i]) {
			continue
		}
		if math.Abs(g[i]-w[i]) > tol*(1+math.Abs(w[i])) {
			t.Fatalf("%s: element %d = %v, want %v\ngot  %v\nwant %v", what, i, g[i], w[i], g, w)
		}
	}
}

// s3 is arange(12).reshape(2, 3, 2) * 0.37 - 1.5 as float32.
func s3() *tensor.Tensor {
	v := make([]float32, 12)
	for i := range v {
		v[i] = float32(i)*0.37 - 1.5
	}
	return tensor.From([]int{2, 3, 2}, v)
}

func TestLossOps(t *testing.T) {
	// Expected values from onnx.backend.test.case.node's numpy references
	// (negativeloglikelihoodloss.py, softmaxcrossentropy.py).
	x := tensor.From([]int{2, 3, 2}, []float32{1, 2, 2, 2, 3, 2, 0, 1, 2, 2, 1, 2})
	tgt := tensor.From([]int{2, 2}, []int64{2, 1, 0, 2})
	w := tensor.From([]int{3}, []float32{0.2, 0.3, 0.1})
	x2 := tensor.From([]int{3, 4}, []float32{-1.2, -0.5, -2.0, -0.1, -0.3, -1.7, -0.9, -2.2, -0.8, -0.4, -1.1, -3.0})
	sc := tensor.From([]int{2, 3}, []float32{1, 2, 0.5, 0.1, -1, 3})
	nan := float32(math.NaN())
	cases := []struct {
		name   string
		op     string
		opset  int
		attrs  map[string]any
		outs   []bool
		in     []*tensor.Tensor
		want   []*tensor.Tensor
		errHas string
	}{
		{name: "nll none", op: "NegativeLogLikelihoodLoss", opset: 13, attrs: map[string]any{"reduction": "none"},
			in: []*tensor.Tensor{x, tgt}, want: []*tensor.Tensor{tensor.From([]int{2, 2}, []float32{-3, -2, 0, -2})}},
		{name: "nll sum weight", op: "NegativeLogLikelihoodLoss", opset: 12, attrs: map[string]any{"reduction": "sum"},
			in: []*tensor.Tensor{x, tgt, w}, want: []*tensor.Tensor{tensor.Scalar[float32](-1.1)}},
		{name: "nll mean weight", op: "NegativeLogLikelihoodLoss", opset: 13,
			in: []*tensor.Tensor{x, tgt, w}, want: []*tensor.Tensor{tensor.Scalar[float32](-1.5714285)}},
		{name: "nll mean NC ignore", op: "NegativeLogLikelihoodLoss", opset: 13, attrs: map[string]any{"ignore_index": 1},
			in: []*tensor.Tensor{x2, tensor.From([]int{3}, []int32{1, 3, 1})}, want: []*tensor.Tensor{tensor.Scalar[float32](2.2)}},
		{name: "nll mean weight negative ignore", op: "NegativeLogLikelihoodLoss", opset: 13, attrs: map[string]any{"ignore_index": -1},
			in:   []*tensor.Tensor{x2, tensor.From([]int{3}, []int64{-1, 3, 0}), tensor.From([]int{4}, []float32{0.5, 1.5, 2, 0.25})},
			want: []*tensor.Tensor{tensor.Scalar[float32](1.2666668)}},
		{name: "nll sum float64", op: "NegativeLogLikelihoodLoss", opset: 13, attrs: map[string]any{"reduction": "sum"},
			in:   []*tensor.Tensor{tensor.From([]int{3, 4}, x2.Float64s()), tensor.From([]int{3}, []int64{0, 1, 2})},
			want: []*tensor.Tensor{tensor.Scalar[float64](4.0)}},
		{name: "nll none float16", op: "NegativeLogLikelihoodLoss", opset: 13, attrs: map[string]any{"reduction": "none"},
			in:   []*tensor.Tensor{halfT(x), tgt},
			want: []*tensor.Tensor{halfT(tensor.From([]int{2, 2}, []float32{-3, -2, 0, -2}))}},
		{name: "nll mean all ignored is NaN", op: "NegativeLogLikelihoodLoss", opset: 13, attrs: map[string]any{"ignore_index": 7},
			in: []*tensor.Tensor{x2, tensor.From([]int{3}, []int64{7, 7, 7})}, want: []*tensor.Tensor{tensor.Scalar(nan)}},
		{name: "sce mean log_prob", op: "SoftmaxCrossEntropyLoss", opset: 13, outs: []bool{true, true},
			in: []*tensor.Tensor{sc, tensor.From([]int{2}, []int64{1, 2})},
			want: []*tensor.Tensor{tensor.Scalar[float32](0.26757145),
				tensor.From([]int{2, 3}, []float32{-1.4643688, -0.4643687, -1.9643688, -2.9707744, -4.070774, -0.07077423})}},
		{name: "sce none weights 3d", op: "SoftmaxCrossEntropyLoss", opset: 12, attrs: map[string]any{"reduction": "none"}, outs: []bool{true, true},
			in: []*tensor.Tensor{s3(), tensor.From([]int{2, 2}, []int64{0, 2, 1, 1}), tensor.From([]int{3}, []float32{1, 2, 0.5})},
			want: []*tensor.Tensor{tensor.From([]int{2, 2}, []float32{2.0134194, 0.26670966, 2.5468388, 2.546839}),
				tensor.From([]int{2, 3, 2}, []float32{-2.0134194, -2.0134194, -1.2734194, -1.2734194, -0.5334193, -0.5334193,
					-2.0134194, -2.0134194, -1.2734194, -1.2734195, -0.5334193, -0.5334193})}},
		{name: "sce sum ignore, no log_prob", op: "SoftmaxCrossEntropyLoss", opset: 13, attrs: map[string]any{"reduction": "sum", "ignore_index": 5},
			outs: []bool{true, false},
			in:   []*tensor.Tensor{s3(), tensor.From([]int{2, 2}, []int32{0, 5, 5, 1})},
			want: []*tensor.Tensor{tensor.Scalar[float32](3.286839), nil}},
		{name: "target out of range", op: "NegativeLogLikelihoodLoss", opset: 13,
			in: []*tensor.Tensor{x, tensor.From([]int{2, 2}, []int64{2, 3, 0, 2})}, errHas: "outside [0, 3)"},
		{name: "negative target not ignored", op: "SoftmaxCrossEntropyLoss", opset: 13, attrs: map[string]any{"ignore_index": -100},
			in: []*tensor.Tensor{sc, tensor.From([]int{2}, []int64{-1, 0})}, errHas: "outside"},
		{name: "target shape", op: "NegativeLogLikelihoodLoss", opset: 13,
			in: []*tensor.Tensor{x, tensor.From([]int{2, 3}, []int64{0, 0, 0, 0, 0, 0})}, errHas: "target shape"},
		{name: "weight shape", op: "NegativeLogLikelihoodLoss", opset: 13,
			in: []*tensor.Tensor{x, tgt, tensor.From([]int{2}, []float32{1, 1})}, errHas: "weight has shape"},
		{name: "input rank", op: "SoftmaxCrossEntropyLoss", opset: 13,
			in: []*tensor.Tensor{tensor.From([]int{3}, []float32{1, 2, 3}), tensor.Scalar[int64](0)}, errHas: "input must have shape"},
		{name: "bad reduction", op: "NegativeLogLikelihoodLoss", opset: 13, attrs: map[string]any{"reduction": "max"},
			in: []*tensor.Tensor{x, tgt}, errHas: "reduction"},
		{name: "float target", op: "NegativeLogLikelihoodLoss", opset: 13,
			in: []*tensor.Tensor{x, tensor.From([]int{2, 2}, []float32{0, 0, 0, 0})}, errHas: "target"},
		{name: "int input", op: "NegativeLogLikelihoodLoss", opset: 13,
			in: []*tensor.Tensor{tensor.From([]int{1, 2}, []int32{1, 2}), tensor.From([]int{1}, []int64{0})}, errHas: "input"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := famRun(registerLoss, c.op, c.opset, c.attrs, c.outs, c.in...)
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
				if w == nil {
					if got[i] != nil {
						t.Fatalf("output %d: got %v, want none", i, got[i])
					}
					continue
				}
				tol := 1e-6
				if w.DType() == tensor.Float16 {
					tol = 1e-3
				}
				famCheck(t, c.name, got[i], w, tol)
			}
		})
	}
}

// halfT converts a float32 tensor to float16.
func halfT(t *tensor.Tensor) *tensor.Tensor {
	h, err := t.Cast(tensor.Float16)
	if err != nil {
		panic(err)
	}
	return h
}

// TestNLLLossCore checks the reusable core directly, including the applied
// weight sum that a gradient needs.
func TestNLLLossCore(t *testing.T) {
	lp := []float64{-1.2, -0.5, -2.0, -0.1, -0.3, -1.7, -0.9, -2.2, -0.8, -0.4, -1.1, -3.0} // [3, 4, 1]
	w := []float64{0.5, 1.5, 2, 0.25}
	target := []int64{1, 3, 0} // losses 0.5*1.5, 2.2*0.25, 0.8*0.5
	cases := []struct {
		a        lossAttrs
		weight   []float64
		want     []float64
		wantWSum float64
	}{
		{a: lossAttrs{reduction: lossNone}, weight: w, want: []float64{0.75, 0.55, 0.4}, wantWSum: 2.25},
		{a: lossAttrs{reduction: lossSum}, weight: w, want: []float64{1.7}, wantWSum: 2.25},
		{a: lossAttrs{reduction: lossMean}, weight: w, want: []float64{1.7 / 2.25}, wantWSum: 2.25},
		{a: lossAttrs{reduction: lossMean, ignore: 1, hasIgnore: true}, weight: w, want: []float64{0.95 / 0.75}, wantWSum: 0.75},
		{a: lossAttrs{reduction: lossMean, ignore: 1, hasIgnore: true}, want: []float64{(2.2 + 0.8) / 2}, wantWSum: 2},
		{a: lossAttrs{reduction: lossNone, ignore: 3, hasIgnore: true}, want: []float64{0.5, 0, 0.8}, wantWSum: 2},
	}
	for _, c := range cases {
		got, ws, err := nllLoss(lp, 3, 4, 1, target, c.weight, c.a)
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != len(c.want) || math.Abs(ws-c.wantWSum) > 1e-12 {
			t.Fatalf("%+v: got %v (wsum %v), want %v (wsum %v)", c.a, got, ws, c.want, c.wantWSum)
		}
		for i := range c.want {
			if math.Abs(got[i]-c.want[i]) > 1e-12 {
				t.Fatalf("%+v: got %v, want %v", c.a, got, c.want)
			}
		}
	}
	if _, _, err := nllLoss(lp, 3, 4, 2, target, nil, lossAttrs{}); err == nil {
		t.Fatal("mismatched sizes: no error")
	}
	// softmaxCrossEntropy on one sample: log-softmax of [0, ln 3] is
	// [-ln 4, ln 3 - ln 4].
	loss, logp, _, err := softmaxCrossEntropy([]float64{0, math.Log(3)}, 1, 2, 1, []int64{1}, nil, lossAttrs{reduction: lossSum})
	if err != nil {
		t.Fatal(err)
	}
	if math.Abs(logp[0]+math.Log(4)) > 1e-12 || math.Abs(loss[0]-(math.Log(4)-math.Log(3))) > 1e-12 {
		t.Fatalf("softmaxCrossEntropy: loss %v log_prob %v", loss, logp)
	}
}
