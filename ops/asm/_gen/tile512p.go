package main

import (
	"fmt"
	"strings"

	. "github.com/mmcloughlin/avo/build"
	. "github.com/mmcloughlin/avo/operand"
	. "github.com/mmcloughlin/avo/reg"
)

// The AVX-512 tiles on a packed A: what tileAVX2P, tileAVX2PAct and
// tileAVX2PActN are to the AVX2 implementation, with the 14-row tiles of
// tileAVX512 (two zmm accumulators a row, Z0..Z27 at most, B in Z28/Z29,
// A's broadcasts alternating in Z30/Z31). Each element is summed in the
// order tileAVX512 sums it, so packing A changes no result.

// packedKLoop512 emits the k loop of an AVX-512 tile on a packed A
// (acc.r floats per step at a, B's rows at bp), with prefetchC run when
// about prefetchAhead steps remain.
func packedKLoop512(name string, acc accs, k, a, bp Register, prefetchC func()) {
	r := acc.r
	bv := []VecPhysical{Z28, Z29}[:acc.halves]
	av := [2]VecPhysical{Z30, Z31}
	step := func(u, s int) {
		acc.step(s, Mem{Base: bp, Disp: panelBytes * u}, 64, bv, av, func(i int) Mem { return Mem{Base: a, Disp: 4 * (r*u + i)} })
	}
	mainLoop(name, k, kUnroll, func(u int) { step(u, u%acc.sets) }, func() {
		ADDQ(I32(int32(4*r*kUnroll)), a)
		ADDQ(I32(panelBytes*kUnroll), bp)
	}, func() {
		step(0, 0)
		ADDQ(I32(int32(4*r)), a)
		ADDQ(I32(panelBytes), bp)
	}, prefetchC)
}

// prefetchTile512 prefetches the 16 columns a half of the r rows of C
// from c on (the last float covers a row that is not 64-byte aligned),
// and with zoff those of z, zoff bytes past them.
func prefetchTile512(r, halves int, c, ldc, zoff Register) {
	cp := GP64()
	MOVQ(c, cp)
	last := 64*halves - 4
	eachRow(r, cp, ldc, func(int) {
		if halves == 1 {
			prefetch(Mem{Base: cp}, Mem{Base: cp, Disp: last})
		} else {
			prefetch(Mem{Base: cp}, Mem{Base: cp, Disp: 64}, Mem{Base: cp, Disp: last})
		}
		if zoff != nil {
			prefetch(Mem{Base: cp, Index: zoff, Scale: 1}, Mem{Base: cp, Index: zoff, Scale: 1, Disp: last})
		}
	})
}

// halfName is name with the infix H of the 16-column tiles (before the
// row count) when halves is 1.
func halfName(format string, halves int, args ...any) string {
	if halves == 1 {
		format = strings.Replace(format, "%d", "H%d", 1)
	}
	return fmt.Sprintf(format, args...)
}

// tileAVX512P emits sgemmTileAVX512P<r>: tileAVX512 with A packed, r
// floats per k step (a[p*r+i]), so that the broadcasts read one
// sequential stream.
func tileAVX512P(r int) { tileAVX512PW(r, 2) }

// tileAVX512PHalf emits sgemmTileAVX512PH<r>, the 16-column tile of
// tileAVX512P (nn ≤ 16), as tileAVX512Half is of tileAVX512.
func tileAVX512PHalf(r int) { tileAVX512PW(r, 1) }

// tileAVX512PW emits tileAVX512P's tile with halves zmm a row.
func tileAVX512PW(r, halves int) {
	name := halfName("sgemmTileAVX512P%d", halves, r)
	tileHeadCols(name, r, 16*halves, tilePackedArgs, fmt.Sprintf("a[p*%d+i]", r), ": A packed, r floats per k step")
	acc := newAccs(r, halves, accSets(2*r), zmm)
	t := loadTile(false, false)
	k, a, b, c, ldc := t.k, t.a, t.b, t.c, t.ldc
	acc.zero(VPXORD)
	packedKLoop512(name, acc, k, a, b, func() { prefetchTile512(r, halves, c, ldc, nil) })
	acc.reduce()
	storeTileAVX512(name, r, acc, c, ldc)
}

