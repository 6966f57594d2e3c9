package ops

import (
	"github.com/onyxrt/onyx/ops/asm"
	"github.com/onyxrt/onyx/tensor"
)

// This file holds the float32 forward pass of RNN, GRU and LSTM. The input
// projection X·W^T + bias of every time step and direction is one GEMM
// (W packed once at Build time when it is a constant). Each step then adds
// H·R^T (R packed likewise) straight onto the projection's rows of that
// time step, and a fused pass of gate arithmetic with vectorized sigmoid
// and tanh (asm.LSTMCell for an LSTM with the default activations)
// finishes it. runRNN (recurrent_cell.go) remains the float64 path.

// rnnPack holds a recurrent node's constant float32 weights packed for
// asm.SgemmPacked, with the tensors they were packed from.
type rnnPack struct {
	w, r *tensor.Tensor
	// b is input B when it is a float32 constant, and bias and rbh its
	// per-direction sums made once (see rnnBiases).
	b         *tensor.Tensor
	bias, rbh [][]float32
	pw        *asm.PackedB       // W^T of all directions: in × nd*gh
	pr        []*asm.PackedB     // per direction, R^T: hid × gh (GRU without linear_before_reset: its z and r blocks, hid × 2hid)
	prh       []*asm.PackedB     // GRU without linear_before_reset, per direction: Rh^T, hid × hid
	lw        []*asm.LSTMWeights // LSTM, per direction: R laid out for asm.LSTMStep (constant R only)
}

// packRNN packs W (nd×gh×in) and R (nd×gh×hid); wd may be nil (W is not
// a constant) and then pw is nil.
func packRNN(a *rnnAttrs, wd []float32, rd []float32, nd, gh, in, hid int) *rnnPack {
	p := &rnnPack{pr: make([]*asm.PackedB, nd)}
	if wd != nil {
		p.pw = asm.PackB(true, in, nd*gh, wd, in)
	}
	for d := 0; d < nd; d++ {
		r := rd[d*gh*hid : (d+1)*gh*hid]
		if a.kind == kindGRU && !a.lbr {
			p.pr[d] = asm.PackB(true, hid, 2*hid, r, hid)
			p.prh = append(p.prh, asm.PackB(true, hid, hid, r[2*hid*hid:], hid))
			continue
		}
		p.pr[d] = asm.PackB(true, hid, gh, r, hid)
	}
	return p
}

// buildRNNPack packs W and R when both are float32 constants of the right
// rank (their shapes are checked against each other at run time).
func buildRNNPack(a *rnnAttrs, b *Builder) *rnnPack {
	w, r := b.ConstInput(1), b.ConstInput(2)
	if w == nil || r == nil || w.DType() != tensor.Float32 || r.DType() != tensor.Float32 || w.Rank() != 3 || r.Rank() != 3 {
		return nil
	}
	nd, gh, in := w.Shape()[0], w.Shape()[1], w.Shape()[2]
	hid := r.Shape()[2]
	if r.Shape()[0] != nd || r.Shape()[1] != gh || gh != a.kind.gates()*hid || nd != a.numDir {
		return nil
	}
	p := packRNN(a, w.Float32s(), r.Float32s(), nd, gh, in, hid)
	p.w, p.r = w, r
	if a.kind == kindLSTM && hid > 0 && asm.LSTMStepAccelerated() {
		for d := 0; d < nd; d++ {
			p.lw = append(p.lw, asm.PackLSTM(r.Float32s()[d*gh*hid:(d+1)*gh*hid], hid))
		}
	}
	if bt := b.ConstInput(3); bt != nil && bt.DType() == tensor.Float32 && tensor.ShapeEqual(bt.Shape(), []int{nd, 2 * gh}) {
		p.b = bt
		for d := 0; d < nd; d++ {
			bias, rbh := rnnBiases(a, bt.Float32s(), d, hid)
			p.bias = append(p.bias, bias)
			p.rbh = append(p.rbh, rbh)
		}
	}
	return p
}

