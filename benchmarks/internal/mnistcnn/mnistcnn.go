// Package mnistcnn builds the untrained MNIST CNN of models/mnist-cnn for
// the training benchmark. The benchmarks module cannot import the
// repository's models/internal/nn (an internal package of another
// module), so this is the same construction written out: the layers of
// models/mnist-cnn/model.go (buildCNN) built as models/internal/nn builds
// them, with the same node and value names, the same Glorot-uniform draws
// from PCG(seed, 0x6e6e) in the same order, and zero biases; for a given
// seed the graph and its weights are identical (mnistcnn_test.go checks
// the structure and the draws).
package mnistcnn

import (
	"fmt"
	"math"
	"math/rand/v2"

	"github.com/onyxrt/onyx/graph"
	"github.com/onyxrt/onyx/ops"
	"github.com/onyxrt/onyx/tensor"
)

// Build returns the network: input "input" [N,1,28,28] ->
// Conv(32,3x3)-Relu-MaxPool(2) -> Conv(64,3x3)-Relu-MaxPool(2) ->
// Conv(64,3x3)-Relu -> Flatten "features" [N,576] -> Dense 64-Relu ->
// Dense 10 "logits" [N,10], opset 17.
func Build(seed uint64) *graph.Model {
	b := &builder{rng: rand.New(rand.NewPCG(seed, 0x6e6e)), n: map[string]int{}, cur: "input"}
	b.g = &graph.Graph{Name: "mnist_cnn", Inputs: []graph.ValueInfo{{Name: "input", Type: graph.Type{Kind: graph.KindTensor, DType: tensor.Float32,
		Shape: tensor.SymShape{{Size: -1, Param: "N"}, {Size: 1}, {Size: 28}, {Size: 28}}}}}}
	b.conv(1, 32).relu().pool()
	b.conv(32, 64).relu().pool()
	b.conv(64, 64).relu()
	b.flatten().rename("features")
	b.dense(576, 64).relu()
	b.dense(64, 10).rename("logits")
	b.g.Outputs = []graph.ValueInfo{{Name: "logits", Type: graph.Type{Kind: graph.KindTensor, DType: tensor.Float32,
		Shape: tensor.SymShape{{Size: -1, Param: "N"}, {Size: 10}}}}}
	return &graph.Model{
		IRVersion: 8, ProducerName: "onyx models/mnist-cnn",
		Opsets: []graph.OpsetImport{{Domain: "", Version: 17}},
		Graph:  b.g,
	}
}

type builder struct {
	g   *graph.Graph
	rng *rand.Rand
	n   map[string]int
	cur string
}

func (b *builder) name(kind string) string {
	b.n[kind]++
	return fmt.Sprintf("%s%d", kind, b.n[kind])
}

func (b *builder) node(name, op string, inputs []string, attrs ...*ops.Attr) *builder {
	out := name + ".out"
	b.g.Nodes = append(b.g.Nodes, &graph.Node{Name: name, OpType: op, Inputs: inputs, Outputs: []string{out}, Attrs: attrs})
	b.cur = out
	return b
}

// glorot draws a tensor from U(-l, l), l = sqrt(6/(fanIn+fanOut)).
func (b *builder) glorot(fanIn, fanOut int, shape ...int) *tensor.Tensor {
	n := 1
	for _, d := range shape {
		n *= d
	}
	lim := math.Sqrt(6 / float64(fanIn+fanOut))
	v := make([]float32, n)
	for i := range v {
		v[i] = float32((2*b.rng.Float64() - 1) * lim)
	}
	return tensor.From(shape, v)
}

func (b *builder) conv(c, filters int) *builder {
	name := b.name("conv")
	wn, bn := name+".weight", name+".bias"
	b.g.AddInitializer(wn, b.glorot(c*9, filters*9, filters, c, 3, 3))
	b.g.AddInitializer(bn, tensor.From([]int{filters}, make([]float32, filters)))
	return b.node(name, "Conv", []string{b.cur, wn, bn}, ops.IntsAttr("kernel_shape", 3, 3))
}

func (b *builder) relu() *builder {
	return b.node(b.name("relu"), "Relu", []string{b.cur})
}

func (b *builder) pool() *builder {
	return b.node(b.name("pool"), "MaxPool", []string{b.cur}, ops.IntsAttr("kernel_shape", 2, 2), ops.IntsAttr("strides", 2, 2))
}

func (b *builder) flatten() *builder {
	return b.node(b.name("flatten"), "Flatten", []string{b.cur}, ops.IntAttr("axis", 1))
}

func (b *builder) dense(in, units int) *builder {
	name := b.name("dense")
	wn, bn := name+".weight", name+".bias"
	b.g.AddInitializer(wn, b.glorot(in, units, in, units))
	b.g.AddInitializer(bn, tensor.From([]int{units}, make([]float32, units)))
	return b.node(name, "Gemm", []string{b.cur, wn, bn})
}

// rename gives the current value (the last node's output) the name out.
func (b *builder) rename(out string) *builder {
	last := b.g.Nodes[len(b.g.Nodes)-1]
	last.Outputs[0] = out
	b.cur = out
	return b
}
