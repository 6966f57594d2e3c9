package ops

import (
	"fmt"
	"math"
	"math/rand"
	"runtime"
	"testing"

	"github.com/onyxrt/onyx/ops/asm"
)

// TestConvPosChunks compares the position-major path on large planes of
// few input channels, whose positions are cut into chunks (the first
// convolutions of image CNNs), with the direct definition: strides,
// symmetric and asymmetric (TF "SAME") padding, none, output channels
// that are not a multiple of a panel, a short last chunk, batches, one
// and two threads, and input and output slices that start off a vector
// boundary.
func TestConvPosChunks(t *testing.T) {
	type tc struct {
		n, c, h, w, m, k, s int
		pads                []int // top, left, bottom, right
	}
	cases := []tc{
		{1, 3, 128, 128, 16, 3, 2, []int{0, 0, 1, 1}}, // Keras MobileNetV2 0.5 128
		{1, 3, 224, 224, 32, 3, 2, []int{1, 1, 1, 1}}, // torchvision MobileNetV2
		{3, 3, 70, 90, 24, 3, 1, []int{1, 1, 1, 1}},
		{2, 2, 141, 161, 8, 3, 2, []int{0, 0, 0, 0}},
		{1, 1, 50, 53, 40, 5, 1, []int{2, 1, 2, 3}},
		{2, 3, 95, 97, 32, 3, 2, []int{0, 1, 1, 0}},
		{1, 3, 200, 203, 16, 2, 3, []int{1, 1, 1, 1}}, // rows that no output reads
	}
	acts := []asm.ConvAct{asm.ConvActNone(), {Lo: 0, Hi: 6}}
	r := rand.New(rand.NewSource(11))
	for i, c := range cases {
		a := convAttrs{spatialAttrs: spatialAttrs{
			strides: []int{c.s, c.s}, dilations: []int{1, 1}, pads: c.pads, autoPad: "NOTSET",
		}, group: 1}
		p, err := a.plan([]int{c.n, c.c, c.h, c.w}, []int{c.m, c.c, c.k, c.k})
		if err != nil {
			t.Fatalf("%+v: %v", c, err)
		}
		q := newConv32PlanPos(p, nil, true)
		if q.pos == nil || q.pos.chunks < 2 {
			t.Fatalf("%+v: no chunked position-major plan", c)
		}
		xBuf := randSlice32(r, c.n*c.c*c.h*c.w+1)
		x := xBuf[1:]
		w := randSlice32(r, c.m*c.c*c.k*c.k)
		bias := randSlice32(r, c.m)
		for ai, act := range acts {
			for _, threads := range []int{1, 2} {
				for _, withBias := range []bool{false, true} {
					name := fmt.Sprintf("%+v/act=%d/threads=%d/bias=%v", c, ai, threads, withBias)
					var b []float32
					if withBias {
						b = bias
					}
					want := convNaive32(p, x, w, b, &act)
					got := make([]float32, len(want)+7)
					for j := range got {
						got[j] = float32(math.NaN())
					}
					y := got[3 : 3+len(want)]
					var wp []float32
					if (i+ai)%2 == 0 {
						wp = packConvPosWeights(w, c.m, c.c*c.k*c.k, nil)
					}
					wk := NewWorkers(threads - 1)
					ok := q.runPos(wk, threads, x, w, wp, b, nil, y, &act)
					wk.Close()
					if !ok {
						t.Fatalf("%s: the position-major path declined", name)
					}
					tol := 1e-4 * math.Sqrt(float64(c.c*c.k*c.k))
					for j := range want {
						if d := math.Abs(float64(y[j] - want[j])); !(d <= tol*(1+math.Abs(float64(want[j])))) {
							t.Fatalf("%s: y[%d] = %v, want %v", name, j, y[j], want[j])
						}
					}
					for j := range got {
						if (j < 3 || j >= 3+len(want)) && !math.IsNaN(float64(got[j])) {
							t.Fatalf("%s: wrote outside the output at %d", name, j-3)
						}
					}
				}
			}
		}
	}
}

// TestConvPosLargePlaneDeclines checks the large-plane convolutions that
// keep the im2col path: deep ones, 1×1 ones and ones with a fused pool.
func TestConvPosLargePlaneDeclines(t *testing.T) {
	a := convAttrs{spatialAttrs: spatialAttrs{autoPad: "NOTSET"}, group: 1}
	for _, c := range []struct {
		name   string
		xs, ws []int
		pool   bool
	}{
		{"deep", []int{1, 8, 64, 64}, []int{16, 8, 3, 3}, false},
		{"1x1", []int{2, 3, 64, 64}, []int{16, 3, 1, 1}, false},
		{"pool", []int{1, 3, 64, 64}, []int{16, 3, 3, 3}, true},
	} {
		p, err := a.plan(c.xs, c.ws)
		if err != nil {
			t.Fatal(err)
		}
		var pp *poolPlan
		if c.pool {
			pa := &poolAttrs{kind: poolMax, spatialAttrs: spatialAttrs{kernel: []int{2, 2}, strides: []int{2, 2}, autoPad: "NOTSET"}}
			if pp, err = pa.plan(p.outShape()); err != nil {
				t.Fatal(err)
			}
		}
		if newConvPosPlan(p, pp) != nil {
			t.Errorf("%s: took the position-major path", c.name)
		}
	}
}

// BenchmarkConvFirst times the first convolutions of the MobileNets
// (3×3, stride 2, RGB input, ReLU6) on the position-major path and on the
// im2col path; cpu-ms/op is the calling thread's CPU time per run.
func BenchmarkConvFirst(b *testing.B) {
	for _, c := range []struct {
		name string
		h, m int
		pads []int
	}{
		{"keras-mnv2-0.5-128", 128, 16, []int{0, 0, 1, 1}},
		{"tv-mnv2-224", 224, 32, []int{1, 1, 1, 1}},
	} {
		for _, pos := range []bool{false, true} {
			b.Run(fmt.Sprintf("%s/pos=%v", c.name, pos), func(b *testing.B) {
				a := convAttrs{spatialAttrs: spatialAttrs{strides: []int{2, 2}, pads: c.pads, autoPad: "NOTSET"}, group: 1}
				p, err := a.plan([]int{1, 3, c.h, c.h}, []int{c.m, 3, 3, 3})
				if err != nil {
					b.Fatal(err)
				}
				r := rand.New(rand.NewSource(1))
				x := randSlice32(r, 3*c.h*c.h)
				w := randSlice32(r, c.m*27)
				bias := randSlice32(r, c.m)
				y := make([]float32, p.m*p.outSize)
				act := asm.ConvAct{Lo: 0, Hi: 6}
				q := newConv32PlanPos(p, nil, pos)
				if pos && q.pos == nil {
					b.Skip("no position-major plan")
				}
				wp := packConvPosWeights(w, c.m, 27, nil)
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

// TestConvPosChunks1D compares the chunked position-major path on long
// 1-D convolutions of few channels with the generic im2col path.
func TestConvPosChunks1D(t *testing.T) {
	r := rand.New(rand.NewSource(13))
	for _, c := range []struct {
		xs, ws      []int
		s, pad, dil int
	}{
		{[]int{2, 1, 5003}, []int{16, 1, 9}, 2, 4, 1},
		{[]int{1, 3, 7001}, []int{8, 3, 5}, 1, 2, 2},
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
		if q.pos == nil || q.pos.chunks < 2 {
			t.Fatalf("%v: no chunked position-major plan", c)
		}
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
