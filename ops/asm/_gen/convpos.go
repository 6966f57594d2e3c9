package main

import (
	. "github.com/mmcloughlin/avo/build"
	. "github.com/mmcloughlin/avo/operand"
	. "github.com/mmcloughlin/avo/reg"
)

// The AVX2 kernels of the position-major convolution, written to
// ../convpos_amd64.s (their Go declarations and references are in
// ../convpos_amd64.go and ../convpos.go).

const (
	posTileRows = 6  // positions per tile (asm.PosTileRows)
	posPanel    = 16 // output channels per panel (asm.PosPanel)
)

// convPosKernels emits the kernels of convpos_amd64.s.
func convPosKernels() {
	mask := maskData("posMask", 8)
	convPosTilesAVX2()
	convPosTilesAVX512()
	convPosTiles2AVX512()
	convPosEpiAVX2(mask)
}

// convPosTilesAVX2 emits convPosTilesAVX2: for nt tiles of 6 positions
// (input offsets posOff[6t..6t+5]) the 6×16 product of the k input values
// at x[posOff+kOff[p]] with the packed panel b (16 floats per p), stored
// to (or, with acc not 0, added to) six rows of c at stride ldc. The
// twelve accumulators are Y0..Y11, B in Y12/Y13, the broadcasts in
// Y14/Y15; k is at least 1.
func convPosTilesAVX2() {
	convPosTiles("convPosTilesAVX2", "pos", newAccs(posTileRows, 2, 1, ymm), VXORPS, 32,
		func(int) []VecPhysical { return []VecPhysical{Y12, Y13} }, [2]VecPhysical{Y14, Y15}, false)
}

// convPosTilesAVX512 emits convPosTilesAVX512: convPosTilesAVX2 with a
// zmm per position (its 16 channels): two sets of six accumulators
// (Z0..Z5 for even steps, Z6..Z11 for odd ones, added at the end) so
// that twelve FMA chains are in flight, B in Z12/Z13, the broadcasts in
// Z14/Z15.
func convPosTilesAVX512() {
	convPosTiles("convPosTilesAVX512", "pos512", newAccs(posTileRows, 1, 2, zmm), VPXORD, 64,
		func(u int) []VecPhysical { return []VecPhysical{[]VecPhysical{Z12, Z13}[u]} }, [2]VecPhysical{Z14, Z15}, false)
}

// convPosTiles2AVX512 emits convPosTiles2AVX512: convPosTilesAVX512 on
// two panels at once, the second ps bytes after the first, into 32
// columns of c: two zmm a position in two sets of accumulators for the
// even and the odd steps, as there (Z0..Z11 and Z12..Z23, added at the
// end), so that each panel's results are those of convPosTilesAVX512
// bit for bit; B's two rows in Z24/Z25, the broadcasts in Z26/Z27. Each
// broadcast (whose address comes from the loaded kOff) then feeds two
// FMAs instead of one: on Zen 5 such loads issue at about one a cycle,
// which bound the one-panel kernel to about half the FMA rate.
func convPosTiles2AVX512() {
	convPosTiles("convPosTiles2AVX512", "pos2", newAccs(posTileRows, 2, 2, zmm), VPXORD, 64,
		func(int) []VecPhysical { return []VecPhysical{Z24, Z25} }, [2]VecPhysical{Z26, Z27}, true)
}

