package ops

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

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

// TestSplitSmallM splits products of a few rows on a packed B (the Dense
// layers of a small batch; one row also on the unpacked B, transposed or
// not) by columns over two and three goroutines, with and without a pool
// and an epilogue, and checks that the results are those of one
// goroutine bit for bit, and that it declines what it should leave to
// one thread.
func TestSplitSmallM(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 8))
	fill := func(n int) []float32 {
		s := make([]float32, n)
		for i := range s {
			s[i] = r.Float32()*2 - 1
		}
		return s
	}
	bias := func(n int) asm.Epilogue {
		row := fill(n)
		return func(c []float32, ldc, i0, j0, rows, cols int) {
			bj := (ldc - cap(c)%ldc) % ldc
			c = c[i0*ldc+j0:]
			asm.GemmBiasClamp(rows, cols, c, ldc, row[bj+j0:], 0, 0, float32(math.Inf(1)))
		}
	}
	tests := []struct {
		m, n, k int
		split   bool // at two threads
		// unpacked: j.b is set too (Gemm's one-row path, which block
		// multiplies on it, not on pb), transposed or not.
		unpacked, transB bool
	}{
		{4, 128, 784, true, false, false}, // the first layer of the Keras MNIST MLP
		{4, 100, 700, true, false, false}, // a partial last panel
		{3, 96, 1000, true, false, false},
		{8, 64, 600, true, false, false},
		{1, 512, 600, true, false, false},
		{4, 64, 128, false, false, false},  // too little work
		{9, 128, 784, false, false, false}, // too many rows
		{4, 32, 4096, false, false, false}, // one panel
		{4, 64, 4096, true, false, false},  // two panels, one per thread
		{4, 40, 4096, true, false, false},  // a panel and a bit
		// One row on the unpacked B: MobileNetV2's classifier, and odd sizes.
		{1, 1000, 1280, true, true, true},
		{1, 1000, 1280, true, true, false},
		{1, 400, 777, true, true, true},
		{1, 400, 777, true, true, false},
		{1, 100, 300, false, true, true}, // too little work
	}
	for _, tc := range tests {
		a, b := fill(tc.m*tc.k), fill(tc.k*tc.n)
		ldb := tc.n
		if tc.transB {
			ldb = tc.k
		}
		pb := asm.PackB(tc.transB, tc.k, tc.n, b, ldb)
		var jb []float32
		if tc.unpacked {
			jb = b
		}
		for _, epi := range []bool{false, true} {
			var e asm.Epilogue
			if epi {
				e = bias(tc.n)
			}
			c0 := fill(tc.m * tc.n)
			want := append([]float32(nil), c0...)
			j := sgemmJob{transB: tc.transB, m: tc.m, n: tc.n, k: tc.k, alpha: 1, beta: 0.5, a: a, lda: tc.k, b: jb, ldb: ldb, pb: pb, c: want[:len(want):len(want)], ldc: tc.n, epi: e}
			j.block(0, tc.m, 0, tc.n, pb)
			for _, threads := range []int{2, 3} {
				for _, pool := range []bool{false, true} {
					var w *Workers
					if pool {
						w = NewWorkers(threads)
					}
					got := append([]float32(nil), c0...)
					j := sgemmJob{transB: tc.transB, m: tc.m, n: tc.n, k: tc.k, alpha: 1, beta: 0.5, a: a, lda: tc.k, b: jb, ldb: ldb, pb: pb, c: got[:len(got):len(got)], ldc: tc.n, epi: e}
					split := j.splitSmallM(w, threads)
					if w != nil {
						w.Close()
					}
					if split != tc.split {
						t.Fatalf("%+v threads=%d: split %v, want %v", tc, threads, split, tc.split)
					}
					if !split {
						continue
					}
					for i := range want {
						if math.Float32bits(got[i]) != math.Float32bits(want[i]) {
							t.Fatalf("%+v threads=%d epi=%v pool=%v: element %d is %v, one thread gives %v", tc, threads, epi, pool, i, got[i], want[i])
						}
					}
				}
			}
		}
	}
}

// BenchmarkSplitSmallM times the first layer of the Keras MNIST MLP
// (4×784 by 784×128, B packed) on one thread and split by columns over
// two (splitSmallM, with a pool whose worker stays hot between calls),
// timing every call.
func BenchmarkSplitSmallM(b *testing.B) {
	r := rand.New(rand.NewPCG(9, 10))
	m, n, k := 4, 128, 784
	a, bm, c := make([]float32, m*k), make([]float32, k*n), make([]float32, m*n)
	for i := range a {
		a[i] = r.Float32()
	}
	for i := range bm {
		bm[i] = r.Float32()*2 - 1
	}
	pb := asm.PackB(false, k, n, bm, n)
	for _, threads := range []int{1, 2} {
		b.Run(fmt.Sprintf("threads=%d", threads), func(b *testing.B) {
			w := NewWorkers(threads - 1)
			defer w.Close()
			j := sgemmJob{m: m, n: n, k: k, alpha: 1, a: a, lda: k, pb: pb, c: c, ldc: n}
			ts := make([]float64, 0, b.N)
			for i := 0; i < b.N; i++ {
				t := time.Now()
				jj := j
				if !jj.splitSmallM(w, threads) {
					jj.block(0, m, 0, n, pb)
				}
				ts = append(ts, float64(time.Since(t).Nanoseconds()))
			}
			// The fastest and tenth-percentile calls: on a shared machine
			// the mean mostly measures the other work.
			slices.Sort(ts)
			b.ReportMetric(ts[0], "min-ns")
			b.ReportMetric(ts[len(ts)/10], "p10-ns")
		})
	}
}
