package ops

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/onyxrt/onyx/ops/asm"
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

// TestSgemmJobThreads runs sgemmJob products on 1, 2 and 3 goroutines,
// by every split (B packed once and shared, rows over a constant B,
// columns), and checks that the results are the same bit for bit and
// close to a plain product.
func TestSgemmJobThreads(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
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
		packed         bool
	}{
		{1040, 200, 1040, false, false, false}, // B packed once, rows
		{203, 333, 300, true, true, false},
		{200, 400, 64, false, false, false}, // columns
		{97, 257, 130, false, true, false},
		{200, 400, 64, false, false, true},  // constant B: rows
		{5, 2000, 200, false, false, false}, // columns
		{5, 2000, 200, true, true, true},
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
		c0 := fill(tc.m * tc.n)
		want := append([]float32(nil), c0...)
		gemmT(tc.transA, tc.transB, tc.m, tc.n, tc.k, 0.5, a, lda, b, ldb, 0.25, want, tc.n)
		var first []float32
		for _, threads := range []int{1, 2, 3} {
			got := append([]float32(nil), c0...)
			j := sgemmJob{transA: tc.transA, transB: tc.transB, m: tc.m, n: tc.n, k: tc.k, alpha: 0.5, beta: 0.25,
				a: a, lda: lda, b: b, ldb: ldb, c: got, ldc: tc.n}
			if tc.packed {
				j.pb = asm.PackB(tc.transB, tc.k, tc.n, b, ldb)
			}
			j.run(threads)
			for i := range want {
				if d := want[i] - got[i]; d > 1e-4 || d < -1e-4 {
					t.Fatalf("%+v threads=%d: element %d is %v, want %v", tc, threads, i, got[i], want[i])
				}
			}
			if first == nil {
				first = got
				continue
			}
			for i := range first {
				if math.Float32bits(got[i]) != math.Float32bits(first[i]) {
					t.Fatalf("%+v: element %d is %v on %d threads, %v on one", tc, i, got[i], threads, first[i])
				}
			}
		}
	}
}

// BenchmarkSgemmJob times square float32 products as MatMul runs them, on
// one and two threads: B as a run-time input (packed per call) and B a
// constant packed at Build time. GFLOP/s is over the wall clock.
func BenchmarkSgemmJob(b *testing.B) {
	r := rand.New(rand.NewPCG(5, 6))
	for _, n := range []int{256, 512, 1024} {
		x, y, z := make([]float32, n*n), make([]float32, n*n), make([]float32, n*n)
		for i := range x {
			x[i], y[i] = r.Float32()*2-1, r.Float32()*2-1
		}
		pb := asm.PackB(false, n, n, y, n)
		for _, threads := range []int{1, 2} {
			for _, packed := range []bool{false, true} {
				name := fmt.Sprintf("%d/threads=%d", n, threads)
				if packed {
					name += "/packedB"
				}
				b.Run(name, func(b *testing.B) {
					w := NewWorkers(threads)
					defer w.Close()
					j := sgemmJob{m: n, n: n, k: n, alpha: 1, a: x, lda: n, b: y, ldb: n, c: z, ldc: n, workers: w}
					if packed {
						j.pb = pb
					}
					for b.Loop() {
						jj := j
						jj.run(threads)
					}
					b.ReportMetric(2*float64(n*n*n)*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
				})
			}
		}
	}
}
