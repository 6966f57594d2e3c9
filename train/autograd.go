// Package train trains ONNX models with Onyx: reverse-mode automatic
// differentiation over graph.Graph (Backward), losses appended to a model
// as graph nodes, optimizers that update parameter tensors in Go (sharing
// the update equations of the ai.onnx.preview.training operators in ops),
// a Trainer with mini-batch Fit, freezing of parameters, export of the
// trained model as an inference .onnx, and a finite-difference gradient
// checker for the operators' gradient rules.
//
// The training graph is an ordinary graph: Backward appends to the
// forward graph the nodes that the operators' gradient rules
// (ops.GradFor) emit, ONNX operators or backward-only kernels of domain
// ops.GradDomain, and the runtime compiles and runs it like any model.
// The trainable parameters become graph inputs, so that one compiled
// Session serves every step and the Trainer feeds the current values.
//
// Control flow is differentiated recursively (subgraph.go): the rules of
// If, Loop, Scan and SequenceMap ask the engine (ops.SubgraphGradContext)
// for the gradient graph of a branch or body, which a child engine builds
// like a top-level backward pass, and emit a node that runs it (an If on
// the forward condition; the ScanGrad, LoopGrad and SequenceMapGrad
// kernels, which replay the iterations forward and then run the body's
// gradient in reverse). Gradients of sequence and optional values are
// sequences and optionals, accumulated with GradSum.
package train

import (
	"errors"
	"fmt"
	"reflect"
	"sort"
	"strings"
	"sync"

	"github.com/onyxrt/onyx/graph"
	"github.com/onyxrt/onyx/ops"
	"github.com/onyxrt/onyx/tensor"
)

// Backward returns a model whose graph computes m's forward pass, the loss
// value named loss, and dL/dw for each parameter w in wrt. grads maps each
// parameter name to the name of its gradient value; the gradients are
// appended to the graph outputs (after the original outputs and the loss,
// which is added as an output when it is not one). Parameters that are
// initializers of m become graph inputs (removed from the initializers);
// parameters may also be graph inputs already.
//
// The gradient of a value read by several nodes is the Sum of their
// contributions. The seed dL/dL is a tensor of ones shaped like the loss.
// Only the nodes on a path from a parameter to the loss are
// differentiated; gradients stop at non-differentiable operators
// (ops.ErrNotDifferentiable). A parameter with no differentiable path to
// the loss gets a zero gradient. A node on such a path whose operator has
// no gradient rule is an error naming the node and operator.
//
// reg supplies the operator definitions and rules (nil means
// ops.Default()). m is not modified; the returned model shares m's
// forward nodes and tensors.
func Backward(m *graph.Model, loss string, wrt []string, reg *ops.Registry) (*graph.Model, map[string]string, error) {
	bm, grads, _, err := backward(m, loss, wrt, reg)
	return bm, grads, err
}

// backward is Backward, also returning the parameters that no gradient
// reached (whose gradients are zeros).
func backward(m *graph.Model, loss string, wrt []string, reg *ops.Registry) (*graph.Model, map[string]string, []string, error) {
	if m == nil || m.Graph == nil {
		return nil, nil, nil, errors.New("train: Backward: model has no graph")
	}
	if reg == nil {
		reg = defaultRegistry()
	}
	e := &engine{
		m: m, g: m.Graph, reg: reg,
		names: map[string]bool{}, grads: map[string][]string{}, summed: map[string]string{},
		depends: map[string]bool{}, params: map[string]bool{}, shapes: map[string]string{},
		emitted: map[string]*graph.Node{}, uses: map[string]int{}, consts: map[string]*tensor.Tensor{},
	}
	if err := e.prepare(loss, wrt); err != nil {
		return nil, nil, nil, err
	}
	if err := e.differentiate(loss); err != nil {
		return nil, nil, nil, err
	}
	var unreached []string
	for _, w := range wrt {
		if len(e.grads[w]) == 0 {
			unreached = append(unreached, w)
		}
	}
	bm, grads, err := e.assemble(loss, wrt)
	return bm, grads, unreached, err
}

