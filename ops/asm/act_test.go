package asm

import (
	"fmt"
	"math"
	"math/rand"
	"testing"
	"time"
)

// forEachActImpl runs f as a subtest for every activation implementation
// compiled in, skipping those the CPU lacks.
func forEachActImpl(t *testing.T, f func(t *testing.T, im *actImpl)) {
	for _, im := range actImpls {
		t.Run(im.name, func(t *testing.T) {
			if !im.available {
				t.Skipf("the CPU does not support %s", im.name)
			}
			f(t, im)
		})
	}
}

// actInputs returns values over a wide range: a dense sweep of [-20, 20],
// a sparse one out to ±120, the edges of the kernels' branches and
// clamps, and special values.
func actInputs() []float32 {
	var xs []float32
	for x := -20.0; x <= 20; x += 0.0013 {
		xs = append(xs, float32(x))
	}
	for x := -120.0; x <= 120; x += 0.37 {
		xs = append(xs, float32(x))
	}
	for _, e := range []float64{0.625, 9.01, 44.19, 88.3762626647949, 88.72, 103.9} {
		for _, d := range []float64{-1e-6, 0, 1e-6} {
			xs = append(xs, float32(e+d), float32(-e-d))
		}
	}
	for e := -40; e <= 0; e++ {
		xs = append(xs, float32(math.Ldexp(1.3, e)), -float32(math.Ldexp(1.3, e)))
	}
	return append(xs, 0, float32(math.Copysign(0, -1)), 1e-40, -1e-40, float32(math.Inf(1)), float32(math.Inf(-1)), float32(math.NaN()))
}

func sigmoidRef(x float64) float64 { return 1 / (1 + math.Exp(-x)) }

// checkAct compares got with want to within 1e-6 relative (absolute
// 1e-37 where want is about the smallest normal float or below), with
// NaN only for NaN and exact ±1, 0 and infinity behaviour not required.
func checkAct(t *testing.T, what string, x float32, got float32, want float64) {
	t.Helper()
	if math.IsNaN(want) {
		if !math.IsNaN(float64(got)) {
			t.Fatalf("%s(%v) = %v, want NaN", what, x, got)
		}
		return
	}
	if d := math.Abs(float64(got) - want); !(d <= 1e-6*math.Abs(want) || d <= 1e-37) {
		t.Fatalf("%s(%v) = %v, want %v (relative error %.3g)", what, x, got, want, d/math.Abs(want))
	}
}

func TestActAccuracy(t *testing.T) {
	xs := actInputs()
	forEachActImpl(t, func(t *testing.T, im *actImpl) {
		ys := make([]float32, len(xs))
		im.sigmoid(xs, ys)
		for i, x := range xs {
			checkAct(t, "sigmoid", x, ys[i], sigmoidRef(float64(x)))
		}
		im.tanh(xs, ys)
		for i, x := range xs {
			checkAct(t, "tanh", x, ys[i], math.Tanh(float64(x)))
			if x == 0 && math.Signbit(float64(x)) != math.Signbit(float64(ys[i])) {
				t.Errorf("tanh(%v) = %v: the sign of zero is lost", x, ys[i])
			}
		}
	})
}

// TestActMatchesGeneric runs every implementation over awkward lengths
// on misaligned slices, out of place (with guard values after y) and in
// place, and compares with the Go reference.
func TestActMatchesGeneric(t *testing.T) {
	r := rand.New(rand.NewSource(3))
	forEachActImpl(t, func(t *testing.T, im *actImpl) {
		for _, n := range []int{0, 1, 2, 3, 7, 8, 9, 15, 16, 17, 31, 33, 64, 100} {
			for _, fn := range []struct {
				name     string
				got, ref func(x, y []float32)
			}{{"sigmoid", im.sigmoid, sigmoidGeneric}, {"tanh", im.tanh, tanhGeneric}} {
				x := make([]float32, n+1)[1:]
				for i := range x {
					x[i] = float32(r.NormFloat64() * 4)
				}
				want := make([]float32, n)
				fn.ref(x, want)
				buf := make([]float32, n+5)[1:]
				for i := range buf {
					buf[i] = guard
				}
				if n > 0 {
					fn.got(x, buf[:n])
				}
				in := append([]float32(nil), x...)
				if n > 0 {
					fn.got(in, in)
				}
				for i := range want {
					for _, got := range []float32{buf[i], in[i]} {
						if d := math.Abs(float64(got - want[i])); d > 4e-7*math.Abs(float64(want[i]))+1e-38 {
							t.Fatalf("%s n=%d: y[%d] = %v, want %v", fn.name, n, i, got, want[i])
						}
					}
				}
				for i := n; i < len(buf); i++ {
					if buf[i] != guard {
						t.Fatalf("%s n=%d: wrote past y at %d", fn.name, n, i)
					}
				}
			}
		}
	})
}

