package ops

import (
	"fmt"
	"math"
	"math/rand"
	"runtime"
	"testing"
	"time"

	"github.com/onyxrt/onyx/ops/asm"
	"github.com/onyxrt/onyx/tensor"
)

// dwBlockCase is an inverted residual block: cin channels of h×w,
// expanded to e (0: no expand convolution), a depthwise convolution of
// stride s with pads (top, left, bottom, right), projected to cout.
type dwBlockCase struct {
	n, cin, h, w, e, s int
	pads               [4]int
	cout               int
	sum                bool
}

func (c dwBlockCase) String() string {
	return fmt.Sprintf("n%d_c%d_%dx%d_e%d_s%d_p%v_o%d_sum%v", c.n, c.cin, c.h, c.w, c.e, c.s, c.pads, c.cout, c.sum)
}

// dwBlockAttrs are the FusedDwBlock attributes of c: ReLU6 after the
// expand and depthwise convolutions, none (or ReLU with a summand)
// after the project one.
func (c dwBlockCase) attrs() []*Attr {
	ch := c.e
	if ch == 0 {
		ch = c.cin
	}
	p := c.pads
	attrs := []*Attr{
		StringAttr("expand_activation", "Clip"), FloatAttr("expand_min", 0), FloatAttr("expand_max", 6),
		StringAttr("dw_activation", "Clip"), FloatAttr("dw_min", 0), FloatAttr("dw_max", 6),
		{Name: "dw_group", Type: AttrInt, Int: int64(ch)},
		{Name: "dw_strides", Type: AttrInts, Ints: []int64{int64(c.s), int64(c.s)}},
		{Name: "dw_pads", Type: AttrInts, Ints: []int64{int64(p[0]), int64(p[1]), int64(p[2]), int64(p[3])}},
		{Name: "dw_kernel_shape", Type: AttrInts, Ints: []int64{3, 3}},
	}
	if c.sum {
		attrs = append(attrs, StringAttr("project_activation", "Relu"))
	}
	return attrs
}

// dwBlockInputs returns random inputs X, We, Be, Wd, Bd, Wp, Bp, Z.
func (c dwBlockCase) inputs(r *rand.Rand) []*tensor.Tensor {
	ch := c.e
	if ch == 0 {
		ch = c.cin
	}
	mk := func(scale float64, shape ...int) *tensor.Tensor {
		v := make([]float32, prod(shape))
		for i := range v {
			v[i] = float32(r.NormFloat64() * scale)
		}
		return tensor.From(shape, v)
	}
	in := make([]*tensor.Tensor, 8)
	in[0] = mk(1, c.n, c.cin, c.h, c.w)
	if c.e > 0 {
		in[1], in[2] = mk(1/math.Sqrt(float64(c.cin)), c.e, c.cin, 1, 1), mk(1, c.e)
	}
	in[3], in[4] = mk(0.4, ch, 1, 3, 3), mk(1, ch)
	in[5], in[6] = mk(1/math.Sqrt(float64(ch)), c.cout, ch, 1, 1), mk(1, c.cout)
	if c.sum {
		oh := (c.h+c.pads[0]+c.pads[2]-3)/c.s + 1
		ow := (c.w+c.pads[1]+c.pads[3]-3)/c.s + 1
		in[7] = mk(1, c.n, c.cout, oh, ow)
	}
	return in
}

