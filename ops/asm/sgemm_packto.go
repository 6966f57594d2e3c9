package asm

import "fmt"

// PackBPartTo is PackBPart storing the PackedB in *dst instead of
// returning a new one, for a split product that packs B per call
// without a heap allocation: each goroutine packs its columns with a
// PackedB of its own (say on its stack), and the caller gets the whole
// one with j0 = j1 = 0 (which packs nothing). buf must not be nil.
func PackBPartTo(dst *PackedB, transB bool, k, n int, b []float32, ldb int, buf []float32, j0, j1 int) {
	if buf == nil {
		panic("asm.PackBPartTo: nil buffer")
	}
	packBPart(dst, transB, k, n, b, ldb, buf, j0, j1)
}

// ColsTo is Cols storing the view in *dst instead of returning a new
// PackedB, so that a split product takes its columns without a heap
// allocation.
func (p *PackedB) ColsTo(dst *PackedB, j0, j1 int) {
	if j0 < 0 || j1 > p.n || j0 > j1 || j0%panelN != 0 {
		panic(fmt.Sprintf("asm.PackedB.Cols(%d, %d) of %d columns: j0 must be a multiple of %d", j0, j1, p.n, panelN))
	}
	*dst = *p
	dst.j0 += j0
	dst.n = j1 - j0
}
