package graph

import (
	"errors"
	"math"

	"github.com/onyxrt/onyx/ops"
	"github.com/onyxrt/onyx/tensor"
)

// fuseRNNLoops replaces each Loop node whose body is one time step of an
// LSTM or GRU cell by a FusedLSTM or FusedGRU node (domain ops.FusedDomain)
// that runs every step at once. This is how tf2onnx exports the Keras
// recurrent layers it cannot map onto ONNX's LSTM and GRU (a TensorFlow
// while loop): the body reads X[t] with a Gather, multiplies it and the
// previous hidden state by the kernel and recurrent kernel (MatMul), adds
// biases, splits the gates and applies the cell arithmetic, and the Loop
// stacks each step's hidden state as its scan output. Running that body
// once per step costs some twenty kernel calls per time step; the fused
// node does the input projection of all steps as one GEMM and each step
// as one small product plus one pass of gate arithmetic.
//
// The pass is exact about what it accepts. The trip count, the initial
// condition and the counters must be constants, and the number of
// iterations (and which X rows they read: consecutive, increasing) is
// found by evaluating the body's scalar condition arithmetic step by
// step. The cell must be recognized in full: for an LSTM
//
//	c' = act_f(f)⊙c + act_f(i)⊙act_g(g),  h' = act_f(o)⊙act_h(c')
//
// with i, f, g, o the four equal parts (in any order) of a Split of
// X[t]·Wk + h·Rk + biases; for a GRU (Keras reset_after=True, ONNX
// linear_before_reset=1)
//
//	z = act_f(xz + rz), r = act_f(xr + rr), hh = act_g(xh + r⊙rh),
//	h' = z⊙h + (1 − z)⊙hh
//
// with xz, xr, xh the thirds of X[t]·Wk + bias and rz, rr, rh those of
// h·Rk + bias. Every other loop-carried value must pass through unchanged
// or be one of the simulated counters; the Loop's outputs are rewired to
// the fused node's outputs, constants (final counters) and Identity nodes
// (pass-through values).
func fuseRNNLoops(g *Graph) {
	var out []*Node
	changed := false
	for _, n := range g.Nodes {
		if n.OpType == "Loop" && n.Domain == "" {
			if repl := rnnLoopReplacement(g, n); repl != nil {
				out = append(out, repl...)
				changed = true
				continue
			}
		}
		out = append(out, n)
	}
	if changed {
		g.Nodes = out
	}
}

// rnnLoop is a Loop node under analysis.
type rnnLoop struct {
	g    *Graph // the graph holding the Loop
	loop *Node
	body *Graph
	k    int              // loop-carried values
	prod map[string]*Node // body value -> producing body node
	in   map[string]int   // body input name -> index
}

// maxFusedSteps bounds the iterations the pass simulates.
const maxFusedSteps = 1 << 20

// rnnLoopReplacement returns the nodes that replace loop, or nil when the
// Loop is not a recognized recurrent layer.
func rnnLoopReplacement(g *Graph, loop *Node) []*Node {
	a := loop.Attr("body")
	if a == nil {
		return nil
	}
	body, ok := a.Graph.(*Graph)
	if !ok || body == nil || len(loop.Inputs) < 2 {
		return nil
	}
	k := len(loop.Inputs) - 2
	// Exactly one scan output: the hidden state of each step.
	if len(body.Inputs) != k+2 || len(body.Outputs) != k+2 || len(loop.Outputs) > k+1 {
		return nil
	}
	l := &rnnLoop{g: g, loop: loop, body: body, k: k, prod: map[string]*Node{}, in: map[string]int{}}
	for _, n := range body.Nodes {
		for _, o := range n.Outputs {
			if o != "" {
				l.prod[o] = n
			}
		}
	}
	for i, v := range body.Inputs {
		l.in[v.Name] = i
	}

	// The cell, from the scan output back.
	cell := l.matchCell()
	if cell == nil {
		return nil
	}
	// The other carried values: counters or pass-through values.
	counters, ok := l.counters(cell)
	if !ok {
		return nil
	}
	steps, start, final, ok := l.simulate(counters, cell.xIndex)
	if !ok || steps == 0 {
		return nil
	}

	// The replacement.
	var nodes []*Node
	name := func(what string) string {
		base := loop.Name
		if base == "" {
			base = "rnnloop"
		}
		return g.freshName(base + "_" + what)
	}
	wName, rName, bName := name("W"), name("R"), name("B")
	g.AddInitializer(wName, cell.w)
	g.AddInitializer(rName, cell.r)
	g.AddInitializer(bName, cell.b)
	outName := func(i int) string {
		if i < len(loop.Outputs) {
			return loop.Outputs[i]
		}
		return ""
	}
	fused := &Node{
		Name:   loop.Name,
		Domain: ops.FusedDomain,
		Inputs: []string{cell.x, wName, rName, bName, "", loop.Inputs[2+cell.h]},
		Attrs: []*ops.Attr{
			{Name: "hidden_size", Type: ops.AttrInt, Int: int64(cell.hidden)},
			{Name: "activations", Type: ops.AttrStrings, Strings: cell.acts},
			{Name: "time_start", Type: ops.AttrInt, Int: start},
			{Name: "time_steps", Type: ops.AttrInt, Int: steps},
		},
		Outputs: []string{outName(k), outName(cell.h)},
	}
	if len(cell.alphas) > 0 {
		fused.Attrs = append(fused.Attrs,
			&ops.Attr{Name: "activation_alpha", Type: ops.AttrFloats, Floats: cell.alphas},
			&ops.Attr{Name: "activation_beta", Type: ops.AttrFloats, Floats: cell.betas})
	}
	if cell.lstm {
		fused.OpType = "FusedLSTM"
		fused.Inputs = append(fused.Inputs, loop.Inputs[2+cell.c])
		fused.Outputs = append(fused.Outputs, outName(cell.c))
	} else {
		fused.OpType = "FusedGRU"
		fused.Attrs = append(fused.Attrs, &ops.Attr{Name: "linear_before_reset", Type: ops.AttrInt, Int: 1})
	}
	nodes = append(nodes, fused)
	for c := 0; c < k; c++ {
		o := outName(c)
		if o == "" || c == cell.h || (cell.lstm && c == cell.c) {
			continue
		}
		if v, ok := final[c]; ok {
			g.AddInitializer(o, v)
			continue
		}
		// A pass-through value.
		nodes = append(nodes, &Node{Name: o + "_onyx_passthrough", OpType: "Identity", Inputs: []string{loop.Inputs[2+c]}, Outputs: []string{o}})
	}
	return nodes
}