// dwBlockNaive computes the block with the naive convolution.
func dwBlockNaive(t *testing.T, c dwBlockCase, in []*tensor.Tensor) []float32 {
	t.Helper()
	relu6 := asm.ConvAct{Lo: 0, Hi: 6}
	x, xs := in[0].Float32s(), in[0].Shape()
	one := convAttrs{spatialAttrs: spatialAttrs{autoPad: "NOTSET"}, group: 1}
	if c.e > 0 {
		p, err := one.plan(xs, in[1].Shape())
		if err != nil {
			t.Fatal(err)
		}
		x, xs = convNaive32(p, x, in[1].Float32s(), in[2].Float32s(), &relu6), p.outShape()
	}
	pd := c.pads
	dw := convAttrs{spatialAttrs: spatialAttrs{strides: []int{c.s, c.s}, pads: pd[:], autoPad: "NOTSET"}, group: xs[1]}
	p, err := dw.plan(xs, in[3].Shape())
	if err != nil {
		t.Fatal(err)
	}
	x, xs = convNaive32(p, x, in[3].Float32s(), in[4].Float32s(), &relu6), p.outShape()
	if p, err = one.plan(xs, in[5].Shape()); err != nil {
		t.Fatal(err)
	}
	none := asm.ConvActNone()
	y := convNaive32(p, x, in[5].Float32s(), in[6].Float32s(), &none)
	if c.sum {
		for i, z := range in[7].Float32s() {
			y[i] = max(0, y[i]+z)
		}
	}
	return y
}

func dwBlockBuild(t testing.TB, c dwBlockCase) Kernel {
	return dwBlockBuildTuned(t, c, defaultDwBlockTuning())
}

// dwBlockBuildTuned builds the FusedDwBlock of c with the tuning tune.
func dwBlockBuildTuned(t testing.TB, c dwBlockCase, tune dwBlockTuning) Kernel {
	def, err := Default().Lookup(FusedDomain, "FusedDwBlock", 1)
	if err != nil {
		t.Fatal(err)
	}
	b := &Builder{OpType: "FusedDwBlock", Domain: FusedDomain, Opset: 1, NumInputs: 8, NumOutputs: 1,
		InputPresent:  []bool{true, c.e > 0, c.e > 0, true, true, true, true, c.sum},
		OutputPresent: []bool{true}, Attrs: map[string]*Attr{}}
	for _, a := range c.attrs() {
		b.Attrs[a.Name] = a
	}
	k, err := def.Build(b)
	if err != nil {
		t.Fatal(err)
	}
	k.(*dwBlockKernel).tune = tune
	return k
}