func TestLSTMCell(t *testing.T) {
	r := rand.New(rand.NewSource(4))
	forEachActImpl(t, func(t *testing.T, im *actImpl) {
		for _, n := range []int{1, 3, 7, 8, 9, 15, 16, 17, 50, 64} {
			rnd := func(k int, scale float64) []float32 {
				s := make([]float32, k+1)[1:]
				for i := range s {
					s[i] = float32(r.NormFloat64() * scale)
				}
				return s
			}
			g, c := rnd(4*n, 3), rnd(n, 3)
			want, wantC := make([]float64, n), make([]float64, n)
			for j := 0; j < n; j++ {
				a := func(q int) float64 { return float64(g[q*n+j]) }
				wantC[j] = sigmoidRef(a(2))*float64(c[j]) + sigmoidRef(a(0))*math.Tanh(a(3))
				want[j] = sigmoidRef(a(1)) * math.Tanh(wantC[j])
			}
			h := make([]float32, n+3)
			for i := range h {
				h[i] = guard
			}
			im.lstmCell(g, c, h[:n])
			for j := 0; j < n; j++ {
				if d := math.Abs(float64(c[j]) - wantC[j]); d > 2e-6*(1+math.Abs(wantC[j])) {
					t.Fatalf("n=%d: c[%d] = %v, want %v", n, j, c[j], wantC[j])
				}
				if d := math.Abs(float64(h[j]) - want[j]); d > 2e-6*(1+math.Abs(want[j])) {
					t.Fatalf("n=%d: h[%d] = %v, want %v", n, j, h[j], want[j])
				}
			}
			for i := n; i < len(h); i++ {
				if h[i] != guard {
					t.Fatalf("n=%d: wrote past h at %d", n, i)
				}
			}
		}
	})
}

func TestActPanics(t *testing.T) {
	for _, f := range []func(){
		func() { Sigmoid(make([]float32, 3), make([]float32, 2)) },
		func() { Tanh(make([]float32, 3), make([]float32, 4)) },
		func() { LSTMCell(make([]float32, 7), make([]float32, 2), make([]float32, 2)) },
	} {
		func() {
			defer func() {
				if recover() == nil {
					t.Error("a length mismatch did not panic")
				}
			}()
			f()
		}()
	}
}

// minLoop runs f in groups of 64 calls as the body of a benchmark and
// reports the fastest group's time per call ("min-ns/op"), which other
// processes of a busy machine disturb far less than the mean.
func minLoop(b *testing.B, f func()) {
	best := time.Duration(math.MaxInt64)
	for b.Loop() {
		t0 := time.Now()
		for i := 0; i < 64; i++ {
			f()
		}
		best = min(best, time.Since(t0))
	}
	b.ReportMetric(float64(best.Nanoseconds())/64, "min-ns/op")
}

// BenchmarkAct times the activations over a 256-element row (an LSTM's
// four gates at hidden size 64), and an LSTM cell of 64 units.
func BenchmarkAct(b *testing.B) {
	for _, im := range actImpls {
		if !im.available {
			continue
		}
		x := make([]float32, 256)
		for i := range x {
			x[i] = float32(i%37)/4 - 4
		}
		y := make([]float32, len(x))
		for _, fn := range []struct {
			name string
			f    func(x, y []float32)
		}{{"sigmoid", im.sigmoid}, {"tanh", im.tanh}} {
			b.Run(fmt.Sprintf("%s/%s", im.name, fn.name), func(b *testing.B) {
				minLoop(b, func() { fn.f(x, y) })
			})
		}
		g, c, h := make([]float32, 256), make([]float32, 64), make([]float32, 64)
		b.Run(im.name+"/lstmCell64", func(b *testing.B) {
			minLoop(b, func() {
				copy(g, x)
				im.lstmCell(g, c, h)
			})
		})
	}
}
