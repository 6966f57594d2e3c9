package train_test

import (
	"fmt"
	"math"
	"math/rand/v2"
	"path/filepath"
	"strings"
	"testing"

	"github.com/onyxrt/onyx/graph"
	"github.com/onyxrt/onyx/onnx"
	"github.com/onyxrt/onyx/ops"
	"github.com/onyxrt/onyx/runtime"
	"github.com/onyxrt/onyx/tensor"
	"github.com/onyxrt/onyx/train"
)

// The gradient rules of the control-flow operators (If, Loop, Scan,
// SequenceMap; ops/grad_control.go) and of the sequence and optional
// operators (ops/grad_sequence.go), checked end to end through Backward
// and the runtime against central finite differences in float64
// (train.CheckModelGradient), over several settings each. Every model's
// loss is Σ ReduceSum(Sin(y)) over its outputs y, so that every output
// element gets a distinct, non-constant gradient.

// cf builds the test models.
type cf struct {
	rng *rand.Rand
}

func newCF(seed uint64) *cf { return &cf{rng: rand.New(rand.NewPCG(seed, 7))} }

// r returns float64 values uniform in [-1, 1).
func (c *cf) r(shape ...int) *tensor.Tensor {
	n := 1
	for _, d := range shape {
		n *= d
	}
	v := make([]float64, n)
	for i := range v {
		v[i] = 2*c.rng.Float64() - 1
	}
	return tensor.From(shape, v)
}

func nd(op string, ins, outs []string, attrs ...*ops.Attr) *graph.Node {
	return &graph.Node{Name: op + "_" + outs[0], OpType: op, Inputs: ins, Outputs: outs, Attrs: attrs}
}

func ss(v ...string) []string { return v }

func f64T(shape ...int64) graph.Type {
	var s tensor.SymShape
	if shape != nil {
		s = make(tensor.SymShape, len(shape))
		for i, d := range shape {
			s[i] = tensor.Dim{Size: d}
		}
	}
	return graph.Type{Kind: graph.KindTensor, DType: tensor.Float64, Shape: s}
}

var (
	i64T  = graph.Type{Kind: graph.KindTensor, DType: tensor.Int64, Shape: tensor.SymShape{}}
	boolT = graph.Type{Kind: graph.KindTensor, DType: tensor.Bool, Shape: tensor.SymShape{}}
	seqT  = graph.Type{Kind: graph.KindSequence, Elem: &graph.Type{Kind: graph.KindTensor, DType: tensor.Float64}}
)

func vi(name string, t graph.Type) graph.ValueInfo { return graph.ValueInfo{Name: name, Type: t} }

func vis(names ...string) []graph.ValueInfo {
	out := make([]graph.ValueInfo, len(names))
	for i, n := range names {
		out[i] = graph.ValueInfo{Name: n}
	}
	return out
}

// body makes a subgraph.
func body(name string, ins []graph.ValueInfo, outs []string, nodes ...*graph.Node) *graph.Graph {
	return &graph.Graph{Name: name, Inputs: ins, Outputs: vis(outs...), Nodes: nodes}
}

// model wraps nodes whose values ys enter the loss Σ ReduceSum(Sin(y)),
// with the given initializers, at the given opset.
func model(opset int, inits map[string]*tensor.Tensor, ys []string, nodes ...*graph.Node) *graph.Model {
	g := &graph.Graph{Name: "cf", Nodes: nodes}
	var terms []string
	for _, y := range ys {
		s, r := "sin_"+y, "red_"+y
		g.Nodes = append(g.Nodes, nd("Sin", ss(y), ss(s)), nd("ReduceSum", ss(s), ss(r), ops.IntAttr("keepdims", 0)))
		terms = append(terms, r)
	}
	loss := terms[0]
	if len(terms) > 1 {
		loss = "loss"
		g.Nodes = append(g.Nodes, nd("Sum", terms, ss(loss)))
	}
	g.Outputs = []graph.ValueInfo{vi(loss, f64T())}
	names := make([]string, 0, len(inits))
	for n := range inits {
		names = append(names, n)
	}
	sortStrings(names)
	for _, n := range names {
		g.AddInitializer(n, inits[n])
	}
	return &graph.Model{IRVersion: 8, Opsets: []graph.OpsetImport{{Domain: "", Version: int64(opset)}}, Graph: g}
}

func sortStrings(s []string) {
	for i := 1; i < len(s); i++ {
		for j := i; j > 0 && s[j] < s[j-1]; j-- {
			s[j], s[j-1] = s[j-1], s[j]
		}
	}
}

type cfCase struct {
	name string
	m    *graph.Model
	wrt  []string
}

func runCFCases(t *testing.T, cases []cfCase) {
	t.Helper()
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var st train.GradCheckStats
			if err := train.CheckModelGradient(c.m, c.m.Graph.Outputs[0].Name, c.wrt, train.GradCheckOptions{Stats: &st}); err != nil {
				t.Fatal(err)
			}
			if st.Checked == 0 {
				t.Fatal("nothing checked")
			}
			t.Logf("%d gradient elements, max abs error %.2e", st.Checked, st.MaxAbsErr)
		})
	}
}

