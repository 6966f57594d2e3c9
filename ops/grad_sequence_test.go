package ops

import (
	"context"
	"fmt"
	"reflect"
	"strings"
	"testing"

	"github.com/onyxrt/onyx/tensor"
)

// The backward kernels of grad_sequence.go and grad_control.go, on values
// computed by hand, and their errors. (The rules are checked against
// finite differences end to end in train/grad_control_test.go: they need
// the train package to differentiate subgraphs.)

// funcSubgraph is a Subgraph made of a Go function, so that ScanGrad and
// LoopGrad can run without the runtime.
type funcSubgraph struct {
	ins, outs []string
	f         func(in []*tensor.Tensor) []*tensor.Tensor
}

func (s *funcSubgraph) InputNames() []string  { return s.ins }
func (s *funcSubgraph) OutputNames() []string { return s.outs }
func (s *funcSubgraph) Call(_ *RunContext, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
	return s.f(in), nil
}

// gsRun builds a GradDomain kernel of Default() and runs it; graph
// attributes hold *funcSubgraph values.
func gsRun(name string, nOut int, attrs []*Attr, in ...*tensor.Tensor) (outs []*tensor.Tensor, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("panic: %v", r)
		}
	}()
	def, err := Default().Lookup(GradDomain, name, 1)
	if err != nil {
		return nil, err
	}
	present := make([]bool, len(in))
	for i, t := range in {
		present[i] = t != nil
	}
	outPresent := make([]bool, nOut)
	for i := range outPresent {
		outPresent[i] = true
	}
	b := &Builder{OpType: name, Domain: GradDomain, Opset: 1, NumInputs: len(in), NumOutputs: nOut,
		InputPresent: present, OutputPresent: outPresent, Attrs: map[string]*Attr{},
		CompileGraph: func(g any) (Subgraph, error) {
			s, ok := g.(*funcSubgraph)
			if !ok {
				return nil, fmt.Errorf("not a funcSubgraph: %T", g)
			}
			return s, nil
		}}
	for _, a := range attrs {
		b.Attrs[a.Name] = a
	}
	k, err := def.Build(b)
	if err != nil {
		return nil, err
	}
	if err := b.Err(); err != nil {
		return nil, err
	}
	return k.Run(&RunContext{Ctx: context.Background(), Threads: 1}, in)
}

func gsF(shape []int, v ...float64) *tensor.Tensor { return tensor.From(shape, v) }

func gsSeq(elems ...*tensor.Tensor) *tensor.Tensor { return tensor.NewSequence(tensor.Float64, elems) }

// gsVals flattens a tensor or a sequence of tensors.
func gsVals(t *tensor.Tensor) [][]float64 {
	if t.Kind() == tensor.KindSequence {
		var out [][]float64
		for _, e := range t.Elems() {
			out = append(out, append([]float64{}, e.Float64s()...))
		}
		return out
	}
	return [][]float64{t.Float64s()}
}

