//go:build !purego

package asm

import (
	"fmt"
	"unsafe"

	"golang.org/x/sys/cpu"
)

// archSgemmImpls are the amd64 SGEMM kernels (sgemm_amd64.s, generated
// by _gen): AVX-512 with a 14×32 tile and AVX2 with 6×16 passes over the
// same 32-wide panels, each also on a packed A (tileP, which Sgemm and
// SgemmPacked use for large products) and with a convolution's epilogue
// fused into its stores (tilePAct, tilePActN). Both take the AVX2
// kernels for one row on a packed B and for four rows (gemvPacked,
// rows4), whose results the zero-skipping kernels and the fused LSTM
// step reproduce bit for bit (SgemmPacked takes the AVX-512 tiles of
// four rows instead, which give rows4's sums faster: tiles4); the
// AVX-512 one-row product on B as stored
// gives the packed one's bits too (TestSgemvPackedMatchesSgemv). An
// AVX-512 tile sums each element in the order an AVX2 tile of the same
// rows does, but its 14-row tiles group rows differently, so the two
// implementations may round a product of more than four rows
// differently.
// x/sys/cpu reports AVX and AVX-512 only when the OS saves their
// registers; AVX2 is used only together with FMA.
var archSgemmImpls = []*sgemmImpl{
	{
		name:       "avx512",
		available:  hasAVX512,
		mr:         14,
		tile:       tileAVX512,
		tileP:      tileAVX512P,
		tilePAct:   tilePActAVX512,
		tilePActN:  tilePActNAVX512,
		gemv:       gemvAVX512,
		dots:       dotsAVX512,
		gemvPacked: gemvPackedAVX2,
		tiles4:     true,
		smallWork:  200,
	},
	{
		name:       "avx2",
		available:  cpuHasAVX2FMA(),
		mr:         6,
		tile:       tileAVX2,
		tileP:      tileAVX2P,
		tilePAct:   tilePActAVX2,
		tilePActN:  tilePActNAVX2,
		gemv:       gemvAVX2,
		gemvPacked: gemvPackedAVX2,
		smallWork:  200,
	},
}

type tileFunc = func(k int, a *float32, lda int, b *float32, c *float32, ldc int, alpha float32, beta float32, nn int)

var avx512Tiles = [...]tileFunc{nil,
	sgemmTileAVX512x1, sgemmTileAVX512x2, sgemmTileAVX512x3, sgemmTileAVX512x4, sgemmTileAVX512x5,
	sgemmTileAVX512x6, sgemmTileAVX512x7, sgemmTileAVX512x8, sgemmTileAVX512x9, sgemmTileAVX512x10,
	sgemmTileAVX512x11, sgemmTileAVX512x12, sgemmTileAVX512x13, sgemmTileAVX512x14}

// avx512HalfTiles are the tiles of avx512Tiles for nn ≤ 16: the same
// columns, bit for bit, for half the multiply-adds.
var avx512HalfTiles = [...]tileFunc{nil,
	sgemmTileAVX512Hx1, sgemmTileAVX512Hx2, sgemmTileAVX512Hx3, sgemmTileAVX512Hx4, sgemmTileAVX512Hx5,
	sgemmTileAVX512Hx6, sgemmTileAVX512Hx7, sgemmTileAVX512Hx8, sgemmTileAVX512Hx9, sgemmTileAVX512Hx10,
	sgemmTileAVX512Hx11, sgemmTileAVX512Hx12, sgemmTileAVX512Hx13, sgemmTileAVX512Hx14}

var avx2Tiles = [...]tileFunc{nil,
	sgemmTileAVX2x1, sgemmTileAVX2x2, sgemmTileAVX2x3, sgemmTileAVX2x4, sgemmTileAVX2x5, sgemmTileAVX2x6}

// checkTile makes sure that the slices cover everything a tile kernel
// reads and writes, so that a driver bug panics instead of corrupting
// memory.
func checkTile(k int, a []float32, lda int, b []float32, c []float32, ldc int, mm, nn int) {
	_ = a[(mm-1)*lda+k-1]
	_ = b[k*panelN-1]
	_ = c[(mm-1)*ldc+nn-1]
	if nn > panelN || k <= 0 {
		panic("asm: bad tile")
	}
}