// TestDwBlock checks FusedDwBlock, banded (with several band sizes) and
// apart, with one and two threads, against the naive convolutions.
func TestDwBlock(t *testing.T) {
	cases := []dwBlockCase{
		{1, 8, 20, 20, 24, 1, [4]int{1, 1, 1, 1}, 8, true},
		{1, 8, 21, 19, 24, 2, [4]int{1, 1, 1, 1}, 12, false},
		{2, 6, 17, 23, 18, 1, [4]int{1, 1, 1, 1}, 5, false},
		{3, 6, 15, 15, 12, 2, [4]int{0, 0, 1, 1}, 7, true}, // Keras's stride-2 padding
		{1, 16, 9, 9, 0, 1, [4]int{1, 1, 1, 1}, 8, false},  // no expand
		{1, 16, 14, 14, 0, 2, [4]int{1, 1, 1, 1}, 8, true},
		{2, 5, 7, 7, 30, 1, [4]int{1, 1, 1, 1}, 9, true},
		{1, 4, 12, 40, 16, 2, [4]int{1, 1, 1, 1}, 6, false},
		{1, 4, 10, 11, 16, 1, [4]int{0, 0, 0, 0}, 6, false},
		{1, 3, 8, 9, 10, 2, [4]int{1, 1, 0, 0}, 6, false},
		{1, 4, 3, 3, 8, 1, [4]int{1, 1, 1, 1}, 4, false},
		{1, 4, 1, 5, 8, 2, [4]int{1, 1, 1, 1}, 4, true},
		{1, 6, 9, 7, 12, 1, [4]int{1, 1, 1, 1}, 5, true}, // odd rows, split in row ranges
		{1, 6, 13, 6, 12, 2, [4]int{0, 0, 1, 1}, 5, false},
		// Stride 2 on deinterleaved rows (deint): a tail of each row, rows
		// of fewer than eight outputs, no bottom or right padding.
		{2, 5, 11, 18, 16, 2, [4]int{1, 1, 1, 1}, 7, true},
		{1, 3, 9, 6, 8, 2, [4]int{1, 1, 1, 1}, 4, false},
		{1, 8, 16, 34, 24, 2, [4]int{1, 1, 0, 1}, 8, false},
		{1, 4, 10, 16, 8, 2, [4]int{1, 1, 1, 0}, 5, true},
	}
	t.Parallel()
	r := rand.New(rand.NewSource(5))
	for _, c := range cases {
		in := c.inputs(r)
		want := dwBlockNaive(t, c, in)
		for _, mode := range []string{"apart", "tiny", "small", "default", "whole", "unphased"} {
			for _, threads := range []int{1, 2, 3} {
				// Bands whatever the size; split whatever the size.
				tune := dwBlockTuning{minBytes: 0, budget: 1 << 20, apart: mode == "apart", minWork: 1, phasedMax: 6 << 20}
				if threads != 2 {
					// Deinterleaved rows whatever the width (at two
					// threads, the default).
					tune.deintMinW = 0
				} else {
					tune.deintMinW = defaultDwBlockTuning().deintMinW
				}
				switch mode {
				case "unphased":
					// One band, run apart on several threads.
					tune.minBytes, tune.phasedMax = 1<<30, 0
				case "whole":
					// One band per image: phased on several threads
					// when there are fewer images.
					tune.minBytes = 1 << 30
				case "tiny":
					tune.budget = 1
				case "small":
					tune.budget = 4 * c.e * c.w * 6
				}
				k := dwBlockBuildTuned(t, c, tune)
				wk := NewWorkers(threads - 1)
				rc := &RunContext{Threads: threads, Workers: wk}
				out, err := k.Run(rc, in)
				wk.Close()
				if err != nil {
					t.Fatalf("%v %s: %v", c, mode, err)
				}
				s := k.(*dwBlockKernel).plans.latest()
				if s.banded != (!tune.apart && c.e > 0) {
					t.Fatalf("%v %s: banded %v", c, mode, s.banded)
				}
				if want := s.banded && c.s == 2 && c.pads[1] == 1 && c.w%2 == 0 && c.w >= tune.deintMinW; s.deint != want {
					t.Fatalf("%v %s: deint %v, want %v", c, mode, s.deint, want)
				}
				got := out[0].Float32s()
				if len(got) != len(want) {
					t.Fatalf("%v %s: %d outputs, want %d", c, mode, len(got), len(want))
				}
				for i := range want {
					if d := math.Abs(float64(got[i] - want[i])); d > 1e-4*(1+math.Abs(float64(want[i]))) || math.IsNaN(float64(got[i])) {
						t.Fatalf("%v %s threads %d: y[%d] = %v, want %v", c, mode, threads, i, got[i], want[i])
					}
				}
			}
		}
	}
}

