package ops

import "github.com/onyxrt/onyx/ops/asm"

// runSkip computes the product j on one thread with asm.SgemmSkip, which
// leaves out the rows of the constant B that meet a column of A that is
// zero in every row (or, row by row, the steps at which a row of A is
// zero: sparse activations; a single row: the steps at which it is
// zero), when there is a kernel for it and enough
// such columns to pay, and reports whether it did; the results are those
// of j.block, bit for bit. (Sharing the product between two threads by
// column panels, asm's skipPlan.Run, did not pay on the MNIST MLP's first
// layer: some 1µs of work per thread.)
func (g *gemmNode) runSkip(j *sgemmJob) bool {
	if g.skip == nil || j.transA || j.pb == nil || !asm.SgemmSkipApplies(j.m, j.n, j.k, g.skip) {
		return false
	}
	if j.m == 1 && (j.transB || !asm.SgemvPacked()) {
		// The skipping row gives what SgemmPacked gives, which is what
		// the unskipped row (j.block) gives only in this case.
		return false
	}
	idx := getScratch[int32](asm.SkipScratch(j.m, j.k))
	ok := asm.SgemmSkip(j.m, j.n, j.k, j.alpha, j.a, j.lda, g.skip, j.beta, j.c, j.ldc, j.epi, *idx)
	putScratch(idx)
	return ok
}
