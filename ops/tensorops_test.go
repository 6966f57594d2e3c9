package ops

import (
	"context"
	"fmt"
	"math"
	"math/rand"
	"reflect"
	"strings"
	"sync"
	"testing"

	"github.com/onyxrt/onyx/tensor"
)

// Attribute constructors for the layout tests.
func topsInt(n string, v int64) *Attr     { return &Attr{Name: n, Type: AttrInt, Int: v} }
func topsInts(n string, v ...int64) *Attr { return &Attr{Name: n, Type: AttrInts, Ints: v} }
func topsStr(n, v string) *Attr           { return &Attr{Name: n, Type: AttrString, String: v} }
func topsFloat(n string, v float32) *Attr { return &Attr{Name: n, Type: AttrFloat, Float: v} }
func topsTensor(n string, v *tensor.Tensor) *Attr {
	return &Attr{Name: n, Type: AttrTensor, Tensor: v}
}

func topsF32(shape []int, v ...float32) *tensor.Tensor { return tensor.From(shape, v) }
func topsI64(shape []int, v ...int64) *tensor.Tensor   { return tensor.From(shape, v) }
func topsI32(shape []int, v ...int32) *tensor.Tensor   { return tensor.From(shape, v) }
func topsStrs(shape []int, v ...string) *tensor.Tensor { return tensor.From(shape, v) }
func topsBools(shape []int, v ...bool) *tensor.Tensor  { return tensor.From(shape, v) }

// topsIota returns a float32 tensor holding 0, 1, 2, ...
func topsIota(shape ...int) *tensor.Tensor {
	n := layoutProd(shape)
	v := make([]float32, n)
	for i := range v {
		v[i] = float32(i)
	}
	return tensor.From(shape, v)
}

var (
	topsRegistryOnce sync.Once
	topsRegistry     *Registry
)

// topsRun builds op at opset with attrs and runs it on inputs (nil for an
// omitted optional input).
func topsRun(op string, opset int, attrs []*Attr, nout int, inputs ...*tensor.Tensor) ([]*tensor.Tensor, error) {
	topsRegistryOnce.Do(func() {
		topsRegistry = NewRegistry()
		registerTensorOps(topsRegistry)
	})
	def, err := topsRegistry.Lookup("", op, opset)
	if err != nil {
		return nil, err
	}
	b := &Builder{OpType: op, Opset: opset, NumInputs: len(inputs), NumOutputs: nout, Attrs: map[string]*Attr{}}
	for _, in := range inputs {
		b.InputPresent = append(b.InputPresent, in != nil)
	}
	for i := 0; i < nout; i++ {
		b.OutputPresent = append(b.OutputPresent, true)
	}
	for _, a := range attrs {
		b.Attrs[a.Name] = a
	}
	k, err := def.Build(b)
	if err != nil {
		return nil, err
	}
	return k.Run(&RunContext{Ctx: context.Background(), Threads: 4}, inputs)
}

func topsEqual(got, want *tensor.Tensor) error {
	if got == nil {
		return fmt.Errorf("got nil output")
	}
	if got.DType() != want.DType() || !tensor.ShapeEqual(got.Shape(), want.Shape()) {
		return fmt.Errorf("got %v, want %v", got, want)
	}
	if !reflect.DeepEqual(got.Data(), want.Data()) {
		// Empty slices may differ only in nil-ness.
		if got.Len() == 0 && want.Len() == 0 {
			return nil
		}
		return fmt.Errorf("got %v, want %v", got, want)
	}
	return nil
}

type topsCase struct {
	name    string
	op      string
	opset   int
	attrs   []*Attr
	in      []*tensor.Tensor
	want    []*tensor.Tensor
	wantErr string // substring of the expected error
}

func topsCheck(t *testing.T, cases []topsCase) {
	t.Helper()
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			nout := len(c.want)
			if nout == 0 {
				nout = 1
			}
			got, err := topsRun(c.op, c.opset, c.attrs, nout, c.in...)
			if c.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), c.wantErr) {
					t.Fatalf("error %v, want one containing %q", err, c.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(got) < len(c.want) {
				t.Fatalf("%d outputs, want %d", len(got), len(c.want))
			}
			for i, w := range c.want {
				if err := topsEqual(got[i], w); err != nil {
					t.Errorf("output %d: %v", i, err)
				}
			}
		})
	}
}

