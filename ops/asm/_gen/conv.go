package main

import (
	"fmt"

	. "github.com/mmcloughlin/avo/build"
	. "github.com/mmcloughlin/avo/operand"
	. "github.com/mmcloughlin/avo/reg"
)

// The AVX2 convolution kernels written to ../conv_amd64.s: the bias and
// activation epilogues, the im2col run copy, the max-pool rows, the
// transpose of the position-row convolution and the deinterleave of the
// im2col copy at stride 2 (their Go declarations are in
// ../conv_amd64.go and ../transpose_amd64.go, their references in
// ../conv_epi.go, ../conv_pool.go and ../transpose.go).

// convKernels emits the kernels of conv_amd64.s.
func convKernels() {
	mask := maskData("convMask", 8)
	convBiasActAVX2(mask, epiBias)
	convCopyRunsAVX2()
	poolMaxRowsAVX2(mask)
	poolMaxColsAVX2(mask)
	poolMaxPlaneAVX2(mask)
	poolMaxPlaneNoNaNAVX2(mask)
	anyNaNAVX2(mask)
	copyRowsAVX2(mask)
	convBiasActAVX2(mask, epiBiasSum)
	convBiasActAVX2(mask, epiScaleBias)
	transpose8AVX()
	dw3x3s1AVX512()
	poolSumPlaneAVX2(mask)
	deinterleave8AVX()
}

// anyNaNAVX2 emits anyNaNAVX2, which reports whether a rows×cols block
// of floats holds a NaN (for poolMaxPlaneNoNaNAVX2).
func anyNaNAVX2(mask Mem) { rowsNaNAVX2(mask, false) }

// copyRowsAVX2 emits copyRowsAVX2, a block of rows copied between
// strides (into a padded plane), which reports whether it held a NaN.
func copyRowsAVX2(mask Mem) { rowsNaNAVX2(mask, true) }

// rowsNaNAVX2 emits anyNaNAVX2, or copyRowsAVX2 when copying: a pass
// over a rows×cols block, 8 floats at a time and a masked tail, that
// gathers in Y0 the lanes that saw a NaN (the tail's masked lanes read as
// 0) and copies the block when copying.
func rowsNaNAVX2(mask Mem, copying bool) {
	name, pre := "anyNaNAVX2", "ann_"
	var dst, ldd Register
	if copying {
		name, pre = "copyRowsAVX2", "cpr_"
		TEXT(name, NOSPLIT, "func(dst *float32, ldd int, src *float32, lds int, rows int, cols int) bool")
		Doc(name + " sets dst[i*ldd+j] = src[i*lds+j] for i < rows, j < cols and reports whether any is NaN.")
		dst = Load(Param("dst"), GP64())
		ldd = loadBytes("ldd")
	} else {
		TEXT(name, NOSPLIT, "func(src *float32, lds int, rows int, cols int) bool")
		Doc(name + " reports whether any src[i*lds+j] is NaN for i < rows, j < cols.")
	}
	src := Load(Param("src"), GP64())
	lds := loadBytes("lds")
	rows := Load(Param("rows"), GP64())
	cols := Load(Param("cols"), GP64())
	tailMask(mask, cols, Y15)
	VXORPS(Y0, Y0, Y0)
	last8 := GP64()
	MOVQ(cols, last8)
	SUBQ(U32(8), last8)
	var last32 Register
	if !copying {
		// The scan takes 32 floats a step into four accumulators
		// (Y0, Y3-Y5) while it can: one vector a step leaves it bound
		// by its loop, not by its loads.
		last32 = GP64()
		MOVQ(cols, last32)
		SUBQ(U32(32), last32)
		VXORPS(Y3, Y3, Y3)
		VXORPS(Y4, Y4, Y4)
		VXORPS(Y5, Y5, Y5)
	}
	j := GP64()
	TESTQ(rows, rows)
	JLE(LabelRef(pre + "done"))
	Label(pre + "row")
	XORQ(j, j)
	at := func(b Register) Mem { return Mem{Base: b, Index: j, Scale: 4} }
	if !copying {
		Label(pre + "32")
		CMPQ(j, last32)
		JG(LabelRef(pre + "8"))
		for i, acc := range []VecPhysical{Y0, Y3, Y4, Y5} {
			v := Mem{Base: src, Index: j, Scale: 4, Disp: 32 * i}
			VMOVUPS(v, Y1)
			VCMPPS(U8(3), Y1, Y1, Y2)
			VORPS(Y2, acc, acc)
		}
		ADDQ(U32(32), j)
		JMP(LabelRef(pre + "32"))
	}
	Label(pre + "8")
	CMPQ(j, last8)
	JG(LabelRef(pre + "tail"))
	VMOVUPS(at(src), Y1)
	if copying {
		VMOVUPS(Y1, at(dst))
	}
	VCMPPS(U8(3), Y1, Y1, Y2) // unordered: NaN
	VORPS(Y2, Y0, Y0)
	ADDQ(U32(8), j)
	JMP(LabelRef(pre + "8"))
	Label(pre + "tail")
	CMPQ(j, cols)
	JGE(LabelRef(pre + "next"))
	VMASKMOVPS(at(src), Y15, Y1)
	if copying {
		VMASKMOVPS(Y1, Y15, at(dst))
	}
	VCMPPS(U8(3), Y1, Y1, Y2)
	VORPS(Y2, Y0, Y0)
	Label(pre + "next")
	ADDQ(lds, src)
	if copying {
		ADDQ(ldd, dst)
	}
	DECQ(rows)
	JNE(LabelRef(pre + "row"))
	Label(pre + "done")
	if !copying {
		VORPS(Y3, Y0, Y0)
		VORPS(Y5, Y4, Y4)
		VORPS(Y4, Y0, Y0)
	}
	r := GP32()
	VMOVMSKPS(Y0, r)
	TESTL(r, r)
	SETNE(r.As8())
	VZEROUPPER()
	Store(r.As8(), ReturnIndex(0))
	RET()
}