func tileAVX512(k int, a []float32, lda int, b []float32, c []float32, ldc int, alpha, beta float32, mm, nn int) {
	checkTile(k, a, lda, b, c, ldc, mm, nn)
	tiles := &avx512Tiles
	if nn <= 16 {
		tiles = &avx512HalfTiles
	}
	tiles[mm](k, unsafe.SliceData(a), lda, unsafe.SliceData(b), unsafe.SliceData(c), ldc, alpha, beta, nn)
}

func tileAVX2(k int, a []float32, lda int, b []float32, c []float32, ldc int, alpha, beta float32, mm, nn int) {
	checkTile(k, a, lda, b, c, ldc, mm, nn)
	avx2Tiles[mm](k, unsafe.SliceData(a), lda, unsafe.SliceData(b), unsafe.SliceData(c), ldc, alpha, beta, nn)
}

// zOffset checks that z (nil for none) covers an mm×nn block at stride
// ldc and returns its offset in bytes from c and the fused tiles' sum
// flag.
func zOffset(z, c []float32, ldc, mm, nn int) (zoff, sum int) {
	if z == nil {
		return 0, 0
	}
	_ = z[(mm-1)*ldc+nn-1]
	return int(uintptr(unsafe.Pointer(unsafe.SliceData(z))) - uintptr(unsafe.Pointer(unsafe.SliceData(c)))), 1
}

var avx512PTiles = [...]tilePFunc{nil,
	sgemmTileAVX512P1, sgemmTileAVX512P2, sgemmTileAVX512P3, sgemmTileAVX512P4, sgemmTileAVX512P5,
	sgemmTileAVX512P6, sgemmTileAVX512P7, sgemmTileAVX512P8, sgemmTileAVX512P9, sgemmTileAVX512P10,
	sgemmTileAVX512P11, sgemmTileAVX512P12, sgemmTileAVX512P13, sgemmTileAVX512P14}

// avx512PHalfTiles are the tiles of avx512PTiles for nn ≤ 16 (as
// avx512HalfTiles are of avx512Tiles).
var avx512PHalfTiles = [...]tilePFunc{nil,
	sgemmTileAVX512PH1, sgemmTileAVX512PH2, sgemmTileAVX512PH3, sgemmTileAVX512PH4, sgemmTileAVX512PH5,
	sgemmTileAVX512PH6, sgemmTileAVX512PH7, sgemmTileAVX512PH8, sgemmTileAVX512PH9, sgemmTileAVX512PH10,
	sgemmTileAVX512PH11, sgemmTileAVX512PH12, sgemmTileAVX512PH13, sgemmTileAVX512PH14}

// tileAVX512P is tileAVX512 on a packed A (see sgemmImpl.tileP).
func tileAVX512P(k int, a []float32, b []float32, c []float32, ldc int, alpha, beta float32, mm, nn int) {
	_ = a[mm*k-1]
	_ = b[k*panelN-1]
	_ = c[(mm-1)*ldc+nn-1]
	if nn > panelN || nn <= 0 || k <= 0 || mm > len(avx512PTiles)-1 {
		panic("asm: bad tile")
	}
	tiles := &avx512PTiles
	if nn <= 16 {
		tiles = &avx512PHalfTiles
	}
	tiles[mm](k, unsafe.SliceData(a), unsafe.SliceData(b), unsafe.SliceData(c), ldc, alpha, beta, nn)
}

var avx512PActTiles = [...]tilePActFunc{nil,
	sgemmTileAVX512PAct1, sgemmTileAVX512PAct2, sgemmTileAVX512PAct3, sgemmTileAVX512PAct4, sgemmTileAVX512PAct5,
	sgemmTileAVX512PAct6, sgemmTileAVX512PAct7, sgemmTileAVX512PAct8, sgemmTileAVX512PAct9, sgemmTileAVX512PAct10,
	sgemmTileAVX512PAct11, sgemmTileAVX512PAct12, sgemmTileAVX512PAct13, sgemmTileAVX512PAct14}

// avx512PActHalfTiles are the tiles of avx512PActTiles for nn = 16.
var avx512PActHalfTiles = [...]tilePActFunc{nil,
	sgemmTileAVX512PActH1, sgemmTileAVX512PActH2, sgemmTileAVX512PActH3, sgemmTileAVX512PActH4, sgemmTileAVX512PActH5,
	sgemmTileAVX512PActH6, sgemmTileAVX512PActH7, sgemmTileAVX512PActH8, sgemmTileAVX512PActH9, sgemmTileAVX512PActH10,
	sgemmTileAVX512PActH11, sgemmTileAVX512PActH12, sgemmTileAVX512PActH13, sgemmTileAVX512PActH14}

