package ops

import (
	"fmt"
	"math"
	"math/rand"
	"slices"
	"testing"

	"github.com/onyxrt/onyx/ops/asm"
	"github.com/onyxrt/onyx/tensor"
)

// winoRef computes act(conv(x, w) + bias + z) in float64 directly, and
// for each output the sum of |x·w| over its window plus |bias| + |z| (the
// scale that rounding errors are relative to).
func winoRef(n, c, h, w, k, pt, pl, oh, ow int, x, wt, bias, z []float32, act *asm.ConvAct) (y, scale []float64) {
	y, scale = winoConvRef(n, c, h, w, k, pt, pl, oh, ow, x, wt)
	winoEpilogueRef(y, scale, oh*ow, bias, z, act)
	return y, scale
}

// winoConvRef is the float64 convolution alone and the sums of |x·w|; the
// filter wt is k×c×3×3 or k×c×4×4.
func winoConvRef(n, c, h, w, k, pt, pl, oh, ow int, x, wt []float32) (y, scale []float64) {
	r := 3
	if len(wt) == k*c*16 {
		r = 4
	}
	y = make([]float64, n*k*oh*ow)
	scale = make([]float64, len(y))
	for img := 0; img < n; img++ {
		for oc := 0; oc < k; oc++ {
			for oy := 0; oy < oh; oy++ {
				for ox := 0; ox < ow; ox++ {
					var s, a float64
					for ci := 0; ci < c; ci++ {
						for i := 0; i < r; i++ {
							iy := oy + i - pt
							if iy < 0 || iy >= h {
								continue
							}
							for j := 0; j < r; j++ {
								ix := ox + j - pl
								if ix < 0 || ix >= w {
									continue
								}
								v := float64(x[((img*c+ci)*h+iy)*w+ix]) * float64(wt[((oc*c+ci)*r+i)*r+j])
								s += v
								a += math.Abs(v)
							}
						}
					}
					o := ((img*k+oc)*oh+oy)*ow + ox
					y[o], scale[o] = s, a
				}
			}
		}
	}
	return y, scale
}

// winoEpilogueRef adds bias (per plane of size plane) and z to y and
// their magnitudes to scale, then applies act, in place.
func winoEpilogueRef(y, scale []float64, plane int, bias, z []float32, act *asm.ConvAct) {
	for o := range y {
		s := y[o]
		if bias != nil {
			b := float64(bias[(o/plane)%len(bias)])
			s += b
			scale[o] += math.Abs(b)
		}
		if z != nil {
			s += float64(z[o])
			scale[o] += math.Abs(float64(z[o]))
		}
		if act.Leaky {
			if s < 0 {
				s *= float64(act.Alpha)
			}
		} else {
			s = min(max(s, float64(act.Lo)), float64(act.Hi))
		}
		y[o] = s
	}
}

// winoTol is the largest error that the tests accept, relative to the
// sum of the absolute values of an output's terms (winoRef's scale).
// F(4×4, 3×3) in float32 measures up to about 2e-6 of that on random
// normal data (see TestConvWino's log).
const winoTol = 2e-5

// winoCase is one convolution for the Winograd tests.
type winoCase struct {
	n, c, h, w, k  int
	pt, pl, pb, pr int
}

