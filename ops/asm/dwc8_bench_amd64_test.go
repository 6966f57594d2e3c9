//go:build !purego

package asm

import (
	"runtime"
	"testing"
)

// BenchmarkDwc8Parts times the three steps of the channel-interleaved
// depthwise path (transpose in, compute, transpose out) on one block of
// eight planes, reporting outputs per nanosecond of CPU time.
func BenchmarkDwc8Parts(b *testing.B) {
	if !convAVX2 {
		b.Skip("no AVX2")
	}
	for _, c := range []struct {
		name  string
		hw, s int
	}{{"16", 16, 1}, {"14", 14, 1}, {"8", 8, 1}, {"7", 7, 1}, {"4", 4, 1}, {"16s2", 16, 2}, {"14s2", 14, 2}} {
		o := (c.hw+2-3)/c.s + 1
		g := &DepthwiseGeom{H: c.hw, W: c.hw, OH: o, OW: o, PadT: 1, PadL: 1, Stride: c.s}
		l := g.c8Layout()
		scratch := make([]float32, l.total)
		src := make([]float32, 8*c.hw*c.hw)
		dst := make([]float32, 8*o*o)
		a := dwc8Args{o: &scratch[l.o], p: &scratch[l.p], wv: &scratch[l.wv], bias: &scratch[l.bias],
			wp: l.wp, oh: g.OH, ow: g.OW, s: g.Stride}
		for k := range a.lo {
			a.hi[k] = 6
		}
		rows, cols := min(g.H, l.hp-g.PadT), min(g.W, l.wp-g.PadL)
		in, out := g.H*g.W, g.OH*g.OW
		parts := []struct {
			name string
			f    func()
		}{
			{"in", func() { dwc8In(&scratch[l.p+(g.PadT*l.wp+g.PadL)*8], l.wp, &src[0], 4*in, 4*g.W, rows, cols) }},
			{"compute", func() { dwc8Compute(&a) }},
			{"s1", func() {
				if a.s == 1 {
					dwc8ComputeS1(&a)
				}
			}},
			{"out", func() { dwc8Out(&dst[0], 4*out, &scratch[l.o], out, 8) }},
		}
		for _, p := range parts {
			b.Run(c.name+"/"+p.name, func(b *testing.B) {
				runtime.LockOSThread()
				defer runtime.UnlockOSThread()
				cpu0, ok := threadCPU()
				for i := 0; i < b.N; i++ {
					p.f()
				}
				if cpu1, ok1 := threadCPU(); ok && ok1 && cpu1 > cpu0 {
					b.ReportMetric(float64(b.N)*float64(len(dst))/float64((cpu1-cpu0).Nanoseconds()), "out/cpu-ns")
				}
			})
		}
	}
}
