package train

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"sort"
	"strings"

	"github.com/onyxrt/onyx/graph"
	"github.com/onyxrt/onyx/ops"
	"github.com/onyxrt/onyx/runtime"
	"github.com/onyxrt/onyx/tensor"
)

// GradCheckOptions tune GradCheck. The zero value suits float64 inputs.
type GradCheckOptions struct {
	// Domain is the operator's domain ("" for ai.onnx).
	Domain string
	// NumOutputs is the node's output count (default 1).
	NumOutputs int
	// Outputs lists the outputs that enter the loss (default all).
	Outputs []int
	// Step is the finite-difference step h (default 1e-6 for float64
	// inputs, 1e-2 for float32).
	Step float64
	// RTol and ATol bound |analytic - numeric| by ATol + RTol*max(|a|,|n|)
	// (defaults 1e-5 and 1e-6 for float64; 2e-2 and 2e-3 for float32).
	RTol, ATol float64
	// Seed seeds the random projection of the outputs.
	Seed uint64
	// Registry supplies the operators (nil means ops.Default()).
	Registry *ops.Registry
	// Stats, when set, receives the largest errors found.
	Stats *GradCheckStats
}

// GradCheckStats reports how close the analytic gradients came to the
// finite differences.
type GradCheckStats struct {
	Checked   int     // gradient elements compared
	MaxAbsErr float64 // largest |analytic - numeric|
	MaxRelErr float64 // largest |a - n| / max(|a|, |n|, 1e-12)
}

// GradCheck checks the gradient rule of one operator against central
// finite differences. It builds a one-node graph (opType at the given
// opset with attrs) whose inputs are the given tensors (nil for an omitted
// optional input), takes as loss L = sum_j sum(output_j ⊙ R_j) with R_j a
// seeded random projection, differentiates L with Backward with respect to
// the inputs listed in wrt, and compares every element of each gradient
// with (L(x+h) - L(x-h)) / 2h. It returns an error describing the worst
// mismatches, or nil.
func GradCheck(opType string, opset int, attrs []*ops.Attr, inputs []*tensor.Tensor, wrt []int, opts GradCheckOptions) error {
	if opts.NumOutputs <= 0 {
		opts.NumOutputs = 1
	}
	reg := opts.Registry
	if reg == nil {
		reg = defaultRegistry()
	}
	opts.Registry = reg
	outs := opts.Outputs
	if outs == nil {
		for j := 0; j < opts.NumOutputs; j++ {
			outs = append(outs, j)
		}
	}
	names := make([]string, len(inputs))
	for i, t := range inputs {
		if t != nil {
			names[i] = fmt.Sprintf("x%d", i)
		}
	}
	wrtNames := make([]string, len(wrt))
	for k, i := range wrt {
		if i < 0 || i >= len(inputs) || inputs[i] == nil {
			return fmt.Errorf("GradCheck %s: wrt input %d is absent", opType, i)
		}
		if !inputs[i].DType().IsFloat() {
			return fmt.Errorf("GradCheck %s: wrt input %d has element type %v", opType, i, inputs[i].DType())
		}
		wrtNames[k] = names[i]
	}
	outNames := make([]string, opts.NumOutputs)
	for j := range outNames {
		outNames[j] = fmt.Sprintf("y%d", j)
	}
	// Keep only requested outputs named: others are omitted.
	nodeOuts := make([]string, opts.NumOutputs)
	for _, j := range outs {
		if j < 0 || j >= opts.NumOutputs {
			return fmt.Errorf("GradCheck %s: output %d out of range", opType, j)
		}
		nodeOuts[j] = outNames[j]
	}
	node := &graph.Node{Name: "op", OpType: opType, Domain: opts.Domain, Inputs: names, Outputs: nodeOuts, Attrs: attrs}
	opsets := []graph.OpsetImport{{Domain: "", Version: int64(opset)}}
	if opts.Domain != "" {
		opsets = []graph.OpsetImport{{Domain: "", Version: 17}, {Domain: opts.Domain, Version: int64(opset)}}
	}
	g := &graph.Graph{Name: "gradcheck", Nodes: []*graph.Node{node}}
	for i, t := range inputs {
		if t != nil {
			g.AddInitializer(names[i], t)
		}
	}
	for _, j := range outs {
		g.Outputs = append(g.Outputs, graph.ValueInfo{Name: outNames[j], Type: graph.Type{Kind: graph.KindTensor}})
	}
	m := &graph.Model{IRVersion: 8, Opsets: opsets, Graph: g}

	// The forward pass gives the output shapes for the projections.
	sess, err := runtime.Compile(m, runtime.Options{Registry: reg, Threads: 1, DisableGraphPasses: true})
	if err != nil {
		return fmt.Errorf("GradCheck %s: forward: %w", opType, err)
	}
	y, err := sess.Run(context.Background(), nil)
	if err != nil {
		return fmt.Errorf("GradCheck %s: forward: %w", opType, err)
	}
	rng := rand.New(rand.NewPCG(opts.Seed, 0x9e3779b97f4a7c15))
	lossG := *g
	lossG.Initializers = map[string]*tensor.Tensor{}
	lossG.InitializerOrder = nil
	for _, name := range g.InitializerOrder {
		lossG.AddInitializer(name, g.Initializers[name])
	}
	lossG.Nodes = []*graph.Node{node}
	var terms []string
	for _, j := range outs {
		yt := y[outNames[j]]
		if !yt.DType().IsFloat() {
			return fmt.Errorf("GradCheck %s: output %d has element type %v", opType, j, yt.DType())
		}
		r := make([]float64, yt.Len())
		for k := range r {
			r[k] = 2*rng.Float64() - 1
		}
		rt, err := tensor.From(yt.Shape(), r).Cast(yt.DType())
		if err != nil {
			return err
		}
		rn := fmt.Sprintf("r%d", j)
		lossG.AddInitializer(rn, rt)
		p, s := fmt.Sprintf("p%d", j), fmt.Sprintf("s%d", j)
		lossG.Nodes = append(lossG.Nodes,
			&graph.Node{Name: "proj" + rn, OpType: "Mul", Inputs: []string{outNames[j], rn}, Outputs: []string{p}},
			&graph.Node{Name: "sum" + rn, OpType: "ReduceSum", Inputs: []string{p}, Outputs: []string{s}, Attrs: []*ops.Attr{ops.IntAttr("keepdims", 0)}},
		)
		terms = append(terms, s)
	}
	loss := terms[0]
	if len(terms) > 1 {
		loss = "loss"
		lossG.Nodes = append(lossG.Nodes, &graph.Node{Name: "total", OpType: "Sum", Inputs: terms, Outputs: []string{loss}})
	}
	lossG.Outputs = []graph.ValueInfo{{Name: loss, Type: graph.Type{Kind: graph.KindTensor}}}
	lossM := *m
	lossM.Graph = &lossG
	lossM.Opsets = append([]graph.OpsetImport(nil), m.Opsets...)

	if err := CheckModelGradient(&lossM, loss, wrtNames, opts); err != nil {
		return fmt.Errorf("GradCheck %s: %w", opType, err)
	}
	return nil
}

