package main

import (
	"fmt"

	. "github.com/mmcloughlin/avo/build"
	. "github.com/mmcloughlin/avo/operand"
	. "github.com/mmcloughlin/avo/reg"
)

// dotsLDB is the distance in floats between the columns of B that the
// dots kernels read: sgemm_act.go gathers them into a buffer of
// dotColsMax columns of actKC floats (dotsLDB there, which its test
// checks against these kernels).
const dotsLDB = 256

// dotsAVX512 emits sgemmDots<nc>AVX512, the last nc columns of a
// convolution's product as dot products of A's rows (in place) with
// those columns of B (gathered, each one contiguous): C[i][q] =
// Σp a[i*lda+p]*b[q*dotsLDB+p] + beta*C[i][q] for i < m and q < nc (C
// unread when beta is ±0), k ≤ dotsLDB. Four rows at a time and then one:
// a 4-row step loads four vectors of A and nc of B for 4·nc multiply-adds,
// so A is read once for all nc columns (nc passes of sgemvT read it nc
// times, and spend a load on every multiply-add). Each (row, column) sums
// in one zmm, 16 steps a vector and the k tail masked by K1, and is
// reduced across lanes by the same instructions in both loops, so a row
// gets the same bits whichever loop computes it (a product split by rows
// over threads is bit for bit the whole one).
func dotsAVX512(nc int) {
	name := fmt.Sprintf("sgemmDots%dAVX512", nc)
	TEXT(name, NOSPLIT, "func(k int, a *float32, lda int, b *float32, c *float32, ldc int, beta float32, m int)")
	Doc(name+" sets c[i*ldc+q] = Σp a[i*lda+p]*b[q*256+p] + beta*c[i*ldc+q]",
		fmt.Sprintf("for i < m, q < %d and p < k ≤ 256 (c unread when beta is ±0).", nc))
	k := Load(Param("k"), GP64())
	a := Load(Param("a"), GP64())
	lda := loadBytes("lda")
	b := Load(Param("b"), GP64())
	c := Load(Param("c"), GP64())
	ldc := loadBytes("ldc")
	m := Load(Param("m"), GP64())

	Comment("K1 = mask of the k mod 16 tail, K2 = mask of the columns.")
	mask := kTailMaskK1(k)
	MOVL(U32(1<<nc-1), mask.As32())
	KMOVW(mask.As32(), K2)
	Comment("kend = bytes of the whole vectors of k; k = its tail.")
	kend := GP64()
	MOVQ(k, kend)
	ANDQ(I32(-16), kend)
	SHLQ(Imm(2), kend)
	ANDQ(I32(15), k)
	broadcastParam("beta", Z31)
	betaZero := GP32()
	XORL(betaZero, betaZero)
	loadBetaIsZero()
	SETEQ(betaZero.As8())
	VPXORD(Z28, Z28, Z28) // the columns past nc in the reduction

	rows := [4]Register{a, GP64(), GP64(), GP64()}
	p := GP64()
	acc := func(i, q int) VecPhysical { return zmm(4*i + q) }
	av := func(i int) VecPhysical { return zmm(16 + i) }
	bv := func(q int) VecPhysical { return zmm(20 + q) }
	bAt := func(q int) Mem { return Mem{Base: b, Index: p, Scale: 1, Disp: 4 * dotsLDB * q} }
	aAt := func(i int) Mem { return Mem{Base: rows[i], Index: p, Scale: 1} }

	// group emits the dot products of r rows from rows[0] and their
	// stores from c; rows[1..r-1] are set up by the caller.
	group := func(r int, label string) {
		for i := 0; i < r; i++ {
			for q := 0; q < nc; q++ {
				VPXORD(acc(i, q), acc(i, q), acc(i, q))
			}
		}
		XORQ(p, p)
		TESTQ(kend, kend)
		JE(LabelRef(label + "_tail"))
		Label(label + "_loop")
		for q := 0; q < nc; q++ {
			VMOVUPS(bAt(q), bv(q))
		}
		for i := 0; i < r; i++ {
			VMOVUPS(aAt(i), av(i))
		}
		for i := 0; i < r; i++ {
			for q := 0; q < nc; q++ {
				VFMADD231PS(bv(q), av(i), acc(i, q))
			}
		}
		ADDQ(I32(64), p)
		CMPQ(p, kend)
		JL(LabelRef(label + "_loop"))
		Label(label + "_tail")
		TESTQ(k, k)
		JE(LabelRef(label + "_reduce"))
		for q := 0; q < nc; q++ {
			VMOVUPS_Z(bAt(q), K1, bv(q))
		}
		for i := 0; i < r; i++ {
			VMOVUPS_Z(aAt(i), K1, av(i))
		}
		for i := 0; i < r; i++ {
			for q := 0; q < nc; q++ {
				VFMADD231PS(bv(q), av(i), acc(i, q))
			}
		}
		Label(label + "_reduce")
		col := func(i, q int) VecPhysical {
			if q < nc {
				return acc(i, q)
			}
			return Z28
		}
		for i := 0; i < r; i++ {
			Comment(fmt.Sprintf("Row %d: the lanes of its %d sums, into lanes 0-3 of Z24.", i, nc))
			VUNPCKLPS(col(i, 1), col(i, 0), Z24)
			VUNPCKHPS(col(i, 1), col(i, 0), Z25)
			VADDPS(Z25, Z24, Z24)
			VUNPCKLPS(col(i, 3), col(i, 2), Z25)
			VUNPCKHPS(col(i, 3), col(i, 2), Z26)
			VADDPS(Z26, Z25, Z25)
			VUNPCKLPD(Z25, Z24, Z26)
			VUNPCKHPD(Z25, Z24, Z27)
			VADDPS(Z27, Z26, Z24)
			// On zmm (AVX512F, no VL): the lanes past the sums hold
			// whatever, and K2 leaves them out.
			VEXTRACTF64X4(U8(1), Z24, Y25)
			VADDPS(Z25, Z24, Z24)
			VEXTRACTF32X4(U8(1), Z24, X25)
			VADDPS(Z25, Z24, Z24)
			TESTL(betaZero, betaZero)
			JNE(LabelRef(fmt.Sprintf("%s_store%d", label, i)))
			VMOVUPS_Z(Mem{Base: c}, K2, Z25)
			VFMADD231PS(Z31, Z25, Z24)
			Label(fmt.Sprintf("%s_store%d", label, i))
			VMOVUPS(Z24, K2, Mem{Base: c})
			ADDQ(ldc, c)
		}
	}

	Comment("Four rows at a time.")
	CMPQ(m, I32(4))
	JL(LabelRef(name + "_one"))
	Label(name + "_four")
	LEAQ(Mem{Base: a, Index: lda, Scale: 1}, rows[1])
	LEAQ(Mem{Base: a, Index: lda, Scale: 2}, rows[2])
	LEAQ(Mem{Base: rows[1], Index: lda, Scale: 2}, rows[3])
	group(4, name+"_four")
	LEAQ(Mem{Base: a, Index: lda, Scale: 4}, a)
	SUBQ(I32(4), m)
	CMPQ(m, I32(4))
	JGE(LabelRef(name + "_four"))

	Label(name + "_one")
	TESTQ(m, m)
	JE(LabelRef(name + "_ret"))
	group(1, name+"_one")
	ADDQ(lda, a)
	DECQ(m)
	JMP(LabelRef(name + "_one"))
	Label(name + "_ret")
	VZEROUPPER()
	RET()
}
