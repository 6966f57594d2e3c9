package graph

import (
	"fmt"
	"math"
	"slices"
	"strings"

	"github.com/onyxrt/onyx/ops"
	"github.com/onyxrt/onyx/tensor"
)

// Optimize returns a copy of g rewritten by the graph passes, in order:
// zero Pad folding into the Conv after it (fold_pad.go), recurrent
// Loops made FusedLSTM/FusedGRU nodes (fuse_rnnloop.go),
// Conv+BatchNormalization folding, Conv+Mul/Add and
// BatchNormalization+Mul/Add folding (per-channel constants),
// Conv+activation and BatchNormalization+activation fusion (into the
// FusedConv and FusedBatchNorm operators of domain ops.FusedDomain),
// Conv+Add(+activation) and Conv+MaxPool fusion into FusedConv
// (fuse_conv.go), MobileNet's
// expand/depthwise/project blocks into FusedDwBlock (fuse_dwblock.go),
// MatMul/Gemm fusions (fuse_gemm.go), transpose push-down and
// cancellation, and dead-node removal. g itself is not modified
// (initializers and attributes are shared, never mutated). Subgraphs are
// left as they are.
//
// Each pass preserves the graph's outputs; the conformance suites run with
// the passes on.
func Optimize(g *Graph) *Graph {
	o := &Graph{
		Name: g.Name, Inputs: g.Inputs, Outputs: g.Outputs, ValueInfo: g.ValueInfo, Doc: g.Doc,
		Initializers:     make(map[string]*tensor.Tensor, len(g.Initializers)),
		InitializerOrder: append([]string(nil), g.InitializerOrder...),
	}
	for k, v := range g.Initializers {
		o.Initializers[k] = v
	}
	for _, n := range g.Nodes {
		c := *n
		c.Inputs = append([]string(nil), n.Inputs...)
		c.Outputs = append([]string(nil), n.Outputs...)
		o.Nodes = append(o.Nodes, &c)
	}
	foldPad(o)
	fuseRNNLoops(o)
	foldBatchNorm(o)
	for foldConvScaleShift(o) {
	}
	for foldBatchNormScaleShift(o) {
	}
	fuseConvActivation(o)
	fuseBatchNormActivation(o)
	fuseConvAdd(o)
	fuseConvMaxPool(o)
	fuseDwBlocks(o)
	fuseGemm(o)
	for pushTransposes(o) {
	}
	removeDeadNodes(o)
	return o
}

// uses counts, for every value, the nodes (and graph outputs) that read
// it. Values read by subgraphs count as used by their node.
func uses(g *Graph) map[string]int {
	u := map[string]int{}
	for _, n := range g.Nodes {
		for _, in := range NodeInputs(n) {
			u[in]++
		}
	}
	for _, o := range g.Outputs {
		u[o.Name]++
	}
	return u
}

func isGraphInput(g *Graph, name string) bool {
	for _, in := range g.Inputs {
		if in.Name == name {
			return true
		}
	}
	return false
}

func isGraphOutput(g *Graph, name string) bool {
	for _, o := range g.Outputs {
		if o.Name == name {
			return true
		}
	}
	return false
}

// consumers returns the nodes that read value name directly.
func consumers(g *Graph, name string) []*Node {
	var out []*Node
	for _, n := range g.Nodes {
		for _, in := range n.Inputs {
			if in == name {
				out = append(out, n)
				break
			}
		}
	}
	return out
}

// setInputs gives n the inputs in and drops the initializers among its
// old inputs that nothing reads any more: a filter that a pass replaced
// is garbage at once instead of at the end of Optimize (folded twice, a
// model's filters would otherwise be in memory three times).
func setInputs(g *Graph, n *Node, in []string) {
	old := n.Inputs
	n.Inputs = in
	for _, name := range old {
		if _, ok := g.Initializers[name]; !ok || slices.Contains(in, name) || isGraphInput(g, name) || isGraphOutput(g, name) {
			continue
		}
		read := false
		for _, m := range g.Nodes {
			if slices.Contains(NodeInputs(m), name) {
				read = true
				break
			}
		}
		if !read {
			delete(g.Initializers, name) // and from InitializerOrder at the end (removeDeadNodes)
		}
	}
}

// rename makes every reader of from read to instead.
func rename(g *Graph, from, to string) {
	for _, n := range g.Nodes {
		for i, in := range n.Inputs {
			if in == from {
				n.Inputs[i] = to
			}
		}
	}
}