// deinterleave8AVX emits deinterleave8AVX: the even and the odd floats
// of nb blocks of 16 (Deinterleave's blocks).
func deinterleave8AVX() {
	name := "deinterleave8AVX"
	TEXT(name, NOSPLIT, "func(a *float32, b *float32, src *float32, nb int)")
	Doc(name + " sets a[i] = src[2i] and b[i] = src[2i+1] for i < 8*nb.")
	a := Load(Param("a"), GP64())
	b := Load(Param("b"), GP64())
	src := Load(Param("src"), GP64())
	nb := Load(Param("nb"), GP64())
	TESTQ(nb, nb)
	JLE(LabelRef("dil_done"))
	Label("dil_loop")
	VMOVUPS(Mem{Base: src}, Y0)
	VMOVUPS(Mem{Base: src, Disp: 32}, Y1)
	// Within each 128-bit lane: evens 0 2 | 8 10, odds 1 3 | 9 11; then
	// the lanes' 64-bit halves in order.
	VSHUFPS(U8(0x88), Y1, Y0, Y2)
	VSHUFPS(U8(0xDD), Y1, Y0, Y3)
	VPERMPD(U8(0xD8), Y2, Y2)
	VPERMPD(U8(0xD8), Y3, Y3)
	VMOVUPS(Y2, Mem{Base: a})
	VMOVUPS(Y3, Mem{Base: b})
	ADDQ(U32(64), src)
	ADDQ(U32(32), a)
	ADDQ(U32(32), b)
	DECQ(nb)
	JNE(LabelRef("dil_loop"))
	Label("dil_done")
	VZEROUPPER()
	RET()
}

// transpose8AVX emits transpose8AVX, nb 8×8 blocks side by side of a
// matrix transposed (Transpose's blocks): the eight rows of a block at
// src (stride lds floats), its eight columns to dst (stride ldd floats),
// the next block 8 columns on in src and 8 rows on in dst.
func transpose8AVX() {
	name := "transpose8AVX"
	TEXT(name, NOSPLIT, "func(src *float32, lds int, dst *float32, ldd int, nb int)")
	Doc(name+" transposes nb 8×8 blocks side by side: the 8 rows at src (stride lds floats),",
		"blocks 8 columns apart, into dst (stride ldd floats), block b at dst + 8*b*ldd.")
	src := Load(Param("src"), GP64())
	lds := Load(Param("lds"), GP64())
	dst := Load(Param("dst"), GP64())
	ldd := Load(Param("ldd"), GP64())
	nb := Load(Param("nb"), GP64())
	SHLQ(U8(2), lds) // row strides in bytes
	SHLQ(U8(2), ldd)
	lds3, ldd3, next := GP64(), GP64(), GP64()
	LEAQ(Mem{Base: lds, Index: lds, Scale: 2}, lds3)
	LEAQ(Mem{Base: ldd, Index: ldd, Scale: 2}, ldd3)
	MOVQ(ldd, next)
	SHLQ(U8(3), next) // 8 rows of dst: the next block
	TESTQ(nb, nb)
	JLE(LabelRef(name + "_done"))

	Label(name + "_block")
	hi := GP64()
	LEAQ(Mem{Base: src, Index: lds, Scale: 4}, hi) // rows 4..7
	for i, m := range []Mem{{Base: src}, {Base: src, Index: lds, Scale: 1}, {Base: src, Index: lds, Scale: 2}, {Base: src, Index: lds3, Scale: 1},
		{Base: hi}, {Base: hi, Index: lds, Scale: 1}, {Base: hi, Index: lds, Scale: 2}, {Base: hi, Index: lds3, Scale: 1}} {
		VMOVUPS(m, ymm(i))
	}
	transposeQuads()
	LEAQ(Mem{Base: dst, Index: ldd, Scale: 4}, hi) // columns 4..7
	out := []Mem{{Base: dst}, {Base: dst, Index: ldd, Scale: 1}, {Base: dst, Index: ldd, Scale: 2}, {Base: dst, Index: ldd3, Scale: 1},
		{Base: hi}, {Base: hi, Index: ldd, Scale: 1}, {Base: hi, Index: ldd, Scale: 2}, {Base: hi, Index: ldd3, Scale: 1}}
	// Column q (q < 4): the low halves of Y(q) and Y(q+4); q+4 their high ones.
	for q := 0; q < 4; q++ {
		VPERM2F128(U8(0x20), ymm(q+4), ymm(q), ymm(8+q))
		VMOVUPS(ymm(8+q), out[q])
		VPERM2F128(U8(0x31), ymm(q+4), ymm(q), ymm(12+q))
		VMOVUPS(ymm(12+q), out[q+4])
	}
	ADDQ(U32(32), src)
	ADDQ(next, dst)
	DECQ(nb)
	JNE(LabelRef(name + "_block"))

	Label(name + "_done")
	VZEROUPPER()
	RET()
}

