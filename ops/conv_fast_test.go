package ops

import (
	"fmt"
	"math"
	"math/rand"
	"testing"

	"github.com/onyxrt/onyx/ops/asm"
)

// convNaive32 is the direct definition of a 2-D convolution with bias and
// activation, accumulated in float64.
func convNaive32(p *convPlan, x, w, bias []float32, act *asm.ConvAct) []float32 {
	g := p.g
	h, wd := g.in[0], g.in[1]
	kh, kw := g.k[0], g.k[1]
	oh, ow := g.out[0], g.out[1]
	cg, mg := p.c/p.group, p.m/p.group
	y := make([]float32, p.n*p.m*oh*ow)
	for n := 0; n < p.n; n++ {
		for m := 0; m < p.m; m++ {
			gi := m / mg
			for oy := 0; oy < oh; oy++ {
				for ox := 0; ox < ow; ox++ {
					var s float64
					if bias != nil {
						s = float64(bias[m])
					}
					for c := 0; c < cg; c++ {
						for ki := 0; ki < kh; ki++ {
							iy := oy*g.s[0] - g.pb[0] + ki*g.d[0]
							if iy < 0 || iy >= h {
								continue
							}
							for kj := 0; kj < kw; kj++ {
								ix := ox*g.s[1] - g.pb[1] + kj*g.d[1]
								if ix < 0 || ix >= wd {
									continue
								}
								xv := x[((n*p.c+gi*cg+c)*h+iy)*wd+ix]
								wv := w[((m*cg+c)*kh+ki)*kw+kj]
								s += float64(xv) * float64(wv)
							}
						}
					}
					v := float32(s)
					if act.Leaky {
						if v < 0 {
							v *= act.Alpha
						}
					} else {
						v = min(max(v, act.Lo), act.Hi)
					}
					y[((n*p.m+m)*oh+oy)*ow+ox] = v
				}
			}
		}
	}
	return y
}

