package train_test

import (
	"math/rand/v2"
	"testing"

	"github.com/onyxrt/onyx/graph"
	"github.com/onyxrt/onyx/ops"
	"github.com/onyxrt/onyx/tensor"
	"github.com/onyxrt/onyx/train"
)

// TestGradCheckMoreOps checks, end to end through Backward and the
// runtime, one configuration of every operator whose rule lives in
// ops/grad_activation.go, grad_reduce.go, grad_norm.go, grad_pool.go,
// grad_index.go, grad_resize.go, grad_vision.go and grad_signal.go (the
// ops package checks many more configurations with its eager context).
func TestGradCheckMoreOps(t *testing.T) {
	rng := rand.New(rand.NewPCG(8, 3))
	r := func(lo, hi float64, shape ...int) *tensor.Tensor {
		n := 1
		for _, d := range shape {
			n *= d
		}
		v := make([]float64, n)
		for i := range v {
			v[i] = lo + (hi-lo)*rng.Float64()
		}
		return tensor.From(shape, v)
	}
	s := func(shape ...int) *tensor.Tensor { return r(-1, 1, shape...) }
	p := func(shape ...int) *tensor.Tensor { return r(0.5, 1.5, shape...) }
	i64 := func(shape []int, v ...int64) *tensor.Tensor { return tensor.From(shape, v) }
	f32 := func(v ...float32) *tensor.Tensor { return tensor.From([]int{len(v)}, v) }
	a := func(attrs ...*ops.Attr) []*ops.Attr { return attrs }
	str, in, ints, fl := ops.StringAttr, ops.IntAttr, ops.IntsAttr, ops.FloatAttr
	cases := []struct {
		name   string
		op     string
		opset  int
		attrs  []*ops.Attr
		inputs []*tensor.Tensor
		wrt    []int
		nOut   int
	}{
		{name: "Celu", op: "Celu", opset: 12, inputs: []*tensor.Tensor{s(2, 3)}, wrt: []int{0}},
		{name: "Selu", op: "Selu", opset: 6, inputs: []*tensor.Tensor{s(2, 3)}, wrt: []int{0}},
		{name: "Softsign", op: "Softsign", opset: 1, inputs: []*tensor.Tensor{s(2, 3)}, wrt: []int{0}},
		{name: "HardSigmoid", op: "HardSigmoid", opset: 6, inputs: []*tensor.Tensor{r(-4, 4, 2, 3)}, wrt: []int{0}},
		{name: "HardSwish", op: "HardSwish", opset: 14, inputs: []*tensor.Tensor{r(-4, 4, 2, 3)}, wrt: []int{0}},
		{name: "Mish", op: "Mish", opset: 18, inputs: []*tensor.Tensor{s(2, 3)}, wrt: []int{0}},
		{name: "Gelu", op: "Gelu", opset: 20, attrs: a(str("approximate", "tanh")), inputs: []*tensor.Tensor{s(2, 3)}, wrt: []int{0}},
		{name: "ThresholdedRelu", op: "ThresholdedRelu", opset: 10, attrs: a(fl("alpha", 0.1)), inputs: []*tensor.Tensor{s(2, 3)}, wrt: []int{0}},
		{name: "Shrink", op: "Shrink", opset: 9, attrs: a(fl("lambd", 0.3), fl("bias", 0.1)), inputs: []*tensor.Tensor{s(2, 3)}, wrt: []int{0}},
		{name: "Erf", op: "Erf", opset: 13, inputs: []*tensor.Tensor{s(2, 3)}, wrt: []int{0}},
		{name: "Sin", op: "Sin", opset: 7, inputs: []*tensor.Tensor{s(4)}, wrt: []int{0}},
		{name: "Cos", op: "Cos", opset: 7, inputs: []*tensor.Tensor{s(4)}, wrt: []int{0}},
		{name: "Tan", op: "Tan", opset: 7, inputs: []*tensor.Tensor{s(4)}, wrt: []int{0}},
		{name: "Asin", op: "Asin", opset: 7, inputs: []*tensor.Tensor{r(-0.9, 0.9, 4)}, wrt: []int{0}},
		{name: "Acos", op: "Acos", opset: 7, inputs: []*tensor.Tensor{r(-0.9, 0.9, 4)}, wrt: []int{0}},
		{name: "Atan", op: "Atan", opset: 7, inputs: []*tensor.Tensor{s(4)}, wrt: []int{0}},
		{name: "Sinh", op: "Sinh", opset: 9, inputs: []*tensor.Tensor{s(4)}, wrt: []int{0}},
		{name: "Cosh", op: "Cosh", opset: 9, inputs: []*tensor.Tensor{s(4)}, wrt: []int{0}},
		{name: "Asinh", op: "Asinh", opset: 9, inputs: []*tensor.Tensor{s(4)}, wrt: []int{0}},
		{name: "Acosh", op: "Acosh", opset: 9, inputs: []*tensor.Tensor{r(1.5, 3, 4)}, wrt: []int{0}},
		{name: "Atanh", op: "Atanh", opset: 9, inputs: []*tensor.Tensor{r(-0.9, 0.9, 4)}, wrt: []int{0}},
		{name: "PRelu", op: "PRelu", opset: 16, inputs: []*tensor.Tensor{s(2, 3, 2), s(3, 1)}, wrt: []int{0, 1}},
		{name: "CastLike/f32-like-f64", op: "CastLike", opset: 15, inputs: []*tensor.Tensor{mustCast(s(2, 3), tensor.Float32), f32(0)}, wrt: []int{0}},
		{name: "Mod", op: "Mod", opset: 13, attrs: a(in("fmod", 1)), inputs: []*tensor.Tensor{r(-4, 4, 2, 3), r(0.7, 1.3, 3)}, wrt: []int{0, 1}},

		{name: "ReduceL1", op: "ReduceL1", opset: 13, attrs: a(ints("axes", 1)), inputs: []*tensor.Tensor{s(2, 3, 2)}, wrt: []int{0}},
		{name: "ReduceL2", op: "ReduceL2", opset: 18, inputs: []*tensor.Tensor{s(2, 3, 2), i64([]int{1}, 0)}, wrt: []int{0}},
		{name: "ReduceLogSum", op: "ReduceLogSum", opset: 13, attrs: a(in("keepdims", 0)), inputs: []*tensor.Tensor{p(2, 3)}, wrt: []int{0}},
		{name: "ReduceLogSumExp", op: "ReduceLogSumExp", opset: 13, attrs: a(ints("axes", -1)), inputs: []*tensor.Tensor{s(2, 3)}, wrt: []int{0}},
		{name: "ReduceMax", op: "ReduceMax", opset: 18, attrs: a(in("keepdims", 0)), inputs: []*tensor.Tensor{s(2, 3, 2), i64([]int{2}, 0, 2)}, wrt: []int{0}},
		{name: "ReduceMin", op: "ReduceMin", opset: 13, attrs: a(ints("axes", 0)), inputs: []*tensor.Tensor{s(3, 2)}, wrt: []int{0}},
		{name: "ReduceProd", op: "ReduceProd", opset: 13, attrs: a(ints("axes", 1)), inputs: []*tensor.Tensor{s(2, 3)}, wrt: []int{0}},
		{name: "ReduceSumSquare", op: "ReduceSumSquare", opset: 13, inputs: []*tensor.Tensor{s(2, 3)}, wrt: []int{0}},
		{name: "CumSum", op: "CumSum", opset: 14, attrs: a(in("exclusive", 1)), inputs: []*tensor.Tensor{s(3, 4), i64(nil, 1)}, wrt: []int{0}},
		{name: "TopK/values-only", op: "TopK", opset: 11, inputs: []*tensor.Tensor{s(2, 5), i64([]int{1}, 2)}, wrt: []int{0}},
		{name: "TopK/with-indices", op: "TopK", opset: 11, inputs: []*tensor.Tensor{s(2, 5), i64([]int{1}, 3)}, wrt: []int{0}, nOut: 2},
		{name: "Einsum", op: "Einsum", opset: 12, attrs: a(str("equation", "bij,jk->bik")), inputs: []*tensor.Tensor{s(2, 2, 3), s(3, 2)}, wrt: []int{0, 1}},
		{name: "Det", op: "Det", opset: 11, inputs: []*tensor.Tensor{s(2, 3, 3)}, wrt: []int{0}},

		{name: "InstanceNormalization", op: "InstanceNormalization", opset: 6, inputs: []*tensor.Tensor{s(2, 3, 4), s(3), s(3)}, wrt: []int{0, 1, 2}},
		{name: "GroupNormalization", op: "GroupNormalization", opset: 18, attrs: a(in("num_groups", 2)), inputs: []*tensor.Tensor{s(2, 4, 3), s(2), s(2)}, wrt: []int{0, 1, 2}},
		{name: "LRN", op: "LRN", opset: 13, attrs: a(in("size", 3)), inputs: []*tensor.Tensor{s(1, 4, 2, 2)}, wrt: []int{0}},
		{name: "LpNormalization", op: "LpNormalization", opset: 1, inputs: []*tensor.Tensor{s(3, 4)}, wrt: []int{0}},
		{name: "MeanVarianceNormalization", op: "MeanVarianceNormalization", opset: 13, inputs: []*tensor.Tensor{s(2, 2, 2, 2)}, wrt: []int{0}},

		{name: "LpPool", op: "LpPool", opset: 18, attrs: a(ints("kernel_shape", 2, 2)), inputs: []*tensor.Tensor{s(1, 2, 3, 3)}, wrt: []int{0}},
		{name: "GlobalLpPool", op: "GlobalLpPool", opset: 2, inputs: []*tensor.Tensor{s(1, 2, 3, 3)}, wrt: []int{0}},
		{name: "MaxRoiPool", op: "MaxRoiPool", opset: 1, attrs: a(ints("pooled_shape", 2, 2)),
			inputs: []*tensor.Tensor{s(1, 1, 5, 5), tensor.From([]int{1, 5}, []float64{0, 0, 1, 4, 4})}, wrt: []int{0}},
		{name: "RoiAlign", op: "RoiAlign", opset: 16, attrs: a(in("output_height", 2), in("output_width", 2)),
			inputs: []*tensor.Tensor{s(1, 1, 5, 5), tensor.From([]int{1, 4}, []float64{0.5, 0.4, 3.7, 4.2}), i64([]int{1}, 0)}, wrt: []int{0}},
		{name: "MaxUnpool", op: "MaxUnpool", opset: 11, attrs: a(ints("kernel_shape", 2, 2), ints("strides", 2, 2)),
			inputs: []*tensor.Tensor{s(1, 1, 2, 2), i64([]int{1, 1, 2, 2}, 1, 2, 12, 15)}, wrt: []int{0}},

		{name: "GatherElements", op: "GatherElements", opset: 13, attrs: a(in("axis", 1)),
			inputs: []*tensor.Tensor{s(2, 3), i64([]int{2, 2}, 0, 2, 1, 1)}, wrt: []int{0}},
		{name: "GatherND", op: "GatherND", opset: 13, inputs: []*tensor.Tensor{s(3, 2), i64([]int{2, 1}, 2, 0)}, wrt: []int{0}},
		{name: "ScatterElements/add", op: "ScatterElements", opset: 18, attrs: a(str("reduction", "add")),
			inputs: []*tensor.Tensor{s(3, 2), i64([]int{2, 2}, 0, 2, 0, 1), s(2, 2)}, wrt: []int{0, 2}},
		{name: "Scatter", op: "Scatter", opset: 9, inputs: []*tensor.Tensor{s(3, 2), i64([]int{1, 2}, 2, 0), s(1, 2)}, wrt: []int{0, 2}},
		{name: "ScatterND/mul", op: "ScatterND", opset: 18, attrs: a(str("reduction", "mul")),
			inputs: []*tensor.Tensor{s(3, 2), i64([]int{2, 1}, 1, 1), s(2, 2)}, wrt: []int{0, 2}},
		{name: "Compress", op: "Compress", opset: 11, attrs: a(in("axis", 0)),
			inputs: []*tensor.Tensor{s(3, 2), tensor.From([]int{3}, []bool{true, false, true})}, wrt: []int{0}},
		{name: "ReverseSequence", op: "ReverseSequence", opset: 10, inputs: []*tensor.Tensor{s(3, 2, 2), i64([]int{2}, 3, 2)}, wrt: []int{0}},
		{name: "Trilu", op: "Trilu", opset: 14, attrs: a(in("upper", 0)), inputs: []*tensor.Tensor{s(3, 3)}, wrt: []int{0}},
		{name: "DepthToSpace/CRD", op: "DepthToSpace", opset: 13, attrs: a(in("blocksize", 2), str("mode", "CRD")), inputs: []*tensor.Tensor{s(1, 8, 1, 2)}, wrt: []int{0}},
		{name: "SpaceToDepth", op: "SpaceToDepth", opset: 13, attrs: a(in("blocksize", 2)), inputs: []*tensor.Tensor{s(1, 2, 2, 4)}, wrt: []int{0}},
		{name: "CenterCropPad", op: "CenterCropPad", opset: 18, inputs: []*tensor.Tensor{s(3, 4), i64([]int{2}, 5, 2)}, wrt: []int{0}},
		{name: "Col2Im", op: "Col2Im", opset: 18, inputs: []*tensor.Tensor{s(1, 4, 4), i64([]int{2}, 3, 3), i64([]int{2}, 2, 2)}, wrt: []int{0}},

		{name: "Resize/linear", op: "Resize", opset: 13, attrs: a(str("mode", "linear")), inputs: []*tensor.Tensor{s(1, 1, 2, 3), nil, f32(1, 1, 1.5, 2)}, wrt: []int{0}},
		{name: "Resize/cubic-sizes", op: "Resize", opset: 13, attrs: a(str("mode", "cubic")), inputs: []*tensor.Tensor{s(1, 1, 3, 3), nil, nil, i64([]int{4}, 1, 1, 4, 2)}, wrt: []int{0}},
		{name: "Upsample", op: "Upsample", opset: 9, inputs: []*tensor.Tensor{s(1, 1, 2, 2), f32(1, 1, 2, 2)}, wrt: []int{0}},

		{name: "GridSample", op: "GridSample", opset: 16, attrs: a(str("padding_mode", "border")),
			inputs: []*tensor.Tensor{s(1, 2, 3, 3), r(-1.1, 1.1, 1, 2, 2, 2)}, wrt: []int{0, 1}},
		{name: "AffineGrid", op: "AffineGrid", opset: 20, inputs: []*tensor.Tensor{s(1, 2, 3), i64([]int{4}, 1, 1, 2, 3)}, wrt: []int{0}},
		{name: "DeformConv", op: "DeformConv", opset: 19,
			inputs: []*tensor.Tensor{s(1, 1, 3, 3), s(1, 1, 2, 2), r(-0.7, 0.7, 1, 8, 2, 2), s(1), p(1, 4, 2, 2)}, wrt: []int{0, 1, 2, 3, 4}},

		{name: "DFT", op: "DFT", opset: 17, attrs: a(in("onesided", 1)), inputs: []*tensor.Tensor{s(1, 6, 1)}, wrt: []int{0}},
		{name: "STFT", op: "STFT", opset: 17, inputs: []*tensor.Tensor{s(1, 8), i64(nil, 2), p(4)}, wrt: []int{0, 2}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var st train.GradCheckStats
			if err := train.GradCheck(c.op, c.opset, c.attrs, c.inputs, c.wrt, train.GradCheckOptions{NumOutputs: c.nOut, Outputs: firstOutput(c.nOut), Seed: 5, Stats: &st}); err != nil {
				t.Fatal(err)
			}
			t.Logf("%d elements, max abs err %.2g", st.Checked, st.MaxAbsErr)
		})
	}
}