func removeNodes(g *Graph, dead map[*Node]bool) {
	kept := g.Nodes[:0]
	for _, n := range g.Nodes {
		if !dead[n] {
			kept = append(kept, n)
		}
	}
	g.Nodes = kept
}

// constFloat32 returns an initializer that is a float32 tensor, or nil.
// Initializers also listed as graph inputs count too: the runtime treats
// them as constants.
func constFloat32(g *Graph, name string) *tensor.Tensor {
	t := g.Initializers[name]
	if t == nil || t.DType() != tensor.Float32 {
		return nil
	}
	return t
}

func (g *Graph) freshName(base string) string {
	names := map[string]bool{}
	for _, n := range g.Nodes {
		for _, o := range n.Outputs {
			names[o] = true
		}
	}
	for i := 0; ; i++ {
		name := fmt.Sprintf("%s_onyx%d", base, i)
		if _, ok := g.Initializers[name]; !ok && !names[name] {
			return name
		}
	}
}

// foldBatchNorm folds an inference-mode BatchNormalization into the Conv
// before it when the Conv's weights and the normalization's parameters are
// float32 constants and nothing else reads the Conv's output:
// W' = W·s, B' = (B−mean)·s + beta with s = scale/sqrt(var+eps) per output
// channel.
func foldBatchNorm(g *Graph) {
	u := uses(g)
	producer := producers(g)
	dead := map[*Node]bool{}
	for _, bn := range g.Nodes {
		params := inferenceBatchNorm(g, bn)
		if params == nil {
			continue
		}
		conv := producer[bn.Inputs[0]]
		if conv == nil || conv.OpType != "Conv" || conv.Domain != "" || u[bn.Inputs[0]] != 1 || isGraphOutput(g, bn.Inputs[0]) {
			continue
		}
		w := constFloat32(g, conv.Inputs[1])
		if w == nil || w.Rank() < 3 {
			continue
		}
		var b *tensor.Tensor
		if len(conv.Inputs) > 2 && conv.Inputs[2] != "" {
			if b = constFloat32(g, conv.Inputs[2]); b == nil {
				continue
			}
		}
		m := w.Shape()[0]
		if params[0].Len() != m || (b != nil && b.Len() != m) {
			continue
		}
		eps := float32(1e-5)
		if a := bn.Attr("epsilon"); a != nil {
			eps = a.Float
		}
		scale, beta, mean, variance := params[0].Float32s(), params[1].Float32s(), params[2].Float32s(), params[3].Float32s()
		wd := w.Float32s()
		per := len(wd) / m
		nw := make([]float32, len(wd))
		nb := make([]float32, m)
		for c := 0; c < m; c++ {
			s := scale[c] / float32(math.Sqrt(float64(variance[c]+eps)))
			for i := c * per; i < (c+1)*per; i++ {
				nw[i] = wd[i] * s
			}
			bias := float32(0)
			if b != nil {
				bias = b.Float32s()[c]
			}
			nb[c] = (bias-mean[c])*s + beta[c]
		}
		wName, bName := g.freshName(conv.Inputs[1]+"_bn"), ""
		g.AddInitializer(wName, tensor.From(w.Shape(), nw))
		bName = g.freshName(conv.Inputs[1] + "_bnbias")
		g.AddInitializer(bName, tensor.From([]int{m}, nb))
		setInputs(g, conv, []string{conv.Inputs[0], wName, bName})
		conv.Outputs = []string{bn.Outputs[0]}
		dead[bn] = true
	}
	removeNodes(g, dead)
}

