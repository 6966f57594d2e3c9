package ops

import (
	"fmt"
	"math"
	"math/rand"
	"testing"

	"github.com/onyxrt/onyx/tensor"
)

// The float32 fast paths of the backward kernels (grad_conv_fast.go,
// grad_pool_fast.go, Relu's UnaryGrad) against the general code: ConvGrad
// on float32 against the same kernel on float64 (which takes the per-image
// path), MaxPoolGrad's direct walk against the tap lists of poolGradRun,
// and Relu's loop against the generic derivative.

func fastF32(seed int64, shape ...int) *tensor.Tensor {
	t, _ := gnnRand(seed, shape...).Cast(tensor.Float32)
	return t
}

// relClose fails unless got and want (any float type) agree within tol
// relative to max(1, max |want|).
func relClose(t *testing.T, what string, got, want *tensor.Tensor, tol float64) {
	t.Helper()
	if !tensor.ShapeEqual(got.Shape(), want.Shape()) {
		t.Fatalf("%s: shape %v, want %v", what, got.Shape(), want.Shape())
	}
	g, w := got.Float64s(), want.Float64s()
	scale := 1.0
	for _, v := range w {
		if !math.IsInf(v, 0) && !math.IsNaN(v) {
			scale = max(scale, math.Abs(v))
		}
	}
	for i := range w {
		if math.IsNaN(w[i]) && math.IsNaN(g[i]) || math.IsInf(w[i], 0) && g[i] == w[i] {
			continue
		}
		if d := math.Abs(g[i] - w[i]); !(d <= tol*scale) {
			t.Fatalf("%s: element %d is %g, want %g", what, i, g[i], w[i])
		}
	}
}

// TestConvGradFastNonFinite checks the fast path where infinities and
// NaNs in X or W rule out the wide layout (whose padding columns rely on
// 0·x being 0).
func TestConvGradFastNonFinite(t *testing.T) {
	reg := Default()
	for _, c := range []struct {
		name string
		bad  string // the input that gets the non-finite values
		v    float64
	}{{"X inf", "x", math.Inf(1)}, {"X nan", "x", math.NaN()}, {"W inf", "w", math.Inf(-1)}} {
		vals := map[string]*tensor.Tensor{"x": gnnRand(1, 6, 8, 12, 11), "w": gnnRand(2, 9, 8, 3, 3), "dy": gnnRand(3, 6, 9, 10, 9)}
		bad := vals[c.bad].Float64s()
		bad[len(bad)/3] = c.v
		vals[c.bad] = tensor.From(vals[c.bad].Shape(), bad)
		ref, err := gnnRun(reg, GradDomain, "ConvGrad", 1, nil, []string{"dy", "x", "w"}, []bool{true, true, true}, vals, 1)
		if err != nil {
			t.Fatal(err)
		}
		v32 := map[string]*tensor.Tensor{}
		for k, v := range vals {
			v32[k], _ = v.Cast(tensor.Float32)
		}
		got, err := gnnRun(reg, GradDomain, "ConvGrad", 1, nil, []string{"dy", "x", "w"}, []bool{true, true, true}, v32, 2)
		if err != nil {
			t.Fatal(err)
		}
		for i := range got {
			// The scale of relClose ignores the non-finite values.
			relClose(t, fmt.Sprintf("%s output %d", c.name, i), got[i], ref[i], 1e-5)
		}
	}
}

