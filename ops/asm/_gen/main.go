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
// Beside them: matrix-vector products (gemv.go for a packed B), packing,
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

var arm64Out = flag.String("arm64", "", "write the arm64 kernels to `file` (instead of the amd64 output)")

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
	maskTable = GLOBL("sgemmMaskTable", RODATA|NOPTR)
	for i := 0; i < 2*maskEntries; i++ {
		v := U32(0)
		if i < maskEntries {
			v = U32(0xffffffff)
		}
		DATA(4*i, v)
	}
	actTables()
	for r := 1; r <= mrAVX512; r++ {
		tileAVX512(r)
	}
	for r := 1; r <= mrAVX2; r++ {
		tileAVX2(r)
	}
	gemvTAVX512()
	gemvNAVX512()
	gemvTAVX2()
	gemvNAVX2()
	packBAVX2()
	packBTAVX2()
	fmaPeakAVX2()
	gemvPackedAVX2()
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
	Generate()
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

// jumpIfAlphaOne jumps to label when alpha is 1 (a product by it is exact,
// so skipping it changes no result).
func jumpIfAlphaOne(label string) {
	al, err := Param("alpha").Resolve()
	if err != nil {
		panic(err)
	}
	bits := GP32()
	MOVL(al.Addr, bits)
	CMPL(bits, U32(0x3f800000))
	JE(LabelRef(label))
}

// loadBetaIsZero sets the flags so that JE jumps when beta is ±0.
func loadBetaIsZero() {
	bt, err := Param("beta").Resolve()
	if err != nil {
		panic(err)
	}
	bits := GP32()
	MOVL(bt.Addr, bits)
	ANDL(U32(0x7fffffff), bits)
}

func broadcastParam(name string, dst VecPhysical) {
	p, err := Param(name).Resolve()
	if err != nil {
		panic(err)
	}
	VBROADCASTSS(p.Addr, dst)
}