func TestTensorOpsShape(t *testing.T) {
	x := topsIota(2, 3, 4)
	big := int64(math.MaxInt64)
	topsCheck(t, []topsCase{
		{name: "reshape-0-and-neg", op: "Reshape", opset: 14, in: []*tensor.Tensor{x, topsI64([]int{2}, 0, -1)},
			want: []*tensor.Tensor{topsIota(2, 12)}},
		{name: "reshape-allowzero", op: "Reshape", opset: 14, attrs: []*Attr{topsInt("allowzero", 1)},
			in:   []*tensor.Tensor{tensor.MustNew(tensor.Float32, 0, 3), topsI64([]int{2}, 3, 0)},
			want: []*tensor.Tensor{tensor.MustNew(tensor.Float32, 3, 0)}},
		{name: "reshape-allowzero-and-neg", op: "Reshape", opset: 14, attrs: []*Attr{topsInt("allowzero", 1)},
			in: []*tensor.Tensor{x, topsI64([]int{2}, 0, -1)}, wantErr: "allowzero"},
		{name: "reshape-scalar", op: "Reshape", opset: 13, in: []*tensor.Tensor{topsF32([]int{1, 1}, 7), topsI64([]int{0})},
			want: []*tensor.Tensor{topsF32(nil, 7)}},
		{name: "reshape-attr", op: "Reshape", opset: 1, attrs: []*Attr{topsInts("shape", 4, -1)}, in: []*tensor.Tensor{x},
			want: []*tensor.Tensor{topsIota(4, 6)}},
		{name: "reshape-mismatch", op: "Reshape", opset: 13, in: []*tensor.Tensor{x, topsI64([]int{2}, 5, 5)}, wantErr: "cannot reshape"},
		{name: "reshape-two-neg", op: "Reshape", opset: 13, in: []*tensor.Tensor{x, topsI64([]int{2}, -1, -1)}, wantErr: "more than one"},
		{name: "reshape-huge", op: "Reshape", opset: 13, in: []*tensor.Tensor{x, topsI64([]int{3}, big, big, 0)}, wantErr: "too large"},
		{name: "flatten-0", op: "Flatten", opset: 13, attrs: []*Attr{topsInt("axis", 0)}, in: []*tensor.Tensor{x},
			want: []*tensor.Tensor{topsIota(1, 24)}},
		{name: "flatten-neg", op: "Flatten", opset: 13, attrs: []*Attr{topsInt("axis", -1)}, in: []*tensor.Tensor{x},
			want: []*tensor.Tensor{topsIota(6, 4)}},
		{name: "flatten-bad", op: "Flatten", opset: 13, attrs: []*Attr{topsInt("axis", 4)}, in: []*tensor.Tensor{x}, wantErr: "out of range"},
		{name: "squeeze-all", op: "Squeeze", opset: 13, in: []*tensor.Tensor{topsIota(1, 3, 1, 2)},
			want: []*tensor.Tensor{topsIota(3, 2)}},
		{name: "squeeze-input-axes", op: "Squeeze", opset: 13, in: []*tensor.Tensor{topsIota(1, 3, 1, 2), topsI64([]int{1}, -2)},
			want: []*tensor.Tensor{topsIota(1, 3, 2)}},
		{name: "squeeze-attr-axes", op: "Squeeze", opset: 11, attrs: []*Attr{topsInts("axes", 0)}, in: []*tensor.Tensor{topsIota(1, 3, 1, 2)},
			want: []*tensor.Tensor{topsIota(3, 1, 2)}},
		{name: "squeeze-not-one", op: "Squeeze", opset: 11, attrs: []*Attr{topsInts("axes", 1)}, in: []*tensor.Tensor{topsIota(1, 3)}, wantErr: "cannot squeeze"},
		{name: "unsqueeze-input", op: "Unsqueeze", opset: 13, in: []*tensor.Tensor{topsIota(3, 2), topsI64([]int{2}, -1, 0)},
			want: []*tensor.Tensor{topsIota(1, 3, 2, 1)}},
		{name: "unsqueeze-attr", op: "Unsqueeze", opset: 1, attrs: []*Attr{topsInts("axes", 1)}, in: []*tensor.Tensor{topsIota(3, 2)},
			want: []*tensor.Tensor{topsIota(3, 1, 2)}},
		{name: "unsqueeze-dup", op: "Unsqueeze", opset: 13, in: []*tensor.Tensor{topsIota(3), topsI64([]int{2}, 0, 0)}, wantErr: "twice"},
		{name: "unsqueeze-scalar", op: "Unsqueeze", opset: 13, in: []*tensor.Tensor{topsStrs(nil, "a"), topsI64([]int{1}, 0)},
			want: []*tensor.Tensor{topsStrs([]int{1}, "a")}},
		{name: "identity-string", op: "Identity", opset: 16, in: []*tensor.Tensor{topsStrs([]int{2}, "a", "b")},
			want: []*tensor.Tensor{topsStrs([]int{2}, "a", "b")}},
		{name: "shape", op: "Shape", opset: 13, in: []*tensor.Tensor{x}, want: []*tensor.Tensor{topsI64([]int{3}, 2, 3, 4)}},
		{name: "shape-start-end", op: "Shape", opset: 15, attrs: []*Attr{topsInt("start", -2), topsInt("end", 10)}, in: []*tensor.Tensor{x},
			want: []*tensor.Tensor{topsI64([]int{2}, 3, 4)}},
		{name: "shape-empty", op: "Shape", opset: 15, attrs: []*Attr{topsInt("start", 2), topsInt("end", 1)}, in: []*tensor.Tensor{x},
			want: []*tensor.Tensor{topsI64([]int{0})}},
		{name: "size", op: "Size", opset: 13, in: []*tensor.Tensor{x}, want: []*tensor.Tensor{topsI64(nil, 24)}},
		{name: "constant-tensor", op: "Constant", opset: 13, attrs: []*Attr{topsTensor("value", topsI32([]int{2}, 1, 2))},
			want: []*tensor.Tensor{topsI32([]int{2}, 1, 2)}},
		{name: "constant-float", op: "Constant", opset: 13, attrs: []*Attr{topsFloat("value_float", 1.5)},
			want: []*tensor.Tensor{topsF32(nil, 1.5)}},
		{name: "constant-floats", op: "Constant", opset: 13, attrs: []*Attr{{Name: "value_floats", Type: AttrFloats, Floats: []float32{1, 2}}},
			want: []*tensor.Tensor{topsF32([]int{2}, 1, 2)}},
		{name: "constant-int", op: "Constant", opset: 13, attrs: []*Attr{topsInt("value_int", 3)}, want: []*tensor.Tensor{topsI64(nil, 3)}},
		{name: "constant-ints", op: "Constant", opset: 13, attrs: []*Attr{topsInts("value_ints", 3, 4)}, want: []*tensor.Tensor{topsI64([]int{2}, 3, 4)}},
		{name: "constant-string", op: "Constant", opset: 13, attrs: []*Attr{topsStr("value_string", "hi")}, want: []*tensor.Tensor{topsStrs(nil, "hi")}},
		{name: "constant-strings", op: "Constant", opset: 13, attrs: []*Attr{{Name: "value_strings", Type: AttrStrings, Strings: []string{"a", "b"}}},
			want: []*tensor.Tensor{topsStrs([]int{2}, "a", "b")}},
		{name: "constant-sparse", op: "Constant", opset: 13, attrs: []*Attr{{Name: "sparse_value", Type: AttrUndefined}}, wantErr: "sparse"},
		{name: "constant-two", op: "Constant", opset: 13, attrs: []*Attr{topsInt("value_int", 3), topsFloat("value_float", 1)}, wantErr: "exactly one"},
		{name: "constant-of-shape-default", op: "ConstantOfShape", opset: 9, in: []*tensor.Tensor{topsI64([]int{2}, 2, 1)},
			want: []*tensor.Tensor{topsF32([]int{2, 1}, 0, 0)}},
		{name: "constant-of-shape-int", op: "ConstantOfShape", opset: 9, attrs: []*Attr{topsTensor("value", topsI32([]int{1}, 7))},
			in: []*tensor.Tensor{topsI64([]int{1}, 3)}, want: []*tensor.Tensor{topsI32([]int{3}, 7, 7, 7)}},
		{name: "constant-of-shape-scalar", op: "ConstantOfShape", opset: 9, attrs: []*Attr{topsTensor("value", topsBools([]int{1}, true))},
			in: []*tensor.Tensor{topsI64([]int{0})}, want: []*tensor.Tensor{topsBools(nil, true)}},
		{name: "constant-of-shape-huge", op: "ConstantOfShape", opset: 9, in: []*tensor.Tensor{topsI64([]int{3}, 1<<40, 1<<40, 1<<40)}, wantErr: "too large"},
		{name: "constant-of-shape-neg", op: "ConstantOfShape", opset: 9, in: []*tensor.Tensor{topsI64([]int{1}, -1)}, wantErr: "negative"},
		{name: "eyelike", op: "EyeLike", opset: 9, attrs: []*Attr{topsInt("k", 1), topsInt("dtype", int64(tensor.Int32))},
			in: []*tensor.Tensor{topsIota(3, 3)}, want: []*tensor.Tensor{topsI32([]int{3, 3}, 0, 1, 0, 0, 0, 1, 0, 0, 0)}},
		{name: "eyelike-bool", op: "EyeLike", opset: 9, attrs: []*Attr{topsInt("k", -1)},
			in: []*tensor.Tensor{tensor.MustNew(tensor.Bool, 2, 3)}, want: []*tensor.Tensor{topsBools([]int{2, 3}, false, false, false, true, false, false)}},
		{name: "range-float", op: "Range", opset: 11, in: []*tensor.Tensor{topsF32(nil, 1), topsF32(nil, 2), topsF32(nil, 0.25)},
			want: []*tensor.Tensor{topsF32([]int{4}, 1, 1.25, 1.5, 1.75)}},
		{name: "range-int-neg", op: "Range", opset: 11, in: []*tensor.Tensor{topsI32(nil, 10), topsI32(nil, 4), topsI32(nil, -3)},
			want: []*tensor.Tensor{topsI32([]int{2}, 10, 7)}},
		{name: "range-empty", op: "Range", opset: 11, in: []*tensor.Tensor{topsI64(nil, 10), topsI64(nil, 4), topsI64(nil, 3)},
			want: []*tensor.Tensor{topsI64([]int{0})}},
		{name: "range-int64-extreme", op: "Range", opset: 11, in: []*tensor.Tensor{topsI64(nil, math.MinInt64), topsI64(nil, math.MaxInt64), topsI64(nil, math.MaxInt64)},
			want: []*tensor.Tensor{topsI64([]int{3}, math.MinInt64, -1, math.MaxInt64-1)}},
		{name: "range-huge", op: "Range", opset: 11, in: []*tensor.Tensor{topsI64(nil, 0), topsI64(nil, math.MaxInt64), topsI64(nil, 1)}, wantErr: "too large"},
		{name: "range-huge-float", op: "Range", opset: 11, in: []*tensor.Tensor{topsF32(nil, 0), topsF32(nil, 1e30), topsF32(nil, 1)}, wantErr: "too large"},
		{name: "range-zero-delta", op: "Range", opset: 11, in: []*tensor.Tensor{topsF32(nil, 0), topsF32(nil, 1), topsF32(nil, 0)}, wantErr: "zero"},
	})
}