func TestConvGradFastMatchesGeneral(t *testing.T) {
	reg := Default()
	cases := []struct {
		name        string
		x, w        []int
		attrs       []*Attr
		wantOutputs [][]bool
	}{
		{"mnist conv1", []int{5, 1, 28, 28}, []int{32, 1, 3, 3}, nil, nil},
		{"mnist conv2", []int{7, 32, 13, 13}, []int{64, 32, 3, 3}, nil, nil},
		{"mnist conv3", []int{33, 64, 5, 5}, []int{64, 64, 3, 3}, nil, nil},
		{"one image", []int{1, 3, 9, 7}, []int{4, 3, 3, 2}, nil, nil},
		{"padded strided", []int{6, 3, 11, 10}, []int{5, 3, 3, 3}, []*Attr{IntsAttr("pads", 1, 2, 0, 1), IntsAttr("strides", 2, 3)}, nil},
		{"dilated", []int{4, 2, 12, 9}, []int{3, 2, 3, 2}, []*Attr{IntsAttr("dilations", 2, 3), IntsAttr("pads", 2, 1, 2, 1)}, nil},
		{"1x1", []int{9, 8, 4, 5}, []int{6, 8, 1, 1}, nil, nil},
		{"kernel wider than the padded row", []int{3, 2, 5, 2}, []int{2, 2, 3, 3}, []*Attr{IntsAttr("pads", 1, 1, 1, 1)}, nil},
		{"1-D", []int{10, 3, 17}, []int{4, 3, 5}, []*Attr{IntsAttr("pads", 2, 1), IntsAttr("strides", 2)}, nil},
		{"auto_pad same", []int{3, 2, 8, 8}, []int{3, 2, 3, 3}, []*Attr{StringAttr("auto_pad", "SAME_UPPER"), IntsAttr("strides", 2, 2)}, nil},
		{"subsets", []int{20, 4, 6, 6}, []int{5, 4, 3, 3}, nil, [][]bool{{true, false, false}, {false, true, false}, {false, false, true}, {true, false, true}, {false, true, true}}},
	}
	for ci, c := range cases {
		outs := c.wantOutputs
		if outs == nil {
			outs = [][]bool{{true, true, true}}
		}
		x64, w64 := gnnRand(int64(3*ci+1), c.x...), gnnRand(int64(3*ci+2), c.w...)
		// The output shape, from the forward Conv.
		fy, err := gnnRun(reg, "", "Conv", 11, c.attrs, []string{"x", "w"}, []bool{true}, map[string]*tensor.Tensor{"x": x64, "w": w64}, 1)
		if err != nil {
			t.Fatalf("%s: forward: %v", c.name, err)
		}
		dy64 := gnnRand(int64(3*ci+3), fy[0].Shape()...)
		x32, _ := x64.Cast(tensor.Float32)
		w32, _ := w64.Cast(tensor.Float32)
		dy32, _ := dy64.Cast(tensor.Float32)
		for _, want := range outs {
			ref, err := gnnRun(reg, GradDomain, "ConvGrad", 1, c.attrs, []string{"dy", "x", "w"}, want,
				map[string]*tensor.Tensor{"dy": dy64, "x": x64, "w": w64}, 1)
			if err != nil {
				t.Fatalf("%s: float64: %v", c.name, err)
			}
			for _, th := range []int{1, 2, 3} {
				got, err := gnnRun(reg, GradDomain, "ConvGrad", 1, c.attrs, []string{"dy", "x", "w"}, want,
					map[string]*tensor.Tensor{"dy": dy32, "x": x32, "w": w32}, th)
				if err != nil {
					t.Fatalf("%s: float32: %v", c.name, err)
				}
				for i, w := range want {
					if w {
						relClose(t, fmt.Sprintf("%s %v threads %d output %d", c.name, want, th, i), got[i], ref[i], 1e-5)
					}
				}
			}
		}
	}
}

func TestConvGradChunk(t *testing.T) {
	for _, c := range []struct{ n, kdim, outSize, threads int }{
		{64, 9, 676, 1}, {64, 288, 121, 2}, {64, 576, 9, 2}, {1, 5000, 5000, 2}, {3, 1, 1, 4}, {7, 2, 3, 3},
	} {
		per := convGradChunk(c.n, c.kdim, c.outSize, c.threads)
		if per < 1 || per > c.n {
			t.Errorf("%+v: %d images per chunk", c, per)
		}
	}
}

