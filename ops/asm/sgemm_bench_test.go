package asm

import (
	"fmt"
	"math/rand"
	"testing"
	"time"
)

// convGemmShapes are GEMMs that convolutions hand to SgemmAct: m output
// channels, k = input channels × kernel area, n output positions
// (ResNet-50, MobileNetV2 and the MNIST CNN).
var convGemmShapes = []struct {
	name    string
	m, n, k int
}{
	{"r50_64x3136x576", 64, 3136, 576},
	{"r50_256x3136x64", 256, 3136, 64},
	{"r50_64x3136x256", 64, 3136, 256},
	{"r50_128x784x1152", 128, 784, 1152},
	{"r50_512x196x256", 512, 196, 256},
	{"mnist_64x121x288", 64, 121, 288},
	{"mnist_32x676x9", 32, 676, 9},
	{"mbv2_96x3136x16", 96, 3136, 16},
	{"mbv2_24x3136x96", 24, 3136, 96},
	{"r50_128x784x512", 128, 784, 512},
	{"r50_512x784x128", 512, 784, 128},
	{"r50_256x196x1024", 256, 196, 1024},
	{"r50_1024x196x256", 1024, 196, 256},
	{"r50_512x49x2048", 512, 49, 2048},
	{"r50_2048x49x512", 2048, 49, 512},
	{"mbv2_144x3136x24", 144, 3136, 24},
	{"mbv2_192x784x32", 192, 784, 32},
	{"mbv2_32x784x192", 32, 784, 192},
	{"mbv2_384x196x64", 384, 196, 64},
	{"mbv2_64x196x384", 64, 196, 384},
	{"mbv2_576x196x96", 576, 196, 96},
	{"mbv2_96x196x576", 96, 196, 576},
	{"mbv2_960x49x160", 960, 49, 160},
	{"mbv2_160x49x960", 160, 49, 960},
	{"mbv2_1280x49x320", 1280, 49, 320},
}

// BenchmarkSgemmAct times SgemmAct (the convolution driver, B packed
// block by block from a row-major matrix) on convolution shapes.
func BenchmarkSgemmAct(b *testing.B) {
	for _, s := range convGemmShapes {
		r := rand.New(rand.NewSource(1))
		x, y, z := randSlice[float32](r, s.m*s.k), randSlice[float32](r, s.k*s.n), make([]float32, s.m*s.n)
		bias := randSlice[float32](r, s.m)
		act := ConvAct{Lo: 0, Hi: 6}
		pack := func(p0, kb, j0, nb int, dst []float32) { PackBlock(y, s.n, p0, kb, j0, nb, dst) }
		b.Run(s.name, func(b *testing.B) {
			loop(b, 2*float64(s.m*s.n*s.k), func() {
				SgemmAct(s.m, s.n, s.k, x, s.k, pack, bias, &act, z, s.n)
			})
		})
	}
}

// BenchmarkSgemmConvShapes times Sgemm and SgemmPacked (B packed ahead)
// on the convolution shapes.
func BenchmarkSgemmConvShapes(b *testing.B) {
	for _, s := range convGemmShapes {
		r := rand.New(rand.NewSource(1))
		x, y, z := randSlice[float32](r, s.m*s.k), randSlice[float32](r, s.k*s.n), make([]float32, s.m*s.n)
		b.Run(s.name, func(b *testing.B) {
			loop(b, 2*float64(s.m*s.n*s.k), func() {
				Sgemm(false, false, s.m, s.n, s.k, 1, x, s.k, y, s.n, 0, z, s.n)
			})
		})
		pb := PackB(false, s.k, s.n, y, s.n)
		b.Run(s.name+"Packed", func(b *testing.B) {
			loop(b, 2*float64(s.m*s.n*s.k), func() {
				SgemmPacked(false, s.m, s.n, s.k, 1, x, s.k, pb, 0, z, s.n)
			})
		})
	}
}

// BenchmarkSgemmSquare times Sgemm on n×n×n as the benchmarks module
// does (B as stored, beta 0) with the default implementation.
func BenchmarkSgemmSquare(b *testing.B) {
	for _, n := range []int{256, 512, 1024} {
		r := rand.New(rand.NewSource(1))
		x, y, z := randSlice[float32](r, n*n), randSlice[float32](r, n*n), make([]float32, n*n)
		b.Run(fmt.Sprint(n), func(b *testing.B) {
			loop(b, 2*float64(n*n*n), func() {
				Sgemm(false, false, n, n, n, 1, x, n, y, n, 0, z, n)
			})
		})
	}
}

