package asm

import (
	"fmt"
	"math/rand"
	"sort"
	"testing"
	"time"
)

// BenchmarkSgemmSmallM times the four-row path on the products of Dense
// layers on a batch of four (the first two of the Keras MNIST MLP, and a
// product whose B fits in L1), timing every call: besides ns/op it
// reports the fastest and the tenth-percentile call and the GFLOP/s of
// the latter, which on a machine shared with other work say more about
// the kernel than the mean does.
func BenchmarkSgemmSmallM(b *testing.B) {
	for _, s := range [][2]int{{128, 784}, {64, 128}, {32, 196}} {
		n, k := s[0], s[1]
		r := rand.New(rand.NewSource(1))
		a := randSlice[float32](r, 4*k)
		pb := PackB(false, k, n, randSlice[float32](r, k*n), n)
		c := make([]float32, 4*n)
		b.Run(fmt.Sprintf("4x%dx%d", n, k), func(b *testing.B) {
			ts := make([]float64, 0, b.N)
			for i := 0; i < b.N; i++ {
				t := time.Now()
				sgemmPacked(sgemmDefault, false, 4, n, k, 1, a, k, pb, 0, c, n, nil)
				ts = append(ts, float64(time.Since(t).Nanoseconds()))
			}
			sort.Float64s(ts)
			b.ReportMetric(ts[0], "min-ns")
			b.ReportMetric(ts[len(ts)/10], "p10-ns")
			b.ReportMetric(float64(8*n*k)/ts[len(ts)/10], "p10-GFLOP/s")
		})
	}
}
