// Command _gen writes ops/asm/sgemm_amd64.s and its Go declarations
// (sgemm_stubs_amd64.go) with avo. Run it through `go generate` in ops/asm;
// gen_test.go fails when the committed files differ from its output.
//
// The kernels multiply an mr×k block of A, read in place as mr rows at
// stride lda (or, for the AVX2 P kernels of tilep.go, packed: mr floats
// per k step), by a packed panel of B (k rows of panelN = 32 floats,
// 64-byte aligned), into an mr×32 block of C of which only the first nn
// columns are stored: C = alpha*A·B + beta*C, C unread when beta is 0.
// There is one function per row count so that bottom-edge tiles do no
// wasted work.
// Beside them: matrix-vector products (gemv.go for a packed B), the dot
// products of a convolution's last few columns (dots.go), packing,
// and the activation kernels of the recurrent cells (act.go: sigmoid,
// tanh and the LSTM cell update).
package main

import (
	"flag"
	"fmt"
	"os"

	. "github.com/mmcloughlin/avo/build"
	. "github.com/mmcloughlin/avo/operand"
	. "github.com/mmcloughlin/avo/reg"
)

const (
	panelN      = 32 // floats per packed B row
	panelBytes  = panelN * 4
	mrAVX512    = 14
	mrAVX2      = 6
	kUnroll     = 4
	tileArgs    = "func(k int, a *float32, lda int, b *float32, c *float32, ldc int, alpha float32, beta float32, nn int)"
	gemvArgs    = "func(k int, a *float32, b *float32, ldb int, c *float32, n int, alpha float32, beta float32)"
	maskEntries = 16
)

var maskTable Mem

var (
	arm64Out = flag.String("arm64", "", "write the arm64 kernels to `file` (instead of the amd64 output)")
	kernels  = flag.String("kernels", "sgemm", "which amd64 kernels to write: `sgemm` (with their stubs), conv, convpos or exp (with its stubs)")
)

func main() {
	flag.Parse()
	if *arm64Out != "" {
		if err := writeARM64(*arm64Out); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		return
	}
	ConstraintExpr("!purego")
	switch *kernels {
	case "sgemm":
		sgemmKernels()
	case "conv":
		convKernels()
	case "convpos":
		convPosKernels()
	case "exp":
		expKernels()
	default:
		fmt.Fprintf(os.Stderr, "unknown -kernels %q\n", *kernels)
		os.Exit(2)
	}
	Generate()
}

// maskData emits the static table name of n lanes set and then n clear:
// the mask of the first t ≤ n lanes of a vector of n starts 4*(n - t)
// bytes in.
func maskData(name string, n int) Mem {
	m := GLOBL(name, RODATA|NOPTR)
	for i := 0; i < 2*n; i++ {
		v := U32(0)
		if i < n {
			v = U32(0xffffffff)
		}
		DATA(4*i, v)
	}
	return m
}

// sgemmKernels emits the kernels of sgemm_amd64.s.
func sgemmKernels() {
	maskTable = maskData("sgemmMaskTable", maskEntries)
	actTables()
	for r := 1; r <= mrAVX512; r++ {
		tileAVX512(r)
	}
	for r := 1; r <= mrAVX512; r++ {
		tileAVX512Half(r)
	}
	for r := 1; r <= mrAVX2; r++ {
		tileAVX2(r)
	}
	gemvTAVX512()
	gemvNAVX512()
	for nc := 2; nc <= 4; nc++ {
		dotsAVX512(nc)
	}
	gemvTAVX2()
	gemvNAVX2()
	packBAVX2()
	packBTAVX2()
	fmaPeakAVX2()
	gemvPackedAVX2()
	gemvSkipAVX2()
	nonZeroMaskAVX2()
	sigmoidAVX2()
	tanhAVX2()
	lstmUpdateAVX2()
	for r := 1; r <= mrAVX2; r++ {
		tileAVX2P(r)
	}
	packA6AVX2()
	for r := 1; r <= mrAVX2; r++ {
		tileAVX2PAct(r)
	}
	tileAVX2PActN()
	for r := 1; r <= mrAVX512; r++ {
		tileAVX512P(r)
	}
	for r := 1; r <= mrAVX512; r++ {
		tileAVX512PAct(r)
	}
	tileAVX512PActN()
	for r := 1; r <= mrAVX512; r++ {
		tileAVX512PHalf(r)
	}
	for r := 1; r <= mrAVX512; r++ {
		tileAVX512PActHalf(r)
	}
	tileAVX512PActNHalf()
	packA14AVX2()
}

