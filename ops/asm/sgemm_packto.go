package asm

import (
	"fmt"
	"unsafe"
)

// PackBPartTo is PackBPart storing the PackedB in *dst instead of
// returning a new one, for a split product that packs B per call
// without a heap allocation: each goroutine packs its columns with a
// PackedB of its own (say on its stack), and the caller gets the whole
// one with j0 = j1 = 0 (which packs nothing). buf must not be nil.
func PackBPartTo(dst *PackedB, transB bool, k, n int, b []float32, ldb int, buf []float32, j0, j1 int) {
	if k < 0 || n < 0 {
		panic(fmt.Sprintf("asm.PackB: negative dimension k=%d n=%d", k, n))
	}
	if j0 < 0 || j1 > n || j0 > j1 || j0%panelN != 0 || j1 < n && j1%panelN != 0 {
		panic(fmt.Sprintf("asm.PackBPart: columns %d..%d of %d: j0 and j1 < n must be multiples of %d", j0, j1, n, panelN))
	}
	if buf == nil {
		panic("asm.PackBPartTo: nil buffer")
	}
	*dst = PackedB{k: k, n: n, kcb: kBlock(k), npad: roundUp(n, panelN)}
	if k == 0 || n == 0 {
		return
	}
	checkB(transB, k, n, b, ldb)
	if len(buf) < PackedBLen(k, n) {
		panic(fmt.Sprintf("asm.PackBInto: buffer of %d floats for %d×%d (want %d)", len(buf), k, n, PackedBLen(k, n)))
	}
	// Aligned as PackBPart aligns it.
	off := int(uintptr(unsafe.Pointer(unsafe.SliceData(buf)))&63) / 4
	if off != 0 {
		off = 16 - off
	}
	dst.data = buf[off : off+k*dst.npad : off+k*dst.npad]
	for pc := 0; pc < k; pc += dst.kcb {
		kb := min(dst.kcb, k-pc)
		packBBlock(transB, kb, j1-j0, b, ldb, pc, j0, dst.data[pc*dst.npad+j0*kb:])
	}
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