// src follows Identity nodes of the body back to the value they copy.
func (l *rnnLoop) src(v string) string {
	for i := 0; i < 64; i++ {
		p := l.prod[v]
		if p == nil || p.OpType != "Identity" || p.Domain != "" || len(p.Inputs) != 1 {
			return v
		}
		v = p.Inputs[0]
	}
	return v
}

// node returns the body node of type op that produces v (after Identity
// copies), or nil.
func (l *rnnLoop) node(v, op string) *Node {
	p := l.prod[l.src(v)]
	if p == nil || p.OpType != op || p.Domain != "" {
		return nil
	}
	return p
}

// carried returns the index of the loop-carried value whose body input is
// v (after Identity copies), or -1.
func (l *rnnLoop) carried(v string) int {
	v = l.src(v)
	if i, ok := l.in[v]; ok && i >= 2 {
		if l.prod[v] == nil {
			return i - 2
		}
	}
	return -1
}

// passThrough reports whether carried value c leaves the body unchanged.
func (l *rnnLoop) passThrough(c int) bool {
	return l.src(l.body.Outputs[1+c].Name) == l.body.Inputs[2+c].Name
}

// isDefinedInBody reports whether v is a body value (input, initializer
// or node output) rather than one of the enclosing graph.
func (l *rnnLoop) isDefinedInBody(v string) bool {
	if _, ok := l.in[v]; ok {
		return true
	}
	if _, ok := l.body.Initializers[v]; ok {
		return true
	}
	return l.prod[v] != nil
}

// constOf returns v's value when it is a constant: a body or outer
// initializer, a Constant node, a pass-through carried value that starts
// as a constant, or a Split part or Squeeze of one. Else nil.
func (l *rnnLoop) constOf(v string) *tensor.Tensor {
	return l.constDepth(v, 0)
}

func (l *rnnLoop) constDepth(v string, depth int) *tensor.Tensor {
	if depth > 16 || v == "" {
		return nil
	}
	if t, ok := l.body.Initializers[v]; ok {
		return t
	}
	if i, ok := l.in[v]; ok {
		if i < 2 || !l.passThrough(i-2) {
			return nil
		}
		return l.g.Initializers[l.loop.Inputs[i]]
	}
	p := l.prod[v]
	if p == nil {
		return l.g.Initializers[v]
	}
	if p.Domain != "" {
		return nil
	}
	switch p.OpType {
	case "Identity":
		return l.constDepth(p.Inputs[0], depth+1)
	case "Constant":
		if a := p.Attr("value"); a != nil && a.Tensor != nil {
			return a.Tensor
		}
	case "Squeeze":
		t := l.constDepth(p.Inputs[0], depth+1)
		if t == nil {
			return nil
		}
		var shape []int
		for _, d := range t.Shape() {
			if d != 1 {
				shape = append(shape, d)
			}
		}
		// Squeezing only some unit axes leaves others, but a bias is
		// used as a row vector either way: keep the non-unit axes.
		r, err := t.Reshape(shape...)
		if err != nil {
			return nil
		}
		return r
	case "Split":
		return l.constSplit(p, v, depth)
	}
	return nil
}

