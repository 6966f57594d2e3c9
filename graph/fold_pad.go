package graph

import (
	"github.com/onyxrt/onyx/ops"
	"github.com/onyxrt/onyx/tensor"
)

// foldPad merges a zero constant Pad into the Conv that is its only
// reader: tf2onnx exports Keras's ZeroPadding2D (and TF's explicit
// padding before strided convolutions) as Pad then Conv with VALID
// padding. The Pad must add non-negative amounts to the spatial axes
// only, with constant pads (an attribute before opset 11, a constant
// input since) and a zero (or absent) constant value; the Conv's own
// padding must be explicit (auto_pad NOTSET or VALID). The Conv's pads
// become the sums, and the Pad goes.
func foldPad(g *Graph) {
	u := uses(g)
	producer := producers(g)
	dead := map[*Node]bool{}
	for _, conv := range g.Nodes {
		if conv.OpType != "Conv" || conv.Domain != "" || len(conv.Inputs) < 2 {
			continue
		}
		pad := producer[conv.Inputs[0]]
		if pad == nil || dead[pad] || pad.OpType != "Pad" || pad.Domain != "" || len(pad.Outputs) != 1 ||
			u[pad.Outputs[0]] != 1 || isGraphOutput(g, pad.Outputs[0]) {
			continue
		}
		pp, ok := zeroPadAmounts(g, pad)
		if !ok || len(pp)%2 != 0 || len(pp) < 6 {
			continue
		}
		rank := len(pp) / 2
		spatial := rank - 2
		if pp[0] != 0 || pp[1] != 0 || pp[rank] != 0 || pp[rank+1] != 0 {
			continue
		}
		convPads, ok := explicitConvPads(conv, spatial)
		if !ok {
			continue
		}
		sum := make([]int64, 2*spatial)
		for i := 0; i < spatial; i++ {
			sum[i] = convPads[i] + pp[2+i]
			sum[spatial+i] = convPads[spatial+i] + pp[rank+2+i]
		}
		attrs := replaceAttr(conv.Attrs, ops.IntsAttr("pads", sum...))
		attrs = replaceAttr(attrs, ops.StringAttr("auto_pad", "NOTSET"))
		conv.Attrs = attrs
		conv.Inputs = append([]string{pad.Inputs[0]}, conv.Inputs[1:]...)
		dead[pad] = true
	}
	removeNodes(g, dead)
}

// zeroPadAmounts returns the pads of a constant-mode Pad node that pads
// with zeros, and false for any other Pad (edge or reflect mode, a
// non-zero or non-constant value, pads that are not constant, axes).
func zeroPadAmounts(g *Graph, pad *Node) ([]int64, bool) {
	if a := pad.Attr("mode"); a != nil && a.String != "constant" {
		return nil, false
	}
	var pp []int64
	switch {
	case pad.Attr("pads") != nil:
		pp = pad.Attr("pads").Ints
	case pad.Attr("paddings") != nil:
		pp = pad.Attr("paddings").Ints
	default:
		if len(pad.Inputs) < 2 || pad.Inputs[1] == "" {
			return nil, false
		}
		t := g.Initializers[pad.Inputs[1]]
		if t == nil || t.DType() != tensor.Int64 || t.Rank() != 1 {
			return nil, false
		}
		pp = t.Int64s()
		if len(pad.Inputs) > 2 && pad.Inputs[2] != "" {
			v := g.Initializers[pad.Inputs[2]]
			if v == nil || v.Len() != 1 || v.Float64s()[0] != 0 {
				return nil, false
			}
		}
		if len(pad.Inputs) > 3 && pad.Inputs[3] != "" {
			return nil, false // axes
		}
	}
	if a := pad.Attr("value"); a != nil && a.Float != 0 {
		return nil, false
	}
	for _, p := range pp {
		if p < 0 {
			return nil, false
		}
	}
	return pp, true
}

// explicitConvPads returns the begin and end pads of a Conv with spatial
// axes, or false when its padding is automatic (SAME_UPPER, SAME_LOWER)
// or its pads do not match the rank.
func explicitConvPads(conv *Node, spatial int) ([]int64, bool) {
	if a := conv.Attr("auto_pad"); a != nil && a.String != "" && a.String != "NOTSET" && a.String != "VALID" {
		return nil, false
	}
	if a := conv.Attr("kernel_shape"); a != nil && len(a.Ints) != spatial {
		return nil, false
	}
	a := conv.Attr("pads")
	if a == nil || (conv.Attr("auto_pad") != nil && conv.Attr("auto_pad").String == "VALID") {
		return make([]int64, 2*spatial), true
	}
	if len(a.Ints) != 2*spatial {
		return nil, false
	}
	return a.Ints, true
}