// convPosTiles emits the kernel name of convPosTilesAVX2's contract with
// the accumulators acc (acc.halves vectors of vecBytes a position, in
// acc.sets sets that take the k steps in turn), zeroed with xor, B's row
// of unrolled step u loaded into bv(u), the broadcasts alternating in
// av; its labels start with label. paired: the kernel of two panels
// (convPosTiles2AVX512), the second half of B's row ps bytes after the
// first.
func convPosTiles(name, label string, acc accs, xor func(...Op), vecBytes int, bv func(u int) []VecPhysical, av [2]VecPhysical, paired bool) {
	if paired {
		TEXT(name, NOSPLIT, "func(k int, x *float32, posOff *int32, nt int, kOff *int32, b *float32, ps int, c *float32, ldc int, acc int)")
		Doc(name+" sets the 6×32 tiles c[t*6+i][j] (+)= Σp x[posOff[t*6+i]+kOff[p]]*B[p][j] for t < nt, B's",
			"columns j < 16 at b[p*16+j] and the others ps bytes further, adding to c when acc is not 0.")
	} else {
		TEXT(name, NOSPLIT, "func(k int, x *float32, posOff *int32, nt int, kOff *int32, b *float32, c *float32, ldc int, acc int)")
		Doc(name+" sets the 6×16 tiles c[t*6+i][j] (+)= Σp x[posOff[t*6+i]+kOff[p]]*b[p*16+j] for t < nt,",
			"adding to c when acc is not 0.")
	}
	c := Load(Param("c"), GP64())
	ldc := loadBytes("ldc")
	pos := Load(Param("posOff"), GP64())

	Label(label + "_tile")
	x := Load(Param("x"), GP64())
	var rows [posTileRows]Register
	for i := range rows {
		rows[i] = GP64()
		MOVLQSX(Mem{Base: pos, Disp: 4 * i}, rows[i])
		LEAQ(Mem{Base: x, Index: rows[i], Scale: 4}, rows[i])
	}
	k := Load(Param("k"), GP64())
	b := Load(Param("b"), GP64())
	var ps Register
	if paired {
		ps = Load(Param("ps"), GP64())
	}
	ko := Load(Param("kOff"), GP64())
	acc.zero(xor)
	off := GP64()
	// step emits k step u of the loop body into set s: the input offset
	// kOff[u], B's row u and the six broadcasts.
	step := func(u, s int) {
		MOVLQSX(Mem{Base: ko, Disp: 4 * u}, off)
		row := func(i int) Mem { return Mem{Base: rows[i], Index: off, Scale: 4} }
		if !paired {
			acc.step(s, Mem{Base: b, Disp: 4 * posPanel * u}, vecBytes, bv(u), av, row)
			return
		}
		acc.stepFrom(s, []Mem{{Base: b, Disp: 4 * posPanel * u}, {Base: b, Index: ps, Scale: 1, Disp: 4 * posPanel * u}}, bv(u), av, row)
	}
	TESTQ(U32(1), k)
	JE(LabelRef(label + "_k2"))
	step(0, 0)
	ADDQ(U32(4), ko)
	ADDQ(U32(4*posPanel), b)
	DECQ(k)
	JE(LabelRef(label + "_store"))
	Label(label + "_k2")
	step(0, 0)
	step(1, 1%acc.sets)
	ADDQ(U32(8), ko)
	ADDQ(U32(8*posPanel), b)
	SUBQ(U32(2), k)
	JNE(LabelRef(label + "_k2"))

	Label(label + "_store")
	acc.reduce()
	add := Load(Param("acc"), GP64())
	cp := GP64()
	MOVQ(c, cp)
	TESTQ(add, add)
	JE(LabelRef(label + "_put"))
	eachRow(posTileRows, cp, ldc, func(i int) {
		for h := 0; h < acc.halves; h++ {
			VADDPS(Mem{Base: cp, Disp: vecBytes * h}, acc.at(i, h), acc.at(i, h))
		}
	})
	MOVQ(c, cp)
	Label(label + "_put")
	eachRow(posTileRows, cp, ldc, func(i int) {
		for h := 0; h < acc.halves; h++ {
			VMOVUPS(acc.at(i, h), Mem{Base: cp, Disp: vecBytes * h})
		}
	})
	Comment("The next tile: c six rows down.")
	LEAQ(Mem{Base: c, Index: ldc, Scale: 4}, c)
	LEAQ(Mem{Base: c, Index: ldc, Scale: 2}, c)
	ADDQ(U32(4*posTileRows), pos)
	DECQ(paramAddr("nt"))
	JNE(LabelRef(label + "_tile"))
	VZEROUPPER()
	RET()
}

