package ops

import (
	"math"
	"sync"

	"github.com/onyxrt/onyx/ops/asm"
)

// The float32 Conv path. A 3×3 depthwise convolution (group == C == M)
// runs a direct kernel per channel; every other 1-D or 2-D convolution is,
// per (image, group), one GEMM of the weights (M/group × C/group·k) by the
// im2col matrix, which is never materialized: asm.SgemmAct asks for it
// block by block, and each block is copied straight into the panel layout
// the GEMM micro-kernel reads, as runs of contiguous input (im2colPlan,
// asm.CopyRuns), or by the plain packer for 1×1 convolutions. The bias and
// the activation are applied to the output while it is in cache. Planes
// of few output positions (a 32-column panel would be mostly padding)
// stack the columns of several images into one GEMM and scatter the
// result.
// Small convolutions (few channels, small planes: the MNIST and CIFAR
// CNNs) take the position-major path of conv_pos.go instead, when their
// plan has one (conv32Plan.pos): output positions as GEMM rows, read
// straight from the input, no im2col copy and no padded panels.
// With the AVX-512 kernels, convolutions of one image on planes too
// small to fill the panels (7×7, 4×4, 3×3) take the position-row path of
// conv_rows.go when their filter is a constant (conv32Plan.rows; those
// with kernels larger than 1×1 then plan no position-major path): the
// GEMM turned around on the filter
// transposed and packed once (for kernels larger than 1×1, on the input's
// im2col matrix turned around), then the result transposed into the
// channels' planes.

// convBatchCols is about how many GEMM columns a stack of images gets
// when planes are small.
const convBatchCols = 512

// convPoolBudget is the most floats of convolution output that one unit
// of a convolution with a fused max pool keeps in a scratch buffer (in
// L2) before pooling it; larger units pool in a second pass.
const convPoolBudget = 96 << 10

// conv32Plan is a float32 convolution resolved for one input and filter
// shape: how convRun32 splits it into GEMMs, the im2col layout, and the
// fused max pool, if any. It is built once per shape and then only read.
type conv32Plan struct {
	p            *convPlan
	g2           *geom // 2-D geometry (1-D as 2-D); nil for N-D and depthwise
	cg, mg, kdim int
	imgs         int // images stacked into one GEMM
	units, cols  int // (stack, group) units and the columns of a unit
	macs         int
	direct, sub  bool
	ic           *im2colPlan
	// pool is the fused max pool (nil: none); poolUnit tells whether
	// each unit is pooled straight from its scratch, else the whole
	// output is pooled afterwards. poolBand is the columns of a band of
	// pooled rows when pooling windows do not overlap vertically (a unit
	// may then be split by columns), else 0.
	pool     *poolPlan
	poolUnit bool
	poolBand int
	// poolTall tells whether the planes of consecutive channels, one
	// under the other, pool as one tall plane: every window lies inside
	// its plane, and the rows computed pair up with the pooled rows
	// exactly.
	poolTall bool
	// unitCols is the columns of a unit of one image that are computed:
	// all, or with a pool, only the rows its windows read.
	unitCols int
	// none is the identity activation, for a first pass whose summand
	// is added after it (read-only, so that it need not escape per run).
	none asm.ConvAct
	// bufs recycles the scratch of one goroutine (*conv32Bufs) sized
	// for this plan.
	bufs sync.Pool
	// noPool is the plan without the pool (when there is one), for
	// pooling afterwards.
	noPool *conv32Plan
	// pos is the position-major plan (conv_pos.go), or nil when the
	// convolution does not take that path.
	pos *convPosPlan
	// rows tells whether the convolution takes the position-row path
	// (conv_rows.go) when its filter is a constant.
	rows bool
}

// conv32Bufs is one goroutine's scratch: the zero-padded input copy (or
// the subsampled input), the product of a stack of images or a unit to
// pool, the copy of the end of the input that the last unit reads, and
// the position-row path's matrices (the last two made when first
// needed).
type conv32Bufs struct {
	pad, out, tail []float32
	rows           []float32 // the position-row path's input with channels last and im2row
}

