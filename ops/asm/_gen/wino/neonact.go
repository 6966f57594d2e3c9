package main

import (
	"fmt"
	"math"

	"github.com/onyxrt/onyx/ops/asm/_gen/cephes"
)

// The NEON activation kernels of ../../act_arm64.s (-act): expNEON,
// sigmoidNEON and tanhNEON, four lanes at a time, then one lane at a time
// for the last n mod 4 values. They follow the Go references lane for
// lane, with fused multiply-adds where Go on arm64 fuses them too:
// expNEON the reference of Exp (expSliceGeneric: the scale 2^n applied in
// two normal halves, so results below the normal range round once), and
// sigmoidNEON and tanhNEON the Cephes forms of sigmoid32 and tanh32 on
// that exponential.

// More vector instructions (.4S), as WORDs.
func rr(base uint32, name string, d, n int) string {
	return word(base|uint32(n)<<5|uint32(d), fmt.Sprintf("%s V%d.4S, V%d.4S", name, d, n))
}
func fdiv(d, n, m int) string { return rrr(0x6e20fc00, "FDIV", d, n, m) } // d = n / m
func addS(d, n, m int) string { return rrr(0x4ea08400, "ADD", d, n, m) }  // d = n + m, int32 lanes
func subS(d, n, m int) string { return rrr(0x6ea08400, "SUB", d, n, m) }  // d = n - m, int32 lanes
func fabs(d, n int) string    { return rr(0x4ea0f800, "FABS", d, n) }     // d = |n|
func fneg(d, n int) string    { return rr(0x6ea0f800, "FNEG", d, n) }     // d = -n
func fcvtzs(d, n int) string  { return rr(0x4ea1b800, "FCVTZS", d, n) }   // d = int32(n), toward zero
func sshr1(d, n int) string   { return rr(0x4f3f0400, "SSHR #1,", d, n) } // d = n >> 1, arithmetic
func shl23(d, n int) string   { return rr(0x4f375400, "SHL #23,", d, n) } // d = n << 23
func vmov(d, n int) string    { return fmt.Sprintf("VORR V%d.B16, V%d.B16, V%d.B16", n, n, d) }
func vand(d, n, m int) string { return fmt.Sprintf("VAND V%d.B16, V%d.B16, V%d.B16", m, n, d) }
func vorr(d, n, m int) string { return fmt.Sprintf("VORR V%d.B16, V%d.B16, V%d.B16", m, n, d) }

// The constants, each in all four lanes of its register.
const (
	cHi, cLo, cLog2e, cMagic, cLn2Hi, cLn2Lo = 8, 9, 10, 11, 12, 13
	cP0                                      = 14 // to 19: Cephes expf's P
	cOne, cBias                              = 20, 21
	cTanhSmall                               = 22 // 0.625
	cT0                                      = 23 // to 27: Cephes tanhf's P
	cTwo, cSign                              = 28, 29
)

func f32(v float32) uint32 { return math.Float32bits(v) }

// actConsts loads the constants (R12 scratch).
func actConsts(e *emitter) {
	dupConst(e, cHi, f32(89), "89")
	dupConst(e, cLo, f32(-104), "-104")
	dupConst(e, cLog2e, f32(cephes.Log2e), "log2 e")
	dupConst(e, cMagic, f32(12582912), "1.5·2^23")
	dupConst(e, cLn2Hi, f32(cephes.Ln2Hi), "ln 2, high part")
	dupConst(e, cLn2Lo, f32(cephes.Ln2Lo), "ln 2, low part")
	for i, p := range cephes.ExpP {
		dupConst(e, cP0+i, f32(p), fmt.Sprintf("P%d", i))
	}
	dupConst(e, cOne, f32(1), "1")
	dupConst(e, cBias, 127, "127 (int)")
	dupConst(e, cTanhSmall, f32(cephes.TanhSmall), "0.625")
	for i, p := range cephes.TanhP {
		dupConst(e, cT0+i, f32(p), fmt.Sprintf("tanh P%d", i))
	}
	dupConst(e, cTwo, f32(2), "2")
	dupConst(e, cSign, 0x80000000, "the sign bit")
}

