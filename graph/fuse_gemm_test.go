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

// TestFuseGemm checks the MatMul+Add and Gemm+activation fusions: the
// node types they leave, and that the outputs do not change.
func TestFuseGemm(t *testing.T) {
	weights := func(g *graph.Graph) {
		g.AddInitializer("w", tensor.From([]int{5, 3}, wave(15, 0.7, 1)))    // K=5, N=3
		g.AddInitializer("wt", tensor.From([]int{3, 5}, wave(15, 0.7, 0.5))) // transposed
		g.AddInitializer("bias", tensor.From([]int{3}, []float32{0.5, -1, 0.25}))
		g.AddInitializer("bias2d", tensor.From([]int{1, 3}, []float32{0.5, -1, 0.25}))
		g.AddInitializer("lo", tensor.Scalar[float32](-0.3))
		g.AddInitializer("hi", tensor.Scalar[float32](0.4))
	}
	tests := []passCase{
		{"matmul and add become gemm", 13, []*graph.Node{
			node("MatMul", []string{"x", "w"}, "m"),
			node("Add", []string{"m", "bias"}, "y"),
		}, f32(4, 5), []string{"Gemm"}},
		{"bias first", 13, []*graph.Node{
			node("MatMul", []string{"x", "w"}, "m"),
			node("Add", []string{"bias", "m"}, "y"),
		}, f32(4, 5), []string{"Gemm"}},
		{"3-D input becomes FusedGemm", 13, []*graph.Node{
			node("MatMul", []string{"x", "w"}, "m"),
			node("Add", []string{"m", "bias"}, "y"),
		}, f32(2, 4, 5), []string{"FusedGemm"}},
		{"vector input becomes FusedGemm", 13, []*graph.Node{
			node("MatMul", []string{"x", "w"}, "m"),
			node("Add", []string{"m", "bias"}, "y"),
		}, f32(5), []string{"FusedGemm"}},
		{"matmul, add and relu become one node", 13, []*graph.Node{
			node("MatMul", []string{"x", "w"}, "m"),
			node("Add", []string{"m", "bias"}, "a"),
			node("Relu", []string{"a"}, "y"),
		}, f32(2, 4, 5), []string{"FusedGemm"}},
		{"gemm and relu", 13, []*graph.Node{
			node("Gemm", []string{"x", "w", "bias"}, "m"),
			node("Relu", []string{"m"}, "y"),
		}, f32(4, 5), []string{"FusedGemm"}},
		{"gemm transB, alpha, beta and leaky relu", 13, []*graph.Node{
			node("Gemm", []string{"x", "wt", "bias"}, "m", ops.IntAttr("transB", 1), ops.FloatAttr("alpha", 0.5), ops.FloatAttr("beta", 2)),
			node("LeakyRelu", []string{"m"}, "y", ops.FloatAttr("alpha", 0.2)),
		}, f32(4, 5), []string{"FusedGemm"}},
		{"gemm transA and clip", 13, []*graph.Node{
			node("Gemm", []string{"x", "w", "bias"}, "m", ops.IntAttr("transA", 1)),
			node("Clip", []string{"m", "lo", "hi"}, "y"),
		}, f32(5, 4), []string{"FusedGemm"}},
		{"gemm without C and sigmoid", 13, []*graph.Node{
			node("Gemm", []string{"x", "w"}, "m"),
			node("Sigmoid", []string{"m"}, "y"),
		}, f32(4, 5), []string{"FusedGemm"}},
		{"gemm and tanh", 13, []*graph.Node{
			node("Gemm", []string{"x", "w", "bias"}, "m"),
			node("Tanh", []string{"m"}, "y"),
		}, f32(7, 5), []string{"FusedGemm"}},
		{"a 2-D bias is left alone", 13, []*graph.Node{
			node("MatMul", []string{"x", "w"}, "m"),
			node("Add", []string{"m", "bias2d"}, "y"),
		}, f32(4, 5), []string{"MatMul", "Add"}},
		{"a product read twice is left alone", 13, []*graph.Node{
			node("Gemm", []string{"x", "w", "bias"}, "m"),
			node("Relu", []string{"m"}, "r"),
			node("Add", []string{"m", "r"}, "y"),
		}, f32(4, 5), []string{"Gemm", "Relu", "Add"}},
		{"an input B is not fused into a bias add", 13, []*graph.Node{
			node("MatMul", []string{"x", "x"}, "m"),
			node("Add", []string{"m", "bias"}, "y"),
		}, f32(3, 3), []string{"MatMul", "Add"}},
	}
	runPassCases(t, tests, weights, nil)
}

// TestFuseGemmMNIST checks the passes on the MNIST CNN of models/: of
// its two Gemm layers, the one followed by a Relu becomes a FusedGemm
// (the other feeds the Softmax), and the outputs do not change.
func TestFuseGemmMNIST(t *testing.T) {
	m, err := onnx.DecodeFile("../models/mnist-cnn/model.onnx")
	require.NoError(t, err)
	o := graph.Optimize(m.Graph)
	assert.Equal(t, 2, countOps(m.Graph, "Gemm", ""))
	assert.Equal(t, 1, countOps(o, "Gemm", ""))
	assert.Equal(t, 1, countOps(o, "FusedGemm", ""))
	for _, n := range []int{1, 3} {
		x, err := tensor.New(tensor.Float32, n, 1, 28, 28)
		require.NoError(t, err)
		for i := range x.Float32s() {
			x.Float32s()[i] = float32(i%255) / 255
		}
		compare(t, m, map[string]*tensor.Tensor{"input": x})
	}
}
