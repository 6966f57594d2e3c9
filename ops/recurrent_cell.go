package ops

import (
	"github.com/onyxrt/onyx/ops/asm"
	"github.com/onyxrt/onyx/tensor"
)

// runRNN runs every direction of a recurrent node over float64 data
// (float32 takes runRNN32 in recurrent_fast.go, which packs the weights
// and fuses the gate arithmetic; this generic path is its reference in
// the tests). The input projection X·W^T of all time steps and directions is one
// GEMM; each time step then does one GEMM of the previous hidden state with
// R^T (two for a GRU without linear_before_reset) followed by one fused pass
// of gate arithmetic per batch row. All scratch memory is allocated before
// the first step. in holds the float inputs upcast to T, raw the node's
// inputs as given.
func runRNN[T Float](a *rnnAttrs, rc *RunContext, in, raw []*tensor.Tensor) ([]*tensor.Tensor, error) {
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
	dt := in[0].DType()

	outs := make([]*tensor.Tensor, 2)
	if a.kind == kindLSTM {
		outs = make([]*tensor.Tensor, 3)
	}
	state := a.stateShape(s)
	if a.outY {
		shape := a.yShape(s)
		if outs[0], err = tensor.New(dt, shape...); err != nil {
			return nil, err
		}
	}
	if a.outYh {
		if outs[1], err = tensor.New(dt, state...); err != nil {
			return nil, err
		}
	}
	if a.outYc {
		if outs[2], err = tensor.New(dt, state...); err != nil {
			return nil, err
		}
	}

	threads := 1
	if rc != nil && rc.Threads > 1 {
		threads = rc.Threads
	}
	// Input projection for all directions: X as a (seq*batch)×in matrix
	// (rows in X's own order, whatever the layout) times W, which is a
	// (nd*gh)×in matrix, transposed.
	rows := s.seq * s.batch
	xwT, err := tensor.New(dt, rows, nd*gh) // checks the size against tensor.MaxBytes
	if err != nil {
		return nil, err
	}
	xw := tensor.Data[T](xwT)
	gemmNTPar(threads, rows, nd*gh, s.in, tensor.Data[T](in[0])[s.xOff:], s.in, tensor.Data[T](in[1]), s.in, xw, nd*gh)

	// R transposed to hid×gh per direction, so that each step's product
	// reads rows of R^T contiguously.
	rt, ok := a.constRT.([]T)
	if !ok || a.constR != raw[2] {
		rt = transposeR(tensor.Data[T](in[2]), in[2].Shape())
	}

	dirs := make([]*rnnDir[T], nd)
	for d := range dirs {
		j := &rnnDir[T]{
			a: a, s: s, d: d, reverse: a.reverse || d == 1, lens: lens,
			xw: xw, xwStride: nd * gh, xwOff: d * gh,
			rt:   rt[d*gh*hid : (d+1)*gh*hid],
			acts: a.acts[d*a.kind.acts() : (d+1)*a.kind.acts()],
		}
		j.bias = make([]T, gh)
		if in[3] != nil {
			bd := tensor.Data[T](in[3])[d*2*gh : (d+1)*2*gh]
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
			j.p = tensor.Data[T](in[7])[d*3*hid : (d+1)*3*hid]
		}
		if in[5] != nil {
			j.h0 = tensor.Data[T](in[5])
		}
		if in[6] != nil {
			j.c0 = tensor.Data[T](in[6])
		}
		for i, o := range outs {
			if o == nil {
				continue
			}
			switch i {
			case 0:
				j.y = tensor.Data[T](o)
			case 1:
				j.yh = tensor.Data[T](o)
			case 2:
				j.yc = tensor.Data[T](o)
			}
		}
		dirs[d] = j
	}

	for _, j := range dirs {
		j.threads = threads
		if nd == 2 && threads > 1 {
			j.threads = max(threads/2, 1)
		}
	}
	if err := runDirections(rc, dirs, threads); err != nil {
		return nil, err
	}
	return outs, nil
}

