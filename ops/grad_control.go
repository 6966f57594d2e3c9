package ops

import (
	"errors"
	"fmt"

	"github.com/onyxrt/onyx/tensor"
)

// Gradient rules of the control-flow operators If, Loop and Scan, and the
// backward kernels ScanGrad and LoopGrad (domain GradDomain).
//
// The rules need a SubgraphGradContext: the engine differentiates the
// branch or body subgraph and hands back a gradient graph (which
// recomputes the forward subgraph before its backward nodes).
//
//   - If: the gradient is an If on the same condition whose branches are
//     the gradient graphs of the two branches, each giving dL/dv for the
//     union of the outer-scope values that need a gradient (zeros for a
//     value that branch does not read). Like every framework's, the
//     gradient treats the condition as a constant.
//   - Scan and Loop: ScanGrad and LoopGrad run the body forward once more,
//     keeping each iteration's loop-carried values, then run the body's
//     gradient graph over the iterations in reverse, carrying dL/d(state)
//     from one iteration to the one before and summing the gradients of
//     the outer-scope values. The loop-carried values that carry a
//     gradient are a fixed point: those whose initial value needs one, and
//     those that the body computes from a value that does. Loop's trip
//     count and condition (fixed or data-dependent) are replayed exactly
//     (the body must be deterministic: no random operators), and the
//     gradient is the unrolled loop's for that trip count: the
//     condition, like If's, is piecewise constant.

// gradControl returns the rule of a control-flow operator, or nil.
func gradControl(name string) GradFunc {
	switch name {
	case "If":
		return gradIf
	case "Scan":
		return gradScan
	case "Loop":
		return gradLoop
	}
	return nil
}

// subgraphCtx returns g as a SubgraphGradContext.
func subgraphCtx(g GradContext) (SubgraphGradContext, error) {
	sg, ok := g.(SubgraphGradContext)
	if !ok {
		return nil, errors.New("the gradient context cannot differentiate subgraphs (it is not an ops.SubgraphGradContext)")
	}
	return sg, nil
}

// union merges sorted lists of names without repeats.
func unionNames(lists ...[]string) []string {
	seen := map[string]bool{}
	var out []string
	for _, l := range lists {
		for _, v := range l {
			if !seen[v] {
				seen[v] = true
				out = append(out, v)
			}
		}
	}
	return out
}

func gradIf(g GradContext) error {
	sg, err := subgraphCtx(g)
	if err != nil {
		return err
	}
	b := g.Node()
	outer := unionNames(sg.SubgraphOuter("then_branch"), sg.SubgraphOuter("else_branch"))
	dys := make([]string, b.NumOutputs)
	flows := false
	for j := range dys {
		dys[j] = g.OutputGrad(j)
		flows = flows || dys[j] != ""
	}
	if len(outer) == 0 || !flows {
		return nil
	}
	var branches [2]any
	for k, attr := range []string{"then_branch", "else_branch"} {
		if branches[k], err = sg.SubgraphGrad(SubgraphGradSpec{Attr: attr, OutputGrads: dys, Outer: outer}); err != nil {
			return err
		}
	}
	outs := g.Emit("", "If", []string{g.Input(0)}, len(outer),
		GraphAttr("then_branch", branches[0]), GraphAttr("else_branch", branches[1]))
	for k, v := range outer {
		sg.SetOuterGrad(v, outs[k])
	}
	return nil
}

