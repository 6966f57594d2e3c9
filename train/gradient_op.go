package train

import (
	"fmt"

	"github.com/onyxrt/onyx/graph"
	"github.com/onyxrt/onyx/ops"
	"github.com/onyxrt/onyx/runtime"
	"github.com/onyxrt/onyx/tensor"
)

// trainingDomain is the domain of ONNX's training operators.
const trainingDomain = "ai.onnx.preview.training"

// RegisterOps adds to r the operators that need autograd and so cannot
// live in package ops: the Gradient operator of ai.onnx.preview.training.
func RegisterOps(r *ops.Registry) {
	r.Register(&ops.Def{Domain: trainingDomain, Name: "Gradient", Since: 1, Build: buildGradient(r), Grad: ops.NotDifferentiable})
}

// Registry returns ops.Default() with RegisterOps applied.
func Registry() *ops.Registry {
	r := ops.Default()
	RegisterOps(r)
	return r
}

// buildGradient compiles, once, the backward graph of the part of the
// enclosing graph that computes y from the inputs xs and zs; the kernel
// runs it on the node's inputs (xs then zs) and returns dy/dx for each x
// (with an all-ones seed when y is not a scalar).
func buildGradient(reg *ops.Registry) func(b *ops.Builder) (ops.Kernel, error) {
	return func(b *ops.Builder) (ops.Kernel, error) {
		xs := b.Strings("xs", nil)
		zs := b.Strings("zs", nil)
		y := b.String("y", "")
		if err := b.Err(); err != nil {
			return nil, err
		}
		g, ok := b.Graph.(*graph.Graph)
		if !ok || b.OpsetOf == nil {
			return nil, fmt.Errorf("Gradient needs the enclosing graph")
		}
		if y == "" || len(xs) == 0 {
			return nil, fmt.Errorf("Gradient needs the attributes xs and y")
		}
		if b.NumInputs != len(xs)+len(zs) || b.NumOutputs != len(xs) {
			return nil, fmt.Errorf("Gradient with %d xs and %d zs takes %d inputs and gives %d outputs, the node has %d and %d",
				len(xs), len(zs), len(xs)+len(zs), len(xs), b.NumInputs, b.NumOutputs)
		}
		sub, err := forwardPart(g, y, append(append([]string(nil), xs...), zs...))
		if err != nil {
			return nil, err
		}
		var opsets []graph.OpsetImport
		for _, d := range []string{"", trainingDomain} {
			opsets = append(opsets, graph.OpsetImport{Domain: d, Version: int64(b.OpsetOf(d))})
		}
		bm, grads, err := Backward(&graph.Model{IRVersion: 8, Opsets: opsets, Graph: sub}, y, xs, reg)
		if err != nil {
			return nil, err
		}
		sess, err := runtime.Compile(bm, runtime.Options{Registry: reg, Threads: 1})
		if err != nil {
			return nil, err
		}
		names := append(append([]string(nil), xs...), zs...)
		return ops.KernelFunc(func(rc *ops.RunContext, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
			feeds := map[string]*tensor.Tensor{}
			for _, vi := range sess.Inputs() {
				for i, n := range names {
					if n == vi.Name {
						feeds[n] = in[i]
					}
				}
			}
			out, err := sess.Run(rc.Ctx, feeds)
			if err != nil {
				return nil, err
			}
			res := make([]*tensor.Tensor, len(xs))
			for i, x := range xs {
				res[i] = out[grads[x]]
			}
			return res, nil
		}), nil
	}
}

// forwardPart returns the nodes of g that compute y from the values given
// (which become the graph's inputs), with the initializers they read.
func forwardPart(g *graph.Graph, y string, given []string) (*graph.Graph, error) {
	producer := map[string]*graph.Node{}
	for _, n := range g.Nodes {
		for _, o := range n.Outputs {
			if o != "" {
				producer[o] = n
			}
		}
	}
	isGiven := map[string]bool{}
	sub := &graph.Graph{Name: "gradient_of_" + y}
	for _, name := range given {
		isGiven[name] = true
		vi := graph.ValueInfo{Name: name}
		for _, in := range g.Inputs {
			if in.Name == name {
				vi = in
			}
		}
		sub.Inputs = append(sub.Inputs, vi)
	}
	seen := map[*graph.Node]bool{}
	var visit func(v string) error
	visit = func(v string) error {
		if v == "" || isGiven[v] {
			return nil
		}
		if t, ok := g.Initializers[v]; ok {
			if !sub.IsInitializer(v) {
				sub.AddInitializer(v, t)
			}
			return nil
		}
		n, ok := producer[v]
		if !ok {
			return fmt.Errorf("Gradient: %q depends on %q, which is neither in xs/zs nor computed by the graph", y, v)
		}
		if seen[n] {
			return nil
		}
		seen[n] = true
		for _, in := range graph.NodeInputs(n) {
			if err := visit(in); err != nil {
				return err
			}
		}
		sub.Nodes = append(sub.Nodes, n)
		return nil
	}
	if err := visit(y); err != nil {
		return nil, err
	}
	sub.Outputs = []graph.ValueInfo{{Name: y}}
	return sub, nil
}
