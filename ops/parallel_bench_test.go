package ops

import (
	"math"
	"testing"
	"time"
)

// spinWork does about ns nanoseconds of arithmetic.
func spinWork(ns int) float64 {
	x := 1.0
	for i := 0; i < ns/2; i++ {
		x = x*1.0000001 + 1e-9
	}
	return x
}

var sinkF float64

// benchHandoff times parallelFor over two halves of work of perHalf ns
// each, on a pool of one worker, back to back (a hot worker): the
// overhead of a split is the time above perHalf.
func benchHandoff(b *testing.B, threads, perHalf int, gap time.Duration) {
	w := NewWorkers(1)
	defer w.Close()
	best := time.Duration(math.MaxInt64)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if gap > 0 {
			time.Sleep(gap)
		}
		t0 := time.Now()
		parallelFor(w, threads, 2, 1, func(lo, hi int) {
			for range hi - lo {
				sinkF += spinWork(perHalf)
			}
		})
		best = min(best, time.Since(t0))
	}
	b.ReportMetric(float64(best.Nanoseconds()), "min-ns/op")
}

func BenchmarkHandoffEmpty1(b *testing.B)       { benchHandoff(b, 1, 0, 0) }
func BenchmarkHandoffEmpty2(b *testing.B)       { benchHandoff(b, 2, 0, 0) }
func BenchmarkHandoff10us1(b *testing.B)        { benchHandoff(b, 1, 10000, 0) }
func BenchmarkHandoff10us2(b *testing.B)        { benchHandoff(b, 2, 10000, 0) }
func BenchmarkHandoff10us2Cold1ms(b *testing.B) { benchHandoff(b, 2, 10000, time.Millisecond) }
func BenchmarkHandoff10us2Warm50us(b *testing.B) {
	benchHandoff(b, 2, 10000, 50*time.Microsecond)
}
