package main

import (
	"fmt"
	"os"
	"strings"
)

// The arm64 kernels are printed as text (avo writes amd64 only): the
// Winograd kernels into wino_arm64.s (-arm64) and the convolution
// epilogues BiasAct/BiasSumAct into conv_epi_arm64.s (-epi). An 8-lane
// vector is a pair of 128-bit NEON registers (lanes 0..3, 4..7), so every
// transform runs twice, the two halves interleaved instruction by
// instruction for the in-order cores. Go's assembler has no vector FADD,
// FSUB, FMUL or compares, so those are WORDs with the instruction in a
// comment; VFMLA/VFMLS (the fused ones, only ever used for exact products
// by powers of two, as the amd64 kernels do) and the moves are mnemonics.
//
// The activations compare and select (FCMGT and BIT) instead of using
// FMAX/FMIN, which differ from the Go references on signed zeros.

// emitter collects the text of one .s file.
type emitter struct {
	sb strings.Builder
}

func (e *emitter) line(format string, args ...any) {
	fmt.Fprintf(&e.sb, format+"\n", args...)
}

// ins emits instructions, one per string.
func (e *emitter) ins(lines ...string) {
	for _, l := range lines {
		e.line("\t%s", l)
	}
}

func (e *emitter) label(l string) { e.line("%s:", l) }

func (e *emitter) comment(c string) { e.line("\t// %s", c) }

func (e *emitter) write(path string) error {
	return os.WriteFile(path, []byte(e.sb.String()), 0o666)
}

// Vector instructions on .4S arrangements (register numbers).

func word(enc uint32, text string) string {
	return fmt.Sprintf("WORD $0x%08x // %s", enc, text)
}

func rrr(base uint32, name string, d, n, m int) string {
	return word(base|uint32(m)<<16|uint32(n)<<5|uint32(d), fmt.Sprintf("%s V%d.4S, V%d.4S, V%d.4S", name, d, n, m))
}

func fadd(d, n, m int) string  { return rrr(0x4e20d400, "FADD", d, n, m) }  // d = n + m
func fsub(d, n, m int) string  { return rrr(0x4ea0d400, "FSUB", d, n, m) }  // d = n - m
func fmul(d, n, m int) string  { return rrr(0x6e20dc00, "FMUL", d, n, m) }  // d = n * m
func fcmgt(d, n, m int) string { return rrr(0x6ea0e400, "FCMGT", d, n, m) } // d = n > m ? ~0 : 0
func fcmlt0(d, n int) string {
	return word(0x4ea0e800|uint32(n)<<5|uint32(d), fmt.Sprintf("FCMLT V%d.4S, V%d.4S, #0", d, n))
}

// fmla is d += n*m, fmls d -= n*m (fused).
func fmla(d, n, m int) string { return fmt.Sprintf("VFMLA V%d.S4, V%d.S4, V%d.S4", m, n, d) }
func fmls(d, n, m int) string { return fmt.Sprintf("VFMLS V%d.S4, V%d.S4, V%d.S4", m, n, d) }

// bit inserts the bits of n into d where mask m is set.
func bit(d, n, m int) string { return fmt.Sprintf("VBIT V%d.B16, V%d.B16, V%d.B16", m, n, d) }

func trn(k, arr string, d, n, m int) string {
	return fmt.Sprintf("VTRN%s V%d.%s, V%d.%s, V%d.%s", k, m, arr, n, arr, d, arr)
}

// regs formats the register list of a multi-register VLD1/VST1 of
// consecutive registers first..first+n-1.
func regs(first, n int) string {
	var s []string
	for i := 0; i < n; i++ {
		s = append(s, fmt.Sprintf("V%d.S4", first+i))
	}
	return "[" + strings.Join(s, ", ") + "]"
}

// interleave merges instruction lists round robin.
func interleave(ls ...[]string) []string {
	var out []string
	for i := 0; ; i++ {
		more := false
		for _, l := range ls {
			if i < len(l) {
				out = append(out, l[i])
				more = true
			}
		}
		if !more {
			return out
		}
	}
}