var winoCases = []winoCase{
	{1, 16, 8, 8, 16, 1, 1, 1, 1},     // two tiles square
	{1, 16, 7, 9, 24, 1, 1, 1, 1},     // H, W not multiples of 4
	{2, 19, 11, 6, 21, 0, 0, 0, 0},    // no padding, odd channels, batch 2
	{3, 17, 5, 13, 33, 1, 0, 2, 1},    // asymmetric pads
	{1, 40, 14, 14, 70, 1, 1, 1, 1},   // K not a multiple of 8, > one panel
	{2, 64, 9, 10, 64, 2, 2, 0, 1},    // pads of 2
	{1, 32, 3, 3, 48, 1, 1, 1, 1},     // one tile
	{1, 24, 26, 26, 64, 0, 0, 0, 0},   // the Keras MNIST CNN's second layer
	{2, 64, 12, 12, 128, 1, 1, 1, 1},  // many bands at the lowered budget
	{1, 128, 7, 7, 136, 1, 1, 1, 1},   // ResNet's last stage, K past the panels
	{1, 16, 1, 20, 16, 1, 1, 1, 1},    // a single input row
	{1, 16, 30, 2, 16, 0, 1, 0, 1},    // two columns
	{5, 16, 4, 4, 32, 1, 1, 1, 1},     // many small images
	{1, 256, 6, 6, 64, 1, 1, 1, 1},    // deep
	{1, 16, 57, 5, 16, 1, 1, 1, 1},    // tall
	{1, 16, 2, 2, 16, 2, 2, 2, 2},     // all padding around
	{2, 20, 13, 17, 40, 0, 2, 1, 0},   // mixed
	{1, 64, 20, 20, 64, 1, 1, 1, 1},   // band boundaries inside tile rows
	{4, 32, 26, 26, 64, 0, 0, 0, 0},   // Keras MNIST at batch 4
	{1, 16, 10, 10, 16, 1, 1, 1, 1},   // one band
	{3, 48, 9, 11, 56, 1, 1, 1, 1},    // several images per band
	{1, 64, 18, 18, 96, 1, 2, 1, 0},   // uneven left/right
	{1, 16, 5, 5, 256, 1, 1, 1, 1},    // many output channels
	{1, 160, 8, 8, 16, 1, 1, 1, 1},    // many input channels, K = 16
	{2, 33, 15, 15, 65, 1, 1, 1, 1},   // odd everything
	{1, 128, 14, 14, 128, 1, 1, 1, 1}, // a ResNet-like layer
}

// winoCases3x4 are the F(3×3, 4×4) cases: 4×4 filters, outputs that are
// and are not multiples of 3.
var winoCases3x4 = []winoCase{
	{4, 32, 28, 28, 32, 1, 1, 2, 2}, // the Keras MNIST CNN's second layer
	{4, 32, 14, 14, 64, 1, 1, 2, 2}, // its third
	{4, 64, 14, 14, 64, 1, 1, 2, 2}, // its fourth
	{1, 16, 7, 9, 24, 1, 1, 2, 2},   // ragged
	{2, 19, 11, 6, 21, 0, 0, 0, 0},  // no padding, odd channels, batch 2
	{3, 17, 5, 13, 33, 2, 1, 1, 2},  // asymmetric pads
	{1, 40, 12, 12, 70, 1, 2, 2, 1}, // K not a multiple of 8, > one panel
	{1, 16, 4, 4, 16, 0, 0, 0, 0},   // one output
	{1, 16, 2, 2, 16, 2, 2, 2, 2},   // all padding around
	{1, 16, 1, 20, 16, 2, 1, 1, 2},  // a single input row
	{1, 64, 20, 20, 64, 1, 1, 2, 2}, // band boundaries inside tile rows
	{2, 33, 15, 16, 65, 1, 1, 2, 2}, // odd everything
	{1, 128, 9, 9, 128, 1, 1, 2, 2}, // deep
	{5, 16, 3, 3, 32, 1, 1, 2, 2},   // many small images
	{1, 16, 31, 5, 16, 2, 2, 1, 1},  // tall
	{3, 24, 10, 11, 40, 1, 1, 2, 2}, // several images per band
	{1, 16, 5, 5, 256, 1, 1, 2, 2},  // many output channels
	{1, 160, 6, 6, 16, 1, 1, 2, 2},  // many input channels, K = 16
	{2, 48, 13, 13, 56, 0, 0, 0, 0}, // no padding, 10×10 outputs
	{1, 24, 17, 17, 24, 1, 1, 1, 1}, // symmetric pads, 16×16 outputs
}

// TestConvWino checks the Winograd path against a float64 direct
// convolution: awkward shapes, padding, bias or none, activations, a
// summand, one to three threads, bands of several sizes, 3×3 and 4×4
// filters.
func TestConvWino(t *testing.T) {
	for _, fs := range []int{3, 4} {
		t.Run(fmt.Sprintf("r=%d", fs), func(t *testing.T) { testConvWino(t, fs) })
	}
}

