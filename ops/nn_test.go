package ops

import (
	"fmt"
	"math"
	"math/rand"
	"strings"
	"testing"

	"github.com/onyxrt/onyx/tensor"
)

// nnNode builds one node of an NN-family operator and returns its kernel.
// consts marks inputs that are constant at build time.
func nnNode(t testing.TB, op string, opset int, attrs map[string]any, nIn, nOut int, consts map[int]*tensor.Tensor) Kernel {
	t.Helper()
	r := NewRegistry()
	registerNN(r)
	return registryNode(t, r, op, opset, attrs, nIn, nOut, consts)
}

// registryNode builds one node of op (DOMAIN/NAME outside the default
// domain) from the registry r and returns its kernel; attrs values are
// int, float64, string or []int, and consts marks inputs that are
// constant at build time.
func registryNode(t testing.TB, r *Registry, op string, opset int, attrs map[string]any, nIn, nOut int, consts map[int]*tensor.Tensor) Kernel {
	t.Helper()
	domain := ""
	if d, name, ok := strings.Cut(op, "/"); ok {
		domain, op = d, name
	}
	def, err := r.Lookup(domain, op, opset)
	if err != nil {
		t.Fatal(err)
	}
	b := &Builder{OpType: op, Opset: opset, NumInputs: nIn, NumOutputs: nOut, Attrs: map[string]*Attr{}}
	for i := 0; i < nIn; i++ {
		b.InputPresent = append(b.InputPresent, true)
	}
	for i := 0; i < nOut; i++ {
		b.OutputPresent = append(b.OutputPresent, true)
	}
	b.Const = func(i int) *tensor.Tensor { return consts[i] }
	for name, v := range attrs {
		a := &Attr{Name: name}
		switch v := v.(type) {
		case int:
			a.Type, a.Int = AttrInt, int64(v)
		case float64:
			a.Type, a.Float = AttrFloat, float32(v)
		case string:
			a.Type, a.String = AttrString, v
		case []int:
			a.Type = AttrInts
			for _, x := range v {
				a.Ints = append(a.Ints, int64(x))
			}
		default:
			t.Fatalf("attr %s: unsupported %T", name, v)
		}
		b.Attrs[name] = a
	}
	k, err := def.Build(b)
	if err != nil {
		t.Fatalf("%s build: %v", op, err)
	}
	return k
}

// runNN runs op on inputs (nil for omitted) and returns its outputs.
func runNN(t testing.TB, op string, opset int, attrs map[string]any, nOut int, in ...*tensor.Tensor) []*tensor.Tensor {
	t.Helper()
	k := nnNode(t, op, opset, attrs, len(in), nOut, nil)
	out, err := k.Run(&RunContext{Threads: 1}, in)
	if err != nil {
		t.Fatalf("%s run: %v", op, err)
	}
	return out
}

func f32(shape []int, v ...float32) *tensor.Tensor { return tensor.From(shape, v) }

// seq returns n values 0, 1, 2, ... as float32.
func seq(n int) []float32 {
	s := make([]float32, n)
	for i := range s {
		s[i] = float32(i)
	}
	return s
}

func randT(r *rand.Rand, shape ...int) *tensor.Tensor {
	n := 1
	for _, d := range shape {
		n *= d
	}
	s := make([]float32, n)
	for i := range s {
		s[i] = float32(r.Float64()*2 - 1)
	}
	return tensor.From(shape, s)
}

func assertClose(t *testing.T, what string, got *tensor.Tensor, shape []int, want []float64, tol float64) {
	t.Helper()
	if got == nil {
		t.Fatalf("%s: nil output", what)
	}
	if !tensor.ShapeEqual(got.Shape(), shape) {
		t.Fatalf("%s: shape %v, want %v", what, got.Shape(), shape)
	}
	g := got.Float64s()
	for i := range want {
		if math.IsNaN(want[i]) && math.IsNaN(g[i]) {
			continue
		}
		if !(math.Abs(g[i]-want[i]) <= tol*(1+math.Abs(want[i]))) {
			t.Fatalf("%s: element %d = %v, want %v\ngot  %v\nwant %v", what, i, g[i], want[i], g, want)
		}
	}
}

func f64s(v ...float64) []float64 { return v }

// ---- Gemm, MatMul, MatMulInteger (expected values from numpy) ----

func TestGemmOp(t *testing.T) {
	A := f32([]int{2, 3}, 0, 0.5, 1, 1.5, 2, 2.5)
	B := tensor.From([]int{3, 4}, func() []float32 {
		s := seq(12)
		for i := range s {
			s[i] -= 5
		}
		return s
	}())
	AT := f32([]int{3, 2}, 0, 1.5, 0.5, 2, 1, 2.5)
	BT := f32([]int{4, 3}, -5, -1, 3, -4, 0, 4, -3, 1, 5, -2, 2, 6)
	cases := []struct {
		name  string
		opset int
		attrs map[string]any
		in    []*tensor.Tensor
		want  []float64
	}{
		{"alpha beta vector C", 13, map[string]any{"alpha": 0.5, "beta": 2.0}, []*tensor.Tensor{A, B, f32([]int{4}, 1, 2, 3, 4)},
			f64s(3.25, 6, 8.75, 11.5, 1, 6, 11, 16)},
		{"no C (opset 11)", 11, nil, []*tensor.Tensor{A, B},
			f64s(2.5, 4, 5.5, 7, -2, 4, 10, 16)},
		{"transposed, column C", 7, map[string]any{"alpha": 1.5, "beta": -1.0, "transA": 1, "transB": 1}, []*tensor.Tensor{AT, BT, f32([]int{2, 1}, 1, 2)},
			f64s(2.75, 5, 7.25, 9.5, -5, 4, 13, 22)},
		{"scalar C opset 6", 6, map[string]any{"broadcast": 1}, []*tensor.Tensor{A, B, f32(nil, 1)},
			f64s(3.5, 5, 6.5, 8, -1, 5, 11, 17)},
	}
	for _, c := range cases {
		out := runNN(t, "Gemm", c.opset, c.attrs, 1, c.in...)
		assertClose(t, c.name, out[0], []int{2, 4}, c.want, 1e-6)
	}
	// float64, float16 and int32 share the implementation.
	a64, _ := A.Cast(tensor.Float64)
	b64, _ := B.Cast(tensor.Float64)
	assertClose(t, "float64", runNN(t, "Gemm", 13, nil, 1, a64, b64)[0], []int{2, 4}, f64s(2.5, 4, 5.5, 7, -2, 4, 10, 16), 1e-12)
	a16, _ := A.Cast(tensor.Float16)
	b16, _ := B.Cast(tensor.Float16)
	y16 := runNN(t, "Gemm", 13, nil, 1, a16, b16)[0]
	if y16.DType() != tensor.Float16 {
		t.Fatalf("float16 Gemm returned %v", y16.DType())
	}
	assertClose(t, "float16", y16, []int{2, 4}, f64s(2.5, 4, 5.5, 7, -2, 4, 10, 16), 1e-3)
	ai := tensor.From([]int{2, 2}, []int32{1, 2, 3, 4})
	bi := tensor.From([]int{2, 2}, []int32{5, 6, 7, 8})
	ci := tensor.From([]int{2}, []int32{100, 200})
	assertClose(t, "int32", runNN(t, "Gemm", 13, map[string]any{"beta": 2.0}, 1, ai, bi, ci)[0], []int{2, 2}, f64s(219, 422, 243, 450), 0)
}

func TestGemmErrors(t *testing.T) {
	k := nnNode(t, "Gemm", 13, nil, 3, 1, nil)
	bad := [][]*tensor.Tensor{
		{f32([]int{2, 3}, seq(6)...), f32([]int{2, 3}, seq(6)...)},                                 // inner mismatch
		{f32([]int{2, 3}, seq(6)...), f32([]int{3, 2}, seq(6)...), f32([]int{3}, 1, 2, 3)},         // C does not broadcast
		{f32([]int{6}, seq(6)...), f32([]int{3, 2}, seq(6)...)},                                    // rank 1
		{f32([]int{2, 3}, seq(6)...), tensor.From([]int{3, 2}, []float64{1, 2, 3, 4, 5, 6})},       // mixed types
		{tensor.From([]int{1, 1}, []bool{true}), tensor.From([]int{1, 1}, []bool{true})},           // bool
		{f32([]int{2, 3}, seq(6)...), f32([]int{3, 2}, seq(6)...), f32([]int{1, 1, 2}, seq(2)...)}, // C rank 3
	}
	for i, in := range bad {
		if _, err := k.Run(&RunContext{}, in); err == nil {
			t.Errorf("case %d: no error", i)
		}
	}
}

func TestMatMulOp(t *testing.T) {
	a := f32([]int{2, 1, 2, 3}, seq(12)...)
	bv := seq(18)
	for i := range bv {
		bv[i] -= 4
	}
	b := f32([]int{3, 3, 2}, bv...)
	assertClose(t, "batch broadcast", runNN(t, "MatMul", 13, nil, 1, a, b)[0], []int{2, 3, 2, 2},
		f64s(-2, 1, -20, -8, 16, 19, 52, 64, 34, 37, 124, 136, -38, -17, -56, -26, 88, 109, 124, 154, 214, 235, 304, 334), 1e-6)
	assertClose(t, "matrix-vector", runNN(t, "MatMul", 13, nil, 1, b, f32([]int{2}, 1, 2))[0], []int{3, 3},
		f64s(-10, -4, 2, 8, 14, 20, 26, 32, 38), 1e-6)
	w := f32([]int{3}, 1, 2, 3)
	assertClose(t, "vector-matrix", runNN(t, "MatMul", 13, nil, 1, w, b)[0], []int{3, 2}, f64s(-8, -2, 28, 34, 64, 70), 1e-6)
	assertClose(t, "vector-vector", runNN(t, "MatMul", 13, nil, 1, w, w)[0], []int{}, f64s(14), 1e-6)
	// 2-D B with batched A takes the folded single-GEMM path.
	b2 := f32([]int{3, 2}, bv[:6]...)
	assertClose(t, "folded", runNN(t, "MatMul", 13, nil, 1, a, b2)[0], []int{2, 1, 2, 2}, f64s(-2, 1, -20, -8, -38, -17, -56, -26), 1e-6)
	ai := tensor.From([]int{2, 2}, []int64{1, 2, 3, 4})
	assertClose(t, "int64", runNN(t, "MatMul", 13, nil, 1, ai, ai)[0], []int{2, 2}, f64s(7, 10, 15, 22), 0)
	k := nnNode(t, "MatMul", 13, nil, 2, 1, nil)
	for i, in := range [][]*tensor.Tensor{
		{f32([]int{2, 3}, seq(6)...), f32([]int{2, 3}, seq(6)...)},
		{f32([]int{2, 2, 3}, seq(12)...), f32([]int{3, 3, 2}, seq(18)...)},
		{f32(nil, 1), f32([]int{1}, 1)},
	} {
		if _, err := k.Run(&RunContext{}, in); err == nil {
			t.Errorf("bad case %d: no error", i)
		}
	}
}