// rnnBiases returns direction d's bias Wb+Rb from B's data (for a GRU with
// linear_before_reset the h block is Wbh alone, and rbh is Rbh, applied
// inside r⊙(...); else rbh is nil).
func rnnBiases(a *rnnAttrs, b []float32, d, hid int) (bias, rbh []float32) {
	gh := a.kind.gates() * hid
	bias = make([]float32, gh)
	bd := b[d*2*gh : (d+1)*2*gh]
	wb, rb := bd[:gh], bd[gh:]
	for i := range bias {
		bias[i] = wb[i] + rb[i]
	}
	if a.kind == kindGRU && a.lbr {
		copy(bias[2*hid:], wb[2*hid:])
		rbh = rb[2*hid:]
	}
	return bias, rbh
}

// rnnRun32 holds a run's directions and outputs, on runRNN32's stack.
type rnnRun32 struct {
	dirs [2]rnnDir32
	outs [3]*tensor.Tensor
}

// runRNN32 is runRNN for float32 data.
func runRNN32(a *rnnAttrs, rc *RunContext, in, raw []*tensor.Tensor) ([]*tensor.Tensor, error) {
	s, err := a.shapes(in)
	if err != nil {
		return nil, err
	}
	lens, err := seqLens(Opt(raw, 4), s)
	if err != nil {
		return nil, err
	}
	nd, hid := a.numDir, s.hid
	gh := a.kind.gates() * hid

	// On the stack: the directions run here, or, two at once, from a
	// copy (runBoth).
	var run rnnRun32
	outs := run.outs[:2]
	if a.kind == kindLSTM {
		outs = run.outs[:3]
	}
	state := a.stateShape(s)
	if a.outY {
		shape := a.yShape(s)
		// Zeroed: steps past a sequence's length stay 0.
		if outs[0], err = rc.NewTensor(tensor.Float32, shape...); err != nil {
			return nil, err
		}
	}
	if a.outYh {
		if outs[1], err = rc.NewUninit(tensor.Float32, state...); err != nil {
			return nil, err
		}
	}
	if a.outYc {
		if outs[2], err = rc.NewUninit(tensor.Float32, state...); err != nil {
			return nil, err
		}
	}
	threads := rc.threads()

	pack := a.pack
	if pack == nil || in[1] != pack.w || in[2] != pack.r {
		pack = packRNN(a, nil, in[2].Float32s(), nd, gh, s.in, hid)
	}

	dirs := run.dirs[:nd]
	for d := range dirs {
		j := &dirs[d]
		j.rnnDir = rnnDir[float32]{
			a: a, s: s, d: d, reverse: a.reverse || d == 1, lens: lens,
			xwStride: nd * gh, xwOff: d * gh,
			acts: a.acts[d*a.kind.acts() : (d+1)*a.kind.acts()],
		}
		j.pr = pack.pr[d]
		if pack.prh != nil {
			j.prh = pack.prh[d]
		}
		if pack.lw != nil {
			j.lw = pack.lw[d]
		}
		switch {
		case in[3] == nil:
		case in[3] == pack.b:
			j.bias, j.rbh = pack.bias[d], pack.rbh[d]
		default:
			j.bias, j.rbh = rnnBiases(a, in[3].Float32s(), d, hid)
		}
		if in[7] != nil {
			j.p = in[7].Float32s()[d*3*hid : (d+1)*3*hid]
		}
		if in[5] != nil {
			j.h0 = in[5].Float32s()
		}
		if in[6] != nil {
			j.c0 = in[6].Float32s()
		}
		for i, o := range outs {
			if o == nil {
				continue
			}
			switch i {
			case 0:
				j.y = o.Float32s()
			case 1:
				j.yh = o.Float32s()
			case 2:
				j.yc = o.Float32s()
			}
		}
	}

	// Scratch from the run's arena, which recycles it from run to run
	// (at one thread as at several: no sync.Pool that a GC empties): the
	// projection, then each direction's states and gate rows.
	rows := s.seq * s.batch
	bh := s.batch * hid
	per := 4*bh + s.batch*gh
	scr, err := rc.NewUninit(tensor.Float32, rows*nd*gh+nd*per)
	if err != nil {
		return nil, err
	}
	defer rc.Free(scr)
	buf := scr.Float32s()
	xw := buf[:rows*nd*gh]
	for d := range dirs {
		q := buf[rows*nd*gh+d*per : rows*nd*gh+(d+1)*per]
		j := &dirs[d]
		j.h, j.h2, j.c, j.tmp, j.gates = q[:bh], q[bh:2*bh], q[2*bh:3*bh], q[3*bh:4*bh], q[4*bh:]
	}
	beta := float32(0)
	if in[3] != nil {
		beta = 1
		for r := 0; r < rows; r++ {
			for d := range dirs {
				j := &dirs[d]
				copy(xw[r*nd*gh+j.xwOff:r*nd*gh+j.xwOff+gh], j.bias)
			}
		}
	}
	proj := sgemmJob{transB: true, m: rows, n: nd * gh, k: s.in, alpha: 1, beta: beta,
		a: in[0].Float32s()[s.xOff:], lda: s.in, b: in[1].Float32s(), ldb: s.in, pb: pack.pw, c: xw, ldc: nd * gh,
		workers: rc.workers()}
	proj.run(threads)
	for d := range dirs {
		j := &dirs[d]
		j.xw = xw
		j.workers = rc.workers()
		j.threads = threads
		if nd == 2 && threads > 1 {
			j.threads = max(threads/2, 1)
		}
	}

	if nd == 2 && threads > 1 {
		if err := runBoth(rc, run.dirs, threads); err != nil {
			return nil, err
		}
	} else {
		for d := range dirs {
			if err := dirs[d].run(rc); err != nil {
				return nil, err
			}
		}
	}
	return rc.Results(outs...), nil
}

