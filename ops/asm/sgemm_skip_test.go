package asm

import (
	"fmt"
	"math"
	"math/rand"
	"testing"
	"time"
)

// sparseA returns m rows of k values at stride lda after off floats,
// where each column is zero in every row with probability zcol, and each
// other value is zero with probability zval.
func sparseA(r *rand.Rand, m, k, lda, off int, zcol, zval float64) []float32 {
	a := randSlice[float32](r, off+(m-1)*lda+k)
	for p := 0; p < k; p++ {
		zc := r.Float64() < zcol
		for i := 0; i < m; i++ {
			if zc || r.Float64() < zval {
				a[off+i*lda+p] = 0
				if r.Intn(2) == 0 {
					a[off+i*lda+p] = float32(math.Copysign(0, -1))
				}
			}
		}
	}
	return a[off:]
}

// sameBits reports whether x and y are the same float32, any NaN
// matching any NaN.
func sameBits(x, y float32) bool {
	return math.Float32bits(x) == math.Float32bits(y) || x != x && y != y
}

// TestSgemmSkipMatchesPacked checks SgemmSkip against SgemmPackedEpi bit
// for bit: widths around the panel and group edges, depths around the k
// blocks, alpha and beta of every kind, strides wider than the matrices,
// misaligned slices, an epilogue, all-zero A, A with no zero column, rows
// sparse one by one but not together, and NaNs in A (whose columns are
// never skipped).
func TestSgemmSkipMatchesPacked(t *testing.T) {
	im := sgemmDefault
	if skipKernelsFor(im) == nil {
		t.Skip("no skipping kernels for this implementation")
	}
	r := rand.New(rand.NewSource(7))
	type sparsity struct {
		name       string
		zcol, zval float64
		nan        bool
	}
	kinds := []sparsity{
		{"half", 0.5, 0.3, false}, {"mostly-zero", 0.9, 0.5, false}, {"all-zero", 1, 0, false},
		{"dense", 0, 0, false}, {"nan", 0.6, 0.2, true},
		// Rows sparse one by one, not together: the row lists win there
		// (over the pair lists, on AVX-512).
		{"rows-apart", 0.3, 0.9, false},
	}
	for _, n := range []int{32, 33, 40, 63, 64, 65, 96, 100, 128, 130, 160, 200, 256, 800} {
		for _, k := range []int{1, 2, 3, 7, 64, 196, 257, 784, 2304} {
			for _, ab := range [][2]float32{{1, 0}, {0.5, 0}, {1, 1}, {1, 0.3}, {-2, -0.75}} {
				for _, sp := range kinds {
					alpha, beta := ab[0], ab[1]
					off := r.Intn(7)
					lda, ldc := k+r.Intn(3), n+r.Intn(3)
					a := sparseA(r, 4, k, lda, off, sp.zcol, sp.zval)
					if sp.nan {
						for i := 0; i < 3; i++ {
							a[r.Intn(4)*lda+r.Intn(k)] = float32(math.NaN())
						}
					}
					pb := PackB(false, k, n, randSlice[float32](r, k*n), n)
					sb := NewSkipB(pb)
					c0 := randSlice[float32](r, off+3*ldc+n)[off:]
					want := append([]float32(nil), c0...)
					got := append([]float32(nil), c0...)
					marks := func(cc []float32, ldc, i0, j0, rows, cols int) {
						for i := i0; i < i0+rows; i++ {
							for j := j0; j < j0+cols; j++ {
								cc[i*ldc+j] = cc[i*ldc+j]*2 + 1
							}
						}
					}
					name := fmt.Sprintf("n=%d k=%d alpha=%v beta=%v %s", n, k, alpha, beta, sp.name)
					idx := make([]int32, SkipScratch(4, k))
					SgemmPackedEpi(false, 4, n, k, alpha, a, lda, pb, beta, want, ldc, marks)
					ok := SgemmSkip(4, n, k, alpha, a, lda, sb, beta, got, ldc, marks, idx)
					checkSkip(t, name, ok, sp.zcol < 0.5 || k < 64, got, want, c0, ldc)
				}
			}
		}
	}
}

// checkSkip checks the outcome ok of an SgemmSkip call that wrote got
// against SgemmPacked's want: declined (which must be allowed: mayDecline),
// it must have left C as it was (c0); else got must be want bit for bit.
func checkSkip(t *testing.T, name string, ok, mayDecline bool, got, want, c0 []float32, ldc int) {
	t.Helper()
	if !ok {
		for x := range got {
			if math.Float32bits(got[x]) != math.Float32bits(c0[x]) {
				t.Fatalf("%s: declined but wrote C[%d]", name, x)
			}
		}
		if !mayDecline {
			t.Fatalf("%s: declined", name)
		}
		return
	}
	for x := range got {
		if !sameBits(got[x], want[x]) {
			t.Fatalf("%s: C[%d][%d] = %v, SgemmPacked gives %v", name, x/ldc, x%ldc, got[x], want[x])
		}
	}
}