// newConv32Plan resolves p (and the max pool pool of its output, or nil)
// for convRun32. The position-major path is planned only where its
// kernels are assembly (asm.ConvPosAccelerated) and may beat the GEMM
// (posBeatsGemm).
func newConv32Plan(p *convPlan, pool *poolPlan) *conv32Plan {
	return newConv32PlanPos(p, pool, asm.ConvPosAccelerated() && posBeatsGemm(p))
}

// newConv32PlanPos is newConv32Plan with the position-major path planned
// or not as pos says (tests plan it on the Go kernels too).
func newConv32PlanPos(p *convPlan, pool *poolPlan, pos bool) *conv32Plan {
	q := newConv32PlanNoPool(p, pool, pos)
	if pool != nil {
		q.noPool = newConv32PlanNoPool(p, nil, pos)
	}
	return q
}

func newConv32PlanNoPool(p *convPlan, pool *poolPlan, pos bool) *conv32Plan {
	q := &conv32Plan{p: p, pool: pool, none: asm.ConvActNone()}
	q.cg, q.mg = p.c/p.group, p.m/p.group
	q.kdim = q.cg * p.kSize
	q.macs = p.n * p.m * q.kdim * p.outSize
	if pos {
		q.pos = newConvPosPlan(p, pool)
	}
	if p.n == 0 || p.m == 0 || p.outSize == 0 || p.depthwise3x3() {
		return q
	}
	g2 := p.g
	if len(g2.in) == 1 {
		g2 = g2.as2D()
	}
	if len(g2.in) != 2 {
		return q
	}
	q.g2 = g2
	// Stack images when the padding of the last panel would waste more
	// than an eighth of the work.
	q.imgs = 1
	if pad := roundUpInt(p.outSize, asm.PanelWidth); p.n > 1 && 8*(pad-p.outSize) > pad {
		q.imgs = min(p.n, max(1, convBatchCols/p.outSize))
		// Stacks of equal size, an even number of them when there are
		// several, so that two threads share them evenly.
		if stacks := (p.n + q.imgs - 1) / q.imgs; stacks > 1 {
			stacks += stacks % 2
			q.imgs = (p.n + stacks - 1) / stacks
		}
	}
	stacks := (p.n + q.imgs - 1) / q.imgs
	q.units = stacks * p.group
	q.cols = q.imgs * p.outSize
	q.unitCols = p.outSize
	q.direct = p.direct && q.imgs == 1
	// A strided 1×1 convolution without padding reads a subsampled copy
	// of the input directly.
	q.sub = !q.direct && q.imgs == 1 && p.kSize == 1 && g2.pb[0] == 0 && g2.pb[1] == 0 && g2.pe[0] == 0 && g2.pe[1] == 0
	if !q.direct && !q.sub {
		q.ic = newIm2colPlan(p, g2, q.imgs)
	}
	q.rows = rowsPlanned(p, q)
	if q.rows && !q.direct && !q.sub {
		// The position-row path takes these from the position-major
		// one (see conv_rows.go); with a filter that is not a
		// constant they take the im2col GEMM.
		q.pos = nil
	}
	if pool != nil {
		pg := pool.g
		q.poolUnit = pool.direct && len(pg.in) == 2 && pg.d[0] == 1 && pg.d[1] == 1 &&
			asm.MaxColsSupported(pg.k[1], pg.s[1]) && q.mg*q.cols <= convPoolBudget
		if q.poolUnit && q.imgs == 1 && pg.pb[0] == 0 && pg.k[0] <= pg.s[0] {
			q.poolBand = pg.s[0] * g2.out[1]
		}
		// Rows below the last window are not computed.
		rows := min(pg.in[0], max(0, (pg.out[0]-1)*pg.s[0]-pg.pb[0]+pg.k[0]))
		if q.poolUnit && q.imgs == 1 && rows > 0 {
			q.unitCols = rows * g2.out[1]
		}
		ylo, yhi := insideRange(pg.in[0], pg.k[0], pg.s[0], pg.pb[0], pg.out[0])
		xlo, xhi := insideRange(pg.in[1], pg.k[1], pg.s[1], pg.pb[1], pg.out[1])
		q.poolTall = q.poolUnit && ylo == 0 && yhi == pg.out[0] && xlo == 0 && xhi == pg.out[1] &&
			pg.pb[0] == 0 && pg.pb[1] == 0 && pg.k[0] <= pg.s[0] && q.unitCols == pg.out[0]*pg.s[0]*g2.out[1]
	}
	return q
}

