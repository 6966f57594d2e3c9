package asm

import (
	"fmt"
	"math/rand"
	"testing"
)

// TestSumPlaneRows checks SumPlaneRows and its Go version against
// SumPlane's Go reference bit for bit, over every window it takes (one
// column apart), rows around the vector widths, misaligned operands and
// scratch left dirty by a larger plane, with guards past each row's
// spill.
func TestSumPlaneRows(t *testing.T) {
	r := rand.New(rand.NewSource(9))
	rows := randSlice[float32](r, SumPlaneRowsScratch(70, 5, 5, 2)+2)
	var cases int
	for _, kh := range []int{1, 2, 3, 5} {
		for _, kw := range []int{2, 3} {
			for _, sh := range []int{1, 2} {
				for _, nx := range []int{1, 7, 8, 13, 15, 16, 17, 28, 31, 33, 56, 70} {
					for _, ny := range []int{1, 2, 5} {
						off := r.Intn(3)
						name := fmt.Sprintf("k=%dx%d sh=%d nx=%d ny=%d off=%d", kh, kw, sh, nx, ny, off)
						lds := nx + kw - 1 + r.Intn(3)
						ldd := nx + 9
						src := randSlice[float32](r, off+((ny-1)*sh+kh)*lds+MaxPlaneSlack)[off:]
						scale := make([]float32, nx*ny+SumPlaneScaleSlack)
						for i := range scale {
							scale[i] = float32(1) / float32(kh*kw+i%5)
						}
						want, got, gotGo := guarded(ny*ldd), guarded(ny*ldd + off)[off:], guarded(ny*ldd)
						poolSumPlaneGo(want, ldd, nx, ny, src, lds, kh, kw, sh, 1, scale)
						SumPlaneRows(got, ldd, nx, ny, src, lds, kh, kw, sh, scale, rows[off:])
						samePlane(t, name, got, want, nx, ny, ldd)
						sumPlaneRowsGo(gotGo, ldd, nx, ny, src, lds, kh, kw, sh, scale, rows)
						samePlane(t, name+" (Go)", gotGo, want, nx, ny, ldd)
						cases++
					}
				}
			}
		}
	}
	if cases < 500 {
		t.Fatalf("only %d cases", cases)
	}
}

// BenchmarkSumPlaneRows compares SumPlane and SumPlaneRows on Inception
// v2's average pools (3×3 at stride 1 on a zero-padded copy) at 28×28,
// 14×14 and 7×7.
func BenchmarkSumPlaneRows(b *testing.B) {
	for _, n := range []int{28, 14, 7} {
		lds := n + 2
		src := make([]float32, (n+2)*lds+MaxPlaneSlack)
		for i := range src {
			src[i] = float32(i%13) * 0.25
		}
		scale := make([]float32, n*n+SumPlaneScaleSlack)
		for i := range scale {
			scale[i] = 1.0 / 9
		}
		dst := make([]float32, n*n+8)
		rows := make([]float32, SumPlaneRowsScratch(n, n, 3, 1))
		b.Run(fmt.Sprintf("%d/direct", n), func(b *testing.B) {
			for i := 0; i < b.N; i++ {
				SumPlane(dst, n, n, n, src, lds, 3, 3, 1, 1, scale)
			}
		})
		b.Run(fmt.Sprintf("%d/rows", n), func(b *testing.B) {
			for i := 0; i < b.N; i++ {
				SumPlaneRows(dst, n, n, n, src, lds, 3, 3, 1, scale, rows)
			}
		})
	}
}
