package asm

import (
	"math"
	"os"
	"testing"
)

// TestExpExhaustive checks every float32 against math.Exp, in chunks, for
// each implementation: set EXP_EXHAUSTIVE=1 to run it (about a minute).
func TestExpExhaustive(t *testing.T) {
	if os.Getenv("EXP_EXHAUSTIVE") == "" {
		t.Skip("set EXP_EXHAUSTIVE=1 to check every float32")
	}
	forEachExpImpl(t, func(t *testing.T, im *expImpl) {
		const chunk = 1 << 16
		xs, ys := make([]float32, chunk), make([]float32, chunk)
		var maxNormal, maxSub, n2 int64
		for base := uint64(0); base < 1<<32; base += chunk {
			for i := range xs {
				xs[i] = math.Float32frombits(uint32(base) + uint32(i))
			}
			im.exp(xs, ys)
			for i, x := range xs {
				want := expWant(x)
				d := ulpDiff(ys[i], want)
				if want < 0x1p-126 {
					maxSub = max(maxSub, d)
				} else {
					maxNormal = max(maxNormal, d)
				}
				if d > 1 {
					n2++
				}
				if d > 2 {
					t.Fatalf("exp(%v) = %v, want %v", x, ys[i], want)
				}
			}
		}
		t.Logf("every float32: at most %d ulps where e^x is normal, %d subnormal spacings below; %d results off by more than 1 ulp", maxNormal, maxSub, n2)
	})
}
