package asm

import (
	"fmt"
	"math"
)

// Products that skip the zero columns of A. A Dense layer on a small
// batch multiplies a few rows of activations by constant weights, and
// spends its time streaming the weights; real activations are often
// sparse (ReLU outputs, images with a blank background), and a column p
// of A that is zero in every row contributes nothing: the rows p of B it
// would multiply need not be read at all. SgemmSkip finds those columns
// (m×k compares against m×k×n multiply-adds), lists the others, and runs
// a kernel that walks only the listed rows of the packed panels: for
// now the four-row product of SgemmPacked (a batch of four). When the
// rows are much sparser one by one than together (images: each digit of
// a batch of MNIST digits is 8-25% non-zero, the four together 40%), it
// lists the steps of each row instead and runs a kernel that computes
// one row at a time on its own list (skipKernels.rows), or of each pair
// of rows (skipKernels.pairs); with AVX-512 the four rows' one list has a
// kernel of its own (skipKernels.union), and the cheapest of the three
// by a cost per listed step runs (skipStepCosts). Only the amd64
// implementations have such kernels (AVX2 ones, which the AVX-512
// implementation shares with its four-row and one-row products, but for
// its row-, pair- and union-listed products and their scans:
// sgemm_skip512_amd64.s); elsewhere
// SgemmSkip declines, and the caller runs the product in full.
//
// The results are those of the product without skipping, bit for bit:
// the skipping kernels sum each element in the order (and into the same
// partial sums) the kernels of the product without skipping do, and a
// skipped term a·b is ±0 when a is 0 and b finite, which leaves a sum
// that started at +0 unchanged. So B must be finite (0·Inf is NaN: a
// model with an infinite weight never skips, see NewSkipB), and a column
// with a NaN is never zero. The one difference left is the sign of a
// zero: a partial sum that underflows to -0 (a product below 2^-150 in
// magnitude) stays -0 where adding the skipped +0 would have made it +0;
// the two compare equal.

// SkipB is a constant op(B), packed by PackB, prepared for SgemmSkip. It
// is immutable and safe for concurrent use.
type SkipB struct {
	pb     *PackedB
	finite bool // every element of B is finite
}

// NewSkipB prepares pb for SgemmSkip, checking once whether every element
// of B is finite (SgemmSkip skips nothing otherwise).
func NewSkipB(pb *PackedB) *SkipB {
	sb := &SkipB{pb: pb, finite: true}
	for _, v := range pb.data {
		if v-v != 0 { // NaN or ±Inf
			sb.finite = false
			break
		}
	}
	return sb
}

// skipMaxDense is the largest fraction of the k steps, in 1/256ths, that
// may remain (be non-zero in some row) for SgemmSkip to skip: with more,
// the list costs more than it saves. Per listed step the skipping kernel
// costs about what the four-row kernel costs per step (a little more:
// the step's index, and a prefetch by index), plus the scan of A (about
// 3% of the product at n = 128). Measured on Zen 3 by the fastest call
// of many (BenchmarkSgemmSkipMin), skipping over the product in full:
// k = 784, n = 128 (the MNIST MLP's first layer): 1.19 with every step
// listed, 0.99 at 80%, 0.86 at 70%, 0.55 at 40%; k = 128, n = 64: 1.01
// at 80%, 0.96 at 70%; k = 2304, n = 512 (B from L3): 0.93 at 80%, 0.84
// at 70%. So at most 75% listed (at least a quarter skipped).
const skipMaxDense = 192

// skipMaxBlocks bounds the number of k blocks of a product SgemmSkip
// takes (its scratch keeps where each block starts): k up to 16384 at
// least.
const skipMaxBlocks = 64

// SkipScratch returns the length of the scratch SgemmSkip needs for a
// product with op(A) m×k: for one row, its lists (skipScratchRow); else
// the list of steps of the four rows together
// and where each k block starts in it, then the lists of the rows and
// where each row of each block starts (as int32s: the kernels are
// function values, to which a slice of the stack would escape).
func SkipScratch(m, k int) int {
	if m == 1 {
		return skipScratchRow(k)
	}
	return 5*k + 2*skipAhead + 5*skipMaxBlocks + 6
}

// skipAhead is how many entries past the last a kernel may read from its
// list of steps (to prefetch the rows of B they name).
const skipAhead = 16

