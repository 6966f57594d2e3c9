package train

import (
	"fmt"

	"github.com/onyxrt/onyx/graph"
	"github.com/onyxrt/onyx/ops"
	"github.com/onyxrt/onyx/runtime"
	"github.com/onyxrt/onyx/tensor"
)

// A Loss appends to a model the nodes that compute a scalar training loss
// from one model output and a label input that it adds to the graph.
type Loss interface {
	// Output is the model value the loss reads (logits, probabilities,
	// predictions).
	Output() string
	// Label is the name of the graph input holding the labels.
	Label() string
	// Build appends the loss nodes and the label input to m's graph (in
	// place) and returns the name of the scalar loss value.
	Build(m *graph.Model) (string, error)
}

// lossKind names the losses this file builds.
type lossKind int

const (
	lossSoftmaxCE lossKind = iota
	lossSoftmaxCEOneHot
	lossNLL
	lossBCE
	lossBCEWithLogits
	lossMSE
	lossL1
)

var lossNames = [...]string{"softmax cross-entropy", "softmax cross-entropy (one-hot)", "negative log-likelihood",
	"binary cross-entropy", "binary cross-entropy with logits", "mean squared error", "mean absolute error"}

// lossSpec is the Loss of every constructor below.
type lossSpec struct {
	kind          lossKind
	output, label string
}

func (l *lossSpec) Output() string { return l.output }
func (l *lossSpec) Label() string  { return l.label }
func (l *lossSpec) String() string {
	return fmt.Sprintf("%s of %q against %q", lossNames[l.kind], l.output, l.label)
}

// threshold is where a one-unit output separates the two classes, for the
// accuracy metric: 0 for logits, 0.5 for probabilities.
func (l *lossSpec) threshold() float64 {
	if l.kind == lossBCEWithLogits {
		return 0
	}
	return 0.5
}

// SoftmaxCrossEntropy is the mean softmax cross-entropy of scores output
// ([N, C] or [N, C, d1..dk]) against sparse class indices label (int64,
// [N] or [N, d1..dk]), built on SoftmaxCrossEntropyLoss (opset >= 12).
func SoftmaxCrossEntropy(output, label string) Loss {
	return &lossSpec{kind: lossSoftmaxCE, output: output, label: label}
}

// SoftmaxCrossEntropyOneHot is the mean softmax cross-entropy of scores
// output ([N, C]) against label, a probability (one-hot) tensor of the
// same shape: -mean_n sum_c label*LogSoftmax(output).
func SoftmaxCrossEntropyOneHot(output, label string) Loss {
	return &lossSpec{kind: lossSoftmaxCEOneHot, output: output, label: label}
}

// NLL is the mean negative log-likelihood of log-probabilities output
// ([N, C, ...]) against sparse class indices label, built on
// NegativeLogLikelihoodLoss (opset >= 12).
func NLL(output, label string) Loss { return &lossSpec{kind: lossNLL, output: output, label: label} }

// BCE is the mean binary cross-entropy of probabilities output against
// targets label of the same shape (probabilities clipped to [1e-7, 1-1e-7]).
func BCE(output, label string) Loss { return &lossSpec{kind: lossBCE, output: output, label: label} }

// BCEWithLogits is the mean binary cross-entropy of sigmoid(output)
// against label, computed stably from the logits as
// mean(softplus(x) - x*label).
func BCEWithLogits(output, label string) Loss {
	return &lossSpec{kind: lossBCEWithLogits, output: output, label: label}
}

// MSE is the mean squared error between output and label.
func MSE(output, label string) Loss { return &lossSpec{kind: lossMSE, output: output, label: label} }

// L1 is the mean absolute error between output and label.
func L1(output, label string) Loss { return &lossSpec{kind: lossL1, output: output, label: label} }

func (l *lossSpec) Build(m *graph.Model) (string, error) {
	typ, err := valueType(m, l.output)
	if err != nil {
		return "", err
	}
	if typ.Kind != graph.KindTensor || !typ.DType.IsFloat() {
		return "", fmt.Errorf("train: loss: output %q has type %v, want a float tensor", l.output, typ)
	}
	for _, in := range m.Graph.Inputs {
		if in.Name == l.label {
			return "", fmt.Errorf("train: loss: label %q is already an input of the model", l.label)
		}
	}
	b := newBuilder(m, "loss")
	if b.names[l.label] {
		return "", fmt.Errorf("train: loss: label name %q is already a value of the model", l.label)
	}
	b.names[l.label] = true
	dt := typ.DType
	labelType := graph.Type{Kind: graph.KindTensor, DType: dt, Shape: typ.Shape}
	x, t := l.output, l.label
	var loss string
	switch l.kind {
	case lossSoftmaxCE, lossNLL:
		if b.opset < 12 {
			return "", fmt.Errorf("train: loss: %s needs opset 12 or later (the model has %d)", lossNames[l.kind], b.opset)
		}
		labelType.DType = tensor.Int64
		if typ.Shape != nil && len(typ.Shape) >= 2 {
			labelType.Shape = append(tensor.SymShape{typ.Shape[0]}, typ.Shape[2:]...)
		} else {
			labelType.Shape = nil
		}
		op := "SoftmaxCrossEntropyLoss"
		if l.kind == lossNLL {
			op = "NegativeLogLikelihoodLoss"
		}
		loss = b.node(op, []string{x, t}, ops.StringAttr("reduction", "mean"))
	case lossSoftmaxCEOneHot:
		lsm := b.node("LogSoftmax", []string{x}, ops.IntAttr("axis", 1))
		prod := b.node("Mul", []string{t, lsm})
		perSample := b.reduce("ReduceSum", prod, []int64{1}, false)
		loss = b.node("Neg", []string{b.reduce("ReduceMean", perSample, nil, false)})
	case lossBCE:
		eps := 1e-7
		p := b.clip(x, eps, 1-eps, dt)
		one := b.scalar(1, dt)
		pos := b.node("Mul", []string{t, b.node("Log", []string{p})})
		neg := b.node("Mul", []string{b.node("Sub", []string{one, t}), b.node("Log", []string{b.node("Sub", []string{one, p})})})
		loss = b.node("Neg", []string{b.reduce("ReduceMean", b.node("Add", []string{pos, neg}), nil, false)})
	case lossBCEWithLogits:
		sp := b.node("Softplus", []string{x})
		loss = b.reduce("ReduceMean", b.node("Sub", []string{sp, b.node("Mul", []string{x, t})}), nil, false)
	case lossMSE:
		d := b.node("Sub", []string{x, t})
		loss = b.reduce("ReduceMean", b.node("Mul", []string{d, d}), nil, false)
	case lossL1:
		loss = b.reduce("ReduceMean", b.node("Abs", []string{b.node("Sub", []string{x, t})}), nil, false)
	default:
		return "", fmt.Errorf("train: unknown loss %d", l.kind)
	}
	m.Graph.Inputs = append(m.Graph.Inputs, graph.ValueInfo{Name: t, Type: labelType})
	return loss, nil
}

