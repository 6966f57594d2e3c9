package main

import (
	"fmt"

	. "github.com/mmcloughlin/avo/build"
	. "github.com/mmcloughlin/avo/operand"
	. "github.com/mmcloughlin/avo/reg"
)

// The matrix-vector kernels: c = alpha*op(B)·a + beta*c for one row of
// output, B as stored (T: dot products along B's rows; N: a combination
// of B's rows) or packed.

// gemvHead emits the TEXT and Doc of the sgemv kernel name, whose B
// element bExpr multiplies a[p] for c[j], and loads k, a, b, ldb (in
// bytes), c and n (into nreg, a new register when nil).
func gemvHead(name, bExpr string, nreg Register) (k, a, b, ldb, c, n Register) {
	TEXT(name, NOSPLIT, gemvArgs)
	Doc(name+" computes c[j] = alpha*Σp a[p]*"+bExpr+" + beta*c[j] for j < n",
		"(c unread when beta is 0).")
	k = Load(Param("k"), GP64())
	a = Load(Param("a"), GP64())
	b = Load(Param("b"), GP64())
	ldb = loadBytes("ldb")
	c = Load(Param("c"), GP64())
	if nreg == nil {
		nreg = GP64()
	}
	n = Load(Param("n"), nreg)
	return
}

// gemvTISA is what the AVX-512 and the AVX2 form of sgemvT differ in.
type gemvTISA struct {
	name  string
	vec   func(int) VecPhysical // zmm or ymm
	lanes int                   // floats per vector
	zero  func(...Op)           // VPXORD or VXORPS
	// tailMask emits the mask of the k mod lanes tail of the dot
	// products, which tailLoad(m, dst) loads through.
	tailMask func(k Register)
	tailLoad func(m Mem, dst VecPhysical)
	// bTail receives B's tail (A's goes to vec(8)); alpha and beta are
	// broadcast into their registers.
	bTail, alpha, beta VecPhysical
}

// gemvTAVX512 emits sgemvTAVX512: c[j] = alpha*Σp a[p]*b[j*ldb+p] +
// beta*c[j] for j < n (c unread when beta is 0): four dot products at a
// time, each over two zmm accumulators, the k tail masked by K1.
func gemvTAVX512() {
	gemvT(gemvTISA{
		name: "sgemvTAVX512", vec: zmm, lanes: 16, zero: VPXORD,
		tailMask: func(k Register) {
			Comment("K1 = mask of the k mod 16 tail: (1 << (k&15)) - 1.")
			kTailMaskK1(k)
		},
		tailLoad: func(m Mem, dst VecPhysical) { VMOVUPS_Z(m, K1, dst) },
		bTail:    Z9, alpha: Z10, beta: Z11,
	})
}

// gemvTAVX2 emits sgemvTAVX2: c[j] = alpha*Σp a[p]*b[j*ldb+p] + beta*c[j]
// for j < n (c unread when beta is 0): four dot products at a time, each
// over two ymm accumulators, the k tail (k mod 8) through VMASKMOVPS.
func gemvTAVX2() {
	gemvT(gemvTISA{
		name: "sgemvTAVX2", vec: ymm, lanes: 8, zero: VXORPS,
		tailMask: func(k Register) {
			Comment("Y11 = mask of the k mod 8 tail: sgemmMaskTable + 4*(16 - k%8).")
			mt := GP64()
			MOVQ(k, mt)
			ANDQ(I32(7), mt)
			NEGQ(mt)
			tbl := GP64()
			LEAQ(maskTable, tbl)
			LEAQ(Mem{Base: tbl, Index: mt, Scale: 4, Disp: 4 * maskEntries}, tbl)
			VMOVUPS(Mem{Base: tbl}, Y11)
		},
		tailLoad: func(m Mem, dst VecPhysical) { VMASKMOVPS(m, Y11, dst) },
		bTail:    Y10, alpha: Y12, beta: Y13,
	})
}