// accSets is how many independent accumulator sets a kernel of r rows
// interleaves over k: at least 8 FMA chains are needed to cover the FMA
// latency (4 cycles) on two pipes.
func accSets(chainsPerSet int) int {
	switch {
	case chainsPerSet >= 8:
		return 1
	case chainsPerSet >= 4:
		return 2
	default:
		return 4
	}
}

// rowAddr gives the addresses of rows 0..r-1 of A at byte offset disp:
// rows 0..6 relative to base0 and rows 7..13 relative to base7, using the
// index registers lda, lda3 = 3*lda and lda5 = 5*lda.
type rowAddr struct {
	base0, base7, lda, lda3, lda5 Register
}

func newRowAddr(r int, a, lda Register) rowAddr {
	ra := rowAddr{base0: a, lda: lda}
	if r > 3 {
		ra.lda3 = GP64()
		LEAQ(Mem{Base: lda, Index: lda, Scale: 2}, ra.lda3)
	}
	if r > 5 {
		ra.lda5 = GP64()
		LEAQ(Mem{Base: lda, Index: lda, Scale: 4}, ra.lda5)
	}
	if r > 7 {
		ra.base7 = GP64()
	}
	return ra
}

// setBase7 sets base7 = base0 + 7*lda (= base0 + lda + 2*lda3).
func (ra rowAddr) setBase7() {
	if ra.base7 != nil {
		LEAQ(Mem{Base: ra.base0, Index: ra.lda, Scale: 1}, ra.base7)
		LEAQ(Mem{Base: ra.base7, Index: ra.lda3, Scale: 2}, ra.base7)
	}
}

func (ra rowAddr) row(i, disp int) Mem {
	base := ra.base0
	if i >= 7 {
		base, i = ra.base7, i-7
	}
	switch i {
	case 0:
		return Mem{Base: base, Disp: disp}
	case 1:
		return Mem{Base: base, Index: ra.lda, Scale: 1, Disp: disp}
	case 2:
		return Mem{Base: base, Index: ra.lda, Scale: 2, Disp: disp}
	case 3:
		return Mem{Base: base, Index: ra.lda3, Scale: 1, Disp: disp}
	case 4:
		return Mem{Base: base, Index: ra.lda, Scale: 4, Disp: disp}
	case 5:
		return Mem{Base: base, Index: ra.lda5, Scale: 1, Disp: disp}
	default:
		return Mem{Base: base, Index: ra.lda3, Scale: 2, Disp: disp}
	}
}

func (ra rowAddr) advance(bytes int) {
	ADDQ(I32(int32(bytes)), ra.base0)
	if ra.base7 != nil {
		ADDQ(I32(int32(bytes)), ra.base7)
	}
}

// tileRegs are the parameters of a tile kernel in registers: lda and
// ldc in bytes, lda and nn only where loaded.
type tileRegs struct {
	k, a, lda, b, c, ldc, nn Register
}

// loadTile loads k, a, lda (withLda), b, c, ldc and nn (withNN), in that
// order.
func loadTile(withLda, withNN bool) tileRegs {
	var t tileRegs
	t.k = Load(Param("k"), GP64())
	t.a = Load(Param("a"), GP64())
	if withLda {
		t.lda = loadBytes("lda")
	}
	t.b = Load(Param("b"), GP64())
	t.c = Load(Param("c"), GP64())
	t.ldc = loadBytes("ldc")
	if withNN {
		t.nn = Load(Param("nn"), GP64())
	}
	return t
}

