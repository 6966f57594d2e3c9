package ops

import (
	"context"
	"fmt"
	"math"
	"math/rand"
	"strings"
	"testing"

	"github.com/onyxrt/onyx/tensor"
)

// ewCase is one elementwise-family test: run op at opset with attrs on in,
// expect want (or an error containing err).
type ewCase struct {
	name  string
	op    string
	opset int
	attrs map[string]any
	in    []*tensor.Tensor
	want  *tensor.Tensor
	err   string
}

func ewAttrs(m map[string]any) map[string]*Attr {
	out := map[string]*Attr{}
	for k, v := range m {
		a := &Attr{Name: k}
		switch x := v.(type) {
		case int:
			a.Type, a.Int = AttrInt, int64(x)
		case float64:
			a.Type, a.Float = AttrFloat, float32(x)
		case string:
			a.Type, a.String = AttrString, x
		default:
			panic(fmt.Sprintf("attr %s: type %T", k, v))
		}
		out[k] = a
	}
	return out
}

// ewRun builds op from a registry holding only this family and runs it.
func ewRun(op string, opset, threads int, attrs map[string]any, in ...*tensor.Tensor) (*tensor.Tensor, error) {
	r := NewRegistry()
	registerElementwise(r)
	def, err := r.Lookup("", op, opset)
	if err != nil {
		return nil, err
	}
	present := make([]bool, len(in))
	for i, t := range in {
		present[i] = t != nil
	}
	b := &Builder{OpType: op, Opset: opset, NumInputs: len(in), NumOutputs: 1,
		InputPresent: present, OutputPresent: []bool{true}, Attrs: ewAttrs(attrs)}
	k, err := def.Build(b)
	if err != nil {
		return nil, err
	}
	outs, err := k.Run(&RunContext{Ctx: context.Background(), Threads: threads}, in)
	if err != nil {
		return nil, err
	}
	return outs[0], nil
}

func ewF32(shape []int, v ...float32) *tensor.Tensor { return tensor.From(shape, v) }
func ewF64(shape []int, v ...float64) *tensor.Tensor { return tensor.From(shape, v) }
func ewI64(shape []int, v ...int64) *tensor.Tensor   { return tensor.From(shape, v) }
func ewI32(shape []int, v ...int32) *tensor.Tensor   { return tensor.From(shape, v) }
func ewI8(shape []int, v ...int8) *tensor.Tensor     { return tensor.From(shape, v) }
func ewU8(shape []int, v ...uint8) *tensor.Tensor    { return tensor.From(shape, v) }
func ewBools(shape []int, v ...bool) *tensor.Tensor  { return tensor.From(shape, v) }
func ewStrs(shape []int, v ...string) *tensor.Tensor { return tensor.From(shape, v) }
func ewF16(shape []int, v ...float32) *tensor.Tensor {
	t, err := ewF32(shape, v...).Cast(tensor.Float16)
	if err != nil {
		panic(err)
	}
	return t
}

// sh is a shape literal.
func ewSh(d ...int) []int { return d }

var (
	ewNaN  = float32(math.NaN())
	ewInf  = float32(math.Inf(1))
	ewNInf = float32(math.Inf(-1))
)

// ewSame reports whether got matches want: same dtype and shape, equal
// values (floats within a relative 2e-6 / absolute 1e-6; NaN equals NaN;
// float16 within its precision).
func ewSame(got, want *tensor.Tensor) error {
	if got.DType() != want.DType() || !tensor.ShapeEqual(got.Shape(), want.Shape()) {
		return fmt.Errorf("got %v%v, want %v%v", got.DType(), got.Shape(), want.DType(), want.Shape())
	}
	tol := 2e-6
	if want.DType() == tensor.Float16 || want.DType() == tensor.BFloat16 {
		tol = 1e-3
	}
	for i := 0; i < want.Len(); i++ {
		g, _ := got.At(i)
		w, _ := want.At(i)
		if gf, ok := g.(float64); ok {
			wf := w.(float64)
			if math.IsNaN(wf) && math.IsNaN(gf) || gf == wf {
				continue
			}
			if math.Abs(gf-wf) <= tol*math.Abs(wf)+1e-6 {
				continue
			}
		} else if g == w {
			continue
		}
		return fmt.Errorf("element %d: got %v, want %v\n got  %v\n want %v", i, g, w, got, want)
	}
	return nil
}

func runEwCases(t *testing.T, cases []ewCase) {
	t.Helper()
	for _, c := range cases {
		name := c.name
		if name == "" {
			name = c.op
		}
		t.Run(fmt.Sprintf("%s_v%d", name, c.opset), func(t *testing.T) {
			for _, threads := range []int{1, 3} {
				got, err := ewRun(c.op, c.opset, threads, c.attrs, c.in...)
				if c.err != "" {
					if err == nil || !strings.Contains(err.Error(), c.err) {
						t.Fatalf("error = %v, want one containing %q", err, c.err)
					}
					return
				}
				if err != nil {
					t.Fatal(err)
				}
				if err := ewSame(got, c.want); err != nil {
					t.Fatal(err)
				}
			}
		})
	}
}