// TestSgemmSkipDeclines checks the products SgemmSkip leaves to
// SgemmPacked, for four rows and for one: B with an infinity or a NaN,
// narrow B, and A without zeros; a row on a small B; and rows other than
// four or one.
func TestSgemmSkipDeclines(t *testing.T) {
	r := rand.New(rand.NewSource(8))
	k, n := 256, 64
	for _, m := range []int{4, 1} {
		zero := make([]float32, m*k) // all zero: skipping would pay
		idx := make([]int32, SkipScratch(m, k))
		c := make([]float32, m*n)
		for _, bad := range []float32{float32(math.Inf(1)), float32(math.Inf(-1)), float32(math.NaN())} {
			bs := randSlice[float32](r, k*n)
			bs[r.Intn(k*n)] = bad
			if SgemmSkip(m, n, k, 1, zero, k, NewSkipB(PackB(false, k, n, bs, n)), 0, c, n, nil, idx) {
				t.Errorf("m=%d: skipped with %v in B", m, bad)
			}
		}
		if SgemmSkip(m, 31, k, 1, zero, k, NewSkipB(PackB(false, k, 31, randSlice[float32](r, k*31), 31)), 0, c, 31, nil, idx) {
			t.Errorf("m=%d: skipped with n = 31", m)
		}
		if SgemmSkip(m, n, k, 1, randSlice[float32](r, m*k), k, NewSkipB(PackB(false, k, n, randSlice[float32](r, k*n), n)), 0, c, n, nil, idx) {
			t.Errorf("m=%d: skipped an A without zeros", m)
		}
	}
	if SgemmSkip(1, 32, 100, 1, make([]float32, 100), 100, NewSkipB(PackB(false, 100, 32, randSlice[float32](r, 3200), 32)), 0, make([]float32, 32), 32, nil, make([]int32, SkipScratch(1, 100))) {
		t.Errorf("skipped a row on a 100×32 B (below rowMinWork)")
	}
	a := make([]float32, 5*k)
	idx := make([]int32, SkipScratch(5, k))
	c := make([]float32, 5*n)
	sb := NewSkipB(PackB(false, k, n, randSlice[float32](r, k*n), n))
	for _, m := range []int{2, 3, 5} {
		if SgemmSkip(m, n, k, 1, a, k, sb, 0, c, n, nil, idx) {
			t.Errorf("skipped with m = %d (no kernel)", m)
		}
	}
}

// TestSkipRows4Ref checks the listed four-row kernel against its Go
// reference (fused multiply-adds), bit for bit, over lists of every
// length up to 40 drawn from blocks of awkward depths.
func TestSkipRows4Ref(t *testing.T) {
	sk := skipKernelsFor(sgemmDefault)
	if sk == nil || sk.rows4 == nil {
		t.Skip("no skipping kernels for this implementation")
	}
	r := rand.New(rand.NewSource(9))
	for _, kb := range []int{1, 5, 40, 196} {
		for cnt := 0; cnt <= min(kb, 40); cnt++ {
			for _, ng := range []int{2, 3} {
				for _, ab := range [][2]float32{{1, 0}, {-1.5, 0}, {1, 1}, {0.25, -0.5}} {
					panel := randSlice[float32](r, kb*panelN)
					var b [3][]float32
					for g := 0; g < ng; g++ {
						b[g] = panel[8*g:]
					}
					perm := r.Perm(kb)[:cnt]
					sortInts(perm)
					idx := make([]int32, cnt, cnt+skipAhead)
					for e, p := range perm {
						idx[e] = int32(p)
					}
					off := r.Intn(5)
					lda := kb + r.Intn(3)
					a := randSlice[float32](r, off+3*lda+kb)[off:]
					ldc := 8*ng + r.Intn(3)
					c0 := randSlice[float32](r, 3*ldc+8*ng)
					got := append([]float32(nil), c0...)
					want := append([]float32(nil), c0...)
					sk.rows4(idx, a, lda, b, got, ldc, ab[0], ab[1], ng)
					skipRows4Ref(idx, a, lda, b, want, ldc, ab[0], ab[1], ng)
					for x := range got {
						if !sameBits(got[x], want[x]) {
							t.Fatalf("kb=%d cnt=%d ng=%d alpha, beta=%v: c[%d] = %v, want %v", kb, cnt, ng, ab, x, got[x], want[x])
						}
					}
				}
			}
		}
	}
}

func sortInts(s []int) {
	for i := 1; i < len(s); i++ {
		for j := i; j > 0 && s[j] < s[j-1]; j-- {
			s[j], s[j-1] = s[j-1], s[j]
		}
	}
}

