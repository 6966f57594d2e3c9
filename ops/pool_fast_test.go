package ops

import (
	"fmt"
	"math"
	"math/rand"
	"testing"
)

// TestMaxPoolRows checks the row-wise MaxPool against the window walk
// that also computes indices.
func TestMaxPoolRows(t *testing.T) {
	type tc struct {
		h, w, k0, k1, s0, s1, p0, p1, p2, p3 int
		ceil                                 bool
	}
	cases := []tc{
		{8, 8, 2, 2, 2, 2, 0, 0, 0, 0, false},
		{9, 9, 2, 2, 2, 2, 0, 0, 0, 0, true},
		{112, 112, 3, 3, 2, 2, 1, 1, 1, 1, false},
		{13, 11, 3, 3, 2, 2, 1, 1, 1, 1, true},
		{7, 10, 3, 3, 1, 1, 1, 1, 1, 1, false},
		{7, 10, 3, 2, 1, 2, 0, 1, 2, 0, false},
		{6, 6, 5, 4, 3, 1, 2, 0, 2, 3, true},
		{5, 5, 1, 1, 1, 1, 0, 0, 0, 0, false},
		{4, 9, 2, 4, 1, 3, 1, 3, 0, 0, true},
		{1, 20, 1, 3, 1, 2, 0, 1, 0, 1, false},
	}
	r := rand.New(rand.NewSource(1))
	for _, c := range cases {
		name := fmt.Sprintf("%+v", c)
		a := &poolAttrs{kind: poolMax, ceil: c.ceil, spatialAttrs: spatialAttrs{
			kernel: []int{c.k0, c.k1}, strides: []int{c.s0, c.s1}, pads: []int{c.p0, c.p1, c.p2, c.p3}, autoPad: "NOTSET",
		}}
		p, err := a.plan([]int{2, 3, c.h, c.w})
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		x := make([]float32, p.nc*p.inSize)
		for i := range x {
			x[i] = float32(r.NormFloat64())
		}
		if len(x) > 7 {
			x[7] = float32(math.NaN())
		}
		want := make([]float32, p.nc*p.outSize)
		idx := make([]int64, len(want))
		maxPool2D(p, x, want, idx, false, -math.MaxFloat32)
		got := make([]float32, len(want))
		maxPoolRows(p, x, got, -math.MaxFloat32)
		for i := range want {
			if got[i] != want[i] && !(math.IsNaN(float64(got[i])) && math.IsNaN(float64(want[i]))) {
				// The indices walk keeps the first NaN-free maximum; the
				// row-wise pool propagates NaN like the builtin max.
				if math.IsNaN(float64(got[i])) {
					continue
				}
				t.Fatalf("%s: y[%d] = %v, want %v", name, i, got[i], want[i])
			}
		}
	}
}
