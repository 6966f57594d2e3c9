package ops

import (
	"math"
	"math/rand/v2"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/onyxrt/onyx/tensor"
)

// redCase is one table entry of the reduce family's tests: an operator at
// an opset with attributes and inputs (nil for an omitted optional input),
// and the expected outputs or an expected error substring.
type redCase struct {
	name  string
	op    string
	opset int
	attrs map[string]any
	in    []*tensor.Tensor
	want  []*tensor.Tensor
	err   string
}

var (
	redRegOnce sync.Once
	redReg     *Registry
)

func redRegistry() *Registry {
	redRegOnce.Do(func() {
		redReg = NewRegistry()
		registerReduce(redReg)
	})
	return redReg
}

func redAttrs(t *testing.T, m map[string]any) map[string]*Attr {
	out := map[string]*Attr{}
	for k, v := range m {
		a := &Attr{Name: k}
		switch v := v.(type) {
		case int:
			a.Type, a.Int = AttrInt, int64(v)
		case float64:
			a.Type, a.Float = AttrFloat, float32(v)
		case string:
			a.Type, a.String = AttrString, v
		case []int64:
			a.Type, a.Ints = AttrInts, v
		case []float32:
			a.Type, a.Floats = AttrFloats, v
		default:
			t.Fatalf("attribute %s: unsupported test value %T", k, v)
		}
		out[k] = a
	}
	return out
}

// redRun builds and runs one node.
func redRun(t *testing.T, c redCase) ([]*tensor.Tensor, error) {
	def, err := redRegistry().Lookup("", c.op, c.opset)
	if err != nil {
		return nil, err
	}
	present := make([]bool, len(c.in))
	for i, x := range c.in {
		present[i] = x != nil
	}
	b := &Builder{
		OpType: c.op, Opset: c.opset, NumInputs: len(c.in), NumOutputs: 2,
		InputPresent: present, OutputPresent: []bool{true, true},
		Attrs: redAttrs(t, c.attrs),
	}
	k, err := def.Build(b)
	if err != nil {
		return nil, err
	}
	return k.Run(&RunContext{Threads: 1}, c.in)
}

func redCheck(t *testing.T, cases []redCase) {
	t.Helper()
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := redRun(t, c)
			if c.err != "" {
				if err == nil || !strings.Contains(err.Error(), c.err) {
					t.Fatalf("error %v, want one containing %q", err, c.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			for i, w := range c.want {
				if w == nil {
					continue
				}
				if i >= len(got) || got[i] == nil {
					t.Fatalf("output %d missing", i)
				}
				redSame(t, i, got[i], w)
			}
			for i, x := range c.in {
				if x != nil && len(got) > 0 && got[0] == x {
					t.Fatalf("output is input %d itself", i)
				}
			}
		})
	}
}

func redSame(t *testing.T, i int, got, want *tensor.Tensor) {
	t.Helper()
	if got.DType() != want.DType() || !tensor.ShapeEqual(got.Shape(), want.Shape()) {
		t.Fatalf("output %d is %v%v, want %v%v", i, got.DType(), got.Shape(), want.DType(), want.Shape())
	}
	switch want.DType() {
	case tensor.String:
		g, w := tensor.Data[string](got), tensor.Data[string](want)
		for j := range w {
			if g[j] != w[j] {
				t.Fatalf("output %d element %d is %q, want %q", i, j, g[j], w[j])
			}
		}
		return
	case tensor.Int64, tensor.Int32, tensor.Int16, tensor.Int8, tensor.Uint8, tensor.Uint16, tensor.Uint32, tensor.Bool:
		g, _ := got.AsInt64s()
		w, _ := want.AsInt64s()
		for j := range w {
			if g[j] != w[j] {
				t.Fatalf("output %d element %d is %d, want %d (got %v)", i, j, g[j], w[j], g)
			}
		}
		return
	}
	g, w := got.Float64s(), want.Float64s()
	tol := 1e-5
	if want.DType() == tensor.Float16 || want.DType() == tensor.BFloat16 {
		tol = 1e-2
	}
	for j := range w {
		a, b := g[j], w[j]
		switch {
		case math.IsNaN(b):
			if !math.IsNaN(a) {
				t.Fatalf("output %d element %d is %v, want NaN", i, j, a)
			}
		case math.IsInf(b, 0):
			if a != b {
				t.Fatalf("output %d element %d is %v, want %v", i, j, a, b)
			}
		case math.Abs(a-b) > tol*(1+math.Abs(b)):
			t.Fatalf("output %d element %d is %v, want %v (got %v)", i, j, a, b, g)
		}
	}
}

func rF32(shape []int, v ...float32) *tensor.Tensor { return tensor.From(shape, v) }
func rF64(shape []int, v ...float64) *tensor.Tensor { return tensor.From(shape, v) }
func rI64(shape []int, v ...int64) *tensor.Tensor   { return tensor.From(shape, v) }
func rDims(d ...int) []int                          { return d }

func redMust(x *tensor.Tensor, err error) *tensor.Tensor {
	if err != nil {
		panic(err)
	}
	return x
}

func rSeq(shape []int) *tensor.Tensor {
	n, _ := tensor.NumElements(shape)
	v := make([]float32, n)
	for i := range v {
		v[i] = float32(i + 1)
	}
	return tensor.From(shape, v)
}

func rHalf(shape []int, v ...float32) *tensor.Tensor {
	h := make([]tensor.Half, len(v))
	for i, x := range v {
		h[i] = tensor.HalfFrom(x)
	}
	return tensor.From(shape, h)
}

