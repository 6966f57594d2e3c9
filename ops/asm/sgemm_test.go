package asm

import (
	"fmt"
	"math"
	"math/rand"
	"os"
	"runtime"
	"testing"
)

// sgemmRef is the naive triple loop that the fast kernels are checked
// against (accumulating in float64).
func sgemmRef[T float](transA, transB bool, m, n, k int, alpha T, a []T, lda int, b []T, ldb int, beta T, c []T, ldc int) {
	for i := 0; i < m; i++ {
		for j := 0; j < n; j++ {
			var s float64
			for p := 0; p < k; p++ {
				var av, bv T
				if transA {
					av = a[p*lda+i]
				} else {
					av = a[i*lda+p]
				}
				if transB {
					bv = b[j*ldb+p]
				} else {
					bv = b[p*ldb+j]
				}
				s += float64(av) * float64(bv)
			}
			v := float64(alpha) * s
			if beta != 0 {
				v += float64(beta) * float64(c[i*ldc+j])
			}
			c[i*ldc+j] = T(v)
		}
	}
}

const guard = -12345.5

func randSlice[T float](r *rand.Rand, n int) []T {
	s := make([]T, n)
	for i := range s {
		s[i] = T(r.Float64()*2 - 1)
	}
	return s
}

// gemmFunc is the signature of Sgemm and Dgemm.
type gemmFunc[T float] func(transA, transB bool, m, n, k int, alpha T, a []T, lda int, b []T, ldb int, beta T, c []T, ldc int)

type gemmCase struct{ m, n, k int }

// gemmCases returns the shapes every implementation is checked on: all
// combinations of small sizes around the tile edges of every
// implementation (mr = 4, 6, 14; 32-column panels), then sizes around the
// kc and nc block edges, and matrix-vector products (m == 1).
func gemmCases() []gemmCase {
	var cases []gemmCase
	ms := []int{0, 1, 2, 3, 4, 5, 6, 7, 9, 13, 14, 15, 17, 29}
	if testing.Short() {
		ms = []int{0, 1, 3, 5, 6, 7, 13, 14, 15}
	}
	for _, m := range ms {
		for _, n := range []int{0, 1, 3, 4, 5, 15, 16, 17, 31, 32, 33, 65} {
			for _, k := range []int{0, 1, 2, 3, 5, 8, 17} {
				cases = append(cases, gemmCase{m, n, k})
			}
		}
	}
	for _, k := range []int{kc - 1, kc, kc + 1, 2*kc + 3} {
		cases = append(cases, gemmCase{15, 33, k}, gemmCase{5, 7, k}, gemmCase{65, 9, k})
	}
	for _, n := range []int{nc - 1, nc, nc + 1, 2*nc + 33} {
		cases = append(cases, gemmCase{15, n, 5}, gemmCase{7, n, 3}, gemmCase{2, n, kc + 1})
	}
	cases = append(cases, gemmCase{mc - 1, dnc + 3, 5}, gemmCase{2*mc + 5, dnc + 1, 3}, gemmCase{70, 70, 70}, gemmCase{29, nc + 33, kc + 1})
	// The blocks of the packed-A driver.
	cases = append(cases, gemmCase{mcPA + 7, 40, kc + 5}, gemmCase{2*mcPA + 1, 33, 9}, gemmCase{13, ncPA + 33, 12}, gemmCase{mcPA + 1, ncPA + 1, 3})
	for _, n := range []int{1, 3, 4, 5, 63, 64, 65, 129} {
		for _, k := range []int{1, 15, 16, 17, 31, 32, 33, 100} {
			cases = append(cases, gemmCase{1, n, k})
		}
	}
	return cases
}

