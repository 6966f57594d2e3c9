package ops

import (
	"context"
	"fmt"
	"reflect"
	"strings"
	"sync"
	"testing"

	"github.com/onyxrt/onyx/tensor"
)

// Tests of the sequence, optional and string families (sequence.go,
// optional.go, strings.go).

var (
	seqRegistryOnce sync.Once
	seqRegistry     *Registry
)

// seqFakeBody is a Subgraph computing fn, for SequenceMap tests.
type seqFakeBody struct {
	nIn, nOut int
	fn        func(in []*tensor.Tensor) ([]*tensor.Tensor, error)
}

func (s *seqFakeBody) InputNames() []string  { return make([]string, s.nIn) }
func (s *seqFakeBody) OutputNames() []string { return make([]string, s.nOut) }
func (s *seqFakeBody) Call(_ *RunContext, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
	return s.fn(in)
}

// seqRun builds op at opset with attrs and runs it on inputs (nil for an
// omitted optional input).
func seqRun(op string, opset int, attrs []*Attr, nout int, inputs ...*tensor.Tensor) ([]*tensor.Tensor, error) {
	seqRegistryOnce.Do(func() {
		seqRegistry = NewRegistry()
		registerSequence(seqRegistry)
		registerOptional(seqRegistry)
		registerStrings(seqRegistry)
		registerControlFlow(seqRegistry)
	})
	def, err := seqRegistry.Lookup("", op, opset)
	if err != nil {
		return nil, err
	}
	b := &Builder{OpType: op, Opset: opset, NumInputs: len(inputs), NumOutputs: nout, Attrs: map[string]*Attr{},
		CompileGraph: func(g any) (Subgraph, error) { return g.(Subgraph), nil }}
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
	return k.Run(&RunContext{Ctx: context.Background(), Threads: 1}, inputs)
}

// seqEqual compares values of any kind: dtype, shape and data of tensors,
// element by element for sequences, content for optionals.
func seqEqual(got, want *tensor.Tensor) error {
	if got == nil {
		return fmt.Errorf("got nil, want %v", want)
	}
	if got.Kind() != want.Kind() || got.DType() != want.DType() {
		return fmt.Errorf("got %v (kind %d, %v), want %v (kind %d, %v)", got, got.Kind(), got.DType(), want, want.Kind(), want.DType())
	}
	switch want.Kind() {
	case tensor.KindSequence:
		g, w := got.Elems(), want.Elems()
		if len(g) != len(w) {
			return fmt.Errorf("got %v, want %v", got, want)
		}
		for i := range w {
			if err := seqEqual(g[i], w[i]); err != nil {
				return fmt.Errorf("element %d: %w", i, err)
			}
		}
		return nil
	case tensor.KindOptional:
		g, gok := got.OptionalValue()
		w, wok := want.OptionalValue()
		if gok != wok || got.OptionalOfSequence() != want.OptionalOfSequence() {
			return fmt.Errorf("got %v, want %v", got, want)
		}
		if !wok {
			return nil
		}
		return seqEqual(g, w)
	}
	if !tensor.ShapeEqual(got.Shape(), want.Shape()) {
		return fmt.Errorf("got %v, want %v", got, want)
	}
	if !reflect.DeepEqual(got.Data(), want.Data()) && !(got.Len() == 0 && want.Len() == 0) {
		return fmt.Errorf("got %v, want %v", got, want)
	}
	return nil
}

type seqCase struct {
	name    string
	op      string
	opset   int
	attrs   []*Attr
	nout    int // 0 means len(want), or 1
	in      []*tensor.Tensor
	want    []*tensor.Tensor
	wantErr string
}

func seqCheck(t *testing.T, cases []seqCase) {
	t.Helper()
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			nout := c.nout
			if nout == 0 {
				nout = max(len(c.want), 1)
			}
			got, err := seqRun(c.op, c.opset, c.attrs, nout, c.in...)
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
				if err := seqEqual(got[i], w); err != nil {
					t.Errorf("output %d: %v", i, err)
				}
			}
		})
	}
}