func boolScalar(b bool) *tensor.Tensor { return tensor.Scalar(b) }

func TestGradIf(t *testing.T) {
	c := newCF(1)
	x, w, v := c.r(2, 3), c.r(2, 3), c.r(3)
	// then: y = x*w; else: y = Sin(v)+x (v broadcast).
	branches := func() (*graph.Graph, *graph.Graph) {
		th := body("then", nil, ss("ty"), nd("Mul", ss("x", "w"), ss("ty")))
		el := body("else", nil, ss("ey"), nd("Sin", ss("v"), ss("sv")), nd("Add", ss("sv", "x"), ss("ey")))
		return th, el
	}
	ifModel := func(cond bool, opset int) *graph.Model {
		th, el := branches()
		return model(opset, map[string]*tensor.Tensor{"x": x, "w": w, "v": v, "c": boolScalar(cond)}, ss("y"),
			nd("If", ss("c"), ss("y"), ops.GraphAttr("then_branch", th), ops.GraphAttr("else_branch", el)))
	}
	// Two outputs, the loss reading only the second; the condition is
	// computed from x (no gradient flows through it).
	twoOut := func(opset int) *graph.Model {
		th := body("then", nil, ss("a1", "b1"), nd("Mul", ss("x", "x"), ss("a1")), nd("Tanh", ss("x"), ss("t1")), nd("Mul", ss("t1", "w"), ss("b1")))
		el := body("else", nil, ss("a2", "b2"), nd("Neg", ss("x"), ss("a2")), nd("Exp", ss("w"), ss("b2")))
		return model(opset, map[string]*tensor.Tensor{"x": x, "w": w}, ss("b"),
			nd("ReduceSum", ss("x"), ss("sx"), ops.IntAttr("keepdims", 0)),
			nd("Greater", ss("sx", "zero"), ss("c")),
			nd("If", ss("c"), ss("a", "b"), ops.GraphAttr("then_branch", th), ops.GraphAttr("else_branch", el)),
		)
	}
	// A branch that returns an outer value as is, and one with its own
	// initializer and a MatMul.
	passThrough := func(cond bool) *graph.Model {
		th := body("then", nil, ss("x"))
		el := body("else", nil, ss("ey"), nd("MatMul", ss("x", "k"), ss("m")), nd("Relu", ss("m"), ss("ey")))
		el.AddInitializer("k", c.r(3, 3))
		return model(16, map[string]*tensor.Tensor{"x": x, "c": boolScalar(cond)}, ss("y"),
			nd("If", ss("c"), ss("y"), ops.GraphAttr("then_branch", th), ops.GraphAttr("else_branch", el)))
	}
	// Nested: the outer then-branch holds an If on a second condition.
	nested := func(c1, c2 bool) *graph.Model {
		ith := body("ithen", nil, ss("iy"), nd("Mul", ss("h", "w"), ss("iy")))
		iel := body("ielse", nil, ss("iy2"), nd("Sigmoid", ss("h"), ss("iy2")))
		th := body("then", nil, ss("ty"),
			nd("Tanh", ss("x"), ss("h")),
			nd("If", ss("c2"), ss("ty"), ops.GraphAttr("then_branch", ith), ops.GraphAttr("else_branch", iel)))
		el := body("else", nil, ss("ey"), nd("Mul", ss("v", "v"), ss("ey")))
		return model(13, map[string]*tensor.Tensor{"x": x, "w": w, "v": v, "c1": boolScalar(c1), "c2": boolScalar(c2)}, ss("y", "z"),
			nd("If", ss("c1"), ss("y"), ops.GraphAttr("then_branch", th), ops.GraphAttr("else_branch", el)),
			nd("Mul", ss("y", "x"), ss("z")))
	}
	// One branch does not depend on anything: its gradient branch gives
	// zeros.
	constBranch := func(cond bool) *graph.Model {
		th := body("then", nil, ss("ty"), nd("Mul", ss("x", "w"), ss("ty")))
		el := body("else", nil, ss("ey"), nd("Identity", ss("k"), ss("ey")))
		el.AddInitializer("k", c.r(2, 3))
		return model(16, map[string]*tensor.Tensor{"x": x, "w": w, "c": boolScalar(cond)}, ss("y", "z"),
			nd("If", ss("c"), ss("y"), ops.GraphAttr("then_branch", th), ops.GraphAttr("else_branch", el)),
			nd("Mul", ss("x", "x"), ss("z")))
	}
	// Float32 values, and a branch reading a value computed outside from
	// the parameter (w2 = w*w).
	f32 := func(cond bool) *graph.Model {
		x32, _ := x.Cast(tensor.Float32)
		w32, _ := w.Cast(tensor.Float32)
		th := body("then", nil, ss("ty"), nd("Mul", ss("x", "w2"), ss("ty")))
		el := body("else", nil, ss("ey"), nd("Tanh", ss("w2"), ss("ey")))
		return model(16, map[string]*tensor.Tensor{"x": x32, "w": w32, "c": boolScalar(cond)}, ss("y"),
			nd("Mul", ss("w", "w"), ss("w2")),
			nd("If", ss("c"), ss("y"), ops.GraphAttr("then_branch", th), ops.GraphAttr("else_branch", el)))
	}
	// Sequence-valued branch outputs (of different lengths).
	seqOut := func(cond bool) *graph.Model {
		th := body("then", nil, ss("ts"), nd("Mul", ss("x", "w"), ss("xw")), nd("SplitToSequence", ss("xw"), ss("ts"), ops.IntAttr("axis", 1)))
		el := body("else", nil, ss("es"), nd("Sin", ss("x"), ss("sx")), nd("SequenceConstruct", ss("sx", "w"), ss("es")))
		return model(17, map[string]*tensor.Tensor{"x": x, "w": w, "c": boolScalar(cond)}, ss("y"),
			nd("If", ss("c"), ss("S"), ops.GraphAttr("then_branch", th), ops.GraphAttr("else_branch", el)),
			nd("ConcatFromSequence", ss("S"), ss("y"), ops.IntAttr("axis", 0)))
	}
	tm := twoOut(16)
	tm.Graph.AddInitializer("zero", tensor.Scalar(0.0))
	tm2 := twoOut(16)
	tm2.Graph.AddInitializer("zero", tensor.Scalar(100.0))
	runCFCases(t, []cfCase{
		{"then", ifModel(true, 16), ss("x", "w", "v")},
		{"else", ifModel(false, 16), ss("x", "w", "v")},
		{"then-opset11", ifModel(true, 11), ss("w", "v")},
		{"else-opset7", ifModel(false, 7), ss("x")},
		{"two-outputs-data-cond-then", tm, ss("x", "w")},
		{"two-outputs-data-cond-else", tm2, ss("x", "w")},
		{"pass-through-then", passThrough(true), ss("x")},
		{"matmul-initializer-else", passThrough(false), ss("x")},
		{"nested-then-then", nested(true, true), ss("x", "w", "v")},
		{"nested-then-else", nested(true, false), ss("x", "w", "v")},
		{"nested-else", nested(false, true), ss("x", "w", "v")},
		{"sequence-output-then", seqOut(true), ss("x", "w")},
		{"sequence-output-else", seqOut(false), ss("x", "w")},
		{"constant-branch-taken", constBranch(false), ss("x", "w")},
		{"constant-branch-not-taken", constBranch(true), ss("x", "w")},
		{"float32-outer-computed-then", f32(true), ss("x", "w")},
		{"float32-outer-computed-else", f32(false), ss("w")},
	})
}