// getBufs returns a goroutine's scratch, sized for q: one the run's pool
// wk keeps (see Workers.reserveScratch), else one of the plan's pool,
// else a new one.
func (q *conv32Plan) getBufs(wk *Workers) *conv32Bufs {
	if b, ok := wk.takeScratch(q).(*conv32Bufs); ok {
		return b
	}
	if b, ok := q.bufs.Get().(*conv32Bufs); ok {
		return b
	}
	return q.newBufs()
}

// newConv32Bufs is q.newBufs for Workers.reserveScratch.
func newConv32Bufs(q any) any { return q.(*conv32Plan).newBufs() }

// newBufs returns new scratch for q.
func (q *conv32Plan) newBufs() *conv32Bufs {
	b := &conv32Bufs{}
	switch {
	case q.sub:
		b.pad = make([]float32, q.cg*q.p.outSize)
	case q.ic != nil && q.ic.copy:
		b.pad = make([]float32, q.ic.img*q.imgs+asm.CopyRunsSlack)
	}
	if q.imgs > 1 || q.poolUnit {
		b.out = make([]float32, q.mg*q.cols+asm.MaxPlaneSlack)
	}
	return b
}

// putBufs gives back the scratch of getBufs.
func (q *conv32Plan) putBufs(wk *Workers, b *conv32Bufs) {
	if !wk.keepScratch(q, b) {
		q.bufs.Put(b)
	}
}

// convRun32 computes y = act(conv(x, w) + bias) (bias may be nil) on up to
// threads goroutines. y is fully written.
func convRun32(wk *Workers, threads int, p *convPlan, x, w, bias, y []float32, act *asm.ConvAct) {
	newConv32Plan(p, nil).run(wk, threads, x, w, bias, nil, y, act)
}

// run computes y = act(conv(x, w) + bias + z), or its max pool when q
// has one, on up to threads goroutines (bias and z may be nil; z has the
// convolution's output shape). y is fully written.
func (q *conv32Plan) run(wk *Workers, threads int, x, w, bias, z, y []float32, act *asm.ConvAct) {
	p := q.p
	if q.pool != nil && !q.poolUnit {
		// Convolve into scratch, then pool.
		buf := getScratch[float32](p.n * p.m * p.outSize)
		defer putScratch(buf)
		q.runThenPool(wk, threads, x, w, bias, z, *buf, y, act)
		return
	}
	if p.n == 0 || p.m == 0 || p.outSize == 0 {
		return
	}
	if q.g2 == nil {
		// Depthwise, or N-D (the generic path with the vector
		// epilogue); a summand goes in a second pass.
		a := act
		if z != nil {
			a = &q.none
		}
		if p.depthwise3x3() {
			depthwiseRun(wk, threads, p, x, w, bias, y, a)
		} else {
			var f func([]float32)
			if *a != q.none {
				f = func(s []float32) { asm.BiasAct(1, len(s), s, len(s), nil, a, s, len(s)) }
			}
			convRun(wk, threads, p, x, w, bias, y, f)
		}
		if z != nil {
			asm.BiasSumAct(1, len(y), y, len(y), nil, z, len(y), act, y, len(y))
		}
		return
	}
	// Each thread gets at least about a million multiply-adds.
	threads = max(1, min(threads, q.macs>>20))
	// Split a unit's columns (in whole panels, or in bands of pooled
	// rows), or else its rows, so that every thread has work.
	j := conv32Job{q: q, x: x, w: w, bias: bias, z: z, y: y, act: act, colParts: 1, rowParts: 1, colAlign: asm.PanelWidth, wk: wk}
	if threads > 1 {
		j.colParts, j.rowParts, j.colAlign = q.splitParts(threads) // conv_split.go
	}
	items := q.units * j.colParts * j.rowParts
	if threads == 1 || items == 1 {
		j.run(0, items) // no closure to allocate
		return
	}
	// Pieces as conv_split.go decides; the job is copied into a task of
	// the run's pool, and the pool keeps scratch for every goroutine, so
	// that the split allocates nothing.
	wk.reserveScratch(q, threads, newConv32Bufs)
	parallelPiecesOf(wk, threads, items, pieceItems(threads, items), j, (*conv32Job).run)
}

