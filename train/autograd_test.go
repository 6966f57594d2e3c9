package train

import (
	"context"
	"math/rand/v2"
	"reflect"
	"strings"
	"testing"

	"github.com/onyxrt/onyx/graph"
	"github.com/onyxrt/onyx/onnx"
	"github.com/onyxrt/onyx/ops"
	"github.com/onyxrt/onyx/runtime"
	"github.com/onyxrt/onyx/tensor"
)

// chainModel is a float64 two-layer network whose values are read by
// several nodes (so Backward must sum contributions), with a
// non-differentiable branch (Shape) and a constant input (Reshape's):
//
//	h = tanh(x·W1ᵀ + b1); loss = mean((h·W2)²) + sum(sum(softmax(h²))·b1s)
func chainModel(rng *rand.Rand) *graph.Model {
	g := &graph.Graph{
		Name: "chain",
		Nodes: []*graph.Node{
			{OpType: "Gemm", Inputs: []string{"x", "W1", "b1"}, Outputs: []string{"a"}, Attrs: []*ops.Attr{ops.IntAttr("transB", 1)}},
			{OpType: "Tanh", Inputs: []string{"a"}, Outputs: []string{"h"}},
			{OpType: "MatMul", Inputs: []string{"h", "W2"}, Outputs: []string{"z"}},
			{OpType: "Mul", Inputs: []string{"z", "z"}, Outputs: []string{"zz"}},
			{OpType: "ReduceMean", Inputs: []string{"zz"}, Outputs: []string{"l1"}, Attrs: []*ops.Attr{ops.IntAttr("keepdims", 0)}},
			{OpType: "Mul", Inputs: []string{"h", "h"}, Outputs: []string{"hh"}},
			{OpType: "Softmax", Inputs: []string{"hh"}, Outputs: []string{"p"}, Attrs: []*ops.Attr{ops.IntAttr("axis", 1)}},
			{OpType: "Shape", Inputs: []string{"W2"}, Outputs: []string{"s"}},
			{OpType: "Reshape", Inputs: []string{"p", "flat"}, Outputs: []string{"pf"}},
			{OpType: "ReduceSum", Inputs: []string{"pf"}, Outputs: []string{"l2"}, Attrs: []*ops.Attr{ops.IntAttr("keepdims", 0)}},
			{OpType: "Mul", Inputs: []string{"l2", "b1s"}, Outputs: []string{"l2b"}},
			{OpType: "ReduceSum", Inputs: []string{"l2b"}, Outputs: []string{"l3"}, Attrs: []*ops.Attr{ops.IntAttr("keepdims", 0)}},
			{OpType: "Add", Inputs: []string{"l1", "l3"}, Outputs: []string{"loss"}},
		},
		Outputs: []graph.ValueInfo{{Name: "loss"}},
	}
	g.AddInitializer("x", randT(rng, 0.1, 1, true, 3, 4))
	g.AddInitializer("W1", randT(rng, 0.1, 1, true, 5, 4))
	g.AddInitializer("b1", randT(rng, 0.1, 1, true, 5))
	g.AddInitializer("W2", randT(rng, 0.1, 1, true, 5, 2))
	g.AddInitializer("b1s", randT(rng, 0.1, 1, true, 2))
	g.AddInitializer("flat", tensor.From([]int{1}, []int64{-1}))
	return &graph.Model{IRVersion: 8, Opsets: []graph.OpsetImport{{Version: 17}}, Graph: g}
}

// TestBackwardChain checks a multi-node graph with shared values, fan-out
// and a non-differentiable branch against finite differences.
func TestBackwardChain(t *testing.T) {
	m := chainModel(rand.New(rand.NewPCG(9, 9)))
	var st GradCheckStats
	if err := CheckModelGradient(m, "loss", []string{"W1", "b1", "W2", "x", "b1s"}, GradCheckOptions{Stats: &st}); err != nil {
		t.Fatal(err)
	}
	t.Logf("%d elements, max abs err %.2g, max rel err %.2g", st.Checked, st.MaxAbsErr, st.MaxRelErr)
}

