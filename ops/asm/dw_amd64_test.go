//go:build !purego

package asm

import (
	"runtime"
	"testing"
)

// archDepthwiseImpls are the assembly paths of DepthwisePlanes, each
// called directly whatever the dispatch would choose.
func archDepthwiseImpls() []dwImpl {
	if !convAVX2 {
		return nil
	}
	return []dwImpl{
		{"rows", func(dst, src []float32, planes int, g *DepthwiseGeom, w, bias []float32, act *ConvAct, scratch []float32) {
			l := g.layout()
			clear(scratch[l.zero : l.zero+l.zeroLen])
			l.fillMasks(scratch)
			depthwiseRowsAVX2(dst, src, planes, g, &l, w, bias, act, scratch)
		}},
		{"rows512", func(dst, src []float32, planes int, g *DepthwiseGeom, w, bias []float32, act *ConvAct, scratch []float32) {
			// Stride 1 on the AVX-512 kernel where the CPU has it; the
			// other geometries on the rows kernel.
			l := g.layout()
			clear(scratch[l.zero : l.zero+l.zeroLen])
			if hasAVX512 && g.s1AVX512Fits() {
				depthwiseS1AVX512(dst, src, planes, g, &l, w, bias, act, scratch)
				return
			}
			l.fillMasks(scratch)
			depthwiseRowsAVX2(dst, src, planes, g, &l, w, bias, act, scratch)
		}},
		{"c8", func(dst, src []float32, planes int, g *DepthwiseGeom, w, bias []float32, act *ConvAct, scratch []float32) {
			// Any geometry, whether the dispatch would take it or not.
			if l := g.c8Layout(); len(scratch) < l.total {
				scratch = make([]float32, l.total)
			}
			depthwiseC8With(dst, src, planes, g, w, bias, act, scratch, false)
		}},
		{"c8s1", func(dst, src []float32, planes int, g *DepthwiseGeom, w, bias []float32, act *ConvAct, scratch []float32) {
			// By groups of a row at stride 1, whatever the row length.
			if l := g.c8Layout(); len(scratch) < l.total {
				scratch = make([]float32, l.total)
			}
			depthwiseC8With(dst, src, planes, g, w, bias, act, scratch, true)
		}},
	}
}

// BenchmarkDepthwisePaths times the two assembly paths on the depthwise
// layers of MobileNetV2 (224×224 and the Keras 128×128 one), reporting
// outputs per nanosecond of the thread's CPU time.
func BenchmarkDepthwisePaths(b *testing.B) {
	if !convAVX2 {
		b.Skip("no AVX2")
	}
	for _, c := range []struct {
		name          string
		planes, hw, s int
	}{
		{"112", 32, 112, 1}, {"112s2", 96, 112, 2}, {"56", 144, 56, 1}, {"56s2", 144, 56, 2}, {"64s2", 48, 64, 2}, {"28", 192, 28, 1}, {"28s2", 192, 28, 2}, {"32", 96, 32, 1},
		{"16", 160, 16, 1}, {"14", 576, 14, 1}, {"14s2", 576, 14, 2}, {"8", 232, 8, 1}, {"7", 960, 7, 1}, {"4", 328, 4, 1},
	} {
		o := (c.hw+2-3)/c.s + 1
		g := &DepthwiseGeom{H: c.hw, W: c.hw, OH: o, OW: o, PadT: 1, PadL: 1, Stride: c.s}
		src := make([]float32, c.planes*c.hw*c.hw)
		dst := make([]float32, c.planes*o*o)
		w := make([]float32, 9*c.planes)
		bias := make([]float32, c.planes)
		scratch := make([]float32, g.ScratchLen())
		act := ConvAct{Lo: 0, Hi: 6}
		for _, im := range archDepthwiseImpls() {
			b.Run(c.name+"/"+im.name, func(b *testing.B) {
				runtime.LockOSThread()
				defer runtime.UnlockOSThread()
				cpu0, ok := threadCPU()
				for i := 0; i < b.N; i++ {
					im.run(dst, src, c.planes, g, w, bias, &act, scratch)
				}
				if cpu1, ok1 := threadCPU(); ok && ok1 && cpu1 > cpu0 {
					b.ReportMetric(float64(b.N)*float64(len(dst))/float64((cpu1-cpu0).Nanoseconds()), "out/cpu-ns")
				}
			})
		}
	}
}