// CheckModelGradient checks Backward on a whole model: the gradient of the
// scalar value loss with respect to each value in wrt (initializers or
// graph inputs, whose current values are the initializers', so wrt must
// name initializers) against central finite differences of the loss.
// opts.Step, RTol, ATol, Registry and Stats apply as in GradCheck.
func CheckModelGradient(m *graph.Model, loss string, wrt []string, opts GradCheckOptions) error {
	reg := opts.Registry
	if reg == nil {
		reg = defaultRegistry()
	}
	values := map[string]*tensor.Tensor{}
	for _, w := range wrt {
		t, ok := m.Graph.Initializers[w]
		if !ok {
			return fmt.Errorf("%q is not an initializer", w)
		}
		values[w] = t
	}
	bm, grads, err := Backward(m, loss, wrt, reg)
	if err != nil {
		return err
	}
	bs, err := runtime.Compile(bm, runtime.Options{Registry: reg, Threads: 1})
	if err != nil {
		return fmt.Errorf("compiling the backward graph: %w", err)
	}
	res, err := bs.Run(context.Background(), values)
	if err != nil {
		return fmt.Errorf("running the backward graph: %w", err)
	}
	// The loss as a function of the wrt values, for finite differences.
	fm, err := paramsAsInputs(m, wrt)
	if err != nil {
		return err
	}
	fm.Graph.Outputs = []graph.ValueInfo{{Name: loss, Type: graph.Type{Kind: graph.KindTensor}}}
	fs, err := runtime.Compile(fm, runtime.Options{Registry: reg, Threads: 1, DisableGraphPasses: true})
	if err != nil {
		return err
	}
	eval := func(f map[string]*tensor.Tensor) (float64, error) {
		out, err := fs.Run(context.Background(), f)
		if err != nil {
			return 0, err
		}
		return scalarOf(out[loss])
	}

	var problems []string
	stats := GradCheckStats{}
	for _, w := range wrt {
		x := values[w]
		step, rtol, atol := opts.Step, opts.RTol, opts.ATol
		if x.DType() == tensor.Float64 {
			step, rtol, atol = orDefault(step, 1e-6), orDefault(rtol, 1e-5), orDefault(atol, 1e-6)
		} else {
			step, rtol, atol = orDefault(step, 1e-2), orDefault(rtol, 2e-2), orDefault(atol, 2e-3)
		}
		gt := res[grads[w]]
		if gt == nil || !tensor.ShapeEqual(gt.Shape(), x.Shape()) {
			var s []int
			if gt != nil {
				s = gt.Shape()
			}
			problems = append(problems, fmt.Sprintf("gradient of %s has shape %v, want %v", w, s, x.Shape()))
			continue
		}
		analytic := gt.Float64s()
		base := x.Float64s()
		f := map[string]*tensor.Tensor{}
		for k, v := range values {
			f[k] = v
		}
		for idx := range base {
			vals := make([]float64, 2)
			for s, sign := range []float64{1, -1} {
				p := append([]float64(nil), base...)
				p[idx] += sign * step
				pt, err := tensor.From(x.Shape(), p).Cast(x.DType())
				if err != nil {
					return err
				}
				f[w] = pt
				if vals[s], err = eval(f); err != nil {
					return err
				}
			}
			f[w] = x
			num := (vals[0] - vals[1]) / (2 * step)
			a := analytic[idx]
			diff := math.Abs(a - num)
			rel := diff / math.Max(math.Max(math.Abs(a), math.Abs(num)), 1e-12)
			stats.Checked++
			stats.MaxAbsErr = math.Max(stats.MaxAbsErr, diff)
			if diff > 1e-12 {
				stats.MaxRelErr = math.Max(stats.MaxRelErr, rel)
			}
			if !(diff <= atol+rtol*math.Max(math.Abs(a), math.Abs(num))) {
				problems = append(problems, fmt.Sprintf("d/d %s [%d]: analytic %.8g, numeric %.8g", w, idx, a, num))
			}
		}
	}
	if opts.Stats != nil {
		*opts.Stats = stats
	}
	if len(problems) > 0 {
		n := len(problems)
		if n > 8 {
			problems = append(problems[:8], fmt.Sprintf("... %d more", n-8))
		}
		return fmt.Errorf("%d mismatch(es):\n  %s", n, strings.Join(problems, "\n  "))
	}
	return nil
}