func seqF32(shape []int, v ...float32) *tensor.Tensor { return tensor.From(shape, v) }
func seqI64(shape []int, v ...int64) *tensor.Tensor   { return tensor.From(shape, v) }
func seqI32(shape []int, v ...int32) *tensor.Tensor   { return tensor.From(shape, v) }
func seqStr(shape []int, v ...string) *tensor.Tensor  { return tensor.From(shape, v) }
func seqOf(dt tensor.DType, elems ...*tensor.Tensor) *tensor.Tensor {
	if elems == nil {
		elems = []*tensor.Tensor{}
	}
	return tensor.NewSequence(dt, elems)
}
func seqIn(v ...*tensor.Tensor) []*tensor.Tensor { return v }

func TestSequenceOps(t *testing.T) {
	a := seqF32([]int{2}, 1, 2)
	b := seqF32([]int{1, 2}, 3, 4)
	c := seqF32(nil, 5)
	abc := seqOf(tensor.Float32, a, b, c)
	f32 := tensor.Float32
	seqCheck(t, []seqCase{
		// SequenceEmpty
		{name: "empty-default-float", op: "SequenceEmpty", opset: 11, want: seqIn(seqOf(f32))},
		{name: "empty-int64", op: "SequenceEmpty", opset: 11, attrs: []*Attr{topsInt("dtype", int64(tensor.Int64))},
			want: seqIn(seqOf(tensor.Int64))},
		{name: "empty-bad-dtype", op: "SequenceEmpty", opset: 11, attrs: []*Attr{topsInt("dtype", 99)}, wantErr: "not supported"},
		// SequenceConstruct
		{name: "construct", op: "SequenceConstruct", opset: 11, in: seqIn(a, b, c), want: seqIn(abc)},
		{name: "construct-strings", op: "SequenceConstruct", opset: 11, in: seqIn(seqStr([]int{1}, "x")),
			want: seqIn(seqOf(tensor.String, seqStr([]int{1}, "x")))},
		{name: "construct-mixed-types", op: "SequenceConstruct", opset: 11, in: seqIn(a, seqI64([]int{1}, 1)), wantErr: "cannot join"},
		{name: "construct-of-sequence", op: "SequenceConstruct", opset: 11, in: seqIn(abc), wantErr: "must be a tensor"},
		// SequenceInsert
		{name: "insert-back", op: "SequenceInsert", opset: 11, in: seqIn(seqOf(f32, a, b), c), want: seqIn(abc)},
		{name: "insert-front", op: "SequenceInsert", opset: 11, in: seqIn(seqOf(f32, b, c), a, seqI64(nil, 0)), want: seqIn(abc)},
		{name: "insert-negative", op: "SequenceInsert", opset: 11, in: seqIn(seqOf(f32, a, c), b, seqI32(nil, -1)), want: seqIn(abc)},
		{name: "insert-at-n", op: "SequenceInsert", opset: 11, in: seqIn(seqOf(f32, a, b), c, seqI64(nil, 2)), want: seqIn(abc)},
		{name: "insert-at-minus-n", op: "SequenceInsert", opset: 11, in: seqIn(seqOf(f32, b, c), a, seqI64(nil, -2)), want: seqIn(abc)},
		{name: "insert-out-of-range", op: "SequenceInsert", opset: 11, in: seqIn(seqOf(f32, a), c, seqI64(nil, 2)), wantErr: "out of range"},
		{name: "insert-out-of-range-neg", op: "SequenceInsert", opset: 11, in: seqIn(seqOf(f32, a), c, seqI64(nil, -2)), wantErr: "out of range"},
		{name: "insert-bad-position-type", op: "SequenceInsert", opset: 11, in: seqIn(seqOf(f32, a), c, seqF32(nil, 0)), wantErr: "int32 or int64"},
		{name: "insert-type-mismatch", op: "SequenceInsert", opset: 11, in: seqIn(seqOf(f32), seqI64(nil, 1)), wantErr: "cannot join"},
		{name: "insert-into-untyped", op: "SequenceInsert", opset: 11, in: seqIn(seqOf(tensor.Undefined), seqI64(nil, 1)),
			want: seqIn(seqOf(tensor.Int64, seqI64(nil, 1)))},
		{name: "insert-into-tensor", op: "SequenceInsert", opset: 11, in: seqIn(a, b), wantErr: "must be a sequence"},
		// SequenceAt
		{name: "at-0", op: "SequenceAt", opset: 11, in: seqIn(abc, seqI64(nil, 0)), want: seqIn(a)},
		{name: "at-minus-1", op: "SequenceAt", opset: 11, in: seqIn(abc, seqI32(nil, -1)), want: seqIn(c)},
		{name: "at-1-of-1d", op: "SequenceAt", opset: 11, in: seqIn(abc, seqI64([]int{1}, 1)), want: seqIn(b)},
		{name: "at-3", op: "SequenceAt", opset: 11, in: seqIn(abc, seqI64(nil, 3)), wantErr: "out of range"},
		{name: "at-minus-4", op: "SequenceAt", opset: 11, in: seqIn(abc, seqI64(nil, -4)), wantErr: "out of range"},
		{name: "at-empty", op: "SequenceAt", opset: 11, in: seqIn(seqOf(f32), seqI64(nil, 0)), wantErr: "out of range"},
		{name: "at-position-not-scalar", op: "SequenceAt", opset: 11, in: seqIn(abc, seqI64([]int{2}, 0, 1)), wantErr: "scalar"},
		// SequenceErase
		{name: "erase-default-last", op: "SequenceErase", opset: 11, in: seqIn(abc, nil), want: seqIn(seqOf(f32, a, b))},
		{name: "erase-0", op: "SequenceErase", opset: 11, in: seqIn(abc, seqI64(nil, 0)), want: seqIn(seqOf(f32, b, c))},
		{name: "erase-minus-2", op: "SequenceErase", opset: 11, in: seqIn(abc, seqI64(nil, -2)), want: seqIn(seqOf(f32, a, c))},
		{name: "erase-out-of-range", op: "SequenceErase", opset: 11, in: seqIn(abc, seqI64(nil, 3)), wantErr: "out of range"},
		{name: "erase-empty", op: "SequenceErase", opset: 11, in: seqIn(seqOf(f32)), wantErr: "empty"},
		// SequenceLength
		{name: "length-3", op: "SequenceLength", opset: 11, in: seqIn(abc), want: seqIn(seqI64(nil, 3))},
		{name: "length-0", op: "SequenceLength", opset: 11, in: seqIn(seqOf(f32)), want: seqIn(seqI64(nil, 0))},
		{name: "length-of-tensor", op: "SequenceLength", opset: 11, in: seqIn(a), wantErr: "must be a sequence"},
	})
}

