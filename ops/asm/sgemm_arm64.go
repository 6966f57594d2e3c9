//go:build !purego

package asm

import "unsafe"

// archSgemmImpls is the arm64 SGEMM kernel (sgemm_arm64.s, printed by
// _gen): NEON (mandatory on arm64) with a 6×16 tile, two passes per
// 32-wide panel, and a one-row kernel (sgemvNNEON). Tested under
// qemu-aarch64; not yet timed on hardware.
var archSgemmImpls = []*sgemmImpl{
	{
		name:       "neon",
		available:  true,
		mr:         6,
		tile:       tileNEON,
		gemv:       gemvNEON,
		gemvPacked: gemvPackedNEON,
		smallWork:  200,
	},
}

// gemvNEON is the m == 1 product on unpacked B: sgemvNNEON down 16
// columns at a time; B transposed (dot products) goes to the Go loops.
// The extents were checked by the caller.
func gemvNEON(transB bool, n, k int, alpha float32, a, b []float32, ldb int, beta float32, c []float32) {
	if transB {
		gemmSmall(false, true, 1, n, k, alpha, a, k, b, ldb, beta, c, n)
		return
	}
	_, _, _ = a[k-1], b[(k-1)*ldb+n-1], c[n-1]
	sgemvNNEON(k, unsafe.SliceData(a), unsafe.SliceData(b), ldb, unsafe.SliceData(c), n, alpha, beta)
}

// gemvPackedNEON is the m == 1 product on one k block of a PackedB: each
// panel is the k×32 matrix of stride 32 that sgemvNNEON multiplies as it
// does B as stored, so the results are gemvNEON's bit for bit.
func gemvPackedNEON(k int, a, b, c []float32, n int, alpha, beta float32) {
	np := (n + panelN - 1) / panelN
	_, _, _ = a[k-1], b[np*panelN*k-1], c[n-1]
	for q := 0; q < np; q++ {
		sgemvNNEON(k, unsafe.SliceData(a), &b[q*panelN*k], panelN, &c[q*panelN], min(panelN, n-q*panelN), alpha, beta)
	}
}

//go:noescape
func sgemvNNEON(k int, a *float32, b *float32, ldb int, c *float32, n int, alpha float32, beta float32)

// callTileNEON runs the kernel for mm rows. A switch rather than a table
// of funcs, so that (with the kernels' //go:noescape) the stack tile of
// tileNEON stays on the stack.
func callTileNEON(mm, k int, a *float32, lda int, b *float32, c *float32, ldc int, alpha, beta float32) {
	switch mm {
	case 1:
		sgemmTileNEONx1(k, a, lda, b, c, ldc, alpha, beta)
	case 2:
		sgemmTileNEONx2(k, a, lda, b, c, ldc, alpha, beta)
	case 3:
		sgemmTileNEONx3(k, a, lda, b, c, ldc, alpha, beta)
	case 4:
		sgemmTileNEONx4(k, a, lda, b, c, ldc, alpha, beta)
	case 5:
		sgemmTileNEONx5(k, a, lda, b, c, ldc, alpha, beta)
	default:
		sgemmTileNEONx6(k, a, lda, b, c, ldc, alpha, beta)
	}
}

// tileNEON runs the kernel for mm rows; the kernels store all 32 columns,
// so a panel with nn < 32 columns left goes through a tile on the stack.
func tileNEON(k int, a []float32, lda int, b []float32, c []float32, ldc int, alpha, beta float32, mm, nn int) {
	_ = a[(mm-1)*lda+k-1]
	_ = b[k*panelN-1]
	_ = c[(mm-1)*ldc+nn-1]
	if nn > panelN || k <= 0 {
		panic("asm: bad tile")
	}
	if nn == panelN {
		callTileNEON(mm, k, unsafe.SliceData(a), lda, unsafe.SliceData(b), unsafe.SliceData(c), ldc, alpha, beta)
		return
	}
	var t [maxMR * panelN]float32
	if beta != 0 {
		for i := 0; i < mm; i++ {
			copy(t[i*panelN:i*panelN+nn], c[i*ldc:i*ldc+nn])
		}
	}
	callTileNEON(mm, k, unsafe.SliceData(a), lda, unsafe.SliceData(b), &t[0], panelN, alpha, beta)
	for i := 0; i < mm; i++ {
		copy(c[i*ldc:i*ldc+nn], t[i*panelN:i*panelN+nn])
	}
}

// Declarations of the kernels in sgemm_arm64.s.

//go:noescape
func sgemmTileNEONx1(k int, a *float32, lda int, b *float32, c *float32, ldc int, alpha float32, beta float32)

//go:noescape
func sgemmTileNEONx2(k int, a *float32, lda int, b *float32, c *float32, ldc int, alpha float32, beta float32)

//go:noescape
func sgemmTileNEONx3(k int, a *float32, lda int, b *float32, c *float32, ldc int, alpha float32, beta float32)

//go:noescape
func sgemmTileNEONx4(k int, a *float32, lda int, b *float32, c *float32, ldc int, alpha float32, beta float32)

//go:noescape
func sgemmTileNEONx5(k int, a *float32, lda int, b *float32, c *float32, ldc int, alpha float32, beta float32)

//go:noescape
func sgemmTileNEONx6(k int, a *float32, lda int, b *float32, c *float32, ldc int, alpha float32, beta float32)
