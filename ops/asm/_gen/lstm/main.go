// Command lstm writes ops/asm/lstm_amd64.s and its Go declarations
// (lstm_stubs_amd64.go) with avo: lstmStepAVX2, one time step of an LSTM
// with the default activations for one batch row, the recurrent product
// h·R^T and the cell fused (Go reference and the exported wrapper in
// ../../lstm.go), and lstmStepAVX512, the same on groups of sixteen units
// in 512-bit vectors. Run it through `go generate` in ops/asm; gen_test.go
// fails when the committed files differ from its output.
//
// R^T is laid out in groups of eight hidden units (LSTMWeights): each
// group holds k rows of 32 floats, the columns of its units' i, o, f and
// g gates in that order, so that the group's product ends in four
// registers holding exactly the gates the cell needs. The product follows
// sgemvPackedAVX2 (even and odd k in separate accumulators, summed, then
// the projection added) and the cell follows sigmoidAVX2, tanhAVX2 and
// lstmUpdateAVX2 instruction for instruction, so that the step gives the
// same bits as SgemmPacked followed by LSTMCell. The cell of one group
// overlaps with the loads of the next group's weights, which stream from
// L2 when R^T is larger than L1.
package main

import (
	"flag"
	"math"

	"github.com/onyxrt/onyx/ops/asm/_gen/cephes"

	. "github.com/mmcloughlin/avo/build"
	. "github.com/mmcloughlin/avo/operand"
	. "github.com/mmcloughlin/avo/reg"
)

var consts Mem // lstmConsts: 8-lane vectors of the entries of constList

// consts512 is lstmConsts512: 16-lane vectors of the same entries, for
// the AVX-512 kernel; wide says which kernel is being emitted.
var (
	consts512 Mem
	wide      bool
)

var constList = []struct {
	name string
	bits uint32
}{
	{"expHi", math.Float32bits(88.3762626647949)},
	{"expLo", math.Float32bits(-88.3762626647949)},
	{"log2e", math.Float32bits(cephes.Log2e)},
	{"half", math.Float32bits(0.5)},
	{"ln2Hi", math.Float32bits(cephes.Ln2Hi)},
	{"ln2Lo", math.Float32bits(cephes.Ln2Lo)},
	{"expP0", math.Float32bits(cephes.ExpP[0])},
	{"expP1", math.Float32bits(cephes.ExpP[1])},
	{"expP2", math.Float32bits(cephes.ExpP[2])},
	{"expP3", math.Float32bits(cephes.ExpP[3])},
	{"expP4", math.Float32bits(cephes.ExpP[4])},
	{"expP5", math.Float32bits(cephes.ExpP[5])},
	{"one", math.Float32bits(1)},
	{"two", math.Float32bits(2)},
	{"bias127", 127},
	{"sign", 0x80000000},
	{"abs", 0x7fffffff},
	{"tanhSmall", math.Float32bits(cephes.TanhSmall)},
	{"tanhQ0", math.Float32bits(cephes.TanhP[0])},
	{"tanhQ1", math.Float32bits(cephes.TanhP[1])},
	{"tanhQ2", math.Float32bits(cephes.TanhP[2])},
	{"tanhQ3", math.Float32bits(cephes.TanhP[3])},
	{"tanhQ4", math.Float32bits(cephes.TanhP[4])},
}

func kc(name string) Mem {
	for i, c := range constList {
		if c.name == name {
			if wide {
				return consts512.Offset(64 * i)
			}
			return consts.Offset(32 * i)
		}
	}
	panic("no constant " + name)
}

// The instructions whose 512-bit forms differ from the 256-bit ones
// (EVEX has no VROUNDPS, VBLENDVPS or floating-point logic without
// AVX512DQ): the same results lane by lane.
func roundDown(x VecPhysical) {
	if wide {
		VRNDSCALEPS(U8(1), x, x)
		return
	}
	VROUNDPS(U8(1), x, x)
}

