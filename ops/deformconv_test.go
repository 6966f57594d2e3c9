package ops

import (
	"context"
	"math"
	"math/rand"
	"strings"
	"testing"

	"github.com/onyxrt/onyx/tensor"
)

// dcRun builds op (opset 19) from the default registry and runs it on in
// (nil for an omitted optional input) with the given thread count. attrs
// values are int or []int.
func dcRun(t *testing.T, op string, attrs map[string]any, threads int, in ...*tensor.Tensor) (*tensor.Tensor, error) {
	t.Helper()
	def, err := Default().Lookup("", op, 19)
	if err != nil {
		return nil, err
	}
	present := make([]bool, len(in))
	for i, x := range in {
		present[i] = x != nil
	}
	b := &Builder{OpType: op, Opset: 19, NumInputs: len(in), NumOutputs: 1,
		InputPresent: present, OutputPresent: []bool{true}, Attrs: map[string]*Attr{}}
	for k, v := range attrs {
		a := &Attr{Name: k}
		switch x := v.(type) {
		case int:
			a.Type, a.Int = AttrInt, int64(x)
		case string:
			a.Type, a.String = AttrString, x
		case []int:
			a.Type, a.Ints = AttrInts, make([]int64, len(x))
			for i, e := range x {
				a.Ints[i] = int64(e)
			}
		default:
			t.Fatalf("unsupported attribute type %T", v)
		}
		b.Attrs[k] = a
	}
	k, err := def.Build(b)
	if err != nil {
		return nil, err
	}
	out, err := k.Run(&RunContext{Ctx: context.Background(), Threads: threads}, in)
	if err != nil {
		return nil, err
	}
	return out[0], nil
}

func dcT(t *testing.T, shape []int, data any) *tensor.Tensor {
	t.Helper()
	x, err := tensor.FromSlice(shape, data)
	if err != nil {
		t.Fatal(err)
	}
	return x
}

func dcRand(r *rand.Rand, scale float64, shape ...int) []float64 {
	v := make([]float64, prod(shape))
	for i := range v {
		v[i] = scale * r.NormFloat64()
	}
	return v
}

func dcF32(v []float64) []float32 {
	o := make([]float32, len(v))
	for i, x := range v {
		o[i] = float32(x)
	}
	return o
}

// dcNaive is DeformConv computed straight from the ONNX definition: one
// bilinear sample per (output, input channel, tap), zero outside.
func dcNaive(x, w, off, b, mask []float64, xs, ws []int, group, og int, s, d, pads []int, oh, ow int) []float64 {
	n, c, h, wd := xs[0], xs[1], xs[2], xs[3]
	m, cg, kh, kw := ws[0], ws[1], ws[2], ws[3]
	mg, cpo, taps := m/group, c/og, kh*kw
	px := func(bi, ch, y, xx int) float64 {
		if y < 0 || y >= h || xx < 0 || xx >= wd {
			return 0
		}
		return x[((bi*c+ch)*h+y)*wd+xx]
	}
	y := make([]float64, n*m*oh*ow)
	for bi := range n {
		for oc := range m {
			gi := oc / mg
			for yo := range oh {
				for xo := range ow {
					sum := 0.0
					if b != nil {
						sum = b[oc]
					}
					for cc := range cg {
						ch := gi*cg + cc
						o := ch / cpo
						for i := range kh {
							for j := range kw {
								tp := i*kw + j
								dy := off[(((bi*og+o)*2*taps+2*tp)*oh+yo)*ow+xo]
								dx := off[(((bi*og+o)*2*taps+2*tp+1)*oh+yo)*ow+xo]
								py := float64(yo*s[0]-pads[0]+i*d[0]) + dy
								pxx := float64(xo*s[1]-pads[1]+j*d[1]) + dx
								y0, x0 := int(math.Floor(py)), int(math.Floor(pxx))
								ly, lx := py-float64(y0), pxx-float64(x0)
								v := (1-ly)*(1-lx)*px(bi, ch, y0, x0) + (1-ly)*lx*px(bi, ch, y0, x0+1) +
									ly*(1-lx)*px(bi, ch, y0+1, x0) + ly*lx*px(bi, ch, y0+1, x0+1)
								if mask != nil {
									v *= mask[(((bi*og+o)*taps+tp)*oh+yo)*ow+xo]
								}
								sum += w[((oc*cg+cc)*kh+i)*kw+j] * v
							}
						}
					}
					y[((bi*m+oc)*oh+yo)*ow+xo] = sum
				}
			}
		}
	}
	return y
}