func TestReduce(t *testing.T) {
	x := rSeq(rDims(3, 2, 2)) // 1..12
	inf := math.Inf(1)
	empty := tensor.MustNew(tensor.Float32, 2, 0, 4)
	redCheck(t, []redCase{
		{name: "sum13 axes input keepdims", op: "ReduceSum", opset: 13, in: []*tensor.Tensor{x, rI64(rDims(1), 1)},
			want: []*tensor.Tensor{rF32(rDims(3, 1, 2), 4, 6, 12, 14, 20, 22)}},
		{name: "sum11 attr negative axis no keepdims", op: "ReduceSum", opset: 11,
			attrs: map[string]any{"axes": []int64{-1}, "keepdims": 0}, in: []*tensor.Tensor{x},
			want: []*tensor.Tensor{rF32(rDims(3, 2), 3, 7, 11, 15, 19, 23)}},
		{name: "sum1 default all", op: "ReduceSum", opset: 1, in: []*tensor.Tensor{x},
			want: []*tensor.Tensor{rF32(rDims(1, 1, 1), 78)}},
		{name: "sum13 no axes input reduces all", op: "ReduceSum", opset: 13, in: []*tensor.Tensor{x, nil},
			attrs: map[string]any{"keepdims": 0}, want: []*tensor.Tensor{rF32(nil, 78)}},
		{name: "sum13 empty axes reduces all", op: "ReduceSum", opset: 13, in: []*tensor.Tensor{x, rI64(rDims(0))},
			want: []*tensor.Tensor{rF32(rDims(1, 1, 1), 78)}},
		{name: "sum13 empty axes noop", op: "ReduceSum", opset: 13, attrs: map[string]any{"noop_with_empty_axes": 1},
			in: []*tensor.Tensor{x, rI64(rDims(0))}, want: []*tensor.Tensor{x}},
		{name: "sum13 int64 exact", op: "ReduceSum", opset: 13, attrs: map[string]any{"keepdims": 0},
			in: []*tensor.Tensor{rI64(rDims(2), 1<<60, 1), nil}, want: []*tensor.Tensor{rI64(nil, 1<<60+1)}},
		{name: "sum13 float16", op: "ReduceSum", opset: 13, in: []*tensor.Tensor{rHalf(rDims(2, 2), 1, 2, 3, 4.5), rI64(rDims(1), 0)},
			want: []*tensor.Tensor{rHalf(rDims(1, 2), 4, 6.5)}},
		{name: "mean18 axes input", op: "ReduceMean", opset: 18, attrs: map[string]any{"keepdims": 0},
			in: []*tensor.Tensor{x, rI64(rDims(2), 0, 2)}, want: []*tensor.Tensor{rF32(rDims(2), 5.5, 7.5)}},
		{name: "mean13 attr", op: "ReduceMean", opset: 13, attrs: map[string]any{"axes": []int64{0, 2}},
			in: []*tensor.Tensor{x}, want: []*tensor.Tensor{rF32(rDims(1, 2, 1), 5.5, 7.5)}},
		{name: "mean int32 truncates", op: "ReduceMean", opset: 13,
			in: []*tensor.Tensor{tensor.From(rDims(2), []int32{1, 2})}, want: []*tensor.Tensor{tensor.From(rDims(1), []int32{1})}},
		{name: "max1 all no keepdims", op: "ReduceMax", opset: 1, attrs: map[string]any{"keepdims": 0},
			in: []*tensor.Tensor{x}, want: []*tensor.Tensor{rF32(nil, 12)}},
		{name: "max nan propagates", op: "ReduceMax", opset: 13, in: []*tensor.Tensor{rF32(rDims(3), 1, float32(math.NaN()), 3)},
			want: []*tensor.Tensor{rF32(rDims(1), float32(math.NaN()))}},
		{name: "max12 uint8", op: "ReduceMax", opset: 12, attrs: map[string]any{"axes": []int64{1}, "keepdims": 0},
			in:   []*tensor.Tensor{tensor.From(rDims(2, 2), []uint8{5, 250, 7, 3})},
			want: []*tensor.Tensor{tensor.From(rDims(2), []uint8{250, 7})}},
		{name: "max20 bool is any", op: "ReduceMax", opset: 20, attrs: map[string]any{"keepdims": 0},
			in:   []*tensor.Tensor{tensor.From(rDims(2, 2), []bool{true, false, false, false}), rI64(rDims(1), 1)},
			want: []*tensor.Tensor{tensor.From(rDims(2), []bool{true, false})}},
		{name: "min20 bool is all", op: "ReduceMin", opset: 20, attrs: map[string]any{"keepdims": 0},
			in:   []*tensor.Tensor{tensor.From(rDims(2, 2), []bool{true, true, true, false}), rI64(rDims(1), 1)},
			want: []*tensor.Tensor{tensor.From(rDims(2), []bool{true, false})}},
		{name: "min18 int32", op: "ReduceMin", opset: 18, attrs: map[string]any{"keepdims": 0},
			in:   []*tensor.Tensor{tensor.From(rDims(2, 3), []int32{4, -2, 9, 0, 7, -8}), rI64(rDims(1), 1)},
			want: []*tensor.Tensor{tensor.From(rDims(2), []int32{-2, -8})}},
		{name: "prod", op: "ReduceProd", opset: 13, attrs: map[string]any{"axes": []int64{0}},
			in: []*tensor.Tensor{x}, want: []*tensor.Tensor{rF32(rDims(1, 2, 2), 45, 120, 231, 384)}},
		{name: "l1", op: "ReduceL1", opset: 13, attrs: map[string]any{"axes": []int64{1}, "keepdims": 0},
			in: []*tensor.Tensor{rF32(rDims(2, 2), -1, 2, -3, -4)}, want: []*tensor.Tensor{rF32(rDims(2), 3, 7)}},
		{name: "l2", op: "ReduceL2", opset: 13, attrs: map[string]any{"axes": []int64{1}, "keepdims": 0},
			in:   []*tensor.Tensor{x},
			want: []*tensor.Tensor{rF32(rDims(3, 2), 3.1622776602, 4.472135955, 8.602325267, 10, 14.2126704036, 15.6204993518)}},
		{name: "l2 int64", op: "ReduceL2", opset: 13, in: []*tensor.Tensor{rI64(rDims(2), 3, 4)},
			want: []*tensor.Tensor{rI64(rDims(1), 5)}},
		{name: "logsum", op: "ReduceLogSum", opset: 13, attrs: map[string]any{"keepdims": 0},
			in: []*tensor.Tensor{x}, want: []*tensor.Tensor{rF32(nil, 4.356708826689592)}},
		{name: "logsumexp last axis", op: "ReduceLogSumExp", opset: 13, attrs: map[string]any{"axes": []int64{-1}},
			in:   []*tensor.Tensor{redMust(x.Cast(tensor.Float64))},
			want: []*tensor.Tensor{rF64(rDims(3, 2, 1), 2.3132616875, 4.3132616875, 6.3132616875, 8.3132616875, 10.3132616875, 12.3132616875)}},
		{name: "logsumexp stable", op: "ReduceLogSumExp", opset: 18, in: []*tensor.Tensor{rF32(rDims(3), 1000, 1000, -1000)},
			want: []*tensor.Tensor{rF32(rDims(1), 1000.6931471805599)}},
		{name: "logsumexp all -inf", op: "ReduceLogSumExp", opset: 18, in: []*tensor.Tensor{rF32(rDims(2), float32(-inf), float32(-inf))},
			want: []*tensor.Tensor{rF32(rDims(1), float32(-inf))}},
		{name: "sumsquare", op: "ReduceSumSquare", opset: 18, attrs: map[string]any{"keepdims": 0},
			in: []*tensor.Tensor{rF32(rDims(2, 2), 1, -2, 3, 4), rI64(rDims(1), 0)}, want: []*tensor.Tensor{rF32(rDims(2), 10, 20)}},
		// Reductions over an empty set give the identity of the operation.
		{name: "empty sum", op: "ReduceSum", opset: 13, in: []*tensor.Tensor{empty, rI64(rDims(1), 1)},
			want: []*tensor.Tensor{tensor.MustNew(tensor.Float32, 2, 1, 4)}},
		{name: "empty prod", op: "ReduceProd", opset: 18, in: []*tensor.Tensor{empty, rI64(rDims(1), 1)},
			want: []*tensor.Tensor{rF32(rDims(2, 1, 4), 1, 1, 1, 1, 1, 1, 1, 1)}},
		{name: "empty max", op: "ReduceMax", opset: 18, attrs: map[string]any{"keepdims": 0}, in: []*tensor.Tensor{empty, rI64(rDims(2), 1, 2)},
			want: []*tensor.Tensor{rF32(rDims(2), float32(-inf), float32(-inf))}},
		{name: "empty min", op: "ReduceMin", opset: 13, attrs: map[string]any{"keepdims": 0, "axes": []int64{1, 2}}, in: []*tensor.Tensor{empty},
			want: []*tensor.Tensor{rF32(rDims(2), float32(inf), float32(inf))}},
		{name: "empty max int8", op: "ReduceMax", opset: 13, in: []*tensor.Tensor{tensor.MustNew(tensor.Int8, 0)},
			want: []*tensor.Tensor{tensor.From(rDims(1), []int8{-128})}},
		{name: "empty logsumexp", op: "ReduceLogSumExp", opset: 18, attrs: map[string]any{"keepdims": 0}, in: []*tensor.Tensor{empty, rI64(rDims(1), 1)},
			want: []*tensor.Tensor{rF32(rDims(2, 4), float32(-inf), float32(-inf), float32(-inf), float32(-inf), float32(-inf), float32(-inf), float32(-inf), float32(-inf))}},
		{name: "empty logsum", op: "ReduceLogSum", opset: 18, in: []*tensor.Tensor{tensor.MustNew(tensor.Float32, 0), nil},
			want: []*tensor.Tensor{rF32(rDims(1), float32(-inf))}},
		{name: "empty l1 l2", op: "ReduceL2", opset: 18, in: []*tensor.Tensor{tensor.MustNew(tensor.Float32, 0), nil},
			want: []*tensor.Tensor{rF32(rDims(1), 0)}},
		{name: "empty mean", op: "ReduceMean", opset: 18, in: []*tensor.Tensor{tensor.MustNew(tensor.Float32, 0), nil},
			want: []*tensor.Tensor{rF32(rDims(1), float32(math.NaN()))}},
		{name: "empty kept axis", op: "ReduceSum", opset: 13, in: []*tensor.Tensor{empty, rI64(rDims(1), 2)},
			want: []*tensor.Tensor{tensor.MustNew(tensor.Float32, 2, 0, 1)}},
		{name: "scalar", op: "ReduceSum", opset: 13, in: []*tensor.Tensor{rF32(nil, 7), nil},
			want: []*tensor.Tensor{rF32(nil, 7)}},
		{name: "axis out of range", op: "ReduceSum", opset: 13, in: []*tensor.Tensor{x, rI64(rDims(1), 3)}, err: "out of range"},
		{name: "duplicate axes", op: "ReduceMean", opset: 13, attrs: map[string]any{"axes": []int64{1, -2}}, in: []*tensor.Tensor{x}, err: "twice"},
		{name: "string input", op: "ReduceMax", opset: 13, in: []*tensor.Tensor{tensor.From(rDims(1), []string{"a"})}, err: "unsupported element type"},
		{name: "missing input", op: "ReduceMax", opset: 13, in: []*tensor.Tensor{nil}, err: "missing"},
	})
}

