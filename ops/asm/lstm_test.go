package asm

import (
	"fmt"
	"math"
	"math/rand"
	"testing"
)

// lstmCase makes R, h, xw and c for hid units, the slices starting off
// floats into their buffers (misaligned when off is not a multiple of 8).
func lstmCase(rng *rand.Rand, hid, off int, scale float32) (r, h, xw, c []float32) {
	fill := func(n int, s float32) []float32 {
		v := make([]float32, n+off)[off:]
		for i := range v {
			v[i] = (rng.Float32()*2 - 1) * s
		}
		return v
	}
	return fill(4*hid*hid, scale/float32(math.Sqrt(float64(hid)))), fill(hid, 1), fill(4*hid, scale), fill(hid, 1)
}

// TestLSTMStep compares LSTMStep with its Go reference and, where the
// assembly runs, with SgemmPacked followed by LSTMCell (bit for bit),
// over awkward sizes and misaligned slices, on R^T in groups of 8 units
// (the AVX2 kernel) and in the default groups (16 with the AVX-512
// kernel).
func TestLSTMStep(t *testing.T) {
	groups := []int{lstmGroup}
	if g := lstmGroupDefault(); g != lstmGroup {
		groups = append(groups, g)
	}
	for _, g := range groups {
		t.Run(fmt.Sprintf("group%d", g), func(t *testing.T) { testLSTMStep(t, g) })
	}
}

func testLSTMStep(t *testing.T, group int) {
	rng := rand.New(rand.NewSource(7))
	for _, tc := range []struct {
		hid, off int
		scale    float32
	}{
		{1, 0, 1}, {3, 1, 2}, {7, 3, 1}, {8, 0, 1}, {9, 2, 4}, {13, 1, 1}, {16, 0, 1},
		{17, 1, 1}, {31, 2, 3}, {32, 0, 1}, {50, 3, 2}, {64, 0, 1}, {64, 1, 8}, {100, 2, 1}, {128, 0, 0.5},
	} {
		t.Run(fmt.Sprintf("hid%d_off%d_scale%g", tc.hid, tc.off, tc.scale), func(t *testing.T) {
			hid := tc.hid
			r, h, xw, c := lstmCase(rng, hid, tc.off, tc.scale)
			w := packLSTMGroup(r, hid, group)
			xw0 := append([]float32(nil), xw...)

			gotC := append(make([]float32, tc.off), c...)[tc.off:]
			gotH := make([]float32, hid+tc.off)[tc.off:]
			LSTMStep(w, h, xw, gotC, gotH, false)
			backC := append([]float32(nil), c...)
			backH := make([]float32, hid)
			LSTMStep(w, h, xw, backC, backH, true)
			for j := 0; j < hid; j++ {
				if backC[j] != gotC[j] || backH[j] != gotH[j] {
					t.Fatalf("unit %d: backward sweep gives c = %g, h = %g, forward %g, %g", j, backC[j], backH[j], gotC[j], gotH[j])
				}
			}
			for i := range xw {
				if xw[i] != xw0[i] {
					t.Fatalf("xw[%d] changed", i)
				}
			}

			refC := append([]float32(nil), c...)
			refH := make([]float32, hid)
			lstmStepGeneric(w, h, xw, refC, refH)
			for j := 0; j < hid; j++ {
				if d := math.Abs(float64(gotC[j] - refC[j])); d > 1e-5*(1+math.Abs(float64(refC[j]))) {
					t.Fatalf("c[%d] = %g, reference %g", j, gotC[j], refC[j])
				}
				if d := math.Abs(float64(gotH[j] - refH[j])); d > 1e-5 {
					t.Fatalf("h[%d] = %g, reference %g", j, gotH[j], refH[j])
				}
			}

			// The unfused path: gates = xw + h·R^T, then LSTMCell.
			gates := append([]float32(nil), xw...)
			SgemmPacked(false, 1, 4*hid, hid, 1, h, hid, PackB(true, hid, 4*hid, r, hid), 1, gates, 4*hid)
			cellC := append([]float32(nil), c...)
			cellH := make([]float32, hid)
			LSTMCell(gates, cellC, cellH)
			exact := LSTMStepAccelerated()
			for j := 0; j < hid; j++ {
				tol := 1e-5
				if exact {
					tol = 0
				}
				if d := math.Abs(float64(gotC[j] - cellC[j])); d > tol*(1+math.Abs(float64(cellC[j]))) {
					t.Fatalf("c[%d] = %g, SgemmPacked+LSTMCell %g", j, gotC[j], cellC[j])
				}
				if d := math.Abs(float64(gotH[j] - cellH[j])); d > tol {
					t.Fatalf("h[%d] = %g, SgemmPacked+LSTMCell %g", j, gotH[j], cellH[j])
				}
			}
		})
	}
}

// TestLSTMStepSpecials checks saturation and NaN propagation.
func TestLSTMStepSpecials(t *testing.T) {
	hid := 9
	r := make([]float32, 4*hid*hid)
	w := PackLSTM(r, hid)
	xw := make([]float32, 4*hid)
	for j := 0; j < hid; j++ {
		xw[j], xw[hid+j], xw[2*hid+j], xw[3*hid+j] = 1000, 1000, -1000, 1000
	}
	xw[3*hid+4] = float32(math.NaN())
	h := make([]float32, hid)
	c := make([]float32, hid)
	hOut := make([]float32, hid)
	LSTMStep(w, h, xw, c, hOut, false)
	for j := 0; j < hid; j++ {
		if j == 4 {
			if !math.IsNaN(float64(c[j])) || !math.IsNaN(float64(hOut[j])) {
				t.Errorf("unit %d: c = %g, h = %g, want NaN", j, c[j], hOut[j])
			}
			continue
		}
		if c[j] != 1 || math.Abs(float64(hOut[j])-math.Tanh(1)) > 1e-6 {
			t.Errorf("unit %d: c = %g, h = %g, want 1, tanh(1)", j, c[j], hOut[j])
		}
	}
}

// BenchmarkLSTMStep measures one step of the fused kernel against the
// unfused SgemmPacked + LSTMCell.
func BenchmarkLSTMStep(b *testing.B) {
	for _, hid := range []int{50, 64, 128} {
		rng := rand.New(rand.NewSource(1))
		r, h, xw, c := lstmCase(rng, hid, 0, 1)
		w := PackLSTM(r, hid)
		pb := PackB(true, hid, 4*hid, r, hid)
		hOut := make([]float32, hid)
		gates := make([]float32, 4*hid)
		// Each step reads the h of the step before, as in a layer.
		b.Run(fmt.Sprintf("hid%d/fused", hid), func(b *testing.B) {
			h, hOut := h, hOut
			for i := 0; i < b.N; i++ {
				LSTMStep(w, h, xw, c, hOut, false)
				h, hOut = hOut, h
			}
		})
		b.Run(fmt.Sprintf("hid%d/fused-zigzag", hid), func(b *testing.B) {
			h, hOut := h, hOut
			for i := 0; i < b.N; i++ {
				LSTMStep(w, h, xw, c, hOut, i&1 == 1)
				h, hOut = hOut, h
			}
		})
		b.Run(fmt.Sprintf("hid%d/unfused", hid), func(b *testing.B) {
			for i := 0; i < b.N; i++ {
				copy(gates, xw)
				SgemmPacked(false, 1, 4*hid, hid, 1, h, hid, pb, 1, gates, 4*hid)
				LSTMCell(gates, c, h)
			}
		})
	}
}