// tileHead emits the TEXT and Doc of a tile kernel of r rows and 32
// columns; aExpr is how A is read, aNote what follows the condition on C.
func tileHead(name string, r int, args, aExpr, aNote string) {
	tileHeadCols(name, r, 32, args, aExpr, aNote)
}

// tileHeadCols is tileHead for a tile of cols columns (32, or 16 for the
// AVX-512 tiles of a product's last columns).
func tileHeadCols(name string, r, cols int, args, aExpr, aNote string) {
	TEXT(name, NOSPLIT, args)
	Doc(fmt.Sprintf("%s computes an %d×%d tile: C[i][j] = alpha*Σp %s*b[p*32+j] + beta*C[i][j]", name, r, cols, aExpr),
		"for i < r, j < nn (C unread when beta is 0)"+aNote+".")
}

// tileAVX512 emits sgemmTileAVX512x<r>: r rows by 32 columns, two zmm
// accumulators per row (Z0..Z27 at most), B in Z28/Z29, A broadcasts
// alternating in Z30/Z31. Columns at or past nn are masked off in C.
func tileAVX512(r int) { tileAVX512W(r, 2) }

// tileAVX512Half emits sgemmTileAVX512Hx<r>: the first 16 columns of
// sgemmTileAVX512x<r> (nn ≤ 16), one zmm accumulator per row, B in Z28.
// It sums each column in the same chains and order as the full tile (as
// many accumulator sets as the full tile of r rows has), so a column
// comes out the same bit for bit whichever of the two computes it; for
// the last columns of a product past a multiple of 32 it does half the
// multiply-adds the full tile would (a 16-column pass of 14 rows took as
// long as a 32-column one, on a Xeon with AVX-512).
func tileAVX512Half(r int) { tileAVX512W(r, 1) }

// tileAVX512W emits the AVX-512 tile of r rows and halves zmm (16
// columns each) a row: tileAVX512 (2) or tileAVX512Half (1).
func tileAVX512W(r, halves int) {
	name := fmt.Sprintf("sgemmTileAVX512x%d", r)
	if halves == 1 {
		name = fmt.Sprintf("sgemmTileAVX512Hx%d", r)
	}
	tileHeadCols(name, r, 16*halves, tileArgs, "a[i*lda+p]", "")
	acc := newAccs(r, halves, accSets(2*r), zmm)
	bv := []VecPhysical{Z28, Z29}[:halves]
	av := [2]VecPhysical{Z30, Z31}

	t := loadTile(true, false)
	k, b, c, ldc := t.k, t.b, t.c, t.ldc
	ra := newRowAddr(r, t.a, t.lda)
	ra.setBase7()

	prefetchC := func() {
		cp := GP64()
		MOVQ(c, cp)
		eachRow(r, cp, ldc, func(int) {
			if halves == 1 {
				prefetch(Mem{Base: cp}, Mem{Base: cp, Disp: 60})
				return
			}
			prefetch(Mem{Base: cp}, Mem{Base: cp, Disp: 64}, Mem{Base: cp, Disp: 124})
		})
	}
	acc.zero(VPXORD)
	step := func(u, s int) {
		acc.step(s, Mem{Base: b, Disp: panelBytes * u}, 64, bv, av, func(i int) Mem { return ra.row(i, 4*u) })
	}
	mainLoop(name, k, kUnroll, func(u int) { step(u, u%acc.sets) }, func() {
		ra.advance(4 * kUnroll)
		ADDQ(I32(panelBytes*kUnroll), b)
	}, func() {
		step(0, 0)
		ra.advance(4)
		ADDQ(I32(panelBytes), b)
	}, prefetchC)
	acc.reduce()
	storeTileAVX512(name, r, acc, c, ldc)
}