// foldConvScaleShift folds a Mul or an Add by a float32 constant that
// varies at most along the output channels (shape [C, 1, ..., 1] or
// [1, C, 1, ..., 1], or one value) into the Conv before it, when the
// Conv's filter (and bias, if any) are float32 constants and nothing else
// reads its output: Mul scales the filter and the bias of each output
// channel, Add adds to the bias. A BatchNormalization exported as a Mul
// and an Add (the ONNX model zoo's Inception v2 and DenseNet-121, after
// their own BatchNormalization) then runs as one convolution, whose
// activation fuseConvActivation fuses. (conv(x, W) + b)·s becomes
// conv(x, W·s) + b·s, rounded differently, as ONNX Runtime's Conv+Mul
// and Conv+Add fusions round it. It reports whether it folded any; a Mul
// then an Add take two calls.
func foldConvScaleShift(g *Graph) bool {
	return mergeIntoProducers(g, 2, func(conv, op *Node, side int) bool {
		c := scaleShiftConst(g, op, side)
		if c == nil || conv.OpType != "Conv" || conv.Domain != "" || len(conv.Outputs) != 1 {
			return false
		}
		w := constFloat32(g, conv.Inputs[1])
		if w == nil || w.Rank() < 3 {
			return false
		}
		m := w.Shape()[0]
		per, ok := perChannel(c, w.Rank(), m)
		if !ok {
			return false
		}
		var b []float32
		if len(conv.Inputs) > 2 && conv.Inputs[2] != "" {
			bt := constFloat32(g, conv.Inputs[2])
			if bt == nil || bt.Len() != m {
				return false
			}
			b = bt.Float32s()
		}
		nb := make([]float32, m)
		copy(nb, b)
		wName := conv.Inputs[1]
		if op.OpType == "Mul" {
			wd := w.Float32s()
			k := len(wd) / m
			nw := make([]float32, len(wd))
			for ch := 0; ch < m; ch++ {
				s := per(ch)
				for i := ch * k; i < (ch+1)*k; i++ {
					nw[i] = wd[i] * s
				}
				nb[ch] *= s
			}
			wName = g.freshName(conv.Inputs[1] + "_mul")
			g.AddInitializer(wName, tensor.From(w.Shape(), nw))
		} else {
			for ch := range nb {
				nb[ch] += per(ch)
			}
		}
		bName := g.freshName(conv.Inputs[1] + "_" + strings.ToLower(op.OpType) + "bias")
		g.AddInitializer(bName, tensor.From([]int{m}, nb))
		setInputs(g, conv, []string{conv.Inputs[0], wName, bName})
		return true
	})
}

// scaleShiftConst returns the float32 constant that op, a Mul or an Add
// of two inputs, applies to its input side, or nil.
func scaleShiftConst(g *Graph, op *Node, side int) *tensor.Tensor {
	if (op.OpType != "Mul" && op.OpType != "Add") || len(op.Inputs) != 2 {
		return nil
	}
	return constFloat32(g, op.Inputs[1-side])
}

// mergeIntoProducers offers each node n of the default domain with one
// output to the producer of each of its first sides inputs, when only n
// reads that value and it is not a graph output: merge(prod, n, side)
// rewrites prod to compute n's result as well and reports whether it did,
// and then prod writes n's output and n goes. It reports whether any
// node merged.
func mergeIntoProducers(g *Graph, sides int, merge func(prod, n *Node, side int) bool) bool {
	u := uses(g)
	producer := producers(g)
	dead := map[*Node]bool{}
	for _, n := range g.Nodes {
		if n.Domain != "" || len(n.Inputs) < sides || len(n.Outputs) != 1 {
			continue
		}
		for side := 0; side < sides; side++ {
			in := n.Inputs[side]
			prod := producer[in]
			if prod == nil || dead[prod] || prod.Outputs[0] != in || u[in] != 1 || isGraphOutput(g, in) {
				continue
			}
			if merge(prod, n, side) {
				prod.Outputs = []string{n.Outputs[0]}
				dead[n] = true
				break
			}
		}
	}
	removeNodes(g, dead)
	return len(dead) > 0
}

// inferenceBatchNorm returns the parameters (scale, B, mean, var) of bn
// when it is an inference-mode BatchNormalization with one output and
// float32 constant parameters of one length, else nil.
func inferenceBatchNorm(g *Graph, bn *Node) []*tensor.Tensor {
	if bn.OpType != "BatchNormalization" || bn.Domain != "" || len(bn.Inputs) != 5 || len(bn.Outputs) < 1 {
		return nil
	}
	if a := bn.Attr("training_mode"); a != nil && a.Int != 0 {
		return nil
	}
	if a := bn.Attr("spatial"); a != nil && a.Int == 0 {
		return nil
	}
	for _, o := range bn.Outputs[1:] {
		if o != "" {
			return nil
		}
	}
	params := make([]*tensor.Tensor, 4)
	for i := range params {
		params[i] = constFloat32(g, bn.Inputs[1+i])
		if params[i] == nil || params[i].Len() != params[0].Len() {
			return nil
		}
	}
	return params
}