// tileAVX512 emits sgemmTileAVX512x<r>: r rows by 32 columns, two zmm
// accumulators per row (Z0..Z27 at most), B in Z28/Z29, A broadcasts
// alternating in Z30/Z31. Columns at or past nn are masked off in C.
func tileAVX512(r int) {
	name := fmt.Sprintf("sgemmTileAVX512x%d", r)
	TEXT(name, NOSPLIT, tileArgs)
	Doc(fmt.Sprintf("%s computes an %d×32 tile: C[i][j] = alpha*Σp a[i*lda+p]*b[p*32+j] + beta*C[i][j]", name, r),
		"for i < r, j < nn (C unread when beta is 0).")
	sets := accSets(2 * r)
	acc := func(s, i, h int) VecPhysical { return zmm((s*r+i)*2 + h) }
	bv := [2]VecPhysical{Z28, Z29}
	av := [2]VecPhysical{Z30, Z31}

	k := Load(Param("k"), GP64())
	a := Load(Param("a"), GP64())
	lda := Load(Param("lda"), GP64())
	SHLQ(Imm(2), lda)
	b := Load(Param("b"), GP64())
	c := Load(Param("c"), GP64())
	ldc := Load(Param("ldc"), GP64())
	SHLQ(Imm(2), ldc)
	ra := newRowAddr(r, a, lda)
	ra.setBase7()

	prefetchC := func() {
		cp := GP64()
		MOVQ(c, cp)
		for i := 0; i < r; i++ {
			PREFETCHT0(Mem{Base: cp})
			PREFETCHT0(Mem{Base: cp, Disp: 64})
			PREFETCHT0(Mem{Base: cp, Disp: 124})
			if i+1 < r {
				ADDQ(ldc, cp)
			}
		}
	}
	for s := 0; s < sets; s++ {
		for i := 0; i < r; i++ {
			for h := 0; h < 2; h++ {
				VPXORD(acc(s, i, h), acc(s, i, h), acc(s, i, h))
			}
		}
	}

	step := func(u, s int) {
		VMOVUPS(Mem{Base: b, Disp: panelBytes * u}, bv[0])
		VMOVUPS(Mem{Base: b, Disp: panelBytes*u + 64}, bv[1])
		for i := 0; i < r; i++ {
			x := av[i%2]
			VBROADCASTSS(ra.row(i, 4*u), x)
			VFMADD231PS(bv[0], x, acc(s, i, 0))
			VFMADD231PS(bv[1], x, acc(s, i, 1))
		}
	}
	mainLoop(name, k, kUnroll, func(u int) { step(u, u%sets) }, func() {
		ra.advance(4 * kUnroll)
		ADDQ(I32(panelBytes*kUnroll), b)
	}, func() {
		step(0, 0)
		ra.advance(4)
		ADDQ(I32(panelBytes), b)
	}, prefetchC)

	for s := 1; s < sets; s++ {
		for i := 0; i < r; i++ {
			for h := 0; h < 2; h++ {
				VADDPS(acc(s, i, h), acc(0, i, h), acc(0, i, h))
			}
		}
	}

	Comment("Column masks: K1 for columns 0-15, K2 for 16-31.")
	nn := Load(Param("nn"), RCX)
	mask := GP64()
	MOVQ(U32(1), mask)
	SHLQ(CL, mask)
	DECQ(mask)
	KMOVW(mask.As32(), K1)
	SHRQ(Imm(16), mask)
	KMOVW(mask.As32(), K2)
	_ = nn
	kmask := [2]Register{K1, K2}

	Comment("C = alpha*acc + beta*C: all loads of C before any store, so that",
		"no load waits on a store to a row 4 KiB away (same low address bits).")
	broadcastParam("alpha", Z28)
	for i := 0; i < r; i++ {
		for h := 0; h < 2; h++ {
			VMULPS(Z28, acc(0, i, h), acc(0, i, h))
		}
	}
	cp := GP64()
	loadBetaIsZero()
	JE(LabelRef(name + "_store"))
	broadcastParam("beta", Z29)
	MOVQ(c, cp)
	for i := 0; i < r; i++ {
		for h := 0; h < 2; h++ {
			VFMADD231PS(Mem{Base: cp, Disp: 64 * h}, Z29, kmask[h], acc(0, i, h))
		}
		if i+1 < r {
			ADDQ(ldc, cp)
		}
	}
	Label(name + "_store")
	for i := 0; i < r; i++ {
		for h := 0; h < 2; h++ {
			VMOVUPS(acc(0, i, h), kmask[h], Mem{Base: c, Disp: 64 * h})
		}
		if i+1 < r {
			ADDQ(ldc, c)
		}
	}
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

// tileAVX2 emits sgemmTileAVX2x<r>: r rows by 32 columns done as two
// passes of 16 columns (r×16 with two ymm per row: Y0..Y11 at most), B in
// Y12/Y13, A broadcasts alternating in Y14/Y15. A partial pass masks C
// through VMASKMOVPS with masks from sgemmMaskTable; a last pass of at
// most 8 columns runs r×8 instead (quarterPass).
func tileAVX2(r int) {
	name := fmt.Sprintf("sgemmTileAVX2x%d", r)
	TEXT(name, NOSPLIT, tileArgs)
	Doc(fmt.Sprintf("%s computes an %d×32 tile: C[i][j] = alpha*Σp a[i*lda+p]*b[p*32+j] + beta*C[i][j]", name, r),
		"for i < r, j < nn (C unread when beta is 0).")
	sets := accSets(2 * r)
	acc := func(s, i, h int) VecPhysical { return ymm((s*r+i)*2 + h) }
	bv := [2]VecPhysical{Y12, Y13}
	av := [2]VecPhysical{Y14, Y15}

	k0 := Load(Param("k"), GP64())
	a0 := Load(Param("a"), GP64())
	lda := Load(Param("lda"), GP64())
	SHLQ(Imm(2), lda)
	b := Load(Param("b"), GP64())
	c := Load(Param("c"), GP64())
	ldc := Load(Param("ldc"), GP64())
	SHLQ(Imm(2), ldc)
	nn := Load(Param("nn"), GP64())
	k := GP64()
	a := GP64()
	ra := newRowAddr(r, a, lda)

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
		for i := 0; i < r; i++ {
			PREFETCHT0(Mem{Base: cp})
			PREFETCHT0(Mem{Base: cp, Disp: 60})
			if i+1 < r {
				ADDQ(ldc, cp)
			}
		}
	}
	for s := 0; s < sets; s++ {
		for i := 0; i < r; i++ {
			for h := 0; h < 2; h++ {
				VXORPS(acc(s, i, h), acc(s, i, h), acc(s, i, h))
			}
		}
	}
	step := func(u, s int) {
		VMOVUPS(Mem{Base: bp, Disp: panelBytes * u}, bv[0])
		VMOVUPS(Mem{Base: bp, Disp: panelBytes*u + 32}, bv[1])
		for i := 0; i < r; i++ {
			x := av[i%2]
			VBROADCASTSS(ra.row(i, 4*u), x)
			VFMADD231PS(bv[0], x, acc(s, i, 0))
			VFMADD231PS(bv[1], x, acc(s, i, 1))
		}
	}
	mainLoop(name, k, kUnroll, func(u int) { step(u, u%sets) }, func() {
		ra.advance(4 * kUnroll)
		ADDQ(I32(panelBytes*kUnroll), bp)
	}, func() {
		step(0, 0)
		ra.advance(4)
		ADDQ(I32(panelBytes), bp)
	}, prefetchC)
	for s := 1; s < sets; s++ {
		for i := 0; i < r; i++ {
			for h := 0; h < 2; h++ {
				VADDPS(acc(s, i, h), acc(0, i, h), acc(0, i, h))
			}
		}
	}

	storeTileAVX2(name, r, func(i, h int) VecPhysical { return acc(0, i, h) }, c, ldc, nn, cp)
	Label(name + "_next")
	SUBQ(I32(16), nn)
	JLE(LabelRef(name + "_ret"))
	ADDQ(I32(64), b)
	ADDQ(I32(64), c)
	JMP(LabelRef(name + "_half"))
	Label(name + "_ret")
	VZEROUPPER()
	RET()
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

// gemvTAVX512 emits sgemvTAVX512: c[j] = alpha*Σp a[p]*b[j*ldb+p] +
// beta*c[j] for j < n (c unread when beta is 0): four dot products at a
// time, each over two zmm accumulators, the k tail masked by K1.
func gemvTAVX512() {
	name := "sgemvTAVX512"
	TEXT(name, NOSPLIT, gemvArgs)
	Doc(name+" computes c[j] = alpha*Σp a[p]*b[j*ldb+p] + beta*c[j] for j < n",
		"(c unread when beta is 0).")
	k := Load(Param("k"), GP64())
	a := Load(Param("a"), GP64())
	b := Load(Param("b"), GP64())
	ldb := Load(Param("ldb"), GP64())
	SHLQ(Imm(2), ldb)
	c := Load(Param("c"), GP64())
	n := Load(Param("n"), GP64())
	Comment("K1 = mask of the k mod 16 tail: (1 << (k&15)) - 1.")
	cnt, mask := GP64(), GP64()
	MOVQ(k, cnt)
	ANDQ(I32(15), cnt)
	MOVQ(U32(1), mask)
	SHLXQ(cnt, mask, mask)
	DECQ(mask)
	KMOVW(mask.As32(), K1)
	broadcastParam("alpha", Z10)
	broadcastParam("beta", Z11)
	betaZero := GP32()
	XORL(betaZero, betaZero)
	loadBetaIsZero()
	SETEQ(betaZero.As8())

	ldb3 := GP64()
	LEAQ(Mem{Base: ldb, Index: ldb, Scale: 2}, ldb3)
	rows := [4]Register{b, GP64(), GP64(), GP64()}
	p := GP64()
	kk := GP64()

	dots := func(nr int, label string) {
		// rows[1..nr-1] = b + i*ldb
		for i := 1; i < nr; i++ {
			switch i {
			case 1:
				LEAQ(Mem{Base: b, Index: ldb, Scale: 1}, rows[1])
			case 2:
				LEAQ(Mem{Base: b, Index: ldb, Scale: 2}, rows[2])
			case 3:
				LEAQ(Mem{Base: b, Index: ldb3, Scale: 1}, rows[3])
			}
		}
		for i := 0; i < 8; i++ {
			VPXORD(zmm(i), zmm(i), zmm(i))
		}
		XORQ(p, p)
		MOVQ(k, kk)
		CMPQ(kk, I32(32))
		JL(LabelRef(label + "_k16"))
		Label(label + "_k32")
		VMOVUPS(Mem{Base: a, Index: p, Scale: 1}, Z8)
		VMOVUPS(Mem{Base: a, Index: p, Scale: 1, Disp: 64}, Z9)
		for i := 0; i < nr; i++ {
			VFMADD231PS(Mem{Base: rows[i], Index: p, Scale: 1}, Z8, zmm(i))
			VFMADD231PS(Mem{Base: rows[i], Index: p, Scale: 1, Disp: 64}, Z9, zmm(4+i))
		}
		ADDQ(I32(128), p)
		SUBQ(I32(32), kk)
		CMPQ(kk, I32(32))
		JGE(LabelRef(label + "_k32"))
		Label(label + "_k16")
		CMPQ(kk, I32(16))
		JL(LabelRef(label + "_ktail"))
		VMOVUPS(Mem{Base: a, Index: p, Scale: 1}, Z8)
		for i := 0; i < nr; i++ {
			VFMADD231PS(Mem{Base: rows[i], Index: p, Scale: 1}, Z8, zmm(i))
		}
		ADDQ(I32(64), p)
		SUBQ(I32(16), kk)
		Label(label + "_ktail")
		TESTQ(kk, kk)
		JE(LabelRef(label + "_reduce"))
		VMOVUPS_Z(Mem{Base: a, Index: p, Scale: 1}, K1, Z8)
		for i := 0; i < nr; i++ {
			VMOVUPS_Z(Mem{Base: rows[i], Index: p, Scale: 1}, K1, Z9)
			VFMADD231PS(Z9, Z8, zmm(i))
		}
		Label(label + "_reduce")
		for i := 0; i < nr; i++ {
			VADDPS(zmm(4+i), zmm(i), zmm(i))
			VEXTRACTF64X4(Imm(1), zmm(i), Y8)
			VADDPS(Y8, ymm(i), ymm(i))
			VEXTRACTF128(Imm(1), ymm(i), X8)
			VADDPS(X8, xmm(i), xmm(i))
		}
	}

	Comment("Four rows of b at a time.")
	CMPQ(n, I32(4))
	JL(LabelRef(name + "_one"))
	Label(name + "_four")
	dots(4, name+"_four")
	VHADDPS(X1, X0, X0)
	VHADDPS(X3, X2, X2)
	VHADDPS(X2, X0, X0)
	VMULPS(X10, X0, X0)
	TESTL(betaZero, betaZero)
	JNE(LabelRef(name + "_four_store"))
	VMOVUPS(Mem{Base: c}, X9)
	VFMADD231PS(X11, X9, X0)
	Label(name + "_four_store")
	VMOVUPS(X0, Mem{Base: c})
	LEAQ(Mem{Base: b, Index: ldb, Scale: 4}, b)
	ADDQ(I32(16), c)
	SUBQ(I32(4), n)
	CMPQ(n, I32(4))
	JGE(LabelRef(name + "_four"))

	Label(name + "_one")
	TESTQ(n, n)
	JE(LabelRef(name + "_ret"))
	Label(name + "_oneloop")
	dots(1, name+"_one")
	VHADDPS(X0, X0, X0)
	VHADDPS(X0, X0, X0)
	VMULSS(X10, X0, X0)
	TESTL(betaZero, betaZero)
	JNE(LabelRef(name + "_one_store"))
	VMOVSS(Mem{Base: c}, X9)
	VFMADD231SS(X11, X9, X0)
	Label(name + "_one_store")
	VMOVSS(X0, Mem{Base: c})
	ADDQ(ldb, b)
	ADDQ(I32(4), c)
	DECQ(n)
	JNE(LabelRef(name + "_oneloop"))
	Label(name + "_ret")
	VZEROUPPER()
	RET()
}

// gemvNAVX512 emits sgemvNAVX512: c[j] = alpha*Σp a[p]*b[p*ldb+j] +
// beta*c[j] for j < n (c unread when beta is 0): 64 columns at a time in
// Z0..Z3 (even p) and Z4..Z7 (odd p), the column tail masked by K1..K4.
func gemvNAVX512() {
	name := "sgemvNAVX512"
	TEXT(name, NOSPLIT, gemvArgs)
	Doc(name+" computes c[j] = alpha*Σp a[p]*b[p*ldb+j] + beta*c[j] for j < n",
		"(c unread when beta is 0).")
	k := Load(Param("k"), GP64())
	a := Load(Param("a"), GP64())
	b := Load(Param("b"), GP64())
	ldb := Load(Param("ldb"), GP64())
	SHLQ(Imm(2), ldb)
	c := Load(Param("c"), GP64())
	n := Load(Param("n"), RCX)
	broadcastParam("alpha", Z16)
	broadcastParam("beta", Z17)
	betaZero := GP32()
	XORL(betaZero, betaZero)
	loadBetaIsZero()
	SETEQ(betaZero.As8())
	kmask := [4]Register{K1, K2, K3, K4}
	mask := GP64()
	ap := GP64()
	bp := GP64()
	kk := GP64()

	Label(name + "_chunk")
	Comment("Masks for the min(n, 64) columns of this chunk.")
	MOVQ(I32(-1), mask)
	CMPQ(n, I32(64))
	JGE(LabelRef(name + "_masks"))
	MOVQ(U32(1), mask)
	SHLQ(CL, mask)
	DECQ(mask)
	Label(name + "_masks")
	for v := 0; v < 4; v++ {
		KMOVW(mask.As32(), kmask[v])
		if v < 3 {
			SHRQ(Imm(16), mask)
		}
	}
	for i := 0; i < 8; i++ {
		VPXORD(zmm(i), zmm(i), zmm(i))
	}
	MOVQ(a, ap)
	MOVQ(b, bp)
	MOVQ(k, kk)
	CMPQ(kk, I32(2))
	JL(LabelRef(name + "_ktail"))
	Label(name + "_k2")
	VBROADCASTSS(Mem{Base: ap}, Z8)
	VBROADCASTSS(Mem{Base: ap, Disp: 4}, Z9)
	for v := 0; v < 4; v++ {
		VFMADD231PS(Mem{Base: bp, Disp: 64 * v}, Z8, kmask[v], zmm(v))
	}
	ADDQ(ldb, bp)
	for v := 0; v < 4; v++ {
		VFMADD231PS(Mem{Base: bp, Disp: 64 * v}, Z9, kmask[v], zmm(4+v))
	}
	ADDQ(ldb, bp)
	ADDQ(I32(8), ap)
	SUBQ(I32(2), kk)
	CMPQ(kk, I32(2))
	JGE(LabelRef(name + "_k2"))
	Label(name + "_ktail")
	TESTQ(kk, kk)
	JE(LabelRef(name + "_store"))
	VBROADCASTSS(Mem{Base: ap}, Z8)
	for v := 0; v < 4; v++ {
		VFMADD231PS(Mem{Base: bp, Disp: 64 * v}, Z8, kmask[v], zmm(v))
	}
	Label(name + "_store")
	for v := 0; v < 4; v++ {
		VADDPS(zmm(4+v), zmm(v), zmm(v))
		VMULPS(Z16, zmm(v), zmm(v))
	}
	TESTL(betaZero, betaZero)
	JNE(LabelRef(name + "_store0"))
	for v := 0; v < 4; v++ {
		VMOVUPS_Z(Mem{Base: c, Disp: 64 * v}, kmask[v], Z9)
		VFMADD231PS(Z17, Z9, zmm(v))
	}
	Label(name + "_store0")
	for v := 0; v < 4; v++ {
		VMOVUPS(zmm(v), kmask[v], Mem{Base: c, Disp: 64 * v})
	}
	ADDQ(I32(256), b)
	ADDQ(I32(256), c)
	SUBQ(I32(64), n)
	JG(LabelRef(name + "_chunk"))
	VZEROUPPER()
	RET()
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
	ldb := Load(Param("ldb"), GP64())
	SHLQ(Imm(2), ldb)
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

// gemvTAVX2 emits sgemvTAVX2: c[j] = alpha*Σp a[p]*b[j*ldb+p] + beta*c[j]
// for j < n (c unread when beta is 0): four dot products at a time, each
// over two ymm accumulators, the k tail (k mod 8) through VMASKMOVPS.
func gemvTAVX2() {
	name := "sgemvTAVX2"
	TEXT(name, NOSPLIT, gemvArgs)
	Doc(name+" computes c[j] = alpha*Σp a[p]*b[j*ldb+p] + beta*c[j] for j < n",
		"(c unread when beta is 0).")
	k := Load(Param("k"), GP64())
	a := Load(Param("a"), GP64())
	b := Load(Param("b"), GP64())
	ldb := Load(Param("ldb"), GP64())
	SHLQ(Imm(2), ldb)
	c := Load(Param("c"), GP64())
	n := Load(Param("n"), GP64())
	Comment("Y11 = mask of the k mod 8 tail: sgemmMaskTable + 4*(16 - k%8).")
	mt := GP64()
	MOVQ(k, mt)
	ANDQ(I32(7), mt)
	NEGQ(mt)
	tbl := GP64()
	LEAQ(maskTable, tbl)
	LEAQ(Mem{Base: tbl, Index: mt, Scale: 4, Disp: 4 * maskEntries}, tbl)
	VMOVUPS(Mem{Base: tbl}, Y11)
	broadcastParam("alpha", Y12)
	broadcastParam("beta", Y13)
	betaZero := GP32()
	XORL(betaZero, betaZero)
	loadBetaIsZero()
	SETEQ(betaZero.As8())

	ldb3 := GP64()
	LEAQ(Mem{Base: ldb, Index: ldb, Scale: 2}, ldb3)
	rows := [4]Register{b, GP64(), GP64(), GP64()}
	p := GP64()
	kk := GP64()

	dots := func(nr int, label string) {
		for i := 1; i < nr; i++ {
			switch i {
			case 1:
				LEAQ(Mem{Base: b, Index: ldb, Scale: 1}, rows[1])
			case 2:
				LEAQ(Mem{Base: b, Index: ldb, Scale: 2}, rows[2])
			case 3:
				LEAQ(Mem{Base: b, Index: ldb3, Scale: 1}, rows[3])
			}
		}
		for i := 0; i < 8; i++ {
			VXORPS(ymm(i), ymm(i), ymm(i))
		}
		XORQ(p, p)
		MOVQ(k, kk)
		CMPQ(kk, I32(16))
		JL(LabelRef(label + "_k8"))
		Label(label + "_k16")
		VMOVUPS(Mem{Base: a, Index: p, Scale: 1}, Y8)
		VMOVUPS(Mem{Base: a, Index: p, Scale: 1, Disp: 32}, Y9)
		for i := 0; i < nr; i++ {
			VFMADD231PS(Mem{Base: rows[i], Index: p, Scale: 1}, Y8, ymm(i))
			VFMADD231PS(Mem{Base: rows[i], Index: p, Scale: 1, Disp: 32}, Y9, ymm(4+i))
		}
		ADDQ(I32(64), p)
		SUBQ(I32(16), kk)
		CMPQ(kk, I32(16))
		JGE(LabelRef(label + "_k16"))
		Label(label + "_k8")
		CMPQ(kk, I32(8))
		JL(LabelRef(label + "_ktail"))
		VMOVUPS(Mem{Base: a, Index: p, Scale: 1}, Y8)
		for i := 0; i < nr; i++ {
			VFMADD231PS(Mem{Base: rows[i], Index: p, Scale: 1}, Y8, ymm(i))
		}
		ADDQ(I32(32), p)
		SUBQ(I32(8), kk)
		Label(label + "_ktail")
		TESTQ(kk, kk)
		JE(LabelRef(label + "_reduce"))
		VMASKMOVPS(Mem{Base: a, Index: p, Scale: 1}, Y11, Y8)
		for i := 0; i < nr; i++ {
			VMASKMOVPS(Mem{Base: rows[i], Index: p, Scale: 1}, Y11, Y10)
			VFMADD231PS(Y10, Y8, ymm(i))
		}
		Label(label + "_reduce")
		for i := 0; i < nr; i++ {
			VADDPS(ymm(4+i), ymm(i), ymm(i))
			VEXTRACTF128(Imm(1), ymm(i), X8)
			VADDPS(X8, xmm(i), xmm(i))
		}
	}

	CMPQ(n, I32(4))
	JL(LabelRef(name + "_one"))
	Label(name + "_four")
	dots(4, name+"_four")
	VHADDPS(X1, X0, X0)
	VHADDPS(X3, X2, X2)
	VHADDPS(X2, X0, X0)
	VMULPS(X12, X0, X0)
	TESTL(betaZero, betaZero)
	JNE(LabelRef(name + "_four_store"))
	VMOVUPS(Mem{Base: c}, X9)
	VFMADD231PS(X13, X9, X0)
	Label(name + "_four_store")
	VMOVUPS(X0, Mem{Base: c})
	LEAQ(Mem{Base: b, Index: ldb, Scale: 4}, b)
	ADDQ(I32(16), c)
	SUBQ(I32(4), n)
	CMPQ(n, I32(4))
	JGE(LabelRef(name + "_four"))

	Label(name + "_one")
	TESTQ(n, n)
	JE(LabelRef(name + "_ret"))
	Label(name + "_oneloop")
	dots(1, name+"_one")
	VHADDPS(X0, X0, X0)
	VHADDPS(X0, X0, X0)
	VMULSS(X12, X0, X0)
	TESTL(betaZero, betaZero)
	JNE(LabelRef(name + "_one_store"))
	VMOVSS(Mem{Base: c}, X9)
	VFMADD231SS(X13, X9, X0)
	Label(name + "_one_store")
	VMOVSS(X0, Mem{Base: c})
	ADDQ(ldb, b)
	ADDQ(I32(4), c)
	DECQ(n)
	JNE(LabelRef(name + "_oneloop"))
	Label(name + "_ret")
	VZEROUPPER()
	RET()
}

// gemvNAVX2 emits sgemvNAVX2: c[j] = alpha*Σp a[p]*b[p*ldb+j] + beta*c[j]
// for j < n (c unread when beta is 0): 32 columns at a time in Y0..Y3
// (even p) and Y4..Y7 (odd p), then 8 at a time, then the last n mod 8
// through VMASKMOVPS.
func gemvNAVX2() {
	name := "sgemvNAVX2"
	TEXT(name, NOSPLIT, gemvArgs)
	Doc(name+" computes c[j] = alpha*Σp a[p]*b[p*ldb+j] + beta*c[j] for j < n",
		"(c unread when beta is 0).")
	k := Load(Param("k"), GP64())
	a := Load(Param("a"), GP64())
	b := Load(Param("b"), GP64())
	ldb := Load(Param("ldb"), GP64())
	SHLQ(Imm(2), ldb)
	c := Load(Param("c"), GP64())
	n := Load(Param("n"), GP64())
	broadcastParam("alpha", Y12)
	broadcastParam("beta", Y13)
	betaZero := GP32()
	XORL(betaZero, betaZero)
	loadBetaIsZero()
	SETEQ(betaZero.As8())
	ap, bp, kk := GP64(), GP64(), GP64()

	// chunk emits the product for nv vectors of 8 columns at b/c; masked
	// uses Y11 as the column mask of a single vector.
	chunk := func(nv int, masked bool, label string) {
		for i := 0; i < nv; i++ {
			VXORPS(ymm(i), ymm(i), ymm(i))
			VXORPS(ymm(4+i), ymm(4+i), ymm(4+i))
		}
		MOVQ(a, ap)
		MOVQ(b, bp)
		MOVQ(k, kk)
		fma := func(x VecPhysical, set int) {
			for v := 0; v < nv; v++ {
				m := Mem{Base: bp, Disp: 32 * v}
				if masked {
					VMASKMOVPS(m, Y11, Y10)
					VFMADD231PS(Y10, x, ymm(set*4+v))
				} else {
					VFMADD231PS(m, x, ymm(set*4+v))
				}
			}
		}
		CMPQ(kk, I32(2))
		JL(LabelRef(label + "_ktail"))
		Label(label + "_k2")
		VBROADCASTSS(Mem{Base: ap}, Y8)
		VBROADCASTSS(Mem{Base: ap, Disp: 4}, Y9)
		fma(Y8, 0)
		ADDQ(ldb, bp)
		fma(Y9, 1)
		ADDQ(ldb, bp)
		ADDQ(I32(8), ap)
		SUBQ(I32(2), kk)
		CMPQ(kk, I32(2))
		JGE(LabelRef(label + "_k2"))
		Label(label + "_ktail")
		TESTQ(kk, kk)
		JE(LabelRef(label + "_store"))
		VBROADCASTSS(Mem{Base: ap}, Y8)
		fma(Y8, 0)
		Label(label + "_store")
		for v := 0; v < nv; v++ {
			VADDPS(ymm(4+v), ymm(v), ymm(v))
			VMULPS(Y12, ymm(v), ymm(v))
		}
		TESTL(betaZero, betaZero)
		JNE(LabelRef(label + "_store0"))
		for v := 0; v < nv; v++ {
			m := Mem{Base: c, Disp: 32 * v}
			if masked {
				VMASKMOVPS(m, Y11, Y10)
				VFMADD231PS(Y10, Y13, ymm(v))
			} else {
				VFMADD231PS(m, Y13, ymm(v))
			}
		}
		Label(label + "_store0")
		for v := 0; v < nv; v++ {
			m := Mem{Base: c, Disp: 32 * v}
			if masked {
				VMASKMOVPS(ymm(v), Y11, m)
			} else {
				VMOVUPS(ymm(v), m)
			}
		}
	}

	CMPQ(n, I32(32))
	JL(LabelRef(name + "_eight"))
	Label(name + "_c32")
	chunk(4, false, name+"_c32")
	ADDQ(I32(128), b)
	ADDQ(I32(128), c)
	SUBQ(I32(32), n)
	CMPQ(n, I32(32))
	JGE(LabelRef(name + "_c32"))
	Label(name + "_eight")
	CMPQ(n, I32(8))
	JL(LabelRef(name + "_last"))
	chunk(1, false, name+"_c8")
	ADDQ(I32(32), b)
	ADDQ(I32(32), c)
	SUBQ(I32(8), n)
	JMP(LabelRef(name + "_eight"))
	Label(name + "_last")
	TESTQ(n, n)
	JE(LabelRef(name + "_ret"))
	Comment("Y11 = mask of the last n < 8 columns: sgemmMaskTable + 4*(16 - n).")
	tbl := GP64()
	LEAQ(maskTable, tbl)
	NEGQ(n)
	LEAQ(Mem{Base: tbl, Index: n, Scale: 4, Disp: 4 * maskEntries}, tbl)
	VMOVUPS(Mem{Base: tbl}, Y11)
	chunk(1, true, name+"_cm")
	Label(name + "_ret")
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
	ldb := Load(Param("ldb"), GP64())
	SHLQ(Imm(2), ldb)
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
	rows := []Mem{
		{Base: rowp}, {Base: rowp, Index: ldb, Scale: 1}, {Base: rowp, Index: ldb, Scale: 2},
		{Base: rowp, Index: ldb3, Scale: 1}, {Base: rowp, Index: ldb, Scale: 4},
		{Base: rowp, Index: ldb5, Scale: 1}, {Base: rowp, Index: ldb3, Scale: 2},
		{Base: rowp, Index: ldb7, Scale: 1},
	}
	for i, m := range rows {
		VMOVUPS(m, ymm(i))
	}
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
	// out q (q < 4) = low halves of s q and s q+4; out q+4 the high halves.
	for q := 0; q < 4; q++ {
		VPERM2F128(U8(0x20), ymm(q+4), ymm(q), ymm(8+q))
		VPERM2F128(U8(0x31), ymm(q+4), ymm(q), ymm(12+q))
	}
	for q := 0; q < 8; q++ {
		VMOVUPS(ymm(8+q), Mem{Base: dp, Disp: panelBytes * q})
	}
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