// runBoth runs two directions at once, from a copy on the heap, which
// their goroutines share.
func runBoth(rc *RunContext, dirs [2]rnnDir32, threads int) error {
	p := &dirs
	return runDirections(rc, []*rnnDir32{&p[0], &p[1]}, threads)
}

// rnnDir32 is one direction of a float32 recurrent node. Unlike the
// generic rnnDir, its xw rows already hold the bias.
type rnnDir32 struct {
	rnnDir[float32]
	pr      *asm.PackedB // R^T (GRU without linear_before_reset: z and r blocks)
	prh     *asm.PackedB // GRU without linear_before_reset: Rh^T
	lw      *asm.LSTMWeights
	workers *Workers
	// Scratch (from runRNN32's rnnScratch): the states h and c, h2 for
	// asm.LSTMStep's new h, tmp (batch×hid) and gates (batch×gh).
	h, h2, c, tmp, gates []float32
}

// recurrent sets C = H·R^T + beta*C for the batch's hidden states h and
// C at stride ldc (n = pr's columns).
func (j *rnnDir32) recurrent(h []float32, beta float32, c []float32, ldc int) {
	j.product(h, j.pr, beta, c, ldc)
}

// product sets C = A·P + beta*C for the batch's rows A (hid wide) and a
// packed P, splitting it over the direction's threads only when each gets
// enough work (a step's product is mostly far too small to split).
func (j *rnnDir32) product(a []float32, pb *asm.PackedB, beta float32, c []float32, ldc int) {
	m, n, k := j.s.batch, pb.N(), j.s.hid
	if j.threads <= 1 || m*n*k < 2*gemmThreadWork {
		asm.SgemmPacked(false, m, n, k, 1, a, k, pb, beta, c, ldc)
		return
	}
	p := sgemmJob{m: m, n: n, k: k, alpha: 1, beta: beta, a: a, lda: k, pb: pb, c: c, ldc: ldc, workers: j.workers}
	p.run(j.threads)
}

// uniformTime reports whether all batch entries process the same time
// step at every step, so that one step's rows of xw are evenly spaced.
func (j *rnnDir32) uniformTime() bool {
	if j.lens == nil || !j.reverse {
		return true
	}
	for _, l := range j.lens {
		if l != j.lens[0] {
			return false
		}
	}
	return true
}

// defaultLSTM reports whether an LSTM step is asm.LSTMCell: default
// activations, no peepholes, clip or input_forget.
func (j *rnnDir32) defaultLSTM() bool {
	return j.a.kind == kindLSTM && j.p == nil && j.a.clip == 0 && !j.a.inputForget &&
		j.acts[0] == (rnnAct{kind: actSigmoid}) && j.acts[1] == (rnnAct{kind: actTanh}) && j.acts[2] == (rnnAct{kind: actTanh})
}