// lanesMask loads into dst the mask of the first t < 8 lanes from the
// table mask (maskData of 8), where neg holds t - 8 (negated here).
func lanesMask(mask Mem, neg Register, dst VecPhysical) {
	NEGQ(neg)
	tbl := GP64()
	LEAQ(mask, tbl)
	VMOVUPS(Mem{Base: tbl, Index: neg, Scale: 4, Disp: 32}, dst)
}

// tailMask loads into dst the mask of the last n mod 8 of n lanes.
func tailMask(mask Mem, n Register, dst VecPhysical) {
	t := GP64()
	MOVQ(n, t)
	ANDQ(U32(7), t)
	lanesMask(mask, t, dst)
}

// epiKind is which epilogue convBiasActAVX2 emits.
type epiKind int

const (
	epiBias      epiKind = iota // act(src + bias)
	epiBiasSum                  // act((src + bias) + z)
	epiScaleBias                // act(src*scale + bias), rounded after the product
)

// convBiasActAVX2 emits convBiasActAVX2, convBiasSumActAVX2 or
// convScaleBiasActAVX2 (kind): dst[i*ldd+j] = act(src[i*lds+j] +
// bias[i]) (with a sum: act((src + bias) + z[i*ldz+j]), the order of a
// Conv with bias and then an Add; with a scale: act(src*scale[i] +
// bias[i]), an inference BatchNormalization) for i < rows, j < n, bias
// nil for none (not with a scale); mode 0 clamps to [lo, hi] (x second,
// so that a NaN passes), else leaky with alpha. Y10 holds the row's bias,
// Y9 its scale, Y12 the mask of the n mod 8 tail, Y11 zero.
func convBiasActAVX2(mask Mem, kind epiKind) {
	sum, scaled := kind == epiBiasSum, kind == epiScaleBias
	name, args, pre := "convBiasActAVX2", "func(src *float32, lds int, dst *float32, ldd int, rows int, n int, bias *float32, lo float32, hi float32, alpha float32, mode int)", "epi_"
	switch kind {
	case epiBiasSum:
		name, args, pre = "convBiasSumActAVX2", "func(src *float32, lds int, dst *float32, ldd int, z *float32, ldz int, rows int, n int, bias *float32, lo float32, hi float32, alpha float32, mode int)", "sum_"
	case epiScaleBias:
		name, args, pre = "convScaleBiasActAVX2", "func(src *float32, lds int, dst *float32, ldd int, rows int, n int, scale *float32, bias *float32, lo float32, hi float32, alpha float32, mode int)", "sca_"
	}
	TEXT(name, NOSPLIT, args)
	switch kind {
	case epiBiasSum:
		Doc(name+" sets dst[i*ldd+j] = act((src[i*lds+j] + bias[i]) + z[i*ldz+j]) for i < rows, j < n",
			"(bias nil: 0); act clamps to [lo, hi] for mode 0, else is leaky with alpha.")
	case epiScaleBias:
		Doc(name+" sets dst[i*ldd+j] = act(src[i*lds+j]*scale[i] + bias[i]) for i < rows, j < n",
			"(the product rounded before the sum); act clamps to [lo, hi] for mode 0, else is leaky with alpha.")
	default:
		Doc(name+" sets dst[i*ldd+j] = act(src[i*lds+j] + bias[i]) for i < rows, j < n",
			"(bias nil: 0); act clamps to [lo, hi] for mode 0, else is leaky with alpha.")
	}
	src := Load(Param("src"), GP64())
	lds := loadBytes("lds")
	dst := Load(Param("dst"), GP64())
	ldd := loadBytes("ldd")
	var z, ldz Register
	if sum {
		z = Load(Param("z"), GP64())
		ldz = loadBytes("ldz")
	}
	rows := Load(Param("rows"), GP64())
	n := Load(Param("n"), GP64())
	var scale Register
	if scaled {
		scale = Load(Param("scale"), GP64())
	}
	bias := Load(Param("bias"), GP64())
	mode := Load(Param("mode"), GP64())
	broadcastParam("lo", Y13)
	broadcastParam("hi", Y14)
	TESTQ(mode, mode)
	JE(LabelRef(pre + "masks"))
	broadcastParam("alpha", Y13)
	Label(pre + "masks")
	tailMask(mask, n, Y12)
	VXORPS(Y11, Y11, Y11)
	last := GP64()
	MOVQ(n, last)
	SUBQ(U32(8), last)
	TESTQ(rows, rows)
	JLE(LabelRef(pre + "done"))

	Label(pre + "row")
	if scaled {
		VBROADCASTSS(Mem{Base: scale}, Y9)
		ADDQ(U32(4), scale)
	}
	VXORPS(Y10, Y10, Y10)
	TESTQ(bias, bias)
	JE(LabelRef(pre + "rowgo"))
	VBROADCASTSS(Mem{Base: bias}, Y10)
	ADDQ(U32(4), bias)
	Label(pre + "rowgo")
	j := GP64()
	XORQ(j, j)
	TESTQ(mode, mode)
	JNE(LabelRef(pre + "leaky"))
	at := func(base Register) Mem { return Mem{Base: base, Index: j, Scale: 4} }
	for _, lk := range []bool{false, true} {
		act, l := func() { clamp(Y0) }, pre+"clamp"
		if lk {
			act, l = func() { leaky(Y0, Y11, Y13, Y1, Y2) }, pre+"leaky"
		}
		Label(l)
		CMPQ(j, last)
		JG(LabelRef(l + "tail"))
		if scaled {
			VMULPS(at(src), Y9, Y0)
			VADDPS(Y10, Y0, Y0)
		} else {
			VADDPS(at(src), Y10, Y0)
		}
		if sum {
			VADDPS(at(z), Y0, Y0)
		}
		act()
		VMOVUPS(Y0, at(dst))
		ADDQ(U32(8), j)
		JMP(LabelRef(l))
		Label(l + "tail")
		CMPQ(j, n)
		JGE(LabelRef(pre + "next"))
		VMASKMOVPS(at(src), Y12, Y0)
		if scaled {
			VMULPS(Y0, Y9, Y0)
		}
		VADDPS(Y0, Y10, Y0)
		if sum {
			VMASKMOVPS(at(z), Y12, Y3)
			VADDPS(Y3, Y0, Y0)
		}
		act()
		VMASKMOVPS(Y0, Y12, at(dst))
		if !lk {
			JMP(LabelRef(pre + "next"))
		}
	}
	Label(pre + "next")
	ADDQ(lds, src)
	ADDQ(ldd, dst)
	if sum {
		ADDQ(ldz, z)
	}
	DECQ(rows)
	JNE(LabelRef(pre + "row"))
	Label(pre + "done")
	VZEROUPPER()
	RET()
}