func dcClose(t *testing.T, got *tensor.Tensor, want []float64, tol float64) {
	t.Helper()
	var g []float64
	switch v := got.Data().(type) {
	case []float32:
		for _, e := range v {
			g = append(g, float64(e))
		}
	case []float64:
		g = v
	default:
		t.Fatalf("unexpected dtype %v", got.DType())
	}
	if len(g) != len(want) {
		t.Fatalf("got %d values, want %d", len(g), len(want))
	}
	for i := range g {
		if math.Abs(g[i]-want[i]) > tol*(1+math.Abs(want[i])) {
			t.Fatalf("element %d: got %v, want %v\ngot  %v\nwant %v", i, g[i], want[i], g, want)
		}
	}
}

func mustCast(t *testing.T, x *tensor.Tensor) *tensor.Tensor {
	t.Helper()
	u, err := x.Cast(tensor.Float32)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

// TestDeformConvHand checks cases worked out by hand.
func TestDeformConvHand(t *testing.T) {
	x2x2 := dcT(t, []int{1, 1, 2, 2}, []float32{1, 2, 3, 4})
	// 1×1 kernel over a 2×2 image: output pixel p samples X at p + offset.
	// (0,0)+(0.5,0.25): .375*1 + .125*2 + .375*3 + .125*4 = 2.25
	// (0,1)+(0,0.5) = (0,1.5): .5*2 + .5*0 (outside) = 1
	// (1,0)+(-1.5,0) = (-0.5,0): .5*0 (outside) + .5*1 = 0.5
	// (1,1)+(-2,-2) = (-1,-1): all outside = 0
	off := dcT(t, []int{1, 2, 2, 2}, []float32{0.5, 0, -1.5, -2, 0.25, 0.5, 0, -2})
	// Channels 0-1 (offset group 0) and 2-3 (group 1) of [1,2 | 10,20].
	x12 := dcT(t, []int{1, 2, 1, 2}, []float32{1, 2, 10, 20})
	og2 := dcT(t, []int{1, 4, 1, 2}, []float32{0, 0, 0.5, 0, 0, 0, 0, -0.5})
	cases := []struct {
		name  string
		attrs map[string]any
		in    []*tensor.Tensor
		want  []float64
		shape []int
	}{
		{"fractional offsets", nil,
			[]*tensor.Tensor{x2x2, dcT(t, []int{1, 1, 1, 1}, []float32{2}), off},
			[]float64{4.5, 2, 1, 0}, []int{1, 1, 2, 2}},
		{"mask and bias", nil,
			[]*tensor.Tensor{x2x2, dcT(t, []int{1, 1, 1, 1}, []float32{2}), off,
				dcT(t, []int{1}, []float32{0.5}), dcT(t, []int{1, 1, 2, 2}, []float32{1, 0.5, 2, 1})},
			[]float64{5, 1.5, 2.5, 0.5}, []int{1, 1, 2, 2}},
		{"offset_group 2: channels move apart", map[string]any{"offset_group": 2},
			// pixel 0: ch0 at (0,0.5) = 1.5, ch1 at (0,0) = 10; pixel 1: ch0 at (0,1) = 2, ch1 at (0,0.5) = 15
			[]*tensor.Tensor{x12, dcT(t, []int{1, 2, 1, 1}, []float32{1, 1}), og2},
			[]float64{11.5, 17}, []int{1, 1, 1, 2}},
		{"group 2, offset_group 2", map[string]any{"group": 2, "offset_group": 2},
			[]*tensor.Tensor{x12, dcT(t, []int{2, 1, 1, 1}, []float32{1, 3}), og2},
			[]float64{1.5, 2, 30, 45}, []int{1, 2, 1, 2}},
		{"group 2, one offset group", map[string]any{"group": 2},
			[]*tensor.Tensor{x12, dcT(t, []int{2, 1, 1, 1}, []float32{1, 3}),
				dcT(t, []int{1, 2, 1, 2}, []float32{0, 0, 0.5, 0})},
			[]float64{1.5, 2, 45, 60}, []int{1, 2, 1, 2}},
		{"2×2 kernel, pads 1, stride 2, float64", map[string]any{"pads": []int{1, 1, 1, 1}, "strides": []int{2, 2}},
			// Output 2×2; taps at (2oh-1+i, 2ow-1+j), shifted by +0.5 rows: only rows 0..1 exist.
			// W = [1 0; 0 0] reads tap (0,0) only: (2oh-0.5, 2ow-1).
			// (0,0): (-0.5,-1) -> 0.5*x[0][-1] + ... all column -1 = 0; (0,1): (-0.5,1) = 0.5*2 = 1
			// (1,0): (1.5,-1) = 0; (1,1): (1.5,1) = 0.5*4 = 2
			[]*tensor.Tensor{dcT(t, []int{1, 1, 2, 2}, []float64{1, 2, 3, 4}), dcT(t, []int{1, 1, 2, 2}, []float64{1, 0, 0, 0}),
				dcT(t, []int{1, 8, 2, 2}, []float64{0.5, 0.5, 0.5, 0.5, 0, 0, 0, 0, 0.5, 0.5, 0.5, 0.5, 0, 0, 0, 0,
					0.5, 0.5, 0.5, 0.5, 0, 0, 0, 0, 0.5, 0.5, 0.5, 0.5, 0, 0, 0, 0})},
			[]float64{0, 1, 0, 2}, []int{1, 1, 2, 2}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			y, err := dcRun(t, "DeformConv", c.attrs, 1, c.in...)
			if err != nil {
				t.Fatal(err)
			}
			if !tensor.ShapeEqual(y.Shape(), c.shape) {
				t.Fatalf("shape %v, want %v", y.Shape(), c.shape)
			}
			dcClose(t, y, c.want, 1e-6)
		})
	}
}