func TestSplitConcatSequence(t *testing.T) {
	// x = arange(6).reshape(2, 3)
	x := seqF32([]int{2, 3}, 0, 1, 2, 3, 4, 5)
	f32 := tensor.Float32
	seqCheck(t, []seqCase{
		{name: "split-default-axis0", op: "SplitToSequence", opset: 11, in: seqIn(x),
			want: seqIn(seqOf(f32, seqF32([]int{1, 3}, 0, 1, 2), seqF32([]int{1, 3}, 3, 4, 5)))},
		{name: "split-default-nokeepdims", op: "SplitToSequence", opset: 11, attrs: []*Attr{topsInt("keepdims", 0)}, in: seqIn(x),
			want: seqIn(seqOf(f32, seqF32([]int{3}, 0, 1, 2), seqF32([]int{3}, 3, 4, 5)))},
		{name: "split-default-axis-neg1-nokeepdims", op: "SplitToSequence", opset: 11,
			attrs: []*Attr{topsInt("axis", -1), topsInt("keepdims", 0)}, in: seqIn(x),
			want: seqIn(seqOf(f32, seqF32([]int{2}, 0, 3), seqF32([]int{2}, 1, 4), seqF32([]int{2}, 2, 5)))},
		{name: "split-scalar-remainder", op: "SplitToSequence", opset: 11, attrs: []*Attr{topsInt("axis", 1)},
			in:   seqIn(x, seqI64(nil, 2)),
			want: seqIn(seqOf(f32, seqF32([]int{2, 2}, 0, 1, 3, 4), seqF32([]int{2, 1}, 2, 5)))},
		{name: "split-scalar-keepdims-ignored", op: "SplitToSequence", opset: 11,
			attrs: []*Attr{topsInt("axis", 1), topsInt("keepdims", 0)}, in: seqIn(x, seqI32(nil, 3)),
			want: seqIn(seqOf(f32, x))},
		{name: "split-1d", op: "SplitToSequence", opset: 11, attrs: []*Attr{topsInt("axis", 1)},
			in:   seqIn(x, seqI64([]int{2}, 1, 2)),
			want: seqIn(seqOf(f32, seqF32([]int{2, 1}, 0, 3), seqF32([]int{2, 2}, 1, 2, 4, 5)))},
		{name: "split-strings", op: "SplitToSequence", opset: 11, in: seqIn(seqStr([]int{3}, "a", "b", "c"), seqI64([]int{2}, 2, 1)),
			want: seqIn(seqOf(tensor.String, seqStr([]int{2}, "a", "b"), seqStr([]int{1}, "c")))},
		{name: "split-empty-axis", op: "SplitToSequence", opset: 11, in: seqIn(tensor.MustNew(f32, 0, 2)), want: seqIn(seqOf(f32))},
		{name: "split-bad-sum", op: "SplitToSequence", opset: 11, in: seqIn(x, seqI64([]int{2}, 1, 2)), wantErr: "sums to"},
		{name: "split-zero-chunk", op: "SplitToSequence", opset: 11, in: seqIn(x, seqI64(nil, 0)), wantErr: "positive"},
		{name: "split-bad-axis", op: "SplitToSequence", opset: 11, attrs: []*Attr{topsInt("axis", 2)}, in: seqIn(x), wantErr: "out of range"},
		{name: "split-2d-split", op: "SplitToSequence", opset: 11, in: seqIn(x, seqI64([]int{1, 1}, 2)), wantErr: "scalar or 1-D"},

		{name: "concat-axis0", op: "ConcatFromSequence", opset: 11, attrs: []*Attr{topsInt("axis", 0)},
			in:   seqIn(seqOf(f32, seqF32([]int{1, 3}, 0, 1, 2), seqF32([]int{1, 3}, 3, 4, 5))),
			want: seqIn(x)},
		{name: "concat-axis1-uneven", op: "ConcatFromSequence", opset: 11, attrs: []*Attr{topsInt("axis", -1)},
			in:   seqIn(seqOf(f32, seqF32([]int{2, 1}, 0, 3), seqF32([]int{2, 2}, 1, 2, 4, 5))),
			want: seqIn(x)},
		{name: "concat-new-axis-last", op: "ConcatFromSequence", opset: 11,
			attrs: []*Attr{topsInt("axis", -1), topsInt("new_axis", 1)},
			in:    seqIn(seqOf(f32, seqF32([]int{2}, 0, 3), seqF32([]int{2}, 1, 4), seqF32([]int{2}, 2, 5))),
			want:  seqIn(x)},
		{name: "concat-new-axis-0-scalars", op: "ConcatFromSequence", opset: 11,
			attrs: []*Attr{topsInt("axis", 0), topsInt("new_axis", 1)},
			in:    seqIn(seqOf(tensor.Int64, seqI64(nil, 7), seqI64(nil, 8))),
			want:  seqIn(seqI64([]int{2}, 7, 8))},
		{name: "concat-strings", op: "ConcatFromSequence", opset: 11, attrs: []*Attr{topsInt("axis", 0)},
			in:   seqIn(seqOf(tensor.String, seqStr([]int{1}, "a"), seqStr([]int{2}, "b", "c"))),
			want: seqIn(seqStr([]int{3}, "a", "b", "c"))},
		{name: "concat-shape-mismatch", op: "ConcatFromSequence", opset: 11, attrs: []*Attr{topsInt("axis", 0)},
			in: seqIn(seqOf(f32, seqF32([]int{1, 2}, 0, 1), seqF32([]int{1, 3}, 0, 1, 2))), wantErr: "dimension 1 differs"},
		{name: "concat-axis-out-of-range", op: "ConcatFromSequence", opset: 11, attrs: []*Attr{topsInt("axis", 1)},
			in: seqIn(seqOf(f32, seqF32([]int{2}, 0, 1))), wantErr: "out of range"},
		{name: "concat-new-axis-out-of-range", op: "ConcatFromSequence", opset: 11,
			attrs: []*Attr{topsInt("axis", 2), topsInt("new_axis", 1)},
			in:    seqIn(seqOf(f32, seqF32([]int{2}, 0, 1))), wantErr: "out of range"},
		{name: "concat-empty", op: "ConcatFromSequence", opset: 11, attrs: []*Attr{topsInt("axis", 0)},
			in: seqIn(seqOf(f32)), wantErr: "empty"},
		{name: "concat-missing-axis", op: "ConcatFromSequence", opset: 11, in: seqIn(seqOf(f32)), wantErr: "axis"},
	})
}