// tileAVX512PAct emits sgemmTileAVX512PAct<r>: tileAVX512P (alpha 1)
// whose stores apply a convolution's epilogue, as tileAVX2PAct does: C =
// min(max((acc + beta*C + bias[i]) + z, lo), hi), for nn = 16 or 32
// columns (the second half masked off at 16).
func tileAVX512PAct(r int) { tileAVX512PActW(r, 2) }

// tileAVX512PActHalf emits sgemmTileAVX512PActH<r>, the tile of
// tileAVX512PAct for nn = 16, one zmm a row.
func tileAVX512PActHalf(r int) { tileAVX512PActW(r, 1) }

// tileAVX512PActW emits tileAVX512PAct's tile with halves zmm a row.
func tileAVX512PActW(r, halves int) {
	name := halfName("sgemmTileAVX512PAct%d", halves, r)
	nn := "nn 16 or 32"
	if halves == 1 {
		nn = "nn 16"
	}
	TEXT(name, NOSPLIT, tilePActArgs)
	Doc(fmt.Sprintf("%s computes an %d×nn tile (%s): C[i][j] = min(max(Σp a[p*%d+i]*b[p*32+j] + beta*C[i][j] + bias[i], lo), hi)", name, r, nn, r),
		"(C unread when beta is 0): A packed, r floats per k step. With sum not 0, the float zoff bytes past C[i][j] is added after bias.")
	acc := newAccs(r, halves, accSets(2*r), zmm)
	t := loadTile(false, false)
	k, a, b, c, ldc := t.k, t.a, t.b, t.c, t.ldc
	bias := Load(Param("bias"), GP64())
	zoff := Load(Param("zoff"), GP64())
	acc.zero(VPXORD)
	packedKLoop512(name, acc, k, a, b, func() { prefetchTile512(r, halves, c, ldc, zoff) })
	acc.reduce()
	kmask := columnMasksAVX512()

	Comment("acc += beta*C, all loads of C before any store.")
	cp := GP64()
	MOVQ(c, cp)
	loadBetaIsZero()
	JE(LabelRef(name + "_act"))
	broadcastParam("beta", Z31)
	eachRow(r, cp, ldc, func(i int) {
		for h := 0; h < halves; h++ {
			VFMADD231PS(Mem{Base: cp, Disp: 64 * h}, Z31, kmask[h], acc.at(i, h))
		}
	})
	MOVQ(c, cp)
	Label(name + "_act")
	Comment("C = min(max((acc + bias[i]) + z, lo), hi).")
	clampStore(name, r, acc.at, cp, ldc, bias, zoff, 0, 64, [3]VecPhysical{Z28, Z29, Z30}, kmask[:halves])
	VZEROUPPER()
	RET()
}

// tileAVX512PActN emits sgemmTileAVX512PAct14N: sgemmTileAVX512PAct14
// with beta 0 over nt tiles one under the other, in one call, as
// tileAVX2PActN does for six rows: tile t reads A at a + 14*k*t, writes
// C at c + 14*ldc*t and adds bias from bias + 14*t*bstep.
func tileAVX512PActN() { tileAVX512PActNW(2) }

// tileAVX512PActNHalf emits sgemmTileAVX512PActH14N, the tiles of
// tileAVX512PActN for nn = 16, one zmm a row.
func tileAVX512PActNHalf() { tileAVX512PActNW(1) }

