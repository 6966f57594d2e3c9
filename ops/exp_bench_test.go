package ops

import (
	"fmt"
	"testing"
)

// BenchmarkEwExp is the Exp node over 2^20 float32 values (one thread,
// output allocation included).
func BenchmarkEwExp(b *testing.B) { benchEw(b, "Exp", ewBenchInput(1<<20)) }

// BenchmarkExpSlice32 times Exp's float32 loop alone over n values in
// [-5, 5), per element.
func BenchmarkExpSlice32(b *testing.B) {
	for _, n := range []int{10, 1000} {
		b.Run(fmt.Sprint(n), func(b *testing.B) {
			x := ewBenchInput(n).Float32s()
			d := make([]float32, n)
			for i := 0; i < b.N; i++ {
				expSlice32(d, x)
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/elem")
		})
	}
}