// engine holds the state of one Backward call.
type engine struct {
	m   *graph.Model
	g   *graph.Graph
	reg *ops.Registry

	order []*graph.Node
	defs  []*ops.Def // per node of order; nil when the registry lacks it
	// names holds every value and node name in use, for fresh names.
	names   map[string]bool
	counter int
	// params are the wrt parameters; depends holds the values that depend
	// differentiably on one of them.
	params  map[string]bool
	depends map[string]bool
	// grads lists the gradient contributions of each value; summed caches
	// their accumulation.
	grads  map[string][]string
	summed map[string]string
	// The backward graph: emitted nodes (by output name), constants, the
	// Shape node of each value, and how often each value is read by
	// emitted nodes.
	nodes   []*graph.Node
	emitted map[string]*graph.Node
	consts  map[string]*tensor.Tensor
	shapes  map[string]string
	uses    map[string]int
	// scope prefixes the names of the nodes emitted for one forward node;
	// err records the first problem an Emit met.
	scope string
	err   error

	// parent is the engine of the enclosing graph when this one
	// differentiates a subgraph for a control-flow rule (subgraph.go);
	// local then holds the values the subgraph defines (the others it
	// reads are values of enclosing scopes). kinds caches valueKind.
	parent *engine
	local  map[string]bool
	kinds  map[string]graph.TypeKind
}

// opset returns the model's opset for domain (1 when not imported, as the
// runtime does).
func (e *engine) opset(domain string) int {
	if v := e.m.Opset(domain); v > 0 {
		return v
	}
	return 1
}

// notDifferentiable reports whether rule is ops.NotDifferentiable itself.
func notDifferentiable(rule ops.GradFunc) bool {
	return rule != nil && reflect.ValueOf(rule).Pointer() == reflect.ValueOf(ops.GradFunc(ops.NotDifferentiable)).Pointer()
}

// prepare sorts the graph, checks loss and wrt, and finds the values that
// depend on the parameters.
func (e *engine) prepare(loss string, wrt []string) error {
	g := e.g
	order, err := g.TopoSort(nil)
	if err != nil {
		return fmt.Errorf("train: %w", err)
	}
	e.order = order
	e.defs = make([]*ops.Def, len(order))
	for _, in := range g.Inputs {
		e.names[in.Name] = true
	}
	for name := range g.Initializers {
		e.names[name] = true
	}
	defined := map[string]bool{}
	for name := range e.names {
		defined[name] = true
	}
	for i, n := range order {
		if n.Name != "" {
			e.names[n.Name] = true
		}
		for _, o := range n.Outputs {
			e.names[o] = true
			defined[o] = true
		}
		reserveNested(n, e.names) // subgraph.go
		if def, err := e.reg.Lookup(n.Domain, n.OpType, e.opset(n.Domain)); err == nil {
			e.defs[i] = def
		}
	}
	if !defined[loss] || loss == "" {
		return fmt.Errorf("train: loss %q is not a value of the graph", loss)
	}
	if len(wrt) == 0 {
		return errors.New("train: no parameters to differentiate")
	}
	for _, w := range wrt {
		var dt tensor.DType
		if t, ok := g.Initializers[w]; ok {
			dt = t.DType()
		} else if vi, ok := findInput(g, w); ok {
			dt = vi.Type.DType
		} else {
			return fmt.Errorf("train: parameter %q is neither an initializer nor an input of the graph", w)
		}
		if !dt.IsFloat() {
			return fmt.Errorf("train: parameter %q has element type %v, want a float type", w, dt)
		}
		if e.params[w] {
			return fmt.Errorf("train: parameter %q is listed twice", w)
		}
		e.params[w] = true
		e.depends[w] = true
	}
	for i, n := range order {
		if notDifferentiable(e.rule(i)) {
			continue
		}
		dep := false
		for _, in := range graph.NodeInputs(n) {
			dep = dep || e.depends[in]
		}
		if dep {
			for _, o := range n.Outputs {
				if o != "" {
					e.depends[o] = true
				}
			}
		}
	}
	return nil
}