// rnnBody is a Scan body: h' = Tanh(h*a + x_t), y_t = h'*h' (+ a second
// scan output x_t*a when two), a read from the enclosing graph.
func rnnBody(two bool) *graph.Graph {
	outs := ss("h2", "y")
	nodes := []*graph.Node{
		nd("Mul", ss("h", "a"), ss("ha")),
		nd("Add", ss("ha", "xt"), ss("pre")),
		nd("Tanh", ss("pre"), ss("h2")),
		nd("Mul", ss("h2", "h2"), ss("y")),
	}
	if two {
		outs = append(outs, "y2")
		nodes = append(nodes, nd("Mul", ss("xt", "a"), ss("y2")))
	}
	return body("rnn", []graph.ValueInfo{vi("h", f64T(3)), vi("xt", f64T(3))}, outs, nodes...)
}

func TestGradScan(t *testing.T) {
	c := newCF(2)
	h0, a := c.r(3), c.r(3)
	xs := c.r(4, 3)
	xsT := c.r(3, 4) // scanned along axis 1
	scan := func(opset int, ins []string, outs []string, b *graph.Graph, attrs ...*ops.Attr) *graph.Node {
		return nd("Scan", ins, outs, append([]*ops.Attr{ops.GraphAttr("body", b), ops.IntAttr("num_scan_inputs", 1)}, attrs...)...)
	}
	inits := func(extra map[string]*tensor.Tensor) map[string]*tensor.Tensor {
		m := map[string]*tensor.Tensor{"h0": h0, "a": a, "xs": xs, "xsT": xsT}
		for k, v := range extra {
			m[k] = v
		}
		return m
	}
	// A state that gets a gradient only through the body (its initial
	// value is a constant), and an integer counter state.
	counter := body("count", []graph.ValueInfo{vi("h", f64T(3)), vi("n", i64T), vi("xt", f64T(3))}, ss("h2", "n2", "y"),
		nd("Mul", ss("xt", "a"), ss("xa")),
		nd("Add", ss("h", "xa"), ss("h2")),
		nd("Add", ss("n", "one"), ss("n2")),
		nd("Cast", ss("n2"), ss("nf"), ops.IntAttr("to", int64(tensor.Float64))),
		nd("Mul", ss("h2", "nf"), ss("y")))
	counter.AddInitializer("one", tensor.Scalar(int64(1)))
	// Two scan inputs, one of them a constant without gradient; reverse
	// input direction.
	twoIn := body("twoin", []graph.ValueInfo{vi("h", f64T(3)), vi("xt", f64T(3)), vi("kt", f64T(3))}, ss("h2", "y"),
		nd("Mul", ss("h", "kt"), ss("hk")),
		nd("Add", ss("hk", "xt"), ss("pre")),
		nd("Sin", ss("pre"), ss("h2")),
		nd("Mul", ss("h2", "a"), ss("y")))
	// Scan-8: a batch axis on every value.
	h0b, xsb := c.r(2, 3), c.r(2, 4, 3)
	runCFCases(t, []cfCase{
		{"forward", model(16, inits(nil), ss("h", "ys"), scan(16, ss("h0", "xs"), ss("h", "ys"), rnnBody(false))), ss("h0", "a", "xs")},
		{"final-state-only", model(16, inits(nil), ss("h"), scan(16, ss("h0", "xs"), ss("h", "ys"), rnnBody(false))), ss("h0", "a", "xs")},
		{"scan-output-only-opset9", model(9, inits(nil), ss("ys"), scan(9, ss("h0", "xs"), ss("h", "ys"), rnnBody(false))), ss("a", "xs")},
		{"reverse-axis1-two-outputs", model(16, inits(nil), ss("h", "ys", "zs"),
			scan(16, ss("h0", "xsT"), ss("h", "ys", "zs"), rnnBody(true),
				ops.IntsAttr("scan_input_axes", 1), ops.IntsAttr("scan_input_directions", 1),
				ops.IntsAttr("scan_output_axes", 0, -1), ops.IntsAttr("scan_output_directions", 1, 0))),
			ss("h0", "a", "xsT")},
		{"outer-only-with-counter", model(11, inits(map[string]*tensor.Tensor{"z0": tensor.From([]int{3}, []float64{0, 0, 0}), "n0": tensor.Scalar(int64(0))}),
			ss("h", "ys"), nd("Scan", ss("z0", "n0", "xs"), ss("h", "n", "ys"), ops.GraphAttr("body", counter), ops.IntAttr("num_scan_inputs", 1))),
			ss("a", "xs")},
		{"two-scan-inputs-reverse", model(16, inits(map[string]*tensor.Tensor{"ks": c.r(4, 3)}), ss("h", "ys"),
			nd("Scan", ss("h0", "xs", "ks"), ss("h", "ys"), ops.GraphAttr("body", twoIn), ops.IntAttr("num_scan_inputs", 2),
				ops.IntsAttr("scan_input_directions", 1, 0))),
			ss("h0", "a", "xs")},
		{"outer-value-computed", model(16, map[string]*tensor.Tensor{"h0": h0, "a0": a, "xs": xs}, ss("h", "ys"),
			nd("Mul", ss("a0", "a0"), ss("a")),
			scan(16, ss("h0", "xs"), ss("h", "ys"), rnnBody(false))), ss("a0", "xs")},
		{"scan8-batched", model(8, inits(map[string]*tensor.Tensor{"h0b": h0b, "xsb": xsb}), ss("h", "ys"),
			nd("Scan", ss("", "h0b", "xsb"), ss("h", "ys"), ops.GraphAttr("body", rnnBody(false)), ops.IntAttr("num_scan_inputs", 1))),
			ss("h0b", "a", "xsb")},
	})
}

