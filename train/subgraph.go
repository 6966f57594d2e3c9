package train

import (
	"fmt"
	"sort"
	"strings"

	"github.com/onyxrt/onyx/graph"
	"github.com/onyxrt/onyx/ops"
	"github.com/onyxrt/onyx/tensor"
)

// Differentiating subgraphs, for the gradient rules of control-flow
// operators (If, Loop, Scan), and the kinds of values (tensor, sequence,
// optional) that the accumulation of gradients needs.
//
// A rule whose node has graph attributes sees an ops.SubgraphGradContext.
// SubgraphGrad runs a child engine over the subgraph: the child treats
// the subgraph's formal inputs and the outer-scope values that it is asked
// about as its parameters, seeds the subgraph's outputs with the incoming
// gradients (outer-scope values, or formal inputs of the gradient graph),
// calls the operators' rules like the top-level engine (recursively for
// nested control flow), and returns a new graph: the forward nodes that
// the backward nodes read (recomputed: a subgraph's internal values do not
// outlive its run), the backward nodes, and as outputs the requested
// gradients (zeros where none flows). The rule then emits a node that runs
// it: an If on the forward condition for If, a backward kernel that
// replays the iterations for Loop and Scan. Child engines share their
// root's names, so nothing they make shadows an enclosing value.
//
// Gradients of sequence and optional values are values of the same kind
// (a sequence of the elements' gradients; an optional holding the
// content's gradient). The engine accumulates them with the GradSum
// kernel and zero-fills them with GradZerosLike, both of domain
// ops.GradDomain, instead of Sum and ConstantLike; valueKind tells which
// values are containers, from declared types and from the operators that
// produce them.

// child returns an engine that differentiates subgraph g of a node of e.
// Its parameters and depends are empty: the caller marks them and calls
// propagate.
func (e *engine) child(g *graph.Graph) (*engine, error) {
	s := &engine{
		m: e.m, g: g, reg: e.reg, parent: e,
		names: e.names, grads: map[string][]string{}, summed: map[string]string{},
		depends: map[string]bool{}, params: map[string]bool{}, shapes: map[string]string{},
		emitted: map[string]*graph.Node{}, uses: map[string]int{}, consts: map[string]*tensor.Tensor{},
		local: map[string]bool{},
	}
	order, err := g.TopoSort(func(string) bool { return true })
	if err != nil {
		return nil, err
	}
	s.order = order
	s.defs = make([]*ops.Def, len(order))
	for _, in := range g.Inputs {
		s.local[in.Name] = true
	}
	for name := range g.Initializers {
		s.local[name] = true
	}
	for i, n := range order {
		if n.Name != "" {
			s.names[n.Name] = true
		}
		for _, o := range n.Outputs {
			if o != "" {
				s.local[o] = true
			}
		}
		if def, err := s.reg.Lookup(n.Domain, n.OpType, s.opset(n.Domain)); err == nil {
			s.defs[i] = def
		}
	}
	for name := range s.local {
		s.names[name] = true
	}
	return s, nil
}

// reserveNested adds to names every value and node name of n's
// subgraphs, at any depth, so that no name the engine makes collides with
// one of them.
func reserveNested(n *graph.Node, names map[string]bool) {
	for _, g := range n.Subgraphs() {
		for _, in := range g.Inputs {
			names[in.Name] = true
		}
		for name := range g.Initializers {
			names[name] = true
		}
		for _, m := range g.Nodes {
			if m.Name != "" {
				names[m.Name] = true
			}
			for _, o := range m.Outputs {
				names[o] = true
			}
			reserveNested(m, names)
		}
	}
}