func TestConvRun32(t *testing.T) {
	type tc struct {
		n, c, h, w, m, k, s, pad, d, group int
	}
	cases := []tc{
		{1, 1, 28, 28, 32, 3, 1, 0, 1, 1},  // MNIST conv1
		{3, 32, 13, 13, 64, 3, 1, 0, 1, 1}, // MNIST conv2, stacked? (121 columns: no)
		{5, 64, 5, 5, 16, 3, 1, 0, 1, 1},   // 9 columns: images stacked
		{70, 3, 3, 3, 7, 3, 1, 0, 1, 1},    // one column per image, several stacks
		{1, 3, 32, 32, 32, 3, 1, 1, 1, 1},
		{2, 3, 17, 19, 5, 3, 2, 1, 1, 1},
		{1, 3, 23, 23, 8, 7, 2, 3, 1, 1},
		{2, 16, 9, 9, 24, 1, 1, 0, 1, 1}, // direct 1×1
		{3, 16, 3, 3, 24, 1, 1, 0, 1, 1}, // 1×1, stacked
		{1, 16, 10, 10, 24, 1, 2, 0, 1, 1},
		{1, 300, 7, 7, 20, 1, 1, 0, 1, 1}, // k blocks
		{1, 40, 7, 7, 13, 3, 1, 1, 1, 1},  // k = 360: two blocks
		{2, 8, 11, 11, 6, 3, 1, 2, 2, 1},  // dilation
		{2, 8, 11, 11, 6, 3, 1, 1, 1, 2},  // groups
		{1, 6, 9, 9, 12, 3, 2, 1, 1, 3},
		{2, 5, 15, 15, 5, 3, 1, 1, 1, 5}, // depthwise
		{1, 7, 16, 16, 7, 3, 2, 1, 1, 7},
		{1, 4, 17, 16, 4, 3, 2, 1, 1, 4},
		{1, 3, 7, 7, 3, 3, 1, 0, 1, 3},
		{1, 3, 8, 9, 3, 3, 2, 0, 1, 3},
		{1, 2, 5, 5, 2, 3, 1, 2, 1, 2},
		{1, 4, 9, 9, 8, 3, 1, 1, 1, 4}, // channel multiplier: not the direct kernel
		{1, 4, 9, 9, 4, 3, 3, 1, 1, 4}, // stride 3: GEMM path
		{1, 3, 1, 40, 5, 1, 1, 0, 1, 1},
		{1, 32, 30, 30, 13, 3, 1, 1, 1, 1},
	}
	acts := []asm.ConvAct{asm.ConvActNone(), {Lo: 0, Hi: float32(math.Inf(1))}, {Lo: 0, Hi: 6}, {Leaky: true, Alpha: 0.2}}
	r := rand.New(rand.NewSource(1))
	for i, c := range cases {
		for _, threads := range []int{1, 2, 3} {
			for ai, act := range acts {
				withBias := (i+ai)%3 != 0
				name := fmt.Sprintf("%+v/threads=%d/act=%d/bias=%v", c, threads, ai, withBias)
				a := convAttrs{spatialAttrs: spatialAttrs{
					strides: []int{c.s, c.s}, dilations: []int{c.d, c.d}, pads: []int{c.pad, c.pad, c.pad, c.pad}, autoPad: "NOTSET",
				}, group: c.group}
				p, err := a.plan([]int{c.n, c.c, c.h, c.w}, []int{c.m, c.c / c.group, c.k, c.k})
				if err != nil {
					t.Fatalf("%s: %v", name, err)
				}
				x := make([]float32, c.n*c.c*c.h*c.w)
				for j := range x {
					x[j] = float32(r.NormFloat64())
				}
				w := make([]float32, c.m*c.c/c.group*c.k*c.k)
				for j := range w {
					w[j] = float32(r.NormFloat64())
				}
				var bias []float32
				if withBias {
					bias = make([]float32, c.m)
					for j := range bias {
						bias[j] = float32(r.NormFloat64())
					}
				}
				want := convNaive32(p, x, w, bias, &act)
				got := make([]float32, len(want)+5)
				for j := range got {
					got[j] = float32(math.NaN())
				}
				wk := NewWorkers(threads - 1) // the run's pool, as the runtime makes it
				convRun32(wk, threads, p, x, w, bias, got[:len(want)], &act)
				wk.Close()
				for j := range want {
					if d := math.Abs(float64(got[j] - want[j])); !(d <= 1e-4*(1+math.Abs(float64(want[j])))*math.Sqrt(float64(p.kSize*c.c/c.group))) {
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

// TestConvRun32Shapes covers the geometry the table above does not:
// asymmetric padding, 1-D and 3-D convolutions, against the generic path.
func TestConvRun32Shapes(t *testing.T) {
	type tc struct {
		name   string
		xs, ws []int
		a      convAttrs
	}
	sp := func(s, p, d []int, auto string) spatialAttrs {
		return spatialAttrs{strides: s, pads: p, dilations: d, autoPad: auto}
	}
	cases := []tc{
		{"same_upper", []int{2, 3, 10, 9}, []int{4, 3, 3, 3}, convAttrs{spatialAttrs: sp([]int{2, 2}, nil, nil, "SAME_UPPER"), group: 1}},
		{"same_lower", []int{1, 4, 8, 8}, []int{4, 1, 3, 3}, convAttrs{spatialAttrs: sp([]int{2, 2}, nil, nil, "SAME_LOWER"), group: 4}},
		{"asym", []int{1, 2, 7, 11}, []int{3, 2, 2, 4}, convAttrs{spatialAttrs: sp([]int{1, 3}, []int{0, 2, 1, 1}, nil, "NOTSET"), group: 1}},
		{"depthwise_asym", []int{3, 5, 9, 9}, []int{5, 1, 3, 3}, convAttrs{spatialAttrs: sp([]int{1, 1}, []int{2, 0, 0, 2}, nil, "NOTSET"), group: 5}},
		{"1d", []int{2, 3, 40}, []int{6, 3, 5}, convAttrs{spatialAttrs: sp([]int{2}, []int{2, 1}, []int{2}, "NOTSET"), group: 1}},
		{"1d_stacked", []int{9, 4, 6}, []int{5, 4, 3}, convAttrs{spatialAttrs: sp(nil, nil, nil, "NOTSET"), group: 1}},
		{"3d", []int{2, 3, 5, 6, 7}, []int{4, 3, 2, 3, 2}, convAttrs{spatialAttrs: sp([]int{1, 2, 1}, []int{1, 0, 1, 0, 1, 0}, nil, "NOTSET"), group: 1}},
	}
	r := rand.New(rand.NewSource(2))
	acts := []asm.ConvAct{asm.ConvActNone(), {Lo: 0, Hi: float32(math.Inf(1))}, {Leaky: true, Alpha: 0.3}}
	for _, c := range cases {
		for ai, act := range acts {
			for _, threads := range []int{1, 2} {
				name := fmt.Sprintf("%s/act=%d/threads=%d", c.name, ai, threads)
				p, err := c.a.plan(c.xs, c.ws)
				if err != nil {
					t.Fatalf("%s: %v", name, err)
				}
				x := make([]float32, prod(c.xs))
				for i := range x {
					x[i] = float32(r.NormFloat64())
				}
				w := make([]float32, prod(c.ws))
				for i := range w {
					w[i] = float32(r.NormFloat64())
				}
				bias := make([]float32, p.m)
				for i := range bias {
					bias[i] = float32(r.NormFloat64())
				}
				want := make([]float32, p.n*p.m*p.outSize)
				convRun(nil, 1, p, x, w, bias, want, func(s []float32) {
					for i, v := range s {
						if act.Leaky {
							if v < 0 {
								s[i] = v * act.Alpha
							}
						} else {
							s[i] = min(max(v, act.Lo), act.Hi)
						}
					}
				})
				got := make([]float32, len(want))
				convRun32(nil, threads, p, x, w, bias, got, &act)
				for i := range want {
					if d := math.Abs(float64(got[i] - want[i])); !(d <= 1e-4*(1+math.Abs(float64(want[i])))) {
						t.Fatalf("%s: y[%d] = %v, want %v", name, i, got[i], want[i])
					}
				}
			}
		}
	}
}