func xorps(m Op, x VecPhysical) {
	if wide {
		VPXORD(m, x, x)
		return
	}
	VXORPS(m, x, x)
}

func andps(m Op, x, dst VecPhysical) {
	if wide {
		VPANDD(m, x, dst)
		return
	}
	VANDPS(m, x, dst)
}

func orps(a, x VecPhysical) {
	if wide {
		VPORD(a, x, x)
		return
	}
	VORPS(a, x, x)
}

// selectSmall sets y = p where |x| (in z) is below tanhSmall (z
// clobbered).
func selectSmall(z, p, y VecPhysical) {
	if wide {
		VCMPPS(U8(1), kc("tanhSmall"), z, K1)
		VMOVAPS(p, K1, y)
		return
	}
	VCMPPS(U8(1), kc("tanhSmall"), z, z)
	VBLENDVPS(z, p, y, y)
}

type vecs []VecPhysical

func ymm(i int) VecPhysical {
	return []VecPhysical{Y0, Y1, Y2, Y3, Y4, Y5, Y6, Y7, Y8, Y9, Y10, Y11, Y12, Y13, Y14, Y15}[i]
}

// emitExp sets y = e^x (x is clobbered; t1, t2 are scratch), as the
// activation kernels of ../act.go do.
func emitExp(x, t1, t2, y vecs) {
	for i := range x {
		VMOVUPS(kc("expHi"), t2[i])
		VMINPS(x[i], t2[i], x[i])
	}
	for i := range x {
		VMOVUPS(kc("expLo"), t2[i])
		VMAXPS(x[i], t2[i], x[i])
	}
	for i := range x {
		VMOVUPS(kc("log2e"), t1[i])
		VFMADD213PS(kc("half"), x[i], t1[i])
	}
	for i := range x {
		roundDown(t1[i])
	}
	for i := range x {
		VFNMADD231PS(kc("ln2Hi"), t1[i], x[i])
	}
	for i := range x {
		VFNMADD231PS(kc("ln2Lo"), t1[i], x[i])
	}
	for i := range x {
		VMULPS(x[i], x[i], t2[i])
		VMOVUPS(kc("expP0"), y[i])
	}
	for _, p := range []string{"expP1", "expP2", "expP3", "expP4", "expP5"} {
		for i := range x {
			VFMADD213PS(kc(p), x[i], y[i])
		}
	}
	for i := range x {
		VFMADD213PS(x[i], t2[i], y[i])
	}
	for i := range x {
		VADDPS(kc("one"), y[i], y[i])
	}
	for i := range x {
		VCVTTPS2DQ(t1[i], t1[i])
	}
	for i := range x {
		VPADDD(kc("bias127"), t1[i], t1[i])
	}
	for i := range x {
		VPSLLD(U8(23), t1[i], t1[i])
	}
	for i := range x {
		VMULPS(t1[i], y[i], y[i])
	}
}

// sigmoid sets ys = 1/(1+e^-xs) (xs clobbered; t1, t2 scratch).
func sigmoid(xs, t1, t2, ys vecs) {
	for i := range xs {
		xorps(kc("sign"), xs[i])
	}
	emitExp(xs, t1, t2, ys)
	for i := range ys {
		VMOVUPS(kc("one"), t1[i])
		VADDPS(t1[i], ys[i], ys[i])
	}
	for i := range ys {
		VDIVPS(ys[i], t1[i], ys[i])
	}
}

// tanh sets y = tanh(x) with scratch z, s, p, t1, t2 (x kept).
func tanh(x, z, s, p, t1, t2, y VecPhysical) {
	andps(kc("abs"), x, z)
	VMULPS(x, x, s)
	VMOVUPS(kc("tanhQ0"), p)
	for _, q := range []string{"tanhQ1", "tanhQ2", "tanhQ3", "tanhQ4"} {
		VFMADD213PS(kc(q), s, p)
	}
	VMULPS(s, p, p)
	VFMADD213PS(z, z, p)
	VADDPS(z, z, s)
	emitExp(vecs{s}, vecs{t1}, vecs{t2}, vecs{y})
	VADDPS(kc("one"), y, y)
	VMOVUPS(kc("two"), t1)
	VDIVPS(y, t1, y)
	VMOVUPS(kc("one"), t1)
	VSUBPS(y, t1, y)
	selectSmall(z, p, y)
	andps(kc("sign"), x, t1)
	orps(t1, y)
}