func TestTensorOpsMove(t *testing.T) {
	x := topsIota(2, 3)
	topsCheck(t, []topsCase{
		{name: "transpose-default", op: "Transpose", opset: 13, in: []*tensor.Tensor{x},
			want: []*tensor.Tensor{topsF32([]int{3, 2}, 0, 3, 1, 4, 2, 5)}},
		{name: "transpose-bad-perm", op: "Transpose", opset: 13, attrs: []*Attr{topsInts("perm", 0, 0)}, in: []*tensor.Tensor{x}, wantErr: "permutation"},
		{name: "transpose-string", op: "Transpose", opset: 13, in: []*tensor.Tensor{topsStrs([]int{1, 2}, "a", "b")},
			want: []*tensor.Tensor{topsStrs([]int{2, 1}, "a", "b")}},
		{name: "concat", op: "Concat", opset: 13, attrs: []*Attr{topsInt("axis", -1)},
			in:   []*tensor.Tensor{x, topsF32([]int{2, 1}, 9, 8), tensor.MustNew(tensor.Float32, 2, 0)},
			want: []*tensor.Tensor{topsF32([]int{2, 4}, 0, 1, 2, 9, 3, 4, 5, 8)}},
		{name: "concat-mismatch", op: "Concat", opset: 13, attrs: []*Attr{topsInt("axis", 0)},
			in: []*tensor.Tensor{x, topsF32([]int{1, 2}, 9, 8)}, wantErr: "differs"},
		{name: "concat-dtype", op: "Concat", opset: 13, attrs: []*Attr{topsInt("axis", 0)},
			in: []*tensor.Tensor{x, topsI64([]int{1, 3}, 1, 2, 3)}, wantErr: "type"},
		{name: "split-equal", op: "Split", opset: 13, attrs: []*Attr{topsInt("axis", 1)}, in: []*tensor.Tensor{topsIota(2, 4)},
			want: []*tensor.Tensor{topsF32([]int{2, 2}, 0, 1, 4, 5), topsF32([]int{2, 2}, 2, 3, 6, 7)}},
		{name: "split-input", op: "Split", opset: 13, in: []*tensor.Tensor{topsIota(4), topsI64([]int{3}, 1, 0, 3)},
			want: []*tensor.Tensor{topsF32([]int{1}, 0), topsF32([]int{0}), topsF32([]int{3}, 1, 2, 3)}},
		{name: "split-attr", op: "Split", opset: 11, attrs: []*Attr{topsInts("split", 3, 1)}, in: []*tensor.Tensor{topsIota(4)},
			want: []*tensor.Tensor{topsF32([]int{3}, 0, 1, 2), topsF32([]int{1}, 3)}},
		{name: "split-uneven", op: "Split", opset: 13, in: []*tensor.Tensor{topsIota(5)},
			want: []*tensor.Tensor{topsIota(2), topsIota(2)}, wantErr: "equal parts"},
		{name: "split-bad-sum", op: "Split", opset: 13, in: []*tensor.Tensor{topsIota(4), topsI64([]int{2}, 1, 1)},
			want: []*tensor.Tensor{topsIota(1), topsIota(1)}, wantErr: "sums"},
		{name: "tile", op: "Tile", opset: 13, in: []*tensor.Tensor{x, topsI64([]int{2}, 2, 2)},
			want: []*tensor.Tensor{topsF32([]int{4, 6}, 0, 1, 2, 0, 1, 2, 3, 4, 5, 3, 4, 5, 0, 1, 2, 0, 1, 2, 3, 4, 5, 3, 4, 5)}},
		{name: "tile-zero", op: "Tile", opset: 13, in: []*tensor.Tensor{x, topsI64([]int{2}, 0, 2)},
			want: []*tensor.Tensor{tensor.MustNew(tensor.Float32, 0, 6)}},
		{name: "tile-1", op: "Tile", opset: 1, in: []*tensor.Tensor{topsStrs([]int{2}, "a", "b"), topsI64(nil, 2), topsI64(nil, 0)},
			want: []*tensor.Tensor{topsStrs([]int{4}, "a", "b", "a", "b")}},
		{name: "tile-huge", op: "Tile", opset: 13, in: []*tensor.Tensor{x, topsI64([]int{2}, math.MaxInt64, 2)}, wantErr: "too large"},
		{name: "tile-huge2", op: "Tile", opset: 13, in: []*tensor.Tensor{x, topsI64([]int{2}, 1<<31, 1<<31)}, wantErr: "too large"},
		{name: "expand", op: "Expand", opset: 13, in: []*tensor.Tensor{topsF32([]int{3, 1}, 1, 2, 3), topsI64([]int{3}, 2, 1, 2)},
			want: []*tensor.Tensor{topsF32([]int{2, 3, 2}, 1, 1, 2, 2, 3, 3, 1, 1, 2, 2, 3, 3)}},
		{name: "expand-smaller-shape", op: "Expand", opset: 13, in: []*tensor.Tensor{topsF32([]int{3, 1}, 1, 2, 3), topsI64([]int{1}, 1)},
			want: []*tensor.Tensor{topsF32([]int{3, 1}, 1, 2, 3)}},
		{name: "expand-bad", op: "Expand", opset: 13, in: []*tensor.Tensor{topsF32([]int{3}, 1, 2, 3), topsI64([]int{1}, 2)}, wantErr: "broadcast"},
		{name: "expand-huge", op: "Expand", opset: 13, in: []*tensor.Tensor{topsF32([]int{1}, 1), topsI64([]int{2}, 1<<40, 1<<40)}, wantErr: "too large"},
		{name: "depth-to-space-dcr", op: "DepthToSpace", opset: 13, attrs: []*Attr{topsInt("blocksize", 2)}, in: []*tensor.Tensor{topsIota(1, 4, 1, 2)},
			want: []*tensor.Tensor{topsF32([]int{1, 1, 2, 4}, 0, 2, 1, 3, 4, 6, 5, 7)}},
		{name: "depth-to-space-crd", op: "DepthToSpace", opset: 13, attrs: []*Attr{topsInt("blocksize", 2), topsStr("mode", "CRD")},
			in: []*tensor.Tensor{topsIota(1, 8, 1, 2)}, want: []*tensor.Tensor{topsF32([]int{1, 2, 2, 4}, 0, 2, 1, 3, 4, 6, 5, 7, 8, 10, 9, 11, 12, 14, 13, 15)}},
		{name: "depth-to-space-dcr8", op: "DepthToSpace", opset: 11, attrs: []*Attr{topsInt("blocksize", 2)},
			in: []*tensor.Tensor{topsIota(1, 8, 1, 2)}, want: []*tensor.Tensor{topsF32([]int{1, 2, 2, 4}, 0, 4, 1, 5, 8, 12, 9, 13, 2, 6, 3, 7, 10, 14, 11, 15)}},
		{name: "space-to-depth", op: "SpaceToDepth", opset: 13, attrs: []*Attr{topsInt("blocksize", 2)}, in: []*tensor.Tensor{topsF32([]int{1, 1, 2, 4}, 0, 2, 1, 3, 4, 6, 5, 7)},
			want: []*tensor.Tensor{topsIota(1, 4, 1, 2)}},
		{name: "space-to-depth-bad", op: "SpaceToDepth", opset: 13, attrs: []*Attr{topsInt("blocksize", 3)}, in: []*tensor.Tensor{topsIota(1, 1, 2, 4)}, wantErr: "multiples"},
	})
}

