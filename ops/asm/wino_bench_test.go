package asm

import (
	"math"
	"math/rand"
	"testing"
	"time"
)

// winoLoop runs op b.N times and reports, beside the mean, the fastest
// single run (min-ns/op, and min-Mtiles/s when tiles > 0): on a machine
// shared with other work the fastest of many short runs is the steadiest
// measure of the kernel.
func winoLoop(b *testing.B, tiles int, op func()) {
	best := time.Duration(math.MaxInt64)
	for b.Loop() {
		t0 := time.Now()
		op()
		best = min(best, time.Since(t0))
	}
	b.ReportMetric(float64(best.Nanoseconds()), "min-ns/op")
	if tiles > 0 {
		b.ReportMetric(float64(tiles)/best.Seconds()/1e6, "min-Mtiles/s")
	}
}

// The Winograd kernel benchmarks use ResNet-like sizes: a 56×56 layer of
// 64 channels (eight groups of eight lanes), padded to 58×58, whose rows
// of tiles hold nt = 14 tiles. Each has a sub-benchmark of the exported
// kernel (the assembly where the CPU has it) and one of the Go reference.

func BenchmarkBlockChannels8(b *testing.B) {
	const h, w, c = 58, 58, 64
	rng := rand.New(rand.NewSource(1))
	src := winoRand(rng, c*h*w, 0)
	dst := make([]float32, c*h*w)
	for _, im := range []struct {
		name string
		f    func(rows, w int, src []float32, planeStride, lds, planes int, dst []float32, ldd int)
	}{{"asm", BlockChannels8}, {"go", blockChannels8Go}} {
		b.Run(im.name, func(b *testing.B) {
			b.SetBytes(2 * 4 * c * h * w)
			winoLoop(b, 0, func() {
				for g := 0; g < c/8; g++ {
					im.f(h, w, src[g*8*h*w:], h*w, w, 8, dst[g*8*h*w:], 8*w)
				}
			})
		})
	}
}

func BenchmarkUnblockChannels8(b *testing.B) {
	const h, w, c = 56, 56, 64
	rng := rand.New(rand.NewSource(1))
	src := winoRand(rng, c*h*w, 0)
	dst := make([]float32, c*h*w)
	for _, im := range []struct {
		name string
		f    func(rows, w int, src []float32, lds int, dst []float32, planeStride, ldd, planes int)
	}{{"asm", UnblockChannels8}, {"go", unblockChannels8Go}} {
		b.Run(im.name, func(b *testing.B) {
			b.SetBytes(2 * 4 * c * h * w)
			winoLoop(b, 0, func() {
				for g := 0; g < c/8; g++ {
					im.f(h, w, src[g*8*h*w:], 8*w, dst[g*8*h*w:], h*w, w, 8)
				}
			})
		})
	}
}

// BenchmarkWinoInput4x3 transforms the 14 rows of 14 tiles of one group
// of eight channels per iteration, into ξ-major rows of 14 tiles.
func BenchmarkWinoInput4x3(b *testing.B) {
	const nt, w = 14, 58
	rng := rand.New(rand.NewSource(1))
	src := winoRand(rng, w*w*8, 0)
	dst := make([]float32, 36*nt*nt*8)
	for _, im := range []struct {
		name string
		f    func(nt int, src []float32, lds int, dst []float32, ldxi, ldt int)
	}{{"asm", WinoInput4x3}, {"go", winoInput4x3Go}} {
		b.Run(im.name, func(b *testing.B) {
			b.SetBytes((36 + 36) * 4 * 8 * nt * nt) // read (6×6, overlapping) and written per tile
			winoLoop(b, nt*nt, func() {
				for ty := 0; ty < nt; ty++ {
					im.f(nt, src[4*ty*w*8:], w*8, dst[ty*nt*8:], nt*nt*8, 8)
				}
			})
		})
	}
}

// BenchmarkWinoOutput4x3 transforms 14 rows of 14 tiles of one group of
// eight channels per iteration, with bias and Relu.
func BenchmarkWinoOutput4x3(b *testing.B) {
	const nt, w = 14, 56
	rng := rand.New(rand.NewSource(1))
	src := winoRand(rng, 36*nt*nt*8, 0)
	dst := make([]float32, w*w*8)
	bias := winoRand(rng, 8, 0)
	relu := ConvAct{Lo: 0, Hi: float32(math.Inf(1))}
	for _, im := range []struct {
		name string
		f    func(nt int, src []float32, ldxi, ldt int, bias []float32, act *ConvAct, dst []float32, ldd int)
	}{{"asm", WinoOutput4x3}, {"go", winoOutput4x3Go}} {
		b.Run(im.name, func(b *testing.B) {
			b.SetBytes((36 + 16) * 4 * 8 * nt * nt)
			winoLoop(b, nt*nt, func() {
				for ty := 0; ty < nt; ty++ {
					im.f(nt, src[ty*nt*8:], nt*nt*8, 8, bias, &relu, dst[4*ty*w*8:], w*8)
				}
			})
		})
	}
}

// BenchmarkWinoFilter4x3 is the Build-time filter transform, per 3×3
// filter.
func BenchmarkWinoFilter4x3(b *testing.B) {
	var g [9]float32
	for i := range g {
		g[i] = float32(i) - 4
	}
	var u [36]float32
	for b.Loop() {
		WinoFilter4x3(&g, &u)
	}
}