// runThenPool is run for a plan whose pool does not read units from
// scratch: the convolution into t (of the convolution's output size),
// then the pool of t into y.
func (q *conv32Plan) runThenPool(wk *Workers, threads int, x, w, bias, z, t, y []float32, act *asm.ConvAct) {
	q.noPool.run(wk, threads, x, w, bias, z, t, act)
	pp := *q.pool
	pp.threads, pp.workers = threads, wk
	maxPoolRun(&pp, t, y, nil, false, float32(-math.MaxFloat32))
}

// conv32Job is one run of a conv32Plan: its operands, and how units are
// split into parts.
type conv32Job struct {
	q                  *conv32Plan
	x, w, bias, z, y   []float32
	act                *asm.ConvAct
	colParts, rowParts int
	colAlign           int // columns a column part holds a multiple of
	wk                 *Workers
}

// run computes the items [lo, hi) of (unit, part).
func (j *conv32Job) run(lo, hi int) {
	q, p := j.q, j.q.p
	x, w, bias, z, y, act := j.x, j.w, j.bias, j.z, j.y, j.act
	g2 := q.g2
	cg, mg, kdim, imgs := q.cg, q.mg, q.kdim, q.imgs
	colParts, rowParts, colAlign := j.colParts, j.rowParts, j.colAlign
	parts := colParts * rowParts
	var pool *geom
	poolOut := 0
	if q.pool != nil {
		pool, poolOut = q.pool.g, q.pool.outSize
	}
	bufs := q.getBufs(j.wk)
	defer q.putBufs(j.wk, bufs)
	var runBuf [3 * 256]int32
	var startBuf [9]int32
	for it := lo; it < hi; it++ {
		part := it % parts
		u := it / parts
		gi := u % p.group
		img0 := (u / p.group) * imgs
		ni := min(imgs, p.n-img0)
		ucols := ni * p.outSize
		if ni == 1 {
			ucols = q.unitCols
		}
		cp, rp := part%colParts, part/colParts
		j0, j1 := splitRange(ucols, colParts, cp, colAlign)
		m0, m1 := splitRange(mg, rowParts, rp, 1)
		if j0 >= j1 || m0 >= m1 {
			continue
		}
		base := (img0*p.c + gi*cg) * p.inSize
		var pack asm.PackFunc
		switch {
		case q.direct:
			xg := x[base : base+cg*p.inSize]
			pack = func(p0, kb, jj, nb int, dst []float32) {
				asm.PackBlock(xg, p.inSize, p0, kb, j0+jj, nb, dst)
			}
		case q.sub:
			xs := bufs.pad
			subsample(x[base:], cg, p.inSize, g2, xs)
			pack = func(p0, kb, jj, nb int, dst []float32) {
				asm.PackBlock(xs, p.outSize, p0, kb, j0+jj, nb, dst)
			}
		default:
			ic := q.ic
			src := x[base:]
			switch {
			case ic.copy:
				// Only the padded rows that the part's output rows read.
				r0, r1 := 0, ic.rows
				if ni == 1 && colParts > 1 {
					ow := g2.out[1]
					r0 = (j0 / ow) * g2.s[0]
					r1 = min(ic.rows, ((j1-1)/ow)*g2.s[0]+(g2.k[0]-1)*g2.d[0]+1)
				}
				ic.fill(x, base, ni, bufs.pad, r0, r1)
				src = bufs.pad
			case ic.tail(base, ni, p.outSize, len(x)):
				// The last unit: read a copy of the rest of x.
				need := len(src) + asm.CopyRunsSlack
				if cap(bufs.tail) < need {
					bufs.tail = make([]float32, need)
				}
				t := bufs.tail[:need]
				copy(t, src)
				src = t
			}
			pack = func(p0, kb, jj, nb int, dst []float32) {
				if c0, c1 := j0+jj, j0+jj+nb; c0%asm.PanelWidth == 0 && (c1%asm.PanelWidth == 0 || c1 == len(ic.colIdx)) {
					// Whole panels: their runs were split once, in the plan.
					q0 := c0 / asm.PanelWidth
					np := (nb + asm.PanelWidth - 1) / asm.PanelWidth
					asm.CopyRuns(dst, kb, np, src, ic.rowOff[p0:p0+kb], ic.runs, ic.starts[q0:q0+np+1])
					return
				}
				runs, starts := im2colRuns(ic.colIdx[j0+jj:j0+jj+nb], runBuf[:0], startBuf[:0])
				asm.CopyRuns(dst, kb, len(starts)-1, src, ic.rowOff[p0:p0+kb], runs, starts)
			}
		}
		wg := w[(gi*mg+m0)*kdim:]
		var bg []float32
		if bias != nil {
			bg = bias[gi*mg+m0 : gi*mg+m1]
		}
		// zAt is the summand of row m0 of the unit's image img at
		// position pos.
		zAt := func(img, pos int) []float32 {
			if z == nil {
				return nil
			}
			return z[((img0+img)*p.m+gi*mg+m0)*p.outSize+pos:]
		}
		n := j1 - j0
		switch {
		case ni == 1 && pool == nil:
			c := y[(img0*p.m+gi*mg+m0)*p.outSize+j0:]
			asm.SgemmActSum(m1-m0, n, kdim, wg, kdim, pack, bg, zAt(0, j0), p.outSize, act, c, p.outSize)
		case ni == 1:
			// One image: its rows [j0/ow, j1/ow) go to scratch, then
			// their pooled rows to y.
			c := bufs.out
			asm.SgemmActSum(m1-m0, n, kdim, wg, kdim, pack, bg, zAt(0, j0), p.outSize, act, c, n)
			ow := g2.out[1]
			pr0, pr1 := 0, pool.out[0]
			if colParts > 1 {
				pr0 = j0 / colAlign
				if j1 < ucols {
					pr1 = j1 / colAlign
				}
			}
			if q.poolTall && colParts == 1 {
				// The channels' planes, one under the other, in one call.
				dst := y[(img0*p.m+gi*mg+m0)*poolOut : (img0*p.m+gi*mg+m1)*poolOut]
				asm.MaxPlane(dst, pool.out[1], pool.out[1], (m1-m0)*pool.out[0], c, ow, pool.k[0], pool.k[1], pool.s[0], pool.s[1])
				break
			}
			for i := 0; i < m1-m0; i++ {
				dst := y[(img0*p.m+gi*mg+m0+i)*poolOut:]
				maxPoolPlane32(pool, c[i*n:], ow, j0/ow, dst[:poolOut], pr0, pr1, float32(-math.MaxFloat32))
			}
		default:
			// Stacked images: the product goes to scratch, then each
			// image's columns get the epilogue on their way to y, or
			// in place and pooled.
			c := bufs.out[:(m1-m0)*n+asm.MaxPlaneSlack]
			asm.SgemmAct(m1-m0, n, kdim, wg, kdim, pack, nil, nil, c, n)
			for j := j0; j < j1; {
				img, pos := j/p.outSize, j%p.outSize
				run := min(p.outSize-pos, j1-j)
				if pool == nil {
					dst := y[((img0+img)*p.m+gi*mg+m0)*p.outSize+pos:]
					if run == p.outSize {
						// A whole image: its channels' planes follow each other.
						asm.BiasSumActPacked(m1-m0, run, c[j-j0:], n, bg, zAt(img, pos), p.outSize, act, dst[:(m1-m0)*p.outSize])
					} else {
						asm.BiasSumAct(m1-m0, run, c[j-j0:], n, bg, zAt(img, pos), p.outSize, act, dst, p.outSize)
					}
				} else {
					// Whole images (colParts is 1).
					ci := c[j-j0:]
					asm.BiasSumAct(m1-m0, run, ci, n, bg, zAt(img, pos), p.outSize, act, ci, n)
					for i := 0; i < m1-m0; i++ {
						dst := y[((img0+img)*p.m+gi*mg+m0+i)*poolOut:]
						maxPoolPlane32(pool, ci[i*n:], g2.out[1], 0, dst[:poolOut], 0, pool.out[0], float32(-math.MaxFloat32))
					}
				}
				j += run
			}
		}
	}
}