// tileAVX512PActNW emits tileAVX512PActN's tiles with halves zmm a row.
func tileAVX512PActNW(halves int) {
	const r = mrAVX512
	name := halfName("sgemmTileAVX512PAct%dN", halves, r)
	TEXT(name, NOSPLIT, "func(k int, a *float32, b *float32, c *float32, ldc int, bias *float32, lo float32, hi float32, nn int, nt int, bstep int, zoff int, sum int)")
	Doc(fmt.Sprintf("%s computes nt tiles of %d×nn as %s does with beta 0: tile t on A", name, r, halfName("sgemmTileAVX512PAct%d", halves, r)),
		fmt.Sprintf("at a + %d*k*t, C at c + %d*ldc*t and bias at bias + %d*bstep*t (and z zoff bytes past C when sum is not 0).", r, r, r))
	acc := newAccs(r, halves, 1, zmm)
	a := Load(Param("a"), GP64())
	b := Load(Param("b"), GP64())
	c := Load(Param("c"), GP64())
	ldc := loadBytes("ldc")
	bias := Load(Param("bias"), GP64())
	nt := Load(Param("nt"), GP64())
	bstep := Load(Param("bstep"), GP64())
	zoff := Load(Param("zoff"), GP64())
	IMUL3Q(I32(4*r), bstep, bstep)
	kmask := columnMasksAVX512()
	k, cp := GP64(), GP64()
	TESTQ(nt, nt)
	JLE(LabelRef(name + "_ret"))
	Label(name + "_tile")
	MOVQ(paramAddr("k"), k)
	MOVQ(b, cp) // the panel, from the top for each tile
	acc.zero(VPXORD)
	packedKLoop512(name, acc, k, a, cp, func() { prefetchTile512(r, halves, c, ldc, zoff) })
	Comment("C = min(max((acc + bias[i]) + z, lo), hi).")
	MOVQ(c, cp)
	clampStore(name, r, acc.at, cp, ldc, bias, zoff, 0, 64, [3]VecPhysical{Z28, Z29, Z30}, kmask[:halves])
	Comment(fmt.Sprintf("The next tile: A has moved on past this one (%d*k floats), C %d rows down.", r, r))
	for i := 0; i < r; i++ {
		ADDQ(ldc, c)
	}
	ADDQ(bstep, bias)
	DECQ(nt)
	JNE(LabelRef(name + "_tile"))
	Label(name + "_ret")
	VZEROUPPER()
	RET()
}

// packA14AVX2 emits sgemmPackA14AVX2, which packs 14 rows of A (at stride
// lda) for the 14-row packed-A tiles, 8 columns at a time: dst[p*14+i] =
// a[i*lda+p] for i < 14, p < kb (kb a multiple of 8). Rows 0-7 go
// through an 8×8 transpose (as in packBTAVX2), rows 8-13 through the six-
// row shuffle of packA6AVX2; AVX2 instructions only.
func packA14AVX2() {
	name := "sgemmPackA14AVX2"
	TEXT(name, NOSPLIT, "func(kb int, a *float32, lda int, dst *float32)")
	Doc(name + " sets dst[p*14+i] = a[i*lda+p] for i < 14, p < kb; kb is a multiple of 8.")
	kb := Load(Param("kb"), GP64())
	a := Load(Param("a"), GP64())
	lda := loadBytes("lda")
	dst := Load(Param("dst"), GP64())
	lda3, lda5, lda7, a8 := GP64(), GP64(), GP64(), GP64()
	LEAQ(Mem{Base: lda, Index: lda, Scale: 2}, lda3)
	LEAQ(Mem{Base: lda, Index: lda, Scale: 4}, lda5)
	LEAQ(Mem{Base: lda3, Index: lda, Scale: 4}, lda7)
	LEAQ(Mem{Base: a, Index: lda, Scale: 8}, a8)
	SHRQ(Imm(3), kb)
	JE(LabelRef(name + "_done"))
	const stride = 4 * 14 // bytes from one step to the next in dst
	Label(name + "_loop")
	Comment("Rows 0-7: an 8×8 transpose; column q to dst + 56*q.")
	transpose8(strideRows(a, lda, lda3, lda5, lda7, 8), dst, stride)
	Comment("Rows 8-13 as packA6AVX2 does six rows: column q to dst + 56*q + 32.")
	for i, m := range strideRows(a8, lda, lda3, lda5, nil, 6) {
		VMOVUPS(m, ymm(i))
	}
	sixRowSteps(dst, 32, stride)
	ADDQ(I32(32), a)
	ADDQ(I32(32), a8)
	ADDQ(I32(8*stride), dst)
	DECQ(kb)
	JNE(LabelRef(name + "_loop"))
	Label(name + "_done")
	VZEROUPPER()
	RET()
}
