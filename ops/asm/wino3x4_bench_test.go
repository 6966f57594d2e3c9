package asm

import (
	"math"
	"math/rand"
	"testing"
)

// The F(3×3, 4×4) kernel benchmarks use the Keras MNIST CNN's 28×28
// layers: 30×30 outputs in 10 rows of 10 tiles (3 columns apart), the
// input padded to 33×33, one group of eight channels per iteration.

// BenchmarkWinoInput3x4 transforms the 10 rows of 10 tiles into ξ-major
// rows.
func BenchmarkWinoInput3x4(b *testing.B) {
	const nt, w = 10, 33
	rng := rand.New(rand.NewSource(1))
	src := winoRand(rng, w*w*8, 0)
	dst := make([]float32, 36*nt*nt*8)
	for _, im := range []struct {
		name string
		f    func(nt int, src []float32, lds int, dst []float32, ldxi, ldt int)
	}{{"asm", WinoInput3x4}, {"go", winoInput3x4Go}} {
		b.Run(im.name, func(b *testing.B) {
			b.SetBytes((36 + 36) * 4 * 8 * nt * nt)
			winoLoop(b, nt*nt, func() {
				for ty := 0; ty < nt; ty++ {
					im.f(nt, src[3*ty*w*8:], w*8, dst[ty*nt*8:], nt*nt*8, 8)
				}
			})
		})
	}
}

// BenchmarkWinoOutput3x4 transforms the 10 rows of 10 tiles with bias
// and Relu.
func BenchmarkWinoOutput3x4(b *testing.B) {
	const nt, w = 10, 30
	rng := rand.New(rand.NewSource(1))
	src := winoRand(rng, 36*nt*nt*8, 0)
	dst := make([]float32, w*w*8)
	bias := winoRand(rng, 8, 0)
	relu := ConvAct{Lo: 0, Hi: float32(math.Inf(1))}
	for _, im := range []struct {
		name string
		f    func(nt int, src []float32, ldxi, ldt int, bias []float32, act *ConvAct, dst []float32, ldd int)
	}{{"asm", WinoOutput3x4}, {"go", winoOutput3x4Go}} {
		b.Run(im.name, func(b *testing.B) {
			b.SetBytes((36 + 9) * 4 * 8 * nt * nt)
			winoLoop(b, nt*nt, func() {
				for ty := 0; ty < nt; ty++ {
					im.f(nt, src[ty*nt*8:], nt*nt*8, 8, bias, &relu, dst[3*ty*w*8:], w*8)
				}
			})
		})
	}
}

// BenchmarkWinoFilter3x4 is the Build-time filter transform, per 4×4
// filter.
func BenchmarkWinoFilter3x4(b *testing.B) {
	var g [16]float32
	for i := range g {
		g[i] = float32(i) - 8
	}
	var u [36]float32
	for b.Loop() {
		WinoFilter3x4(&g, &u)
	}
}
