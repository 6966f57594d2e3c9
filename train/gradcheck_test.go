package train

import (
	"math/rand/v2"
	"testing"

	"github.com/onyxrt/onyx/ops"
	"github.com/onyxrt/onyx/tensor"
)

// randT returns a float64 tensor of the given shape with values uniform in
// [lo, hi), each with a random sign when signed is set.
func randT(rng *rand.Rand, lo, hi float64, signed bool, shape ...int) *tensor.Tensor {
	n := 1
	for _, d := range shape {
		n *= d
	}
	v := make([]float64, n)
	for i := range v {
		v[i] = lo + (hi-lo)*rng.Float64()
		if signed && rng.IntN(2) == 0 {
			v[i] = -v[i]
		}
	}
	return tensor.From(shape, v)
}

func i64(shape []int, v ...int64) *tensor.Tensor { return tensor.From(shape, v) }

func f64s(shape []int, v ...float64) *tensor.Tensor { return tensor.From(shape, v) }

type gradCase struct {
	name    string
	op      string
	opset   int
	attrs   []*ops.Attr
	inputs  []*tensor.Tensor
	wrt     []int
	nOut    int
	outputs []int
}

func gradCases() []gradCase {
	rng := rand.New(rand.NewPCG(1, 2))
	// s: signed values away from 0 (no kinks); p: positive values.
	s := func(shape ...int) *tensor.Tensor { return randT(rng, 0.2, 1.5, true, shape...) }
	p := func(shape ...int) *tensor.Tensor { return randT(rng, 0.5, 2, false, shape...) }
	a := func(attrs ...*ops.Attr) []*ops.Attr { return attrs }
	cases := []gradCase{
		{name: "Add/broadcast", op: "Add", opset: 14, inputs: []*tensor.Tensor{s(2, 3), s(3)}, wrt: []int{0, 1}},
		{name: "Add/broadcast2", op: "Add", opset: 7, inputs: []*tensor.Tensor{s(2, 1, 3), s(4, 1)}, wrt: []int{0, 1}},
		{name: "Sub", op: "Sub", opset: 14, inputs: []*tensor.Tensor{s(2, 3), s(2, 1)}, wrt: []int{0, 1}},
		{name: "Mul", op: "Mul", opset: 14, inputs: []*tensor.Tensor{s(2, 3), s(1, 3)}, wrt: []int{0, 1}},
		{name: "Mul/same", op: "Mul", opset: 13, inputs: []*tensor.Tensor{s(4), s()}, wrt: []int{0, 1}},
		{name: "Div", op: "Div", opset: 14, inputs: []*tensor.Tensor{s(2, 3), s(3)}, wrt: []int{0, 1}},
		{name: "Neg", op: "Neg", opset: 13, inputs: []*tensor.Tensor{s(2, 3)}, wrt: []int{0}},
		{name: "Exp", op: "Exp", opset: 13, inputs: []*tensor.Tensor{s(2, 3)}, wrt: []int{0}},
		{name: "Log", op: "Log", opset: 13, inputs: []*tensor.Tensor{p(2, 3)}, wrt: []int{0}},
		{name: "Sqrt", op: "Sqrt", opset: 13, inputs: []*tensor.Tensor{p(2, 3)}, wrt: []int{0}},
		{name: "Reciprocal", op: "Reciprocal", opset: 13, inputs: []*tensor.Tensor{s(2, 3)}, wrt: []int{0}},
		{name: "Pow/const", op: "Pow", opset: 15, inputs: []*tensor.Tensor{p(2, 3), f64s(nil, 2.5)}, wrt: []int{0}},
		{name: "Pow/int-exponent", op: "Pow", opset: 15, inputs: []*tensor.Tensor{s(2, 3), i64(nil, 3)}, wrt: []int{0}},
		{name: "Pow/both", op: "Pow", opset: 15, inputs: []*tensor.Tensor{p(2, 3), s(3)}, wrt: []int{0, 1}},
		{name: "Relu", op: "Relu", opset: 14, inputs: []*tensor.Tensor{s(3, 4)}, wrt: []int{0}},
		{name: "LeakyRelu", op: "LeakyRelu", opset: 16, attrs: a(ops.FloatAttr("alpha", 0.2)), inputs: []*tensor.Tensor{s(3, 4)}, wrt: []int{0}},
		{name: "LeakyRelu/default", op: "LeakyRelu", opset: 6, inputs: []*tensor.Tensor{s(3, 4)}, wrt: []int{0}},
		{name: "Sigmoid", op: "Sigmoid", opset: 13, inputs: []*tensor.Tensor{s(3, 4)}, wrt: []int{0}},
		{name: "Tanh", op: "Tanh", opset: 13, inputs: []*tensor.Tensor{s(3, 4)}, wrt: []int{0}},
		{name: "Softplus", op: "Softplus", opset: 13, inputs: []*tensor.Tensor{s(3, 4)}, wrt: []int{0}},
		{name: "Elu", op: "Elu", opset: 6, attrs: a(ops.FloatAttr("alpha", 0.5)), inputs: []*tensor.Tensor{s(3, 4)}, wrt: []int{0}},
		{name: "Abs", op: "Abs", opset: 13, inputs: []*tensor.Tensor{s(3, 4)}, wrt: []int{0}},
		{name: "Clip/inputs", op: "Clip", opset: 13, inputs: []*tensor.Tensor{f64s([]int{6}, -1.3, -0.7, -0.2, 0.3, 0.8, 1.6), f64s(nil, -0.5), f64s(nil, 1)}, wrt: []int{0}},
		{name: "Clip/max-only", op: "Clip", opset: 13, inputs: []*tensor.Tensor{f64s([]int{4}, -1.3, -0.2, 0.8, 1.6), nil, f64s(nil, 1)}, wrt: []int{0}},
		{name: "Clip/attrs", op: "Clip", opset: 6, attrs: a(ops.FloatAttr("min", -0.5), ops.FloatAttr("max", 1)), inputs: []*tensor.Tensor{f64s([]int{6}, -1.3, -0.7, -0.2, 0.3, 0.8, 1.6)}, wrt: []int{0}},
		{name: "Identity", op: "Identity", opset: 16, inputs: []*tensor.Tensor{s(2, 3)}, wrt: []int{0}},
		{name: "Cast/f32-to-f64", op: "Cast", opset: 13, attrs: a(ops.IntAttr("to", int64(tensor.Float64))), inputs: []*tensor.Tensor{mustCast(s(2, 3), tensor.Float32)}, wrt: []int{0}},
		{name: "Sum/3", op: "Sum", opset: 13, inputs: []*tensor.Tensor{s(2, 3), s(3), s(2, 1)}, wrt: []int{0, 1, 2}},
		{name: "Mean/3", op: "Mean", opset: 13, inputs: []*tensor.Tensor{s(2, 3), s(3), s(2, 1)}, wrt: []int{0, 1, 2}},
		{name: "Max/2", op: "Max", opset: 13, inputs: []*tensor.Tensor{s(2, 3), s(3)}, wrt: []int{0, 1}},
		{name: "Min/2", op: "Min", opset: 13, inputs: []*tensor.Tensor{s(2, 3), s(2, 3)}, wrt: []int{0, 1}},
		{name: "Where", op: "Where", opset: 16, inputs: []*tensor.Tensor{tensor.From([]int{2, 3}, []bool{true, false, true, false, false, true}), s(2, 3), s(3)}, wrt: []int{1, 2}},

		{name: "MatMul/2x2", op: "MatMul", opset: 13, inputs: []*tensor.Tensor{s(3, 4), s(4, 5)}, wrt: []int{0, 1}},
		{name: "MatMul/1x2", op: "MatMul", opset: 13, inputs: []*tensor.Tensor{s(4), s(4, 5)}, wrt: []int{0, 1}},
		{name: "MatMul/2x1", op: "MatMul", opset: 13, inputs: []*tensor.Tensor{s(3, 4), s(4)}, wrt: []int{0, 1}},
		{name: "MatMul/1x1", op: "MatMul", opset: 13, inputs: []*tensor.Tensor{s(4), s(4)}, wrt: []int{0, 1}},
		{name: "MatMul/batched-flat", op: "MatMul", opset: 13, inputs: []*tensor.Tensor{s(2, 3, 4), s(4, 5)}, wrt: []int{0, 1}},
		{name: "MatMul/batched", op: "MatMul", opset: 13, inputs: []*tensor.Tensor{s(2, 3, 4), s(2, 4, 2)}, wrt: []int{0, 1}},
		{name: "MatMul/batch-broadcast", op: "MatMul", opset: 13, inputs: []*tensor.Tensor{s(2, 1, 3, 4), s(3, 4, 2)}, wrt: []int{0, 1}},
		{name: "MatMul/2xbatched", op: "MatMul", opset: 13, inputs: []*tensor.Tensor{s(3, 4), s(2, 4, 5)}, wrt: []int{0, 1}},
		{name: "Gemm/plain", op: "Gemm", opset: 13, inputs: []*tensor.Tensor{s(3, 4), s(4, 5), s(3, 5)}, wrt: []int{0, 1, 2}},
		{name: "Gemm/transA", op: "Gemm", opset: 13, attrs: a(ops.IntAttr("transA", 1), ops.FloatAttr("alpha", 0.7), ops.FloatAttr("beta", 1.5)), inputs: []*tensor.Tensor{s(4, 3), s(4, 5), s(5)}, wrt: []int{0, 1, 2}},
		{name: "Gemm/transB", op: "Gemm", opset: 13, attrs: a(ops.IntAttr("transB", 1)), inputs: []*tensor.Tensor{s(3, 4), s(5, 4), s(3, 1)}, wrt: []int{0, 1, 2}},
		{name: "Gemm/transAB", op: "Gemm", opset: 11, attrs: a(ops.IntAttr("transA", 1), ops.IntAttr("transB", 1), ops.FloatAttr("alpha", -1.2), ops.FloatAttr("beta", 0.5)), inputs: []*tensor.Tensor{s(4, 3), s(5, 4), s()}, wrt: []int{0, 1, 2}},
		{name: "Gemm/noC", op: "Gemm", opset: 13, attrs: a(ops.IntAttr("transB", 1)), inputs: []*tensor.Tensor{s(3, 4), s(5, 4)}, wrt: []int{0, 1}},
		{name: "ReduceSum/attr-keep", op: "ReduceSum", opset: 11, attrs: a(ops.IntsAttr("axes", 1)), inputs: []*tensor.Tensor{s(2, 3, 4)}, wrt: []int{0}},
		{name: "ReduceSum/attr-nokeep", op: "ReduceSum", opset: 11, attrs: a(ops.IntsAttr("axes", 0, -1), ops.IntAttr("keepdims", 0)), inputs: []*tensor.Tensor{s(2, 3, 4)}, wrt: []int{0}},
		{name: "ReduceSum/input-axes", op: "ReduceSum", opset: 13, attrs: a(ops.IntAttr("keepdims", 0)), inputs: []*tensor.Tensor{s(2, 3, 4), i64([]int{1}, 2)}, wrt: []int{0}},
		{name: "ReduceSum/all", op: "ReduceSum", opset: 13, attrs: a(ops.IntAttr("keepdims", 0)), inputs: []*tensor.Tensor{s(2, 3)}, wrt: []int{0}},
		{name: "ReduceSum/noop", op: "ReduceSum", opset: 13, attrs: a(ops.IntAttr("noop_with_empty_axes", 1)), inputs: []*tensor.Tensor{s(2, 3)}, wrt: []int{0}},
		{name: "ReduceMean/attr", op: "ReduceMean", opset: 13, attrs: a(ops.IntsAttr("axes", 1), ops.IntAttr("keepdims", 0)), inputs: []*tensor.Tensor{s(2, 3, 4)}, wrt: []int{0}},
		{name: "ReduceMean/all", op: "ReduceMean", opset: 13, inputs: []*tensor.Tensor{s(2, 3, 4)}, wrt: []int{0}},
		{name: "ReduceMean/input-axes", op: "ReduceMean", opset: 18, inputs: []*tensor.Tensor{s(2, 3, 4), i64([]int{2}, 0, 2)}, wrt: []int{0}},
		{name: "Reshape", op: "Reshape", opset: 14, inputs: []*tensor.Tensor{s(2, 3, 4), i64([]int{2}, 4, -1)}, wrt: []int{0}},
		{name: "Flatten", op: "Flatten", opset: 13, attrs: a(ops.IntAttr("axis", 2)), inputs: []*tensor.Tensor{s(2, 3, 2, 2)}, wrt: []int{0}},
		{name: "Squeeze/attr", op: "Squeeze", opset: 11, attrs: a(ops.IntsAttr("axes", 1)), inputs: []*tensor.Tensor{s(3, 1, 2)}, wrt: []int{0}},
		{name: "Squeeze/input", op: "Squeeze", opset: 13, inputs: []*tensor.Tensor{s(3, 1, 2, 1), i64([]int{1}, -1)}, wrt: []int{0}},
		{name: "Unsqueeze/attr", op: "Unsqueeze", opset: 11, attrs: a(ops.IntsAttr("axes", 0, 3)), inputs: []*tensor.Tensor{s(3, 2)}, wrt: []int{0}},
		{name: "Unsqueeze/input", op: "Unsqueeze", opset: 13, inputs: []*tensor.Tensor{s(3, 2), i64([]int{1}, 1)}, wrt: []int{0}},
		{name: "Transpose/perm", op: "Transpose", opset: 13, attrs: a(ops.IntsAttr("perm", 1, 2, 0)), inputs: []*tensor.Tensor{s(2, 3, 4)}, wrt: []int{0}},
		{name: "Transpose/default", op: "Transpose", opset: 13, inputs: []*tensor.Tensor{s(2, 3, 4)}, wrt: []int{0}},
		{name: "Concat", op: "Concat", opset: 13, attrs: a(ops.IntAttr("axis", 1)), inputs: []*tensor.Tensor{s(2, 1, 3), s(2, 2, 3), s(2, 3, 3)}, wrt: []int{0, 2}},
		{name: "Concat/neg-axis", op: "Concat", opset: 13, attrs: a(ops.IntAttr("axis", -1)), inputs: []*tensor.Tensor{s(2, 2), s(2, 3)}, wrt: []int{0, 1}},
		{name: "Softmax/13", op: "Softmax", opset: 13, attrs: a(ops.IntAttr("axis", 1)), inputs: []*tensor.Tensor{s(2, 3, 4)}, wrt: []int{0}},
		{name: "Softmax/13-default", op: "Softmax", opset: 13, inputs: []*tensor.Tensor{s(2, 3, 4)}, wrt: []int{0}},
		{name: "Softmax/11-coerce", op: "Softmax", opset: 11, attrs: a(ops.IntAttr("axis", 1)), inputs: []*tensor.Tensor{s(2, 3, 4)}, wrt: []int{0}},
		{name: "LogSoftmax/13", op: "LogSoftmax", opset: 13, inputs: []*tensor.Tensor{s(2, 3, 4)}, wrt: []int{0}},
		{name: "LogSoftmax/11-coerce", op: "LogSoftmax", opset: 11, inputs: []*tensor.Tensor{s(3, 2, 2)}, wrt: []int{0}},

		{name: "SCE/mean", op: "SoftmaxCrossEntropyLoss", opset: 13, inputs: []*tensor.Tensor{s(3, 4), i64([]int{3}, 1, 3, 0)}, wrt: []int{0}},
		{name: "SCE/sum+logprob", op: "SoftmaxCrossEntropyLoss", opset: 13, attrs: a(ops.StringAttr("reduction", "sum")), inputs: []*tensor.Tensor{s(3, 4), i64([]int{3}, 1, 3, 0)}, wrt: []int{0}, nOut: 2},
		{name: "SCE/none-weights", op: "SoftmaxCrossEntropyLoss", opset: 13, attrs: a(ops.StringAttr("reduction", "none")), inputs: []*tensor.Tensor{s(3, 4), i64([]int{3}, 1, 3, 0), p(4)}, wrt: []int{0}},
		{name: "SCE/mean-weights-ignore", op: "SoftmaxCrossEntropyLoss", opset: 13, attrs: a(ops.IntAttr("ignore_index", 2)), inputs: []*tensor.Tensor{s(4, 3), i64([]int{4}, 1, 2, 0, 1), p(3)}, wrt: []int{0}},
		{name: "SCE/NCd-logprob-only", op: "SoftmaxCrossEntropyLoss", opset: 12, inputs: []*tensor.Tensor{s(2, 3, 2), i64([]int{2, 2}, 0, 2, 1, 1)}, wrt: []int{0}, nOut: 2, outputs: []int{1}},
		{name: "SCE/NCd-both", op: "SoftmaxCrossEntropyLoss", opset: 13, inputs: []*tensor.Tensor{s(2, 3, 2), i64([]int{2, 2}, 0, 2, 1, 1)}, wrt: []int{0}, nOut: 2},
		{name: "NLL/mean", op: "NegativeLogLikelihoodLoss", opset: 13, inputs: []*tensor.Tensor{s(3, 4), i64([]int{3}, 1, 3, 0)}, wrt: []int{0}},
		{name: "NLL/sum-weights", op: "NegativeLogLikelihoodLoss", opset: 13, attrs: a(ops.StringAttr("reduction", "sum")), inputs: []*tensor.Tensor{s(3, 4), i64([]int{3}, 1, 3, 0), p(4)}, wrt: []int{0}},
		{name: "NLL/none-NCd", op: "NegativeLogLikelihoodLoss", opset: 13, attrs: a(ops.StringAttr("reduction", "none")), inputs: []*tensor.Tensor{s(2, 3, 2), i64([]int{2, 2}, 0, 2, 1, 1)}, wrt: []int{0}},
		{name: "NLL/mean-weights-ignore", op: "NegativeLogLikelihoodLoss", opset: 12, attrs: a(ops.IntAttr("ignore_index", 0)), inputs: []*tensor.Tensor{s(4, 3), i64([]int{4}, 1, 2, 0, 1), p(3)}, wrt: []int{0}},
	}
	return cases
}