// carriedFixedPoint grows need (the loop-carried values that carry a
// gradient, initially those whose initial value needs one) with the body
// outputs that depend on them, on the scan inputs marked in scanNeed or on
// outer values that need a gradient, until nothing changes. stateIn and
// stateOut place loop-carried value k among the body's inputs and
// outputs. It returns the final dependencies of the body outputs.
func carriedFixedPoint(sg SubgraphGradContext, nBodyIn, stateIn, stateOut int, need, scanNeed []bool) ([]bool, error) {
	for {
		mask := make([]bool, nBodyIn)
		copy(mask[stateIn:], need)
		copy(mask[stateIn+len(need):], scanNeed)
		deps, err := sg.SubgraphDepends("body", mask)
		if err != nil {
			return nil, err
		}
		if len(deps) < stateOut+len(need) {
			return nil, fmt.Errorf("body has %d outputs, fewer than the %d loop-carried values", len(deps), len(need))
		}
		changed := false
		for k := range need {
			if deps[stateOut+k] && !need[k] {
				need[k], changed = true, true
			}
		}
		if !changed {
			return deps, nil
		}
	}
}

// maskInts turns a mask into an ints attribute.
func maskInts(name string, m []bool) *Attr {
	v := make([]int64, len(m))
	for i, b := range m {
		if b {
			v[i] = 1
		}
	}
	return IntsAttr(name, v...)
}

func countTrue(m []bool) int {
	n := 0
	for _, b := range m {
		if b {
			n++
		}
	}
	return n
}

func gradScan(g GradContext) error {
	sg, err := subgraphCtx(g)
	if err != nil {
		return err
	}
	b := g.Node()
	off := 0
	if b.Opset < 9 {
		off = 1 // Scan-8: sequence_lens, then batched values
		if b.In(0) {
			return errors.New("gradient of Scan-8 with sequence_lens is not supported")
		}
	}
	nScanIn := int(b.RequireInt("num_scan_inputs"))
	if err := b.Err(); err != nil {
		return err
	}
	nState := b.NumInputs - off - nScanIn
	if nScanIn < 1 || nState < 0 {
		return fmt.Errorf("num_scan_inputs %d does not fit %d inputs", nScanIn, b.NumInputs)
	}
	need := make([]bool, nState)
	for k := range need {
		need[k] = g.NeedsGrad(off + k)
	}
	scanNeed := make([]bool, nScanIn)
	for i := range scanNeed {
		scanNeed[i] = g.NeedsGrad(off + nState + i)
	}
	deps, err := carriedFixedPoint(sg, nState+nScanIn, 0, 0, need, scanNeed)
	if err != nil {
		return err
	}
	nScanOut := len(deps) - nState
	outer := sg.SubgraphOuter("body")
	outGrads := make([]string, nState+nScanOut)
	var finals, dys []string
	flows := false
	for k := range need {
		if need[k] {
			outGrads[k] = "d"
			finals = append(finals, g.OutputGrad(k))
			flows = flows || g.OutputGrad(k) != ""
		}
	}
	gotGrad := make([]bool, nScanOut)
	for j := range gotGrad {
		if dy := g.OutputGrad(nState + j); dy != "" && deps[nState+j] {
			gotGrad[j] = true
			outGrads[nState+j] = "d"
			dys = append(dys, dy)
			flows = true
		}
	}
	if !flows || countTrue(need)+countTrue(scanNeed)+len(outer) == 0 {
		return nil
	}
	mask := append(append([]bool(nil), need...), scanNeed...)
	body, err := sg.SubgraphGrad(SubgraphGradSpec{Attr: "body", OutputGrads: outGrads, GradInputs: true, Inputs: mask, Outer: outer})
	if err != nil {
		return err
	}
	ins := make([]string, 0, b.NumInputs+len(finals)+len(dys)+len(outer))
	for i := 0; i < b.NumInputs; i++ {
		ins = append(ins, g.Input(i))
	}
	ins = append(append(append(ins, finals...), dys...), outer...)
	attrs := append(CopyAttrs(b), GraphAttr("grad_body", body), maskInts("state_grads", need),
		maskInts("scan_input_grads", scanNeed), maskInts("scan_output_grads", gotGrad), IntAttr("batched", int64(off)))
	outs := g.Emit(GradDomain, "ScanGrad", ins, countTrue(need)+countTrue(scanNeed)+len(outer), attrs...)
	q := 0
	for k := range need {
		if need[k] {
			g.SetInputGrad(off+k, outs[q])
			q++
		}
	}
	for i := range scanNeed {
		if scanNeed[i] {
			g.SetInputGrad(off+nState+i, outs[q])
			q++
		}
	}
	for _, v := range outer {
		sg.SetOuterGrad(v, outs[q])
		q++
	}
	return nil
}

