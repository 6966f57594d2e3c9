package ops

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/onyxrt/onyx/tensor"
)

// TestGemmConstEpilogue checks the epilogue made at Build time for a
// constant C (gemmNode.buildEpilogue): for every C shape it takes, every
// activation, and splits by rows and by columns, it gives exactly what
// the same node gives with C as a run-time input.
func TestGemmConstEpilogue(t *testing.T) {
	r := rand.New(rand.NewPCG(21, 22))
	acts := []struct {
		name   string
		params []float32
	}{
		{"", nil}, {"Relu", nil}, {"LeakyRelu", []float32{0.2}}, {"Clip", []float32{-0.5, 0.75}},
		{"Clip", []float32{0, 6}}, {"Sigmoid", nil}, {"Tanh", nil},
	}
	// One row; few rows and many columns (split by columns at 2 and 3
	// threads); many rows (split by rows).
	shapes := []struct{ m, n, k int }{{1, 40, 70}, {4, 1024, 600}, {3, 37, 5}, {300, 96, 80}, {60, 16, 1}, {60, 1, 16}}
	for _, s := range shapes {
		for _, cs := range [][]int{nil, {}, {1}, {s.n}, {1, s.n}, {1, 1}} {
			for _, act := range acts {
				for _, beta := range []float32{1, -1.5} {
					A, B := randF32(r, s.m, s.k), randF32(r, s.k, s.n)
					ins := []*tensor.Tensor{A, B}
					consts := map[int]*tensor.Tensor{1: B}
					if cs != nil {
						C := randF32(r, cs...)
						ins = append(ins, C)
						consts[2] = C
					}
					attrs := []*Attr{{Name: "beta", Type: AttrFloat, Float: beta}}
					domain, op := "", "Gemm"
					if act.name != "" {
						domain, op = FusedDomain, "FusedGemm"
						attrs = append(attrs, &Attr{Name: "activation", Type: AttrString, String: act.name})
						if act.params != nil {
							attrs = append(attrs, &Attr{Name: "activation_params", Type: AttrFloats, Floats: act.params})
						}
					}
					runtimeC := map[int]*tensor.Tensor{1: B}
					for _, threads := range []int{1, 2, 3} {
						what := fmt.Sprintf("%s %v m=%d n=%d k=%d C=%v beta=%v threads=%d", op, act, s.m, s.n, s.k, cs, beta, threads)
						want, err := gemmBuild(t, domain, op, attrs, len(ins), runtimeC).Run(&RunContext{Threads: threads}, ins)
						if err != nil {
							t.Fatal(err)
						}
						w := want[0].Float32s()
						got, err := gemmBuild(t, domain, op, attrs, len(ins), consts).Run(&RunContext{Threads: threads}, ins)
						if err != nil {
							t.Fatal(err)
						}
						if i := firstDiff(w, got[0].Float32s()); i >= 0 {
							t.Fatalf("%s: [%d] = %v, with C at run time %v", what, i, got[0].Float32s()[i], w[i])
						}
					}
				}
			}
		}
	}
}
