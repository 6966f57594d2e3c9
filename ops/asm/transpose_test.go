package asm

import (
	"fmt"
	"math/rand"
	"testing"
)

// TestTranspose checks Transpose against the definition over awkward
// sizes, strides wider than the matrices and slices that start off the
// vector alignment, and that it writes nothing outside the transpose.
func TestTranspose(t *testing.T) {
	tests := []struct{ rows, cols, lds, ldd, off int }{
		{1, 1, 1, 1, 0},
		{8, 8, 8, 8, 0},
		{7, 9, 9, 7, 1},
		{9, 7, 7, 9, 3},
		{16, 24, 24, 16, 0},
		{49, 2048, 2048, 49, 0}, // a 7×7 plane's positions × channels
		{17, 33, 40, 19, 5},
		{64, 8, 9, 70, 2},
		{8, 64, 64, 8, 7},
		{100, 96, 97, 101, 1},
		{1024, 32, 32, 1024, 0}, // 32×32 planes: rows of dst 4 KiB apart, down the columns first
		{1020, 35, 40, 1024, 3}, // the same with rows and columns past the blocks
		{300, 17, 17, 512, 1},
	}
	for _, tc := range tests {
		t.Run(fmt.Sprintf("%dx%d_lds%d_ldd%d_off%d", tc.rows, tc.cols, tc.lds, tc.ldd, tc.off), func(t *testing.T) {
			r := rand.New(rand.NewSource(int64(tc.rows*1000 + tc.cols)))
			src := randSlice[float32](r, tc.off+(tc.rows-1)*tc.lds+tc.cols)[tc.off:]
			const guard = -7.5
			dst := make([]float32, tc.off+(tc.cols-1)*tc.ldd+tc.rows+8)
			for i := range dst {
				dst[i] = guard
			}
			d := dst[tc.off : len(dst)-8]
			Transpose(tc.rows, tc.cols, src, tc.lds, d, tc.ldd)
			want := make([]float32, len(d))
			for i := range want {
				want[i] = guard
			}
			for i := 0; i < tc.rows; i++ {
				for j := 0; j < tc.cols; j++ {
					want[j*tc.ldd+i] = src[i*tc.lds+j]
				}
			}
			for i := range want {
				if d[i] != want[i] {
					t.Fatalf("dst[%d] = %v, want %v", i, d[i], want[i])
				}
			}
			for i, v := range dst[:tc.off] {
				if v != guard {
					t.Fatalf("wrote before dst: [%d] = %v", i, v)
				}
			}
			for i, v := range dst[len(dst)-8:] {
				if v != guard {
					t.Fatalf("wrote past dst: [%d] = %v", i, v)
				}
			}
		})
	}
}

// TestTransposeGoMatchesKernel runs the Go reference beside Transpose
// (the assembly blocks where the CPU has them) on the same matrix.
func TestTransposeGoMatchesKernel(t *testing.T) {
	r := rand.New(rand.NewSource(2))
	rows, cols := 57, 130
	src := randSlice[float32](r, rows*cols)
	a, b := make([]float32, rows*cols), make([]float32, rows*cols)
	Transpose(rows, cols, src, cols, a, rows)
	transposeGo(0, 0, rows, cols, src, cols, b, rows)
	for i := range a {
		if a[i] != b[i] {
			t.Fatalf("[%d]: kernel %v, Go %v", i, a[i], b[i])
		}
	}
}

// BenchmarkTranspose times transposes of positions × channels products
// into channel planes, in ns per element: a 1×1 convolution's on a 7×7
// plane (49×2048), a 3×3 one's on a 3×3 plane (9×64), and the first
// convolution of a CIFAR CNN (1024×32: planes of 32×32 floats, whose rows
// are 4 KiB apart and fall in one set of the L1 cache).
func BenchmarkTranspose(b *testing.B) {
	for _, s := range []struct{ rows, cols int }{{49, 2048}, {9, 64}, {1024, 32}, {900, 32}, {196, 576}} {
		b.Run(fmt.Sprintf("%dx%d", s.rows, s.cols), func(b *testing.B) {
			src, dst := make([]float32, s.rows*s.cols), make([]float32, s.rows*s.cols)
			for b.Loop() {
				Transpose(s.rows, s.cols, src, s.cols, dst, s.rows)
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(s.rows*s.cols), "ns/elem")
		})
	}
}

// TestDeinterleave checks Deinterleave against the definition for even
// and odd counts around the 16-float blocks, slices off the vector
// alignment, and that it writes nothing past a and b.
func TestDeinterleave(t *testing.T) {
	for _, n := range []int{0, 1, 2, 7, 15, 16, 17, 31, 32, 33, 111, 224, 230} {
		for _, off := range []int{0, 1, 3} {
			t.Run(fmt.Sprintf("n%d_off%d", n, off), func(t *testing.T) {
				r := rand.New(rand.NewSource(int64(n*10 + off)))
				src := randSlice[float32](r, off+n)[off:]
				const guard = -7.5
				buf := make([]float32, off+n+16)
				for i := range buf {
					buf[i] = guard
				}
				na := (n + 1) / 2
				a := buf[off : off+na]
				b := buf[off+na+8 : off+na+8+n/2]
				Deinterleave(a, b, src)
				for i, v := range src {
					got := a
					if i%2 == 1 {
						got = b
					}
					if got[i/2] != v {
						t.Fatalf("src[%d] = %v went out as %v", i, v, got[i/2])
					}
				}
				for i, v := range buf[off+na : off+na+8] {
					if v != guard {
						t.Fatalf("wrote past a: [%d] = %v", i, v)
					}
				}
				for i, v := range buf[off+na+8+n/2:] {
					if v != guard {
						t.Fatalf("wrote past b: [%d] = %v", i, v)
					}
				}
			})
		}
	}
}
