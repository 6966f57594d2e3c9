package train

import (
	"context"
	"math"
	"testing"

	"github.com/onyxrt/onyx/graph"
	"github.com/onyxrt/onyx/runtime"
	"github.com/onyxrt/onyx/tensor"
)

// lossValue builds loss on the model out = Identity(x) at opset and
// evaluates it for x and the label.
func lossValue(t *testing.T, l Loss, opset int, x, label *tensor.Tensor) float64 {
	t.Helper()
	shape := make(tensor.SymShape, x.Rank())
	for i := range shape {
		shape[i] = tensor.Dim{Size: -1}
	}
	g := &graph.Graph{
		Inputs:  []graph.ValueInfo{{Name: "x", Type: graph.Type{Kind: graph.KindTensor, DType: x.DType(), Shape: shape}}},
		Outputs: []graph.ValueInfo{{Name: "out", Type: graph.Type{Kind: graph.KindTensor, DType: x.DType(), Shape: shape}}},
		Nodes:   []*graph.Node{{OpType: "Identity", Inputs: []string{"x"}, Outputs: []string{"out"}}},
	}
	m := &graph.Model{IRVersion: 8, Opsets: []graph.OpsetImport{{Version: int64(opset)}}, Graph: g}
	name, err := l.Build(m)
	if err != nil {
		t.Fatal(err)
	}
	m.Graph.Outputs = []graph.ValueInfo{{Name: name}}
	s, err := runtime.Compile(m, runtime.Options{Threads: 1})
	if err != nil {
		t.Fatal(err)
	}
	res, err := s.Run(context.Background(), map[string]*tensor.Tensor{"x": x, l.Label(): label})
	if err != nil {
		t.Fatal(err)
	}
	v, err := scalarOf(res[name])
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func TestLosses(t *testing.T) {
	logits := tensor.From([]int{2, 3}, []float32{1, 2, 3, 1, 0, -1})
	sparse := tensor.From([]int{2}, []int64{2, 0})
	onehot := tensor.From([]int{2, 3}, []float32{0, 0, 1, 1, 0, 0})
	ce := 3.40760596 - 3 // both rows: log-sum-exp minus the target score
	for _, c := range []struct {
		name  string
		loss  Loss
		opset int
		x, y  *tensor.Tensor
		want  float64
	}{
		{"sparse CE", SoftmaxCrossEntropy("out", "y"), 13, logits, sparse, ce},
		{"sparse CE opset 12", SoftmaxCrossEntropy("out", "y"), 12, logits, sparse, ce},
		{"one-hot CE", SoftmaxCrossEntropyOneHot("out", "y"), 13, logits, onehot, ce},
		{"one-hot CE opset 11", SoftmaxCrossEntropyOneHot("out", "y"), 11, logits, onehot, ce},
		{"one-hot CE opset 18", SoftmaxCrossEntropyOneHot("out", "y"), 18, logits, onehot, ce},
		{"NLL", NLL("out", "y"), 13, logits, sparse, -2},
		{"BCE", BCE("out", "y"), 13, tensor.From([]int{2}, []float32{0.2, 0.9}), tensor.From([]int{2}, []float32{0, 1}), -(math.Log(0.8) + math.Log(0.9)) / 2},
		{"BCE opset 9", BCE("out", "y"), 9, tensor.From([]int{2}, []float32{0.2, 0.9}), tensor.From([]int{2}, []float32{0, 1}), -(math.Log(0.8) + math.Log(0.9)) / 2},
		{"BCE with logits", BCEWithLogits("out", "y"), 13, tensor.From([]int{2}, []float64{0, 2}), tensor.From([]int{2}, []float64{1, 0}), (math.Log(2) + math.Log1p(math.Exp(2))) / 2},
		{"MSE", MSE("out", "y"), 13, tensor.From([]int{2, 1}, []float64{1, 2}), tensor.From([]int{2, 1}, []float64{0, 4}), 2.5},
		{"MSE opset 18", MSE("out", "y"), 18, tensor.From([]int{2, 1}, []float64{1, 2}), tensor.From([]int{2, 1}, []float64{0, 4}), 2.5},
		{"L1", L1("out", "y"), 13, tensor.From([]int{2, 1}, []float64{1, 2}), tensor.From([]int{2, 1}, []float64{0, 4}), 1.5},
	} {
		got := lossValue(t, c.loss, c.opset, c.x, c.y)
		if !near(got, c.want, 1e-5) {
			t.Errorf("%s: %v, want %v", c.name, got, c.want)
		}
	}
}

// blobs returns n points in 2-D around three centres, labelled by centre.
func blobs(n int) TensorDataset {
	centres := [][2]float32{{2, 0}, {-1, 2}, {-1, -2}}
	x := make([]float32, 2*n)
	y := make([]int64, n)
	s := uint64(12345)
	next := func() float32 { // a small LCG, uniform in [-1, 1)
		s = s*6364136223846793005 + 1442695040888963407
		return float32(s>>40)/float32(1<<24)*2 - 1
	}
	for i := 0; i < n; i++ {
		c := i % 3
		x[2*i] = centres[c][0] + 0.8*next()
		x[2*i+1] = centres[c][1] + 0.8*next()
		y[i] = int64(c)
	}
	return TensorDataset{"input": tensor.From([]int{n, 2}, x), "label": tensor.From([]int{n}, y)}
}

// linearModel is x·W + b with x [N, 2] and 3 classes.
func linearModel() *graph.Model {
	g := &graph.Graph{
		Inputs:  []graph.ValueInfo{{Name: "x", Type: graph.Type{Kind: graph.KindTensor, DType: tensor.Float32, Shape: tensor.SymShape{{Size: -1, Param: "N"}, {Size: 2}}}}},
		Outputs: []graph.ValueInfo{{Name: "logits", Type: graph.Type{Kind: graph.KindTensor, DType: tensor.Float32, Shape: tensor.SymShape{{Size: -1, Param: "N"}, {Size: 3}}}}},
		Nodes:   []*graph.Node{{Name: "dense", OpType: "Gemm", Inputs: []string{"x", "W", "b"}, Outputs: []string{"logits"}}},
	}
	g.AddInitializer("W", tensor.From([]int{2, 3}, []float32{0.1, -0.2, 0.05, 0.3, 0.1, -0.1}))
	g.AddInitializer("b", tensor.From([]int{3}, []float32{0, 0, 0}))
	return &graph.Model{IRVersion: 8, Opsets: []graph.OpsetImport{{Version: 17}}, Graph: g}
}

func TestFitClassifier(t *testing.T) {
	for _, c := range []struct {
		name string
		loss Loss
		data TensorDataset
	}{
		{"sparse", SoftmaxCrossEntropy("logits", "label"), blobs(150)},
		{"one-hot", SoftmaxCrossEntropyOneHot("logits", "label"), oneHot(blobs(150), 3)},
	} {
		t.Run(c.name, func(t *testing.T) {
			tr, err := NewTrainer(linearModel(), TrainerOptions{
				Loss: c.loss, Optimizer: NewMomentum(0.1, 0.9, true), Seed: 3, Threads: 1, ClipNorm: 5,
				Schedule: StepLR{StepSize: 50, Gamma: 0.5},
			})
			if err != nil {
				t.Fatal(err)
			}
			var lines []string
			h, err := tr.Fit(context.Background(), c.data, FitOptions{
				Epochs: 40, BatchSize: 16, ValidationSplit: 0.2, Patience: 5, RestoreBest: true,
				Logf: func(f string, a ...any) { lines = append(lines, f) },
			})
			if err != nil {
				t.Fatal(err)
			}
			last := h.Epochs[len(h.Epochs)-1]
			t.Logf("%d epochs (stopped early: %v, best %d): loss %.4f acc %.3f, val loss %.4f val acc %.3f",
				len(h.Epochs), h.Stopped, h.BestEpoch, last.Loss, last.Accuracy, last.ValLoss, last.ValAccuracy)
			if last.ValAccuracy < 0.95 || last.Accuracy < 0.95 {
				t.Errorf("accuracy %v, validation accuracy %v; want >= 0.95", last.Accuracy, last.ValAccuracy)
			}
			if len(lines) != len(h.Epochs) {
				t.Errorf("%d log lines for %d epochs", len(lines), len(h.Epochs))
			}
		})
	}
}

// oneHot replaces the int64 labels of d by one-hot float32 rows.
func oneHot(d TensorDataset, classes int) TensorDataset {
	l := d["label"].Int64s()
	v := make([]float32, len(l)*classes)
	for i, c := range l {
		v[i*classes+int(c)] = 1
	}
	return TensorDataset{"input": d["input"], "label": tensor.From([]int{len(l), classes}, v)}
}

func TestEarlyStopping(t *testing.T) {
	// A learning rate of 0 never improves: training stops after Patience
	// epochs past the first.
	tr, err := NewTrainer(linearModel(), TrainerOptions{Loss: SoftmaxCrossEntropy("logits", "label"), Optimizer: NewSGD(0), Threads: 1})
	if err != nil {
		t.Fatal(err)
	}
	h, err := tr.Fit(context.Background(), blobs(30), FitOptions{Epochs: 50, BatchSize: 10, Patience: 3, MinDelta: 1e-9})
	if err != nil {
		t.Fatal(err)
	}
	if !h.Stopped || len(h.Epochs) != 4 || h.BestEpoch != 1 {
		t.Errorf("stopped %v after %d epochs (best %d), want after 4 (best 1)", h.Stopped, len(h.Epochs), h.BestEpoch)
	}
}