// firstOutput makes the loss read output 0 only when the node has more.
func firstOutput(n int) []int {
	if n > 1 {
		return []int{0}
	}
	return nil
}

func mustCast(t *tensor.Tensor, dt tensor.DType) *tensor.Tensor {
	c, err := t.Cast(dt)
	if err != nil {
		panic(err)
	}
	return c
}

// TestGradCheckDequantizeLinear checks the gradient with respect to the
// (float32) scale in float32.
func TestGradCheckDequantizeLinear(t *testing.T) {
	x := tensor.From([]int{2, 3}, []int8{1, -2, 3, 4, 0, -6})
	for _, c := range []struct {
		name  string
		opset int
		attrs []*ops.Attr
		scale *tensor.Tensor
	}{
		{"per-tensor", 13, nil, tensor.From([]int{}, []float32{0.3})},
		{"per-axis", 13, []*ops.Attr{ops.IntAttr("axis", 1)}, tensor.From([]int{3}, []float32{0.5, 1.5, 0.25})},
		{"blocked", 21, []*ops.Attr{ops.IntAttr("axis", 1), ops.IntAttr("block_size", 2)}, tensor.From([]int{2, 2}, []float32{0.5, 1.5, 0.25, 2})},
	} {
		t.Run(c.name, func(t *testing.T) {
			zp := tensor.From(c.scale.Shape(), make([]int8, c.scale.Len()))
			if err := train.GradCheck("DequantizeLinear", c.opset, c.attrs, []*tensor.Tensor{x, c.scale, zp}, []int{1}, train.GradCheckOptions{Seed: 3}); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// TestBackwardThroughSequence: SequenceConstruct then SequenceAt, which
// had no gradient rule before sequence-valued gradients (they now pass
// the gradient through; the finite-difference checks of every sequence
// rule are in grad_control_test.go).
func TestBackwardThroughSequence(t *testing.T) {
	x := tensor.From([]int{2}, []float64{1, 2})
	g := &graph.Graph{Name: "seq", Nodes: []*graph.Node{
		{Name: "mk", OpType: "SequenceConstruct", Inputs: []string{"w"}, Outputs: []string{"seq"}},
		{Name: "at", OpType: "SequenceAt", Inputs: []string{"seq", "zero"}, Outputs: []string{"y"}},
		{Name: "sum", OpType: "ReduceSum", Inputs: []string{"y"}, Outputs: []string{"loss"}, Attrs: []*ops.Attr{ops.IntAttr("keepdims", 0)}},
	}}
	g.AddInitializer("w", x)
	g.AddInitializer("zero", tensor.From(nil, []int64{0}))
	g.Outputs = []graph.ValueInfo{{Name: "loss", Type: graph.Type{Kind: graph.KindTensor}}}
	m := &graph.Model{IRVersion: 8, Opsets: []graph.OpsetImport{{Domain: "", Version: 17}}, Graph: g}
	if err := train.CheckModelGradient(m, "loss", []string{"w"}, train.GradCheckOptions{}); err != nil {
		t.Fatal(err)
	}
}
