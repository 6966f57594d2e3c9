package ops

import (
	"fmt"
	"math"

	"github.com/onyxrt/onyx/tensor"
)

// Backward kernels of the recurrent operators: RNNGrad, GRUGrad and
// LSTMGrad, in domain GradDomain. Each takes the forward node's inputs
// followed by the gradients of its outputs and returns the gradients of its
// float inputs by backpropagation through time. The forward pass is
// recomputed inside the kernel (saving the per-step gate activations), so
// the backward graph needs nothing of the forward node but its inputs.
//
//	RNNGrad, GRUGrad: X W R B sequence_lens initial_h dY dY_h
//	                  -> dX dW dR dB dinitial_h
//	LSTMGrad:         X W R B sequence_lens initial_h initial_c P dY dY_h dY_c
//	                  -> dX dW dR dB dinitial_h dinitial_c dP
//
// Every input but X, W and R may be omitted (an omitted output gradient is
// zero). The gradients of omitted B, initial_h, initial_c and P are still
// returned: they are the gradients at zero. The attributes are the forward
// node's, read as the latest version reads them (the gradient rule drops the
// ones an older forward version ignores).

// registerGradRecurrent registers the backward kernels of RNN, GRU and LSTM.
func registerGradRecurrent(r *Registry) {
	for _, k := range []rnnKind{kindRNN, kindGRU, kindLSTM} {
		r.Register(&Def{Domain: GradDomain, Name: k.String() + "Grad", Since: 1, Build: rnnGradBuilder(k)})
	}
}

// rnnForwardInputs is the number of inputs of the forward operator.
func (k rnnKind) forwardInputs() int {
	if k == kindLSTM {
		return 8
	}
	return 6
}

// forwardOutputs is the number of outputs of the forward operator.
func (k rnnKind) forwardOutputs() int {
	if k == kindLSTM {
		return 3
	}
	return 2
}

// rnnGradOf maps the forward inputs that have a gradient to the backward
// kernel's outputs: X W R B initial_h initial_c P (sequence_lens has none).
var rnnGradOf = []int{0, 1, 2, 3, 5, 6, 7}

// recurrentGrad is the gradient rule of RNN, GRU and LSTM: one backward
// node (RNNGrad, GRUGrad or LSTMGrad) computes every input gradient.
func recurrentGrad(kind rnnKind) GradFunc {
	return func(g GradContext) error {
		b := g.Node()
		nf, no := kind.forwardInputs(), kind.forwardOutputs()
		ins := make([]string, 0, nf+no)
		for i := 0; i < nf; i++ {
			name := ""
			if i < b.NumInputs {
				name = g.Input(i)
			}
			ins = append(ins, name)
		}
		flows := false
		for i := 0; i < no; i++ {
			name := ""
			if i < b.NumOutputs {
				name = g.OutputGrad(i)
			}
			flows = flows || name != ""
			ins = append(ins, name)
		}
		if !flows {
			return nil
		}
		for len(ins) > 0 && ins[len(ins)-1] == "" {
			ins = ins[:len(ins)-1]
		}
		var attrs []*Attr
		for _, a := range CopyAttrs(b) {
			switch {
			case a.Name == "output_sequence",
				a.Name == "linear_before_reset" && b.Opset < 3,
				a.Name == "layout" && b.Opset < 14:
				continue // attributes the forward version ignores
			}
			attrs = append(attrs, a)
		}
		nOut := 5
		if kind == kindLSTM {
			nOut = 7
		}
		outs := g.Emit(GradDomain, kind.String()+"Grad", ins, nOut, attrs...)
		for k, i := range rnnGradOf[:nOut] {
			if i < b.NumInputs && g.Input(i) != "" && g.NeedsGrad(i) {
				g.SetInputGrad(i, outs[k])
			}
		}
		return nil
	}
}

// rnnGradBuilder returns the Build function of a backward kernel.
func rnnGradBuilder(kind rnnKind) func(b *Builder) (Kernel, error) {
	return func(b *Builder) (Kernel, error) {
		a, err := parseRNNAttrs(b, kind, 14)
		if err != nil {
			return nil, err
		}
		for _, act := range a.acts {
			if !act.differentiable() {
				return nil, fmt.Errorf("activation %v has no gradient", act.kind)
			}
		}
		return KernelFunc(a.runGrad), nil
	}
}

