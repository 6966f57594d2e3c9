package ops

import (
	"github.com/onyxrt/onyx/ops/asm"
)

// This file holds the float32 matrix-product driver of Gemm, MatMul and
// FusedGemm: one product, with B packed once (at Build time for constant
// weights), split over threads only when each extra thread gets enough
// work, and an optional epilogue applied to each tile of C while it is
// in cache.

// gemmThreadWork is the number of multiply-adds each thread of a split
// product must get: below it, starting a goroutine and waiting for it
// costs more than it saves.
const gemmThreadWork = 1 << 20

// sgemmJob is one float32 product C = alpha*op(A)*op(B) + beta*C (C unread
// when beta is 0) with op(A) m×k and op(B) k×n; pb, when set, is op(B)
// packed by asm.PackB. epi, when set, is applied to every element of C
// once it is final, tile by tile where the product is packed
// (asm.SgemmPackedEpi); a block of a split product gets it with its own
// tail of c and coordinates relative to that (its offset in c is
// cap(c) - cap(tail)).
//
// The packed B is used only where asm.SgemmPacks says that Sgemm would
// pack B too, so that a constant B gives bit for bit what the same B as
// a run-time input gives (a trained model and its exported copy agree);
// with b nil, pb is used throughout (the recurrent products, whose R is
// packed whether it is a constant or not).
type sgemmJob struct {
	transA, transB bool
	m, n, k        int
	alpha, beta    float32
	a              []float32
	lda            int
	b              []float32
	ldb            int
	pb             *asm.PackedB
	c              []float32
	ldc            int
	epi            asm.Epilogue
	workers        *Workers // the run's pool, or nil
}

// run computes the product on up to threads goroutines. A packed B
// splits by rows: each task streams B's panels past its own rows of A. A
// B not packed yet splits by columns when it is wide enough: each task
// packs only its own columns, all in parallel, and reads A in place.
func (j *sgemmJob) run(threads int) {
	if j.m <= 0 || j.n <= 0 {
		return
	}
	t := min(threads, max(j.m*j.n*max(j.k, 1)/gemmThreadWork, 1))
	tr := asm.TileRows()
	if t > 1 && j.pb == nil && j.m >= 2*t*tr && j.n >= 2*t*asm.ColAlign && asm.SgemmPacks(j.transA, tr, j.n, j.k) &&
		asm.SgemmPacksA(j.transA, j.rowBlock(t), j.n, j.k) {
		// Tall and wide, with an A that Sgemm packs even in blocks of
		// rows: B is packed once, by all threads (each its own columns),
		// then split by rows like a constant B, so that every task packs
		// only its own rows of A. (Split by columns, each task would pack
		// all of A; where the row blocks are too small to pack, the
		// column split measured slightly better.)
		j.sharedB(t)
		return
	}
	cols := j.n >= 2*t*asm.ColAlign && (j.pb == nil || j.m < 2*t*tr)
	rows := !cols && j.m >= 2*t*tr
	if t <= 1 || !cols && !rows {
		j.block(0, j.m, 0, j.n, j.pb)
		return
	}
	gemmSplit{j: *j}.parallel(t, cols)
}

// gemmSplit is a split product, the operands of its tasks
// (parallelPiecesOf copies it into a task of the run's pool, so that a
// warm run's splits allocate nothing): a copy of the job, and how it is
// cut.
type gemmSplit struct {
	j    sgemmJob
	kind gemmSplitKind
	per  int // panels (gemmCols, gemmPack) or rows (gemmRows) of a task
	// shared says that op(B) is packed in pb (sharedB), not in j.pb.
	shared bool
	pb     asm.PackedB
	buf    []float32 // gemmPack: where B is packed
}

// gemmSplitKind is what the tasks of a gemmSplit do.
type gemmSplitKind int8

const (
	gemmRows gemmSplitKind = iota // blocks of rows of C
	gemmCols                      // blocks of columns of C
	gemmPack                      // columns of op(B), packed into buf
)