// inTNEON is the 1-D input transform y = Bᵀ d of winoIn1, in place in r
// (y_k replaces d_k), with temporaries t1, t2 and four holding 4.0. The
// fused products are by 4 (exact), so the results are winoIn1's.
func inTNEON(r [6]int, t1, t2, four int) []string {
	return []string{
		fsub(t1, r[4], r[2]),   // t3 = d4 - d2
		fsub(r[0], r[0], r[2]), // d0 - d2
		fsub(t2, r[3], r[1]),   // s = d3 - d1
		fsub(r[5], r[5], r[3]), // d5 - d3
		fmls(r[4], r[2], four), // t1 = d4 - 4*d2
		fmls(r[3], r[1], four), // t2 = d3 - 4*d1
		fmul(r[0], r[0], four), // 4*(d0 - d2)
		fmls(r[5], t2, four),   // y5 = (d5 - d3) - 4*s
		fadd(r[1], r[4], r[3]), // y1 = t1 + t2
		fsub(r[2], r[4], r[3]), // y2 = t1 - t2
		fadd(t2, t2, t2),       // t4 = s + s
		fadd(r[0], r[0], t1),   // y0 = 4*(d0 - d2) + t3
		fadd(r[3], t1, t2),     // y3 = t3 + t4
		fsub(r[4], t1, t2),     // y4 = t3 - t4
	}
}

// outTNEON is the 1-D output transform y = Aᵀ m of winoOut1 from m (clobbered)
// into o, with two, four and eight holding those constants.
func outTNEON(m [6]int, o [4]int, two, four, eight int) []string {
	return []string{
		fadd(o[2], m[1], m[2]),  // a = m1 + m2
		fsub(o[1], m[1], m[2]),  // b = m1 - m2
		fsub(o[3], m[1], m[2]),  // b again
		fsub(m[1], m[3], m[4]),  // d = m3 - m4
		fadd(m[4], m[3], m[4]),  // c = m3 + m4
		fadd(o[0], m[0], o[2]),  // m0 + a
		fmla(o[3], m[1], eight), // b + 8*d
		fmla(o[1], m[1], two),   // y1 = b + 2*d
		fadd(o[0], o[0], m[4]),  // y0 = m0 + a + c
		fadd(o[3], o[3], m[5]),  // y3 = b + 8*d + m5
		fmla(o[2], m[4], four),  // y2 = a + 4*c
	}
}

// outT3NEON is the 1-D output transform y = Aᵀ m of F(3, 4) (winoOut3)
// from m (clobbered) into o, with two and four holding those constants.
func outT3NEON(m [6]int, o [3]int, two, four int) []string {
	return []string{
		fadd(o[2], m[1], m[2]), // a = m1 + m2
		fsub(o[1], m[1], m[2]), // b = m1 - m2
		fsub(m[1], m[3], m[4]), // d = m3 - m4
		fadd(m[4], m[3], m[4]), // c = m3 + m4
		fadd(o[0], m[0], o[2]), // m0 + a
		fmla(o[1], m[1], two),  // y1 = b + 2*d
		fmla(o[2], m[4], four), // a + 4*c
		fadd(o[0], o[0], m[4]), // y0 = m0 + a + c
		fadd(o[2], o[2], m[5]), // y2 = a + 4*c + m5
	}
}

// Activation modes of the NEON kernels (neonActMode in the Go code).
const (
	modeClamp = 0 // min(max(v, lo), hi) as the references compare
	modeLeaky = 1 // v < 0 ? v*alpha : v
	modeNone  = 2
	modeLo    = 3 // max(v, lo) only (hi = +Inf)
)

var modeNames = map[int]string{modeClamp: "clamp", modeLeaky: "leaky", modeNone: "none", modeLo: "lo"}

// actRegs are the registers an activation reads: lo (or alpha) and hi.
type actRegs struct{ lo, hi, alpha int }

// act returns the activation of the vectors vs with mode, using the
// temporaries tmp (at least len(vs) of them; leaky uses them as masks and
// products in pairs).
func act(mode int, r actRegs, vs, tmp []int) []string {
	var out []string
	switch mode {
	case modeClamp, modeLo:
		for i, v := range vs {
			out = append(out, fcmgt(tmp[i], r.lo, v)) // lo > v
		}
		for i, v := range vs {
			out = append(out, bit(v, r.lo, tmp[i]))
		}
		if mode == modeClamp {
			for i, v := range vs {
				out = append(out, fcmgt(tmp[i], v, r.hi)) // v > hi
			}
			for i, v := range vs {
				out = append(out, bit(v, r.hi, tmp[i]))
			}
		}
	case modeLeaky:
		// Groups of len(tmp)/2: masks, products, selects.
		g := len(tmp) / 2
		for s := 0; s < len(vs); s += g {
			e := min(s+g, len(vs))
			for i := s; i < e; i++ {
				out = append(out, fcmlt0(tmp[i-s], vs[i]))
			}
			for i := s; i < e; i++ {
				out = append(out, fmul(tmp[g+i-s], vs[i], r.alpha))
			}
			for i := s; i < e; i++ {
				out = append(out, bit(vs[i], tmp[g+i-s], tmp[i-s]))
			}
		}
	}
	return out
}