func TestArgTopK(t *testing.T) {
	x := rF32(rDims(2, 3), 2, 7, 7, 9, 1, 9)
	nan := float32(math.NaN())
	redCheck(t, []redCase{
		{name: "argmax axis1", op: "ArgMax", opset: 13, attrs: map[string]any{"axis": 1}, in: []*tensor.Tensor{x},
			want: []*tensor.Tensor{rI64(rDims(2, 1), 1, 0)}},
		{name: "argmax last index", op: "ArgMax", opset: 12, attrs: map[string]any{"axis": 1, "select_last_index": 1, "keepdims": 0},
			in: []*tensor.Tensor{x}, want: []*tensor.Tensor{rI64(rDims(2), 2, 2)}},
		{name: "argmax axis0 default", op: "ArgMax", opset: 1, in: []*tensor.Tensor{x}, want: []*tensor.Tensor{rI64(rDims(1, 3), 1, 0, 1)}},
		{name: "argmin negative axis", op: "ArgMin", opset: 11, attrs: map[string]any{"axis": -1, "keepdims": 0},
			in: []*tensor.Tensor{x}, want: []*tensor.Tensor{rI64(rDims(2), 0, 1)}},
		{name: "argmin int8 last", op: "ArgMin", opset: 13, attrs: map[string]any{"select_last_index": 1},
			in: []*tensor.Tensor{tensor.From(rDims(4), []int8{3, -1, 5, -1})}, want: []*tensor.Tensor{rI64(rDims(1), 3)}},
		{name: "argmax nan first", op: "ArgMax", opset: 13, in: []*tensor.Tensor{rF32(rDims(4), 1, nan, 5, nan)},
			want: []*tensor.Tensor{rI64(rDims(1), 1)}},
		{name: "argmax float16", op: "ArgMax", opset: 13, in: []*tensor.Tensor{rHalf(rDims(3), 1, 3, 2)},
			want: []*tensor.Tensor{rI64(rDims(1), 1)}},
		{name: "argmax empty axis", op: "ArgMax", opset: 13, in: []*tensor.Tensor{tensor.MustNew(tensor.Float32, 0)}, err: "size 0"},
		{name: "topk largest", op: "TopK", opset: 11, attrs: map[string]any{"axis": 1},
			in:   []*tensor.Tensor{rF32(rDims(3, 4), 0, 1, 2, 3, 4, 5, 6, 7, 11, 10, 9, 8), rI64(rDims(1), 3)},
			want: []*tensor.Tensor{rF32(rDims(3, 3), 3, 2, 1, 7, 6, 5, 11, 10, 9), rI64(rDims(3, 3), 3, 2, 1, 3, 2, 1, 0, 1, 2)}},
		{name: "topk smallest", op: "TopK", opset: 11, attrs: map[string]any{"largest": 0},
			in:   []*tensor.Tensor{rF32(rDims(2, 4), 0, 1, 2, 3, 11, 10, 9, 8), rI64(rDims(1), 2)},
			want: []*tensor.Tensor{rF32(rDims(2, 2), 0, 1, 8, 9), rI64(rDims(2, 2), 0, 1, 3, 2)}},
		{name: "topk ties keep index order", op: "TopK", opset: 11,
			in:   []*tensor.Tensor{rF32(rDims(6), 5, 7, 5, 7, 1, 5), rI64(rDims(1), 5)},
			want: []*tensor.Tensor{rF32(rDims(5), 7, 7, 5, 5, 5), rI64(rDims(5), 1, 3, 0, 2, 5)}},
		{name: "topk smallest ties", op: "TopK", opset: 11, attrs: map[string]any{"largest": 0},
			in:   []*tensor.Tensor{tensor.From(rDims(5), []int32{4, 2, 4, 2, 3}), rI64(rDims(1), 4)},
			want: []*tensor.Tensor{tensor.From(rDims(4), []int32{2, 2, 3, 4}), rI64(rDims(4), 1, 3, 4, 0)}},
		{name: "topk axis0", op: "TopK", opset: 10, attrs: map[string]any{"axis": 0},
			in:   []*tensor.Tensor{rF32(rDims(3, 2), 1, 6, 5, 2, 3, 4), rI64(rDims(1), 2)},
			want: []*tensor.Tensor{rF32(rDims(2, 2), 5, 6, 3, 4), rI64(rDims(2, 2), 1, 0, 2, 2)}},
		{name: "topk opset1 attr k", op: "TopK", opset: 1, attrs: map[string]any{"k": 1},
			in: []*tensor.Tensor{rF32(rDims(3), 1, 3, 2)}, want: []*tensor.Tensor{rF32(rDims(1), 3), rI64(rDims(1), 1)}},
		{name: "topk nan is largest", op: "TopK", opset: 11, in: []*tensor.Tensor{rF32(rDims(3), 1, nan, 2), rI64(rDims(1), 2)},
			want: []*tensor.Tensor{rF32(rDims(2), nan, 2), rI64(rDims(2), 1, 2)}},
		{name: "topk k zero", op: "TopK", opset: 11, in: []*tensor.Tensor{rF32(rDims(3), 1, 2, 3), rI64(rDims(1), 0)},
			want: []*tensor.Tensor{tensor.MustNew(tensor.Float32, 0), tensor.MustNew(tensor.Int64, 0)}},
		{name: "topk k too large", op: "TopK", opset: 11, in: []*tensor.Tensor{rF32(rDims(3), 1, 2, 3), rI64(rDims(1), 4)}, err: "out of range"},
		{name: "topk k missing attr", op: "TopK", opset: 1, in: []*tensor.Tensor{rF32(rDims(3), 1, 2, 3)}, err: "required"},
	})
}

