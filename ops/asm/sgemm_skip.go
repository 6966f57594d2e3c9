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
// now the four-row product of SgemmPacked (a batch of four), and through
// SgemvSkip the one-row product of Sgemm (a batch of one). Only the
// AVX2 implementation has such kernels; elsewhere both decline, and the
// caller runs the product in full.
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
// takes (the list keeps where each block starts on the stack): k up to
// 16384 at least.
const skipMaxBlocks = 64

// SkipScratch returns the length of the scratch SgemmSkip needs for a
// product with op(A) m×k.
func SkipScratch(m, k int) int { return k + skipAhead }

// skipAhead is how many entries past the last a kernel may read from its
// list of steps (to prefetch the rows of B they name).
const skipAhead = 16

// SgemmSkip computes what SgemmPackedEpi(false, m, n, k, alpha, a, lda,
// sb's B, beta, c, ldc, epi) computes, bit for bit, without reading the
// rows p of B at which column p of A is zero in every row, and reports
// whether it did; when it reports false, it has not written c and the
// caller runs SgemmPackedEpi. It declines products it has no kernel for
// (the four-row product of the AVX2 implementation for now), a B that
// is not finite, and an A with too few zero columns to pay. idx is
// scratch of at least SkipScratch(m, k) values.
func SgemmSkip(m, n, k int, alpha float32, a []float32, lda int, sb *SkipB, beta float32, c []float32, ldc int, epi Epilogue, idx []int32) bool {
	return sgemmSkip(sgemmDefault, m, n, k, alpha, a, lda, sb, beta, c, ldc, epi, idx)
}

// SgemmSkipApplies reports whether SgemmSkip has a kernel for a product
// of m rows and n columns on sb (it then still declines an A with too
// few zero columns), for callers that fetch its scratch only when it may
// be used.
func SgemmSkipApplies(m, n int, sb *SkipB) bool {
	im := sgemmDefault
	sk := skipKernelsFor(im)
	return sk != nil && sk.rows4 != nil && im.rows4 != nil && sb.finite && m == 4 && n >= panelN
}

// sgemmSkip is SgemmSkip with an explicit implementation.
func sgemmSkip(im *sgemmImpl, m, n, k int, alpha float32, a []float32, lda int, sb *SkipB, beta float32, c []float32, ldc int, epi Epilogue, idx []int32) bool {
	return sgemmSkipT(im, m, n, k, alpha, a, lda, sb, beta, c, ldc, epi, idx, skipMaxDense)
}

// sgemmSkipT is sgemmSkip with maxDense in place of skipMaxDense.
func sgemmSkipT(im *sgemmImpl, m, n, k int, alpha float32, a []float32, lda int, sb *SkipB, beta float32, c []float32, ldc int, epi Epilogue, idx []int32, maxDense int) bool {
	pb := sb.pb
	if k != pb.k || n != pb.n {
		panic(fmt.Sprintf("asm.SgemmSkip: k=%d n=%d but B was packed as %d×%d", k, n, pb.k, pb.n))
	}
	sk := skipKernelsFor(im)
	if sk == nil || sk.rows4 == nil || !sb.finite || m != 4 || n < panelN || k <= 0 || im.rows4 == nil {
		return false
	}
	nblk := (k + pb.kcb - 1) / pb.kcb
	if nblk > skipMaxBlocks {
		return false
	}
	_ = a[3*lda+k-1]
	_ = c[3*ldc+n-1]
	idx = idx[:SkipScratch(m, k)]
	var starts [skipMaxBlocks + 1]int
	cnt := listSteps4(sk.scan4, k, pb.kcb, a, lda, idx, starts[:nblk+1])
	if cnt*256 > k*maxDense {
		return false
	}
	whole := n / panelN * panelN
	groups := whole / 8
	for blk, pc := 0, 0; pc < k; blk, pc = blk+1, pc+pb.kcb {
		kb := min(pb.kcb, k-pc)
		bet := beta
		if pc > 0 {
			bet = 1 // later k blocks accumulate onto the first
		}
		e0, e1 := starts[blk], starts[blk+1]
		data := pb.data[pc*pb.npad+pb.j0*kb:] // panel q at q*panelN*kb
		for g := 0; g < groups; {
			ng := 3
			if r := groups - g; r == 2 || r == 4 {
				ng = 2
			}
			var b [3][]float32
			for h := 0; h < ng; h++ {
				q, o := (g+h)/4, (g+h)%4*8
				b[h] = data[q*panelN*kb+o : q*panelN*kb+kb*panelN]
			}
			sk.rows4(idx[e0:e1], a[pc:], lda, b, c[g*8:], ldc, alpha, bet, ng)
			g += ng
		}
		// The last, partial panel as sgemmRows4 computes it: in full.
		for jr := whole; jr < n; jr += panelN {
			im.tile(kb, a[pc:], lda, data[jr*kb:], c[jr:], ldc, alpha, bet, 4, min(panelN, n-jr))
		}
	}
	if epi != nil {
		epi(c, ldc, 0, 0, m, n)
	}
	return true
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

	// rowSums2 adds a[p] times row p of each of the np panels of a k
	// block (kb rows of panelN floats, one panel after the other at b)
	// to acc0[32q+j], for the steps p listed in idx0 (increasing), one
	// fused multiply-add per step in order, and the same for idx1 into
	// acc1: the partial sums from which SgemvSkip builds what the
	// matrix-vector kernels give (skipRowSumsRef for each list).
	rowSums2 func(idx0, idx1 []int32, a, b []float32, kb, np int, acc0, acc1 []float32)

	// gemvT and gemvN: SgemvSkip may mirror the implementation's
	// matrix-vector kernels on B stored transposed (sgemvTAVX2: sixteen
	// partial sums per column, step p in sum p mod 16 below k&^15 and p
	// mod 8 from there, added pairwise) and as is (sgemvNAVX2: two, the
	// even and the odd steps).
	gemvT, gemvN bool
}