// differentiable reports whether actGrad knows the activation's derivative.
func (a rnnAct) differentiable() bool {
	return a.kind >= actSigmoid && a.kind <= actSoftplus
}

// runGrad is the backward kernel: it checks and upcasts the inputs and runs
// backpropagation through time in float32 or float64.
func (a *rnnAttrs) runGrad(rc *RunContext, inputs []*tensor.Tensor) ([]*tensor.Tensor, error) {
	if err := Need(inputs, 3); err != nil {
		return nil, err
	}
	nf, no := a.kind.forwardInputs(), a.kind.forwardOutputs()
	// up holds X W R B - initial_h initial_c P in forward positions, then
	// the output gradients from position 8.
	up := make([]*tensor.Tensor, 8+no)
	var dt tensor.DType
	for i := 0; i < nf+no; i++ {
		if i == 4 {
			continue
		}
		t := Opt(inputs, i)
		if t == nil {
			continue
		}
		u, odt, err := Upcast(t)
		if err != nil {
			return nil, err
		}
		if i == 0 {
			dt = odt
		} else if odt != dt {
			return nil, fmt.Errorf("input %d has element type %v, X has %v", i, odt, dt)
		}
		pos := i
		if i >= nf {
			pos = 8 + i - nf
		}
		up[pos] = u
	}
	var outs []*tensor.Tensor
	var err error
	switch up[0].DType() {
	case tensor.Float32:
		outs, err = rnnBackward[float32](a, rc, up, Opt(inputs, 4))
	case tensor.Float64:
		outs, err = rnnBackward[float64](a, rc, up, Opt(inputs, 4))
	default:
		return nil, ErrDType(a.kind.String()+"Grad", dt)
	}
	if err != nil {
		return nil, err
	}
	for i, o := range outs {
		if outs[i], err = Downcast(o, dt); err != nil {
			return nil, err
		}
	}
	return outs, nil
}