// SgemmSkip computes what SgemmPackedEpi(false, m, n, k, alpha, a, lda,
// sb's B, beta, c, ldc, epi) computes, bit for bit, without reading the
// rows p of B at which column p of A is zero in every row, and reports
// whether it did; when it reports false, it has not written c and the
// caller runs SgemmPackedEpi. It declines products it has no kernel for
// (the four-row and one-row products of the amd64 implementations for
// now), a B that is not finite, and an A with too few zero columns to
// pay. idx is scratch of at least SkipScratch(m, k) values.
func SgemmSkip(m, n, k int, alpha float32, a []float32, lda int, sb *SkipB, beta float32, c []float32, ldc int, epi Epilogue, idx []int32) bool {
	if m == 1 {
		return sgemvSkip(sgemmDefault, skipKernelsFor(sgemmDefault), n, k, alpha, a, sb, beta, c, ldc, epi, idx, rowMaxDense, rowMinWork)
	}
	p, ok := planSkip(sgemmDefault, m, n, k, alpha, a, lda, sb, beta, c, ldc, epi, idx, skipMaxDense, skipAuto)
	if ok {
		p.Run(0, p.Panels())
	}
	return ok
}

// skipPlan is a product planSkip has prepared: the operands and
// A's lists of steps (in the caller's scratch, which must stay
// untouched until the product is done). Run computes some of its
// columns, so that goroutines may share a product between them; the
// zero skipPlan has no columns.
type skipPlan struct {
	im          *sgemmImpl
	sk          *skipKernels
	byRow       bool // one list per row (skipKernels.rows), or one for all
	byPair      bool // one list per pair of rows (skipKernels.pairs)
	byUnion     bool // one list for the four rows, run by skipKernels.union (else rows4)
	n, k, lda   int
	ldc, work   int
	alpha, beta float32
	a, c        []float32
	pb          *PackedB
	epi         Epilogue
	list        []int32 // the steps: indices (one list), or offsets (by row or pair)
	starts      []int32 // where each block (by row or pair: each row or pair of each block) starts in list
}

// Panels returns the number of column panels of the product (ColAlign
// columns each, the last maybe fewer), the units Run takes.
func (p *skipPlan) Panels() int { return (p.n + panelN - 1) / panelN }

// Work returns the multiply-adds the product does: the listed steps
// times the columns.
func (p *skipPlan) Work() int { return p.work }

// Run computes the columns of panels q0 <= q < q1 of the product, their
// epilogue included. Runs on disjoint ranges may run at the same time.
func (p *skipPlan) Run(q0, q1 int) {
	if q0 >= q1 {
		return
	}
	pb, k, n := p.pb, p.k, p.n
	whole := n / panelN // whole panels
	w1 := min(q1, whole)
	for blk, pc := 0, 0; pc < k; blk, pc = blk+1, pc+pb.kcb {
		kb := min(pb.kcb, k-pc)
		bet := p.beta
		if pc > 0 {
			bet = 1 // later k blocks accumulate onto the first
		}
		data := pb.data[pc*pb.npad+pb.j0*kb:] // panel q at q*panelN*kb
		ap := p.a[pc:]
		if q0 < w1 {
			if p.byPair {
				p.sk.pairs(p.list, ap, p.lda, p.starts[2*blk:2*blk+3], data[q0*panelN*kb:], kb, w1-q0, p.c[q0*panelN:], p.ldc, p.alpha, bet)
			} else if p.byUnion {
				p.sk.union(p.list, ap, p.lda, p.starts[blk:blk+2], data[q0*panelN*kb:], kb, w1-q0, p.c[q0*panelN:], p.ldc, p.alpha, bet)
			} else if p.byRow {
				p.sk.rows(p.list, ap, p.lda, p.starts[4*blk:4*blk+5], data[q0*panelN*kb:], kb, w1-q0, p.c[q0*panelN:], p.ldc, p.alpha, bet)
			} else {
				idx := p.list[p.starts[blk]:p.starts[blk+1]]
				c, lda, ldc, alpha, rows4 := p.c[q0*panelN:], p.lda, p.ldc, p.alpha, p.sk.rows4
				rows4Blocks(data[q0*panelN*kb:], kb, (w1-q0)*panelN/8, func(g, ng int, b [3][]float32) {
					rows4(idx, ap, lda, b, c[g*8:], ldc, alpha, bet, ng)
				})
			}
		}
		// The last, partial panel as sgemmRows4 computes it: in full.
		for q := max(q0, whole); q < q1; q++ {
			jr := q * panelN
			p.im.tile(kb, ap, p.lda, data[jr*kb:], p.c[jr:], p.ldc, p.alpha, bet, 4, min(panelN, n-jr))
		}
	}
	if p.epi != nil {
		j0, j1 := q0*panelN, min(q1*panelN, n)
		p.epi(p.c, p.ldc, 0, j0, 4, j1-j0)
	}
}