// foldBatchNormScaleShift folds a Mul or an Add by a float32 constant
// that varies at most along the channels into the inference-mode
// BatchNormalization before it (nothing else reading the normalized
// values): Mul scales its scale and B, Add adds to B (DenseNet-121's
// BatchNormalization, Mul, Add before each convolution). How the
// constant broadcasts depends on the rank of the normalized tensor, which
// rankOf reads off the nodes that make it; an unknown rank folds nothing.
// It reports whether it folded any.
func foldBatchNormScaleShift(g *Graph) bool {
	producer := producers(g) // for rankOf
	ranks := map[string]int{}
	return mergeIntoProducers(g, 2, func(bn, op *Node, side int) bool {
		c := scaleShiftConst(g, op, side)
		params := inferenceBatchNorm(g, bn)
		if c == nil || params == nil {
			return false
		}
		rank := rankOf(g, bn.Inputs[0], producer, ranks, 0)
		per, ok := perChannel(c, rank, params[0].Len())
		if rank < 2 || !ok {
			return false
		}
		scale := append([]float32(nil), params[0].Float32s()...)
		bias := append([]float32(nil), params[1].Float32s()...)
		for ch := range bias {
			if op.OpType == "Mul" {
				scale[ch] *= per(ch)
				bias[ch] *= per(ch)
			} else {
				bias[ch] += per(ch)
			}
		}
		sName, bName := g.freshName(bn.Inputs[1]+"_fold"), g.freshName(bn.Inputs[2]+"_fold")
		g.AddInitializer(sName, tensor.From([]int{len(scale)}, scale))
		g.AddInitializer(bName, tensor.From([]int{len(bias)}, bias))
		setInputs(g, bn, []string{bn.Inputs[0], sName, bName, bn.Inputs[3], bn.Inputs[4]})
		return true
	})
}

// rankOf returns the rank of value name as the nodes that make it tell
// it (a Conv's filter, the operators that keep their input's rank, a
// typed graph input, an initializer), or -1. ranks memoizes it.
func rankOf(g *Graph, name string, producer map[string]*Node, ranks map[string]int, depth int) int {
	if r, ok := ranks[name]; ok {
		return r
	}
	r := -1
	if t := g.Initializers[name]; t != nil {
		r = t.Rank()
	}
	for _, in := range g.Inputs {
		if in.Name == name && in.Type.Kind == KindTensor && in.Type.Shape != nil {
			r = len(in.Type.Shape)
		}
	}
	if n := producer[name]; n != nil && r < 0 && depth < 1000 && len(n.Inputs) > 0 {
		switch n.OpType {
		case "Conv", "FusedConv":
			if len(n.Inputs) > 1 {
				if w := g.Initializers[n.Inputs[1]]; w != nil {
					r = w.Rank()
				}
			}
		case "Relu", "LeakyRelu", "Clip", "Sigmoid", "Tanh", "Identity", "Dropout", "BatchNormalization",
			"FusedBatchNorm", "MaxPool", "AveragePool", "Concat":
			if n.Outputs[0] == name {
				r = rankOf(g, n.Inputs[0], producer, ranks, depth+1)
			}
		case "Add", "Mul", "Sum":
			for _, in := range n.Inputs {
				ri := rankOf(g, in, producer, ranks, depth+1)
				if ri < 0 {
					r = -1
					break
				}
				r = max(r, ri)
			}
		}
	}
	ranks[name] = r
	return r
}

// fuseBatchNormActivation makes an inference-mode BatchNormalization with
// constant parameters and the Relu, LeakyRelu or Clip that alone reads its
// output one FusedBatchNorm, which applies the activation to each plane
// as it writes it.
func fuseBatchNormActivation(g *Graph) {
	mergeIntoProducers(g, 1, func(bn, act *Node, _ int) bool {
		if inferenceBatchNorm(g, bn) == nil {
			return false
		}
		attrs, ok := convActivation(g, act)
		if !ok {
			return false
		}
		eps := float32(1e-5)
		if a := bn.Attr("epsilon"); a != nil {
			eps = a.Float
		}
		bn.Domain, bn.OpType = ops.FusedDomain, "FusedBatchNorm"
		bn.Attrs = append([]*ops.Attr{ops.FloatAttr("epsilon", eps)}, attrs...)
		return true
	})
}