func gradLoop(g GradContext) error {
	sg, err := subgraphCtx(g)
	if err != nil {
		return err
	}
	b := g.Node()
	nCarried := b.NumInputs - 2
	if nCarried < 0 {
		return fmt.Errorf("Loop needs at least the M and cond inputs, got %d inputs", b.NumInputs)
	}
	need := make([]bool, nCarried)
	for k := range need {
		need[k] = g.NeedsGrad(2 + k)
	}
	deps, err := carriedFixedPoint(sg, 2+nCarried, 2, 1, need, nil)
	if err != nil {
		return err
	}
	nScan := len(deps) - 1 - nCarried
	outer := sg.SubgraphOuter("body")
	outGrads := make([]string, len(deps))
	var finals, dys []string
	flows := false
	for k := range need {
		if need[k] {
			outGrads[1+k] = "d"
			finals = append(finals, g.OutputGrad(k))
			flows = flows || g.OutputGrad(k) != ""
		}
	}
	gotGrad := make([]bool, nScan)
	for j := range gotGrad {
		if dy := g.OutputGrad(nCarried + j); dy != "" && deps[1+nCarried+j] {
			gotGrad[j] = true
			outGrads[1+nCarried+j] = "d"
			dys = append(dys, dy)
			flows = true
		}
	}
	if !flows || countTrue(need)+len(outer) == 0 {
		return nil
	}
	mask := make([]bool, 2+nCarried)
	copy(mask[2:], need)
	body, err := sg.SubgraphGrad(SubgraphGradSpec{Attr: "body", OutputGrads: outGrads, GradInputs: true, Inputs: mask, Outer: outer})
	if err != nil {
		return err
	}
	ins := make([]string, 0, b.NumInputs+len(finals)+len(dys)+len(outer))
	for i := 0; i < b.NumInputs; i++ {
		ins = append(ins, g.Input(i))
	}
	ins = append(append(append(ins, finals...), dys...), outer...)
	attrs := append(CopyAttrs(b), GraphAttr("grad_body", body), maskInts("state_grads", need), maskInts("scan_output_grads", gotGrad))
	outs := g.Emit(GradDomain, "LoopGrad", ins, countTrue(need)+len(outer), attrs...)
	q := 0
	for k := range need {
		if need[k] {
			g.SetInputGrad(2+k, outs[q])
			q++
		}
	}
	for _, v := range outer {
		sg.SetOuterGrad(v, outs[q])
		q++
	}
	return nil
}

// ---- kernels ----

func registerGradControl(r *Registry) {
	r.Register(
		&Def{Domain: GradDomain, Name: "ScanGrad", Since: 1, Build: buildScanGrad},
		&Def{Domain: GradDomain, Name: "LoopGrad", Since: 1, Build: buildLoopGrad},
	)
}

// loopMasks reads a 0/1 mask attribute of n entries.
func loopMask(b *Builder, name string, n int) ([]bool, error) {
	v := b.Ints(name, make([]int64, n))
	if len(v) != n {
		return nil, fmt.Errorf("attribute %q has %d entries, want %d", name, len(v), n)
	}
	m := make([]bool, n)
	for i, x := range v {
		m[i] = x != 0
	}
	return m, nil
}