// tilePActAVX512 is tileAVX512P with the clamp epilogue (see
// sgemmImpl.tilePAct). It reads the panel's 32 columns whatever nn.
func tilePActAVX512(k int, a []float32, b []float32, c []float32, ldc int, bias, z []float32, lo, hi, beta float32, mm, nn int) {
	if nn != 16 && nn != 32 || k <= 0 || mm > len(avx512PActTiles)-1 {
		panic("asm: bad tile")
	}
	_ = a[mm*k-1]
	_ = b[k*panelN-1]
	_ = c[(mm-1)*ldc+nn-1]
	_ = bias[mm-1]
	zoff, sum := zOffset(z, c, ldc, mm, nn)
	tiles := &avx512PActTiles
	if nn == 16 {
		tiles = &avx512PActHalfTiles
	}
	tiles[mm](k, unsafe.SliceData(a), unsafe.SliceData(b), unsafe.SliceData(c), ldc, unsafe.SliceData(bias), lo, hi, beta, nn, zoff, sum)
}

// tilePActNAVX512 is tilePActAVX512 with beta 0 over nt tiles of 14 rows
// (see sgemmImpl.tilePActN).
func tilePActNAVX512(k int, a []float32, b []float32, c []float32, ldc int, bias []float32, bstep int, z []float32, lo, hi float32, nn, nt int) {
	const r = 14
	if nn != 16 && nn != 32 || k <= 0 || nt <= 0 || bstep != 0 && bstep != 1 {
		panic("asm: bad tile")
	}
	_ = a[r*nt*k-1]
	_ = b[k*panelN-1]
	_ = c[(r*nt-1)*ldc+nn-1]
	_ = bias[r*((nt-1)*bstep+1)-1]
	zoff, sum := zOffset(z, c, ldc, r*nt, nn)
	tile := sgemmTileAVX512PAct14N
	if nn == 16 {
		tile = sgemmTileAVX512PActH14N
	}
	tile(k, unsafe.SliceData(a), unsafe.SliceData(b), unsafe.SliceData(c), ldc, unsafe.SliceData(bias), lo, hi, nn, nt, bstep, zoff, sum)
}

type tilePActFunc = func(k int, a *float32, b *float32, c *float32, ldc int, bias *float32, lo, hi, beta float32, nn, zoff, sum int)

var avx2PActTiles = [...]tilePActFunc{nil,
	sgemmTileAVX2PAct1, sgemmTileAVX2PAct2, sgemmTileAVX2PAct3, sgemmTileAVX2PAct4, sgemmTileAVX2PAct5, sgemmTileAVX2PAct6}

// tilePActAVX2 is tileAVX2P with the clamp epilogue (see sgemmImpl.tilePAct).
func tilePActAVX2(k int, a []float32, b []float32, c []float32, ldc int, bias, z []float32, lo, hi, beta float32, mm, nn int) {
	if nn != 16 && nn != 32 || k <= 0 || mm > len(avx2PActTiles)-1 {
		panic("asm: bad tile")
	}
	_ = a[mm*k-1]
	_ = b[(k-1)*panelN+nn-1]
	_ = c[(mm-1)*ldc+nn-1]
	_ = bias[mm-1]
	zoff, sum := zOffset(z, c, ldc, mm, nn)
	avx2PActTiles[mm](k, unsafe.SliceData(a), unsafe.SliceData(b), unsafe.SliceData(c), ldc, unsafe.SliceData(bias), lo, hi, beta, nn, zoff, sum)
}

// tilePActNAVX2 is tilePActAVX2 with beta 0 over nt tiles of 6 rows (see
// sgemmImpl.tilePActN).
func tilePActNAVX2(k int, a []float32, b []float32, c []float32, ldc int, bias []float32, bstep int, z []float32, lo, hi float32, nn, nt int) {
	if nn != 16 && nn != 32 || k <= 0 || nt <= 0 || bstep != 0 && bstep != 1 {
		panic("asm: bad tile")
	}
	_ = a[6*nt*k-1]
	_ = b[(k-1)*panelN+nn-1]
	_ = c[(6*nt-1)*ldc+nn-1]
	_ = bias[6*((nt-1)*bstep+1)-1]
	zoff, sum := zOffset(z, c, ldc, 6*nt, nn)
	sgemmTileAVX2PAct6N(k, unsafe.SliceData(a), unsafe.SliceData(b), unsafe.SliceData(c), ldc, unsafe.SliceData(bias), lo, hi, nn, nt, bstep, zoff, sum)
}