func TestCumSum(t *testing.T) {
	v := rF64(rDims(5), 1, 2, 3, 4, 5)
	m := rF32(rDims(2, 3), 1, 2, 3, 4, 5, 6)
	redCheck(t, []redCase{
		{name: "1d", op: "CumSum", opset: 14, in: []*tensor.Tensor{v, tensor.Scalar(int32(0))},
			want: []*tensor.Tensor{rF64(rDims(5), 1, 3, 6, 10, 15)}},
		{name: "exclusive", op: "CumSum", opset: 11, attrs: map[string]any{"exclusive": 1}, in: []*tensor.Tensor{v, rI64(nil, 0)},
			want: []*tensor.Tensor{rF64(rDims(5), 0, 1, 3, 6, 10)}},
		{name: "reverse", op: "CumSum", opset: 11, attrs: map[string]any{"reverse": 1}, in: []*tensor.Tensor{v, rI64(nil, 0)},
			want: []*tensor.Tensor{rF64(rDims(5), 15, 14, 12, 9, 5)}},
		{name: "reverse exclusive", op: "CumSum", opset: 11, attrs: map[string]any{"reverse": 1, "exclusive": 1},
			in: []*tensor.Tensor{v, rI64(nil, 0)}, want: []*tensor.Tensor{rF64(rDims(5), 14, 12, 9, 5, 0)}},
		{name: "2d axis0", op: "CumSum", opset: 14, in: []*tensor.Tensor{m, rI64(nil, 0)},
			want: []*tensor.Tensor{rF32(rDims(2, 3), 1, 2, 3, 5, 7, 9)}},
		{name: "2d negative axis", op: "CumSum", opset: 14, in: []*tensor.Tensor{m, rI64(rDims(1), -1)},
			want: []*tensor.Tensor{rF32(rDims(2, 3), 1, 3, 6, 4, 9, 15)}},
		{name: "int32", op: "CumSum", opset: 14, in: []*tensor.Tensor{tensor.From(rDims(3), []int32{5, -2, 7}), rI64(nil, 0)},
			want: []*tensor.Tensor{tensor.From(rDims(3), []int32{5, 3, 10})}},
		{name: "float16", op: "CumSum", opset: 14, in: []*tensor.Tensor{rHalf(rDims(3), 0.5, 1, 2), rI64(nil, 0)},
			want: []*tensor.Tensor{rHalf(rDims(3), 0.5, 1.5, 3.5)}},
		{name: "bad axis", op: "CumSum", opset: 14, in: []*tensor.Tensor{m, rI64(nil, 2)}, err: "out of range"},
		{name: "axis not scalar", op: "CumSum", opset: 14, in: []*tensor.Tensor{m, rI64(rDims(2), 0, 1)}, err: "scalar"},
	})
}