// SgemmSkipApplies reports whether SgemmSkip has a kernel for a product
// of m rows, n columns and depth k on sb (it then still declines an A
// with too few zero columns), for callers that fetch its scratch only
// when it may be used.
func SgemmSkipApplies(m, n, k int, sb *SkipB) bool {
	im := sgemmDefault
	sk := skipKernelsFor(im)
	if m == 1 {
		return rowSkipApplies(im, sk, n, sb) && n*k >= rowMinWork
	}
	return sk != nil && sk.rows4 != nil && im.rows4 != nil && sb.finite && m == 4 && n >= panelN
}

// The kinds of lists planSkip may make.
const (
	skipAuto      = iota // the fastest, or none
	skipUnionOnly        // one list for the four rows
	skipRowsOnly         // a list per row
	skipPairsOnly        // a list per pair of rows
)

// sgemmSkipT is SgemmSkip with an explicit implementation, maxDense in
// place of skipMaxDense (or skipRowsMaxDense for skipRowsOnly) and a
// kind of list.
func sgemmSkipT(im *sgemmImpl, m, n, k int, alpha float32, a []float32, lda int, sb *SkipB, beta float32, c []float32, ldc int, epi Epilogue, idx []int32, maxDense, kind int) bool {
	p, ok := planSkip(im, m, n, k, alpha, a, lda, sb, beta, c, ldc, epi, idx, maxDense, kind)
	if ok {
		p.Run(0, p.Panels())
	}
	return ok
}

// skipRowsMaxDense is the largest fraction of the row steps (4k), in
// 1/256ths, that may be listed for the row-listed kernel to run: per
// listed (row, step) it costs about 2.2 times what the four-row product
// costs per step and row (each row re-reads the panel rows from L1, and
// a row's list of a k block must fit there), so it pays below 45% or so.
// Measured on Zen 3 by the fastest call of many
// (BenchmarkSgemmSkipRowsMin), over the product in full, for k = 784, n
// = 128: 0.38 at 17% (the MNIST MLP's first layer), 0.85 at 40%, 1.14
// at 48%, 1.24 at 50%; the one-list kernel there: 0.50 at 17% of rows
// and 40% of columns, 0.59 at 40% of both, 0.95 at 48% and 80%.
const skipRowsMaxDense = 102

// skipStepCosts returns the relative costs of a listed step of the union
// (the four rows), of a pair (two rows) and of a row, for planSkip's
// choice between the lists where the implementation has a union kernel
// (skipKernels.union), on np panels. Each kernel reads a listed panel
// row once and runs as many multiply-adds on it as it has rows: the
// union pays multiply-adds for its zero values to read each row of B
// once, which pays where the panel rows come from L2 (three panels or
// more: the MNIST MLP's first layer) and not where few panels run from
// L1. Measured (AVX-512, fastest call of many) on the MNIST MLP's
// layers, as they are and (the first) with its four rows made one
// digit's (every step shared):
//   - k = 784, n = 128: a union step costs 6.0 ns, a pair step 4.1, each
//     over a fixed 0.4 µs, a pair step 1.08 times a row step; on
//     the batch as it is (317 steps in the union, 465 in the pairs, 538
//     in the rows) the union and the pairs take 2.3 µs, the rows 2.45;
//     with one digit's rows the union 1.10 µs, the pairs 1.36 and the
//     rows 1.89;
//   - k = 128, n = 64 (106, 162 and 193 steps): 440, 390 and 355 ns
//     (the panel rows in L1, where the multiply-adds bound each kernel
//     and the union runs twice those of a pair).
func skipStepCosts(np int) (union, pair, row int) {
	if np >= 3 {
		return 39, 27, 25
	}
	return 57, 33, 25
}

