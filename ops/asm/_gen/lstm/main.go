// Command lstm writes ops/asm/lstm_amd64.s and its Go declarations
// (lstm_stubs_amd64.go) with avo: lstmStepAVX2, one time step of an LSTM
// with the default activations for one batch row, the recurrent product
// h·R^T and the cell fused (Go reference and the exported wrapper in
// ../../lstm.go). Run it through `go generate` in ops/asm; gen_test.go
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
			return consts.Offset(32 * i)
		}
	}
	panic("no constant " + name)
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
		VROUNDPS(U8(1), t1[i], t1[i])
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
		VXORPS(kc("sign"), xs[i], xs[i])
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
	VANDPS(kc("abs"), x, z)
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
	VCMPPS(U8(1), kc("tanhSmall"), z, z)
	VBLENDVPS(z, p, y, y)
	VANDPS(kc("sign"), x, t1)
	VORPS(t1, y, y)
}

func lstmStep() {
	TEXT("lstmStepAVX2", NOSPLIT, "func(k int, h *float32, w *float32, xw *float32, ldg int, c *float32, hout *float32, ng int, step int, wstep int)")
	Pragma("noescape")
	Doc("lstmStepAVX2 runs one LSTM step over ng groups of eight units: for group u, the",
		"gate pre-activations i, o, f, g of units 8u..8u+7 are xw[q*ldg+8u+l] (q = 0..3) plus",
		"Σp h[p]*w[(u*k+p)*32 + 8q+l]; then c[8u+l] = σ(f)·c + σ(i)·tanh(g) and",
		"hout[8u+l] = σ(o)·tanh(c[8u+l]). hout must not overlap h. After each group, xw, c and",
		"hout advance by step bytes (32, or -32 to sweep the groups backwards from the last)",
		"and w by wstep bytes on top of the group's k*128 (0, or -2*k*128 backwards).")
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
	JE(LabelRef("lstmStepAVX2_ret"))

	Label("lstmStepAVX2_group")
	for i := 0; i < 8; i++ {
		VXORPS(ymm(i), ymm(i), ymm(i))
	}
	MOVQ(h, hp)
	MOVQ(k, cnt)
	CMPQ(cnt, I32(2))
	JL(LabelRef("lstmStepAVX2_ktail"))
	Label("lstmStepAVX2_k2")
	VBROADCASTSS(Mem{Base: hp}, Y8)
	VBROADCASTSS(Mem{Base: hp, Disp: 4}, Y9)
	for i := 0; i < 4; i++ {
		VFMADD231PS(Mem{Base: w, Disp: 32 * i}, Y8, ymm(i))
	}
	for i := 0; i < 4; i++ {
		VFMADD231PS(Mem{Base: w, Disp: 128 + 32*i}, Y9, ymm(4+i))
	}
	ADDQ(I32(256), w)
	ADDQ(I32(8), hp)
	SUBQ(I32(2), cnt)
	CMPQ(cnt, I32(2))
	JGE(LabelRef("lstmStepAVX2_k2"))
	Label("lstmStepAVX2_ktail")
	TESTQ(cnt, cnt)
	JE(LabelRef("lstmStepAVX2_cell"))
	VBROADCASTSS(Mem{Base: hp}, Y8)
	for i := 0; i < 4; i++ {
		VFMADD231PS(Mem{Base: w, Disp: 32 * i}, Y8, ymm(i))
	}
	ADDQ(I32(128), w)

	Label("lstmStepAVX2_cell")
	Comment("Gate pre-activations: i, o, f, g in Y0..Y3.")
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
		VADDPS(ymm(4+i), ymm(i), ymm(i))
		VADDPS(gate(i), ymm(i), ymm(i))
	}
	Comment("σ(i), σ(o), σ(f) into Y10, Y11, Y12.")
	sigmoid(vecs{Y0, Y1, Y2}, vecs{Y4, Y5, Y6}, vecs{Y7, Y8, Y9}, vecs{Y10, Y11, Y12})
	Comment("tanh(g) into Y0.")
	tanh(Y3, Y1, Y2, Y4, Y5, Y6, Y0)
	Comment("c = σ(f)·c + σ(i)·tanh(g), in Y3.")
	VMOVUPS(Mem{Base: c}, Y3)
	VMULPS(Y12, Y3, Y3)
	VFMADD231PS(Y0, Y10, Y3)
	VMOVUPS(Y3, Mem{Base: c})
	Comment("h = σ(o)·tanh(c).")
	tanh(Y3, Y1, Y2, Y4, Y5, Y6, Y0)
	VMULPS(Y11, Y0, Y0)
	VMOVUPS(Y0, Mem{Base: ho})
	ADDQ(step, xw)
	ADDQ(step, c)
	ADDQ(step, ho)
	ADDQ(wstep, w)
	DECQ(ng)
	JNE(LabelRef("lstmStepAVX2_group"))
	Label("lstmStepAVX2_ret")
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
	lstmStep()
	Generate()
}
