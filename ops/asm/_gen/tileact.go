package main

import (
	"fmt"

	. "github.com/mmcloughlin/avo/build"
	. "github.com/mmcloughlin/avo/operand"
	. "github.com/mmcloughlin/avo/reg"
)

const tilePActArgs = "func(k int, a *float32, b *float32, c *float32, ldc int, bias *float32, lo float32, hi float32, beta float32, nn int, zoff int, sum int)"

// actStore emits the stores of a fused AVX2 tile: for rows i < r and
// halves hh of 8 columns at byte offset disp (+32*hh) of the row at cp,
// C = min(max((acc(i, hh) + bias[i]) + z, lo), hi), where z, when the sum
// parameter is not 0, is the float at the same place zoff bytes further
// (z has C's stride); cp is moved down the rows. The additions are those
// of convBiasSumActAVX2 (bias first as the first operand, then z) and
// max and min take the value second, so that NaNs pass as there.
func actStore(label string, r int, acc func(i, hh int) VecPhysical, cp, ldc, bias, zoff Register, disp int) {
	clampStore(label, r, acc, cp, ldc, bias, zoff, disp, 32, [3]VecPhysical{Y12, Y13, Y14}, nil)
}

// clampStore is actStore for vectors of vecBytes, lo, hi and the bias
// broadcast in regs, and, when kmask is not nil, the half hh of each row
// loaded and stored through the mask kmask[hh] (AVX-512; one mask for
// the 16-column tiles).
func clampStore(label string, r int, acc func(i, hh int) VecPhysical, cp, ldc, bias, zoff Register, disp, vecBytes int, regs [3]VecPhysical, kmask []Register) {
	lo, hi, bv := regs[0], regs[1], regs[2]
	halves := 2 // vectors a row: two, or with kmask as many as its masks
	if kmask != nil {
		halves = len(kmask)
	}
	broadcastParam("lo", lo)
	broadcastParam("hi", hi)
	c0 := GP64()
	MOVQ(cp, c0)
	for _, sum := range []bool{true, false} {
		if sum {
			CMPQ(paramAddr("sum"), I32(0))
			JE(LabelRef(label + "_nosum"))
		} else {
			Label(label + "_nosum")
			MOVQ(c0, cp)
		}
		eachRow(r, cp, ldc, func(i int) {
			VBROADCASTSS(Mem{Base: bias, Disp: 4 * i}, bv)
			for hh := 0; hh < halves; hh++ {
				x := acc(i, hh)
				VADDPS(x, bv, x)
				z := Mem{Base: cp, Index: zoff, Scale: 1, Disp: disp + vecBytes*hh}
				out := Mem{Base: cp, Disp: disp + vecBytes*hh}
				if kmask == nil {
					if sum {
						VADDPS(z, x, x)
					}
					VMAXPS(x, lo, x)
					VMINPS(x, hi, x)
					VMOVUPS(x, out)
					continue
				}
				if sum {
					VADDPS(z, x, kmask[hh], x)
				}
				VMAXPS(x, lo, x)
				VMINPS(x, hi, x)
				VMOVUPS(x, kmask[hh], out)
			}
		})
		if sum {
			JMP(LabelRef(label + "_stored"))
		}
	}
	Label(label + "_stored")
}

// prefetchActC prefetches the 16 columns at byte offset disp of the r
// rows of C from c on, and those of z, zoff bytes past them (C itself
// again when there is none: zoff is 0).
func prefetchActC(r int, c, cp, ldc, zoff Register, disp int) {
	MOVQ(c, cp)
	eachRow(r, cp, ldc, func(int) {
		prefetch(Mem{Base: cp, Disp: disp}, Mem{Base: cp, Disp: disp + 60},
			Mem{Base: cp, Index: zoff, Scale: 1, Disp: disp}, Mem{Base: cp, Index: zoff, Scale: 1, Disp: disp + 60})
	})
}