// BenchmarkDwBlock times MobileNetV2's blocks banded and apart.
func BenchmarkDwBlock(b *testing.B) {
	cases := map[string]dwBlockCase{
		"b1-112":    {1, 32, 112, 112, 0, 1, [4]int{1, 1, 1, 1}, 16, false},
		"b2-112s2":  {1, 16, 112, 112, 96, 2, [4]int{1, 1, 1, 1}, 24, false},
		"b3-56":     {1, 24, 56, 56, 144, 1, [4]int{1, 1, 1, 1}, 24, true},
		"b4-56s2":   {1, 24, 56, 56, 144, 2, [4]int{1, 1, 1, 1}, 32, false},
		"b5-28":     {1, 32, 28, 28, 192, 1, [4]int{1, 1, 1, 1}, 32, true},
		"b8-14":     {1, 64, 14, 14, 384, 1, [4]int{1, 1, 1, 1}, 64, true},
		"b12-14":    {1, 96, 14, 14, 576, 1, [4]int{1, 1, 1, 1}, 96, true},
		"b15-7":     {1, 160, 7, 7, 960, 1, [4]int{1, 1, 1, 1}, 160, true},
		"b17-7-320": {1, 160, 7, 7, 960, 1, [4]int{1, 1, 1, 1}, 320, false},
		// The Keras MobileNetV2 0.5 at 128×128.
		"k2-64s2": {1, 8, 64, 64, 48, 2, [4]int{0, 0, 1, 1}, 16, false},
		"k3-32":   {1, 16, 32, 32, 80, 1, [4]int{1, 1, 1, 1}, 16, true},
		"k5-16":   {1, 16, 16, 16, 96, 1, [4]int{1, 1, 1, 1}, 16, true},
		"k8-8":    {1, 32, 8, 8, 192, 1, [4]int{1, 1, 1, 1}, 32, true},
		"k15-4":   {1, 80, 4, 4, 480, 1, [4]int{1, 1, 1, 1}, 80, true},
	}
	r := rand.New(rand.NewSource(5))
	for _, name := range []string{"b1-112", "b2-112s2", "b3-56", "b4-56s2", "b5-28", "b8-14", "b12-14", "b15-7", "b17-7-320", "k2-64s2", "k3-32", "k5-16", "k8-8", "k15-4"} {
		c := cases[name]
		in := c.inputs(r)
		{
			b.Run(name, func(b *testing.B) {
				k := dwBlockBuild(b, c).(*dwBlockKernel)
				rc := &RunContext{Threads: 1}
				if _, err := k.Run(rc, in); err != nil {
					b.Fatal(err)
				}
				s := k.plans.latest()
				var acts [3]asm.ConvAct
				for i, a := range k.act {
					acts[i] = asm.ConvActNone()
					if a != nil {
						acts[i] = a.a32
					}
				}
				f := optData[float32]
				x, we, be, wd, bd, wp, bp, z := f(in[0]), f(in[1]), f(in[2]), f(in[3]), f(in[4]), f(in[5]), f(in[6]), f(in[7])
				y := make([]float32, prod(s.outShape))
				var t0, t1 []float32
				if s.p[0] != nil {
					t0 = make([]float32, prod(s.mid[0]))
				}
				t1 = make([]float32, prod(s.mid[1]))
				buf := make([]float32, s.scratchLen())
				runtime.LockOSThread()
				defer runtime.UnlockOSThread()
				var tApart, tBand time.Duration
				b.ResetTimer()
				for i := 0; i < b.N; i++ {
					c0 := threadCPU()
					src := x
					if t0 != nil {
						s.q[0].run(nil, 1, x, we, be, nil, t0, &acts[0])
						src = t0
					}
					s.q[1].run(nil, 1, src, wd, bd, nil, t1, &acts[1])
					s.q[2].run(nil, 1, t1, wp, bp, z, y, &acts[2])
					c1 := threadCPU()
					if s.banded {
						s.run(nil, 1, 1, x, we, be, wd, bd, wp, bp, z, y, &acts, buf)
					}
					c2 := threadCPU()
					tApart += c1 - c0
					tBand += c2 - c1
				}
				b.ReportMetric(float64(tApart.Microseconds())/float64(b.N), "apart-us")
				b.ReportMetric(float64(tBand.Microseconds())/float64(b.N), "band-us")
			})
		}
	}
}