// run computes the direction's outputs.
func (j *rnnDir32) run(rc *RunContext) error {
	a, s := j.a, j.s
	hid, batch := s.hid, s.batch
	gh := a.kind.gates() * hid

	h := j.h
	clear(h)
	var c []float32
	if a.kind == kindLSTM {
		c = j.c
		clear(c)
	}
	for b := 0; b < batch; b++ {
		if j.h0 != nil {
			copy(h[b*hid:(b+1)*hid], j.h0[j.stateIndex(b):])
		}
		if j.c0 != nil && c != nil {
			copy(c[b*hid:(b+1)*hid], j.c0[j.stateIndex(b):])
		}
	}
	// hZero: H is still all zeros, so its product with R is too.
	hZero := j.h0 == nil
	inPlace := a.kind != kindGRU && j.uniformTime()
	gates, tmp := j.gates, j.tmp
	fast := j.defaultLSTM()

	steps := s.seq
	if j.lens != nil {
		steps = 0
		for _, l := range j.lens {
			steps = max(steps, l)
		}
	}
	// Row spacing of one time step's batch entries in xw.
	ldr := j.xwStride
	if a.layout == 1 {
		ldr = s.seq * j.xwStride
	}
	clip := float32(a.clip)
	if fast && inPlace && batch == 1 && j.lw != nil {
		// One row: asm.LSTMStep, the product and the cell in one pass.
		if err := j.stepsLSTM(rc, steps); err != nil {
			return err
		}
		steps = 0
	}
	for step := 0; step < steps; step++ {
		if step&7 == 7 {
			if err := rc.Err(); err != nil {
				return err
			}
		}
		if inPlace {
			// gates of (t, b) = xw row (t, b) += H_b·R^T.
			t0 := step
			if j.reverse {
				t0 = s.seq - 1 - step
				if j.lens != nil {
					t0 = j.lens[0] - 1 - step
				}
			}
			base := j.xRow(t0, 0)*j.xwStride + j.xwOff
			if !hZero {
				j.recurrent(h, 1, j.xw[base:], ldr)
			}
			for b := 0; b < batch; b++ {
				t, ok := j.timeOf(step, b)
				if !ok {
					continue
				}
				gr := j.xw[base+b*ldr : base+b*ldr+gh]
				hb := h[b*hid : (b+1)*hid]
				switch {
				case fast:
					asm.LSTMCell(gr, c[b*hid:(b+1)*hid], hb)
				case a.kind == kindLSTM:
					j.lstmCell(gr, hb, c[b*hid:(b+1)*hid], clip)
				default:
					if clip > 0 {
						clipSlice(gr, clip)
					}
					applyAct(j.acts[0], gr)
					copy(hb, gr)
				}
				j.emit(t, b, hb)
			}
			hZero = false
			continue
		}
		// gates = H·R^T (for a GRU without linear_before_reset, the z and
		// r blocks only), then each row adds its own step's projection.
		if hZero {
			clear(gates)
		} else {
			j.recurrent(h, 0, gates, gh)
		}
		switch a.kind {
		case kindRNN, kindLSTM:
			for b := 0; b < batch; b++ {
				t, ok := j.timeOf(step, b)
				if !ok {
					continue
				}
				gr := gates[b*gh : (b+1)*gh]
				addTo(gr, j.xwRow(t, b, 0, gh))
				hb := h[b*hid : (b+1)*hid]
				switch {
				case fast:
					asm.LSTMCell(gr, c[b*hid:(b+1)*hid], hb)
				case a.kind == kindLSTM:
					j.lstmCell(gr, hb, c[b*hid:(b+1)*hid], clip)
				default:
					if clip > 0 {
						clipSlice(gr, clip)
					}
					applyAct(j.acts[0], gr)
					copy(hb, gr)
				}
				j.emit(t, b, hb)
			}
		case kindGRU:
			for b := 0; b < batch; b++ {
				t, ok := j.timeOf(step, b)
				if !ok {
					continue
				}
				gr := gates[b*gh : (b+1)*gh]
				zr := gr[:2*hid]
				addTo(zr, j.xwRow(t, b, 0, 2*hid))
				if clip > 0 {
					clipSlice(zr, clip)
				}
				applyAct(j.acts[0], zr)
				hb := h[b*hid : (b+1)*hid]
				if a.lbr {
					j.gruFinish32(gr, j.xwRow(t, b, 2*hid, hid), hb, clip)
					j.emit(t, b, hb)
					continue
				}
				r, rh := gr[hid:2*hid], tmp[b*hid:(b+1)*hid]
				for i := range rh {
					rh[i] = r[i] * hb[i]
				}
			}
			if a.lbr {
				break
			}
			j.product(tmp, j.prh, 0, gates[2*hid:], gh)
			for b := 0; b < batch; b++ {
				t, ok := j.timeOf(step, b)
				if !ok {
					continue
				}
				hb := h[b*hid : (b+1)*hid]
				j.gruFinish32(gates[b*gh:(b+1)*gh], j.xwRow(t, b, 2*hid, hid), hb, clip)
				j.emit(t, b, hb)
			}
		}
		hZero = false
	}

	for b := 0; b < batch; b++ {
		if j.lens != nil && j.lens[b] == 0 || j.lens == nil && s.seq == 0 {
			// An empty sequence has all-zero final states, as in ONNX Runtime.
			clear(h[b*hid : (b+1)*hid])
			if c != nil {
				clear(c[b*hid : (b+1)*hid])
			}
		}
		if j.yh != nil {
			copy(j.yh[j.stateIndex(b):j.stateIndex(b)+hid], h[b*hid:(b+1)*hid])
		}
		if j.yc != nil {
			copy(j.yc[j.stateIndex(b):j.stateIndex(b)+hid], c[b*hid:(b+1)*hid])
		}
	}
	return nil
}

