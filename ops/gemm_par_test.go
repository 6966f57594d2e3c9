package ops

import (
	"math/rand/v2"
	"testing"
)

// TestGemmParMatchesSerial splits products by rows and by columns over
// several threads and compares with the one-goroutine result.
func TestGemmParMatchesSerial(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	fill := func(n int) []float32 {
		s := make([]float32, n)
		for i := range s {
			s[i] = r.Float32()*2 - 1
		}
		return s
	}
	tests := []struct {
		m, n, k        int
		transA, transB bool
	}{
		{200, 70, 64, false, false}, // rows
		{200, 70, 64, true, true},
		{3, 1000, 64, false, false}, // columns
		{3, 1000, 64, true, true},
		{5, 33, 900, false, true},
	}
	for _, tc := range tests {
		a, b := fill(tc.m*tc.k), fill(tc.k*tc.n)
		lda, ldb := tc.k, tc.n
		if tc.transA {
			lda = tc.m
		}
		if tc.transB {
			ldb = tc.k
		}
		want, got := fill(tc.m*tc.n), make([]float32, tc.m*tc.n)
		copy(got, want)
		gemmT(tc.transA, tc.transB, tc.m, tc.n, tc.k, 0.5, a, lda, b, ldb, 1, want, tc.n)
		gemmPar(3, tc.transA, tc.transB, tc.m, tc.n, tc.k, 0.5, a, lda, b, ldb, 1, got, tc.n)
		for i := range want {
			if d := want[i] - got[i]; d > 1e-5 || d < -1e-5 {
				t.Fatalf("%+v: element %d is %v, want %v", tc, i, got[i], want[i])
			}
		}
	}
}
