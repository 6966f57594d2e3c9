package train

import (
	"context"
	"math"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/onyxrt/onyx/graph"
	"github.com/onyxrt/onyx/onnx"
	"github.com/onyxrt/onyx/ops"
	"github.com/onyxrt/onyx/runtime"
	"github.com/onyxrt/onyx/tensor"
)

func TestMatchName(t *testing.T) {
	for _, c := range []struct {
		pat, name string
		want      bool
	}{
		{"W1", "W1", true},
		{"W1", "W10", false},
		{"b*", "b1", true},
		{"conv1/*", "conv1/weight", true},
		{"conv1/*", "conv2/weight", false},
		{"re:W[0-9]", "W1", true},
		{"re:W", "W1", false}, // whole-name match
		{"re:.*bias", "fc.bias", true},
		{"a[b", "a[b", true}, // a bad glob still matches itself
	} {
		got, err := MatchName(c.pat, c.name)
		if err != nil && c.pat != "a[b" {
			t.Errorf("MatchName(%q, %q): %v", c.pat, c.name, err)
		}
		if got != c.want {
			t.Errorf("MatchName(%q, %q) = %v, want %v", c.pat, c.name, got, c.want)
		}
	}
	if _, err := MatchName("re:(", "x"); err == nil {
		t.Error("bad regexp accepted")
	}
}

func TestFreeze(t *testing.T) {
	feeds := map[string]*tensor.Tensor{"x": xorX, "target": xorY}
	before, err := ParamsBefore(xorModel(5).Graph, "a1")
	if err != nil || !reflect.DeepEqual(before, []string{"W1", "b1"}) {
		t.Errorf("ParamsBefore(a1) = %v, %v; want [W1 b1]", before, err)
	}
	for _, c := range []struct {
		name string
		opts TrainerOptions
		want []string
	}{
		{"all", TrainerOptions{}, []string{"W1", "W2", "b1", "b2"}},
		{"names+glob", TrainerOptions{Freeze: []string{"W1", "b*"}}, []string{"W2"}},
		{"regexp", TrainerOptions{Freeze: []string{"re:W.*"}}, []string{"b1", "b2"}},
		{"before", TrainerOptions{FreezeBefore: "a1"}, []string{"W2", "b2"}},
		{"explicit", TrainerOptions{Params: []string{"b2", "W1"}}, []string{"b2", "W1"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			m := xorModel(5)
			opts := c.opts
			opts.Loss, opts.Optimizer, opts.Threads = MSE("y", "target"), NewSGD(1), 1
			tr, err := NewTrainer(m, opts)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(tr.Params(), c.want) {
				t.Fatalf("params %v, want %v", tr.Params(), c.want)
			}
			for i := 0; i < 3; i++ {
				if _, err := tr.Step(context.Background(), feeds); err != nil {
					t.Fatal(err)
				}
			}
			trained := tr.Model().Graph.Initializers
			for name, orig := range m.Graph.Initializers {
				changed := !reflect.DeepEqual(trained[name].Float32s(), orig.Float32s())
				want := false
				for _, p := range c.want {
					want = want || p == name
				}
				if changed != want {
					t.Errorf("%s changed: %v, want %v", name, changed, want)
				}
			}
		})
	}
	if _, err := NewTrainer(xorModel(5), TrainerOptions{Loss: MSE("y", "t"), Optimizer: NewSGD(1), Freeze: []string{"*"}}); err == nil {
		t.Error("freezing everything must fail")
	}
}

// TestTransferHead cuts the XOR network after its hidden layer, attaches
// a 3-class head and trains only the head on the blobs.
func TestTransferHead(t *testing.T) {
	base := xorModel(5)
	m, out, err := TransferHead(base, "a1", 3, DenseOptions{Seed: 7})
	if err != nil {
		t.Fatal(err)
	}
	if len(m.Graph.Outputs) != 1 || m.Graph.Outputs[0].Name != out || len(m.Graph.Nodes) != 4 {
		t.Fatalf("head model: outputs %v, %d nodes", m.Graph.Outputs, len(m.Graph.Nodes))
	}
	if m.Graph.IsInitializer("W2") {
		t.Error("the cut kept the old head's weights")
	}
	w := m.Graph.Initializers["head/W"]
	limit := math.Sqrt(6.0 / 5)
	for _, v := range w.Float32s() {
		if math.Abs(float64(v)) > limit {
			t.Errorf("Glorot weight %v outside ±%v", v, limit)
		}
	}
	if !tensor.ShapeEqual(w.Shape(), []int{2, 3}) {
		t.Errorf("head weights %v", w.Shape())
	}
	tr, err := NewTrainer(m, TrainerOptions{Loss: SoftmaxCrossEntropy(out, "label"), Optimizer: NewAdam(0.05), FreezeBefore: "a1", Threads: 1, Seed: 2})
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(tr.Params(), []string{"head/W", "head/b"}) {
		t.Errorf("params %v", tr.Params())
	}
	h, err := tr.Fit(context.Background(), blobs(90), FitOptions{Epochs: 30, BatchSize: 15})
	if err != nil {
		t.Fatal(err)
	}
	first, last := h.Epochs[0], h.Epochs[len(h.Epochs)-1]
	t.Logf("loss %.3f -> %.3f, accuracy %.2f -> %.2f", first.Loss, last.Loss, first.Accuracy, last.Accuracy)
	if !(last.Loss < first.Loss) {
		t.Error("the head did not learn")
	}
	if !reflect.DeepEqual(tr.Model().Graph.Initializers["W1"].Float32s(), base.Graph.Initializers["W1"].Float32s()) {
		t.Error("a frozen weight changed")
	}
}