func TestElementwiseArithmetic(t *testing.T) {
	runEwCases(t, []ewCase{
		{op: "Add", opset: 14, in: []*tensor.Tensor{ewF32(ewSh(2, 3), 1, 2, 3, 4, 5, 6), ewF32(ewSh(3), 10, 20, 30)},
			want: ewF32(ewSh(2, 3), 11, 22, 33, 14, 25, 36)},
		{name: "Add_outer", op: "Add", opset: 14, in: []*tensor.Tensor{ewF32(ewSh(2, 1), 1, 2), ewF32(ewSh(1, 3), 10, 20, 30)},
			want: ewF32(ewSh(2, 3), 11, 21, 31, 12, 22, 32)},
		{name: "Add_scalar", op: "Add", opset: 7, in: []*tensor.Tensor{ewF32(nil, 1), ewF32(ewSh(2), 1, 2)},
			want: ewF32(ewSh(2), 2, 3)},
		{name: "Add_uint8_wraps", op: "Add", opset: 14, in: []*tensor.Tensor{ewU8(ewSh(2), 250, 1), ewU8(ewSh(2), 10, 2)},
			want: ewU8(ewSh(2), 4, 3)},
		{name: "Add_float16", op: "Add", opset: 13, in: []*tensor.Tensor{ewF16(ewSh(2), 1.5, -2), ewF16(ewSh(1), 0.25)},
			want: ewF16(ewSh(2), 1.75, -1.75)},
		{name: "Add_empty", op: "Add", opset: 14, in: []*tensor.Tensor{ewF32(ewSh(0, 3)), ewF32(ewSh(3), 1, 2, 3)},
			want: ewF32(ewSh(0, 3))},
		{name: "Add_bad_shapes", op: "Add", opset: 14, in: []*tensor.Tensor{ewF32(ewSh(2), 1, 2), ewF32(ewSh(3), 1, 2, 3)},
			err: "not broadcastable"},
		{name: "Add_mixed_types", op: "Add", opset: 14, in: []*tensor.Tensor{ewF32(ewSh(1), 1), ewF64(ewSh(1), 1)},
			err: "differ"},
		{name: "Add_legacy_axis", op: "Add", opset: 6, attrs: map[string]any{"broadcast": 1, "axis": 0},
			in:   []*tensor.Tensor{ewF64(ewSh(2, 3), 1, 2, 3, 4, 5, 6), ewF64(ewSh(2), 10, 20)},
			want: ewF64(ewSh(2, 3), 11, 12, 13, 24, 25, 26)},
		{name: "Add_legacy_suffix", op: "Add", opset: 1, attrs: map[string]any{"broadcast": 1},
			in:   []*tensor.Tensor{ewF32(ewSh(2, 3), 1, 2, 3, 4, 5, 6), ewF32(ewSh(3), 10, 20, 30)},
			want: ewF32(ewSh(2, 3), 11, 22, 33, 14, 25, 36)},
		{name: "Add_legacy_size1", op: "Add", opset: 6, attrs: map[string]any{"broadcast": 1, "axis": 0},
			in:   []*tensor.Tensor{ewF32(ewSh(2, 3), 1, 2, 3, 4, 5, 6), ewF32(ewSh(2, 1), 10, 20)},
			want: ewF32(ewSh(2, 3), 11, 12, 13, 24, 25, 26)},
		{name: "Add_legacy_off_numpy", op: "Add", opset: 6,
			in:   []*tensor.Tensor{ewF32(ewSh(2, 3), 1, 2, 3, 4, 5, 6), ewF32(ewSh(3), 10, 20, 30)},
			want: ewF32(ewSh(2, 3), 11, 22, 33, 14, 25, 36)},
		{name: "Add_legacy_misfit", op: "Add", opset: 6, attrs: map[string]any{"broadcast": 1, "axis": 1},
			in: []*tensor.Tensor{ewF32(ewSh(2, 3), 1, 2, 3, 4, 5, 6), ewF32(ewSh(2), 10, 20)}, err: "does not fit"},
		{op: "Sub", opset: 14, in: []*tensor.Tensor{ewI32(ewSh(3), 1, 2, 3), ewI32(nil, 5)}, want: ewI32(ewSh(3), -4, -3, -2)},
		{name: "Sub_scalar_left", op: "Sub", opset: 14, in: []*tensor.Tensor{ewI64(nil, 5), ewI64(ewSh(3), 1, 2, 3)}, want: ewI64(ewSh(3), 4, 3, 2)},
		{op: "Mul", opset: 14, in: []*tensor.Tensor{ewI8(ewSh(2, 2), 1, 2, 3, 4), ewI8(ewSh(2, 1), -1, 2)}, want: ewI8(ewSh(2, 2), -1, -2, 6, 8)},
		{name: "Div_int_truncates", op: "Div", opset: 14, in: []*tensor.Tensor{ewI32(ewSh(4), 7, -7, 7, -7), ewI32(ewSh(4), 2, 2, -2, -2)},
			want: ewI32(ewSh(4), 3, -3, -3, 3)},
		{name: "Div_int_zero", op: "Div", opset: 14, in: []*tensor.Tensor{ewI32(ewSh(1), 7), ewI32(ewSh(1), 0)}, err: "division by zero"},
		{name: "Div_float_zero", op: "Div", opset: 14, in: []*tensor.Tensor{ewF32(ewSh(3), 1, -1, 0), ewF32(ewSh(1), 0)},
			want: ewF32(ewSh(3), ewInf, ewNInf, ewNaN)},
		{name: "Pow_float", op: "Pow", opset: 15, in: []*tensor.Tensor{ewF32(ewSh(3), 1, 2, 3), ewF32(ewSh(3), 4, 5, 6)}, want: ewF32(ewSh(3), 1, 32, 729)},
		{name: "Pow_square", op: "Pow", opset: 15, in: []*tensor.Tensor{ewF32(ewSh(3), -1.5, 2, 3), ewF32(nil, 2)}, want: ewF32(ewSh(3), 2.25, 4, 9)},
		{name: "Pow_sqrt", op: "Pow", opset: 15, in: []*tensor.Tensor{ewF32(ewSh(3), 4, -1, 0), ewF32(nil, 0.5)}, want: ewF32(ewSh(3), 2, ewNaN, 0)},
		{name: "Pow_float_int64", op: "Pow", opset: 15, in: []*tensor.Tensor{ewF32(ewSh(2), 2, 3), ewI64(ewSh(2), 3, -1)}, want: ewF32(ewSh(2), 8, 1.0/3)},
		{name: "Pow_int_float", op: "Pow", opset: 15, in: []*tensor.Tensor{ewI32(ewSh(3), 1, 2, 3), ewF32(ewSh(3), 4, 5, 0.5)}, want: ewI32(ewSh(3), 1, 32, 1)},
		{name: "Pow_int_int_exact", op: "Pow", opset: 15, in: []*tensor.Tensor{ewI64(ewSh(3), 3, 2, -1), ewI64(ewSh(3), 39, -1, -3)},
			want: ewI64(ewSh(3), 4052555153018976267, 0, -1)},
		{name: "Pow_legacy", op: "Pow", opset: 1, attrs: map[string]any{"broadcast": 1},
			in: []*tensor.Tensor{ewF32(ewSh(2, 2), 1, 2, 3, 4), ewF32(ewSh(2), 2, 3)}, want: ewF32(ewSh(2, 2), 1, 8, 9, 64)},
		{name: "Mod_python", op: "Mod", opset: 13, in: []*tensor.Tensor{ewI8(ewSh(6), -4, 7, 5, 4, -7, 8), ewI8(ewSh(6), 2, -3, 8, -2, 3, 5)},
			want: ewI8(ewSh(6), 0, -2, 5, 0, 2, 3)},
		{name: "Mod_fmod_int", op: "Mod", opset: 13, attrs: map[string]any{"fmod": 1},
			in:   []*tensor.Tensor{ewI64(ewSh(6), -4, 7, 5, 4, -7, 8), ewI64(ewSh(6), 2, -3, 8, -2, 3, 5)},
			want: ewI64(ewSh(6), 0, 1, 5, 0, -1, 3)},
		{name: "Mod_fmod_float", op: "Mod", opset: 13, attrs: map[string]any{"fmod": 1},
			in: []*tensor.Tensor{ewF64(ewSh(2), -4.5, 7.5), ewF64(ewSh(2), 2, -2)}, want: ewF64(ewSh(2), -0.5, 1.5)},
		{name: "Mod_float_numpy", op: "Mod", opset: 13,
			in: []*tensor.Tensor{ewF64(ewSh(2), -4.5, 7.5), ewF64(ewSh(2), 2, -2)}, want: ewF64(ewSh(2), 1.5, -0.5)},
		{name: "Mod_uint_bcast", op: "Mod", opset: 10, in: []*tensor.Tensor{ewU8(ewSh(3), 10, 20, 30), ewU8(ewSh(1), 7)}, want: ewU8(ewSh(3), 3, 6, 2)},
		{name: "Mod_zero", op: "Mod", opset: 13, in: []*tensor.Tensor{ewI32(ewSh(1), 7), ewI32(ewSh(1), 0)}, err: "division by zero"},
		{name: "Mod_bad_fmod", op: "Mod", opset: 13, attrs: map[string]any{"fmod": 2}, in: []*tensor.Tensor{ewI32(ewSh(1), 7), ewI32(ewSh(1), 1)}, err: "fmod"},
		{name: "BitShift_left", op: "BitShift", opset: 11, attrs: map[string]any{"direction": "LEFT"},
			in: []*tensor.Tensor{ewU8(ewSh(3), 16, 4, 1), ewU8(ewSh(3), 1, 2, 3)}, want: ewU8(ewSh(3), 32, 16, 8)},
		{name: "BitShift_right", op: "BitShift", opset: 11, attrs: map[string]any{"direction": "RIGHT"},
			in: []*tensor.Tensor{ewU8(ewSh(3), 16, 4, 255), ewU8(ewSh(1), 2)}, want: ewU8(ewSh(3), 4, 1, 63)},
		{name: "BitShift_wide", op: "BitShift", opset: 11, attrs: map[string]any{"direction": "LEFT"},
			in: []*tensor.Tensor{ewU8(ewSh(1), 1), ewU8(ewSh(1), 9)}, want: ewU8(ewSh(1), 0)},
		{name: "BitShift_bad_dir", op: "BitShift", opset: 11, attrs: map[string]any{"direction": "UP"},
			in: []*tensor.Tensor{ewU8(ewSh(1), 1), ewU8(ewSh(1), 9)}, err: "direction"},
		{op: "BitwiseAnd", opset: 18, in: []*tensor.Tensor{ewI32(ewSh(2), 12, -1), ewI32(ewSh(2), 10, 7)}, want: ewI32(ewSh(2), 8, 7)},
		{op: "BitwiseOr", opset: 18, in: []*tensor.Tensor{ewU8(ewSh(2), 12, 1), ewU8(ewSh(1), 10)}, want: ewU8(ewSh(2), 14, 11)},
		{op: "BitwiseXor", opset: 18, in: []*tensor.Tensor{ewI64(ewSh(2), 12, 1), ewI64(ewSh(2), 10, 1)}, want: ewI64(ewSh(2), 6, 0)},
		{name: "BitwiseAnd_float", op: "BitwiseAnd", opset: 18, in: []*tensor.Tensor{ewF32(ewSh(1), 1), ewF32(ewSh(1), 1)}, err: "unsupported element type"},
		{op: "BitwiseNot", opset: 18, in: []*tensor.Tensor{ewU8(ewSh(2), 0, 15)}, want: ewU8(ewSh(2), 255, 240)},
	})
}