func TestMatMulIntegerOp(t *testing.T) {
	A := tensor.From([]int{2, 3}, []uint8{11, 7, 3, 10, 6, 2})
	B := tensor.From([]int{3, 2}, []uint8{1, 4, 2, 5, 3, 6})
	y := runNN(t, "MatMulInteger", 10, nil, 1, A, B, tensor.From([]int{2}, []uint8{12, 1}), tensor.From([]int{2}, []uint8{0, 2}))[0]
	if y.DType() != tensor.Int32 {
		t.Fatalf("type %v", y.DType())
	}
	assertClose(t, "per-row/column zero points", y, []int{2, 2}, f64s(-38, -53, 22, 37), 0)
	As := tensor.From([]int{2, 3}, []int8{-1, 2, -3, 4, -5, 6})
	y = runNN(t, "MatMulInteger", 10, nil, 1, As, B)[0]
	assertClose(t, "int8 x uint8, no zero points", y, []int{2, 2}, f64s(-6, -12, 12, 27), 0)
}

// ---- Conv, ConvTranspose, ConvInteger ----

// convNaive is a direct N-D convolution used as the reference.
func convNaive(x []float64, xs []int, w []float64, ws []int, bias []float64, group int, s, d, pb []int, out []int) []float64 {
	n, c, sp := xs[0], xs[1], xs[2:]
	m, ks := ws[0], ws[2:]
	nd := len(sp)
	cg, mg := c/group, m/group
	osz, ksz, isz := prod(out), prod(ks), prod(sp)
	y := make([]float64, n*m*osz)
	ostr, kstr, istr := tensor.Strides(out), tensor.Strides(ks), tensor.Strides(sp)
	for b := 0; b < n; b++ {
		for oc := 0; oc < m; oc++ {
			g := oc / mg
			for o := 0; o < osz; o++ {
				v := 0.0
				if bias != nil {
					v = bias[oc]
				}
				for ci := 0; ci < cg; ci++ {
					for kk := 0; kk < ksz; kk++ {
						off, ok := 0, true
						for i := 0; i < nd; i++ {
							oi := o / ostr[i] % out[i]
							ki := kk / kstr[i] % ks[i]
							xi := oi*s[i] - pb[i] + ki*d[i]
							if xi < 0 || xi >= sp[i] {
								ok = false
								break
							}
							off += xi * istr[i]
						}
						if ok {
							v += x[(b*c+g*cg+ci)*isz+off] * w[(oc*cg+ci)*ksz+kk]
						}
					}
				}
				y[(b*m+oc)*osz+o] = v
			}
		}
	}
	return y
}

func TestConvValues(t *testing.T) {
	xv := make([]float32, 40)
	for i := range xv {
		xv[i] = float32(i%7 - 3)
	}
	wv := make([]float32, 24)
	for i := range wv {
		wv[i] = float32(i%5 - 2)
	}
	X := f32([]int{1, 2, 4, 5}, xv...)
	W := f32([]int{4, 1, 2, 3}, wv...)
	B := f32([]int{4}, 1, -1, 0.5, 0)
	y := runNN(t, "Conv", 11, map[string]any{"group": 2, "strides": []int{2, 1}, "pads": []int{1, 0, 0, 2}, "dilations": []int{1, 2}}, 1, X, W, B)[0]
	assertClose(t, "grouped strided dilated padded", y, []int{1, 4, 2, 3},
		f64s(-6, -1, 2, 10, 4, 4, -6, -5, -5, -5, -8, 12, -3.5, 7.5, 4.5, 0.5, -4.5, -6.5, -3, 3, 2, 15, -4, -2), 1e-6)
	y = runNN(t, "Conv", 1, map[string]any{"pads": []int{1, 1}}, 1, f32([]int{1, 1, 5}, 1, 2, 3, 4, 5), f32([]int{1, 1, 3}, 1, 0, -1))[0]
	assertClose(t, "1-D", y, []int{1, 1, 5}, f64s(-2, -2, -2, -2, 4), 1e-6)
}

func TestConvRandom(t *testing.T) {
	r := rand.New(rand.NewSource(2))
	type tc struct {
		xs, ws           []int
		group            int
		s, d, pads       []int
		autoPad          string
		bias, constW     bool
		float64, float16 bool
	}
	cases := []tc{
		{xs: []int{2, 3, 7}, ws: []int{4, 3, 3}, group: 1, s: []int{2}, d: []int{2}, pads: []int{1, 2}, bias: true},
		{xs: []int{1, 4, 6, 7}, ws: []int{6, 2, 3, 2}, group: 2, s: []int{1, 2}, d: []int{1, 1}, pads: []int{0, 1, 2, 0}},
		{xs: []int{1, 3, 5, 5}, ws: []int{3, 1, 3, 3}, group: 3, s: []int{1, 1}, d: []int{1, 1}, pads: []int{1, 1, 1, 1}, bias: true}, // depthwise
		{xs: []int{2, 5, 4, 6}, ws: []int{7, 5, 1, 1}, group: 1, s: []int{1, 1}, d: []int{1, 1}, pads: []int{0, 0, 0, 0}, bias: true}, // direct 1x1
		{xs: []int{1, 5, 7, 6}, ws: []int{3, 5, 1, 1}, group: 1, s: []int{2, 2}, d: []int{1, 1}, pads: []int{0, 0, 0, 0}},             // strided 1x1
		{xs: []int{1, 2, 4, 5, 6}, ws: []int{3, 2, 2, 3, 2}, group: 1, s: []int{1, 2, 1}, d: []int{2, 1, 1}, pads: []int{1, 0, 1, 0, 1, 1}, bias: true},
		{xs: []int{1, 2, 3, 3, 3, 4}, ws: []int{2, 2, 2, 1, 2, 3}, group: 1, s: []int{1, 1, 1, 1}, d: []int{1, 1, 1, 1}, pads: []int{0, 0, 1, 0, 0, 0, 0, 1}},
		{xs: []int{1, 3, 7, 8}, ws: []int{2, 3, 3, 3}, group: 1, s: []int{2, 3}, d: []int{1, 1}, autoPad: "SAME_UPPER"},
		{xs: []int{1, 3, 7, 8}, ws: []int{2, 3, 3, 4}, group: 1, s: []int{2, 1}, d: []int{1, 2}, autoPad: "SAME_LOWER"},
		{xs: []int{1, 3, 7, 8}, ws: []int{2, 3, 3, 3}, group: 1, s: []int{2, 2}, d: []int{1, 1}, autoPad: "VALID", bias: true},
		{xs: []int{1, 2, 1, 3}, ws: []int{2, 2, 1, 5}, group: 1, s: []int{1, 1}, d: []int{1, 1}, pads: []int{0, 2, 0, 2}}, // kernel wider than input
		// Winograd path: 3x3, stride 1, >= 8 channels, odd and even sizes, pads, groups.
		{xs: []int{2, 8, 7, 9}, ws: []int{9, 8, 3, 3}, group: 1, s: []int{1, 1}, d: []int{1, 1}, pads: []int{1, 1, 1, 1}, bias: true, constW: true},
		{xs: []int{1, 16, 6, 5}, ws: []int{16, 8, 3, 3}, group: 2, s: []int{1, 1}, d: []int{1, 1}, pads: []int{0, 2, 1, 0}, bias: true},
		{xs: []int{1, 10, 3, 3}, ws: []int{8, 10, 3, 3}, group: 1, s: []int{1, 1}, d: []int{1, 1}, pads: []int{0, 0, 0, 0}, constW: true},
		{xs: []int{1, 8, 9, 4}, ws: []int{8, 8, 3, 3}, group: 1, s: []int{1, 1}, d: []int{1, 1}, autoPad: "SAME_UPPER", float64: true, constW: true},
		{xs: []int{1, 8, 5, 6}, ws: []int{8, 8, 3, 3}, group: 1, s: []int{1, 1}, d: []int{1, 1}, pads: []int{1, 1, 1, 1}, float16: true},
		{xs: []int{1, 3, 6, 5}, ws: []int{4, 3, 2, 2}, group: 1, s: []int{1, 1}, d: []int{1, 1}, pads: []int{1, 0, 0, 1}, float64: true, bias: true},
	}
	for i, c := range cases {
		nd := len(c.xs) - 2
		X, W := randT(r, c.xs...), randT(r, c.ws...)
		var B *tensor.Tensor
		if c.bias {
			B = randT(r, c.ws[0])
		}
		attrs := map[string]any{"group": c.group, "strides": c.s, "dilations": c.d}
		pb := make([]int, nd)
		out := make([]int, nd)
		for a := 0; a < nd; a++ {
			ek := (c.ws[a+2]-1)*c.d[a] + 1
			in := c.xs[a+2]
			switch c.autoPad {
			case "SAME_UPPER", "SAME_LOWER":
				out[a] = (in + c.s[a] - 1) / c.s[a]
				total := max(0, (out[a]-1)*c.s[a]+ek-in)
				pb[a] = total / 2
				if c.autoPad == "SAME_LOWER" {
					pb[a] = total - total/2
				}
			case "VALID":
				out[a] = (in-ek)/c.s[a] + 1
			default:
				pb[a] = c.pads[a]
				out[a] = (in+c.pads[a]+c.pads[a+nd]-ek)/c.s[a] + 1
			}
		}
		if c.autoPad != "" {
			attrs["auto_pad"] = c.autoPad
		} else {
			attrs["pads"] = c.pads
		}
		var bias []float64
		if B != nil {
			bias = B.Float64s()
		}
		want := convNaive(X.Float64s(), c.xs, W.Float64s(), c.ws, bias, c.group, c.s, c.d, pb, out)
		in := []*tensor.Tensor{X, W, B}
		tol := 1e-5
		switch {
		case c.float64:
			for j, x := range in {
				if x != nil {
					in[j], _ = x.Cast(tensor.Float64)
				}
			}
			tol = 1e-12
		case c.float16:
			for j, x := range in {
				if x != nil {
					in[j], _ = x.Cast(tensor.Float16)
				}
			}
			h := []*tensor.Tensor{in[0], in[1]}
			want = convNaive(h[0].Float64s(), c.xs, h[1].Float64s(), c.ws, nil, c.group, c.s, c.d, pb, out)
			tol = 4e-3
		}
		if B == nil {
			in = in[:2]
		}
		consts := map[int]*tensor.Tensor{}
		if c.constW {
			consts[1] = in[1]
		}
		k := nnNode(t, "Conv", 11, attrs, len(in), 1, consts)
		for _, budget := range []int{im2colBudget, 1} { // whole image, one output row per band
			saved := im2colBudget
			im2colBudget = budget
			got, err := k.Run(&RunContext{Threads: 1}, in)
			im2colBudget = saved
			if err != nil {
				t.Fatalf("case %d: %v", i, err)
			}
			if got[0].DType() != in[0].DType() {
				t.Fatalf("case %d: output type %v, want %v", i, got[0].DType(), in[0].DType())
			}
			assertClose(t, fmt.Sprintf("case %d budget %d", i, budget), got[0], append([]int{c.xs[0], c.ws[0]}, out...), want, tol)
		}
	}
}

