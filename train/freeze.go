package train

import (
	"fmt"
	"math"
	"math/rand/v2"
	"path"
	"regexp"
	"sort"
	"strings"

	"github.com/onyxrt/onyx/graph"
	"github.com/onyxrt/onyx/ops"
	"github.com/onyxrt/onyx/tensor"
)

// Parameter selection: by default the parameters are the model's float
// initializers on which the loss depends, except the running statistics
// of BatchNormalization; Freeze removes those matching a name or pattern,
// FreezeBefore those that only feed nodes upstream of a value.

// MatchName reports whether name matches pattern: the name itself, a
// path.Match glob ("conv1/*", "*.bias"), or, with the prefix "re:", a
// regular expression that must match the whole name.
func MatchName(pattern, name string) (bool, error) {
	if pattern == name {
		return true, nil
	}
	if re, ok := strings.CutPrefix(pattern, "re:"); ok {
		r, err := regexp.Compile("^(?:" + re + ")$")
		if err != nil {
			return false, fmt.Errorf("train: pattern %q: %w", pattern, err)
		}
		return r.MatchString(name), nil
	}
	ok, err := path.Match(pattern, name)
	if err != nil {
		return false, fmt.Errorf("train: pattern %q: %w", pattern, err)
	}
	return ok, nil
}

// Upstream returns the nodes of g on a path to value (the node producing
// it and all its ancestors), by index into g.Nodes.
func Upstream(g *graph.Graph, value string) (map[int]bool, error) {
	producer := map[string]int{}
	for i, n := range g.Nodes {
		for _, o := range n.Outputs {
			if o != "" {
				producer[o] = i
			}
		}
	}
	if _, ok := producer[value]; !ok {
		if !g.IsInitializer(value) {
			if _, ok := findInput(g, value); !ok {
				return nil, fmt.Errorf("train: %q is not a value of the graph", value)
			}
		}
	}
	up := map[int]bool{}
	stack := []string{value}
	seen := map[string]bool{}
	for len(stack) > 0 {
		v := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		if seen[v] {
			continue
		}
		seen[v] = true
		if i, ok := producer[v]; ok && !up[i] {
			up[i] = true
			stack = append(stack, graph.NodeInputs(g.Nodes[i])...)
		}
	}
	return up, nil
}

// ParamsBefore returns the float initializers of g that only feed nodes
// upstream of value: what "freeze everything before value" freezes.
func ParamsBefore(g *graph.Graph, value string) ([]string, error) {
	up, err := Upstream(g, value)
	if err != nil {
		return nil, err
	}
	onlyUp := map[string]bool{}
	for i, n := range g.Nodes {
		for _, in := range graph.NodeInputs(n) {
			if !g.IsInitializer(in) {
				continue
			}
			prev, seen := onlyUp[in]
			onlyUp[in] = up[i] && (!seen || prev)
		}
	}
	var out []string
	for name, ok := range onlyUp {
		if ok && g.Initializers[name].DType().IsFloat() {
			out = append(out, name)
		}
	}
	sort.Strings(out)
	return out, nil
}

// runningStats returns the initializers holding BatchNormalization
// running statistics (inputs 3 and 4), which are state, not parameters.
func runningStats(g *graph.Graph) map[string]bool {
	out := map[string]bool{}
	for _, n := range g.Nodes {
		if n.OpType == "BatchNormalization" && ops.NormDomain(n.Domain) == "" {
			for _, i := range []int{3, 4} {
				if i < len(n.Inputs) && g.IsInitializer(n.Inputs[i]) {
					out[n.Inputs[i]] = true
				}
			}
		}
	}
	return out
}

