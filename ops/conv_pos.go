package ops

import (
	"math"
	"sync"

	"github.com/onyxrt/onyx/ops/asm"
	"github.com/onyxrt/onyx/tensor"
)

// The position-major float32 convolution: an implicit GEMM whose rows are
// output positions and whose columns are output channels, for the small
// convolutions of CNNs like the MNIST and CIFAR ones (few channels, small
// planes, often batched). Each position is an offset into the input (a
// zero-bordered copy when the convolution pads), each im2col row (input
// channel and kernel tap) another, and asm.ConvPosTiles multiplies the
// input at their sums by the weights, packed once into panels of
// asm.PosPanel channels: no im2col matrix is copied, and no GEMM columns
// are wasted on the padding of a panel, since positions of several images
// fill the tiles. With a fused max pool only the positions that a pooling
// window reads are computed. asm.ConvPosEpi then pools, adds the bias,
// applies the activation and writes the channels' planes.

// Which convolutions take this path: small ones, where im2col copies
// and panel padding cost most (the large ones keep the im2col GEMM,
// whose panels of B are shared by many more output channels).
const (
	posMaxChannels = 128  // output channels
	posMaxK        = 1152 // input channels × kernel taps
	posMaxOut      = 2048 // output positions per image
	posRowsPerUnit = 384  // about how many positions a unit of images has
	posKBlock      = 320  // the deepest k block (a weight panel stays in L1)

	// posMaxWideWork bounds the multiply-adds per image (output
	// channels × positions × input channels × taps) of a convolution
	// that takes this path when the SGEMM has 512-bit tiles. On a Xeon
	// with AVX-512, one thread, with this path's AVX2 product: ResNet-50's
	// 28×28 3×3 of 128 channels (116M) ran in 2.9 ms on the im2col GEMM
	// against 4.1 ms here, MobileNetV2's first convolution (11M) in 0.39
	// against 0.45 ms, while the MNIST, CIFAR and speech CNNs'
	// convolutions (up to 8.3M) were as fast or faster here. With its
	// AVX-512 product (1.5-1.7 times the AVX2 one) the two large ones
	// ran about as fast here as on the GEMM, so the bound stayed.
	posMaxWideWork = 1 << 23
)

// convPosPlan is a float32 convolution resolved for the position-major
// path, for one input shape: the offsets of the positions and of the
// im2col rows, the epilogue's window table and the split into units of
// images. It is built once per shape and then only read.
type convPosPlan struct {
	p                *convPlan
	c, m, mPad, kdim int
	// pad: the input is copied into a zero-bordered buffer of planes
	// hp×wp (else those are the input's); inImg is the floats of an
	// image there.
	pad            bool
	hp, wp, inImg  int
	np             int          // positions computed per image
	unitPos        *asm.Offsets // offsets of the positions of a whole unit, padded to a tile
	lastPos        *asm.Offsets // those of the last unit when it has fewer images
	kOff           *asm.Offsets // offsets of the im2col rows
	win, nq        int          // epilogue window and output positions per image
	src            *asm.Offsets // epilogue table of one image (element offsets at ldc = mPad)
	imgs, units    int          // images per unit, units
	chunk, chunks  int          // positions per chunk of a unit and chunks per unit (see posChunking)
	macs           int
	bufs           sync.Pool
	kb             int // k block depth
	ySize, outSize int // output floats per image and per channel plane
}

// convPosBufs is one goroutine's scratch: the product of a unit and the
// zero-bordered input copy.
type convPosBufs struct {
	c, pad []float32
}

// posBeatsGemm reports whether the position-major path may pay for p
// against the im2col GEMM of the SGEMM in use (see posMaxWideWork).
func posBeatsGemm(p *convPlan) bool {
	return asm.SgemmImplementation() != "avx512" || p.m*p.outSize*p.c*p.kSize <= posMaxWideWork
}