func orDefault(v, d float64) float64 {
	if v == 0 {
		return d
	}
	return v
}

// scalarOf reads a one-element float tensor.
func scalarOf(t *tensor.Tensor) (float64, error) {
	if t == nil || t.Len() != 1 {
		return 0, fmt.Errorf("loss is not a single value")
	}
	v := t.Float64s()
	if v == nil {
		return 0, fmt.Errorf("loss has element type %v", t.DType())
	}
	return v[0], nil
}

// paramsAsInputs returns a copy of m in which the named initializers are
// graph inputs instead (so that a compiled session can be fed new values).
func paramsAsInputs(m *graph.Model, names []string) (*graph.Model, error) {
	src := m.Graph
	set := map[string]bool{}
	for _, n := range names {
		set[n] = true
	}
	g := *src
	g.Initializers = map[string]*tensor.Tensor{}
	g.InitializerOrder = nil
	g.Inputs = append([]graph.ValueInfo(nil), src.Inputs...)
	order := append([]string(nil), src.InitializerOrder...)
	if len(order) != len(src.Initializers) {
		order = order[:0]
		for name := range src.Initializers {
			order = append(order, name)
		}
		sort.Strings(order)
	}
	for _, name := range order {
		t := src.Initializers[name]
		if !set[name] {
			g.AddInitializer(name, t)
			continue
		}
		typ := graph.Type{Kind: graph.KindTensor, DType: t.DType(), Shape: ops.SymOf(t.Shape())}
		if _, ok := findInput(src, name); ok {
			for i := range g.Inputs {
				if g.Inputs[i].Name == name {
					g.Inputs[i].Type = typ
				}
			}
		} else {
			g.Inputs = append(g.Inputs, graph.ValueInfo{Name: name, Type: typ})
		}
	}
	for _, n := range names {
		if _, ok := src.Initializers[n]; !ok {
			if _, ok := findInput(src, n); !ok {
				return nil, fmt.Errorf("train: %q is neither an initializer nor an input", n)
			}
		}
	}
	out := *m
	out.Graph = &g
	return &out, nil
}