// rule returns the gradient rule of node i of order, or nil.
func (e *engine) rule(i int) ops.GradFunc {
	if e.defs[i] == nil {
		return nil
	}
	return ops.GradFor(e.defs[i])
}

func findInput(g *graph.Graph, name string) (graph.ValueInfo, bool) {
	for _, in := range g.Inputs {
		if in.Name == name {
			return in, true
		}
	}
	return graph.ValueInfo{}, false
}

// differentiate walks the nodes from the loss back to the parameters,
// calling each node's gradient rule.
func (e *engine) differentiate(loss string) error {
	if !e.depends[loss] {
		return fmt.Errorf("train: loss %q does not depend (differentiably) on any of the parameters", loss)
	}
	e.scope = "loss"
	seed := e.emit(ops.GradDomain, "ConstantLike", []string{loss}, 1, []*ops.Attr{ops.FloatAttr("value", 1)})[0]
	e.grads[loss] = []string{seed}
	return e.walk([]string{loss})
}

// walk calls the gradient rules of the nodes through which the targets
// (values whose gradients are seeded) depend on the parameters, from the
// last node back.
func (e *engine) walk(targets []string) error {
	// needed holds the values through which a target depends on a
	// parameter.
	needed := map[string]bool{}
	for _, t := range targets {
		needed[t] = true
	}
	active := make([]bool, len(e.order))
	for i := len(e.order) - 1; i >= 0; i-- {
		n := e.order[i]
		out := false
		for _, o := range n.Outputs {
			out = out || (o != "" && needed[o] && e.depends[o])
		}
		if !out {
			continue
		}
		active[i] = true
		for _, in := range graph.NodeInputs(n) {
			if e.depends[in] {
				needed[in] = true
			}
		}
	}
	for i := len(e.order) - 1; i >= 0; i-- {
		if !active[i] {
			continue
		}
		if err := e.backNode(i); err != nil {
			return err
		}
	}
	return nil
}

// backNode calls the gradient rule of node i of order once the gradients
// of its outputs are complete.
func (e *engine) backNode(i int) error {
	n := e.order[i]
	outGrads := make([]string, len(n.Outputs))
	has := false
	for j, o := range n.Outputs {
		if o != "" && len(e.grads[o]) > 0 {
			outGrads[j] = e.accumulate(o)
			has = true
		}
	}
	if !has {
		return nil
	}
	desc := n.Describe(i)
	if e.defs[i] == nil {
		_, err := e.reg.Lookup(n.Domain, n.OpType, e.opset(n.Domain))
		return fmt.Errorf("train: cannot differentiate %s: %v", desc, err)
	}
	rule := e.rule(i)
	if rule == nil {
		why := ""
		if r := ops.NoGradReason(n.Domain, n.OpType); r != "" {
			why = " (" + r + ")"
		}
		return fmt.Errorf("train: no gradient rule for operator %s (domain %q, opset %d)%s of %s, through which the loss depends on the parameters %s",
			n.OpType, displayDomain(n.Domain), e.opset(n.Domain), why, desc, e.paramsBefore(n))
	}
	e.scope = n.Name
	if e.scope == "" {
		e.scope = n.OpType + "_" + firstNonEmpty(n.Outputs)
	}
	ctx := &gradCtx{e: e, n: n, b: e.builder(n), outGrads: outGrads}
	err := callRule(rule, ctx)
	if errors.Is(err, ops.ErrNotDifferentiable) {
		return nil
	}
	if err == nil {
		err = e.err
	}
	if err != nil {
		return fmt.Errorf("train: gradient of %s: %w", desc, err)
	}
	return nil
}

func callRule(rule ops.GradFunc, ctx *gradCtx) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("gradient rule panicked: %v", r)
		}
	}()
	return rule(ctx)
}

func displayDomain(d string) string {
	if d == "" {
		return "ai.onnx"
	}
	return d
}

