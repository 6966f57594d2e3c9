package asm

import (
	"fmt"
	"math"
	"math/rand"
	"testing"
)

func TestGemmBiasClamp(t *testing.T) {
	inf := float32(math.Inf(1))
	negZero := float32(math.Copysign(0, -1))
	bounds := []struct{ lo, hi float32 }{
		{-inf, inf}, // bias alone
		{0, inf},    // Relu
		{0, 6},      // Relu6
		{negZero, inf},
		{-0.25, 0.5},
	}
	r := rand.New(rand.NewSource(1))
	for _, bd := range bounds {
		for _, rows := range []int{1, 2, 3, 6, 7} {
			for _, n := range []int{1, 5, 7, 8, 9, 15, 16, 17, 31, 32, 33, 70} {
				for _, off := range []int{0, 1, 3} {
					for _, ldb := range []int{0, n + 1} {
						name := fmt.Sprintf("lo=%v/hi=%v/rows=%d/n=%d/off=%d/ldb=%d", bd.lo, bd.hi, rows, n, off, ldb)
						ldc := n + 2
						base := randSlice[float32](r, off+rows*ldc+4)
						c := base[off:]
						if n > 3 {
							c[1] = float32(math.NaN())
							c[2] = negZero
							c[3] = float32(math.Inf(-1))
						}
						for i := (rows-1)*ldc + n; i < len(c); i++ {
							c[i] = guard
						}
						bias := randSlice[float32](r, off+(rows-1)*ldb+n)[off:]
						if n > 3 {
							bias[2] = negZero
						}
						want := append([]float32(nil), c...)
						got := append([]float32(nil), c...)
						gemmBiasClampGo(rows, n, want, ldc, bias, ldb, bd.lo, bd.hi)
						GemmBiasClamp(rows, n, got, ldc, bias, ldb, bd.lo, bd.hi)
						for i := range want {
							if math.Float32bits(got[i]) != math.Float32bits(want[i]) && !(math.IsNaN(float64(got[i])) && math.IsNaN(float64(want[i]))) {
								t.Fatalf("%s: element %d = %v, want %v", name, i, got[i], want[i])
							}
						}
					}
				}
			}
		}
	}
}

// TestGemmBiasClampSemantics checks the reference against the operators
// it stands for: Add then Relu (max(x, 0)), and a -0 bias adding nothing.
func TestGemmBiasClampSemantics(t *testing.T) {
	negZero := float32(math.Copysign(0, -1))
	xs := []float32{negZero, 0, 1, -1, float32(math.NaN()), float32(math.Inf(-1)), float32(math.Inf(1)), 1e-40, -1e-40}
	inf := float32(math.Inf(1))
	for _, x := range xs {
		for _, b := range xs {
			c := []float32{x}
			GemmBiasClamp(1, 1, c, 1, []float32{b}, 0, 0, inf)
			want := max(x+b, 0)
			if math.Float32bits(c[0]) != math.Float32bits(want) && !math.IsNaN(float64(want)) {
				t.Errorf("relu(%v + %v) = %v, want %v", x, b, c[0], want)
			}
		}
		c := []float32{x}
		GemmBiasClamp(1, 1, c, 1, NegZeros(1), 0, -inf, inf)
		if math.Float32bits(c[0]) != math.Float32bits(x) && !math.IsNaN(float64(x)) {
			t.Errorf("%v + -0 = %v", x, c[0])
		}
	}
}