func TestElementwiseVariadic(t *testing.T) {
	runEwCases(t, []ewCase{
		{op: "Sum", opset: 13, in: []*tensor.Tensor{ewF32(ewSh(3), 3, 0, 2), ewF32(ewSh(3), 1, 3, 4), ewF32(ewSh(3), 2, 6, 6)}, want: ewF32(ewSh(3), 6, 9, 12)},
		{name: "Sum_one", op: "Sum", opset: 13, in: []*tensor.Tensor{ewF32(ewSh(3), 3, 0, 2)}, want: ewF32(ewSh(3), 3, 0, 2)},
		{name: "Sum_bcast", op: "Sum", opset: 8, in: []*tensor.Tensor{ewF32(ewSh(2, 1), 1, 2), ewF32(ewSh(3), 10, 20, 30), ewF32(nil, 100)},
			want: ewF32(ewSh(2, 3), 111, 121, 131, 112, 122, 132)},
		{op: "Mean", opset: 13, in: []*tensor.Tensor{ewF32(ewSh(3), 3, 0, 2), ewF32(ewSh(3), 1, 3, 4), ewF32(ewSh(3), 2, 6, 6)}, want: ewF32(ewSh(3), 2, 3, 4)},
		{name: "Mean_float16", op: "Mean", opset: 13, in: []*tensor.Tensor{ewF16(ewSh(2), 1, 2), ewF16(ewSh(2), 2, 3)}, want: ewF16(ewSh(2), 1.5, 2.5)},
		{op: "Max", opset: 13, in: []*tensor.Tensor{ewF32(ewSh(3), 3, 2, 1), ewF32(ewSh(3), 1, 4, 4), ewF32(ewSh(3), 2, 5, 3)}, want: ewF32(ewSh(3), 3, 5, 4)},
		{name: "Max_nan", op: "Max", opset: 13, in: []*tensor.Tensor{ewF32(ewSh(3), ewNaN, 2, 1), ewF32(ewSh(3), 1, ewNaN, 4)}, want: ewF32(ewSh(3), ewNaN, ewNaN, 4)},
		{name: "Max_uint8", op: "Max", opset: 13, in: []*tensor.Tensor{ewU8(ewSh(3), 3, 2, 1), ewU8(ewSh(3), 1, 4, 4)}, want: ewU8(ewSh(3), 3, 4, 4)},
		{op: "Min", opset: 13, in: []*tensor.Tensor{ewI64(ewSh(3), 3, 2, 1), ewI64(ewSh(1), 2)}, want: ewI64(ewSh(3), 2, 2, 1)},
		{name: "Min_nan", op: "Min", opset: 13, in: []*tensor.Tensor{ewF64(ewSh(2), 1, math.NaN()), ewF64(ewSh(2), math.NaN(), 0)}, want: ewF64(ewSh(2), math.NaN(), math.NaN())},
		{name: "Sum_mixed", op: "Sum", opset: 13, in: []*tensor.Tensor{ewF32(ewSh(1), 1), ewF64(ewSh(1), 1)}, err: "differ"},
	})
}

