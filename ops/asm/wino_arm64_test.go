//go:build !purego

package asm

import "testing"

// TestWinoAcceleratedARM64 checks that the NEON Winograd kernels (of
// both F(4×4, 3×3) and F(3×3, 4×4)) are chosen unless INFER_KERNELS=generic chose the generic SGEMM.
func TestWinoAcceleratedARM64(t *testing.T) {
	if got, want := WinoAccelerated(), SgemmImplementation() != "generic"; got != want {
		t.Errorf("WinoAccelerated() = %v with SGEMM %q, want %v", got, SgemmImplementation(), want)
	}
	if got, want := Wino3x4Accelerated(), SgemmImplementation() != "generic"; got != want {
		t.Errorf("Wino3x4Accelerated() = %v with SGEMM %q, want %v", got, SgemmImplementation(), want)
	}
}

// TestNeonActMode checks the activation modes of the NEON kernels.
func TestNeonActMode(t *testing.T) {
	none := ConvActNone()
	for _, c := range []struct {
		act  *ConvAct
		want int
	}{
		{nil, 2},
		{&none, 2},
		{&ConvAct{Lo: 0, Hi: none.Hi}, 3},
		{&ConvAct{Lo: 0, Hi: 6}, 0},
		{&ConvAct{Lo: none.Lo, Hi: 6}, 0},
		{&ConvAct{Leaky: true, Alpha: 0.1}, 1},
	} {
		if got := neonActMode(c.act); got != c.want {
			t.Errorf("neonActMode(%+v) = %d, want %d", c.act, got, c.want)
		}
	}
}
