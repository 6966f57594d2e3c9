package asm

import (
	"fmt"
	"testing"
)

// The benchmarks of the convolution epilogues, the position-major
// epilogue and the max-pool kernels, at the shapes of the MNIST CNN and a
// ResNet stage; the flop count is one per output element (a rate to
// compare before and after a change, not a peak).

func BenchmarkBiasAct(b *testing.B) {
	for _, act := range []ConvAct{{Lo: 0, Hi: 6}, {Leaky: true, Alpha: 0.1}} {
		for _, s := range []struct{ rows, n int }{{32, 676}, {64, 3136}, {256, 49}} {
			b.Run(fmt.Sprintf("leaky=%v/%dx%d", act.Leaky, s.rows, s.n), func(b *testing.B) {
				src := make([]float32, s.rows*s.n)
				dst := make([]float32, s.rows*s.n)
				bias := make([]float32, s.rows)
				loop(b, float64(s.rows*s.n), func() { BiasAct(s.rows, s.n, src, s.n, bias, &act, dst, s.n) })
			})
		}
	}
}

func BenchmarkBiasSumAct(b *testing.B) {
	for _, act := range []ConvAct{{Lo: 0, Hi: 6}, {Leaky: true, Alpha: 0.1}} {
		for _, s := range []struct{ rows, n int }{{64, 3136}, {256, 49}} {
			b.Run(fmt.Sprintf("leaky=%v/%dx%d", act.Leaky, s.rows, s.n), func(b *testing.B) {
				src := make([]float32, s.rows*s.n)
				z := make([]float32, s.rows*s.n)
				dst := make([]float32, s.rows*s.n)
				bias := make([]float32, s.rows)
				loop(b, float64(s.rows*s.n), func() { BiasSumAct(s.rows, s.n, src, s.n, bias, z, s.n, &act, dst, s.n) })
			})
		}
	}
}

func BenchmarkConvPosEpi(b *testing.B) {
	// MNIST conv1 then 2×2 max pool: 32 channels (4 groups), 13×13 pooled
	// positions from 26×26, and a ReLU and a leaky variant.
	for _, act := range []ConvAct{{Lo: 0, Hi: float32(1e30)}, {Leaky: true, Alpha: 0.1}} {
		b.Run(fmt.Sprintf("leaky=%v", act.Leaky), func(b *testing.B) {
			const win, nq, groups, ldc = 4, 169, 4, 32
			c := make([]float32, 676*ldc)
			src := make([]int32, roundUp(nq, 8)*win)
			for i := range src {
				src[i] = int32((i * 37 % 676) * ldc)
			}
			bias := make([]float32, 8*groups)
			y := make([]float32, 8*groups*nq)
			so := NewOffsets(src)
			loop(b, float64(8*groups*nq*win), func() { ConvPosEpi(c, so, win, nq, groups, bias, &act, y, nq) })
		})
	}
}

func BenchmarkMaxPool(b *testing.B) {
	const n = 4096
	dst := make([]float32, n+16)
	src := make([]float32, 2*n+64)
	b.Run("Rows", func(b *testing.B) {
		loop(b, n, func() { MaxRows(dst[:n], src[:n]) })
	})
	for _, ks := range [][2]int{{2, 1}, {3, 2}, {2, 2}, {3, 1}} {
		b.Run(fmt.Sprintf("Cols/k%ds%d", ks[0], ks[1]), func(b *testing.B) {
			loop(b, n, func() { MaxCols(dst[:n], src, ks[0], ks[1]) })
		})
	}
	for _, ks := range [][2]int{{2, 1}, {3, 1}, {2, 2}, {3, 2}} {
		b.Run(fmt.Sprintf("Plane/k%ds%d", ks[0], ks[1]), func(b *testing.B) {
			const nx, ny, lds = 55, 55, 112
			in := make([]float32, 113*lds+MaxPlaneSlack+64)
			out := make([]float32, ny*nx+8)
			loop(b, nx*ny*float64(ks[0]*ks[0]), func() { MaxPlane(out, nx, nx, ny, in, lds, ks[0], ks[0], ks[1], ks[1]) })
		})
	}
}
