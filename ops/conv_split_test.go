package ops

import (
	"fmt"
	"math"
	"math/rand"
	"testing"

	"github.com/onyxrt/onyx/ops/asm"
	"github.com/stretchr/testify/require"
)

// TestConvSplitParts checks how splitParts splits convolutions of one
// image on two threads, and that the split runs give the single-threaded
// results bit for bit.
func TestConvSplitParts(t *testing.T) {
	type tc struct {
		name                     string
		c, h, w, m, k, s, pad    int
		pool                     bool
		colParts, rowParts, algn int
	}
	pw := asm.PanelWidth
	cases := []tc{
		{"resnet 56x56: fine column parts", 64, 56, 56, 64, 3, 1, 1, false, 4, 1, pw},
		{"resnet 28x28: two column parts", 128, 28, 28, 128, 3, 1, 1, false, 2, 1, pw},
		{"stem 112x112: fine column parts", 3, 224, 224, 64, 7, 2, 3, false, 4, 1, pw},
		{"resnet 14x14: two column parts", 256, 14, 14, 256, 1, 1, 0, false, 2, 1, pw},
		{"strided 1x1: one part a thread", 256, 56, 56, 512, 1, 2, 0, false, 2, 1, pw},
		{"resnet 7x7: rows", 512, 7, 7, 512, 1, 1, 0, false, 1, 2, pw},
		{"speech 5x20: rows (a short last panel)", 64, 5, 20, 128, 3, 1, 1, false, 1, 2, pw},
		{"speech 10x40 pooled: rows (five bands)", 32, 10, 40, 64, 3, 1, 1, true, 1, 2, pw},
		{"pooled, even bands: columns", 32, 16, 40, 64, 3, 1, 1, true, 2, 1, 80},
		{"mnist 13x13 pooled: rows", 32, 13, 13, 64, 3, 1, 0, true, 1, 2, pw},
		{"few rows: columns even when uneven", 32, 5, 20, 16, 3, 1, 1, false, 2, 1, pw},
	}
	r := rand.New(rand.NewSource(3))
	act := asm.ConvAct{Lo: 0, Hi: float32(math.Inf(1))}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			a := convAttrs{spatialAttrs: spatialAttrs{
				strides: []int{c.s, c.s}, pads: []int{c.pad, c.pad, c.pad, c.pad}, autoPad: "NOTSET",
			}, group: 1}
			p, err := a.plan([]int{1, c.c, c.h, c.w}, []int{c.m, c.c, c.k, c.k})
			require.NoError(t, err)
			var pp *poolPlan
			outLen := p.m * p.outSize
			if c.pool {
				pa := &poolAttrs{kind: poolMax, spatialAttrs: spatialAttrs{kernel: []int{2, 2}, strides: []int{2, 2}, autoPad: "NOTSET"}}
				pp, err = pa.plan(p.outShape())
				require.NoError(t, err)
				outLen = p.m * pp.outSize
			}
			q := newConv32Plan(p, pp)
			require.Equal(t, c.pool, q.poolUnit, "pooled from scratch")
			cp, rp, al := q.splitParts(2)
			require.Equal(t, [3]int{c.colParts, c.rowParts, c.algn}, [3]int{cp, rp, al})

			x := make([]float32, c.c*c.h*c.w)
			for i := range x {
				x[i] = float32(r.NormFloat64())
			}
			w := make([]float32, c.m*c.c*c.k*c.k)
			for i := range w {
				w[i] = float32(r.NormFloat64())
			}
			bias := make([]float32, c.m)
			for i := range bias {
				bias[i] = float32(r.NormFloat64())
			}
			want := make([]float32, outLen)
			q.run(nil, 1, x, w, bias, nil, want, &act)
			wk := NewWorkers(1)
			defer wk.Close()
			for rep := range 5 {
				got := make([]float32, outLen)
				for i := range got {
					got[i] = float32(math.NaN())
				}
				q.run(wk, 2, x, w, bias, nil, got, &act)
				for i := range want {
					if math.Float32bits(got[i]) != math.Float32bits(want[i]) {
						t.Fatalf("%s", fmt.Sprintf("run %d: y[%d] = %v on two threads, %v on one", rep, i, got[i], want[i]))
					}
				}
			}
		})
	}
}