func header(e *emitter, cmd string) {
	e.line("// Code generated by command: go run ./wino %s. DO NOT EDIT.", cmd)
	e.line("")
	e.line("//go:build !purego")
	e.line("")
	e.line(`#include "textflag.h"`)
}

// writeWinoARM64 writes the Winograd kernels.
func writeWinoARM64(path string) error {
	e := &emitter{}
	header(e, "-arm64 "+path)
	e.line("")
	e.line("// -0.0 in eight lanes: the bias of WinoOutput4x3 without one (x + -0 = x).")
	for i := 0; i < 8; i++ {
		e.line("DATA winoNegZeroNEON<>+%d(SB)/4, $0x80000000", 4*i)
	}
	e.line("GLOBL winoNegZeroNEON<>(SB), RODATA|NOPTR, $32")
	winoInputNEON(e, "winoInput4x3NEON", 4)
	winoOutputNEON(e, "winoOutput4x3NEON", 4)
	winoInputNEON(e, "winoInput3x4NEON", 3)
	winoOutputNEON(e, "winoOutput3x4NEON", 3)
	for p := 1; p <= 8; p++ {
		blockNEON(e, p)
	}
	for p := 1; p <= 8; p++ {
		unblockNEON(e, p)
	}
	return e.write(path)
}

// addImm returns d = n + imm (a move for 0).
func addImm(imm int, n, d string) string {
	if imm == 0 {
		return fmt.Sprintf("MOVD %s, %s", n, d)
	}
	return fmt.Sprintf("ADD $%d, %s, %s", imm, n, d)
}

// dupConst sets the four lanes of V<v> to the float32 with bits b.
func dupConst(e *emitter, v int, b uint32, text string) {
	e.ins(fmt.Sprintf("MOVD $0x%08x, R12 // %s", b, text), fmt.Sprintf("VDUP R12, V%d.S4", v))
}

// winoInputNEON emits the input transform fn of tiles step columns
// apart (winoInput4x3NEON: 4, winoInput3x4NEON: 3): per tile a column
// pass over pairs of columns (6 rows × 4 registers, four transforms, two
// at a time) into tmp (6×6 vectors), then a row pass (one row of 12
// registers, two transforms) storing ξ = 6i+j at stride ldxi.
//
// Registers: R0 nt, R1 src tile, R2 lds, R3 dst tile, R4 ldxi, R5 ldt
// (bytes), R6 tmp, R7/R8/R9 pointers, R10 192 (a tmp row); V31 = 4.
func winoInputNEON(e *emitter, fn string, step int) {
	e.line("")
	e.line("// func %s(nt int, src *float32, lds int, dst *float32, ldxi int, ldt int)", fn)
	e.line("TEXT ·%s(SB), 0, $1152-48", fn)
	e.ins(
		"MOVD nt+0(FP), R0",
		"MOVD src+8(FP), R1",
		"MOVD lds+16(FP), R2",
		"LSL $2, R2, R2",
		"MOVD dst+24(FP), R3",
		"MOVD ldxi+32(FP), R4",
		"LSL $2, R4, R4",
		"MOVD ldt+40(FP), R5",
		"LSL $2, R5, R5",
		"MOVD $tmp-1152(SP), R6",
		"MOVD $192, R10",
	)
	dupConst(e, 31, 0x40800000, "4.0")
	const four = 31
	e.label(fn + "_tile")
	e.comment("Column pass: tmp[i][j] = (Bᵀ d)[i][j], two columns (four registers) at a time.")
	for jp := 0; jp < 3; jp++ {
		e.ins(addImm(64*jp, "R1", "R7"))
		for i := 0; i < 6; i++ {
			e.ins(fmt.Sprintf("VLD1.P (R7)(R2), %s", regs(4*i, 4)))
		}
		col := func(c int) [6]int {
			var r [6]int
			for i := range r {
				r[i] = 4*i + c
			}
			return r
		}
		e.ins(interleave(inTNEON(col(0), 24, 25, four), inTNEON(col(1), 26, 27, four))...)
		e.ins(interleave(inTNEON(col(2), 24, 25, four), inTNEON(col(3), 26, 27, four))...)
		e.ins(addImm(64*jp, "R6", "R9"))
		for i := 0; i < 6; i++ {
			e.ins(fmt.Sprintf("VST1.P %s, (R9)(R10)", regs(4*i, 4)))
		}
	}
	e.comment("Row pass: dst[ξ = 6i+j] = (tmp B)[i][j].")
	e.ins("MOVD R6, R9", "MOVD R3, R8")
	for i := 0; i < 6; i++ {
		for k := 0; k < 3; k++ {
			e.ins(fmt.Sprintf("VLD1.P 64(R9), %s", regs(4*k, 4)))
		}
		half := func(h int) [6]int {
			var r [6]int
			for j := range r {
				r[j] = 2*j + h
			}
			return r
		}
		e.ins(interleave(inTNEON(half(0), 24, 25, four), inTNEON(half(1), 26, 27, four))...)
		for j := 0; j < 6; j++ {
			e.ins(fmt.Sprintf("VST1.P %s, (R8)(R4)", regs(2*j, 2)))
		}
	}
	e.ins(fmt.Sprintf("ADD $%d, R1", 32*step), "ADD R5, R3", "SUBS $1, R0", "BNE "+fn+"_tile", "RET")
}