func TestTensorOpsSelect(t *testing.T) {
	x := topsIota(2, 3, 4)
	a := topsIota(2, 3)
	maxI := int64(math.MaxInt64)
	topsCheck(t, []topsCase{
		{name: "slice-neg-steps", op: "Slice", opset: 13,
			in:   []*tensor.Tensor{x, topsI64([]int{2}, -1, 3), topsI64([]int{2}, -maxI, 0), topsI64([]int{2}, 1, 2), topsI64([]int{2}, -2, -2)},
			want: []*tensor.Tensor{topsF32([]int{2, 2, 2}, 11, 9, 3, 1, 23, 21, 15, 13)}},
		{name: "slice-clamp", op: "Slice", opset: 13,
			in:   []*tensor.Tensor{x, topsI64([]int{3}, 1, -100, -1), topsI64([]int{3}, 100, 2, maxI), nil, nil},
			want: []*tensor.Tensor{topsF32([]int{1, 2, 1}, 15, 19)}},
		{name: "slice-1", op: "Slice", opset: 1, attrs: []*Attr{topsInts("starts", 1), topsInts("ends", 3), topsInts("axes", -1)},
			in: []*tensor.Tensor{a}, want: []*tensor.Tensor{topsF32([]int{2, 2}, 1, 2, 4, 5)}},
		{name: "slice-empty", op: "Slice", opset: 13, in: []*tensor.Tensor{a, topsI64([]int{1}, 2), topsI64([]int{1}, 1)},
			want: []*tensor.Tensor{tensor.MustNew(tensor.Float32, 0, 3)}},
		{name: "slice-zero-step", op: "Slice", opset: 13, in: []*tensor.Tensor{a, topsI64([]int{1}, 0), topsI64([]int{1}, 1), nil, topsI64([]int{1}, 0)}, wantErr: "zero step"},
		{name: "slice-huge-step", op: "Slice", opset: 13,
			in:   []*tensor.Tensor{a, topsI64([]int{1}, maxI), topsI64([]int{1}, math.MinInt64), topsI64([]int{1}, 1), topsI64([]int{1}, math.MinInt64)},
			want: []*tensor.Tensor{topsF32([]int{2, 1}, 2, 5)}},
		{name: "pad-constant-crop", op: "Pad", opset: 13,
			in:   []*tensor.Tensor{a, topsI64([]int{4}, 1, -1, 0, 1), topsF32(nil, 9)},
			want: []*tensor.Tensor{topsF32([]int{3, 3}, 9, 9, 9, 1, 2, 9, 4, 5, 9)}},
		{name: "pad-reflect", op: "Pad", opset: 11, attrs: []*Attr{topsStr("mode", "reflect")}, in: []*tensor.Tensor{a, topsI64([]int{4}, 1, 2, 1, 2)},
			want: []*tensor.Tensor{topsF32([]int{4, 7}, 5, 4, 3, 4, 5, 4, 3, 2, 1, 0, 1, 2, 1, 0, 5, 4, 3, 4, 5, 4, 3, 2, 1, 0, 1, 2, 1, 0)}},
		{name: "pad-edge", op: "Pad", opset: 13, attrs: []*Attr{topsStr("mode", "edge")}, in: []*tensor.Tensor{a, topsI64([]int{4}, 0, 1, 1, 0)},
			want: []*tensor.Tensor{topsF32([]int{3, 4}, 0, 0, 1, 2, 3, 3, 4, 5, 3, 3, 4, 5)}},
		{name: "pad-2-attr", op: "Pad", opset: 2, attrs: []*Attr{topsInts("pads", 0, 1, 0, 0), topsFloat("value", 7)}, in: []*tensor.Tensor{a},
			want: []*tensor.Tensor{topsF32([]int{2, 4}, 7, 0, 1, 2, 7, 3, 4, 5)}},
		{name: "pad-string", op: "Pad", opset: 13, in: []*tensor.Tensor{topsStrs([]int{1}, "a"), topsI64([]int{2}, 1, 1), topsStrs(nil, "z")},
			want: []*tensor.Tensor{topsStrs([]int{3}, "z", "a", "z")}},
		{name: "pad-bad-len", op: "Pad", opset: 13, in: []*tensor.Tensor{a, topsI64([]int{2}, 1, 1)}, wantErr: "entries"},
		{name: "pad-negative-size", op: "Pad", opset: 13, in: []*tensor.Tensor{a, topsI64([]int{4}, -3, 0, 0, 0)}, wantErr: "negative"},
		{name: "compress-axis", op: "Compress", opset: 11, attrs: []*Attr{topsInt("axis", -1)}, in: []*tensor.Tensor{a, topsBools([]int{2}, false, true)},
			want: []*tensor.Tensor{topsF32([]int{2, 1}, 1, 4)}},
		{name: "compress-flat", op: "Compress", opset: 11, in: []*tensor.Tensor{a, topsBools([]int{5}, true, false, false, true, true)},
			want: []*tensor.Tensor{topsF32([]int{3}, 0, 3, 4)}},
		{name: "compress-too-long", op: "Compress", opset: 11, attrs: []*Attr{topsInt("axis", 0)}, in: []*tensor.Tensor{a, topsBools([]int{3}, false, false, true)}, wantErr: "beyond"},
		{name: "reverse-sequence-time", op: "ReverseSequence", opset: 10, in: []*tensor.Tensor{topsIota(3, 2), topsI64([]int{2}, 3, 2)},
			want: []*tensor.Tensor{topsF32([]int{3, 2}, 4, 3, 2, 1, 0, 5)}},
		{name: "reverse-sequence-batch", op: "ReverseSequence", opset: 10, attrs: []*Attr{topsInt("time_axis", 1), topsInt("batch_axis", 0)},
			in: []*tensor.Tensor{a, topsI64([]int{2}, 1, 2)}, want: []*tensor.Tensor{topsF32([]int{2, 3}, 0, 1, 2, 4, 3, 5)}},
		{name: "reverse-sequence-bad-len", op: "ReverseSequence", opset: 10, in: []*tensor.Tensor{topsIota(3, 2), topsI64([]int{2}, 4, 2)}, wantErr: "out of range"},
		{name: "triu", op: "Trilu", opset: 14, in: []*tensor.Tensor{topsIota(3, 3)},
			want: []*tensor.Tensor{topsF32([]int{3, 3}, 0, 1, 2, 0, 4, 5, 0, 0, 8)}},
		{name: "tril-k", op: "Trilu", opset: 14, attrs: []*Attr{topsInt("upper", 0)}, in: []*tensor.Tensor{topsIota(2, 2, 3), topsI64(nil, -1)},
			want: []*tensor.Tensor{topsF32([]int{2, 2, 3}, 0, 0, 0, 3, 0, 0, 0, 0, 0, 9, 0, 0)}},
		{name: "triu-huge-k", op: "Trilu", opset: 14, in: []*tensor.Tensor{topsIota(2, 2), topsI64(nil, math.MinInt64)},
			want: []*tensor.Tensor{topsIota(2, 2)}},
	})
}