func TestResize(t *testing.T) {
	x4 := rSeq(rDims(1, 1, 4, 4)) // 1..16
	x24 := rSeq(rDims(1, 1, 2, 4))
	x22 := rSeq(rDims(1, 1, 2, 2))
	sc := func(v ...float32) *tensor.Tensor { return rF32(rDims(len(v)), v...) }
	sz := func(v ...int64) *tensor.Tensor { return rI64(rDims(len(v)), v...) }
	redCheck(t, []redCase{
		// Values from the ONNX reference implementation (opset 18/19 cases).
		{name: "linear antialias scales", op: "Resize", opset: 18, attrs: map[string]any{"mode": "linear", "antialias": 1},
			in: []*tensor.Tensor{x4, nil, sc(1, 1, 0.6, 0.6)}, want: []*tensor.Tensor{rF32(rDims(1, 1, 2, 2), 2.875, 4.5, 9.375, 11)}},
		{name: "cubic antialias scales", op: "Resize", opset: 18, attrs: map[string]any{"mode": "cubic", "antialias": 1},
			in:   []*tensor.Tensor{x4, nil, sc(1, 1, 0.6, 0.6)},
			want: []*tensor.Tensor{rF32(rDims(1, 1, 2, 2), 2.5180721, 4.2858863, 9.589329, 11.357142)}},
		{name: "linear antialias sizes", op: "Resize", opset: 18, attrs: map[string]any{"mode": "linear", "antialias": 1},
			in: []*tensor.Tensor{x4, nil, nil, sz(1, 1, 3, 3)},
			want: []*tensor.Tensor{rF32(rDims(1, 1, 3, 3), 2.3636363, 3.590909, 4.818182, 7.2727275, 8.5, 9.727273,
				12.181818, 13.409091, 14.636364)}},
		{name: "cubic antialias sizes", op: "Resize", opset: 18, attrs: map[string]any{"mode": "cubic", "antialias": 1},
			in: []*tensor.Tensor{x4, nil, nil, sz(1, 1, 3, 3)},
			want: []*tensor.Tensor{rF32(rDims(1, 1, 3, 3), 1.7750092, 3.1200073, 4.4650054, 7.1550016, 8.5, 9.844998,
				12.534994, 13.8799925, 15.224991)}},
		{name: "nearest not_larger axes", op: "Resize", opset: 18,
			attrs: map[string]any{"axes": []int64{2, 3}, "keep_aspect_ratio_policy": "not_larger"},
			in:    []*tensor.Tensor{x24, nil, nil, sz(1, 3)}, want: []*tensor.Tensor{rF32(rDims(1, 1, 1, 2), 1, 3)}},
		{name: "nearest not_smaller axes", op: "Resize", opset: 18,
			attrs: map[string]any{"axes": []int64{-2, -1}, "keep_aspect_ratio_policy": "not_smaller"},
			in:    []*tensor.Tensor{x24, nil, nil, sz(1, 3)}, want: []*tensor.Tensor{rF32(rDims(1, 1, 2, 3), 1, 2, 4, 5, 6, 8)}},
		{name: "linear one axis", op: "Resize", opset: 18, attrs: map[string]any{"mode": "linear", "axes": []int64{0}},
			in: []*tensor.Tensor{rSeq(rDims(4, 4)), nil, sc(0.5)}, want: []*tensor.Tensor{rF32(rDims(2, 4), 3, 4, 5, 6, 11, 12, 13, 14)}},
		{name: "half_pixel_symmetric down", op: "Resize", opset: 19,
			attrs: map[string]any{"mode": "linear", "coordinate_transformation_mode": "half_pixel_symmetric"},
			in:    []*tensor.Tensor{rF32(rDims(1, 1, 1, 4), 1, 2, 3, 4), nil, sc(1, 1, 1, 0.6)},
			want:  []*tensor.Tensor{rF32(rDims(1, 1, 1, 2), 1.6666666, 3.3333333)}},
		{name: "half_pixel_symmetric up", op: "Resize", opset: 19,
			attrs: map[string]any{"mode": "linear", "coordinate_transformation_mode": "half_pixel_symmetric"},
			in:    []*tensor.Tensor{x22, nil, sc(1, 1, 2.3, 2.94)},
			want: []*tensor.Tensor{rF32(rDims(1, 1, 4, 5), 1, 1.159864, 1.5, 1.840136, 2, 1.5652174, 1.7250813, 2.0652175, 2.4053535,
				2.5652175, 2.4347825, 2.5946465, 2.9347825, 3.2749186, 3.4347825, 3, 3.159864, 3.5, 3.840136, 4)}},
		// Cases of the ONNX 1.12 backend suite, restated.
		{name: "linear align_corners down", op: "Resize", opset: 13,
			attrs: map[string]any{"mode": "linear", "coordinate_transformation_mode": "align_corners"},
			in:    []*tensor.Tensor{x24, nil, sc(1, 1, 0.6, 0.6)}, want: []*tensor.Tensor{rF32(rDims(1, 1, 1, 2), 1, 3.142857)}},
		{name: "nearest tf_half_pixel_for_nn", op: "Resize", opset: 11,
			attrs: map[string]any{"coordinate_transformation_mode": "tf_half_pixel_for_nn"},
			in:    []*tensor.Tensor{x4, rF32(rDims(0)), rF32(rDims(0)), sz(1, 1, 3, 2)},
			want:  []*tensor.Tensor{rF32(rDims(1, 1, 3, 2), 6, 8, 10, 12, 14, 16)}},
		{name: "nearest tf_crop_and_resize extrapolation", op: "Resize", opset: 13,
			attrs: map[string]any{"coordinate_transformation_mode": "tf_crop_and_resize", "extrapolation_value": 10.0},
			in:    []*tensor.Tensor{x24, rF32(rDims(8), 0, 0, 0.4, 0.6, 1, 1, 1.2, 1.7), nil, sz(1, 1, 3, 3)},
			want:  []*tensor.Tensor{rF32(rDims(1, 1, 3, 3), 3, 10, 10, 7, 10, 10, 10, 10, 10)}},
		{name: "nearest round_prefer_ceil asymmetric strings", op: "Resize", opset: 13,
			attrs: map[string]any{"coordinate_transformation_mode": "asymmetric", "nearest_mode": "round_prefer_ceil"},
			in:    []*tensor.Tensor{tensor.From(rDims(3), []string{"a", "b", "c"}), nil, nil, sz(5)},
			want:  []*tensor.Tensor{tensor.From(rDims(5), []string{"a", "b", "b", "c", "c"})}},
		{name: "linear uint8 truncates", op: "Resize", opset: 13, attrs: map[string]any{"mode": "linear"},
			in:   []*tensor.Tensor{tensor.From(rDims(1, 4), []uint8{0, 100, 200, 255}), nil, sc(1, 2)},
			want: []*tensor.Tensor{tensor.From(rDims(1, 8), []uint8{0, 25, 75, 125, 175, 213, 241, 255})}},
		{name: "cubic float16", op: "Resize", opset: 13, attrs: map[string]any{"mode": "cubic"},
			in: []*tensor.Tensor{rHalf(rDims(2), 1, 2), nil, sc(1)}, want: []*tensor.Tensor{rHalf(rDims(2), 1, 2)}},
		// Upsample and Resize-10 use asymmetric coordinates.
		{name: "upsample9 nearest", op: "Upsample", opset: 9, attrs: map[string]any{"mode": "nearest"},
			in: []*tensor.Tensor{x22, sc(1, 1, 2, 3)},
			want: []*tensor.Tensor{rF32(rDims(1, 1, 4, 6), 1, 1, 1, 2, 2, 2, 1, 1, 1, 2, 2, 2,
				3, 3, 3, 4, 4, 4, 3, 3, 3, 4, 4, 4)}},
		{name: "upsample7 linear attr", op: "Upsample", opset: 7, attrs: map[string]any{"mode": "linear", "scales": []float32{1, 1, 2, 2}},
			in: []*tensor.Tensor{x22},
			want: []*tensor.Tensor{rF32(rDims(1, 1, 4, 4), 1, 1.5, 2, 2, 2, 2.5, 3, 3,
				3, 3.5, 4, 4, 3, 3.5, 4, 4)}},
		{name: "resize10 nearest down", op: "Resize", opset: 10, in: []*tensor.Tensor{x24, sc(1, 1, 0.6, 0.6)},
			want: []*tensor.Tensor{rF32(rDims(1, 1, 1, 2), 1, 3)}},
		{name: "upsample7 missing scales", op: "Upsample", opset: 7, in: []*tensor.Tensor{x22}, err: "required"},
		{name: "scales and sizes", op: "Resize", opset: 13, in: []*tensor.Tensor{x22, nil, sc(1, 1, 2, 2), sz(1, 1, 4, 4)}, err: "only one"},
		{name: "neither scales nor sizes", op: "Resize", opset: 13, in: []*tensor.Tensor{x22, nil, nil, nil}, err: "required"},
		{name: "scales length", op: "Resize", opset: 13, in: []*tensor.Tensor{x22, nil, sc(2, 2)}, err: "want 4"},
		{name: "bad mode", op: "Resize", opset: 13, attrs: map[string]any{"mode": "area"}, in: []*tensor.Tensor{x22, nil, sc(1, 1, 2, 2)}, err: "mode"},
		{name: "crop without roi", op: "Resize", opset: 13, attrs: map[string]any{"coordinate_transformation_mode": "tf_crop_and_resize"},
			in: []*tensor.Tensor{x22, nil, sc(1, 1, 2, 2)}, err: "roi"},
		{name: "linear on strings", op: "Resize", opset: 13, attrs: map[string]any{"mode": "linear"},
			in: []*tensor.Tensor{tensor.From(rDims(1), []string{"a"}), nil, sc(2)}, err: "unsupported element type"},
	})
}