// constSplit evaluates output v of Split node p on a constant float32
// input.
func (l *rnnLoop) constSplit(p *Node, v string, depth int) *tensor.Tensor {
	t := l.constDepth(p.Inputs[0], depth+1)
	if t == nil || t.DType() != tensor.Float32 || t.Rank() == 0 {
		return nil
	}
	idx := -1
	for i, o := range p.Outputs {
		if o == v {
			idx = i
		}
	}
	sizes, axis, ok := l.splitSizes(p, t.Shape())
	if !ok || idx < 0 || idx >= len(sizes) {
		return nil
	}
	shape := t.Shape()
	outer, inner := 1, 1
	for i := 0; i < axis; i++ {
		outer *= shape[i]
	}
	for i := axis + 1; i < len(shape); i++ {
		inner *= shape[i]
	}
	off := 0
	for i := 0; i < idx; i++ {
		off += sizes[i]
	}
	d := t.Float32s()
	out := make([]float32, 0, outer*sizes[idx]*inner)
	for o := 0; o < outer; o++ {
		row := d[(o*shape[axis]+off)*inner : (o*shape[axis]+off+sizes[idx])*inner]
		out = append(out, row...)
	}
	os := append([]int(nil), shape...)
	os[axis] = sizes[idx]
	return tensor.From(os, out)
}

// splitSizes returns the part sizes and the normalized axis of Split node
// p over an input of the given shape.
func (l *rnnLoop) splitSizes(p *Node, shape []int) ([]int, int, bool) {
	axis := 0
	if a := p.Attr("axis"); a != nil {
		axis = int(a.Int)
	}
	if axis < 0 {
		axis += len(shape)
	}
	if axis < 0 || axis >= len(shape) {
		return nil, 0, false
	}
	n := len(p.Outputs)
	var sizes []int
	if a := p.Attr("split"); a != nil {
		for _, s := range a.Ints {
			sizes = append(sizes, int(s))
		}
	} else if len(p.Inputs) > 1 && p.Inputs[1] != "" {
		t := l.constOf(p.Inputs[1])
		if t == nil {
			return nil, 0, false
		}
		v, err := t.AsInt64s()
		if err != nil {
			return nil, 0, false
		}
		for _, s := range v {
			sizes = append(sizes, int(s))
		}
	} else {
		if n == 0 || shape[axis]%n != 0 {
			return nil, 0, false
		}
		for i := 0; i < n; i++ {
			sizes = append(sizes, shape[axis]/n)
		}
	}
	total := 0
	for _, s := range sizes {
		if s < 0 {
			return nil, 0, false
		}
		total += s
	}
	if len(sizes) != n || total != shape[axis] {
		return nil, 0, false
	}
	return sizes, axis, true
}

// rnnCell is a recognized recurrent cell with its ONNX weights.
type rnnCell struct {
	lstm    bool
	h, c    int    // carried indices of the hidden and (LSTM) cell state
	x       string // the outer value whose rows the steps read
	xIndex  string // the body value that indexes them
	hidden  int
	w, r, b *tensor.Tensor // ONNX W [1, G·H, in], R [1, G·H, H], B [1, 2·G·H]
	acts    []string
	alphas  []float32
	betas   []float32
}

// cellAct is an activation recognized in the body.
type cellAct struct {
	name        string
	alpha, beta float32
	in          string // its input
	uses        bool   // whether it takes alpha and beta
}

// act recognizes v as an activation applied to some value.
func (l *rnnLoop) act(v string) (cellAct, bool) {
	p := l.prod[l.src(v)]
	if p == nil || p.Domain != "" || len(p.Inputs) != 1 {
		return cellAct{}, false
	}
	switch p.OpType {
	case "Sigmoid", "Tanh", "Relu", "Softsign", "Softplus":
		return cellAct{name: p.OpType, in: p.Inputs[0]}, true
	case "HardSigmoid":
		a := cellAct{name: p.OpType, in: p.Inputs[0], alpha: 0.2, beta: 0.5, uses: true}
		if at := p.Attr("alpha"); at != nil {
			a.alpha = at.Float
		}
		if at := p.Attr("beta"); at != nil {
			a.beta = at.Float
		}
		return a, true
	}
	return cellAct{}, false
}

func sameAct(a, b cellAct) bool {
	return a.name == b.name && a.alpha == b.alpha && a.beta == b.beta
}

// operands returns the two inputs of a binary node of type op that
// produces v, or ok false.
func (l *rnnLoop) operands(v, op string) (string, string, bool) {
	p := l.node(v, op)
	if p == nil || len(p.Inputs) != 2 {
		return "", "", false
	}
	return p.Inputs[0], p.Inputs[1], true
}

