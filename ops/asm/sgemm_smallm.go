package asm

// The four-row product on a packed B (SgemmPacked with m = 4: a Dense
// layer on a batch of four). The tiles of sgemmBlocked cover 32 columns
// in two passes of 16, whose eight accumulators leave the FMA units no
// slack; the four-row kernel (sgemmImpl.rows4) keeps twelve
// accumulators, four rows by 24 columns, read from the same packed
// panels as three groups of eight (a group and the next may lie in
// different panels). Every element is computed as the tiles compute
// the full-width columns, so the results are the same bit for bit; the
// columns past the last whole panel, where the tiles take other paths,
// are left to the tiles. The AVX-512 tiles, four rows by 32 columns in
// sixteen-lane vectors, beat it (sgemmImpl.tiles4): 106-135 GFLOP/s
// against 61-77 on a Xeon (BenchmarkSgemmRows4: 4×128×784, 4×512×512,
// 4×128×128), level at 4×64×64.

// sgemmRows4 is sgemmPacked for m == 4 with an implementation that has
// a four-row kernel, when op(A) is A and B has at least one whole panel;
// it reports whether it computed the product.
func sgemmRows4(im *sgemmImpl, transA bool, m, n, k int, alpha float32, a []float32, lda int, pb *PackedB, beta float32, c []float32, ldc int, epi Epilogue) bool {
	if im.rows4 == nil || im.tiles4 || transA || m != 4 || n < panelN || k <= 0 {
		return false
	}
	whole := n / panelN * panelN // columns in whole panels
	groups := whole / 8
	for pc := 0; pc < k; pc += pb.kcb {
		kb := min(pb.kcb, k-pc)
		bet := beta
		if pc > 0 {
			bet = 1 // later k blocks accumulate onto the first
		}
		last := epi != nil && pc+kb >= k
		blk := pb.data[pc*pb.npad+pb.j0*kb:] // panel q at q*panelN*kb
		ap := a[pc:]
		rows4Blocks(blk, kb, groups, func(g, ng int, b [3][]float32) {
			im.rows4(kb, ap, lda, b, c[g*8:], ldc, alpha, bet, ng)
			if last {
				epi(c, ldc, 0, g*8, 4, ng*8)
			}
		})
		// The last, partial panel as sgemmBlocked computes it.
		for jr := whole; jr < n; jr += panelN {
			nn := min(panelN, n-jr)
			im.tile(kb, ap, lda, blk[jr*kb:], c[jr:], ldc, alpha, bet, 4, nn)
			if last {
				epi(c, ldc, 0, jr, 4, nn)
			}
		}
	}
	return true
}

// rows4Blocks calls f for the blocks of groups of eight columns (g the
// first, ng of them) that a four-row kernel takes from the packed panels
// blk of a k block of kb steps: blocks of three groups, and of two where
// three would leave one alone (groups is a multiple of four); b[h] is
// group g+h (a group and the next may lie in different panels).
func rows4Blocks(blk []float32, kb, groups int, f func(g, ng int, b [3][]float32)) {
	for g := 0; g < groups; {
		ng := 3
		if r := groups - g; r == 2 || r == 4 {
			ng = 2
		}
		var b [3][]float32
		for h := 0; h < ng; h++ {
			q, o := (g+h)/4, (g+h)%4*8
			b[h] = blk[q*panelN*kb+o : q*panelN*kb+kb*panelN]
		}
		f(g, ng, b)
		g += ng
	}
}
