package train

import (
	"context"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/onyxrt/onyx/graph"
	"github.com/onyxrt/onyx/ops"
	"github.com/onyxrt/onyx/runtime"
	"github.com/onyxrt/onyx/tensor"
)

// poolCNN is x -> Conv -> Relu -> MaxPool 2×2 -> Conv -> Relu -> MaxPool
// 2×2 -> Mul(r) -> ReduceSum: every backward fusion of fuseBackward
// applies to it. x, the weights and biases are initializers of dt.
func poolCNN(seed uint64, dt tensor.DType) *graph.Model {
	rng := rand.New(rand.NewPCG(seed, 3))
	r := func(shape ...int) *tensor.Tensor {
		n := 1
		for _, d := range shape {
			n *= d
		}
		v := make([]float64, n)
		for i := range v {
			v[i] = rng.Float64()*2 - 1
		}
		t, _ := tensor.From(shape, v).Cast(dt)
		return t
	}
	g := &graph.Graph{Name: "pool_cnn"}
	for name, t := range map[string]*tensor.Tensor{
		"x": r(2, 2, 11, 10), "w1": r(3, 2, 3, 3), "b1": r(3), "w2": r(2, 3, 2, 2), "b2": r(2), "proj": r(2, 2, 1, 1),
	} {
		g.AddInitializer(name, t)
	}
	pool := []*ops.Attr{ops.IntsAttr("kernel_shape", 2, 2), ops.IntsAttr("strides", 2, 2)}
	g.Nodes = []*graph.Node{
		{Name: "conv1", OpType: "Conv", Inputs: []string{"x", "w1", "b1"}, Outputs: []string{"c1"}},
		{Name: "relu1", OpType: "Relu", Inputs: []string{"c1"}, Outputs: []string{"r1"}},
		{Name: "pool1", OpType: "MaxPool", Inputs: []string{"r1"}, Outputs: []string{"p1"}, Attrs: pool},
		{Name: "conv2", OpType: "Conv", Inputs: []string{"p1", "w2", "b2"}, Outputs: []string{"c2"}},
		{Name: "relu2", OpType: "Relu", Inputs: []string{"c2"}, Outputs: []string{"r2"}},
		{Name: "pool2", OpType: "MaxPool", Inputs: []string{"r2"}, Outputs: []string{"p2"}, Attrs: pool},
		{Name: "proj", OpType: "Mul", Inputs: []string{"p2", "proj"}, Outputs: []string{"m"}},
		{Name: "sum", OpType: "ReduceSum", Inputs: []string{"m"}, Outputs: []string{"loss"}, Attrs: []*ops.Attr{ops.IntAttr("keepdims", 0)}},
	}
	g.Outputs = []graph.ValueInfo{{Name: "loss", Type: graph.Type{Kind: graph.KindTensor, DType: dt}}}
	return &graph.Model{IRVersion: 8, Opsets: []graph.OpsetImport{{Domain: "", Version: 17}}, Graph: g}
}