// planSkip decides whether SgemmSkip skips (with an explicit
// implementation, maxDense and kind of list) and, when it does, returns
// the plan whose Run computes the product, having written nothing yet.
// With one list for the four rows (the steps at which some row is not
// zero, run by skipKernels.rows4), at most maxDense
// 256ths of the k steps may be listed; with a list per row (see
// listRows), at most skipRowsMaxDense 256ths of the 4k (row,
// step) pairs (maxDense for skipRowsOnly).
func planSkip(im *sgemmImpl, m, n, k int, alpha float32, a []float32, lda int, sb *SkipB, beta float32, c []float32, ldc int, epi Epilogue, scratch []int32, maxDense, kind int) (skipPlan, bool) {
	pb := sb.pb
	if k != pb.k || n != pb.n {
		panic(fmt.Sprintf("asm.SgemmSkip: k=%d n=%d but B was packed as %d×%d", k, n, pb.k, pb.n))
	}
	sk := skipKernelsFor(im)
	if sk == nil || sk.rows4 == nil || !sb.finite || m != 4 || n < panelN || k <= 0 || im.rows4 == nil {
		return skipPlan{}, false
	}
	nblk := (k + pb.kcb - 1) / pb.kcb
	if nblk > skipMaxBlocks {
		return skipPlan{}, false
	}
	_ = a[3*lda+k-1]
	_ = c[3*ldc+n-1]
	scratch = scratch[:SkipScratch(4, k)]
	idx := scratch[:k+skipAhead]
	ustarts := scratch[k+skipAhead:][:nblk+1]
	rowScratch := scratch[k+skipAhead+skipMaxBlocks+1:]
	p := skipPlan{im: im, sk: sk, n: n, k: k, lda: lda, ldc: ldc, alpha: alpha, beta: beta, a: a, c: c, pb: pb, epi: epi}
	if kind == skipRowsOnly {
		if sk.rows == nil {
			return skipPlan{}, false
		}
		p.listRows(rowScratch, nblk)
		return p, p.work*256 <= 4*k*n*maxDense
	}
	if sk.union != nil && (kind == skipUnionOnly || kind == skipAuto) {
		u, rows, pairs := p.listUnion(idx, ustarts, nblk)
		if kind == skipUnionOnly {
			return p, u*256 <= k*maxDense
		}
		// The cheapest of the three kinds of lists that has a kernel
		// (the row lists only up to skipRowsMaxDense), by the cost of a
		// listed step of each (a step of the union runs the four rows,
		// a step of a pair two, of a row one: see skipStepCosts), whose
		// entries the union's scan counted; the union on a tie.
		cu, cp, cr := skipStepCosts(p.Panels())
		pairsOK := sk.pairs != nil
		switch {
		case sk.rows != nil && rows*256 <= 4*k*skipRowsMaxDense && cr*rows < cu*u && (!pairsOK || cr*rows < cp*pairs):
			p.listRows(rowScratch, nblk)
			return p, true
		case pairsOK && cp*pairs < cu*u:
			listed, _ := p.listPairs(rowScratch, nblk)
			return p, listed*256 <= 2*k*maxDense
		}
		return p, u*256 <= k*maxDense
	}
	if kind == skipPairsOnly || kind == skipAuto && sk.pairs != nil {
		if sk.pairs == nil {
			return skipPlan{}, false
		}
		listed, rows := p.listPairs(rowScratch, nblk)
		if kind == skipPairsOnly {
			return p, listed*256 <= 2*k*maxDense
		}
		// A listed step of a pair costs 1.08 times what a listed step of
		// one row does (4.3 and 4.0 ns on the MNIST MLP's first layer:
		// twice the multiply-adds, but one load of the panel rows for
		// the two rows, and the loads bound both), so the row lists win
		// where the rows of a pair share few steps. The one-list kernel
		// (AVX2, 16 ns a step for the four rows) never beats the pairs.
		if 27*listed > 25*rows && sk.rows != nil && rows*256 <= 4*k*skipRowsMaxDense {
			p.listRows(rowScratch, nblk)
			return p, true
		}
		return p, listed*256 <= 2*k*maxDense
	}
	// First only count the steps that would be listed for the four rows
	// together and for each row (a dense product declines after that one
	// cheap scan), then list them one way or the other.
	cnt, rows := 0, 0
	for pc := 0; pc < k; pc += pb.kcb {
		u, r := sk.count4(min(pb.kcb, k-pc), a[pc:], lda)
		cnt, rows = cnt+u, rows+r
	}
	// The rows may be sparse enough one by one where they are not
	// together (ReLU outputs: the MNIST MLP's second layer is 83%
	// non-zero in some row, 38% in each).
	if kind == skipAuto && sk.rows != nil && rows*256 <= 4*k*skipRowsMaxDense && 5*rows <= 12*cnt {
		p.listRows(rowScratch, nblk)
		return p, true
	}
	if cnt*256 > k*maxDense {
		return skipPlan{}, false
	}
	listSteps4(sk.scan4, k, pb.kcb, a, lda, idx, ustarts)
	p.byRow, p.byUnion, p.list, p.starts, p.work = false, false, idx, ustarts, 4*cnt*n
	return p, true
}

