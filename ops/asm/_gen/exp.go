package main

import (
	"math"

	"github.com/onyxrt/onyx/ops/asm/_gen/cephes"

	. "github.com/mmcloughlin/avo/build"
	. "github.com/mmcloughlin/avo/operand"
	. "github.com/mmcloughlin/avo/reg"
)

// The exponential kernels of ../exp.go (expAVX2 and expSumAVX2 in
// ../exp_amd64.s, declared in ../exp_stubs_amd64.go), lane for lane the
// Go reference expSliceGeneric of ../exp_generic.go: x is clamped to
// [-104, 89] (a NaN stays NaN), n = round(x·log2 e), r = x - n·ln 2 in
// two parts, e^r = 1 + r + r²·P(r) with Cephes expf's degree-5 P, and
// the scale 2^n applied as 2^(n>>1)·2^(n-(n>>1)): both factors are
// normal floats for n in [-150, 128], the first product is exact and the
// second rounds once, so results past the float range come out +Inf and
// those below the normal range as correctly rounded subnormals or 0 (no
// flush to zero).

// expConstList names the entries of expConsts, in order.
var expConstList = []struct {
	name string
	bits uint32
}{
	{"hi", math.Float32bits(89)},
	{"lo", math.Float32bits(-104)},
	{"log2e", math.Float32bits(cephes.Log2e)},
	{"ln2Hi", math.Float32bits(cephes.Ln2Hi)},
	{"ln2Lo", math.Float32bits(cephes.Ln2Lo)},
	{"p0", math.Float32bits(cephes.ExpP[0])},
	{"p1", math.Float32bits(cephes.ExpP[1])},
	{"p2", math.Float32bits(cephes.ExpP[2])},
	{"p3", math.Float32bits(cephes.ExpP[3])},
	{"p4", math.Float32bits(cephes.ExpP[4])},
	{"p5", math.Float32bits(cephes.ExpP[5])},
	{"one", math.Float32bits(1)},
	{"bias127", 127},
	{"negInf", 0xff800000},
}

var expConsts Mem

// keOp is ke as an operand, for emitExpFull.
func keOp(name string) Op { return ke(name) }

// ke returns the 8-lane constant name of expConsts as a memory operand.
func ke(name string) Mem { return expConsts.Offset(32 * expConstIndex(name)) }

// expConstIndex is the position of the constant name in expConstList.
func expConstIndex(name string) int {
	for i, c := range expConstList {
		if c.name == name {
			return i
		}
	}
	panic("no constant " + name)
}

// expKernels emits the kernels of exp_amd64.s.
func expKernels() {
	maskTable = maskData("expMaskTable", maskEntries)
	expConsts = GLOBL("expConsts", RODATA|NOPTR)
	for i, c := range expConstList {
		for l := 0; l < 8; l++ {
			DATA(32*i+4*l, U32(c.bits))
		}
	}
	unaryAVX2("expAVX2", "e^x[i]", 4, 4, func(xs vecs, rs func(int) vecs) vecs {
		ys := rs(3)
		emitExpFull(xs, rs(1), rs(2), ys, keOp)
		return ys
	})
	expSumAVX2()
	softmaxRowsAVX512()
}

