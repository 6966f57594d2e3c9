package asm

import (
	"fmt"
	"math"
	"math/rand"
	"testing"
)

// TestSgemmRows4MatchesTiles checks the four-row path of SgemmPacked
// (taken even where tiles4 says the tiles are faster) against the same
// implementation without it (the tiles of sgemmBlocked), bit for bit,
// and against the float64 reference, over
// widths around the panel and group edges, depths around the k blocks,
// alpha and beta of every kind, strides wider than the matrices, slices
// that start off any alignment, and an epilogue.
func TestSgemmRows4MatchesTiles(t *testing.T) {
	r4 := *sgemmDefault
	r4.tiles4 = false // the four-row kernel even where SgemmPacked takes the tiles
	im := &r4
	if im.rows4 == nil {
		t.Skip("no four-row kernel in this implementation")
	}
	old := *im
	old.rows4 = nil
	r := rand.New(rand.NewSource(4))
	for _, n := range []int{1, 31, 32, 33, 40, 48, 63, 64, 65, 96, 100, 128, 130, 160, 192, 200, 224, 256, 288, 800} {
		for _, k := range []int{1, 2, 3, 7, 64, 196, 257, 784} {
			for _, ab := range [][2]float32{{1, 0}, {0.5, 0}, {1, 1}, {1, 0.3}, {-2, -0.75}} {
				alpha, beta := ab[0], ab[1]
				off := r.Intn(7)
				lda, ldc := k+r.Intn(3), n+r.Intn(3)
				a := randSlice[float32](r, off+3*lda+k)[off:]
				bs := randSlice[float32](r, k*n)
				pb := PackB(false, k, n, bs, n)
				c0 := randSlice[float32](r, off+3*ldc+n)[off:]
				want := append([]float32(nil), c0...)
				got := append([]float32(nil), c0...)
				ref := append([]float32(nil), c0...)
				marks := func(c []float32) Epilogue {
					return func(cc []float32, ldc, i0, j0, rows, cols int) {
						for i := i0; i < i0+rows; i++ {
							for j := j0; j < j0+cols; j++ {
								cc[i*ldc+j] = cc[i*ldc+j]*2 + 1
							}
						}
					}
				}
				sgemmPacked(&old, false, 4, n, k, alpha, a, lda, pb, beta, want, ldc, marks(want))
				sgemmPacked(im, false, 4, n, k, alpha, a, lda, pb, beta, got, ldc, marks(got))
				sgemmRef(false, false, 4, n, k, alpha, a, lda, bs, n, beta, ref, ldc)
				name := fmt.Sprintf("n=%d k=%d alpha=%v beta=%v", n, k, alpha, beta)
				for i := 0; i < 4; i++ {
					for j := 0; j < ldc; j++ {
						x := i*ldc + j
						if x >= len(got) {
							break
						}
						if math.Float32bits(got[x]) != math.Float32bits(want[x]) {
							t.Fatalf("%s: C[%d][%d] = %v, the tiles give %v", name, i, j, got[x], want[x])
						}
						if j >= n {
							if got[x] != c0[x] {
								t.Fatalf("%s: C[%d][%d] past the columns was written", name, i, j)
							}
							continue
						}
						if e := ref[x]*2 + 1; math.Abs(float64(got[x]-e)) > 1e-3*(1+math.Abs(float64(e))) {
							t.Fatalf("%s: C[%d][%d] = %v, reference %v", name, i, j, got[x], e)
						}
					}
				}
			}
		}
	}
}

// BenchmarkSgemmRows4 compares the four-row path with the tiles on the
// products of a Dense network on a batch of four.
func BenchmarkSgemmRows4(b *testing.B) {
	r4 := *sgemmDefault
	r4.tiles4 = false
	im := &r4
	old := *im
	old.rows4 = nil
	for _, s := range [][2]int{{128, 784}, {64, 128}, {512, 512}} {
		n, k := s[0], s[1]
		r := rand.New(rand.NewSource(1))
		a := randSlice[float32](r, 4*k)
		pb := PackB(false, k, n, randSlice[float32](r, k*n), n)
		c := make([]float32, 4*n)
		for _, v := range []struct {
			name string
			im   *sgemmImpl
		}{{"tiles", &old}, {"rows4", im}} {
			b.Run(fmt.Sprintf("4x%dx%d/%s", n, k, v.name), func(b *testing.B) {
				for i := 0; i < b.N; i++ {
					sgemmPacked(v.im, false, 4, n, k, 1, a, k, pb, 0, c, n, nil)
				}
				b.ReportMetric(float64(8*n*k)*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
			})
		}
	}
}