// columnMasksAVX512 loads the parameter nn (at most 32) and sets K1 to
// the mask of the columns 0-15 below it and K2 to that of 16-31.
func columnMasksAVX512() [2]Register {
	Comment("Column masks: K1 for columns 0-15, K2 for 16-31.")
	Load(Param("nn"), RCX)
	mask := GP64()
	MOVQ(U32(1), mask)
	SHLQ(CL, mask)
	DECQ(mask)
	KMOVW(mask.As32(), K1)
	SHRQ(Imm(16), mask)
	KMOVW(mask.As32(), K2)
	return [2]Register{K1, K2}
}

// storeTileAVX512 emits the end of an AVX-512 tile of r rows: C =
// alpha*acc + beta*C in the columns below nn (C unread when beta is ±0),
// and the return. Z28 to Z31 are free.
func storeTileAVX512(name string, r int, acc accs, c, ldc Register) {
	kmask := columnMasksAVX512()

	Comment("C = alpha*acc + beta*C: all loads of C before any store, so that",
		"no load waits on a store to a row 4 KiB away (same low address bits).")
	broadcastParam("alpha", Z28)
	for i := 0; i < r; i++ {
		for h := 0; h < acc.halves; h++ {
			VMULPS(Z28, acc.at(i, h), acc.at(i, h))
		}
	}
	cp := GP64()
	loadBetaIsZero()
	JE(LabelRef(name + "_store"))
	broadcastParam("beta", Z29)
	MOVQ(c, cp)
	eachRow(r, cp, ldc, func(i int) {
		for h := 0; h < acc.halves; h++ {
			VFMADD231PS(Mem{Base: cp, Disp: 64 * h}, Z29, kmask[h], acc.at(i, h))
		}
	})
	Label(name + "_store")
	eachRow(r, c, ldc, func(i int) {
		for h := 0; h < acc.halves; h++ {
			VMOVUPS(acc.at(i, h), kmask[h], Mem{Base: c, Disp: 64 * h})
		}
	})
	VZEROUPPER()
	RET()
}

// prefetchAhead is how many k steps before the end of a tile its C rows
// are prefetched: late enough that the streaming B panel does not evict
// them again, early enough to hide an L3 miss.
const prefetchAhead = 32

// mainLoop emits a loop over k (a register counting down) that runs body
// for u = 0..unroll-1 and then advance, while at least unroll steps remain,
// then tail once per remaining step; prefetch is emitted to run when about
// prefetchAhead steps remain.
func mainLoop(name string, k Register, unroll int, body func(u int), advance func(), tail func(), prefetch func()) {
	pre := GP64()
	MOVQ(k, pre)
	SUBQ(I32(prefetchAhead), pre)
	CMPQ(pre, I32(int32(unroll)))
	JL(LabelRef(name + "_prefetch"))
	Label(name + "_preloop")
	for u := 0; u < unroll; u++ {
		body(u)
	}
	advance()
	SUBQ(I32(int32(unroll)), k)
	SUBQ(I32(int32(unroll)), pre)
	CMPQ(pre, I32(int32(unroll)))
	JGE(LabelRef(name + "_preloop"))
	Label(name + "_prefetch")
	prefetch()
	kLoop(name, k, unroll, body, advance, tail)
}

