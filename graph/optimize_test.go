package graph_test

import (
	"context"
	"math"
	"path/filepath"
	"testing"

	"github.com/onyxrt/onyx/graph"
	"github.com/onyxrt/onyx/onnx"
	"github.com/onyxrt/onyx/ops"
	"github.com/onyxrt/onyx/runtime"
	"github.com/onyxrt/onyx/tensor"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func perm(p ...int64) []*ops.Attr {
	return []*ops.Attr{{Name: "perm", Type: ops.AttrInts, Ints: p}}
}

func f32(shape ...int64) graph.Type {
	s := make(tensor.SymShape, len(shape))
	for i, d := range shape {
		s[i] = tensor.Dim{Size: d}
	}
	return graph.Type{Kind: graph.KindTensor, DType: tensor.Float32, Shape: s}
}

func opTypes(g *graph.Graph) []string {
	var out []string
	for _, n := range g.Nodes {
		out = append(out, n.OpType)
	}
	return out
}

func TestOptimizePasses(t *testing.T) {
	bn := func(g *graph.Graph) {
		g.AddInitializer("w", tensor.From([]int{2, 1, 1, 1}, []float32{2, -1}))
		g.AddInitializer("b", tensor.From([]int{2}, []float32{0.5, 1}))
		g.AddInitializer("scale", tensor.From([]int{2}, []float32{1.5, 2}))
		g.AddInitializer("beta", tensor.From([]int{2}, []float32{0.1, -0.2}))
		g.AddInitializer("mean", tensor.From([]int{2}, []float32{0.3, 0.4}))
		g.AddInitializer("var", tensor.From([]int{2}, []float32{4, 0.25}))
	}
	tests := []struct {
		name  string
		nodes []*graph.Node
		init  func(g *graph.Graph)
		in    graph.Type
		want  []string
	}{
		{"transposes around an activation cancel", []*graph.Node{
			{OpType: "Transpose", Inputs: []string{"x"}, Outputs: []string{"t1"}, Attrs: perm(0, 3, 1, 2)},
			{OpType: "Relu", Inputs: []string{"t1"}, Outputs: []string{"r"}},
			{OpType: "Transpose", Inputs: []string{"r"}, Outputs: []string{"y"}, Attrs: perm(0, 2, 3, 1)},
		}, nil, f32(1, 2, 3, 4), []string{"Relu", "Transpose"}}, // the last Transpose writes a graph output
		{"transpose pair composes", []*graph.Node{
			{OpType: "Transpose", Inputs: []string{"x"}, Outputs: []string{"t1"}, Attrs: perm(1, 0, 2, 3)},
			{OpType: "Transpose", Inputs: []string{"t1"}, Outputs: []string{"t2"}, Attrs: perm(0, 1, 3, 2)},
			{OpType: "Sigmoid", Inputs: []string{"t2"}, Outputs: []string{"y"}},
		}, nil, f32(1, 2, 3, 4), []string{"Sigmoid", "Transpose"}}, // pushed below the activation
		{"identity pair disappears", []*graph.Node{
			{OpType: "Transpose", Inputs: []string{"x"}, Outputs: []string{"t1"}, Attrs: perm(0, 2, 3, 1)},
			{OpType: "Transpose", Inputs: []string{"t1"}, Outputs: []string{"t2"}, Attrs: perm(0, 3, 1, 2)},
			{OpType: "Tanh", Inputs: []string{"t2"}, Outputs: []string{"y"}},
		}, nil, f32(1, 2, 3, 4), []string{"Tanh"}},
		{"batchnorm folds into conv", []*graph.Node{
			{OpType: "Conv", Inputs: []string{"x", "w", "b"}, Outputs: []string{"c"}},
			{OpType: "BatchNormalization", Inputs: []string{"c", "scale", "beta", "mean", "var"}, Outputs: []string{"y"}},
		}, bn, f32(1, 1, 2, 2), []string{"Conv"}},
		{"relu fuses into conv", []*graph.Node{
			{OpType: "Conv", Inputs: []string{"x", "w", "b"}, Outputs: []string{"c"}},
			{OpType: "Relu", Inputs: []string{"c"}, Outputs: []string{"y"}},
		}, bn, f32(1, 1, 3, 3), []string{"FusedConv"}},
		{"conv, batchnorm and clip become one node", []*graph.Node{
			{OpType: "Conv", Inputs: []string{"x", "w", "b"}, Outputs: []string{"c"}},
			{OpType: "BatchNormalization", Inputs: []string{"c", "scale", "beta", "mean", "var"}, Outputs: []string{"n"}},
			{OpType: "Clip", Inputs: []string{"n", "lo", "hi"}, Outputs: []string{"y"}},
		}, func(g *graph.Graph) {
			bn(g)
			g.AddInitializer("lo", tensor.Scalar[float32](0))
			g.AddInitializer("hi", tensor.Scalar[float32](0.5))
		}, f32(1, 1, 3, 3), []string{"FusedConv"}},
		{"dead nodes go", []*graph.Node{
			{OpType: "Exp", Inputs: []string{"x"}, Outputs: []string{"unused"}},
			{OpType: "Neg", Inputs: []string{"unused"}, Outputs: []string{"unused2"}},
			{OpType: "Relu", Inputs: []string{"x"}, Outputs: []string{"y"}},
		}, nil, f32(2, 2), []string{"Relu"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			g := &graph.Graph{
				Inputs:  []graph.ValueInfo{{Name: "x", Type: tc.in}},
				Outputs: []graph.ValueInfo{{Name: "y"}},
				Nodes:   tc.nodes,
			}
			if tc.init != nil {
				tc.init(g)
			}
			before := len(g.Nodes)
			o := graph.Optimize(g)
			assert.Equal(t, tc.want, opTypes(o))
			assert.Len(t, g.Nodes, before, "the input graph must not change")

			// Same outputs with and without the passes.
			m := &graph.Model{IRVersion: 8, Opsets: []graph.OpsetImport{{Version: 13}}, Graph: g}
			x, err := tensor.New(tensor.Float32, shapeOf(tc.in)...)
			require.NoError(t, err)
			for i, v := range x.Float32s() {
				x.Float32s()[i] = float32(math.Sin(float64(i)))*2 + v
			}
			compare(t, m, map[string]*tensor.Tensor{"x": x})
		})
	}
}

func shapeOf(t graph.Type) []int {
	s := make([]int, len(t.Shape))
	for i, d := range t.Shape {
		s[i] = int(d.Size)
	}
	return s
}

func compare(t *testing.T, m *graph.Model, feeds map[string]*tensor.Tensor) {
	t.Helper()
	plain, err := runtime.Compile(m, runtime.Options{DisableGraphPasses: true})
	require.NoError(t, err)
	opt, err := runtime.Compile(m, runtime.Options{})
	require.NoError(t, err)
	want, err := plain.Run(context.Background(), feeds)
	require.NoError(t, err)
	got, err := opt.Run(context.Background(), feeds)
	require.NoError(t, err)
	for name, w := range want {
		g := got[name]
		require.Equal(t, w.Shape(), g.Shape(), name)
		wf, gf := w.Float64s(), g.Float64s()
		for i := range wf {
			assert.InDelta(t, wf[i], gf[i], 1e-5*(1+math.Abs(wf[i])), "%s[%d]", name, i)
		}
	}
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
	count := func(g *graph.Graph) int {
		n := 0
		for _, x := range g.Nodes {
			if x.OpType == "BatchNormalization" {
				n++
			}
		}
		return n
	}
	require.Equal(t, 7, count(m.Graph))
	assert.Equal(t, 0, count(graph.Optimize(m.Graph)))
}
