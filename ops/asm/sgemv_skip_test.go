package asm

import (
	"fmt"
	"math"
	"math/rand"
	"testing"
	"time"
)

// TestSgemvSkipMatchesPacked checks SgemmSkip on one row against
// SgemmPackedEpi bit for bit: widths around the panel edges, depths
// around the k blocks (odd and even), alpha and beta of every kind,
// misaligned slices, an epilogue, all-zero and dense rows, and NaNs and
// infinities in A (never skipped).
func TestSgemvSkipMatchesPacked(t *testing.T) {
	if sk := skipKernelsFor(sgemmDefault); sk == nil || sk.row == nil {
		t.Skip("no one-row skipping kernel for this implementation")
	}
	r := rand.New(rand.NewSource(12))
	kinds := []struct {
		name string
		zero float64
		odd  float32 // a value put at a few steps, or 0
	}{
		{"sparse", 0.8, 0}, {"half", 0.5, 0}, {"all-zero", 1, 0}, {"dense", 0, 0},
		{"nan", 0.8, float32(math.NaN())}, {"inf", 0.8, float32(math.Inf(-1))},
	}
	var shapes [][2]int
	for _, n := range []int{32, 33, 40, 63, 64, 65, 100, 128, 130, 256} {
		for _, k := range []int{1, 2, 3, 7, 64, 195, 196, 257, 784, 1001} {
			shapes = append(shapes, [2]int{n, k})
		}
	}
	// As many k blocks as SgemmSkip takes, whose lists end furthest past k.
	shapes = append(shapes, [2]int{32, (skipMaxBlocks-1)*kc + 1})
	for _, s := range shapes {
		n, k := s[0], s[1]
		for _, ab := range [][2]float32{{1, 0}, {0.5, 0}, {1, 1}, {-2, -0.75}} {
			for _, sp := range kinds {
				alpha, beta := ab[0], ab[1]
				off := r.Intn(7)
				a := sparseA(r, 1, k, k, off, sp.zero, 0)
				if sp.odd != 0 {
					for i := 0; i < 3; i++ {
						a[r.Intn(k)] = sp.odd
					}
				}
				pb := PackB(false, k, n, randSlice[float32](r, k*n), n)
				c0 := randSlice[float32](r, off+n)[off:]
				want := append([]float32(nil), c0...)
				got := append([]float32(nil), c0...)
				marks := func(cc []float32, ldc, i0, j0, rows, cols int) {
					for j := j0; j < j0+cols; j++ {
						cc[i0*ldc+j] = cc[i0*ldc+j]*2 + 1
					}
				}
				name := fmt.Sprintf("n=%d k=%d alpha=%v beta=%v %s", n, k, alpha, beta, sp.name)
				idx := make([]int32, SkipScratch(1, k))
				SgemmPackedEpi(false, 1, n, k, alpha, a, k, pb, beta, want, n, marks)
				// Small products too (SgemmSkip declines below rowMinWork).
				ok := sgemvSkip(sgemmDefault, skipKernelsFor(sgemmDefault), n, k, alpha, a, NewSkipB(pb), beta, got, n, marks, idx, rowMaxDense, 0)
				checkSkip(t, name, ok, sp.zero < 0.8 || k < 64, got, want, c0, n)
			}
		}
	}
}

// TestSkipRowRef checks the listed one-row kernel against its Go
// reference (fused multiply-adds), bit for bit, over lists of every
// length up to 40 from blocks of awkward depths, on one to five panels.
func TestSkipRowRef(t *testing.T) {
	sk := skipKernelsFor(sgemmDefault)
	if sk == nil || sk.row == nil {
		t.Skip("no one-row skipping kernel for this implementation")
	}
	r := rand.New(rand.NewSource(14))
	for _, kb := range []int{1, 2, 5, 40, 196} {
		for cnt := 0; cnt <= min(kb, 40); cnt++ {
			for np := 1; np <= 5; np++ {
				for _, ab := range [][2]float32{{1, 0}, {-1.5, 0}, {1, 1}, {0.25, -0.5}} {
					b := randSlice[float32](r, np*kb*panelN)
					perm := r.Perm(kb)[:cnt]
					sortInts(perm)
					var ev, od []int32
					for _, p := range perm {
						if p%2 == 0 {
							ev = append(ev, int32(p*panelN*4))
						} else {
							od = append(od, int32(p*panelN*4))
						}
					}
					off := r.Intn(5)
					a := randSlice[float32](r, off+kb)[off:]
					c0 := randSlice[float32](r, off+np*panelN)[off:]
					got := append([]float32(nil), c0...)
					want := append([]float32(nil), c0...)
					sk.row(ev, od, a, b, kb, np, got, ab[0], ab[1])
					skipRowRef(ev, od, a, b, kb, np, want, ab[0], ab[1])
					for x := range got {
						if !sameBits(got[x], want[x]) {
							t.Fatalf("kb=%d cnt=%d np=%d alpha, beta=%v: c[%d] = %v, want %v", kb, cnt, np, ab, x, got[x], want[x])
						}
					}
				}
			}
		}
	}
}

