package ops

import (
	"fmt"
	"math"
	"runtime"
	"testing"

	"github.com/onyxrt/onyx/ops/asm"
)

// BenchmarkConvRun32 times the float32 Conv path on layer shapes of the
// benchmark models (MNIST CNN, MobileNetV2, ResNet-50) and reports
// GFLOP/s.
func BenchmarkConvRun32(b *testing.B) {
	type tc struct {
		name                            string
		n, c, h, w, m, k, s, pad, group int
	}
	cases := []tc{
		{"mnist1", 64, 1, 28, 28, 32, 3, 1, 0, 1},
		{"mnist2", 64, 32, 13, 13, 64, 3, 1, 0, 1},
		{"mnist3", 64, 64, 5, 5, 64, 3, 1, 0, 1},
		{"mb-stem", 1, 3, 224, 224, 32, 3, 2, 1, 1},
		{"mb-dw112", 1, 32, 112, 112, 32, 3, 1, 1, 32},
		{"mb-dw112s2", 1, 96, 112, 112, 96, 3, 2, 1, 96},
		{"mb-dw14", 1, 576, 14, 14, 576, 3, 1, 1, 576},
		{"mb-dw7", 1, 960, 7, 7, 960, 3, 1, 1, 960},
		{"mb-pw112", 1, 16, 112, 112, 96, 1, 1, 0, 1},
		{"mb-pw56", 1, 144, 56, 56, 24, 1, 1, 0, 1},
		{"mb-pw14", 1, 96, 14, 14, 576, 1, 1, 0, 1},
		{"mb-pw7", 1, 960, 7, 7, 160, 1, 1, 0, 1},
		{"rn-stem", 1, 3, 224, 224, 64, 7, 2, 3, 1},
		{"rn-3x3-56", 1, 64, 56, 56, 64, 3, 1, 1, 1},
		{"rn-1x1-56", 1, 64, 56, 56, 256, 1, 1, 0, 1},
		{"rn-3x3-28", 1, 128, 28, 28, 128, 3, 1, 1, 1},
		{"rn-3x3-14", 1, 256, 14, 14, 256, 3, 1, 1, 1},
		{"rn-3x3-7", 1, 512, 7, 7, 512, 3, 1, 1, 1},
		{"rn-1x1-7", 1, 512, 7, 7, 2048, 1, 1, 0, 1},
		{"rn-1x1s2", 1, 512, 28, 28, 1024, 1, 2, 0, 1},
	}
	for _, c := range cases {
		for _, threads := range []int{1, 2} {
			b.Run(fmt.Sprintf("%s/t%d", c.name, threads), func(b *testing.B) {
				a := convAttrs{spatialAttrs: spatialAttrs{
					strides: []int{c.s, c.s}, pads: []int{c.pad, c.pad, c.pad, c.pad}, autoPad: "NOTSET",
				}, group: c.group}
				p, err := a.plan([]int{c.n, c.c, c.h, c.w}, []int{c.m, c.c / c.group, c.k, c.k})
				if err != nil {
					b.Fatal(err)
				}
				x := make([]float32, c.n*c.c*c.h*c.w)
				w := make([]float32, c.m*c.c/c.group*c.k*c.k)
				bias := make([]float32, c.m)
				y := make([]float32, p.n*p.m*p.outSize)
				act := asm.ConvAct{Lo: 0, Hi: 6}
				flops := 2 * float64(p.n*p.m*p.outSize*p.kSize*c.c/c.group)
				runtime.LockOSThread()
				defer runtime.UnlockOSThread()
				cpu0 := threadCPU()
				b.ResetTimer()
				for i := 0; i < b.N; i++ {
					convRun32(nil, threads, p, x, w, bias, y, &act)
				}
				b.ReportMetric(flops*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
				if threads == 1 {
					// One thread: the rate over its CPU time is robust to load.
					b.ReportMetric(flops*float64(b.N)/(threadCPU()-cpu0).Seconds()/1e9, "cpuGFLOP/s")
				}
			})
		}
	}
}

// BenchmarkConvPool times a convolution with ReLU followed by a 2×2 max
// pool, run apart (the whole output written, then pooled) and fused
// (each unit pooled from scratch while in cache), on the layers of the
// MNIST, CIFAR and speech CNNs; cpu-ms/op is the calling thread's CPU
// time per run (one thread), which load disturbs less than wall time.
func BenchmarkConvPool(b *testing.B) {
	type tc struct {
		name                  string
		n, c, h, w, m, k, pad int
	}
	cases := []tc{
		{"mnist1-b64", 64, 1, 28, 28, 32, 3, 0},
		{"mnist2-b64", 64, 32, 13, 13, 64, 3, 0},
		{"cifar2", 1, 32, 32, 32, 32, 3, 0},
		{"cifar4", 1, 64, 15, 15, 64, 3, 0},
		{"speech1", 1, 1, 20, 80, 32, 3, 1},
		{"speech2", 1, 32, 10, 40, 64, 3, 1},
	}
	for _, c := range cases {
		for _, fused := range []bool{false, true} {
			b.Run(fmt.Sprintf("%s/fused=%v", c.name, fused), func(b *testing.B) {
				a := convAttrs{spatialAttrs: spatialAttrs{pads: []int{c.pad, c.pad, c.pad, c.pad}, autoPad: "NOTSET"}, group: 1}
				p, err := a.plan([]int{c.n, c.c, c.h, c.w}, []int{c.m, c.c, c.k, c.k})
				if err != nil {
					b.Fatal(err)
				}
				pa := &poolAttrs{kind: poolMax, spatialAttrs: spatialAttrs{kernel: []int{2, 2}, strides: []int{2, 2}, autoPad: "NOTSET"}}
				pp, err := pa.plan(p.outShape())
				if err != nil {
					b.Fatal(err)
				}
				x := make([]float32, c.n*c.c*c.h*c.w)
				for i := range x {
					x[i] = float32(i%7) - 3
				}
				w := make([]float32, c.m*c.c*c.k*c.k)
				bias := make([]float32, c.m)
				t := make([]float32, p.n*p.m*p.outSize)
				y := make([]float32, pp.nc*pp.outSize)
				act := asm.ConvAct{Lo: 0, Hi: float32(math.Inf(1))}
				plain, withPool := newConv32Plan(p, nil), newConv32Plan(p, pp)
				pp.threads = 1
				runtime.LockOSThread()
				defer runtime.UnlockOSThread()
				cpu0 := threadCPU()
				b.ResetTimer()
				for i := 0; i < b.N; i++ {
					if fused {
						withPool.run(nil, 1, x, w, bias, nil, y, &act)
					} else {
						plain.run(nil, 1, x, w, bias, nil, t, &act)
						maxPoolRun(pp, t, y, nil, false, -math.MaxFloat32)
					}
				}
				b.ReportMetric(float64((threadCPU()-cpu0).Microseconds())/1e3/float64(b.N), "cpu-ms/op")
			})
		}
	}
}