// ScanGrad: inputs are Scan's (sequence_lens first when batched, i.e.
// Scan-8), then dL/d(final state k) for each state k marked in
// state_grads (omitted: zeros), dL/d(scan output j) for each j marked in
// scan_output_grads, and the outer values that grad_body differentiates.
// Outputs are dL/d(initial state k) for the marked states, dL/d(scan
// input i) for those marked in scan_input_grads, and dL/d(outer value).
// grad_body takes the body's inputs, then the gradients of the marked
// states' and scan outputs' values for one iteration; it returns the
// gradients of the marked states' and scan inputs' values and of the
// outer values for that iteration.
func buildScanGrad(b *Builder) (Kernel, error) {
	batched := b.Int("batched", 0) != 0
	dirAttr := "scan_input_directions"
	off := 0
	if batched {
		dirAttr, off = "directions", 1
	}
	nScanIn := int(b.RequireInt("num_scan_inputs"))
	stateInts := b.Ints("state_grads", nil)
	if err := b.Err(); err != nil {
		return nil, err
	}
	nState := len(stateInts)
	s, err := parseScan(b, nState+nScanIn, dirAttr)
	if err != nil {
		return nil, err
	}
	gb := b.Subgraph("grad_body")
	if err := b.Err(); err != nil {
		return nil, err
	}
	m := &loopGrad{body: s.body, gradBody: gb}
	if m.state, err = loopMask(b, "state_grads", s.nState); err != nil {
		return nil, err
	}
	if m.scanIn, err = loopMask(b, "scan_input_grads", s.nScanIn); err != nil {
		return nil, err
	}
	if m.scanOut, err = loopMask(b, "scan_output_grads", s.nScanOut); err != nil {
		return nil, err
	}
	nD, nX, nG := countTrue(m.state), countTrue(m.scanIn), countTrue(m.scanOut)
	nW := b.NumInputs - off - nState - nScanIn - nD - nG
	if nW < 0 {
		return nil, fmt.Errorf("ScanGrad has %d inputs, want at least %d", b.NumInputs, off+nState+nScanIn+nD+nG)
	}
	if len(gb.InputNames()) != nState+nScanIn+nD+nG || len(gb.OutputNames()) != nD+nX+nW {
		return nil, fmt.Errorf("grad_body has %d inputs and %d outputs, want %d and %d", len(gb.InputNames()), len(gb.OutputNames()), nState+nScanIn+nD+nG, nD+nX+nW)
	}
	return KernelFunc(func(rc *RunContext, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
		if batched && Opt(in, 0) != nil {
			return nil, errors.New("Scan-8 sequence_lens is not supported")
		}
		in = in[off:]
		parts := splitList(in, nState, nScanIn, nD, nG, nW)
		if !batched {
			return m.scan(rc, s, parts[0], parts[1], parts[2], parts[3], parts[4])
		}
		return m.batched(rc, s, parts)
	}), nil
}

// splitList cuts in into consecutive parts of the given sizes (nil
// entries past its end).
func splitList(in []*tensor.Tensor, sizes ...int) [][]*tensor.Tensor {
	out := make([][]*tensor.Tensor, len(sizes))
	at := 0
	for i, n := range sizes {
		out[i] = make([]*tensor.Tensor, n)
		for j := range out[i] {
			if at < len(in) {
				out[i][j] = in[at]
			}
			at++
		}
	}
	return out
}

// loopGrad holds a compiled body, its gradient graph and which values
// carry gradients.
type loopGrad struct {
	body, gradBody Subgraph
	// state marks the loop-carried values that carry gradients, scanIn
	// the scan inputs whose gradients are wanted, scanOut the scan
	// outputs that get incoming gradients.
	state, scanIn, scanOut []bool
}