// rnnBackward computes the input gradients of one recurrent node. in holds
// the float inputs in forward positions (nil when absent) followed by the
// output gradients dY, dY_h and dY_c; lensT is sequence_lens.
func rnnBackward[T Float](a *rnnAttrs, rc *RunContext, in []*tensor.Tensor, lensT *tensor.Tensor) ([]*tensor.Tensor, error) {
	s, err := a.shapes(in[:8])
	if err != nil {
		return nil, err
	}
	lens, err := seqLens(lensT, s)
	if err != nil {
		return nil, err
	}
	nd, hid := a.numDir, s.hid
	gh := a.kind.gates() * hid
	dt := in[0].DType()
	state := []int{nd, s.batch, hid}
	yShape := []int{s.seq, nd, s.batch, hid}
	if a.layout == 1 {
		state = []int{s.batch, nd, hid}
		yShape = []int{s.batch, s.seq, nd, hid}
	}
	gY, gYh := in[8], in[9]
	var gYc *tensor.Tensor
	if a.kind == kindLSTM {
		gYc = in[10]
	}
	for _, c := range []struct {
		name  string
		t     *tensor.Tensor
		shape []int
	}{{"gradient of Y", gY, yShape}, {"gradient of Y_h", gYh, state}, {"gradient of Y_c", gYc, state}} {
		if c.t != nil {
			if err := checkShape(c.name, c.t, c.shape...); err != nil {
				return nil, err
			}
		}
	}

	newOut := func(shape ...int) *tensor.Tensor { return tensor.MustNew(dt, shape...) }
	dX, dW, dR := newOut(in[0].Shape()...), newOut(in[1].Shape()...), newOut(in[2].Shape()...)
	dB, dH0 := newOut(nd, 2*gh), newOut(state...)
	outs := []*tensor.Tensor{dX, dW, dR, dB, dH0}
	var dC0, dP *tensor.Tensor
	if a.kind == kindLSTM {
		dC0, dP = newOut(state...), newOut(nd, 3*hid)
		outs = append(outs, dC0, dP)
	}
	rows := s.seq * s.batch
	// The saved forward values are the largest allocations: check their
	// size against tensor.MaxBytes before making them.
	if n, err := tensor.NumElements([]int{3, rows, gh}); err != nil {
		return nil, err
	} else if n > tensor.MaxBytes/dt.Size() {
		return nil, fmt.Errorf("saving the forward pass needs %d values: %w", n, tensor.ErrTooLarge)
	}

	data := func(t *tensor.Tensor) []T {
		if t == nil {
			return nil
		}
		return tensor.Data[T](t)
	}
	dirs := make([]*rnnBack[T], nd)
	for d := range dirs {
		j := &rnnBack[T]{rnnDir: rnnDir[T]{
			a: a, s: s, d: d, reverse: a.reverse || d == 1, lens: lens,
			xwStride: gh, acts: a.acts[d*a.kind.acts() : (d+1)*a.kind.acts()],
			h0: data(in[5]), c0: data(in[6]),
		}}
		j.x = data(in[0])
		j.w = data(in[1])[d*gh*s.in : (d+1)*gh*s.in]
		j.r = data(in[2])[d*gh*hid : (d+1)*gh*hid]
		j.bias = make([]T, gh)
		if in[3] != nil {
			bd := data(in[3])[d*2*gh : (d+1)*2*gh]
			wb, rb := bd[:gh], bd[gh:]
			for i := range j.bias {
				j.bias[i] = wb[i] + rb[i]
			}
			if a.kind == kindGRU && a.lbr {
				copy(j.bias[2*hid:], wb[2*hid:])
				j.rbh = rb[2*hid:]
			}
		}
		if a.kind == kindGRU && a.lbr && j.rbh == nil {
			j.rbh = make([]T, hid)
		}
		if in[7] != nil {
			j.p = data(in[7])[d*3*hid : (d+1)*3*hid]
		}
		j.gy, j.gyh, j.gyc = data(gY), data(gYh), data(gYc)
		j.dW = data(dW)[d*gh*s.in : (d+1)*gh*s.in]
		j.dR = data(dR)[d*gh*hid : (d+1)*gh*hid]
		j.dB = data(dB)[d*2*gh : (d+1)*2*gh]
		j.dH0, j.dC0 = data(dH0), data(dC0)
		if dP != nil {
			j.dP = data(dP)[d*3*hid : (d+1)*3*hid]
		}
		j.dX = make([]T, rows*s.in)
		dirs[d] = j
	}

	threads := 1
	if rc != nil && rc.Threads > 1 {
		threads = rc.Threads
	}
	for _, j := range dirs {
		j.threads = threads
		if nd == 2 {
			j.threads = max(threads/2, 1)
		}
	}
	if err := runDirections(rc, dirs, threads); err != nil {
		return nil, err
	}
	dx := data(dX)
	for _, j := range dirs {
		for i, v := range j.dX {
			dx[i] += v
		}
	}
	return outs, nil
}

// rnnBack is one direction of a recurrent node's backward computation. The
// embedded rnnDir provides the index arithmetic and the input projection
// (xw holds this direction's X·W^T + bias, one row of gh per X row).
type rnnBack[T Float] struct {
	rnnDir[T]
	x, w, r []T // X, and this direction's W (gh×in) and R (gh×hid)

	// Values saved by the forward pass, one row per X row (t, b).
	pre   []T // gate pre-activations before clipping (gh)
	act   []T // gate activations (gh); an LSTM with input_forget keeps 1-i as f
	hprev []T // hidden state before the step (hid)
	cprev []T // LSTM: cell state before the step (hid)
	cnew  []T // LSTM: cell state after the step (hid)
	hcell []T // LSTM: activated cell state, h(cnew) (hid)
	hlin  []T // GRU with linear_before_reset: Ht-1·Rh^T + Rbh (hid)
	rh    []T // GRU without it: r ⊙ Ht-1 (hid)
	steps int // steps the forward pass ran

	gy, gyh, gyc []T // output gradients (whole tensors), or nil
	dX           []T // this direction's contribution to dX
	dW, dR, dB   []T // this direction's slices of the results
	dH0, dC0     []T // whole tensors
	dP           []T // this direction's slice, or nil
}