// TestDwBlockBroadcastSum checks a summand Z that broadcasts (run as
// Add after the project convolution, then its activation).
func TestDwBlockBroadcastSum(t *testing.T) {
	t.Parallel()
	c := dwBlockCase{2, 4, 9, 8, 12, 2, [4]int{1, 1, 1, 1}, 5, true}
	r := rand.New(rand.NewSource(9))
	in := c.inputs(r)
	z := in[7].Float32s()
	zb := tensor.From([]int{c.cout, 1, 1}, randSlice32(r, c.cout))
	// The naive block with Z = 0, then the broadcast sum and ReLU.
	clear(z)
	want := dwBlockNaive(t, dwBlockCase{c.n, c.cin, c.h, c.w, c.e, c.s, c.pads, c.cout, false}, in)
	plane := len(want) / (c.n * c.cout)
	for i := range want {
		want[i] = max(0, want[i]+zb.Float32s()[(i/plane)%c.cout])
	}
	in[7] = zb
	for _, threads := range []int{1, 2} {
		wk := NewWorkers(threads - 1)
		out, err := dwBlockBuild(t, c).Run(&RunContext{Threads: threads, Workers: wk}, in)
		wk.Close()
		if err != nil {
			t.Fatal(err)
		}
		got := out[0].Float32s()
		if len(got) != len(want) {
			t.Fatalf("%d outputs, want %d", len(got), len(want))
		}
		for i := range want {
			if d := math.Abs(float64(got[i] - want[i])); d > 1e-4*(1+math.Abs(float64(want[i]))) {
				t.Fatalf("threads %d: y[%d] = %v, want %v", threads, i, got[i], want[i])
			}
		}
	}
}

// BenchmarkDwBlockThreads times whole FusedDwBlock runs (wall clock) on
// one and two threads, as the kernel chooses ("band": one band, phased
// at two threads below dwBlockTuning.phasedMax) and apart, on the Keras
// MobileNetV2 0.5 blocks and a few of MobileNetV2's.
func BenchmarkDwBlockThreads(b *testing.B) {
	cases := []struct {
		name string
		c    dwBlockCase
	}{
		{"k2-64s2", dwBlockCase{1, 8, 64, 64, 48, 2, [4]int{0, 0, 1, 1}, 16, false}},
		{"k3-32", dwBlockCase{1, 16, 32, 32, 80, 1, [4]int{1, 1, 1, 1}, 16, true}},
		{"k5-16", dwBlockCase{1, 16, 16, 16, 96, 1, [4]int{1, 1, 1, 1}, 16, true}},
		{"k8-8", dwBlockCase{1, 32, 8, 8, 192, 1, [4]int{1, 1, 1, 1}, 32, true}},
		{"k15-4", dwBlockCase{1, 80, 4, 4, 480, 1, [4]int{1, 1, 1, 1}, 80, true}},
		{"b2-112s2", dwBlockCase{1, 16, 112, 112, 96, 2, [4]int{1, 1, 1, 1}, 24, false}},
		{"b5-28", dwBlockCase{1, 32, 28, 28, 192, 1, [4]int{1, 1, 1, 1}, 32, true}},
		{"b12-14", dwBlockCase{1, 96, 14, 14, 576, 1, [4]int{1, 1, 1, 1}, 96, true}},
		{"b15-7", dwBlockCase{1, 160, 7, 7, 960, 1, [4]int{1, 1, 1, 1}, 160, true}},
	}
	r := rand.New(rand.NewSource(5))
	for _, tc := range cases {
		in := tc.c.inputs(r)
		for _, mode := range []string{"apart", "band"} {
			for _, threads := range []int{1, 2} {
				b.Run(fmt.Sprintf("%s/%s/t%d", tc.name, mode, threads), func(b *testing.B) {
					tune := defaultDwBlockTuning()
					tune.apart = mode == "apart"
					k := dwBlockBuildTuned(b, tc.c, tune)
					wk := NewWorkers(threads - 1)
					defer wk.Close()
					rc := &RunContext{Threads: threads, Workers: wk}
					for i := 0; i < b.N; i++ {
						if _, err := k.Run(rc, in); err != nil {
							b.Fatal(err)
						}
					}
				})
			}
		}
	}
}

