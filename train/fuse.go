package train

import (
	"slices"

	"github.com/onyxrt/onyx/graph"
	"github.com/onyxrt/onyx/ops"
)

// fuseBackward rewrites, in place, backward nodes of g whose work can be
// done with fewer passes over large tensors, keeping every value the
// graph's outputs name:
//
//   - The gradient of Relu reads only Relu's output y (y > 0 exactly
//     where x > 0), not its input x, so that x has no reader left but the
//     Relu and the runtime can fuse a Conv (or Gemm) with the Relu after
//     it, never writing x out.
//   - MaxPoolGrad(dY, X) followed by Relu's gradient where X is that
//     Relu's output and nothing else reads the pooling gradient becomes
//     one MaxPoolGrad with attribute activation="Relu" (see
//     ops.GradDomain's MaxPoolGrad), which routes each window's gradient
//     to its maximum only when that is positive.
//   - Such a MaxPoolGrad of a 2×2, stride-2, unpadded pooling whose only
//     reader is a ConvGrad (as dY) is folded into the ConvGrad, which then
//     reads the pooled gradient and X (attribute pooled_dy, see ops'
//     ConvGrad) and never writes dY, a tensor the size of the Conv's
//     output, out.
func fuseBackward(g *graph.Graph) {
	for _, n := range g.Nodes {
		if isGradOp(n, "UnaryGrad") && n.Attr("op") != nil && n.Attr("op").String == "Relu" &&
			len(n.Inputs) == 3 && n.Inputs[1] != "" && n.Inputs[2] != "" {
			n.Inputs = []string{n.Inputs[0], "", n.Inputs[2]}
		}
	}
	// Relu's gradient into the MaxPoolGrad before it.
	fusePairs(g, func(p, r *graph.Node) *graph.Node {
		if !isGradOp(r, "UnaryGrad") || r.Attr("op") == nil || r.Attr("op").String != "Relu" || len(r.Inputs) != 3 || r.Inputs[2] == "" ||
			!isGradOp(p, "MaxPoolGrad") || len(p.Inputs) != 2 || p.Inputs[1] != r.Inputs[2] || p.Attr("activation") != nil {
			return nil
		}
		p.Attrs = append(slices.Clone(p.Attrs), ops.StringAttr("activation", "Relu"))
		p.Outputs = []string{r.Outputs[0]}
		return r
	})
	// That MaxPoolGrad into the ConvGrad after it.
	fusePairs(g, func(p, c *graph.Node) *graph.Node {
		if c.Domain != ops.GradDomain || c.OpType != "ConvGrad" || len(c.Inputs) != 3 || c.Attr("pooled_dy") != nil ||
			!isGradOp(p, "MaxPoolGrad") || len(p.Inputs) != 2 || !plainPool2x2Relu(p) {
			return nil
		}
		c.Inputs = []string{p.Inputs[0], c.Inputs[1], c.Inputs[2], p.Inputs[1]}
		c.Attrs = append(slices.Clone(c.Attrs), ops.IntAttr("pooled_dy", 1))
		return p
	})
}

func isGradOp(n *graph.Node, op string) bool {
	return n.Domain == ops.GradDomain && n.OpType == op && len(n.Outputs) == 1
}

// plainPool2x2Relu reports whether a MaxPoolGrad node is that of a 2×2,
// stride-2 pooling without padding, dilation or ceil mode, with the Relu
// gradient fused in.
func plainPool2x2Relu(n *graph.Node) bool {
	ints := func(name string, want ...int64) bool {
		a := n.Attr(name)
		return a != nil && slices.Equal(a.Ints, want)
	}
	optInts := func(name string, want int64) bool {
		a := n.Attr(name)
		if a == nil {
			return true
		}
		for _, v := range a.Ints {
			if v != want {
				return false
			}
		}
		return true
	}
	if a := n.Attr("activation"); a == nil || a.String != "Relu" {
		return false
	}
	if a := n.Attr("auto_pad"); a != nil && a.String != "NOTSET" && a.String != "VALID" {
		return false
	}
	if a := n.Attr("ceil_mode"); a != nil && a.Int != 0 {
		return false
	}
	return ints("kernel_shape", 2, 2) && ints("strides", 2, 2) && optInts("pads", 0) && optInts("dilations", 1)
}

// fusePairs offers fuse every pair (producer, consumer) where the
// consumer reads the producer's only output as its input 0 and nothing
// else reads that output or lists it as a graph output. When fuse
// rewrites the pair into one node, it returns the other, which is
// removed; else nil.
func fusePairs(g *graph.Graph, fuse func(producer, consumer *graph.Node) *graph.Node) {
	readers := map[string]int{}
	for _, n := range g.Nodes {
		for _, in := range graph.NodeInputs(n) {
			readers[in]++
		}
	}
	for _, o := range g.Outputs {
		readers[o.Name]++
	}
	producer := map[string]*graph.Node{}
	for _, n := range g.Nodes {
		for _, o := range n.Outputs {
			if o != "" {
				producer[o] = n
			}
		}
	}
	dead := map[*graph.Node]bool{}
	for _, c := range g.Nodes {
		if dead[c] || len(c.Inputs) == 0 || c.Inputs[0] == "" {
			continue
		}
		d := c.Inputs[0]
		p := producer[d]
		if p == nil || p == c || dead[p] || len(p.Outputs) != 1 || readers[d] != 1 {
			continue
		}
		gone := fuse(p, c)
		if gone == nil {
			continue
		}
		dead[gone] = true
		if kept := map[bool]*graph.Node{true: c, false: p}[gone == p]; kept != nil {
			for _, o := range kept.Outputs {
				producer[o] = kept
			}
		}
	}
	g.Nodes = slices.DeleteFunc(g.Nodes, func(n *graph.Node) bool { return dead[n] })
}
