package main

import (
	. "github.com/mmcloughlin/avo/build"
	. "github.com/mmcloughlin/avo/operand"
	. "github.com/mmcloughlin/avo/reg"
)

// dw3x3s1AVX512 emits dw3x3s1AVX512, the stride-1 3×3 depthwise
// convolution of DepthwisePlanes on 16-lane vectors: for each of planes
// planes (h×wd in, oh×ow out, padding pt rows above and pl columns left)
// and output row y, the input rows y−pt, y−pt+1 and y−pt+2 (the row of
// zeros, zero, for those outside the plane) are read from column −pl, 16
// columns at a time, each vector once: vector v of a row (A) and v+1 (B)
// give the taps of output vector v, A and VALIGND of B:A by one and two
// lanes. A vector whose lanes are all inside the row (mask masks[2v] all
// set) is a plain load, one with none inside is zero, and the others are
// zero-masking loads, whose masked lanes never fault, so no load needs a
// bounds check. Each tap row has its own sum, (bias + row 0) + row 1 +
// row 2, which shortens the chains of dependent FMAs. Each output vector
// is stored whole (the lanes past ow land in the next row, written
// later) except where that would pass dstEnd, the end of the planes'
// outputs, where store mask masks[2v+1] keeps the outputs below ow.
// mode 0 clamps to [lo, hi] (the sum second, so that a NaN passes), else
// leaky with alpha. bstep is 4 when bias holds a value per plane, 0 when
// it points at a zero.
//
// Weights in Z0..Z8, the bias in Z9, lo (or alpha) and hi in Z10 and
// Z11, the sums in Z12..Z14, the taps in Z15..Z23 (A at Z15, Z18, Z21),
// zero in Z24, B in Z25..Z27.
func dw3x3s1AVX512() {
	name := "dw3x3s1AVX512"
	TEXT(name, NOSPLIT, "func(dst *float32, dstEnd uintptr, src *float32, w *float32, bias *float32, bstep int, zero *float32, masks *uint16, planes int, h int, wd int, oh int, ow int, pt int, pl int, nv int, lo float32, hi float32, alpha float32, mode int)")
	Doc(name+" is the stride-1 3×3 depthwise convolution of DepthwisePlanes on",
		"16-lane vectors, with zero-masking loads (dw512.go in _gen).")
	dst, src, w, bias := RDI, RSI, R8, R9
	planes := R10
	y, out := RBX, RDX
	r0, r1, r2 := R11, R14, R15
	voff, mp := RCX, RAX
	t, u := R12, R13

	Load(Param("dst"), dst)
	Load(Param("src"), src)
	Load(Param("w"), w)
	Load(Param("bias"), bias)
	Load(Param("planes"), planes)
	mode := paramAddr("mode")
	MOVSS(paramAddr("lo"), X10)
	MOVSS(paramAddr("hi"), X11)
	CMPQ(mode, Imm(0))
	JE(LabelRef(name + "_clamp"))
	MOVSS(paramAddr("alpha"), X10)
	Label(name + "_clamp")
	VBROADCASTSS(X10, Z10)
	VBROADCASTSS(X11, Z11)
	VPXORD(Z24, Z24, Z24)
	TESTQ(planes, planes)
	JLE(LabelRef(name + "_done"))

	Label(name + "_plane")
	for i := 0; i < 9; i++ {
		VBROADCASTSS(Mem{Base: w, Disp: 4 * i}, zmm(i))
	}
	VBROADCASTSS(Mem{Base: bias}, Z9)
	XORQ(y, y)
	MOVQ(dst, out)

	Label(name + "_row")
	// The three input rows, at their column -pl.
	MOVQ(y, u)
	SUBQ(paramAddr("pt"), u) // u = the row index of tap row 0
	for i, r := range []Register{r0, r1, r2} {
		Load(Param("zero"), r)
		CMPQ(u, paramAddr("h"))
		JAE(LabelRef(name + "_pad" + string(rune('0'+i))))
		MOVQ(u, t)
		IMULQ(paramAddr("wd"), t)
		LEAQ(Mem{Base: src, Index: t, Scale: 4}, r)
		Label(name + "_pad" + string(rune('0'+i)))
		MOVQ(paramAddr("pl"), t)
		SHLQ(U8(2), t)
		SUBQ(t, r)
		INCQ(u)
	}

	// A of each tap row: its first vector (mask masks[0]); each step
	// loads B, the next 16 columns (mask masks[2v+2]), and takes the
	// taps from A and B.
	XORQ(voff, voff)
	Load(Param("masks"), mp)
	MOVQ(paramAddr("nv"), u)
	KMOVW(Mem{Base: mp}, K1)
	VMOVUPS_Z(Mem{Base: r0}, K1, Z15)
	VMOVUPS_Z(Mem{Base: r1}, K1, Z18)
	VMOVUPS_Z(Mem{Base: r2}, K1, Z21)
	Label(name + "_vec")
	KMOVW(Mem{Base: mp, Disp: 2}, K4) // the store mask
	// B with plain loads where all its lanes are inside the row: a
	// masked load that meets a store in flight to an address 4 KB apart
	// waits for it (7×7 planes 4-5 times slower with dst 4 KB from src).
	CMPW(Mem{Base: mp, Disp: 4}, U16(0xffff))
	JNE(LabelRef(name + "_maskedB"))
	for i, r := range []Register{r0, r1, r2} {
		VMOVUPS(Mem{Base: r, Index: voff, Scale: 1, Disp: 64}, zmm(25+i))
	}
	JMP(LabelRef(name + "_loadedB"))
	Label(name + "_maskedB")
	KMOVW(Mem{Base: mp, Disp: 4}, K1) // B's mask
	KORTESTW(K1, K1)
	JNE(LabelRef(name + "_someB"))
	for i := range 3 {
		VPXORD(zmm(25+i), zmm(25+i), zmm(25+i)) // all past the row: no load
	}
	JMP(LabelRef(name + "_loadedB"))
	Label(name + "_someB")
	for i, r := range []Register{r0, r1, r2} {
		VMOVUPS_Z(Mem{Base: r, Index: voff, Scale: 1, Disp: 64}, K1, zmm(25+i))
	}
	Label(name + "_loadedB")
	for i, a := range []int{15, 18, 21} {
		VALIGND(U8(1), zmm(a), zmm(25+i), zmm(a+1))
		VALIGND(U8(2), zmm(a), zmm(25+i), zmm(a+2))
	}
	VMOVAPS(Z9, Z12)
	VFMADD231PS(Z15, Z0, Z12)
	VMULPS(Z18, Z3, Z13)
	VMULPS(Z21, Z6, Z14)
	VFMADD231PS(Z16, Z1, Z12)
	VFMADD231PS(Z19, Z4, Z13)
	VFMADD231PS(Z22, Z7, Z14)
	VFMADD231PS(Z17, Z2, Z12)
	VFMADD231PS(Z20, Z5, Z13)
	VFMADD231PS(Z23, Z8, Z14)
	VADDPS(Z13, Z12, Z12)
	VADDPS(Z14, Z12, Z12)
	CMPQ(mode, Imm(0))
	JNE(LabelRef(name + "_leaky"))
	VMAXPS(Z12, Z10, Z12)
	VMINPS(Z12, Z11, Z12)
	JMP(LabelRef(name + "_store"))
	Label(name + "_leaky")
	VCMPPS(U8(1), Z24, Z12, K5) // lanes below zero
	VMULPS(Z10, Z12, K5, Z12)
	// A whole vector where it stays inside the output (the lanes past
	// ow go to the next row, written later); a masked store only at the
	// very end: a load meeting a masked store in flight (at an address
	// 4 KB apart will do) waits for it to retire.
	Label(name + "_store")
	LEAQ(Mem{Base: out, Index: voff, Scale: 1, Disp: 64}, t)
	CMPQ(t, paramAddr("dstEnd"))
	JA(LabelRef(name + "_tail"))
	VMOVUPS(Z12, Mem{Base: out, Index: voff, Scale: 1})
	JMP(LabelRef(name + "_stored"))
	Label(name + "_tail")
	VMOVUPS(Z12, K4, Mem{Base: out, Index: voff, Scale: 1})
	Label(name + "_stored")
	VMOVAPS(Z25, Z15)
	VMOVAPS(Z26, Z18)
	VMOVAPS(Z27, Z21)
	ADDQ(U8(64), voff)
	ADDQ(U8(4), mp)
	DECQ(u)
	JNE(LabelRef(name + "_vec"))

	MOVQ(paramAddr("ow"), t)
	LEAQ(Mem{Base: out, Index: t, Scale: 4}, out)
	INCQ(y)
	CMPQ(y, paramAddr("oh"))
	JL(LabelRef(name + "_row"))

	// The next plane.
	MOVQ(paramAddr("h"), t)
	IMULQ(paramAddr("wd"), t)
	LEAQ(Mem{Base: src, Index: t, Scale: 4}, src)
	MOVQ(out, dst)
	ADDQ(U8(36), w)
	ADDQ(paramAddr("bstep"), bias)
	DECQ(planes)
	JNE(LabelRef(name + "_plane"))

	Label(name + "_done")
	VZEROUPPER()
	RET()
}