// convPosEpiAVX2 emits convPosEpiAVX2, the epilogue of the position-major
// convolution: for blocks of 8 of the nq pooled positions and each group
// of 8 channels, the maximum over the win product rows src[(q*win+w)*8+i]
// (float offsets into c, the group's channels at c + 8*g), plus bias,
// through the activation (mode 0: clamp to [lo, hi]; else leaky with
// alpha), transposed to channel-major y (ldy floats per channel), the
// last partial block of positions stored through posMask.
func convPosEpiAVX2(mask Mem) {
	name := "convPosEpiAVX2"
	TEXT(name, NOSPLIT, "func(c *float32, src *int32, win int, nq int, bias *float32, lo float32, hi float32, alpha float32, y *float32, ldy int, groups int, mode int)")
	Doc(name+" max-pools the position-major product c over windows of win rows (row offsets at src),",
		"adds bias, applies the activation of mode and stores it channel-major to y (see convPosEpiGo).")
	c := Load(Param("c"), GP64())
	src := Load(Param("src"), GP64())
	win := Load(Param("win"), GP64())
	nq := Load(Param("nq"), GP64())
	bias := Load(Param("bias"), GP64())
	y := Load(Param("y"), GP64())
	ldy := loadBytes("ldy")
	winBytes := GP64()
	MOVQ(win, winBytes)
	SHLQ(U8(5), winBytes)
	t := Load(Param("groups"), GP64())
	SHLQ(U8(5), t)
	Comment("groups is kept in the frame as the byte offset past the last group.")
	MOVQ(t, paramAddr("groups"))
	q := GP64()
	XORQ(q, q)

	Label("epi_block")
	g := GP64()
	XORQ(g, g)
	Label("epi_group")
	cg := GP64()
	LEAQ(Mem{Base: c, Index: g, Scale: 1}, cg)
	// gather emits, for the 8 positions of the block, the load of their
	// product row at the next 8 offsets of src, then f(i, the load).
	gather := func(dst func(i int) VecPhysical, f func(i int)) {
		for i := 0; i < 8; i++ {
			MOVLQSX(Mem{Base: src, Disp: 4 * i}, t)
			VMOVUPS(Mem{Base: cg, Index: t, Scale: 4}, dst(i))
			f(i)
		}
		ADDQ(U32(32), src)
	}
	gather(ymm, func(int) {})
	w := GP64()
	MOVQ(win, w)
	DECQ(w)
	JE(LabelRef("epi_act"))
	Label("epi_win")
	gather(func(int) VecPhysical { return Y8 }, func(i int) { VMAXPS(ymm(i), Y8, ymm(i)) })
	DECQ(w)
	JNE(LabelRef("epi_win"))

	Label("epi_act")
	TESTQ(bias, bias)
	JE(LabelRef("epi_nobias"))
	VMOVUPS(Mem{Base: bias, Index: g, Scale: 1}, Y10)
	for i := 0; i < 8; i++ {
		VADDPS(Y10, ymm(i), ymm(i))
	}
	Label("epi_nobias")
	mode := Load(Param("mode"), t)
	TESTQ(mode, mode)
	JNE(LabelRef("epi_leaky"))
	broadcastParam("lo", Y13)
	broadcastParam("hi", Y14)
	for i := 0; i < 8; i++ {
		clamp(ymm(i))
	}
	JMP(LabelRef("epi_transpose"))
	Label("epi_leaky")
	VXORPS(Y11, Y11, Y11)
	broadcastParam("alpha", Y12)
	for i := 0; i < 8; i++ {
		leaky(ymm(i), Y11, Y12, Y8, Y9)
	}

	Label("epi_transpose")
	transposeQuads()
	for h, imm := range []uint8{0x20, 0x31} {
		for i := 0; i < 4; i++ {
			VPERM2F128(U8(imm), ymm(i+4), ymm(i), ymm(8+4*h+i))
		}
	}
	Comment("Column i (channel 8*g/32 + i) to y, the positions of this block.")
	yp := w
	MOVQ(g, yp)
	IMULQ(ldy, yp)
	SHRQ(U8(2), yp)
	ADDQ(y, yp)
	left := t
	MOVQ(nq, left)
	SUBQ(q, left)
	CMPQ(left, U32(8))
	JL(LabelRef("epi_masked"))
	eachRow(8, yp, ldy, func(i int) { VMOVUPS(ymm(8+i), Mem{Base: yp}) })
	JMP(LabelRef("epi_next"))
	Label("epi_masked")
	lanesMask(mask, left, Y0)
	eachRow(8, yp, ldy, func(i int) { VMASKMOVPS(ymm(8+i), Y0, Mem{Base: yp}) })

	Label("epi_next")
	SUBQ(winBytes, src)
	ADDQ(U32(32), g)
	CMPQ(g, paramAddr("groups"))
	JL(LabelRef("epi_group"))
	ADDQ(winBytes, src)
	ADDQ(U32(32), y)
	ADDQ(U32(8), q)
	CMPQ(q, nq)
	JL(LabelRef("epi_block"))
	VZEROUPPER()
	RET()
}

// clamp emits x = min(max(x, lo), hi) with lo in Y13 and hi in Y14, x
// second so that a NaN passes.
func clamp(x VecPhysical) {
	VMAXPS(x, Y13, x)
	VMINPS(x, Y14, x)
}

// leaky emits x = x < 0 ? alpha*x : x, with zero and alpha broadcast and
// m, ax scratch.
func leaky(x, zero, alpha, m, ax VecPhysical) {
	VCMPPS(U8(1), zero, x, m)
	VMULPS(alpha, x, ax)
	VBLENDVPS(m, ax, x, x)
}