// gemvT emits the sgemvT kernel of g: four rows of b at a time, each dot
// product over two accumulators (vec(i) and vec(4+i)) two vectors a step,
// then one vector, then the masked tail, summed across lanes at the end;
// then the rows one at a time.
func gemvT(g gemvTISA) {
	name := g.name
	k, a, b, ldb, c, n := gemvHead(name, "b[j*ldb+p]", nil)
	g.tailMask(k)
	betaZero := alphaBetaFlag(g.alpha, g.beta)

	ldb3 := GP64()
	LEAQ(Mem{Base: ldb, Index: ldb, Scale: 2}, ldb3)
	rows := [4]Register{b, GP64(), GP64(), GP64()}
	p := GP64()
	kk := GP64()
	vb := 4 * g.lanes
	at := func(base Register, disp int) Mem { return Mem{Base: base, Index: p, Scale: 1, Disp: disp} }

	dots := func(nr int, label string) {
		// rows[1..nr-1] = b + i*ldb
		rowAt := []Mem{{}, {Base: b, Index: ldb, Scale: 1}, {Base: b, Index: ldb, Scale: 2}, {Base: b, Index: ldb3, Scale: 1}}
		for i := 1; i < nr; i++ {
			LEAQ(rowAt[i], rows[i])
		}
		for i := 0; i < 8; i++ {
			g.zero(g.vec(i), g.vec(i), g.vec(i))
		}
		XORQ(p, p)
		MOVQ(k, kk)
		CMPQ(kk, I32(int32(2*g.lanes)))
		JL(LabelRef(fmt.Sprintf("%s_k%d", label, g.lanes)))
		Label(fmt.Sprintf("%s_k%d", label, 2*g.lanes))
		VMOVUPS(at(a, 0), g.vec(8))
		VMOVUPS(at(a, vb), g.vec(9))
		for i := 0; i < nr; i++ {
			VFMADD231PS(at(rows[i], 0), g.vec(8), g.vec(i))
			VFMADD231PS(at(rows[i], vb), g.vec(9), g.vec(4+i))
		}
		ADDQ(I32(int32(2*vb)), p)
		SUBQ(I32(int32(2*g.lanes)), kk)
		CMPQ(kk, I32(int32(2*g.lanes)))
		JGE(LabelRef(fmt.Sprintf("%s_k%d", label, 2*g.lanes)))
		Label(fmt.Sprintf("%s_k%d", label, g.lanes))
		CMPQ(kk, I32(int32(g.lanes)))
		JL(LabelRef(label + "_ktail"))
		VMOVUPS(at(a, 0), g.vec(8))
		for i := 0; i < nr; i++ {
			VFMADD231PS(at(rows[i], 0), g.vec(8), g.vec(i))
		}
		ADDQ(I32(int32(vb)), p)
		SUBQ(I32(int32(g.lanes)), kk)
		Label(label + "_ktail")
		TESTQ(kk, kk)
		JE(LabelRef(label + "_reduce"))
		g.tailLoad(at(a, 0), g.vec(8))
		for i := 0; i < nr; i++ {
			g.tailLoad(at(rows[i], 0), g.bTail)
			VFMADD231PS(g.bTail, g.vec(8), g.vec(i))
		}
		Label(label + "_reduce")
		for i := 0; i < nr; i++ {
			VADDPS(g.vec(4+i), g.vec(i), g.vec(i))
			if g.lanes == 16 {
				VEXTRACTF64X4(Imm(1), zmm(i), Y8)
				VADDPS(Y8, ymm(i), ymm(i))
			}
			VEXTRACTF128(Imm(1), ymm(i), X8)
			VADDPS(X8, xmm(i), xmm(i))
		}
	}

	alpha, beta := g.alpha.AsX(), g.beta.AsX()
	Comment("Four rows of b at a time.")
	CMPQ(n, I32(4))
	JL(LabelRef(name + "_one"))
	Label(name + "_four")
	dots(4, name+"_four")
	VHADDPS(X1, X0, X0)
	VHADDPS(X3, X2, X2)
	VHADDPS(X2, X0, X0)
	VMULPS(alpha, X0, X0)
	TESTL(betaZero, betaZero)
	JNE(LabelRef(name + "_four_store"))
	VMOVUPS(Mem{Base: c}, X9)
	VFMADD231PS(beta, X9, X0)
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
	VMULSS(alpha, X0, X0)
	TESTL(betaZero, betaZero)
	JNE(LabelRef(name + "_one_store"))
	VMOVSS(Mem{Base: c}, X9)
	VFMADD231SS(beta, X9, X0)
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
	k, a, b, ldb, c, n := gemvHead(name, "b[p*ldb+j]", RCX)
	betaZero := alphaBetaFlag(Z16, Z17)
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
	fma := func(x VecPhysical, set int) {
		for v := 0; v < 4; v++ {
			VFMADD231PS(Mem{Base: bp, Disp: 64 * v}, x, kmask[v], zmm(4*set+v))
		}
	}
	nextRow := func() { ADDQ(ldb, bp) }
	kPairs(name, ap, kk, [2]VecPhysical{Z8, Z9}, fma, nextRow, nextRow, func() {})
	gemvStore(name, 4, zmm, Z16, betaZero, func(v int, acc VecPhysical) {
		VMOVUPS_Z(Mem{Base: c, Disp: 64 * v}, kmask[v], Z9)
		VFMADD231PS(Z17, Z9, acc)
	}, func(v int, acc VecPhysical) {
		VMOVUPS(acc, kmask[v], Mem{Base: c, Disp: 64 * v})
	})
	ADDQ(I32(256), b)
	ADDQ(I32(256), c)
	SUBQ(I32(64), n)
	JG(LabelRef(name + "_chunk"))
	VZEROUPPER()
	RET()
}