func TestElementwiseUnary(t *testing.T) {
	x := ewF32(ewSh(7), -3, -1, -0.5, 0, 0.5, 1, 3)
	runEwCases(t, []ewCase{
		{op: "Neg", opset: 13, in: []*tensor.Tensor{ewI8(ewSh(3), -3, 0, 5)}, want: ewI8(ewSh(3), 3, 0, -5)},
		{op: "Abs", opset: 13, in: []*tensor.Tensor{ewF32(ewSh(3), -3, float32(math.Copysign(0, -1)), 5)}, want: ewF32(ewSh(3), 3, 0, 5)},
		{name: "Abs_int", op: "Abs", opset: 13, in: []*tensor.Tensor{ewI64(ewSh(2), -3, 4)}, want: ewI64(ewSh(2), 3, 4)},
		{op: "Reciprocal", opset: 13, in: []*tensor.Tensor{ewF32(ewSh(3), 2, -4, 0)}, want: ewF32(ewSh(3), 0.5, -0.25, ewInf)},
		{op: "Floor", opset: 13, in: []*tensor.Tensor{ewF32(ewSh(3), -1.5, 1.2, 2)}, want: ewF32(ewSh(3), -2, 1, 2)},
		{op: "Ceil", opset: 13, in: []*tensor.Tensor{ewF32(ewSh(3), -1.5, 1.2, 2)}, want: ewF32(ewSh(3), -1, 2, 2)},
		{op: "Round", opset: 11, in: []*tensor.Tensor{ewF32(ewSh(8), 0.5, 1.5, 2.5, -0.5, -1.5, 2.3, 2.7, -2.7)}, want: ewF32(ewSh(8), 0, 2, 2, 0, -2, 2, 3, -3)},
		{op: "Sqrt", opset: 13, in: []*tensor.Tensor{ewF32(ewSh(3), 4, 2, -1)}, want: ewF32(ewSh(3), 2, math.Sqrt2, ewNaN)},
		{op: "Exp", opset: 13, in: []*tensor.Tensor{ewF32(ewSh(5), 0, 1, -1, 100, ewNInf)}, want: ewF32(ewSh(5), 1, math.E, 1/math.E, ewInf, 0)},
		{name: "Exp_f64", op: "Exp", opset: 13, in: []*tensor.Tensor{ewF64(ewSh(2), 0, 1)}, want: ewF64(ewSh(2), 1, math.E)},
		{op: "Log", opset: 13, in: []*tensor.Tensor{ewF32(ewSh(3), 1, math.E, 0)}, want: ewF32(ewSh(3), 0, 1, ewNInf)},
		{op: "Sin", opset: 7, in: []*tensor.Tensor{ewF64(ewSh(2), 0, math.Pi/2)}, want: ewF64(ewSh(2), 0, 1)},
		{op: "Atanh", opset: 9, in: []*tensor.Tensor{ewF32(ewSh(2), 0, 0.5)}, want: ewF32(ewSh(2), 0, float32(math.Atanh(0.5)))},
		{op: "Sign", opset: 13, in: []*tensor.Tensor{ewF32(ewSh(4), -5, 0, 2, ewNaN)}, want: ewF32(ewSh(4), -1, 0, 1, ewNaN)},
		{name: "Sign_uint", op: "Sign", opset: 13, in: []*tensor.Tensor{ewU8(ewSh(2), 0, 7)}, want: ewU8(ewSh(2), 0, 1)},
		{name: "Sign_int", op: "Sign", opset: 13, in: []*tensor.Tensor{ewI32(ewSh(3), -7, 0, 7)}, want: ewI32(ewSh(3), -1, 0, 1)},
		{op: "Erf", opset: 13, in: []*tensor.Tensor{x}, want: ewF32(ewSh(7), -0.9999778866767883, -0.8427007794380188, -0.5204998850822449, 0.0, 0.5204998850822449, 0.8427007794380188, 0.9999778866767883)},
		{op: "IsNaN", opset: 13, in: []*tensor.Tensor{ewF32(ewSh(3), ewNaN, ewInf, 1)}, want: ewBools(ewSh(3), true, false, false)},
		{op: "IsInf", opset: 10, in: []*tensor.Tensor{ewF32(ewSh(4), ewNaN, ewInf, ewNInf, 1)}, want: ewBools(ewSh(4), false, true, true, false)},
		{name: "IsInf_neg", op: "IsInf", opset: 10, attrs: map[string]any{"detect_positive": 0}, in: []*tensor.Tensor{ewF64(ewSh(3), math.Inf(1), math.Inf(-1), 1)}, want: ewBools(ewSh(3), false, true, false)},
		{name: "Exp_int", op: "Exp", opset: 13, in: []*tensor.Tensor{ewI32(ewSh(1), 1)}, err: "unsupported element type"},
	})
}

func TestElementwiseLogic(t *testing.T) {
	runEwCases(t, []ewCase{
		{op: "Equal", opset: 13, in: []*tensor.Tensor{ewI32(ewSh(3), 1, 2, 3), ewI32(ewSh(1), 2)}, want: ewBools(ewSh(3), false, true, false)},
		{name: "Equal_nan", op: "Equal", opset: 13, in: []*tensor.Tensor{ewF32(ewSh(2), ewNaN, 1), ewF32(ewSh(2), ewNaN, 1)}, want: ewBools(ewSh(2), false, true)},
		{name: "Equal_string", op: "Equal", opset: 13, in: []*tensor.Tensor{ewStrs(ewSh(2), "a", "b"), ewStrs(nil, "b")}, want: ewBools(ewSh(2), false, true)},
		{name: "Equal_bool", op: "Equal", opset: 13, in: []*tensor.Tensor{ewBools(ewSh(2), true, false), ewBools(ewSh(2, 1), true, false)},
			want: ewBools(ewSh(2, 2), true, false, false, true)},
		{name: "Equal_float16", op: "Equal", opset: 13, in: []*tensor.Tensor{ewF16(ewSh(2), 1, 2), ewF16(ewSh(2), 1, 3)}, want: ewBools(ewSh(2), true, false)},
		{op: "Less", opset: 13, in: []*tensor.Tensor{ewF32(ewSh(3), 1, 2, 3), ewF32(nil, 2)}, want: ewBools(ewSh(3), true, false, false)},
		{op: "Greater", opset: 13, in: []*tensor.Tensor{ewU8(ewSh(3), 1, 2, 3), ewU8(nil, 2)}, want: ewBools(ewSh(3), false, false, true)},
		{op: "LessOrEqual", opset: 16, in: []*tensor.Tensor{ewI64(ewSh(3), 1, 2, 3), ewI64(nil, 2)}, want: ewBools(ewSh(3), true, true, false)},
		{op: "GreaterOrEqual", opset: 16, in: []*tensor.Tensor{ewI64(nil, 2), ewI64(ewSh(3), 1, 2, 3)}, want: ewBools(ewSh(3), true, true, false)},
		{name: "Greater_legacy", op: "Greater", opset: 1, attrs: map[string]any{"broadcast": 1, "axis": 0},
			in: []*tensor.Tensor{ewF32(ewSh(2, 2), 1, 2, 3, 4), ewF32(ewSh(2), 1.5, 3.5)}, want: ewBools(ewSh(2, 2), false, true, false, true)},
		{op: "And", opset: 7, in: []*tensor.Tensor{ewBools(ewSh(4), true, true, false, false), ewBools(ewSh(4), true, false, true, false)}, want: ewBools(ewSh(4), true, false, false, false)},
		{op: "Or", opset: 7, in: []*tensor.Tensor{ewBools(ewSh(4), true, true, false, false), ewBools(ewSh(4), true, false, true, false)}, want: ewBools(ewSh(4), true, true, true, false)},
		{op: "Xor", opset: 7, in: []*tensor.Tensor{ewBools(ewSh(2, 2), true, true, false, false), ewBools(ewSh(2), true, false)}, want: ewBools(ewSh(2, 2), false, true, true, false)},
		{name: "And_int", op: "And", opset: 7, in: []*tensor.Tensor{ewI32(ewSh(1), 1), ewI32(ewSh(1), 1)}, err: "needs bool"},
		{op: "Not", opset: 1, in: []*tensor.Tensor{ewBools(ewSh(2), true, false)}, want: ewBools(ewSh(2), false, true)},
		{op: "Where", opset: 16, in: []*tensor.Tensor{ewBools(ewSh(2, 2), true, false, true, true), ewI64(ewSh(2, 2), 1, 2, 3, 4), ewI64(ewSh(2, 2), 9, 8, 7, 6)},
			want: ewI64(ewSh(2, 2), 1, 8, 3, 4)},
		{name: "Where_bcast", op: "Where", opset: 9, in: []*tensor.Tensor{ewBools(ewSh(2, 1), true, false), ewF32(ewSh(3), 1, 2, 3), ewF32(nil, 0)},
			want: ewF32(ewSh(2, 3), 1, 2, 3, 0, 0, 0)},
		{name: "Where_string", op: "Where", opset: 16, in: []*tensor.Tensor{ewBools(ewSh(2), true, false), ewStrs(ewSh(1), "x"), ewStrs(ewSh(2), "a", "b")},
			want: ewStrs(ewSh(2), "x", "b")},
		{name: "Where_float16", op: "Where", opset: 16, in: []*tensor.Tensor{ewBools(ewSh(2), true, false), ewF16(ewSh(2), 1, 2), ewF16(ewSh(2), 3, 4)},
			want: ewF16(ewSh(2), 1, 4)},
		{name: "Where_bad_cond", op: "Where", opset: 16, in: []*tensor.Tensor{ewI32(ewSh(1), 1), ewF32(ewSh(1), 1), ewF32(ewSh(1), 2)}, err: "bool"},
	})
}