func TestGradLoop(t *testing.T) {
	c := newCF(3)
	v0, w, x := c.r(3), c.r(3), c.r(3)
	loopIns := []graph.ValueInfo{vi("i", i64T), vi("cin", boolT), vi("v", f64T(3))}
	// v' = Tanh(v*w + x); scan output v'*i (the iteration number).
	fixed := body("fixed", loopIns, ss("cin", "v2", "s"),
		nd("Mul", ss("v", "w"), ss("vw")),
		nd("Add", ss("vw", "x"), ss("pre")),
		nd("Tanh", ss("pre"), ss("v2")),
		nd("Cast", ss("i"), ss("fi"), ops.IntAttr("to", int64(tensor.Float64))),
		nd("Mul", ss("v2", "fi"), ss("s")))
	// Data-dependent: continue while ReduceSum(v') < limit.
	dataDep := body("datadep", loopIns, ss("cont", "v2"),
		nd("Mul", ss("v", "w"), ss("vw")),
		nd("Add", ss("vw", "x"), ss("v2")),
		nd("ReduceSum", ss("v2"), ss("sv"), ops.IntAttr("keepdims", 0)),
		nd("Less", ss("sv", "limit"), ss("cont")))
	// Two carried values: an accumulator that gets its gradient through
	// the body only (constant initial value) and a passed-through value.
	accum := body("accum", []graph.ValueInfo{vi("i", i64T), vi("cin", boolT), vi("acc", f64T(3)), vi("p", f64T(3))}, ss("cin", "acc2", "p"),
		nd("Mul", ss("p", "w"), ss("pw")),
		nd("Sin", ss("pw"), ss("spw")),
		nd("Add", ss("acc", "spw"), ss("acc2")))
	// An If inside the body, on the iteration number: v*w on the first
	// iteration, Sin(v)+x after.
	ith := body("ithen", nil, ss("iv"), nd("Mul", ss("v", "w"), ss("iv")))
	iel := body("ielse", nil, ss("iv2"), nd("Sin", ss("v"), ss("sv")), nd("Add", ss("sv", "x"), ss("iv2")))
	withIf := body("withif", loopIns, ss("cin", "v2"),
		nd("Less", ss("i", "one"), ss("first")),
		nd("If", ss("first"), ss("v2"), ops.GraphAttr("then_branch", ith), ops.GraphAttr("else_branch", iel)))
	withIf.AddInitializer("one", tensor.Scalar(int64(1)))
	// A Scan inside the body: v' = Scan of h' = h*w + row over the rows
	// of xm (outer), starting from v.
	rows := body("rows", []graph.ValueInfo{vi("h", f64T(3)), vi("row", f64T(3))}, ss("h2"),
		nd("Mul", ss("h", "w"), ss("hw")), nd("Add", ss("hw", "row"), ss("h3")), nd("Tanh", ss("h3"), ss("h2")))
	withScan := body("withscan", loopIns, ss("cin", "v2"),
		nd("Scan", ss("v", "xm"), ss("v2"), ops.GraphAttr("body", rows), ops.IntAttr("num_scan_inputs", 1)))
	pos := tensor.From([]int{3}, []float64{0.5, 0.7, 0.9})
	inits := map[string]*tensor.Tensor{"v0": v0, "w": w, "x": x, "M": tensor.Scalar(int64(3)), "T": tensor.Scalar(true)}
	with := func(extra map[string]*tensor.Tensor) map[string]*tensor.Tensor {
		m := map[string]*tensor.Tensor{}
		for k, v := range inits {
			m[k] = v
		}
		for k, v := range extra {
			m[k] = v
		}
		return m
	}
	runCFCases(t, []cfCase{
		{"fixed-trip", model(16, inits, ss("v", "ss"), nd("Loop", ss("M", "T", "v0"), ss("v", "ss"), ops.GraphAttr("body", fixed))), ss("v0", "w", "x")},
		{"fixed-trip-final-only-opset11", model(11, inits, ss("v"), nd("Loop", ss("M", "", "v0"), ss("v", "ss"), ops.GraphAttr("body", fixed))), ss("v0", "w")},
		{"fixed-trip-scan-only-opset13", model(13, inits, ss("ss"), nd("Loop", ss("M", "T", "v0"), ss("v", "ss"), ops.GraphAttr("body", fixed))), ss("v0", "x")},
		{"zero-trip", model(16, with(map[string]*tensor.Tensor{"Z": tensor.Scalar(int64(0))}), ss("v"),
			nd("Loop", ss("Z", "T", "v0"), ss("v", "ss"), ops.GraphAttr("body", fixed))), ss("v0", "w")},
		{"data-dependent-condition", model(16, with(map[string]*tensor.Tensor{"v0": pos, "w": tensor.From([]int{3}, []float64{1.1, 1.2, 1.3}),
			"x": tensor.From([]int{3}, []float64{0.1, 0.2, 0.05}), "limit": tensor.Scalar(9.3)}), ss("v"),
			nd("Loop", ss("", "T", "v0"), ss("v"), ops.GraphAttr("body", dataDep))), ss("v0", "w", "x")},
		{"data-dependent-with-max-trip", model(16, with(map[string]*tensor.Tensor{"v0": pos, "w": tensor.From([]int{3}, []float64{1.1, 1.2, 1.3}),
			"x": tensor.From([]int{3}, []float64{0.1, 0.2, 0.05}), "limit": tensor.Scalar(1e9), "M5": tensor.Scalar(int64(5))}), ss("v"),
			nd("Loop", ss("M5", "T", "v0"), ss("v"), ops.GraphAttr("body", dataDep))), ss("v0", "w", "x")},
		{"if-in-body", model(16, inits, ss("v"), nd("Loop", ss("M", "T", "v0"), ss("v"), ops.GraphAttr("body", withIf))), ss("v0", "w", "x")},
		{"scan-in-body", model(16, with(map[string]*tensor.Tensor{"xm": c.r(2, 3)}), ss("v"),
			nd("Loop", ss("M", "T", "v0"), ss("v"), ops.GraphAttr("body", withScan))), ss("v0", "w", "xm")},
		{"accumulator-and-pass-through", model(16, with(map[string]*tensor.Tensor{"z": tensor.From([]int{3}, []float64{0, 0, 0})}), ss("acc", "pout"),
			nd("Loop", ss("M", "T", "z", "v0"), ss("acc", "pout"), ops.GraphAttr("body", accum))), ss("v0", "w")},
	})
}

