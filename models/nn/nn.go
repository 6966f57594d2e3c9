// Package nn builds the example models of models/ as graph.Models, layer
// by layer like a Keras Sequential model: Conv2D, MaxPool, Flatten, Dense,
// with Keras' default initialization (Glorot-uniform kernels, zero
// biases) drawn from a seeded RNG, so that every run starts from the same
// weights. MNISTCNN is the network of models/mnist-cnn; the training
// benchmark (benchmarks/, a module of its own) builds it from here.
package nn

import (
	"fmt"
	"math"
	"math/rand/v2"

	"github.com/onyxrt/onyx/graph"
	"github.com/onyxrt/onyx/ops"
	"github.com/onyxrt/onyx/tensor"
)

// Seq appends layers to a graph. Each method reads the current value and
// makes its output the new current value.
type Seq struct {
	g   *graph.Graph
	rng *rand.Rand
	cur string
	n   map[string]int
	// Shape of the current value without the batch axis (channels first).
	Shape []int
}

// New starts a model with one float32 input of shape [N, dims...] (N
// dynamic); seed seeds the weight initialization.
func New(name, input string, seed uint64, dims ...int) *Seq {
	sh := tensor.SymShape{{Size: -1, Param: "N"}}
	for _, d := range dims {
		sh = append(sh, tensor.Dim{Size: int64(d)})
	}
	g := &graph.Graph{Name: name, Inputs: []graph.ValueInfo{{Name: input, Type: graph.Type{Kind: graph.KindTensor, DType: tensor.Float32, Shape: sh}}}}
	return &Seq{g: g, rng: rand.New(rand.NewPCG(seed, 0x6e6e)), cur: input, Shape: append([]int(nil), dims...)}
}

// Current is the name of the current value.
func (s *Seq) Current() string { return s.cur }

func (s *Seq) name(kind string) string {
	if s.n == nil {
		s.n = map[string]int{}
	}
	s.n[kind]++
	return fmt.Sprintf("%s%d", kind, s.n[kind])
}

func (s *Seq) node(name, op string, inputs []string, out string, attrs ...*ops.Attr) {
	n := &graph.Node{Name: name, OpType: op, Inputs: inputs, Outputs: []string{out}}
	n.Attrs = attrs
	s.g.Nodes = append(s.g.Nodes, n)
	s.cur = out
}

// glorot returns a tensor of shape drawn from U(-l, l), l = sqrt(6/(fanIn+fanOut)).
func (s *Seq) glorot(fanIn, fanOut int, shape ...int) *tensor.Tensor {
	n := 1
	for _, d := range shape {
		n *= d
	}
	lim := math.Sqrt(6 / float64(fanIn+fanOut))
	v := make([]float32, n)
	for i := range v {
		v[i] = float32((2*s.rng.Float64() - 1) * lim)
	}
	return tensor.From(shape, v)
}

// Conv2D adds a valid (unpadded) stride-1 k x k convolution with filters
// outputs and an optional activation ("relu" or "").
func (s *Seq) Conv2D(filters, k int, activation string) *Seq {
	return s.conv(filters, k, k, activation)
}

func (s *Seq) conv(filters, kh, kw int, activation string) *Seq {
	if len(s.Shape) != 3 {
		panic(fmt.Sprintf("nn: Conv2D on shape %v", s.Shape))
	}
	c, h, w := s.Shape[0], s.Shape[1], s.Shape[2]
	name := s.name("conv")
	wn, bn := name+".weight", name+".bias"
	s.g.AddInitializer(wn, s.glorot(c*kh*kw, filters*kh*kw, filters, c, kh, kw))
	s.g.AddInitializer(bn, tensor.From([]int{filters}, make([]float32, filters)))
	s.node(name, "Conv", []string{s.cur, wn, bn}, name+".out", ops.IntsAttr("kernel_shape", int64(kh), int64(kw)))
	s.Shape = []int{filters, h - kh + 1, w - kw + 1}
	return s.act(activation)
}

func (s *Seq) act(activation string) *Seq {
	switch activation {
	case "":
	case "relu":
		name := s.name("relu")
		s.node(name, "Relu", []string{s.cur}, name+".out")
	case "softmax":
		name := s.name("softmax")
		s.node(name, "Softmax", []string{s.cur}, name+".out", ops.IntAttr("axis", -1))
	default:
		panic("nn: unknown activation " + activation)
	}
	return s
}