// listSteps4 lists the steps p < k at which some row of the 4×k matrix
// A (stride lda) is not zero, in order, relative to the start of their
// k block (blocks of kcb steps), with scan (scanSteps4 or a kernel that
// gives the same): starts[b] is the first entry of block b and
// starts[nblk] the count, which it returns.
func listSteps4(scan func(kb int, a []float32, lda int, idx []int32) int, k, kcb int, a []float32, lda int, idx []int32, starts []int) int {
	e := 0
	for blk, pc := 0, 0; pc < k; blk, pc = blk+1, pc+kcb {
		starts[blk] = e
		kb := min(kcb, k-pc)
		e += scan(kb, a[pc:], lda, idx[e:])
	}
	starts[len(starts)-1] = e
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

// SkipGemvScratch returns the lengths of the scratch SgemvSkip needs for
// a product of k steps and n columns: idx of int32 and acc of float32.
func SkipGemvScratch(k, n int) (idx, acc int) { return k + skipAhead, 16 * roundUp(n, panelN) }

// SgemvSkip computes what Sgemm(false, transB, 1, n, k, alpha, a, k, B,
// ldb, 0, c, n) computes, bit for bit, for the matrix B that sb was
// packed from (op(B) k×n), without reading the rows p of op(B) at which
// a[p] is zero, and reports whether it did; when it reports false, it
// has not written c and the caller runs Sgemm. Sgemm's matrix-vector
// kernels sum each column in several partial sums that they add at the
// end; SgemvSkip sums the listed steps of each partial sum in order, in
// the packed panels of sb, and adds the partial sums as they do. It
// declines implementations it has no mirror of, a B that is not finite,
// and an a with too few zeros to pay. idx and acc are scratch of at
// least the lengths SkipGemvScratch gives.
func SgemvSkip(transB bool, n, k int, alpha float32, a []float32, sb *SkipB, c []float32, idx []int32, acc []float32) bool {
	if !SgemvSkipPays(transB, n, k, a, sb) {
		return false
	}
	return sgemvSkipT(sgemmDefault, transB, n, k, alpha, a, sb, c, idx, acc, skipMaxDense1)
}

// SgemvSkipPays reports whether SgemvSkip would skip in this product: a
// check without scratch (k compares), for callers that fetch the scratch
// only when it is needed.
func SgemvSkipPays(transB bool, n, k int, a []float32, sb *SkipB) bool {
	im := sgemmDefault
	sk := skipKernelsFor(im)
	if n < skipMinN1 || k <= 0 || sk == nil || sk.rowSums2 == nil || !sb.finite || im.direct != nil || im.gemv == nil {
		return false
	}
	return countNonZero(a[:k])*256 <= k*skipMaxDense1
}

// countNonZero returns the number of values of a that are neither +0
// nor -0 (NaNs count).
func countNonZero(a []float32) int {
	nz := 0
	for _, x := range a {
		u := math.Float32bits(x) << 1
		nz += int((u | -u) >> 31)
	}
	return nz
}

// skipMaxDense1 and skipMinN1 are skipMaxDense for SgemvSkip, and the
// fewest columns it takes. The matrix-vector kernels stream B at full
// speed, while the partial sums that SgemvSkip must keep apart (sixteen
// for B stored transposed) have it read the listed rows of each k block
// in as many strided passes. Measured on Zen 3 by the fastest call of
// many (BenchmarkSgemvSkipMin), against Sgemm: k = 2304, n = 512, B
// transposed (the CIFAR CNN's dense layer): 1.65 with every step
// listed, 1.0 at 50%, 0.73 at 30%; B as stored: 0.95 at 60%, 0.84 at
// 50%, 0.57 at 30%; at n = 128 (k = 784), transposed, still 1.5 at 30%.
// So at most 40% listed, and at least 256 columns.
const (
	skipMaxDense1 = 102
	skipMinN1     = 256
)

// sgemvSkipT is SgemvSkip on an explicit implementation with maxDense in
// place of skipMaxDense1.
func sgemvSkipT(im *sgemmImpl, transB bool, n, k int, alpha float32, a []float32, sb *SkipB, c []float32, idx []int32, acc []float32, maxDense int) bool {
	pb := sb.pb
	if k != pb.k || n != pb.n {
		panic(fmt.Sprintf("asm.SgemvSkip: k=%d n=%d but B was packed as %d×%d", k, n, pb.k, pb.n))
	}
	sk := skipKernelsFor(im)
	if sk == nil || sk.rowSums2 == nil || !sb.finite || n <= 0 || k <= 0 || im.direct != nil || im.gemv == nil ||
		transB && !sk.gemvT || !transB && !sk.gemvN || pb.j0 != 0 {
		return false
	}
	a, c = a[:k], c[:n]
	if countNonZero(a)*256 > k*maxDense {
		return false
	}
	nsets, k16 := 2, k&^15
	if transB {
		nsets = 16
	}
	npad := pb.npad
	np := npad / panelN
	idx = idx[:k]
	acc = acc[:nsets*npad]
	clear(acc)
	for pc := 0; pc < k; pc += pb.kcb {
		kb := min(pb.kcb, k-pc)
		data := pb.data[pc*npad:]
		ab := a[pc : pc+kb]
		// The block's listed steps, by partial sum (a counting sort:
		// each sum's steps stay in order). Sum of step p: p mod 2 (B as
		// stored); p mod 16 below k16 and p mod 8 from there
		// (transposed).
		mask, hi := 1, kb
		if transB {
			mask, hi = 15, max(min(k16-pc, kb), 0)
		}
		var start [17]int
		for p, x := range ab {
			if x != 0 {
				s := (pc + p) & mask
				if p >= hi {
					s &= 7
				}
				start[s+1]++
			}
		}
		for s := 1; s <= nsets; s++ {
			start[s] += start[s-1]
		}
		next := start
		for p, x := range ab {
			if x != 0 {
				s := (pc + p) & mask
				if p >= hi {
					s &= 7
				}
				idx[next[s]] = int32(p)
				next[s]++
			}
		}
		for s := 0; s < nsets; s += 2 {
			sk.rowSums2(idx[start[s]:start[s+1]], idx[start[s+1]:start[s+2]], ab, data, kb, np, acc[s*npad:(s+1)*npad], acc[(s+1)*npad:(s+2)*npad])
		}
	}
	// Sum s of column j is at acc[s*npad+j].
	at := func(s, j int) float32 { return acc[s*npad+j] }
	if !transB {
		for j := range c {
			t := at(0, j) + at(1, j)
			c[j] = t * alpha
		}
		return true
	}
	for j := range c {
		var y [8]float32
		for l := range y {
			y[l] = at(l, j) + at(l+8, j)
		}
		x0, x1, x2, x3 := y[0]+y[4], y[1]+y[5], y[2]+y[6], y[3]+y[7]
		h0, h1 := x0+x1, x2+x3
		t := h0 + h1
		c[j] = t * alpha
	}
	return true
}

// skipRowSumsRef is the reference of skipKernels.rowSums2 for one list,
// with fused multiply-adds (fma32).
func skipRowSumsRef(idx []int32, a, b []float32, kb, np int, acc []float32) {
	for q := 0; q < np; q++ {
		for j := 0; j < panelN; j++ {
			s := acc[q*panelN+j]
			for _, p := range idx {
				s = fma32(a[p], b[q*kb*panelN+int(p)*panelN+j], s)
			}
			acc[q*panelN+j] = s
		}
	}
}