// batched runs scan once per item of the leading batch axis (Scan-8).
func (m *loopGrad) batched(rc *RunContext, s *scanSpec, parts [][]*tensor.Tensor) ([]*tensor.Tensor, error) {
	batch := -1
	for _, list := range parts[:4] {
		for _, t := range list {
			if t == nil {
				continue
			}
			if t.Kind() != tensor.KindTensor || t.Rank() == 0 {
				return nil, errors.New("inputs need a batch axis")
			}
			if batch >= 0 && t.Shape()[0] != batch {
				return nil, fmt.Errorf("batch sizes %d and %d differ", batch, t.Shape()[0])
			}
			batch = t.Shape()[0]
		}
	}
	if batch < 0 {
		return nil, errors.New("inputs need a batch axis")
	}
	var per [][]*tensor.Tensor
	nStacked := countTrue(m.state) + countTrue(m.scanIn)
	for bi := 0; bi < batch; bi++ {
		items := make([][]*tensor.Tensor, 4)
		for p, list := range parts[:4] {
			items[p] = make([]*tensor.Tensor, len(list))
			for i, t := range list {
				if t == nil {
					continue
				}
				var err error
				if items[p][i], err = takeAlong(t, 0, bi); err != nil {
					return nil, err
				}
			}
		}
		res, err := m.scan(rc, s, items[0], items[1], items[2], items[3], parts[4])
		if err != nil {
			return nil, fmt.Errorf("batch %d: %w", bi, err)
		}
		if per == nil {
			per = make([][]*tensor.Tensor, len(res))
		}
		for j, r := range res {
			if j < nStacked {
				per[j] = append(per[j], r)
			} else if per[j] == nil {
				per[j] = []*tensor.Tensor{r}
			} else if per[j][0], err = addGrad(per[j][0], r); err != nil {
				return nil, err
			}
		}
	}
	out := make([]*tensor.Tensor, nStacked+len(parts[4]))
	for j := range out {
		var err error
		switch {
		case j < nStacked && batch > 0:
			out[j], err = stack(per[j], 0)
		case j < nStacked:
			// An empty batch: zeros shaped like the inputs.
			out[j], err = zerosLike(stackedSource(m, parts, j))
		case batch > 0:
			out[j] = per[j][0]
		default:
			out[j], err = zerosLike(parts[4][j-nStacked])
		}
		if err != nil {
			return nil, err
		}
	}
	return out, nil
}

// stackedSource returns the input whose gradient is stacked output j of
// ScanGrad.
func stackedSource(m *loopGrad, parts [][]*tensor.Tensor, j int) *tensor.Tensor {
	for k, marked := range m.state {
		if marked {
			if j == 0 {
				return parts[0][k]
			}
			j--
		}
	}
	for i, marked := range m.scanIn {
		if marked {
			if j == 0 {
				return parts[1][i]
			}
			j--
		}
	}
	return nil
}

// scanLength checks the scan inputs and returns the number of iterations
// and each input's scan axis.
func (s *scanSpec) scanLength(scanIn []*tensor.Tensor) (int, []int, error) {
	steps := -1
	axes := make([]int, len(scanIn))
	for i, x := range scanIn {
		if x == nil {
			return 0, nil, fmt.Errorf("scan input %d is missing", i)
		}
		if x.Kind() != tensor.KindTensor || x.Rank() == 0 {
			return 0, nil, fmt.Errorf("scan input %d has no axis to scan", i)
		}
		a, err := NormAxis(s.inAxes[i], x.Rank())
		if err != nil {
			return 0, nil, fmt.Errorf("scan input %d: %w", i, err)
		}
		axes[i] = a
		n := x.Shape()[a]
		if steps >= 0 && n != steps {
			return 0, nil, fmt.Errorf("scan inputs have different lengths (%d and %d)", steps, n)
		}
		steps = n
	}
	return steps, axes, nil
}