// checkGemm compares fn with sgemmRef over gemmCases, both transposes and
// several alpha/beta pairs, with odd strides, slices that start one element
// past a 64-byte boundary, guard values after C and in its row padding,
// and NaNs in C where beta is 0.
func checkGemm[T float](t *testing.T, fn gemmFunc[T], tol float64) {
	t.Helper()
	r := rand.New(rand.NewSource(1))
	alphaBeta := [][2]T{{1, 0}, {0.5, 1}, {-2, 0.25}}
	if testing.Short() {
		alphaBeta = [][2]T{{1, 0}, {-2, 0.25}}
	}
	for _, tc := range gemmCases() {
		for _, ta := range []bool{false, true} {
			for _, tb := range []bool{false, true} {
				for _, ab := range alphaBeta {
					m, n, k := tc.m, tc.n, tc.k
					// Odd strides: each stored row is 3 longer than needed.
					lda, rowsA := k+3, m
					if ta {
						lda, rowsA = m+3, k
					}
					ldb, rowsB := n+3, k
					if tb {
						ldb, rowsB = k+3, n
					}
					ldc := n + 2
					a := randSlice[T](r, rowsA*lda+1)[1:] // misaligned starts
					b := randSlice[T](r, rowsB*ldb+1)[1:]
					c0 := randSlice[T](r, m*ldc+5)[1:]
					for i := m * ldc; i < len(c0); i++ {
						c0[i] = guard
					}
					for i := 0; i < m; i++ { // guard values in the row padding
						for j := n; j < ldc; j++ {
							c0[i*ldc+j] = guard
						}
					}
					if ab[1] == 0 && n > 0 {
						for i := 0; i < m; i++ {
							c0[i*ldc] = T(math.NaN()) // beta==0: C must not be read
							c0[i*ldc+n-1] = T(math.NaN())
						}
					}
					want := append([]T(nil), c0...)
					got := append([]T(nil), c0...)
					sgemmRef(ta, tb, m, n, k, ab[0], a, lda, b, ldb, ab[1], want, ldc)
					fn(ta, tb, m, n, k, ab[0], a, lda, b, ldb, ab[1], got, ldc)
					for i := range want {
						d := math.Abs(float64(got[i]) - float64(want[i]))
						if !(d <= tol*(1+math.Abs(float64(want[i])))*math.Sqrt(float64(k+1))) {
							t.Fatalf("m=%d n=%d k=%d ta=%v tb=%v alpha=%v beta=%v: c[%d] (row %d col %d)=%v want %v",
								m, n, k, ta, tb, ab[0], ab[1], i, i/max(ldc, 1), i%max(ldc, 1), got[i], want[i])
						}
					}
				}
			}
		}
	}
}

// forEachSgemmImpl runs f as a subtest for every SGEMM implementation
// compiled in, skipping those the CPU lacks (like crypto/internal/impl).
func forEachSgemmImpl(t *testing.T, f func(t *testing.T, im *sgemmImpl)) {
	for _, im := range append(append([]*sgemmImpl(nil), sgemmImpls...), packedARef) {
		t.Run(im.name, func(t *testing.T) {
			if !im.available {
				t.Skipf("the CPU does not support %s", im.name)
			}
			f(t, im)
		})
	}
}