// tileAVX2 emits sgemmTileAVX2x<r>: r rows by 32 columns done as two
// passes of 16 columns (r×16 with two ymm per row: Y0..Y11 at most), B in
// Y12/Y13, A broadcasts alternating in Y14/Y15. A partial pass masks C
// through VMASKMOVPS with masks from sgemmMaskTable; a last pass of at
// most 8 columns runs r×8 instead (quarterPass).
func tileAVX2(r int) {
	name := fmt.Sprintf("sgemmTileAVX2x%d", r)
	tileHead(name, r, tileArgs, "a[i*lda+p]", "")
	acc := newAccs(r, 2, accSets(2*r), ymm)
	bv := []VecPhysical{Y12, Y13}
	av := [2]VecPhysical{Y14, Y15}

	t := loadTile(true, true)
	k0, a0, b, c, ldc, nn := t.k, t.a, t.b, t.c, t.ldc, t.nn
	k := GP64()
	a := GP64()
	ra := newRowAddr(r, a, t.lda)

	Label(name + "_half")
	CMPQ(nn, I32(8))
	JLE(LabelRef(name + "_q"))
	MOVQ(k0, k)
	MOVQ(a0, a)
	ra.setBase7()
	bp := GP64()
	MOVQ(b, bp)
	cp := GP64()
	prefetchC := func() {
		MOVQ(c, cp)
		eachRow(r, cp, ldc, func(int) { prefetch(Mem{Base: cp}, Mem{Base: cp, Disp: 60}) })
	}
	acc.zero(VXORPS)
	step := func(u, s int) {
		acc.step(s, Mem{Base: bp, Disp: panelBytes * u}, 32, bv, av, func(i int) Mem { return ra.row(i, 4*u) })
	}
	mainLoop(name, k, kUnroll, func(u int) { step(u, u%acc.sets) }, func() {
		ra.advance(4 * kUnroll)
		ADDQ(I32(panelBytes*kUnroll), bp)
	}, func() {
		step(0, 0)
		ra.advance(4)
		ADDQ(I32(panelBytes), bp)
	}, prefetchC)
	acc.reduce()

	storeTileAVX2(name, r, acc.at, c, ldc, nn, cp)
	Label(name + "_next")
	nextPass(name, nn, b, c)
	quarterPass(name, r, func() {
		MOVQ(a0, a)
		ra.setBase7()
	}, func(i, u int) Mem { return ra.row(i, 4*u) }, func(steps int) { ra.advance(4 * steps) }, b, c, ldc, nn, k0)
}

func zmm(i int) VecPhysical {
	return []VecPhysical{Z0, Z1, Z2, Z3, Z4, Z5, Z6, Z7, Z8, Z9, Z10, Z11, Z12, Z13, Z14, Z15,
		Z16, Z17, Z18, Z19, Z20, Z21, Z22, Z23, Z24, Z25, Z26, Z27, Z28, Z29, Z30, Z31}[i]
}

func ymm(i int) VecPhysical {
	return []VecPhysical{Y0, Y1, Y2, Y3, Y4, Y5, Y6, Y7, Y8, Y9, Y10, Y11, Y12, Y13, Y14, Y15}[i]
}

func xmm(i int) VecPhysical {
	return []VecPhysical{X0, X1, X2, X3, X4, X5, X6, X7, X8, X9}[i]
}

// fmaPeakAVX2 emits fmaPeakAVX2, which runs 12 independent chains of
// 256-bit FMAs (192 FLOP per iteration): the benchmarks divide by its rate to report a fraction of the peak
// this machine reaches under its current load.
func fmaPeakAVX2() {
	TEXT("fmaPeakAVX2", NOSPLIT, "func(iters int)")
	Doc("fmaPeakAVX2 runs iters iterations of 12 independent 8-lane FMAs (192 FLOP each).")
	n := Load(Param("iters"), GP64())
	for i := 0; i < 14; i++ {
		VXORPS(ymm(i), ymm(i), ymm(i))
	}
	TESTQ(n, n)
	JE(LabelRef("fmaPeakAVX2_done"))
	Label("fmaPeakAVX2_loop")
	for i := 0; i < 12; i++ {
		VFMADD231PS(Y12, Y13, ymm(i))
	}
	DECQ(n)
	JNE(LabelRef("fmaPeakAVX2_loop"))
	Label("fmaPeakAVX2_done")
	VZEROUPPER()
	RET()
}