func TestMaxPoolGradDirectMatchesTaps(t *testing.T) {
	cases := []struct {
		name  string
		x     []int
		attrs []*Attr
	}{
		{"2x2 even", []int{2, 3, 8, 6}, []*Attr{IntsAttr("kernel_shape", 2, 2), IntsAttr("strides", 2, 2)}},
		{"2x2 odd", []int{3, 2, 11, 7}, []*Attr{IntsAttr("kernel_shape", 2, 2), IntsAttr("strides", 2, 2)}},
		{"2x2 ceil", []int{1, 2, 5, 7}, []*Attr{IntsAttr("kernel_shape", 2, 2), IntsAttr("strides", 2, 2), IntAttr("ceil_mode", 1)}},
		{"3x3 overlapping", []int{2, 2, 9, 8}, []*Attr{IntsAttr("kernel_shape", 3, 3), IntsAttr("strides", 1, 2)}},
		{"padded dilated", []int{1, 3, 10, 9}, []*Attr{IntsAttr("kernel_shape", 3, 2), IntsAttr("pads", 1, 1, 2, 1), IntsAttr("dilations", 2, 1), IntsAttr("strides", 2, 1)}},
		{"1-D", []int{2, 3, 13}, []*Attr{IntsAttr("kernel_shape", 3), IntsAttr("strides", 2), IntsAttr("pads", 1, 1)}},
	}
	for ci, c := range cases {
		for _, dt := range []tensor.DType{tensor.Float32, tensor.Float64} {
			x, _ := gnnRand(int64(2*ci+1), c.x...).Cast(dt)
			// Ties and NaNs: the first maximum in window order wins, and a
			// number beats a NaN that came first.
			xv := x.Float64s()
			r := rand.New(rand.NewSource(int64(ci)))
			for i := range xv {
				switch r.Intn(8) {
				case 0:
					xv[i] = 0.25
				case 1:
					xv[i] = math.NaN()
				}
			}
			x, _ = tensor.From(c.x, xv).Cast(dt)
			b := gnnBuilder("", "MaxPool", 12, c.attrs, []string{"x"}, []bool{true})
			a, err := readPoolAttrs(b, poolMax)
			if err != nil {
				t.Fatal(err)
			}
			p, err := a.plan(x.Shape())
			if err != nil {
				t.Fatal(err)
			}
			if !p.direct {
				t.Fatalf("%s: not a direct plan", c.name)
			}
			dy, _ := gnnRand(int64(2*ci+2), a.outShape(x.Shape(), p)...).Cast(dt)
			for _, relu := range []bool{false, true} {
				p.build(false)
				want := tensor.MustNew(dt, x.Shape()...)
				if dt == tensor.Float32 {
					poolGradRun(poolMax, p, x.Float32s(), dy.Float32s(), want.Float32s(), false)
				} else {
					poolGradRun(poolMax, p, tensor.Data[float64](x), tensor.Data[float64](dy), tensor.Data[float64](want), false)
				}
				if relu {
					// The Relu gradient applied after the pooling's.
					wv := want.Float64s()
					for i, v := range x.Float64s() {
						if !(v > 0) {
							wv[i] = 0
						}
					}
					want, _ = tensor.From(c.x, wv).Cast(dt)
					tapped := tensor.MustNew(dt, x.Shape()...)
					if dt == tensor.Float32 {
						poolGradRun(poolMax, p, x.Float32s(), dy.Float32s(), tapped.Float32s(), true)
					} else {
						poolGradRun(poolMax, p, tensor.Data[float64](x), tensor.Data[float64](dy), tensor.Data[float64](tapped), true)
					}
					relClose(t, fmt.Sprintf("%s %v tap lists relu", c.name, dt), tapped, want, 0)
				}
				for _, th := range []int{1, 2} {
					got, err := maxPoolGradDirect(&RunContext{Threads: th}, p, x, dy, relu)
					if err != nil {
						t.Fatal(err)
					}
					relClose(t, fmt.Sprintf("%s %v threads %d relu %v", c.name, dt, th, relu), got[0], want, 0)
				}
			}
		}
	}
}

