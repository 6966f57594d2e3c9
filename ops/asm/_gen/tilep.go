package main

import (
	"fmt"

	. "github.com/mmcloughlin/avo/build"
	. "github.com/mmcloughlin/avo/operand"
	. "github.com/mmcloughlin/avo/reg"
)

const tilePackedArgs = "func(k int, a *float32, b *float32, c *float32, ldc int, alpha float32, beta float32, nn int)"

// tileAVX2P emits sgemmTileAVX2P<r>: tileAVX2 with A packed, r floats per
// k step (a[p*r+i]), so that the broadcasts read one sequential stream.
// Like tileAVX2, a last pass of at most 8 columns runs r×8 (quarterPass).
// The C rows are prefetched on entry: the kernel runs long enough (kc
// steps) to hide a miss to memory, and a packed A and B leave L1 room.
func tileAVX2P(r int) {
	name := fmt.Sprintf("sgemmTileAVX2P%d", r)
	tileHead(name, r, tilePackedArgs, fmt.Sprintf("a[p*%d+i]", r), ": A packed, r floats per k step")
	acc := newAccs(r, 2, accSets(2*r), ymm)

	t := loadTile(false, true)
	k0, a0, b, c, ldc, nn := t.k, t.a, t.b, t.c, t.ldc, t.nn
	k, a, bp, cp := GP64(), GP64(), GP64(), GP64()

	Comment("Prefetch the C tile (both halves; 124 covers a row that is not 64-byte aligned).")
	MOVQ(c, cp)
	eachRow(r, cp, ldc, func(int) { prefetch(Mem{Base: cp}, Mem{Base: cp, Disp: 64}, Mem{Base: cp, Disp: 124}) })

	Label(name + "_half")
	CMPQ(nn, I32(8))
	JLE(LabelRef(name + "_q"))
	MOVQ(k0, k)
	MOVQ(a0, a)
	MOVQ(b, bp)
	acc.zero(VXORPS)
	packedKLoop(name, acc, k, a, bp, 0, nil)
	acc.reduce()
	storeTileAVX2(name, r, acc.at, c, ldc, nn, cp)
	Label(name + "_next")
	nextPass(name, nn, b, c)
	quarterPass(name, r, func() { MOVQ(a0, a) }, func(i, u int) Mem { return Mem{Base: a, Disp: 4 * (r*u + i)} },
		func(steps int) { ADDQ(I32(int32(4*r*steps)), a) }, b, c, ldc, nn, k0)
}

// packedKLoop emits the k loop of a 16-column pass of an AVX2 tile on a
// packed A (acc.r floats per step at a), B's rows at bp + disp, B in
// Y12/Y13 and A's broadcasts in Y14/Y15: kLoop, or mainLoop when there
// is a prefetchC to run near the end.
func packedKLoop(name string, acc accs, k, a, bp Register, disp int, prefetchC func()) {
	r := acc.r
	step := func(u int) {
		acc.step(u%acc.sets, Mem{Base: bp, Disp: panelBytes*u + disp}, 32, []VecPhysical{Y12, Y13}, [2]VecPhysical{Y14, Y15},
			func(i int) Mem { return Mem{Base: a, Disp: 4 * (r*u + i)} })
	}
	advance := func() {
		ADDQ(I32(int32(4*r*kUnroll)), a)
		ADDQ(I32(panelBytes*kUnroll), bp)
	}
	tail := func() {
		step(0)
		ADDQ(I32(int32(4*r)), a)
		ADDQ(I32(panelBytes), bp)
	}
	if prefetchC == nil {
		kLoop(name, k, kUnroll, step, advance, tail)
	} else {
		mainLoop(name, k, kUnroll, step, advance, tail, prefetchC)
	}
}