func TestSequenceGradKernels(t *testing.T) {
	a, b, c := gsF([]int{2}, 1, 2), gsF([]int{1}, 3), gsF([]int{2}, 4, 5)
	S := gsSeq(a, b, c)
	pos := func(p int64) *tensor.Tensor { return tensor.Scalar(p) }
	for _, tc := range []struct {
		name  string
		op    string
		nOut  int
		attrs []*Attr
		in    []*tensor.Tensor
		want  [][][]float64 // per output
	}{
		{"at-neg", "SequenceAtGrad", 1, nil, []*tensor.Tensor{S, pos(-1), gsF([]int{2}, 7, 8)}, [][][]float64{{{0, 0}, {0}, {7, 8}}}},
		{"at-0", "SequenceAtGrad", 1, nil, []*tensor.Tensor{S, pos(0), gsF([]int{2}, 7, 8)}, [][][]float64{{{7, 8}, {0}, {0, 0}}}},
		{"insert-default", "SequenceInsertGrad", 2, nil, []*tensor.Tensor{S, nil}, [][][]float64{{{1, 2}, {3}}, {{4, 5}}}},
		{"insert-neg", "SequenceInsertGrad", 2, nil, []*tensor.Tensor{S, pos(-1)}, [][][]float64{{{1, 2}, {4, 5}}, {{3}}}},
		{"insert-end", "SequenceInsertGrad", 2, nil, []*tensor.Tensor{S, pos(2)}, [][][]float64{{{1, 2}, {3}}, {{4, 5}}}},
		{"erase-default", "SequenceEraseGrad", 1, nil, []*tensor.Tensor{gsSeq(a, b), S, nil}, [][][]float64{{{1, 2}, {3}, {0, 0}}}},
		{"erase-neg", "SequenceEraseGrad", 1, nil, []*tensor.Tensor{gsSeq(a, c), S, pos(-2)}, [][][]float64{{{1, 2}, {0}, {4, 5}}}},
		{"split-concat", "SplitToSequenceGrad", 1, []*Attr{IntAttr("axis", 0)}, []*tensor.Tensor{S, gsF([]int{5}, 0, 0, 0, 0, 0)},
			[][][]float64{{{1, 2, 3, 4, 5}}}},
		{"split-stack", "SplitToSequenceGrad", 1, []*Attr{IntAttr("axis", -1), IntAttr("new_axis", 1)},
			[]*tensor.Tensor{gsSeq(a, c), gsF([]int{2, 2}, 0, 0, 0, 0)}, [][][]float64{{{1, 4, 2, 5}}}},
		{"split-empty", "SplitToSequenceGrad", 1, []*Attr{IntAttr("axis", 0)}, []*tensor.Tensor{gsSeq(), gsF([]int{0, 2})}, [][][]float64{{{}}}},
		{"concat-split", "ConcatFromSequenceGrad", 1, []*Attr{IntAttr("axis", 0)}, []*tensor.Tensor{gsF([]int{5}, 9, 8, 7, 6, 5), S},
			[][][]float64{{{9, 8}, {7}, {6, 5}}}},
		{"concat-new-axis", "ConcatFromSequenceGrad", 1, []*Attr{IntAttr("axis", 1), IntAttr("new_axis", 1)},
			[]*tensor.Tensor{gsF([]int{2, 2}, 9, 8, 7, 6), gsSeq(a, c)}, [][][]float64{{{9, 7}, {8, 6}}}},
		{"sum-sequences", "GradSum", 1, nil, []*tensor.Tensor{S, S, S}, [][][]float64{{{3, 6}, {9}, {12, 15}}}},
		{"sum-one", "GradSum", 1, nil, []*tensor.Tensor{a}, [][][]float64{{{1, 2}}}},
		{"zeros-sequence", "GradZerosLike", 1, nil, []*tensor.Tensor{S}, [][][]float64{{{0, 0}, {0}, {0, 0}}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			outs, err := gsRun(tc.op, tc.nOut, tc.attrs, tc.in...)
			if err != nil {
				t.Fatal(err)
			}
			for i, w := range tc.want {
				got := gsVals(outs[i])
				if len(w) == 1 && len(w[0]) == 0 && len(got) == 1 && len(got[0]) == 0 {
					continue
				}
				if !reflect.DeepEqual(got, w) {
					t.Errorf("output %d = %v, want %v", i, got, w)
				}
			}
		})
	}
}