// convCopyRunsAVX2 emits convCopyRunsAVX2, the im2col copy by runs: for
// each of np panels and kb rows, the runs of the panel (triples of a
// source offset from the row's rowOff, a column and a count of 8-float
// groups, from runs[3*panelStart[q]] to runs[3*panelStart[q+1]]) copied to
// the panel row at dst. A run of one or two groups copies them; a longer
// one copies 32 floats (a run is at most a panel row): what lies past its
// end the next runs, rows and panels overwrite, and the copy needs no
// loop.
func convCopyRunsAVX2() {
	name := "convCopyRunsAVX2"
	TEXT(name, NOSPLIT, "func(dst *float32, kb int, np int, src *float32, rowOff *int32, runs *int32, panelStart *int32)")
	Doc(name+" copies the runs of np panels of kb rows of 32 floats from src to dst (see copyRunsGo);",
		"dst must extend CopyRunsSlack floats past them.")
	dst := Load(Param("dst"), GP64())
	np := Load(Param("np"), GP64())
	ps := Load(Param("panelStart"), GP64())

	Label("runs_panel")
	Comment("first, end = the first and past the last run of the panel.")
	runs := Load(Param("runs"), GP64())
	first, end := GP64(), GP64()
	for i, r := range []Register{first, end} {
		MOVLQSX(Mem{Base: ps, Disp: 4 * i}, r)
		LEAQ(Mem{Base: r, Index: r, Scale: 2}, r)
		LEAQ(Mem{Base: runs, Index: r, Scale: 4}, r)
	}
	ro := Load(Param("rowOff"), GP64())
	kb := Load(Param("kb"), GP64())

	Label("runs_row")
	off := GP64()
	MOVLQSX(Mem{Base: ro}, off)
	row := Load(Param("src"), GP64())
	LEAQ(Mem{Base: row, Index: off, Scale: 4}, row)
	run := GP64()
	MOVQ(first, run)

	Label("runs_run")
	CMPQ(run, end)
	JGE(LabelRef("runs_rowdone"))
	from := off
	MOVLQSX(Mem{Base: run}, from)
	LEAQ(Mem{Base: row, Index: from, Scale: 4}, from)
	to := GP64()
	MOVLQSX(Mem{Base: run, Disp: 4}, to)
	LEAQ(Mem{Base: dst, Index: to, Scale: 4}, to)
	VMOVUPS(Mem{Base: from}, Y0)
	groups := GP64()
	MOVLQSX(Mem{Base: run, Disp: 8}, groups)
	CMPQ(groups, U32(2))
	JG(LabelRef("runs_four"))
	JE(LabelRef("runs_two"))
	for _, nv := range []int{1, 2, 4} {
		switch nv {
		case 2:
			Label("runs_two")
		case 4:
			Label("runs_four")
		}
		for v := 1; v < nv; v++ {
			VMOVUPS(Mem{Base: from, Disp: 32 * v}, ymm(v))
		}
		for v := 0; v < nv; v++ {
			VMOVUPS(ymm(v), Mem{Base: to, Disp: 32 * v})
		}
		ADDQ(U32(12), run)
		JMP(LabelRef("runs_run"))
	}

	Label("runs_rowdone")
	ADDQ(U32(4*panelN), dst)
	ADDQ(U32(4), ro)
	DECQ(kb)
	JNE(LabelRef("runs_row"))
	ADDQ(U32(4), ps)
	DECQ(np)
	JNE(LabelRef("runs_panel"))
	VZEROUPPER()
	RET()
}