// selectParams returns the trainable parameters of m (which computes
// loss) under the options: opts.Params, or every float initializer of
// the original model (own) that the loss depends on except running
// statistics; minus the frozen ones.
func selectParams(m *graph.Model, loss string, own map[string]*tensor.Tensor, opts TrainerOptions) ([]string, error) {
	g := m.Graph
	var cands []string
	if len(opts.Params) > 0 {
		for _, p := range opts.Params {
			t, ok := g.Initializers[p]
			if !ok {
				return nil, fmt.Errorf("train: parameter %q is not an initializer of the model", p)
			}
			if !t.DType().IsFloat() {
				return nil, fmt.Errorf("train: parameter %q has element type %v", p, t.DType())
			}
		}
		cands = append(cands, opts.Params...)
	} else {
		up, err := Upstream(g, loss)
		if err != nil {
			return nil, err
		}
		stats := runningStats(g)
		seen := map[string]bool{}
		for i, n := range g.Nodes {
			if !up[i] {
				continue
			}
			for _, in := range graph.NodeInputs(n) {
				t, ok := own[in]
				if ok && !seen[in] && !stats[in] && t.DType().IsFloat() {
					seen[in] = true
					cands = append(cands, in)
				}
			}
		}
		sort.Strings(cands)
	}
	frozen := map[string]bool{}
	if opts.FreezeBefore != "" {
		before, err := ParamsBefore(g, opts.FreezeBefore)
		if err != nil {
			return nil, err
		}
		for _, p := range before {
			frozen[p] = true
		}
	}
	var out []string
	for _, p := range cands {
		skip := frozen[p]
		for _, pat := range opts.Freeze {
			ok, err := MatchName(pat, p)
			if err != nil {
				return nil, err
			}
			skip = skip || ok
		}
		if !skip {
			out = append(out, p)
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("train: no trainable parameters (candidates %v, all frozen or none found)", cands)
	}
	return out, nil
}

// CutAt returns a copy of m whose only output is value: the nodes,
// initializers and inputs that value does not need are dropped. It is
// the first half of transfer learning (AddDense attaches the new head).
func CutAt(m *graph.Model, value string) (*graph.Model, error) {
	g := m.Graph
	up, err := Upstream(g, value)
	if err != nil {
		return nil, err
	}
	typ, err := valueType(m, value)
	if err != nil {
		typ = graph.Type{Kind: graph.KindTensor}
	}
	ng := &graph.Graph{Name: g.Name, Doc: g.Doc, Initializers: map[string]*tensor.Tensor{}}
	used := map[string]bool{value: true}
	for i, n := range g.Nodes {
		if up[i] {
			ng.Nodes = append(ng.Nodes, n)
			for _, in := range graph.NodeInputs(n) {
				used[in] = true
			}
		}
	}
	for _, name := range initOrder(g) {
		if used[name] {
			ng.AddInitializer(name, g.Initializers[name])
		}
	}
	for _, in := range g.Inputs {
		if used[in.Name] {
			ng.Inputs = append(ng.Inputs, in)
		}
	}
	for _, vi := range g.ValueInfo {
		if used[vi.Name] {
			ng.ValueInfo = append(ng.ValueInfo, vi)
		}
	}
	ng.Outputs = []graph.ValueInfo{{Name: value, Type: typ}}
	out := *m
	out.Graph = ng
	return &out, nil
}

// initOrder returns g's initializer names in file order (sorted when the
// order is not recorded).
func initOrder(g *graph.Graph) []string {
	names := append([]string(nil), g.InitializerOrder...)
	if len(names) != len(g.Initializers) {
		names = names[:0]
		for n := range g.Initializers {
			names = append(names, n)
		}
		sort.Strings(names)
	}
	return names
}

// DenseOptions configure AddDense.
type DenseOptions struct {
	// Name prefixes the new values (default "head").
	Name string
	// Activation applied after the affine map: "" (none: logits),
	// "relu", "sigmoid", "tanh" or "softmax".
	Activation string
	// Seed seeds the Glorot-uniform initialization of the weights.
	Seed uint64
	// Output names the new output (default Name + "/output").
	Output string
	// ReplaceOutputs makes the new value the graph's only output.
	ReplaceOutputs bool
}

// AddDense appends to m (in place) a dense layer with units outputs
// reading value input: Flatten to [N, F] when input is not 2-D, Gemm
// with weights W [F, units] drawn Glorot-uniform (Keras' default,
// U(-l, l) with l = sqrt(6/(F+units)), seeded) and zero bias b [units],
// then the activation. It returns the name of the layer's output. F must
// be known from the model's shapes.
func AddDense(m *graph.Model, input string, units int, opts DenseOptions) (string, error) {
	if units <= 0 {
		return "", fmt.Errorf("train: AddDense: units must be positive, got %d", units)
	}
	typ, err := valueType(m, input)
	if err != nil {
		return "", err
	}
	if typ.Shape == nil || len(typ.Shape) < 2 {
		return "", fmt.Errorf("train: AddDense: %q has shape %v, want rank >= 2 with known features", input, typ.Shape)
	}
	feat := int64(1)
	for _, d := range typ.Shape[1:] {
		if !d.Known() {
			return "", fmt.Errorf("train: AddDense: %q has shape %v, the feature dimensions must be known", input, typ.Shape)
		}
		feat *= d.Size
	}
	dt := typ.DType
	if !dt.IsFloat() {
		return "", fmt.Errorf("train: AddDense: %q has element type %v", input, dt)
	}
	name := opts.Name
	if name == "" {
		name = "head"
	}
	b := newBuilder(m, name)
	x := input
	if len(typ.Shape) != 2 {
		x = b.node("Flatten", []string{x}, ops.IntAttr("axis", 1))
	}
	rng := rand.New(rand.NewPCG(opts.Seed, 0xda3e39cb94b95bdb))
	limit := math.Sqrt(6 / float64(feat+int64(units)))
	w := make([]float64, int(feat)*units)
	for i := range w {
		w[i] = (2*rng.Float64() - 1) * limit
	}
	wt, err := tensor.From([]int{int(feat), units}, w).Cast(dt)
	if err != nil {
		return "", err
	}
	bt, err := tensor.New(dt, units)
	if err != nil {
		return "", err
	}
	wName, bName := b.reserve(name+"/W"), b.reserve(name+"/b")
	m.Graph.AddInitializer(wName, wt)
	m.Graph.AddInitializer(bName, bt)
	y := b.node("Gemm", []string{x, wName, bName})
	switch strings.ToLower(opts.Activation) {
	case "":
	case "relu":
		y = b.node("Relu", []string{y})
	case "sigmoid":
		y = b.node("Sigmoid", []string{y})
	case "tanh":
		y = b.node("Tanh", []string{y})
	case "softmax":
		axis := int64(1)
		if b.opset >= 13 {
			axis = -1
		}
		y = b.node("Softmax", []string{y}, ops.IntAttr("axis", axis))
	default:
		return "", fmt.Errorf("train: AddDense: unknown activation %q", opts.Activation)
	}
	out := opts.Output
	if out == "" {
		out = name + "/output"
	}
	out = b.reserve(out)
	last := m.Graph.Nodes[len(m.Graph.Nodes)-1]
	last.Outputs[0] = out
	vt := graph.Type{Kind: graph.KindTensor, DType: dt, Shape: tensor.SymShape{typ.Shape[0], {Size: int64(units)}}}
	if opts.ReplaceOutputs {
		m.Graph.Outputs = []graph.ValueInfo{{Name: out, Type: vt}}
	}
	return out, nil
}

// TransferHead cuts m at value (CutAt) and attaches a new dense head of
// units outputs (AddDense with opts), which becomes the only output. To
// train only the head, freeze everything before value
// (TrainerOptions.FreezeBefore).
func TransferHead(m *graph.Model, value string, units int, opts DenseOptions) (*graph.Model, string, error) {
	cut, err := CutAt(m, value)
	if err != nil {
		return nil, "", err
	}
	opts.ReplaceOutputs = true
	out, err := AddDense(cut, value, units, opts)
	if err != nil {
		return nil, "", err
	}
	return cut, out, nil
}

// reserve returns base when unused, else a fresh name from it.
func (b *builder) reserve(base string) string {
	if !b.names[base] {
		b.names[base] = true
		return base
	}
	return b.fresh(base)
}
