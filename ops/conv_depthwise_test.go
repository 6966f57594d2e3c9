package ops

import (
	"fmt"
	"math"
	"math/rand"
	"runtime"
	"testing"

	"github.com/onyxrt/onyx/ops/asm"
)

// TestDepthwiseRunThreads checks the direct depthwise path on planes big
// enough to be split between threads, with the thread ranges crossing
// images, and on small planes (which asm.DepthwisePlanes takes eight at
// a time), against the naive convolution.
func TestDepthwiseRunThreads(t *testing.T) {
	type tc struct{ n, c, h, w, s, pad int }
	cases := []tc{
		{3, 5, 64, 64, 1, 1},
		{2, 7, 61, 67, 2, 1},
		{1, 13, 48, 40, 1, 0},
		{4, 3, 57, 57, 2, 0},
		{2, 20, 9, 9, 1, 1},   // small planes: eight at a time, and four
		{3, 11, 15, 15, 2, 1}, // the same at stride 2
		{1, 40, 56, 56, 2, 1}, // stride 2, 28 outputs a row
		{2, 24, 14, 13, 1, 0},
	}
	r := rand.New(rand.NewSource(2))
	for _, c := range cases {
		for _, threads := range []int{1, 2, 3} {
			name := fmt.Sprintf("%+v/threads=%d", c, threads)
			a := convAttrs{spatialAttrs: spatialAttrs{
				strides: []int{c.s, c.s}, pads: []int{c.pad, c.pad, c.pad, c.pad}, autoPad: "NOTSET",
			}, group: c.c}
			p, err := a.plan([]int{c.n, c.c, c.h, c.w}, []int{c.c, 1, 3, 3})
			if err != nil {
				t.Fatal(err)
			}
			if !p.depthwise3x3() {
				t.Fatalf("%s: not the direct depthwise path", name)
			}
			x := make([]float32, c.n*c.c*c.h*c.w)
			for i := range x {
				x[i] = float32(r.NormFloat64())
			}
			w := make([]float32, 9*c.c)
			for i := range w {
				w[i] = float32(r.NormFloat64())
			}
			bias := make([]float32, c.c)
			for i := range bias {
				bias[i] = float32(r.NormFloat64())
			}
			act := asm.ConvAct{Lo: 0, Hi: 6}
			want := convNaive32(p, x, w, bias, &act)
			got := make([]float32, len(want)+3)
			for i := range got {
				got[i] = float32(math.NaN())
			}
			wk := NewWorkers(threads - 1)
			convRun32(wk, threads, p, x, w, bias, got[:len(want)], &act)
			wk.Close()
			for i := range want {
				if d := math.Abs(float64(got[i] - want[i])); !(d <= 1e-4*(1+math.Abs(float64(want[i])))) {
					t.Fatalf("%s: y[%d] = %v, want %v", name, i, got[i], want[i])
				}
			}
			for i := len(want); i < len(got); i++ {
				if !math.IsNaN(float64(got[i])) {
					t.Fatalf("%s: wrote past the output at %d", name, i)
				}
			}
		}
	}
}

// BenchmarkDepthwiseRun times the MobileNetV2 depthwise layers on one
// thread and reports outputs per nanosecond of the thread's CPU time
// (robust to load).
func BenchmarkDepthwiseRun(b *testing.B) {
	for _, c := range []struct {
		name          string
		planes, hw, s int
	}{
		{"112", 32, 112, 1}, {"112s2", 96, 112, 2}, {"56", 144, 56, 1}, {"56s2", 144, 56, 2}, {"28", 192, 28, 1},
		{"14", 576, 14, 1}, {"14s2", 576, 14, 2}, {"7", 960, 7, 1},
	} {
		a := convAttrs{spatialAttrs: spatialAttrs{strides: []int{c.s, c.s}, pads: []int{1, 1, 1, 1}, autoPad: "NOTSET"}, group: c.planes}
		p, err := a.plan([]int{1, c.planes, c.hw, c.hw}, []int{c.planes, 1, 3, 3})
		if err != nil {
			b.Fatal(err)
		}
		x := make([]float32, c.planes*c.hw*c.hw)
		w := make([]float32, 9*c.planes)
		bias := make([]float32, c.planes)
		y := make([]float32, c.planes*p.outSize)
		act := asm.ConvAct{Lo: 0, Hi: 6}
		b.Run(c.name, func(b *testing.B) {
			runtime.LockOSThread()
			defer runtime.UnlockOSThread()
			cpu0 := threadCPU()
			for i := 0; i < b.N; i++ {
				depthwiseRun(nil, 1, p, x, w, bias, y, &act)
			}
			if cpu := threadCPU() - cpu0; cpu > 0 {
				b.ReportMetric(float64(b.N)*float64(len(y))/float64(cpu.Nanoseconds()), "out/cpu-ns")
			}
		})
	}
}
