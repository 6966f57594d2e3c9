// Command wino writes ops/asm/wino_amd64.s and its Go declarations
// (wino_stubs_amd64.go) with avo: the AVX2 kernels of the Winograd
// F(4×4, 3×3) convolution on 8-channel-interleaved data (Go references and
// the exported wrappers in ../../wino.go). Run it through `go generate` in
// ops/asm; gen_test.go fails when the committed files differ from its
// output. With -arm64 and -epi it prints the arm64 NEON versions instead
// (arm64.go): wino_arm64.s, and conv_epi_arm64.s, the convolution
// epilogues BiasAct and BiasSumAct.
//
// Every element of a tile is one YMM register of eight channels, so the
// transforms are vertical arithmetic: a column pass into a 32-byte
// aligned stack buffer, then a row pass. They use only additions,
// subtractions and products by powers of two, in the order of the Go
// references; a product by a power of two is exact, so fusing it with
// the addition that follows (an FMA, which runs on the other pipes than
// the additions on Zen) changes no result, and the outputs are bit for
// bit the references' (unless an intermediate overflows). The interleaving
// kernels are 8×8 transposes (unpack, shuffle, 128-bit permute), one
// function per plane count so that missing planes cost nothing, with
// masked loads and stores for the last w mod 8 columns.
package main

import (
	"flag"
	"fmt"
	"math"
	"os"

	. "github.com/mmcloughlin/avo/build"
	. "github.com/mmcloughlin/avo/operand"
	. "github.com/mmcloughlin/avo/reg"
)

var (
	consts Mem // winoConsts: 8-lane vectors of the entries of constList
	mask   Mem // winoMask: eight all-ones lanes, then eight zero lanes
)

var constList = []struct {
	name string
	bits uint32
}{
	{"two", math.Float32bits(2)},
	{"four", math.Float32bits(4)},
	{"eight", math.Float32bits(8)},
	{"negzero", 0x80000000},
}

func kc(name string) Mem {
	for i, c := range constList {
		if c.name == name {
			return consts.Offset(32 * i)
		}
	}
	panic("no constant " + name)
}

var (
	arm64Out = flag.String("arm64", "", "write the arm64 Winograd kernels to `file` (instead of the amd64 output)")
	epiOut   = flag.String("epi", "", "write the arm64 convolution epilogues to `file` (instead of the amd64 output)")
	actOut   = flag.String("act", "", "write the arm64 activation and exponential kernels to `file` (instead of the amd64 output)")
)

func main() {
	flag.Parse()
	if *arm64Out != "" || *epiOut != "" || *actOut != "" {
		for _, w := range []struct {
			path  string
			write func(string) error
		}{{*arm64Out, writeWinoARM64}, {*epiOut, writeEpiARM64}, {*actOut, writeActARM64}} {
			if w.path == "" {
				continue
			}
			if err := w.write(w.path); err != nil {
				fmt.Fprintln(os.Stderr, err)
				os.Exit(1)
			}
		}
		return
	}
	ConstraintExpr("!purego")
	consts = GLOBL("winoConsts", RODATA|NOPTR)
	for i, c := range constList {
		for l := 0; l < 8; l++ {
			DATA(32*i+4*l, U32(c.bits))
		}
	}
	mask = GLOBL("winoMask", RODATA|NOPTR)
	for i := 0; i < 16; i++ {
		v := U32(0)
		if i < 8 {
			v = U32(0xffffffff)
		}
		DATA(4*i, v)
	}
	winoInput("winoInput4x3AVX2", "winoInput4x3Go", 4)
	winoOutput("winoOutput4x3AVX2", "winoOutput4x3Go", 4)
	winoInput("winoInput3x4AVX2", "winoInput3x4Go", 3)
	winoOutput("winoOutput3x4AVX2", "winoOutput3x4Go", 3)
	for p := 1; p <= 8; p++ {
		blockChannels(p)
	}
	for p := 1; p <= 8; p++ {
		unblockChannels(p)
	}
	Generate()
}

