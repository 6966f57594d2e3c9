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
// built. The train package implements it.
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