// winoOutputNEON emits the output transform fn into m×m tiles m columns
// apart (winoOutput4x3NEON: 4, winoOutput3x4NEON: 3): per tile a column
// pass (one column of 6 vectors, two transforms) into tmp (m×6 vectors),
// then a row pass (a row of 12 registers, two transforms) with bias,
// activation and the stores of an m-vector output row. One tile loop per
// activation mode.
//
// Registers: R0 nt, R1 src tile, R2 ldxi, R3 ldt, R4 dst tile, R5 ldd
// (bytes), R6 tmp, R7 column pointer, R8 6*ldxi, R9 tmp pointer, R10 192,
// R11 output row, R12 scratch, R13 next column; V20..V22 = 2, 4, 8, V23 lo
// or alpha, V24 hi, V26/V27 bias.
func winoOutputNEON(e *emitter, fn string, m int) {
	frame := 6 * m * 32
	e.line("")
	e.line("// func %s(nt int, src *float32, ldxi int, ldt int, bias *float32, lo float32, hi float32, alpha float32, mode int, dst *float32, ldd int)", fn)
	e.line("TEXT ·%s(SB), 0, $%d-80", fn, frame)
	e.ins(
		"MOVD nt+0(FP), R0",
		"MOVD src+8(FP), R1",
		"MOVD ldxi+16(FP), R2",
		"LSL $2, R2, R2",
		"MOVD ldt+24(FP), R3",
		"LSL $2, R3, R3",
		"MOVD dst+64(FP), R4",
		"MOVD ldd+72(FP), R5",
		"LSL $2, R5, R5",
		fmt.Sprintf("MOVD $tmp-%d(SP), R6", frame),
		"ADD R2, R2, R8",
		"ADD R2, R8, R8",
		"ADD R8, R8, R8",
		"MOVD $192, R10",
		"MOVD bias+32(FP), R12",
		"CBNZ R12, "+fn+"_bias",
		"MOVD $winoNegZeroNEON<>(SB), R12",
	)
	e.label(fn + "_bias")
	e.ins("VLD1 (R12), [V26.S4, V27.S4]")
	dupConst(e, 20, 0x40000000, "2.0")
	dupConst(e, 21, 0x40800000, "4.0")
	dupConst(e, 22, 0x41000000, "8.0")
	e.ins(
		"MOVD $lo+40(FP), R12",
		"VLD1R (R12), [V23.S4]",
		"MOVD $hi+44(FP), R12",
		"VLD1R (R12), [V24.S4]",
		"MOVD mode+56(FP), R12",
		fmt.Sprintf("CMP $%d, R12", modeLeaky),
		"BEQ "+fn+"_leaky",
		fmt.Sprintf("CMP $%d, R12", modeNone),
		"BEQ "+fn+"_none",
		fmt.Sprintf("CMP $%d, R12", modeLo),
		"BEQ "+fn+"_lo",
	)
	for _, mode := range []int{modeClamp, modeLeaky, modeNone, modeLo} {
		name := fn + "_" + modeNames[mode]
		if mode != modeClamp {
			e.label(name)
		}
		if mode == modeLeaky {
			e.ins("MOVD $alpha+48(FP), R12", "VLD1R (R12), [V23.S4]")
		}
		winoOutputLoop(e, name, m, mode)
	}
}