// TestBackwardStructure checks the returned model: parameters become
// inputs, gradients are named outputs, the source model is untouched.
func TestBackwardStructure(t *testing.T) {
	m := chainModel(rand.New(rand.NewPCG(9, 9)))
	nInit, nNodes := len(m.Graph.Initializers), len(m.Graph.Nodes)
	bm, grads, err := Backward(m, "loss", []string{"W1", "W2"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(m.Graph.Initializers) != nInit || len(m.Graph.Nodes) != nNodes || len(m.Graph.Outputs) != 1 {
		t.Error("Backward modified its input model")
	}
	if grads["W1"] != "W1_grad" || grads["W2"] != "W2_grad" {
		t.Errorf("gradient names %v", grads)
	}
	if bm.Graph.IsInitializer("W1") || !bm.Graph.IsInitializer("b1") {
		t.Error("parameters must move from the initializers to the inputs, other initializers stay")
	}
	var feeds []string
	for _, in := range bm.Graph.FeedInputs() {
		feeds = append(feeds, in.Name)
	}
	if strings.Join(feeds, ",") != "W1,W2" {
		t.Errorf("feed inputs %v, want W1,W2", feeds)
	}
	var outs []string
	for _, o := range bm.Graph.Outputs {
		outs = append(outs, o.Name)
	}
	if strings.Join(outs, ",") != "loss,W1_grad,W2_grad" {
		t.Errorf("outputs %v", outs)
	}
	if bm.Opset(ops.GradDomain) != 1 {
		t.Error("the training model must import the gradient domain")
	}
	s, err := runtime.Compile(bm, runtime.Options{Threads: 1})
	if err != nil {
		t.Fatal(err)
	}
	res, err := s.Run(context.Background(), map[string]*tensor.Tensor{"W1": m.Graph.Initializers["W1"], "W2": m.Graph.Initializers["W2"]})
	if err != nil {
		t.Fatal(err)
	}
	if !tensor.ShapeEqual(res["W1_grad"].Shape(), []int{5, 4}) {
		t.Errorf("W1_grad shape %v", res["W1_grad"].Shape())
	}
	// The training graph is a valid ONNX model: it survives a round trip.
	data, err := onnx.Encode(bm)
	if err != nil {
		t.Fatal(err)
	}
	back, err := onnx.Decode(data)
	if err != nil {
		t.Fatal(err)
	}
	s2, err := runtime.Compile(back, runtime.Options{Threads: 1})
	if err != nil {
		t.Fatal(err)
	}
	res2, err := s2.Run(context.Background(), map[string]*tensor.Tensor{"W1": m.Graph.Initializers["W1"], "W2": m.Graph.Initializers["W2"]})
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(res2["W1_grad"].Float64s(), res["W1_grad"].Float64s()) {
		t.Error("the decoded training graph computes other gradients")
	}
}

// TestBackwardZeroGradient: a parameter that reaches the loss only
// through a non-differentiable operator gets a zero gradient.
func TestBackwardZeroGradient(t *testing.T) {
	g := &graph.Graph{
		Nodes: []*graph.Node{
			{OpType: "Shape", Inputs: []string{"v"}, Outputs: []string{"s"}},
			{OpType: "Cast", Inputs: []string{"s"}, Outputs: []string{"sf"}, Attrs: []*ops.Attr{ops.IntAttr("to", int64(tensor.Float64))}},
			{OpType: "Mul", Inputs: []string{"w", "sf"}, Outputs: []string{"p"}},
			{OpType: "ReduceSum", Inputs: []string{"p"}, Outputs: []string{"loss"}, Attrs: []*ops.Attr{ops.IntAttr("keepdims", 0)}},
		},
		Outputs: []graph.ValueInfo{{Name: "loss"}},
	}
	g.AddInitializer("v", f64s([]int{3}, 1, 2, 3))
	g.AddInitializer("w", f64s([]int{1}, 2))
	m := &graph.Model{Opsets: []graph.OpsetImport{{Version: 17}}, Graph: g}
	bm, grads, err := Backward(m, "loss", []string{"w", "v"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	s, err := runtime.Compile(bm, runtime.Options{Threads: 1})
	if err != nil {
		t.Fatal(err)
	}
	res, err := s.Run(context.Background(), map[string]*tensor.Tensor{"w": g.Initializers["w"], "v": g.Initializers["v"]})
	if err != nil {
		t.Fatal(err)
	}
	if got := res[grads["w"]].Float64s(); got[0] != 3 {
		t.Errorf("d loss/dw = %v, want 3", got)
	}
	if got := res[grads["v"]].Float64s(); got[0] != 0 || got[1] != 0 || got[2] != 0 || len(got) != 3 {
		t.Errorf("d loss/dv = %v, want zeros", got)
	}
	if _, _, err := Backward(m, "loss", []string{"v"}, nil); err == nil || !strings.Contains(err.Error(), "does not depend") {
		t.Errorf("a loss independent of every parameter: err = %v", err)
	}
}

// TestBackwardMissingRule: the error names the node and the operator.
func TestBackwardMissingRule(t *testing.T) {
	reg := ops.Default()
	reg.Register(&ops.Def{Domain: "test.domain", Name: "Twice", Since: 1, Build: func(b *ops.Builder) (ops.Kernel, error) {
		return ops.KernelFunc(func(rc *ops.RunContext, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
			return []*tensor.Tensor{in[0]}, nil
		}), nil
	}})
	g := &graph.Graph{
		Nodes: []*graph.Node{
			{Name: "mystery", OpType: "Twice", Domain: "test.domain", Inputs: []string{"w"}, Outputs: []string{"y"}},
			{OpType: "ReduceSum", Inputs: []string{"y"}, Outputs: []string{"loss"}},
		},
		Outputs: []graph.ValueInfo{{Name: "loss"}},
	}
	g.AddInitializer("w", f64s([]int{2}, 1, 2))
	m := &graph.Model{Opsets: []graph.OpsetImport{{Version: 17}, {Domain: "test.domain", Version: 1}}, Graph: g}
	_, _, err := Backward(m, "loss", []string{"w"}, reg)
	if err == nil {
		t.Fatal("no error for an operator without a gradient rule")
	}
	for _, want := range []string{"no gradient rule", "Twice", `"mystery"`, "test.domain", "w"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not mention %s", err, want)
		}
	}
	if _, _, err := Backward(m, "nope", []string{"w"}, reg); err == nil {
		t.Error("no error for an unknown loss")
	}
	if _, _, err := Backward(m, "loss", []string{"y"}, reg); err == nil {
		t.Error("no error for a parameter that is an intermediate value")
	}
}