// packBAVX2 emits sgemmPackBAVX2, which packs np full panels of B: row p
// of panel q (32 floats) is src[p*ldb+32*q:], stored at dst[(q*kb+p)*32:].
// It walks B row by row so that the reads stream.
func packBAVX2() {
	name := "sgemmPackBAVX2"
	TEXT(name, NOSPLIT, "func(kb int, np int, src *float32, ldb int, dst *float32)")
	Doc(name + " sets dst[(q*kb+p)*32+j] = src[p*ldb+q*32+j] for p < kb, q < np, j < 32.")
	kb := Load(Param("kb"), GP64())
	np := Load(Param("np"), GP64())
	src := Load(Param("src"), GP64())
	ldb := loadBytes("ldb")
	dst := Load(Param("dst"), GP64())
	pstride := GP64()
	MOVQ(kb, pstride)
	SHLQ(Imm(7), pstride) // kb*128 bytes between panels
	TESTQ(kb, kb)
	JE(LabelRef(name + "_done"))
	TESTQ(np, np)
	JE(LabelRef(name + "_done"))
	s, d, q := GP64(), GP64(), GP64()
	Label(name + "_row")
	MOVQ(src, s)
	MOVQ(dst, d)
	MOVQ(np, q)
	Label(name + "_panel")
	for v := 0; v < 4; v++ {
		VMOVUPS(Mem{Base: s, Disp: 32 * v}, ymm(v))
	}
	for v := 0; v < 4; v++ {
		VMOVUPS(ymm(v), Mem{Base: d, Disp: 32 * v})
	}
	ADDQ(I32(panelBytes), s)
	ADDQ(pstride, d)
	DECQ(q)
	JNE(LabelRef(name + "_panel"))
	ADDQ(ldb, src)
	ADDQ(I32(panelBytes), dst)
	DECQ(kb)
	JNE(LabelRef(name + "_row"))
	Label(name + "_done")
	VZEROUPPER()
	RET()
}

// packBTAVX2 emits sgemmPackBTAVX2, which packs one full panel of op(B)
// when B is stored transposed: column j of the panel is row j of src.
// It moves 8×8 blocks with an in-register transpose.
func packBTAVX2() {
	name := "sgemmPackBTAVX2"
	TEXT(name, NOSPLIT, "func(kb int, src *float32, ldb int, dst *float32)")
	Doc(name + " sets dst[p*32+j] = src[j*ldb+p] for j < 32, p < kb; kb is a multiple of 8.")
	kb := Load(Param("kb"), GP64())
	src := Load(Param("src"), GP64())
	ldb := loadBytes("ldb")
	dst := Load(Param("dst"), GP64())
	ldb3, ldb5, ldb7 := GP64(), GP64(), GP64()
	LEAQ(Mem{Base: ldb, Index: ldb, Scale: 2}, ldb3)
	LEAQ(Mem{Base: ldb, Index: ldb, Scale: 4}, ldb5)
	LEAQ(Mem{Base: ldb3, Index: ldb, Scale: 4}, ldb7)
	SHRQ(Imm(3), kb)
	JE(LabelRef(name + "_done"))
	grp, rowp, dp, cnt := GP64(), GP64(), GP64(), GP64()
	MOVQ(U32(4), grp)
	Label(name + "_group")
	MOVQ(src, rowp)
	MOVQ(dst, dp)
	MOVQ(kb, cnt)
	Label(name + "_block")
	transpose8(strideRows(rowp, ldb, ldb3, ldb5, ldb7, 8), dp, panelBytes)
	ADDQ(I32(32), rowp)
	ADDQ(I32(8*panelBytes), dp)
	DECQ(cnt)
	JNE(LabelRef(name + "_block"))
	LEAQ(Mem{Base: src, Index: ldb, Scale: 8}, src)
	ADDQ(I32(32), dst)
	DECQ(grp)
	JNE(LabelRef(name + "_group"))
	Label(name + "_done")
	VZEROUPPER()
	RET()
}