// BenchmarkTileP times the packed-A tile alone (6 rows, all in L1) over
// kb steps, one pass (16 columns) or the whole panel.
func BenchmarkTileP(b *testing.B) {
	im := sgemmDefault
	if im.tileP == nil {
		b.Skip("no packed-A tile")
	}
	for _, kb := range []int{64, 256} {
		for _, nn := range []int{16, 32} {
			r := rand.New(rand.NewSource(1))
			a := randSlice[float32](r, im.mr*kb)
			pan := alignedFloats(kb * panelN)
			copy(pan, randSlice[float32](r, kb*panelN))
			c := alignedFloats(im.mr * 64)
			b.Run(fmt.Sprintf("k%d_n%d", kb, nn), func(b *testing.B) {
				loop(b, 2*float64(im.mr*nn*kb)*100, func() {
					for range 100 {
						im.tileP(kb, a, pan, c, 64, 1, 1, im.mr, nn)
					}
				})
			})
		}
	}
}

// BenchmarkTilePActN times the fused packed-A tiles over nt tiles in one
// call, C at stride ldc (small: in L1; large: rows 4 KiB and more apart).
func BenchmarkTilePActN(b *testing.B) {
	im := sgemmDefault
	if im.tilePActN == nil {
		b.Skip("no fused tiles")
	}
	mr := im.mr
	for _, s := range []struct{ k, nt, ldc int }{{9, 4, 32}, {9, 4, 676}, {16, 16, 32}, {16, 16, 3136}, {64, 16, 3136}} {
		r := rand.New(rand.NewSource(1))
		a := randSlice[float32](r, mr*s.nt*s.k)
		pan := alignedFloats(s.k * panelN)
		copy(pan, randSlice[float32](r, s.k*panelN))
		c := alignedFloats(mr * s.nt * s.ldc)
		bias := randSlice[float32](r, mr*s.nt)
		b.Run(fmt.Sprintf("k%d_nt%d_ldc%d", s.k, s.nt, s.ldc), func(b *testing.B) {
			loop(b, 2*float64(mr*s.nt*32*s.k)*100, func() {
				for range 100 {
					im.tilePActN(s.k, a, pan, c, s.ldc, bias, 1, nil, 0, 6, 32, s.nt)
				}
			})
		})
	}
}

// BenchmarkSgemmActMin times SgemmAct as BenchmarkSgemmAct does and
// reports the GFLOP/s of the fastest single call (the least disturbed by
// other work on a shared machine).
func BenchmarkSgemmActMin(b *testing.B) {
	for _, s := range convGemmShapes {
		r := rand.New(rand.NewSource(1))
		x, y, z := randSlice[float32](r, s.m*s.k), randSlice[float32](r, s.k*s.n), make([]float32, s.m*s.n)
		bias := randSlice[float32](r, s.m)
		act := ConvAct{Lo: 0, Hi: 6}
		pack := func(p0, kb, j0, nb int, dst []float32) { PackBlock(y, s.n, p0, kb, j0, nb, dst) }
		b.Run(s.name, func(b *testing.B) {
			best := time.Duration(1 << 62)
			for b.Loop() {
				t0 := time.Now()
				SgemmAct(s.m, s.n, s.k, x, s.k, pack, bias, &act, z, s.n)
				best = min(best, time.Since(t0))
			}
			b.ReportMetric(2*float64(s.m*s.n*s.k)/best.Seconds()/1e9, "best-GFLOP/s")
		})
	}
}

// BenchmarkSgemmActColdA is BenchmarkSgemmActMin with A (the weights)
// cycled through copies of 24 MiB in all, so that it comes from L3 or
// memory as a model's weights do, not from L2.
func BenchmarkSgemmActColdA(b *testing.B) {
	for _, s := range convGemmShapes {
		r := rand.New(rand.NewSource(1))
		xs := make([][]float32, max(2, (24<<20)/(4*s.m*s.k)))
		for i := range xs {
			xs[i] = randSlice[float32](r, s.m*s.k)
		}
		y, z := randSlice[float32](r, s.k*s.n), make([]float32, s.m*s.n)
		bias := randSlice[float32](r, s.m)
		act := ConvAct{Lo: 0, Hi: 6}
		pack := func(p0, kb, j0, nb int, dst []float32) { PackBlock(y, s.n, p0, kb, j0, nb, dst) }
		b.Run(s.name, func(b *testing.B) {
			best := time.Duration(1 << 62)
			i := 0
			for b.Loop() {
				x := xs[i%len(xs)]
				i++
				t0 := time.Now()
				SgemmAct(s.m, s.n, s.k, x, s.k, pack, bias, &act, z, s.n)
				best = min(best, time.Since(t0))
			}
			b.ReportMetric(2*float64(s.m*s.n*s.k)/best.Seconds()/1e9, "best-GFLOP/s")
		})
	}
}
