// Package graph is Onyx's neutral intermediate representation of a model:
// values, nodes, initializers and subgraphs (the bodies of If, Loop and
// Scan, which may read values of enclosing scopes). It knows nothing of
// protobufs (package onnx translates) nor of execution (package runtime).
package graph

import (
	"container/heap"
	"fmt"
	"sort"

	"github.com/onyxrt/onyx/ops"
	"github.com/onyxrt/onyx/tensor"
)

// TypeKind says whether a value is a tensor, a sequence, an optional, a
// map or a sparse tensor.
type TypeKind int

// Value kinds.
const (
	KindUnknown TypeKind = iota
	KindTensor
	KindSequence
	KindOptional
	KindMap
	KindSparseTensor
)

// Type is a value's type: for tensors an element type and a (possibly
// symbolic, possibly unknown) shape; for sequences and optionals the
// element Type.
type Type struct {
	Kind  TypeKind
	DType tensor.DType
	// Shape is nil when the rank is unknown.
	Shape tensor.SymShape
	// Elem is the element type of a sequence or optional, the value type
	// of a map.
	Elem *Type
	// KeyType is the key type of a map.
	KeyType tensor.DType
}

// String formats the type like float32[N 3 224 224] or seq(float32[?...]).
func (t Type) String() string {
	switch t.Kind {
	case KindTensor:
		return t.DType.String() + t.Shape.String()
	case KindSparseTensor:
		return "sparse(" + t.DType.String() + t.Shape.String() + ")"
	case KindSequence, KindOptional:
		name := "seq"
		if t.Kind == KindOptional {
			name = "optional"
		}
		if t.Elem == nil {
			return name + "(?)"
		}
		return name + "(" + t.Elem.String() + ")"
	case KindMap:
		if t.Elem == nil {
			return "map(" + t.KeyType.String() + ",?)"
		}
		return "map(" + t.KeyType.String() + "," + t.Elem.String() + ")"
	}
	return "?"
}

// ValueInfo names a value and gives its declared type.
type ValueInfo struct {
	Name string
	Type Type
	Doc  string
}

// Node is one operator application. Empty strings in Inputs and Outputs
// mark omitted optional inputs and outputs.
type Node struct {
	Name    string
	OpType  string
	Domain  string
	Inputs  []string
	Outputs []string
	Attrs   []*ops.Attr
	Doc     string
}

// Attr returns the attribute called name, or nil.
func (n *Node) Attr(name string) *ops.Attr {
	for _, a := range n.Attrs {
		if a.Name == name {
			return a
		}
	}
	return nil
}

// Describe names the node for error messages: `Conv node "conv1"` or, for
// an unnamed node, `Conv node #3 (outputs [y])`.
func (n *Node) Describe(index int) string {
	if n.Name != "" {
		return fmt.Sprintf("%s node %q", n.OpType, n.Name)
	}
	return fmt.Sprintf("%s node #%d (outputs %v)", n.OpType, index, n.Outputs)
}

// Graph is a list of nodes with their inputs, outputs and constant
// initializers. Subgraphs (node attributes of type graph) are Graphs too;
// they may read values of their enclosing graphs by name.
type Graph struct {
	Name string
	// Inputs are the values the caller feeds. An initializer that is also
	// listed as an input (IR < 4 style) appears here with HasDefault set in
	// Defaults: feeding it overrides the initializer.
	Inputs  []ValueInfo
	Outputs []ValueInfo
	// Initializers are constant tensors by name.
	Initializers map[string]*tensor.Tensor
	// InitializerOrder keeps the order initializers had in the file, so
	// that encoding is stable.
	InitializerOrder []string
	// ValueInfo holds declared types of intermediate values.
	ValueInfo []ValueInfo
	Nodes     []*Node
	Doc       string
}

// OpsetImport is one (domain, version) pair of a model.
type OpsetImport struct {
	Domain  string
	Version int64
}

// Model is a graph with the metadata of its file.
type Model struct {
	IRVersion       int64
	Opsets          []OpsetImport
	ProducerName    string
	ProducerVersion string
	Domain          string
	ModelVersion    int64
	Doc             string
	Metadata        map[string]string
	Graph           *Graph
}

// Opset returns the model's opset version for domain ("" or "ai.onnx" for
// the default domain), or 0 when the model does not import it.
func (m *Model) Opset(domain string) int {
	domain = ops.NormDomain(domain)
	for _, o := range m.Opsets {
		if ops.NormDomain(o.Domain) == domain {
			return int(o.Version)
		}
	}
	return 0
}

// IsInitializer reports whether name is an initializer of g.
func (g *Graph) IsInitializer(name string) bool {
	_, ok := g.Initializers[name]
	return ok
}

// FeedInputs returns the graph inputs a caller must (or may) feed: the
// inputs that are not also initializers.
func (g *Graph) FeedInputs() []ValueInfo {
	var out []ValueInfo
	for _, in := range g.Inputs {
		if !g.IsInitializer(in.Name) {
			out = append(out, in)
		}
	}
	return out
}

