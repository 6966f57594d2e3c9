package ops

import (
	"fmt"
	"math"
	"math/rand"
	"testing"

	"github.com/onyxrt/onyx/ops/asm"
	"github.com/onyxrt/onyx/tensor"
)

// convFusedCase is one convolution with a summand and/or a max pool.
type convFusedCase struct {
	n, c, h, w, m, k, s, pad, group int
	pk, ps, ppad                    int // pool kernel, stride, pad (pk 0: no pool)
	ceil                            bool
}

var convFusedCases = []convFusedCase{
	{1, 1, 28, 28, 32, 3, 1, 0, 1, 2, 2, 0, false},   // MNIST conv1 + pool
	{3, 32, 13, 13, 64, 3, 1, 0, 1, 2, 2, 0, false},  // MNIST conv2 (odd plane: a row left over)
	{5, 64, 5, 5, 16, 3, 1, 0, 1, 2, 2, 0, false},    // stacked images + pool
	{2, 64, 5, 5, 16, 3, 1, 0, 1, 2, 2, 0, true},     // stacked, ceil mode
	{1, 3, 32, 32, 32, 3, 1, 1, 1, 2, 2, 0, false},   // CIFAR conv1
	{1, 1, 20, 80, 32, 3, 1, 1, 1, 2, 2, 0, false},   // speech conv1
	{1, 3, 23, 23, 8, 7, 2, 3, 1, 3, 2, 1, false},    // ResNet stem: overlapping, padded pool
	{2, 3, 17, 19, 5, 3, 2, 1, 1, 3, 2, 1, true},     // overlapping pool, ceil mode
	{2, 16, 9, 9, 24, 1, 1, 0, 1, 0, 0, 0, false},    // direct 1×1 + sum
	{3, 16, 3, 3, 24, 1, 1, 0, 1, 0, 0, 0, false},    // 1×1, stacked + sum
	{1, 16, 10, 10, 24, 1, 2, 0, 1, 0, 0, 0, false},  // strided 1×1 (subsampled) + sum
	{1, 300, 7, 7, 20, 1, 1, 0, 1, 0, 0, 0, false},   // k blocks + sum
	{1, 40, 7, 7, 13, 3, 1, 1, 1, 3, 1, 1, false},    // k = 360, pool stride 1
	{2, 8, 11, 11, 6, 3, 1, 1, 2, 2, 2, 0, false},    // groups + pool
	{2, 5, 15, 15, 5, 3, 1, 1, 5, 2, 2, 0, false},    // depthwise (pooled afterwards)
	{1, 4, 9, 9, 8, 3, 1, 1, 4, 2, 1, 0, false},      // channel multiplier, pool 2 stride 1
	{1, 3, 1, 40, 5, 1, 1, 0, 1, 0, 0, 0, false},     // one row
	{1, 32, 30, 30, 13, 3, 1, 1, 1, 2, 2, 0, false},  // odd channel count
	{1, 64, 34, 34, 200, 3, 1, 0, 1, 2, 2, 0, false}, // a unit too large to pool from scratch
	{1, 32, 9, 9, 64, 3, 1, 1, 1, 4, 4, 0, false},    // window 4: pooled afterwards
	{2, 40, 9, 9, 13, 5, 1, 2, 1, 2, 2, 0, false},    // 5×5, k = 1000: k blocks
	{1, 3, 8, 57, 7, 3, 1, 1, 1, 3, 1, 1, false},     // wide rows, pool stride 1
	{1, 2, 30, 30, 7, 2, 1, 0, 1, 0, 0, 0, false},    // even kernel, sum only
}

// unfusedConv computes pool(act(conv(x) + bias + z)) one operator at a
// time: the float32 convolution, the sum in float32, the activation, and
// the window walk of MaxPool.
func unfusedConv(t *testing.T, p *convPlan, pa *poolAttrs, x, w, bias, z []float32, act *asm.ConvAct) []float32 {
	none := asm.ConvActNone()
	y := make([]float32, p.n*p.m*p.outSize)
	convRun32(nil, 1, p, x, w, bias, y, &none)
	for i, v := range y {
		if z != nil {
			v += z[i]
		}
		if act.Leaky {
			if v < 0 {
				v *= act.Alpha
			}
		} else {
			v = min(max(v, act.Lo), act.Hi)
		}
		y[i] = v
	}
	if pa == nil {
		return y
	}
	pp, err := pa.plan(p.outShape())
	if err != nil {
		t.Fatal(err)
	}
	out := make([]float32, pp.nc*pp.outSize)
	maxPool2D(pp, y, out, make([]int64, len(out)), false, -math.MaxFloat32)
	return out
}