// im2colPlan lays out the im2col matrix of one group of a stack of
// images as offsets into a source: element (p, j) is src[rowOff[p] +
// colIdx[j]]. The source is the input itself when the windows need no
// padding and step by one column; otherwise each unit copies its input
// into a zero-bordered buffer whose rows are split into stride phases
// (phase f of a row holds its columns f, f+s, f+2s, ...), so that the
// columns of an output row are contiguous for every kernel tap.
type im2colPlan struct {
	g              *geom
	copy           bool
	rows, rowLen   int // rows of a padded plane and floats per padded row
	phaseLen       int // floats per phase of a padded row
	cg             int // channels per group
	plane, img     int // floats per plane and per image of the source
	inPlane, inImg int // the same in the input
	rowOff, colIdx []int32
	// runs and starts are the runs of colIdx for asm.CopyRuns, panel
	// by panel (im2colRuns of all the columns).
	runs, starts []int32
}

func newIm2colPlan(p *convPlan, g *geom, imgs int) *im2colPlan {
	h, w := g.in[0], g.in[1]
	kh, kw := g.k[0], g.k[1]
	oh, ow := g.out[0], g.out[1]
	sh, sw, dh, dw := g.s[0], g.s[1], g.d[0], g.d[1]
	cg := p.c / p.group
	q := &im2colPlan{g: g, cg: cg, inPlane: p.inSize, inImg: p.c * p.inSize}
	q.copy = sw != 1 || g.pb[0] != 0 || g.pb[1] != 0 || g.pe[0] != 0 || g.pe[1] != 0
	if q.copy {
		q.rows = (oh-1)*sh + (kh-1)*dh + 1
		wp := (ow-1)*sw + (kw-1)*dw + 1
		q.phaseLen = (wp + sw - 1) / sw
		q.rowLen = q.phaseLen * sw
		q.plane = q.rows * q.rowLen
		q.img = cg * q.plane
	} else {
		q.rows, q.rowLen, q.phaseLen = h, w, w
		q.plane, q.img = p.inSize, p.c*p.inSize
	}
	q.rowOff = make([]int32, cg*kh*kw)
	for ci := 0; ci < cg; ci++ {
		for ki := 0; ki < kh; ki++ {
			for kj := 0; kj < kw; kj++ {
				c := kj * dw
				q.rowOff[(ci*kh+ki)*kw+kj] = int32(ci*q.plane + ki*dh*q.rowLen + (c%sw)*q.phaseLen + c/sw)
			}
		}
	}
	q.colIdx = make([]int32, imgs*p.outSize)
	for i := range q.colIdx {
		img, pos := i/p.outSize, i%p.outSize
		oy, ox := pos/ow, pos%ow
		q.colIdx[i] = int32(img*q.img + oy*sh*q.rowLen + ox)
	}
	q.runs, q.starts = im2colRuns(q.colIdx, nil, nil)
	return q
}

