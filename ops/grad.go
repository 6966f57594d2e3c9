package ops

import "github.com/onyxrt/onyx/tensor"

// GradDomain is the operator domain of the kernels that only backward
// graphs use (ConvGrad, MaxPoolGrad, SumToShape, ...). They are ordinary
// registered operators, so a backward graph is a normal graph that the
// runtime compiles and runs, and that onnx.Encode can write.
const GradDomain = "ai.onyx.training"

// GradFunc is an operator's gradient rule. Given the gradients flowing into
// the node's outputs, it emits the nodes that compute the gradients of the
// node's inputs into the backward graph, through g. Rules never run
// kernels themselves: they only describe computation.
type GradFunc func(g GradContext) error

// GradContext is what a gradient rule sees of the backward graph being
// built. The train package implements it. The contexts of nodes with
// graph attributes (If, Loop, Scan, SequenceMap) are also
// SubgraphGradContexts, through which rules differentiate subgraphs.
// Values may be tensors, sequences or optionals: the gradient of a
// sequence is a sequence of its elements' gradients, that of an optional
// an optional holding its content's gradient (grad_sequence.go).
type GradContext interface {
	// Node describes the forward node: attributes, arity, opset.
	Node() *Builder
	// Input and Output name the forward node's values ("" when absent).
	// Both may be read by emitted nodes (the forward pass keeps them).
	Input(i int) string
	Output(i int) string
	// OutputGrad names dL/d(output i), or "" when no gradient flows into
	// that output (treat it as zero).
	OutputGrad(i int) string
	// NeedsGrad reports whether dL/d(input i) is wanted (the input is a
	// trainable parameter or depends on one).
	NeedsGrad(i int) bool
	// Emit adds a node to the backward graph and returns the names of its
	// nOut outputs. domain is "" for ONNX operators or GradDomain.
	Emit(domain, opType string, inputs []string, nOut int, attrs ...*Attr) []string
	// Const adds a constant and returns its name.
	Const(t *tensor.Tensor) string
	// SetInputGrad declares that value name holds dL/d(input i). Gradients
	// declared for the same value by several nodes are summed by the
	// engine. The value must have the input's shape (use SumToShape after
	// broadcasting ops).
	SetInputGrad(i int, name string)
}

// IntAttr, IntsAttr, FloatAttr, FloatsAttr and StringAttr make attributes
// for GradContext.Emit.
func IntAttr(name string, v int64) *Attr { return &Attr{Name: name, Type: AttrInt, Int: v} }

// IntsAttr makes an ints attribute.
func IntsAttr(name string, v ...int64) *Attr { return &Attr{Name: name, Type: AttrInts, Ints: v} }

// FloatAttr makes a float attribute.
func FloatAttr(name string, v float32) *Attr { return &Attr{Name: name, Type: AttrFloat, Float: v} }

// FloatsAttr makes a floats attribute.
func FloatsAttr(name string, v ...float32) *Attr {
	return &Attr{Name: name, Type: AttrFloats, Floats: v}
}

// StringAttr makes a string attribute.
func StringAttr(name, v string) *Attr { return &Attr{Name: name, Type: AttrString, String: v} }

// CopyAttrs returns the forward node's attributes, for backward kernels
// that take the same attributes (ConvGrad takes Conv's).
func CopyAttrs(b *Builder) []*Attr {
	out := make([]*Attr, 0, len(b.Attrs))
	for _, a := range b.Attrs {
		out = append(out, a)
	}
	return out
}

// ErrNotDifferentiable is returned by the gradient rule of operators whose
// outputs do not depend differentiably on their inputs (Shape, ArgMax,
// comparisons, ...): the train package stops gradients there.
var ErrNotDifferentiable = errNotDifferentiable{}

type errNotDifferentiable struct{}

func (errNotDifferentiable) Error() string { return "operator is not differentiable" }