func TestConvErrors(t *testing.T) {
	k := nnNode(t, "Conv", 11, map[string]any{"group": 2}, 3, 1, nil)
	for i, in := range [][]*tensor.Tensor{
		{f32([]int{1, 3, 4, 4}, seq(48)...), f32([]int{2, 1, 3, 3}, seq(18)...)},                         // channels vs group
		{f32([]int{1, 2, 4, 4}, seq(32)...), f32([]int{2, 1, 3}, seq(6)...)},                             // W rank
		{f32([]int{1, 2, 2, 2}, seq(8)...), f32([]int{2, 1, 3, 3}, seq(18)...)},                          // kernel larger than input
		{f32([]int{1, 2, 4, 4}, seq(32)...), f32([]int{2, 1, 3, 3}, seq(18)...), f32([]int{3}, 1, 2, 3)}, // bias length
		{f32([]int{2, 4}, seq(8)...), f32([]int{2, 1}, seq(2)...)},                                       // rank 2 input
	} {
		if _, err := k.Run(&RunContext{}, in); err == nil {
			t.Errorf("case %d: no error", i)
		}
	}
	r := NewRegistry()
	registerNN(r)
	def, _ := r.Lookup("", "Conv", 11)
	for _, attrs := range []map[string]*Attr{
		{"auto_pad": {Name: "auto_pad", Type: AttrString, String: "SAME"}},
		{"strides": {Name: "strides", Type: AttrInts, Ints: []int64{0, 1}}},
		{"pads": {Name: "pads", Type: AttrInts, Ints: []int64{1, 1, 1}}},
		{"group": {Name: "group", Type: AttrInt, Int: 0}},
	} {
		if _, err := def.Build(&Builder{OpType: "Conv", Opset: 11, Attrs: attrs}); err == nil {
			t.Errorf("attrs %v: no build error", attrs)
		}
	}
}

func TestConvInteger(t *testing.T) {
	X := tensor.From([]int{1, 1, 3, 3}, []uint8{2, 3, 4, 5, 6, 7, 8, 9, 10})
	W := tensor.From([]int{1, 1, 2, 2}, []uint8{1, 1, 1, 1})
	y := runNN(t, "ConvInteger", 10, map[string]any{"pads": []int{1, 1, 1, 1}}, 1, X, W, tensor.Scalar(uint8(1)))[0]
	// Padding takes the zero point's value, so it contributes nothing.
	assertClose(t, "padded", y, []int{1, 1, 4, 4}, f64s(1, 3, 5, 3, 5, 12, 16, 9, 11, 24, 28, 15, 7, 15, 17, 9), 0)
	Wi := tensor.From([]int{2, 1, 2, 2}, []int8{1, -1, 2, 0, 3, 3, 3, 3})
	y = runNN(t, "ConvInteger", 10, nil, 1, X, Wi, nil, tensor.From([]int{2}, []int8{0, 2}))[0]
	// channel 0: x00-x01+2x10, channel 1: (3-2)*(sum of window)
	assertClose(t, "per-channel w zero point", y, []int{1, 2, 2, 2}, f64s(9, 11, 15, 17, 16, 20, 28, 32), 0)
}

// convTransposeNaive scatters every input element through the kernel.
func convTransposeNaive(x []float64, xs []int, w []float64, ws []int, bias []float64, group int, s, d, pb []int, out []int) []float64 {
	n, c, sp := xs[0], xs[1], xs[2:]
	mg, ks := ws[1], ws[2:]
	m := mg * group
	nd := len(sp)
	cg := c / group
	osz, ksz, isz := prod(out), prod(ks), prod(sp)
	y := make([]float64, n*m*osz)
	ostr, kstr, istr := tensor.Strides(out), tensor.Strides(ks), tensor.Strides(sp)
	for b := 0; b < n; b++ {
		for oc := 0; oc < m; oc++ {
			for o := 0; o < osz; o++ {
				if bias != nil {
					y[(b*m+oc)*osz+o] = bias[oc]
				}
			}
		}
		for ci := 0; ci < c; ci++ {
			g := ci / cg
			for i := 0; i < isz; i++ {
				xv := x[(b*c+ci)*isz+i]
				for mi := 0; mi < mg; mi++ {
					for kk := 0; kk < ksz; kk++ {
						off, ok := 0, true
						for a := 0; a < nd; a++ {
							ii := i / istr[a] % sp[a]
							ki := kk / kstr[a] % ks[a]
							o := ii*s[a] - pb[a] + ki*d[a]
							if o < 0 || o >= out[a] {
								ok = false
								break
							}
							off += o * ostr[a]
						}
						if ok {
							y[(b*m+g*mg+mi)*osz+off] += xv * w[(ci*mg+mi)*ksz+kk]
						}
					}
				}
			}
		}
	}
	return y
}

func TestConvTranspose(t *testing.T) {
	// Values from the ONNX operator documentation (test_convtranspose).
	X := f32([]int{1, 1, 3, 3}, seq(9)...)
	W := f32([]int{1, 2, 3, 3}, func() []float32 {
		s := make([]float32, 18)
		for i := range s {
			s[i] = 1
		}
		return s
	}()...)
	y := runNN(t, "ConvTranspose", 11, nil, 1, X, W)[0]
	plane := f64s(0, 1, 3, 3, 2, 3, 8, 15, 12, 7, 9, 21, 36, 27, 15, 9, 20, 33, 24, 13, 6, 13, 21, 15, 8)
	assertClose(t, "default", y, []int{1, 2, 5, 5}, append(append([]float64{}, plane...), plane...), 1e-6)
	// output_shape larger than the natural size pads at the end (floor division of a negative total).
	y = runNN(t, "ConvTranspose", 11, map[string]any{"strides": []int{3, 2}, "output_shape": []int{10, 8}}, 1, X, W)[0]
	if !tensor.ShapeEqual(y.Shape(), []int{1, 2, 10, 8}) {
		t.Fatalf("output_shape: got %v", y.Shape())
	}
	assertClose(t, "output_shape row 0", y, []int{1, 2, 10, 8}, f64s(0, 0, 1, 1, 3, 2, 2, 0), 1e-6)

	r := rand.New(rand.NewSource(3))
	type tc struct {
		xs, ws             []int
		group              int
		s, d, pads, outPad []int
		outShape           []int
		autoPad            string
		bias               bool
	}
	for i, c := range []tc{
		{xs: []int{2, 3, 4}, ws: []int{3, 2, 3}, group: 1, s: []int{2}, d: []int{1}, pads: []int{1, 0}, outPad: []int{1}, bias: true},
		{xs: []int{1, 4, 3, 4}, ws: []int{4, 1, 3, 2}, group: 2, s: []int{2, 3}, d: []int{2, 1}, pads: []int{0, 1, 1, 0}},
		{xs: []int{1, 2, 3, 3}, ws: []int{2, 3, 3, 3}, group: 1, s: []int{2, 2}, d: []int{1, 1}, autoPad: "SAME_UPPER", bias: true},
		{xs: []int{1, 2, 3, 3}, ws: []int{2, 3, 3, 3}, group: 1, s: []int{2, 2}, d: []int{1, 1}, autoPad: "SAME_LOWER"},
		{xs: []int{1, 2, 3, 3}, ws: []int{2, 1, 2, 2}, group: 1, s: []int{2, 1}, d: []int{1, 1}, outShape: []int{7, 3}},
		{xs: []int{1, 2, 2, 3, 2}, ws: []int{2, 2, 2, 2, 3}, group: 1, s: []int{1, 2, 2}, d: []int{1, 1, 2}, pads: []int{0, 1, 0, 1, 0, 2}, bias: true},
		{xs: []int{1, 3, 2, 2}, ws: []int{3, 2, 1, 1}, group: 1, s: []int{1, 1}, d: []int{1, 1}, pads: []int{0, 0, 0, 0}},
	} {
		nd := len(c.xs) - 2
		X, W := randT(r, c.xs...), randT(r, c.ws...)
		attrs := map[string]any{"group": c.group, "strides": c.s, "dilations": c.d}
		op := make([]int, nd)
		if c.outPad != nil {
			attrs["output_padding"] = c.outPad
			copy(op, c.outPad)
		}
		pb := make([]int, nd)
		out := make([]int, nd)
		for a := 0; a < nd; a++ {
			full := c.s[a]*(c.xs[a+2]-1) + op[a] + (c.ws[a+2]-1)*c.d[a] + 1
			switch {
			case c.outShape != nil || c.autoPad != "":
				if c.outShape != nil {
					out[a] = c.outShape[a]
				} else {
					out[a] = c.xs[a+2] * c.s[a]
				}
				total := full - out[a]
				pb[a] = total - floorDiv(total, 2)
				if c.autoPad == "SAME_UPPER" {
					pb[a] = floorDiv(total, 2)
				}
			default:
				pb[a] = c.pads[a]
				out[a] = full - c.pads[a] - c.pads[a+nd]
			}
		}
		switch {
		case c.outShape != nil:
			attrs["output_shape"] = c.outShape
		case c.autoPad != "":
			attrs["auto_pad"] = c.autoPad
		default:
			attrs["pads"] = c.pads
		}
		in := []*tensor.Tensor{X, W}
		var bias []float64
		if c.bias {
			B := randT(r, c.ws[1]*c.group)
			in = append(in, B)
			bias = B.Float64s()
		}
		want := convTransposeNaive(X.Float64s(), c.xs, W.Float64s(), c.ws, bias, c.group, c.s, c.d, pb, out)
		y := runNN(t, "ConvTranspose", 11, attrs, 1, in...)[0]
		assertClose(t, fmt.Sprintf("case %d", i), y, append([]int{c.xs[0], c.ws[1] * c.group}, out...), want, 1e-5)
	}
}