// softmaxRowsAVX512 emits softmaxRowsAVX512: the softmax of each of rows
// consecutive rows of n ≤ 16 values, one 512-bit vector a row. A row is
// loaded with its lanes from n on at -Inf (so they never raise the
// maximum) and its maximum m spread over the lanes by four shuffles; the
// lanes from n on are then set to 0, since their exponential (e^-104
// after the clamp) would be a subnormal, and a subnormal result costs a
// microcode assist (about 70 ns a row on the Xeon of the benchmarks).
// Then e^(x-m) is computed lane for lane as expSumAVX2 computes it (the
// same operations on the same constants: VRNDSCALEPS $0 rounds as
// VROUNDPS $0 does), the lanes from n on zeroed, the sum taken in
// float64, and every value multiplied by float32(1/sum), as ops'
// softmaxScale does. No row depends on another, so the rows' chains of
// latency overlap.
func softmaxRowsAVX512() {
	name := "softmaxRowsAVX512"
	TEXT(name, NOSPLIT, "func(rows int, n int, mask uint16, x *float32, y *float32)")
	Doc(name+" sets y to the softmax of each of rows consecutive rows of",
		"n values (1 ≤ n ≤ 16) of x, summing the exponentials in float64; y may be x.",
		"mask is 1<<n - 1, the lanes of a row.")
	rows := Load(Param("rows"), GP64())
	n := Load(Param("n"), GP64())
	x := Load(Param("x"), GP64())
	y := Load(Param("y"), GP64())
	pk, err := Param("mask").Resolve()
	if err != nil {
		panic(err)
	}
	KMOVW(pk.Addr, K1)
	SHLQ(U8(2), n) // the row's bytes from here on
	c := func(i int) VecPhysical { return zmm(16 + i) }
	for i := range expConstList {
		VBROADCASTSS(expConsts.Offset(32*i), c(i))
	}
	kz := func(name string) VecPhysical { return c(expConstIndex(name)) }
	Label(name + "_row")
	Comment("Z0: the row, -Inf past n; Z1: its maximum in every lane.")
	VMOVAPS(kz("negInf"), Z0)
	VMOVUPS(Mem{Base: x}, K1, Z0)
	VSHUFF32X4(U8(0x4e), Z0, Z0, Z1)
	VMAXPS(Z1, Z0, Z1)
	VSHUFF32X4(U8(0xb1), Z1, Z1, Z2)
	VMAXPS(Z2, Z1, Z1)
	VPERMILPS(U8(0x4e), Z1, Z2)
	VMAXPS(Z2, Z1, Z1)
	VPERMILPS(U8(0xb1), Z1, Z2)
	VMAXPS(Z2, Z1, Z1)
	VSUBPS(Z1, Z0, Z0)
	Comment("The lanes from n on at 0 (e^-Inf would come out subnormal, which costs a microcode assist).")
	VMOVAPS_Z(Z0, K1, Z0)
	Comment("Z3 = e^Z0 (Z1, Z2 scratch).")
	emitExpFull(vecs{Z0}, vecs{Z1}, vecs{Z2}, vecs{Z3}, func(name string) Op { return kz(name) })
	Comment("The lanes from n on are not summed; the sum in float64.")
	VMOVAPS_Z(Z3, K1, Z3)
	VCVTPS2PD(Z3.AsY(), Z4)
	VEXTRACTF64X4(U8(1), Z3, Y5)
	VCVTPS2PD(Y5, Z5)
	VADDPD(Z5, Z4, Z4)
	VEXTRACTF64X4(U8(1), Z4, Y5)
	VADDPD(Y5, Y4, Y4)
	VEXTRACTF128(U8(1), Y4, X5)
	VADDPD(X5, X4, X4)
	VPERMILPD(U8(1), X4, X5)
	VADDSD(X5, X4, X4)
	Comment("Times float32(1/sum).")
	VCVTSS2SD(kz("one").AsX(), X5, X5)
	VDIVSD(X4, X5, X5)
	VCVTSD2SS(X5, X5, X5)
	VBROADCASTSS(X5, Z5)
	VMULPS(Z5, Z3, Z3)
	VMOVUPS(Z3, K1, Mem{Base: y})
	ADDQ(n, x)
	ADDQ(n, y)
	DECQ(rows)
	JNZ(LabelRef(name + "_row"))
	VZEROUPPER()
	RET()
}