// skipKernels are an implementation's kernels for SgemmSkip.
type skipKernels struct {
	// rows4 is sgemmImpl.rows4 on the steps p listed in idx (in
	// increasing order): C[i][8g+j] = alpha*Σ a[i*lda+p]*b[g][p*panelN+j]
	// + beta*C[i][8g+j]; bit for bit what rows4 gives on all the steps
	// of the block when A is zero at the unlisted ones.
	rows4 func(idx []int32, a []float32, lda int, b [3][]float32, c []float32, ldc int, alpha, beta float32, ng int)

	// scan4 is scanSteps4(0, kb, a, lda, idx, 0).
	scan4 func(kb int, a []float32, lda int, idx []int32) int

	// count4 is countSteps4(0, kb, a, lda): how many steps scan4 and
	// entries scanRows4 list.
	count4 func(kb int, a []float32, lda int) (union, rows int)

	// rows, when not nil, computes four rows of C by np packed panels
	// of panelN columns over a k block of kb steps, each
	// row i on its own list of steps, entries starts[i] to starts[i+1]
	// (in increasing order): with p = offs[e]/128 (offs[e] is the byte
	// offset of row p of a panel), C[i][j] = alpha*Σe a[i*lda+p]*
	// b[(j/panelN)*panelN*kb + panelN*p + j%panelN] + beta*C[i][j]; bit
	// for bit what rows4 and tile give on all the steps of the block
	// when row i of A is zero at its unlisted ones.
	rows func(offs []int32, a []float32, lda int, starts []int32, b []float32, kb, np int, c []float32, ldc int, alpha, beta float32)

	// row, when not nil, computes one row of C by np whole packed
	// panels over a k block of kb steps, the steps listed as byte
	// offsets 128*p, the even ones in ev and the odd ones in od (each
	// increasing): what sgemmImpl.gemvPacked gives on all the steps of
	// the block, bit for bit, when a is zero at the unlisted ones (see
	// skipRowRef).
	row func(ev, od []int32, a, b []float32, kb, np int, c []float32, alpha, beta float32)

	// nonZero, when not nil, returns the mask of the a[j] that are
	// neither +0 nor -0 (a NaN is set): bit j for a[j]; len(a) is a
	// multiple of eight up to 64.
	nonZero func(a []float32) uint64

	// scanRows4 is scanRows4 (the function): it lists the steps of each
	// of four rows in turn, with room for 4*kb+16 entries.
	scanRows4 func(kb int, a []float32, lda int, offs []int32, ends []int32)

	// pairs, when not nil, computes four rows of C by np (1 to 4)
	// packed panels of panelN columns over a k block of kb steps, the
	// rows 2r and 2r+1 on the list of pair r, entries starts[r] to
	// starts[r+1] (the steps at which either row is not zero, as rows
	// lists them: offsets 128*p): C[i][j] = alpha*Σe a[i*lda+p]*
	// b[(j/panelN)*panelN*kb + panelN*p + j%panelN] + beta*C[i][j]; bit
	// for bit what rows4 and tile give on all the steps of the block (but
	// for the sign of a zero: see SgemmSkip).
	pairs func(offs []int32, a []float32, lda int, starts []int32, b []float32, kb, np int, c []float32, ldc int, alpha, beta float32)

	// scanPairs is scanPairs (the function), with room for 2*kb+16
	// entries.
	scanPairs func(kb int, a []float32, lda int, offs []int32, ends []int32) (rows int)

	// union, when not nil, is the one-list product in place of rows4:
	// four rows of C by np (at least 1) packed panels of panelN columns
	// over a k block of kb steps, all four rows on the list of entries
	// starts[0] to starts[1] (the steps at which some row is not zero,
	// as offsets 128*p): C[i][j] = alpha*Σe a[i*lda+p]*
	// b[(j/panelN)*panelN*kb + panelN*p + j%panelN] + beta*C[i][j]; bit
	// for bit what rows4 and tile give on all the steps of the block (but
	// for the sign of a zero: see SgemmSkip).
	union func(offs []int32, a []float32, lda int, starts []int32, b []float32, kb, np int, c []float32, ldc int, alpha, beta float32)

	// scanUnion is scanUnion (the function), with room for kb+16
	// entries.
	scanUnion func(kb int, a []float32, lda int, offs []int32) (n, rows, pairs int)
}

