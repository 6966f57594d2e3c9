package main

import (
	. "github.com/mmcloughlin/avo/build"
	. "github.com/mmcloughlin/avo/operand"
	. "github.com/mmcloughlin/avo/reg"
)

// gemvPackedAVX2 emits sgemvPackedAVX2, the m == 1 product with a packed
// B: np full panels of 32 columns, each k rows of 32 floats, one after the
// other. Each panel streams through once, its 32 sums held in Y0..Y3 (even
// p) and Y4..Y7 (odd p), eight FMA chains to cover the FMA latency.
func gemvPackedAVX2() {
	name := "sgemvPackedAVX2"
	TEXT(name, NOSPLIT, "func(k int, a *float32, b *float32, c *float32, np int, alpha float32, beta float32)")
	Pragma("noescape") // the kernel keeps no pointer, so a caller's stack buffer stays on the stack
	Doc(name+" computes c[j] = alpha*Σp a[p]*b[(j/32)*32*k + p*32 + j%32] + beta*c[j]",
		"for j < 32*np (c unread when beta is 0): np packed panels of k rows.")
	k := Load(Param("k"), GP64())
	a := Load(Param("a"), GP64())
	b := Load(Param("b"), GP64())
	c := Load(Param("c"), GP64())
	np := Load(Param("np"), GP64())
	broadcastParam("alpha", Y12)
	broadcastParam("beta", Y13)
	betaZero := GP32()
	XORL(betaZero, betaZero)
	loadBetaIsZero()
	SETEQ(betaZero.As8())
	TESTQ(np, np)
	JE(LabelRef(name + "_ret"))
	ap, kk := GP64(), GP64()

	Label(name + "_panel")
	for i := 0; i < 8; i++ {
		VXORPS(ymm(i), ymm(i), ymm(i))
	}
	MOVQ(a, ap)
	MOVQ(k, kk)
	fma := func(x VecPhysical, set, disp int) {
		for v := 0; v < 4; v++ {
			VFMADD231PS(Mem{Base: b, Disp: disp + 32*v}, x, ymm(4*set+v))
		}
	}
	CMPQ(kk, I32(2))
	JL(LabelRef(name + "_ktail"))
	Label(name + "_k2")
	VBROADCASTSS(Mem{Base: ap}, Y8)
	VBROADCASTSS(Mem{Base: ap, Disp: 4}, Y9)
	fma(Y8, 0, 0)
	fma(Y9, 1, panelBytes)
	ADDQ(I32(2*panelBytes), b)
	ADDQ(I32(8), ap)
	SUBQ(I32(2), kk)
	CMPQ(kk, I32(2))
	JGE(LabelRef(name + "_k2"))
	Label(name + "_ktail")
	TESTQ(kk, kk)
	JE(LabelRef(name + "_store"))
	VBROADCASTSS(Mem{Base: ap}, Y8)
	fma(Y8, 0, 0)
	ADDQ(I32(panelBytes), b)
	Label(name + "_store")
	for v := 0; v < 4; v++ {
		VADDPS(ymm(4+v), ymm(v), ymm(v))
		VMULPS(Y12, ymm(v), ymm(v))
	}
	TESTL(betaZero, betaZero)
	JNE(LabelRef(name + "_store0"))
	for v := 0; v < 4; v++ {
		VFMADD231PS(Mem{Base: c, Disp: 32 * v}, Y13, ymm(v))
	}
	Label(name + "_store0")
	for v := 0; v < 4; v++ {
		VMOVUPS(ymm(v), Mem{Base: c, Disp: 32 * v})
	}
	ADDQ(I32(panelBytes), c)
	DECQ(np)
	JNE(LabelRef(name + "_panel"))
	Label(name + "_ret")
	VZEROUPPER()
	RET()
}