// rnnDir is one direction of a recurrent node's computation.
type rnnDir[T Float] struct {
	a       *rnnAttrs
	s       rnnShapes
	d       int  // direction index (0 or 1) in the outputs
	reverse bool // time runs backwards within each sequence's length
	lens    []int
	threads int // goroutines the per-step products may use

	// xw holds X·W^T of every direction: row (t, b) of this direction
	// starts at rowIndex(t, b)*xwStride + xwOff.
	xw       []T
	xwStride int
	xwOff    int

	rt   []T // R^T for this direction, hid×gh
	bias []T // Wb+Rb (for a GRU with linear_before_reset the h block is Wbh alone)
	rbh  []T // GRU with linear_before_reset: Rbh
	p    []T // LSTM peepholes (i, o, f), or nil
	acts []rnnAct

	h0, c0    []T // initial_h, initial_c (whole tensors), or nil
	y, yh, yc []T // outputs (whole tensors), or nil
}

// xRow is the index in X's rows of time step t of batch entry b.
func (j *rnnDir[T]) xRow(t, b int) int {
	if j.a.layout == 0 {
		return t*j.s.batch + b
	}
	return b*j.s.seq + t
}

// yIndex is the offset in Y of the hidden state of step t, batch entry b.
func (j *rnnDir[T]) yIndex(t, b int) int {
	nd, hid := j.a.numDir, j.s.hid
	if j.a.layout == 0 {
		return ((t*nd+j.d)*j.s.batch + b) * hid
	}
	return ((b*j.s.seq+t)*nd + j.d) * hid
}

// stateIndex is the offset in initial_h, Y_h, ... of batch entry b.
func (j *rnnDir[T]) stateIndex(b int) int {
	if j.a.layout == 0 {
		return (j.d*j.s.batch + b) * j.s.hid
	}
	return (b*j.a.numDir + j.d) * j.s.hid
}