// alignedLocal allocates n bytes on the stack and returns a register
// holding a 32-byte aligned address inside them.
func alignedLocal(n int) GPVirtual {
	return alignIn(AllocLocal(n + 32))
}

// alignIn returns a register holding the first 32-byte aligned address
// in buf.
func alignIn(buf Mem) GPVirtual {
	p := GP64()
	LEAQ(buf, p)
	ADDQ(U8(31), p)
	ANDQ(I8(-32), p)
	return p
}

// inT emits the 1-D input transform y = Bᵀ d of six vectors (clobbering
// d), in the order of winoIn1.
func inT(d [6]VecVirtual, four VecVirtual) [6]VecVirtual {
	t3 := YMM()
	VSUBPS(d[2], d[4], t3) // t3 = d4 - d2
	VSUBPS(d[2], d[0], d[0])
	VFMADD213PS(t3, four, d[0])    // y0 = 4*(d0-d2) + t3
	VFNMADD231PS(four, d[2], d[4]) // t1 = d4 - 4*d2
	s := YMM()
	VSUBPS(d[1], d[3], s)          // s = d3 - d1
	VSUBPS(d[3], d[5], d[5])       // d5 - d3
	VFNMADD231PS(four, d[1], d[3]) // t2 = d3 - 4*d1
	y1, y2 := YMM(), YMM()
	VADDPS(d[3], d[4], y1) // t1 + t2
	VSUBPS(d[3], d[4], y2) // t1 - t2
	t4 := YMM()
	VMULPS(kc("two"), s, t4) // 2*s = s + s
	y3, y4 := YMM(), YMM()
	VADDPS(t4, t3, y3)          // t3 + t4
	VSUBPS(t4, t3, y4)          // t3 - t4
	VFNMADD231PS(four, s, d[5]) // y5 = (d5 - d3) - 4*s
	return [6]VecVirtual{d[0], y1, y2, y3, y4, d[5]}
}

// outT emits the 1-D output transform y = Aᵀ m of six vectors
// (clobbering m), in the order of winoOut1.
func outT(m [6]VecVirtual) [4]VecVirtual {
	a, b, c, d := YMM(), YMM(), YMM(), YMM()
	VADDPS(m[2], m[1], a)
	VSUBPS(m[2], m[1], b)
	VADDPS(m[4], m[3], c)
	VSUBPS(m[4], m[3], d)
	VADDPS(a, m[0], m[0])
	VADDPS(c, m[0], m[0]) // y0 = m0 + a + c
	VMOVAPS(b, m[1])
	VFMADD231PS(kc("two"), d, m[1]) // y1 = b + 2*d
	VFMADD231PS(kc("four"), c, a)   // y2 = a + 4*c
	VFMADD231PS(kc("eight"), d, b)
	VADDPS(m[5], b, m[3]) // y3 = b + 8*d + m5
	return [4]VecVirtual{m[0], m[1], a, m[3]}
}

// outT3 emits the 1-D output transform y = Aᵀ m of F(3, 4) (clobbering
// m), in the order of winoOut3.
func outT3(m [6]VecVirtual) [3]VecVirtual {
	a, b, c, d := YMM(), YMM(), YMM(), YMM()
	VADDPS(m[2], m[1], a)
	VSUBPS(m[2], m[1], b)
	VADDPS(m[4], m[3], c)
	VSUBPS(m[4], m[3], d)
	VADDPS(a, m[0], m[0])
	VADDPS(c, m[0], m[0])         // y0 = m0 + a + c
	VFMADD231PS(kc("two"), d, b)  // y1 = b + 2*d
	VFMADD231PS(kc("four"), c, a) // a + 4*c
	VADDPS(m[5], a, a)            // y2 = a + 4*c + m5
	return [3]VecVirtual{m[0], b, a}
}

// outTm is outT (m = 4) or outT3 (m = 3).
func outTm(m int, v [6]VecVirtual) []VecVirtual {
	if m == 3 {
		y := outT3(v)
		return y[:]
	}
	y := outT(v)
	return y[:]
}