// matchCell recognizes the body's cell from its scan output.
func (l *rnnLoop) matchCell() *rnnCell {
	hNew := l.src(l.body.Outputs[1+l.k].Name)
	h := -1
	for c := 0; c < l.k; c++ {
		if l.src(l.body.Outputs[1+c].Name) == hNew && !l.passThrough(c) {
			if h >= 0 {
				return nil
			}
			h = c
		}
	}
	if h < 0 {
		return nil
	}
	// The hidden state is declared a [batch, hidden] matrix.
	if t := l.body.Inputs[2+h].Type; t.Kind != KindTensor || t.DType != tensor.Float32 || len(t.Shape) != 2 {
		return nil
	}
	if cell := l.matchLSTM(hNew, h); cell != nil {
		return cell
	}
	return l.matchGRU(hNew, h)
}

// matchLSTM recognizes h' = act_f(o)⊙act_h(c').
func (l *rnnLoop) matchLSTM(hNew string, h int) *rnnCell {
	a, b, ok := l.operands(hNew, "Mul")
	if !ok {
		return nil
	}
	for _, pair := range [2][2]string{{a, b}, {b, a}} {
		o, ok1 := l.act(pair[0])
		hc, ok2 := l.act(pair[1])
		if !ok1 || !ok2 {
			continue
		}
		cNew := l.src(hc.in)
		c := -1
		for i := 0; i < l.k; i++ {
			if i != h && l.src(l.body.Outputs[1+i].Name) == cNew && !l.passThrough(i) {
				c = i
			}
		}
		if c < 0 {
			continue
		}
		if cell := l.matchLSTMState(cNew, o, hc, h, c); cell != nil {
			return cell
		}
	}
	return nil
}

// matchLSTMState recognizes c' = act_f(f)⊙c + act_f(i)⊙act_g(g) and the
// gate projection, given the o gate and the output activation.
func (l *rnnLoop) matchLSTMState(cNew string, o, hAct cellAct, h, c int) *rnnCell {
	p, q, ok := l.operands(cNew, "Add")
	if !ok {
		return nil
	}
	for _, pair := range [2][2]string{{p, q}, {q, p}} {
		// pair[0] = act(f)⊙c, pair[1] = act(i)⊙act(g).
		f1, f2, ok1 := l.operands(pair[0], "Mul")
		i1, i2, ok2 := l.operands(pair[1], "Mul")
		if !ok1 || !ok2 {
			continue
		}
		var f cellAct
		switch {
		case l.carried(f2) == c:
			f, ok = l.act(f1)
		case l.carried(f1) == c:
			f, ok = l.act(f2)
		default:
			ok = false
		}
		if !ok || !sameAct(f, o) {
			continue
		}
		ia, oka := l.act(i1)
		ib, okb := l.act(i2)
		if !oka || !okb {
			continue
		}
		// The input gate has the gates' activation; the other is g's.
		in, g := ia, ib
		if !sameAct(ia, f) {
			in, g = ib, ia
		}
		if !sameAct(in, f) {
			continue
		}
		if cell := l.lstmWeights(h, c, [4]string{in.in, o.in, f.in, g.in}); cell != nil {
			cell.acts = []string{f.name, g.name, hAct.name}
			for _, x := range []cellAct{f, g, hAct} {
				if x.uses {
					cell.alphas = append(cell.alphas, x.alpha)
					cell.betas = append(cell.betas, x.beta)
				}
			}
			return cell
		}
	}
	return nil
}

// lstmWeights checks that gates (i, o, f, c in ONNX order) are the four
// parts of one Split of the gate projection and builds the ONNX weights.
func (l *rnnLoop) lstmWeights(h, c int, gates [4]string) *rnnCell {
	var split *Node
	var idx [4]int
	for gi, v := range gates {
		p := l.prod[l.src(v)]
		if p == nil || p.OpType != "Split" || p.Domain != "" || len(p.Outputs) != 4 || (split != nil && p != split) {
			return nil
		}
		split = p
		idx[gi] = -1
		for j, o := range p.Outputs {
			if o == l.src(v) {
				idx[gi] = j
			}
		}
	}
	seen := map[int]bool{}
	for _, j := range idx {
		if j < 0 || seen[j] {
			return nil
		}
		seen[j] = true
	}
	proj := l.projection(split.Inputs[0], h)
	if proj == nil || proj.cols%4 != 0 {
		return nil
	}
	hid := proj.cols / 4
	if proj.rk.Shape()[0] != hid {
		return nil
	}
	// The Split cuts the last axis of the [batch, 4·hidden] projection
	// into equal parts.
	sizes, axis, ok := l.splitSizes(split, []int{1, proj.cols})
	if !ok || axis != 1 {
		return nil
	}
	for _, sz := range sizes {
		if sz != hid {
			return nil
		}
	}
	if a := split.Attr("axis"); a == nil || (a.Int != 1 && a.Int != -1) {
		return nil
	}
	cell := &rnnCell{lstm: true, h: h, c: c, x: proj.x, xIndex: proj.xIndex, hidden: hid}
	cell.w = gateMatrix(proj.wk, idx[:], hid)
	cell.r = gateMatrix(proj.rk, idx[:], hid)
	b := make([]float32, 8*hid)
	for q, j := range idx {
		copy(b[q*hid:(q+1)*hid], proj.bias[j*hid:(j+1)*hid])
	}
	cell.b = tensor.From([]int{1, 8 * hid}, b)
	return cell
}