func TestGradSequence(t *testing.T) {
	c := newCF(4)
	x, w, u := c.r(2, 5), c.r(2, 1), c.r(2, 2)
	i64 := func(v ...int64) *tensor.Tensor { return tensor.From([]int{len(v)}, v) }
	inits := func(extra map[string]*tensor.Tensor) map[string]*tensor.Tensor {
		m := map[string]*tensor.Tensor{"x": x, "w": w, "u": u, "p0": tensor.Scalar(int64(0)), "p1": tensor.Scalar(int64(1)),
			"pm1": tensor.Scalar(int64(-1)), "pm2": tensor.Scalar(int64(-2))}
		for k, v := range extra {
			m[k] = v
		}
		return m
	}
	cat := func(seq, out string, axis int64, newAxis int64) *graph.Node {
		return nd("ConcatFromSequence", ss(seq), ss(out), ops.IntAttr("axis", axis), ops.IntAttr("new_axis", newAxis))
	}
	// SequenceMap body: y = Tanh(e*w) + k, with k a tensor input and w
	// an outer value.
	mapBody := body("map", []graph.ValueInfo{vi("e", f64T()), vi("k", f64T())}, ss("me"),
		nd("Mul", ss("e", "w"), ss("ew")), nd("Tanh", ss("ew"), ss("tw")), nd("Add", ss("tw", "k"), ss("me")))
	// A Loop that builds a sequence: each iteration inserts v*w and
	// carries v' = Sin(v).
	seqLoop := body("seqloop", []graph.ValueInfo{vi("i", i64T), vi("cin", boolT), vi("s", seqT), vi("v", f64T(2, 2))}, ss("cin", "s2", "v2"),
		nd("Mul", ss("v", "w"), ss("vw")),
		nd("SequenceInsert", ss("s", "vw"), ss("s2")),
		nd("Sin", ss("v"), ss("v2")))
	runCFCases(t, []cfCase{
		{"split-at-concat-accumulate", model(17, inits(nil), ss("a", "b", "cc"),
			nd("SplitToSequence", ss("x"), ss("S"), ops.IntAttr("axis", 1)),
			nd("SequenceAt", ss("S", "p0"), ss("a0")), nd("Mul", ss("a0", "w"), ss("a")),
			nd("SequenceAt", ss("S", "pm1"), ss("b")),
			cat("S", "cc", 0, 0)), ss("x", "w")},
		{"split-keepdims0-stack", model(17, inits(nil), ss("y"),
			nd("SplitToSequence", ss("x"), ss("S"), ops.IntAttr("axis", -1), ops.IntAttr("keepdims", 0)),
			cat("S", "y0", 0, 1), nd("Mul", ss("y0", "y0"), ss("y"))), ss("x")},
		{"split-sizes-insert-erase", model(17, inits(map[string]*tensor.Tensor{"sp": i64(1, 3, 1)}), ss("y"),
			nd("SplitToSequence", ss("x", "sp"), ss("S"), ops.IntAttr("axis", 1)),
			nd("SequenceInsert", ss("S", "u", "p1"), ss("S2")),
			nd("SequenceErase", ss("S2", "pm1"), ss("S3")),
			nd("SequenceInsert", ss("S3", "w"), ss("S4")),
			cat("S4", "y", 1, 0)), ss("x", "u", "w")},
		{"split-chunk-erase-default", model(17, inits(map[string]*tensor.Tensor{"two": tensor.Scalar(int64(2))}), ss("y"),
			nd("SplitToSequence", ss("x", "two"), ss("S"), ops.IntAttr("axis", 1)),
			nd("SequenceErase", ss("S"), ss("S2")),
			nd("SequenceInsert", ss("S2", "u", "pm2"), ss("S3")),
			cat("S3", "y", -1, 0)), ss("x", "u")},
		{"construct-at-concat", model(17, inits(nil), ss("a", "y"),
			nd("SequenceConstruct", ss("w", "u", "w"), ss("S")),
			nd("SequenceAt", ss("S", "p1"), ss("a")),
			nd("SequenceErase", ss("S", "p1"), ss("S2")),
			cat("S2", "y", 1, 0)), ss("w", "u")},
		{"optional", model(18, inits(nil), ss("y"),
			nd("Optional", ss("u"), ss("O")),
			nd("OptionalGetElement", ss("O"), ss("g")),
			nd("Mul", ss("g", "g"), ss("y"))), ss("u")},
		{"optional-of-sequence", model(18, inits(nil), ss("y"),
			nd("SplitToSequence", ss("x"), ss("S"), ops.IntAttr("axis", 0)),
			nd("Optional", ss("S"), ss("O")),
			nd("OptionalGetElement", ss("O"), ss("S2")),
			nd("SequenceAt", ss("S2", "p1"), ss("e")),
			nd("OptionalGetElement", ss("e"), ss("y"))), ss("x")},
		{"sequence-map", model(17, inits(map[string]*tensor.Tensor{"k": c.r(1, 1)}), ss("y"),
			nd("SplitToSequence", ss("x"), ss("S"), ops.IntAttr("axis", 1)),
			nd("SequenceMap", ss("S", "k"), ss("M"), ops.GraphAttr("body", mapBody)),
			cat("M", "y", 1, 0)), ss("x", "w", "k")},
		{"loop-builds-sequence", model(17, inits(map[string]*tensor.Tensor{"M": tensor.Scalar(int64(3))}), ss("y", "vout"),
			&graph.Node{Name: "empty", OpType: "SequenceEmpty", Outputs: ss("E"), Attrs: []*ops.Attr{ops.IntAttr("dtype", int64(tensor.Float64))}},
			nd("Loop", ss("M", "", "E", "u"), ss("S", "vout"), ops.GraphAttr("body", seqLoop)),
			cat("S", "y", 0, 1)), ss("u", "w")},
	})
}

