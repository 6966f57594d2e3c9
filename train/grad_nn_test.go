package train_test

import (
	"math/rand/v2"
	"testing"

	"github.com/onyxrt/onyx/graph"
	"github.com/onyxrt/onyx/ops"
	"github.com/onyxrt/onyx/tensor"
	"github.com/onyxrt/onyx/train"
)

// TestGradCheckNN checks the gradient rules of the CNN and layout operators
// (ops/grad_nn.go, ops/grad_shape.go) end to end: Backward emits their
// backward kernels, the runtime runs them, and GradCheck compares with
// finite differences of the forward operator.
func TestGradCheckNN(t *testing.T) {
	rng := rand.New(rand.NewPCG(4, 2))
	r := func(shape ...int) *tensor.Tensor {
		n := 1
		for _, d := range shape {
			n *= d
		}
		v := make([]float64, n)
		for i := range v {
			v[i] = 2*rng.Float64() - 1
		}
		return tensor.From(shape, v)
	}
	pos := func(shape ...int) *tensor.Tensor {
		t := r(shape...)
		for i, v := range tensor.Data[float64](t) {
			if v < 0 {
				v = -v
			}
			tensor.Data[float64](t)[i] = 0.5 + v
		}
		return t
	}
	i64 := func(shape []int, v ...int64) *tensor.Tensor { return tensor.From(shape, v) }
	a := func(attrs ...*ops.Attr) []*ops.Attr { return attrs }
	ints := ops.IntsAttr
	on := tensor.From(nil, []bool{true})
	cases := []struct {
		name    string
		op      string
		opset   int
		attrs   []*ops.Attr
		inputs  []*tensor.Tensor
		wrt     []int
		nOut    int
		outputs []int
	}{
		{name: "Conv/pads", op: "Conv", opset: 11, attrs: a(ints("pads", 1, 1, 1, 1)),
			inputs: []*tensor.Tensor{r(2, 3, 5, 5), r(4, 3, 3, 3), r(4)}, wrt: []int{0, 1, 2}},
		{name: "Conv/group/stride/dilation/asym-pads", op: "Conv", opset: 11,
			attrs:  a(ops.IntAttr("group", 2), ints("strides", 2, 2), ints("dilations", 2, 1), ints("pads", 1, 0, 2, 1)),
			inputs: []*tensor.Tensor{r(2, 4, 7, 6), r(6, 2, 3, 2), r(6)}, wrt: []int{0, 1, 2}},
		{name: "Conv/1d", op: "Conv", opset: 11, attrs: a(ints("strides", 2), ints("pads", 1, 2), ints("dilations", 2)),
			inputs: []*tensor.Tensor{r(2, 2, 9), r(3, 2, 3), r(3)}, wrt: []int{0, 1, 2}},
		{name: "Conv/3d", op: "Conv", opset: 11, attrs: a(ints("strides", 1, 2, 1), ints("pads", 0, 1, 1, 1, 0, 0)),
			inputs: []*tensor.Tensor{r(1, 2, 4, 5, 3), r(2, 2, 2, 3, 2)}, wrt: []int{0, 1}},
		{name: "Conv/same-upper/weights-only", op: "Conv", opset: 11, attrs: a(ops.StringAttr("auto_pad", "SAME_UPPER"), ints("strides", 2, 2)),
			inputs: []*tensor.Tensor{r(1, 2, 6, 7), r(3, 2, 3, 3), r(3)}, wrt: []int{1, 2}},
		{name: "ConvTranspose/stride/pads/output_padding", op: "ConvTranspose", opset: 11,
			attrs:  a(ints("strides", 2, 2), ints("pads", 1, 0, 0, 1), ints("output_padding", 1, 0)),
			inputs: []*tensor.Tensor{r(2, 3, 3, 4), r(3, 2, 3, 3), r(2)}, wrt: []int{0, 1, 2}},
		{name: "ConvTranspose/group/dilation", op: "ConvTranspose", opset: 11, attrs: a(ops.IntAttr("group", 2), ints("dilations", 2, 1)),
			inputs: []*tensor.Tensor{r(1, 4, 3, 3), r(4, 1, 2, 2), r(2)}, wrt: []int{0, 1, 2}},
		{name: "MaxPool/pads/strides", op: "MaxPool", opset: 12, attrs: a(ints("kernel_shape", 3, 3), ints("strides", 2, 2), ints("pads", 1, 1, 1, 1)),
			inputs: []*tensor.Tensor{r(2, 2, 7, 7)}, wrt: []int{0}},
		{name: "MaxPool/ceil", op: "MaxPool", opset: 12, attrs: a(ints("kernel_shape", 3, 3), ints("strides", 2, 2), ops.IntAttr("ceil_mode", 1)),
			inputs: []*tensor.Tensor{r(1, 2, 6, 6)}, wrt: []int{0}},
		{name: "MaxPool/dilations", op: "MaxPool", opset: 12, attrs: a(ints("kernel_shape", 2, 2), ints("dilations", 2, 2)),
			inputs: []*tensor.Tensor{r(1, 1, 7, 8)}, wrt: []int{0}},
		{name: "MaxPool/3d", op: "MaxPool", opset: 12, attrs: a(ints("kernel_shape", 2, 2, 2), ints("strides", 2, 1, 2), ints("pads", 1, 0, 0, 0, 1, 1)),
			inputs: []*tensor.Tensor{r(1, 2, 4, 5, 4)}, wrt: []int{0}},
		{name: "AveragePool/exclude-pad", op: "AveragePool", opset: 11, attrs: a(ints("kernel_shape", 3, 3), ints("strides", 2, 2), ints("pads", 1, 1, 1, 1)),
			inputs: []*tensor.Tensor{r(2, 2, 6, 7)}, wrt: []int{0}},
		{name: "AveragePool/include-pad/ceil", op: "AveragePool", opset: 11,
			attrs:  a(ints("kernel_shape", 3, 3), ints("strides", 2, 2), ints("pads", 1, 1, 1, 1), ops.IntAttr("ceil_mode", 1), ops.IntAttr("count_include_pad", 1)),
			inputs: []*tensor.Tensor{r(1, 1, 6, 6)}, wrt: []int{0}},
		{name: "AveragePool/1d/dilations", op: "AveragePool", opset: 19, attrs: a(ints("kernel_shape", 2), ints("dilations", 3), ints("pads", 1, 1)),
			inputs: []*tensor.Tensor{r(2, 2, 8)}, wrt: []int{0}},
		{name: "GlobalAveragePool", op: "GlobalAveragePool", opset: 1, inputs: []*tensor.Tensor{r(2, 3, 4, 5)}, wrt: []int{0}},
		{name: "GlobalMaxPool", op: "GlobalMaxPool", opset: 1, inputs: []*tensor.Tensor{r(2, 3, 4, 5)}, wrt: []int{0}},
		{name: "BatchNormalization/training", op: "BatchNormalization", opset: 15, attrs: a(ops.IntAttr("training_mode", 1), ops.FloatAttr("epsilon", 1e-3)),
			inputs: []*tensor.Tensor{r(4, 3, 2, 2), r(3), r(3), r(3), pos(3)}, wrt: []int{0, 1, 2}},
		{name: "BatchNormalization/training/rank2", op: "BatchNormalization", opset: 14, attrs: a(ops.IntAttr("training_mode", 1)),
			inputs: []*tensor.Tensor{r(6, 4), r(4), r(4), r(4), pos(4)}, wrt: []int{0, 1, 2}},
		{name: "BatchNormalization/inference", op: "BatchNormalization", opset: 15,
			inputs: []*tensor.Tensor{r(2, 3, 2, 2), r(3), r(3), r(3), pos(3)}, wrt: []int{0, 1, 2, 3, 4}},
		{name: "LayerNormalization/last-axis", op: "LayerNormalization", opset: 17,
			inputs: []*tensor.Tensor{r(3, 4, 5), r(5), r(5)}, wrt: []int{0, 1, 2}},
		{name: "LayerNormalization/axis1/broadcast-bias", op: "LayerNormalization", opset: 17, attrs: a(ops.IntAttr("axis", 1)),
			inputs: []*tensor.Tensor{r(2, 3, 4), r(3, 4), r(4)}, wrt: []int{0, 1, 2}},
		{name: "Dropout/training/seed", op: "Dropout", opset: 13, attrs: a(ops.IntAttr("seed", 5)),
			inputs: []*tensor.Tensor{r(3, 7), tensor.From(nil, []float64{0.3}), on}, wrt: []int{0}},
		{name: "Dropout/inference", op: "Dropout", opset: 10, inputs: []*tensor.Tensor{r(2, 3)}, wrt: []int{0}},
		{name: "Gather/embedding", op: "Gather", opset: 13,
			inputs: []*tensor.Tensor{r(5, 3), i64([]int{2, 4}, 1, 4, 1, -1, 0, 1, 2, 2)}, wrt: []int{0}},
		{name: "Gather/axis1", op: "Gather", opset: 13, attrs: a(ops.IntAttr("axis", 1)),
			inputs: []*tensor.Tensor{r(2, 4, 3), i64([]int{3}, 3, 0, 3)}, wrt: []int{0}},
		{name: "Slice/steps", op: "Slice", opset: 13,
			inputs: []*tensor.Tensor{r(4, 5, 6), i64([]int{2}, 1, -5), i64([]int{2}, 3, 100), i64([]int{2}, 0, 2), i64([]int{2}, 1, 2)}, wrt: []int{0}},
		{name: "Slice/negative-step", op: "Slice", opset: 13,
			inputs: []*tensor.Tensor{r(3, 7), i64([]int{1}, -1), i64([]int{1}, -100), i64([]int{1}, 1), i64([]int{1}, -2)}, wrt: []int{0}},
		{name: "Slice/attrs", op: "Slice", opset: 1, attrs: a(ints("starts", 0, 1), ints("ends", 2, 3), ints("axes", 1, 2)),
			inputs: []*tensor.Tensor{r(2, 3, 4)}, wrt: []int{0}},
		{name: "Pad/constant/crop/value", op: "Pad", opset: 13,
			inputs: []*tensor.Tensor{r(3, 4), i64([]int{4}, 1, -1, 2, 1), tensor.From(nil, []float64{0.5})}, wrt: []int{0, 2}},
		{name: "Pad/reflect", op: "Pad", opset: 13, attrs: a(ops.StringAttr("mode", "reflect")),
			inputs: []*tensor.Tensor{r(3, 4), i64([]int{4}, 2, 3, 1, 2)}, wrt: []int{0}},
		{name: "Pad/edge/attrs", op: "Pad", opset: 2, attrs: a(ints("pads", 0, 2, 1, 3), ops.StringAttr("mode", "edge")),
			inputs: []*tensor.Tensor{r(2, 3)}, wrt: []int{0}},
		{name: "Expand", op: "Expand", opset: 13, inputs: []*tensor.Tensor{r(3, 1), i64([]int{3}, 2, 1, 4)}, wrt: []int{0}},
		{name: "Tile", op: "Tile", opset: 13, inputs: []*tensor.Tensor{r(1, 2, 2), i64([]int{3}, 3, 1, 2)}, wrt: []int{0}},
		{name: "Split/partial", op: "Split", opset: 13, attrs: a(ops.IntAttr("axis", 1)), nOut: 3, outputs: []int{0, 2},
			inputs: []*tensor.Tensor{r(2, 6, 3), i64([]int{3}, 2, 3, 1)}, wrt: []int{0}},
		{name: "Split/num_outputs", op: "Split", opset: 18, attrs: a(ops.IntAttr("num_outputs", 3)), nOut: 3,
			inputs: []*tensor.Tensor{r(7, 2)}, wrt: []int{0}},
	}
	for ci, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var st train.GradCheckStats
			err := train.GradCheck(c.op, c.opset, c.attrs, c.inputs, c.wrt, train.GradCheckOptions{
				NumOutputs: c.nOut, Outputs: c.outputs, Seed: uint64(ci), Stats: &st,
			})
			if err != nil {
				t.Fatal(err)
			}
			t.Logf("%d elements, max abs error %.2e, max rel error %.2e", st.Checked, st.MaxAbsErr, st.MaxRelErr)
		})
	}
}