// scaled returns base + idx*s (s = 0 for base alone) + disp.
func scaled(base, idx Register, s uint8, disp int) Mem {
	if s == 0 {
		return Mem{Base: base, Disp: disp}
	}
	return Mem{Base: base, Index: idx, Scale: s, Disp: disp}
}

// winoInput emits the input transform fn (reference ref) of tiles that
// start step columns apart.
func winoInput(fn, ref string, step int) {
	TEXT(fn, 0, "func(nt int, src *float32, lds int, dst *float32, ldxi int, ldt int)")
	Doc(fmt.Sprintf("%s is %s for nt >= 1 (strides in floats).", fn, ref))
	nt := Load(Param("nt"), GP64())
	src := Load(Param("src"), GP64())
	lds := Load(Param("lds"), GP64())
	dst := Load(Param("dst"), GP64())
	x := Load(Param("ldxi"), GP64())
	ldt := Load(Param("ldt"), GP64())
	SHLQ(U8(2), lds)
	SHLQ(U8(2), x)
	SHLQ(U8(2), ldt)
	lds3, lds5 := GP64(), GP64()
	LEAQ(Mem{Base: lds, Index: lds, Scale: 2}, lds3)
	LEAQ(Mem{Base: lds, Index: lds, Scale: 4}, lds5)
	x3, x6 := GP64(), GP64()
	LEAQ(Mem{Base: x, Index: x, Scale: 2}, x3)
	LEAQ(Mem{Base: x3, Index: x3, Scale: 1}, x6)
	tmp := alignedLocal(36 * 32)
	four := YMM()
	VMOVUPS(kc("four"), four)
	rows := func(j int) [6]Mem {
		return [6]Mem{
			scaled(src, nil, 0, 32*j), scaled(src, lds, 1, 32*j), scaled(src, lds, 2, 32*j),
			scaled(src, lds3, 1, 32*j), scaled(src, lds, 4, 32*j), scaled(src, lds5, 1, 32*j),
		}
	}

	Label("in_tile")
	Comment("Column pass: tmp[i][j] = (Bᵀ d)[i][j].")
	for j := 0; j < 6; j++ {
		var d [6]VecVirtual
		for i, m := range rows(j) {
			d[i] = YMM()
			VMOVUPS(m, d[i])
		}
		y := inT(d, four)
		for i := range y {
			VMOVAPS(y[i], Mem{Base: tmp, Disp: (6*i + j) * 32})
		}
	}
	Comment("Row pass: dst[ξ = 6i+j] = (tmp B)[i][j].")
	p, p3 := GP64(), GP64()
	MOVQ(dst, p)
	LEAQ(Mem{Base: dst, Index: x3, Scale: 1}, p3)
	for i := 0; i < 6; i++ {
		var d [6]VecVirtual
		for j := range d {
			d[j] = YMM()
			VMOVAPS(Mem{Base: tmp, Disp: (6*i + j) * 32}, d[j])
		}
		y := inT(d, four)
		for j := range y {
			base := p
			if j >= 3 {
				base = p3
			}
			VMOVUPS(y[j], scaled(base, x, []uint8{0, 1, 2}[j%3], 0))
		}
		if i < 5 {
			ADDQ(x6, p)
			ADDQ(x6, p3)
		}
	}
	ADDQ(U32(32*step), src)
	ADDQ(ldt, dst)
	DECQ(nt)
	JNZ(LabelRef("in_tile"))
	VZEROUPPER()
	RET()
}