// gemvNAVX2 emits sgemvNAVX2: c[j] = alpha*Σp a[p]*b[p*ldb+j] + beta*c[j]
// for j < n (c unread when beta is 0): 32 columns at a time in Y0..Y3
// (even p) and Y4..Y7 (odd p), then 8 at a time, then the last n mod 8
// through VMASKMOVPS.
func gemvNAVX2() {
	name := "sgemvNAVX2"
	k, a, b, ldb, c, n := gemvHead(name, "b[p*ldb+j]", nil)
	betaZero := alphaBetaFlag(Y12, Y13)
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
		// fmaMem adds x times the vector at m to acc.
		fmaMem := func(m Mem, x, acc VecPhysical) {
			if masked {
				VMASKMOVPS(m, Y11, Y10)
				VFMADD231PS(Y10, x, acc)
			} else {
				VFMADD231PS(m, x, acc)
			}
		}
		fma := func(x VecPhysical, set int) {
			for v := 0; v < nv; v++ {
				fmaMem(Mem{Base: bp, Disp: 32 * v}, x, ymm(set*4+v))
			}
		}
		nextRow := func() { ADDQ(ldb, bp) }
		kPairs(label, ap, kk, [2]VecPhysical{Y8, Y9}, fma, nextRow, nextRow, func() {})
		gemvStore(label, nv, ymm, Y12, betaZero, func(v int, acc VecPhysical) {
			fmaMem(Mem{Base: c, Disp: 32 * v}, Y13, acc)
		}, func(v int, acc VecPhysical) {
			m := Mem{Base: c, Disp: 32 * v}
			if masked {
				VMASKMOVPS(acc, Y11, m)
			} else {
				VMOVUPS(acc, m)
			}
		})
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
	VMOVUPS(Mem{Base: maskAt(n)}, Y11)
	chunk(1, true, name+"_cm")
	Label(name + "_ret")
	VZEROUPPER()
	RET()
}

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
	betaZero := alphaBetaFlag(Y12, Y13)
	TESTQ(np, np)
	JE(LabelRef(name + "_ret"))
	ap, kk := GP64(), GP64()

	Label(name + "_panel")
	for i := 0; i < 8; i++ {
		VXORPS(ymm(i), ymm(i), ymm(i))
	}
	MOVQ(a, ap)
	MOVQ(k, kk)
	fma := func(x VecPhysical, set int) {
		for v := 0; v < 4; v++ {
			VFMADD231PS(Mem{Base: b, Disp: panelBytes*set + 32*v}, x, ymm(4*set+v))
		}
	}
	kPairs(name, ap, kk, [2]VecPhysical{Y8, Y9}, fma, func() {},
		func() { ADDQ(I32(2*panelBytes), b) }, func() { ADDQ(I32(panelBytes), b) })
	gemvPanelStore(name, c, betaZero)
	DECQ(np)
	JNE(LabelRef(name + "_panel"))
	Label(name + "_ret")
	VZEROUPPER()
	RET()
}