// stepsLSTM runs steps time steps of a default LSTM over one batch row
// with asm.LSTMStep, which leaves xw as it is and writes the new hidden
// state into the other of h and h2; it ends with the state in h.
func (j *rnnDir32) stepsLSTM(rc *RunContext, steps int) error {
	hid := j.s.hid
	h, h2 := j.h, j.h2
	for step := 0; step < steps; step++ {
		if step&7 == 7 {
			if err := rc.Err(); err != nil {
				return err
			}
		}
		t, ok := j.timeOf(step, 0)
		if !ok {
			break
		}
		i := j.xRow(t, 0)*j.xwStride + j.xwOff
		// Alternate the sweep over R: see asm.LSTMStep.
		asm.LSTMStep(j.lw, h, j.xw[i:i+4*hid], j.c, h2, step&1 == 1)
		h, h2 = h2, h
		j.emit(t, 0, h)
	}
	if &h[0] != &j.h[0] {
		copy(j.h, h)
	}
	return nil
}

// xwRow returns n values of the projection (with bias) of (t, b), from
// gate column off.
func (j *rnnDir32) xwRow(t, b, off, n int) []float32 {
	i := j.xRow(t, b)*j.xwStride + j.xwOff + off
	return j.xw[i : i+n]
}

// addTo sets dst[i] += src[i].
func addTo(dst, src []float32) {
	src = src[:len(dst)]
	for i := range dst {
		dst[i] += src[i]
	}
}

// gruFinish32 computes the hidden gate of one GRU batch row and updates
// hb: gr holds activated z and r and, in its h block, the recurrent
// product (Ht-1·Rh^T with linear_before_reset, (r⊙Ht-1)·Rh^T without);
// xh is the row's projection of the h block, bias included.
func (j *rnnDir32) gruFinish32(gr, xh, hb []float32, clip float32) {
	hid := len(hb)
	z, r, hh := gr[:hid], gr[hid:2*hid], gr[2*hid:3*hid]
	xh = xh[:hid]
	if j.a.lbr {
		rbh := j.rbh
		if rbh == nil {
			for i := range hh {
				hh[i] = xh[i] + r[i]*hh[i]
			}
		} else {
			rbh = rbh[:hid]
			for i := range hh {
				hh[i] = xh[i] + r[i]*(hh[i]+rbh[i])
			}
		}
	} else {
		addTo(hh, xh)
	}
	if clip > 0 {
		clipSlice(hh, clip)
	}
	applyAct(j.acts[1], hh)
	for i := range hb {
		hb[i] = (1-z[i])*hh[i] + z[i]*hb[i]
	}
}