// listSteps4 lists the steps p < k at which some row of the 4×k matrix
// A (stride lda) is not zero, in order, relative to the start of their
// k block (blocks of kcb steps), with scan (scanSteps4 or a kernel that
// gives the same): starts[b] is the first entry of block b and
// starts[nblk] the count, which it returns.
func listSteps4(scan func(kb int, a []float32, lda int, idx []int32) int, k, kcb int, a []float32, lda int, idx []int32, starts []int32) int {
	e := 0
	for blk, pc := 0, 0; pc < k; blk, pc = blk+1, pc+kcb {
		starts[blk] = int32(e)
		kb := min(kcb, k-pc)
		e += scan(kb, a[pc:], lda, idx[e:])
	}
	starts[len(starts)-1] = int32(e)
	return e
}

// scanSteps4 lists the steps p0 <= p < kb at which some row of the 4×kb
// matrix A (stride lda) is neither +0 nor -0 (a NaN is listed), in
// order, into idx[e:], and returns e plus their count. Branch-free: the
// input decides nothing but the count.
func scanSteps4(p0, kb int, a []float32, lda int, idx []int32, e int) int {
	if p0 >= kb {
		return e
	}
	idx = idx[:kb]
	a0 := a[p0:kb]
	a1 := a[lda+p0 : lda+kb][:len(a0)]
	a2 := a[2*lda+p0 : 2*lda+kb][:len(a0)]
	a3 := a[3*lda+p0 : 3*lda+kb][:len(a0)]
	for p, x0 := range a0 {
		// Any bit but the signs set: some value is not zero.
		u := (math.Float32bits(x0) | math.Float32bits(a1[p]) | math.Float32bits(a2[p]) | math.Float32bits(a3[p])) << 1
		idx[e] = int32(p0 + p)
		e += int((u | -u) >> 31)
	}
	return e
}

// skipRows4Ref is the reference of skipKernels.rows4: the float32
// products and sums of the AVX2 kernel, each multiply-add fused (fma32).
func skipRows4Ref(idx []int32, a []float32, lda int, b [3][]float32, c []float32, ldc int, alpha, beta float32, ng int) {
	for i := 0; i < 4; i++ {
		for g := 0; g < ng; g++ {
			for j := 0; j < 8; j++ {
				var s float32
				for _, p := range idx {
					s = fma32(a[i*lda+int(p)], b[g][int(p)*panelN+j], s)
				}
				if math.Float32bits(alpha) != math.Float32bits(1) {
					s *= alpha
				}
				x := &c[i*ldc+8*g+j]
				if beta != 0 {
					s = fma32(beta, *x, s)
				}
				*x = s
			}
		}
	}
}

// fma32 returns x*y+z rounded once to float32, as a fused multiply-add
// instruction computes it.
func fma32(x, y, z float32) float32 {
	// x*y is exact in float64; the sum is rounded to float64 and then
	// to float32, which rounds twice only when the float64 lands on a
	// float32 midpoint while the exact sum is not there: the error of
	// the float64 sum (TwoSum) then says which way to go.
	p := float64(x) * float64(y)
	zz := float64(z)
	s := p + zz
	bb := s - p
	e := (p - (s - bb)) + (zz - bb)
	r := float32(s)
	if e == 0 || math.IsInf(s, 0) || math.IsNaN(s) {
		return r
	}
	rd := float64(r)
	if rd == s {
		return r
	}
	// The float32 neighbour of r on the other side of s.
	var nb float32
	if rd < s {
		nb = math.Nextafter32(r, float32(math.Inf(1)))
	} else {
		nb = math.Nextafter32(r, float32(math.Inf(-1)))
	}
	if rd+float64(nb) != 2*s {
		return r // s is not a midpoint: rounding once gives r too
	}
	if (e > 0) == (float64(nb) > rd) {
		return nb
	}
	return r
}

// listRows makes p a plan with a list of steps for each row of A (the
// steps at which that row is not zero) instead of one for all four, run
// by skipKernels.rows one row at a time: rows of activations are
// sparser one by one than together (the MNIST digits of a batch of four
// are 8-25% non-zero each, 40% together), and a step listed for one row
// costs the other three nothing. planSkip takes it when at most
// skipRowsMaxDense 256ths of the 4k (row, step) pairs are listed, and at
// most 2.4 times the steps listed for the four rows together (beyond,
// the one-list kernel is faster). scratch holds the lists, then where
// each row of each of the nblk k blocks starts, then four more values.
func (p *skipPlan) listRows(scratch []int32, nblk int) {
	k, kcb, a, lda := p.k, p.pb.kcb, p.a, p.lda
	offs := scratch[:4*k+skipAhead]
	starts := scratch[4*k+skipAhead:][:4*nblk+1]
	ends := scratch[4*k+skipAhead+4*skipMaxBlocks+1:][:4]
	e := 0
	for blk, pc := 0, 0; pc < k; blk, pc = blk+1, pc+kcb {
		kb := min(kcb, k-pc)
		p.sk.scanRows4(kb, a[pc:], lda, offs[e:], ends)
		starts[4*blk] = int32(e)
		for i := 0; i < 3; i++ {
			starts[4*blk+i+1] = int32(e) + ends[i]
		}
		e += int(ends[3])
	}
	starts[4*nblk] = int32(e)
	p.byRow, p.byPair, p.byUnion, p.list, p.starts, p.work = true, false, false, offs, starts, e*p.n
}