// gemmSplitRun runs the tasks [lo, hi) of g.
func gemmSplitRun(g *gemmSplit, lo, hi int) {
	j := &g.j
	pb := j.pb
	if g.shared {
		pb = &g.pb
	}
	for i := lo; i < hi; i++ {
		switch g.kind {
		case gemmPack:
			j0 := i * g.per * asm.ColAlign
			var part asm.PackedB
			asm.PackBPartTo(&part, j.transB, j.k, j.n, j.b, j.ldb, g.buf, j0, min(j0+g.per*asm.ColAlign, j.n))
		case gemmCols:
			j0 := i * g.per * asm.ColAlign
			j.block(0, j.m, j0, min(j0+g.per*asm.ColAlign, j.n), pb)
		default:
			j.block(i*g.per, min(i*g.per+g.per, j.m), 0, j.n, pb)
		}
	}
}

// sharedB runs the product on t goroutines: B packed into a scratch
// buffer split by columns, then C split by rows over the packed B. The
// blocks are those of parallel, so the results are Sgemm's.
func (j *sgemmJob) sharedB(t int) {
	buf := getScratch[float32](asm.PackedBLen(j.k, j.n))
	defer putScratch(buf)
	panels := (j.n + asm.ColAlign - 1) / asm.ColAlign
	per := (panels + t - 1) / t
	pack := gemmSplit{j: *j, kind: gemmPack, per: per, buf: *buf}
	parallelPiecesOf(j.workers, t, (panels+per-1)/per, 1, pack, gemmSplitRun)
	g := gemmSplit{j: *j, shared: true}
	asm.PackBPartTo(&g.pb, j.transB, j.k, j.n, j.b, j.ldb, *buf, 0, 0) // the header of what the tasks packed
	g.j.b, g.j.pb = nil, nil
	g.parallel(t, false)
}

// block computes rows i0..i1 and columns j0..j1 of C, with pb (op(B)
// packed, or nil) where it gives Sgemm's results. Without pb, a product
// that Sgemm would pack anyway and that has an epilogue packs B into a
// scratch buffer, so that the epilogue runs tile by tile.
func (j *sgemmJob) block(i0, i1, j0, j1 int, pb *asm.PackedB) {
	m, n := i1-i0, j1-j0
	aoff := i0 * j.lda
	if j.transA {
		aoff = i0
	}
	a, c := j.a[aoff:], j.c[i0*j.ldc+j0:]
	// One row on the packed constant when that gives what Sgemm gives
	// on B as stored: the packed panels stream in order.
	packs := j.b == nil || asm.SgemmPacks(j.transA, m, n, j.k) ||
		m == 1 && pb != nil && !j.transA && !j.transB && asm.SgemvPacked()
	epi := j.epi
	if pb == nil && packs && epi != nil {
		buf := getScratch[float32](asm.PackedBLen(j.k, n))
		defer putScratch(buf)
		boff := j0
		if j.transB {
			boff = j0 * j.ldb
		}
		pb = asm.PackBInto(j.transB, j.k, n, j.b[boff:], j.ldb, *buf)
	} else if pb != nil && (j0 != 0 || j1 != pb.N()) {
		var view asm.PackedB // on the stack: no allocation per block
		pb.ColsTo(&view, j0, j1)
		pb = &view
	}
	if pb != nil && packs {
		asm.SgemmPackedEpi(j.transA, m, n, j.k, j.alpha, a, j.lda, pb, j.beta, c, j.ldc, epi)
		return
	}
	boff := j0
	if j.transB {
		boff = j0 * j.ldb
	}
	asm.Sgemm(j.transA, j.transB, m, n, j.k, j.alpha, a, j.lda, j.b[boff:], j.ldb, j.beta, c, j.ldc)
	if epi != nil {
		epi(c, j.ldc, 0, 0, m, n)
	}
}