// gateMatrix turns a Keras kernel k [rows, G·hid] into the ONNX weight
// [1, G·hid, rows] whose gate block q is k's block idx[q], transposed.
func gateMatrix(k *tensor.Tensor, idx []int, hid int) *tensor.Tensor {
	rows, cols := k.Shape()[0], k.Shape()[1]
	d := k.Float32s()
	g := len(idx)
	out := make([]float32, g*hid*rows)
	for q, j := range idx {
		for u := 0; u < hid; u++ {
			dst := out[(q*hid+u)*rows : (q*hid+u+1)*rows]
			for r := range dst {
				dst[r] = d[r*cols+j*hid+u]
			}
		}
	}
	return tensor.From([]int{1, g * hid, rows}, out)
}

// projection is a recognized sum X[t]·Wk + h·Rk + biases (either product
// may be absent when not wanted).
type projection struct {
	x, xIndex string         // X and the index of the Gather that reads its row
	wk, rk    *tensor.Tensor // [in, cols], [hidden, cols]
	bias      []float32      // summed bias terms, cols values
	cols      int
}

// projection recognizes v as X[t]·Wk + h·Rk + biases, with h carried
// value h.
func (l *rnnLoop) projection(v string, h int) *projection {
	p := l.sum(v, h, true, true)
	if p == nil || p.wk == nil || p.rk == nil {
		return nil
	}
	return p
}

// sum flattens an Add tree into products with the kernel (wantX), with
// the recurrent kernel (wantH) and constant biases. Each product may
// appear at most once.
func (l *rnnLoop) sum(v string, h int, wantX, wantH bool) *projection {
	p := &projection{}
	var biases []*tensor.Tensor
	var walk func(v string, depth int) bool
	walk = func(v string, depth int) bool {
		if depth > 16 {
			return false
		}
		v = l.src(v)
		if a, b, ok := l.operands(v, "Add"); ok {
			return walk(a, depth+1) && walk(b, depth+1)
		}
		if t := l.constOf(v); t != nil {
			if t.DType() != tensor.Float32 {
				return false
			}
			biases = append(biases, t)
			return true
		}
		a, b, ok := l.operands(v, "MatMul")
		if !ok {
			return false
		}
		k := l.constOf(b)
		if k == nil || k.DType() != tensor.Float32 || k.Rank() != 2 {
			return false
		}
		if wantH && l.carried(a) == h && l.prod[l.src(a)] == nil {
			if p.rk != nil {
				return false
			}
			p.rk = k
			return true
		}
		gather := l.node(a, "Gather")
		if !wantX || gather == nil || len(gather.Inputs) != 2 || p.wk != nil {
			return false
		}
		if ax := gather.Attr("axis"); ax != nil && ax.Int != 0 {
			return false
		}
		// X must come from outside the body: the same tensor every step.
		if l.isDefinedInBody(gather.Inputs[0]) {
			return false
		}
		p.wk, p.x, p.xIndex = k, gather.Inputs[0], gather.Inputs[1]
		return true
	}
	if !walk(v, 0) {
		return nil
	}
	switch {
	case p.wk != nil && p.rk != nil:
		if p.wk.Shape()[1] != p.rk.Shape()[1] {
			return nil
		}
		p.cols = p.wk.Shape()[1]
	case p.wk != nil:
		p.cols = p.wk.Shape()[1]
	case p.rk != nil:
		p.cols = p.rk.Shape()[1]
	default:
		return nil
	}
	p.bias = make([]float32, p.cols)
	for _, b := range biases {
		// A bias is a row: every axis but the last has size 1.
		s := b.Shape()
		if len(s) == 0 || s[len(s)-1] != p.cols || b.Len() != p.cols {
			return nil
		}
		for i, x := range b.Float32s() {
			p.bias[i] += x
		}
	}
	return p
}

// matchGRU recognizes h' = z⊙h + (1 − z)⊙hh.
func (l *rnnLoop) matchGRU(hNew string, h int) *rnnCell {
	p, q, ok := l.operands(hNew, "Add")
	if !ok {
		return nil
	}
	for _, pair := range [2][2]string{{p, q}, {q, p}} {
		z1, z2, ok1 := l.operands(pair[0], "Mul")
		s1, s2, ok2 := l.operands(pair[1], "Mul")
		if !ok1 || !ok2 {
			continue
		}
		var z string
		switch {
		case l.carried(z2) == h:
			z = z1
		case l.carried(z1) == h:
			z = z2
		default:
			continue
		}
		// (1 − z)⊙hh in either order.
		for _, sp := range [2][2]string{{s1, s2}, {s2, s1}} {
			one, zz, ok := l.operands(sp[0], "Sub")
			if !ok || l.src(zz) != l.src(z) || !isScalarOne(l.constOf(one)) {
				continue
			}
			if cell := l.matchGRUGates(z, sp[1], h); cell != nil {
				return cell
			}
		}
	}
	return nil
}

