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
		cp := *j // see below: j stays on its caller's stack
		cp.sharedB(t)
		return
	}
	cols := j.n >= 2*t*asm.ColAlign && (j.pb == nil || j.m < 2*t*tr)
	rows := !cols && j.m >= 2*t*tr
	if t <= 1 || !cols && !rows {
		j.block(0, j.m, 0, j.n, j.pb)
		return
	}
	// A copy for the goroutines, so that j itself does not escape and a
	// caller's job can live on its stack.
	cp := *j
	cp.parallel(t, cols)
}

// sharedB runs the product on t goroutines: B packed into a scratch
// buffer split by columns, then C split by rows over the packed B. The
// blocks are those of parallel, so the results are Sgemm's.
func (j *sgemmJob) sharedB(t int) {
	buf := getScratch[float32](asm.PackedBLen(j.k, j.n))
	defer putScratch(buf)
	panels := (j.n + asm.ColAlign - 1) / asm.ColAlign
	per := (panels + t - 1) / t
	pb := new(*asm.PackedB)
	runTasks(j.workers, t, (panels+per-1)/per, func(i int) {
		j0 := i * per * asm.ColAlign
		p := asm.PackBPart(j.transB, j.k, j.n, j.b, j.ldb, *buf, j0, min(j0+per*asm.ColAlign, j.n))
		if i == 0 {
			*pb = p
		}
	})
	cp := *j
	cp.b, cp.pb = nil, *pb
	cp.parallel(t, false)
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
	packs := j.b == nil || asm.SgemmPacks(j.transA, m, n, j.k)
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
		pb = pb.Cols(j0, j1)
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

// parallel is run on t > 1 goroutines, splitting columns or rows into
// two tasks per thread, so that a thread the OS runs late leaves its
// share to the others. Blocks start on micro-kernel tile and packing
// panel boundaries (the last block takes the rest), so that every
// element is computed as on one thread and the results do not depend on
// the number of threads.
func (j *sgemmJob) parallel(t int, cols bool) {
	if cols {
		panels := (j.n + asm.ColAlign - 1) / asm.ColAlign
		per := (panels + 2*t - 1) / (2 * t)
		tasks := (panels + per - 1) / per
		runTasks(j.workers, t, tasks, func(i int) {
			j0 := i * per * asm.ColAlign
			j.block(0, j.m, j0, min(j0+per*asm.ColAlign, j.n), j.pb)
		})
		return
	}
	rb := j.rowBlock(t)
	// The last task takes what is left, less than rb rows (not up to
	// 2*rb, which would leave a thread idle for half of it).
	tasks := (j.m + rb - 1) / rb
	runTasks(j.workers, t, tasks, func(i int) {
		j.block(i*rb, min(i*rb+rb, j.m), 0, j.n, j.pb)
	})
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