// outTmNEON is outTNEON (m = 4) or outT3NEON (m = 3) of half h of the
// vectors in m (registers 2i+h) into registers 12+2k+h.
func outTmNEON(mm, h int, two, four, eight int) []string {
	var in [6]int
	for i := range in {
		in[i] = 2*i + h
	}
	if mm == 3 {
		return outT3NEON(in, [3]int{12 + h, 14 + h, 16 + h}, two, four)
	}
	return outTNEON(in, [4]int{12 + h, 14 + h, 16 + h, 18 + h}, two, four, eight)
}

func winoOutputLoop(e *emitter, name string, mm, mode int) {
	const two, four, eight = 20, 21, 22
	e.label(name + "_tile")
	e.comment("Column pass: tmp[i][j] = (Aᵀ m)[i][j].")
	e.ins("MOVD R1, R13")
	for j := 0; j < 6; j++ {
		e.ins("MOVD R13, R7")
		if j < 5 {
			e.ins("ADD R2, R13")
		}
		for i := 0; i < 6; i++ {
			e.ins(fmt.Sprintf("VLD1.P (R7)(R8), %s", regs(2*i, 2)))
		}
		e.ins(interleave(outTmNEON(mm, 0, two, four, eight), outTmNEON(mm, 1, two, four, eight))...)
		e.ins(addImm(32*j, "R6", "R9"))
		for k := 0; k < mm; k++ {
			e.ins(fmt.Sprintf("VST1.P %s, (R9)(R10)", regs(12+2*k, 2)))
		}
	}
	e.comment("Row pass, bias and activation: dst[i][j] = act((tmp A)[i][j] + bias).")
	e.ins("MOVD R6, R9", "MOVD R4, R11")
	outs := []int{12, 13, 14, 15, 16, 17, 18, 19}[:2*mm]
	for i := 0; i < mm; i++ {
		for k := 0; k < 3; k++ {
			e.ins(fmt.Sprintf("VLD1.P 64(R9), %s", regs(4*k, 4)))
		}
		e.ins(interleave(outTmNEON(mm, 0, two, four, eight), outTmNEON(mm, 1, two, four, eight))...)
		for _, v := range outs {
			e.ins(fadd(v, v, 26+v%2))
		}
		e.ins(act(mode, actRegs{lo: 23, hi: 24, alpha: 23}, outs, []int{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11})...)
		e.ins(
			"VST1 "+regs(12, 4)+", (R11)",
			"ADD $64, R11, R12",
			"VST1 "+regs(16, 2*mm-4)+", (R12)",
		)
		if i < mm-1 {
			e.ins("ADD R5, R11")
		}
	}
	e.ins("ADD R3, R1", fmt.Sprintf("ADD $%d, R4", 32*mm), "SUBS $1, R0", "BNE "+name+"_tile", "RET")
}

// transpose4 emits the 4×4 transpose of rows in (registers: lanes are
// columns; zero marks a zero row) into out[c] for the columns c with
// need[c], using the temporaries tmp (4). Rows that are all zero are
// left out of the arithmetic.
func transpose4(e *emitter, in [4]int, zero int, need [4]bool, out [4]int, tmp [4]int) {
	// t0 = a0 b0 a2 b2, t1 = a1 b1 a3 b3, t2 = c0 d0 c2 d2, t3 = c1 d1 c3 d3.
	var t [4]int
	use := [4]bool{need[0] || need[2], need[1] || need[3], need[0] || need[2], need[1] || need[3]}
	for k := 0; k < 4; k++ {
		a, b := in[k&2], in[k&2+1]
		if !use[k] {
			continue
		}
		if a == zero && b == zero {
			t[k] = zero
			continue
		}
		t[k] = tmp[k]
		e.ins(trn([]string{"1", "2"}[k%2], "S4", t[k], a, b))
	}
	for c := 0; c < 4; c++ {
		if !need[c] {
			continue
		}
		// out c = lanes (c%2) of the pair: t[c%2] (rows a, b) and t[2+c%2]
		// (rows c, d), low doubleword for c < 2.
		e.ins(trn([]string{"1", "2"}[c/2], "D2", out[c], t[c%2], t[2+c%2]))
	}
}

