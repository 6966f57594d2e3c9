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

// TestFuseDwBlock checks the inverted residual block fusion: the node
// types it leaves, and that the outputs do not change, on blocks with
// and without the expand convolution, with a residual Add, at stride 2,
// with Keras's asymmetric padding (a Pad folded into the depthwise
// Conv), and on one large enough for the banded path.
func TestFuseDwBlock(t *testing.T) {
	weights := func(g *graph.Graph) {
		g.AddInitializer("we", tensor.From([]int{12, 4, 1, 1}, wave(48, 0.37, 0.5)))
		g.AddInitializer("be", tensor.From([]int{12}, wave(12, 0.41, 0.3)))
		g.AddInitializer("wd", tensor.From([]int{12, 1, 3, 3}, wave(108, 0.29, 0.5)))
		g.AddInitializer("bd", tensor.From([]int{12}, wave(12, 0.53, 0.2)))
		g.AddInitializer("wp", tensor.From([]int{4, 12, 1, 1}, wave(48, 0.31, 0.4)))
		g.AddInitializer("bp", tensor.From([]int{4}, wave(4, 0.7, 0.1)))
		g.AddInitializer("wd4", tensor.From([]int{4, 1, 3, 3}, wave(36, 0.29, 0.5)))
		g.AddInitializer("wp4", tensor.From([]int{6, 4, 1, 1}, wave(24, 0.31, 0.4)))
		g.AddInitializer("wf", tensor.From([]int{12, 12, 3, 3}, wave(1296, 0.23, 0.2)))
		g.AddInitializer("web", tensor.From([]int{48, 4, 1, 1}, wave(192, 0.37, 0.5)))
		g.AddInitializer("wdb", tensor.From([]int{48, 1, 3, 3}, wave(432, 0.29, 0.5)))
		g.AddInitializer("wpb", tensor.From([]int{4, 48, 1, 1}, wave(192, 0.31, 0.2)))
		g.AddInitializer("lo", tensor.Scalar[float32](0))
		g.AddInitializer("hi", tensor.Scalar[float32](6))
		g.AddInitializer("kpads", tensor.From([]int{8}, []int64{0, 0, 0, 0, 0, 0, 1, 1}))
	}
	ints := func(name string, v ...int64) *ops.Attr { return &ops.Attr{Name: name, Type: ops.AttrInts, Ints: v} }
	pads1 := ints("pads", 1, 1, 1, 1)
	s2 := ints("strides", 2, 2)
	g12, g4 := ops.IntAttr("group", 12), ops.IntAttr("group", 4)
	g48 := ops.IntAttr("group", 48)
	tests := []passCase{
		{"block with residual", 13, []*graph.Node{
			node("Conv", []string{"x", "we", "be"}, "e"),
			node("Clip", []string{"e", "lo", "hi"}, "e6"),
			node("Conv", []string{"e6", "wd", "bd"}, "d", pads1, g12),
			node("Clip", []string{"d", "lo", "hi"}, "d6"),
			node("Conv", []string{"d6", "wp", "bp"}, "p"),
			node("Add", []string{"x", "p"}, "y"),
		}, f32(2, 4, 9, 11), []string{"FusedDwBlock"}},
		{"stride 2, relu, no biases", 13, []*graph.Node{
			node("Conv", []string{"x", "we"}, "e"),
			node("Relu", []string{"e"}, "e6"),
			node("Conv", []string{"e6", "wd"}, "d", pads1, g12, s2),
			node("Relu", []string{"d"}, "d6"),
			node("Conv", []string{"d6", "wp"}, "y"),
		}, f32(1, 4, 13, 10), []string{"FusedDwBlock"}},
		{"keras padding", 13, []*graph.Node{
			node("Conv", []string{"x", "we", "be"}, "e"),
			node("Clip", []string{"e", "lo", "hi"}, "e6"),
			node("Pad", []string{"e6", "kpads"}, "ep"),
			node("Conv", []string{"ep", "wd", "bd"}, "d", g12, s2),
			node("Clip", []string{"d", "lo", "hi"}, "d6"),
			node("Conv", []string{"d6", "wp", "bp"}, "y"),
		}, f32(1, 4, 12, 12), []string{"FusedDwBlock"}},
		{"no expand", 13, []*graph.Node{
			node("Conv", []string{"x", "wd4", "bp"}, "d", pads1, g4),
			node("Clip", []string{"d", "lo", "hi"}, "d6"),
			node("Conv", []string{"d6", "wp4"}, "y"),
		}, f32(1, 4, 7, 7), []string{"FusedDwBlock"}},
		{"expanded value read twice", 13, []*graph.Node{
			node("Conv", []string{"x", "we", "be"}, "e"),
			node("Conv", []string{"e", "wd", "bd"}, "d", pads1, g12),
			node("Conv", []string{"d", "wp", "bp"}, "p"),
			node("ReduceMean", []string{"e"}, "m", ints("axes", 1)),
			node("Add", []string{"p", "m"}, "y"),
		}, f32(1, 4, 6, 6), []string{"Conv", "ReduceMean", "FusedDwBlock"}},
		{"full 3x3 conv is not depthwise", 13, []*graph.Node{
			node("Conv", []string{"x", "we", "be"}, "e"),
			node("Conv", []string{"e", "wf", "bd"}, "d", pads1),
			node("Conv", []string{"d", "wp", "bp"}, "y"),
		}, f32(1, 4, 6, 6), []string{"Conv", "Conv", "Conv"}},
		{"banded", 13, []*graph.Node{
			node("Conv", []string{"x", "web"}, "e"),
			node("Clip", []string{"e", "lo", "hi"}, "e6"),
			node("Conv", []string{"e6", "wdb"}, "d", pads1, g48),
			node("Clip", []string{"d", "lo", "hi"}, "d6"),
			node("Conv", []string{"d6", "wpb"}, "p"),
			node("Add", []string{"p", "x"}, "y"),
		}, f32(1, 4, 131, 129), []string{"FusedDwBlock"}},
	}
	runPassCases(t, tests, weights, nil)
}