// newConvPosPlan returns the position-major plan of p followed by the
// max pool pool (nil: none), or nil when p does not take that path.
func newConvPosPlan(p *convPlan, pool *poolPlan) *convPosPlan {
	if p.group != 1 || p.n == 0 || p.m == 0 || p.outSize == 0 || p.m%8 != 0 || p.m > posMaxChannels {
		return nil
	}
	g := p.g
	if len(g.in) == 1 {
		g = g.as2D()
	}
	if len(g.in) != 2 {
		return nil
	}
	if p.direct {
		// A 1×1 convolution that multiplies the input in place does
		// better on the GEMM path, unless its planes are stacked there
		// (see newConv32PlanNoPool).
		if pad := roundUpInt(p.outSize, asm.PanelWidth); p.n == 1 || 8*(pad-p.outSize) <= pad {
			return nil
		}
	}
	kdim := p.c * p.kSize
	if kdim > posMaxK || p.outSize > posMaxOut && !posLargePlaneOK(p, pool) || p.inSize == 0 {
		return nil
	}
	for i := range 2 {
		if g.pb[i] < 0 || g.pe[i] < 0 {
			return nil
		}
	}
	h, w := g.in[0], g.in[1]
	oh, ow := g.out[0], g.out[1]
	q := &convPosPlan{p: p, c: p.c, m: p.m, mPad: roundUpInt(p.m, asm.PosPanel), kdim: kdim}
	q.pad = g.pb[0] != 0 || g.pb[1] != 0 || g.pe[0] != 0 || g.pe[1] != 0
	q.hp, q.wp = h+g.pb[0]+g.pe[0], w+g.pb[1]+g.pe[1]
	q.inImg = p.c * q.hp * q.wp
	if int64(p.n)*int64(q.inImg) >= 1<<31 {
		return nil
	}
	// The positions computed, in row-major order, and the epilogue's
	// windows over them.
	var windows [][]int // per output position, the positions it pools
	if pool == nil {
		q.win, q.nq = 1, oh*ow
		windows = make([][]int, q.nq)
		for i := range windows {
			windows[i] = []int{i}
		}
	} else {
		pg := pool.g
		if len(pg.in) != 2 || pg.in[0] != oh || pg.in[1] != ow {
			return nil
		}
		q.win, q.nq = pg.k[0]*pg.k[1], pg.out[0]*pg.out[1]
		windows = make([][]int, q.nq)
		for py := 0; py < pg.out[0]; py++ {
			for px := 0; px < pg.out[1]; px++ {
				var win []int
				for i := 0; i < pg.k[0]; i++ {
					y := py*pg.s[0] - pg.pb[0] + i*pg.d[0]
					if y < 0 || y >= oh {
						continue
					}
					for j := 0; j < pg.k[1]; j++ {
						x := px*pg.s[1] - pg.pb[1] + j*pg.d[1]
						if x >= 0 && x < ow {
							win = append(win, y*ow+x)
						}
					}
				}
				if len(win) == 0 {
					return nil
				}
				windows[py*pg.out[1]+px] = win
			}
		}
	}
	row := make([]int, oh*ow) // position -> row in an image's product, or -1
	for i := range row {
		row[i] = -1
	}
	for _, win := range windows {
		for _, pos := range win {
			row[pos] = 0
		}
	}
	var posOff []int32
	for pos := range row {
		if row[pos] < 0 {
			continue
		}
		row[pos] = len(posOff)
		y, x := pos/ow, pos%ow
		posOff = append(posOff, int32(y*g.s[0]*q.wp+x*g.s[1]))
	}
	q.np = len(posOff)
	// src: blocks of 8 outputs, window element t of each, row offsets.
	src := make([]int32, roundUpInt(q.nq, 8)*q.win)
	for o := 0; o < roundUpInt(q.nq, 8); o++ {
		win := windows[min(o, q.nq-1)]
		for t := 0; t < q.win; t++ {
			src[(o/8*q.win+t)*8+o%8] = int32(row[win[min(t, len(win)-1)]] * q.mPad)
		}
	}
	q.src = asm.NewOffsets(src)
	kOff := make([]int32, kdim)
	for ci := 0; ci < p.c; ci++ {
		for ki := 0; ki < g.k[0]; ki++ {
			for kj := 0; kj < g.k[1]; kj++ {
				kOff[(ci*g.k[0]+ki)*g.k[1]+kj] = int32(ci*q.hp*q.wp + ki*g.d[0]*q.wp + kj*g.d[1])
			}
		}
	}
	q.imgs = max(1, min(p.n, posRowsPerUnit/q.np))
	if stacks := (p.n + q.imgs - 1) / q.imgs; stacks > 1 {
		// Units of equal size, an even number of them.
		stacks += stacks % 2
		q.imgs = (p.n + stacks - 1) / stacks
	}
	q.kOff = asm.NewOffsets(kOff)
	q.units = (p.n + q.imgs - 1) / q.imgs
	unitPos := func(ni int) *asm.Offsets {
		pos := make([]int32, roundUpInt(ni*q.np, asm.PosTileRows))
		for i := range pos {
			if i < ni*q.np {
				pos[i] = int32(i/q.np*q.inImg) + posOff[i%q.np]
			} else {
				pos[i] = posOff[0]
			}
		}
		return asm.NewOffsets(pos)
	}
	q.unitPos = unitPos(q.imgs)
	q.lastPos = q.unitPos
	if last := p.n - (q.units-1)*q.imgs; last != q.imgs {
		q.lastPos = unitPos(last)
	}
	nb := (kdim + posKBlock - 1) / posKBlock
	q.kb = (kdim + nb - 1) / nb
	q.outSize = q.nq
	q.ySize = p.m * q.nq
	q.macs = p.n * q.np * p.m * kdim
	q.chunk, q.chunks = posChunking(q, pool == nil && p.outSize > posMaxOut)
	return q
}