// TestDeformConvZeroOffsetIsConv checks that zero offsets and a unit mask
// give the registry's Conv, over pads, strides, dilations and groups.
func TestDeformConvZeroOffsetIsConv(t *testing.T) {
	cases := []struct {
		name   string
		xs, ws []int
		attrs  map[string]any
		mask   bool
	}{
		{"3×3", []int{1, 2, 5, 5}, []int{3, 2, 3, 3}, nil, false},
		{"pads strides dilations", []int{2, 3, 9, 8}, []int{4, 3, 3, 2},
			map[string]any{"pads": []int{1, 2, 0, 1}, "strides": []int{2, 1}, "dilations": []int{2, 3}}, true},
		{"groups and offset groups", []int{1, 4, 6, 6}, []int{6, 2, 3, 3},
			map[string]any{"group": 2, "offset_group": 4, "pads": []int{1, 1, 1, 1}}, true},
		{"1×1 kernel", []int{1, 3, 4, 5}, []int{2, 3, 1, 1}, map[string]any{"strides": []int{2, 2}}, false},
	}
	r := rand.New(rand.NewSource(7))
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			x := dcT(t, c.xs, dcF32(dcRand(r, 1, c.xs...)))
			w := dcT(t, c.ws, dcF32(dcRand(r, 1, c.ws...)))
			b := dcT(t, c.ws[:1], dcF32(dcRand(r, 1, c.ws[0])))
			conv, err := dcRun(t, "Conv", c.attrs, 1, x, w, b)
			if err != nil {
				t.Fatal(err)
			}
			os := conv.Shape()
			og := 1
			if v, ok := c.attrs["offset_group"]; ok {
				og = v.(int)
			}
			taps := c.ws[2] * c.ws[3]
			off := dcT(t, []int{os[0], og * 2 * taps, os[2], os[3]}, make([]float32, os[0]*og*2*taps*os[2]*os[3]))
			var mask *tensor.Tensor
			if c.mask {
				ones := make([]float32, os[0]*og*taps*os[2]*os[3])
				for i := range ones {
					ones[i] = 1
				}
				mask = dcT(t, []int{os[0], og * taps, os[2], os[3]}, ones)
			}
			y, err := dcRun(t, "DeformConv", c.attrs, 1, x, w, off, b, mask)
			if err != nil {
				t.Fatal(err)
			}
			if !tensor.ShapeEqual(y.Shape(), os) {
				t.Fatalf("shape %v, want Conv's %v", y.Shape(), os)
			}
			want := make([]float64, conv.Len())
			for i, v := range conv.Float32s() {
				want[i] = float64(v)
			}
			dcClose(t, y, want, 1e-5)
		})
	}
}