func TestSequenceMap(t *testing.T) {
	f32 := tensor.Float32
	// add(x, y) = x + y elementwise (same shapes), and shape(x).
	add := &seqFakeBody{nIn: 2, nOut: 2, fn: func(in []*tensor.Tensor) ([]*tensor.Tensor, error) {
		x, y := in[0].Float32s(), in[1].Float32s()
		if len(x) != len(y) {
			return nil, fmt.Errorf("length mismatch")
		}
		out := make([]float32, len(x))
		for i := range x {
			out[i] = x[i] + y[i]
		}
		shape := make([]int64, in[0].Rank())
		for i, d := range in[0].Shape() {
			shape[i] = int64(d)
		}
		return []*tensor.Tensor{tensor.From(in[0].Shape(), out), tensor.From([]int{len(shape)}, shape)}, nil
	}}
	body := &Attr{Name: "body", Type: AttrGraph, Graph: Subgraph(add)}
	xs := seqOf(f32, seqF32([]int{2}, 1, 2), seqF32([]int{1}, 3))
	ys := seqOf(f32, seqF32([]int{2}, 10, 20), seqF32([]int{1}, 30))
	seqCheck(t, []seqCase{
		{name: "two-sequences", op: "SequenceMap", opset: 17, attrs: []*Attr{body}, in: seqIn(xs, ys),
			want: seqIn(
				seqOf(f32, seqF32([]int{2}, 11, 22), seqF32([]int{1}, 33)),
				seqOf(tensor.Int64, seqI64([]int{1}, 2), seqI64([]int{1}, 1)))},
		{name: "sequence-and-tensor", op: "SequenceMap", opset: 17, attrs: []*Attr{body},
			in: seqIn(seqOf(f32, seqF32([]int{2}, 1, 2), seqF32([]int{2}, 3, 4)), seqF32([]int{2}, 100, 200)),
			want: seqIn(
				seqOf(f32, seqF32([]int{2}, 101, 202), seqF32([]int{2}, 103, 204)),
				seqOf(tensor.Int64, seqI64([]int{1}, 2), seqI64([]int{1}, 2)))},
		{name: "empty", op: "SequenceMap", opset: 17, attrs: []*Attr{body}, in: seqIn(seqOf(f32), seqOf(f32)),
			want: seqIn(seqOf(tensor.Undefined), seqOf(tensor.Undefined))},
		{name: "length-mismatch", op: "SequenceMap", opset: 17, attrs: []*Attr{body}, nout: 2,
			in: seqIn(xs, seqOf(f32, seqF32([]int{2}, 1, 2))), wantErr: "sequence of 1 tensors"},
		{name: "first-not-sequence", op: "SequenceMap", opset: 17, attrs: []*Attr{body}, nout: 2,
			in: seqIn(seqF32([]int{1}, 1), xs), wantErr: "must be a sequence"},
		{name: "body-error", op: "SequenceMap", opset: 17, attrs: []*Attr{body}, nout: 2,
			in: seqIn(xs, seqF32([]int{3}, 1, 2, 3)), wantErr: "element 0: length mismatch"},
		{name: "arity-mismatch", op: "SequenceMap", opset: 17, attrs: []*Attr{body}, nout: 1,
			in: seqIn(xs, ys), wantErr: "body yields 2 outputs"},
		{name: "missing-body", op: "SequenceMap", opset: 17, in: seqIn(xs), wantErr: "body"},
	})
}

