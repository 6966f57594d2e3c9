package asm

import "math"

// This file holds the epilogue of a matrix product whose bias runs along
// the columns (Gemm's C, MatMul followed by Add): a bias row added to
// each row of C, then a clamp, in one pass over each tile of C.

// GemmBiasClamp sets, for i < rows and j < n,
//
//	v := c[i*ldc+j] + bias[i*ldb+j]
//	if lo > v { v = lo }
//	v += z // +0 when lo is +0, else -0 (which changes nothing)
//	if hi < v { v = hi }
//	c[i*ldc+j] = v
//
// ldb 0 adds the same bias row to every row. NaNs pass through. With lo
// +0 and hi +Inf this is Relu as max(x, 0) computes it in Go (a -0 comes
// out as +0); with lo -Inf and hi +Inf it is the bias alone. A bias row
// of -0s (NegZeros) adds nothing, bit for bit.
func GemmBiasClamp(rows, n int, c []float32, ldc int, bias []float32, ldb int, lo, hi float32) {
	if rows <= 0 || n <= 0 {
		return
	}
	_ = c[(rows-1)*ldc+n-1]
	_ = bias[(rows-1)*ldb+n-1]
	gemmBiasClamp(rows, n, c, ldc, bias, ldb, lo, hi)
}

// NegZeros returns n -0s: a bias row that adds nothing, for
// GemmBiasClamp without a bias.
func NegZeros(n int) []float32 {
	z := make([]float32, n)
	nz := float32(math.Copysign(0, -1))
	for i := range z {
		z[i] = nz
	}
	return z
}

// zeroFor returns GemmBiasClamp's z for lo.
func zeroFor(lo float32) float32 {
	if lo == 0 && !math.Signbit(float64(lo)) {
		return 0
	}
	return float32(math.Copysign(0, -1))
}

// gemmBiasClampGo is the reference of gemmBiasClamp.
func gemmBiasClampGo(rows, n int, c []float32, ldc int, bias []float32, ldb int, lo, hi float32) {
	z := zeroFor(lo)
	for i := 0; i < rows; i++ {
		row := c[i*ldc : i*ldc+n]
		br := bias[i*ldb : i*ldb+n]
		for j, v := range row {
			v += br[j]
			if lo > v {
				v = lo
			}
			v += z
			if hi < v {
				v = hi
			}
			row[j] = v
		}
	}
}