// run recomputes the forward pass, then backpropagates through time.
func (j *rnnBack[T]) run(rc *RunContext) error {
	if err := j.forward(rc); err != nil {
		return err
	}
	return j.backward(rc)
}

// forward recomputes the direction's recurrence, saving what the backward
// pass needs. It follows rnnDir.run step for step.
func (j *rnnBack[T]) forward(rc *RunContext) error {
	a, s := j.a, j.s
	hid, batch := s.hid, s.batch
	gh := a.kind.gates() * hid
	rows := s.seq * batch

	j.xw = make([]T, rows*gh)
	gemmNTPar(j.threads, rows, gh, s.in, j.x, s.in, j.w, s.in, j.xw, gh)
	j.pre = make([]T, rows*gh)
	j.act = make([]T, rows*gh)
	j.hprev = make([]T, rows*hid)
	switch {
	case a.kind == kindLSTM:
		j.cprev = make([]T, rows*hid)
		j.cnew = make([]T, rows*hid)
		j.hcell = make([]T, rows*hid)
	case a.kind == kindGRU && a.lbr:
		j.hlin = make([]T, rows*hid)
	case a.kind == kindGRU:
		j.rh = make([]T, rows*hid)
	}

	h := make([]T, batch*hid)
	var c []T
	if a.kind == kindLSTM {
		c = make([]T, batch*hid)
	}
	for b := 0; b < batch; b++ {
		if j.h0 != nil {
			copy(h[b*hid:(b+1)*hid], j.h0[j.stateIndex(b):])
		}
		if j.c0 != nil && c != nil {
			copy(c[b*hid:(b+1)*hid], j.c0[j.stateIndex(b):])
		}
	}
	rec := make([]T, batch*gh)
	var tmp []T
	if a.kind == kindGRU && !a.lbr {
		tmp = make([]T, batch*hid)
	}
	j.steps = s.seq
	if j.lens != nil {
		j.steps = 0
		for _, l := range j.lens {
			j.steps = max(j.steps, l)
		}
	}
	clip := T(a.clip)
	for step := 0; step < j.steps; step++ {
		if step&7 == 7 {
			if err := rc.Err(); err != nil {
				return err
			}
		}
		nrec := gh
		if a.kind == kindGRU && !a.lbr {
			nrec = 2 * hid
		}
		gemmNTPar(j.threads, batch, nrec, hid, h, hid, j.r, hid, rec, gh)
		for b := 0; b < batch; b++ {
			t, ok := j.timeOf(step, b)
			if !ok {
				continue
			}
			row := j.xRow(t, b)
			hb := h[b*hid : (b+1)*hid]
			copy(j.hprev[row*hid:], hb)
			pre, act := j.pre[row*gh:(row+1)*gh], j.act[row*gh:(row+1)*gh]
			copy(pre[:nrec], rec[b*gh:b*gh+nrec])
			switch a.kind {
			case kindRNN:
				j.addInput(pre, t, b, 0)
				setAct(j.acts[0], act, pre, clip)
				copy(hb, act)
			case kindLSTM:
				j.addInput(pre, t, b, 0)
				j.lstmForward(row, pre, act, hb, c[b*hid:(b+1)*hid], clip)
			case kindGRU:
				j.addInput(pre[:2*hid], t, b, 0)
				setAct(j.acts[0], act[:2*hid], pre[:2*hid], clip)
				r := act[hid : 2*hid]
				if a.lbr {
					hl := j.hlin[row*hid : (row+1)*hid]
					xh := j.xw[row*gh+2*hid : (row+1)*gh]
					for i := range hl {
						hl[i] = pre[2*hid+i] + j.rbh[i]
						pre[2*hid+i] = xh[i] + j.bias[2*hid+i] + r[i]*hl[i]
					}
					j.gruForwardFinish(row, hb, clip)
					continue
				}
				rh := tmp[b*hid : (b+1)*hid]
				for i := range rh {
					rh[i] = r[i] * hb[i]
				}
				copy(j.rh[row*hid:], rh)
			}
		}
		if a.kind != kindGRU || a.lbr {
			continue
		}
		// GRU without linear_before_reset: (r ⊙ Ht-1)·Rh^T.
		gemmNTPar(j.threads, batch, hid, hid, tmp, hid, j.r[2*hid*hid:], hid, rec[2*hid:], gh)
		for b := 0; b < batch; b++ {
			t, ok := j.timeOf(step, b)
			if !ok {
				continue
			}
			row := j.xRow(t, b)
			pre := j.pre[row*gh+2*hid : (row+1)*gh]
			copy(pre, rec[b*gh+2*hid:(b+1)*gh])
			j.addInput(pre, t, b, 2*hid)
			j.gruForwardFinish(row, h[b*hid:(b+1)*hid], clip)
		}
	}
	return nil
}