func mustCast(t *tensor.Tensor, dt tensor.DType) *tensor.Tensor {
	c, err := t.Cast(dt)
	if err != nil {
		panic(err)
	}
	return c
}

// TestGradCheck checks every gradient rule of grad_elementwise.go and
// grad_linear.go against central finite differences in float64.
func TestGradCheck(t *testing.T) {
	for _, c := range gradCases() {
		t.Run(c.name, func(t *testing.T) {
			var st GradCheckStats
			err := GradCheck(c.op, c.opset, c.attrs, c.inputs, c.wrt, GradCheckOptions{NumOutputs: c.nOut, Outputs: c.outputs, Seed: 7, Stats: &st})
			if err != nil {
				t.Fatal(err)
			}
			t.Logf("%d elements, max abs err %.2g, max rel err %.2g", st.Checked, st.MaxAbsErr, st.MaxRelErr)
		})
	}
}

// TestGradCheckCatchesWrongRule makes sure the checker is not vacuous: a
// registry whose Exp rule is Sigmoid's must fail.
func TestGradCheckCatchesWrongRule(t *testing.T) {
	reg := ops.Default()
	bad := ops.NewRegistry()
	for _, info := range reg.List() {
		for _, v := range info.Versions {
			d, err := reg.Lookup(info.Domain, info.Name, v)
			if err != nil {
				t.Fatal(err)
			}
			if d.Since != v {
				continue
			}
			cp := *d
			if info.Name == "Exp" {
				cp.Grad = wrongExp
			}
			bad.Register(&cp)
		}
	}
	x := randT(rand.New(rand.NewPCG(3, 4)), 0.2, 1, true, 2, 3)
	if err := GradCheck("Exp", 13, nil, []*tensor.Tensor{x}, []int{0}, GradCheckOptions{Registry: bad}); err == nil {
		t.Fatal("a wrong Exp rule passed the gradient check")
	}
}

// wrongExp claims d exp(x)/dx = dy*x.
func wrongExp(g ops.GradContext) error {
	g.SetInputGrad(0, g.Emit("", "Mul", []string{g.OutputGrad(0), g.Input(0)}, 1)[0])
	return nil
}