// listPairs makes p a plan with a list of steps for each pair of rows
// of A (rows 0 and 1, rows 2 and 3: the steps at which either is not
// zero), run by skipKernels.pairs two rows at a time, which loads each
// listed panel row once for the two; it returns the entries listed and
// the values of A that are not zero (the entries listRows would list).
// scratch is laid out as listRows lays it out.
func (p *skipPlan) listPairs(scratch []int32, nblk int) (listed, rows int) {
	k, kcb, a, lda := p.k, p.pb.kcb, p.a, p.lda
	offs := scratch[:4*k+skipAhead]
	starts := scratch[4*k+skipAhead:][:2*nblk+1]
	ends := scratch[4*k+skipAhead+4*skipMaxBlocks+1:][:4]
	e := 0
	for blk, pc := 0, 0; pc < k; blk, pc = blk+1, pc+kcb {
		kb := min(kcb, k-pc)
		rows += p.sk.scanPairs(kb, a[pc:], lda, offs[e:], ends)
		starts[2*blk] = int32(e)
		starts[2*blk+1] = int32(e) + ends[0]
		e += int(ends[1])
	}
	starts[2*nblk] = int32(e)
	p.byRow, p.byPair, p.byUnion, p.list, p.starts, p.work = false, true, false, offs, starts, 2*e*p.n
	return e, rows
}

// listUnion makes p a plan with one list for the four rows of A (the
// steps at which some row is not zero) run by skipKernels.union, and
// returns the entries listed and the entries listRows and listPairs
// would list (the values of A that are not zero; the steps at which
// either row of each pair is not). list (k+skipAhead entries) takes the
// list, starts (nblk+1) where each of the nblk k blocks starts in it.
func (p *skipPlan) listUnion(list, starts []int32, nblk int) (listed, rows, pairs int) {
	k, kcb, a, lda := p.k, p.pb.kcb, p.a, p.lda
	e := 0
	for blk, pc := 0, 0; pc < k; blk, pc = blk+1, pc+kcb {
		kb := min(kcb, k-pc)
		starts[blk] = int32(e)
		n, r, pr := p.sk.scanUnion(kb, a[pc:], lda, list[e:])
		e, rows, pairs = e+n, rows+r, pairs+pr
	}
	starts[nblk] = int32(e)
	p.byRow, p.byPair, p.byUnion, p.list, p.starts, p.work = false, false, true, list, starts, 4*e*p.n
	return e, rows, pairs
}

// scanUnion lists the steps p < kb at which some row of the 4×kb matrix
// A (stride lda) is neither +0 nor -0 (a NaN is listed), in order, as
// offsets 128*p from entry 0 on, and returns how many it listed, the
// values of the four rows that are neither and the steps at which either
// row of each pair is neither (summed over the two pairs).
func scanUnion(kb int, a []float32, lda int, offs []int32) (n, rows, pairs int) {
	for p := 0; p < kb; p++ {
		var nz [4]bool
		for i := range nz {
			nz[i] = a[i*lda+p] != 0
			if nz[i] {
				rows++
			}
		}
		if nz[0] || nz[1] {
			pairs++
		}
		if nz[2] || nz[3] {
			pairs++
		}
		if nz[0] || nz[1] || nz[2] || nz[3] {
			offs[n] = int32(p * panelN * 4)
			n++
		}
	}
	return n, rows, pairs
}

// skipUnionRef is the reference of skipKernels.union: the float32
// products and sums of the kernel, each multiply-add fused (fma32).
func skipUnionRef(offs []int32, a []float32, lda int, starts []int32, b []float32, kb, np int, c []float32, ldc int, alpha, beta float32) {
	listedRef(offs, a, lda, func(int) (int32, int32) { return starts[0], starts[1] }, b, kb, np, c, ldc, alpha, beta)
}