// setAct sets y to the activation of x clipped to [-clip, clip] (clip 0:
// none).
func setAct[T Float](f rnnAct, y, x []T, clip T) {
	copy(y, x)
	if clip > 0 {
		clipSlice(y, clip)
	}
	applyAct(f, y)
}

// lstmForward finishes one LSTM step of X row row: pre holds the gate
// pre-activations (i, o, f, c) without peepholes, hb and cb the row's
// states, updated in place.
func (j *rnnBack[T]) lstmForward(row int, pre, act, hb, cb []T, clip T) {
	hid := len(hb)
	f, g, hact := j.acts[0], j.acts[1], j.acts[2]
	copy(j.cprev[row*hid:], cb)
	if j.p != nil {
		pi, pf := j.p[:hid], j.p[2*hid:3*hid]
		for i, cv := range cb {
			pre[i] += pi[i] * cv
			pre[2*hid+i] += pf[i] * cv
		}
	}
	ai, ao, af, ac := act[:hid], act[hid:2*hid], act[2*hid:3*hid], act[3*hid:]
	setAct(f, ai, pre[:hid], clip)
	if j.a.inputForget {
		for i, v := range ai {
			af[i] = 1 - v
		}
	} else {
		setAct(f, af, pre[2*hid:3*hid], clip)
	}
	setAct(g, ac, pre[3*hid:], clip)
	for i := range cb {
		cb[i] = af[i]*cb[i] + ai[i]*ac[i]
	}
	copy(j.cnew[row*hid:], cb)
	if j.p != nil {
		po := j.p[hid : 2*hid]
		for i, cv := range cb {
			pre[hid+i] += po[i] * cv
		}
	}
	setAct(f, ao, pre[hid:2*hid], clip)
	hc := j.hcell[row*hid : (row+1)*hid]
	copy(hc, cb)
	applyAct(hact, hc)
	for i := range hb {
		hb[i] = ao[i] * hc[i]
	}
}

// gruForwardFinish activates the hidden gate of X row row, whose
// pre-activation is complete, and updates the hidden state hb.
func (j *rnnBack[T]) gruForwardFinish(row int, hb []T, clip T) {
	hid := len(hb)
	gh := 3 * hid
	pre, act := j.pre[row*gh:(row+1)*gh], j.act[row*gh:(row+1)*gh]
	setAct(j.acts[1], act[2*hid:], pre[2*hid:], clip)
	z, hh := act[:hid], act[2*hid:]
	for i := range hb {
		hb[i] = (1-z[i])*hh[i] + z[i]*hb[i]
	}
}