// valueType returns the type of a value of m: its declaration, or what
// the runtime's shape inference finds.
func valueType(m *graph.Model, name string) (graph.Type, error) {
	g := m.Graph
	if t, ok := g.Initializers[name]; ok {
		return graph.Type{Kind: graph.KindTensor, DType: t.DType(), Shape: ops.SymOf(t.Shape())}, nil
	}
	for _, list := range [][]graph.ValueInfo{g.Outputs, g.ValueInfo, g.Inputs} {
		for _, vi := range list {
			if vi.Name == name && vi.Type.Kind == graph.KindTensor && vi.Type.DType != tensor.Undefined {
				return vi.Type, nil
			}
		}
	}
	probe := *m
	pg := *g
	pg.Outputs = []graph.ValueInfo{{Name: name, Type: graph.Type{Kind: graph.KindTensor}}}
	probe.Graph = &pg
	s, err := runtime.Compile(&probe, runtime.Options{Threads: 1, DisableGraphPasses: true})
	if err != nil {
		return graph.Type{}, fmt.Errorf("train: finding the type of %q: %w", name, err)
	}
	if t, ok := s.ValueType(name); ok {
		return t, nil
	}
	return graph.Type{}, fmt.Errorf("train: the type of %q is unknown", name)
}

// builder appends nodes to a model's graph with fresh names.
type builder struct {
	m      *graph.Model
	g      *graph.Graph
	opset  int
	prefix string
	names  map[string]bool
	n      int
}

func newBuilder(m *graph.Model, prefix string) *builder {
	b := &builder{m: m, g: m.Graph, opset: m.Opset(""), prefix: prefix, names: map[string]bool{}}
	for _, in := range b.g.Inputs {
		b.names[in.Name] = true
	}
	for name := range b.g.Initializers {
		b.names[name] = true
	}
	for _, n := range b.g.Nodes {
		b.names[n.Name] = true
		for _, o := range n.Outputs {
			b.names[o] = true
		}
	}
	return b
}

// fresh returns an unused name prefix/base_k.
func (b *builder) fresh(base string) string {
	for {
		b.n++
		name := fmt.Sprintf("%s/%s_%d", b.prefix, base, b.n)
		if !b.names[name] {
			b.names[name] = true
			return name
		}
	}
}

// node appends a one-output ONNX node and returns its output.
func (b *builder) node(op string, inputs []string, attrs ...*ops.Attr) string {
	out := b.fresh(op)
	b.g.Nodes = append(b.g.Nodes, &graph.Node{Name: out, OpType: op, Inputs: inputs, Outputs: []string{out}, Attrs: attrs})
	return out
}

// constant adds an initializer and returns its name.
func (b *builder) constant(base string, t *tensor.Tensor) string {
	name := b.fresh(base)
	b.g.AddInitializer(name, t)
	return name
}

// scalar adds a scalar constant of element type dt.
func (b *builder) scalar(v float64, dt tensor.DType) string {
	t, err := tensor.Scalar(v).Cast(dt)
	if err != nil {
		panic(err) // dt is a float type
	}
	return b.constant("const", t)
}

// reduce appends a ReduceSum or ReduceMean over axes (all when nil), with
// axes as an attribute or an input as the opset wants.
func (b *builder) reduce(op string, x string, axes []int64, keep bool) string {
	k := int64(0)
	if keep {
		k = 1
	}
	attrs := []*ops.Attr{ops.IntAttr("keepdims", k)}
	inputs := []string{x}
	axesInput := (op == "ReduceSum" && b.opset >= 13) || b.opset >= 18
	if axes != nil {
		if axesInput {
			inputs = append(inputs, b.constant("axes", tensor.From([]int{len(axes)}, append([]int64(nil), axes...))))
		} else {
			attrs = append(attrs, ops.IntsAttr("axes", axes...))
		}
	}
	return b.node(op, inputs, attrs...)
}

// clip appends Clip(x, lo, hi), with the bounds as attributes before
// opset 11 and as inputs after.
func (b *builder) clip(x string, lo, hi float64, dt tensor.DType) string {
	if b.opset < 11 {
		return b.node("Clip", []string{x}, ops.FloatAttr("min", float32(lo)), ops.FloatAttr("max", float32(hi)))
	}
	return b.node("Clip", []string{x, b.scalar(lo, dt), b.scalar(hi, dt)})
}
