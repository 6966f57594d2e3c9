package ops

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/onyxrt/onyx/tensor"
)

// TestGemmSkipBitExact checks that a Gemm on a constant B, which skips
// the zero columns of a sparse A (gemm_skip.go), gives exactly what the
// same Gemm gives with B a run-time input (no skipping): four rows and
// one, B
// transposed or not, with a bias and a Relu (FusedGemm), NaNs in
// A, A all zero, rows sparser one by one (the row-listed kernel), and
// on two threads with a worker pool (the product shared by panels).
func TestGemmSkipBitExact(t *testing.T) {
	r := rand.New(rand.NewPCG(21, 22))
	for _, s := range []struct {
		m, n, k int
		zero    float64 // fraction of the columns of A that are zero
		nan     bool
		zval    float64 // fraction of the other values that are zero
	}{
		{4, 128, 784, 0.6, false, 0}, {4, 64, 128, 0.5, true, 0}, {4, 100, 300, 1, false, 0}, {4, 40, 33, 0.7, false, 0},
		{4, 128, 784, 0.6, false, 0.6}, {4, 200, 784, 0.6, false, 0.6}, {4, 64, 128, 0.2, true, 0.6},
		// One row: skipped (the Keras MNIST MLP on one image; a partial
		// last panel; a row that would split by columns), and too dense
		// to skip (the packed constant in full), and too small to skip
		// (B as stored).
		{1, 128, 784, 0.8, false, 0}, {1, 100, 300, 1, true, 0}, {1, 1000, 1280, 0.8, false, 0},
		{1, 128, 784, 0.3, false, 0}, {1, 1000, 1280, 0, false, 0}, {1, 32, 100, 0.8, false, 0},
	} {
		for _, transB := range []bool{false, true} {
			A := randF32(r, s.m, s.k)
			a := A.Float32s()
			for p := 0; p < s.k; p++ {
				zc := r.Float64() < s.zero
				for i := 0; i < s.m; i++ {
					if zc || r.Float64() < s.zval {
						a[i*s.k+p] = 0
					}
				}
			}
			if s.nan {
				a[r.IntN(len(a))] = float32(math.NaN())
			}
			bs := []int{s.k, s.n}
			if transB {
				bs = []int{s.n, s.k}
			}
			B, bias := randF32(r, bs...), randF32(r, s.n)
			tb := int64(0)
			if transB {
				tb = 1
			}
			attrs := []*Attr{{Name: "transB", Type: AttrInt, Int: tb}}
			fattrs := append(attrs, &Attr{Name: "activation", Type: AttrString, String: "Relu"})
			for _, op := range []struct {
				domain, name string
				attrs        []*Attr
			}{{"", "Gemm", attrs}, {FusedDomain, "FusedGemm", fattrs}} {
				var outs [3]*tensor.Tensor
				w := NewWorkers(1)
				for i, consts := range []map[int]*tensor.Tensor{nil, {1: B, 2: bias}, {1: B, 2: bias}} {
					rc := &RunContext{Threads: 1}
					if i == 2 {
						rc = &RunContext{Threads: 2, Workers: w}
					}
					y, err := gemmBuild(t, op.domain, op.name, op.attrs, 3, consts).Run(rc, []*tensor.Tensor{A, B, bias})
					if err != nil {
						t.Fatal(err)
					}
					outs[i] = y[0]
				}
				w.Close()
				what := fmt.Sprintf("%s m=%d n=%d k=%d zero=%v zval=%v transB=%v", op.name, s.m, s.n, s.k, s.zero, s.zval, transB)
				for x := 1; x < 3; x++ {
					if i := firstDiff(outs[0].Float32s(), outs[x].Float32s()); i >= 0 {
						t.Fatalf("%s: [%d] = %v with B constant (run %d), %v without", what, i, outs[x].Float32s()[i], x, outs[0].Float32s()[i])
					}
				}
			}
		}
	}
}
