package ops

import (
	"fmt"
	"math"
	"math/rand"
	"runtime"
	"testing"

	"github.com/onyxrt/onyx/ops/asm"
)

// TestConvPos compares the position-major convolution path (with and
// without a fused max pool and a summand, weights packed ahead or per
// run) with the direct definition followed by MaxPool, over awkward
// shapes: padding, strides, dilations, output channels that are not a
// multiple of a panel, batches that leave a short last unit, pools with
// padding and overlapping windows.
func TestConvPos(t *testing.T) {
	type tc struct {
		n, c, h, w, m, k, s, pad, d int
		pool                        []int // kernel, stride, pad; nil: none
	}
	cases := []tc{
		{1, 1, 28, 28, 32, 3, 1, 0, 1, []int{2, 2, 0}}, // MNIST conv1
		{3, 32, 13, 13, 64, 3, 1, 0, 1, []int{2, 2, 0}},
		{70, 64, 5, 5, 64, 3, 1, 0, 1, nil}, // many units, a short last one
		{5, 3, 9, 11, 24, 3, 1, 1, 1, nil},
		{2, 3, 17, 19, 8, 3, 2, 1, 1, []int{3, 2, 1}},
		{3, 4, 12, 12, 40, 2, 1, 0, 2, []int{3, 3, 0}},
		{2, 5, 10, 9, 16, 1, 2, 0, 1, nil},
		{1, 2, 7, 7, 8, 5, 1, 2, 1, []int{2, 1, 0}},
		{9, 1, 6, 6, 8, 3, 1, 0, 1, []int{2, 2, 0}},
	}
	acts := []asm.ConvAct{asm.ConvActNone(), {Lo: 0, Hi: float32(math.Inf(1))}, {Lo: -0.5, Hi: 6}, {Leaky: true, Alpha: 0.2}}
	r := rand.New(rand.NewSource(7))
	for i, c := range cases {
		for _, threads := range []int{1, 2} {
			for ai, act := range acts {
				for _, sum := range []bool{false, true} {
					withBias := (i+ai)%3 != 0
					name := fmt.Sprintf("%+v/threads=%d/act=%d/bias=%v/sum=%v", c, threads, ai, withBias, sum)
					a := convAttrs{spatialAttrs: spatialAttrs{
						strides: []int{c.s, c.s}, dilations: []int{c.d, c.d}, pads: []int{c.pad, c.pad, c.pad, c.pad}, autoPad: "NOTSET",
					}, group: 1}
					p, err := a.plan([]int{c.n, c.c, c.h, c.w}, []int{c.m, c.c, c.k, c.k})
					if err != nil {
						t.Fatalf("%s: %v", name, err)
					}
					var pp *poolPlan
					if c.pool != nil {
						k, s, pd := c.pool[0], c.pool[1], c.pool[2]
						pa := &poolAttrs{kind: poolMax, spatialAttrs: spatialAttrs{kernel: []int{k, k}, strides: []int{s, s}, pads: []int{pd, pd, pd, pd}, autoPad: "NOTSET"}}
						if pp, err = pa.plan(p.outShape()); err != nil {
							t.Fatalf("%s: %v", name, err)
						}
					}
					x := randSlice32(r, c.n*c.c*c.h*c.w)
					w := randSlice32(r, c.m*c.c*c.k*c.k)
					var bias, z []float32
					if withBias {
						bias = randSlice32(r, c.m)
					}
					if sum {
						z = randSlice32(r, p.n*p.m*p.outSize)
					}
					none := asm.ConvActNone()
					want := convNaive32(p, x, w, bias, &none)
					for j := range want {
						if z != nil {
							want[j] += z[j]
						}
						v := want[j]
						if act.Leaky {
							if v < 0 {
								v *= act.Alpha
							}
						} else {
							v = min(max(v, act.Lo), act.Hi)
						}
						want[j] = v
					}
					if pp != nil {
						pooled := make([]float32, pp.nc*pp.outSize)
						maxPoolRun(pp, want, pooled, nil, false, float32(-math.MaxFloat32))
						want = pooled
					}
					q := newConv32PlanPos(p, pp, true)
					if q.pos == nil {
						t.Fatalf("%s: no position-major plan", name)
					}
					for _, packed := range []bool{false, true} {
						var wp []float32
						if packed {
							wp = packConvPosWeights(w, c.m, c.c*c.k*c.k, nil)
						}
						got := make([]float32, len(want)+5)
						for j := range got {
							got[j] = float32(math.NaN())
						}
						wk := NewWorkers(threads - 1)
						ok := q.runPos(wk, threads, x, w, wp, bias, z, got[:len(want)], &act)
						wk.Close()
						if !ok {
							t.Fatalf("%s: the position-major path declined", name)
						}
						tol := 1e-4 * math.Sqrt(float64(c.c*c.k*c.k))
						for j := range want {
							if d := math.Abs(float64(got[j] - want[j])); !(d <= tol*(1+math.Abs(float64(want[j])))) {
								t.Fatalf("%s/packed=%v: y[%d] = %v, want %v", name, packed, j, got[j], want[j])
							}
						}
						for j := len(want); j < len(got); j++ {
							if !math.IsNaN(float64(got[j])) {
								t.Fatalf("%s: wrote past the output at %d", name, j)
							}
						}
					}
				}
			}
		}
	}
}

