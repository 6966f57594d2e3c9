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