func TestOptionalOps(t *testing.T) {
	x := seqF32([]int{2}, 1, 2)
	s := seqOf(tensor.Float32, x)
	typeF32 := &Attr{Name: "type", Type: AttrTypeProto, TypeProtoDType: tensor.Float32}
	typeSeq := &Attr{Name: "type", Type: AttrTypeProto} // a non-tensor type proto
	optX := tensor.NewOptional(x, tensor.Float32, false)
	optS := tensor.NewOptional(s, tensor.Float32, true)
	none := tensor.NewOptional(nil, tensor.Float32, false)
	noneSeq := tensor.NewOptional(nil, tensor.Undefined, true)
	seqCheck(t, []seqCase{
		{name: "optional-of-tensor", op: "Optional", opset: 15, in: seqIn(x), want: seqIn(optX)},
		{name: "optional-of-sequence", op: "Optional", opset: 15, in: seqIn(s), want: seqIn(optS)},
		{name: "optional-empty-tensor", op: "Optional", opset: 15, attrs: []*Attr{typeF32}, in: seqIn(nil), want: seqIn(none)},
		{name: "optional-empty-sequence", op: "Optional", opset: 15, attrs: []*Attr{typeSeq}, want: seqIn(noneSeq)},
		{name: "optional-empty-no-type", op: "Optional", opset: 15, in: seqIn(nil), wantErr: "needs the \"type\" attribute"},
		{name: "optional-type-mismatch", op: "Optional", opset: 15, attrs: []*Attr{typeF32}, in: seqIn(seqI64(nil, 1)), wantErr: "does not match"},
		{name: "optional-of-optional", op: "Optional", opset: 15, in: seqIn(optX), wantErr: "got an optional"},
		{name: "optional-bad-attr", op: "Optional", opset: 15, attrs: []*Attr{topsInt("type", 1)}, in: seqIn(x), wantErr: "type_proto"},

		{name: "has-element", op: "OptionalHasElement", opset: 15, in: seqIn(optX), want: seqIn(tensor.Scalar(true))},
		{name: "has-element-seq", op: "OptionalHasElement", opset: 15, in: seqIn(optS), want: seqIn(tensor.Scalar(true))},
		{name: "has-element-empty", op: "OptionalHasElement", opset: 15, in: seqIn(none), want: seqIn(tensor.Scalar(false))},
		{name: "has-element-18-tensor", op: "OptionalHasElement", opset: 18, in: seqIn(x), want: seqIn(tensor.Scalar(true))},
		{name: "has-element-18-absent", op: "OptionalHasElement", opset: 18, in: seqIn(nil), want: seqIn(tensor.Scalar(false))},

		{name: "get-element", op: "OptionalGetElement", opset: 15, in: seqIn(optX), want: seqIn(x)},
		{name: "get-element-seq", op: "OptionalGetElement", opset: 15, in: seqIn(optS), want: seqIn(s)},
		{name: "get-element-empty", op: "OptionalGetElement", opset: 15, in: seqIn(none), wantErr: "empty"},
		{name: "get-element-18-tensor", op: "OptionalGetElement", opset: 18, in: seqIn(x), want: seqIn(x)},
		{name: "get-element-18-sequence", op: "OptionalGetElement", opset: 18, in: seqIn(s), want: seqIn(s)},
	})
}