// expSumAVX2 emits expSumAVX2: y[i] = e^(x[i]-m) for i < n, returning the
// sum of the y[i] in float64 (the lanes summed in two float64 vector
// accumulators, Y12 and Y13), three vectors at a time; m is in Y14, the
// tail mask in Y15.
func expSumAVX2() {
	name := "expSumAVX2"
	TEXT(name, NOSPLIT, "func(n int, x *float32, y *float32, m float32) float64")
	Doc(name+" sets y[i] = e^(x[i]-m) for i < n and returns the sum of the y[i],",
		"accumulated in float64; y may be x.")
	n := Load(Param("n"), GP64())
	x := Load(Param("x"), GP64())
	y := Load(Param("y"), GP64())
	pm, err := Param("m").Resolve()
	if err != nil {
		panic(err)
	}
	VBROADCASTSS(pm.Addr, Y14)
	VXORPD(Y12, Y12, Y12)
	VXORPD(Y13, Y13, Y13)
	body := func(v int, masked bool) {
		rs := func(j int) vecs { return regs(v, j, 4) }
		xs, t1, t2, ys := rs(0), rs(1), rs(2), rs(3)
		for i := range xs {
			load(Mem{Base: x, Disp: 32 * i}, xs[i], masked)
			VSUBPS(Y14, xs[i], xs[i])
		}
		emitExpFull(xs, t1, t2, ys, keOp)
		for i := range ys {
			store(ys[i], Mem{Base: y, Disp: 32 * i}, masked)
		}
		if masked {
			Comment("Lanes past n (e^-m of the zeros read there) are not summed.")
			VANDPS(Y15, ys[0], ys[0])
		}
		Comment("Sum in float64: the low and high four lanes.")
		for i := range ys {
			VCVTPS2PD(ys[i].(VecPhysical).AsX(), t1[i])
			VEXTRACTF128(U8(1), ys[i], t2[i].(VecPhysical).AsX())
			VCVTPS2PD(t2[i].(VecPhysical).AsX(), t2[i])
		}
		for i := range ys {
			VADDPD(t1[i], Y12, Y12)
			VADDPD(t2[i], Y13, Y13)
		}
		if !masked {
			ADDQ(I32(int32(32*v)), x)
			ADDQ(I32(int32(32*v)), y)
		}
	}
	elemLoop(name, n, 3, "_sum", body)
	VADDPD(Y13, Y12, Y12)
	VEXTRACTF128(U8(1), Y12, X13)
	VADDPD(X13, X12, X12)
	VHADDPD(X12, X12, X12)
	VZEROUPPER()
	Store(X12, ReturnIndex(0))
	RET()
}

// emitExpFull sets y = e^x over the whole float range (x is clobbered;
// t1, t2 are scratch), one instruction for every vector before the next;
// k gives the constants of expConstList by name (each in every lane:
// keOp's 8-lane memory operands for 256-bit vectors, registers for
// 512-bit ones, which round with VRNDSCALEPS as VROUNDPS does).
func emitExpFull(x, t1, t2, y vecs, k func(name string) Op) {
	Comment("Clamp x to [-104, 89]; a NaN in x is kept (MINPS/MAXPS return their second source).")
	for i := range x {
		VMOVUPS(k("hi"), t2[i])
		VMINPS(x[i], t2[i], x[i])
	}
	for i := range x {
		VMOVUPS(k("lo"), t2[i])
		VMAXPS(x[i], t2[i], x[i])
	}
	Comment("n = round(x*log2(e)); r = x - n*ln2 in two parts.")
	for i := range x {
		VMULPS(k("log2e"), x[i], t1[i])
	}
	for i := range x {
		if x[i].Size() == 64 {
			VRNDSCALEPS(U8(0), t1[i], t1[i])
		} else {
			VROUNDPS(U8(0), t1[i], t1[i])
		}
	}
	for i := range x {
		VFNMADD231PS(k("ln2Hi"), t1[i], x[i])
	}
	for i := range x {
		VFNMADD231PS(k("ln2Lo"), t1[i], x[i])
	}
	Comment("y = 1 + r + r²·P(r)")
	for i := range x {
		VMULPS(x[i], x[i], t2[i])
		VMOVUPS(k("p0"), y[i])
	}
	for _, p := range []string{"p1", "p2", "p3", "p4", "p5"} {
		for i := range x {
			VFMADD213PS(k(p), x[i], y[i])
		}
	}
	for i := range x {
		VFMADD213PS(x[i], t2[i], y[i])
	}
	for i := range x {
		VADDPS(k("one"), y[i], y[i])
	}
	Comment("y *= 2^n1 (exact), then 2^n2 (one rounding), n1 = n>>1, n2 = n - n1.")
	for i := range x {
		VCVTTPS2DQ(t1[i], t1[i])
	}
	for i := range x {
		VPSRAD(U8(1), t1[i], t2[i])
	}
	for i := range x {
		VPSUBD(t2[i], t1[i], t1[i])
	}
	for i := range x {
		VPADDD(k("bias127"), t2[i], t2[i])
		VPADDD(k("bias127"), t1[i], t1[i])
	}
	for i := range x {
		VPSLLD(U8(23), t2[i], t2[i])
		VPSLLD(U8(23), t1[i], t1[i])
	}
	for i := range x {
		VMULPS(t2[i], y[i], y[i])
	}
	for i := range x {
		VMULPS(t1[i], y[i], y[i])
	}
}