// TestGradCheckSmallCNN checks Backward on whole models built from these
// operators, so that their rules compose (shared inputs, gradient sums):
// a small CNN with batch normalization in training mode, and an embedding
// model with layer normalization and layout operators.
func TestGradCheckSmallCNN(t *testing.T) {
	rng := rand.New(rand.NewPCG(9, 9))
	r := func(scale float64, shape ...int) *tensor.Tensor {
		n := 1
		for _, d := range shape {
			n *= d
		}
		v := make([]float64, n)
		for i := range v {
			v[i] = scale * (2*rng.Float64() - 1)
		}
		return tensor.From(shape, v)
	}
	ones := func(n int) *tensor.Tensor {
		v := make([]float64, n)
		for i := range v {
			v[i] = 1
		}
		return tensor.From([]int{n}, v)
	}
	ints := ops.IntsAttr
	node := func(op string, in []string, out string, attrs ...*ops.Attr) *graph.Node {
		return &graph.Node{Name: out, OpType: op, Inputs: in, Outputs: []string{out}, Attrs: attrs}
	}
	t.Run("cnn", func(t *testing.T) {
		g := &graph.Graph{Name: "cnn", Nodes: []*graph.Node{
			node("Conv", []string{"x", "W1", "B1"}, "c1", ints("pads", 1, 1, 1, 1)),
			node("BatchNormalization", []string{"c1", "gamma", "beta", "mean", "var"}, "bn", ops.IntAttr("training_mode", 1)),
			node("Relu", []string{"bn"}, "r1"),
			node("MaxPool", []string{"r1"}, "p1", ints("kernel_shape", 2, 2), ints("strides", 2, 2)),
			node("Conv", []string{"p1", "W2"}, "c2", ops.IntAttr("group", 3), ints("pads", 1, 1, 1, 1), ints("strides", 2, 2)),
			node("Pad", []string{"c2", "pads"}, "pd"),
			node("AveragePool", []string{"pd"}, "ap", ints("kernel_shape", 2, 2)),
			node("GlobalMaxPool", []string{"c2"}, "ap2"),
			node("Add", []string{"ap", "ap2"}, "sum"),
			node("GlobalAveragePool", []string{"sum"}, "gp"),
			node("Flatten", []string{"gp"}, "f"),
			node("Gemm", []string{"f", "W3", "B3"}, "logits"),
			node("Mul", []string{"logits", "R"}, "proj"),
			node("ReduceSum", []string{"proj"}, "loss", ops.IntAttr("keepdims", 0)),
		}}
		for name, v := range map[string]*tensor.Tensor{
			"x": r(1, 4, 2, 6, 6), "W1": r(0.5, 3, 2, 3, 3), "B1": r(0.1, 3), "gamma": r(1, 3), "beta": r(1, 3),
			"mean": r(1, 3), "var": ones(3), "W2": r(0.5, 3, 1, 3, 3), "pads": tensor.From([]int{8}, []int64{0, 0, 1, 0, 0, 0, 0, 1}),
			"W3": r(0.5, 3, 4), "B3": r(0.1, 4), "R": r(1, 4, 4),
		} {
			g.AddInitializer(name, v)
		}
		g.Outputs = []graph.ValueInfo{{Name: "loss", Type: graph.Type{Kind: graph.KindTensor}}}
		m := &graph.Model{IRVersion: 8, Opsets: []graph.OpsetImport{{Domain: "", Version: 17}}, Graph: g}
		var st train.GradCheckStats
		if err := train.CheckModelGradient(m, "loss", []string{"W1", "B1", "gamma", "beta", "W2", "W3", "B3"}, train.GradCheckOptions{Stats: &st}); err != nil {
			t.Fatal(err)
		}
		t.Logf("%d elements, max abs error %.2e, max rel error %.2e", st.Checked, st.MaxAbsErr, st.MaxRelErr)
	})
	t.Run("embedding", func(t *testing.T) {
		g := &graph.Graph{Name: "emb", Nodes: []*graph.Node{
			node("Gather", []string{"E", "ids"}, "e"),
			node("LayerNormalization", []string{"e", "ln_s", "ln_b"}, "ln"),
			&graph.Node{Name: "split", OpType: "Split", Inputs: []string{"ln", "split"}, Outputs: []string{"a", "b"}, Attrs: []*ops.Attr{ops.IntAttr("axis", -1)}},
			node("Mul", []string{"a", "b"}, "ab"),
			node("Slice", []string{"ab", "st", "en", "ax"}, "sl"),
			node("Tile", []string{"sl", "reps"}, "tl"),
			node("Expand", []string{"E2", "shape"}, "ex"),
			node("Add", []string{"tl", "ex"}, "s"),
			node("Dropout", []string{"s", "ratio", "train"}, "d", ops.IntAttr("seed", 1)),
			node("Mul", []string{"d", "R"}, "proj"),
			node("ReduceSum", []string{"proj"}, "loss", ops.IntAttr("keepdims", 0)),
		}}
		for name, v := range map[string]*tensor.Tensor{
			"E": r(1, 6, 4), "ids": tensor.From([]int{2, 3}, []int64{0, 5, 2, 2, -1, 3}), "ln_s": r(1, 4), "ln_b": r(1, 4),
			"split": tensor.From([]int{2}, []int64{2, 2}), "st": tensor.From([]int{1}, []int64{1}), "en": tensor.From([]int{1}, []int64{3}),
			"ax": tensor.From([]int{1}, []int64{1}), "reps": tensor.From([]int{3}, []int64{1, 2, 2}), "E2": r(1, 4, 1),
			"shape": tensor.From([]int{3}, []int64{2, 4, 4}), "ratio": tensor.From(nil, []float64{0.25}), "train": tensor.From(nil, []bool{true}),
			"R": r(1, 2, 4, 4),
		} {
			g.AddInitializer(name, v)
		}
		g.Outputs = []graph.ValueInfo{{Name: "loss", Type: graph.Type{Kind: graph.KindTensor}}}
		m := &graph.Model{IRVersion: 8, Opsets: []graph.OpsetImport{{Domain: "", Version: 17}}, Graph: g}
		var st train.GradCheckStats
		if err := train.CheckModelGradient(m, "loss", []string{"E", "ln_s", "ln_b", "E2"}, train.GradCheckOptions{Stats: &st}); err != nil {
			t.Fatal(err)
		}
		t.Logf("%d elements, max abs error %.2e, max rel error %.2e", st.Checked, st.MaxAbsErr, st.MaxRelErr)
	})
}
