package ops

import (
	"fmt"
	"math"
	"math/rand"
	"runtime"
	"testing"

	"github.com/onyxrt/onyx/ops/asm"
)

// winoBenchLayers are the stride-1 3×3 convolutions of the benchmark
// models (ResNet-50 at batch 1 and larger, the CIFAR and MNIST CNNs, the
// speech CNN), a 32→64 layer on 26×26 (the shape the Keras MNIST CNN was
// thought to have; its kernels are 4×4), and small ones at the edge of
// the path (16 to 64 channels, one or a few tiles).
//
// Measured on 2026-11-27 (Zen 3, 1 thread, cpu-ms/op with the machine
// under heavy load from other jobs, the lower of two passes; bias and
// ReLU fused), old path → Winograd: rn56 3.56 → 1.16, rn28 2.62 → 0.76,
// rn14 2.71 → 1.14, rn7 3.47 → 3.88, rn14-b4 12.0 → 5.2, rn7-b8 24.0 →
// 14.2, keras-b4 1.07 → 0.44, mnist2-b64 4.27 → 1.96, mnist3-b64 0.51 →
// 0.32, cifar2 0.17 → 0.10, cifar3 0.098 → 0.046, cifar4 0.14 → 0.079,
// speech2 0.17 → 0.084, c16-32 0.061 → 0.045, c64-4-k64-b1 0.020 →
// 0.020.
//
// The 4×4 layers (F(3×3, 4×4); r = 4, pads 1 before and 2 after) are the
// Keras MNIST CNN's at batch 4 (k4-28-32, k4-14-32-64, k4-14-64) and 1
// (*-b1), and a few at the edges. Measured on 2026-11-27 as above (load
// average about 10), position-major path → Winograd: k4-28-32 1.23 →
// 0.58, k4-14-32-64 0.68 → 0.27, k4-14-64 1.26 → 0.43, k4-28-32-b1 0.27
// → 0.14, k4-14-64-b1 0.27 → 0.12, k4-c16-32 0.13 → 0.083, k4-c128-14-b1
// 1.34 → 0.43, k4-c64-4-b1 0.036 → 0.034, k4-c16-8-b1 about even
// (0.007-0.010 both).
var winoBenchLayers = []struct {
	name             string
	n, c, h, w, k, p int
	r                int // filter size (0: 3)
}{
	{"rn56", 1, 64, 56, 56, 64, 1, 0},
	{"rn28", 1, 128, 28, 28, 128, 1, 0},
	{"rn14", 1, 256, 14, 14, 256, 1, 0},
	{"rn7", 1, 512, 7, 7, 512, 1, 0},
	{"keras-b4", 4, 32, 26, 26, 64, 0, 0},
	{"keras-b1", 1, 32, 26, 26, 64, 0, 0},
	{"mnist2-b64", 64, 32, 13, 13, 64, 0, 0},
	{"mnist3-b64", 64, 64, 5, 5, 64, 0, 0},
	{"cifar2", 1, 32, 32, 32, 32, 0, 0},
	{"cifar3", 1, 32, 15, 15, 64, 1, 0},
	{"cifar4", 1, 64, 15, 15, 64, 0, 0},
	{"speech2", 1, 32, 10, 40, 64, 1, 0},
	{"rn14-b4", 4, 256, 14, 14, 256, 1, 0},
	{"rn7-b8", 8, 512, 7, 7, 512, 1, 0},
	{"c16-32", 1, 16, 32, 32, 16, 1, 0},
	{"c16-28-k32", 1, 16, 28, 28, 32, 1, 0},
	{"c24-20-k24", 1, 24, 20, 20, 24, 1, 0},
	{"c32-8-k32-b1", 1, 32, 8, 8, 32, 1, 0},
	{"c64-4-k64-b1", 1, 64, 4, 4, 64, 1, 0},
	{"k4-28-32", 4, 32, 28, 28, 32, 1, 4},
	{"k4-14-32-64", 4, 32, 14, 14, 64, 1, 4},
	{"k4-14-64", 4, 64, 14, 14, 64, 1, 4},
	{"k4-28-32-b1", 1, 32, 28, 28, 32, 1, 4},
	{"k4-14-64-b1", 1, 64, 14, 14, 64, 1, 4},
	{"k4-c16-32", 1, 16, 32, 32, 16, 1, 4},
	{"k4-c16-8-b1", 1, 16, 8, 8, 16, 1, 4},
	{"k4-c64-4-b1", 1, 64, 4, 4, 64, 1, 4},
	{"k4-c128-14-b1", 1, 128, 14, 14, 128, 1, 4},
}

// BenchmarkConvWinoLayers times each layer (bias and ReLU fused) on the
// path the kernel would take without Winograd (position-major or im2col)
// and on the Winograd path; cpu-ms/op is the calling thread's CPU time
// per run (threads=1), which the machine's other load disturbs less than
// wall time.
func BenchmarkConvWinoLayers(b *testing.B) {
	for _, c := range winoBenchLayers {
		for _, threads := range []int{1, 2} {
			for _, wino := range []bool{false, true} {
				b.Run(fmt.Sprintf("%s/t=%d/wino=%v", c.name, threads, wino), func(b *testing.B) {
					fs, pads := 3, []int{c.p, c.p, c.p, c.p}
					if c.r == 4 {
						fs, pads = 4, []int{c.p, c.p, c.p + 1, c.p + 1}
					}
					a := convAttrs{spatialAttrs: spatialAttrs{pads: pads, autoPad: "NOTSET"}, group: 1}
					p, err := a.plan([]int{c.n, c.c, c.h, c.w}, []int{c.k, c.c, fs, fs})
					if err != nil {
						b.Fatal(err)
					}
					r := rand.New(rand.NewSource(1))
					x := randSlice32(r, c.n*c.c*c.h*c.w)
					w := randSlice32(r, c.k*c.c*fs*fs)
					bias := randSlice32(r, c.k)
					y := make([]float32, p.n*p.m*p.outSize)
					act := asm.ConvAct{Lo: 0, Hi: float32(math.Inf(1))}
					q := newConv32Plan(p, nil)
					wq := newConvWinoPlanAny(p)
					u := newWinoFilterR(w, c.k, c.c, fs)
					var wp []float32
					if q.pos != nil {
						wp = packConvPosWeights(w, c.k, c.c*fs*fs, nil)
					}
					wk := NewWorkers(threads - 1)
					defer wk.Close()
					scratch := make([]float32, wq.scratchLen(threads))
					run := func() {
						if wino {
							wq.run(wk, threads, u, x, bias, nil, y, &act, scratch)
						} else if !q.runPos(wk, threads, x, w, wp, bias, nil, y, &act) {
							q.run(wk, threads, x, w, bias, nil, y, &act)
						}
					}
					run()
					runtime.LockOSThread()
					defer runtime.UnlockOSThread()
					cpu0 := threadCPU()
					b.ResetTimer()
					for i := 0; i < b.N; i++ {
						run()
					}
					b.ReportMetric(float64((threadCPU()-cpu0).Microseconds())/1e3/float64(b.N), "cpu-ms/op")
					b.ReportMetric(float64(p.n*p.m*p.c*fs*fs*p.outSize)*2/1e9/(b.Elapsed().Seconds()/float64(b.N)), "eff-GFLOP/s")
				})
			}
		}
	}
}
