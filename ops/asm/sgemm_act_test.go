package asm

import (
	"fmt"
	"math"
	"math/rand"
	"testing"
)

// TestSgemmActFused checks the fused tiles of the convolution driver
// (sgemmActBlocked with im.tilePActN and im.tilePAct) bit for bit against
// the same driver storing plain tiles on A in place and running the
// epilogue over C afterwards, over awkward shapes, strides and
// misaligned slices, every activation, with and without bias and z, and
// NaNs in A and z.
func TestSgemmActFused(t *testing.T) {
	for _, im := range sgemmImpls {
		if !im.available || im.tilePActN == nil {
			continue
		}
		plain := *im // the loop of SgemmActSum as it was
		plain.tilePAct, plain.tilePActN = nil, nil
		r := rand.New(rand.NewSource(3))
		for _, s := range []gemmCase{{1, 16, 1}, {5, 7, 3}, {6, 32, 9}, {7, 33, 27}, {13, 65, 288}, {32, 300, 5}, {64, 257, 513},
			{24, 48, 96}, {96, 272, 16}, {11, 31, 600}, {127, 40, 9}, {6, 16, 256}, {7, 17, 257},
			{13, 800, 150}, {64, 1000, 300}, {131, 770, 129}, {9, 784, 520}, {32, 676, 9}, {20, 530, 16}, {96, 600, 16},
			{2, 40, 20}, {2, 520, 8}, {1, 600, 5}, {8, 530, 16}, {20, 196, 64}, {7, 130, 128}, {13, 129, 129}} {
			for ai, act := range convActs {
				for _, withBias := range []bool{false, true} {
					for _, withZ := range []bool{false, true} {
						name := fmt.Sprintf("%s/%dx%dx%d/act%d/bias%v/z%v", im.name, s.m, s.n, s.k, ai, withBias, withZ)
						off := 1 + r.Intn(7) // misaligned starts
						lda, ldb, ldc := s.k+r.Intn(3), s.n+r.Intn(3), s.n+r.Intn(5)
						a := randSlice[float32](r, off+s.m*lda)[off:]
						if s.m*s.k > 3 {
							a[r.Intn(s.k)] = float32(math.NaN())
						}
						b := randSlice[float32](r, s.k*ldb)
						var bias, z []float32
						ldz := 0
						if withBias {
							bias = randSlice[float32](r, off+s.m)[off:]
						}
						if withZ {
							// z has C's stride (fused) or not.
							ldz = ldc + r.Intn(2)
							z = randSlice[float32](r, off+s.m*ldz)[off:]
							if s.m*s.n > 2 {
								z[r.Intn(s.n)] = float32(math.NaN())
							}
						}
						pack := func(p0, kb, j0, nb int, dst []float32) { PackBlock(b, ldb, p0, kb, j0, nb, dst) }
						want := make([]float32, off+s.m*ldc)[off:]
						got := make([]float32, off+s.m*ldc)[off:]
						for i := range got {
							got[i], want[i] = guard, guard
						}
						sgemmActBlocked(&plain, s.m, s.n, s.k, a, lda, pack, bias, z, ldz, &act, want, ldc)
						sgemmActBlocked(im, s.m, s.n, s.k, a, lda, pack, bias, z, ldz, &act, got, ldc)
						same(t, name, got, want, ldc)
						if im == sgemmDefault {
							// The exported driver gives the same.
							for i := range got {
								got[i] = guard
							}
							SgemmActSum(s.m, s.n, s.k, a, lda, pack, bias, z, ldz, &act, got, ldc)
							same(t, name+"/SgemmActSum", got, want, ldc)
						}
					}
				}
			}
		}
	}
}

// same fails t unless got and want hold the same bits (any NaN matching
// any NaN).
func same(t *testing.T, name string, got, want []float32, ldc int) {
	t.Helper()
	for i := range want {
		if math.Float32bits(got[i]) != math.Float32bits(want[i]) && !(math.IsNaN(float64(got[i])) && math.IsNaN(float64(want[i]))) {
			t.Fatalf("%s: element %d (row %d) = %v, want %v", name, i, i/ldc, got[i], want[i])
		}
	}
}