func TestStringNormalizer(t *testing.T) {
	days := seqStr([]int{4}, "monday", "tuesday", "wednesday", "thursday")
	stop := &Attr{Name: "stopwords", Type: AttrStrings, Strings: []string{"monday"}}
	sens := topsInt("is_case_sensitive", 1)
	seqCheck(t, []seqCase{
		{name: "sensitive-lower", op: "StringNormalizer", opset: 10, attrs: []*Attr{stop, sens, topsStr("case_change_action", "LOWER")},
			in: seqIn(days), want: seqIn(seqStr([]int{3}, "tuesday", "wednesday", "thursday"))},
		{name: "sensitive-upper", op: "StringNormalizer", opset: 10, attrs: []*Attr{stop, sens, topsStr("case_change_action", "UPPER")},
			in: seqIn(days), want: seqIn(seqStr([]int{3}, "TUESDAY", "WEDNESDAY", "THURSDAY"))},
		{name: "sensitive-keeps-other-case", op: "StringNormalizer", opset: 10, attrs: []*Attr{stop, sens},
			in: seqIn(seqStr([]int{2}, "Monday", "monday")), want: seqIn(seqStr([]int{1}, "Monday"))},
		{name: "insensitive-2d", op: "StringNormalizer", opset: 10,
			attrs: []*Attr{{Name: "stopwords", Type: AttrStrings, Strings: []string{"MONDAY"}}, topsStr("case_change_action", "UPPER")},
			in:    seqIn(seqStr([]int{1, 4}, "Monday", "tuesday", "monday", "Friday")),
			want:  seqIn(seqStr([]int{1, 2}, "TUESDAY", "FRIDAY"))},
		{name: "all-dropped-1d", op: "StringNormalizer", opset: 10, attrs: []*Attr{stop, sens},
			in: seqIn(seqStr([]int{2}, "monday", "monday")), want: seqIn(seqStr([]int{1}, ""))},
		{name: "all-dropped-2d", op: "StringNormalizer", opset: 10, attrs: []*Attr{stop},
			in: seqIn(seqStr([]int{1, 1}, "MONDAY")), want: seqIn(seqStr([]int{1, 1}, ""))},
		{name: "no-stopwords-nochange", op: "StringNormalizer", opset: 10, attrs: []*Attr{topsStr("locale", "en_US")},
			in: seqIn(seqStr([]int{2}, "Monday", "x")), want: seqIn(seqStr([]int{2}, "Monday", "x"))},
		{name: "unicode-lower-other-locale", op: "StringNormalizer", opset: 10,
			attrs: []*Attr{topsStr("case_change_action", "LOWER"), topsStr("locale", "fr_FR")},
			in:    seqIn(seqStr([]int{2}, "ÉCOLE", "ΣΟΦΊΑ")), want: seqIn(seqStr([]int{2}, "école", "σοφία"))},
		{name: "bad-action", op: "StringNormalizer", opset: 10, attrs: []*Attr{topsStr("case_change_action", "TITLE")},
			in: seqIn(days), wantErr: "case_change_action"},
		{name: "bad-shape", op: "StringNormalizer", opset: 10, in: seqIn(seqStr([]int{2, 2}, "a", "b", "c", "d")), wantErr: "[C] or [1, C]"},
		{name: "bad-dtype", op: "StringNormalizer", opset: 10, in: seqIn(seqF32([]int{1}, 1)), wantErr: "unsupported element type"},
	})
}