// TestDeformConvRandom checks random offsets and masks against the naive
// definition, in float32, float64 and float16, on one and several threads
// with small im2col bands.
func TestDeformConvRandom(t *testing.T) {
	defer func(v int) { im2colBudget = v }(im2colBudget)
	im2colBudget = 64 // a few output rows per band
	cases := []struct {
		name        string
		xs, ws      []int
		group, og   int
		s, d, pads  []int
		bias, mask  bool
		dtype       tensor.DType
		threads     int
		offsetScale float64
	}{
		{"float32 everything", []int{2, 4, 7, 6}, []int{6, 2, 3, 2}, 2, 2, []int{2, 1}, []int{1, 2}, []int{1, 0, 2, 1}, true, true, tensor.Float32, 1, 1.5},
		{"float64 threads", []int{2, 6, 8, 9}, []int{4, 6, 3, 3}, 1, 3, []int{1, 1}, []int{1, 1}, []int{1, 1, 1, 1}, true, true, tensor.Float64, 4, 2},
		{"float32 far offsets", []int{1, 2, 5, 5}, []int{2, 1, 2, 2}, 2, 1, []int{1, 2}, []int{2, 1}, []int{0, 0, 0, 0}, false, true, tensor.Float32, 3, 6},
		{"float16", []int{1, 2, 4, 4}, []int{2, 2, 3, 3}, 1, 1, []int{1, 1}, []int{1, 1}, []int{1, 1, 1, 1}, true, false, tensor.Float16, 1, 0.8},
	}
	r := rand.New(rand.NewSource(11))
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			oh := (c.xs[2]+c.pads[0]+c.pads[2]-((c.ws[2]-1)*c.d[0]+1))/c.s[0] + 1
			ow := (c.xs[3]+c.pads[1]+c.pads[3]-((c.ws[3]-1)*c.d[1]+1))/c.s[1] + 1
			taps := c.ws[2] * c.ws[3]
			x := dcRand(r, 1, c.xs...)
			w := dcRand(r, 1, c.ws...)
			off := dcRand(r, c.offsetScale, c.xs[0], c.og*2*taps, oh, ow)
			var b, mask []float64
			if c.bias {
				b = dcRand(r, 1, c.ws[0])
			}
			if c.mask {
				mask = dcRand(r, 1, c.xs[0], c.og*taps, oh, ow)
			}
			mk := func(shape []int, v []float64) *tensor.Tensor {
				if v == nil {
					return nil
				}
				tt := dcT(t, shape, v)
				if c.dtype != tensor.Float64 {
					u, err := tt.Cast(c.dtype)
					if err != nil {
						t.Fatal(err)
					}
					// The reference reads the rounded values.
					back, _ := u.Cast(tensor.Float64)
					copy(v, tensor.Data[float64](back))
					tt = u
				}
				return tt
			}
			in := []*tensor.Tensor{mk(c.xs, x), mk(c.ws, w), mk([]int{c.xs[0], c.og * 2 * taps, oh, ow}, off),
				mk(c.ws[:1], b), mk([]int{c.xs[0], c.og * taps, oh, ow}, mask)}
			attrs := map[string]any{"group": c.group, "offset_group": c.og, "strides": c.s, "dilations": c.d,
				"pads": c.pads, "kernel_shape": c.ws[2:]}
			y, err := dcRun(t, "DeformConv", attrs, c.threads, in...)
			if err != nil {
				t.Fatal(err)
			}
			if y.DType() != c.dtype {
				t.Fatalf("dtype %v, want %v", y.DType(), c.dtype)
			}
			want := dcNaive(x, w, off, b, mask, c.xs, c.ws, c.group, c.og, c.s, c.d, c.pads, oh, ow)
			tol := map[tensor.DType]float64{tensor.Float32: 1e-5, tensor.Float64: 1e-12, tensor.Float16: 4e-3}[c.dtype]
			if c.dtype == tensor.Float16 {
				y = mustCast(t, y)
			}
			dcClose(t, y, want, tol)
		})
	}
}

