//go:build !purego

package asm

import "testing"

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
