package ops

import (
	"testing"

	"github.com/onyxrt/onyx/tensor"
)

func sym(dims ...any) tensor.SymShape {
	s := make(tensor.SymShape, len(dims))
	for i, d := range dims {
		switch v := d.(type) {
		case int:
			s[i] = tensor.Dim{Size: int64(v)}
		case string:
			s[i] = tensor.Dim{Size: -1, Param: v}
		}
	}
	return s
}

func TestShapeRules(t *testing.T) {
	f32 := func(s tensor.SymShape) Meta { return Meta{DType: tensor.Float32, Shape: s} }
	tests := []struct {
		name  string
		op    string
		attrs []*Attr
		in    []Meta
		want  string // shape of output 0, or "error"
	}{
		{"broadcast symbolic", "Add", nil, []Meta{f32(sym("N", 1, 4)), f32(sym(3, 1))}, "[N 3 4]"},
		{"broadcast mismatch", "Add", nil, []Meta{f32(sym(2, 3)), f32(sym(4))}, "error"},
		{"comparison", "Less", nil, []Meta{f32(sym(2, 3)), f32(sym(3))}, "[2 3]"},
		{"conv pads stride", "Conv", []*Attr{{Name: "pads", Type: AttrInts, Ints: []int64{1, 1, 1, 1}}, {Name: "strides", Type: AttrInts, Ints: []int64{2, 2}}},
			[]Meta{f32(sym("N", 3, 32, 32)), f32(sym(8, 3, 3, 3))}, "[N 8 16 16]"},
		{"conv same upper", "Conv", []*Attr{{Name: "auto_pad", Type: AttrString, String: "SAME_UPPER"}, {Name: "strides", Type: AttrInts, Ints: []int64{2, 2}}},
			[]Meta{f32(sym(1, 3, 7, 7)), f32(sym(4, 3, 3, 3))}, "[1 4 4 4]"},
		{"conv channel mismatch", "Conv", nil, []Meta{f32(sym(1, 3, 7, 7)), f32(sym(4, 2, 3, 3))}, "error"},
		{"maxpool ceil", "MaxPool", []*Attr{{Name: "kernel_shape", Type: AttrInts, Ints: []int64{3, 3}}, {Name: "strides", Type: AttrInts, Ints: []int64{2, 2}}, {Name: "ceil_mode", Type: AttrInt, Int: 1}},
			[]Meta{f32(sym(1, 1, 4, 4))}, "[1 1 2 2]"},
		{"gemm transB", "Gemm", []*Attr{{Name: "transB", Type: AttrInt, Int: 1}}, []Meta{f32(sym("N", 64)), f32(sym(10, 64))}, "[N 10]"},
		{"gemm mismatch", "Gemm", nil, []Meta{f32(sym(2, 5)), f32(sym(4, 3))}, "error"},
		{"matmul batch", "MatMul", nil, []Meta{f32(sym(5, 1, 2, 3)), f32(sym(4, 3, 7))}, "[5 4 2 7]"},
		{"matmul vector left", "MatMul", nil, []Meta{f32(sym(3)), f32(sym(2, 3, 7))}, "[2 7]"},
		{"matmul vector right", "MatMul", nil, []Meta{f32(sym(2, 4, 3)), f32(sym(3))}, "[2 4]"},
		{"flatten negative axis", "Flatten", []*Attr{{Name: "axis", Type: AttrInt, Int: -2}}, []Meta{f32(sym(2, 3, 4))}, "[2 12]"},
		{"flatten symbolic", "Flatten", nil, []Meta{f32(sym("N", 3, 4))}, "[N 12]"},
		{"reshape const", "Reshape", nil, []Meta{f32(sym(2, 3, 4)), MetaOf(tensor.From([]int{2}, []int64{0, -1}))}, "[2 12]"},
		{"reshape bad", "Reshape", nil, []Meta{f32(sym(2, 3, 4)), MetaOf(tensor.From([]int{2}, []int64{5, -1}))}, "error"},
		{"transpose", "Transpose", []*Attr{{Name: "perm", Type: AttrInts, Ints: []int64{0, 2, 3, 1}}}, []Meta{f32(sym("N", 3, 8, 9))}, "[N 8 9 3]"},
		{"concat", "Concat", []*Attr{{Name: "axis", Type: AttrInt, Int: 1}}, []Meta{f32(sym("N", 2)), f32(sym("N", 5))}, "[N 7]"},
		{"unsqueeze input axes", "Unsqueeze", nil, []Meta{f32(sym(3, 4)), MetaOf(tensor.From([]int{2}, []int64{0, -1}))}, "[1 3 4 1]"},
		{"squeeze", "Squeeze", []*Attr{{Name: "axes", Type: AttrInts, Ints: []int64{1}}}, []Meta{f32(sym(3, 1, 4))}, "[3 4]"},
		{"gather", "Gather", []*Attr{{Name: "axis", Type: AttrInt, Int: 0}}, []Meta{f32(sym(100, 16)), {DType: tensor.Int64, Shape: sym("N", 20)}}, "[N 20 16]"},
		{"reduce keepdims", "ReduceMean", []*Attr{{Name: "axes", Type: AttrInts, Ints: []int64{2, 3}}}, []Meta{f32(sym("N", 8, 5, 5))}, "[N 8 1 1]"},
		{"argmax", "ArgMax", []*Attr{{Name: "axis", Type: AttrInt, Int: 1}, {Name: "keepdims", Type: AttrInt, Int: 0}}, []Meta{f32(sym(4, 10))}, "[4]"},
		{"lstm", "LSTM", []*Attr{{Name: "hidden_size", Type: AttrInt, Int: 16}, {Name: "direction", Type: AttrString, String: "bidirectional"}}, []Meta{f32(sym("T", "N", 8))}, "[T 2 N 16]"},
		{"unknown rank stays unknown", "Relu", nil, []Meta{{DType: tensor.Float32}}, "[?...]"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b := &Builder{OpType: tc.op, Opset: 13, NumInputs: len(tc.in), NumOutputs: 1, Attrs: map[string]*Attr{}}
			for _, a := range tc.attrs {
				b.Attrs[a.Name] = a
			}
			f := shapeRule(tc.op)
			if f == nil {
				t.Fatalf("no rule for %s", tc.op)
			}
			out, err := f(b, tc.in)
			if tc.want == "error" {
				if err == nil {
					t.Fatalf("want an error, got %v", out[0].Shape)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := out[0].Shape.String(); got != tc.want {
				t.Errorf("shape %s, want %s", got, tc.want)
			}
		})
	}
}