func isScalarOne(t *tensor.Tensor) bool {
	if t == nil || t.Len() != 1 {
		return false
	}
	v := t.Float64s()
	return len(v) == 1 && v[0] == 1
}

// part is a column range [lo, hi) of a [batch, cols] value.
type part struct {
	base   string
	lo, hi int // hi may exceed the width (to the end)
	split  *Node
	index  int // the Split output, or -1 for a Slice
}

// part recognizes v as a column range of another value: a Split output
// on the last axis or a Slice of the last axis (the first axis whole).
func (l *rnnLoop) part(v string) (part, bool) {
	v = l.src(v)
	p := l.prod[v]
	if p == nil || p.Domain != "" {
		return part{}, false
	}
	switch p.OpType {
	case "Split":
		if a := p.Attr("axis"); a == nil || (a.Int != 1 && a.Int != -1) {
			return part{}, false
		}
		for i, o := range p.Outputs {
			if o == v {
				return part{base: p.Inputs[0], split: p, index: i}, true
			}
		}
	case "Slice":
		var starts, ends, axes, steps []int64
		if len(p.Inputs) >= 3 {
			var err error
			get := func(i int) []int64 {
				if i >= len(p.Inputs) || p.Inputs[i] == "" || err != nil {
					return nil
				}
				t := l.constOf(p.Inputs[i])
				if t == nil {
					err = errNotConst
					return nil
				}
				var s []int64
				s, err = t.AsInt64s()
				return s
			}
			starts, ends, axes, steps = get(1), get(2), get(3), get(4)
			if err != nil {
				return part{}, false
			}
		} else {
			if a := p.Attr("starts"); a != nil {
				starts = a.Ints
			}
			if a := p.Attr("ends"); a != nil {
				ends = a.Ints
			}
			if a := p.Attr("axes"); a != nil {
				axes = a.Ints
			}
		}
		if len(starts) != len(ends) || len(starts) == 0 {
			return part{}, false
		}
		if axes == nil {
			for i := range starts {
				axes = append(axes, int64(i))
			}
		}
		if len(axes) != len(starts) || (steps != nil && len(steps) != len(starts)) {
			return part{}, false
		}
		pt := part{base: p.Inputs[0], index: -1, lo: -1}
		for i, ax := range axes {
			if steps != nil && steps[i] != 1 {
				return part{}, false
			}
			switch ax {
			case 0, -2:
				if starts[i] != 0 || ends[i] < math.MaxInt32 {
					return part{}, false
				}
			case 1, -1:
				if starts[i] < 0 || ends[i] <= starts[i] || pt.lo >= 0 {
					return part{}, false
				}
				pt.lo, pt.hi = int(starts[i]), int(min(ends[i], math.MaxInt32))
			default:
				return part{}, false
			}
		}
		if pt.lo < 0 {
			return part{}, false
		}
		return pt, true
	}
	return part{}, false
}

// errNotConst marks a Slice input that is not a constant.
var errNotConst = errors.New("not a constant")

// resolve returns which third of a cols-wide value a part is, or -1.
func (l *rnnLoop) resolve(pt part, cols int) int {
	hid := cols / 3
	if pt.split != nil {
		sizes, axis, ok := l.splitSizes(pt.split, []int{1, cols})
		if !ok || axis != 1 || len(sizes) != 3 || sizes[0] != hid || sizes[1] != hid || sizes[2] != hid {
			return -1
		}
		return pt.index
	}
	hi := min(pt.hi, cols)
	if pt.lo%hid != 0 || hi-pt.lo != hid {
		return -1
	}
	return pt.lo / hid
}