type tilePFunc = func(k int, a *float32, b *float32, c *float32, ldc int, alpha float32, beta float32, nn int)

var avx2PTiles = [...]tilePFunc{nil,
	sgemmTileAVX2P1, sgemmTileAVX2P2, sgemmTileAVX2P3, sgemmTileAVX2P4, sgemmTileAVX2P5, sgemmTileAVX2P6}

// tileAVX2P is tileAVX2 on a packed A (see sgemmImpl.tileP).
func tileAVX2P(k int, a []float32, b []float32, c []float32, ldc int, alpha, beta float32, mm, nn int) {
	_ = a[mm*k-1]
	_ = b[k*panelN-1]
	_ = c[(mm-1)*ldc+nn-1]
	if nn > panelN || k <= 0 || mm > len(avx2PTiles)-1 {
		panic("asm: bad tile")
	}
	avx2PTiles[mm](k, unsafe.SliceData(a), unsafe.SliceData(b), unsafe.SliceData(c), ldc, alpha, beta, nn)
}

// gemvAVX2 is the m == 1 product on unpacked B: dot products with the
// rows of B when transposed, else a pass down 32 columns at a time. The
// extents were checked by the caller.
func gemvAVX2(transB bool, n, k int, alpha float32, a, b []float32, ldb int, beta float32, c []float32) {
	_, _, _ = a[k-1], b[0], c[n-1]
	if transB {
		_ = b[(n-1)*ldb+k-1]
		sgemvTAVX2(k, unsafe.SliceData(a), unsafe.SliceData(b), ldb, unsafe.SliceData(c), n, alpha, beta)
		return
	}
	_ = b[(k-1)*ldb+n-1]
	sgemvNAVX2(k, unsafe.SliceData(a), unsafe.SliceData(b), ldb, unsafe.SliceData(c), n, alpha, beta)
}

// gemvPackedAVX2 is the m == 1 product on one k block of a PackedB: the
// full panels in one call, a last partial panel through a 32-float
// buffer.
func gemvPackedAVX2(k int, a, b, c []float32, n int, alpha, beta float32) {
	np := (n + panelN - 1) / panelN
	_, _, _ = a[k-1], b[np*panelN*k-1], c[n-1]
	full := n / panelN
	if full > 0 {
		sgemvPackedAVX2(k, unsafe.SliceData(a), unsafe.SliceData(b), unsafe.SliceData(c), full, alpha, beta)
	}
	if rest := n - full*panelN; rest > 0 {
		var t [panelN]float32
		cr := c[full*panelN : n]
		if beta != 0 {
			copy(t[:], cr)
		}
		sgemvPackedAVX2(k, unsafe.SliceData(a), &b[full*panelN*k], &t[0], 1, alpha, beta)
		copy(cr, t[:rest])
	}
}

// gemvAVX512 is the m == 1 product on unpacked B: dot products with the
// rows of B when transposed, else a pass down 64 columns at a time, or
// for fewer than 16 columns sgemvNAVX2's pass down 8 at a time (the same
// bits: the two sum each column in the same even and odd partial sums,
// as gemvPackedAVX2 does). A 512-bit row load of fewer than 16 columns
// is masked and, with rows closer than 64 bytes apart, mostly split
// between cache lines: on Zen 5, k = 100 takes 86-107 ns for 1 to 15
// columns against 38-73 ns with AVX2 (a Dense layer of one unit, such as
// a sigmoid classifier, 43 against 17 ns at k = 32).
// The extents were checked by the caller.
func gemvAVX512(transB bool, n, k int, alpha float32, a, b []float32, ldb int, beta float32, c []float32) {
	_, _, _ = a[k-1], b[0], c[n-1]
	if transB {
		_ = b[(n-1)*ldb+k-1]
		sgemvTAVX512(k, unsafe.SliceData(a), unsafe.SliceData(b), ldb, unsafe.SliceData(c), n, alpha, beta)
		return
	}
	_ = b[(k-1)*ldb+n-1]
	if n < 16 {
		sgemvNAVX2(k, unsafe.SliceData(a), unsafe.SliceData(b), ldb, unsafe.SliceData(c), n, alpha, beta)
		return
	}
	sgemvNAVX512(k, unsafe.SliceData(a), unsafe.SliceData(b), ldb, unsafe.SliceData(c), n, alpha, beta)
}