// TestGradControlTrains trains, end to end through Backward and the Trainer,
// a model whose prediction goes through an If (on a data-dependent
// condition) and a Scan: the loss falls.
func TestGradControlTrains(t *testing.T) {
	c := newCF(5)
	// pred = If(ReduceSum(x) > 0, then: Scan over x's rows of h' = Tanh(h*a + row*b),
	// else: x*b) summed over rows.
	scanBody := body("rows", []graph.ValueInfo{vi("h", f64T(3)), vi("row", f64T(3))}, ss("h2"),
		nd("Mul", ss("h", "a"), ss("ha")),
		nd("Mul", ss("row", "b"), ss("rb")),
		nd("Add", ss("ha", "rb"), ss("pre")),
		nd("Tanh", ss("pre"), ss("h2")))
	th := body("then", nil, ss("ty"),
		nd("Scan", ss("h0", "x"), ss("ty"), ops.GraphAttr("body", scanBody), ops.IntAttr("num_scan_inputs", 1)))
	el := body("else", nil, ss("ey"), nd("Mul", ss("x", "b"), ss("xb")), nd("ReduceSum", ss("xb", "ax0"), ss("ey"), ops.IntAttr("keepdims", 0)))
	g := &graph.Graph{Name: "cftrain",
		Inputs:  []graph.ValueInfo{vi("x", f64T(4, 3))},
		Outputs: []graph.ValueInfo{vi("pred", f64T(3))},
		Nodes: []*graph.Node{
			nd("ReduceSum", ss("x"), ss("sx"), ops.IntAttr("keepdims", 0)),
			nd("Greater", ss("sx", "zero"), ss("cond")),
			nd("If", ss("cond"), ss("pred"), ops.GraphAttr("then_branch", th), ops.GraphAttr("else_branch", el)),
		}}
	g.AddInitializer("a", c.r(3))
	g.AddInitializer("b", c.r(3))
	g.AddInitializer("h0", c.r(3))
	g.AddInitializer("zero", tensor.Scalar(0.0))
	g.AddInitializer("ax0", tensor.From([]int{1}, []int64{0}))
	m := &graph.Model{IRVersion: 8, Opsets: []graph.OpsetImport{{Domain: "", Version: 16}}, Graph: g}
	tr, err := train.NewTrainer(m, train.TrainerOptions{Loss: train.MSE("pred", "target"), Optimizer: train.NewAdam(0.05), Threads: 1, Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	if got := fmt.Sprint(tr.Params()); got != "[a b h0]" {
		t.Errorf("parameters %s, want [a b h0] (read inside the branches; zero feeds only the condition)", got)
	}
	pos, neg := c.r(4, 3), c.r(4, 3)
	for i, v := range tensor.Data[float64](pos) {
		tensor.Data[float64](pos)[i] = v*0.5 + 0.6
		tensor.Data[float64](neg)[i] = v*0.5 - 0.6
	}
	batches := []map[string]*tensor.Tensor{
		{"x": pos, "target": tensor.From([]int{3}, []float64{0.5, -0.3, 0.2})},
		{"x": neg, "target": tensor.From([]int{3}, []float64{-0.4, 0.1, 0.6})},
	}
	first, last := 0.0, 0.0
	for step := 0; step < 300; step++ {
		total := 0.0
		for _, f := range batches {
			l, err := tr.Step(t.Context(), f)
			if err != nil {
				t.Fatal(err)
			}
			total += l
		}
		if step == 0 {
			first = total
		}
		last = total
	}
	t.Logf("loss %.4g -> %.4g", first, last)
	if !(last < first/20) {
		t.Fatalf("loss fell from %.4g to %.4g only", first, last)
	}
	// The exported inference model (still with its If and Scan) predicts
	// the targets.
	path := filepath.Join(t.TempDir(), "cf.onnx")
	if err := tr.Export(path); err != nil {
		t.Fatal(err)
	}
	em, err := onnx.DecodeFile(path)
	if err != nil {
		t.Fatal(err)
	}
	sess, err := runtime.Compile(em, runtime.Options{Threads: 1})
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range batches {
		out, err := sess.Run(t.Context(), map[string]*tensor.Tensor{"x": f["x"]})
		if err != nil {
			t.Fatal(err)
		}
		got, want := out["pred"].Float64s(), f["target"].Float64s()
		for i := range want {
			if math.Abs(got[i]-want[i]) > 1e-6 {
				t.Fatalf("exported model predicts %v, target %v", got, want)
			}
		}
	}
}

// TestGradControlStructure: the backward graphs hold the expected nodes
// (an If on the forward condition, ScanGrad, LoopGrad, SequenceMapGrad,
// GradSum for a sequence read three times), and they survive onnx.Encode
// and Decode: the decoded model computes the same gradients.
func TestGradControlStructure(t *testing.T) {
	c := newCF(6)
	x, w := c.r(2, 3), c.r(2, 3)
	th := body("then", nil, ss("ty"), nd("Mul", ss("x", "w"), ss("ty")))
	el := body("else", nil, ss("ey"), nd("Sin", ss("w"), ss("ey")))
	ifM := model(16, map[string]*tensor.Tensor{"x": x, "w": w, "c": boolScalar(true)}, ss("y"),
		nd("If", ss("c"), ss("y"), ops.GraphAttr("then_branch", th), ops.GraphAttr("else_branch", el)))
	scanM := model(16, map[string]*tensor.Tensor{"h0": c.r(3), "a": c.r(3), "xs": c.r(4, 3)}, ss("h", "ys"),
		nd("Scan", ss("h0", "xs"), ss("h", "ys"), ops.GraphAttr("body", rnnBody(false)), ops.IntAttr("num_scan_inputs", 1)))
	loopB := body("lb", []graph.ValueInfo{vi("i", i64T), vi("cin", boolT), vi("v", f64T(3))}, ss("cin", "v2"),
		nd("Mul", ss("v", "a"), ss("v2")))
	loopM := model(16, map[string]*tensor.Tensor{"v0": c.r(3), "a": c.r(3), "M": tensor.Scalar(int64(2))}, ss("v"),
		nd("Loop", ss("M", "", "v0"), ss("v"), ops.GraphAttr("body", loopB)))
	seqM := model(17, map[string]*tensor.Tensor{"x": x, "p0": tensor.Scalar(int64(0)), "p1": tensor.Scalar(int64(1))}, ss("a", "b", "cc"),
		nd("SplitToSequence", ss("x"), ss("S"), ops.IntAttr("axis", 1)),
		nd("SequenceAt", ss("S", "p0"), ss("a")),
		nd("SequenceAt", ss("S", "p1"), ss("b")),
		nd("ConcatFromSequence", ss("S"), ss("cc"), ops.IntAttr("axis", 0)))
	mapB := body("mb", []graph.ValueInfo{vi("e", f64T())}, ss("me"), nd("Mul", ss("e", "a"), ss("me")))
	mapM := model(17, map[string]*tensor.Tensor{"x": x, "a": c.r(2, 1)}, ss("y"),
		nd("SplitToSequence", ss("x"), ss("S"), ops.IntAttr("axis", 1)),
		nd("SequenceMap", ss("S"), ss("M"), ops.GraphAttr("body", mapB)),
		nd("ConcatFromSequence", ss("M"), ss("y"), ops.IntAttr("axis", 1)))
	for _, tc := range []struct {
		name string
		m    *graph.Model
		wrt  []string
		want string
	}{
		{"If", ifM, ss("x", "w"), "If"},
		{"Scan", scanM, ss("h0", "a", "xs"), "ScanGrad"},
		{"Loop", loopM, ss("v0", "a"), "LoopGrad"},
		{"Sequence", seqM, ss("x"), "GradSum"},
		{"SequenceMap", mapM, ss("x", "a"), "SequenceMapGrad"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			loss := tc.m.Graph.Outputs[0].Name
			bm, grads, err := train.Backward(tc.m, loss, tc.wrt, nil)
			if err != nil {
				t.Fatal(err)
			}
			found := false
			for _, n := range bm.Graph.Nodes[len(tc.m.Graph.Nodes):] {
				found = found || n.OpType == tc.want
			}
			if !found {
				t.Errorf("no %s node in the backward graph", tc.want)
			}
			checkRoundTrip(t, bm, grads, tc.m.Graph.Initializers, tc.wrt)
		})
	}
}

// TestGradControlErrors: what the control-flow rules refuse, with
// messages that say why.
func TestGradControlErrors(t *testing.T) {
	c := newCF(7)
	x := c.r(2, 3)
	// A random operator in a branch: recomputing it would draw other
	// values.
	th := body("then", nil, ss("ty"), &graph.Node{Name: "noise", OpType: "RandomNormalLike", Inputs: ss("x"), Outputs: ss("n")},
		nd("Add", ss("x", "n"), ss("ty")))
	el := body("else", nil, ss("ey"), nd("Neg", ss("x"), ss("ey")))
	m := model(16, map[string]*tensor.Tensor{"x": x, "c": boolScalar(true)}, ss("y"),
		nd("If", ss("c"), ss("y"), ops.GraphAttr("then_branch", th), ops.GraphAttr("else_branch", el)))
	_, _, err := train.Backward(m, m.Graph.Outputs[0].Name, ss("x"), nil)
	if err == nil || !strings.Contains(err.Error(), "random operator") || !strings.Contains(err.Error(), "noise") {
		t.Errorf("random operator in a branch: err = %v", err)
	}
	// Scan-8 with sequence_lens.
	m = model(8, map[string]*tensor.Tensor{"h0": c.r(2, 3), "a": c.r(3), "xs": c.r(2, 4, 3), "lens": tensor.From([]int{2}, []int32{4, 4})}, ss("h"),
		nd("Scan", ss("lens", "h0", "xs"), ss("h", "ys"), ops.GraphAttr("body", rnnBody(false)), ops.IntAttr("num_scan_inputs", 1)))
	_, _, err = train.Backward(m, m.Graph.Outputs[0].Name, ss("a"), nil)
	if err == nil || !strings.Contains(err.Error(), "sequence_lens") {
		t.Errorf("Scan-8 with sequence_lens: err = %v", err)
	}
}