// tail reports whether the runs of a unit of ni images whose source
// starts at x[base:] would read past the end of x (by up to
// CopyRunsSlack floats), so that the unit must read a copy.
func (q *im2colPlan) tail(base, ni, outSize, xlen int) bool {
	last := base + int(q.rowOff[len(q.rowOff)-1]) + int(q.colIdx[ni*outSize-1])
	return last+asm.CopyRunsSlack >= xlen
}

// fill copies the group of ni images at x[base:] into buf (whose
// padding is already zero): the padded rows [r0, r1) of every plane.
func (q *im2colPlan) fill(x []float32, base, ni int, buf []float32, r0, r1 int) {
	g := q.g
	h, w := g.in[0], g.in[1]
	pt, pl := g.pb[0], g.pb[1]
	s := q.rowLen / q.phaseLen
	y0, y1 := max(0, -pt, r0-pt), min(h, q.rows-pt, r1-pt)
	x0, x1 := 0, min(w, q.phaseLen*s-pl)
	if x1 <= x0 {
		return
	}
	for img := 0; img < ni; img++ {
		for ci := 0; ci < q.cg; ci++ {
			src := x[base+img*q.inImg+ci*q.inPlane:]
			dst := buf[img*q.img+ci*q.plane:]
			for iy := y0; iy < y1; iy++ {
				row := src[iy*w+x0 : iy*w+x1]
				d := dst[(iy+pt)*q.rowLen:]
				if s == 1 {
					copy(d[x0+pl:], row)
					continue
				}
				if s == 2 {
					// row[2i] to a[i], row[2i+1] to b[i]: the phase
					// of px0 first.
					px0 := x0 + pl
					ev, od := d[:q.phaseLen], d[q.phaseLen:2*q.phaseLen]
					a, b := ev[px0>>1:], od[px0>>1:]
					if px0&1 != 0 {
						a, b = od[px0>>1:], ev[px0>>1+1:]
					}
					asm.Deinterleave(a[:(len(row)+1)/2], b[:len(row)/2], row)
					continue
				}
				for i, v := range row {
					px := x0 + i + pl
					d[(px%s)*q.phaseLen+px/s] = v
				}
			}
		}
	}
}