// backward runs backpropagation through time over the saved forward values
// and accumulates the direction's gradients.
func (j *rnnBack[T]) backward(rc *RunContext) error {
	a, s := j.a, j.s
	hid, batch := s.hid, s.batch
	gh := a.kind.gates() * hid
	rows := s.seq * batch
	lstm, gru := a.kind == kindLSTM, a.kind == kindGRU

	// dA holds the gradients of the gate pre-activations on the input side
	// (X·W^T + Wb), dAr on the recurrent side (Ht-1·R^T + Rb); they differ
	// only in a GRU's hidden gate with linear_before_reset.
	dA := make([]T, rows*gh)
	dAr := dA
	if gru && a.lbr {
		dAr = make([]T, rows*gh)
	}
	dh, dhn := make([]T, batch*hid), make([]T, batch*hid)
	var dc, dcn, dht []T
	if lstm {
		dc, dcn, dht = make([]T, batch*hid), make([]T, batch*hid), make([]T, hid)
	}
	ga, gar := make([]T, batch*gh), make([]T, batch*gh)
	rdh := make([]T, batch*hid) // (gate gradients)·R
	var dz, q []T
	if gru && !a.lbr {
		dz, q = make([]T, batch*hid), make([]T, batch*hid)
	}
	var dP []T
	if lstm {
		dP = make([]T, 3*hid)
	}

	for b := 0; b < batch; b++ {
		n := s.seq
		if j.lens != nil {
			n = j.lens[b]
		}
		if n == 0 {
			continue // the final states are zeros, independent of everything
		}
		if j.gyh != nil {
			copy(dh[b*hid:(b+1)*hid], j.gyh[j.stateIndex(b):])
		}
		if lstm && j.gyc != nil {
			copy(dc[b*hid:(b+1)*hid], j.gyc[j.stateIndex(b):])
		}
	}

	clip := T(a.clip)
	f := j.acts[0]
	for step := j.steps - 1; step >= 0; step-- {
		if step&7 == 7 {
			if err := rc.Err(); err != nil {
				return err
			}
		}
		clear(ga)
		clear(gar)
		copy(dhn, dh) // rows whose sequence has ended pass through
		if lstm {
			copy(dcn, dc)
		}
		for b := 0; b < batch; b++ {
			t, ok := j.timeOf(step, b)
			if !ok {
				continue
			}
			row := j.xRow(t, b)
			dhb := dh[b*hid : (b+1)*hid]
			if j.gy != nil {
				yi := j.yIndex(t, b)
				for i, v := range j.gy[yi : yi+hid] {
					dhb[i] += v
				}
			}
			pre, act := j.pre[row*gh:(row+1)*gh], j.act[row*gh:(row+1)*gh]
			gab := ga[b*gh : (b+1)*gh]
			dhnb := dhn[b*hid : (b+1)*hid]
			switch a.kind {
			case kindRNN:
				actGrad(f, gab, dhb, pre, act, clip)
				clear(dhnb)
			case kindLSTM:
				j.lstmBackward(row, gab, dhb, dc[b*hid:(b+1)*hid], dcn[b*hid:(b+1)*hid], pre, act, dht, dP, clip)
				clear(dhnb)
			case kindGRU:
				z, r, hh := act[:hid], act[hid:2*hid], act[2*hid:]
				hp := j.hprev[row*hid : (row+1)*hid]
				dzb := gab[:hid] // raw dz until the gate's derivative applies
				if !a.lbr {
					dzb = dz[b*hid : (b+1)*hid]
				}
				for i, g := range dhb {
					dzb[i] = g * (hp[i] - hh[i])
					dhnb[i] = g * z[i]
					gab[2*hid+i] = g * (1 - z[i])
				}
				actGrad(j.acts[1], gab[2*hid:], gab[2*hid:], pre[2*hid:], hh, clip)
				if !a.lbr {
					continue // dr needs (dA_h·Rh), made below for all rows
				}
				hl := j.hlin[row*hid : (row+1)*hid]
				garb := gar[b*gh : (b+1)*gh]
				dr := garb[hid : 2*hid] // raw dr, overwritten below
				for i, g := range gab[2*hid:] {
					dr[i] = g * hl[i]
					garb[2*hid+i] = g * r[i]
				}
				actGrad(f, gab[hid:2*hid], dr, pre[hid:2*hid], r, clip)
				actGrad(f, gab[:hid], dzb, pre[:hid], z, clip)
				copy(garb[:2*hid], gab[:2*hid])
			}
		}
		nr := gh // gate blocks whose recurrent product is Ht-1·R^T
		if gru && !a.lbr {
			nr = 2 * hid
			// Hidden gate: its recurrent product is (r ⊙ Ht-1)·Rh^T.
			gemmNNPar(j.threads, batch, hid, hid, ga[2*hid:], gh, j.r[2*hid*hid:], hid, q, hid)
			for b := 0; b < batch; b++ {
				t, ok := j.timeOf(step, b)
				if !ok {
					continue
				}
				row := j.xRow(t, b)
				pre, act := j.pre[row*gh:(row+1)*gh], j.act[row*gh:(row+1)*gh]
				z, r := act[:hid], act[hid:2*hid]
				hp := j.hprev[row*hid : (row+1)*hid]
				gab, qb, dhnb := ga[b*gh:(b+1)*gh], q[b*hid:(b+1)*hid], dhn[b*hid:(b+1)*hid]
				dr := gab[hid : 2*hid]
				for i, v := range qb {
					dr[i] = v * hp[i]
					dhnb[i] += v * r[i]
				}
				actGrad(f, dr, dr, pre[hid:2*hid], r, clip)
				actGrad(f, gab[:hid], dz[b*hid:(b+1)*hid], pre[:hid], z, clip)
			}
		}
		src := gar
		if !(gru && a.lbr) {
			src = ga
		}
		gemmNNPar(j.threads, batch, hid, nr, src, gh, j.r, hid, rdh, hid)
		for i, v := range rdh {
			dhn[i] += v
		}
		for b := 0; b < batch; b++ {
			t, ok := j.timeOf(step, b)
			if !ok {
				continue
			}
			row := j.xRow(t, b)
			copy(dA[row*gh:(row+1)*gh], ga[b*gh:(b+1)*gh])
			if gru && a.lbr {
				copy(dAr[row*gh:(row+1)*gh], gar[b*gh:(b+1)*gh])
			}
		}
		dh, dhn = dhn, dh
		dc, dcn = dcn, dc
	}

	for b := 0; b < batch; b++ {
		si := j.stateIndex(b)
		copy(j.dH0[si:si+hid], dh[b*hid:(b+1)*hid])
		if lstm {
			copy(j.dC0[si:si+hid], dc[b*hid:(b+1)*hid])
		}
	}
	if j.dP != nil {
		copy(j.dP, dP)
	}
	if rows == 0 {
		return nil
	}

	// Parameter and input gradients, one product each over all rows.
	gemmNNPar(j.threads, rows, s.in, gh, dA, gh, j.w, s.in, j.dX, s.in)
	dAT := transposeRows(dA, rows, gh)
	gemmNNPar(j.threads, gh, s.in, rows, dAT, rows, j.x, s.in, j.dW, s.in)
	dArT := dAT
	if gru && a.lbr {
		dArT = transposeRows(dAr, rows, gh)
	}
	if gru && !a.lbr {
		gemmNNPar(j.threads, 2*hid, hid, rows, dArT, rows, j.hprev, hid, j.dR, hid)
		gemmNNPar(j.threads, hid, hid, rows, dArT[2*hid*rows:], rows, j.rh, hid, j.dR[2*hid*hid:], hid)
	} else {
		gemmNNPar(j.threads, gh, hid, rows, dArT, rows, j.hprev, hid, j.dR, hid)
	}
	for k := 0; k < gh; k++ {
		var sw, sr T
		for _, v := range dAT[k*rows : (k+1)*rows] {
			sw += v
		}
		for _, v := range dArT[k*rows : (k+1)*rows] {
			sr += v
		}
		j.dB[k], j.dB[gh+k] = sw, sr
	}
	return nil
}