func firstNonEmpty(s []string) string {
	for _, v := range s {
		if v != "" {
			return v
		}
	}
	return ""
}

// paramsBefore lists the parameters upstream of n, for error messages.
func (e *engine) paramsBefore(n *graph.Node) string {
	producer := map[string]*graph.Node{}
	for _, m := range e.order {
		for _, o := range m.Outputs {
			producer[o] = m
		}
	}
	seen := map[string]bool{}
	var found []string
	var walk func(v string)
	walk = func(v string) {
		if seen[v] || !e.depends[v] {
			return
		}
		seen[v] = true
		if e.params[v] {
			found = append(found, v)
			return
		}
		if p := producer[v]; p != nil {
			for _, in := range graph.NodeInputs(p) {
				walk(in)
			}
		}
	}
	for _, in := range graph.NodeInputs(n) {
		walk(in)
	}
	sort.Strings(found)
	if len(found) > 6 {
		found = append(found[:6], "...")
	}
	return strings.Join(found, ", ")
}

// builder describes forward node n as its operator's Build sees it, with
// Const resolving inputs that are constants (non-parameter initializers
// and Constant nodes' values).
func (e *engine) builder(n *graph.Node) *ops.Builder {
	b := &ops.Builder{
		NodeName: n.Name, OpType: n.OpType, Domain: n.Domain,
		Opset:     e.opset(n.Domain),
		NumInputs: len(n.Inputs), NumOutputs: len(n.Outputs),
		Attrs: map[string]*ops.Attr{},
	}
	for _, a := range n.Attrs {
		b.Attrs[a.Name] = a
	}
	for _, in := range n.Inputs {
		b.InputPresent = append(b.InputPresent, in != "")
	}
	for _, o := range n.Outputs {
		b.OutputPresent = append(b.OutputPresent, o != "")
	}
	b.Const = func(i int) *tensor.Tensor {
		if i >= len(n.Inputs) || n.Inputs[i] == "" || e.params[n.Inputs[i]] {
			return nil
		}
		return e.constValue(n.Inputs[i])
	}
	return b
}

// constValue returns the value of name when it is a constant of the
// forward graph: an initializer that is not fed, or a Constant node's
// tensor value.
func (e *engine) constValue(name string) *tensor.Tensor {
	if e.parent != nil && !e.local[name] {
		// A value of an enclosing scope, read by a subgraph.
		if e.parent.params[name] {
			return nil
		}
		return e.parent.constValue(name)
	}
	if t, ok := e.g.Initializers[name]; ok {
		return t
	}
	for _, n := range e.order {
		if n.OpType == "Constant" && ops.NormDomain(n.Domain) == "" && len(n.Outputs) == 1 && n.Outputs[0] == name {
			if a := n.Attr("value"); a != nil && a.Tensor != nil {
				return a.Tensor
			}
		}
	}
	return nil
}

// fresh returns an unused name made from base. The engines of subgraphs
// share their root's names and counter, so that no name they make
// shadows a value of an enclosing scope.
func (e *engine) fresh(base string) string {
	r := e
	for r.parent != nil {
		r = r.parent
	}
	for {
		r.counter++
		name := fmt.Sprintf("%s_%d", base, r.counter)
		if !e.names[name] {
			e.names[name] = true
			return name
		}
	}
}

// reserve returns base itself when unused, else a fresh name from it.
func (e *engine) reserve(base string) string {
	if !e.names[base] {
		e.names[base] = true
		return base
	}
	return e.fresh(base)
}