// ---- Pooling (expected values from a numpy reference) ----

var poolX = f32([]int{1, 2, 3, 5}, 3, 1, 4, 1, 5, 9, 2, 6, 5, 3, 5, 8, 9, 7, 9, 3, 2, 3, 8, 4, 6, 2, 6, 4, 3, 3, 8, 3, 2, 7)

func TestMaxPool(t *testing.T) {
	attrs := map[string]any{"kernel_shape": []int{2, 3}, "strides": []int{1, 2}, "pads": []int{1, 1, 0, 1}}
	out := runNN(t, "MaxPool", 12, attrs, 2, poolX)
	shape := []int{1, 2, 3, 3}
	assertClose(t, "Y", out[0], shape, f64s(3, 4, 5, 9, 6, 5, 9, 9, 9, 3, 8, 8, 6, 8, 8, 8, 8, 7), 0)
	assertClose(t, "Indices", out[1], shape, f64s(0, 2, 4, 5, 7, 4, 5, 12, 14, 15, 18, 18, 20, 18, 18, 26, 26, 29), 0)
	attrs["storage_order"] = 1
	out = runNN(t, "MaxPool", 12, attrs, 2, poolX)
	assertClose(t, "Indices column-major", out[1], shape, f64s(0, 6, 12, 1, 7, 12, 1, 8, 14, 15, 24, 24, 16, 24, 24, 20, 20, 29), 0)
	out = runNN(t, "MaxPool", 12, map[string]any{"kernel_shape": []int{2, 2}, "strides": []int{2, 2}, "ceil_mode": 1, "dilations": []int{1, 2}}, 1, poolX)
	assertClose(t, "ceil, dilations", out[0], []int{1, 2, 2, 2}, f64s(9, 6, 9, 9, 6, 6, 3, 7), 0)
	// Integer types (opset 12).
	xi, _ := poolX.Cast(tensor.Int8)
	out = runNN(t, "MaxPool", 12, map[string]any{"kernel_shape": []int{2, 3}, "strides": []int{1, 2}, "pads": []int{1, 1, 0, 1}}, 1, xi)
	if out[0].DType() != tensor.Int8 {
		t.Fatalf("int8 MaxPool returned %v", out[0].DType())
	}
	assertClose(t, "int8", out[0], shape, f64s(3, 4, 5, 9, 6, 5, 9, 9, 9, 3, 8, 8, 6, 8, 8, 8, 8, 7), 0)
	// SAME_UPPER: output ceil(in/stride), extra padding at the end.
	out = runNN(t, "MaxPool", 8, map[string]any{"kernel_shape": []int{2, 2}, "strides": []int{2, 2}, "auto_pad": "SAME_UPPER"}, 1, poolX)
	assertClose(t, "SAME_UPPER", out[0], []int{1, 2, 2, 3}, f64s(9, 6, 5, 8, 9, 9, 6, 8, 4, 8, 3, 7), 0)
}

func TestAveragePool(t *testing.T) {
	attrs := map[string]any{"kernel_shape": []int{2, 3}, "strides": []int{1, 2}, "pads": []int{1, 1, 0, 1}}
	shape := []int{1, 2, 3, 3}
	y := runNN(t, "AveragePool", 11, attrs, 1, poolX)[0]
	assertClose(t, "exclude pad", y, shape, f64s(2, 2, 3, 3.75, 19.0/6, 3.5, 6, 37.0/6, 6, 2.5, 13.0/3, 6, 3.25, 25.0/6, 4.75, 4.75, 25.0/6, 4), 1e-6)
	attrs["count_include_pad"] = 1
	y = runNN(t, "AveragePool", 11, attrs, 1, poolX)[0]
	assertClose(t, "include pad", y, shape, f64s(2.0/3, 1, 1, 2.5, 19.0/6, 7.0/3, 4, 37.0/6, 4, 5.0/6, 13.0/6, 2, 13.0/6, 25.0/6, 19.0/6, 19.0/6, 25.0/6, 8.0/3), 1e-6)
	y = runNN(t, "AveragePool", 11, map[string]any{"kernel_shape": []int{2, 2}, "strides": []int{2, 2}, "ceil_mode": 1, "pads": []int{0, 0, 1, 0}, "count_include_pad": 1}, 1, poolX)[0]
	assertClose(t, "ceil, include pad", y, []int{1, 2, 2, 3}, f64s(3.75, 4, 4, 3.25, 4, 4.5, 3.25, 5.25, 3.5, 2.75, 1.25, 3.5), 1e-6)
	y64, _ := poolX.Cast(tensor.Float64)
	y = runNN(t, "AveragePool", 7, map[string]any{"kernel_shape": []int{3, 5}}, 1, y64)[0]
	assertClose(t, "float64 whole plane", y, []int{1, 2, 1, 1}, f64s(77.0/15, 64.0/15), 1e-12)
}

// TestAveragePoolPaths checks AveragePool's separable sums against the
// windows summed one by one: odd and even kernels, strides, asymmetric
// pads with and without count_include_pad, ceil mode, 1-D, and planes
// enough to split over two threads.
func TestAveragePoolPaths(t *testing.T) {
	r := rand.New(rand.NewSource(4))
	for _, c := range []struct {
		shape   []int
		attrs   map[string]any
		k, s    [2]int
		pb, pe  [2]int
		include bool
	}{
		{[]int{2, 16, 64, 64}, map[string]any{"kernel_shape": []int{3, 3}, "pads": []int{1, 1, 1, 1}}, [2]int{3, 3}, [2]int{1, 1}, [2]int{1, 1}, [2]int{1, 1}, false},
		{[]int{2, 16, 64, 64}, map[string]any{"kernel_shape": []int{3, 3}, "pads": []int{1, 1, 1, 1}, "count_include_pad": 1}, [2]int{3, 3}, [2]int{1, 1}, [2]int{1, 1}, [2]int{1, 1}, true},
		{[]int{1, 3, 9, 11}, map[string]any{"kernel_shape": []int{2, 2}, "strides": []int{2, 2}}, [2]int{2, 2}, [2]int{2, 2}, [2]int{}, [2]int{}, false},
		{[]int{1, 3, 13, 10}, map[string]any{"kernel_shape": []int{5, 3}, "strides": []int{2, 1}, "pads": []int{2, 0, 1, 2}, "ceil_mode": 1, "count_include_pad": 1}, [2]int{5, 3}, [2]int{2, 1}, [2]int{2, 0}, [2]int{1, 2}, true},
		{[]int{2, 2, 7, 7}, map[string]any{"kernel_shape": []int{1, 7}}, [2]int{1, 7}, [2]int{1, 1}, [2]int{}, [2]int{}, false},
		{[]int{2, 4, 30}, map[string]any{"kernel_shape": []int{4}, "strides": []int{3}, "pads": []int{2, 1}}, [2]int{1, 4}, [2]int{1, 3}, [2]int{0, 2}, [2]int{0, 1}, false},
		// One window over each whole plane: the global pool.
		{[]int{1, 40, 7, 7}, map[string]any{"kernel_shape": []int{7, 7}}, [2]int{7, 7}, [2]int{1, 1}, [2]int{}, [2]int{}, false},
		{[]int{2, 3, 9}, map[string]any{"kernel_shape": []int{9}}, [2]int{1, 9}, [2]int{1, 1}, [2]int{}, [2]int{}, false},
	} {
		x := make([]float32, prod(c.shape))
		for i := range x {
			x[i] = float32(r.NormFloat64())
		}
		h, w := 1, c.shape[len(c.shape)-1]
		if len(c.shape) == 4 {
			h = c.shape[2]
		}
		for _, threads := range []int{1, 2} {
			name := fmt.Sprintf("%v %v t%d", c.shape, c.attrs, threads)
			k := nnNode(t, "AveragePool", 11, c.attrs, 1, 1, nil)
			wk := NewWorkers(threads - 1)
			out, err := k.Run(&RunContext{Threads: threads, Workers: wk}, []*tensor.Tensor{tensor.From(c.shape, x)})
			wk.Close()
			if err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			ys := out[0].Shape()
			oh, ow := 1, ys[len(ys)-1]
			if len(ys) == 4 {
				oh = ys[2]
			}
			planes := c.shape[0] * c.shape[1]
			want := make([]float64, 0, planes*oh*ow)
			for pl := 0; pl < planes; pl++ {
				for i := 0; i < oh; i++ {
					for j := 0; j < ow; j++ {
						sum, n := 0.0, 0
						for ty := 0; ty < c.k[0]; ty++ {
							for tx := 0; tx < c.k[1]; tx++ {
								yy, xx := i*c.s[0]-c.pb[0]+ty, j*c.s[1]-c.pb[1]+tx
								inside := yy >= 0 && yy < h && xx >= 0 && xx < w
								if inside {
									sum += float64(x[(pl*h+yy)*w+xx])
								}
								if inside || c.include && yy < h+c.pe[0] && xx < w+c.pe[1] {
									n++
								}
							}
						}
						want = append(want, sum/float64(n))
					}
				}
			}
			assertClose(t, name, out[0], ys, want, 1e-6)
		}
	}
}