// lstmStep emits lstmStepAVX2.
func lstmStep() {
	lstmStepKernel("lstmStepAVX2", ymm, 32)
	Doc("lstmStepAVX2 runs one LSTM step over ng groups of eight units: for group u, the",
		"gate pre-activations i, o, f, g of units 8u..8u+7 are xw[q*ldg+8u+l] (q = 0..3) plus",
		"Σp h[p]*w[(u*k+p)*32 + 8q+l]; then c[8u+l] = σ(f)·c + σ(i)·tanh(g) and",
		"hout[8u+l] = σ(o)·tanh(c[8u+l]). hout must not overlap h. After each group, xw, c and",
		"hout advance by step bytes (32, or -32 to sweep the groups backwards from the last)",
		"and w by wstep bytes on top of the group's k*128 (0, or -2*k*128 backwards).")
}

func zmm(i int) VecPhysical {
	return []VecPhysical{Z0, Z1, Z2, Z3, Z4, Z5, Z6, Z7, Z8, Z9, Z10, Z11, Z12, Z13, Z14, Z15}[i]
}

// lstmStep512 emits lstmStepAVX512: lstmStepAVX2 on groups of sixteen
// units (R^T in rows of 64 floats a group, LSTMWeights.group 16) in
// 512-bit vectors, every lane computed by the same operations in the same
// order as there, so with the same bits. On a core with two 512-bit FMA
// pipes the 256-bit kernel ran at half the multiply-add rate: hid 64, 480
// against 316 ns a step, sweeping back and forth (BenchmarkLSTMStep).
// Taking two groups at a time, their products in one loop and their cells
// side by side, saved nothing at hid 64 and cost a third at hid 128: from
// 64 units on, R^T (64 KiB and more) streams from L2 every step, which
// bounds the step.
func lstmStep512() {
	wide = true
	defer func() { wide = false }()
	lstmStepKernel("lstmStepAVX512", zmm, 64)
	Doc("lstmStepAVX512 is lstmStepAVX2 over ng groups of sixteen units: w holds k rows of 64",
		"floats a group (the units' i, o, f and g columns), xw, c and hout advance by step bytes",
		"(64, or -64) after each group and w by wstep on top of the group's k*256 bytes.")
}