// lstmBackward backpropagates one LSTM step of X row row. dhb and dcb are
// the gradients of the step's hidden and cell outputs; it sets ga to the
// gate pre-activation gradients (i, o, f, c), dcn to the gradient of the
// previous cell state (without the recurrent product), and adds the
// peephole gradients to dP. dht is scratch of hid.
func (j *rnnBack[T]) lstmBackward(row int, ga, dhb, dcb, dcn, pre, act, dht, dP []T, clip T) {
	hid := len(dhb)
	f, g, hact := j.acts[0], j.acts[1], j.acts[2]
	cp, cn := j.cprev[row*hid:(row+1)*hid], j.cnew[row*hid:(row+1)*hid]
	ai, ao, af, ac := act[:hid], act[hid:2*hid], act[2*hid:3*hid], act[3*hid:]
	gi, gO, gf, gc := ga[:hid], ga[hid:2*hid], ga[2*hid:3*hid], ga[3*hid:]
	ht := j.hcell[row*hid : (row+1)*hid]
	for i, v := range dhb {
		gO[i] = v * ht[i]
		dht[i] = v * ao[i]
	}
	actGrad(f, gO, gO, pre[hid:2*hid], ao, clip)
	actGrad(hact, dht, dht, cn, ht, 0)
	// dC: from the cell output, the hidden output and the output peephole.
	dC := dht
	for i := range dC {
		dC[i] += dcb[i]
	}
	if j.p != nil {
		po := j.p[hid : 2*hid]
		for i := range dC {
			dC[i] += gO[i] * po[i]
		}
	}
	for i, v := range dC {
		gf[i] = v * cp[i] // raw dF
		gi[i] = v * ac[i] // raw dI
		gc[i] = v * ai[i] // raw dG
		dcn[i] = v * af[i]
	}
	if j.a.inputForget {
		for i := range gi {
			gi[i] -= gf[i]
		}
		clear(gf)
	} else {
		actGrad(f, gf, gf, pre[2*hid:3*hid], af, clip)
	}
	actGrad(f, gi, gi, pre[:hid], ai, clip)
	actGrad(g, gc, gc, pre[3*hid:], ac, clip)
	pi, pO, pf := dP[:hid], dP[hid:2*hid], dP[2*hid:]
	for i := range gi {
		pi[i] += gi[i] * cp[i]
		pf[i] += gf[i] * cp[i]
		pO[i] += gO[i] * cn[i]
	}
	if j.p != nil {
		ppi, ppf := j.p[:hid], j.p[2*hid:3*hid]
		for i := range dcn {
			dcn[i] += gi[i]*ppi[i] + gf[i]*ppf[i]
		}
	}
}