// scan computes ScanGrad's outputs for unbatched values.
func (m *loopGrad) scan(rc *RunContext, s *scanSpec, state, xs, finals, dys, ws []*tensor.Tensor) ([]*tensor.Tensor, error) {
	steps, axes, err := s.scanLength(xs)
	if err != nil {
		return nil, err
	}
	for k, t := range state {
		if t == nil {
			return nil, fmt.Errorf("initial state %d is missing", k)
		}
	}
	slices := func(t int) ([]*tensor.Tensor, error) {
		out := make([]*tensor.Tensor, len(xs))
		for i, x := range xs {
			idx := t
			if s.inRev[i] != 0 {
				idx = steps - 1 - t
			}
			var err error
			if out[i], err = takeAlong(x, axes[i], idx); err != nil {
				return nil, err
			}
		}
		return out, nil
	}
	// Forward: the state entering each iteration.
	states := make([][]*tensor.Tensor, steps+1)
	states[0] = state
	for t := 0; t < steps; t++ {
		if err := rc.Err(); err != nil {
			return nil, err
		}
		sl, err := slices(t)
		if err != nil {
			return nil, err
		}
		res, err := s.body.Call(rc, append(append([]*tensor.Tensor(nil), states[t]...), sl...))
		if err != nil {
			return nil, fmt.Errorf("forward step %d: %w", t, err)
		}
		if len(res) < s.nState {
			return nil, fmt.Errorf("forward step %d: body returned %d values", t, len(res))
		}
		states[t+1] = res[:s.nState]
	}
	// The scan outputs' gradients, sliced per iteration.
	dyAxes := make([]int, len(dys))
	dyIdx := make([]int, 0, len(dys))
	for j, marked := range m.scanOut {
		if marked {
			dyIdx = append(dyIdx, j)
		}
	}
	for q, dy := range dys {
		if dy == nil || dy.Kind() != tensor.KindTensor || dy.Rank() == 0 {
			return nil, fmt.Errorf("gradient of scan output %d must be a tensor with the scan axis", dyIdx[q])
		}
		a, err := NormAxis(s.outAxes[dyIdx[q]], dy.Rank())
		if err != nil {
			return nil, err
		}
		if dy.Shape()[a] != steps {
			return nil, fmt.Errorf("gradient of scan output %d has %d entries along axis %d, the scan %d", dyIdx[q], dy.Shape()[a], a, steps)
		}
		dyAxes[q] = a
	}
	gState, err := m.seedState(states[steps], finals)
	if err != nil {
		return nil, err
	}
	nD, nX := len(gState), countTrue(m.scanIn)
	dx := make([][]*tensor.Tensor, nX)
	for q := range dx {
		dx[q] = make([]*tensor.Tensor, steps)
	}
	var acc []*tensor.Tensor
	for t := steps - 1; t >= 0; t-- {
		if err := rc.Err(); err != nil {
			return nil, err
		}
		sl, err := slices(t)
		if err != nil {
			return nil, err
		}
		args := append(append(append([]*tensor.Tensor(nil), states[t]...), sl...), gState...)
		for q, dy := range dys {
			idx := t
			if s.outRev[dyIdx[q]] != 0 {
				idx = steps - 1 - t
			}
			d, err := takeAlong(dy, dyAxes[q], idx)
			if err != nil {
				return nil, err
			}
			args = append(args, d)
		}
		res, err := m.gradBody.Call(rc, args)
		if err != nil {
			return nil, fmt.Errorf("backward step %d: %w", t, err)
		}
		if len(res) != nD+nX+len(ws) {
			return nil, fmt.Errorf("backward step %d: gradient body returned %d values, want %d", t, len(res), nD+nX+len(ws))
		}
		gState = res[:nD]
		q := 0
		for i, marked := range m.scanIn {
			if marked {
				idx := t
				if s.inRev[i] != 0 {
					idx = steps - 1 - t
				}
				dx[q][idx] = res[nD+q]
				q++
			}
		}
		if acc, err = addGrads(acc, res[nD+nX:]); err != nil {
			return nil, err
		}
	}
	out := append([]*tensor.Tensor(nil), gState...)
	q := 0
	for i, marked := range m.scanIn {
		if !marked {
			continue
		}
		var g *tensor.Tensor
		if steps == 0 {
			g, err = zerosLike(xs[i])
		} else {
			g, err = stack(dx[q], axes[i])
		}
		if err != nil {
			return nil, fmt.Errorf("gradient of scan input %d: %w", i, err)
		}
		out = append(out, g)
		q++
	}
	outer, err := m.outerGrads(acc, ws)
	if err != nil {
		return nil, err
	}
	return append(out, outer...), nil
}

