package asm

import (
	"fmt"
	"math"
	"math/rand"
	"testing"
)

// TestSgemmActDotCols checks sgemmActBlocked on products whose last
// columns (n mod 16 of a column block, 1 to dotColsMax of them) it
// computes as dot products (dotCols): against the reference product and
// against the same driver without a matrix-vector kernel (a tile pass
// over them), over one and several k blocks, fused and not, with z,
// strides past n and k and misaligned slices.
func TestSgemmActDotCols(t *testing.T) {
	for _, im := range sgemmImpls {
		if !im.available {
			continue
		}
		noDot := *im
		noDot.gemv = nil
		gemvDot := *im // the dot products through gemv, when im has dots
		gemvDot.dots = nil
		r := rand.New(rand.NewSource(5))
		for _, s := range []gemmCase{{1, 1, 1}, {6, 2, 7}, {13, 17, 40}, {7, 49, 160}, {25, 49, 600}, {131, 196, 96},
			{12, 3, 300}, {130, 20, 9}, {6, 513, 64}, {19, 516, 200}, {127, 770, 33}, {1, 49, 2048},
			{9, 2, 17}, {5, 35, 1000}, {256, 196, 1024}, {131, 258, 255}} {
			for _, withZ := range []bool{false, true} {
				name := fmt.Sprintf("%s/%dx%dx%d/z%v", im.name, s.m, s.n, s.k, withZ)
				act := convActs[1]
				off := 1 + r.Intn(7)
				lda, ldb, ldc := s.k+r.Intn(3), s.n+r.Intn(3), s.n+r.Intn(5)
				a := randSlice[float32](r, off+s.m*lda)[off:]
				b := randSlice[float32](r, s.k*ldb)
				bias := randSlice[float32](r, off+s.m)[off:]
				var z []float32
				if withZ {
					z = randSlice[float32](r, off+s.m*ldc)[off:]
				}
				pack := func(p0, kb, j0, nb int, dst []float32) { PackBlock(b, ldb, p0, kb, j0, nb, dst) }
				got := make([]float32, off+s.m*ldc)[off:]
				tiles := make([]float32, off+s.m*ldc)[off:]
				viaGemv := make([]float32, off+s.m*ldc)[off:]
				want := make([]float32, s.m*ldc)
				for i := range got {
					got[i], tiles[i], viaGemv[i], want[i] = guard, guard, guard, guard
				}
				sgemmActBlocked(im, s.m, s.n, s.k, a, lda, pack, bias, z, ldc, &act, got, ldc)
				sgemmActBlocked(&noDot, s.m, s.n, s.k, a, lda, pack, bias, z, ldc, &act, tiles, ldc)
				sgemmActBlocked(&gemvDot, s.m, s.n, s.k, a, lda, pack, bias, z, ldc, &act, viaGemv, ldc)
				sgemmRef(false, false, s.m, s.n, s.k, 1, a, lda, b, ldb, 0, want, ldc)
				for i := 0; i < s.m; i++ {
					for j := 0; j < s.n; j++ {
						v := want[i*ldc+j] + bias[i]
						if z != nil {
							v += z[i*ldc+j]
						}
						want[i*ldc+j] = act.apply(v)
					}
				}
				for i := range want {
					if !convClose(got[i], want[i], 1e-4) {
						t.Fatalf("%s: element %d (row %d) = %v, want %v", name, i, i/ldc, got[i], want[i])
					}
					if !convClose(got[i], tiles[i], 1e-4) {
						t.Fatalf("%s: element %d (row %d) = %v, tiles give %v", name, i, i/ldc, got[i], tiles[i])
					}
					if !convClose(viaGemv[i], want[i], 1e-4) {
						t.Fatalf("%s: element %d (row %d) through gemv = %v, want %v", name, i, i/ldc, viaGemv[i], want[i])
					}
				}
			}
		}
	}
}