func TestReluGradLoop(t *testing.T) {
	reg := Default()
	for _, dt := range []tensor.DType{tensor.Float32, tensor.Float64} {
		for _, n := range []int{1, 7, 100003} {
			x, _ := gnnRand(int64(n), n).Cast(dt)
			xv := x.Float64s()
			xv[0] = math.NaN()
			if n > 2 {
				xv[1], xv[2] = 0, math.Copysign(0, -1)
			}
			x, _ = tensor.From([]int{n}, xv).Cast(dt)
			y := tensor.MustNew(dt, n)
			yv := y.Float64s()
			for i, v := range xv {
				yv[i] = v
				if v < 0 {
					yv[i] = 0
				}
			}
			y, _ = tensor.From([]int{n}, yv).Cast(dt)
			dy, _ := gnnRand(int64(n+1), n).Cast(dt)
			want := dy.Float64s()
			for i, v := range xv {
				if !(v > 0) {
					want[i] = 0
				}
			}
			for _, in := range [][]string{{"dy", "x", "y"}, {"dy", "x", ""}, {"dy", "", "y"}} {
				got, err := gnnRun(reg, GradDomain, "UnaryGrad", 1, []*Attr{StringAttr("op", "Relu")}, in, []bool{true},
					map[string]*tensor.Tensor{"dy": dy, "x": x, "y": y}, 2)
				if err != nil {
					t.Fatal(err)
				}
				relClose(t, fmt.Sprintf("%v n=%d inputs %q", dt, n, in), got[0], tensor.From([]int{n}, want), 0)
			}
		}
	}
}

// BenchmarkConvGradMNIST times ConvGrad on the three layers of the MNIST
// CNN at batch 64 (conv1 wants only dW and dB, as in training).
func BenchmarkConvGradMNIST(b *testing.B) {
	reg := Default()
	for _, c := range []struct {
		name   string
		x, w   []int
		y      []int
		dxWant bool
	}{
		{"conv1", []int{64, 1, 28, 28}, []int{32, 1, 3, 3}, []int{64, 32, 26, 26}, false},
		{"conv2", []int{64, 32, 13, 13}, []int{64, 32, 3, 3}, []int{64, 64, 11, 11}, true},
		{"conv3", []int{64, 64, 5, 5}, []int{64, 64, 3, 3}, []int{64, 64, 3, 3}, true},
	} {
		for _, th := range []int{1, 2} {
			b.Run(fmt.Sprintf("%s/threads=%d", c.name, th), func(b *testing.B) {
				vals := map[string]*tensor.Tensor{"x": fastF32(1, c.x...), "w": fastF32(2, c.w...), "dy": fastF32(3, c.y...)}
				want := []bool{c.dxWant, true, true}
				def, err := reg.Lookup(GradDomain, "ConvGrad", 1)
				if err != nil {
					b.Fatal(err)
				}
				k, err := def.Build(gnnBuilder(GradDomain, "ConvGrad", 1, nil, []string{"dy", "x", "w"}, want))
				if err != nil {
					b.Fatal(err)
				}
				in := []*tensor.Tensor{vals["dy"], vals["x"], vals["w"]}
				rc := &RunContext{Threads: th}
				c0, ok := processCPU()
				for b.Loop() {
					if _, err := k.Run(rc, in); err != nil {
						b.Fatal(err)
					}
				}
				if c1, _ := processCPU(); ok {
					b.ReportMetric(float64((c1-c0).Microseconds())/1000/float64(b.N), "cpu-ms/op")
				}
			})
		}
	}
}

// BenchmarkMaxPoolGradMNIST times MaxPoolGrad (with the fused Relu) on the
// first pooling of the MNIST CNN at batch 64.
func BenchmarkMaxPoolGradMNIST(b *testing.B) {
	x, dy := fastF32(1, 64, 32, 26, 26), fastF32(2, 64, 32, 13, 13)
	for i, v := range x.Float32s() {
		x.Float32s()[i] = max(v, 0) // a Relu's output
	}
	attrs := []*Attr{IntsAttr("kernel_shape", 2, 2), IntsAttr("strides", 2, 2), StringAttr("activation", "Relu")}
	def, err := Default().Lookup(GradDomain, "MaxPoolGrad", 1)
	if err != nil {
		b.Fatal(err)
	}
	k, err := def.Build(gnnBuilder(GradDomain, "MaxPoolGrad", 1, attrs, []string{"dy", "x"}, []bool{true}))
	if err != nil {
		b.Fatal(err)
	}
	rc := &RunContext{Threads: 1}
	c0, ok := processCPU()
	for b.Loop() {
		if _, err := k.Run(rc, []*tensor.Tensor{dy, x}); err != nil {
			b.Fatal(err)
		}
	}
	if c1, _ := processCPU(); ok {
		b.ReportMetric(float64((c1-c0).Microseconds())/1000/float64(b.N), "cpu-ms/op")
	}
}