// parallel runs g's product on t > 1 goroutines, splitting columns or
// rows into two tasks per thread, so that a thread the OS runs late
// leaves its share to the others. Blocks start on micro-kernel tile and
// packing panel boundaries (the last block takes the rest), so that
// every element is computed as on one thread and the results do not
// depend on the number of threads.
func (g gemmSplit) parallel(t int, cols bool) {
	j := &g.j
	var tasks int
	if cols {
		panels := (j.n + asm.ColAlign - 1) / asm.ColAlign
		g.kind, g.per = gemmCols, (panels+2*t-1)/(2*t)
		tasks = (panels + g.per - 1) / g.per
	} else {
		// The last task takes what is left, less than a block of rows
		// (not up to two, which would leave a thread idle for half of
		// it).
		g.kind, g.per = gemmRows, j.rowBlock(t)
		tasks = (j.m + g.per - 1) / g.per
	}
	if tasks <= 1 {
		gemmSplitRun(&g, 0, tasks)
		return
	}
	parallelPiecesOf(j.workers, t, tasks, 1, g, gemmSplitRun)
}

// rowBlock is the number of rows of each task of a split by rows on t
// goroutines: about two tasks per thread, a multiple of the tile height.
func (j *sgemmJob) rowBlock(t int) int {
	tr := asm.TileRows()
	rb := max((j.m+2*t-1)/(2*t), 2*tr)
	return (rb + tr - 1) / tr * tr
}

// runTasks calls fn(i) for every i < n on up to threads goroutines (the
// caller's among them): parallelPieces with pieces of one task, so that
// a goroutine that starts late finds the tasks done and leaves at once.
// A panic in fn is re-raised on the caller's goroutine. The other
// goroutines are the run's workers (w), or fresh ones when w is nil.
func runTasks(w *Workers, threads, n int, fn func(i int)) {
	if threads <= 1 || n <= 1 {
		for i := 0; i < n; i++ {
			fn(i)
		}
		return
	}
	parallelPieces(w, threads, n, 1, func(lo, hi int) {
		for i := lo; i < hi; i++ {
			fn(i)
		}
	})
}

// smallMSplitWork is the least number of multiply-adds each thread of a
// split product of a few rows on a packed B must get (splitSmallM): a
// Dense layer on a small batch streams its weights from L2 at close to
// the FMA peak (about 50 G multiply-adds/s on Zen 3), so 2^17 of them
// take some 2.5µs, where handing a piece to a worker that is polling
// costs well under a microsecond (and one that is parked leaves its
// pieces to the caller, see parallelPiecesOf).
const smallMSplitWork = 1 << 17

// smallMRows is the most rows of a product that splitSmallM splits.
const smallMRows = 8

// splitSmallM runs a product of at most smallMRows rows on the packed B
// j.pb (or, for one row, on j.b, which block multiplies unpacked) on up
// to threads goroutines (the caller's and w's), split by columns (each
// task streams only its own panels of B), when each thread gets
// smallMSplitWork multiply-adds and at least one panel, and reports
// whether it did. Blocks start on panel boundaries, so every element is
// computed as on one thread.
func (j *sgemmJob) splitSmallM(w *Workers, threads int) bool {
	if threads <= 1 || j.pb == nil || j.m > smallMRows || j.m <= 0 || j.n <= 0 {
		return false
	}
	work := j.m * j.n * max(j.k, 1)
	panels := (j.n + asm.ColAlign - 1) / asm.ColAlign
	t := min(threads, work/smallMSplitWork, panels)
	if t <= 1 {
		return false
	}
	// About two tasks per thread, as gemmSplit.parallel cuts them, but
	// one where that would leave tasks of one panel: the four-row kernel
	// takes three groups of eight columns at a time, on one panel only
	// two (about 5% slower on Zen 3).
	per := (panels + 2*t - 1) / (2 * t)
	if per < 2 {
		per = (panels + t - 1) / t
	}
	j.workers = w
	g := gemmSplit{j: *j, kind: gemmCols, per: per}
	parallelPiecesOf(w, t, (panels+per-1)/per, 1, g, gemmSplitRun)
	return true
}