// matchGRUGates recognizes z = act_f(xz + rz), hh = act_g(xh + r⊙rh) and
// r = act_f(xr + rr) and builds the ONNX weights.
func (l *rnnLoop) matchGRUGates(z, hh string, h int) *rnnCell {
	zAct, ok1 := l.act(z)
	hAct, ok2 := l.act(hh)
	if !ok1 || !ok2 {
		return nil
	}
	// Each gate's pre-activation: a part of the input projection plus a
	// part of the recurrent one (for hh, times r). hh tells them apart:
	// its recurrent part is the one multiplied by r.
	type gate struct{ x, r part }
	var gz, gr, gh gate
	var rIn string
	found := false
	if a, b, ok := l.operands(hAct.in, "Add"); ok {
		for _, ab := range [2][2]string{{a, b}, {b, a}} {
			xa, ok1 := l.part(ab[0])
			m1, m2, ok2 := l.operands(ab[1], "Mul")
			if !ok1 || !ok2 {
				continue
			}
			for _, mp := range [2][2]string{{m1, m2}, {m2, m1}} {
				ra, ok1 := l.act(mp[0])
				rh, ok2 := l.part(mp[1])
				if ok1 && ok2 && sameAct(ra, zAct) && !found {
					gh, rIn, found = gate{xa, rh}, ra.in, true
				}
			}
		}
	}
	if !found {
		return nil
	}
	xBase, rBase := l.src(gh.x.base), l.src(gh.r.base)
	if xBase == rBase {
		return nil
	}
	// split recognizes v = x part + r part.
	split := func(v string) (gate, bool) {
		a, b, ok := l.operands(v, "Add")
		if !ok {
			return gate{}, false
		}
		pa, ok1 := l.part(a)
		pb, ok2 := l.part(b)
		if !ok1 || !ok2 {
			return gate{}, false
		}
		if l.src(pa.base) == rBase {
			pa, pb = pb, pa
		}
		if l.src(pa.base) != xBase || l.src(pb.base) != rBase {
			return gate{}, false
		}
		return gate{pa, pb}, true
	}
	var ok bool
	if gz, ok = split(zAct.in); !ok {
		return nil
	}
	if gr, ok = split(rIn); !ok {
		return nil
	}
	xp := l.sum(xBase, h, true, false)
	rp := l.sum(rBase, h, false, true)
	if xp == nil || rp == nil || xp.wk == nil || rp.rk == nil || xp.cols != rp.cols || xp.cols%3 != 0 {
		return nil
	}
	cols := xp.cols
	hid := cols / 3
	if rp.rk.Shape()[0] != hid {
		return nil
	}
	var xi, ri [3]int
	for q, g := range []gate{gz, gr, gh} {
		xi[q], ri[q] = l.resolve(g.x, cols), l.resolve(g.r, cols)
	}
	for _, idx := range [][3]int{xi, ri} {
		seen := map[int]bool{}
		for _, j := range idx {
			if j < 0 || j > 2 || seen[j] {
				return nil
			}
			seen[j] = true
		}
	}
	cell := &rnnCell{h: h, c: -1, x: xp.x, xIndex: xp.xIndex, hidden: hid}
	cell.w = gateMatrix(xp.wk, xi[:], hid)
	cell.r = gateMatrix(rp.rk, ri[:], hid)
	b := make([]float32, 6*hid)
	for q := range 3 {
		copy(b[q*hid:(q+1)*hid], xp.bias[xi[q]*hid:(xi[q]+1)*hid])
		copy(b[(3+q)*hid:(4+q)*hid], rp.bias[ri[q]*hid:(ri[q]+1)*hid])
	}
	cell.b = tensor.From([]int{1, 6 * hid}, b)
	cell.acts = []string{zAct.name, hAct.name}
	for _, x := range []cellAct{zAct, hAct} {
		if x.uses {
			cell.alphas = append(cell.alphas, x.alpha)
			cell.betas = append(cell.betas, x.beta)
		}
	}
	return cell
}

// counters returns the carried values other than the cell's states that
// are scalar counters (constant start, computed by scalar arithmetic),
// with their initial values; every other carried value must pass through
// unchanged.
func (l *rnnLoop) counters(cell *rnnCell) (map[int]*tensor.Tensor, bool) {
	counters := map[int]*tensor.Tensor{}
	for c := 0; c < l.k; c++ {
		if c == cell.h || (cell.lstm && c == cell.c) || l.passThrough(c) {
			continue
		}
		t := l.g.Initializers[l.loop.Inputs[2+c]]
		if t == nil || t.Rank() != 0 || t.Float64s() == nil {
			return nil, false
		}
		counters[c] = t
	}
	return counters, true
}

