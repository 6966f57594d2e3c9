//go:build !purego

package asm

import (
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
// 32-column ones bit for bit, for every row count, the columns 1-16 and
// depths around the unrolled loop and the prefetch point: a column must
// come out the same whichever tile computes it, so that a product split
// into parts gives what the whole gives.
func TestTileAVX512Half(t *testing.T) {
	if sgemmDefault.name != "avx512" {
		t.Skip("no AVX-512 SGEMM here")
	}
	r := rand.New(rand.NewSource(1))
	for _, k := range []int{1, 3, 4, 5, 33, 36, 37, 256} {
		for mm := 1; mm <= 14; mm++ {
			const lda, ldc = 300, 40
			a := randSlice[float32](r, (mm-1)*lda+k)
			b := randSlice[float32](r, k*panelN)
			for nn := 1; nn <= 16; nn++ {
				for _, beta := range []float32{0, 1, 0.5} {
					c0 := randSlice[float32](r, (mm-1)*ldc+panelN)
					want := slices.Clone(c0)
					got := slices.Clone(c0)
					avx512Tiles[mm](k, &a[0], lda, &b[0], &want[0], ldc, 1.5, beta, nn)
					avx512HalfTiles[mm](k, &a[0], lda, &b[0], &got[0], ldc, 1.5, beta, nn)
					for i := range got {
						if math.Float32bits(got[i]) != math.Float32bits(want[i]) {
							t.Fatalf("k=%d mm=%d nn=%d beta=%v: c[%d] = %v, want %v (the 32-column tile's)", k, mm, nn, beta, i, got[i], want[i])
						}
					}
				}
			}
		}
	}
}
