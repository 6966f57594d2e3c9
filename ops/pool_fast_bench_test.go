package ops

import (
	"math"
	"testing"
)

func BenchmarkMaxPoolMNIST(b *testing.B) {
	a := &poolAttrs{kind: poolMax, spatialAttrs: spatialAttrs{kernel: []int{2, 2}, strides: []int{2, 2}, autoPad: "NOTSET"}}
	p, _ := a.plan([]int{64, 32, 26, 26})
	x := make([]float32, p.nc*p.inSize)
	y := make([]float32, p.nc*p.outSize)
	b.SetBytes(int64(len(x) * 4))
	for i := 0; i < b.N; i++ {
		maxPoolRows(p, x, y, -math.MaxFloat32)
	}
}

// BenchmarkMaxPoolPlaneHot pools the 32 planes of one MNIST image's
// first convolution (26×26, 2×2) from a buffer that stays in cache, as
// the fused convolution does.
func BenchmarkMaxPoolPlaneHot(b *testing.B) {
	a := &poolAttrs{kind: poolMax, spatialAttrs: spatialAttrs{kernel: []int{2, 2}, strides: []int{2, 2}, autoPad: "NOTSET"}}
	p, _ := a.plan([]int{1, 32, 26, 26})
	x := make([]float32, p.nc*p.inSize+64)
	y := make([]float32, p.nc*p.outSize)
	b.SetBytes(int64(p.nc * p.inSize * 4))
	for i := 0; i < b.N; i++ {
		for pi := 0; pi < p.nc; pi++ {
			maxPoolPlane32(p.g, x[pi*p.inSize:], p.g.in[1], 0, y[pi*p.outSize:(pi+1)*p.outSize], 0, p.g.out[0], -math.MaxFloat32)
		}
	}
}