// MaxPool adds a k x k max pooling with stride k (floor).
func (s *Seq) MaxPool(k int) *Seq {
	name := s.name("pool")
	s.node(name, "MaxPool", []string{s.cur}, name+".out",
		ops.IntsAttr("kernel_shape", int64(k), int64(k)), ops.IntsAttr("strides", int64(k), int64(k)))
	s.Shape = []int{s.Shape[0], s.Shape[1] / k, s.Shape[2] / k}
	return s
}

// Flatten flattens to [N, features].
func (s *Seq) Flatten() *Seq {
	name := s.name("flatten")
	s.node(name, "Flatten", []string{s.cur}, name+".out", ops.IntAttr("axis", 1))
	n := 1
	for _, d := range s.Shape {
		n *= d
	}
	s.Shape = []int{n}
	return s
}

// Dense adds a fully connected layer (Gemm with W [in, units]) and an
// optional activation ("relu", "softmax" or "").
func (s *Seq) Dense(units int, activation string) *Seq {
	if len(s.Shape) != 1 {
		s.Flatten()
	}
	in := s.Shape[0]
	name := s.name("dense")
	wn, bn := name+".weight", name+".bias"
	s.g.AddInitializer(wn, s.glorot(in, units, in, units))
	s.g.AddInitializer(bn, tensor.From([]int{units}, make([]float32, units)))
	s.node(name, "Gemm", []string{s.cur, wn, bn}, name+".out")
	s.Shape = []int{units}
	return s.act(activation)
}

// Rename gives the current value the name out (the output of the last node).
func (s *Seq) Rename(out string) *Seq {
	last := s.g.Nodes[len(s.g.Nodes)-1]
	last.Outputs[0] = out
	s.cur = out
	return s
}

// Model finishes the graph with the current value as its only output.
func (s *Seq) Model(producer string) *graph.Model {
	sh := tensor.SymShape{{Size: -1, Param: "N"}}
	for _, d := range s.Shape {
		sh = append(sh, tensor.Dim{Size: int64(d)})
	}
	s.g.Outputs = []graph.ValueInfo{{Name: s.cur, Type: graph.Type{Kind: graph.KindTensor, DType: tensor.Float32, Shape: sh}}}
	return &graph.Model{
		IRVersion: 8, ProducerName: producer,
		Opsets: []graph.OpsetImport{{Domain: "", Version: 17}},
		Graph:  s.g,
	}
}

// WithSoftmax returns a copy of m (sharing nodes and tensors) whose output
// logits is followed by Softmax(axis=-1) producing probs, the only output.
func WithSoftmax(m *graph.Model, logits, probs string) *graph.Model {
	g := *m.Graph
	g.Nodes = append(append([]*graph.Node(nil), g.Nodes...), &graph.Node{
		Name: "softmax", OpType: "Softmax", Inputs: []string{logits}, Outputs: []string{probs},
		Attrs: []*ops.Attr{ops.IntAttr("axis", -1)},
	})
	var outs []graph.ValueInfo
	for _, o := range g.Outputs {
		if o.Name == logits {
			o.Name = probs
			outs = append(outs, o)
		}
	}
	g.Outputs = outs
	out := *m
	out.Graph = &g
	return &out
}

// Normalize adds (x - mean) * (1/std) with scalar mean and std held in
// Constant nodes (so that they are not trainable parameters).
func (s *Seq) Normalize(mean, std float32) *Seq {
	name := s.name("norm")
	cm, cs := name+".mean", name+".invstd"
	s.g.Nodes = append(s.g.Nodes,
		&graph.Node{Name: cm, OpType: "Constant", Outputs: []string{cm}, Attrs: []*ops.Attr{{Name: "value", Type: ops.AttrTensor, Tensor: tensor.From([]int{}, []float32{mean})}}},
		&graph.Node{Name: cs, OpType: "Constant", Outputs: []string{cs}, Attrs: []*ops.Attr{{Name: "value", Type: ops.AttrTensor, Tensor: tensor.From([]int{}, []float32{1 / std})}}})
	s.node(name+".sub", "Sub", []string{s.cur, cm}, name+".centred")
	s.node(name, "Mul", []string{s.cur, cs}, name+".out")
	return s
}

// Dropout adds inference-form Dropout with the given ratio (the Trainer
// switches it to training mode).
func (s *Seq) Dropout(ratio float32) *Seq {
	name := s.name("dropout")
	rn := name + ".ratio"
	s.g.Nodes = append(s.g.Nodes, &graph.Node{Name: rn, OpType: "Constant", Outputs: []string{rn}, Attrs: []*ops.Attr{{Name: "value", Type: ops.AttrTensor, Tensor: tensor.From([]int{}, []float32{ratio})}}})
	s.node(name, "Dropout", []string{s.cur, rn}, name+".out")
	return s
}