// perChannel reports whether the constant c broadcasts against a Conv
// output of the given rank (N, C, spatial...) with m channels along the
// channels at most, and returns its value for each channel.
func perChannel(c *tensor.Tensor, rank, m int) (func(ch int) float32, bool) {
	cs := c.Shape()
	if len(cs) > rank || c.Len() == 0 {
		return nil, false
	}
	full := make([]int, rank-len(cs), rank)
	for i := range full {
		full[i] = 1
	}
	full = append(full, cs...)
	for i, d := range full {
		if i != 1 && d != 1 {
			return nil, false
		}
	}
	v := c.Float32s()
	switch full[1] {
	case 1:
		return func(int) float32 { return v[0] }, true
	case m:
		return func(ch int) float32 { return v[ch] }, true
	}
	return nil, false
}

// fuseConvActivation merges a Relu, LeakyRelu or Clip (with constant
// bounds) into the Conv whose output only it reads: the Conv becomes a
// FusedConv that applies the activation to each output band in cache.
func fuseConvActivation(g *Graph) {
	mergeIntoProducers(g, 1, func(conv, act *Node, _ int) bool {
		if conv.OpType != "Conv" || conv.Domain != "" || len(conv.Outputs) != 1 {
			return false
		}
		attrs, ok := convActivation(g, act)
		if !ok {
			return false
		}
		conv.Domain, conv.OpType = ops.FusedDomain, "FusedConv"
		conv.Attrs = append(append([]*ops.Attr(nil), conv.Attrs...), attrs...)
		return true
	})
}

// clipBounds reads Clip's min and max from its attributes (opset < 11) or
// from constant scalar float32 inputs.
func clipBounds(g *Graph, clip *Node) ([]*ops.Attr, bool) {
	var out []*ops.Attr
	for i, name := range []string{"min", "max"} {
		if a := clip.Attr(name); a != nil {
			out = append(out, ops.FloatAttr(name, a.Float))
			continue
		}
		if len(clip.Inputs) <= i+1 || clip.Inputs[i+1] == "" {
			continue
		}
		t := constFloat32(g, clip.Inputs[i+1])
		if t == nil || t.Len() != 1 {
			return nil, false
		}
		out = append(out, ops.FloatAttr(name, t.Float32s()[0]))
	}
	return out, true
}

// elementwiseUnary are ops that act on each element alone with no axis
// or shape attribute, so a Transpose commutes with them.
var elementwiseUnary = map[string]bool{
	"Relu": true, "LeakyRelu": true, "Sigmoid": true, "Tanh": true, "Elu": true, "Selu": true,
	"HardSigmoid": true, "HardSwish": true, "Softplus": true, "Softsign": true, "Abs": true,
	"Neg": true, "Exp": true, "Log": true, "Sqrt": true, "Reciprocal": true, "Floor": true,
	"Ceil": true, "Round": true, "Erf": true, "Sign": true, "Cast": true, "Identity": true,
	"Celu": true, "ThresholdedRelu": true, "Not": true, "IsNaN": true, "Gelu": true, "Mish": true,
}

func transposePerm(n *Node, rank int) []int64 {
	if a := n.Attr("perm"); a != nil {
		return a.Ints
	}
	if rank < 0 {
		return nil
	}
	p := make([]int64, rank)
	for i := range p {
		p[i] = int64(rank - 1 - i)
	}
	return p
}

func identityPerm(p []int64) bool {
	for i, v := range p {
		if int64(i) != v {
			return false
		}
	}
	return true
}

