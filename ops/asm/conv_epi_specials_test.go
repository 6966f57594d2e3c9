package asm

import (
	"fmt"
	"math"
	"math/rand"
	"testing"
)

// TestEpiSpecials checks BiasAct and BiasSumAct bit for bit against their
// references on NaN, infinities and signed zeros (in src, z and the
// bias), with and without a bias, for every activation and the block
// sizes of the kernels (16, 4 and single floats).
func TestEpiSpecials(t *testing.T) {
	nan, inf := float32(math.NaN()), float32(math.Inf(1))
	negz := float32(math.Copysign(0, -1))
	specials := []float32{nan, inf, -inf, 0, negz, 1e30, -1e30, 3, -3, 0.25, -0.25}
	rng := rand.New(rand.NewSource(9))
	draw := func(n int) []float32 {
		s := make([]float32, n)
		for i := range s {
			s[i] = specials[rng.Intn(len(specials))]
		}
		return s
	}
	same := func(a, b float32) bool {
		return math.Float32bits(a) == math.Float32bits(b) || (a != a && b != b)
	}
	acts := append([]ConvAct{{Leaky: true, Alpha: -2}, {Lo: negz, Hi: 0}}, convActs...)
	for _, act := range acts {
		for _, n := range []int{1, 3, 4, 5, 16, 17, 21, 36} {
			for _, withBias := range []bool{false, true} {
				name := fmt.Sprintf("%+v/n=%d/bias=%v", act, n, withBias)
				const rows = 3
				src, z := draw(rows*n + 1)[1:], draw(rows*n)
				var bias []float32
				if withBias {
					bias = draw(rows)
				}
				want, got := make([]float32, rows*n), make([]float32, rows*n)
				biasActGo(rows, n, src, n, bias, &act, want, n)
				BiasAct(rows, n, src, n, bias, &act, got, n)
				for i := range want {
					if !same(got[i], want[i]) {
						t.Fatalf("BiasAct %s: element %d = %v, want %v", name, i, got[i], want[i])
					}
				}
				biasSumActGo(rows, n, src, n, bias, z, n, &act, want, n)
				BiasSumAct(rows, n, src, n, bias, z, n, &act, got, n)
				for i := range want {
					if !same(got[i], want[i]) {
						t.Fatalf("BiasSumAct %s: element %d = %v, want %v", name, i, got[i], want[i])
					}
				}
			}
		}
	}
}