func TestTensorOpsIndex(t *testing.T) {
	x := topsIota(3, 2)
	topsCheck(t, []topsCase{
		{name: "gather", op: "Gather", opset: 13, in: []*tensor.Tensor{x, topsI64([]int{2, 2}, 0, -1, 1, 2)},
			want: []*tensor.Tensor{topsF32([]int{2, 2, 2}, 0, 1, 4, 5, 2, 3, 4, 5)}},
		{name: "gather-axis1-int32", op: "Gather", opset: 13, attrs: []*Attr{topsInt("axis", 1)}, in: []*tensor.Tensor{x, topsI32(nil, 1)},
			want: []*tensor.Tensor{topsF32([]int{3}, 1, 3, 5)}},
		{name: "gather-oob", op: "Gather", opset: 13, in: []*tensor.Tensor{x, topsI64([]int{1}, 3)}, wantErr: "out of range"},
		{name: "gather-oob-neg", op: "Gather", opset: 13, in: []*tensor.Tensor{x, topsI64([]int{1}, -4)}, wantErr: "out of range"},
		{name: "gather-elements", op: "GatherElements", opset: 13, attrs: []*Attr{topsInt("axis", 1)},
			in:   []*tensor.Tensor{x, topsI64([]int{3, 1}, 1, -2, 1)},
			want: []*tensor.Tensor{topsF32([]int{3, 1}, 1, 2, 5)}},
		{name: "gather-elements-axis0", op: "GatherElements", opset: 13,
			in:   []*tensor.Tensor{x, topsI64([]int{2, 2}, 2, 0, -1, 1)},
			want: []*tensor.Tensor{topsF32([]int{2, 2}, 4, 1, 4, 3)}},
		{name: "gather-elements-oob", op: "GatherElements", opset: 13, in: []*tensor.Tensor{x, topsI64([]int{1, 1}, 3)}, wantErr: "out of range"},
		{name: "gathernd", op: "GatherND", opset: 13, in: []*tensor.Tensor{topsIota(2, 2, 2), topsI64([]int{2, 2}, 0, 1, 1, 0)},
			want: []*tensor.Tensor{topsF32([]int{2, 2}, 2, 3, 4, 5)}},
		{name: "gathernd-batch", op: "GatherND", opset: 13, attrs: []*Attr{topsInt("batch_dims", 1)},
			in:   []*tensor.Tensor{topsIota(2, 2, 2), topsI64([]int{2, 1}, 1, 0)},
			want: []*tensor.Tensor{topsF32([]int{2, 2}, 2, 3, 4, 5)}},
		{name: "gathernd-full", op: "GatherND", opset: 13, in: []*tensor.Tensor{topsIota(2, 2), topsI64([]int{2, 2}, 0, 0, -1, -1)},
			want: []*tensor.Tensor{topsF32([]int{2}, 0, 3)}},
		{name: "gathernd-oob", op: "GatherND", opset: 13, in: []*tensor.Tensor{topsIota(2, 2), topsI64([]int{1, 2}, 0, 2)}, wantErr: "out of range"},
		{name: "gathernd-long-tuple", op: "GatherND", opset: 13, in: []*tensor.Tensor{topsIota(2, 2), topsI64([]int{1, 3}, 0, 0, 0)}, wantErr: "exceed"},
		{name: "scatternd", op: "ScatterND", opset: 13, in: []*tensor.Tensor{topsIota(4), topsI64([]int{2, 1}, -1, 1), topsF32([]int{2}, 9, 8)},
			want: []*tensor.Tensor{topsF32([]int{4}, 0, 8, 2, 9)}},
		{name: "scatternd-add", op: "ScatterND", opset: 16, attrs: []*Attr{topsStr("reduction", "add")},
			in:   []*tensor.Tensor{topsIota(2, 2), topsI64([]int{2, 1}, 1, 1), topsF32([]int{2, 2}, 1, 1, 2, 2)},
			want: []*tensor.Tensor{topsF32([]int{2, 2}, 0, 1, 5, 6)}},
		{name: "scatternd-mul-int", op: "ScatterND", opset: 16, attrs: []*Attr{topsStr("reduction", "mul")},
			in:   []*tensor.Tensor{topsI32([]int{3}, 1, 2, 3), topsI64([]int{2, 1}, 2, 2), topsI32([]int{2}, 2, 5)},
			want: []*tensor.Tensor{topsI32([]int{3}, 1, 2, 30)}},
		{name: "scatternd-half-add", op: "ScatterND", opset: 16, attrs: []*Attr{topsStr("reduction", "add")},
			in: []*tensor.Tensor{tensor.From([]int{2}, []tensor.Half{tensor.HalfFrom(1), tensor.HalfFrom(2)}), topsI64([]int{1, 1}, 0),
				tensor.From([]int{1}, []tensor.Half{tensor.HalfFrom(0.5)})},
			want: []*tensor.Tensor{tensor.From([]int{2}, []tensor.Half{tensor.HalfFrom(1.5), tensor.HalfFrom(2)})}},
		{name: "scatternd-bad-updates", op: "ScatterND", opset: 13, in: []*tensor.Tensor{topsIota(4), topsI64([]int{2, 1}, 0, 1), topsF32([]int{1}, 9)}, wantErr: "updates shape"},
		{name: "scatternd-bad-reduction", op: "ScatterND", opset: 16, attrs: []*Attr{topsStr("reduction", "sub")}, wantErr: "reduction"},
		{name: "scatternd-string-add", op: "ScatterND", opset: 16, attrs: []*Attr{topsStr("reduction", "add")},
			in: []*tensor.Tensor{topsStrs([]int{1}, "a"), topsI64([]int{1, 1}, 0), topsStrs([]int{1}, "b")}, wantErr: "unsupported"},
		{name: "scatter-elements", op: "ScatterElements", opset: 13, attrs: []*Attr{topsInt("axis", 1)},
			in:   []*tensor.Tensor{topsIota(2, 3), topsI64([]int{2, 1}, -1, 0), topsF32([]int{2, 1}, 9, 8)},
			want: []*tensor.Tensor{topsF32([]int{2, 3}, 0, 1, 9, 8, 4, 5)}},
		{name: "scatter-elements-dup-add", op: "ScatterElements", opset: 16, attrs: []*Attr{topsStr("reduction", "add")},
			in:   []*tensor.Tensor{topsI64([]int{3}, 1, 2, 3), topsI64([]int{2}, 1, 1), topsI64([]int{2}, 10, 20)},
			want: []*tensor.Tensor{topsI64([]int{3}, 1, 32, 3)}},
		{name: "scatter-9", op: "Scatter", opset: 9,
			in:   []*tensor.Tensor{topsBools([]int{2}, false, false), topsI64([]int{1}, 1), topsBools([]int{1}, true)},
			want: []*tensor.Tensor{topsBools([]int{2}, false, true)}},
		{name: "scatter-elements-oob", op: "ScatterElements", opset: 13,
			in: []*tensor.Tensor{topsIota(2), topsI64([]int{1}, 2), topsF32([]int{1}, 1)}, wantErr: "out of range"},
		{name: "onehot", op: "OneHot", opset: 11, in: []*tensor.Tensor{topsI64([]int{3}, 0, -1, 5), topsF32(nil, 3), topsI32([]int{2}, 0, 1)},
			want: []*tensor.Tensor{topsI32([]int{3, 3}, 1, 0, 0, 0, 0, 1, 0, 0, 0)}},
		{name: "onehot-axis0", op: "OneHot", opset: 11, attrs: []*Attr{topsInt("axis", 0)},
			in:   []*tensor.Tensor{topsF32([]int{2}, 1, 0), topsI64(nil, 2), topsStrs([]int{2}, "off", "on")},
			want: []*tensor.Tensor{topsStrs([]int{2, 2}, "off", "on", "on", "off")}},
		{name: "onehot-bad-depth", op: "OneHot", opset: 11, in: []*tensor.Tensor{topsI64([]int{1}, 0), topsI64(nil, 0), topsI32([]int{2}, 0, 1)}, wantErr: "depth"},
		{name: "nonzero", op: "NonZero", opset: 13, in: []*tensor.Tensor{topsF32([]int{2, 2}, 0, float32(math.Copysign(0, -1)), 1, float32(math.NaN()))},
			want: []*tensor.Tensor{topsI64([]int{2, 2}, 1, 1, 0, 1)}},
		{name: "nonzero-bool", op: "NonZero", opset: 13, in: []*tensor.Tensor{topsBools([]int{3}, true, false, true)},
			want: []*tensor.Tensor{topsI64([]int{1, 2}, 0, 2)}},
		{name: "nonzero-string", op: "NonZero", opset: 13, in: []*tensor.Tensor{topsStrs([]int{2}, "", "x")},
			want: []*tensor.Tensor{topsI64([]int{1, 1}, 1)}},
	})
}