// TestConvRun32Fused checks the fused summand and max pool of the float32
// convolution against the operators run apart (bit for bit on one
// thread), over the
// ways a convolution is split (images stacked or not, columns split in
// bands of pooled rows, rows split, several threads) and the fallbacks
// (depthwise, units too large, windows the vector pool does not take).
func TestConvRun32Fused(t *testing.T) {
	acts := []asm.ConvAct{asm.ConvActNone(), {Lo: 0, Hi: float32(math.Inf(1))}, {Leaky: true, Alpha: 0.2}}
	r := rand.New(rand.NewSource(7))
	for i, c := range convFusedCases {
		a := convAttrs{spatialAttrs: spatialAttrs{
			strides: []int{c.s, c.s}, pads: []int{c.pad, c.pad, c.pad, c.pad}, autoPad: "NOTSET",
		}, group: c.group}
		xs := []int{c.n, c.c, c.h, c.w}
		if c.h == 1 { // 1-D
			a.strides, a.pads = []int{c.s}, []int{c.pad, c.pad}
			xs = []int{c.n, c.c, c.w}
		}
		ws := append([]int{c.m, c.c / c.group}, make([]int, len(xs)-2)...)
		for j := 2; j < len(ws); j++ {
			ws[j] = c.k
		}
		p, err := a.plan(xs, ws)
		if err != nil {
			t.Fatalf("%+v: %v", c, err)
		}
		var pa *poolAttrs
		var pp *poolPlan
		if c.pk > 0 {
			pa = &poolAttrs{kind: poolMax, ceil: c.ceil, spatialAttrs: spatialAttrs{
				kernel: []int{c.pk, c.pk}, strides: []int{c.ps, c.ps}, pads: []int{c.ppad, c.ppad, c.ppad, c.ppad}, autoPad: "NOTSET",
			}}
			if pp, err = pa.plan(p.outShape()); err != nil {
				t.Fatalf("%+v: %v", c, err)
			}
		}
		x := randSlice32(r, prod(xs))
		w := randSlice32(r, prod(ws))
		bias := randSlice32(r, p.m)
		zf := randSlice32(r, p.n*p.m*p.outSize)
		q := newConv32Plan(p, pp)
		for _, threads := range []int{1, 2, 3} {
			for ai, act := range acts {
				for _, withZ := range []bool{false, true} {
					if !withZ && pp == nil {
						continue
					}
					var z []float32
					if withZ {
						z = zf
					}
					b := bias
					if (i+ai)%3 == 0 {
						b = nil
					}
					name := fmt.Sprintf("%+v/threads=%d/act=%d/z=%v/bias=%v", c, threads, ai, withZ, b != nil)
					want := unfusedConv(t, p, pa, x, w, b, z, &act)
					got := make([]float32, len(want)+9)
					for j := range got {
						got[j] = float32(math.NaN())
					}
					wk := NewWorkers(threads - 1)
					q.run(wk, threads, x, w, b, z, got[:len(want)], &act)
					wk.Close()
					// One thread splits the product as the operators apart do:
					// the same values. Splits for more threads may put a column
					// in another kind of tile of the GEMM, whose sums may round
					// differently.
					tol := 0.0
					if threads > 1 {
						tol = 1e-5 * math.Sqrt(float64(p.kSize*c.c/c.group))
					}
					for j := range want {
						if d := math.Abs(float64(got[j] - want[j])); got[j] != want[j] && !(d <= tol*(1+math.Abs(float64(want[j])))) {
							t.Fatalf("%s: y[%d] = %v, want %v", name, j, got[j], want[j])
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

func randSlice32(r *rand.Rand, n int) []float32 {
	s := make([]float32, n)
	for i := range s {
		s[i] = float32(r.NormFloat64())
	}
	return s
}

// fusedConvBuild builds FusedConv with attrs and nIn inputs (input 2
// absent when noBias).
func fusedConvBuild(t *testing.T, op, domain string, attrs []*Attr, nIn int, noBias bool) Kernel {
	t.Helper()
	def, err := Default().Lookup(domain, op, 13)
	if err != nil {
		t.Fatal(err)
	}
	b := &Builder{OpType: op, Domain: domain, Opset: 13, NumInputs: nIn, NumOutputs: 1, OutputPresent: []bool{true}, Attrs: map[string]*Attr{}}
	for i := 0; i < nIn; i++ {
		b.InputPresent = append(b.InputPresent, !(i == 2 && noBias))
	}
	for _, a := range attrs {
		b.Attrs[a.Name] = a
	}
	k, err := def.Build(b)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// TestFusedConvKernel runs the FusedConv operator with a summand, an
// activation and a pool against Conv, Add, Relu and MaxPool run one
// after the other: float32 (fused), a summand that broadcasts, float64
// and float16 (run apart), with one and two threads.
func TestFusedConvKernel(t *testing.T) {
	r := rand.New(rand.NewSource(3))
	type tc struct {
		name   string
		dt     tensor.DType
		xs, ws []int
		zs     []int // nil: no summand
		relu   bool
		pool   []int // kernel = stride; nil: none
		noBias bool
	}
	cases := []tc{
		{"sum relu", tensor.Float32, []int{2, 8, 9, 9}, []int{16, 8, 3, 3}, []int{2, 16, 9, 9}, true, nil, false},
		{"sum", tensor.Float32, []int{1, 8, 7, 7}, []int{12, 8, 1, 1}, []int{1, 12, 9, 9}, false, nil, true},
		{"pool", tensor.Float32, []int{3, 4, 12, 12}, []int{8, 4, 3, 3}, nil, true, []int{2, 2}, false},
		{"sum relu pool", tensor.Float32, []int{2, 4, 11, 11}, []int{6, 4, 3, 3}, []int{2, 6, 11, 11}, true, []int{2, 2}, false},
		{"broadcast sum", tensor.Float32, []int{2, 4, 6, 6}, []int{6, 4, 3, 3}, []int{6, 1, 1}, true, nil, false},
		{"broadcast sum grows", tensor.Float32, []int{1, 4, 6, 6}, []int{6, 4, 3, 3}, []int{3, 6, 6, 6}, true, []int{2, 2}, false},
		{"float64", tensor.Float64, []int{2, 4, 9, 9}, []int{6, 4, 3, 3}, []int{2, 6, 9, 9}, true, []int{2, 2}, false},
		{"float16", tensor.Float16, []int{1, 4, 8, 8}, []int{6, 4, 3, 3}, []int{1, 6, 8, 8}, true, []int{2, 2}, false},
	}
	pads := &Attr{Name: "pads", Type: AttrInts, Ints: []int64{1, 1, 1, 1}}
	for _, c := range cases {
		for _, threads := range []int{1, 2} {
			name := fmt.Sprintf("%s/threads=%d", c.name, threads)
			mk := func(shape []int) *tensor.Tensor {
				v := randSlice32(r, prod(shape))
				tt, err := tensor.From(shape, v).Cast(c.dt)
				if err != nil {
					t.Fatal(err)
				}
				return tt
			}
			X, W, B := mk(c.xs), mk(c.ws), mk([]int{c.ws[0]})
			if c.noBias {
				B = nil
			}
			attrs := []*Attr{pads}
			if c.relu {
				attrs = append(attrs, StringAttr("activation", "Relu"))
			}
			var poolAttrs []*Attr
			if c.pool != nil {
				poolAttrs = []*Attr{
					{Name: "kernel_shape", Type: AttrInts, Ints: []int64{int64(c.pool[0]), int64(c.pool[1])}},
					{Name: "strides", Type: AttrInts, Ints: []int64{int64(c.pool[0]), int64(c.pool[1])}},
				}
				attrs = append(attrs, StringAttr("pool", "MaxPool"))
				for _, a := range poolAttrs {
					pa := *a
					pa.Name = "pool_" + a.Name
					attrs = append(attrs, &pa)
				}
			}
			nIn := 3
			in := []*tensor.Tensor{X, W, B}
			if c.zs != nil {
				nIn = 4
				in = append(in, mk(c.zs))
			}
			wk := NewWorkers(threads - 1)
			rc := &RunContext{Threads: threads, Workers: wk}
			fused := fusedConvBuild(t, "FusedConv", FusedDomain, attrs, nIn, c.noBias)
			out, err := fused.Run(rc, in)
			if err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			got := out[0] // before rc's result storage is reused
			// The operators apart.
			conv := fusedConvBuild(t, "Conv", "", []*Attr{pads}, 3, c.noBias)
			y, err := conv.Run(rc, in[:3])
			if err != nil {
				t.Fatal(err)
			}
			want := y[0]
			if c.zs != nil {
				if want, err = opAdd.apply(rc, want, in[3]); err != nil {
					t.Fatal(err)
				}
			}
			if c.relu {
				relu := fusedConvBuild(t, "Relu", "", nil, 1, false)
				out, err := relu.Run(rc, []*tensor.Tensor{want})
				if err != nil {
					t.Fatal(err)
				}
				want = out[0]
			}
			if c.pool != nil {
				mp := fusedConvBuild(t, "MaxPool", "", poolAttrs, 1, false)
				out, err := mp.Run(rc, []*tensor.Tensor{want})
				if err != nil {
					t.Fatal(err)
				}
				want = out[0]
			}
			wk.Close()
			if got.DType() != want.DType() || !tensor.ShapeEqual(got.Shape(), want.Shape()) {
				t.Fatalf("%s: got %v %v, want %v %v", name, got.DType(), got.Shape(), want.DType(), want.Shape())
			}
			g, wv := got.Float64s(), want.Float64s()
			for i := range wv {
				if g[i] != wv[i] {
					t.Fatalf("%s: y[%d] = %v, want %v", name, i, g[i], wv[i])
				}
			}
		}
	}
}

// TestConvWarmRunAllocs checks that a warm float32 convolution (plain,
// stacked, with a summand, with a pool, split over threads or not)
// allocates nothing once its shape has been seen: the plan is kept, and
// the scratch recycled.
func TestConvWarmRunAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("allocation counts are not meaningful under -race")
	}
	r := rand.New(rand.NewSource(5))
	pool := &poolAttrs{kind: poolMax, spatialAttrs: spatialAttrs{kernel: []int{2, 2}, strides: []int{2, 2}, autoPad: "NOTSET"}}
	for _, c := range []struct {
		name string
		xs   []int
		pad  int
		sum  bool
		pool *poolAttrs
	}{
		{"conv", []int{4, 8, 12, 12}, 1, false, nil},
		{"padded copy", []int{2, 8, 12, 12}, 1, false, nil},
		{"direct", []int{2, 8, 12, 12}, 0, false, nil},
		{"stacked", []int{8, 8, 4, 4}, 1, false, nil},
		{"sum", []int{2, 8, 12, 12}, 1, true, nil},
		{"pool", []int{2, 8, 12, 12}, 0, false, pool},
		{"stacked pool", []int{8, 8, 4, 4}, 1, true, pool},
	} {
		a := &convAttrs{spatialAttrs: spatialAttrs{pads: []int{c.pad, c.pad, c.pad, c.pad}, autoPad: "NOTSET"}, group: 1}
		ws := []int{16, 8, 3, 3}
		if c.name == "direct" {
			ws = []int{16, 8, 1, 1}
		}
		shapes := &convShapes{a: a, pool: c.pool}
		x, w, bias := randSlice32(r, prod(c.xs)), randSlice32(r, prod(ws)), randSlice32(r, 16)
		cs, err := shapes.get(c.xs, ws)
		if err != nil {
			t.Fatal(err)
		}
		var z []float32
		if c.sum {
			z = randSlice32(r, prod(cs.outShape))
		}
		n := prod(cs.outShape)
		if c.pool != nil {
			n = prod(cs.poolOut)
		}
		y := make([]float32, n)
		relu := asm.ConvAct{Lo: 0, Hi: float32(math.Inf(1))}
		for _, threads := range []int{1, 2} {
			wk := NewWorkers(threads - 1)
			run := func() {
				cs, _ := shapes.get(c.xs, ws)
				cs.q.run(wk, threads, x, w, bias, z, y, &relu)
			}
			run()
			allocs := testing.AllocsPerRun(20, run)
			wk.Close()
			if threads == 1 && allocs > 0 {
				t.Errorf("%s: %v allocations per warm run", c.name, allocs)
			}
			if allocs > 1 { // parallelFor's chunks
				t.Errorf("%s: %v allocations per warm run with %d threads", c.name, allocs, threads)
			}
		}
	}
}