func TestSequenceGradKernelsKinds(t *testing.T) {
	x := gsF([]int{2}, 1, 2)
	// Optionals: GradSum skips empty ones; OptionalGetElementGrad wraps.
	opt := tensor.NewOptional(x, tensor.Float64, false)
	empty := tensor.NewOptional(nil, tensor.Float64, false)
	outs, err := gsRun("GradSum", 1, nil, opt, empty, opt)
	if err != nil {
		t.Fatal(err)
	}
	if v, ok := outs[0].OptionalValue(); !ok || !reflect.DeepEqual(v.Float64s(), []float64{2, 4}) {
		t.Errorf("GradSum of optionals = %v", outs[0])
	}
	outs, err = gsRun("OptionalGetElementGrad", 1, nil, opt, x)
	if err != nil || outs[0].Kind() != tensor.KindOptional {
		t.Errorf("OptionalGetElementGrad of an optional = %v, %v", outs, err)
	}
	outs, err = gsRun("OptionalGetElementGrad", 1, nil, x, x)
	if err != nil || outs[0] != x {
		t.Errorf("OptionalGetElementGrad of a tensor = %v, %v", outs, err)
	}
	outs, err = gsRun("GradZerosLike", 1, nil, empty)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := outs[0].OptionalValue(); ok {
		t.Error("zeros of an empty optional is not empty")
	}
	// float16 goes through float64.
	h, _ := gsF([]int{2}, 0.5, 1.5).Cast(tensor.Float16)
	outs, err = gsRun("GradSum", 1, nil, h, h)
	if err != nil {
		t.Fatal(err)
	}
	if outs[0].DType() != tensor.Float16 || !reflect.DeepEqual(outs[0].Float64s(), []float64{1, 3}) {
		t.Errorf("GradSum float16 = %v", outs[0])
	}
}

func TestSequenceGradKernelErrors(t *testing.T) {
	a, c := gsF([]int{2}, 1, 2), gsF([]int{3}, 4, 5, 6)
	S := gsSeq(a, c)
	for _, tc := range []struct {
		name  string
		op    string
		nOut  int
		attrs []*Attr
		in    []*tensor.Tensor
		want  string
	}{
		{"at-out-of-range", "SequenceAtGrad", 1, nil, []*tensor.Tensor{S, tensor.Scalar(int64(2)), a}, "out of range"},
		{"at-wrong-shape", "SequenceAtGrad", 1, nil, []*tensor.Tensor{S, tensor.Scalar(int64(1)), a}, "shape"},
		{"at-not-sequence", "SequenceAtGrad", 1, nil, []*tensor.Tensor{a, tensor.Scalar(int64(0)), a}, "sequence"},
		{"insert-empty", "SequenceInsertGrad", 2, nil, []*tensor.Tensor{gsSeq(), nil}, "empty"},
		{"erase-length", "SequenceEraseGrad", 1, nil, []*tensor.Tensor{S, S, nil}, "does not fit"},
		{"split-shape", "SplitToSequenceGrad", 1, []*Attr{IntAttr("axis", 0)}, []*tensor.Tensor{S, gsF([]int{4}, 0, 0, 0, 0)}, "shape"},
		{"concat-extent", "ConcatFromSequenceGrad", 1, []*Attr{IntAttr("axis", 0)}, []*tensor.Tensor{gsF([]int{4}, 1, 2, 3, 4), S}, "span"},
		{"concat-new-axis-count", "ConcatFromSequenceGrad", 1, []*Attr{IntAttr("axis", 0), IntAttr("new_axis", 1)},
			[]*tensor.Tensor{gsF([]int{3, 2}, 1, 2, 3, 4, 5, 6), gsSeq(a, a)}, "entries"},
		{"sum-lengths", "GradSum", 1, nil, []*tensor.Tensor{S, gsSeq(a)}, "sequences of"},
		{"sum-kinds", "GradSum", 1, nil, []*tensor.Tensor{S, a}, "cannot add"},
		{"sum-shapes", "GradSum", 1, nil, []*tensor.Tensor{a, c}, "cannot add"},
		{"zeros-strings", "GradZerosLike", 1, nil, []*tensor.Tensor{tensor.From([]int{1}, []string{"a"})}, "element type"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := gsRun(tc.op, tc.nOut, tc.attrs, tc.in...)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %v, want one mentioning %q", err, tc.want)
			}
		})
	}
}