// TestFuseDwBlockModels checks that the 17 inverted residual blocks of
// the benchmarks' MobileNetV2 (torchvision) become FusedDwBlocks and
// that its outputs do not change.
func TestFuseDwBlockModels(t *testing.T) {
	m, err := onnx.DecodeFile("../benchmarks/models/mobilenet_v2/model.onnx")
	if err != nil {
		t.Skipf("MobileNetV2 not built: %v", err)
	}
	// The runtime folds the Identity nodes that feed the biases and the
	// Constant nodes that feed Clip into initializers before the passes;
	// so does this.
	g := *m.Graph
	g.Nodes = nil
	g.Initializers = map[string]*tensor.Tensor{}
	for k, v := range m.Graph.Initializers {
		g.Initializers[k] = v
	}
	for _, n := range m.Graph.Nodes {
		if n.OpType == "Identity" && len(n.Inputs) == 1 && g.Initializers[n.Inputs[0]] != nil {
			v := g.Initializers[n.Inputs[0]]
			g.AddInitializer(n.Outputs[0], v)
			continue
		}
		if a := n.Attr("value"); n.OpType == "Constant" && a != nil && a.Tensor != nil {
			g.AddInitializer(n.Outputs[0], a.Tensor)
			continue
		}
		g.Nodes = append(g.Nodes, n)
	}
	o := graph.Optimize(&g)
	assert.Equal(t, 17, countOps(o, "FusedDwBlock", ""))
	x, err := tensor.New(tensor.Float32, 1, 3, 224, 224)
	require.NoError(t, err)
	for i := range x.Float32s() {
		x.Float32s()[i] = float32(math.Sin(float64(i) * 0.01))
	}
	compareRuns(t, m, map[string]*tensor.Tensor{m.Graph.Inputs[0].Name: x}, 1e-3)
}
