// Command xor-mlp builds a 2-2-1 sigmoid multilayer perceptron as a
// graph.Model, trains it on XOR by backpropagation with Onyx's train
// package (Adam or SGD, seeded), prints the outputs for the four inputs
// and writes the trained inference model to model.onnx.
//
//	go run ./models/xor-mlp                  # Adam, lr 0.1, 1500 steps
//	go run ./models/xor-mlp -opt sgd         # SGD, lr 2, binary cross-entropy, 4000 steps
//	go run ./models/xor-mlp -out /tmp/x.onnx
package main

import (
	"context"
	"flag"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"time"

	"github.com/onyxrt/onyx/graph"
	"github.com/onyxrt/onyx/onnx"
	"github.com/onyxrt/onyx/runtime"
	"github.com/onyxrt/onyx/tensor"
	"github.com/onyxrt/onyx/train"
)

func main() { os.Exit(run()) }

func run() int {
	opt := flag.String("opt", "adam", "optimizer: adam (MSE loss) or sgd (binary cross-entropy)")
	steps := flag.Int("steps", 0, "training steps (full batch of 4; 0: 1500 for adam, 4000 for sgd)")
	lr := flag.Float64("lr", 0, "learning rate (0: 0.1 for adam, 2 for sgd)")
	seed := flag.Uint64("seed", 5, "seed of the initial weights")
	out := flag.String("out", "models/xor-mlp/model.onnx", "where to write the trained model")
	flag.Parse()

	var o train.Optimizer
	var loss train.Loss
	switch *opt {
	case "adam":
		o, loss = train.NewAdam(orDefault(*lr, 0.1)), train.MSE("y", "target")
		*steps = orDefaultInt(*steps, 1500)
	case "sgd":
		o, loss = train.NewSGD(orDefault(*lr, 2)), train.BCE("y", "target")
		*steps = orDefaultInt(*steps, 4000)
	default:
		fmt.Fprintf(os.Stderr, "xor-mlp: unknown optimizer %q (adam or sgd)\n", *opt)
		return 2
	}

	model := buildMLP(*seed)
	tr, err := train.NewTrainer(model, train.TrainerOptions{Loss: loss, Optimizer: o, Threads: 1, Seed: *seed})
	if err != nil {
		fmt.Fprintln(os.Stderr, "xor-mlp:", err)
		return 1
	}
	x := tensor.From([]int{4, 2}, []float32{0, 0, 0, 1, 1, 0, 1, 1})
	y := tensor.From([]int{4, 1}, []float32{0, 1, 1, 0})
	feeds := map[string]*tensor.Tensor{"x": x, "target": y}
	start := time.Now()
	var l float64
	for i := 1; i <= *steps; i++ {
		if l, err = tr.Step(context.Background(), feeds); err != nil {
			fmt.Fprintln(os.Stderr, "xor-mlp:", err)
			return 1
		}
		if i == 1 || i%(*steps/5) == 0 {
			fmt.Printf("step %5d  loss %.6f\n", i, l)
		}
	}
	elapsed := time.Since(start)
	if err := tr.Export(*out); err != nil {
		fmt.Fprintln(os.Stderr, "xor-mlp:", err)
		return 1
	}

	// Check the written file: reload it and run it like any model.
	m, err := onnx.DecodeFile(*out)
	if err != nil {
		fmt.Fprintln(os.Stderr, "xor-mlp:", err)
		return 1
	}
	s, err := runtime.Compile(m, runtime.Options{Threads: 1})
	if err != nil {
		fmt.Fprintln(os.Stderr, "xor-mlp:", err)
		return 1
	}
	res, err := s.Run(context.Background(), map[string]*tensor.Tensor{"x": x})
	if err != nil {
		fmt.Fprintln(os.Stderr, "xor-mlp:", err)
		return 1
	}
	fmt.Printf("trained %d steps with %s in %v (%.1f µs/step)\n", *steps, *opt, elapsed.Round(time.Millisecond), float64(elapsed.Microseconds())/float64(*steps))
	ok := true
	for i, v := range res["y"].Float32s() {
		in, want := x.Float32s()[2*i:2*i+2], y.Float32s()[i]
		fmt.Printf("xor(%v, %v) = %.4f (target %v)\n", in[0], in[1], v, want)
		ok = ok && math.Abs(float64(v-want)) < 0.1
	}
	fmt.Printf("wrote %s\n", *out)
	if !ok {
		fmt.Fprintln(os.Stderr, "xor-mlp: the network did not learn XOR (outputs off by 0.1 or more); try another -seed")
		return 1
	}
	return 0
}

// buildMLP returns the 2-2-1 network y = σ(σ(x·W1 + b1)·W2 + b2) for a
// batch x of shape [N, 2], with weights drawn uniformly in [-1, 1).
func buildMLP(seed uint64) *graph.Model {
	rng := rand.New(rand.NewPCG(seed, 1))
	uniform := func(shape ...int) *tensor.Tensor {
		n := 1
		for _, d := range shape {
			n *= d
		}
		v := make([]float32, n)
		for i := range v {
			v[i] = float32(2*rng.Float64() - 1)
		}
		return tensor.From(shape, v)
	}
	batch := tensor.Dim{Size: -1, Param: "N"}
	f32 := func(dims ...tensor.Dim) graph.Type {
		return graph.Type{Kind: graph.KindTensor, DType: tensor.Float32, Shape: dims}
	}
	g := &graph.Graph{
		Name:    "xor_mlp",
		Inputs:  []graph.ValueInfo{{Name: "x", Type: f32(batch, tensor.Dim{Size: 2})}},
		Outputs: []graph.ValueInfo{{Name: "y", Type: f32(batch, tensor.Dim{Size: 1})}},
		Nodes: []*graph.Node{
			{Name: "fc1", OpType: "MatMul", Inputs: []string{"x", "W1"}, Outputs: []string{"h1"}},
			{Name: "bias1", OpType: "Add", Inputs: []string{"h1", "b1"}, Outputs: []string{"z1"}},
			{Name: "act1", OpType: "Sigmoid", Inputs: []string{"z1"}, Outputs: []string{"a1"}},
			{Name: "fc2", OpType: "MatMul", Inputs: []string{"a1", "W2"}, Outputs: []string{"h2"}},
			{Name: "bias2", OpType: "Add", Inputs: []string{"h2", "b2"}, Outputs: []string{"z2"}},
			{Name: "act2", OpType: "Sigmoid", Inputs: []string{"z2"}, Outputs: []string{"y"}},
		},
	}
	g.AddInitializer("W1", uniform(2, 2))
	g.AddInitializer("b1", uniform(2))
	g.AddInitializer("W2", uniform(2, 1))
	g.AddInitializer("b2", uniform(1))
	return &graph.Model{
		IRVersion: 8, ProducerName: "onyx xor-mlp",
		Opsets: []graph.OpsetImport{{Domain: "", Version: 17}},
		Graph:  g,
	}
}

func orDefault(v, d float64) float64 {
	if v == 0 {
		return d
	}
	return v
}

func orDefaultInt(v, d int) int {
	if v == 0 {
		return d
	}
	return v
}