// TestSequenceValuesAreCopies checks that tensors entering or leaving a
// sequence or optional are copies, so later buffer reuse of a plain value
// cannot change a sequence.
func TestSequenceValuesAreCopies(t *testing.T) {
	x := seqF32([]int{2}, 1, 2)
	out, err := seqRun("SequenceConstruct", 11, nil, 1, x)
	if err != nil {
		t.Fatal(err)
	}
	x.Float32s()[0] = 99
	if got := out[0].Elems()[0].Float32s()[0]; got != 1 {
		t.Errorf("SequenceConstruct shares its input: element 0 is %v after the input changed", got)
	}
	at, err := seqRun("SequenceAt", 11, nil, 1, out[0], seqI64(nil, 0))
	if err != nil {
		t.Fatal(err)
	}
	at[0].Float32s()[1] = 99
	if got := out[0].Elems()[0].Float32s()[1]; got != 2 {
		t.Errorf("SequenceAt returns the sequence's own element")
	}
	opt, err := seqRun("Optional", 15, nil, 1, x)
	if err != nil {
		t.Fatal(err)
	}
	x.Float32s()[1] = 77
	if v, _ := opt[0].OptionalValue(); v.Float32s()[1] != 2 {
		t.Errorf("Optional shares its input")
	}
}