// TestFma32 checks fma32 against float64 arithmetic where that is exact,
// and on the double-rounding cases.
func TestFma32(t *testing.T) {
	r := rand.New(rand.NewSource(10))
	for i := 0; i < 100000; i++ {
		x, y, z := float32(r.NormFloat64()), float32(r.NormFloat64()), float32(r.NormFloat64())
		got := fma32(x, y, z)
		want := float32(math.FMA(float64(x), float64(y), float64(z)))
		// Double rounding is the only way the two may differ, by one ulp.
		if got != want && math.Abs(float64(got-want)) > math.Abs(float64(got))*1.5e-7 {
			t.Fatalf("fma32(%v, %v, %v) = %v, want about %v", x, y, z, got, want)
		}
	}
	// x*y = 2^-24 - 2^-60 and z = 1 + 2^-23: the float64 sum rounds to
	// the float32 midpoint 1 + 2^-23 + 2^-24, which would round to even
	// (1 + 2^-22); the exact sum is below it, so fma32 gives z.
	x := float32(1.0/(1<<12)) * float32(1+1.0/(1<<18))
	y := float32(1.0/(1<<12)) * float32(1-1.0/(1<<18))
	z := float32(1 + 1.0/(1<<23))
	if got := fma32(x, y, z); got != z {
		t.Fatalf("fma32(x, y, z) = %v, want %v", got, z)
	}
	if twice := float32(math.FMA(float64(x), float64(y), float64(z))); twice == z {
		t.Fatalf("the double-rounding case rounds correctly twice: not a test")
	}
}

// TestSkipScan4 checks the kernel that lists the non-zero columns of
// four rows against scanSteps4 over awkward depths, strides and
// alignments, with zeros of both signs and NaNs.
func TestSkipScan4(t *testing.T) {
	sk := skipKernelsFor(sgemmDefault)
	if sk == nil || sk.scan4 == nil {
		t.Skip("no skipping kernels for this implementation")
	}
	r := rand.New(rand.NewSource(11))
	for _, kb := range []int{1, 7, 8, 9, 15, 16, 17, 63, 64, 196, 257} {
		for _, zcol := range []float64{0, 0.3, 0.7, 1} {
			off := r.Intn(8)
			lda := kb + r.Intn(9)
			a := sparseA(r, 4, kb, lda, off, zcol, 0.4)
			if zcol == 0.3 {
				a[r.Intn(4)*lda+r.Intn(kb)] = float32(math.NaN())
			}
			got, want := make([]int32, kb), make([]int32, kb)
			ng := sk.scan4(kb, a, lda, got)
			nw := scanSteps4(0, kb, a, lda, want, 0)
			if ng != nw {
				t.Fatalf("kb=%d zcol=%v: %d steps listed, want %d", kb, zcol, ng, nw)
			}
			for e := 0; e < nw; e++ {
				if got[e] != want[e] {
					t.Fatalf("kb=%d zcol=%v: step %d is %d, want %d", kb, zcol, e, got[e], want[e])
				}
			}
		}
	}
}

// BenchmarkSgemmSkipMin times SgemmPacked and the skipping product
// call by call, alternating, and reports the fastest call of each (a
// load-robust measure on a shared machine) for a range of densities.
func BenchmarkSgemmSkipMin(b *testing.B) {
	for _, s := range [][3]int{{4, 128, 784}, {4, 64, 128}, {4, 512, 2304}} {
		m, n, k := s[0], s[1], s[2]
		r := rand.New(rand.NewSource(1))
		pb := PackB(false, k, n, randSlice[float32](r, k*n), n)
		sb := NewSkipB(pb)
		c := make([]float32, m*n)
		idx := make([]int32, SkipScratch(m, k))
		for _, dense := range []float64{1, 0.95, 0.9, 0.8, 0.7, 0.6, 0.4, 0.2} {
			a := sparseA(r, m, k, k, 0, 1-dense, 0.3)
			b.Run(fmt.Sprintf("m=%d/n=%d/k=%d/dense=%v", m, n, k, dense), func(b *testing.B) {
				minP, minS := time.Duration(math.MaxInt64), time.Duration(math.MaxInt64)
				for i := 0; i < b.N; i++ {
					t0 := time.Now()
					sgemmSkipT(sgemmDefault, m, n, k, 1, a, k, sb, 0, c, n, nil, idx, 256, skipAuto)
					t1 := time.Now()
					SgemmPacked(false, m, n, k, 1, a, k, pb, 0, c, n)
					t2 := time.Now()
					minS, minP = min(minS, t1.Sub(t0)), min(minP, t2.Sub(t1))
				}
				b.ReportMetric(float64(minP.Nanoseconds()), "packed-ns")
				b.ReportMetric(float64(minS.Nanoseconds()), "skip-ns")
				b.ReportMetric(float64(minS)/float64(minP), "ratio")
			})
		}
	}
}
