//go:build !purego

package asm

import (
	"fmt"
	"math"
	"math/rand"
	"slices"
	"testing"
)

// BenchmarkFMAPeak measures what one core reaches on independent 256-bit
// FMAs under the machine's current load: the ceiling to compare the
// SGEMM rates of the same run with.
func BenchmarkFMAPeak(b *testing.B) {
	if !cpuHasAVX2FMA() {
		b.Skip("no AVX2+FMA")
	}
	const iters = 1 << 14
	loop(b, 192*iters, func() { fmaPeakAVX2(iters) })
}

// TestTileAVX512Half checks the 16-column AVX-512 tiles against the
// 32-column ones bit for bit, for every row count, the columns 1-16 (16
// for the fused ones), depths around the unrolled loop and the prefetch
// point, with and without beta, bias and a summand: a column must come
// out the same whichever tile computes it, so that a product split into
// parts gives what the whole gives.
func TestTileAVX512Half(t *testing.T) {
	if sgemmDefault.name != "avx512" {
		t.Skip("no AVX-512 SGEMM here")
	}
	r := rand.New(rand.NewSource(1))
	const lda, ldc = 300, 40
	same := func(t *testing.T, what string, got, want []float32) {
		t.Helper()
		for i := range got {
			if math.Float32bits(got[i]) != math.Float32bits(want[i]) {
				t.Fatalf("%s: c[%d] = %v, want %v (the 32-column tile's)", what, i, got[i], want[i])
			}
		}
	}
	for _, k := range []int{1, 3, 4, 5, 33, 36, 37, 256} {
		b := randSlice[float32](r, k*panelN)
		for mm := 1; mm <= 14; mm++ {
			a := randSlice[float32](r, (mm-1)*lda+k)
			ap := randSlice[float32](r, mm*k)
			bias := randSlice[float32](r, mm)
			for nn := 1; nn <= 16; nn++ {
				for _, beta := range []float32{0, 1, 0.5} {
					c0 := randSlice[float32](r, (mm-1)*ldc+panelN)
					what := fmt.Sprintf("k=%d mm=%d nn=%d beta=%v", k, mm, nn, beta)
					want, got := slices.Clone(c0), slices.Clone(c0)
					avx512Tiles[mm](k, &a[0], lda, &b[0], &want[0], ldc, 1.5, beta, nn)
					avx512HalfTiles[mm](k, &a[0], lda, &b[0], &got[0], ldc, 1.5, beta, nn)
					same(t, "in place "+what, got, want)
					want, got = slices.Clone(c0), slices.Clone(c0)
					avx512PTiles[mm](k, &ap[0], &b[0], &want[0], ldc, 1.5, beta, nn)
					avx512PHalfTiles[mm](k, &ap[0], &b[0], &got[0], ldc, 1.5, beta, nn)
					same(t, "packed "+what, got, want)
					if nn != 16 {
						continue
					}
					z := randSlice[float32](r, len(c0))
					for _, zz := range [][]float32{nil, z} {
						want, got = slices.Clone(c0), slices.Clone(c0)
						tilePActAVX512(k, ap, b, want, ldc, bias, zz, 0, 6, beta, mm, 32)
						for i := 0; i < mm; i++ { // columns 16-31 as they were
							copy(want[i*ldc+16:i*ldc+32], c0[i*ldc+16:i*ldc+32])
						}
						tilePActAVX512(k, ap, b, got, ldc, bias, zz, 0, 6, beta, mm, 16)
						same(t, fmt.Sprintf("fused (z %v) %s", zz != nil, what), got, want)
					}
				}
			}
		}
	}
	// The multi-tile fused kernel: nt tiles of 14 rows, beta 0.
	for _, k := range []int{1, 5, 37, 256} {
		b := randSlice[float32](r, k*panelN)
		for nt := 1; nt <= 3; nt++ {
			ap := randSlice[float32](r, 14*nt*k)
			bias := randSlice[float32](r, 14*nt)
			c0 := randSlice[float32](r, (14*nt-1)*ldc+panelN)
			z := randSlice[float32](r, len(c0))
			want, got := slices.Clone(c0), slices.Clone(c0)
			tilePActNAVX512(k, ap, b, want, ldc, bias, 1, z, -1, 3, 32, nt)
			for i := 0; i < 14*nt; i++ {
				copy(want[i*ldc+16:i*ldc+32], c0[i*ldc+16:i*ldc+32])
			}
			tilePActNAVX512(k, ap, b, got, ldc, bias, 1, z, -1, 3, 16, nt)
			same(t, fmt.Sprintf("fused nt=%d k=%d", nt, k), got, want)
		}
	}
}
