package main

import (
	. "github.com/mmcloughlin/avo/build"
	. "github.com/mmcloughlin/avo/operand"
	. "github.com/mmcloughlin/avo/reg"
)

// The pieces that the kernels of this generator share. Each emits exactly
// the instructions (and allocates the virtual registers, in the same
// order) that the kernels wrote out before they were factored, so that
// the generated files did not change.

// paramAddr is the frame address of the parameter name.
func paramAddr(name string) Mem {
	p, err := Param(name).Resolve()
	if err != nil {
		panic(err)
	}
	return p.Addr
}

// loadBytes loads the int parameter name, a count of floats, as a count
// of bytes.
func loadBytes(name string) Register {
	r := Load(Param(name), GP64())
	SHLQ(Imm(2), r)
	return r
}

// eachRow emits body(i) for the rows i < r of a tile, adding stride to p
// between rows (not after the last).
func eachRow(r int, p, stride Register, body func(i int)) {
	for i := 0; i < r; i++ {
		body(i)
		if i+1 < r {
			ADDQ(stride, p)
		}
	}
}

// prefetch emits a PREFETCHT0 of each of ms.
func prefetch(ms ...Mem) {
	for _, m := range ms {
		PREFETCHT0(m)
	}
}

// jumpIfAlphaOne jumps to label when alpha is 1 (a product by it is exact,
// so skipping it changes no result).
func jumpIfAlphaOne(label string) {
	bits := GP32()
	MOVL(paramAddr("alpha"), bits)
	CMPL(bits, U32(0x3f800000))
	JE(LabelRef(label))
}

// loadBetaIsZero sets the flags so that JE jumps when beta is ±0.
func loadBetaIsZero() {
	bits := GP32()
	MOVL(paramAddr("beta"), bits)
	ANDL(U32(0x7fffffff), bits)
}

// broadcastParam broadcasts the float32 parameter name into dst.
func broadcastParam(name string, dst VecPhysical) {
	VBROADCASTSS(paramAddr(name), dst)
}

// alphaBetaFlag broadcasts alpha and beta into the given registers and
// returns a register that is 1 when beta is ±0 (C is then not read) and 0
// otherwise.
func alphaBetaFlag(alpha, beta VecPhysical) Register {
	broadcastParam("alpha", alpha)
	broadcastParam("beta", beta)
	betaZero := GP32()
	XORL(betaZero, betaZero)
	loadBetaIsZero()
	SETEQ(betaZero.As8())
	return betaZero
}

// accs are the accumulators of a tile: r rows of halves vectors each, in
// sets independent copies that the k loop alternates between (summed
// into set 0 at the end), reg(s, i, h) the register of set s, row i,
// vector h.
type accs struct {
	r, halves, sets int
	reg             func(s, i, h int) VecPhysical
}

// newAccs numbers the accumulators of an r-row tile of halves vectors a
// row, in sets copies, from vec(0) on: set by set, row by row.
func newAccs(r, halves, sets int, vec func(int) VecPhysical) accs {
	return accs{r: r, halves: halves, sets: sets, reg: func(s, i, h int) VecPhysical { return vec((s*r+i)*halves + h) }}
}

// at is the accumulator of row i, vector h, of set 0.
func (t accs) at(i, h int) VecPhysical { return t.reg(0, i, h) }

// zero clears every accumulator with xor (VXORPS, or VPXORD for zmm).
func (t accs) zero(xor func(...Op)) {
	for s := 0; s < t.sets; s++ {
		for i := 0; i < t.r; i++ {
			for h := 0; h < t.halves; h++ {
				xor(t.reg(s, i, h), t.reg(s, i, h), t.reg(s, i, h))
			}
		}
	}
}

// reduce adds sets 1.. into set 0.
func (t accs) reduce() {
	for s := 1; s < t.sets; s++ {
		for i := 0; i < t.r; i++ {
			for h := 0; h < t.halves; h++ {
				VADDPS(t.reg(s, i, h), t.at(i, h), t.at(i, h))
			}
		}
	}
}

// step emits one k step into set s: the halves vectors of B's row at b
// (vecBytes apart) into bv, then for each row the broadcast of A (at
// row(i), alternating between the two registers of av) and an FMA per
// vector.
func (t accs) step(s int, b Mem, vecBytes int, bv []VecPhysical, av [2]VecPhysical, row func(i int) Mem) {
	bs := make([]Mem, t.halves)
	for h := range bs {
		bs[h] = b
		bs[h].Disp += vecBytes * h
	}
	t.stepFrom(s, bs, bv, av, row)
}

// stepFrom is step with vector h of B's row at b[h].
func (t accs) stepFrom(s int, b []Mem, bv []VecPhysical, av [2]VecPhysical, row func(i int) Mem) {
	for h := 0; h < t.halves; h++ {
		VMOVUPS(b[h], bv[h])
	}
	for i := 0; i < t.r; i++ {
		x := av[i%2]
		VBROADCASTSS(row(i), x)
		for h := 0; h < t.halves; h++ {
			VFMADD231PS(bv[h], x, t.reg(s, i, h))
		}
	}
}

// kLoop emits a loop over k (a register counting down to 0): while at
// least unroll steps remain, body(u) for u < unroll and then advance
// (label name_loop); then tail once per remaining step (name_tailloop).
// It ends at label name_done.
func kLoop(name string, k Register, unroll int, body func(u int), advance, tail func()) {
	CMPQ(k, I32(int32(unroll)))
	JL(LabelRef(name + "_tail"))
	Label(name + "_loop")
	for u := 0; u < unroll; u++ {
		body(u)
	}
	advance()
	SUBQ(I32(int32(unroll)), k)
	CMPQ(k, I32(int32(unroll)))
	JGE(LabelRef(name + "_loop"))
	Label(name + "_tail")
	TESTQ(k, k)
	JE(LabelRef(name + "_done"))
	Label(name + "_tailloop")
	tail()
	DECQ(k)
	JNE(LabelRef(name + "_tailloop"))
	Label(name + "_done")
}

