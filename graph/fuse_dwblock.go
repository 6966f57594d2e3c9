package graph

import (
	"github.com/onyxrt/onyx/ops"
)

// fuseDwBlocks rewrites MobileNet's inverted residual blocks, as the
// earlier passes leave them,
//
//	[E: 1×1 Conv/FusedConv] -> D: 3×3 depthwise Conv/FusedConv -> P: 1×1 Conv/FusedConv (+ Z)
//
// into one FusedDwBlock(X, We, Be, Wd, Bd, Wp, Bp, Z) node (see
// ops.buildDwBlock), placed where P was. Each stage keeps its attributes
// (activation, strides, pads, ...) under the prefix "expand_", "dw_" or
// "project_". Only float32 constant filters are fused (so the block is
// float32), and only values that nothing else reads and that are not
// graph outputs disappear. E is optional: without it (a block whose
// expansion factor is 1) the node's We and Be are absent.
func fuseDwBlocks(g *Graph) {
	u := uses(g)
	producer := producers(g)
	dead := map[*Node]bool{}
	for _, p := range g.Nodes {
		if dead[p] || !dwBlockStage(g, p, 1, true) {
			continue
		}
		d := producer[p.Inputs[0]]
		if d == nil || dead[d] || d == p || !dwBlockStage(g, d, 3, false) || !internal(g, u, d.Outputs[0]) {
			continue
		}
		wd := constFloat32(g, d.Inputs[1]).Shape()
		if wd[1] != 1 || groupOf(d) != int64(wd[0]) {
			continue
		}
		if wp := constFloat32(g, p.Inputs[1]).Shape(); wp[1] != wd[0] {
			continue
		}
		e := producer[d.Inputs[0]]
		if e != nil && (dead[e] || !dwBlockStage(g, e, 1, false) || !internal(g, u, e.Outputs[0]) ||
			constFloat32(g, e.Inputs[1]).Shape()[0] != wd[0]) {
			e = nil
		}
		in := make([]string, 8)
		var attrs []*ops.Attr
		if e != nil {
			in[0], in[1], in[2] = e.Inputs[0], e.Inputs[1], optInput(e, 2)
			attrs = append(attrs, prefixed("expand_", e.Attrs)...)
			dead[e] = true
		} else {
			in[0] = d.Inputs[0]
		}
		in[3], in[4] = d.Inputs[1], optInput(d, 2)
		in[5], in[6], in[7] = p.Inputs[1], optInput(p, 2), optInput(p, 3)
		attrs = append(attrs, prefixed("dw_", d.Attrs)...)
		attrs = append(attrs, prefixed("project_", p.Attrs)...)
		for len(in) > 0 && in[len(in)-1] == "" {
			in = in[:len(in)-1]
		}
		dead[d] = true
		p.OpType, p.Domain, p.Inputs, p.Attrs = "FusedDwBlock", ops.FusedDomain, in, attrs
	}
	removeNodes(g, dead)
}

// dwBlockStage reports whether n is a Conv, or a FusedConv without a
// pool, whose filter is a float32 constant of shape M×C×k×k, with one
// output and, unless sum, no summand Z.
func dwBlockStage(g *Graph, n *Node, k int, sum bool) bool {
	switch {
	case n.OpType == "Conv" && n.Domain == "":
	case n.OpType == "FusedConv" && n.Domain == ops.FusedDomain && n.Attr("pool") == nil:
	default:
		return false
	}
	if len(n.Outputs) != 1 || len(n.Inputs) < 2 || n.Inputs[0] == "" || (!sum && optInput(n, 3) != "") {
		return false
	}
	w := constFloat32(g, n.Inputs[1])
	if w == nil || w.Rank() != 4 || w.Shape()[2] != k || w.Shape()[3] != k {
		return false
	}
	if a := n.Attr("dilations"); a != nil {
		for _, v := range a.Ints {
			if v != 1 {
				return false
			}
		}
	}
	return k != 1 || groupOf(n) == 1
}

// internal reports whether value name has exactly one reader and is not
// a graph output.
func internal(g *Graph, u map[string]int, name string) bool {
	return u[name] == 1 && !isGraphOutput(g, name)
}

func groupOf(n *Node) int64 {
	if a := n.Attr("group"); a != nil {
		return a.Int
	}
	return 1
}

// optInput returns n's input i, or "" when it has none.
func optInput(n *Node, i int) string {
	if i < len(n.Inputs) {
		return n.Inputs[i]
	}
	return ""
}

// prefixed returns copies of attrs with their names prefixed.
func prefixed(prefix string, attrs []*ops.Attr) []*ops.Attr {
	out := make([]*ops.Attr, len(attrs))
	for i, a := range attrs {
		c := *a
		c.Name = prefix + a.Name
		out[i] = &c
	}
	return out
}