// storeTileAVX2 emits C = alpha*acc + beta*C for r rows of 16 columns at
// c (only the first nn < 16 columns through masks, jumping to
// name_ret when done; with nn ≥ 16 it falls through to name_next). Y12
// to Y15 are free.
func storeTileAVX2(name string, r int, acc func(i, h int) VecPhysical, c, ldc, nn, cp Register) {
	av := [2]VecPhysical{Y14, Y15}
	broadcastParam("alpha", Y12)
	MOVQ(c, cp)
	CMPQ(nn, I32(16))
	JL(LabelRef(name + "_partial"))

	Comment("C = alpha*acc + beta*C, all loads of C before any store.")
	jumpIfAlphaOne(name + "_full_beta")
	for i := 0; i < r; i++ {
		for h := 0; h < 2; h++ {
			VMULPS(Y12, acc(i, h), acc(i, h))
		}
	}
	Label(name + "_full_beta")
	loadBetaIsZero()
	JE(LabelRef(name + "_full_store"))
	broadcastParam("beta", Y13)
	eachRow(r, cp, ldc, func(i int) {
		for h := 0; h < 2; h++ {
			VFMADD231PS(Mem{Base: cp, Disp: 32 * h}, Y13, acc(i, h))
		}
	})
	MOVQ(c, cp)
	Label(name + "_full_store")
	eachRow(r, cp, ldc, func(i int) {
		for h := 0; h < 2; h++ {
			VMOVUPS(acc(i, h), Mem{Base: cp, Disp: 32 * h})
		}
	})
	JMP(LabelRef(name + "_next"))

	Comment("Fewer than 16 columns left: mask h of this pass starts at",
		"sgemmMaskTable + 4*(16 - nn + 8*h).")
	Label(name + "_partial")
	mt := maskAt(nn)
	maskMem := func(h int) Mem { return Mem{Base: mt, Disp: 32 * h} }
	loadBetaIsZero()
	JE(LabelRef(name + "_partial_beta0"))
	broadcastParam("beta", Y13)
	eachRow(r, cp, ldc, func(i int) {
		for h := 0; h < 2; h++ {
			m := Mem{Base: cp, Disp: 32 * h}
			VMOVUPS(maskMem(h), av[0])
			VMASKMOVPS(m, av[0], av[1])
			VMULPS(Y13, av[1], av[1])
			VFMADD231PS(Y12, acc(i, h), av[1])
			VMASKMOVPS(av[1], av[0], m)
		}
	})
	JMP(LabelRef(name + "_ret"))
	Label(name + "_partial_beta0")
	eachRow(r, cp, ldc, func(i int) {
		for h := 0; h < 2; h++ {
			VMOVUPS(maskMem(h), av[0])
			VMULPS(Y12, acc(i, h), acc(i, h))
			VMASKMOVPS(acc(i, h), av[0], Mem{Base: cp, Disp: 32 * h})
		}
	})
	JMP(LabelRef(name + "_ret"))
}

// maskAt negates n (a count of floats, at most 16) and returns a
// register pointing at sgemmMaskTable + 4*(16 - n): the 8 floats there are
// the mask of the first n lanes, the next 8 that of the first n - 8.
func maskAt(n Register) Register {
	mt := GP64()
	LEAQ(maskTable, mt)
	NEGQ(n)
	LEAQ(Mem{Base: mt, Index: n, Scale: 4, Disp: 4 * maskEntries}, mt)
	return mt
}

// packA6AVX2 emits sgemmPackA6AVX2, which packs 6 rows of A (at stride
// lda) for the packed-A tiles, 8 columns at a time: dst[p*6+i] =
// a[i*lda+p] for i < 6, p < kb (kb a multiple of 8).
func packA6AVX2() {
	name := "sgemmPackA6AVX2"
	TEXT(name, NOSPLIT, "func(kb int, a *float32, lda int, dst *float32)")
	Doc(name + " sets dst[p*6+i] = a[i*lda+p] for i < 6, p < kb; kb is a multiple of 8.")
	kb := Load(Param("kb"), GP64())
	a := Load(Param("a"), GP64())
	lda := loadBytes("lda")
	dst := Load(Param("dst"), GP64())
	lda3, lda5 := GP64(), GP64()
	LEAQ(Mem{Base: lda, Index: lda, Scale: 2}, lda3)
	LEAQ(Mem{Base: lda, Index: lda, Scale: 4}, lda5)
	SHRQ(Imm(3), kb)
	JE(LabelRef(name + "_done"))
	Label(name + "_loop")
	for i, m := range strideRows(a, lda, lda3, lda5, nil, 6) {
		VMOVUPS(m, ymm(i))
	}
	sixRowSteps(dst, 0, 24)
	ADDQ(I32(32), a)
	ADDQ(I32(24*8), dst)
	DECQ(kb)
	JNE(LabelRef(name + "_loop"))
	Label(name + "_done")
	VZEROUPPER()
	RET()
}

// strideRows returns the addresses of rows 0..n-1 (n at most 8, at most
// 7 without ld7) from base at stride ld, with ld3, ld5 and ld7 holding
// 3, 5 and 7 times it.
func strideRows(base, ld, ld3, ld5, ld7 Register, n int) []Mem {
	rows := []Mem{
		{Base: base}, {Base: base, Index: ld, Scale: 1}, {Base: base, Index: ld, Scale: 2},
		{Base: base, Index: ld3, Scale: 1}, {Base: base, Index: ld, Scale: 4},
		{Base: base, Index: ld5, Scale: 1}, {Base: base, Index: ld3, Scale: 2},
	}
	if ld7 != nil {
		rows = append(rows, Mem{Base: base, Index: ld7, Scale: 1})
	}
	return rows[:n]
}