// BenchmarkDwBlockPhases reports the CPU time of a whole block on one
// thread and the critical path of its two-thread phased split (the
// longer of the two expand pieces plus the longer of the two project
// pieces, run one after the other on one thread), free of the machine's
// load.
func BenchmarkDwBlockPhases(b *testing.B) {
	cases := []struct {
		name string
		c    dwBlockCase
	}{
		{"k2-64s2", dwBlockCase{1, 8, 64, 64, 48, 2, [4]int{0, 0, 1, 1}, 16, false}},
		{"k3-32", dwBlockCase{1, 16, 32, 32, 80, 1, [4]int{1, 1, 1, 1}, 16, true}},
		{"k4-32s2", dwBlockCase{1, 16, 32, 32, 96, 2, [4]int{0, 0, 1, 1}, 16, false}},
		{"k5-16", dwBlockCase{1, 16, 16, 16, 96, 1, [4]int{1, 1, 1, 1}, 16, true}},
		{"k8-8", dwBlockCase{1, 32, 8, 8, 192, 1, [4]int{1, 1, 1, 1}, 32, true}},
		{"k12-8", dwBlockCase{1, 48, 8, 8, 288, 1, [4]int{1, 1, 1, 1}, 48, true}},
		{"k15-4", dwBlockCase{1, 80, 4, 4, 480, 1, [4]int{1, 1, 1, 1}, 80, true}},
		{"b5-28", dwBlockCase{1, 32, 28, 28, 192, 1, [4]int{1, 1, 1, 1}, 32, true}},
		{"b12-14", dwBlockCase{1, 96, 14, 14, 576, 1, [4]int{1, 1, 1, 1}, 96, true}},
		{"b15-7", dwBlockCase{1, 160, 7, 7, 960, 1, [4]int{1, 1, 1, 1}, 160, true}},
	}
	r := rand.New(rand.NewSource(5))
	for _, tc := range cases {
		in := tc.c.inputs(r)
		b.Run(tc.name, func(b *testing.B) {
			k := dwBlockBuild(b, tc.c).(*dwBlockKernel)
			if _, err := k.Run(&RunContext{Threads: 1}, in); err != nil {
				b.Fatal(err)
			}
			s := k.plans.latest()
			f := optData[float32]
			x, we, be, wd, bd, wp, bp, z := f(in[0]), f(in[1]), f(in[2]), f(in[3]), f(in[4]), f(in[5]), f(in[6]), f(in[7])
			y := make([]float32, prod(s.outShape))
			buf := make([]float32, max(s.scratchLen(), s.phasedLen(2)))
			hw, ohw := s.h*s.w, s.oh*s.ow
			j := dwPhaseJob{s: s, x: x, we: we, be: be, wd: wd, bd: bd, wp: wp, bp: bp, z: z, y: y, acts: &k.acts, parts: 2,
				e: buf[:s.e*hw], d: buf[s.e*hw : s.e*hw+s.e*ohw], dws: buf[s.e*hw+s.e*ohw:]}
			runtime.LockOSThread()
			defer runtime.UnlockOSThread()
			var tAll, tPath time.Duration
			for i := 0; i < b.N; i++ {
				c0 := threadCPU()
				s.runItems(x, we, be, wd, bd, wp, bp, z, y, &k.acts, 1, 0, 1, buf[:s.scratchLen()])
				c1 := threadCPU()
				j.expand(0, 1)
				c2 := threadCPU()
				j.expand(1, 2)
				c3 := threadCPU()
				j.project(0, 1)
				c4 := threadCPU()
				j.project(1, 2)
				c5 := threadCPU()
				tAll += c1 - c0
				tPath += max(c2-c1, c3-c2) + max(c4-c3, c5-c4)
			}
			b.ReportMetric(float64(tAll.Nanoseconds())/1e3/float64(b.N), "whole-us")
			b.ReportMetric(float64(tPath.Nanoseconds())/1e3/float64(b.N), "path-us")
		})
	}
}