func TestTensorOpsUnique(t *testing.T) {
	topsCheck(t, []topsCase{
		{name: "unsorted", op: "Unique", opset: 11, attrs: []*Attr{topsInt("sorted", 0)}, in: []*tensor.Tensor{topsF32([]int{6}, 2, 1, 1, 3, 4, 3)},
			want: []*tensor.Tensor{topsF32([]int{4}, 2, 1, 3, 4), topsI64([]int{4}, 0, 1, 3, 4), topsI64([]int{6}, 0, 1, 1, 2, 3, 2), topsI64([]int{4}, 1, 2, 2, 1)}},
		{name: "sorted", op: "Unique", opset: 11, in: []*tensor.Tensor{topsI32([]int{2, 2}, 1, 3, 2, 3)},
			want: []*tensor.Tensor{topsI32([]int{3}, 1, 2, 3), topsI64([]int{3}, 0, 2, 1), topsI64([]int{4}, 0, 2, 1, 2), topsI64([]int{3}, 1, 1, 2)}},
		{name: "axis", op: "Unique", opset: 11, attrs: []*Attr{topsInt("axis", 1)},
			in: []*tensor.Tensor{topsF32([]int{2, 4, 2}, 1, 1, 0, 1, 2, 1, 0, 1, 1, 1, 0, 1, 2, 1, 0, 1)},
			want: []*tensor.Tensor{topsF32([]int{2, 3, 2}, 0, 1, 1, 1, 2, 1, 0, 1, 1, 1, 2, 1), topsI64([]int{3}, 1, 0, 2),
				topsI64([]int{4}, 1, 0, 2, 0), topsI64([]int{3}, 2, 1, 1)}},
		{name: "strings", op: "Unique", opset: 11, in: []*tensor.Tensor{topsStrs([]int{3}, "b", "a", "b")},
			want: []*tensor.Tensor{topsStrs([]int{2}, "a", "b"), topsI64([]int{2}, 1, 0), topsI64([]int{3}, 1, 0, 1), topsI64([]int{2}, 1, 2)}},
	})
}

