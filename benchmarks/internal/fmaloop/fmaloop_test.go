package fmaloop

import (
	"math"
	"testing"
)

// TestLoopComputesTheRecurrence checks the loop against the recurrence it
// runs in every lane: v ← v·0.999999 + 1e-7, from v = 1e-7.
func TestLoopComputesTheRecurrence(t *testing.T) {
	if !Available() {
		t.Skip("no FMA loop on this CPU")
	}
	for _, iters := range []int{1, 2, 7, 1000} {
		v := float32(1e-7)
		for range iters {
			v = float32(math.FMA(float64(v), float64(float32(0.999999)), float64(float32(1e-7))))
		}
		want := float32(12*Lanes()) * v // 12 accumulators × the lanes
		if got := Loop(iters); math.Abs(float64(got-want)) > 1e-5*math.Abs(float64(want)) {
			t.Errorf("Loop(%d) = %g, want %g", iters, got, want)
		}
	}
	if got := Loop(0); got != 0 {
		t.Errorf("Loop(0) = %g, want 0", got)
	}
}

// TestBeside checks the work Beside reports: a fraction of the kernel's,
// in whole iterations, and never fewer than 2000 of them.
func TestBeside(t *testing.T) {
	if !Available() {
		t.Skip("no FMA loop on this CPU")
	}
	per := float64(FlopsPerIter()) / 1e6
	tests := []struct {
		mflop float64
		div   int
		want  float64 // MFLOP
	}{
		{2 * 1024 * 1024 * 1024 / 1e6, 2, float64(int(2*1024*1024*1024/float64(FlopsPerIter())/2)) * per},
		{100, 4, float64(int(100e6/float64(FlopsPerIter())/4)) * per},
		{0.5, 2, 2000 * per},
		{100, 0, float64(int(100e6/float64(FlopsPerIter()))) * per},
	}
	for _, tc := range tests {
		if got := Beside(tc.mflop, tc.div); math.Abs(got-tc.want) > 1e-9*tc.want {
			t.Errorf("Beside(%v, %d) = %v MFLOP, want %v", tc.mflop, tc.div, got, tc.want)
		}
	}
}

func BenchmarkLoop(b *testing.B) {
	if !Available() {
		b.Skip("no FMA loop on this CPU")
	}
	const iters = 100000
	for b.Loop() {
		Loop(iters)
	}
	b.ReportMetric(float64(FlopsPerIter()*iters)*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
}