// tileAVX2PAct emits sgemmTileAVX2PAct<r>: tileAVX2P (A packed, alpha 1)
// whose stores apply a convolution's epilogue, C = min(max((acc +
// beta*C + bias[i]) + z, lo), hi), for nn = 16 or 32 columns (whole
// passes only). The sums and the clamp are those of convBiasSumActAVX2 on
// the stored product (acc + beta*C rounded once, then + bias, then + z,
// then max with the value second so that a NaN passes), so the results
// are the same bit for bit.
func tileAVX2PAct(r int) {
	name := fmt.Sprintf("sgemmTileAVX2PAct%d", r)
	TEXT(name, NOSPLIT, tilePActArgs)
	Doc(fmt.Sprintf("%s computes an %d×nn tile (nn 16 or 32): C[i][j] = min(max(Σp a[p*%d+i]*b[p*32+j] + beta*C[i][j] + bias[i], lo), hi)", name, r, r),
		"(C unread when beta is 0): A packed, r floats per k step. With sum not 0, the float zoff bytes past C[i][j] is added after bias.")
	acc := newAccs(r, 2, accSets(2*r), ymm)

	t := loadTile(false, true)
	k0, a0, b, c, ldc, nn := t.k, t.a, t.b, t.c, t.ldc, t.nn
	bias := Load(Param("bias"), GP64())
	zoff := Load(Param("zoff"), GP64())
	k := GP64()
	a := GP64()

	Label(name + "_half")
	MOVQ(k0, k)
	MOVQ(a0, a)
	bp := GP64()
	MOVQ(b, bp)
	cp := GP64()
	acc.zero(VXORPS)
	packedKLoop(name, acc, k, a, bp, 0, func() { prefetchActC(r, c, cp, ldc, zoff, 0) })
	acc.reduce()

	Comment("acc += beta*C, all loads of C before any store.")
	MOVQ(c, cp)
	loadBetaIsZero()
	JE(LabelRef(name + "_act"))
	broadcastParam("beta", Y15)
	eachRow(r, cp, ldc, func(i int) {
		for h := 0; h < 2; h++ {
			VFMADD231PS(Mem{Base: cp, Disp: 32 * h}, Y15, acc.at(i, h))
		}
	})
	MOVQ(c, cp)
	Label(name + "_act")
	Comment("C = min(max((acc + bias[i]) + z, lo), hi).")
	actStore(name, r, acc.at, cp, ldc, bias, zoff, 0)
	nextPass(name, nn, b, c)
}

// tileAVX2PActN emits sgemmTileAVX2PAct6N: sgemmTileAVX2PAct6 over nt
// tiles one under the other, in one call, for products too shallow for a
// call per tile to pay: tile t reads A at a + 6*k*t (packed tiles one
// after the other), writes C at c + 6*ldc*t and adds bias from bias +
// 6*t*bstep (bstep 0: the same six values for every tile).
func tileAVX2PActN() {
	const r = 6
	name := "sgemmTileAVX2PAct6N"
	TEXT(name, NOSPLIT, "func(k int, a *float32, b *float32, c *float32, ldc int, bias *float32, lo float32, hi float32, nn int, nt int, bstep int, zoff int, sum int)")
	Doc(name+" computes nt tiles of 6×nn (nn 16 or 32) as sgemmTileAVX2PAct6 does with beta 0: tile t on A",
		"at a + 6*k*t, C at c + 6*ldc*t and bias at bias + 6*bstep*t (and z zoff bytes past C when sum is not 0).")
	acc := newAccs(r, 2, 1, ymm)

	a := Load(Param("a"), GP64())
	b := Load(Param("b"), GP64())
	c := Load(Param("c"), GP64())
	ldc := loadBytes("ldc")
	bias := Load(Param("bias"), GP64())
	nt := Load(Param("nt"), GP64())
	bstep := Load(Param("bstep"), GP64())
	zoff := Load(Param("zoff"), GP64())
	IMUL3Q(I32(4*r), bstep, bstep)
	a0, k, bp, cp := GP64(), GP64(), GP64(), GP64()
	TESTQ(nt, nt)
	JLE(LabelRef(name + "_ret"))
	Label(name + "_tile")
	MOVQ(a, a0)
	for h := 0; h < 2; h++ {
		hs := fmt.Sprintf("%s_h%d", name, h)
		if h == 1 {
			CMPQ(paramAddr("nn"), I32(16))
			JLE(LabelRef(name + "_next"))
			MOVQ(a0, a)
		}
		MOVQ(paramAddr("k"), k)
		MOVQ(b, bp)
		acc.zero(VXORPS)
		packedKLoop(hs, acc, k, a, bp, 64*h, func() { prefetchActC(r, c, cp, ldc, zoff, 64*h) })
		Comment("C = min(max((acc + bias[i]) + z, lo), hi).")
		MOVQ(c, cp)
		actStore(hs, r, acc.at, cp, ldc, bias, zoff, 64*h)
	}
	Label(name + "_next")
	Comment("The next tile: A at a0 + 24*k, C six rows down.")
	MOVQ(paramAddr("k"), k)
	IMUL3Q(I32(4*r), k, k)
	LEAQ(Mem{Base: a0, Index: k, Scale: 1}, a)
	LEAQ(Mem{Base: c, Index: ldc, Scale: 2}, c)
	LEAQ(Mem{Base: c, Index: ldc, Scale: 4}, c)
	ADDQ(bstep, bias)
	DECQ(nt)
	JNE(LabelRef(name + "_tile"))
	Label(name + "_ret")
	VZEROUPPER()
	RET()
}