// lstmStepKernel emits the step kernel name on vectors vec(i) of vb
// bytes (a group's gate is one vector: 8 or 16 units).
func lstmStepKernel(name string, vec func(int) VecPhysical, vb int) {
	TEXT(name, NOSPLIT, "func(k int, h *float32, w *float32, xw *float32, ldg int, c *float32, hout *float32, ng int, step int, wstep int)")
	Pragma("noescape")
	k := Load(Param("k"), GP64())
	h := Load(Param("h"), GP64())
	w := Load(Param("w"), GP64())
	xw := Load(Param("xw"), GP64())
	ldg := Load(Param("ldg"), GP64())
	c := Load(Param("c"), GP64())
	ho := Load(Param("hout"), GP64())
	ng := Load(Param("ng"), GP64())
	step := Load(Param("step"), GP64())
	wstep := Load(Param("wstep"), GP64())
	SHLQ(Imm(2), ldg)
	ldg3 := GP64()
	LEAQ(Mem{Base: ldg, Index: ldg, Scale: 2}, ldg3)
	hp, cnt := GP64(), GP64()
	TESTQ(ng, ng)
	JE(LabelRef(name + "_ret"))

	Label(name + "_group")
	for i := 0; i < 8; i++ {
		if wide {
			VPXORD(vec(i), vec(i), vec(i))
		} else {
			VXORPS(vec(i), vec(i), vec(i))
		}
	}
	MOVQ(h, hp)
	MOVQ(k, cnt)
	CMPQ(cnt, I32(2))
	JL(LabelRef(name + "_ktail"))
	Label(name + "_k2")
	VBROADCASTSS(Mem{Base: hp}, vec(8))
	VBROADCASTSS(Mem{Base: hp, Disp: 4}, vec(9))
	for i := 0; i < 4; i++ {
		VFMADD231PS(Mem{Base: w, Disp: vb * i}, vec(8), vec(i))
	}
	for i := 0; i < 4; i++ {
		VFMADD231PS(Mem{Base: w, Disp: 4*vb + vb*i}, vec(9), vec(4+i))
	}
	ADDQ(I32(int32(8*vb)), w)
	ADDQ(I32(8), hp)
	SUBQ(I32(2), cnt)
	CMPQ(cnt, I32(2))
	JGE(LabelRef(name + "_k2"))
	Label(name + "_ktail")
	TESTQ(cnt, cnt)
	JE(LabelRef(name + "_cell"))
	VBROADCASTSS(Mem{Base: hp}, vec(8))
	for i := 0; i < 4; i++ {
		VFMADD231PS(Mem{Base: w, Disp: vb * i}, vec(8), vec(i))
	}
	ADDQ(I32(int32(4*vb)), w)

	Label(name + "_cell")
	Comment("Gate pre-activations: i, o, f, g in registers 0..3.")
	gate := func(q int) Mem {
		switch q {
		case 0:
			return Mem{Base: xw}
		case 1:
			return Mem{Base: xw, Index: ldg, Scale: 1}
		case 2:
			return Mem{Base: xw, Index: ldg, Scale: 2}
		}
		return Mem{Base: xw, Index: ldg3, Scale: 1}
	}
	for i := 0; i < 4; i++ {
		VADDPS(vec(4+i), vec(i), vec(i))
		VADDPS(gate(i), vec(i), vec(i))
	}
	Comment("σ(i), σ(o), σ(f) into registers 10, 11, 12.")
	sigmoid(vecs{vec(0), vec(1), vec(2)}, vecs{vec(4), vec(5), vec(6)}, vecs{vec(7), vec(8), vec(9)}, vecs{vec(10), vec(11), vec(12)})
	Comment("tanh(g) into register 0.")
	tanh(vec(3), vec(1), vec(2), vec(4), vec(5), vec(6), vec(0))
	Comment("c = σ(f)·c + σ(i)·tanh(g), in register 3.")
	VMOVUPS(Mem{Base: c}, vec(3))
	VMULPS(vec(12), vec(3), vec(3))
	VFMADD231PS(vec(0), vec(10), vec(3))
	VMOVUPS(vec(3), Mem{Base: c})
	Comment("h = σ(o)·tanh(c).")
	tanh(vec(3), vec(1), vec(2), vec(4), vec(5), vec(6), vec(0))
	VMULPS(vec(11), vec(0), vec(0))
	VMOVUPS(vec(0), Mem{Base: ho})
	ADDQ(step, xw)
	ADDQ(step, c)
	ADDQ(step, ho)
	ADDQ(wstep, w)
	DECQ(ng)
	JNE(LabelRef(name + "_group"))
	Label(name + "_ret")
	VZEROUPPER()
	RET()
}

func main() {
	flag.Parse()
	ConstraintExpr("!purego")
	consts = GLOBL("lstmConsts", RODATA|NOPTR)
	for i, c := range constList {
		for l := 0; l < 8; l++ {
			DATA(32*i+4*l, U32(c.bits))
		}
	}
	consts512 = GLOBL("lstmConsts512", RODATA|NOPTR)
	for i, c := range constList {
		for l := 0; l < 16; l++ {
			DATA(64*i+4*l, U32(c.bits))
		}
	}
	lstmStep()
	lstmStep512()
	Generate()
}