// TestLoopCarriesSequences runs Loop with a sequence as loop-carried value:
// each iteration appends the iteration number, as in test_loop13_seq.
func TestLoopCarriesSequences(t *testing.T) {
	appendIter := &seqFakeBody{nIn: 3, nOut: 2, fn: func(in []*tensor.Tensor) ([]*tensor.Tensor, error) {
		s := in[2]
		elems := append(append([]*tensor.Tensor{}, s.Elems()...), in[0].Clone())
		return []*tensor.Tensor{in[1], tensor.NewSequence(tensor.Int64, elems)}, nil
	}}
	// The same, also yielding the sequence as a (forbidden) scan output.
	seqScan := &seqFakeBody{nIn: 3, nOut: 3, fn: func(in []*tensor.Tensor) ([]*tensor.Tensor, error) {
		out, err := appendIter.fn(in)
		return append(out, out[1]), err
	}}
	body := &Attr{Name: "body", Type: AttrGraph, Graph: Subgraph(appendIter)}
	empty := seqOf(tensor.Int64)
	seqCheck(t, []seqCase{
		{name: "three-iterations", op: "Loop", opset: 16, attrs: []*Attr{body},
			in:   seqIn(seqI64(nil, 3), tensor.Scalar(true), empty),
			want: seqIn(seqOf(tensor.Int64, seqI64(nil, 0), seqI64(nil, 1), seqI64(nil, 2)))},
		{name: "zero-iterations", op: "Loop", opset: 13, attrs: []*Attr{body},
			in: seqIn(seqI64(nil, 0), nil, empty), want: seqIn(empty)},
		{name: "optional-in", op: "Loop", opset: 16, attrs: []*Attr{body},
			in:   seqIn(seqI64(nil, 0), nil, tensor.NewOptional(nil, tensor.Int64, true)),
			want: seqIn(tensor.NewOptional(nil, tensor.Int64, true))},
		{name: "sequence-scan-output", op: "Loop", opset: 16, nout: 2,
			attrs: []*Attr{{Name: "body", Type: AttrGraph, Graph: Subgraph(seqScan)}},
			in:    seqIn(seqI64(nil, 2), nil, empty), wantErr: "only tensors can be stacked"},
	})
}