// emit appends a backward node and returns its outputs' names.
func (e *engine) emit(domain, opType string, inputs []string, nOut int, attrs []*ops.Attr) []string {
	if domain == "" && opType == "Shape" && len(inputs) == 1 && len(attrs) == 0 {
		if s, ok := e.shapes[inputs[0]]; ok {
			return []string{s}
		}
	}
	if _, err := e.reg.Lookup(domain, opType, e.opset(domain)); err != nil && e.err == nil {
		e.err = fmt.Errorf("emits an operator the registry lacks: %v", err)
	}
	base := "grad/" + e.scope + "/" + opType
	n := &graph.Node{
		Name:    e.fresh(base),
		OpType:  opType,
		Domain:  domain,
		Inputs:  append([]string(nil), inputs...),
		Outputs: make([]string, nOut),
	}
	if len(attrs) > 0 {
		n.Attrs = append([]*ops.Attr(nil), attrs...)
		sort.SliceStable(n.Attrs, func(i, j int) bool { return n.Attrs[i].Name < n.Attrs[j].Name })
	}
	for i := range n.Outputs {
		n.Outputs[i] = e.fresh(base + ":" + fmt.Sprint(i))
		e.emitted[n.Outputs[i]] = n
	}
	for _, in := range graph.NodeInputs(n) { // with what emitted subgraphs read
		if in != "" {
			e.uses[in]++
		}
	}
	e.nodes = append(e.nodes, n)
	if domain == "" && opType == "Shape" && len(inputs) == 1 && len(attrs) == 0 {
		e.shapes[inputs[0]] = n.Outputs[0]
	}
	return n.Outputs
}

// accumulate returns the name of the total gradient of value v: its only
// contribution, or a Sum node over all of them.
func (e *engine) accumulate(v string) string {
	if s, ok := e.summed[v]; ok {
		return s
	}
	c := e.grads[v]
	s := c[0]
	if len(c) > 1 {
		scope := e.scope
		e.scope = "accumulate"
		if e.valueKind(v) == graph.KindTensor {
			s = e.emit("", "Sum", c, 1, nil)[0]
		} else {
			// Gradients of sequences and optionals (subgraph.go).
			s = e.emit(ops.GradDomain, "GradSum", c, 1, nil)[0]
		}
		e.scope = scope
	}
	e.summed[v] = s
	return s
}

// assemble builds the returned model: the forward graph with parameters
// as inputs, the backward nodes and constants, and the outputs.
func (e *engine) assemble(loss string, wrt []string) (*graph.Model, map[string]string, error) {
	src := e.g
	// The final gradient of each parameter (zeros when none reached it).
	final := make([]string, len(wrt))
	count := map[string]int{}
	for i, w := range wrt {
		if len(e.grads[w]) == 0 {
			e.scope = "zeros"
			final[i] = e.emit(ops.GradDomain, "ConstantLike", []string{w}, 1, []*ops.Attr{ops.FloatAttr("value", 0)})[0]
		} else {
			final[i] = e.accumulate(w)
		}
		count[final[i]]++
	}
	if e.err != nil {
		return nil, nil, fmt.Errorf("train: %w", e.err)
	}
	outputs := map[string]bool{}
	for _, o := range src.Outputs {
		outputs[o.Name] = true
	}
	grads := make(map[string]string, len(wrt))
	for i, w := range wrt {
		name := final[i]
		want := e.reserve(w + "_grad")
		if p := e.emitted[name]; p != nil && e.uses[name] == 0 && count[name] == 1 && !outputs[name] {
			// Rename the producing node's output: nothing else reads it.
			for j, o := range p.Outputs {
				if o == name {
					p.Outputs[j] = want
				}
			}
		} else {
			e.scope = "grad"
			n := &graph.Node{Name: e.fresh("grad/" + w + "/Identity"), OpType: "Identity", Inputs: []string{name}, Outputs: []string{want}}
			e.nodes = append(e.nodes, n)
		}
		grads[w] = want
	}

	g := &graph.Graph{
		Name:         src.Name,
		Doc:          src.Doc,
		Inputs:       append([]graph.ValueInfo(nil), src.Inputs...),
		Outputs:      append([]graph.ValueInfo(nil), src.Outputs...),
		ValueInfo:    append([]graph.ValueInfo(nil), src.ValueInfo...),
		Initializers: map[string]*tensor.Tensor{},
	}
	initNames := append([]string(nil), src.InitializerOrder...)
	if len(initNames) != len(src.Initializers) {
		initNames = initNames[:0]
		for name := range src.Initializers {
			initNames = append(initNames, name)
		}
		sort.Strings(initNames)
	}
	for _, name := range initNames {
		if !e.params[name] {
			g.AddInitializer(name, src.Initializers[name])
		}
	}
	constNames := make([]string, 0, len(e.consts))
	for name := range e.consts {
		constNames = append(constNames, name)
	}
	sort.Strings(constNames)
	for _, name := range constNames {
		g.AddInitializer(name, e.consts[name])
	}
	types := map[string]graph.Type{}
	for _, w := range wrt {
		if t, ok := src.Initializers[w]; ok {
			typ := graph.Type{Kind: graph.KindTensor, DType: t.DType(), Shape: ops.SymOf(t.Shape())}
			types[w] = typ
			if _, listed := findInput(src, w); !listed {
				g.Inputs = append(g.Inputs, graph.ValueInfo{Name: w, Type: typ})
			} else {
				for k := range g.Inputs {
					if g.Inputs[k].Name == w {
						g.Inputs[k].Type = typ
					}
				}
			}
		} else if vi, ok := findInput(src, w); ok {
			types[w] = vi.Type
		}
	}
	g.Nodes = append(append([]*graph.Node(nil), e.order...), e.nodes...)
	fuseBackward(g)
	if !outputs[loss] {
		g.Outputs = append(g.Outputs, graph.ValueInfo{Name: loss, Type: e.typeOf(loss)})
	}
	for _, w := range wrt {
		g.Outputs = append(g.Outputs, graph.ValueInfo{Name: grads[w], Type: types[w]})
	}

	m := *e.m
	m.Graph = g
	m.Opsets = append([]graph.OpsetImport(nil), e.m.Opsets...)
	if e.m.Opset(ops.GradDomain) == 0 {
		m.Opsets = append(m.Opsets, graph.OpsetImport{Domain: ops.GradDomain, Version: 1})
	}
	if m.IRVersion == 0 {
		m.IRVersion = 8
	}
	return &m, grads, nil
}