func TestElementwiseActivations(t *testing.T) {
	x := ewF32(ewSh(7), -3, -1, -0.5, 0, 0.5, 1, 3)
	in := []*tensor.Tensor{x}
	want := func(v ...float32) *tensor.Tensor { return ewF32(ewSh(7), v...) }
	runEwCases(t, []ewCase{
		{op: "Relu", opset: 14, in: in, want: want(0, 0, 0, 0, 0.5, 1, 3)},
		{name: "Relu_int8", op: "Relu", opset: 14, in: []*tensor.Tensor{ewI8(ewSh(3), -3, 0, 3)}, want: ewI8(ewSh(3), 0, 0, 3)},
		{op: "LeakyRelu", opset: 16, attrs: map[string]any{"alpha": 0.1}, in: in, want: want(-0.30000001192092896, -0.10000000149011612, -0.05000000074505806, 0.0, 0.5, 1.0, 3.0)},
		{op: "Elu", opset: 6, in: in, want: want(-0.9502129554748535, -0.6321205496788025, -0.39346933364868164, 0.0, 0.5, 1.0, 3.0)},
		{op: "Selu", opset: 6, in: in, want: want(-1.6705687046051025, -1.1113307476043701, -0.6917582154273987, 0.0, 0.5253505110740662, 1.0507010221481323, 3.1521029472351074)},
		{op: "Sigmoid", opset: 13, in: in, want: want(0.04742587357759476, 0.2689414322376251, 0.3775406777858734, 0.5, 0.622459352016449, 0.7310585975646973, 0.9525741338729858)},
		{name: "Sigmoid_f64", op: "Sigmoid", opset: 13, in: []*tensor.Tensor{ewF64(ewSh(3), -800, 0, 800)}, want: ewF64(ewSh(3), 0, 0.5, 1)},
		{op: "HardSigmoid", opset: 6, in: in, want: want(0.0, 0.30000001192092896, 0.4000000059604645, 0.5, 0.6000000238418579, 0.699999988079071, 1.0)},
		{op: "HardSwish", opset: 14, in: in, want: want(0, -0.3333333432674408, -0.2083333283662796, 0.0, 0.2916666567325592, 0.6666666865348816, 3.0)},
		{op: "Tanh", opset: 13, in: in, want: want(-0.9950547814369202, -0.7615941762924194, -0.46211716532707214, 0.0, 0.46211716532707214, 0.7615941762924194, 0.9950547814369202)},
		{op: "Softplus", opset: 1, in: in, want: want(0.04858735203742981, 0.3132616877555847, 0.4740769863128662, 0.6931471824645996, 0.9740769863128662, 1.31326162815094, 3.0485873222351074)},
		{op: "Softsign", opset: 1, in: in, want: want(-0.75, -0.5, -0.3333333432674408, 0.0, 0.3333333432674408, 0.5, 0.75)},
		{op: "ThresholdedRelu", opset: 10, attrs: map[string]any{"alpha": 0.5}, in: in, want: want(0, 0, 0, 0, 0, 1, 3)},
		{op: "Celu", opset: 12, attrs: map[string]any{"alpha": 2.0}, in: in, want: want(-1.5537396669387817, -0.7869386672973633, -0.44239842891693115, 0.0, 0.5, 1.0, 3.0)},
		{op: "Shrink", opset: 9, attrs: map[string]any{"lambd": 0.75, "bias": 0.5}, in: in, want: want(-2.5, -0.5, 0, 0, 0, 0.5, 2.5)},
		{name: "Shrink_int", op: "Shrink", opset: 9, attrs: map[string]any{"lambd": 1.5, "bias": 1.0}, in: []*tensor.Tensor{ewI32(ewSh(5), -3, -1, 0, 2, 5)}, want: ewI32(ewSh(5), -2, 0, 0, 1, 4)},
		{op: "Mish", opset: 18, in: in, want: want(-0.14564746618270874, -0.30340147018432617, -0.22074377536773682, 0.0, 0.37524521350860596, 0.8650984168052673, 2.98653507232666)},
		{op: "Gelu", opset: 20, in: in, want: want(-0.004049694165587425, -0.15865525603294373, -0.1542687714099884, 0.0, 0.3457312285900116, 0.8413447737693787, 2.995950222015381)},
		{name: "Gelu_tanh", op: "Gelu", opset: 20, attrs: map[string]any{"approximate": "tanh"}, in: in, want: want(-0.003637392073869705, -0.15880800783634186, -0.1542859971523285, 0.0, 0.3457140028476715, 0.8411920070648193, 2.9963626861572266)},
		{name: "Gelu_bad", op: "Gelu", opset: 20, attrs: map[string]any{"approximate": "fast"}, in: in, err: "approximate"},
		{name: "Tanh_float16", op: "Tanh", opset: 13, in: []*tensor.Tensor{ewF16(ewSh(2), 0, 1)}, want: ewF16(ewSh(2), 0, 0.7615941762924194)},
		{op: "PRelu", opset: 16, in: []*tensor.Tensor{ewF32(ewSh(2, 3), -1, 2, -3, -4, 5, -6), ewF32(ewSh(3), 0.5, 0.25, 2)}, want: ewF32(ewSh(2, 3), -0.5, 2, -6, -2, 5, -12)},
		{name: "PRelu_channel", op: "PRelu", opset: 16, in: []*tensor.Tensor{ewF32(ewSh(1, 2, 2), -1, 2, -3, 4), ewF32(ewSh(2, 1), 0.5, 2)}, want: ewF32(ewSh(1, 2, 2), -0.5, 2, -6, 4)},
		{name: "PRelu_legacy_channel", op: "PRelu", opset: 6, in: []*tensor.Tensor{ewF32(ewSh(1, 2, 2), -1, 2, -3, 4), ewF32(ewSh(2), 0.5, 2)}, want: ewF32(ewSh(1, 2, 2), -0.5, 2, -6, 4)},
		{name: "PRelu_int", op: "PRelu", opset: 16, in: []*tensor.Tensor{ewI32(ewSh(3), -4, 0, 4), ewI32(nil, 3)}, want: ewI32(ewSh(3), -12, 0, 4)},
		{name: "PRelu_grows", op: "PRelu", opset: 16, in: []*tensor.Tensor{ewF32(ewSh(3), -4, 0, 4), ewF32(ewSh(2, 3), 1, 2, 3, 4, 5, 6)}, err: "does not broadcast"},
	})
}

