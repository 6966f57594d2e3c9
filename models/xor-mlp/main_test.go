package main

import (
	"context"
	"math"
	"testing"

	"github.com/onyxrt/onyx/onnx"
	"github.com/onyxrt/onyx/runtime"
	"github.com/onyxrt/onyx/tensor"
)

// TestCommittedModel runs the model.onnx this program wrote: it must
// compute XOR within 0.1.
func TestCommittedModel(t *testing.T) {
	m, err := onnx.DecodeFile("model.onnx")
	if err != nil {
		t.Fatal(err)
	}
	s, err := runtime.Compile(m, runtime.Options{Threads: 1})
	if err != nil {
		t.Fatal(err)
	}
	x := tensor.From([]int{4, 2}, []float32{0, 0, 0, 1, 1, 0, 1, 1})
	res, err := s.Run(context.Background(), map[string]*tensor.Tensor{"x": x})
	if err != nil {
		t.Fatal(err)
	}
	for i, v := range res["y"].Float32s() {
		want := []float32{0, 1, 1, 0}[i]
		if math.Abs(float64(v-want)) > 0.1 {
			t.Errorf("xor output %d = %v, want %v", i, v, want)
		}
	}
}

// TestBuildMLP checks the graph the program trains.
func TestBuildMLP(t *testing.T) {
	m := buildMLP(5)
	if len(m.Graph.Nodes) != 6 || len(m.Graph.Initializers) != 4 {
		t.Errorf("%d nodes, %d initializers", len(m.Graph.Nodes), len(m.Graph.Initializers))
	}
	if _, err := runtime.Compile(m, runtime.Options{Threads: 1}); err != nil {
		t.Fatal(err)
	}
}