// seedState returns the gradients entering the last iteration: the
// given gradients of the marked final states, zeros where none is given.
func (m *loopGrad) seedState(final, given []*tensor.Tensor) ([]*tensor.Tensor, error) {
	var g []*tensor.Tensor
	q := 0
	for k, marked := range m.state {
		if !marked {
			continue
		}
		var d *tensor.Tensor
		if q < len(given) {
			d = given[q]
		}
		q++
		if d == nil {
			var err error
			if d, err = zerosLike(final[k]); err != nil {
				return nil, fmt.Errorf("final state %d: %w", k, err)
			}
		}
		g = append(g, d)
	}
	return g, nil
}

// outerGrads returns the summed gradients of the outer values, zeros when
// no iteration ran.
func (m *loopGrad) outerGrads(acc, ws []*tensor.Tensor) ([]*tensor.Tensor, error) {
	if acc != nil {
		return acc, nil
	}
	out := make([]*tensor.Tensor, len(ws))
	for i, w := range ws {
		if w == nil {
			return nil, fmt.Errorf("outer value %d is missing", i)
		}
		var err error
		if out[i], err = zerosLike(w); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// LoopGrad: inputs are Loop's (M, cond, the initial loop-carried values),
// then dL/d(final value k) for each loop-carried value k marked in
// state_grads (omitted: zeros), dL/d(scan output j) for each j marked in
// scan_output_grads, and the outer values that grad_body differentiates.
// Outputs are dL/d(initial value k) for the marked values, then
// dL/d(outer value). grad_body takes the body's inputs (iteration number,
// condition, loop-carried values), then the gradients of the marked
// loop-carried and scan outputs for one iteration; it returns the
// gradients of the marked loop-carried inputs and of the outer values for
// that iteration.
func buildLoopGrad(b *Builder) (Kernel, error) {
	stateInts := b.Ints("state_grads", nil)
	body := b.Subgraph("body")
	gb := b.Subgraph("grad_body")
	if err := b.Err(); err != nil {
		return nil, err
	}
	nCarried := len(stateInts)
	if len(body.InputNames()) != nCarried+2 {
		return nil, fmt.Errorf("body takes %d inputs, want %d", len(body.InputNames()), nCarried+2)
	}
	nScan := len(body.OutputNames()) - 1 - nCarried
	if nScan < 0 {
		return nil, fmt.Errorf("body has %d outputs, want at least %d", len(body.OutputNames()), nCarried+1)
	}
	m := &loopGrad{body: body, gradBody: gb}
	var err error
	if m.state, err = loopMask(b, "state_grads", nCarried); err != nil {
		return nil, err
	}
	if m.scanOut, err = loopMask(b, "scan_output_grads", nScan); err != nil {
		return nil, err
	}
	nD, nG := countTrue(m.state), countTrue(m.scanOut)
	nW := b.NumInputs - 2 - nCarried - nD - nG
	if nW < 0 {
		return nil, fmt.Errorf("LoopGrad has %d inputs, want at least %d", b.NumInputs, 2+nCarried+nD+nG)
	}
	if len(gb.InputNames()) != nCarried+2+nD+nG || len(gb.OutputNames()) != nD+nW {
		return nil, fmt.Errorf("grad_body has %d inputs and %d outputs, want %d and %d", len(gb.InputNames()), len(gb.OutputNames()), nCarried+2+nD+nG, nD+nW)
	}
	return KernelFunc(func(rc *RunContext, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
		parts := splitList(in, 2, nCarried, nD, nG, nW)
		return m.loop(rc, parts[0][0], parts[0][1], parts[1], parts[2], parts[3], parts[4])
	}), nil
}

// loop computes LoopGrad's outputs.
func (m *loopGrad) loop(rc *RunContext, mt, ct *tensor.Tensor, init, finals, dys, ws []*tensor.Tensor) ([]*tensor.Tensor, error) {
	maxTrip := int64(-1)
	if mt != nil {
		v, err := mt.AsInt64s()
		if err != nil || len(v) != 1 {
			return nil, fmt.Errorf("M must be a single int64, got %v", mt)
		}
		maxTrip = v[0]
	}
	cond := true
	if ct != nil {
		var err error
		if cond, err = scalarBool(ct, "cond"); err != nil {
			return nil, err
		}
	}
	for i, c := range init {
		if c == nil {
			return nil, fmt.Errorf("loop-carried input %d is missing", i)
		}
	}
	// Forward: the inputs of each iteration.
	type iteration struct {
		cond    bool
		carried []*tensor.Tensor
	}
	var its []iteration
	carried := init
	for it := int64(0); (maxTrip < 0 || it < maxTrip) && cond; it++ {
		if err := rc.Err(); err != nil {
			return nil, err
		}
		its = append(its, iteration{cond: cond, carried: carried})
		args := append([]*tensor.Tensor{tensor.Scalar(it), tensor.Scalar(cond)}, carried...)
		outs, err := m.body.Call(rc, args)
		if err != nil {
			return nil, fmt.Errorf("forward iteration %d: %w", it, err)
		}
		if len(outs) < 1+len(init) {
			return nil, fmt.Errorf("forward iteration %d: body returned %d values", it, len(outs))
		}
		if cond, err = scalarBool(outs[0], "body cond output"); err != nil {
			return nil, fmt.Errorf("forward iteration %d: %w", it, err)
		}
		carried = outs[1 : 1+len(init)]
	}
	steps := len(its)
	for q, dy := range dys {
		if dy == nil || dy.Kind() != tensor.KindTensor || dy.Rank() == 0 || dy.Shape()[0] != steps {
			return nil, fmt.Errorf("gradient %d of a scan output must have %d entries along axis 0, got %v", q, steps, dy)
		}
	}
	gState, err := m.seedState(carried, finals)
	if err != nil {
		return nil, err
	}
	nD := len(gState)
	var acc []*tensor.Tensor
	for t := steps - 1; t >= 0; t-- {
		if err := rc.Err(); err != nil {
			return nil, err
		}
		args := append([]*tensor.Tensor{tensor.Scalar(int64(t)), tensor.Scalar(its[t].cond)}, its[t].carried...)
		args = append(args, gState...)
		for _, dy := range dys {
			d, err := takeAlong(dy, 0, t)
			if err != nil {
				return nil, err
			}
			args = append(args, d)
		}
		res, err := m.gradBody.Call(rc, args)
		if err != nil {
			return nil, fmt.Errorf("backward iteration %d: %w", t, err)
		}
		if len(res) != nD+len(ws) {
			return nil, fmt.Errorf("backward iteration %d: gradient body returned %d values, want %d", t, len(res), nD+len(ws))
		}
		gState = res[:nD]
		if acc, err = addGrads(acc, res[nD:]); err != nil {
			return nil, err
		}
	}
	outer, err := m.outerGrads(acc, ws)
	if err != nil {
		return nil, err
	}
	return append(append([]*tensor.Tensor(nil), gState...), outer...), nil
}

// addGrads adds b to acc elementwise (acc nil: b itself).
func addGrads(acc, b []*tensor.Tensor) ([]*tensor.Tensor, error) {
	if acc == nil {
		return append([]*tensor.Tensor(nil), b...), nil
	}
	for i := range acc {
		var err error
		if acc[i], err = addGrad(acc[i], b[i]); err != nil {
			return nil, err
		}
	}
	return acc, nil
}