// packConvPosWeights packs W (M×kdim) into panels of asm.PosPanel
// channels, kdim rows each, zero past M, into dst (nil: fresh memory).
func packConvPosWeights(w []float32, m, kdim int, dst []float32) []float32 {
	mPad := roundUpInt(m, asm.PosPanel)
	if dst == nil {
		dst = make([]float32, mPad*kdim)
	}
	dst = dst[:mPad*kdim]
	for q := 0; q < mPad/asm.PosPanel; q++ {
		panel := dst[q*kdim*asm.PosPanel : (q+1)*kdim*asm.PosPanel]
		for j := 0; j < asm.PosPanel; j++ {
			oc := q*asm.PosPanel + j
			if oc >= m {
				for p := 0; p < kdim; p++ {
					panel[p*asm.PosPanel+j] = 0
				}
				continue
			}
			wr := w[oc*kdim : (oc+1)*kdim]
			for p, v := range wr {
				panel[p*asm.PosPanel+j] = v
			}
		}
	}
	return dst
}

// convPosWeights is a constant filter packed for the position-major path
// when the kernel was built.
type convPosWeights struct {
	w      *tensor.Tensor
	packed []float32
}

// newConvPosWeights packs the constant filter w (nil: none), when it is
// a float32 filter of group 1 that the path may use.
func newConvPosWeights(w *tensor.Tensor, group int) *convPosWeights {
	if w == nil || group != 1 || w.DType() != tensor.Float32 || w.Rank() < 3 || w.Shape()[0] > posMaxChannels {
		return nil
	}
	m := w.Shape()[0]
	if m == 0 || w.Len()/m > posMaxK {
		return nil
	}
	return &convPosWeights{w: w, packed: packConvPosWeights(w.Float32s(), m, w.Len()/m, nil)}
}

// forW returns the packed filter when W is the constant it was made from,
// else nil.
func (pw *convPosWeights) forW(W *tensor.Tensor) []float32 {
	if pw == nil || pw.w != W {
		return nil
	}
	return pw.packed
}

// runPos runs q's convolution on the position-major path when q has one
// and the operands fit it (a monotone activation), and reports whether it
// did. wp is the packed filter, or nil to pack w here. A summand z (of
// the convolution's shape) is added after the convolution and its bias,
// before the activation and the pool, as the unfused operators do.
func (q *conv32Plan) runPos(wk *Workers, threads int, x, w, wp, bias, z, y []float32, act *asm.ConvAct) bool {
	pq := q.pos
	if z != nil && q.pool != nil {
		pq = q.noPool.pos
	}
	if pq == nil || act.Leaky && !(act.Alpha >= 0) {
		return false
	}
	if wp == nil {
		buf := getScratch[float32](pq.mPad * pq.kdim)
		defer putScratch(buf)
		wp = packConvPosWeights(w, pq.m, pq.kdim, *buf)
	}
	if z == nil {
		pq.run(wk, threads, x, wp, bias, y, act)
		return true
	}
	// (conv + bias) + z, the activation, then the pool.
	t := y
	if q.pool != nil {
		buf := getScratch[float32](q.p.n * q.p.m * q.p.outSize)
		defer putScratch(buf)
		t = *buf
	}
	pq.run(wk, threads, x, wp, bias, t, &q.none) // the plan's identity: no escape per run
	asm.BiasSumAct(1, len(t), t, len(t), nil, z, len(t), act, t, len(t))
	if q.pool != nil {
		pp := *q.pool
		pp.threads, pp.workers = threads, wk
		maxPoolRun(&pp, t, y, nil, false, float32(-math.MaxFloat32))
	}
	return true
}

// convPosJob is one run of a convPosPlan.
type convPosJob struct {
	q           *convPosPlan
	x, w, b, y  []float32
	act         *asm.ConvAct
	parts, part int // channel parts per unit, panels per part
	wk          *Workers
}

