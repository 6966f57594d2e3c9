package asm

import (
	"fmt"
	"math"
	"math/rand"
	"testing"
)

// forEachExpImpl runs f as a subtest for every Exp implementation
// compiled in, skipping those the CPU lacks.
func forEachExpImpl(t *testing.T, f func(t *testing.T, im *expImpl)) {
	for _, im := range expImpls {
		t.Run(im.name, func(t *testing.T) {
			if !im.available {
				t.Skipf("the CPU does not support %s", im.name)
			}
			f(t, im)
		})
	}
}

// expWant is e^x correctly rounded to float32 (math.Exp is within an ulp
// of float64, far below float32's).
func expWant(x float32) float32 { return float32(math.Exp(float64(x))) }

// ulpDiff is the distance between two non-negative floats in units in
// the last place (+Inf counts as the float after MaxFloat32); NaN is
// only at distance 0 from NaN.
func ulpDiff(a, b float32) int64 {
	if a != a || b != b {
		if a != a && b != b {
			return 0
		}
		return math.MaxInt64
	}
	d := int64(math.Float32bits(a)) - int64(math.Float32bits(b))
	if math.Signbit(float64(a)) || math.Signbit(float64(b)) {
		return math.MaxInt64
	}
	return max(d, -d)
}

// expSweep returns a dense sweep of [-106, 90], the edges of the clamps,
// the overflow and underflow thresholds with their neighbours, and
// random floats of every exponent.
func expSweep(short bool) []float32 {
	step := 1e-4
	if short {
		step = 3.7e-3
	}
	var xs []float32
	for x := -106.0; x <= 90; x += step {
		xs = append(xs, float32(x))
	}
	for _, e := range []float32{89, -104, 88.72283, 88.722839, -87.33654, -87.33655, -103.27893, -103.97208, -103.9721} {
		v := e
		for i := 0; i < 50; i++ {
			xs = append(xs, v)
			v = math.Nextafter32(v, float32(math.Inf(1)))
		}
		v = e
		for i := 0; i < 50; i++ {
			v = math.Nextafter32(v, float32(math.Inf(-1)))
			xs = append(xs, v)
		}
	}
	r := rand.New(rand.NewSource(7))
	for i := 0; i < 200000; i++ {
		xs = append(xs, math.Float32frombits(r.Uint32()))
	}
	return xs
}

func TestExpAccuracy(t *testing.T) {
	xs := expSweep(testing.Short())
	forEachExpImpl(t, func(t *testing.T, im *expImpl) {
		ys := make([]float32, len(xs))
		im.exp(xs, ys)
		var maxNormal, maxSub int64
		for i, x := range xs {
			want, got := expWant(x), ys[i]
			d := ulpDiff(got, want)
			limit := int64(2)
			if want < 0x1p-126 {
				limit = 1 // in units of the subnormal spacing
				maxSub = max(maxSub, d)
			} else {
				maxNormal = max(maxNormal, d)
			}
			if d > limit {
				t.Fatalf("exp(%v = %#x) = %v (%#x), want %v (%#x): %d ulps", x, math.Float32bits(x), got, math.Float32bits(got), want, math.Float32bits(want), d)
			}
			if x > 88.72284 && !math.IsInf(float64(got), 1) {
				t.Fatalf("exp(%v) = %v, want +Inf", x, got)
			}
			if x < -103.9721 && got != 0 {
				t.Fatalf("exp(%v) = %v, want 0", x, got)
			}
		}
		t.Logf("%d values: at most %d ulps where e^x is normal, %d subnormal spacings below", len(xs), maxNormal, maxSub)
	})
}

func TestExpSpecials(t *testing.T) {
	inf := float32(math.Inf(1))
	nan := float32(math.NaN())
	cases := []struct{ x, want float32 }{
		{inf, inf}, {-inf, 0}, {nan, nan}, {0, 1}, {float32(math.Copysign(0, -1)), 1},
		{1, math.E}, {-1, 1 / math.E}, {89, inf}, {88.73, inf}, {1000, inf}, {math.MaxFloat32, inf},
		{-104, 0}, {-1000, 0}, {-math.MaxFloat32, 0}, {1e-45, 1}, {-1e-45, 1},
		{-103.2789, 0x1p-149}, {88.72283, expWant(88.72283)},
	}
	forEachExpImpl(t, func(t *testing.T, im *expImpl) {
		// Each value alone (the tail path) and in a full vector.
		for _, c := range cases {
			for _, n := range []int{1, 8, 35} {
				xs := make([]float32, n)
				for i := range xs {
					xs[i] = c.x
				}
				ys := make([]float32, n)
				im.exp(xs, ys)
				for _, y := range ys {
					if ulpDiff(y, c.want) > 1 || (c.want == inf || c.want == 0) != (y == inf || y == 0) {
						t.Errorf("n=%d: exp(%v) = %v, want %v", n, c.x, y, c.want)
						break
					}
				}
			}
		}
	})
}