// bnModel is x [N,3] -> Gemm -> BatchNormalization -> Relu -> Dropout ->
// Gemm -> y [N,1], opset 15.
func bnModel() *graph.Model {
	n := tensor.Dim{Size: -1, Param: "N"}
	g := &graph.Graph{
		Inputs:  []graph.ValueInfo{{Name: "x", Type: graph.Type{Kind: graph.KindTensor, DType: tensor.Float32, Shape: tensor.SymShape{n, {Size: 3}}}}},
		Outputs: []graph.ValueInfo{{Name: "y", Type: graph.Type{Kind: graph.KindTensor, DType: tensor.Float32, Shape: tensor.SymShape{n, {Size: 1}}}}},
		Nodes: []*graph.Node{
			{Name: "fc1", OpType: "Gemm", Inputs: []string{"x", "W1", "b1"}, Outputs: []string{"h"}},
			{Name: "bn", OpType: "BatchNormalization", Inputs: []string{"h", "gamma", "beta", "mean", "var"}, Outputs: []string{"hn"}},
			{Name: "relu", OpType: "Relu", Inputs: []string{"hn"}, Outputs: []string{"r"}},
			{Name: "drop", OpType: "Dropout", Inputs: []string{"r", "ratio"}, Outputs: []string{"d"}},
			{Name: "fc2", OpType: "Gemm", Inputs: []string{"d", "W2", "b2"}, Outputs: []string{"y"}},
		},
	}
	g.AddInitializer("W1", tensor.From([]int{3, 4}, []float32{0.5, -0.3, 0.2, 0.1, -0.4, 0.6, 0.3, -0.2, 0.1, 0.2, -0.5, 0.4}))
	g.AddInitializer("b1", tensor.From([]int{4}, []float32{0.1, 0, -0.1, 0.2}))
	g.AddInitializer("gamma", tensor.From([]int{4}, []float32{1, 1, 1, 1}))
	g.AddInitializer("beta", tensor.From([]int{4}, []float32{0, 0, 0, 0}))
	g.AddInitializer("mean", tensor.From([]int{4}, []float32{0, 0, 0, 0}))
	g.AddInitializer("var", tensor.From([]int{4}, []float32{1, 1, 1, 1}))
	g.AddInitializer("ratio", tensor.Scalar(float32(0.25)))
	g.AddInitializer("W2", tensor.From([]int{4, 1}, []float32{0.3, -0.2, 0.5, 0.1}))
	g.AddInitializer("b2", tensor.From([]int{1}, []float32{0}))
	return &graph.Model{IRVersion: 8, Opsets: []graph.OpsetImport{{Version: 15}}, Graph: g}
}

// TestTrainingMode: BatchNormalization trains on batch statistics and
// writes its running statistics back; Dropout is active in training; the
// exported model keeps the inference forms.
func TestTrainingMode(t *testing.T) {
	m := bnModel()
	tr, err := NewTrainer(m, TrainerOptions{Loss: MSE("y", "t"), Optimizer: NewSGD(0.05), Threads: 1})
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(tr.Params(), []string{"W1", "W2", "b1", "b2", "beta", "gamma"}) {
		t.Errorf("params %v: running statistics and the dropout ratio are not parameters", tr.Params())
	}
	x := tensor.From([]int{4, 3}, []float32{1, 2, 3, -1, 0, 1, 2, -2, 0, 0.5, 1, -1})
	y := tensor.From([]int{4, 1}, []float32{1, 0, -1, 0.5})
	for i := 0; i < 5; i++ {
		if _, err := tr.Step(context.Background(), map[string]*tensor.Tensor{"x": x, "t": y}); err != nil {
			t.Fatal(err)
		}
	}
	mean := tr.Value("mean").Float32s()
	if reflect.DeepEqual(mean, []float32{0, 0, 0, 0}) {
		t.Error("the running mean was not updated")
	}
	path := filepath.Join(t.TempDir(), "bn.onnx")
	if err := tr.Export(path); err != nil {
		t.Fatal(err)
	}
	back, err := onnx.DecodeFile(path)
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range back.Graph.Nodes {
		if n.OpType == "BatchNormalization" && (len(n.Outputs) != 1 || n.Attr("training_mode") != nil) {
			t.Errorf("exported BatchNormalization is not in inference form: outputs %v", n.Outputs)
		}
		if n.OpType == "Dropout" && len(n.Inputs) != 2 {
			t.Errorf("exported Dropout has inputs %v", n.Inputs)
		}
		if ops.NormDomain(n.Domain) != "" {
			t.Errorf("exported model has a %s node of domain %s", n.OpType, n.Domain)
		}
	}
	if !reflect.DeepEqual(back.Graph.Initializers["mean"].Float32s(), mean) {
		t.Error("the exported running mean differs from the trained one")
	}
	// Inference (no dropout, running statistics) is deterministic and
	// matches the trainer's evaluation graph.
	s, err := runtime.Compile(back, runtime.Options{Threads: 1})
	if err != nil {
		t.Fatal(err)
	}
	res, err := s.Run(context.Background(), map[string]*tensor.Tensor{"x": x})
	if err != nil {
		t.Fatal(err)
	}
	ev, err := tr.Run(context.Background(), map[string]*tensor.Tensor{"x": x, "t": y})
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(res["y"].Float32s(), ev["y"].Float32s()) {
		t.Errorf("exported model gives %v, the trainer's evaluation %v", res["y"], ev["y"])
	}
}