// simulate runs the Loop's control: the trip count, the condition and the
// counters, evaluating the body's scalar arithmetic each iteration. It
// returns the number of iterations, the X row the first one reads (the
// others read the next rows in turn) and the counters' final values.
func (l *rnnLoop) simulate(counters map[int]*tensor.Tensor, xIndex string) (steps, start int64, final map[int]*tensor.Tensor, ok bool) {
	trip := int64(-1)
	if m := l.loop.Inputs[0]; m != "" {
		t := l.g.Initializers[m]
		if t == nil || t.Len() != 1 {
			return 0, 0, nil, false
		}
		v, err := t.AsInt64s()
		if err != nil {
			return 0, 0, nil, false
		}
		trip = v[0]
	}
	cond := true
	if cn := l.loop.Inputs[1]; cn != "" {
		t := l.g.Initializers[cn]
		if t == nil || t.Len() != 1 || t.DType() != tensor.Bool {
			return 0, 0, nil, false
		}
		cond = t.Float64s()[0] != 0
	}
	vals := map[int]float64{}
	for c, t := range counters {
		vals[c] = t.Float64s()[0]
	}
	for steps = 0; ; steps++ {
		if (trip >= 0 && steps >= trip) || !cond {
			break
		}
		if steps >= maxFusedSteps {
			return 0, 0, nil, false
		}
		env := map[string]float64{l.body.Inputs[0].Name: float64(steps), l.body.Inputs[1].Name: b2f(cond)}
		for c, v := range vals {
			env[l.body.Inputs[2+c].Name] = v
		}
		ev := &scalarEval{l: l, env: env, strict: true}
		idx, ok := ev.eval(xIndex, 0)
		ev.strict = false
		if !ok || idx != math.Trunc(idx) || idx < 0 {
			return 0, 0, nil, false
		}
		if steps == 0 {
			start = int64(idx)
		} else if int64(idx) != start+steps {
			return 0, 0, nil, false
		}
		next, ok := ev.eval(l.body.Outputs[0].Name, 0)
		if !ok {
			return 0, 0, nil, false
		}
		nv := map[int]float64{}
		for c := range vals {
			v, ok := ev.eval(l.body.Outputs[1+c].Name, 0)
			if !ok {
				return 0, 0, nil, false
			}
			nv[c] = castTo(counters[c].DType(), v)
		}
		cond, vals = next != 0, nv
	}
	final = map[int]*tensor.Tensor{}
	for c, v := range vals {
		t := scalarOf(counters[c].DType(), v)
		if t == nil {
			return 0, 0, nil, false
		}
		final[c] = t
	}
	return steps, start, final, true
}

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

// castTo rounds v as a value of element type dt.
func castTo(dt tensor.DType, v float64) float64 {
	switch dt {
	case tensor.Bool:
		return b2f(v != 0)
	case tensor.Float32:
		return float64(float32(v))
	case tensor.Float64:
		return v
	case tensor.Int8, tensor.Int16, tensor.Int32, tensor.Int64, tensor.Uint8, tensor.Uint16, tensor.Uint32, tensor.Uint64:
		return math.Trunc(v)
	}
	return math.NaN()
}

// scalarOf makes a scalar tensor of type dt, or nil for other types.
func scalarOf(dt tensor.DType, v float64) *tensor.Tensor {
	switch dt {
	case tensor.Bool:
		return tensor.Scalar(v != 0)
	case tensor.Float32:
		return tensor.Scalar(float32(v))
	case tensor.Float64:
		return tensor.Scalar(v)
	case tensor.Int32:
		return tensor.Scalar(int32(v))
	case tensor.Int64:
		return tensor.Scalar(int64(v))
	}
	return nil
}

// scalarEval evaluates scalar body values of one iteration.
type scalarEval struct {
	l   *rnnLoop
	env map[string]float64
	// strict rejects constants of rank above 0 (for the Gather index,
	// which must be a scalar for X[t] to be a [batch, in] row block).
	strict bool
}

func (e *scalarEval) eval(v string, depth int) (float64, bool) {
	if depth > 32 {
		return 0, false
	}
	if x, ok := e.env[v]; ok {
		return x, true
	}
	if t := e.l.constOf(v); t != nil {
		if t.Len() != 1 || (e.strict && t.Rank() != 0) {
			return 0, false
		}
		f := t.Float64s()
		if f == nil {
			return 0, false
		}
		return f[0], true
	}
	p := e.l.prod[v]
	if p == nil || p.Domain != "" || len(p.Outputs) != 1 {
		return 0, false
	}
	args := make([]float64, len(p.Inputs))
	for i, in := range p.Inputs {
		x, ok := e.eval(in, depth+1)
		if !ok {
			return 0, false
		}
		args[i] = x
	}
	two := len(args) == 2
	var r float64
	switch {
	case p.OpType == "Identity" && len(args) == 1:
		r = args[0]
	case p.OpType == "Cast" && len(args) == 1:
		a := p.Attr("to")
		if a == nil {
			return 0, false
		}
		r = castTo(tensor.DType(a.Int), args[0])
		if math.IsNaN(r) {
			return 0, false
		}
	case p.OpType == "Not" && len(args) == 1:
		r = b2f(args[0] == 0)
	case p.OpType == "Add" && two:
		r = args[0] + args[1]
	case p.OpType == "Sub" && two:
		r = args[0] - args[1]
	case p.OpType == "Mul" && two:
		r = args[0] * args[1]
	case p.OpType == "Less" && two:
		r = b2f(args[0] < args[1])
	case p.OpType == "LessOrEqual" && two:
		r = b2f(args[0] <= args[1])
	case p.OpType == "Greater" && two:
		r = b2f(args[0] > args[1])
	case p.OpType == "GreaterOrEqual" && two:
		r = b2f(args[0] >= args[1])
	case p.OpType == "Equal" && two:
		r = b2f(args[0] == args[1])
	case p.OpType == "And" && two:
		r = b2f(args[0] != 0 && args[1] != 0)
	case p.OpType == "Or" && two:
		r = b2f(args[0] != 0 || args[1] != 0)
	default:
		return 0, false
	}
	e.env[v] = r
	return r, true
}