// TestDeformConvErrors checks that bad shapes and attributes fail cleanly.
func TestDeformConvErrors(t *testing.T) {
	f := func(shape ...int) *tensor.Tensor { return dcT(t, shape, make([]float32, prod(shape))) }
	cases := []struct {
		name   string
		attrs  map[string]any
		in     []*tensor.Tensor
		errSub string
	}{
		{"1-D", nil, []*tensor.Tensor{f(1, 1, 4), f(1, 1, 2), f(1, 2, 3)}, "only 2-D"},
		{"offset shape", nil, []*tensor.Tensor{f(1, 1, 3, 3), f(1, 1, 2, 2), f(1, 4, 2, 2)}, "offset has shape"},
		{"mask shape", nil, []*tensor.Tensor{f(1, 1, 3, 3), f(1, 1, 2, 2), f(1, 8, 2, 2), nil, f(1, 2, 2, 2)}, "mask has shape"},
		{"bias shape", nil, []*tensor.Tensor{f(1, 1, 3, 3), f(1, 1, 2, 2), f(1, 8, 2, 2), f(2)}, "bias"},
		{"group", map[string]any{"group": 2}, []*tensor.Tensor{f(1, 3, 3, 3), f(2, 1, 2, 2), f(1, 8, 2, 2)}, "group"},
		{"offset_group", map[string]any{"offset_group": 2}, []*tensor.Tensor{f(1, 3, 3, 3), f(1, 3, 2, 2), f(1, 16, 2, 2)}, "offset_group"},
		{"kernel_shape", map[string]any{"kernel_shape": []int{3, 3}}, []*tensor.Tensor{f(1, 1, 3, 3), f(1, 1, 2, 2), f(1, 8, 2, 2)}, "kernel_shape"},
		{"auto_pad", map[string]any{"auto_pad": "SAME_UPPER"}, []*tensor.Tensor{f(1, 1, 3, 3), f(1, 1, 2, 2), f(1, 8, 2, 2)}, "auto_pad"},
		{"kernel too big", nil, []*tensor.Tensor{f(1, 1, 1, 1), f(1, 1, 2, 2), f(1, 8, 1, 1)}, "does not fit"},
		{"missing offset", nil, []*tensor.Tensor{f(1, 1, 3, 3), f(1, 1, 2, 2)}, ""},
		{"dtype mix", nil, []*tensor.Tensor{f(1, 1, 3, 3), f(1, 1, 2, 2), dcT(t, []int{1, 8, 2, 2}, make([]float64, 32))}, "element types"},
		{"int32", nil, []*tensor.Tensor{dcT(t, []int{1, 1, 2, 2}, make([]int32, 4)), dcT(t, []int{1, 1, 1, 1}, []int32{1}),
			dcT(t, []int{1, 2, 2, 2}, make([]int32, 8))}, "int32"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := dcRun(t, "DeformConv", c.attrs, 1, c.in...)
			if err == nil || !strings.Contains(err.Error(), c.errSub) {
				t.Fatalf("got error %v, want one containing %q", err, c.errSub)
			}
		})
	}
}
