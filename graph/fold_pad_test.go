package graph_test

import (
	"math"
	"testing"

	"github.com/onyxrt/onyx/graph"
	"github.com/onyxrt/onyx/onnx"
	"github.com/onyxrt/onyx/ops"
	"github.com/onyxrt/onyx/tensor"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestFoldPad checks that a zero Pad folds into the Conv after it (and
// only then), and that the outputs do not change.
func TestFoldPad(t *testing.T) {
	init := func(g *graph.Graph) {
		g.AddInitializer("w", tensor.From([]int{4, 3, 3, 3}, wave(108, 0.9, 0.5)))
		g.AddInitializer("dw", tensor.From([]int{3, 1, 3, 3}, wave(27, 0.9, 0.7)))
		g.AddInitializer("w1", tensor.From([]int{2, 3, 3}, wave(18, 0.9, 0.6)))
		g.AddInitializer("b", tensor.From([]int{4}, []float32{0.5, -1, 0.25, 2}))
		g.AddInitializer("sym", tensor.From([]int{8}, []int64{0, 0, 1, 1, 0, 0, 1, 1}))
		g.AddInitializer("asym", tensor.From([]int{8}, []int64{0, 0, 0, 2, 0, 0, 1, 0}))
		g.AddInitializer("chan", tensor.From([]int{8}, []int64{0, 1, 1, 1, 0, 0, 1, 1}))
		g.AddInitializer("crop", tensor.From([]int{8}, []int64{0, 0, -1, 1, 0, 0, 1, 1}))
		g.AddInitializer("pad1d", tensor.From([]int{6}, []int64{0, 0, 2, 0, 0, 1}))
		g.AddInitializer("zero", tensor.Scalar[float32](0))
		g.AddInitializer("half", tensor.Scalar[float32](0.5))
		g.AddInitializer("lo", tensor.Scalar[float32](0))
		g.AddInitializer("hi", tensor.Scalar[float32](6))
	}
	k3 := ops.IntsAttr("kernel_shape", 3, 3)
	tests := []passCase{
		{"symmetric pad into valid conv", 13, []*graph.Node{
			node("Pad", []string{"x", "sym"}, "p"),
			node("Conv", []string{"p", "w", "b"}, "y", k3, ops.StringAttr("auto_pad", "VALID")),
		}, f32(1, 3, 6, 7), []string{"Conv"}},
		{"asymmetric pad adds to the conv's pads, strided", 13, []*graph.Node{
			node("Pad", []string{"x", "asym"}, "p"),
			node("Conv", []string{"p", "w"}, "y", ops.IntsAttr("pads", 1, 0, 0, 1), ops.IntsAttr("strides", 2, 2)),
		}, f32(2, 3, 7, 6), []string{"Conv"}},
		{"explicit zero value, depthwise stride 2, then clip", 13, []*graph.Node{
			node("Pad", []string{"x", "sym", "zero"}, "p"),
			node("Conv", []string{"p", "dw"}, "c", ops.IntAttr("group", 3), ops.IntsAttr("strides", 2, 2)),
			node("Clip", []string{"c", "lo", "hi"}, "y"),
		}, f32(1, 3, 8, 8), []string{"FusedConv"}},
		{"pads as an attribute (opset 10)", 10, []*graph.Node{
			node("Pad", []string{"x"}, "p", ops.IntsAttr("pads", 0, 0, 1, 1, 0, 0, 1, 1)),
			node("Conv", []string{"p", "w", "b"}, "y"),
		}, f32(1, 3, 5, 5), []string{"Conv"}},
		{"1-D", 13, []*graph.Node{
			node("Pad", []string{"x", "pad1d"}, "p"),
			node("Conv", []string{"p", "w1"}, "y"),
		}, f32(1, 3, 9), []string{"Conv"}},
		{"non-zero value stays", 13, []*graph.Node{
			node("Pad", []string{"x", "sym", "half"}, "p"),
			node("Conv", []string{"p", "w"}, "y"),
		}, f32(1, 3, 5, 5), []string{"Pad", "Conv"}},
		{"non-zero attribute value stays (opset 10)", 10, []*graph.Node{
			node("Pad", []string{"x"}, "p", ops.IntsAttr("pads", 0, 0, 1, 1, 0, 0, 1, 1), ops.FloatAttr("value", 1)),
			node("Conv", []string{"p", "w", "b"}, "y"),
		}, f32(1, 3, 5, 5), []string{"Pad", "Conv"}},
		{"reflect stays", 13, []*graph.Node{
			node("Pad", []string{"x", "sym"}, "p", ops.StringAttr("mode", "reflect")),
			node("Conv", []string{"p", "w"}, "y"),
		}, f32(1, 3, 5, 5), []string{"Pad", "Conv"}},
		{"channel pad stays", 13, []*graph.Node{
			node("Pad", []string{"x", "chan"}, "p"),
			node("Conv", []string{"p", "w"}, "y"),
		}, f32(1, 2, 5, 5), []string{"Pad", "Conv"}},
		{"negative pad stays", 13, []*graph.Node{
			node("Pad", []string{"x", "crop"}, "p"),
			node("Conv", []string{"p", "w"}, "y"),
		}, f32(1, 3, 6, 5), []string{"Pad", "Conv"}},
		{"same_upper conv stays", 13, []*graph.Node{
			node("Pad", []string{"x", "sym"}, "p"),
			node("Conv", []string{"p", "w"}, "y", ops.StringAttr("auto_pad", "SAME_UPPER"), ops.IntsAttr("strides", 2, 2)),
		}, f32(1, 3, 5, 5), []string{"Pad", "Conv"}},
		{"pad read twice stays", 13, []*graph.Node{
			node("Pad", []string{"x", "sym"}, "p"),
			node("Conv", []string{"p", "w"}, "c"),
			node("ReduceSum", []string{"p"}, "s", ops.IntAttr("keepdims", 0)),
			node("Add", []string{"c", "s"}, "y"),
		}, f32(1, 3, 5, 5), []string{"Pad", "ReduceSum", "FusedConv"}}, // the Add goes into the Conv (fuse_conv.go)
	}
	runPassCases(t, tests, init, func(t *testing.T, g, _ *graph.Graph) {
		assert.Equal(t, "Pad", g.Nodes[0].OpType)
	})
}

// TestFoldPadKerasMobileNet checks the pass on the tf2onnx MobileNetV2,
// whose four stride-2 depthwise convolutions read a Pad.
func TestFoldPadKerasMobileNet(t *testing.T) {
	m, err := onnx.DecodeFile("../../shared/models/keras/mobilenet_v2_0.5_128_person_tf2onnx/model.onnx")
	if err != nil {
		t.Skipf("shared model not available: %v", err)
	}
	require.Equal(t, 4, countOps(m.Graph, "Pad", ""))
	assert.Equal(t, 0, countOps(graph.Optimize(m.Graph), "Pad", ""))
	x, err := tensor.New(tensor.Float32, 2, 3, 128, 128)
	require.NoError(t, err)
	for i := range x.Float32s() {
		x.Float32s()[i] = float32(math.Sin(float64(i)*0.01)) * 0.8
	}
	compare(t, m, map[string]*tensor.Tensor{"input_1:0": x})
}