// blockNEON emits blockChannels8NEONx<p>: rows of blocks of 4 columns
// (8 planes × 4 floats in, two 4×4 transposes, 8 registers out); when
// w >= 4 the last w mod 4 columns are the last 4 done again, and when
// w < 4 each column is assembled lane by lane.
//
// Registers: R0 rows, R1 w, R2 src row, R3 planeStride, R4 lds, R5 dst
// row, R6 ldd (bytes), R7..R14 plane pointers, R19 dst, R20 count, R21
// back step; V0..V7 planes, V16..V23 output, V31 zero.
func blockNEON(e *emitter, p int) {
	fn := fmt.Sprintf("blockChannels8NEONx%d", p)
	e.line("")
	e.line("// func %s(rows int, w int, src *float32, planeStride int, lds int, dst *float32, ldd int)", fn)
	e.line("TEXT ·%s(SB), NOSPLIT, $0-56", fn)
	e.ins(
		"MOVD rows+0(FP), R0",
		"MOVD w+8(FP), R1",
		"MOVD src+16(FP), R2",
		"MOVD planeStride+24(FP), R3",
		"LSL $2, R3, R3",
		"MOVD lds+32(FP), R4",
		"LSL $2, R4, R4",
		"MOVD dst+40(FP), R5",
		"MOVD ldd+48(FP), R6",
		"LSL $2, R6, R6",
		"VEOR V31.B16, V31.B16, V31.B16",
	)
	if p <= 4 {
		for x := 0; x < 4; x++ {
			e.ins(fmt.Sprintf("VEOR V%d.B16, V%d.B16, V%d.B16", 17+2*x, 17+2*x, 17+2*x))
		}
	}
	ptr := func(l int) string { return fmt.Sprintf("R%d", 7+l) }
	block := func() {
		for l := 0; l < p; l++ {
			e.ins(fmt.Sprintf("VLD1.P 16(%s), [V%d.S4]", ptr(l), l))
		}
		for h := 0; h < 2; h++ {
			if 4*h >= p {
				continue // outputs stay zero
			}
			var in [4]int
			for k := range in {
				if l := 4*h + k; l < p {
					in[k] = l
				} else {
					in[k] = 31
				}
			}
			out := [4]int{16 + h, 18 + h, 20 + h, 22 + h}
			tmp := [4]int{24 + 4*h, 25 + 4*h, 26 + 4*h, 27 + 4*h}
			if h == 1 {
				tmp = [4]int{8, 9, 10, 11}
			}
			transpose4(e, in, 31, [4]bool{true, true, true, true}, out, tmp)
		}
		e.ins("VST1.P "+regs(16, 4)+", 64(R19)", "VST1.P "+regs(20, 4)+", 64(R19)")
	}
	e.label(fn + "_row")
	e.ins("MOVD R2, R7")
	for l := 1; l < p; l++ {
		e.ins(fmt.Sprintf("ADD R3, %s, %s", ptr(l-1), ptr(l)))
	}
	e.ins("MOVD R5, R19", "LSR $2, R1, R20", "CBZ R20, "+fn+"_small")
	e.label(fn + "_block")
	block()
	e.ins("SUBS $1, R20", "BNE "+fn+"_block")
	e.ins("ANDS $3, R1, R21", "BEQ "+fn+"_next")
	e.comment("The last 4 columns again.")
	e.ins("SUB $4, R21", "LSL $2, R21")
	for l := 0; l < p; l++ {
		e.ins(fmt.Sprintf("ADD R21, %s", ptr(l)))
	}
	e.ins("ADD R21<<3, R19")
	block()
	e.ins("B " + fn + "_next")
	e.label(fn + "_small")
	e.comment("w < 4: lane by lane.")
	e.ins("MOVD R1, R20", "VEOR V16.B16, V16.B16, V16.B16", "VEOR V17.B16, V17.B16, V17.B16")
	e.label(fn + "_col")
	for l := 0; l < p; l++ {
		e.ins(fmt.Sprintf("VLD1.P 4(%s), V%d.S[%d]", ptr(l), 16+l/4, l%4))
	}
	e.ins("VST1.P [V16.S4, V17.S4], 32(R19)", "SUBS $1, R20", "BNE "+fn+"_col")
	e.label(fn + "_next")
	e.ins("ADD R4, R2", "ADD R6, R5", "SUBS $1, R0", "BNE "+fn+"_row", "RET")
}