// winoOutput emits the output transform fn (reference ref) into m×m
// tiles (m = 4: F(4×4, 3×3), m = 3: F(3×3, 4×4)) that start m columns
// apart; mode is 0 for a clamp to [lo, hi], 1 for Leaky (alpha) and 2 for
// no activation. A nil bias adds -0, which changes no value.
func winoOutput(fn, ref string, m int) {
	TEXT(fn, 0, "func(nt int, src *float32, ldxi int, ldt int, bias *float32, lo float32, hi float32, alpha float32, mode int, dst *float32, ldd int)")
	Doc(fmt.Sprintf("%s is %s for nt >= 1 (strides in floats).", fn, ref))
	bp := Load(Param("bias"), GP64())
	TESTQ(bp, bp)
	JNZ(LabelRef("out_bias"))
	LEAQ(kc("negzero"), bp)
	Label("out_bias")
	bias := YMM()
	VMOVUPS(Mem{Base: bp}, bias)
	buf := AllocLocal(6*m*32 + 32)
	mode := Load(Param("mode"), GP64())
	CMPQ(mode, U8(1))
	JE(LabelRef("out_leaky"))
	JA(LabelRef("out_none"))
	lo, hi := YMM(), YMM()
	broadcast("lo", lo)
	broadcast("hi", hi)
	outputLoop("clamp", m, buf, bias, func(v VecVirtual) {
		VMAXPS(v, lo, v) // lo > v ? lo : v, NaN kept
		VMINPS(v, hi, v) // hi < v ? hi : v, NaN kept
	})
	Label("out_leaky")
	alpha, zero := YMM(), YMM()
	broadcast("alpha", alpha)
	VXORPS(zero, zero, zero)
	outputLoop("leaky", m, buf, bias, func(v VecVirtual) {
		neg, av := YMM(), YMM()
		VCMPPS(U8(1), zero, v, neg) // v < 0
		VMULPS(alpha, v, av)
		VBLENDVPS(neg, av, v, v)
	})
	Label("out_none")
	outputLoop("none", m, buf, bias, func(VecVirtual) {})
}

func broadcast(name string, dst VecVirtual) {
	p, err := Param(name).Resolve()
	if err != nil {
		panic(err)
	}
	VBROADCASTSS(p.Addr, dst)
}

// outputLoop emits the tile loop of an output transform into m×m tiles
// with the activation act, ending in RET.
func outputLoop(name string, m int, buf Mem, bias VecVirtual, act func(VecVirtual)) {
	nt := Load(Param("nt"), GP64())
	src := Load(Param("src"), GP64())
	x := Load(Param("ldxi"), GP64())
	ldt := Load(Param("ldt"), GP64())
	dst := Load(Param("dst"), GP64())
	ldd := Load(Param("ldd"), GP64())
	SHLQ(U8(2), x)
	SHLQ(U8(2), ldt)
	SHLQ(U8(2), ldd)
	x6, x18 := GP64(), GP64()
	LEAQ(Mem{Base: x, Index: x, Scale: 2}, x6)
	ADDQ(x6, x6)
	LEAQ(Mem{Base: x6, Index: x6, Scale: 2}, x18)
	var ldd3 GPVirtual
	if m == 4 {
		ldd3 = GP64()
		LEAQ(Mem{Base: ldd, Index: ldd, Scale: 2}, ldd3)
	}
	tmp := alignIn(buf)
	b0, b3 := GP64(), GP64()

	Label("out_tile_" + name)
	Comment("Column pass: tmp[i][j] = (Aᵀ m)[i][j].")
	MOVQ(src, b0)
	LEAQ(Mem{Base: src, Index: x18, Scale: 1}, b3)
	for j := 0; j < 6; j++ {
		var v [6]VecVirtual
		for k := range v {
			v[k] = YMM()
			base := b0
			if k >= 3 {
				base = b3
			}
			VMOVUPS(scaled(base, x6, []uint8{0, 1, 2}[k%3], 0), v[k])
		}
		for i, y := range outTm(m, v) {
			VMOVAPS(y, Mem{Base: tmp, Disp: (6*i + j) * 32})
		}
		if j < 5 {
			ADDQ(x, b0)
			ADDQ(x, b3)
		}
	}
	Comment("Row pass, bias and activation: dst[i][j] = act((tmp A)[i][j] + bias).")
	for i := 0; i < m; i++ {
		var v [6]VecVirtual
		for j := range v {
			v[j] = YMM()
			VMOVAPS(Mem{Base: tmp, Disp: (6*i + j) * 32}, v[j])
		}
		y := outTm(m, v)
		var row Mem
		switch i {
		case 0:
			row = Mem{Base: dst}
		case 1, 2:
			row = Mem{Base: dst, Index: ldd, Scale: uint8(i)}
		case 3:
			row = Mem{Base: dst, Index: ldd3, Scale: 1}
		}
		for j := range y {
			VADDPS(bias, y[j], y[j])
			act(y[j])
			VMOVUPS(y[j], row.Offset(32*j))
		}
	}
	ADDQ(ldt, src)
	ADDQ(U32(32*m), dst)
	DECQ(nt)
	JNZ(LabelRef("out_tile_" + name))
	VZEROUPPER()
	RET()
}