func TestElementwiseClip(t *testing.T) {
	x := ewF32(ewSh(5), -10, -1, 0, 1, 10)
	runEwCases(t, []ewCase{
		{name: "Clip_attrs", op: "Clip", opset: 6, attrs: map[string]any{"min": -2.0, "max": 2.0}, in: []*tensor.Tensor{x}, want: ewF32(ewSh(5), -2, -1, 0, 1, 2)},
		{name: "Clip_v1_min_only", op: "Clip", opset: 1, attrs: map[string]any{"min": 0.5}, in: []*tensor.Tensor{x}, want: ewF32(ewSh(5), 0.5, 0.5, 0.5, 1, 10)},
		{name: "Clip_v6_default", op: "Clip", opset: 6, in: []*tensor.Tensor{ewF64(ewSh(2), -1e300, 1)}, want: ewF64(ewSh(2), -math.MaxFloat32, 1)},
		{name: "Clip_inputs", op: "Clip", opset: 13, in: []*tensor.Tensor{x, ewF32(nil, -5), ewF32(nil, 5)}, want: ewF32(ewSh(5), -5, -1, 0, 1, 5)},
		{name: "Clip_no_min", op: "Clip", opset: 11, in: []*tensor.Tensor{x, nil, ewF32(nil, 0)}, want: ewF32(ewSh(5), -10, -1, 0, 0, 0)},
		{name: "Clip_none", op: "Clip", opset: 11, in: []*tensor.Tensor{x}, want: x},
		{name: "Clip_min_above_max", op: "Clip", opset: 13, in: []*tensor.Tensor{x, ewF32(nil, 3), ewF32(nil, 1)}, want: ewF32(ewSh(5), 1, 1, 1, 1, 1)},
		{name: "Clip_int8", op: "Clip", opset: 12, in: []*tensor.Tensor{ewI8(ewSh(4), -128, -1, 5, 127), ewI8(nil, 0)}, want: ewI8(ewSh(4), 0, 0, 5, 127)},
		{name: "Clip_nan", op: "Clip", opset: 13, in: []*tensor.Tensor{ewF32(ewSh(1), ewNaN), ewF32(nil, 0), ewF32(nil, 1)}, want: ewF32(ewSh(1), ewNaN)},
		{name: "Clip_float16", op: "Clip", opset: 13, in: []*tensor.Tensor{ewF16(ewSh(2), -3, 3), ewF16(nil, -1), ewF16(nil, 1)}, want: ewF16(ewSh(2), -1, 1)},
		{name: "Clip_bad_bound", op: "Clip", opset: 13, in: []*tensor.Tensor{x, ewF32(ewSh(2), 0, 1)}, err: "scalars"},
		{name: "Clip_bound_type", op: "Clip", opset: 13, in: []*tensor.Tensor{x, ewF64(nil, 0)}, err: "differs"},
	})
}

func TestElementwiseSoftmax(t *testing.T) {
	x := ewF32(ewSh(2, 3), 1, 2, 3, 4, 5, 7)
	runEwCases(t, []ewCase{
		{op: "Softmax", opset: 13, in: []*tensor.Tensor{x}, want: ewF32(ewSh(2, 3), 0.09003057330846786, 0.2447284609079361, 0.6652409434318542, 0.04201006516814232, 0.11419519782066345, 0.8437947034835815)},
		{name: "Softmax_axis0", op: "Softmax", opset: 13, attrs: map[string]any{"axis": 0}, in: []*tensor.Tensor{x},
			want: ewF32(ewSh(2, 3), 0.04742587357759476, 0.04742587357759476, 0.01798621006309986, 0.9525741338729858, 0.9525741338729858, 0.9820137619972229)},
		{name: "Softmax_coerce0", op: "Softmax", opset: 11, attrs: map[string]any{"axis": 0}, in: []*tensor.Tensor{x},
			want: ewF32(ewSh(2, 3), 0.0020440707448869944, 0.005556360352784395, 0.015103754587471485, 0.04105626046657562, 0.11160248517990112, 0.8246370553970337)},
		{name: "Softmax_default_v1", op: "Softmax", opset: 1, in: []*tensor.Tensor{x}, want: ewF32(ewSh(2, 3), 0.09003057330846786, 0.2447284609079361, 0.6652409434318542, 0.04201006516814232, 0.11419519782066345, 0.8437947034835815)},
		{name: "Softmax_large", op: "Softmax", opset: 13, in: []*tensor.Tensor{ewF32(ewSh(2), 10000, 10000)}, want: ewF32(ewSh(2), 0.5, 0.5)},
		{name: "Softmax_f64", op: "Softmax", opset: 13, in: []*tensor.Tensor{ewF64(ewSh(2), 0, 0)}, want: ewF64(ewSh(2), 0.5, 0.5)},
		{name: "Softmax_axis_range", op: "Softmax", opset: 13, attrs: map[string]any{"axis": 2}, in: []*tensor.Tensor{x}, err: "out of range"},
		{op: "LogSoftmax", opset: 13, in: []*tensor.Tensor{x}, want: ewF32(ewSh(2, 3), -2.4076058864593506, -1.4076060056686401, -0.40760597586631775, -3.1698460578918457, -2.1698460578918457, -0.1698460578918457)},
		{name: "LogSoftmax_axis0", op: "LogSoftmax", opset: 13, attrs: map[string]any{"axis": 0}, in: []*tensor.Tensor{x},
			want: ewF32(ewSh(2, 3), float32(math.Log(0.04742587357759476)), float32(math.Log(0.04742587357759476)), float32(math.Log(0.01798621006309986)),
				float32(math.Log(0.9525741338729858)), float32(math.Log(0.9525741338729858)), float32(math.Log(0.9820137619972229)))},
		{op: "Hardmax", opset: 13, in: []*tensor.Tensor{ewF32(ewSh(2, 3), 3, 3, 1, 0, 5, 5)}, want: ewF32(ewSh(2, 3), 1, 0, 0, 0, 1, 0)},
		{name: "Hardmax_axis0", op: "Hardmax", opset: 13, attrs: map[string]any{"axis": 0}, in: []*tensor.Tensor{ewF32(ewSh(2, 3), 3, 3, 1, 0, 5, 1)}, want: ewF32(ewSh(2, 3), 1, 0, 1, 0, 1, 0)},
		{name: "Hardmax_coerce", op: "Hardmax", opset: 11, attrs: map[string]any{"axis": 0}, in: []*tensor.Tensor{ewF32(ewSh(2, 3), 3, 3, 1, 0, 5, 1)}, want: ewF32(ewSh(2, 3), 0, 0, 0, 0, 1, 0)},
	})
}