func TestFuseBackward(t *testing.T) {
	m := poolCNN(1, tensor.Float64)
	bm, _, err := Backward(m, "loss", []string{"x", "w1", "b1", "w2", "b2"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	pooled := 0
	for _, n := range bm.Graph.Nodes {
		switch {
		case n.Domain == ops.GradDomain && n.OpType == "MaxPoolGrad":
			t.Errorf("%s is left: both poolings should be folded into the ConvGrad after them", n.Name)
		case n.Domain == ops.GradDomain && n.OpType == "UnaryGrad":
			t.Errorf("%s (%s) is left: Relu's gradient should be fused into the pooling's", n.Name, n.Attr("op").String)
		case n.Domain == ops.GradDomain && n.OpType == "ConvGrad":
			if a := n.Attr("pooled_dy"); a == nil || a.Int != 1 || len(n.Inputs) != 4 {
				t.Errorf("%s reads %v without pooled_dy", n.Name, n.Inputs)
			} else {
				pooled++
			}
		}
		for _, in := range n.Inputs {
			if in == "c1" || in == "c2" {
				if n.OpType != "Relu" {
					t.Errorf("%s (%s) reads the Conv output %s, which only the Relu should read", n.Name, n.OpType, in)
				}
			}
		}
	}
	if pooled != 2 {
		t.Errorf("%d ConvGrad nodes with pooled_dy, want 2", pooled)
	}
	// The fused graph's gradients against finite differences in float64
	// (ConvGrad's general path), and in float32 (its fast path) against
	// float64 (finite differences in float32 step over the kinks of
	// Relu and max pooling).
	wrt := []string{"x", "w1", "b1", "w2", "b2"}
	for seed := uint64(1); seed <= 3; seed++ {
		var st GradCheckStats
		if err := CheckModelGradient(poolCNN(seed, tensor.Float64), "loss", wrt, GradCheckOptions{Stats: &st}); err != nil {
			t.Errorf("seed %d: %v", seed, err)
		}
		want := backwardGrads(t, poolCNN(seed, tensor.Float64), wrt)
		got := backwardGrads(t, poolCNN(seed, tensor.Float32), wrt)
		for _, w := range wrt {
			g, e := got[w].Float64s(), want[w].Float64s()
			for i := range e {
				if d := math.Abs(g[i] - e[i]); d > 1e-4*math.Max(1, math.Abs(e[i])) {
					t.Errorf("seed %d: float32 d/d %s [%d] = %g, float64 %g", seed, w, i, g[i], e[i])
					break
				}
			}
		}
	}
}

// backwardGrads runs Backward's graph of m for the gradients of wrt
// (initializers, fed their values) with 2 threads.
func backwardGrads(t *testing.T, m *graph.Model, wrt []string) map[string]*tensor.Tensor {
	t.Helper()
	feeds := map[string]*tensor.Tensor{}
	for _, w := range wrt {
		feeds[w] = m.Graph.Initializers[w]
	}
	bm, grads, err := Backward(m, "loss", wrt, nil)
	if err != nil {
		t.Fatal(err)
	}
	s, err := runtime.Compile(bm, runtime.Options{Threads: 2})
	if err != nil {
		t.Fatal(err)
	}
	out, err := s.Run(context.Background(), feeds)
	if err != nil {
		t.Fatal(err)
	}
	res := map[string]*tensor.Tensor{}
	for _, w := range wrt {
		res[w] = out[grads[w]]
	}
	return res
}

// TestFuseBackwardKeepsShared checks that a pooling gradient read by
// another node too, or a graph output, is not fused away.
func TestFuseBackwardKeepsShared(t *testing.T) {
	g := &graph.Graph{
		Nodes: []*graph.Node{
			{Name: "mp", Domain: ops.GradDomain, OpType: "MaxPoolGrad", Inputs: []string{"dp", "r"}, Outputs: []string{"d"},
				Attrs: []*ops.Attr{ops.IntsAttr("kernel_shape", 2, 2), ops.IntsAttr("strides", 2, 2)}},
			{Name: "relu", Domain: ops.GradDomain, OpType: "UnaryGrad", Inputs: []string{"d", "c", "r"}, Outputs: []string{"dc"},
				Attrs: []*ops.Attr{ops.StringAttr("op", "Relu")}},
			{Name: "other", OpType: "Identity", Inputs: []string{"d"}, Outputs: []string{"e"}},
		},
		Outputs: []graph.ValueInfo{{Name: "dc"}, {Name: "e"}},
	}
	fuseBackward(g)
	if len(g.Nodes) != 3 || g.Nodes[0].Attr("activation") != nil {
		t.Errorf("a pooling gradient with two readers was fused: %v", g.Nodes)
	}
	if in := g.Nodes[1].Inputs; in[1] != "" || in[2] != "r" {
		t.Errorf("Relu's gradient reads %q, want only its output r", in)
	}
}
