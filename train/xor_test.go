package train

import (
	"context"
	"math"
	"math/rand/v2"
	"path/filepath"
	"testing"

	"github.com/onyxrt/onyx/graph"
	"github.com/onyxrt/onyx/onnx"
	"github.com/onyxrt/onyx/runtime"
	"github.com/onyxrt/onyx/tensor"
)

// xorModel builds the 2-2-1 sigmoid MLP y = σ(σ(x·W1 + b1)·W2 + b2) with
// weights drawn uniformly in [-1, 1) from seed.
func xorModel(seed uint64) *graph.Model {
	rng := rand.New(rand.NewPCG(seed, 1))
	u := func(shape ...int) *tensor.Tensor {
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
	g := &graph.Graph{
		Name:    "xor",
		Inputs:  []graph.ValueInfo{{Name: "x", Type: graph.Type{Kind: graph.KindTensor, DType: tensor.Float32, Shape: tensor.SymShape{batch, {Size: 2}}}}},
		Outputs: []graph.ValueInfo{{Name: "y", Type: graph.Type{Kind: graph.KindTensor, DType: tensor.Float32, Shape: tensor.SymShape{batch, {Size: 1}}}}},
		Nodes: []*graph.Node{
			{Name: "fc1", OpType: "MatMul", Inputs: []string{"x", "W1"}, Outputs: []string{"h1"}},
			{Name: "bias1", OpType: "Add", Inputs: []string{"h1", "b1"}, Outputs: []string{"z1"}},
			{Name: "act1", OpType: "Sigmoid", Inputs: []string{"z1"}, Outputs: []string{"a1"}},
			{Name: "fc2", OpType: "MatMul", Inputs: []string{"a1", "W2"}, Outputs: []string{"h2"}},
			{Name: "bias2", OpType: "Add", Inputs: []string{"h2", "b2"}, Outputs: []string{"z2"}},
			{Name: "act2", OpType: "Sigmoid", Inputs: []string{"z2"}, Outputs: []string{"y"}},
		},
	}
	g.AddInitializer("W1", u(2, 2))
	g.AddInitializer("b1", u(2))
	g.AddInitializer("W2", u(2, 1))
	g.AddInitializer("b2", u(1))
	return &graph.Model{IRVersion: 8, Opsets: []graph.OpsetImport{{Domain: "", Version: 17}}, ProducerName: "onyx-test", Graph: g}
}

var (
	xorX = tensor.From([]int{4, 2}, []float32{0, 0, 0, 1, 1, 0, 1, 1})
	xorY = tensor.From([]int{4, 1}, []float32{0, 1, 1, 0})
)

func TestXOR(t *testing.T) {
	for _, c := range []struct {
		name  string
		opt   Optimizer
		loss  Loss
		steps int
	}{
		{"adam-mse", NewAdam(0.1), MSE("y", "target"), 1500},
		{"sgd-bce", NewSGD(2), BCE("y", "target"), 4000},
		{"momentum-mse", NewMomentum(0.5, 0.9, false), MSE("y", "target"), 2000},
	} {
		t.Run(c.name, func(t *testing.T) {
			m := xorModel(5)
			tr, err := NewTrainer(m, TrainerOptions{Loss: c.loss, Optimizer: c.opt, Threads: 1, Seed: 1})
			if err != nil {
				t.Fatal(err)
			}
			feeds := map[string]*tensor.Tensor{"x": xorX, "target": xorY}
			first := 0.0
			var loss float64
			for i := 0; i < c.steps; i++ {
				if loss, err = tr.Step(context.Background(), feeds); err != nil {
					t.Fatal(err)
				}
				if i == 0 {
					first = loss
				}
			}
			out, err := tr.Run(context.Background(), feeds)
			if err != nil {
				t.Fatal(err)
			}
			y := out["y"].Float32s()
			t.Logf("loss %.4f -> %.5f after %d steps, outputs %.4f", first, loss, c.steps, y)
			for i, want := range xorY.Float32s() {
				if math.Abs(float64(y[i]-want)) > 0.1 {
					t.Errorf("output %d = %.4f, want %v ± 0.1", i, y[i], want)
				}
			}

			// The exported model reloads and gives the same outputs.
			path := filepath.Join(t.TempDir(), "xor.onnx")
			if err := tr.Export(path); err != nil {
				t.Fatal(err)
			}
			back, err := onnx.DecodeFile(path)
			if err != nil {
				t.Fatal(err)
			}
			if len(back.Graph.Nodes) != 6 || len(back.Graph.Inputs) != 1 || len(back.Graph.Outputs) != 1 {
				t.Errorf("exported graph has %d nodes, %d inputs, %d outputs; want the 6-node inference graph", len(back.Graph.Nodes), len(back.Graph.Inputs), len(back.Graph.Outputs))
			}
			s, err := runtime.Compile(back, runtime.Options{Threads: 1})
			if err != nil {
				t.Fatal(err)
			}
			res, err := s.Run(context.Background(), map[string]*tensor.Tensor{"x": xorX})
			if err != nil {
				t.Fatal(err)
			}
			for i, v := range res["y"].Float32s() {
				if v != y[i] {
					t.Errorf("reloaded model output %d = %v, trainer gave %v", i, v, y[i])
				}
			}
			// The caller's model is untouched.
			if m.Graph.Initializers["W1"] == tr.Value("W1") {
				t.Error("the trainer did not update W1, or updated the caller's model")
			}
		})
	}
}

// TestXORFit trains XOR through Fit with a data set, mini-batches of 2,
// an accuracy metric and a cosine schedule.
func TestXORFit(t *testing.T) {
	tr, err := NewTrainer(xorModel(5), TrainerOptions{
		Loss: BCE("y", "label"), Optimizer: NewAdam(0.1), Seed: 5, Threads: 1,
		Schedule: CosineLR{TotalSteps: 2000, MinLR: 0.01},
	})
	if err != nil {
		t.Fatal(err)
	}
	data := TensorDataset{"input": xorX, "label": xorY}
	h, err := tr.Fit(context.Background(), data, FitOptions{Epochs: 1000, BatchSize: 2})
	if err != nil {
		t.Fatal(err)
	}
	last := h.Epochs[len(h.Epochs)-1]
	t.Logf("epoch %d: loss %.4f accuracy %.2f", last.Epoch, last.Loss, last.Accuracy)
	if last.Accuracy != 1 {
		t.Errorf("final accuracy %v, want 1", last.Accuracy)
	}
	ev, err := tr.Evaluate(context.Background(), data, 0, nil)
	if err != nil {
		t.Fatal(err)
	}
	if ev.Accuracy != 1 || ev.Loss > 0.1 {
		t.Errorf("evaluation: loss %v accuracy %v", ev.Loss, ev.Accuracy)
	}
}