// typeOf returns the declared type of a value, or an unknown tensor type.
func (e *engine) typeOf(name string) graph.Type {
	for _, list := range [][]graph.ValueInfo{e.g.Outputs, e.g.ValueInfo, e.g.Inputs} {
		for _, vi := range list {
			if vi.Name == name {
				return vi.Type
			}
		}
	}
	return graph.Type{Kind: graph.KindTensor}
}

// gradCtx is the ops.GradContext of one forward node.
type gradCtx struct {
	e        *engine
	n        *graph.Node
	b        *ops.Builder
	outGrads []string
}

func (c *gradCtx) Node() *ops.Builder { return c.b }

func (c *gradCtx) Input(i int) string {
	if i < 0 || i >= len(c.n.Inputs) {
		return ""
	}
	return c.n.Inputs[i]
}

func (c *gradCtx) Output(i int) string {
	if i < 0 || i >= len(c.n.Outputs) {
		return ""
	}
	return c.n.Outputs[i]
}

func (c *gradCtx) OutputGrad(i int) string {
	if i < 0 || i >= len(c.outGrads) {
		return ""
	}
	return c.outGrads[i]
}

func (c *gradCtx) NeedsGrad(i int) bool {
	in := c.Input(i)
	return in != "" && c.e.depends[in]
}

func (c *gradCtx) Emit(domain, opType string, inputs []string, nOut int, attrs ...*ops.Attr) []string {
	return c.e.emit(domain, opType, inputs, nOut, attrs)
}

func (c *gradCtx) Const(t *tensor.Tensor) string {
	name := c.e.fresh("grad/" + c.e.scope + "/const")
	c.e.consts[name] = t
	return name
}

func (c *gradCtx) SetInputGrad(i int, name string) {
	in := c.Input(i)
	if in == "" || name == "" || !c.e.depends[in] {
		return
	}
	c.e.grads[in] = append(c.e.grads[in], name)
}

// defaultRegistry is ops.Default(), built once.
var defaultRegistry = sync.OnceValue(ops.Default)