// unblockNEON emits unblockChannels8NEONx<p>, the inverse of blockNEON:
// 8 registers (4 columns) in, the transposes of the needed planes out.
//
// Registers: R0 rows, R1 w, R2 src row, R3 lds, R4 dst row, R5
// planeStride, R6 ldd (bytes), R7..R14 plane pointers, R19 src, R20
// count, R21 back step; V0..V7 input, V16..V23 planes.
func unblockNEON(e *emitter, p int) {
	fn := fmt.Sprintf("unblockChannels8NEONx%d", p)
	e.line("")
	e.line("// func %s(rows int, w int, src *float32, lds int, dst *float32, planeStride int, ldd int)", fn)
	e.line("TEXT ·%s(SB), NOSPLIT, $0-56", fn)
	e.ins(
		"MOVD rows+0(FP), R0",
		"MOVD w+8(FP), R1",
		"MOVD src+16(FP), R2",
		"MOVD lds+24(FP), R3",
		"LSL $2, R3, R3",
		"MOVD dst+32(FP), R4",
		"MOVD planeStride+40(FP), R5",
		"LSL $2, R5, R5",
		"MOVD ldd+48(FP), R6",
		"LSL $2, R6, R6",
	)
	ptr := func(l int) string { return fmt.Sprintf("R%d", 7+l) }
	block := func() {
		e.ins("VLD1.P 64(R19), "+regs(0, 4), "VLD1.P 64(R19), "+regs(4, 4))
		for h := 0; h < 2; h++ {
			if 4*h >= p {
				continue
			}
			var need [4]bool
			for k := range need {
				need[k] = 4*h+k < p
			}
			in := [4]int{h, 2 + h, 4 + h, 6 + h}
			out := [4]int{16 + 4*h, 17 + 4*h, 18 + 4*h, 19 + 4*h}
			tmp := [4]int{24 + 4*h, 25 + 4*h, 26 + 4*h, 27 + 4*h}
			if h == 1 {
				tmp = [4]int{8, 9, 10, 11}
			}
			transpose4(e, in, -1, need, out, tmp)
		}
		for l := 0; l < p; l++ {
			e.ins(fmt.Sprintf("VST1.P [V%d.S4], 16(%s)", 16+l, ptr(l)))
		}
	}
	e.label(fn + "_row")
	e.ins("MOVD R4, R7")
	for l := 1; l < p; l++ {
		e.ins(fmt.Sprintf("ADD R5, %s, %s", ptr(l-1), ptr(l)))
	}
	e.ins("MOVD R2, R19", "LSR $2, R1, R20", "CBZ R20, "+fn+"_small")
	e.label(fn + "_block")
	block()
	e.ins("SUBS $1, R20", "BNE "+fn+"_block")
	e.ins("ANDS $3, R1, R21", "BEQ "+fn+"_next")
	e.comment("The last 4 columns again.")
	e.ins("SUB $4, R21", "LSL $2, R21")
	for l := 0; l < p; l++ {
		e.ins(fmt.Sprintf("ADD R21, %s", ptr(l)))
	}
	e.ins("ADD R21<<3, R19")
	block()
	e.ins("B " + fn + "_next")
	e.label(fn + "_small")
	e.comment("w < 4: lane by lane.")
	e.ins("MOVD R1, R20")
	e.label(fn + "_col")
	e.ins("VLD1.P 32(R19), [V0.S4, V1.S4]")
	for l := 0; l < p; l++ {
		e.ins(fmt.Sprintf("VST1.P V%d.S[%d], 4(%s)", l/4, l%4, ptr(l)))
	}
	e.ins("SUBS $1, R20", "BNE "+fn+"_col")
	e.label(fn + "_next")
	e.ins("ADD R3, R2", "ADD R6, R4", "SUBS $1, R0", "BNE "+fn+"_row", "RET")
}

// writeEpiARM64 writes convBiasActNEON and convBiasSumActNEON.
func writeEpiARM64(path string) error {
	e := &emitter{}
	header(e, "-epi "+path)
	e.line("")
	e.line("// +0.0: the bias of BiasAct/BiasSumAct without one (the references add a zero b).")
	e.line("DATA convZeroNEON<>+0(SB)/4, $0")
	e.line("GLOBL convZeroNEON<>(SB), RODATA|NOPTR, $4")
	epiNEON(e, false)
	epiNEON(e, true)
	return e.write(path)
}