func TestSgemm(t *testing.T) {
	forEachSgemmImpl(t, func(t *testing.T, im *sgemmImpl) {
		checkGemm(t, func(transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
			sgemm(im, transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
		}, 1e-5)
	})
}

// TestSgemmPacked packs B with PackB and multiplies with SgemmPacked.
func TestSgemmPacked(t *testing.T) {
	forEachSgemmImpl(t, func(t *testing.T, im *sgemmImpl) {
		checkGemm(t, func(transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
			pb := PackB(transB, k, n, b, ldb)
			if pb.K() != k || pb.N() != n {
				t.Fatalf("PackB(%d, %d) gave %d×%d", k, n, pb.K(), pb.N())
			}
			sgemmPacked(im, transA, m, n, k, alpha, a, lda, pb, beta, c, ldc, nil)
		}, 1e-5)
	})
}

// TestSgemmPackedEpi checks that the epilogue sees every element of C
// once and nothing else: it applies v*0.5 - 3, which the test undoes on
// the m×n matrix before comparing (guard values after rows must stay).
func TestSgemmPackedEpi(t *testing.T) {
	forEachSgemmImpl(t, func(t *testing.T, im *sgemmImpl) {
		checkGemm(t, func(transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
			pb := PackB(transB, k, n, b, ldb)
			sgemmPacked(im, transA, m, n, k, alpha, a, lda, pb, beta, c, ldc, func(cc []float32, ld, i0, j0, rows, cols int) {
				if ld != ldc || &cc[0] != &c[0] || i0 < 0 || j0 < 0 || i0+rows > m || j0+cols > n {
					t.Fatalf("epilogue block %d×%d at (%d, %d), stride %d, in %d×%d at %d", rows, cols, i0, j0, ld, m, n, ldc)
				}
				for i := i0; i < i0+rows; i++ {
					for j := j0; j < j0+cols; j++ {
						cc[i*ld+j] = cc[i*ld+j]*0.5 - 3
					}
				}
			})
			for i := 0; i < m; i++ {
				for j := 0; j < n; j++ {
					c[i*ldc+j] = (c[i*ldc+j] + 3) * 2
				}
			}
		}, 1e-5)
	})
}

// TestSgemmPacksBitExact checks SgemmPacks' promise: where it holds,
// SgemmPacked gives exactly Sgemm's results.
func TestSgemmPacksBitExact(t *testing.T) {
	r := rand.New(rand.NewSource(6))
	n := 0
	for _, tc := range gemmCases() {
		for _, tr := range [][2]bool{{false, false}, {false, true}, {true, false}, {true, true}} {
			if !SgemmPacks(tr[0], tc.m, tc.n, tc.k) {
				continue
			}
			n++
			lda, ldb := tc.k, tc.n
			if tr[0] {
				lda = tc.m
			}
			if tr[1] {
				ldb = tc.k
			}
			a, b := randSlice[float32](r, tc.m*tc.k), randSlice[float32](r, tc.k*tc.n)
			c0 := randSlice[float32](r, tc.m*tc.n)
			want, got := append([]float32(nil), c0...), append([]float32(nil), c0...)
			Sgemm(tr[0], tr[1], tc.m, tc.n, tc.k, 0.5, a, lda, b, ldb, 0.25, want, tc.n)
			SgemmPacked(tr[0], tc.m, tc.n, tc.k, 0.5, a, lda, PackB(tr[1], tc.k, tc.n, b, ldb), 0.25, got, tc.n)
			for i := range want {
				if got[i] != want[i] {
					t.Fatalf("m=%d n=%d k=%d trans=%v: c[%d] = %v packed, %v not", tc.m, tc.n, tc.k, tr, i, got[i], want[i])
				}
			}
		}
	}
	t.Logf("%d products where SgemmPacks holds (%s)", n, SgemmImplementation())
}

// TestPackBInto packs into caller buffers that start off a 64-byte
// boundary and hold garbage, and checks that a short buffer panics.
func TestPackBInto(t *testing.T) {
	forEachSgemmImpl(t, func(t *testing.T, im *sgemmImpl) {
		for off := 0; off < 3; off++ {
			checkGemm(t, func(transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
				buf := make([]float32, PackedBLen(k, n)+off)[off:]
				for i := range buf {
					buf[i] = float32(math.NaN())
				}
				pb := PackBInto(transB, k, n, b, ldb, buf)
				sgemmPacked(im, transA, m, n, k, alpha, a, lda, pb, beta, c, ldc, nil)
			}, 1e-5)
			if testing.Short() {
				break
			}
		}
	})
	defer func() {
		if recover() == nil {
			t.Error("PackBInto with a short buffer did not panic")
		}
	}()
	PackBInto(false, 4, 40, make([]float32, 160), 40, make([]float32, 100))
}

// TestPackedBCols splits products by columns with PackedB.Cols, as a
// caller running them on several goroutines would.
func TestPackedBCols(t *testing.T) {
	forEachSgemmImpl(t, func(t *testing.T, im *sgemmImpl) {
		r := rand.New(rand.NewSource(2))
		for _, tc := range []gemmCase{{3, 100, 40}, {15, 97, kc + 3}, {1, 64, 7}, {7, nc + 40, 5}} {
			m, n, k := tc.m, tc.n, tc.k
			a, b := randSlice[float32](r, m*k), randSlice[float32](r, k*n)
			want, got := make([]float32, m*n), make([]float32, m*n)
			sgemmRef(false, true, m, n, k, 1, a, k, b, k, 0, want, n)
			pb := PackB(true, k, n, b, k)
			for j0 := 0; j0 < n; j0 += 2 * ColAlign {
				j1 := min(j0+2*ColAlign, n)
				sgemmPacked(im, false, m, j1-j0, k, 1, a, k, pb.Cols(j0, j1), 0, got[j0:], n, nil)
			}
			for i := range want {
				if d := math.Abs(float64(got[i] - want[i])); d > 1e-4*(1+math.Abs(float64(want[i]))) {
					t.Fatalf("m=%d n=%d k=%d: c[%d]=%v want %v", m, n, k, i, got[i], want[i])
				}
			}
		}
	})
}

// TestSgemmNoBlocking checks the blocked path alone on small products,
// which Sgemm would send to the unpacked loops.
func TestSgemmNoBlocking(t *testing.T) {
	if testing.Short() {
		t.Skip("the blocked path is covered by TestSgemm above the small-size cut")
	}
	forEachSgemmImpl(t, func(t *testing.T, im *sgemmImpl) {
		checkGemm(t, func(transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
			if m <= 0 || n <= 0 || k <= 0 {
				sgemm(im, transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
				return
			}
			sgemmBlocked(im, transA, m, n, k, alpha, a, lda, transB, b, ldb, nil, beta, c, ldc)
		}, 1e-5)
	})
}

func TestDgemm(t *testing.T) { checkGemm(t, Dgemm, 1e-12) }

func TestChooseSgemm(t *testing.T) {
	if got := chooseSgemm("generic"); got != sgemmGeneric {
		t.Errorf("INFER_KERNELS=generic chose %s", got.name)
	}
	best := chooseSgemm("")
	if !best.available {
		t.Errorf("default %s is not available", best.name)
	}
	for _, im := range sgemmImpls {
		if im.available {
			if im != best {
				t.Errorf("default is %s, but %s comes first and is available", best.name, im.name)
			}
			break
		}
	}
	t.Logf("SGEMM implementation: %s (INFER_KERNELS=%q)", SgemmImplementation(), os.Getenv("INFER_KERNELS"))
}

func TestPackBPanics(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Error("SgemmPacked with a mismatched PackedB did not panic")
		}
	}()
	pb := PackB(false, 3, 4, make([]float32, 12), 4)
	SgemmPacked(false, 2, 5, 3, 1, make([]float32, 6), 3, pb, 0, make([]float32, 10), 5)
}

