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
// now the four-row product of SgemmPacked (a batch of four). Only the
// AVX2 implementation has such a kernel; elsewhere SgemmSkip declines,
// and the caller runs the product in full.
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
		rows4Blocks(data, kb, groups, func(g, ng int, b [3][]float32) {
			sk.rows4(idx[e0:e1], a[pc:], lda, b, c[g*8:], ldc, alpha, bet, ng)
		})
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