// avx512Dots are the dots kernels by column count.
var avx512Dots = [...]func(k int, a *float32, lda int, b *float32, c *float32, ldc int, beta float32, m int){
	2: sgemmDots2AVX512, 3: sgemmDots3AVX512, 4: sgemmDots4AVX512}

// dotsAVX512 is sgemmImpl.dots: sgemmDots<nd>AVX512 after checking that
// the slices cover what it reads and writes.
func dotsAVX512(k int, a []float32, lda int, b []float32, c []float32, ldc int, beta float32, m, nd int) {
	if m <= 0 {
		return
	}
	if k <= 0 || k > dotsLDB || nd < 2 || nd >= len(avx512Dots) {
		panic(fmt.Sprintf("asm: dots of %d columns over k = %d", nd, k))
	}
	_ = a[(m-1)*lda+k-1]
	_ = b[(nd-1)*dotsLDB+k-1]
	_ = c[(m-1)*ldc+nd-1]
	avx512Dots[nd](k, unsafe.SliceData(a), lda, unsafe.SliceData(b), unsafe.SliceData(c), ldc, beta, m)
}

// CPU features, read once.
var (
	hasAVX2FMA = cpu.X86.HasAVX2 && cpu.X86.HasFMA
	hasAVX512  = cpu.X86.HasAVX512F && cpu.X86.HasBMI2 && hasAVX2FMA
)

func cpuHasAVX2FMA() bool { return hasAVX2FMA }

// packPanels packs np full panels: dst[(q*kb+p)*panelN+j] =
// src[p*ldb+q*panelN+j] for p < kb, q < np, j < panelN.
func packPanels(kb, np int, src []float32, ldb int, dst []float32) {
	if kb <= 0 || np <= 0 {
		return
	}
	_ = src[(kb-1)*ldb+np*panelN-1]
	_ = dst[np*kb*panelN-1]
	if !hasAVX2FMA {
		for p := 0; p < kb; p++ {
			for q := 0; q < np; q++ {
				o := (q*kb + p) * panelN
				copy(dst[o:o+panelN], src[p*ldb+q*panelN:p*ldb+q*panelN+panelN])
			}
		}
		return
	}
	sgemmPackBAVX2(kb, np, unsafe.SliceData(src), ldb, unsafe.SliceData(dst))
}

// packA6 packs the first kb8 = kb&^7 steps of a tile of six rows of A
// (dst[p*6+i] = a[i*lda+p]) and returns kb8; the caller packs the rest.
func packA6(kb int, a []float32, lda int, dst []float32) int {
	kb8 := kb &^ 7
	if kb8 == 0 || !hasAVX2FMA {
		return 0
	}
	_ = a[5*lda+kb8-1]
	_ = dst[6*kb8-1]
	sgemmPackA6AVX2(kb8, unsafe.SliceData(a), lda, unsafe.SliceData(dst))
	return kb8
}

// packA14 packs the first kb8 = kb&^7 steps of 14 rows of A for the
// 14-row packed-A tiles (dst[p*14+i] = a[i*lda+p]) and returns kb8; the
// caller packs the rest.
func packA14(kb int, a []float32, lda int, dst []float32) int {
	kb8 := kb &^ 7
	if kb8 == 0 || !hasAVX2FMA {
		return 0
	}
	_ = a[13*lda+kb8-1]
	_ = dst[14*kb8-1]
	sgemmPackA14AVX2(kb8, unsafe.SliceData(a), lda, unsafe.SliceData(dst))
	return kb8
}

// packPanelT packs the first kb8 = kb&^7 rows of a full panel of op(B)
// from B stored transposed (dst[p*panelN+j] = src[j*ldb+p]) and returns
// kb8; the caller packs the rest.
func packPanelT(kb int, src []float32, ldb int, dst []float32) int {
	kb8 := kb &^ 7
	if kb8 == 0 || !hasAVX2FMA {
		return 0
	}
	_ = src[(panelN-1)*ldb+kb8-1]
	_ = dst[kb8*panelN-1]
	sgemmPackBTAVX2(kb8, unsafe.SliceData(src), ldb, unsafe.SliceData(dst))
	return kb8
}