// nanMax emits d = max(a, b), NaN when either is NaN (d != a); t is
// scratch.
func nanMax(a, b, d, t VecPhysical) {
	VMAXPS(b, a, d)
	VCMPPS(U8(3), a, a, t)
	VBLENDVPS(t, a, d, d)
}

// windowPair loads, for 8 pooled outputs from column idx of the row at
// base, the first two columns of their windows at stride s into x0 and
// x1: for s 2 through t, lanes in the order 0 1 4 5 2 3 6 7.
func windowPair(base, idx Register, s int, x0, x1, t VecPhysical) {
	if s == 1 {
		VMOVUPS(Mem{Base: base, Index: idx, Scale: 4}, x0)
		VMOVUPS(Mem{Base: base, Index: idx, Scale: 4, Disp: 4}, x1)
		return
	}
	VMOVUPS(Mem{Base: base, Index: idx, Scale: 8}, t)
	VSHUFPS(U8(0x88), Mem{Base: base, Index: idx, Scale: 8, Disp: 32}, t, x0)
	VSHUFPS(U8(0xDD), Mem{Base: base, Index: idx, Scale: 8, Disp: 32}, t, x1)
}

// windowThird loads the third columns of the windows of windowPair into x.
func windowThird(base, idx Register, s int, x, t VecPhysical) {
	if s == 1 {
		VMOVUPS(Mem{Base: base, Index: idx, Scale: 4, Disp: 8}, x)
		return
	}
	VMOVUPS(Mem{Base: base, Index: idx, Scale: 8, Disp: 8}, t)
	VSHUFPS(U8(0x88), Mem{Base: base, Index: idx, Scale: 8, Disp: 40}, t, x)
}