// TestMaxPoolPaddedPlanes checks MaxPool with padding on 7×7 and
// 112×112 planes, which go whole to the vector kernel from padded copies,
// with a NaN, on one and two threads, against the windows' maxima over
// the input.
func TestMaxPoolPaddedPlanes(t *testing.T) {
	r := rand.New(rand.NewSource(6))
	for _, shape := range [][]int{{16, 128, 7, 7}, {2, 3, 112, 112}} {
		hw := shape[2]
		x := make([]float32, prod(shape))
		for i := range x {
			x[i] = float32(r.NormFloat64())
		}
		x[5] = float32(math.NaN())
		maxPoolCases(t, shape, hw, x, []maxPoolCase{{3, 1, 1, 0}, {2, 2, 1, 1}, {3, 2, 1, 1}})
	}
}

// TestMaxPoolInsidePlanes checks MaxPool without padding, whose planes
// go to asm.MaxPlanes together (but for the last planes, which it would
// read past), on many small planes, planes smaller than the kernel's
// reads past a window, and larger ones, with a NaN in a window, on one
// and two threads; in ceiling mode the last windows are cut and every
// plane goes its own way.
func TestMaxPoolInsidePlanes(t *testing.T) {
	r := rand.New(rand.NewSource(7))
	for _, shape := range [][]int{{64, 64, 11, 11}, {3, 5, 4, 4}, {2, 3, 26, 26}} {
		hw := shape[2]
		x := make([]float32, prod(shape))
		for i := range x {
			x[i] = float32(r.NormFloat64())
		}
		x[len(x)/2+hw+1] = float32(math.NaN())
		maxPoolCases(t, shape, hw, x, []maxPoolCase{{2, 2, 0, 0}, {3, 2, 0, 0}, {3, 1, 0, 0}, {2, 2, 0, 1}})
	}
}

// maxPoolCase is a square MaxPool window of k at stride s with padding
// pad on every side, in ceiling mode when ceil is 1.
type maxPoolCase struct {
	k, s, pad int
	ceil      int
}

// maxPoolCases checks MaxPool on x (planes hw×hw of shape) against the
// windows' maxima for each case, on one and two threads.
func maxPoolCases(t *testing.T, shape []int, hw int, x []float32, cases []maxPoolCase) {
	for _, c := range cases {
		want := []float64(nil)
		o := (hw + 2*c.pad - c.k) / c.s
		if c.ceil == 1 {
			o = (hw + 2*c.pad - c.k + c.s - 1) / c.s
		}
		o++
		if c.ceil == 1 && (o-1)*c.s >= hw+c.pad {
			o-- // the last window must start inside the input or its left padding
		}
		for pl := 0; pl < shape[0]*shape[1]; pl++ {
			for i := 0; i < o; i++ {
				for j := 0; j < o; j++ {
					m := math.Inf(-1)
					for a := 0; a < c.k; a++ {
						for b := 0; b < c.k; b++ {
							yy, xx := i*c.s-c.pad+a, j*c.s-c.pad+b
							if yy >= 0 && yy < hw && xx >= 0 && xx < hw {
								v := float64(x[pl*hw*hw+yy*hw+xx])
								if math.IsNaN(v) || v > m {
									m = v
								}
								if math.IsNaN(m) {
									break
								}
							}
						}
					}
					want = append(want, m)
				}
			}
		}
		for _, threads := range []int{1, 2} {
			attrs := map[string]any{"kernel_shape": []int{c.k, c.k}, "strides": []int{c.s, c.s}, "pads": []int{c.pad, c.pad, c.pad, c.pad}, "ceil_mode": c.ceil}
			k := nnNode(t, "MaxPool", 12, attrs, 1, 1, nil)
			wk := NewWorkers(threads - 1)
			out, err := k.Run(&RunContext{Threads: threads, Workers: wk}, []*tensor.Tensor{tensor.From(shape, x)})
			wk.Close()
			if err != nil {
				t.Fatal(err)
			}
			assertClose(t, fmt.Sprintf("%v %v t%d", shape, c, threads), out[0], []int{shape[0], shape[1], o, o}, want, 0)
		}
	}
}

func TestLpPool(t *testing.T) {
	y := runNN(t, "LpPool", 11, map[string]any{"kernel_shape": []int{2, 2}, "strides": []int{1, 2}}, 1, poolX)[0]
	assertClose(t, "p=2", y, []int{1, 2, 2, 2}, f64s(9.746794344808963, 8.831760866327848, 13.19090595827292, 13.820274961085254, 7.280109889280518, 11.180339887498949, 10.63014581273465, 8.06225774829855), 1e-6)
	x1, _ := poolX.Reshape(1, 2, 15)
	y = runNN(t, "LpPool", 2, map[string]any{"kernel_shape": []int{4}, "strides": []int{3}, "pads": []int{1, 0}, "p": 3}, 1, x1)[0]
	assertClose(t, "p=3 1-D", y, []int{1, 2, 5}, f64s(4.514357435474001, 9.722363112092822, 10.253518522376202, 9.240433254923236, 13.224884189174803, 3.9578916096804053, 9.35609523735209, 7.958114415792783, 8.572618882313394, 9.619001716077046), 1e-6)
}

func TestGlobalPools(t *testing.T) {
	assertClose(t, "avg", runNN(t, "GlobalAveragePool", 1, nil, 1, poolX)[0], []int{1, 2, 1, 1}, f64s(77.0/15, 64.0/15), 1e-6)
	assertClose(t, "max", runNN(t, "GlobalMaxPool", 1, nil, 1, poolX)[0], []int{1, 2, 1, 1}, f64s(9, 8), 0)
	assertClose(t, "lp", runNN(t, "GlobalLpPool", 2, nil, 1, poolX)[0], []int{1, 2, 1, 1}, f64s(22.516660690307617, 18.384777069091797), 1e-6)
	h, _ := poolX.Cast(tensor.Float16)
	y := runNN(t, "GlobalMaxPool", 1, nil, 1, h)[0]
	if y.DType() != tensor.Float16 {
		t.Fatalf("float16 GlobalMaxPool returned %v", y.DType())
	}
	assertClose(t, "max float16", y, []int{1, 2, 1, 1}, f64s(9, 8), 0)
}

func TestMaxRoiPool(t *testing.T) {
	x := f32([]int{1, 1, 4, 4}, seq(16)...)
	rois := f32([]int{2, 5}, 0, 0, 0, 3, 3, 0, 1, 1, 2, 2)
	y := runNN(t, "MaxRoiPool", 1, map[string]any{"pooled_shape": []int{2, 2}}, 1, x, rois)[0]
	// roi 0 covers the whole 4x4 plane in 2x2 bins; roi 1 the centre 2x2.
	assertClose(t, "rois", y, []int{2, 1, 2, 2}, f64s(5, 7, 13, 15, 5, 6, 9, 10), 0)
	if _, err := nnNode(t, "MaxRoiPool", 1, map[string]any{"pooled_shape": []int{2, 2}}, 2, 1, nil).Run(&RunContext{}, []*tensor.Tensor{x, f32([]int{1, 5}, 3, 0, 0, 1, 1)}); err == nil {
		t.Error("batch index out of range: no error")
	}
}

func TestPoolErrors(t *testing.T) {
	k := nnNode(t, "MaxPool", 12, map[string]any{"kernel_shape": []int{2, 2}}, 1, 1, nil)
	for i, in := range [][]*tensor.Tensor{
		{f32([]int{1, 1, 4}, seq(4)...)},                      // kernel rank vs input rank
		{f32([]int{1, 1, 1, 4}, seq(4)...)},                   // kernel larger than input
		{tensor.From([]int{1, 1, 2, 2}, []int32{1, 2, 3, 4})}, // int32 not allowed
	} {
		if _, err := k.Run(&RunContext{}, in); err == nil {
			t.Errorf("case %d: no error", i)
		}
	}
	r := NewRegistry()
	registerNN(r)
	def, _ := r.Lookup("", "AveragePool", 11)
	if _, err := def.Build(&Builder{OpType: "AveragePool", Opset: 11, Attrs: map[string]*Attr{}}); err == nil {
		t.Error("missing kernel_shape: no build error")
	}
}

// ---- Normalizations and Dropout (expected values from numpy) ----

var normX = tensor.From([]int{2, 3, 2, 2}, []float64{3, 1, 4, 1, 5, 9, 2, 6, 5, 3, 5, 8, 9, 7, 9, 3, 2, 3, 8, 4, 6, 2, 6, 4})