// propagate marks, in topological order, the outputs of the nodes that
// read a value of e.depends (except through non-differentiable
// operators).
func (e *engine) propagate() {
	for i, n := range e.order {
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
}

// randomNode describes the first node of g (at any depth) whose outputs
// are random, or returns "": the random generators, and Dropout with a
// training_mode input.
func randomNode(g *graph.Graph) string {
	for i, n := range g.Nodes {
		if ops.NormDomain(n.Domain) == "" {
			switch n.OpType {
			case "RandomNormal", "RandomUniform", "RandomNormalLike", "RandomUniformLike", "Multinomial", "Bernoulli":
				return n.Describe(i)
			case "Dropout":
				if len(n.Inputs) > 2 && n.Inputs[2] != "" {
					return n.Describe(i)
				}
			}
		}
		for _, sg := range n.Subgraphs() {
			if r := randomNode(sg); r != "" {
				return r
			}
		}
	}
	return ""
}

// graphAttr returns the graph attribute attr of node n.
func graphAttr(n *graph.Node, attr string) (*graph.Graph, error) {
	a := n.Attr(attr)
	if a == nil {
		return nil, fmt.Errorf("node has no graph attribute %q", attr)
	}
	g, ok := a.Graph.(*graph.Graph)
	if !ok || g == nil {
		return nil, fmt.Errorf("attribute %q holds %T, not a graph", attr, a.Graph)
	}
	return g, nil
}

// readsOuter reports whether v is a value of an enclosing scope that one
// of n's subgraphs reads.
func readsOuter(n *graph.Node, v string) bool {
	for _, g := range n.Subgraphs() {
		for _, f := range g.FreeVariables() {
			if f == v {
				return true
			}
		}
	}
	return false
}

// diffSubgraph builds the gradient graph that spec describes (see
// ops.SubgraphGradSpec) for subgraph g of a node of e.
func (e *engine) diffSubgraph(g *graph.Graph, spec ops.SubgraphGradSpec) (*graph.Graph, error) {
	if len(spec.Inputs) > len(g.Inputs) {
		return nil, fmt.Errorf("subgraph %q has %d inputs, %d are marked", spec.Attr, len(g.Inputs), len(spec.Inputs))
	}
	if len(spec.OutputGrads) > len(g.Outputs) {
		return nil, fmt.Errorf("subgraph %q has %d outputs, %d gradients are given", spec.Attr, len(g.Outputs), len(spec.OutputGrads))
	}
	if r := randomNode(g); r != "" {
		return nil, fmt.Errorf("it holds %s, a random operator: its gradient recomputes the subgraph, which would draw other values", r)
	}
	s, err := e.child(g)
	if err != nil {
		return nil, err
	}
	var wrt []string
	var types []graph.Type
	for i, marked := range spec.Inputs {
		if !marked {
			continue
		}
		in := g.Inputs[i]
		if s.params[in.Name] {
			return nil, fmt.Errorf("subgraph %q lists input %q twice", spec.Attr, in.Name)
		}
		s.params[in.Name], s.depends[in.Name] = true, true
		wrt = append(wrt, in.Name)
		types = append(types, in.Type)
	}
	for _, v := range spec.Outer {
		if s.local[v] {
			return nil, fmt.Errorf("%q is a value of subgraph %q, not of an enclosing scope", v, spec.Attr)
		}
		if s.params[v] {
			return nil, fmt.Errorf("outer value %q is listed twice", v)
		}
		s.params[v], s.depends[v] = true, true
		wrt = append(wrt, v)
		types = append(types, e.declaredType(v))
	}
	s.propagate()

	// Seed the outputs with the incoming gradients.
	inputs := append([]graph.ValueInfo(nil), g.Inputs...)
	var targets []string
	for j, o := range g.Outputs {
		if j >= len(spec.OutputGrads) || spec.OutputGrads[j] == "" {
			continue
		}
		seed := spec.OutputGrads[j]
		if spec.GradInputs {
			seed = s.fresh("grad/" + o.Name)
			inputs = append(inputs, graph.ValueInfo{Name: seed, Type: o.Type})
		}
		if s.depends[o.Name] {
			s.grads[o.Name] = append(s.grads[o.Name], seed)
			targets = append(targets, o.Name)
		}
	}
	if err := s.walk(targets); err != nil {
		return nil, err
	}

	// The outputs: one distinct value made in the gradient graph per
	// wanted gradient.
	outs := make([]graph.ValueInfo, len(wrt))
	seen := map[string]bool{}
	for k, w := range wrt {
		var name string
		if len(s.grads[w]) == 0 {
			s.scope = "zeros"
			name = s.zerosLike(w)
		} else {
			name = s.accumulate(w)
		}
		if s.emitted[name] == nil || seen[name] {
			s.scope = "grad"
			name = s.emit("", "Identity", []string{name}, 1, nil)[0]
		}
		seen[name] = true
		outs[k] = graph.ValueInfo{Name: name, Type: types[k]}
	}
	if s.err != nil {
		return nil, s.err
	}

	// The forward nodes that the backward nodes or outputs read.
	need := map[string]bool{}
	for _, n := range s.nodes {
		for _, in := range graph.NodeInputs(n) {
			need[in] = true
		}
	}
	for _, o := range outs {
		need[o.Name] = true
	}
	keep := make([]bool, len(s.order))
	for i := len(s.order) - 1; i >= 0; i-- {
		n := s.order[i]
		for _, o := range n.Outputs {
			keep[i] = keep[i] || (o != "" && need[o])
		}
		if keep[i] {
			for _, in := range graph.NodeInputs(n) {
				need[in] = true
			}
		}
	}
	sg := &graph.Graph{
		Name:      g.Name + "_grad",
		Inputs:    inputs,
		Outputs:   outs,
		ValueInfo: append([]graph.ValueInfo(nil), g.ValueInfo...),
	}
	for i, n := range s.order {
		if keep[i] {
			sg.Nodes = append(sg.Nodes, n)
		}
	}
	sg.Nodes = append(sg.Nodes, s.nodes...)
	order := append([]string(nil), g.InitializerOrder...)
	if len(order) != len(g.Initializers) {
		order = sortedKeys(g.Initializers)
	}
	for _, name := range order {
		if need[name] {
			sg.AddInitializer(name, g.Initializers[name])
		}
	}
	for _, name := range sortedKeys(s.consts) {
		sg.AddInitializer(name, s.consts[name])
	}
	return sg, nil
}

func sortedKeys(m map[string]*tensor.Tensor) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// zerosLike emits a zero gradient for value v (a tensor, sequence or
// optional).
func (e *engine) zerosLike(v string) string {
	if e.valueKind(v) == graph.KindTensor {
		return e.emit(ops.GradDomain, "ConstantLike", []string{v}, 1, []*ops.Attr{ops.FloatAttr("value", 0)})[0]
	}
	return e.emit(ops.GradDomain, "GradZerosLike", []string{v}, 1, nil)[0]
}

// declaredType returns the type declared for v in e's graph or an
// enclosing one, or a type of v's kind with nothing else known.
func (e *engine) declaredType(v string) graph.Type {
	for s := e; s != nil; s = s.parent {
		for _, list := range [][]graph.ValueInfo{s.g.Inputs, s.g.ValueInfo, s.g.Outputs} {
			for _, vi := range list {
				if vi.Name == v && vi.Type.Kind != graph.KindUnknown {
					return vi.Type
				}
			}
		}
		if t, ok := s.g.Initializers[v]; ok {
			return graph.Type{Kind: graph.KindTensor, DType: t.DType(), Shape: ops.SymOf(t.Shape())}
		}
		if s.local != nil && s.local[v] {
			break
		}
	}
	return graph.Type{Kind: e.valueKind(v)}
}

// valueKind tells whether value v (of e's graph or an enclosing one) is a
// tensor, a sequence or an optional: from its declared type, else from
// the operator that produces it. Values it cannot place are tensors.
func (e *engine) valueKind(v string) graph.TypeKind {
	if k, ok := e.kinds[v]; ok {
		return k
	}
	if e.kinds == nil {
		e.kinds = map[string]graph.TypeKind{}
	}
	e.kinds[v] = graph.KindTensor // until found: guards against cycles
	k := e.findKind(v)
	e.kinds[v] = k
	return k
}

func (e *engine) findKind(v string) graph.TypeKind {
	for _, list := range [][]graph.ValueInfo{e.g.Inputs, e.g.ValueInfo, e.g.Outputs} {
		for _, vi := range list {
			if vi.Name == v && vi.Type.Kind != graph.KindUnknown {
				return vi.Type.Kind
			}
		}
	}
	if _, ok := e.g.Initializers[v]; ok {
		return graph.KindTensor
	}
	for _, n := range e.order {
		for j, o := range n.Outputs {
			if o == v {
				return e.outputKind(n, j)
			}
		}
	}
	if e.parent != nil && !e.local[v] {
		return e.parent.valueKind(v)
	}
	return graph.KindTensor
}

// outputKind is the kind of output j of node n, from its operator.
func (e *engine) outputKind(n *graph.Node, j int) graph.TypeKind {
	if ops.NormDomain(n.Domain) != "" {
		return graph.KindTensor
	}
	in := func(i int) string {
		if i < len(n.Inputs) {
			return n.Inputs[i]
		}
		return ""
	}
	switch n.OpType {
	case "SequenceEmpty", "SequenceConstruct", "SequenceInsert", "SequenceErase", "SplitToSequence", "SequenceMap":
		return graph.KindSequence
	case "Optional":
		return graph.KindOptional
	case "Identity":
		if in(0) != "" {
			return e.valueKind(in(0))
		}
	case "OptionalGetElement":
		if in(0) == "" {
			break
		}
		if e.valueKind(in(0)) != graph.KindOptional {
			return e.valueKind(in(0))
		}
		return e.optionalElemKind(in(0))
	case "Loop":
		if j < len(n.Inputs)-2 && in(2+j) != "" {
			return e.valueKind(in(2 + j))
		}
	case "If":
		if g, err := graphAttr(n, "then_branch"); err == nil && j < len(g.Outputs) {
			if s, err := e.child(g); err == nil {
				return s.valueKind(g.Outputs[j].Name)
			}
		}
	}
	return graph.KindTensor
}

// optionalElemKind is the kind of the content of optional value v.
func (e *engine) optionalElemKind(v string) graph.TypeKind {
	t := e.declaredType(v)
	if t.Kind == graph.KindOptional && t.Elem != nil && t.Elem.Kind != graph.KindUnknown {
		return t.Elem.Kind
	}
	for s := e; s != nil; s = s.parent {
		for _, n := range s.order {
			if len(n.Outputs) == 1 && n.Outputs[0] == v && n.OpType == "Optional" && ops.NormDomain(n.Domain) == "" {
				if len(n.Inputs) > 0 && n.Inputs[0] != "" {
					return s.valueKind(n.Inputs[0])
				}
				if a := n.Attr("type"); a != nil && a.TypeProtoDType == tensor.Undefined {
					return graph.KindSequence
				}
				return graph.KindTensor
			}
		}
	}
	return graph.KindTensor
}

// The ops.SubgraphGradContext methods of gradCtx.

var _ ops.SubgraphGradContext = (*gradCtx)(nil)

// SubgraphOuter implements ops.SubgraphGradContext.
func (c *gradCtx) SubgraphOuter(attr string) []string {
	g, err := graphAttr(c.n, attr)
	if err != nil {
		c.fail(err)
		return nil
	}
	var out []string
	for _, v := range g.FreeVariables() { // sorted
		if c.e.depends[v] {
			out = append(out, v)
		}
	}
	return out
}

// SubgraphDepends implements ops.SubgraphGradContext.
func (c *gradCtx) SubgraphDepends(attr string, inputs []bool) ([]bool, error) {
	g, err := graphAttr(c.n, attr)
	if err != nil {
		return nil, err
	}
	if len(inputs) > len(g.Inputs) {
		return nil, fmt.Errorf("subgraph %q has %d inputs, %d are marked", attr, len(g.Inputs), len(inputs))
	}
	s, err := c.e.child(g)
	if err != nil {
		return nil, err
	}
	for i, marked := range inputs {
		if marked {
			s.depends[g.Inputs[i].Name] = true
		}
	}
	for _, v := range g.FreeVariables() {
		if c.e.depends[v] {
			s.depends[v] = true
		}
	}
	s.propagate()
	out := make([]bool, len(g.Outputs))
	for j, o := range g.Outputs {
		out[j] = s.depends[o.Name]
	}
	return out, nil
}

// SubgraphGrad implements ops.SubgraphGradContext.
func (c *gradCtx) SubgraphGrad(spec ops.SubgraphGradSpec) (any, error) {
	g, err := graphAttr(c.n, spec.Attr)
	if err != nil {
		return nil, err
	}
	scope := c.e.scope
	defer func() { c.e.scope = scope }()
	sg, err := c.e.diffSubgraph(g, spec)
	if err != nil {
		return nil, fmt.Errorf("subgraph %q: %s", spec.Attr, strings.TrimPrefix(err.Error(), "train: "))
	}
	return sg, nil
}

// SetOuterGrad implements ops.SubgraphGradContext.
func (c *gradCtx) SetOuterGrad(v, grad string) {
	if v == "" || grad == "" || !c.e.depends[v] {
		return
	}
	if !readsOuter(c.n, v) {
		c.fail(fmt.Errorf("SetOuterGrad: the node's subgraphs do not read %q", v))
		return
	}
	c.e.grads[v] = append(c.e.grads[v], grad)
}

// fail records the first problem of a rule.
func (c *gradCtx) fail(err error) {
	if c.e.err == nil {
		c.e.err = err
	}
}