// topsTransposeRef is the naive transpose.
func topsTransposeRef(x []float32, shape, perm []int) []float32 {
	out := make([]float32, len(x))
	in := tensor.Strides(shape)
	os := make([]int, len(perm))
	for i, p := range perm {
		os[i] = shape[p]
	}
	idx := make([]int, len(perm))
	for o := range out {
		rem := o
		for k := len(os) - 1; k >= 0; k-- {
			idx[k] = rem % os[k]
			rem /= os[k]
		}
		s := 0
		for k, p := range perm {
			s += idx[k] * in[p]
		}
		out[o] = x[s]
	}
	return out
}

func topsPerms(n int) [][]int {
	if n == 0 {
		return [][]int{{}}
	}
	var out [][]int
	for _, p := range topsPerms(n - 1) {
		for i := 0; i <= len(p); i++ {
			q := append(append(append([]int{}, p[:i]...), n-1), p[i:]...)
			out = append(out, q)
		}
	}
	return out
}

// TestTensorOpsTransposeRandom checks every permutation of ranks 1-5 over
// awkward sizes, on every storage width, single- and multi-threaded.
func TestTensorOpsTransposeRandom(t *testing.T) {
	rng := rand.New(rand.NewSource(1))
	sizes := []int{1, 2, 3, 5, 16, 17, 33}
	for rank := 1; rank <= 5; rank++ {
		for _, perm := range topsPerms(rank) {
			for trial := 0; trial < 2; trial++ {
				shape := make([]int, rank)
				for i := range shape {
					shape[i] = sizes[rng.Intn(len(sizes))]
				}
				if layoutProd(shape) > 1<<17 {
					shape[0] = 1
				}
				x := tensor.MustNew(tensor.Float32, shape...)
				for i := range x.Float32s() {
					x.Float32s()[i] = float32(i)
				}
				want := topsTransposeRef(x.Float32s(), shape, perm)
				for _, threads := range []int{1, 4} {
					got, err := transposeTensor(&RunContext{Threads: threads}, x, shape, perm)
					if err != nil {
						t.Fatal(err)
					}
					if !reflect.DeepEqual(got.Float32s(), want) {
						t.Fatalf("shape %v perm %v threads %d: wrong result", shape, perm, threads)
					}
				}
				// Other widths go through the same code (four-byte
				// integers through the assembly 8×8 blocks too);
				// spot-check them.
				if len(want) > 1<<12 {
					continue
				}
				for _, dt := range []tensor.DType{tensor.Uint8, tensor.Float16, tensor.Int32, tensor.Float64, tensor.String} {
					xc, err := x.Cast(dt)
					if err != nil {
						t.Fatal(err)
					}
					got, err := transposeTensor(nil, xc, shape, perm)
					if err != nil {
						t.Fatal(err)
					}
					wc, _ := tensor.From(got.Shape(), want).Cast(dt)
					if err := topsEqual(got, wc); err != nil {
						t.Fatalf("%v shape %v perm %v: %v", dt, shape, perm, err)
					}
				}
			}
		}
	}
	// A large batched 2-D transpose exercises the parallel paths.
	for _, shape := range [][]int{{1, 300, 257}, {8, 64, 130}} {
		x := topsIota(shape...)
		perm := []int{0, 2, 1}
		got, err := transposeTensor(&RunContext{Threads: 3}, x, shape, perm)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got.Float32s(), topsTransposeRef(x.Float32s(), shape, perm)) {
			t.Fatalf("shape %v: wrong result", shape)
		}
	}
}