// AddInitializer adds or replaces a named constant.
func (g *Graph) AddInitializer(name string, t *tensor.Tensor) {
	if g.Initializers == nil {
		g.Initializers = map[string]*tensor.Tensor{}
	}
	if _, ok := g.Initializers[name]; !ok {
		g.InitializerOrder = append(g.InitializerOrder, name)
	}
	g.Initializers[name] = t
}

// Subgraphs returns the graphs held by a node's attributes.
func (n *Node) Subgraphs() []*Graph {
	var out []*Graph
	for _, a := range n.Attrs {
		if g, ok := a.Graph.(*Graph); ok && g != nil {
			out = append(out, g)
		}
		for _, x := range a.Graphs {
			if g, ok := x.(*Graph); ok && g != nil {
				out = append(out, g)
			}
		}
	}
	return out
}

// FreeVariables returns the names a graph (including its nested
// subgraphs) reads but does not define: values of enclosing scopes.
func (g *Graph) FreeVariables() []string {
	defined := map[string]bool{"": true}
	for _, in := range g.Inputs {
		defined[in.Name] = true
	}
	for name := range g.Initializers {
		defined[name] = true
	}
	for _, n := range g.Nodes {
		for _, o := range n.Outputs {
			defined[o] = true
		}
	}
	free := map[string]bool{}
	for _, n := range g.Nodes {
		for _, in := range n.Inputs {
			if !defined[in] {
				free[in] = true
			}
		}
		for _, sg := range n.Subgraphs() {
			for _, v := range sg.FreeVariables() {
				if !defined[v] {
					free[v] = true
				}
			}
		}
	}
	for _, o := range g.Outputs {
		if !defined[o.Name] {
			free[o.Name] = true
		}
	}
	out := make([]string, 0, len(free))
	for v := range free {
		out = append(out, v)
	}
	sort.Strings(out)
	return out
}

// NodeInputs returns the values a node reads, including the outer-scope
// values its subgraphs read.
func NodeInputs(n *Node) []string {
	ins := append([]string(nil), n.Inputs...)
	for _, sg := range n.Subgraphs() {
		ins = append(ins, sg.FreeVariables()...)
	}
	return ins
}

// TopoSort returns the nodes of g in an order where every node comes after
// the producers of its inputs (outer-scope values and graph inputs count
// as available). Nodes already in order keep their order. It fails on a
// cycle or on a value that no node, input, initializer or outer scope
// defines, naming the node.
func (g *Graph) TopoSort(outer func(name string) bool) ([]*Node, error) {
	producer := map[string]int{}
	for i, n := range g.Nodes {
		for _, o := range n.Outputs {
			if o == "" {
				continue
			}
			if j, dup := producer[o]; dup {
				return nil, fmt.Errorf("%s and %s both produce value %q", g.Nodes[j].Describe(j), n.Describe(i), o)
			}
			producer[o] = i
		}
	}
	available := func(name string) bool {
		if name == "" || g.IsInitializer(name) {
			return true
		}
		for _, in := range g.Inputs {
			if in.Name == name {
				return true
			}
		}
		return false
	}
	deps := make([][]int, len(g.Nodes))
	users := make([][]int, len(g.Nodes))
	pending := make([]int, len(g.Nodes))
	for i, n := range g.Nodes {
		seen := map[int]bool{}
		for _, in := range NodeInputs(n) {
			if p, ok := producer[in]; ok {
				if !seen[p] {
					seen[p] = true
					deps[i] = append(deps[i], p)
					users[p] = append(users[p], i)
					pending[i]++
				}
				continue
			}
			if available(in) || (outer != nil && outer(in)) {
				continue
			}
			return nil, fmt.Errorf("%s reads %q, which no node, graph input or initializer defines", n.Describe(i), in)
		}
	}
	// Kahn's algorithm, always taking the lowest ready index so that a
	// sorted graph keeps its order.
	order := make([]*Node, 0, len(g.Nodes))
	ready := &intHeap{}
	for i := range g.Nodes {
		if pending[i] == 0 {
			heap.Push(ready, i)
		}
	}
	for ready.Len() > 0 {
		i := heap.Pop(ready).(int)
		order = append(order, g.Nodes[i])
		for _, u := range users[i] {
			pending[u]--
			if pending[u] == 0 {
				heap.Push(ready, u)
			}
		}
	}
	if len(order) != len(g.Nodes) {
		for i, p := range pending {
			if p > 0 {
				return nil, fmt.Errorf("graph has a cycle through %s", g.Nodes[i].Describe(i))
			}
		}
	}
	return order, nil
}

// intHeap is a min-heap of node indices for container/heap.
type intHeap []int

func (h intHeap) Len() int           { return len(h) }
func (h intHeap) Less(i, j int) bool { return h[i] < h[j] }
func (h intHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *intHeap) Push(x any)        { *h = append(*h, x.(int)) }
func (h *intHeap) Pop() any {
	old := *h
	v := old[len(old)-1]
	*h = old[:len(old)-1]
	return v
}
