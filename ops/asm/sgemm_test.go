package asm

import (
	"fmt"
	"math"
	"math/rand"
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

func checkGemm[T float](t *testing.T, fn func(bool, bool, int, int, int, T, []T, int, []T, int, T, []T, int), tol float64) {
	r := rand.New(rand.NewSource(1))
	sizes := []int{0, 1, 2, 3, 4, 5, 7, 8, 9, 15, 16, 17, 31, 33, 63, 64, 65}
	bigK := []int{kc - 1, kc, kc + 1, 2*kc + 3}
	type cs struct{ m, n, k int }
	var cases []cs
	for _, m := range sizes {
		for _, n := range []int{0, 1, 3, 4, 5, 8, 17, 33} {
			for _, k := range []int{0, 1, 2, 3, 5, 16, 17} {
				cases = append(cases, cs{m, n, k})
			}
		}
	}
	for _, k := range bigK {
		cases = append(cases, cs{mc + 1, 9, k}, cs{5, 7, k})
	}
	cases = append(cases, cs{mc - 1, nc + 3, 5}, cs{2*mc + 5, nc + 1, 3}, cs{70, 70, 70})
	for _, tc := range cases {
		for _, ta := range []bool{false, true} {
			for _, tb := range []bool{false, true} {
				for _, ab := range [][2]T{{1, 0}, {0.5, 1}, {-2, 0.25}} {
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
					a := randSlice[T](r, rowsA*lda+1)[1:] // misaligned start
					b := randSlice[T](r, rowsB*ldb)
					c0 := randSlice[T](r, m*ldc+4)
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
						}
					}
					want := append([]T(nil), c0...)
					got := append([]T(nil), c0...)
					sgemmRef(ta, tb, m, n, k, ab[0], a, lda, b, ldb, ab[1], want, ldc)
					fn(ta, tb, m, n, k, ab[0], a, lda, b, ldb, ab[1], got, ldc)
					for i := range want {
						d := math.Abs(float64(got[i]) - float64(want[i]))
						if !(d <= tol*(1+math.Abs(float64(want[i])))*math.Sqrt(float64(k+1))) {
							t.Fatalf("m=%d n=%d k=%d ta=%v tb=%v alpha=%v beta=%v: c[%d]=%v want %v", m, n, k, ta, tb, ab[0], ab[1], i, got[i], want[i])
						}
					}
				}
			}
		}
	}
}

func TestSgemm(t *testing.T) { checkGemm(t, Sgemm, 1e-5) }
func TestDgemm(t *testing.T) { checkGemm(t, Dgemm, 1e-12) }

// TestSgemmNaN checks IEEE propagation: zeros in A or alpha do not hide
// NaN or Inf in B, on both the small and the packed paths.
func TestSgemmNaN(t *testing.T) {
	for _, size := range []int{2, 40} {
		m, n, k := size, size, size
		a := make([]float32, m*k) // all zeros
		b := make([]float32, k*n)
		b[0] = float32(math.Inf(1))
		b[1] = float32(math.NaN())
		c := make([]float32, m*n)
		Sgemm(false, false, m, n, k, 1, a, k, b, n, 0, c, n)
		if !math.IsNaN(float64(c[0])) || !math.IsNaN(float64(c[1])) || (n > 2 && c[2] != 0) {
			t.Errorf("size %d: 0*Inf and 0*NaN must give NaN, got %v", size, c[:3])
		}
	}
}

func benchGemm(b *testing.B, n int, f func()) {
	for b.Loop() {
		f()
	}
	b.ReportMetric(2*float64(n)*float64(n)*float64(n)*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
}

func BenchmarkSgemm(b *testing.B) {
	for _, n := range []int{64, 128, 256, 512} {
		r := rand.New(rand.NewSource(1))
		x, y, z := randSlice[float32](r, n*n), randSlice[float32](r, n*n), make([]float32, n*n)
		b.Run(fmt.Sprint(n), func(b *testing.B) {
			benchGemm(b, n, func() { Sgemm(false, false, n, n, n, 1, x, n, y, n, 0, z, n) })
		})
		b.Run(fmt.Sprintf("%dTransB", n), func(b *testing.B) {
			benchGemm(b, n, func() { Sgemm(false, true, n, n, n, 1, x, n, y, n, 0, z, n) })
		})
	}
}

func BenchmarkDgemm(b *testing.B) {
	for _, n := range []int{64, 128, 256, 512} {
		r := rand.New(rand.NewSource(1))
		x, y, z := randSlice[float64](r, n*n), randSlice[float64](r, n*n), make([]float64, n*n)
		b.Run(fmt.Sprint(n), func(b *testing.B) {
			benchGemm(b, n, func() { Dgemm(false, false, n, n, n, 1, x, n, y, n, 0, z, n) })
		})
	}
}

func BenchmarkSgemmRef(b *testing.B) {
	n := 256
	r := rand.New(rand.NewSource(1))
	x, y, z := randSlice[float32](r, n*n), randSlice[float32](r, n*n), make([]float32, n*n)
	benchGemm(b, n, func() { sgemmRef(false, false, n, n, n, 1, x, n, y, n, 0, z, n) })
}

// BenchmarkSgemmShapes times the GEMMs of the MNIST CNN in models/.
func BenchmarkSgemmShapes(b *testing.B) {
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
			for b.Loop() {
				Sgemm(false, s.tb, s.m, s.n, s.k, 1, x, s.k, y, ldb, 0, z, s.n)
			}
			b.ReportMetric(2*float64(s.m*s.n*s.k)*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
		})
	}
}