// cumsumBody is the Scan body s' = s + x_t, y_t = s' (one state, one
// scan input, one scan output); cumsumGrad its gradient body: given s,
// x_t, ds' and dy_t, ds = dx_t = ds' + dy_t, and an outer gradient of 1
// per iteration.
func cumsumBodies() (*funcSubgraph, *funcSubgraph) {
	add := func(a, b *tensor.Tensor) *tensor.Tensor {
		s, err := addGrad(a, b)
		if err != nil {
			panic(err)
		}
		return s
	}
	body := &funcSubgraph{ins: []string{"s", "x"}, outs: []string{"s2", "y"}, f: func(in []*tensor.Tensor) []*tensor.Tensor {
		s := add(in[0], in[1])
		return []*tensor.Tensor{s, s}
	}}
	grad := &funcSubgraph{ins: []string{"s", "x", "ds", "dy"}, outs: []string{"gs", "gx", "gw"}, f: func(in []*tensor.Tensor) []*tensor.Tensor {
		g := add(in[2], in[3])
		return []*tensor.Tensor{g, g, gsF(nil, 1)}
	}}
	return body, grad
}

func TestScanGradKernel(t *testing.T) {
	body, grad := cumsumBodies()
	attrs := func(extra ...*Attr) []*Attr {
		return append([]*Attr{GraphAttr("body", body), GraphAttr("grad_body", grad), IntAttr("num_scan_inputs", 1),
			IntsAttr("state_grads", 1), IntsAttr("scan_input_grads", 1), IntsAttr("scan_output_grads", 1)}, extra...)
	}
	s0 := gsF(nil, 0)
	xs := gsF([]int{3}, 1, 2, 3)
	w := gsF(nil, 5)
	// y_t = s0 + x_0 + ... + x_t; with dL/dy = [1, 10, 100] and dL/ds_T = 1000:
	// dL/dx_t = 1000 + Σ_{u>=t} dy_u, dL/ds0 = dL/dx_0; dL/dw = 3 (one per step).
	outs, err := gsRun("ScanGrad", 3, attrs(), s0, xs, gsF(nil, 1000), gsF([]int{3}, 1, 10, 100), w)
	if err != nil {
		t.Fatal(err)
	}
	if got := [][]float64{outs[0].Float64s(), outs[1].Float64s(), outs[2].Float64s()}; !reflect.DeepEqual(got, [][]float64{{1111}, {1111, 1110, 1100}, {3}}) {
		t.Errorf("ScanGrad = %v", got)
	}
	// Reversed input: the scan reads x backwards, so dL/dx is reversed.
	outs, err = gsRun("ScanGrad", 3, attrs(IntsAttr("scan_input_directions", 1)), s0, xs, nil, gsF([]int{3}, 1, 10, 100), w)
	if err != nil {
		t.Fatal(err)
	}
	if got := outs[1].Float64s(); !reflect.DeepEqual(got, []float64{100, 110, 111}) {
		t.Errorf("ScanGrad reversed dL/dx = %v", got)
	}
	// No iteration: the final state's gradient passes through, zeros
	// elsewhere.
	outs, err = gsRun("ScanGrad", 3, attrs(), s0, gsF([]int{0}), gsF(nil, 7), gsF([]int{0}), w)
	if err != nil {
		t.Fatal(err)
	}
	if got := [][]float64{outs[0].Float64s(), outs[1].Float64s(), outs[2].Float64s()}; fmt.Sprint(got) != "[[7] [] [0]]" || !tensor.ShapeEqual(outs[1].Shape(), []int{0}) {
		t.Errorf("ScanGrad of an empty scan = %v", got)
	}
	for _, bad := range []struct {
		name  string
		attrs []*Attr
		in    []*tensor.Tensor
		want  string
	}{
		{"mask-length", append(attrs(), IntsAttr("scan_input_grads", 1, 1)), []*tensor.Tensor{s0, xs, nil, xs, w}, "entries"},
		{"too-few-inputs", attrs(), []*tensor.Tensor{s0, xs}, "inputs"},
		{"dy-length", attrs(), []*tensor.Tensor{s0, xs, nil, gsF([]int{2}, 1, 2), w}, "entries along axis"},
	} {
		if _, err := gsRun("ScanGrad", 3, bad.attrs, bad.in...); err == nil || !strings.Contains(err.Error(), bad.want) {
			t.Errorf("%s: error %v, want one mentioning %q", bad.name, err, bad.want)
		}
	}
}

