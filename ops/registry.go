// Package ops is the operator registry of Onyx: one Def per (domain, op,
// opset range), each of which parses a node's attributes once into an
// immutable Kernel that the runtime calls for every run.
//
// Operator families live one per file (elementwise.go, conv.go,
// recurrent.go, ...) and are registered by explicit calls from Default; no
// package-level state is mutated at init time. The package knows nothing of
// ONNX protobufs or of the graph IR: nodes reach it as a Builder, and
// subgraphs (If, Loop, Scan bodies) as opaque values that the runtime
// compiles through the Builder.
//
// Besides the ONNX domains, two domains of Onyx's own hold operators that
// only compiled or generated graphs contain: FusedDomain ("ai.onyx",
// operators that graph passes make by fusing, like FusedConv) and
// GradDomain ("ai.onyx.training", backward kernels that gradient rules
// emit). Shape inference (InferFor) and gradient rules (GradFor) come from
// a Def's own field or from its family's shared rule.
package ops

import (
	"fmt"
	"sort"
)

// DomainONNX is the default operator domain ("" and "ai.onnx" are the same).
const DomainONNX = ""

// NormDomain maps "ai.onnx" to "" and leaves other domains unchanged.
func NormDomain(d string) string {
	if d == "ai.onnx" {
		return ""
	}
	return d
}

// Def describes one version of an operator: it applies to models whose
// opset for Domain is at least Since (and below the next Def's Since).
type Def struct {
	Domain string
	Name   string
	Since  int
	// Build parses attributes and returns the kernel for one node. It is
	// called once per node at compile time.
	Build func(b *Builder) (Kernel, error)
	// Infer computes output types and shapes at compile time; nil means
	// the family's shared rule (see InferFor) or none.
	Infer InferFunc
	// Grad is the operator's gradient rule; nil means the family's shared
	// rule (see GradFor).
	Grad GradFunc
}

// Registry maps (domain, op type, opset) to Defs. Once built it is only
// read, so one Registry can serve many sessions concurrently.
type Registry struct {
	defs map[key][]*Def // sorted by Since ascending
}

type key struct{ domain, name string }

// NewRegistry returns an empty registry.
func NewRegistry() *Registry { return &Registry{defs: map[key][]*Def{}} }

// Register adds defs. Registering the same (domain, name, since) twice is a
// programming error and panics.
func (r *Registry) Register(defs ...*Def) {
	for _, d := range defs {
		k := key{NormDomain(d.Domain), d.Name}
		for _, e := range r.defs[k] {
			if e.Since == d.Since {
				panic(fmt.Sprintf("ops: %s %q since %d registered twice", k.domain, d.Name, d.Since))
			}
		}
		list := append(r.defs[k], d)
		sort.Slice(list, func(i, j int) bool { return list[i].Since < list[j].Since })
		r.defs[k] = list
	}
}

// Lookup returns the Def for op name in domain at the given opset version:
// the one with the largest Since not above opset.
func (r *Registry) Lookup(domain, name string, opset int) (*Def, error) {
	list := r.defs[key{NormDomain(domain), name}]
	if len(list) == 0 {
		return nil, fmt.Errorf("unsupported operator %s (domain %q, opset %d)", name, displayDomain(domain), opset)
	}
	var best *Def
	for _, d := range list {
		if d.Since <= opset {
			best = d
		}
	}
	if best == nil {
		return nil, fmt.Errorf("operator %s (domain %q) is not supported at opset %d (first supported version: %d)", name, displayDomain(domain), opset, list[0].Since)
	}
	return best, nil
}

func displayDomain(d string) string {
	if d == "" {
		return "ai.onnx"
	}
	return d
}

// OpInfo describes one registered operator for listings.
type OpInfo struct {
	Domain   string
	Name     string
	Versions []int // the Since of each registered Def, ascending
}

// List returns every registered operator sorted by domain and name.
func (r *Registry) List() []OpInfo {
	out := make([]OpInfo, 0, len(r.defs))
	for k, list := range r.defs {
		info := OpInfo{Domain: displayDomain(k.domain), Name: k.name}
		for _, d := range list {
			info.Versions = append(info.Versions, d.Since)
		}
		out = append(out, info)
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Domain != out[j].Domain {
			return out[i].Domain < out[j].Domain
		}
		return out[i].Name < out[j].Name
	})
	return out
}

// Default returns a registry holding every operator Onyx implements. Each
// call builds a fresh registry; callers typically build one and share it.
func Default() *Registry {
	r := NewRegistry()
	for _, register := range families {
		register(r)
	}
	return r
}