func TestElementwiseCast(t *testing.T) {
	runEwCases(t, []ewCase{
		{name: "Cast_f32_i32", op: "Cast", opset: 13, attrs: map[string]any{"to": int(tensor.Int32)}, in: []*tensor.Tensor{ewF32(ewSh(4), 1.9, -1.9, ewNaN, 0)}, want: ewI32(ewSh(4), 1, -1, 0, 0)},
		{name: "Cast_to_bool", op: "Cast", opset: 13, attrs: map[string]any{"to": int(tensor.Bool)}, in: []*tensor.Tensor{ewF32(ewSh(3), 0, 0.5, ewNaN)}, want: ewBools(ewSh(3), false, true, true)},
		{name: "Cast_v1_name", op: "Cast", opset: 1, attrs: map[string]any{"to": "DOUBLE"}, in: []*tensor.Tensor{ewI32(ewSh(1), 3)}, want: ewF64(ewSh(1), 3)},
		{name: "Cast_v1_bad", op: "Cast", opset: 1, attrs: map[string]any{"to": "QUAD"}, in: []*tensor.Tensor{ewI32(ewSh(1), 3)}, err: "unknown type"},
		{name: "Cast_missing_to", op: "Cast", opset: 13, in: []*tensor.Tensor{ewI32(ewSh(1), 3)}, err: "required"},
		{name: "Cast_to_string", op: "Cast", opset: 13, attrs: map[string]any{"to": int(tensor.String)}, in: []*tensor.Tensor{ewF32(ewSh(5), 0.9767611, 1e20, ewNaN, ewNInf, 3)},
			want: ewStrs(ewSh(5), "0.9767611", "1e+20", "NaN", "-INF", "3")},
		{name: "Cast_f16_string", op: "Cast", opset: 13, attrs: map[string]any{"to": int(tensor.String)}, in: []*tensor.Tensor{ewF16(ewSh(3), 0.1183, 0.5, -2)},
			want: ewStrs(ewSh(3), "0.1183", "0.5", "-2")},
		{name: "Cast_string_f32", op: "Cast", opset: 13, attrs: map[string]any{"to": int(tensor.Float32)}, in: []*tensor.Tensor{ewStrs(ewSh(4), "0.5", "INF", "-INF", "NaN")},
			want: ewF32(ewSh(4), 0.5, ewInf, ewNInf, ewNaN)},
		{name: "Cast_string_i64", op: "Cast", opset: 13, attrs: map[string]any{"to": int(tensor.Int64)}, in: []*tensor.Tensor{ewStrs(ewSh(3), "9007199254740993", "-7", "2.9")},
			want: ewI64(ewSh(3), 9007199254740993, -7, 2)},
		{name: "Cast_string_bad", op: "Cast", opset: 13, attrs: map[string]any{"to": int(tensor.Float32)}, in: []*tensor.Tensor{ewStrs(ewSh(1), "abc")}, err: "abc"},
		{name: "Cast_f16", op: "Cast", opset: 13, attrs: map[string]any{"to": int(tensor.Float16)}, in: []*tensor.Tensor{ewF32(ewSh(2), 0.5488135, 70000)}, want: ewF16(ewSh(2), 0.549, ewInf)},
		{op: "CastLike", opset: 15, in: []*tensor.Tensor{ewF32(ewSh(2), 1.5, -2), ewI8(ewSh(1), 0)}, want: ewI8(ewSh(2), 1, -2)},
	})
}

// TestBcastPlan checks dimension collapsing and strided iteration against
// a naive index computation on random shapes.
func TestElementwiseBcastPlan(t *testing.T) {
	p, err := newBcastPlan(ewSh(2, 3, 4, 5), ewSh(1, 3, 1, 1))
	if err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(p.outer, p.inner, p.innerSt, p.outerSt) != "[2 3] 20 [1 0] [[60 20] [0 1]]" {
		t.Errorf("plan = %v %v %v %v", p.outer, p.inner, p.innerSt, p.outerSt)
	}
	rng := rand.New(rand.NewSource(1))
	for iter := 0; iter < 300; iter++ {
		rank := rng.Intn(5)
		out := make([]int, rank)
		for i := range out {
			out[i] = 1 + rng.Intn(4)
		}
		var shapes [][]int
		for j := 0; j < 3; j++ {
			r := rng.Intn(rank + 1)
			s := append([]int(nil), out[rank-r:]...)
			for i := range s {
				if rng.Intn(3) == 0 {
					s[i] = 1
				}
			}
			shapes = append(shapes, s)
		}
		a := ewRandTensor(rng, shapes[0])
		b := ewRandTensor(rng, shapes[1])
		for _, threads := range []int{1, 4} {
			rc := &RunContext{Threads: threads}
			got, err := numOp(opSub).apply(rc, a, b)
			if err != nil {
				t.Fatal(err)
			}
			want := ewNaiveBinary(a, b, func(x, y float32) float32 { return x - y })
			if err := ewSame(got, want); err != nil {
				t.Fatalf("%v - %v: %v", shapes[0], shapes[1], err)
			}
		}
		c := tensor.MustNew(tensor.Bool, shapes[2]...)
		cd := tensor.Data[bool](c)
		for i := range cd {
			cd[i] = rng.Intn(2) == 0
		}
		got, err := whereTensors(nil, c, a, b)
		if err != nil {
			t.Fatal(err)
		}
		oshape, _ := tensor.BroadcastShapes(shapes...)
		if !tensor.ShapeEqual(got.Shape(), oshape) {
			t.Fatalf("where shape %v, want %v", got.Shape(), oshape)
		}
		gd := got.Float32s()
		for i := range gd {
			idx := ewUnravel(i, oshape)
			want := ewAtBcast(b, idx)
			if ewAtBcastBool(c, idx) {
				want = ewAtBcast(a, idx)
			}
			if gd[i] != want {
				t.Fatalf("where %v: element %d = %v, want %v", shapes, i, gd[i], want)
			}
		}
	}
}

// TestElementwiseTernary checks broadcastTernary (a fused multiply-add
// over three broadcast shapes) against the naive computation.
func TestElementwiseTernary(t *testing.T) {
	a := ewF32(ewSh(2, 1, 3), 1, 2, 3, 4, 5, 6)
	b := ewF32(ewSh(2, 1), 10, 20)
	c := ewF32(nil, 0.5)
	got, err := broadcastTernary(&RunContext{Threads: 2}, a, b, c, func(x, y, z float32) float32 { return x*y + z })
	if err != nil {
		t.Fatal(err)
	}
	want := ewF32(ewSh(2, 2, 3), 10.5, 20.5, 30.5, 20.5, 40.5, 60.5, 40.5, 50.5, 60.5, 80.5, 100.5, 120.5)
	if err := ewSame(got, want); err != nil {
		t.Fatal(err)
	}
	if _, err := broadcastTernary(nil, a, ewF32(ewSh(2), 1, 2), c, func(x, y, z float32) float32 { return 0 }); err == nil {
		t.Fatal("no error for unbroadcastable shapes")
	}
}