// TestSgemmNaN checks IEEE propagation: zeros in A or alpha do not hide
// NaN or Inf in B, on the small, blocked, packed and matrix-vector paths.
func TestSgemmNaN(t *testing.T) {
	forEachSgemmImpl(t, func(t *testing.T, im *sgemmImpl) {
		for _, size := range []int{2, 40} {
			for _, m := range []int{1, size} {
				n, k := size, size
				a := make([]float32, m*k) // all zeros
				b := make([]float32, k*n)
				b[0] = float32(math.Inf(1))
				b[1] = float32(math.NaN())
				for _, packed := range []bool{false, true} {
					c := make([]float32, m*n)
					if packed {
						sgemmPacked(im, false, m, n, k, 1, a, k, PackB(false, k, n, b, n), 0, c, n, nil)
					} else {
						sgemm(im, false, false, m, n, k, 1, a, k, b, n, 0, c, n)
					}
					if !math.IsNaN(float64(c[0])) || !math.IsNaN(float64(c[1])) || (n > 2 && c[2] != 0) {
						t.Errorf("m=%d n=k=%d packed=%v: 0*Inf and 0*NaN must give NaN, got %v", m, size, packed, c[:min(n, 3)])
					}
				}
			}
		}
	})
}

// loop runs f as the body of a benchmark that does flop floating-point
// operations per call and reports GFLOP/s over the wall clock and, where
// the OS tells, cpu-GFLOP/s over the thread's CPU time (steadier on a
// busy machine).
func loop(b *testing.B, flop float64, f func()) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	t0, ok := threadCPU()
	for b.Loop() {
		f()
	}
	t1, _ := threadCPU()
	b.ReportMetric(flop*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
	if ok && t1 > t0 {
		b.ReportMetric(flop*float64(b.N)/(t1-t0).Seconds()/1e9, "cpu-GFLOP/s")
	}
}

var benchSizes = []int{64, 128, 256, 512, 1024}

// forEachSgemmImplB runs f as a sub-benchmark per available implementation.
func forEachSgemmImplB(b *testing.B, f func(b *testing.B, im *sgemmImpl)) {
	for _, im := range sgemmImpls {
		if im.available {
			b.Run(im.name, func(b *testing.B) { f(b, im) })
		}
	}
}

// BenchmarkSgemm times square n×n×n products: Sgemm on B as stored, and
// (Packed) SgemmPacked on B packed beforehand, as for constant weights.
func BenchmarkSgemm(b *testing.B) {
	forEachSgemmImplB(b, func(b *testing.B, im *sgemmImpl) {
		for _, n := range benchSizes {
			r := rand.New(rand.NewSource(1))
			x, y, z := randSlice[float32](r, n*n), randSlice[float32](r, n*n), make([]float32, n*n)
			flop := 2 * float64(n) * float64(n) * float64(n)
			b.Run(fmt.Sprint(n), func(b *testing.B) {
				loop(b, flop, func() {
					sgemm(im, false, false, n, n, n, 1, x, n, y, n, 0, z, n)
				})
			})
			b.Run(fmt.Sprintf("%dTransB", n), func(b *testing.B) {
				loop(b, flop, func() {
					sgemm(im, false, true, n, n, n, 1, x, n, y, n, 0, z, n)
				})
			})
			pb := PackB(false, n, n, y, n)
			b.Run(fmt.Sprintf("%dPacked", n), func(b *testing.B) {
				loop(b, flop, func() {
					sgemmPacked(im, false, n, n, n, 1, x, n, pb, 0, z, n, nil)
				})
			})
		}
	})
}