// scanPairs lists, for each pair r < 2 of the rows 2r, 2r+1 of the 4×kb
// matrix A (stride lda) in turn, the steps p < kb at which either row is
// neither +0 nor -0 (a NaN is listed), in order, from entry 0 on:
// offs[e] = 128*p; ends[r] is the count of entries of pairs 0 to r. It
// returns the values of the four rows that are neither.
func scanPairs(kb int, a []float32, lda int, offs []int32, ends []int32) (rows int) {
	e := 0
	for r := 0; r < 2; r++ {
		x, y := a[2*r*lda:], a[(2*r+1)*lda:]
		for p := 0; p < kb; p++ {
			nx, ny := x[p] != 0, y[p] != 0
			if nx {
				rows++
			}
			if ny {
				rows++
			}
			if nx || ny {
				offs[e] = int32(p * panelN * 4)
				e++
			}
		}
		ends[r] = int32(e)
	}
	return rows
}

// skipPairsRef is the reference of skipKernels.pairs: the float32
// products and sums of the kernel, each multiply-add fused (fma32).
func skipPairsRef(offs []int32, a []float32, lda int, starts []int32, b []float32, kb, np int, c []float32, ldc int, alpha, beta float32) {
	listedRef(offs, a, lda, func(i int) (int32, int32) { return starts[i/2], starts[i/2+1] }, b, kb, np, c, ldc, alpha, beta)
}

// scanRowSteps lists the steps p0 <= p < kb at which a[p] is neither +0
// nor -0 (a NaN is listed), in order, from entry e on: offs[e] = 128*p
// (the byte offset of row p of a packed panel); it returns e plus their
// count.
func scanRowSteps(p0, kb int, a []float32, offs []int32, e int) int {
	for p := p0; p < kb; p++ {
		if a[p] != 0 {
			offs[e] = int32(p * panelN * 4)
			e++
		}
	}
	return e
}

// scanRows4 lists the steps of each row i < 4 of the 4×kb matrix A
// (stride lda) in turn, as scanRowSteps does, from entry 0 on; ends[i]
// is the count of entries of rows 0 to i.
func scanRows4(kb int, a []float32, lda int, offs []int32, ends []int32) {
	e := 0
	for i := 0; i < 4; i++ {
		e = scanRowSteps(0, kb, a[i*lda:], offs, e)
		ends[i] = int32(e)
	}
}

// countSteps4 counts the steps p0 <= p < kb at which some row of the
// 4×kb matrix A (stride lda) is neither +0 nor -0 (a NaN counts), as
// scanSteps4 lists them, and the values of the four rows that are
// neither, as scanRows4 lists them.
func countSteps4(p0, kb int, a []float32, lda int) (union, rows int) {
	for p := p0; p < kb; p++ {
		u := uint32(0)
		for i := 0; i < 4; i++ {
			b := math.Float32bits(a[i*lda+p]) << 1
			rows += int((b | -b) >> 31)
			u |= b
		}
		union += int((u | -u) >> 31)
	}
	return union, rows
}

// skipRowsRef is the reference of skipKernels.rows: the float32
// products and sums of the AVX2 kernel, each multiply-add fused (fma32).
func skipRowsRef(offs []int32, a []float32, lda int, starts []int32, b []float32, kb, np int, c []float32, ldc int, alpha, beta float32) {
	listedRef(offs, a, lda, func(i int) (int32, int32) { return starts[i], starts[i+1] }, b, kb, np, c, ldc, alpha, beta)
}

// listedRef computes four rows of C by np packed panels over a k block
// of kb steps as the listed kernels do, row i on the entries of offs
// that list(i) bounds.
func listedRef(offs []int32, a []float32, lda int, list func(i int) (e0, e1 int32), b []float32, kb, np int, c []float32, ldc int, alpha, beta float32) {
	for i := 0; i < 4; i++ {
		e0, e1 := list(i)
		for j := 0; j < np*panelN; j++ {
			q := j / panelN
			var s float32
			for e := e0; e < e1; e++ {
				p := int(offs[e]) / (panelN * 4)
				s = fma32(a[i*lda+p], b[q*panelN*kb+panelN*p+j%panelN], s)
			}
			if math.Float32bits(alpha) != math.Float32bits(1) {
				s *= alpha
			}
			x := &c[i*ldc+j]
			if math.Float32bits(beta)&0x7fffffff != 0 {
				s = fma32(beta, *x, s)
			}
			*x = s
		}
	}
}
