package graph_test

import (
	"path/filepath"
	"testing"

	"github.com/onyxrt/onyx/graph"
	"github.com/onyxrt/onyx/onnx"
	"github.com/onyxrt/onyx/ops"
	"github.com/onyxrt/onyx/tensor"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func perm(p ...int64) []*ops.Attr {
	return []*ops.Attr{{Name: "perm", Type: ops.AttrInts, Ints: p}}
}

func TestOptimizePasses(t *testing.T) {
	bn := func(g *graph.Graph) {
		g.AddInitializer("w", tensor.From([]int{2, 1, 1, 1}, []float32{2, -1}))
		g.AddInitializer("b", tensor.From([]int{2}, []float32{0.5, 1}))
		g.AddInitializer("scale", tensor.From([]int{2}, []float32{1.5, 2}))
		g.AddInitializer("beta", tensor.From([]int{2}, []float32{0.1, -0.2}))
		g.AddInitializer("mean", tensor.From([]int{2}, []float32{0.3, 0.4}))
		g.AddInitializer("var", tensor.From([]int{2}, []float32{4, 0.25}))
		g.AddInitializer("lo", tensor.Scalar[float32](0))
		g.AddInitializer("hi", tensor.Scalar[float32](0.5))
		// Per-channel scales and shifts of a 2-channel Conv output.
		g.AddInitializer("s3", tensor.From([]int{2, 1, 1}, []float32{0.5, -3}))
		g.AddInitializer("t4", tensor.From([]int{1, 2, 1, 1}, []float32{0.25, -0.75}))
		g.AddInitializer("one", tensor.Scalar[float32](1.5))
		g.AddInitializer("rows", tensor.From([]int{2, 1}, []float32{1, 2})) // varies along H: not foldable
	}
	tests := []passCase{
		{"transposes around an activation cancel", 13, []*graph.Node{
			{OpType: "Transpose", Inputs: []string{"x"}, Outputs: []string{"t1"}, Attrs: perm(0, 3, 1, 2)},
			{OpType: "Relu", Inputs: []string{"t1"}, Outputs: []string{"r"}},
			{OpType: "Transpose", Inputs: []string{"r"}, Outputs: []string{"y"}, Attrs: perm(0, 2, 3, 1)},
		}, f32(1, 2, 3, 4), []string{"Relu", "Transpose"}}, // the last Transpose writes a graph output
		{"transpose pair composes", 13, []*graph.Node{
			{OpType: "Transpose", Inputs: []string{"x"}, Outputs: []string{"t1"}, Attrs: perm(1, 0, 2, 3)},
			{OpType: "Transpose", Inputs: []string{"t1"}, Outputs: []string{"t2"}, Attrs: perm(0, 1, 3, 2)},
			{OpType: "Sigmoid", Inputs: []string{"t2"}, Outputs: []string{"y"}},
		}, f32(1, 2, 3, 4), []string{"Sigmoid", "Transpose"}}, // pushed below the activation
		{"identity pair disappears", 13, []*graph.Node{
			{OpType: "Transpose", Inputs: []string{"x"}, Outputs: []string{"t1"}, Attrs: perm(0, 2, 3, 1)},
			{OpType: "Transpose", Inputs: []string{"t1"}, Outputs: []string{"t2"}, Attrs: perm(0, 3, 1, 2)},
			{OpType: "Tanh", Inputs: []string{"t2"}, Outputs: []string{"y"}},
		}, f32(1, 2, 3, 4), []string{"Tanh"}},
		{"batchnorm folds into conv", 13, []*graph.Node{
			{OpType: "Conv", Inputs: []string{"x", "w", "b"}, Outputs: []string{"c"}},
			{OpType: "BatchNormalization", Inputs: []string{"c", "scale", "beta", "mean", "var"}, Outputs: []string{"y"}},
		}, f32(1, 1, 2, 2), []string{"Conv"}},
		{"relu fuses into conv", 13, []*graph.Node{
			{OpType: "Conv", Inputs: []string{"x", "w", "b"}, Outputs: []string{"c"}},
			{OpType: "Relu", Inputs: []string{"c"}, Outputs: []string{"y"}},
		}, f32(1, 1, 3, 3), []string{"FusedConv"}},
		{"conv, batchnorm and clip become one node", 13, []*graph.Node{
			{OpType: "Conv", Inputs: []string{"x", "w", "b"}, Outputs: []string{"c"}},
			{OpType: "BatchNormalization", Inputs: []string{"c", "scale", "beta", "mean", "var"}, Outputs: []string{"n"}},
			{OpType: "Clip", Inputs: []string{"n", "lo", "hi"}, Outputs: []string{"y"}},
		}, f32(1, 1, 3, 3), []string{"FusedConv"}},
		{"per-channel mul and add fold into conv, then relu fuses", 13, []*graph.Node{
			{OpType: "Conv", Inputs: []string{"x", "w", "b"}, Outputs: []string{"c"}},
			{OpType: "Mul", Inputs: []string{"c", "s3"}, Outputs: []string{"m"}},
			{OpType: "Add", Inputs: []string{"t4", "m"}, Outputs: []string{"a"}},
			{OpType: "Relu", Inputs: []string{"a"}, Outputs: []string{"y"}},
		}, f32(1, 1, 3, 3), []string{"FusedConv"}},
		{"scalar scale folds into a conv without bias", 13, []*graph.Node{
			{OpType: "Conv", Inputs: []string{"x", "w"}, Outputs: []string{"c"}},
			{OpType: "Mul", Inputs: []string{"one", "c"}, Outputs: []string{"y"}},
		}, f32(1, 1, 3, 3), []string{"Conv"}},
		{"a shift along the rows stays", 13, []*graph.Node{
			{OpType: "Conv", Inputs: []string{"x", "w", "b"}, Outputs: []string{"c"}},
			{OpType: "Add", Inputs: []string{"c", "rows"}, Outputs: []string{"y"}},
		}, f32(1, 1, 2, 3), []string{"Conv", "Add"}},
		{"a conv output read twice is not folded", 13, []*graph.Node{
			{OpType: "Conv", Inputs: []string{"x", "w", "b"}, Outputs: []string{"c"}},
			{OpType: "Mul", Inputs: []string{"c", "s3"}, Outputs: []string{"m"}},
			{OpType: "Add", Inputs: []string{"m", "c"}, Outputs: []string{"y"}},
		}, f32(1, 1, 3, 3), []string{"Conv", "Mul", "Add"}},
		{"batchnorm, per-channel mul and add, relu: one FusedBatchNorm", 13, []*graph.Node{
			{OpType: "BatchNormalization", Inputs: []string{"x", "scale", "beta", "mean", "var"}, Outputs: []string{"n"}},
			{OpType: "Mul", Inputs: []string{"n", "s3"}, Outputs: []string{"m"}},
			{OpType: "Add", Inputs: []string{"t4", "m"}, Outputs: []string{"a"}},
			{OpType: "Relu", Inputs: []string{"a"}, Outputs: []string{"y"}},
		}, f32(2, 2, 3, 3), []string{"FusedBatchNorm"}},
		{"batchnorm after a conv and a relu, then clip", 13, []*graph.Node{
			{OpType: "Conv", Inputs: []string{"x", "w", "b"}, Outputs: []string{"c"}},
			{OpType: "Relu", Inputs: []string{"c"}, Outputs: []string{"r"}},
			{OpType: "BatchNormalization", Inputs: []string{"r", "scale", "beta", "mean", "var"}, Outputs: []string{"n"}},
			{OpType: "Mul", Inputs: []string{"one", "n"}, Outputs: []string{"m"}},
			{OpType: "Clip", Inputs: []string{"m", "lo", "hi"}, Outputs: []string{"y"}},
		}, f32(1, 1, 3, 3), []string{"FusedConv", "FusedBatchNorm"}},
		{"a shift along the rows after a batchnorm stays", 13, []*graph.Node{
			{OpType: "BatchNormalization", Inputs: []string{"x", "scale", "beta", "mean", "var"}, Outputs: []string{"n"}},
			{OpType: "Add", Inputs: []string{"n", "rows"}, Outputs: []string{"y"}},
		}, f32(1, 2, 2, 3), []string{"BatchNormalization", "Add"}},
		{"a [C,1,1] scale on a rank-3 batchnorm stays", 13, []*graph.Node{
			{OpType: "BatchNormalization", Inputs: []string{"x", "scale", "beta", "mean", "var"}, Outputs: []string{"n"}},
			{OpType: "Mul", Inputs: []string{"n", "s3"}, Outputs: []string{"y"}},
		}, f32(2, 2, 2), []string{"BatchNormalization", "Mul"}},
		{"dead nodes go", 13, []*graph.Node{
			{OpType: "Exp", Inputs: []string{"x"}, Outputs: []string{"unused"}},
			{OpType: "Neg", Inputs: []string{"unused"}, Outputs: []string{"unused2"}},
			{OpType: "Relu", Inputs: []string{"x"}, Outputs: []string{"y"}},
		}, f32(2, 2), []string{"Relu"}},
	}
	runPassCases(t, tests, bn, nil)
}

// TestRealModelBatchNormFolds checks the BatchNorm pass on a real tf2onnx
// export (MobileNetV2 with seven Conv+BatchNormalization pairs); the
// conformance suites check that its outputs do not change.
func TestRealModelBatchNormFolds(t *testing.T) {
	path := filepath.Join("..", "..", "shared", "models", "keras", "mobilenet_v2_0.5_128_person_tf2onnx", "model.onnx")
	m, err := onnx.DecodeFile(path)
	if err != nil {
		t.Skipf("shared model not available: %v", err)
	}
	require.Equal(t, 7, countOps(m.Graph, "BatchNormalization", ""))
	assert.Equal(t, 0, countOps(graph.Optimize(m.Graph), "BatchNormalization", ""))
}

// TestUnreadOptionalOutputs checks that Optimize drops a Dropout's mask
// and a MaxPool's indices that nothing reads, keeps one that a graph
// output or a node reads, and leaves the outputs unchanged.
func TestUnreadOptionalOutputs(t *testing.T) {
	pool := []*ops.Attr{{Name: "kernel_shape", Type: ops.AttrInts, Ints: []int64{2, 2}}}
	tests := []struct {
		name    string
		outputs []string // graph outputs besides y
		tail    []*graph.Node
		want    [][]string // outputs of the Dropout and the MaxPool
	}{
		{"unread", nil, nil, [][]string{{"d"}, {"p"}}},
		{"graph outputs", []string{"mask", "idx"}, nil, [][]string{{"d", "mask"}, {"p", "idx"}}},
		{"read by a node", []string{"m2"}, []*graph.Node{node("Neg", []string{"mask"}, "m2")}, [][]string{{"d", "mask"}, {"p"}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			g := &graph.Graph{
				Inputs:  []graph.ValueInfo{{Name: "x", Type: f32(1, 2, 4, 4)}},
				Outputs: []graph.ValueInfo{{Name: "y"}},
				Nodes: append([]*graph.Node{
					{OpType: "Dropout", Inputs: []string{"x"}, Outputs: []string{"d", "mask"}},
					{OpType: "MaxPool", Inputs: []string{"d"}, Outputs: []string{"p", "idx"}, Attrs: pool},
					node("Relu", []string{"p"}, "y"),
				}, tc.tail...),
			}
			for _, o := range tc.outputs {
				g.Outputs = append(g.Outputs, graph.ValueInfo{Name: o})
			}
			o := graph.Optimize(g)
			var got [][]string
			for _, n := range o.Nodes {
				if n.OpType == "Dropout" || n.OpType == "MaxPool" {
					got = append(got, n.Outputs)
				}
			}
			assert.Equal(t, tc.want, got)
			assert.Equal(t, []string{"d", "mask"}, g.Nodes[0].Outputs, "the input graph must not change")
			x := tensor.From([]int{1, 2, 4, 4}, wave(32, 0.7, 2))
			compare(t, &graph.Model{IRVersion: 8, Opsets: []graph.OpsetImport{{Version: 9}}, Graph: g}, map[string]*tensor.Tensor{"x": x})
		})
	}
}
