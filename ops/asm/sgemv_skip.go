package asm

import (
	"math"
	"math/bits"
)

// The one-row product that skips the zero steps of A (a Dense layer on a
// single sample: an image with a blank background, the ReLU outputs of
// the layer before). SgemmPacked multiplies one row on a packed B with
// the implementation's matrix-vector kernel (sgemmImpl.gemvPacked),
// which sums the even steps and the odd steps of each k block in two
// separate sums and adds them at the end; skipKernels.row walks the same
// panels over the steps at which the row is not zero, listed even and
// odd apart, and puts every term into the sum the full kernel puts it
// in, in the same order. A term left out is a·b with a = ±0 and b finite,
// which leaves the sum as it was (but for the sign of a zero sum, as
// SgemmSkip says), so the results are those of SgemmPacked bit for bit.

// rowMaxDense is the largest fraction of the k steps, in 1/256ths, that
// may be listed (non-zero) for the one-row product to skip: per listed
// step the skipping kernel costs more than the full one (the step's
// offset, a broadcast by index, rows of B out of order), and the row is
// scanned first. Measured on Zen 3 by the fastest call of many
// (BenchmarkSgemvSkipMin), skipping over SgemmPacked on the same row: k
// = 784, n = 128 (B in L2; the MNIST MLP's first layer): 1.34 with every
// step listed, 1.00 at 50%, 0.75 at 40%, 0.36 at 20%; k = 128, n = 64 (B
// in L1): 1.28 at 50%, 1.09 at 40%, 0.69 at 20%; k = 2304, n = 512 (B
// from L3): 0.99 at 70%, 0.64 at 40%. So at most 40% listed.
const rowMaxDense = 102

// rowMinWork is the smallest product (n·k multiply-adds) on which the
// one-row product skips: below, finding the steps costs more than
// skipping them saves (the Keras dense example's 100×32 layer, 3200, ran
// twice as long with it, dense as its input is). At k = 128, n = 64
// (8192) skipping pays from 30% zeros on (see rowMaxDense).
const rowMinWork = 8192

// rowSkipApplies reports whether sgemvSkip has a kernel for a row of n
// columns on sb with the implementation im (one whole panel at least).
func rowSkipApplies(im *sgemmImpl, sk *skipKernels, n int, sb *SkipB) bool {
	return sk != nil && sk.row != nil && im.gemvPacked != nil && sb.finite && n >= panelN
}

// sgemvSkip is SgemmSkip for m == 1 (see SgemmSkip), with maxDense in
// place of rowMaxDense and minWork of rowMinWork: it counts the non-zero
// steps of a and declines when more than maxDense 256ths of the k steps
// are, else lists those of each k block, even and odd apart, and
// computes the whole panels of each block with sk.row and the last,
// partial panel in full with im.gemvPacked, then the epilogue.
func sgemvSkip(im *sgemmImpl, sk *skipKernels, n, k int, alpha float32, a []float32, sb *SkipB, beta float32, c []float32, ldc int, epi Epilogue, scratch []int32, maxDense, minWork int) bool {
	pb := sb.pb
	nblk := (k + pb.kcb - 1) / pb.kcb
	if !rowSkipApplies(im, sk, n, sb) || n*k < minWork || k <= 0 || nblk > skipMaxBlocks {
		return false
	}
	a, c = a[:k], c[:n]
	if sk.countNonZero(a)*256 > k*maxDense {
		return false // before listing: a dense row costs only the count
	}
	// Block b's lists start at b*(kcb+1): its even steps (at most
	// (kb+1)/2), then from (kb+1)/2 on its odd ones; counts[2b] and
	// counts[2b+1] are their lengths.
	lists := scratch[:nblk*(pb.kcb+1)]
	counts := scratch[len(lists):][:2*nblk]
	for blk, pc := 0, 0; pc < k; blk, pc = blk+1, pc+pb.kcb {
		kb := min(pb.kcb, k-pc)
		l := lists[blk*(pb.kcb+1):][:kb+1]
		ne, no := sk.listRow(a[pc:pc+kb], l[:(kb+1)/2], l[(kb+1)/2:])
		counts[2*blk], counts[2*blk+1] = int32(ne), int32(no)
	}
	whole := n / panelN
	for blk, pc := 0, 0; pc < k; blk, pc = blk+1, pc+pb.kcb {
		kb := min(pb.kcb, k-pc)
		bet := beta
		if pc > 0 {
			bet = 1 // later k blocks accumulate onto the first
		}
		data := pb.data[pc*pb.npad+pb.j0*kb:] // panel q at q*panelN*kb
		l := lists[blk*(pb.kcb+1):][:kb+1]
		ev, od := l[:counts[2*blk]], l[(kb+1)/2:][:counts[2*blk+1]]
		if whole > 0 {
			sk.row(ev, od, a[pc:pc+kb], data, kb, whole, c, alpha, bet)
		}
		if whole*panelN < n {
			im.gemvPacked(kb, a[pc:pc+kb], data[whole*panelN*kb:], c[whole*panelN:], n-whole*panelN, alpha, bet)
		}
	}
	if epi != nil {
		epi(c, ldc, 0, 0, 1, n)
	}
	return true
}