// NotDifferentiable is the gradient rule of such operators.
func NotDifferentiable(GradContext) error { return ErrNotDifferentiable }

// GradFor returns def's gradient rule: its own Grad, or the rule its
// family shares (gradRule, in the families' grad files), or nil when no
// rule exists yet.
func GradFor(def *Def) GradFunc {
	if def.Grad != nil {
		return def.Grad
	}
	return gradRule(NormDomain(def.Domain), def.Name)
}

// GraphAttr makes a graph attribute, for the control-flow nodes a rule
// emits (If, or the backward kernels of Loop and Scan); g is a graph that
// SubgraphGradContext.SubgraphGrad returned, or a forward node's graph
// attribute (Builder.Attrs[name].Graph).
func GraphAttr(name string, g any) *Attr { return &Attr{Name: name, Type: AttrGraph, Graph: g} }

// SubgraphGradContext is the GradContext of a node that has graph
// attributes (If, Loop, Scan, SequenceMap): besides emitting nodes, its
// rule can have the engine differentiate a subgraph, recursively, and get
// back a new graph to use as the graph attribute of a node it emits. The
// train package's contexts implement it; rules type-assert it.
//
// A subgraph's gradient graph recomputes the forward subgraph (the nodes
// its gradient reads; the forward node's internal values are not kept)
// and then its backward nodes, so it is self-contained: it reads its
// formal inputs, values of enclosing scopes, and the incoming gradients.
type SubgraphGradContext interface {
	GradContext
	// SubgraphOuter lists, sorted, the values of enclosing scopes that
	// graph attribute attr reads (its free variables, nested subgraphs
	// included) and that need a gradient.
	SubgraphOuter(attr string) []string
	// SubgraphDepends reports, for each output of graph attribute attr,
	// whether it depends differentiably on the formal inputs marked in
	// inputs or on the outer values that need a gradient. Loop and Scan
	// rules use it to find the loop-carried values that carry gradients
	// (a fixed point over the iterations).
	SubgraphDepends(attr string, inputs []bool) ([]bool, error)
	// SubgraphGrad builds the gradient graph that spec describes and
	// returns it as a value for GraphAttr.
	SubgraphGrad(spec SubgraphGradSpec) (any, error)
	// SetOuterGrad declares that value grad holds dL/dv for v, a value of
	// an enclosing scope that the node's subgraphs read (one that
	// SubgraphOuter lists). Contributions are summed like SetInputGrad's.
	SetOuterGrad(v, grad string)
}

// SubgraphGradSpec describes the gradient graph of one graph attribute of
// the forward node, for SubgraphGradContext.SubgraphGrad.
//
// The gradient graph's formal inputs are the subgraph's own formal inputs
// followed, when GradInputs is set, by dL/d(output j) for each output j
// with a non-empty OutputGrads[j], in output order. Its outputs are
// dL/d(formal input i) for each i marked in Inputs, in order, followed by
// dL/dv for each v in Outer. A gradient that nothing reaches (an input the
// subgraph does not read, an output without incoming gradient) is zeros
// shaped like the value.
type SubgraphGradSpec struct {
	// Attr names the forward node's graph attribute ("then_branch",
	// "body").
	Attr string
	// OutputGrads has one entry per subgraph output: "" when no gradient
	// flows into that output, else (GradInputs unset) the value of the
	// enclosing scope that holds dL/d(output), which the gradient graph
	// reads by name, or (GradInputs set) any non-empty marker.
	OutputGrads []string
	// GradInputs makes the incoming gradients formal inputs of the
	// gradient graph (for loop bodies, whose kernel feeds each
	// iteration's gradients) instead of outer-scope reads (for If
	// branches).
	GradInputs bool
	// Inputs marks the subgraph's formal inputs to differentiate.
	Inputs []bool
	// Outer lists the values of enclosing scopes to differentiate; a
	// value the subgraph does not read gets a zero gradient.
	Outer []string
}
