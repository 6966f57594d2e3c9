package graph_test

import (
	"testing"

	"github.com/onyxrt/onyx/graph"
	"github.com/onyxrt/onyx/onnx"
	"github.com/onyxrt/onyx/ops"
	"github.com/onyxrt/onyx/tensor"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestFuseConv checks the Conv+Add(+activation) and Conv+MaxPool
// fusions: the node types they leave, and that the outputs do not change
// (compare runs the graph with and without the passes).
func TestFuseConv(t *testing.T) {
	weights := func(g *graph.Graph) {
		g.AddInitializer("w", tensor.From([]int{4, 3, 3, 3}, wave(108, 0.37, 0.4)))  // 3 -> 4 channels, 3×3
		g.AddInitializer("w1", tensor.From([]int{4, 3, 1, 1}, wave(12, 0.37, 0.7)))  // 1×1
		g.AddInitializer("w2", tensor.From([]int{4, 4, 3, 3}, wave(144, 0.37, 0.3))) // 4 -> 4
		g.AddInitializer("wg", tensor.From([]int{6, 1, 3, 3}, wave(54, 0.37, 0.5)))  // 3 groups of 1 -> 2
		g.AddInitializer("b", tensor.From([]int{4}, []float32{0.1, -0.2, 0.3, -0.05}))
		g.AddInitializer("bg", tensor.From([]int{6}, wave(6, 0.37, 0.2)))
		g.AddInitializer("zc", tensor.From([]int{4, 1, 1}, []float32{0.5, -0.5, 0.25, 0})) // broadcasts
		g.AddInitializer("lo", tensor.Scalar[float32](-0.2))
		g.AddInitializer("s0", tensor.From([]int{1}, []int64{0}))
		g.AddInitializer("s1", tensor.From([]int{1}, []int64{1}))
		g.AddInitializer("s4", tensor.From([]int{1}, []int64{4}))
		g.AddInitializer("hi", tensor.Scalar[float32](0.3))
		g.AddInitializer("bnscale", tensor.From([]int{4}, []float32{1.5, 0.5, 1, 2}))
		g.AddInitializer("bnbias", tensor.From([]int{4}, []float32{0.1, 0, -0.1, 0.2}))
		g.AddInitializer("bnmean", tensor.From([]int{4}, []float32{0, 0.1, -0.1, 0.05}))
		g.AddInitializer("bnvar", tensor.From([]int{4}, []float32{1, 0.5, 2, 0.25}))
	}
	ints := func(name string, v ...int64) *ops.Attr { return &ops.Attr{Name: name, Type: ops.AttrInts, Ints: v} }
	pads1 := ints("pads", 1, 1, 1, 1)
	// x2 has the shape of the convolutions' output (4 channels of x's
	// plane) and is computed after the Conv that takes it as Z, so that
	// the pass must run the FusedConv where the Add was.
	x2 := func() []*graph.Node {
		return []*graph.Node{node("Relu", []string{"x"}, "x3"), node("Conv", []string{"x3", "w1", "b"}, "x2")}
	}
	with := func(first *graph.Node, rest ...*graph.Node) []*graph.Node {
		return append(append([]*graph.Node{first}, x2()...), rest...)
	}
	pool2 := []*ops.Attr{ints("kernel_shape", 2, 2), ints("strides", 2, 2)}
	pool3 := []*ops.Attr{ints("kernel_shape", 3, 3), ints("strides", 2, 2), ints("pads", 1, 1, 1, 1)}
	tests := []passCase{
		{"residual add and relu", 13, with(
			node("Conv", []string{"x", "w", "b"}, "c", pads1),
			node("Add", []string{"c", "x2"}, "s"),
			node("Relu", []string{"s"}, "y"),
		), f32(2, 3, 7, 7), []string{"Relu", "Conv", "FusedConv"}},
		{"residual sum of two and relu", 9, with(
			node("Conv", []string{"x", "w", "b"}, "c", pads1),
			node("Sum", []string{"x2", "c"}, "s"),
			node("Relu", []string{"s"}, "y"),
		), f32(1, 3, 7, 7), []string{"Conv", "Relu", "FusedConv"}}, // x2's conv takes c as Z
		{"add first operand", 13, with(
			node("Conv", []string{"x", "w1"}, "c"),
			node("Add", []string{"x2", "c"}, "y"),
		), f32(1, 3, 5, 6), []string{"Conv", "Relu", "FusedConv"}}, // x2's conv takes c as Z
		{"batchnorm, add and clip", 13, with(
			node("Conv", []string{"x", "w", "b"}, "c", pads1),
			node("BatchNormalization", []string{"c", "bnscale", "bnbias", "bnmean", "bnvar"}, "n"),
			node("Add", []string{"n", "x2"}, "s"),
			node("Clip", []string{"s", "lo", "hi"}, "y"),
		), f32(1, 3, 9, 8), []string{"Relu", "Conv", "FusedConv"}},
		{"two convs", 13, []*graph.Node{
			node("Conv", []string{"x", "w", "b"}, "c1", pads1),
			node("Conv", []string{"x", "w1", "b"}, "c2"),
			node("Add", []string{"c1", "c2"}, "s"),
			node("LeakyRelu", []string{"s"}, "y", ops.FloatAttr("alpha", 0.3)),
		}, f32(2, 3, 6, 6), []string{"Conv", "FusedConv"}},
		{"constant per-channel summand goes into the bias", 13, []*graph.Node{
			node("Conv", []string{"x", "w", "b"}, "c", pads1),
			node("Add", []string{"c", "zc"}, "s"),
			node("Relu", []string{"s"}, "y"),
		}, f32(2, 3, 5, 5), []string{"FusedConv"}}, // graph.foldConvScaleShift
		{"broadcast summand", 13, []*graph.Node{
			node("Conv", []string{"x", "w", "b"}, "c", pads1),
			node("Identity", []string{"zc"}, "zi"),
			node("Add", []string{"c", "zi"}, "s"),
			node("Relu", []string{"s"}, "y"),
		}, f32(2, 3, 5, 5), []string{"Identity", "FusedConv"}},
		{"sum read twice: no activation", 13, with(
			node("Conv", []string{"x", "w", "b"}, "c", pads1),
			node("Add", []string{"c", "x2"}, "s"),
			node("Relu", []string{"s"}, "r"),
			node("Add", []string{"s", "r"}, "y"),
		), f32(1, 3, 4, 4), []string{"Relu", "Conv", "FusedConv", "Relu", "Add"}},
		{"conv read twice: the other conv takes the add", 13, with(
			node("Conv", []string{"x", "w", "b"}, "c", pads1),
			node("Add", []string{"c", "x2"}, "s"),
			node("Mul", []string{"s", "c"}, "y"),
		), f32(1, 3, 4, 4), []string{"Conv", "Relu", "FusedConv", "Mul"}},
		{"conv read twice, other operand not a conv", 13, []*graph.Node{
			node("Conv", []string{"x", "w1", "b"}, "c"),
			node("Relu", []string{"x"}, "x3"),
			node("Concat", []string{"x3", "x3", "x3"}, "x4", ops.IntAttr("axis", 1)),
			node("Slice", []string{"x4", "s0", "s4", "s1"}, "x2"),
			node("Add", []string{"c", "x2"}, "s"),
			node("Mul", []string{"s", "c"}, "y"),
		}, f32(1, 3, 4, 4), []string{"Conv", "Relu", "Concat", "Slice", "Add", "Mul"}},
		{"conv relu then add: the relu stays", 13, []*graph.Node{
			node("Conv", []string{"x", "w1", "b"}, "c"),
			node("Relu", []string{"c"}, "r"),
			node("Add", []string{"r", "r"}, "y"),
		}, f32(1, 3, 4, 4), []string{"FusedConv", "Add"}},
		{"conv relu maxpool", 13, []*graph.Node{
			node("Conv", []string{"x", "w", "b"}, "c"),
			node("Relu", []string{"c"}, "r"),
			node("MaxPool", []string{"r"}, "y", pool2...),
		}, f32(2, 3, 11, 11), []string{"FusedConv"}},
		{"conv maxpool overlapping", 13, []*graph.Node{
			node("Conv", []string{"x", "w", "b"}, "c", pads1),
			node("MaxPool", []string{"c"}, "y", pool3...),
		}, f32(1, 3, 12, 13), []string{"FusedConv"}},
		{"grouped conv, maxpool ceil mode", 13, []*graph.Node{
			node("Conv", []string{"x", "wg", "bg"}, "c", ops.IntAttr("group", 3)),
			node("Relu", []string{"c"}, "r"),
			node("MaxPool", []string{"r"}, "y", ints("kernel_shape", 2, 2), ints("strides", 2, 2), ops.IntAttr("ceil_mode", 1)),
		}, f32(2, 3, 9, 9), []string{"FusedConv"}},
		{"residual, relu and maxpool", 13, with(
			node("Conv", []string{"x", "w", "b"}, "c", pads1),
			node("Add", []string{"c", "x2"}, "s"),
			node("Relu", []string{"s"}, "r"),
			node("MaxPool", []string{"r"}, "y", pool2...),
		), f32(1, 3, 8, 8), []string{"Relu", "Conv", "FusedConv"}},
		{"two conv layers with pools", 13, []*graph.Node{
			node("Conv", []string{"x", "w", "b"}, "c", pads1),
			node("Relu", []string{"c"}, "r"),
			node("MaxPool", []string{"r"}, "p", pool2...),
			node("Conv", []string{"p", "w2", "b"}, "c2", pads1),
			node("Relu", []string{"c2"}, "r2"),
			node("MaxPool", []string{"r2"}, "y", pool2...),
		}, f32(3, 3, 12, 12), []string{"FusedConv", "FusedConv"}},
		{"maxpool indices stay", 13, []*graph.Node{
			node("Conv", []string{"x", "w", "b"}, "c"),
			{OpType: "MaxPool", Inputs: []string{"c"}, Outputs: []string{"y", "idx"}, Attrs: pool2},
		}, f32(1, 3, 6, 6), []string{"Conv", "MaxPool"}},
		{"conv output read twice: no pool", 13, []*graph.Node{
			node("Conv", []string{"x", "w", "b"}, "c"),
			node("MaxPool", []string{"c"}, "p", pool2...),
			node("ReduceSum", []string{"c"}, "s", ops.IntAttr("keepdims", 0)),
			node("Add", []string{"p", "s"}, "y"),
		}, f32(1, 3, 6, 6), []string{"Conv", "MaxPool", "ReduceSum", "Add"}},
	}
	runPassCases(t, tests, weights, nil)
}

// TestFuseConvModels checks the passes on the CNNs of models/ and
// benchmarks/: MNIST's two Conv+Relu+MaxPool layers and ResNet-50's
// sixteen residual Adds become FusedConvs, and (MNIST) the outputs do
// not change.
func TestFuseConvModels(t *testing.T) {
	m, err := onnx.DecodeFile("../models/mnist-cnn/model.onnx")
	require.NoError(t, err)
	o := graph.Optimize(m.Graph)
	assert.Equal(t, 0, countOps(o, "MaxPool", ""))
	assert.Equal(t, 2, countOps(o, "FusedConv", "pool"))
	for _, n := range []int{1, 3} {
		x, err := tensor.New(tensor.Float32, n, 1, 28, 28)
		require.NoError(t, err)
		for i := range x.Float32s() {
			x.Float32s()[i] = float32(i%255) / 255
		}
		compare(t, m, map[string]*tensor.Tensor{"input": x})
	}

	r, err := onnx.DecodeFile("../benchmarks/models/resnet50/model.onnx")
	if err != nil {
		t.Skipf("ResNet-50 not built: %v", err)
	}
	// The fusions do not need constant biases (Identity nodes feed
	// them here; the runtime folds those first).
	o = graph.Optimize(r.Graph)
	assert.Equal(t, 16, countOps(r.Graph, "Add", ""))
	assert.Equal(t, 0, countOps(o, "Add", ""))
	assert.Equal(t, 0, countOps(o, "MaxPool", ""))
	sums := 0
	for _, n := range o.Nodes {
		if n.OpType == "FusedConv" && len(n.Inputs) == 4 && n.Attr("activation") != nil {
			sums++
		}
	}
	assert.Equal(t, 16, sums)
}