func TestBatchNorm(t *testing.T) {
	s, b := tensor.From([]int{3}, []float64{1, 0.5, 2}), tensor.From([]int{3}, []float64{0, 1, -1})
	m, v := tensor.From([]int{3}, []float64{4, 5, 6}), tensor.From([]int{3}, []float64{1, 4, 9})
	want := f64s(-0.9999950000374997, -2.999985000112499, 0.0, -2.999985000112499, 1.0, 1.9999987500023437, 0.25000093749824226, 1.2499996875005859, -1.6666662962966048, -2.999998888889815, -1.6666662962966048, 0.3333325925932098, 4.999975000187499, 2.999985000112499, 4.999975000187499, -0.9999950000374997, 0.25000093749824226, 0.5000006249988281, 1.7499990625017579, 0.7500003124994141, -1.0, -3.6666651851864196, -1.0, -2.3333325925932096)
	for _, opset := range []int{1, 6, 7, 9, 14, 15} {
		y := runNN(t, "BatchNormalization", opset, nil, 1, normX, s, b, m, v)[0]
		assertClose(t, fmt.Sprint("inference opset ", opset), y, []int{2, 3, 2, 2}, want, 1e-12)
	}
	x32, _ := normX.Cast(tensor.Float32)
	y := runNN(t, "BatchNormalization", 15, nil, 1, x32, s, b, m, v)[0] // mixed types (opset 15)
	if y.DType() != tensor.Float32 {
		t.Fatalf("Y type %v", y.DType())
	}
	assertClose(t, "float32 X, float64 params", y, []int{2, 3, 2, 2}, want, 1e-6)

	wantT := f64s(-0.5276534448345471, -1.1770730692462974, -0.20294363262867196, -1.1770730692462974, 1.0252860661767385, 1.8344401838323683, 0.4184204779350159, 1.2275745955906459, -0.8582239869796779, -3.12664019530483, -0.8582239869796779, 2.5444003255080503, 1.4206054284007037, 0.7711858039889534, 1.4206054284007037, -0.5276534448345471, 0.4184204779350159, 0.6207090073489234, 1.632151654418461, 0.8229975367628309, 0.27598411718289806, -4.260848299467407, 0.27598411718289806, -1.9924320911422542)
	out := runNN(t, "BatchNormalization", 15, map[string]any{"training_mode": 1}, 3, normX, s, b, m, v)
	assertClose(t, "training Y", out[0], []int{2, 3, 2, 2}, wantT, 1e-12)
	assertClose(t, "running_mean", out[1], []int{3}, f64s(4.0625, 4.9875, 5.8875), 1e-7)
	assertClose(t, "running_var", out[2], []int{3}, f64s(1.8484375, 4.2109375, 8.4109375), 1e-7)
	out = runNN(t, "BatchNormalization", 9, nil, 5, normX, s, b, m, v)
	assertClose(t, "opset 9 training Y", out[0], []int{2, 3, 2, 2}, wantT, 1e-12)
	assertClose(t, "saved_mean", out[3], []int{3}, f64s(4.625, 4.875, 4.875), 1e-12)
	assertClose(t, "saved_var", out[4], []int{3}, f64s(9.484375, 6.109375, 3.109375), 1e-12)
	if _, err := nnNode(t, "BatchNormalization", 15, nil, 5, 1, nil).Run(&RunContext{}, []*tensor.Tensor{normX, s, b, m, tensor.From([]int{2}, []float64{1, 2})}); err == nil {
		t.Error("short var: no error")
	}
}

// TestBatchNormConst32 checks the float32 inference path of a
// BatchNormalization with constant parameters (asm.ScaleBiasAct), alone
// and as a FusedBatchNorm with each activation, on one and two threads,
// against the formula in float64.
func TestBatchNormConst32(t *testing.T) {
	r := rand.New(rand.NewSource(5))
	const n, c, inner = 2, 5, 128 * 512 // enough to split over two threads
	x := make([]float32, n*c*inner)
	for i := range x {
		x[i] = float32(r.NormFloat64() * 3)
	}
	x[7] = float32(math.NaN())
	ps := make([]*tensor.Tensor, 4)
	for i := range ps {
		v := make([]float32, c)
		for j := range v {
			v[j] = float32(r.NormFloat64())
			if i == 3 {
				v[j] = v[j]*v[j] + 0.1 // a variance
			}
		}
		ps[i] = tensor.From([]int{c}, v)
	}
	consts := map[int]*tensor.Tensor{1: ps[0], 2: ps[1], 3: ps[2], 4: ps[3]}
	for _, tc := range []struct {
		op    string
		attrs map[string]any
		act   func(float64) float64
	}{
		{"BatchNormalization", nil, func(v float64) float64 { return v }},
		{FusedDomain + "/FusedBatchNorm", map[string]any{"activation": "Relu"}, func(v float64) float64 { return math.Max(v, 0) }},
		{FusedDomain + "/FusedBatchNorm", map[string]any{"activation": "Clip", "min": -0.5, "max": 1.5}, func(v float64) float64 { return math.Min(math.Max(v, -0.5), 1.5) }},
		{FusedDomain + "/FusedBatchNorm", map[string]any{"activation": "LeakyRelu", "alpha": 0.2}, func(v float64) float64 {
			if v < 0 {
				return 0.2 * v
			}
			return v
		}},
	} {
		var first []float32
		for _, threads := range []int{1, 2} {
			name := fmt.Sprintf("%s %v t%d", tc.op, tc.attrs, threads)
			r := NewRegistry()
			registerNN(r)
			opset := 15
			if tc.attrs != nil {
				opset = 1
			}
			k := registryNode(t, r, tc.op, opset, tc.attrs, 5, 1, consts)
			wk := NewWorkers(threads - 1)
			out, err := k.Run(&RunContext{Threads: threads, Workers: wk}, append([]*tensor.Tensor{tensor.From([]int{n, c, 128, 512}, x)}, ps...))
			wk.Close()
			if err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			want := make([]float64, len(x))
			for i, v := range x {
				ch := i / inner % c
				p := func(k int) float64 { return float64(ps[k].Float32s()[ch]) }
				want[i] = tc.act((float64(v)-p(2))/math.Sqrt(p(3)+1e-5)*p(0) + p(1))
			}
			assertClose(t, name, out[0], []int{n, c, 128, 512}, want, 1e-5)
			got := out[0].Float32s()
			if first == nil {
				first = got
				continue
			}
			for i := range got {
				if math.Float32bits(got[i]) != math.Float32bits(first[i]) {
					t.Fatalf("%s: element %d = %v, one thread gave %v", name, i, got[i], first[i])
				}
			}
		}
	}
}

func TestInstanceNorm(t *testing.T) {
	s, b := tensor.From([]int{3}, []float64{1, 0.5, 2}), tensor.From([]int{3}, []float64{0, 1, -1})
	y := runNN(t, "InstanceNormalization", 6, nil, 1, normX, s, b)[0]
	assertClose(t, "instance", y, []int{2, 3, 2, 2}, f64s(0.5773485585297644, -0.9622475975496074, 1.3471466365694504, -0.9622475975496074, 0.900000079999904, 1.699999440000672, 0.30000055999932806, 1.099999920000096, -1.2800555775030797, -3.5205001975277184, -1.2800555775030797, 2.0806113525338783, 0.8164959005147592, 0.0, 0.8164959005147592, -1.6329918010295184, 0.506061306131652, 0.7255896145175844, 1.8232311564472465, 0.9451179229035169, 0.809064778260884, -4.0151079637681395, 0.809064778260884, -1.603021592753628), 1e-9)
}

func TestLayerNorm(t *testing.T) {
	x, _ := normX.Reshape(2, 3, 4)
	x32, _ := x.Cast(tensor.Float32)
	sc := make([]float32, 12)
	for i := range sc {
		sc[i] = float32(i) / 10
	}
	out := runNN(t, "LayerNormalization", 17, map[string]any{"axis": 1}, 3, x32, f32([]int{3, 4}, sc...), f32([]int{4}, 1, 2, 3, 4))
	assertClose(t, "Y", out[0], []int{2, 3, 4}, f64s(1.0, 1.8626395526780564, 2.9725279105356113, 3.587918658034169, 1.109888357857555, 2.9615231312536054, 2.4230861212478367, 4.4807615656268025, 1.2197767157151098, 1.505502389641003, 3.2747208946438873, 5.662061412595518, 1.0, 2.0703525902175897, 3.301511100932528, 3.728640009160725, 0.47738075838361804, 1.547733348601208, 3.6633244220515615, 3.648237048912051, 1.2412088807460224, 0.8241067063631407, 3.301511100932528, 3.447229648290365), 1e-6)
	assertClose(t, "Mean", out[1], []int{2, 1, 1}, f64s(4.333333333333333, 5.25), 1e-6)
	assertClose(t, "InvStdDev", out[2], []int{2, 1, 1}, f64s(0.4120813419658309, 0.4020148012433707), 1e-6)
	if out[1].DType() != tensor.Float32 {
		t.Errorf("Mean type %v, want float32", out[1].DType())
	}
	// Only Y requested, default axis -1, no B.
	y := runNN(t, "LayerNormalization", 17, nil, 1, x32, f32([]int{1}, 2))
	if len(y) > 1 && y[1] != nil {
		t.Error("Mean returned though not requested")
	}
	assertClose(t, "axis -1", y[0], []int{2, 3, 4}, f64s(1.154697060585022, -1.9244951009750366, 2.6942931413650513, -1.9244951009750366), 1e-6)
}

func TestLRN(t *testing.T) {
	y := runNN(t, "LRN", 13, map[string]any{"size": 3, "alpha": 0.1, "beta": 0.75, "bias": 2.0}, 1, normX)[0]
	assertClose(t, "size 3", y, []int{2, 3, 2, 2}, f64s(1.2738441752036647, 0.31161954043519124, 1.9168293127388174, 0.4147268378051887, 1.7788966789711016, 2.6782476962001023, 0.7815899427813602, 1.701659977067064, 1.8869762389512343, 0.8972092687327323, 2.211915033671896, 2.2795070569547775, 2.7609430517026445, 2.506267806668604, 2.1294529787057446, 1.3737193050136949, 0.519531644643881, 1.0475923606283744, 1.676556316063402, 1.6093848250480631, 2.432160278652662, 1.0265468900187542, 1.7096302927160831, 1.7260765876304727), 1e-7)
	y = runNN(t, "LRN", 1, map[string]any{"size": 2}, 1, normX)[0]
	assertClose(t, "size 2 (window c..c+1)", y, []int{2, 3, 2, 2}, f64s(2.9961806808351783, 0.9969359902609556, 3.9970026225960043, 0.9986147422133513, 4.990645460925318, 8.969744110278544, 1.9978277558683524, 5.977597988432995, 4.995317621085367, 2.9989878985074925, 4.995317621085367, 7.980853602775654, 8.971418767676036, 6.984813531015395, 8.951370898012103, 2.9971905726512205, 1.9970052403930127, 2.9985383313015643, 7.970130651243994, 3.9952067101587616, 5.991912736485586, 1.999700052490377, 5.991912736485586, 3.9976016787689233), 1e-7)
}