func ewRandTensor(rng *rand.Rand, shape []int) *tensor.Tensor {
	t := tensor.MustNew(tensor.Float32, shape...)
	d := t.Float32s()
	for i := range d {
		d[i] = float32(rng.Intn(100))
	}
	return t
}

func ewUnravel(i int, shape []int) []int {
	idx := make([]int, len(shape))
	for d := len(shape) - 1; d >= 0; d-- {
		idx[d] = i % shape[d]
		i /= shape[d]
	}
	return idx
}

func ewFlatBcast(t *tensor.Tensor, idx []int) int {
	s := t.Shape()
	off := len(idx) - len(s)
	flat := 0
	for d := range s {
		v := idx[off+d]
		if s[d] == 1 {
			v = 0
		}
		flat = flat*s[d] + v
	}
	return flat
}

func ewAtBcast(t *tensor.Tensor, idx []int) float32 { return t.Float32s()[ewFlatBcast(t, idx)] }
func ewAtBcastBool(t *tensor.Tensor, idx []int) bool {
	return tensor.Data[bool](t)[ewFlatBcast(t, idx)]
}

func ewNaiveBinary(a, b *tensor.Tensor, f func(x, y float32) float32) *tensor.Tensor {
	shape, err := tensor.BroadcastShapes(a.Shape(), b.Shape())
	if err != nil {
		panic(err)
	}
	out := tensor.MustNew(tensor.Float32, shape...)
	d := out.Float32s()
	for i := range d {
		idx := ewUnravel(i, shape)
		d[i] = f(ewAtBcast(a, idx), ewAtBcast(b, idx))
	}
	return out
}

// TestElementwiseParallel runs large tensors through every parallel path
// and compares with one thread.
func TestElementwiseParallel(t *testing.T) {
	rng := rand.New(rand.NewSource(2))
	big := tensor.MustNew(tensor.Float32, 3, 100, 700)
	for i, d := 0, big.Float32s(); i < len(d); i++ {
		d[i] = rng.Float32()*20 - 10
	}
	row := ewRandTensor(rng, ewSh(100, 1))
	for _, c := range []struct {
		op string
		in []*tensor.Tensor
	}{
		{"Add", []*tensor.Tensor{big, big}},
		{"Mul", []*tensor.Tensor{big, ewF32(nil, 3)}},
		{"Sub", []*tensor.Tensor{big, row}},
		{"Sigmoid", []*tensor.Tensor{big}},
		{"Softmax", []*tensor.Tensor{big}},
	} {
		one, err := ewRun(c.op, 13, 1, nil, c.in...)
		if err != nil {
			t.Fatal(err)
		}
		many, err := ewRun(c.op, 13, 8, nil, c.in...)
		if err != nil {
			t.Fatal(err)
		}
		if err := ewSame(many, one); err != nil {
			t.Errorf("%s: %v", c.op, err)
		}
	}
}

// TestFastMath32 checks the float32 exp/tanh/sigmoid against float64 math.
func TestElementwiseFastMath32(t *testing.T) {
	worst := map[string]float64{}
	check := func(name string, got float32, want float64) {
		if w32 := float32(want); math.IsInf(float64(w32), 0) || math.Abs(want) < 1e-37 {
			// overflow must give Inf; the subnormal range may flush to 0
			if math.Abs(float64(got)-float64(w32)) > 1e-37 && got != w32 {
				t.Fatalf("%s: got %v, want %v", name, got, want)
			}
			return
		}
		rel := math.Abs(float64(got)-want) / math.Abs(want)
		worst[name] = max(worst[name], rel)
	}
	for x := -100.0; x <= 100; x += 0.001 {
		f := float32(x)
		check("exp", expFast32(f), math.Exp(float64(f)))
		check("tanh", tanhFast32(f), math.Tanh(float64(f)))
		check("sigmoid", sigmoidFast32(f), 1/(1+math.Exp(-float64(f))))
	}
	t.Logf("worst relative errors: %v", worst)
	for name, w := range worst {
		if w > 2e-7 {
			t.Errorf("%s: worst relative error %.3g", name, w)
		}
	}
	if v := expFast32(ewNaN); v == v {
		t.Errorf("exp(NaN) = %v", v)
	}
	if v := tanhFast32(ewNaN); v == v {
		t.Errorf("tanh(NaN) = %v", v)
	}
}

func benchEw(b *testing.B, op string, in ...*tensor.Tensor) {
	r := NewRegistry()
	registerElementwise(r)
	def, err := r.Lookup("", op, 13)
	if err != nil {
		b.Fatal(err)
	}
	k, err := def.Build(&Builder{OpType: op, Opset: 13, NumInputs: len(in), NumOutputs: 1, Attrs: map[string]*Attr{}})
	if err != nil {
		b.Fatal(err)
	}
	rc := &RunContext{Ctx: context.Background(), Threads: 1}
	b.ReportAllocs()
	b.SetBytes(int64(in[0].Len() * 4))
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := k.Run(rc, in); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkEwSigmoidLoop(b *testing.B) {
	x := ewBenchInput(1 << 16).Float32s()
	d := make([]float32, len(x))
	b.SetBytes(int64(len(x) * 4))
	for i := 0; i < b.N; i++ {
		sigmoidSlice32(d, x)
	}
}

func BenchmarkEwAddLoop(b *testing.B) {
	x := ewBenchInput(1 << 16).Float32s()
	d := make([]float32, len(x))
	b.SetBytes(int64(len(x) * 4))
	for i := 0; i < b.N; i++ {
		numKernel[float32]{opAdd}.vv(d, x, x)
	}
}

func ewBenchInput(shape ...int) *tensor.Tensor {
	t := tensor.MustNew(tensor.Float32, shape...)
	for i, d := 0, t.Float32s(); i < len(d); i++ {
		d[i] = float32(i%1000)/100 - 5
	}
	return t
}

func BenchmarkEwAddSame(b *testing.B) {
	x := ewBenchInput(1 << 20)
	benchEw(b, "Add", x, x)
}
func BenchmarkEwMulScalar(b *testing.B) { benchEw(b, "Mul", ewBenchInput(1<<20), ewF32(nil, 2)) }
func BenchmarkEwAddChannel(b *testing.B) {
	benchEw(b, "Add", ewBenchInput(8, 64, 56, 56), ewBenchInput(1, 64, 1, 1))
}
func BenchmarkEwRelu(b *testing.B)    { benchEw(b, "Relu", ewBenchInput(1<<20)) }
func BenchmarkEwSigmoid(b *testing.B) { benchEw(b, "Sigmoid", ewBenchInput(1<<20)) }
func BenchmarkEwTanh(b *testing.B)    { benchEw(b, "Tanh", ewBenchInput(1<<20)) }
func BenchmarkEwSoftmax(b *testing.B) { benchEw(b, "Softmax", ewBenchInput(1024, 1024)) }
