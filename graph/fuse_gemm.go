package graph

import "github.com/onyxrt/onyx/ops"

// fuseGemm rewrites matrix products with what follows them, in two
// steps:
//
//   - MatMul(A, B) + Add(bias), B a 2-D float32 constant and bias a
//     float32 constant of shape [N] (N = B's columns), becomes
//     Gemm(A, B, bias) when A is known to be 2-D, else FusedGemm(A, B,
//     bias) (domain ops.FusedDomain), which reads an A of any rank as
//     MatMul does;
//   - Gemm or FusedGemm followed by Relu, LeakyRelu, Clip (both bounds
//     constant), Sigmoid or Tanh becomes a FusedGemm with that
//     activation, applied to each block of the output while it is in
//     cache.
//
// The fused kernels give bit for bit what the nodes they replace give.
//
// Only products whose output nothing else reads (and that is not a graph
// output) are fused.
func fuseGemm(g *Graph) {
	fuseMatMulAdd(g)
	fuseGemmActivation(g)
}

// producers maps each value to the node that writes it.
func producers(g *Graph) map[string]*Node {
	p := map[string]*Node{}
	for _, n := range g.Nodes {
		for _, o := range n.Outputs {
			p[o] = n
		}
	}
	return p
}

// knownRank returns the rank of value name when the graph states it (a
// graph input, value_info or initializer), else -1.
func knownRank(g *Graph, name string) int {
	if t := g.Initializers[name]; t != nil {
		return t.Rank()
	}
	for _, list := range [][]ValueInfo{g.Inputs, g.ValueInfo} {
		for _, v := range list {
			if v.Name == name && v.Type.Kind == KindTensor && v.Type.Shape != nil {
				return len(v.Type.Shape)
			}
		}
	}
	return -1
}

func fuseMatMulAdd(g *Graph) {
	u := uses(g)
	producer := producers(g)
	dead := map[*Node]bool{}
	for _, add := range g.Nodes {
		if add.OpType != "Add" || add.Domain != "" || len(add.Inputs) != 2 || len(add.Outputs) != 1 {
			continue
		}
		for side := 0; side < 2; side++ {
			prod, bias := add.Inputs[side], add.Inputs[1-side]
			mm := producer[prod]
			if mm == nil || mm.OpType != "MatMul" || mm.Domain != "" || len(mm.Inputs) != 2 || len(mm.Outputs) != 1 ||
				u[prod] != 1 || isGraphOutput(g, prod) || dead[mm] {
				continue
			}
			b := constFloat32(g, mm.Inputs[1])
			c := constFloat32(g, bias)
			if b == nil || b.Rank() != 2 || c == nil || c.Rank() != 1 || c.Len() != b.Shape()[1] {
				continue
			}
			if knownRank(g, mm.Inputs[0]) == 2 {
				mm.OpType = "Gemm"
			} else {
				mm.Domain, mm.OpType = ops.FusedDomain, "FusedGemm"
			}
			mm.Inputs = []string{mm.Inputs[0], mm.Inputs[1], bias}
			mm.Outputs = []string{add.Outputs[0]}
			dead[add] = true
			break
		}
	}
	removeNodes(g, dead)
}

// fuseGemmActivation makes a Gemm (or a FusedGemm without one) and the
// Relu, Sigmoid, Tanh, LeakyRelu or Clip (both bounds given) that alone
// reads its output one FusedGemm with that activation.
func fuseGemmActivation(g *Graph) {
	mergeIntoProducers(g, 1, func(gm, act *Node, _ int) bool {
		if len(gm.Outputs) != 1 {
			return false
		}
		switch {
		case gm.OpType == "Gemm" && gm.Domain == "":
		case gm.OpType == "FusedGemm" && gm.Domain == ops.FusedDomain && gm.Attr("activation") == nil:
		default:
			return false
		}
		var params []float32
		switch act.OpType {
		case "Relu", "Sigmoid", "Tanh":
		case "LeakyRelu":
			alpha := float32(0.01)
			if a := act.Attr("alpha"); a != nil {
				alpha = a.Float
			}
			params = []float32{alpha}
		case "Clip":
			// Both bounds given: a missing one defaults differently by
			// opset (±MaxFloat32 or ±Inf), which the Clip kernel knows.
			bounds, ok := clipBounds(g, act)
			if !ok || len(bounds) != 2 {
				return false
			}
			params = []float32{bounds[0].Float, bounds[1].Float}
		default:
			return false
		}
		attrs := []*ops.Attr{ops.StringAttr("activation", act.OpType)}
		if params != nil {
			attrs = append(attrs, ops.FloatsAttr("activation_params", params...))
		}
		for _, a := range gm.Attrs {
			if a.Name != "broadcast" { // Gemm-1 and -6 only; C always broadcasts
				attrs = append(attrs, a)
			}
		}
		gm.Domain, gm.OpType = ops.FusedDomain, "FusedGemm"
		gm.Attrs = attrs
		return true
	})
}