// TestConvPosDeclines checks the convolutions that keep the im2col path.
func TestConvPosDeclines(t *testing.T) {
	type tc struct {
		name   string
		xs, ws []int
		group  int
	}
	for _, c := range []tc{
		{"groups", []int{1, 4, 8, 8}, []int{8, 2, 3, 3}, 2},
		{"channels not a multiple of 8", []int{1, 4, 8, 8}, []int{12, 4, 3, 3}, 1},
		{"many channels", []int{1, 4, 8, 8}, []int{256, 4, 3, 3}, 1},
		{"deep", []int{1, 256, 8, 8}, []int{16, 256, 3, 3}, 1},
		{"3-D", []int{1, 2, 4, 4, 4}, []int{8, 2, 3, 3, 3}, 1},
	} {
		a := convAttrs{spatialAttrs: spatialAttrs{autoPad: "NOTSET"}, group: c.group}
		p, err := a.plan(c.xs, c.ws)
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		if newConvPosPlan(p, nil) != nil {
			t.Errorf("%s: took the position-major path", c.name)
		}
	}
	// A LeakyRelu with a negative slope is not monotone: pooling first
	// would be wrong, so the path declines it.
	a := convAttrs{spatialAttrs: spatialAttrs{autoPad: "NOTSET"}, group: 1}
	p, _ := a.plan([]int{1, 1, 6, 6}, []int{8, 1, 3, 3})
	q := newConv32PlanPos(p, nil, true)
	y := make([]float32, p.n*p.m*p.outSize)
	if q.runPos(nil, 1, make([]float32, 36), make([]float32, 72), nil, nil, nil, y, &asm.ConvAct{Leaky: true, Alpha: -1}) {
		t.Error("took a LeakyRelu with a negative slope")
	}
}