// poolMaxRowsAVX2 emits poolMaxRowsAVX2: dst[i] = max(dst[i], src[i])
// for i < n, NaN when either is.
func poolMaxRowsAVX2(mask Mem) {
	TEXT("poolMaxRowsAVX2", NOSPLIT, "func(dst *float32, src *float32, n int)")
	Doc("poolMaxRowsAVX2 sets dst[i] = max(dst[i], src[i]) for i < n, NaN when either is NaN.")
	dst := Load(Param("dst"), GP64())
	src := Load(Param("src"), GP64())
	n := Load(Param("n"), GP64())
	i := GP64()
	XORQ(i, i)
	last := GP64()
	MOVQ(n, last)
	SUBQ(U32(8), last)
	at := func(base Register) Mem { return Mem{Base: base, Index: i, Scale: 4} }
	Label("pmr_loop")
	CMPQ(i, last)
	JG(LabelRef("pmr_tail"))
	VMOVUPS(at(dst), Y0)
	VMOVUPS(at(src), Y1)
	nanMax(Y0, Y1, Y2, Y3)
	VMOVUPS(Y2, at(dst))
	ADDQ(U32(8), i)
	JMP(LabelRef("pmr_loop"))
	Label("pmr_tail")
	CMPQ(i, n)
	JGE(LabelRef("pmr_done"))
	t := GP64()
	MOVQ(n, t)
	SUBQ(i, t)
	lanesMask(mask, t, Y4)
	VMASKMOVPS(at(dst), Y4, Y0)
	VMASKMOVPS(at(src), Y4, Y1)
	nanMax(Y0, Y1, Y2, Y3)
	VMASKMOVPS(Y2, Y4, at(dst))
	Label("pmr_done")
	VZEROUPPER()
	RET()
}

// poolMaxColsAVX2 emits poolMaxColsAVX2: dst[j] = max(src[j*s], ...,
// src[j*s+k-1]) for j < n, k in {2, 3}, s in {1, 2}; src is read up to 24
// floats past the last window.
func poolMaxColsAVX2(mask Mem) {
	TEXT("poolMaxColsAVX2", NOSPLIT, "func(dst *float32, n int, src *float32, k int, s int)")
	Doc("poolMaxColsAVX2 sets dst[j] = max(src[j*s], ..., src[j*s+k-1]) for j < n (k 2 or 3, s 1 or 2),",
		"NaN when any is NaN.")
	dst := Load(Param("dst"), GP64())
	n := Load(Param("n"), GP64())
	src := Load(Param("src"), GP64())
	k := Load(Param("k"), GP64())
	s := Load(Param("s"), GP64())
	Comment("Y15 = mask of the n%8 tail.")
	tailMask(mask, n, Y15)
	j := GP64()
	XORQ(j, j)
	last := GP64()
	MOVQ(n, last)
	SUBQ(U32(8), last)
	CMPQ(s, U32(1))
	JNE(LabelRef("pmc_s2"))
	for _, stride := range []int{1, 2} {
		l := fmt.Sprintf("pmc_s%d", stride)
		Label(l)
		CMPQ(j, n)
		JGE(LabelRef("pmc_done"))
		windowPair(src, j, stride, Y0, Y1, Y4)
		nanMax(Y0, Y1, Y2, Y3)
		CMPQ(k, U32(3))
		JNE(LabelRef(l + "store"))
		windowThird(src, j, stride, Y1, Y4)
		nanMax(Y2, Y1, Y0, Y3)
		VMOVAPS(Y0, Y2)
		Label(l + "store")
		if stride == 2 {
			VPERMPD(U8(0xD8), Y2, Y2)
		}
		CMPQ(j, last)
		JG(LabelRef(l + "tail"))
		VMOVUPS(Y2, Mem{Base: dst, Index: j, Scale: 4})
		ADDQ(U32(8), j)
		JMP(LabelRef(l))
		Label(l + "tail")
		VMASKMOVPS(Y2, Y15, Mem{Base: dst, Index: j, Scale: 4})
		if stride == 1 {
			JMP(LabelRef("pmc_done"))
		}
	}
	Label("pmc_done")
	VZEROUPPER()
	RET()
}

// planeKind is what a plane kernel computes over its windows.
type planeKind int

const (
	planeMax      planeKind = iota // maxima, NaN when any is NaN
	planeMaxNoNaN                  // maxima of inputs known to hold no NaN
	planeSum                       // sums
)

// poolMaxPlaneAVX2 emits poolMaxPlaneAVX2: dst[y*ldd+x] = max over i <
// kh, j < kw of src[(y*sh+i)*lds + x*sw+j] for y < ny, x < nx; kw in {2,
// 3}, sw in {1, 2}, one loop for each. Rows but the last maskRows may
// spill up to 7 floats past nx (the caller overwrites them); src is read
// up to 24 floats past each window row.
func poolMaxPlaneAVX2(mask Mem) { poolPlaneAVX2(mask, planeMax) }

// poolMaxPlaneNoNaNAVX2 emits poolMaxPlaneNoNaNAVX2: poolMaxPlaneAVX2
// for inputs without NaN (plain VMAXPS, a third of the instructions).
func poolMaxPlaneNoNaNAVX2(mask Mem) { poolPlaneAVX2(mask, planeMaxNoNaN) }