// gemvPanelStore emits the store of a packed panel's 32 sums at c (see
// gemvStore; alpha and beta in Y12 and Y13) and moves c to the next
// panel.
func gemvPanelStore(name string, c, betaZero Register) {
	gemvStore(name, 4, ymm, Y12, betaZero, func(v int, acc VecPhysical) {
		VFMADD231PS(Mem{Base: c, Disp: 32 * v}, Y13, acc)
	}, func(v int, acc VecPhysical) {
		VMOVUPS(acc, Mem{Base: c, Disp: 32 * v})
	})
	ADDQ(I32(panelBytes), c)
}

// gemvSkipAVX2 emits sgemvSkipAVX2, sgemvPackedAVX2 on the listed steps
// of a only: even[0:ne] are the byte offsets 128*p (the rows of a packed
// panel) of the even steps p of the k block at which a[p] is not zero,
// odd[0:no] those of the odd steps, each list increasing. Every sum takes
// its terms in the order sgemvPackedAVX2 takes them: the even steps into
// Y0..Y3 and the odd ones into Y4..Y7, one after the other in each, so
// with a[p] zero at every step left out (and b finite) the result is
// the same bit for bit. Pairs of one even and one odd step go together
// while both lists last, eight FMA chains, as sgemvPackedAVX2's pairs.
func gemvSkipAVX2() {
	name := "sgemvSkipAVX2"
	TEXT(name, NOSPLIT, "func(ne int, no int, even *int32, odd *int32, a *float32, b *float32, c *float32, np int, ps int, alpha float32, beta float32)")
	Pragma("noescape") // the kernel keeps no pointer
	Doc(name+" computes c[j] = alpha*Σp a[p]*b[(j/32)*ps/4 + p*32 + j%32] + beta*c[j]",
		"for j < 32*np (c unread when beta is 0) over the steps p listed in",
		"even[:ne] and odd[:no] as byte offsets 128*p: np packed panels ps",
		"bytes apart, summed as sgemvPackedAVX2 sums all the steps.")
	a := Load(Param("a"), GP64())
	b := Load(Param("b"), GP64())
	c := Load(Param("c"), GP64())
	betaZero := alphaBetaFlag(Y12, Y13)
	// The ends of the pairs, of the even list and of the odd list.
	ne := Load(Param("ne"), GP64())
	no := Load(Param("no"), GP64())
	pairs := GP64()
	MOVQ(ne, pairs)
	CMPQ(no, pairs)
	CMOVQLT(no, pairs)
	even := Load(Param("even"), GP64())
	odd := Load(Param("odd"), GP64())
	pairEnd, evenEnd, oddEnd := GP64(), GP64(), GP64()
	LEAQ(Mem{Base: even, Index: pairs, Scale: 4}, pairEnd)
	LEAQ(Mem{Base: even, Index: ne, Scale: 4}, evenEnd)
	LEAQ(Mem{Base: odd, Index: no, Scale: 4}, oddEnd)
	CMPQ(paramAddr("np"), I8(0))
	JLE(LabelRef(name + "_ret"))
	ie, io, t0, t1, s := GP64(), GP64(), GP64(), GP64(), GP64()

	// step adds a[p]*row p of the panel at b to the accumulators of set
	// (0 even, 1 odd), the offset 128*p in t, through x.
	step := func(t Register, x VecPhysical, set int) {
		MOVQ(t, s)
		SHRQ(U8(5), s) // 4*p: a[p]'s offset
		VBROADCASTSS(Mem{Base: a, Index: s, Scale: 1}, x)
		for v := 0; v < 4; v++ {
			VFMADD231PS(Mem{Base: b, Index: t, Scale: 1, Disp: 32 * v}, x, ymm(4*set+v))
		}
	}
	Label(name + "_panel")
	for i := 0; i < 8; i++ {
		VXORPS(ymm(i), ymm(i), ymm(i))
	}
	Load(Param("even"), ie)
	Load(Param("odd"), io)
	CMPQ(ie, pairEnd)
	JAE(LabelRef(name + "_evens"))
	Label(name + "_pairs")
	MOVLQSX(Mem{Base: ie}, t0)
	MOVLQSX(Mem{Base: io}, t1)
	step(t0, Y8, 0)
	step(t1, Y9, 1)
	ADDQ(I8(4), ie)
	ADDQ(I8(4), io)
	CMPQ(ie, pairEnd)
	JB(LabelRef(name + "_pairs"))
	// rest emits the loop over the steps left in one list, from p to end,
	// into set, then goes on at next.
	rest := func(label string, p, end, t Register, x VecPhysical, set int, next string) {
		Label(label)
		CMPQ(p, end)
		JAE(LabelRef(next))
		MOVLQSX(Mem{Base: p}, t)
		step(t, x, set)
		ADDQ(I8(4), p)
		JMP(LabelRef(label))
	}
	rest(name+"_evens", ie, evenEnd, t0, Y8, 0, name+"_odds")
	rest(name+"_odds", io, oddEnd, t1, Y9, 1, name+"_store")
	Label(name + "_store")
	gemvPanelStore(name, c, betaZero)
	ADDQ(paramAddr("ps"), b)
	DECQ(paramAddr("np"))
	JNE(LabelRef(name + "_panel"))
	Label(name + "_ret")
	VZEROUPPER()
	RET()
}