// TestExpMatchesGeneric compares each implementation with the Go
// reference over lengths 0..70 at misaligned offsets, in place and not,
// and checks that nothing outside y is written.
func TestExpMatchesGeneric(t *testing.T) {
	r := rand.New(rand.NewSource(3))
	const guard = float32(-12345)
	forEachExpImpl(t, func(t *testing.T, im *expImpl) {
		for n := 0; n <= 70; n++ {
			for off := 0; off < 4; off++ {
				x := make([]float32, n+off+4)
				for i := range x {
					x[i] = float32(r.NormFloat64() * 30)
				}
				if n > 2 {
					x[off+r.Intn(n)] = float32(math.NaN())
					x[off+r.Intn(n)] = float32(math.Inf(-1))
				}
				xs := x[off : off+n]
				want := make([]float32, n)
				expSliceGeneric(xs, want)
				buf := make([]float32, n+off+4)
				for i := range buf {
					buf[i] = guard
				}
				ys := buf[off : off+n]
				if n > 0 {
					im.exp(xs, ys)
				}
				for i := range buf {
					if (i < off || i >= off+n) && buf[i] != guard {
						t.Fatalf("n=%d off=%d: wrote outside y at %d", n, off, i)
					}
				}
				in := append([]float32(nil), x...)
				if n > 0 {
					im.exp(in[off:off+n], in[off:off+n])
				}
				for i := range want {
					if d := ulpDiff(ys[i], want[i]); d > 1 {
						t.Fatalf("n=%d off=%d: exp(%v) = %v, the Go reference gives %v", n, off, xs[i], ys[i], want[i])
					}
					if math.Float32bits(in[off+i]) != math.Float32bits(ys[i]) {
						t.Fatalf("n=%d off=%d: in place exp(%v) = %v, not in place %v", n, off, xs[i], in[off+i], ys[i])
					}
				}
			}
		}
	})
}