// poolSumPlaneAVX2 emits poolSumPlaneAVX2: poolMaxPlaneAVX2 with sums
// for maxima, times a factor per output: dst[y*ldd+x] = scale[y*nx+x] *
// Σi (Σj src[(y*sh+i)*lds + x*sw+j]), each row's window summed left to
// right, the rows top to bottom; scale is read up to 7 floats past
// nx*ny.
func poolSumPlaneAVX2(mask Mem) { poolPlaneAVX2(mask, planeSum) }

// poolPlaneAVX2 emits the plane kernel of kind. The sums go window row
// by window row (each summed left to right, as the reference does); the
// maxima take the window rows' columns first, elementwise, and pick the
// windows' columns from the result once.
func poolPlaneAVX2(mask Mem, kind planeKind) {
	sum := kind == planeSum
	name, pre := "poolMaxPlaneAVX2", "pmp_"
	switch kind {
	case planeSum:
		name, pre = "poolSumPlaneAVX2", "psp_"
		TEXT(name, NOSPLIT, "func(dst *float32, ldd int, nx int, ny int, src *float32, lds int, kh int, kw int, sh int, sw int, maskRows int, scale *float32)")
		Doc(name+" sets dst[y*ldd+x] = scale[y*nx+x] * the sum over i < kh, j < kw of src[(y*sh+i)*lds + x*sw+j]",
			"for y < ny, x < nx (kw 2 or 3, sw 1 or 2), each window row summed left to right, the rows top to bottom;",
			"rows but the last maskRows may spill up to 7 floats past nx, and scale is read up to 7 floats past nx*ny.")
	case planeMaxNoNaN:
		name, pre = "poolMaxPlaneNoNaNAVX2", "pmq_"
		TEXT(name, NOSPLIT, "func(dst *float32, ldd int, nx int, ny int, src *float32, lds int, kh int, kw int, sh int, sw int, maskRows int)")
		Doc(name+" sets dst[y*ldd+x] = max over i < kh, j < kw of src[(y*sh+i)*lds + x*sw+j]",
			"for y < ny, x < nx (kw 2 or 3, sw 1 or 2) when no input is NaN; rows but the last maskRows may spill",
			"up to 7 floats past nx.")
	default:
		TEXT(name, NOSPLIT, "func(dst *float32, ldd int, nx int, ny int, src *float32, lds int, kh int, kw int, sh int, sw int, maskRows int)")
		Doc(name+" sets dst[y*ldd+x] = max over i < kh, j < kw of src[(y*sh+i)*lds + x*sw+j]",
			"for y < ny, x < nx (kw 2 or 3, sw 1 or 2), NaN when any is NaN; rows but the last maskRows may spill",
			"up to 7 floats past nx.")
	}
	lbl := func(s string) string { return pre + s }
	dst := Load(Param("dst"), GP64())
	ldd := loadBytes("ldd")
	nx := Load(Param("nx"), GP64())
	ny := Load(Param("ny"), GP64())
	src := Load(Param("src"), GP64())
	lds := loadBytes("lds")
	step := Load(Param("sh"), GP64())
	IMULQ(lds, step)
	kh := Load(Param("kh"), GP64())
	tailMask(mask, nx, Y15)
	var scale, scaleRow Register // the factors of the row, and floats per row in bytes
	if sum {
		scale = Load(Param("scale"), GP64())
		scaleRow = GP64()
		MOVQ(nx, scaleRow)
		SHLQ(U8(2), scaleRow)
	}
	last := GP64()
	MOVQ(nx, last)
	SUBQ(U32(8), last)
	TESTQ(ny, ny)
	JLE(LabelRef(lbl("done")))
	TESTQ(nx, nx)
	JLE(LabelRef(lbl("done")))
	kw := Load(Param("kw"), GP64())
	sw := Load(Param("sw"), GP64())
	CMPQ(sw, U32(1))
	JNE(LabelRef(lbl("sw2")))
	CMPQ(kw, U32(2))
	JE(LabelRef(lbl("k2s1")))
	JMP(LabelRef(lbl("k3s1")))
	Label(lbl("sw2"))
	CMPQ(kw, U32(2))
	JE(LabelRef(lbl("k2s2")))
	JMP(LabelRef(lbl("k3s2")))

	x, wr, left := GP64(), GP64(), GP64()
	// combine sets d to max(a, b) (NaN when either is), or a + b; d
	// may be b, not a.
	combine := func(a, b, d, t VecPhysical) {
		switch kind {
		case planeSum:
			VADDPS(b, a, d)
		case planeMaxNoNaN:
			VMAXPS(b, a, d)
		default:
			nanMax(a, b, d, t)
		}
	}
	// rawCols loads the window row's columns that 8 outputs from column
	// x of the row at base read: for s 1, columns x+j to x+j+7 into
	// regs[j] for j < k; for s 2, columns 2x to 2x+15 into regs[0] and
	// regs[1], and for k 3 those from 2x+2 into regs[2] and regs[3].
	rawCols := func(base Register, k, s int, regs []VecPhysical) {
		if s == 1 {
			for j := 0; j < k; j++ {
				VMOVUPS(Mem{Base: base, Index: x, Scale: 4, Disp: 4 * j}, regs[j])
			}
			return
		}
		VMOVUPS(Mem{Base: base, Index: x, Scale: 8}, regs[0])
		VMOVUPS(Mem{Base: base, Index: x, Scale: 8, Disp: 32}, regs[1])
		if k == 3 {
			VMOVUPS(Mem{Base: base, Index: x, Scale: 8, Disp: 8}, regs[2])
			VMOVUPS(Mem{Base: base, Index: x, Scale: 8, Disp: 40}, regs[3])
		}
	}
	// pickWindows sets Y0 to the combination of the k columns of each of
	// the 8 windows in the columns that rawCols loads into regs (for s 2
	// in the lane order of windowPair).
	pickWindows := func(k, s int, regs []VecPhysical) {
		if s == 1 {
			combine(regs[0], regs[1], Y0, Y5)
			if k == 3 {
				combine(regs[2], Y0, Y0, Y5)
			}
			return
		}
		VSHUFPS(U8(0x88), regs[1], regs[0], Y6)
		VSHUFPS(U8(0xDD), regs[1], regs[0], Y7)
		combine(Y6, Y7, Y0, Y5)
		if k == 3 {
			VSHUFPS(U8(0x88), regs[3], regs[2], Y6)
			combine(Y6, Y0, Y0, Y5)
		}
	}
	acc, row := []VecPhysical{Y8, Y9, Y10, Y11}, []VecPhysical{Y1, Y2, Y3, Y4}
	// window emits dst = the maximum (or sum) of the kw×1 windows of 8
	// outputs at column x of the row at base (Y5..Y8 scratch).
	window := func(base Register, k, s int, dst VecPhysical) {
		windowPair(base, x, s, Y6, Y7, Y5)
		if k == 2 {
			combine(Y6, Y7, dst, Y5)
			return
		}
		combine(Y6, Y7, Y8, Y5)
		windowThird(base, x, s, Y6, Y5)
		combine(Y8, Y6, dst, Y5)
	}
	for _, v := range [][2]int{{2, 1}, {3, 1}, {2, 2}, {3, 2}} {
		k, s := v[0], v[1]
		l := lbl(fmt.Sprintf("k%ds%d", k, s))
		Label(l)
		XORQ(x, x)
		Label(l + "_col")
		CMPQ(x, nx)
		JGE(LabelRef(l + "_rowdone"))
		n := k // raw column vectors of a window row (see rawCols)
		if s == 2 {
			n = 2 * (k - 1)
		}
		if sum {
			window(src, k, s, Y0)
		} else {
			rawCols(src, k, s, acc)
		}
		LEAQ(Mem{Base: src, Index: lds, Scale: 1}, wr)
		MOVQ(kh, left)
		DECQ(left)
		JE(LabelRef(l + "_kdone"))
		Label(l + "_krow")
		if sum {
			window(wr, k, s, Y1)
			combine(Y0, Y1, Y2, Y3)
			VMOVAPS(Y2, Y0)
		} else {
			rawCols(wr, k, s, row)
			for j := 0; j < n; j++ {
				combine(row[j], acc[j], acc[j], Y5) // d may be b, not a
			}
		}
		ADDQ(lds, wr)
		DECQ(left)
		JNE(LabelRef(l + "_krow"))
		Label(l + "_kdone")
		if !sum {
			pickWindows(k, s, acc)
		}
		if s == 2 {
			VPERMPD(U8(0xD8), Y0, Y0)
		}
		if sum {
			VMULPS(Mem{Base: scale, Index: x, Scale: 4}, Y0, Y0)
		}
		out := Mem{Base: dst, Index: x, Scale: 4}
		CMPQ(x, last)
		JG(LabelRef(l + "_tail"))
		VMOVUPS(Y0, out)
		ADDQ(U32(8), x)
		JMP(LabelRef(l + "_col"))
		Label(l + "_tail")
		CMPQ(ny, paramAddr("maskRows"))
		JLE(LabelRef(l + "_masked"))
		VMOVUPS(Y0, out)
		JMP(LabelRef(l + "_rowdone"))
		Label(l + "_masked")
		VMASKMOVPS(Y0, Y15, out)
		Label(l + "_rowdone")
		ADDQ(step, src)
		ADDQ(ldd, dst)
		if sum {
			ADDQ(scaleRow, scale)
		}
		DECQ(ny)
		JNE(LabelRef(l))
		JMP(LabelRef(lbl("done")))
	}
	Label(lbl("done"))
	VZEROUPPER()
	RET()
}