func TestEinsum(t *testing.T) {
	ar := func(shape ...int) *tensor.Tensor {
		n, _ := tensor.NumElements(shape)
		v := make([]int64, n)
		for i := range v {
			v[i] = int64(i)
		}
		return tensor.From(shape, v)
	}
	eq := func(e string) map[string]any { return map[string]any{"equation": e} }
	fa := redMust(ar(2, 3).Cast(tensor.Float32))
	fb := redMust(ar(3, 4).Cast(tensor.Float32))
	redCheck(t, []redCase{
		{name: "matmul", op: "Einsum", opset: 12, attrs: eq("ij,jk->ik"), in: []*tensor.Tensor{fa, fb},
			want: []*tensor.Tensor{rF32(rDims(2, 4), 20, 23, 26, 29, 56, 68, 80, 92)}},
		{name: "implicit ellipsis matmul", op: "Einsum", opset: 12, attrs: eq("...ij,...jk"), in: []*tensor.Tensor{ar(2, 2, 3), ar(3, 2)},
			want: []*tensor.Tensor{rI64(rDims(2, 2, 2), 10, 13, 28, 40, 46, 67, 64, 94)}},
		{name: "batch diagonal", op: "Einsum", opset: 12, attrs: eq("bii->bi"), in: []*tensor.Tensor{ar(2, 3, 3)},
			want: []*tensor.Tensor{rI64(rDims(2, 3), 0, 4, 8, 9, 13, 17)}},
		{name: "trace", op: "Einsum", opset: 12, attrs: eq("ii"), in: []*tensor.Tensor{ar(3, 3)}, want: []*tensor.Tensor{rI64(nil, 12)}},
		{name: "outer", op: "Einsum", opset: 12, attrs: eq("i,j"), in: []*tensor.Tensor{rI64(rDims(2), 1, 2), rI64(rDims(3), 3, 4, 5)},
			want: []*tensor.Tensor{rI64(rDims(2, 3), 3, 4, 5, 6, 8, 10)}},
		{name: "implicit transpose", op: "Einsum", opset: 12, attrs: eq("ba"), in: []*tensor.Tensor{ar(2, 3)},
			want: []*tensor.Tensor{rI64(rDims(3, 2), 0, 3, 1, 4, 2, 5)}},
		{name: "sum all", op: "Einsum", opset: 12, attrs: eq("ij->"), in: []*tensor.Tensor{fa}, want: []*tensor.Tensor{rF32(nil, 15)}},
		{name: "inner product", op: "Einsum", opset: 12, attrs: eq("i, i"), in: []*tensor.Tensor{rF64(rDims(3), 1, 2, 3), rF64(rDims(3), 4, 5, 6)},
			want: []*tensor.Tensor{rF64(nil, 32)}},
		{name: "ellipsis broadcast", op: "Einsum", opset: 12, attrs: eq("...i,...i->..."),
			in:   []*tensor.Tensor{rF32(rDims(2, 1, 2), 1, 2, 3, 4), rF32(rDims(3, 2), 1, 0, 0, 1, 1, 1)},
			want: []*tensor.Tensor{rF32(rDims(2, 3), 1, 2, 3, 3, 4, 7)}},
		{name: "float16", op: "Einsum", opset: 12, attrs: eq("i->"), in: []*tensor.Tensor{rHalf(rDims(2), 1.5, 2)}, want: []*tensor.Tensor{rHalf(nil, 3.5)}},
		{name: "operand count", op: "Einsum", opset: 12, attrs: eq("ij,jk->ik"), in: []*tensor.Tensor{fa}, err: "operands"},
		{name: "rank mismatch", op: "Einsum", opset: 12, attrs: eq("ijk->i"), in: []*tensor.Tensor{fa}, err: "rank"},
		{name: "size mismatch", op: "Einsum", opset: 12, attrs: eq("ij,ij->i"), in: []*tensor.Tensor{fa, fb}, err: "size"},
		{name: "unknown output label", op: "Einsum", opset: 12, attrs: eq("ij->k"), in: []*tensor.Tensor{fa}, err: "does not appear"},
		{name: "bad char", op: "Einsum", opset: 12, attrs: eq("i1->i"), in: []*tensor.Tensor{fa}, err: "invalid character"},
	})
}