func TestExpPanics(t *testing.T) {
	for _, f := range []func(){
		func() { Exp(make([]float32, 3), make([]float32, 2)) },
		func() { ExpSum(make([]float32, 3), make([]float32, 4), 0) },
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

func TestExpDispatch(t *testing.T) {
	if im := chooseExp("generic"); im != expGeneric {
		t.Errorf("chooseExp(generic) = %s", im.name)
	}
	Exp(nil, nil)
	x := []float32{0, 1}
	Exp(x, x)
	if x[0] != 1 || ulpDiff(x[1], math.E) > 1 {
		t.Errorf("Exp in place: %v", x)
	}
}

// BenchmarkExp times Exp per implementation over n values.
func BenchmarkExp(b *testing.B) {
	for _, im := range expImpls {
		if !im.available {
			continue
		}
		for _, n := range []int{10, 1000} {
			x := make([]float32, n)
			for i := range x {
				x[i] = float32(i%97) * -0.37
			}
			y := make([]float32, n)
			b.Run(fmt.Sprintf("%s/%d", im.name, n), func(b *testing.B) {
				for i := 0; i < b.N; i++ {
					im.exp(x, y)
				}
				b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/elem")
			})
		}
	}
}

// TestExpSum checks ExpSum's kernels against exp of x-m and a float64
// sum over lengths 0..70 at misaligned offsets, in place and not, with
// special values, and that nothing outside y is written.
func TestExpSum(t *testing.T) {
	r := rand.New(rand.NewSource(4))
	const guard = float32(-12345)
	inf, nan := float32(math.Inf(1)), float32(math.NaN())
	forEachExpImpl(t, func(t *testing.T, im *expImpl) {
		for n := 1; n <= 70; n++ {
			for off := 0; off < 4; off++ {
				for _, special := range []float32{0, nan, -inf, inf} {
					x := make([]float32, n+off+4)
					for i := range x {
						x[i] = float32(r.NormFloat64() * 20)
					}
					xs := x[off : off+n]
					if special != 0 {
						xs[r.Intn(n)] = special
					}
					m := xs[0]
					for _, v := range xs {
						m = max(m, v)
					}
					if special == inf {
						m = 3 // +Inf-m: the sum is +Inf
					}
					want := make([]float32, n)
					var wantSum float64
					for i, v := range xs {
						want[i] = expWant(v - m)
						wantSum += float64(want[i])
					}
					buf := make([]float32, n+off+4)
					for i := range buf {
						buf[i] = guard
					}
					ys := buf[off : off+n]
					sum := im.expSum(xs, ys, m)
					for i := range buf {
						if (i < off || i >= off+n) && buf[i] != guard {
							t.Fatalf("n=%d off=%d: wrote outside y at %d", n, off, i)
						}
					}
					for i := range want {
						if ulpDiff(ys[i], want[i]) > 1 {
							t.Fatalf("n=%d off=%d: e^(%v-%v) = %v, want %v", n, off, xs[i], m, ys[i], want[i])
						}
					}
					switch {
					case math.IsNaN(wantSum) || math.IsInf(wantSum, 0):
						if !(math.IsNaN(sum) && math.IsNaN(wantSum) || sum == wantSum) {
							t.Fatalf("n=%d off=%d special %v: sum %v, want %v", n, off, special, sum, wantSum)
						}
					case math.Abs(sum-wantSum) > 1e-6*wantSum:
						t.Fatalf("n=%d off=%d: sum %v, want %v", n, off, sum, wantSum)
					}
					in := append([]float32(nil), xs...)
					if s2 := im.expSum(in, in, m); !(s2 == sum || math.IsNaN(s2) && math.IsNaN(sum)) {
						t.Fatalf("n=%d off=%d: in place sum %v, not in place %v", n, off, s2, sum)
					}
					for i := range in {
						if math.Float32bits(in[i]) != math.Float32bits(ys[i]) {
							t.Fatalf("n=%d off=%d: in place %v, not in place %v", n, off, in[i], ys[i])
						}
					}
				}
			}
		}
	})
	if s := ExpSum(nil, nil, 1); s != 0 {
		t.Errorf("ExpSum of nothing = %v", s)
	}
}

// BenchmarkExpSum times ExpSum per implementation over n values.
func BenchmarkExpSum(b *testing.B) {
	for _, im := range expImpls {
		if !im.available {
			continue
		}
		for _, n := range []int{10, 1000} {
			x := make([]float32, n)
			for i := range x {
				x[i] = float32(i%97) * 0.37
			}
			y := make([]float32, n)
			b.Run(fmt.Sprintf("%s/%d", im.name, n), func(b *testing.B) {
				for i := 0; i < b.N; i++ {
					im.expSum(x, y, 35)
				}
				b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/elem")
			})
		}
	}
}

// softmaxRowsRef is what an implementation's softmaxRows computes for
// each row of n values: the row's maximum m (NaN when the row has one),
// the exponentials of x-m by the implementation's expSum with their
// float64 sum s, then each times float32(1/s).
func softmaxRowsRef(im *expImpl, x []float32, n int) []float32 {
	y := make([]float32, len(x))
	for r := 0; r < len(x); r += n {
		row := x[r : r+n]
		m := row[0]
		for _, v := range row {
			if v != v || m != m {
				m = v + m
			} else {
				m = max(m, v)
			}
		}
		s := im.expSum(row, y[r:r+n], m)
		f := float32(1 / s)
		for i := r; i < r+n; i++ {
			y[i] *= f
		}
	}
	return y
}

// TestSoftmaxRows checks every softmaxRows kernel against
// softmaxRowsRef: every row length it takes, one to five rows,
// misaligned slices, wide and narrow ranges, ±Inf and NaN, in place;
// nothing past the rows is written. The float64 sums may differ in
// order, so the results within an ulp.
func TestSoftmaxRows(t *testing.T) {
	r := rand.New(rand.NewSource(9))
	const guard = float32(-12345)
	inf, nan := float32(math.Inf(1)), float32(math.NaN())
	ran := false
	forEachExpImpl(t, func(t *testing.T, im *expImpl) {
		if im.softmaxRows == nil {
			t.Skip("no softmaxRows kernel")
		}
		ran = true
		for n := 1; n <= softmaxRowsMax; n++ {
			for rows := 1; rows <= 5; rows++ {
				for _, special := range []float32{0, nan, -inf, inf, 1} {
					off := r.Intn(16)
					scale := []float64{0.01, 3, 40}[r.Intn(3)]
					buf := make([]float32, off+rows*n+17)
					for i := range buf {
						buf[i] = float32(r.NormFloat64() * scale)
					}
					x := buf[off : off+rows*n]
					switch special {
					case 1: // a row of -Inf but one value, a row all -Inf
						for i := range x[:n] {
							x[i] = -inf
						}
						x[r.Intn(n)] = 2
						if rows > 1 {
							for i := n; i < 2*n; i++ {
								x[i] = -inf
							}
						}
					case 0:
					default:
						x[r.Intn(len(x))] = special
					}
					want := softmaxRowsRef(im, x, n)
					out := make([]float32, len(buf))
					for i := range out {
						out[i] = guard
					}
					y := out[off : off+rows*n]
					im.softmaxRows(x, y, n)
					for i := range out {
						if (i < off || i >= off+rows*n) && out[i] != guard {
							t.Fatalf("n=%d rows=%d: wrote outside y at %d", n, rows, i)
						}
					}
					for i := range want {
						if ulpDiff(y[i], want[i]) > 1 {
							t.Fatalf("n=%d rows=%d special %v: y[%d] = %v, want %v (row %v)", n, rows, special, i, y[i], want[i], x[i/n*n:i/n*n+n])
						}
					}
					in := append([]float32(nil), x...)
					im.softmaxRows(in, in, n)
					for i := range in {
						if math.Float32bits(in[i]) != math.Float32bits(y[i]) && !(in[i] != in[i] && y[i] != y[i]) {
							t.Fatalf("n=%d rows=%d: in place %v, not in place %v", n, rows, in[i], y[i])
						}
					}
				}
			}
		}
	})
	if !ran {
		if SoftmaxRows(make([]float32, 4), make([]float32, 4), 2) {
			t.Fatal("SoftmaxRows reports a kernel that no implementation has")
		}
	}
}