// TestLRNPaths checks LRN's powers (the square-root forms of beta 3/4,
// 1/2 and 1, math.Pow otherwise), window sizes even and odd, float32
// and float64, and a split over two threads, against the formula in
// float64 with math.Pow.
func TestLRNPaths(t *testing.T) {
	shape := []int{2, 7, 5, 3}
	r := rand.New(rand.NewSource(3))
	xs := make([]float64, prod(shape))
	for i := range xs {
		xs[i] = r.NormFloat64() * 3
	}
	for _, c := range []struct {
		size              int
		alpha, beta, bias float64
	}{{5, 1e-4, 0.75, 1}, {3, 0.1, 0.75, 2}, {4, 0.5, 0.5, 1}, {1, 0.3, 1, 0.5}, {6, 0.2, 0.6, 1.5}, {9, 1, 0.75, 1e-3}} {
		for _, dt := range []tensor.DType{tensor.Float32, tensor.Float64} {
			for _, threads := range []int{1, 2} {
				name := fmt.Sprintf("size%d/beta%v/%v/t%d", c.size, c.beta, dt, threads)
				x := tensor.From(shape, xs)
				if dt == tensor.Float32 {
					x32 := make([]float32, len(xs))
					for i, v := range xs {
						x32[i] = float32(v)
					}
					x = tensor.From(shape, x32)
				}
				k := nnNode(t, "LRN", 13, map[string]any{"size": c.size, "alpha": c.alpha, "beta": c.beta, "bias": c.bias}, 1, 1, nil)
				wk := NewWorkers(threads - 1)
				out, err := k.Run(&RunContext{Threads: threads, Workers: wk}, []*tensor.Tensor{x})
				wk.Close()
				if err != nil {
					t.Fatalf("%s: %v", name, err)
				}
				xv := x.Float64s()
				n, ch, inner := shape[0], shape[1], shape[2]*shape[3]
				want := make([]float64, len(xv))
				for img := 0; img < n; img++ {
					for cc := 0; cc < ch; cc++ {
						for e := 0; e < inner; e++ {
							s := 0.0
							for i := max(0, cc-(c.size-1)/2); i <= min(ch-1, cc+c.size-1-(c.size-1)/2); i++ {
								v := xv[(img*ch+i)*inner+e]
								s += v * v
							}
							at := (img*ch+cc)*inner + e
							// The attributes are float32.
							alpha, beta, bias := float64(float32(c.alpha)), float64(float32(c.beta)), float64(float32(c.bias))
							want[at] = xv[at] / math.Pow(bias+alpha/float64(c.size)*s, beta)
						}
					}
				}
				tol := 1e-12
				if dt == tensor.Float32 {
					tol = 1e-6
				}
				assertClose(t, name, out[0], shape, want, tol)
			}
		}
	}
}

func TestMVN(t *testing.T) {
	y := runNN(t, "MeanVarianceNormalization", 13, nil, 1, normX)[0]
	assertClose(t, "default axes", y, []int{2, 3, 2, 2}, f64s(-0.5276537228329948, -1.1770736893966809, -0.20294373955115186, -1.1770736893966809, 0.050572173721957, 1.668881732824581, -1.163159995605011, 0.455149563497613, 0.07088812046063257, -1.0633218069094887, 0.07088812046063257, 1.7722030115158145, 1.4206061768580631, 0.7711862102943771, 1.4206061768580631, -0.5276537228329948, -1.163159995605011, -0.758582605829355, 1.264304343048925, -0.354005216053699, 0.6379930841456932, -1.6304267705945494, 0.6379930841456932, -0.49621684322442805), 1e-9)
	y = runNN(t, "MeanVarianceNormalization", 9, map[string]any{"axes": []int{1}}, 1, normX)[0]
	assertClose(t, "axes [1]", y, []int{2, 3, 2, 2}, f64s(-1.4142135608730917, -0.9805806754024585, 0.26726124169813864, -1.3587324405119767, 0.7071067804365463, 1.3728129455634421, -1.3363062084906925, 0.3396831101279942), 1e-9)
}

func TestDropout(t *testing.T) {
	x := f32([]int{2, 4}, 1, -2, 3, -4, 5, -6, 7, -8)
	// Inference: the input and an all-true mask.
	for _, opset := range []int{1, 7, 10, 12, 13} {
		out := runNN(t, "Dropout", opset, map[string]any{"ratio": 0.3}, 2, x)
		assertClose(t, "inference", out[0], []int{2, 4}, x.Float64s(), 0)
		assertClose(t, "mask", out[1], []int{2, 4}, f64s(1, 1, 1, 1, 1, 1, 1, 1), 0)
		if want := tensor.Bool; opset < 10 {
			if out[1].DType() != tensor.Float32 {
				t.Errorf("opset %d mask type %v", opset, out[1].DType())
			}
		} else if out[1].DType() != want {
			t.Errorf("opset %d mask type %v", opset, out[1].DType())
		}
	}
	// Training with a seed reproduces np.random.seed(s); uniform(size) >= ratio.
	yes := tensor.Scalar(true)
	out := runNN(t, "Dropout", 13, map[string]any{"seed": 0}, 2, x, f32(nil, 0.5), yes)
	assertClose(t, "seed 0 mask", out[1], []int{2, 4}, f64s(1, 1, 1, 1, 0, 1, 0, 1), 0)
	assertClose(t, "seed 0 output", out[0], []int{2, 4}, f64s(2, -4, 6, -8, 0, -12, 0, -16), 0)
	out = runNN(t, "Dropout", 12, map[string]any{"seed": 42}, 2, x, tensor.Scalar(0.3), yes)
	assertClose(t, "seed 42 mask", out[1], []int{2, 4}, f64s(1, 1, 1, 1, 0, 0, 0, 1), 0)
	assertClose(t, "seed 42 output", out[0], []int{2, 4}, f64s(1/0.7, -2/0.7, 3/0.7, -4/0.7, 0, 0, 0, -8/0.7), 1e-6)
	// Without a seed the mask is random but the kept values are scaled.
	out = runNN(t, "Dropout", 13, nil, 2, x, f32(nil, 0.25), yes)
	m, y := tensor.Data[bool](out[1]), out[0].Float64s()
	for i, v := range x.Float64s() {
		if w := map[bool]float64{true: v / 0.75, false: 0}[m[i]]; math.Abs(y[i]-w) > 1e-6 {
			t.Fatalf("unseeded: y[%d]=%v with mask %v, want %v", i, y[i], m[i], w)
		}
	}
	if _, err := nnNode(t, "Dropout", 13, nil, 3, 1, nil).Run(&RunContext{}, []*tensor.Tensor{x, f32(nil, 1), yes}); err == nil {
		t.Error("ratio 1 in training: no error")
	}
}

// TestPool2DPaths checks the direct 1-D/2-D pooling loops against the
// general N-D tap lists, by pooling the same data as X[N,C,1,H,W].
func TestPool2DPaths(t *testing.T) {
	r := rand.New(rand.NewSource(4))
	for i := 0; i < 200; i++ {
		h, w := 1+r.Intn(7), 1+r.Intn(9)
		k := []int{1 + r.Intn(3), 1 + r.Intn(4)}
		s := []int{1 + r.Intn(3), 1 + r.Intn(3)}
		d := []int{1 + r.Intn(2), 1 + r.Intn(2)}
		pads := []int{r.Intn(k[0]), r.Intn(k[1]), r.Intn(k[0]), r.Intn(k[1])}
		if (k[0]-1)*d[0]+1 > h+pads[0]+pads[2] || (k[1]-1)*d[1]+1 > w+pads[1]+pads[3] {
			continue
		}
		ceil, cip := r.Intn(2), r.Intn(2)
		X := randT(r, 2, 3, h, w)
		X3, _ := X.Reshape(2, 3, 1, h, w)
		for _, op := range []string{"MaxPool", "AveragePool"} {
			attrs := map[string]any{"kernel_shape": k, "strides": s, "dilations": d, "pads": pads, "ceil_mode": ceil, "count_include_pad": cip}
			attrs3 := map[string]any{"kernel_shape": []int{1, k[0], k[1]}, "strides": []int{1, s[0], s[1]}, "dilations": []int{1, d[0], d[1]},
				"pads": []int{0, pads[0], pads[1], 0, pads[2], pads[3]}, "ceil_mode": ceil, "count_include_pad": cip}
			nOut := 1
			if op == "MaxPool" {
				nOut = 2
				attrs["storage_order"] = r.Intn(2)
				attrs3["storage_order"] = attrs["storage_order"]
			}
			got := runNN(t, op, 19, attrs, nOut, X)
			want := runNN(t, op, 19, attrs3, nOut, X3)
			shape := want[0].Shape()
			name := fmt.Sprintf("%s %dx%d k%v s%v d%v p%v ceil %d cip %d", op, h, w, k, s, d, pads, ceil, cip)
			assertClose(t, name, got[0], append([]int{2, 3}, shape[3:]...), want[0].Float64s(), 1e-6)
			if op == "MaxPool" && attrs["storage_order"] == 0 {
				assertClose(t, name+" indices", got[1], append([]int{2, 3}, shape[3:]...), want[1].Float64s(), 0)
			}
		}
	}
}

func TestRoiAlign(t *testing.T) {
	x := f32([]int{1, 1, 2, 2}, 1, 2, 3, 4)
	roi := f32([]int{1, 4}, 0, 0, 1, 1)
	bi := tensor.From([]int{1}, []int64{0})
	attrs := map[string]any{"sampling_ratio": 1, "coordinate_transformation_mode": "output_half_pixel"}
	assertClose(t, "avg", runNN(t, "RoiAlign", 16, attrs, 1, x, roi, bi)[0], []int{1, 1, 1, 1}, f64s(2.5), 1e-6)
	attrs["mode"] = "max"
	assertClose(t, "max", runNN(t, "RoiAlign", 16, attrs, 1, x, roi, bi)[0], []int{1, 1, 1, 1}, f64s(1), 1e-6)
	assertClose(t, "half_pixel", runNN(t, "RoiAlign", 16, map[string]any{"sampling_ratio": 1}, 1, x, roi, bi)[0], []int{1, 1, 1, 1}, f64s(1), 1e-6)
	// Bilinear sampling of a linear ramp is exact: f(y, x) = 4y + x.
	ramp := f32([]int{1, 1, 4, 4}, seq(16)...)
	y := runNN(t, "RoiAlign", 10, map[string]any{"output_height": 2, "output_width": 2, "sampling_ratio": 2}, 1, ramp, f32([]int{1, 4}, 0, 0, 3, 3), bi)[0]
	assertClose(t, "ramp", y, []int{1, 1, 2, 2}, f64s(3.75, 5.25, 9.75, 11.25), 1e-6)
	if _, err := nnNode(t, "RoiAlign", 16, nil, 3, 1, nil).Run(&RunContext{}, []*tensor.Tensor{x, roi, tensor.From([]int{1}, []int64{1})}); err == nil {
		t.Error("batch index out of range: no error")
	}
}