// run computes the direction's outputs.
func (j *rnnDir[T]) run(rc *RunContext) error {
	a, s := j.a, j.s
	hid, batch := s.hid, s.batch
	g := a.kind.gates()
	gh := g * hid

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
	gates := make([]T, batch*gh)
	var tmp []T
	if a.kind == kindGRU && !a.lbr {
		tmp = make([]T, batch*hid)
	}

	steps := s.seq
	if j.lens != nil {
		steps = 0
		for _, l := range j.lens {
			steps = max(steps, l)
		}
	}
	clip := T(j.a.clip)
	for step := 0; step < steps; step++ {
		if step&7 == 7 {
			if err := rc.Err(); err != nil {
				return err
			}
		}
		switch a.kind {
		case kindRNN:
			gemmNNPar(j.threads, batch, hid, hid, h, hid, j.rt, gh, gates, gh)
			for b := 0; b < batch; b++ {
				t, ok := j.timeOf(step, b)
				if !ok {
					continue
				}
				gr := gates[b*gh : (b+1)*gh]
				j.addInput(gr, t, b, 0)
				if clip > 0 {
					clipSlice(gr, clip)
				}
				applyAct(j.acts[0], gr)
				hb := h[b*hid : (b+1)*hid]
				copy(hb, gr)
				j.emit(t, b, hb)
			}
		case kindLSTM:
			gemmNNPar(j.threads, batch, gh, hid, h, hid, j.rt, gh, gates, gh)
			for b := 0; b < batch; b++ {
				t, ok := j.timeOf(step, b)
				if !ok {
					continue
				}
				gr := gates[b*gh : (b+1)*gh]
				j.addInput(gr, t, b, 0)
				j.lstmCell(gr, h[b*hid:(b+1)*hid], c[b*hid:(b+1)*hid], clip)
				j.emit(t, b, h[b*hid:(b+1)*hid])
			}
		case kindGRU:
			if a.lbr {
				gemmNNPar(j.threads, batch, gh, hid, h, hid, j.rt, gh, gates, gh)
			} else {
				gemmNNPar(j.threads, batch, 2*hid, hid, h, hid, j.rt, gh, gates, gh)
			}
			for b := 0; b < batch; b++ {
				t, ok := j.timeOf(step, b)
				if !ok {
					continue
				}
				gr := gates[b*gh : (b+1)*gh]
				zr := gr[:2*hid]
				j.addInput(zr, t, b, 0)
				if clip > 0 {
					clipSlice(zr, clip)
				}
				applyAct(j.acts[0], zr)
				if a.lbr {
					j.gruFinish(gr, t, b, h[b*hid:(b+1)*hid], clip)
					j.emit(t, b, h[b*hid:(b+1)*hid])
					continue
				}
				r, hb, rh := gr[hid:2*hid], h[b*hid:(b+1)*hid], tmp[b*hid:(b+1)*hid]
				for i := range rh {
					rh[i] = r[i] * hb[i]
				}
			}
			if a.lbr {
				break
			}
			gemmNNPar(j.threads, batch, hid, hid, tmp, hid, j.rt[2*hid:], gh, gates[2*hid:], gh)
			for b := 0; b < batch; b++ {
				t, ok := j.timeOf(step, b)
				if !ok {
					continue
				}
				j.gruFinish(gates[b*gh:(b+1)*gh], t, b, h[b*hid:(b+1)*hid], clip)
				j.emit(t, b, h[b*hid:(b+1)*hid])
			}
		}
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

// timeOf maps a step to the time index batch entry b processes at that
// step, or reports that b's sequence has already ended.
func (j *rnnDir[T]) timeOf(step, b int) (int, bool) {
	n := j.s.seq
	if j.lens != nil {
		n = j.lens[b]
	}
	if step >= n {
		return 0, false
	}
	if j.reverse {
		return n - 1 - step, true
	}
	return step, true
}

// addInput adds the input projection and bias of (t, b) to the gate
// pre-activations dst, which start at gate column off.
func (j *rnnDir[T]) addInput(dst []T, t, b, off int) {
	base := j.xRow(t, b)*j.xwStride + j.xwOff + off
	xr := j.xw[base : base+len(dst)]
	bias := j.bias[off : off+len(dst)]
	for i := range dst {
		dst[i] += xr[i] + bias[i]
	}
}

// emit stores hidden state hb of (t, b) in Y.
func (j *rnnDir[T]) emit(t, b int, hb []T) {
	if j.y != nil {
		i := j.yIndex(t, b)
		copy(j.y[i:i+len(hb)], hb)
	}
}

// lstmCell finishes one LSTM step for one batch row: gr holds the gate
// pre-activations (i, o, f, c) without peepholes; hb and cb are the row's
// hidden and cell states, updated in place.
func (j *rnnDir[T]) lstmCell(gr, hb, cb []T, clip T) {
	hid := len(hb)
	gi, gO, gf, gc := gr[:hid], gr[hid:2*hid], gr[2*hid:3*hid], gr[3*hid:4*hid]
	f, g, hact := j.acts[0], j.acts[1], j.acts[2]
	if j.p != nil {
		pi, pf := j.p[:hid], j.p[2*hid:3*hid]
		for i, cv := range cb {
			gi[i] += pi[i] * cv
			gf[i] += pf[i] * cv
		}
	}
	if clip > 0 {
		clipSlice(gi, clip)
		clipSlice(gf, clip)
		clipSlice(gc, clip)
	}
	applyAct(f, gi)
	if j.a.inputForget {
		for i, v := range gi {
			gf[i] = 1 - v
		}
	} else {
		applyAct(f, gf)
	}
	applyAct(g, gc)
	for i := range cb {
		cb[i] = gf[i]*cb[i] + gi[i]*gc[i]
	}
	if j.p != nil {
		po := j.p[hid : 2*hid]
		for i, cv := range cb {
			gO[i] += po[i] * cv
		}
	}
	if clip > 0 {
		clipSlice(gO, clip)
	}
	applyAct(f, gO)
	copy(gc, cb)
	applyAct(hact, gc)
	for i := range hb {
		hb[i] = gO[i] * gc[i]
	}
}

// gruFinish computes the hidden gate of one GRU batch row and updates hb.
// gr holds activated z and r and, in its h block, the recurrent product:
// Ht-1·Rh^T with linear_before_reset, (r⊙Ht-1)·Rh^T without.
func (j *rnnDir[T]) gruFinish(gr []T, t, b int, hb []T, clip T) {
	hid := len(hb)
	z, r, hh := gr[:hid], gr[hid:2*hid], gr[2*hid:3*hid]
	base := j.xRow(t, b)*j.xwStride + j.xwOff + 2*hid
	xr := j.xw[base : base+hid]
	bias := j.bias[2*hid : 3*hid]
	if j.a.lbr {
		for i := range hh {
			hh[i] = xr[i] + bias[i] + r[i]*(hh[i]+j.rbh[i])
		}
	} else {
		for i := range hh {
			hh[i] += xr[i] + bias[i]
		}
	}
	if clip > 0 {
		clipSlice(hh, clip)
	}
	applyAct(j.acts[1], hh)
	for i := range hb {
		hb[i] = (1-z[i])*hh[i] + z[i]*hb[i]
	}
}

// clipSlice bounds v to [-c, c] in place.
func clipSlice[T Float](v []T, c T) {
	for i, x := range v {
		v[i] = min(max(x, -c), c)
	}
}

// gemmNT computes C = A·B^T for row-major A (m×k, row stride lda), B (n×k,
// stride ldb) and C (m×n, stride ldc), overwriting C.
func gemmNT[T Float](m, n, k int, a []T, lda int, b []T, ldb int, c []T, ldc int) {
	if m == 0 || n == 0 {
		return
	}
	if a32, ok := any(a).([]float32); ok {
		asm.Sgemm(false, true, m, n, k, 1, a32, lda, any(b).([]float32), ldb, 0, any(c).([]float32), ldc)
		return
	}
	for i := 0; i < m; i++ {
		ar := a[i*lda : i*lda+k]
		cr := c[i*ldc : i*ldc+n]
		for jj := range cr {
			br := b[jj*ldb : jj*ldb+k]
			var s0, s1, s2, s3 T
			p := 0
			for ; p+4 <= k; p += 4 {
				s0 += ar[p] * br[p]
				s1 += ar[p+1] * br[p+1]
				s2 += ar[p+2] * br[p+2]
				s3 += ar[p+3] * br[p+3]
			}
			for ; p < k; p++ {
				s0 += ar[p] * br[p]
			}
			cr[jj] = (s0 + s1) + (s2 + s3)
		}
	}
}

// gemmNN computes C = A·B for row-major A (m×k, row stride lda), B (k×n,
// stride ldb) and C (m×n, stride ldc), overwriting C.
func gemmNN[T Float](m, n, k int, a []T, lda int, b []T, ldb int, c []T, ldc int) {
	if m == 0 || n == 0 {
		return
	}
	if a32, ok := any(a).([]float32); ok {
		asm.Sgemm(false, false, m, n, k, 1, a32, lda, any(b).([]float32), ldb, 0, any(c).([]float32), ldc)
		return
	}
	for i := 0; i < m; i++ {
		cr := c[i*ldc : i*ldc+n]
		clear(cr)
		for p := 0; p < k; p++ {
			av := a[i*lda+p]
			br := b[p*ldb : p*ldb+n]
			for jj, bv := range br {
				cr[jj] += av * bv
			}
		}
	}
}

// gemmNNPar is gemmNN with the columns of C split over up to threads
// goroutines when the product is large enough to pay for starting them
// (it runs once per time step).
func gemmNNPar[T Float](threads, m, n, k int, a []T, lda int, b []T, ldb int, c []T, ldc int) {
	const minWork, align = 1 << 18, 16
	if threads <= 1 || m*n*k < minWork || n < 2*align {
		gemmNN(m, n, k, a, lda, b, ldb, c, ldc)
		return
	}
	// Split the columns in multiples of align.
	blocks := (n + align - 1) / align
	parallelFor(nil, threads, blocks, 1, func(lo, hi int) {
		j0, j1 := lo*align, min(hi*align, n)
		gemmNN(m, j1-j0, k, a, lda, b[j0:], ldb, c[j0:], ldc)
	})
}

// transposeR returns R (nd×gh×hid) with each direction's matrix
// transposed to hid×gh.
func transposeR[T Float](r []T, shape []int) []T {
	nd, gh, hid := shape[0], shape[1], shape[2]
	out := make([]T, len(r))
	for d := 0; d < nd; d++ {
		src, dst := r[d*gh*hid:(d+1)*gh*hid], out[d*gh*hid:(d+1)*gh*hid]
		for i := 0; i < gh; i++ {
			for p, v := range src[i*hid : (i+1)*hid] {
				dst[p*gh+i] = v
			}
		}
	}
	return out
}

// gemmNTPar is gemmNT with the rows of C split over up to threads
// goroutines when the product is large enough to pay for them.
func gemmNTPar[T Float](threads, m, n, k int, a []T, lda int, b []T, ldb int, c []T, ldc int) {
	const minWork = 1 << 16
	if threads > m {
		threads = m
	}
	if threads <= 1 || m*n*k < minWork {
		gemmNT(m, n, k, a, lda, b, ldb, c, ldc)
		return
	}
	parallelFor(nil, threads, m, 1, func(lo, hi int) {
		gemmNT(hi-lo, n, k, a[lo*lda:], lda, b, ldb, c[lo*ldc:], ldc)
	})
}
