package asm

import (
	"fmt"
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
		r := rand.New(rand.NewSource(5))
		for _, s := range []gemmCase{{1, 1, 1}, {6, 2, 7}, {13, 17, 40}, {7, 49, 160}, {25, 49, 600}, {131, 196, 96},
			{12, 3, 300}, {130, 20, 9}, {6, 513, 64}, {19, 516, 200}, {127, 770, 33}, {1, 49, 2048}} {
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
				want := make([]float32, s.m*ldc)
				for i := range got {
					got[i], tiles[i], want[i] = guard, guard, guard
				}
				sgemmActBlocked(im, s.m, s.n, s.k, a, lda, pack, bias, z, ldc, &act, got, ldc)
				sgemmActBlocked(&noDot, s.m, s.n, s.k, a, lda, pack, bias, z, ldc, &act, tiles, ldc)
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