// transpose8 emits the transpose of the 8×8 block whose rows are r
// (lanes are columns) and returns its rows; only the rows with need set
// are computed.
func transpose8(r [8]VecVirtual, need [8]bool) [8]VecVirtual {
	var t [8]VecVirtual
	for k := 0; k < 8; k += 2 {
		t[k], t[k+1] = YMM(), YMM()
		VUNPCKLPS(r[k+1], r[k], t[k])   // r_k0 r_k+1,0 r_k1 r_k+1,1 | lanes 4, 5
		VUNPCKHPS(r[k+1], r[k], t[k+1]) // lanes 2, 3 | 6, 7
	}
	// s[q] holds column q (low half) and q+4 (high half) of rows 0..3,
	// s[4+q] of rows 4..7.
	var s [8]VecVirtual
	for h := 0; h < 2; h++ {
		for q := 0; q < 4; q++ {
			if !need[q] && !need[q+4] {
				continue
			}
			s[4*h+q] = YMM()
			imm := U8(0x44)
			if q%2 == 1 {
				imm = U8(0xee)
			}
			VSHUFPS(imm, t[4*h+2+q/2], t[4*h+q/2], s[4*h+q])
		}
	}
	var out [8]VecVirtual
	for q := 0; q < 8; q++ {
		if !need[q] {
			continue
		}
		out[q] = YMM()
		imm := U8(0x20)
		if q >= 4 {
			imm = U8(0x31)
		}
		VPERM2F128(imm, s[4+q%4], s[q%4], out[q])
	}
	return out
}

// planeAddr returns the address of plane l at byte offset disp: b0 +
// l*ps for l < 4, b4 + (l-4)*ps above.
func planeAddr(l int, b0, b4, ps, ps3 Register, disp int) Mem {
	base := b0
	if l >= 4 {
		base, l = b4, l-4
	}
	switch l {
	case 0:
		return Mem{Base: base, Disp: disp}
	case 3:
		return Mem{Base: base, Index: ps3, Scale: 1, Disp: disp}
	default:
		return Mem{Base: base, Index: ps, Scale: uint8(l), Disp: disp}
	}
}

// tailMask loads into a register the mask of the first n lanes (1..7).
func tailMask(n Register) VecVirtual {
	t := GP64()
	LEAQ(mask.Offset(32), t)
	SHLQ(U8(2), n)
	SUBQ(n, t)
	SHRQ(U8(2), n)
	m := YMM()
	VMOVUPS(Mem{Base: t}, m)
	return m
}

// addParamBytes adds the int parameter name, times 4, to r.
func addParamBytes(name string, r Register) {
	t := Load(Param(name), GP64())
	SHLQ(U8(2), t)
	ADDQ(t, r)
}