func TestDet(t *testing.T) {
	redCheck(t, []redCase{
		{name: "2d", op: "Det", opset: 11, in: []*tensor.Tensor{rF32(rDims(2, 2), 1, 2, 3, 4)}, want: []*tensor.Tensor{rF32(nil, -2)}},
		{name: "batch", op: "Det", opset: 11,
			in:   []*tensor.Tensor{rF64(rDims(2, 3, 3), 2, -3, 1, 2, 0, -1, 1, 4, 5, 1, 2, 3, 2, 4, 6, 0, 0, 1)},
			want: []*tensor.Tensor{rF64(rDims(2), 49, 0)}},
		{name: "pivoting", op: "Det", opset: 11, in: []*tensor.Tensor{rF32(rDims(2, 2), 0, 1, 1, 0)}, want: []*tensor.Tensor{rF32(nil, -1)}},
		{name: "not square", op: "Det", opset: 11, in: []*tensor.Tensor{rF32(rDims(2, 3), 1, 2, 3, 4, 5, 6)}, err: "M, M"},
		{name: "ints rejected", op: "Det", opset: 11, in: []*tensor.Tensor{rI64(rDims(1, 1), 1)}, err: "unsupported element type"},
	})
}

// TestReduceConcurrent runs one kernel from many goroutines.
func TestReduceConcurrent(t *testing.T) {
	c := redCase{op: "ReduceSum", opset: 13, in: []*tensor.Tensor{rSeq(rDims(3, 2, 2)), rI64(rDims(1), 1)}}
	def, _ := redRegistry().Lookup("", c.op, c.opset)
	k, err := def.Build(&Builder{Opset: 13, NumInputs: 2, InputPresent: []bool{true, true}, Attrs: map[string]*Attr{}})
	if err != nil {
		t.Fatal(err)
	}
	want := rF32(rDims(3, 1, 2), 4, 6, 12, 14, 20, 22)
	var wg sync.WaitGroup
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 50; i++ {
				out, err := k.Run(&RunContext{Threads: 1}, c.in)
				if err != nil {
					t.Error(err)
					return
				}
				if !tensor.ShapeEqual(out[0].Shape(), want.Shape()) || out[0].Float32s()[5] != 22 {
					t.Error("wrong result")
					return
				}
			}
		}()
	}
	wg.Wait()
}