// countNonZero returns how many a[p] are neither +0 nor -0 (a NaN
// counts), as listRow would list them.
func (sk *skipKernels) countNonZero(a []float32) int {
	n8 := len(a) &^ 7
	cnt := 0
	if sk.nonZero != nil {
		for w := 0; w < n8; w += 64 {
			cnt += bits.OnesCount64(sk.nonZero(a[w:min(w+64, n8)]))
		}
	} else {
		n8 = 0
	}
	for _, x := range a[n8:] {
		if x != 0 || x != x {
			cnt++
		}
	}
	return cnt
}

// skipScratchRow is SkipScratch for one row of k steps: the lists of
// sgemvSkip, kcb+1 entries per k block (nblk*kcb < k+nblk), and two
// counts per block.
func skipScratchRow(k int) int { return k + 4*skipMaxBlocks }

// listRow is scanRowParity with the non-zero values found eight at a
// time by sk.nonZero when there is such a kernel.
func (sk *skipKernels) listRow(a []float32, ev, od []int32) (ne, no int) {
	n8 := len(a) &^ 7
	if sk.nonZero == nil || n8 == 0 {
		return scanRowParity(a, ev, od)
	}
	ev, od = ev[:(len(a)+1)/2], od[:len(a)/2]
	for w := 0; w < n8; w += 64 {
		m := sk.nonZero(a[w:min(w+64, n8)])
		for e := m & 0x5555555555555555; e != 0; e &= e - 1 {
			ev[ne] = int32((w + bits.TrailingZeros64(e)) * panelN * 4)
			ne++
		}
		for o := m & 0xaaaaaaaaaaaaaaaa; o != 0; o &= o - 1 {
			od[no] = int32((w + bits.TrailingZeros64(o)) * panelN * 4)
			no++
		}
	}
	// The last len(a) mod 8 steps (n8 is even: their parity is p's).
	te, to := scanRowParity(a[n8:], ev[ne:], od[no:])
	for i := ne; i < ne+te; i++ {
		ev[i] += int32(n8 * panelN * 4)
	}
	for i := no; i < no+to; i++ {
		od[i] += int32(n8 * panelN * 4)
	}
	return ne + te, no + to
}

// scanRowParity lists the steps p of a at which a[p] is neither +0 nor
// -0 (a NaN is listed) as byte offsets 128*p of the rows of a packed
// panel: the even steps into ev (room for (len(a)+1)/2), the odd ones
// into od (room for len(a)/2), each in increasing order, and returns
// their counts. Branch-free: the values decide nothing but the counts.
func scanRowParity(a []float32, ev, od []int32) (ne, no int) {
	pairs := len(a) / 2
	ev, od = ev[:(len(a)+1)/2], od[:pairs]
	for i := range od {
		x, y := math.Float32bits(a[2*i])<<1, math.Float32bits(a[2*i+1])<<1
		ev[ne] = int32(2 * i * panelN * 4)
		ne += int((x | -x) >> 31)
		od[no] = int32((2*i + 1) * panelN * 4)
		no += int((y | -y) >> 31)
	}
	if len(a)%2 == 1 {
		x := math.Float32bits(a[len(a)-1]) << 1
		ev[ne] = int32((len(a) - 1) * panelN * 4)
		ne += int((x | -x) >> 31)
	}
	return ne, no
}

// skipRowRef is the reference of skipKernels.row: the float32 products
// and sums of the AVX2 kernel (and of sgemvPackedAVX2 over all the
// steps), each multiply-add fused (fma32).
func skipRowRef(ev, od []int32, a, b []float32, kb, np int, c []float32, alpha, beta float32) {
	for j := 0; j < np*panelN; j++ {
		q := j / panelN
		sum := func(offs []int32) float32 {
			var s float32
			for _, o := range offs {
				p := int(o) / (panelN * 4)
				s = fma32(a[p], b[q*panelN*kb+panelN*p+j%panelN], s)
			}
			return s
		}
		s := (sum(ev) + sum(od)) * alpha
		if math.Float32bits(beta)&0x7fffffff != 0 {
			s = fma32(beta, c[j], s)
		}
		c[j] = s
	}
}