// blockChannels emits blockChannels8AVX2x<p>, BlockChannels8 for p planes.
// A row is done in blocks of 8 columns; when w >= 8 its last w mod 8
// columns are the last 8 columns done again (the same values stored
// twice), and when w < 8 the loads are masked.
func blockChannels(p int) {
	fn := fmt.Sprintf("blockChannels8AVX2x%d", p)
	TEXT(fn, NOSPLIT, "func(rows int, w int, src *float32, planeStride int, lds int, dst *float32, ldd int)")
	Doc(fmt.Sprintf("%s is blockChannels8Go for %d planes, rows, w >= 1 (strides in floats).", fn, p))
	rows := Load(Param("rows"), GP64())
	srow := Load(Param("src"), GP64())
	drow := Load(Param("dst"), GP64())
	ps := Load(Param("planeStride"), GP64())
	SHLQ(U8(2), ps)
	ps3 := GP64()
	LEAQ(Mem{Base: ps, Index: ps, Scale: 2}, ps3)
	zero := YMM()
	VXORPS(zero, zero, zero)
	b0, b4, q, n := GP64(), GP64(), GP64(), GP64()
	all := [8]bool{true, true, true, true, true, true, true, true}
	block := func(load func(Mem, VecVirtual), need [8]bool) [8]VecVirtual {
		var r [8]VecVirtual
		for l := range r {
			if l < p {
				r[l] = YMM()
				load(planeAddr(l, b0, b4, ps, ps3, 0), r[l])
			} else {
				r[l] = zero
			}
		}
		return transpose8(r, need)
	}
	full := func(m Mem, r VecVirtual) { VMOVUPS(m, r) }

	Label(fn + "_row")
	MOVQ(srow, b0)
	if p > 4 {
		LEAQ(Mem{Base: srow, Index: ps, Scale: 4}, b4)
	}
	MOVQ(drow, q)
	Load(Param("w"), n)
	SHRQ(U8(3), n)
	JZ(LabelRef(fn + "_small"))
	Label(fn + "_block")
	out := block(full, all)
	for k, o := range out {
		VMOVUPS(o, Mem{Base: q, Disp: 32 * k})
	}
	ADDQ(U8(32), b0)
	if p > 4 {
		ADDQ(U8(32), b4)
	}
	ADDQ(U32(256), q)
	DECQ(n)
	JNZ(LabelRef(fn + "_block"))
	Load(Param("w"), n)
	ANDQ(U8(7), n)
	JZ(LabelRef(fn + "_next"))
	Comment("The last 8 columns again.")
	SUBQ(U8(8), n)
	LEAQ(Mem{Base: b0, Index: n, Scale: 4}, b0)
	if p > 4 {
		LEAQ(Mem{Base: b4, Index: n, Scale: 4}, b4)
	}
	SHLQ(U8(5), n)
	ADDQ(n, q)
	out = block(full, all)
	for k, o := range out {
		VMOVUPS(o, Mem{Base: q, Disp: 32 * k})
	}
	JMP(LabelRef(fn + "_next"))

	Label(fn + "_small")
	Comment("w < 8: masked loads, w vectors stored.")
	Load(Param("w"), n)
	m := tailMask(n)
	need := [8]bool{true, true, true, true, true, true, true, false}
	out = block(func(a Mem, r VecVirtual) { VMASKMOVPS(a, m, r) }, need)
	for k := 0; k < 7; k++ {
		if k > 0 {
			CMPQ(n, U8(k))
			JLE(LabelRef(fn + "_next"))
		}
		VMOVUPS(out[k], Mem{Base: q, Disp: 32 * k})
	}

	Label(fn + "_next")
	addParamBytes("lds", srow)
	addParamBytes("ldd", drow)
	DECQ(rows)
	JNZ(LabelRef(fn + "_row"))
	VZEROUPPER()
	RET()
}

