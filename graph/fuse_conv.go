package graph

import (
	"github.com/onyxrt/onyx/ops"
)

// This file holds the Conv fusions that come after Conv+BatchNormalization
// folding and Conv+activation fusion (optimize.go):
//
//   - fuseConvAdd: a Conv whose output only an Add reads (a residual
//     connection) becomes a FusedConv with the Add's other operand as its
//     fourth input Z (unless it is a constant, a bias rather than a
//     residual), and takes in the Relu, LeakyRelu or Clip that
//     follows the Add when only it reads the sum: act(Conv + B + Z) is
//     computed on each output tile while it is in cache, instead of two
//     more passes over memory;
//   - fuseConvMaxPool: a Conv or FusedConv whose output only a MaxPool
//     (without Indices) reads takes the MaxPool in, as "pool" and its
//     attributes prefixed by "pool_": the pool reads each image's output
//     while it is in cache, and the full output is never written.
//
// The fused kernels (ops.buildFusedConv) give the values the nodes they
// replace give: the sum is (Conv + B) + Z, and Z of another shape, or
// types other than float32, run the operators one after the other.
// Only nodes whose output nothing else reads, and that is not a graph
// output, are fused.

// fusableConv reports whether n is a Conv, or a FusedConv without a
// pool, and, unless forPool, without an activation or a summand either
// (an Add must come before them).
func fusableConv(n *Node, forPool bool) bool {
	if n.OpType == "Conv" && n.Domain == "" {
		return true
	}
	if n.OpType != "FusedConv" || n.Domain != ops.FusedDomain || n.Attr("pool") != nil {
		return false
	}
	return forPool || (n.Attr("activation") == nil && len(n.Inputs) <= 3)
}

// fuseConvAdd rewrites Conv -> Add(·, Z) (or Sum(·, Z)) [-> activation] into one
// FusedConv(X, W, B, Z), placed where the Add was (Z may be computed
// after the Conv).
func fuseConvAdd(g *Graph) {
	u := uses(g)
	producer := producers(g)
	dead := map[*Node]bool{}
	moved := map[*Node]*Node{} // Add node -> the FusedConv that takes its place
	for _, add := range g.Nodes {
		// A Sum of two values is an Add (opset-9 exports of ResNet-50
		// and ShuffleNet write their shortcuts so).
		if (add.OpType != "Add" && add.OpType != "Sum") || add.Domain != "" || len(add.Inputs) != 2 || len(add.Outputs) != 1 ||
			add.Attr("broadcast") != nil || add.Attr("axis") != nil {
			continue
		}
		for side := 0; side < 2; side++ {
			sum, z := add.Inputs[side], add.Inputs[1-side]
			conv := producer[sum]
			if conv == nil || !fusableConv(conv, false) || len(conv.Outputs) != 1 || len(conv.Inputs) < 2 ||
				u[sum] != 1 || isGraphOutput(g, sum) || dead[conv] || z == sum || z == "" || g.Initializers[z] != nil {
				continue
			}
			out := add.Outputs[0]
			var attrs []*ops.Attr
			if act := singleReader(g, u, out); act != nil {
				if a, ok := convActivation(g, act); ok {
					attrs = a
					out = act.Outputs[0]
					dead[act] = true
				}
			}
			in := append([]string(nil), conv.Inputs...)
			for len(in) < 3 {
				in = append(in, "")
			}
			conv.Domain, conv.OpType = ops.FusedDomain, "FusedConv"
			conv.Inputs = append(in[:3], z)
			conv.Attrs = append(append([]*ops.Attr(nil), conv.Attrs...), attrs...)
			conv.Outputs = []string{out}
			dead[add] = true
			moved[add] = conv
			break
		}
	}
	if len(moved) == 0 {
		return
	}
	// The FusedConv runs where the Add ran, when Z is ready.
	placed := map[*Node]bool{}
	for _, c := range moved {
		placed[c] = true
	}
	kept := make([]*Node, 0, len(g.Nodes))
	for _, n := range g.Nodes {
		switch {
		case moved[n] != nil:
			kept = append(kept, moved[n])
		case placed[n], dead[n]:
		default:
			kept = append(kept, n)
		}
	}
	g.Nodes = kept
}

// singleReader returns the one node that reads value name, when nothing
// else does and it is not a graph output.
func singleReader(g *Graph, u map[string]int, name string) *Node {
	if u[name] != 1 || isGraphOutput(g, name) {
		return nil
	}
	cs := consumers(g, name)
	if len(cs) != 1 || len(cs[0].Outputs) != 1 || cs[0].Domain != "" || len(cs[0].Inputs) == 0 || cs[0].Inputs[0] != name {
		return nil
	}
	return cs[0]
}

// convActivation returns FusedConv's attributes for activation node act
// (Relu, LeakyRelu, or Clip with constant bounds), or false.
func convActivation(g *Graph, act *Node) ([]*ops.Attr, bool) {
	attrs := []*ops.Attr{ops.StringAttr("activation", act.OpType)}
	switch act.OpType {
	case "Relu":
		if len(act.Inputs) != 1 {
			return nil, false
		}
	case "LeakyRelu":
		alpha := float32(0.01)
		if a := act.Attr("alpha"); a != nil {
			alpha = a.Float
		}
		attrs = append(attrs, ops.FloatAttr("alpha", alpha))
	case "Clip":
		bounds, ok := clipBounds(g, act)
		if !ok {
			return nil, false
		}
		attrs = append(attrs, bounds...)
	default:
		return nil, false
	}
	return attrs, true
}

// poolAttrNames are the MaxPool attributes a FusedConv takes, prefixed.
var poolAttrNames = map[string]bool{
	"kernel_shape": true, "strides": true, "pads": true, "auto_pad": true,
	"ceil_mode": true, "dilations": true, "storage_order": true,
}

// fuseConvMaxPool rewrites Conv -> MaxPool into one FusedConv whose
// "pool" is MaxPool.
func fuseConvMaxPool(g *Graph) {
	u := uses(g)
	producer := producers(g)
	dead := map[*Node]bool{}
	for _, mp := range g.Nodes {
		if mp.OpType != "MaxPool" || mp.Domain != "" || len(mp.Inputs) != 1 || len(mp.Outputs) < 1 || mp.Outputs[0] == "" {
			continue
		}
		if len(mp.Outputs) > 1 && mp.Outputs[1] != "" {
			continue // Indices
		}
		in := mp.Inputs[0]
		conv := producer[in]
		if conv == nil || !fusableConv(conv, true) || len(conv.Outputs) != 1 ||
			u[in] != 1 || isGraphOutput(g, in) || dead[conv] {
			continue
		}
		ok := true
		attrs := append([]*ops.Attr(nil), conv.Attrs...)
		attrs = append(attrs, ops.StringAttr("pool", "MaxPool"))
		for _, a := range mp.Attrs {
			if !poolAttrNames[a.Name] {
				ok = false
				break
			}
			c := *a
			c.Name = "pool_" + a.Name
			attrs = append(attrs, &c)
		}
		if !ok {
			continue
		}
		conv.Domain, conv.OpType = ops.FusedDomain, "FusedConv"
		conv.Attrs = attrs
		conv.Outputs = []string{mp.Outputs[0]}
		dead[mp] = true
	}
	removeNodes(g, dead)
}