// subsample sets dst[c][oy][ox] = x[c][oy*sh][ox*sw] for the c planes of
// x: the input of a 1×1 convolution with strides and no padding.
func subsample(x []float32, c, plane int, g *geom, dst []float32) {
	w := g.in[1]
	oh, ow := g.out[0], g.out[1]
	sh, sw := g.s[0], g.s[1]
	for ci := 0; ci < c; ci++ {
		src := x[ci*plane:]
		d := dst[ci*oh*ow : (ci+1)*oh*ow]
		for oy := 0; oy < oh; oy++ {
			row := src[oy*sh*w:]
			out := d[oy*ow : (oy+1)*ow]
			if sw == 1 {
				copy(out, row)
				continue
			}
			for ox := range out {
				out[ox] = row[ox*sw]
			}
		}
	}
}

// im2colRuns splits the columns with source offsets colIdx into runs of
// consecutive offsets within 32-column panels, for asm.CopyRuns.
func im2colRuns(colIdx []int32, runs, starts []int32) ([]int32, []int32) {
	const pn = asm.PanelWidth
	for q := 0; q*pn < len(colIdx); q++ {
		starts = append(starts, int32(len(runs)/3))
		ci := colIdx[q*pn : min(len(colIdx), (q+1)*pn)]
		for c := 0; c < len(ci); {
			e := c + 1
			for e < len(ci) && ci[e] == ci[e-1]+1 {
				e++
			}
			runs = append(runs, ci[c], int32(c), int32((e-c+7)/8))
			c = e
		}
	}
	starts = append(starts, int32(len(runs)/3))
	return runs, starts
}

// splitRange returns part i of [0, n) split into parts pieces whose
// boundaries are multiples of align.
func splitRange(n, parts, i, align int) (lo, hi int) {
	if parts <= 1 {
		return 0, n
	}
	units := (n + align - 1) / align
	lo = min(n, (units*i/parts)*align)
	hi = min(n, (units*(i+1)/parts)*align)
	return lo, hi
}

func roundUpInt(x, m int) int { return (x + m - 1) / m * m }