// unblockChannels emits unblockChannels8AVX2x<p>, UnblockChannels8 for p
// planes. A row is done in blocks of 8 columns; when w >= 8 its last w
// mod 8 columns are the last 8 columns done again, and when w < 8 the
// stores are split into 4, 2 and 1 floats (AMD's masked stores are slow).
func unblockChannels(p int) {
	fn := fmt.Sprintf("unblockChannels8AVX2x%d", p)
	TEXT(fn, NOSPLIT, "func(rows int, w int, src *float32, lds int, dst *float32, planeStride int, ldd int)")
	Doc(fmt.Sprintf("%s is unblockChannels8Go for %d planes, rows, w >= 1 (strides in floats).", fn, p))
	rows := Load(Param("rows"), GP64())
	srow := Load(Param("src"), GP64())
	drow := Load(Param("dst"), GP64())
	ps := Load(Param("planeStride"), GP64())
	SHLQ(U8(2), ps)
	ps3 := GP64()
	LEAQ(Mem{Base: ps, Index: ps, Scale: 2}, ps3)
	b0, b4, q, n := GP64(), GP64(), GP64(), GP64()
	var need [8]bool
	for l := 0; l < p; l++ {
		need[l] = true
	}
	block := func() {
		var r [8]VecVirtual
		for k := range r {
			r[k] = YMM()
			VMOVUPS(Mem{Base: q, Disp: 32 * k}, r[k])
		}
		out := transpose8(r, need)
		for l := 0; l < p; l++ {
			VMOVUPS(out[l], planeAddr(l, b0, b4, ps, ps3, 0))
		}
	}
	advance := func(bytes int) {
		ADDQ(U8(bytes), b0)
		if p > 4 {
			ADDQ(U8(bytes), b4)
		}
	}

	Label(fn + "_row")
	MOVQ(drow, b0)
	if p > 4 {
		LEAQ(Mem{Base: drow, Index: ps, Scale: 4}, b4)
	}
	MOVQ(srow, q)
	Load(Param("w"), n)
	SHRQ(U8(3), n)
	JZ(LabelRef(fn + "_small"))
	Label(fn + "_block")
	block()
	advance(32)
	ADDQ(U32(256), q)
	DECQ(n)
	JNZ(LabelRef(fn + "_block"))
	Load(Param("w"), n)
	ANDQ(U8(7), n)
	JZ(LabelRef(fn + "_next"))
	Comment("The last 8 columns again.")
	SUBQ(U8(8), n)
	LEAQ(Mem{Base: b0, Index: n, Scale: 4}, b0)
	if p > 4 {
		LEAQ(Mem{Base: b4, Index: n, Scale: 4}, b4)
	}
	SHLQ(U8(5), n)
	ADDQ(n, q)
	block()
	JMP(LabelRef(fn + "_next"))

	Label(fn + "_small")
	Comment("w < 8: w vectors loaded, stores of 4, 2 and 1 floats.")
	Load(Param("w"), n)
	var r [8]VecVirtual
	for k := range r {
		r[k] = YMM()
		if k > 0 {
			VXORPS(r[k], r[k], r[k])
		}
	}
	for k := 0; k < 7; k++ {
		if k > 0 {
			CMPQ(n, U8(k))
			JLE(LabelRef(fn + "_loaded"))
		}
		VMOVUPS(Mem{Base: q, Disp: 32 * k}, r[k])
	}
	Label(fn + "_loaded")
	out := transpose8(r, need)
	TESTQ(U32(4), n)
	JZ(LabelRef(fn + "_two"))
	for l := 0; l < p; l++ {
		VMOVUPS(out[l].AsX(), planeAddr(l, b0, b4, ps, ps3, 0))
		VEXTRACTF128(U8(1), out[l], out[l].AsX())
	}
	advance(16)
	Label(fn + "_two")
	TESTQ(U32(2), n)
	JZ(LabelRef(fn + "_one"))
	for l := 0; l < p; l++ {
		VMOVSD(out[l].AsX(), planeAddr(l, b0, b4, ps, ps3, 0))
		VMOVHLPS(out[l].AsX(), out[l].AsX(), out[l].AsX())
	}
	advance(8)
	Label(fn + "_one")
	TESTQ(U32(1), n)
	JZ(LabelRef(fn + "_next"))
	for l := 0; l < p; l++ {
		VMOVSS(out[l].AsX(), planeAddr(l, b0, b4, ps, ps3, 0))
	}

	Label(fn + "_next")
	addParamBytes("lds", srow)
	addParamBytes("ldd", drow)
	DECQ(rows)
	JNZ(LabelRef(fn + "_row"))
	VZEROUPPER()
	RET()
}