func TestReduceFamilyInfer(t *testing.T) {
	fm := func(s tensor.SymShape) Meta { return Meta{DType: tensor.Float32, Shape: s} }
	cst := func(x *tensor.Tensor) Meta { return MetaOf(x) }
	dyn := Meta{DType: tensor.Float32, Shape: sym(4)}
	sc := func(v ...float32) Meta { return cst(rF32(rDims(len(v)), v...)) }
	tests := []struct {
		name  string
		op    string
		opset int
		attrs map[string]any
		in    []Meta
		want  string // output 0 shape or "error"
	}{
		{"topk const k", "TopK", 11, nil, []Meta{fm(sym("N", 10)), cst(rI64(rDims(1), 3))}, "[N 3]"},
		{"topk dynamic k", "TopK", 11, map[string]any{"axis": 0}, []Meta{fm(sym("N", 10)), {DType: tensor.Int64, Shape: sym(1)}}, "[? 10]"},
		{"topk attr k", "TopK", 1, map[string]any{"k": 2}, []Meta{fm(sym(5, 7))}, "[5 2]"},
		{"det", "Det", 11, nil, []Meta{fm(sym("B", 3, 3))}, "[B]"},
		{"einsum batch matmul", "Einsum", 12, map[string]any{"equation": "bij,bjk->bik"}, []Meta{fm(sym("N", 2, 3)), fm(sym("N", 3, 4))}, "[N 2 4]"},
		{"einsum ellipsis", "Einsum", 12, map[string]any{"equation": "...ij,...jk"}, []Meta{fm(sym(5, 1, 2, 3)), fm(sym(4, 3, 7))}, "[5 4 2 7]"},
		{"einsum scalar", "Einsum", 12, map[string]any{"equation": "i,i"}, []Meta{fm(sym(3)), fm(sym(3))}, "[]"},
		{"resize const scales", "Resize", 13, nil, []Meta{fm(sym("N", 3, 8, 8)), {}, sc(1, 1, 2, 2.5)}, "[N 3 16 20]"},
		{"resize const sizes", "Resize", 13, nil, []Meta{fm(sym("N", 3, "H", "W")), {}, {}, cst(rI64(rDims(4), 1, 3, 5, 6))}, "[1 3 5 6]"},
		{"resize axes sizes", "Resize", 18, map[string]any{"axes": []int64{2, 3}}, []Meta{fm(sym("N", 3, "H", 9)), {}, {}, cst(rI64(rDims(2), 5, 6))}, "[N 3 5 6]"},
		{"resize keep aspect", "Resize", 18, map[string]any{"keep_aspect_ratio_policy": "not_larger", "axes": []int64{2, 3}},
			[]Meta{fm(sym("N", 3, 4, 8)), {}, {}, cst(rI64(rDims(2), 2, 2))}, "[N 3 1 2]"},
		{"resize dynamic scales", "Resize", 13, nil, []Meta{fm(sym("N", 3, 8, 8)), {}, dyn}, "[? ? ? ?]"},
		{"resize bad scales", "Resize", 13, nil, []Meta{fm(sym("N", 3, 8, 8)), {}, sc(2, 2)}, "error"},
		{"upsample7 attr", "Upsample", 7, map[string]any{"scales": []float32{1, 1, 2, 2}}, []Meta{fm(sym("N", 3, 8, 8))}, "[N 3 16 16]"},
		{"upsample9 input", "Upsample", 9, nil, []Meta{fm(sym(1, 3, 8, 8)), sc(1, 1, 2, 3)}, "[1 3 16 24]"},
		{"resize10", "Resize", 10, nil, []Meta{fm(sym(1, 3, 8, 8)), sc(1, 1, 0.5, 0.5)}, "[1 3 4 4]"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			def, err := redRegistry().Lookup("", tc.op, tc.opset)
			if err != nil {
				t.Fatal(err)
			}
			present := make([]bool, len(tc.in))
			for i, m := range tc.in {
				present[i] = m.DType != tensor.Undefined
			}
			b := &Builder{OpType: tc.op, Opset: tc.opset, NumInputs: len(tc.in), NumOutputs: 2,
				InputPresent: present, Attrs: redAttrs(t, tc.attrs)}
			f := InferFor(def)
			if f == nil {
				t.Fatalf("no shape rule for %s", tc.op)
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
				t.Fatalf("shape %s, want %s", got, tc.want)
			}
			if out[0].DType != tensor.Float32 {
				t.Fatalf("dtype %v", out[0].DType)
			}
		})
	}
}

// TestTopKSelect checks the heap selection of TopK against a full sort on
// data with many ties and NaNs.
func TestTopKSelect(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for iter := 0; iter < 200; iter++ {
		n := 1 + rng.IntN(60)
		v := make([]float32, n)
		for i := range v {
			v[i] = float32(rng.IntN(6))
			if rng.IntN(10) == 0 {
				v[i] = float32(math.NaN())
			}
		}
		k := rng.IntN(n + 1)
		largest := rng.IntN(2) == 0
		vals, idx := topK(v, topKPlan{outer: 1, n: n, inner: 1, k: k, largest: largest})
		// Reference: stable sort of all indices.
		ref := make([]int, n)
		for i := range ref {
			ref[i] = i
		}
		key := func(i int) float64 {
			x := float64(v[i])
			if x != x {
				x = math.MaxFloat64 // NaN ranks above every number
			}
			if !largest {
				return x
			}
			return -x
		}
		sort.SliceStable(ref, func(a, b int) bool { return key(ref[a]) < key(ref[b]) })
		for j := 0; j < k; j++ {
			if idx[j] != int64(ref[j]) {
				t.Fatalf("n=%d k=%d largest=%v %v: got indices %v, want %v", n, k, largest, v, idx, ref[:k])
			}
			if a, b := vals[j], v[ref[j]]; a != b && !(a != a && b != b) {
				t.Fatalf("value %d is %v, want %v", j, a, b)
			}
		}
	}
}

func TestReduceRejectsAxesAttributeWhereAxesIsAnInput(t *testing.T) {
	b := &Builder{OpType: "ReduceSum", Opset: 13, Attrs: map[string]*Attr{"axes": {Name: "axes", Type: AttrInts, Ints: []int64{1}}}}
	_, err := buildReduce(redSum, true)(b)
	if err == nil || !strings.Contains(err.Error(), "axes is the second input of ReduceSum") {
		t.Fatalf("ReduceSum-13 with an axes attribute: got error %v", err)
	}
}