// BenchmarkConvPosLayers times the layers of the MNIST and CIFAR CNNs
// (with their fused ReLU and max pool) on the position-major path and on
// the im2col path; cpu-ms/op is the calling thread's CPU time per run.
func BenchmarkConvPosLayers(b *testing.B) {
	type tc struct {
		name                  string
		n, c, h, w, m, k, pad int
		pool                  bool
	}
	cases := []tc{
		{"mnist1-b64", 64, 1, 28, 28, 32, 3, 0, true},
		{"mnist2-b64", 64, 32, 13, 13, 64, 3, 0, true},
		{"mnist3-b64", 64, 64, 5, 5, 64, 3, 0, false},
		{"mnist2-b1", 1, 32, 13, 13, 64, 3, 0, true},
		{"cifar1", 1, 3, 32, 32, 32, 3, 1, false},
		{"cifar2", 1, 32, 32, 32, 32, 3, 0, true},
		{"cifar3", 1, 32, 15, 15, 64, 3, 1, false},
		{"cifar4", 1, 64, 15, 15, 64, 3, 0, true},
		{"rn-3x3-28", 1, 128, 28, 28, 128, 3, 1, false},
		{"rn-1x1-28", 1, 256, 28, 28, 128, 1, 0, false},
		{"mb-1x1-14-384-64", 1, 384, 14, 14, 64, 1, 0, false},
		{"mb-1x1-14-576-96", 1, 576, 14, 14, 96, 1, 0, false},
		{"mb-1x1-28-192-32", 1, 192, 28, 28, 32, 1, 0, false},
		{"mb-1x1-7-960-160", 1, 960, 7, 7, 160, 1, 0, false},
	}
	for _, c := range cases {
		for _, pos := range []bool{false, true} {
			b.Run(fmt.Sprintf("%s/pos=%v", c.name, pos), func(b *testing.B) {
				a := convAttrs{spatialAttrs: spatialAttrs{pads: []int{c.pad, c.pad, c.pad, c.pad}, autoPad: "NOTSET"}, group: 1}
				p, err := a.plan([]int{c.n, c.c, c.h, c.w}, []int{c.m, c.c, c.k, c.k})
				if err != nil {
					b.Fatal(err)
				}
				var pp *poolPlan
				ysize := p.n * p.m * p.outSize
				if c.pool {
					pa := &poolAttrs{kind: poolMax, spatialAttrs: spatialAttrs{kernel: []int{2, 2}, strides: []int{2, 2}, autoPad: "NOTSET"}}
					if pp, err = pa.plan(p.outShape()); err != nil {
						b.Fatal(err)
					}
					ysize = pp.nc * pp.outSize
				}
				r := rand.New(rand.NewSource(1))
				x := randSlice32(r, c.n*c.c*c.h*c.w)
				w := randSlice32(r, c.m*c.c*c.k*c.k)
				bias := randSlice32(r, c.m)
				y := make([]float32, ysize)
				act := asm.ConvAct{Lo: 0, Hi: float32(math.Inf(1))}
				q := newConv32PlanPos(p, pp, pos)
				if pos && q.pos == nil {
					b.Skip("no position-major plan")
				}
				wp := packConvPosWeights(w, c.m, c.c*c.k*c.k, nil)
				if pp != nil {
					pp.threads = 1
				}
				runtime.LockOSThread()
				defer runtime.UnlockOSThread()
				cpu0 := threadCPU()
				b.ResetTimer()
				for i := 0; i < b.N; i++ {
					if pos {
						q.runPos(nil, 1, x, w, wp, bias, nil, y, &act)
					} else {
						q.run(nil, 1, x, w, bias, nil, y, &act)
					}
				}
				b.ReportMetric(float64((threadCPU()-cpu0).Microseconds())/1e3/float64(b.N), "cpu-ms/op")
			})
		}
	}
}

// TestConvPos1D compares the position-major path on 1-D convolutions
// (padded, strided, dilated) with the generic im2col path.
func TestConvPos1D(t *testing.T) {
	r := rand.New(rand.NewSource(9))
	for _, c := range []struct {
		xs, ws      []int
		s, pad, dil int
	}{
		{[]int{2, 3, 40}, []int{8, 3, 5}, 2, 2, 2},
		{[]int{5, 4, 17}, []int{16, 4, 3}, 1, 1, 1},
		{[]int{1, 1, 9}, []int{24, 1, 2}, 1, 0, 1},
	} {
		a := convAttrs{spatialAttrs: spatialAttrs{strides: []int{c.s}, pads: []int{c.pad, c.pad}, dilations: []int{c.dil}, autoPad: "NOTSET"}, group: 1}
		p, err := a.plan(c.xs, c.ws)
		if err != nil {
			t.Fatal(err)
		}
		x, w, bias := randSlice32(r, prod(c.xs)), randSlice32(r, prod(c.ws)), randSlice32(r, c.ws[0])
		want := make([]float32, p.n*p.m*p.outSize)
		convRun(nil, 1, p, x, w, bias, want, nil)
		q := newConv32PlanPos(p, nil, true)
		got := make([]float32, len(want))
		none := asm.ConvActNone()
		if !q.runPos(nil, 1, x, w, nil, bias, nil, got, &none) {
			t.Fatalf("%v: the position-major path declined", c)
		}
		for i := range want {
			if d := math.Abs(float64(got[i] - want[i])); d > 1e-4*(1+math.Abs(float64(want[i]))) {
				t.Fatalf("%v: y[%d] = %v, want %v", c, i, got[i], want[i])
			}
		}
	}
}