// actGrad sets dst to dy times the derivative of f at x clipped to
// [-clip, clip] (zero where the clip is active; clip 0: none); y = f(x
// clipped). dst may be dy.
func actGrad[T Float](f rnnAct, dst, dy, x, y []T, clip T) {
	alpha, beta := T(f.alpha), T(f.beta)
	for i, g := range dy {
		xv := x[i]
		if clip > 0 {
			if xv < -clip || xv > clip {
				dst[i] = 0
				continue
			}
		}
		yv := y[i]
		var d T
		switch f.kind {
		case actSigmoid:
			d = yv * (1 - yv)
		case actTanh:
			d = 1 - yv*yv
		case actRelu:
			if xv > 0 {
				d = 1
			}
		case actAffine:
			d = alpha
		case actLeakyRelu:
			d = 1
			if xv < 0 {
				d = alpha
			}
		case actThresholdedRelu:
			if xv >= alpha {
				d = 1
			}
		case actScaledTanh:
			th := T(math.Tanh(float64(beta * xv)))
			d = alpha * beta * (1 - th*th)
		case actHardSigmoid:
			if v := alpha*xv + beta; v > 0 && v < 1 {
				d = alpha
			}
		case actElu:
			d = 1
			if xv < 0 {
				d = yv + alpha
			}
		case actSoftsign:
			ax := xv
			if ax < 0 {
				ax = -ax
			}
			d = 1 / ((1 + ax) * (1 + ax))
		case actSoftplus:
			d = T(1 / (1 + math.Exp(-float64(xv))))
		}
		dst[i] = g * d
	}
}

// transposeRows returns the m×n row-major matrix v transposed (n×m).
func transposeRows[T Float](v []T, m, n int) []T {
	out := make([]T, m*n)
	for i := 0; i < m; i++ {
		for k, x := range v[i*n : (i+1)*n] {
			out[k*m+i] = x
		}
	}
	return out
}