// pushTransposes makes one Transpose rewrite, if it finds one, and reports
// whether it did:
//   - Transpose(Transpose(x, p1), p2) becomes Transpose(x, p1∘p2), or x
//     when the composition is the identity;
//   - a Transpose whose only reader is an elementwise unary op (Relu, Cast,
//     Clip with constant bounds, ...) moves below it, so that the
//     Transposes tf2onnx wraps around every NHWC layer meet and cancel.
func pushTransposes(g *Graph) bool {
	u := uses(g)
	dead := map[*Node]bool{}
	for _, t1 := range g.Nodes {
		if t1.OpType != "Transpose" || t1.Domain != "" || len(t1.Inputs) != 1 || len(t1.Outputs) != 1 {
			continue
		}
		out := t1.Outputs[0]
		if u[out] != 1 || isGraphOutput(g, out) {
			continue
		}
		cs := consumers(g, out)
		if len(cs) != 1 {
			continue
		}
		next := cs[0]
		switch {
		case next.OpType == "Transpose" && next.Domain == "":
			p1 := transposePerm(t1, -1)
			p2 := transposePerm(next, -1)
			if p1 == nil || p2 == nil || len(p1) != len(p2) {
				continue
			}
			comp := make([]int64, len(p1))
			for i := range comp {
				if p2[i] < 0 || int(p2[i]) >= len(p1) {
					return false
				}
				comp[i] = p1[p2[i]]
			}
			if identityPerm(comp) && !isGraphOutput(g, next.Outputs[0]) {
				rename(g, next.Outputs[0], t1.Inputs[0])
				dead[t1], dead[next] = true, true
			} else {
				next.Inputs[0] = t1.Inputs[0]
				next.Attrs = replaceAttr(next.Attrs, &ops.Attr{Name: "perm", Type: ops.AttrInts, Ints: comp})
				dead[t1] = true
			}
			removeNodes(g, dead)
			return true
		case next.Domain == "" && commutesWithTranspose(g, next):
			// x -> T -> U -> y  becomes  x -> U -> T -> y.
			x, y := t1.Inputs[0], next.Outputs[0]
			mid := out // reuse the name between the two
			next.Inputs[0] = x
			next.Outputs[0] = mid
			t1.Inputs[0] = mid
			t1.Outputs[0] = y
			moveAfter(g, t1, next)
			return true
		}
	}
	return false
}

// commutesWithTranspose reports whether n is elementwise on its first
// input alone, with any other inputs constant scalars.
func commutesWithTranspose(g *Graph, n *Node) bool {
	if len(n.Outputs) != 1 || len(n.Inputs) == 0 {
		return false
	}
	if !elementwiseUnary[n.OpType] && n.OpType != "Clip" {
		return false
	}
	for _, in := range n.Inputs[1:] {
		if in == "" {
			continue
		}
		t := g.Initializers[in]
		if t == nil || t.Len() != 1 || t.Rank() != 0 {
			return false
		}
	}
	return true
}

// moveAfter moves node a to just after node b in g.Nodes (a came first).
func moveAfter(g *Graph, a, b *Node) {
	ia, ib := -1, -1
	for i, n := range g.Nodes {
		if n == a {
			ia = i
		}
		if n == b {
			ib = i
		}
	}
	if ia < 0 || ib < 0 || ia > ib {
		return
	}
	copy(g.Nodes[ia:ib], g.Nodes[ia+1:ib+1])
	g.Nodes[ib] = a
}

func replaceAttr(attrs []*ops.Attr, a *ops.Attr) []*ops.Attr {
	out := make([]*ops.Attr, 0, len(attrs)+1)
	for _, x := range attrs {
		if x.Name != a.Name {
			out = append(out, x)
		}
	}
	return append(out, a)
}

// optionalOutputs lists operators whose outputs from index 1 on are
// optional and cost work to make (Dropout's mask, MaxPool's indices):
// when nothing reads one, removeDeadNodes names it "", which tells the
// kernel not to make it.
var optionalOutputs = map[string]bool{"Dropout": true, "MaxPool": true}

// removeDeadNodes drops nodes none of whose outputs is read (ONNX
// operators have no side effects), repeatedly, then the initializers
// nothing reads any more. Unread optional outputs (optionalOutputs) of
// the nodes kept are dropped too.
func removeDeadNodes(g *Graph) {
	defer func() {
		u := uses(g)
		order := g.InitializerOrder[:0]
		for _, name := range g.InitializerOrder {
			if u[name] > 0 || isGraphInput(g, name) {
				order = append(order, name)
			} else {
				delete(g.Initializers, name)
			}
		}
		g.InitializerOrder = order
	}()
	for {
		u := uses(g)
		dead := map[*Node]bool{}
		for _, n := range g.Nodes {
			used := false
			for _, o := range n.Outputs {
				if o != "" && u[o] > 0 {
					used = true
				}
			}
			if !used {
				dead[n] = true
			}
		}
		if len(dead) == 0 {
			break
		}
		removeNodes(g, dead)
	}
	u := uses(g)
	for _, n := range g.Nodes {
		if ops.NormDomain(n.Domain) != "" || !optionalOutputs[n.OpType] {
			continue
		}
		for i := 1; i < len(n.Outputs); i++ {
			if u[n.Outputs[i]] == 0 {
				n.Outputs[i] = ""
			}
		}
		for len(n.Outputs) > 1 && n.Outputs[len(n.Outputs)-1] == "" {
			n.Outputs = n.Outputs[:len(n.Outputs)-1]
		}
	}
}