func TestMaxUnpool(t *testing.T) {
	x := f32([]int{1, 1, 2, 2}, 5, 6, 7, 8)
	idx := tensor.From([]int{1, 1, 2, 2}, []int64{5, 7, 13, 15})
	attrs := map[string]any{"kernel_shape": []int{2, 2}, "strides": []int{2, 2}}
	y := runNN(t, "MaxUnpool", 11, attrs, 1, x, idx)[0]
	assertClose(t, "default shape", y, []int{1, 1, 4, 4}, f64s(0, 0, 0, 0, 0, 5, 0, 6, 0, 0, 0, 0, 0, 7, 0, 8), 0)
	// A larger output_shape keeps the coordinates the indices name.
	y = runNN(t, "MaxUnpool", 11, attrs, 1, x, idx, tensor.From([]int{4}, []int64{1, 1, 5, 5}))[0]
	assertClose(t, "output_shape", y, []int{1, 1, 5, 5}, f64s(0, 0, 0, 0, 0, 0, 5, 0, 6, 0, 0, 0, 0, 0, 0, 0, 7, 0, 8, 0, 0, 0, 0, 0, 0), 0)
	if _, err := nnNode(t, "MaxUnpool", 11, attrs, 2, 1, nil).Run(&RunContext{}, []*tensor.Tensor{x, tensor.From([]int{1, 1, 2, 2}, []int64{5, 7, 13, 16})}); err == nil {
		t.Error("index out of range: no error")
	}
}

// TestNNNoPanic feeds random (often invalid) shapes and attributes to the
// window operators: every run must return a result or an error.
func TestNNNoPanic(t *testing.T) {
	r := rand.New(rand.NewSource(5))
	ints := func(n, lo, hi int) []int {
		s := make([]int, n)
		for i := range s {
			s[i] = lo + r.Intn(hi-lo+1)
		}
		return s
	}
	reg := NewRegistry()
	registerNN(reg)
	okRuns, errRuns := 0, 0
	defer func() { t.Logf("runs: %d ok, %d errors", okRuns, errRuns) }()
	for it := 0; it < 3000; it++ {
		op := []string{"Conv", "ConvTranspose", "MaxPool", "AveragePool", "LpPool", "MaxUnpool", "ConvInteger"}[r.Intn(7)]
		nd := 1 + r.Intn(3)
		xs := append([]int{r.Intn(3), 1 + r.Intn(4)}, ints(nd, 0, 6)...)
		if r.Intn(10) == 0 {
			xs = xs[:1+r.Intn(len(xs))] // wrong rank
		}
		attrs := map[string]*Attr{}
		setInts := func(name string, v []int) {
			a := &Attr{Name: name, Type: AttrInts}
			for _, x := range v {
				a.Ints = append(a.Ints, int64(x))
			}
			attrs[name] = a
		}
		knd := nd
		if r.Intn(8) == 0 {
			knd = 1 + r.Intn(3)
		}
		k := ints(knd, 1, 4)
		if op != "Conv" && op != "ConvTranspose" && op != "ConvInteger" || r.Intn(2) == 0 {
			setInts("kernel_shape", k)
		}
		if r.Intn(2) == 0 {
			setInts("strides", ints(knd, 1, 3))
		}
		if r.Intn(2) == 0 {
			setInts("dilations", ints(knd, 1, 2))
		}
		if r.Intn(2) == 0 {
			setInts("pads", ints(2*knd, 0, 3))
		}
		if r.Intn(4) == 0 {
			attrs["auto_pad"] = &Attr{Name: "auto_pad", Type: AttrString, String: []string{"SAME_UPPER", "SAME_LOWER", "VALID"}[r.Intn(3)]}
		}
		if r.Intn(3) == 0 {
			attrs["ceil_mode"] = &Attr{Name: "ceil_mode", Type: AttrInt, Int: 1}
		}
		if r.Intn(4) == 0 {
			attrs["group"] = &Attr{Name: "group", Type: AttrInt, Int: int64(1 + r.Intn(3))}
		}
		if op == "ConvTranspose" && r.Intn(3) == 0 {
			setInts("output_shape", ints(nd, 0, 9))
		}
		if op == "ConvTranspose" && r.Intn(3) == 0 {
			setInts("output_padding", ints(nd, 0, 2))
		}
		def, err := reg.Lookup("", op, 19)
		if err != nil {
			t.Fatal(err)
		}
		nOut := 1
		if op == "MaxPool" {
			nOut = 2
		}
		b := &Builder{OpType: op, Opset: 19, NumInputs: 3, NumOutputs: nOut, Attrs: attrs,
			InputPresent: []bool{true, true, true}, OutputPresent: []bool{true, nOut > 1}}
		kern, err := def.Build(b)
		if err != nil {
			continue
		}
		X := randT(r, xs...)
		ws := append([]int{1 + r.Intn(4), 1 + r.Intn(4)}, k...)
		W := randT(r, ws...)
		in := []*tensor.Tensor{X, W}
		switch op {
		case "MaxPool", "AveragePool", "LpPool":
			in = in[:1]
		case "MaxUnpool":
			in = []*tensor.Tensor{X, tensor.MustNew(tensor.Int64, xs...)}
		case "ConvInteger":
			xi, _ := X.Cast(tensor.Uint8)
			wi, _ := W.Cast(tensor.Int8)
			in = []*tensor.Tensor{xi, wi}
		default:
			if r.Intn(2) == 0 {
				in = append(in, randT(r, 1+r.Intn(4)))
			}
		}
		func() {
			defer func() {
				if e := recover(); e != nil {
					t.Fatalf("%s X%v W%v attrs %v: panic %v", op, xs, ws, fmtAttrs(attrs), e)
				}
			}()
			if _, err := kern.Run(&RunContext{Threads: 1}, in); err == nil {
				okRuns++
			} else {
				errRuns++
			}
		}()
	}
}

func fmtAttrs(a map[string]*Attr) string {
	s := ""
	for k, v := range a {
		switch v.Type {
		case AttrInts:
			s += fmt.Sprintf("%s=%v ", k, v.Ints)
		case AttrInt:
			s += fmt.Sprintf("%s=%d ", k, v.Int)
		case AttrString:
			s += fmt.Sprintf("%s=%s ", k, v.String)
		}
	}
	return s
}

func TestNNInfer(t *testing.T) {
	r := NewRegistry()
	registerNN(r)
	infer := func(op string, opset int, attrs map[string]any, in ...Meta) []Meta {
		t.Helper()
		def, err := r.Lookup("", op, opset)
		if err != nil {
			t.Fatal(err)
		}
		b := &Builder{OpType: op, Opset: opset, NumInputs: len(in), NumOutputs: 1, Attrs: map[string]*Attr{}}
		for k, v := range attrs {
			a := &Attr{Name: k}
			switch v := v.(type) {
			case int:
				a.Type, a.Int = AttrInt, int64(v)
			case []int:
				a.Type = AttrInts
				for _, x := range v {
					a.Ints = append(a.Ints, int64(x))
				}
			}
			b.Attrs[k] = a
		}
		out, err := InferFor(def)(b, in)
		if err != nil {
			t.Fatalf("%s: %v", op, err)
		}
		return out
	}
	m := func(dt tensor.DType, s ...int) Meta { return Meta{DType: dt, Shape: SymOf(s)} }
	check := func(what string, got Meta, dt tensor.DType, shape ...int) {
		t.Helper()
		if got.DType != dt || got.Shape.String() != SymOf(shape).String() {
			t.Errorf("%s: got %v%v, want %v%v", what, got.DType, got.Shape, dt, shape)
		}
	}
	check("ConvTranspose", infer("ConvTranspose", 11, map[string]any{"strides": []int{2, 2}, "group": 2}, m(tensor.Float32, 1, 4, 3, 5), m(tensor.Float32, 4, 3, 3, 3))[0],
		tensor.Float32, 1, 6, 7, 11)
	check("ConvInteger", infer("ConvInteger", 10, nil, m(tensor.Uint8, 1, 1, 5, 5), m(tensor.Uint8, 2, 1, 3, 3))[0], tensor.Int32, 1, 2, 3, 3)
	check("MatMulInteger", infer("MatMulInteger", 10, nil, m(tensor.Uint8, 2, 4, 3), m(tensor.Int8, 3, 5))[0], tensor.Int32, 2, 4, 5)
	check("RoiAlign", infer("RoiAlign", 16, map[string]any{"output_height": 3, "output_width": 2}, m(tensor.Float32, 1, 8, 9, 9), m(tensor.Float32, 5, 4), m(tensor.Int64, 5))[0],
		tensor.Float32, 5, 8, 3, 2)
	check("MaxUnpool", infer("MaxUnpool", 11, map[string]any{"kernel_shape": []int{2, 2}, "strides": []int{2, 2}}, m(tensor.Float32, 1, 3, 2, 2), m(tensor.Int64, 1, 3, 2, 2))[0],
		tensor.Float32, 1, 3, 4, 4)
	shape := tensor.From([]int{4}, []int64{1, 3, 5, 5})
	check("MaxUnpool output_shape", infer("MaxUnpool", 11, map[string]any{"kernel_shape": []int{2, 2}}, m(tensor.Float32, 1, 3, 2, 2), m(tensor.Int64, 1, 3, 2, 2), MetaOf(shape))[0],
		tensor.Float32, 1, 3, 5, 5)
}

func TestLpNormalization(t *testing.T) {
	tests := []struct {
		name  string
		attrs map[string]any
		x     []float32
		shape []int
		want  []float32
	}{
		{"l2 last axis", nil, []float32{3, 4, 0, 0}, []int{2, 2}, []float32{0.6, 0.8, 0, 0}},
		{"l1 axis 0", map[string]any{"p": 1, "axis": 0}, []float32{1, -2, 3, 2}, []int{2, 2}, []float32{0.25, -0.5, 0.75, 0.5}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := famRun(registerNorm, "LpNormalization", 1, tc.attrs, nil, tensor.From(tc.shape, tc.x))
			if err != nil {
				t.Fatal(err)
			}
			famCheck(t, tc.name, got[0], tensor.From(tc.shape, tc.want), 1e-6)
		})
	}
}