// run computes y = pool(act(conv(x) + bias)) with the packed filter wp.
func (pq *convPosPlan) run(wk *Workers, threads int, x, wp, bias, y []float32, act *asm.ConvAct) {
	threads = max(1, min(threads, pq.macs>>20))
	j := convPosJob{q: pq, x: x, w: wp, b: bias, y: y, act: act, parts: 1, wk: wk}
	panels := pq.mPad / asm.PosPanel
	if pq.units < threads {
		j.parts = min(panels, (threads+pq.units-1)/pq.units)
	}
	if pq.units*pq.chunks >= threads {
		j.parts = 1
	}
	j.part = (panels + j.parts - 1) / j.parts
	j.parts = (panels + j.part - 1) / j.part
	items := pq.units * pq.chunks * j.parts
	if threads == 1 || items == 1 {
		j.run(0, items)
		return
	}
	// The job is copied into a task of the run's pool, which keeps
	// scratch for every goroutine: the split allocates nothing.
	wk.reserveScratch(pq, threads, newConvPosBufs)
	parallelPiecesOf(wk, threads, items, pieceItems(threads, items), j, (*convPosJob).run)
}

// getBufs returns a goroutine's scratch: one the run's pool wk keeps
// (see Workers.reserveScratch), else one of the plan's pool, else a new
// one.
func (pq *convPosPlan) getBufs(wk *Workers) *convPosBufs {
	if b, ok := wk.takeScratch(pq).(*convPosBufs); ok {
		return b
	}
	if b, ok := pq.bufs.Get().(*convPosBufs); ok {
		return b
	}
	return pq.newBufs()
}

// newConvPosBufs is pq.newBufs for Workers.reserveScratch.
func newConvPosBufs(pq any) any { return pq.(*convPosPlan).newBufs() }

// newBufs returns new scratch for pq.
func (pq *convPosPlan) newBufs() *convPosBufs {
	rows := pq.unitPos.Len()
	if pq.chunks > 1 {
		rows = pq.chunk
	}
	// Rows of mPad floats from a 64-byte boundary: the product's vector
	// stores and the epilogue's loads stay within cache lines.
	b := &convPosBufs{c: asm.AlignedFloats(rows*pq.mPad + 8)}
	if pq.pad {
		b.pad = make([]float32, pq.imgs*pq.inImg)
	}
	return b
}

// putBufs gives back the scratch of getBufs.
func (pq *convPosPlan) putBufs(wk *Workers, b *convPosBufs) {
	if !wk.keepScratch(pq, b) {
		pq.bufs.Put(b)
	}
}

// run computes the items [lo, hi) of (unit, channel part).
func (j *convPosJob) run(lo, hi int) {
	pq := j.q
	p := pq.p
	bufs := pq.getBufs(j.wk)
	defer pq.putBufs(j.wk, bufs)
	if pq.chunks > 1 {
		j.runChunks(bufs, lo, hi)
		return
	}
	for it := lo; it < hi; it++ {
		u, part := it/j.parts, it%j.parts
		img0 := u * pq.imgs
		ni := min(pq.imgs, p.n-img0)
		pos := pq.unitPos
		if ni < pq.imgs {
			pos = pq.lastPos
		}
		nt := pos.Len() / asm.PosTileRows
		xs := j.x[img0*p.c*p.inSize : (img0+ni)*p.c*p.inSize]
		if pq.pad {
			pq.fillPad(xs, ni, bufs.pad)
			xs = bufs.pad[:ni*pq.inImg]
		}
		q0 := part * j.part
		q1 := min(q0+j.part, pq.mPad/asm.PosPanel)
		c := bufs.c
		for k0 := 0; k0 < pq.kdim; k0 += pq.kb {
			kb := min(pq.kb, pq.kdim-k0)
			asm.ConvPosTilesPanels(kb, xs, pos, 0, nt, pq.kOff, k0, j.w, pq.kdim, q0, q1, c, pq.mPad, k0 > 0)
		}
		m1 := min(pq.m, q1*asm.PosPanel)
		for img := 0; img < ni; img++ {
			ci := c[img*pq.np*pq.mPad:]
			yi := j.y[(img0+img)*pq.ySize:]
			ch := q0 * asm.PosPanel
			var b []float32
			if j.b != nil {
				b = j.b[ch:m1]
			}
			asm.ConvPosEpi(ci[ch:], pq.src, pq.win, pq.nq, (m1-ch)/8, b, j.act, yi[ch*pq.outSize:], pq.outSize)
		}
	}
}

// fillPad copies ni images of x into the interior of the zero-bordered
// buffer dst (whose borders are zero: only interiors are ever written).
func (pq *convPosPlan) fillPad(x []float32, ni int, dst []float32) {
	g := pq.p.g
	if len(g.in) == 1 {
		g = g.as2D()
	}
	h, w := g.in[0], g.in[1]
	pt, pl := g.pb[0], g.pb[1]
	for i := 0; i < ni*pq.c; i++ {
		src := x[i*h*w : (i+1)*h*w]
		d := dst[i*pq.hp*pq.wp:]
		for y := 0; y < h; y++ {
			copy(d[(y+pt)*pq.wp+pl:(y+pt)*pq.wp+pl+w], src[y*w:(y+1)*w])
		}
	}
}