func TestLoopGradKernel(t *testing.T) {
	// v' = 2v, scan output v'; the gradient body: dv = 2(dv' + dy), and
	// an outer gradient of the iteration number.
	body := &funcSubgraph{ins: []string{"i", "c", "v"}, outs: []string{"c2", "v2", "y"}, f: func(in []*tensor.Tensor) []*tensor.Tensor {
		v := gsF(nil, 2*in[2].Float64s()[0])
		return []*tensor.Tensor{tensor.Scalar(v.Float64s()[0] < 20), v, v}
	}}
	grad := &funcSubgraph{ins: []string{"i", "c", "v", "dv", "dy"}, outs: []string{"gv", "gw"}, f: func(in []*tensor.Tensor) []*tensor.Tensor {
		return []*tensor.Tensor{gsF(nil, 2*(in[3].Float64s()[0]+in[4].Float64s()[0])), gsF(nil, float64(in[0].Int64s()[0]))}
	}}
	attrs := []*Attr{GraphAttr("body", body), GraphAttr("grad_body", grad), IntsAttr("state_grads", 1), IntsAttr("scan_output_grads", 1)}
	// From v0 = 3: v = 6, 12, 24 (the condition stops after the third
	// iteration). dL/dv_T = 1, dL/dy = [1, 1, 1]:
	// g3 = 1; g2 = 2(1+1) = 4; g1 = 2(4+1) = 10; g0 = 2(10+1) = 22.
	outs, err := gsRun("LoopGrad", 2, attrs, nil, nil, gsF(nil, 3), gsF(nil, 1), gsF([]int{3}, 1, 1, 1), gsF(nil, 0))
	if err != nil {
		t.Fatal(err)
	}
	if got := [][]float64{outs[0].Float64s(), outs[1].Float64s()}; !reflect.DeepEqual(got, [][]float64{{22}, {3}}) {
		t.Errorf("LoopGrad = %v, want [[22] [3]] (iterations 0+1+2)", got)
	}
	// M = 1 stops first.
	outs, err = gsRun("LoopGrad", 2, attrs, tensor.Scalar(int64(1)), nil, gsF(nil, 3), nil, gsF([]int{1}, 1), gsF(nil, 0))
	if err != nil {
		t.Fatal(err)
	}
	if got := [][]float64{outs[0].Float64s(), outs[1].Float64s()}; !reflect.DeepEqual(got, [][]float64{{2}, {0}}) {
		t.Errorf("LoopGrad M=1 = %v", got)
	}
	if _, err := gsRun("LoopGrad", 2, attrs, nil, nil, gsF(nil, 3), nil, gsF([]int{2}, 1, 1), gsF(nil, 0)); err == nil ||
		!strings.Contains(err.Error(), "entries along axis 0") {
		t.Errorf("scan gradient of the wrong length: %v", err)
	}
}

// TestControlRulesNeedSubgraphContext: the rules of the control-flow
// operators say so when their context cannot differentiate subgraphs.
func TestControlRulesNeedSubgraphContext(t *testing.T) {
	for _, op := range []string{"If", "Loop", "Scan", "SequenceMap"} {
		ctx := &gnnCtx{t: t, node: gnnBuilder("", op, 17, nil, []string{"a", "b", "c"}, []bool{true}), dys: []string{"dy"},
			ins: []string{"a", "b", "c"}, needs: []bool{true, true, true}}
		err := gradRule("", op)(ctx)
		if err == nil || !strings.Contains(err.Error(), "SubgraphGradContext") {
			t.Errorf("%s: err = %v", op, err)
		}
	}
}