// sixRowSteps emits the transposition of six rows of 8 floats in Y0..Y5
// into their 8 steps of six floats, step p at dst + off + stride*p
// (Y6..Y13 scratch): pairs of rows unpacked, rows 0-3 of each step
// shuffled together and stored as four floats, rows 4-5 as two.
func sixRowSteps(dst Register, off, stride int) {
	// t0..t5 in Y6..Y11: unpack pairs of rows.
	for i := 0; i < 3; i++ {
		VUNPCKLPS(ymm(2*i+1), ymm(2*i), ymm(6+2*i))
		VUNPCKHPS(ymm(2*i+1), ymm(2*i), ymm(7+2*i))
	}
	// s0..s3 in Y0..Y3: rows 0-3 of columns (0|4), (1|5), (2|6), (3|7).
	VSHUFPS(U8(0x44), Y8, Y6, Y0)
	VSHUFPS(U8(0xEE), Y8, Y6, Y1)
	VSHUFPS(U8(0x44), Y9, Y7, Y2)
	VSHUFPS(U8(0xEE), Y9, Y7, Y3)
	// Rows 4-5: Y10 holds columns (0,1|4,5), Y11 (2,3|6,7).
	VEXTRACTF128(Imm(1), Y10, X12)
	VEXTRACTF128(Imm(1), Y11, X13)
	for p := 0; p < 8; p++ {
		s := ymm(p % 4)
		o := off + stride*p
		if p < 4 {
			VMOVUPS(s.(VecPhysical).AsX(), Mem{Base: dst, Disp: o})
		} else {
			VEXTRACTF128(Imm(1), s, Mem{Base: dst, Disp: o})
		}
		var src VecPhysical
		switch {
		case p < 2:
			src = X10
		case p < 4:
			src = X11
		case p < 6:
			src = X12
		default:
			src = X13
		}
		if p%2 == 0 {
			VMOVLPS(src, Mem{Base: dst, Disp: o + 16})
		} else {
			VMOVHPS(src, Mem{Base: dst, Disp: o + 16})
		}
	}
}

// quarterPass emits, at label name_q, the pass of an AVX2 tile over the
// last nn ≤ 8 columns of a panel: r×8 with one ymm accumulator per row
// (in accSets(r) sets over k, so that enough FMA chains are in flight),
// instead of a 16-column pass that would waste half its work or more.
// setup points the A registers at the tile's first step, bcast addresses
// row i of A at unrolled step u and advance moves A on by steps steps; b
// and c are the panel and the C tile at the pass's first column, k0 the
// depth. It returns from the function.
func quarterPass(name string, r int, setup func(), bcast func(i, u int) Mem, advance func(steps int), b, c, ldc, nn, k0 Register) {
	acc := newAccs(r, 1, accSets(r), ymm)
	av := [2]VecPhysical{Y14, Y15}
	Label(name + "_q")
	k, bp, cp := GP64(), GP64(), GP64()
	MOVQ(k0, k)
	MOVQ(b, bp)
	setup()
	MOVQ(c, cp)
	eachRow(r, cp, ldc, func(int) { prefetch(Mem{Base: cp}, Mem{Base: cp, Disp: 28}) })
	acc.zero(VXORPS)
	step := func(u, s int) {
		acc.step(s, Mem{Base: bp, Disp: panelBytes * u}, 32, []VecPhysical{Y12}, av, func(i int) Mem { return bcast(i, u) })
	}
	kLoop(name+"_q", k, kUnroll, func(u int) { step(u, u%acc.sets) }, func() {
		advance(kUnroll)
		ADDQ(I32(panelBytes*kUnroll), bp)
	}, func() {
		step(0, 0)
		advance(1)
		ADDQ(I32(panelBytes), bp)
	})
	acc.reduce()
	jumpIfAlphaOne(name + "_q_beta")
	broadcastParam("alpha", Y12)
	for i := 0; i < r; i++ {
		VMULPS(Y12, acc.at(i, 0), acc.at(i, 0))
	}
	Label(name + "_q_beta")
	Comment("Columns past nn masked off: the mask starts at sgemmMaskTable + 4*(16 - nn).")
	VMOVUPS(Mem{Base: maskAt(nn)}, av[0])
	MOVQ(c, cp)
	loadBetaIsZero()
	JE(LabelRef(name + "_q_store"))
	broadcastParam("beta", Y13)
	eachRow(r, cp, ldc, func(i int) {
		VMASKMOVPS(Mem{Base: cp}, av[0], av[1])
		VFMADD231PS(Y13, av[1], acc.at(i, 0))
	})
	MOVQ(c, cp)
	Label(name + "_q_store")
	eachRow(r, cp, ldc, func(i int) { VMASKMOVPS(acc.at(i, 0), av[0], Mem{Base: cp}) })
	VZEROUPPER()
	RET()
}