// nonZeroMaskAVX2 emits nonZeroMaskAVX2: bit j of its result set when
// a[j] is neither +0 nor -0 (a NaN is set), for j < n; n is a multiple
// of 8 up to 64. It is how the one-row skipping product finds its steps.
func nonZeroMaskAVX2() {
	name := "nonZeroMaskAVX2"
	TEXT(name, NOSPLIT, "func(n int, a *float32) uint64")
	Pragma("noescape")
	Doc(name+" returns the mask of the a[j], j < n, that are neither +0 nor",
		"-0 (NaN set); n is a multiple of 8 up to 64.")
	n := Load(Param("n"), GP64())
	a := Load(Param("a"), GP64())
	m, bits := GP64(), GP64()
	XORQ(m, m)
	VXORPS(Y1, Y1, Y1)
	SHRQ(U8(3), n)
	JE(LabelRef(name + "_ret"))
	Comment("From the last eight values to the first, shifting them up.")
	MOVQ(n, bits)
	SHLQ(U8(5), bits)
	LEAQ(Mem{Base: a, Index: bits, Scale: 1, Disp: -32}, a) // the last eight
	Label(name + "_loop")
	SHLQ(U8(8), m)
	VMOVUPS(Mem{Base: a}, Y0)
	VPSLLD(U8(1), Y0, Y0) // drop the sign: ±0 both become 0
	VPCMPEQD(Y1, Y0, Y0)
	VMOVMSKPS(Y0, bits.As32())
	XORL(U32(0xff), bits.As32())
	ORQ(bits, m)
	SUBQ(I8(32), a)
	DECQ(n)
	JNE(LabelRef(name + "_loop"))
	Label(name + "_ret")
	Store(m, ReturnIndex(0))
	VZEROUPPER()
	RET()
}