// expBody returns y = e^x for the vector x (clobbered: clamped to [-104,
// 89], a NaN stays NaN), as expSliceGeneric computes it, with the six
// temporaries t; y may be x.
func expBody(x, y int, t [6]int) []string {
	n, r, p, q, m, s := t[0], t[1], t[2], t[3], t[4], t[5]
	out := []string{
		fcmgt(m, cLo, x), bit(x, cLo, m), // x = max(x, -104)
		fcmgt(m, x, cHi), bit(x, cHi, m), // x = min(x, 89)
		vmov(n, cMagic), fmla(n, x, cLog2e), fsub(n, n, cMagic), // n = round(x·log2 e)
		vmov(r, x), fmls(r, n, cLn2Hi), fmls(r, n, cLn2Lo), // r = x - n·ln 2
		vmov(p, cP0+1), fmla(p, cP0, r), // p = P0·r + P1
	}
	for i := 2; i < 6; i++ {
		out = append(out, vmov(q, cP0+i), fmla(q, p, r)) // p = p·r + Pi
		p, q = q, p
	}
	out = append(out,
		fmul(q, r, r), fmla(r, p, q), fadd(r, r, cOne), // e^r = p·r² + r + 1
		fcvtzs(n, n), sshr1(m, n), subS(n, n, m), // n1 = n>>1, n2 = n - n1
		addS(m, m, cBias), shl23(m, m), addS(n, n, cBias), shl23(n, n), // 2^n1, 2^n2
		fmul(s, r, m), fmul(y, s, n),
	)
	return out
}

// actKernel emits fn(n int, x *float32, y *float32): body(v) computes
// the function of the vector in V0 into V1 (temporaries V2..V7, V30,
// V31), four lanes at a time, then lane 0 alone for the last n mod 4.
//
// Registers: R0 n, R1 x, R2 y.
func actKernel(e *emitter, fn, what string, body func() []string) {
	e.line("")
	e.line("// func %s(n int, x *float32, y *float32)", fn)
	e.line("// sets y[i] = %s for i < n; y may be x.", what)
	e.line("TEXT ·%s(SB), NOSPLIT, $0-24", fn)
	e.ins("MOVD n+0(FP), R0", "MOVD x+8(FP), R1", "MOVD y+16(FP), R2")
	actConsts(e)
	e.ins("CMP $4, R0", "BLT "+fn+"_1")
	e.label(fn + "_4")
	e.ins("VLD1.P 16(R1), [V0.S4]")
	e.ins(body()...)
	e.ins("VST1.P [V1.S4], 16(R2)", "SUB $4, R0", "CMP $4, R0", "BGE "+fn+"_4")
	e.label(fn + "_1")
	e.ins("CBZ R0, " + fn + "_ret")
	e.ins("VLD1.P 4(R1), V0.S[0]")
	e.ins(body()...)
	e.ins("VST1.P V1.S[0], 4(R2)", "SUB $1, R0", "B "+fn+"_1")
	e.label(fn + "_ret")
	e.ins("RET")
}

var actTemps = [6]int{2, 3, 4, 5, 6, 7}

// writeActARM64 writes the activation kernels.
func writeActARM64(path string) error {
	e := &emitter{}
	header(e, "-act "+path)
	actKernel(e, "expNEON", "e^x[i]", func() []string {
		return append([]string{vmov(1, 0)}, expBody(1, 1, actTemps)...)
	})
	// sigmoid32: 1/(1 + e^-x).
	actKernel(e, "sigmoidNEON", "1/(1+e^-x[i])", func() []string {
		out := append([]string{fneg(1, 0)}, expBody(1, 1, actTemps)...)
		return append(out, fadd(1, 1, cOne), fdiv(1, cOne, 1))
	})
	// tanh32: with z = |x|, z + z·(s·P(s)) (s = x²) below 0.625, else
	// 1 - 2/(e^2z + 1); then x's sign.
	actKernel(e, "tanhNEON", "tanh(x[i])", func() []string {
		const z, small, s = 30, 31, 2
		p, q := 3, 4
		out := []string{fabs(z, 0), fmul(s, 0, 0), vmov(p, cT0+1), fmla(p, cT0, s)} // p = T0·s + T1
		for i := 2; i < 5; i++ {
			out = append(out, vmov(q, cT0+i), fmla(q, p, s)) // p = p·s + Ti
			p, q = q, p
		}
		out = append(out, fmul(q, p, s), vmov(small, z), fmla(small, z, q)) // z·(p·s) + z
		out = append(out, fadd(1, z, z))
		out = append(out, expBody(1, 1, actTemps)...)
		out = append(out, fadd(1, 1, cOne), fdiv(1, cTwo, 1), fsub(1, cOne, 1)) // 1 - 2/(e^2z + 1)
		out = append(out, fcmgt(2, cTanhSmall, z), bit(1, small, 2))            // the small form below 0.625
		return append(out, vand(2, 0, cSign), vorr(1, 1, 2))                    // x's sign
	})
	return e.write(path)
}