// TestConvGradPooledDY checks ConvGrad with pooled_dy=1 against
// MaxPoolGrad (activation Relu) followed by a plain ConvGrad.
func TestConvGradPooledDY(t *testing.T) {
	reg := Default()
	pool := []*Attr{IntsAttr("kernel_shape", 2, 2), IntsAttr("strides", 2, 2), StringAttr("activation", "Relu")}
	for ci, c := range []struct {
		name  string
		x, w  []int
		attrs []*Attr
	}{
		{"even", []int{3, 2, 10, 10}, []int{4, 2, 3, 3}, nil},
		{"odd output", []int{5, 3, 13, 13}, []int{6, 3, 3, 3}, nil},
		{"wide", []int{4, 8, 14, 12}, []int{5, 8, 3, 3}, nil},
		{"padded", []int{2, 3, 7, 9}, []int{4, 3, 3, 3}, []*Attr{IntsAttr("pads", 1, 1, 1, 1)}},
		{"grouped", []int{2, 4, 8, 8}, []int{4, 2, 3, 3}, []*Attr{IntAttr("group", 2)}},
	} {
		for _, dt := range []tensor.DType{tensor.Float32, tensor.Float64} {
			x, _ := gnnRand(int64(4*ci+1), c.x...).Cast(dt)
			w, _ := gnnRand(int64(4*ci+2), c.w...).Cast(dt)
			fy, err := gnnRun(reg, "", "Conv", 11, c.attrs, []string{"x", "w"}, []bool{true}, map[string]*tensor.Tensor{"x": x, "w": w}, 1)
			if err != nil {
				t.Fatal(err)
			}
			// r: a Relu's output of the Conv's shape, with ties.
			rv := gnnRand(int64(4*ci+3), fy[0].Shape()...).Float64s()
			for i, v := range rv {
				rv[i] = max(v, 0)
				if i%7 == 0 {
					rv[i] = 0.5
				}
			}
			r, _ := tensor.From(fy[0].Shape(), rv).Cast(dt)
			ys := r.Shape()
			dp, _ := gnnRand(int64(4*ci+4), ys[0], ys[1], ys[2]/2, ys[3]/2).Cast(dt)
			vals := map[string]*tensor.Tensor{"dp": dp, "r": r, "x": x, "w": w}
			dy, err := gnnRun(reg, GradDomain, "MaxPoolGrad", 1, pool, []string{"dp", "r"}, []bool{true}, vals, 1)
			if err != nil {
				t.Fatal(err)
			}
			vals["dy"] = dy[0]
			for _, want := range [][]bool{{true, true, true}, {false, true, true}, {true, false, false}} {
				ref, err := gnnRun(reg, GradDomain, "ConvGrad", 1, c.attrs, []string{"dy", "x", "w"}, want, vals, 1)
				if err != nil {
					t.Fatal(err)
				}
				attrs := append(append([]*Attr(nil), c.attrs...), IntAttr("pooled_dy", 1))
				for _, th := range []int{1, 2} {
					got, err := gnnRun(reg, GradDomain, "ConvGrad", 1, attrs, []string{"dp", "x", "w", "r"}, want, vals, th)
					if err != nil {
						t.Fatalf("%s %v: %v", c.name, dt, err)
					}
					for i, wo := range want {
						if wo {
							relClose(t, fmt.Sprintf("%s %v %v threads %d output %d", c.name, dt, want, th, i), got[i], ref[i], 1e-5)
						}
					}
				}
			}
		}
	}
	// Shapes that do not fit.
	vals := map[string]*tensor.Tensor{"dp": fastF32(1, 1, 2, 3, 3), "x": fastF32(2, 1, 1, 8, 8), "w": fastF32(3, 2, 1, 3, 3), "r": fastF32(4, 1, 2, 5, 5)}
	if _, err := gnnRun(reg, GradDomain, "ConvGrad", 1, []*Attr{IntAttr("pooled_dy", 1)}, []string{"dp", "x", "w", "r"}, []bool{false, true, false}, vals, 1); err == nil {
		t.Error("a pooled input of the wrong shape was accepted")
	}
}
