package ops

import (
	"math"
	"runtime"
	"testing"
	"time"

	"github.com/onyxrt/onyx/ops/asm"
)

// resnet50Convs are the convolutions of torchvision's ResNet-50 at batch
// 1 (224×224): channels in, input size, channels out, kernel, stride,
// padding, and how many times the model has each.
var resnet50Convs = []struct {
	name                  string
	c, h, m, k, s, pad, n int
}{
	{"stem7x7s2", 3, 224, 64, 7, 2, 3, 1},
	{"l1-1x1-64-64", 64, 56, 64, 1, 1, 0, 1},
	{"l1-1x1-256-64", 256, 56, 64, 1, 1, 0, 2},
	{"l1-3x3-64", 64, 56, 64, 3, 1, 1, 3},
	{"l1-1x1-64-256", 64, 56, 256, 1, 1, 0, 4},
	{"l2-1x1-256-128", 256, 56, 128, 1, 1, 0, 1},
	{"l2-3x3s2-128", 128, 56, 128, 3, 2, 1, 1},
	{"l2-1x1-128-512", 128, 28, 512, 1, 1, 0, 4},
	{"l2-ds-1x1s2", 256, 56, 512, 1, 2, 0, 1},
	{"l2-1x1-512-128", 512, 28, 128, 1, 1, 0, 3},
	{"l2-3x3-128", 128, 28, 128, 3, 1, 1, 3},
	{"l3-1x1-512-256", 512, 28, 256, 1, 1, 0, 1},
	{"l3-3x3s2-256", 256, 28, 256, 3, 2, 1, 1},
	{"l3-1x1-256-1024", 256, 14, 1024, 1, 1, 0, 6},
	{"l3-ds-1x1s2", 512, 28, 1024, 1, 2, 0, 1},
	{"l3-1x1-1024-256", 1024, 14, 256, 1, 1, 0, 5},
	{"l3-3x3-256", 256, 14, 256, 3, 1, 1, 5},
	{"l4-1x1-1024-512", 1024, 14, 512, 1, 1, 0, 1},
	{"l4-3x3s2-512", 512, 14, 512, 3, 2, 1, 1},
	{"l4-1x1-512-2048", 512, 7, 2048, 1, 1, 0, 3},
	{"l4-ds-1x1s2", 1024, 14, 2048, 1, 2, 0, 1},
	{"l4-1x1-2048-512", 2048, 7, 512, 1, 1, 0, 2},
	{"l4-3x3-512", 512, 7, 512, 3, 1, 1, 2},
}

// BenchmarkConvSplitResNet50 measures how well the GEMM path's split of
// each ResNet-50 layer (splitParts, pieceItems) would use two threads,
// in a way that load on the machine disturbs little: one thread runs the
// whole layer, then each piece of the split in turn, timing each with its
// own CPU time. It reports x2 (the whole layer's time over that of the
// busier of two threads claiming the pieces in order, the best a split
// run can do) and parts-cpu-% (how much more CPU the pieces take than
// the whole).
func BenchmarkConvSplitResNet50(b *testing.B) {
	for _, c := range resnet50Convs {
		b.Run(c.name, func(b *testing.B) {
			a := convAttrs{spatialAttrs: spatialAttrs{
				strides: []int{c.s, c.s}, pads: []int{c.pad, c.pad, c.pad, c.pad}, autoPad: "NOTSET",
			}, group: 1}
			p, err := a.plan([]int{1, c.c, c.h, c.h}, []int{c.m, c.c, c.k, c.k})
			if err != nil {
				b.Fatal(err)
			}
			q := newConv32Plan(p, nil)
			x := make([]float32, c.c*c.h*c.h)
			for i := range x {
				x[i] = float32(i%7) * 0.1
			}
			w := make([]float32, c.m*c.c*c.k*c.k)
			y := make([]float32, p.m*p.outSize)
			act := asm.ConvAct{Lo: 0, Hi: float32(math.Inf(1))}
			cp, rp, al := q.splitParts(2)
			whole := conv32Job{q: q, x: x, w: w, y: y, act: &act, colParts: 1, rowParts: 1, colAlign: asm.PanelWidth}
			split := conv32Job{q: q, x: x, w: w, y: y, act: &act, colParts: cp, rowParts: rp, colAlign: al}
			items := q.units * cp * rp
			per := pieceItems(2, items)
			runtime.LockOSThread()
			defer runtime.UnlockOSThread()
			bestWhole := time.Duration(math.MaxInt64)
			bestPiece := make([]time.Duration, (items+per-1)/per)
			for i := range bestPiece {
				bestPiece[i] = math.MaxInt64
			}
			b.ResetTimer()
			for range b.N {
				t0 := threadCPU()
				whole.run(0, q.units)
				bestWhole = min(bestWhole, threadCPU()-t0)
				for i := range bestPiece {
					t0 := threadCPU()
					split.run(i*per, min(items, (i+1)*per))
					bestPiece[i] = min(bestPiece[i], threadCPU()-t0)
				}
			}
			var free [2]time.Duration
			var sum time.Duration
			for _, d := range bestPiece {
				k := 0
				if free[1] < free[0] {
					k = 1
				}
				free[k] += d
				sum += d
			}
			if span := max(free[0], free[1]); span > 0 && bestWhole > 0 {
				b.ReportMetric(float64(bestWhole)/float64(span), "x2")
				b.ReportMetric(100*(float64(sum)/float64(bestWhole)-1), "parts-cpu-%")
			}
		})
	}
}