func testConvWino(t *testing.T, fs int) {
	acts := []asm.ConvAct{asm.ConvActNone(), {Lo: 0, Hi: float32(math.Inf(1))}, {Lo: -0.5, Hi: 0.5}, {Leaky: true, Alpha: 0.1}}
	r := rand.New(rand.NewSource(3))
	worst := 0.0
	cases := winoCases
	if fs == 4 {
		cases = winoCases3x4
	}
	for _, budget := range []int{winoBandBytes, 40 << 10} {
		for i, c := range cases {
			if budget != winoBandBytes && c.n*c.h*c.w*c.c > 1<<17 {
				continue // the large ones once
			}
			a := convAttrs{spatialAttrs: spatialAttrs{pads: []int{c.pt, c.pl, c.pb, c.pr}, autoPad: "NOTSET"}, group: 1}
			xs, ws := []int{c.n, c.c, c.h, c.w}, []int{c.k, c.c, fs, fs}
			p, err := a.plan(xs, ws)
			if err != nil {
				t.Fatalf("%+v: %v", c, err)
			}
			q := newConvWinoPlanBand(p, budget)
			if q.r != fs {
				t.Fatalf("%+v: plan for %d×%d filters, want %d", c, q.r, q.r, fs)
			}
			x, w := randSlice32(r, prod(xs)), randSlice32(r, prod(ws))
			bias, zf := randSlice32(r, c.k), randSlice32(r, prod(p.outShape()))
			u := newWinoFilterR(w, c.k, c.c, fs)
			oh, ow := p.g.out[0], p.g.out[1]
			conv, convScale := winoConvRef(c.n, c.c, c.h, c.w, c.k, c.pt, c.pl, oh, ow, x, w)
			for threads := 1; threads <= 3; threads++ {
				for ai := range acts {
					act := &acts[ai]
					b, z := bias, []float32(nil)
					if (i+ai)%3 == 0 {
						b = nil
					}
					if (i+ai+threads)%2 == 0 {
						z = zf
					}
					if threads > 1 && ai > 1 {
						continue
					}
					want, scale := slices.Clone(conv), slices.Clone(convScale)
					winoEpilogueRef(want, scale, oh*ow, b, z, act)
					got := make([]float32, len(want)+9)
					for j := range got {
						got[j] = float32(math.NaN())
					}
					wk := NewWorkers(threads - 1)
					q.run(wk, threads, u, x, b, z, got[:len(want)], act, make([]float32, q.scratchLen(threads)))
					wk.Close()
					name := fmt.Sprintf("%+v/budget=%d/threads=%d/act=%d/bias=%v/z=%v", c, budget, threads, ai, b != nil, z != nil)
					for j := range want {
						e := math.Abs(float64(got[j])-want[j]) / max(scale[j], 1e-30)
						if !(e <= winoTol) {
							t.Fatalf("%s: y[%d] = %v, want %v (scale %v)", name, j, got[j], want[j], scale[j])
						}
						worst = max(worst, e)
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
	t.Logf("largest error relative to the sum of |terms|: %.3g", worst)
}

// TestConvWinoKernel runs Conv and FusedConv (summand and ReLU, with and
// without a 2×2 max pool) with a constant filter through the operator,
// on shapes that take the Winograd path, against the float64 reference.
func TestConvWinoKernel(t *testing.T) {
	if asm.SgemmImplementation() == "generic" {
		t.Skip("the generic GEMM keeps the F(2×2, 3×3) path")
	}
	r := rand.New(rand.NewSource(4))
	for _, c := range []struct {
		winoCase
		fs int
	}{
		{winoCase{1, 64, 22, 22, 64, 1, 1, 1, 1}, 3},
		{winoCase{2, 48, 13, 15, 40, 0, 1, 2, 1}, 3},
		{winoCase{4, 32, 28, 28, 32, 1, 1, 2, 2}, 4},
		{winoCase{2, 40, 13, 15, 24, 2, 1, 0, 2}, 4},
	} {
		xs, ws := []int{c.n, c.c, c.h, c.w}, []int{c.k, c.c, c.fs, c.fs}
		a := convAttrs{spatialAttrs: spatialAttrs{pads: []int{c.pt, c.pl, c.pb, c.pr}, autoPad: "NOTSET"}, group: 1}
		p, err := a.plan(xs, ws)
		if err != nil {
			t.Fatal(err)
		}
		if newConvWinoPlan(p) == nil {
			t.Logf("%+v does not take the Winograd path", c)
			continue
		}
		x, w, bias := randSlice32(r, prod(xs)), randSlice32(r, prod(ws)), randSlice32(r, c.k)
		oh, ow := p.g.out[0], p.g.out[1]
		z := randSlice32(r, c.n*c.k*oh*ow)
		W := tensor.From(ws, w)
		for variant := range 3 {
			fused, pooled := variant > 0, variant == 2
			attrs := []*Attr{{Name: "pads", Type: AttrInts, Ints: []int64{int64(c.pt), int64(c.pl), int64(c.pb), int64(c.pr)}}}
			op, domain, nIn := "Conv", "", 3
			if fused {
				op, domain, nIn = "FusedConv", FusedDomain, 4
				attrs = append(attrs, &Attr{Name: "activation", Type: AttrString, String: "Relu"})
			}
			if pooled {
				attrs = append(attrs, &Attr{Name: "pool", Type: AttrString, String: "MaxPool"},
					&Attr{Name: "pool_kernel_shape", Type: AttrInts, Ints: []int64{2, 2}},
					&Attr{Name: "pool_strides", Type: AttrInts, Ints: []int64{2, 2}})
			}
			k := winoBuild(t, op, domain, attrs, nIn, W)
			in := []*tensor.Tensor{tensor.From(xs, x), W, tensor.From([]int{c.k}, bias)}
			act := asm.ConvActNone()
			var zz []float32
			if fused {
				in = append(in, tensor.From([]int{c.n, c.k, oh, ow}, z))
				act = asm.ConvAct{Lo: 0, Hi: float32(math.Inf(1))}
				zz = z
			}
			for _, threads := range []int{1, 2} {
				rc := &RunContext{Threads: threads, Workers: NewWorkers(threads - 1)}
				out, err := k.Run(rc, in)
				if err != nil {
					t.Fatal(err)
				}
				want, scale := winoRef(c.n, c.c, c.h, c.w, c.k, c.pt, c.pl, oh, ow, x, w, bias, zz, &act)
				if pooled {
					want, scale = winoPoolRef(want, scale, c.n*c.k, oh, ow)
				}
				got := out[0].Float32s()
				if len(got) != len(want) {
					t.Fatalf("%+v %s pool=%v: %d outputs, want %d", c, op, pooled, len(got), len(want))
				}
				for j := range want {
					if e := math.Abs(float64(got[j])-want[j]) / max(scale[j], 1e-30); !(e <= winoTol) {
						t.Fatalf("%+v %s threads=%d: y[%d] = %v, want %v", c, op, threads, j, got[j], want[j])
					}
				}
				rc.Workers.Close()
			}
		}
	}
}

// winoBuild builds op with attrs, nIn inputs and the constant filter W.
func winoBuild(t *testing.T, op, domain string, attrs []*Attr, nIn int, W *tensor.Tensor) Kernel {
	t.Helper()
	def, err := Default().Lookup(domain, op, 13)
	if err != nil {
		t.Fatal(err)
	}
	b := &Builder{OpType: op, Domain: domain, Opset: 13, NumInputs: nIn, NumOutputs: 1, OutputPresent: []bool{true}, Attrs: map[string]*Attr{}}
	for i := 0; i < nIn; i++ {
		b.InputPresent = append(b.InputPresent, true)
	}
	for _, a := range attrs {
		b.Attrs[a.Name] = a
	}
	b.Const = func(i int) *tensor.Tensor {
		if i == 1 {
			return W
		}
		return nil
	}
	k, err := def.Build(b)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// TestConvWinoAllocs checks that a warm run of the Winograd path
// allocates nothing on one thread.
func TestConvWinoAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("allocation counts are not meaningful under -race")
	}
	r := rand.New(rand.NewSource(6))
	a := convAttrs{spatialAttrs: spatialAttrs{pads: []int{1, 1, 1, 1}, autoPad: "NOTSET"}, group: 1}
	xs, ws := []int{1, 64, 20, 20}, []int{64, 64, 3, 3}
	p, err := a.plan(xs, ws)
	if err != nil {
		t.Fatal(err)
	}
	q := newConvWinoPlanAny(p)
	x, w, bias := randSlice32(r, prod(xs)), randSlice32(r, prod(ws)), randSlice32(r, 64)
	z := randSlice32(r, prod(p.outShape()))
	u := newWinoFilter(w, 64, 64)
	y := make([]float32, prod(p.outShape()))
	scratch := make([]float32, q.scratchLen(2))
	relu := asm.ConvAct{Lo: 0, Hi: float32(math.Inf(1))}
	for _, threads := range []int{1, 2} {
		wk := NewWorkers(threads - 1)
		run := func() { q.run(wk, threads, u, x, bias, z, y, &relu, scratch) }
		run()
		allocs := testing.AllocsPerRun(20, run)
		wk.Close()
		if threads == 1 && allocs > 0 {
			t.Errorf("%v allocations per warm run", allocs)
		}
		if allocs > 1 { // parallelPieces' split
			t.Errorf("%v allocations per warm run with %d threads", allocs, threads)
		}
	}
}

// TestWinoFilterCoef checks newWinoFilterR's packed U (taken out row by
// row with a product by a unit vector) against asm.WinoFilter4x3 (3×3
// filters) and asm.WinoFilter3x4 (4×4).
func TestWinoFilterCoef(t *testing.T) {
	r := rand.New(rand.NewSource(8))
	const k, c = 40, 20
	for _, fs := range []int{3, 4} {
		rr := fs * fs
		w := randSlice32(r, k*c*rr)
		f := newWinoFilterR(w, k, c, fs)
		e := make([]float32, f.cp)
		row := make([]float32, f.kp)
		for ci := 0; ci < c; ci++ {
			clear(e)
			e[ci] = 1
			for xi := range 36 {
				asm.SgemmPacked(false, 1, f.kp, f.cp, 1, e, f.cp, f.whole[xi], 0, row, f.kp)
				for oc := 0; oc < f.kp; oc++ {
					var u [36]float32
					if oc < k {
						if fs == 3 {
							var g [9]float32
							copy(g[:], w[(oc*c+ci)*rr:])
							asm.WinoFilter4x3(&g, &u)
						} else {
							var g [16]float32
							copy(g[:], w[(oc*c+ci)*rr:])
							asm.WinoFilter3x4(&g, &u)
						}
					}
					if d := math.Abs(float64(row[oc] - u[xi])); d > 1e-7*(1+math.Abs(float64(u[xi]))) {
						t.Fatalf("r=%d: filter (%d, %d) ξ=%d: %v, the asm transform %v", fs, oc, ci, xi, row[oc], u[xi])
					}
				}
			}
		}
	}
}

// winoPoolRef is a 2×2 stride-2 max pool of planes oh×ow (floor mode),
// with the scale of the maximum.
func winoPoolRef(y, scale []float64, planes, oh, ow int) (py, ps []float64) {
	ph, pw := oh/2, ow/2
	py, ps = make([]float64, planes*ph*pw), make([]float64, planes*ph*pw)
	for p := 0; p < planes; p++ {
		for i := 0; i < ph; i++ {
			for j := 0; j < pw; j++ {
				o := (p*ph+i)*pw + j
				py[o] = math.Inf(-1)
				for di := 0; di < 2; di++ {
					for dj := 0; dj < 2; dj++ {
						s := (p*oh+2*i+di)*ow + 2*j + dj
						if y[s] > py[o] {
							py[o] = y[s]
						}
						ps[o] = max(ps[o], scale[s])
					}
				}
			}
		}
	}
	return py, ps
}