// epiNEON emits convBiasActNEON (sum false) or convBiasSumActNEON: per
// row the bias broadcast, then blocks of 16, 4 and 1 floats of
// act((src + bias) [+ z]). One row loop per activation mode.
//
// Registers: R0 src row, R1 lds, R2 dst row, R3 ldd, R4 rows, R5 n, R6
// bias, R7 bias step (4, or 0 without a bias), R8 src, R9 dst, R10 count,
// R11 z row, R12 ldz, R13 z; V31 bias, V30 lo or alpha, V29 hi, V0..V3
// data, V4..V7 z, V8..V15 temporaries.
func epiNEON(e *emitter, sum bool) {
	fn, args, frame := "convBiasActNEON", "src *float32, lds int, dst *float32, ldd int, rows int, n int, bias *float32, lo float32, hi float32, alpha float32, mode int", 80
	off := 0
	if sum {
		fn, args, frame = "convBiasSumActNEON", "src *float32, lds int, dst *float32, ldd int, z *float32, ldz int, rows int, n int, bias *float32, lo float32, hi float32, alpha float32, mode int", 96
		off = 16
	}
	e.line("")
	e.line("// func %s(%s)", fn, args)
	e.line("TEXT ·%s(SB), NOSPLIT, $0-%d", fn, frame)
	e.ins(
		"MOVD src+0(FP), R0",
		"MOVD lds+8(FP), R1",
		"LSL $2, R1, R1",
		"MOVD dst+16(FP), R2",
		"MOVD ldd+24(FP), R3",
		"LSL $2, R3, R3",
	)
	if sum {
		e.ins("MOVD z+32(FP), R11", "MOVD ldz+40(FP), R12", "LSL $2, R12, R12")
	}
	e.ins(
		fmt.Sprintf("MOVD rows+%d(FP), R4", 32+off),
		fmt.Sprintf("MOVD n+%d(FP), R5", 40+off),
		fmt.Sprintf("MOVD bias+%d(FP), R6", 48+off),
		"MOVD $4, R7",
		"CBNZ R6, "+fn+"_bias",
		"MOVD $convZeroNEON<>(SB), R6",
		"MOVD $0, R7",
	)
	e.label(fn + "_bias")
	e.ins(
		fmt.Sprintf("MOVD $lo+%d(FP), R14", 56+off),
		"VLD1R (R14), [V30.S4]",
		fmt.Sprintf("MOVD $hi+%d(FP), R14", 60+off),
		"VLD1R (R14), [V29.S4]",
		fmt.Sprintf("MOVD mode+%d(FP), R14", 72+off),
		fmt.Sprintf("CMP $%d, R14", modeLeaky),
		"BEQ "+fn+"_leaky",
		fmt.Sprintf("CMP $%d, R14", modeNone),
		"BEQ "+fn+"_none",
		fmt.Sprintf("CMP $%d, R14", modeLo),
		"BEQ "+fn+"_lo",
	)
	ar := actRegs{lo: 30, hi: 29, alpha: 30}
	tmp := []int{8, 9, 10, 11, 12, 13, 14, 15}
	for _, mode := range []int{modeClamp, modeLeaky, modeNone, modeLo} {
		name := fn + "_" + modeNames[mode]
		if mode != modeClamp {
			e.label(name)
		}
		if mode == modeLeaky {
			e.ins(fmt.Sprintf("MOVD $alpha+%d(FP), R14", 64+off), "VLD1R (R14), [V30.S4]")
		}
		body := func(vs []int) {
			for _, v := range vs {
				e.ins(fadd(v, v, 31))
			}
			if sum {
				for _, v := range vs {
					e.ins(fadd(v, v, v+4))
				}
			}
			e.ins(act(mode, ar, vs, tmp)...)
		}
		e.label(name + "_row")
		e.ins("VLD1R (R6), [V31.S4]", "ADD R7, R6", "MOVD R0, R8", "MOVD R2, R9", "MOVD R5, R10")
		if sum {
			e.ins("MOVD R11, R13")
		}
		e.ins("CMP $16, R10", "BLT "+name+"_4")
		e.label(name + "_16")
		e.ins("VLD1.P 64(R8), " + regs(0, 4))
		if sum {
			e.ins("VLD1.P 64(R13), " + regs(4, 4))
		}
		body([]int{0, 1, 2, 3})
		e.ins("VST1.P "+regs(0, 4)+", 64(R9)", "SUB $16, R10", "CMP $16, R10", "BGE "+name+"_16")
		e.label(name + "_4")
		e.ins("CMP $4, R10", "BLT "+name+"_1")
		e.ins("VLD1.P 16(R8), [V0.S4]")
		if sum {
			e.ins("VLD1.P 16(R13), [V4.S4]")
		}
		body([]int{0})
		e.ins("VST1.P [V0.S4], 16(R9)", "SUB $4, R10", "B "+name+"_4")
		e.label(name + "_1")
		e.ins("CBZ R10, " + name + "_next")
		e.ins("VLD1.P 4(R8), V0.S[0]")
		if sum {
			e.ins("VLD1.P 4(R13), V4.S[0]")
		}
		body([]int{0})
		e.ins("VST1.P V0.S[0], 4(R9)", "SUB $1, R10", "B "+name+"_1")
		e.label(name + "_next")
		e.ins("ADD R1, R0", "ADD R3, R2")
		if sum {
			e.ins("ADD R12, R11")
		}
		e.ins("SUBS $1, R4", "BNE "+name+"_row", "RET")
	}
}