// TestTensorOpsNoPanic feeds every op degenerate inputs: each must fail or
// succeed, never panic.
func TestTensorOpsNoPanic(t *testing.T) {
	r := NewRegistry()
	registerTensorOps(r)
	inputs := []*tensor.Tensor{
		nil, topsF32(nil, 1), tensor.MustNew(tensor.Float32, 0), tensor.MustNew(tensor.Int64, 0),
		topsI64([]int{1}, -1), topsI64([]int{2}, 1<<62, 1<<62), topsI64([]int{1}, math.MaxInt64), topsI64(nil, math.MinInt64),
		topsStrs([]int{1, 1}, "x"), topsBools([]int{2}, true, false), topsIota(2, 3), topsI64([]int{2, 1}, 5, -9),
	}
	attrs := [][]*Attr{nil, {topsInt("axis", 7)}, {topsInt("axis", -1), topsInts("perm", 1, 0)},
		{topsInt("blocksize", 2), topsStr("mode", "reflect"), topsInt("k", -3)},
		{topsStr("reduction", "mul"), topsInt("batch_dims", 1), topsInt("axis", 0)},
		{topsInt("upper", 0), topsInt("sorted", 0), topsInt("axis", 1), topsStr("mode", "edge")}}
	for _, op := range r.List() {
		for _, since := range op.Versions {
			for _, as := range attrs {
				for _, a := range inputs {
					for _, b := range inputs {
						for _, c := range inputs[:5] {
							func() {
								defer func() {
									if p := recover(); p != nil {
										t.Errorf("%s-%d attrs %v inputs (%v, %v, %v): panic %v", op.Name, since, as, a, b, c, p)
									}
								}()
								outs, err := topsRun(op.Name, since, as, 2, a, b, c)
								if err == nil && (len(outs) == 0 || outs[0] == nil) {
									t.Errorf("%s-%d: no output and no error", op.Name, since)
								}
							}()
						}
					}
				}
			}
		}
	}
}

func BenchmarkTensorOpsTranspose(b *testing.B) {
	for _, c := range []struct {
		name  string
		shape []int
		perm  []int
	}{
		{"NHWC-NCHW-56x56x64", []int{1, 56, 56, 64}, []int{0, 3, 1, 2}},
		{"NCHW-NHWC-56x56x64", []int{1, 64, 56, 56}, []int{0, 2, 3, 1}},
		{"NHWC-NCHW-224x224x3", []int{1, 224, 224, 3}, []int{0, 3, 1, 2}},
		{"2D-1024", []int{1024, 1024}, []int{1, 0}},
		{"5D", []int{4, 8, 16, 8, 16}, []int{4, 2, 0, 3, 1}},
	} {
		x := topsIota(c.shape...)
		for _, th := range []int{1, 4} {
			b.Run(fmt.Sprintf("%s/threads=%d", c.name, th), func(b *testing.B) {
				rc := &RunContext{Threads: th}
				b.SetBytes(int64(4 * x.Len()))
				for i := 0; i < b.N; i++ {
					if _, err := transposeTensor(rc, x, c.shape, c.perm); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}

// TestTransposeKeepsBits checks that a float32 transpose (the assembly
// 8×8 blocks where the CPU has them) moves bits: NaN payloads and
// negative zeros come out as they went in.
func TestTransposeKeepsBits(t *testing.T) {
	const r, c = 16, 19
	x := tensor.MustNew(tensor.Float32, r, c)
	for i := range x.Float32s() {
		x.Float32s()[i] = math.Float32frombits(0x7f800001 + uint32(i)*0x1001) // signalling and quiet NaNs
	}
	x.Float32s()[5] = float32(math.Copysign(0, -1))
	got, err := transposeTensor(nil, x, x.Shape(), []int{1, 0})
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < r; i++ {
		for j := 0; j < c; j++ {
			if a, b := math.Float32bits(got.Float32s()[j*r+i]), math.Float32bits(x.Float32s()[i*c+j]); a != b {
				t.Fatalf("[%d][%d]: bits %#x, want %#x", j, i, a, b)
			}
		}
	}
}