// TestDotCols checks which columns are taken as dot products.
func TestDotCols(t *testing.T) {
	withGemv := &sgemmImpl{gemv: func(bool, int, int, float32, []float32, []float32, int, float32, []float32) {}}
	for _, c := range []struct{ nb, want int }{{1, 1}, {4, 4}, {5, 0}, {16, 0}, {17, 1}, {49, 1}, {196, 4}, {200, 0}, {256, 0}, {60, 0}, {61, 0}} {
		if got := dotCols(withGemv, c.nb); got != c.want {
			t.Errorf("dotCols(%d) = %d, want %d", c.nb, got, c.want)
		}
		if got := dotCols(&sgemmImpl{}, c.nb); got != 0 {
			t.Errorf("dotCols(%d) without gemv = %d, want 0", c.nb, got)
		}
	}
}

// TestDots checks each implementation's dots kernel against the Go
// reference (dotsRef) over every column count, row counts on both sides
// of its four-row loop, depths around the vector width and up to
// dotsLDB, beta 0 (C unread: NaN there must not leak), 1 and 0.5, and
// misaligned slices with guards around what it may write; and that a row
// gets the same bits alone as among others.
func TestDots(t *testing.T) {
	for _, im := range sgemmImpls {
		if !im.available || im.dots == nil {
			continue
		}
		r := rand.New(rand.NewSource(9))
		for nd := 2; nd <= dotColsMax; nd++ {
			for _, m := range []int{1, 3, 4, 5, 8, 11} {
				for _, k := range []int{1, 7, 15, 16, 17, 33, 100, 255, dotsLDB} {
					for _, beta := range []float32{0, 1, 0.5} {
						name := fmt.Sprintf("%s/nd%d/m%d/k%d/beta%v", im.name, nd, m, k, beta)
						off := 1 + r.Intn(7)
						lda, ldc := k+r.Intn(3), nd+r.Intn(4)
						a := randSlice[float32](r, off+m*lda)[off:]
						b := randSlice[float32](r, off+dotColsMax*dotsLDB)[off:]
						c0 := randSlice[float32](r, off+m*ldc+8)[off:]
						if beta == 0 {
							for i := 0; i < m; i++ {
								for q := 0; q < nd; q++ {
									c0[i*ldc+q] = float32(math.NaN())
								}
							}
						}
						got := append([]float32(nil), c0...)
						want := append([]float32(nil), c0...)
						im.dots(k, a, lda, b, got, ldc, beta, m, nd)
						dotsRef(k, a, lda, b, want, ldc, beta, m, nd)
						for i := range got {
							inside := i/ldc < m && i%ldc < nd
							if !inside && math.Float32bits(got[i]) != math.Float32bits(c0[i]) {
								t.Fatalf("%s: wrote element %d (row %d, column %d) outside the product", name, i, i/ldc, i%ldc)
							}
							if inside && !convClose(got[i], want[i], 1e-5) {
								t.Fatalf("%s: C[%d][%d] = %v, want %v", name, i/ldc, i%ldc, got[i], want[i])
							}
						}
						// Each row alone, as a split by rows computes it.
						for i := 0; i < m; i++ {
							alone := append([]float32(nil), c0[i*ldc:i*ldc+nd]...)
							im.dots(k, a[i*lda:], lda, b, alone, ldc, beta, 1, nd)
							for q := range alone {
								if math.Float32bits(alone[q]) != math.Float32bits(got[i*ldc+q]) {
									t.Fatalf("%s: row %d alone gives C[%d][%d] = %v, among the others %v", name, i, i, q, alone[q], got[i*ldc+q])
								}
							}
						}
					}
				}
			}
		}
	}
}

// dotsRef is the reference of sgemmImpl.dots, in float64.
func dotsRef(k int, a []float32, lda int, b []float32, c []float32, ldc int, beta float32, m, nd int) {
	for i := 0; i < m; i++ {
		for q := 0; q < nd; q++ {
			var s float64
			for p := 0; p < k; p++ {
				s += float64(a[i*lda+p]) * float64(b[q*dotsLDB+p])
			}
			if beta != 0 {
				s += float64(beta) * float64(c[i*ldc+q])
			}
			c[i*ldc+q] = float32(s)
		}
	}
}