// TestScanRowParity checks the even and odd lists against a plain loop,
// with zeros of both signs and NaNs, at odd and even lengths.
func TestScanRowParity(t *testing.T) {
	r := rand.New(rand.NewSource(15))
	for _, kb := range []int{1, 2, 3, 8, 9, 196, 257} {
		for _, zero := range []float64{0, 0.5, 1} {
			a := sparseA(r, 1, kb, kb, r.Intn(4), zero, 0)
			a[r.Intn(kb)] = float32(math.NaN())
			ev, od := make([]int32, (kb+1)/2), make([]int32, kb/2)
			ne, no := scanRowParity(a, ev, od)
			var wev, wod []int32
			for p, x := range a {
				if x == 0 {
					continue
				}
				if p%2 == 0 {
					wev = append(wev, int32(p*panelN*4))
				} else {
					wod = append(wod, int32(p*panelN*4))
				}
			}
			if fmt.Sprint(ev[:ne]) != fmt.Sprint(wev) && (ne != 0 || len(wev) != 0) ||
				fmt.Sprint(od[:no]) != fmt.Sprint(wod) && (no != 0 || len(wod) != 0) {
				t.Fatalf("kb=%d zero=%v: lists %v %v, want %v %v", kb, zero, ev[:ne], od[:no], wev, wod)
			}
		}
	}
}

// TestSgemvPackedMatchesSgemv checks what lets a Dense layer on one row
// take its packed constant: SgemvPacked says SgemmPacked gives Sgemm's
// one-row product on B as stored bit for bit, and it must.
func TestSgemvPackedMatchesSgemv(t *testing.T) {
	if !SgemvPacked() {
		t.Skip("this implementation multiplies one row on a packed B otherwise")
	}
	r := rand.New(rand.NewSource(16))
	for _, n := range []int{1, 7, 8, 9, 31, 32, 33, 64, 100, 128, 200} {
		for _, k := range []int{1, 2, 3, 64, 195, 257, 784} {
			for _, ab := range [][2]float32{{1, 0}, {1, 1}, {-2, 0.5}} {
				a := randSlice[float32](r, k)
				b := randSlice[float32](r, k*n)
				c0 := randSlice[float32](r, n)
				got, want := append([]float32(nil), c0...), append([]float32(nil), c0...)
				Sgemm(false, false, 1, n, k, ab[0], a, k, b, n, ab[1], want, n)
				SgemmPacked(false, 1, n, k, ab[0], a, k, PackB(false, k, n, b, n), ab[1], got, n)
				for x := range got {
					if !sameBits(got[x], want[x]) {
						t.Fatalf("n=%d k=%d alpha, beta=%v: c[%d] = %v, Sgemm gives %v", n, k, ab, x, got[x], want[x])
					}
				}
			}
		}
	}
}

// BenchmarkSgemvSkipMin times SgemmPacked and the skipping product on
// one row call by call, alternating, and reports the fastest call of
// each for a range of densities (rowMaxDense comes from it).
func BenchmarkSgemvSkipMin(b *testing.B) {
	for _, s := range [][2]int{{128, 784}, {64, 128}, {512, 2304}} {
		n, k := s[0], s[1]
		r := rand.New(rand.NewSource(1))
		pb := PackB(false, k, n, randSlice[float32](r, k*n), n)
		sb := NewSkipB(pb)
		c := make([]float32, n)
		idx := make([]int32, SkipScratch(1, k))
		for _, dense := range []float64{1, 0.8, 0.7, 0.6, 0.5, 0.4, 0.2} {
			a := sparseA(r, 1, k, k, 0, 1-dense, 0)
			b.Run(fmt.Sprintf("n=%d/k=%d/dense=%v", n, k, dense), func(b *testing.B) {
				minP, minS := time.Duration(math.MaxInt64), time.Duration(math.MaxInt64)
				for i := 0; i < b.N; i++ {
					t0 := time.Now()
					sgemvSkip(sgemmDefault, skipKernelsFor(sgemmDefault), n, k, 1, a, sb, 0, c, n, nil, idx, 256, 0)
					t1 := time.Now()
					SgemmPacked(false, 1, n, k, 1, a, k, pb, 0, c, n)
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

// TestListRow checks the lists made from the kernel's masks, and their
// count, against scanRowParity over depths around multiples of 8 and 64.
func TestListRow(t *testing.T) {
	sk := skipKernelsFor(sgemmDefault)
	if sk == nil || sk.nonZero == nil {
		t.Skip("no non-zero mask kernel for this implementation")
	}
	r := rand.New(rand.NewSource(17))
	for _, kb := range []int{1, 7, 8, 9, 63, 64, 65, 127, 128, 196, 255, 256} {
		for _, zero := range []float64{0, 0.5, 0.9, 1} {
			a := sparseA(r, 1, kb, kb, r.Intn(8), zero, 0)
			a[r.Intn(kb)] = float32(math.NaN())
			ev, od := make([]int32, (kb+1)/2), make([]int32, kb/2)
			wev, wod := make([]int32, (kb+1)/2), make([]int32, kb/2)
			ne, no := sk.listRow(a, ev, od)
			we, wo := scanRowParity(a, wev, wod)
			if fmt.Sprint(ev[:ne], od[:no]) != fmt.Sprint(wev[:we], wod[:wo]) {
				t.Fatalf("kb=%d zero=%v: lists %v %v, want %v %v", kb, zero, ev[:ne], od[:no], wev[:we], wod[:wo])
			}
			if c := sk.countNonZero(a); c != we+wo {
				t.Fatalf("kb=%d zero=%v: counted %d, listed %d", kb, zero, c, we+wo)
			}
		}
	}
}