// nextPass emits the end of a 16-column pass of an AVX2 tile: with more
// than 16 of the nn columns left, B and C move on 16 columns and the tile
// runs again from name_half; otherwise it returns (at name_ret).
func nextPass(name string, nn, b, c Register) {
	SUBQ(I32(16), nn)
	JLE(LabelRef(name + "_ret"))
	ADDQ(I32(64), b)
	ADDQ(I32(64), c)
	JMP(LabelRef(name + "_half"))
	Label(name + "_ret")
	VZEROUPPER()
	RET()
}

// kPairs emits the k loop of a matrix-vector product that reads A one
// float a step at ap (kk steps): two steps at a time, a[p] broadcast into
// x[0] and a[p+1] into x[1], fma(x, set) adding the products of a row of
// B into accumulator set 0 (even p) or 1 (odd p); between runs between the
// two rows of a pair and pair after it, tail after the last odd step. It
// ends at label name_store.
func kPairs(name string, ap, kk Register, x [2]VecPhysical, fma func(x VecPhysical, set int), between, pair, tail func()) {
	CMPQ(kk, I32(2))
	JL(LabelRef(name + "_ktail"))
	Label(name + "_k2")
	VBROADCASTSS(Mem{Base: ap}, x[0])
	VBROADCASTSS(Mem{Base: ap, Disp: 4}, x[1])
	fma(x[0], 0)
	between()
	fma(x[1], 1)
	pair()
	ADDQ(I32(8), ap)
	SUBQ(I32(2), kk)
	CMPQ(kk, I32(2))
	JGE(LabelRef(name + "_k2"))
	Label(name + "_ktail")
	TESTQ(kk, kk)
	JE(LabelRef(name + "_store"))
	VBROADCASTSS(Mem{Base: ap}, x[0])
	fma(x[0], 0)
	tail()
	Label(name + "_store")
}

// gemvStore emits c = alpha*(vec(v) + vec(4+v)) + beta*c for the nv
// vectors of a matrix-vector product's columns (alpha and beta
// broadcast), c unread when betaZero is set: fmaC(v, acc) adds beta*c to
// acc and storeC(v, acc) stores it.
func gemvStore(name string, nv int, vec func(int) VecPhysical, alpha VecPhysical, betaZero Register, fmaC, storeC func(v int, acc VecPhysical)) {
	for v := 0; v < nv; v++ {
		VADDPS(vec(4+v), vec(v), vec(v))
		VMULPS(alpha, vec(v), vec(v))
	}
	TESTL(betaZero, betaZero)
	JNE(LabelRef(name + "_store0"))
	for v := 0; v < nv; v++ {
		fmaC(v, vec(v))
	}
	Label(name + "_store0")
	for v := 0; v < nv; v++ {
		storeC(v, vec(v))
	}
}

// transpose8 emits the transposition of the 8×8 block whose rows are at
// rows: column q to dst + stride*q (Y0..Y15 used).
func transpose8(rows []Mem, dst Register, stride int) {
	for i, m := range rows {
		VMOVUPS(m, ymm(i))
	}
	transposeQuads()
	// out q (q < 4) = low halves of s q and s q+4; out q+4 the high halves.
	for q := 0; q < 4; q++ {
		VPERM2F128(U8(0x20), ymm(q+4), ymm(q), ymm(8+q))
		VPERM2F128(U8(0x31), ymm(q+4), ymm(q), ymm(12+q))
	}
	for q := 0; q < 8; q++ {
		VMOVUPS(ymm(8+q), Mem{Base: dst, Disp: stride * q})
	}
}

// transposeQuads emits the first two stages of an 8×8 transpose of the
// rows in Y0..Y7 (Y8..Y15 scratch): afterwards Y(q) and Y(q+4) (q < 4)
// hold, in their low and high 128-bit halves, the four-float pieces that
// a VPERM2F128 of them joins into column q (0x20) and column q+4 (0x31).
func transposeQuads() {
	// t(2i) = unpcklps(r(2i), r(2i+1)), t(2i+1) = unpckhps(...)
	for i := 0; i < 4; i++ {
		VUNPCKLPS(ymm(2*i+1), ymm(2*i), ymm(8+2*i))
		VUNPCKHPS(ymm(2*i+1), ymm(2*i), ymm(9+2*i))
	}
	// s0..s3 from t0..t3, s4..s7 from t4..t7
	for h := 0; h < 2; h++ {
		t := 8 + 4*h
		VSHUFPS(U8(0x44), ymm(t+2), ymm(t), ymm(4*h+0))
		VSHUFPS(U8(0xEE), ymm(t+2), ymm(t), ymm(4*h+1))
		VSHUFPS(U8(0x44), ymm(t+3), ymm(t+1), ymm(4*h+2))
		VSHUFPS(U8(0xEE), ymm(t+3), ymm(t+1), ymm(4*h+3))
	}
}

// kTailMaskK1 sets K1 to the mask of the k mod 16 tail of a loop over k
// (1 << (k&15)) - 1, and returns the register that held it.
func kTailMaskK1(k Register) GPVirtual {
	cnt, mask := GP64(), GP64()
	MOVQ(k, cnt)
	ANDQ(I32(15), cnt)
	MOVQ(U32(1), mask)
	SHLXQ(cnt, mask, mask)
	DECQ(mask)
	KMOVW(mask.As32(), K1)
	return mask
}