// BenchmarkSgemmTile times the micro-kernel alone on a full tile over one
// k block held in L1: the ceiling for the blocked path on this machine
// under its current load.
func BenchmarkSgemmTile(b *testing.B) {
	forEachSgemmImplB(b, func(b *testing.B, im *sgemmImpl) {
		k := 128
		r := rand.New(rand.NewSource(1))
		a := randSlice[float32](r, im.mr*k)
		pan := alignedFloats(k * panelN)
		copy(pan, randSlice[float32](r, k*panelN))
		c := make([]float32, im.mr*panelN)
		loop(b, 2*float64(im.mr*panelN*k), func() {
			im.tile(k, a, k, pan, c, panelN, 1, 1, im.mr, panelN)
		})
	})
}

// BenchmarkSgemv times m == 1 products (a fully connected layer at batch
// 1): B n×k transposed as stored, B k×n, and B packed.
func BenchmarkSgemv(b *testing.B) {
	forEachSgemmImplB(b, func(b *testing.B, im *sgemmImpl) {
		for _, s := range []struct{ n, k int }{{128, 784}, {64, 1600}, {512, 512}, {1024, 1024}} {
			r := rand.New(rand.NewSource(1))
			x, y, z := randSlice[float32](r, s.k), randSlice[float32](r, s.k*s.n), make([]float32, s.n)
			flop := 2 * float64(s.n*s.k)
			b.Run(fmt.Sprintf("%dx%dTransB", s.n, s.k), func(b *testing.B) {
				loop(b, flop, func() {
					sgemm(im, false, true, 1, s.n, s.k, 1, x, s.k, y, s.k, 0, z, s.n)
				})
			})
			b.Run(fmt.Sprintf("%dx%d", s.n, s.k), func(b *testing.B) {
				loop(b, flop, func() {
					sgemm(im, false, false, 1, s.n, s.k, 1, x, s.k, y, s.n, 0, z, s.n)
				})
			})
			pb := PackB(true, s.k, s.n, y, s.k)
			b.Run(fmt.Sprintf("%dx%dPacked", s.n, s.k), func(b *testing.B) {
				loop(b, flop, func() {
					sgemmPacked(im, false, 1, s.n, s.k, 1, x, s.k, pb, 0, z, s.n, nil)
				})
			})
		}
	})
}

func BenchmarkDgemm(b *testing.B) {
	for _, n := range []int{64, 128, 256, 512} {
		r := rand.New(rand.NewSource(1))
		x, y, z := randSlice[float64](r, n*n), randSlice[float64](r, n*n), make([]float64, n*n)
		b.Run(fmt.Sprint(n), func(b *testing.B) {
			loop(b, 2*float64(n)*float64(n)*float64(n), func() {
				Dgemm(false, false, n, n, n, 1, x, n, y, n, 0, z, n)
			})
		})
	}
}

func BenchmarkSgemmRef(b *testing.B) {
	n := 256
	r := rand.New(rand.NewSource(1))
	x, y, z := randSlice[float32](r, n*n), randSlice[float32](r, n*n), make([]float32, n*n)
	loop(b, 2*float64(n)*float64(n)*float64(n), func() {
		sgemmRef(false, false, n, n, n, 1, x, n, y, n, 0, z, n)
	})
}

// BenchmarkSgemmShapes times the GEMMs of the MNIST CNN in models/.
func BenchmarkSgemmShapes(b *testing.B) {
	forEachSgemmImplB(b, func(b *testing.B, im *sgemmImpl) {
		for _, s := range []struct {
			name    string
			m, n, k int
			tb      bool
		}{{"conv1_32x676x9", 32, 676, 9, false}, {"conv2_64x121x288", 64, 121, 288, false}, {"fc1_1x64x1600T", 1, 64, 1600, true}, {"fc1_8x64x1600T", 8, 64, 1600, true}} {
			r := rand.New(rand.NewSource(1))
			x, y, z := randSlice[float32](r, s.m*s.k), randSlice[float32](r, s.k*s.n), make([]float32, s.m*s.n)
			ldb := s.n
			if s.tb {
				ldb = s.k
			}
			b.Run(s.name, func(b *testing.B) {
				loop(b, 2*float64(s.m*s.n*s.k), func() {
					sgemm(im, false, s.tb, s.m, s.n, s.k, 1, x, s.k, y, ldb, 0, z, s.n)
				})
			})
		}
	})
}
