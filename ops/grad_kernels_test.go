package ops

import (
	"context"
	"fmt"
	"reflect"
	"strings"
	"testing"

	"github.com/onyxrt/onyx/tensor"
)

// gkRun builds a GradDomain kernel with nOut outputs and runs it.
func gkRun(name string, nOut int, attrs []*Attr, in ...*tensor.Tensor) (outs []*tensor.Tensor, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("panic: %v", r)
		}
	}()
	r := NewRegistry()
	registerGradKernels(r)
	def, err := r.Lookup(GradDomain, name, 1)
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
		InputPresent: present, OutputPresent: outPresent, Attrs: map[string]*Attr{}}
	for _, a := range attrs {
		b.Attrs[a.Name] = a
	}
	k, err := def.Build(b)
	if err != nil {
		return nil, err
	}
	return k.Run(&RunContext{Ctx: context.Background(), Threads: 1}, in)
}

func gkShape(d ...int64) *tensor.Tensor { return tensor.From([]int{len(d)}, d) }

func TestGradKernelValues(t *testing.T) {
	x23 := tensor.From([]int{2, 3}, []float32{1, 2, 3, 4, 5, 6})
	for _, c := range []struct {
		name  string
		op    string
		nOut  int
		attrs []*Attr
		in    []*tensor.Tensor
		want  []*tensor.Tensor
	}{
		{"sum rows", "SumToShape", 1, nil, []*tensor.Tensor{x23, gkShape(3)}, []*tensor.Tensor{tensor.From([]int{3}, []float32{5, 7, 9})}},
		{"sum cols keep", "SumToShape", 1, nil, []*tensor.Tensor{x23, gkShape(2, 1)}, []*tensor.Tensor{tensor.From([]int{2, 1}, []float32{6, 15})}},
		{"sum all", "SumToShape", 1, nil, []*tensor.Tensor{x23, gkShape()}, []*tensor.Tensor{tensor.From([]int{}, []float32{21})}},
		{"sum none", "SumToShape", 1, nil, []*tensor.Tensor{x23, gkShape(2, 3)}, []*tensor.Tensor{x23}},
		{"ones like int", "ConstantLike", 1, []*Attr{FloatAttr("value", 1)}, []*tensor.Tensor{tensor.From([]int{2}, []int64{5, 6})}, []*tensor.Tensor{tensor.From([]int{2}, []int64{1, 1})}},
		{"scale", "Scale", 1, []*Attr{FloatAttr("scale", 0.5)}, []*tensor.Tensor{x23}, []*tensor.Tensor{tensor.From([]int{2, 3}, []float32{0.5, 1, 1.5, 2, 2.5, 3})}},
		{"cast like", "CastLike", 1, nil, []*tensor.Tensor{x23, tensor.Scalar(1.0)}, []*tensor.Tensor{tensor.From([]int{2, 3}, []float64{1, 2, 3, 4, 5, 6})}},
		{"relu grad", "UnaryGrad", 1, []*Attr{StringAttr("op", "Relu")}, []*tensor.Tensor{tensor.From([]int{3}, []float32{1, 2, 3}), tensor.From([]int{3}, []float32{-1, 0, 2}), nil}, []*tensor.Tensor{tensor.From([]int{3}, []float32{0, 0, 3})}},
		{"clip grad", "ClipGrad", 1, nil, []*tensor.Tensor{tensor.From([]int{3}, []float32{1, 2, 3}), tensor.From([]int{3}, []float32{-2, 0, 2}), tensor.Scalar(float32(-1)), tensor.Scalar(float32(1))}, []*tensor.Tensor{tensor.From([]int{3}, []float32{0, 2, 0})}},
		{"max grad ties to first", "MaxMinGrad", 2, nil, []*tensor.Tensor{tensor.From([]int{3}, []float32{1, 2, 3}), tensor.From([]int{3}, []float32{1, 5, 0}), tensor.From([]int{3}, []float32{1, 4, 2})},
			[]*tensor.Tensor{tensor.From([]int{3}, []float32{1, 2, 0}), tensor.From([]int{3}, []float32{0, 0, 3})}},
		{"reduce grad keep 0", "ReduceGrad", 1, []*Attr{IntsAttr("axes", 1), IntAttr("keepdims", 0)}, []*tensor.Tensor{tensor.From([]int{2}, []float32{1, 2}), gkShape(2, 3)},
			[]*tensor.Tensor{tensor.From([]int{2, 3}, []float32{1, 1, 1, 2, 2, 2})}},
		{"reduce grad mean all", "ReduceGrad", 1, []*Attr{IntAttr("mean", 1), IntAttr("keepdims", 0)}, []*tensor.Tensor{tensor.From([]int{}, []float32{6}), gkShape(2, 3)},
			[]*tensor.Tensor{tensor.From([]int{2, 3}, []float32{1, 1, 1, 1, 1, 1})}},
		{"concat grad", "ConcatGrad", 2, []*Attr{IntAttr("axis", 1)}, []*tensor.Tensor{x23, gkShape(2, 1), gkShape(2, 2)},
			[]*tensor.Tensor{tensor.From([]int{2, 1}, []float32{1, 4}), tensor.From([]int{2, 2}, []float32{2, 3, 5, 6})}},
		{"gemm grad", "GemmGrad", 3, nil, []*tensor.Tensor{tensor.From([]int{1, 1}, []float32{2}), tensor.From([]int{1, 2}, []float32{1, 2}), tensor.From([]int{2, 1}, []float32{3, 4}), tensor.From([]int{1}, []float32{0})},
			[]*tensor.Tensor{tensor.From([]int{1, 2}, []float32{6, 8}), tensor.From([]int{2, 1}, []float32{2, 4}), tensor.From([]int{1}, []float32{2})}},
		{"nll grad", "NegativeLogLikelihoodLossGrad", 1, []*Attr{StringAttr("reduction", "sum")}, []*tensor.Tensor{tensor.Scalar(float32(2)), tensor.From([]int{2, 2}, []float32{0, 0, 0, 0}), tensor.From([]int{2}, []int64{1, 0})},
			[]*tensor.Tensor{tensor.From([]int{2, 2}, []float32{0, -2, -2, 0})}},
	} {
		got, err := gkRun(c.op, c.nOut, c.attrs, c.in...)
		if err != nil {
			t.Errorf("%s: %v", c.name, err)
			continue
		}
		for i, w := range c.want {
			if got[i].DType() != w.DType() || !tensor.ShapeEqual(got[i].Shape(), w.Shape()) || !reflect.DeepEqual(got[i].Data(), w.Data()) {
				t.Errorf("%s: output %d = %v, want %v", c.name, i, got[i], w)
			}
		}
	}
}

// TestGradKernelHalf: float16 flows through the float32 kernels.
func TestGradKernelHalf(t *testing.T) {
	h := func(v ...float32) *tensor.Tensor {
		t, _ := tensor.From([]int{len(v)}, v).Cast(tensor.Float16)
		return t
	}
	out, err := gkRun("UnaryGrad", 1, []*Attr{StringAttr("op", "Sigmoid")}, h(1, 1), h(0, 0), h(0.5, 0.25))
	if err != nil {
		t.Fatal(err)
	}
	if out[0].DType() != tensor.Float16 || !reflect.DeepEqual(out[0].Float64s(), []float64{0.25, 0.1875}) {
		t.Errorf("Sigmoid grad in float16: %v", out[0])
	}
}

// TestGradKernelErrors: bad inputs give errors, never panics.
func TestGradKernelErrors(t *testing.T) {
	f := func(shape ...int) *tensor.Tensor {
		tt, _ := tensor.New(tensor.Float32, shape...)
		return tt
	}
	for _, c := range []struct {
		op    string
		nOut  int
		attrs []*Attr
		in    []*tensor.Tensor
	}{
		{"SumToShape", 1, nil, []*tensor.Tensor{f(2, 3), gkShape(4)}},
		{"SumToShape", 1, nil, []*tensor.Tensor{f(3), gkShape(2, 3)}},
		{"SumToShape", 1, nil, []*tensor.Tensor{f(3), gkShape(-1)}},
		{"SumToShape", 1, nil, []*tensor.Tensor{f(3)}},
		{"UnaryGrad", 1, []*Attr{StringAttr("op", "Nope")}, []*tensor.Tensor{f(3)}},
		{"UnaryGrad", 1, []*Attr{StringAttr("op", "Relu")}, []*tensor.Tensor{f(3), f(4), nil}},
		{"ClipGrad", 1, nil, []*tensor.Tensor{f(3), f(2)}},
		{"ClipGrad", 1, nil, []*tensor.Tensor{f(3), f(3), f(2)}},
		{"PowGrad", 2, nil, []*tensor.Tensor{f(3), f(2), f(3)}},
		{"MaxMinGrad", 2, nil, []*tensor.Tensor{f(3), f(3), f(4)}},
		{"MatMulGrad", 2, nil, []*tensor.Tensor{f(2, 2), f(2, 3), f(3, 4)}},
		{"MatMulGrad", 2, nil, []*tensor.Tensor{f(2, 4), f(2, 3), f(2, 4)}},
		{"GemmGrad", 2, nil, []*tensor.Tensor{f(2, 2), f(2, 3), f(3, 4)}},
		{"GemmGrad", 3, nil, []*tensor.Tensor{f(2, 4), f(2, 3), f(3, 4), f(3)}},
		{"GemmGrad", 2, nil, []*tensor.Tensor{f(2), f(2, 3), f(3, 4)}},
		{"ReduceGrad", 1, []*Attr{IntsAttr("axes", 5)}, []*tensor.Tensor{f(2), gkShape(2, 3)}},
		{"ReduceGrad", 1, []*Attr{IntsAttr("axes", 1)}, []*tensor.Tensor{f(3), gkShape(2, 3)}},
		{"ConcatGrad", 2, []*Attr{IntAttr("axis", 1)}, []*tensor.Tensor{f(2, 3), gkShape(2, 1), gkShape(2, 1)}},
		{"ConcatGrad", 2, []*Attr{IntAttr("axis", 1)}, []*tensor.Tensor{f(2, 3), gkShape(2, 1), gkShape(3, 2)}},
		{"ConcatGrad", 1, []*Attr{IntAttr("axis", 4)}, []*tensor.Tensor{f(2, 3), gkShape(2, 3)}},
		{"ConcatGrad", 1, nil, []*tensor.Tensor{f(2, 3), gkShape(2, 3)}},
		{"SoftmaxGrad", 1, nil, []*tensor.Tensor{f(2, 3), f(3, 2)}},
		{"LogSoftmaxGrad", 1, []*Attr{IntAttr("axis", 3)}, []*tensor.Tensor{f(2, 3), f(2, 3)}},
		{"SoftmaxCrossEntropyLossGrad", 1, nil, []*tensor.Tensor{f(), f(2, 3), tensor.From([]int{2}, []int64{0, 3})}},
		{"SoftmaxCrossEntropyLossGrad", 1, nil, []*tensor.Tensor{f(), f(2, 3), tensor.From([]int{3}, []int64{0, 1, 2})}},
		{"SoftmaxCrossEntropyLossGrad", 1, []*Attr{StringAttr("reduction", "none")}, []*tensor.Tensor{f(), f(2, 3), tensor.From([]int{2}, []int64{0, 1})}},
		{"SoftmaxCrossEntropyLossGrad", 1, []*Attr{StringAttr("reduction", "avg")}, []*tensor.Tensor{f(), f(2, 3), tensor.From([]int{2}, []int64{0, 1})}},
		{"NegativeLogLikelihoodLossGrad", 1, nil, []*tensor.Tensor{f(), f(2, 3), tensor.From([]int{2}, []float32{0, 1})}},
		{"NegativeLogLikelihoodLossGrad", 1, nil, []*tensor.Tensor{f(), f(2, 3), tensor.From([]int{2}, []int64{0, 1}), f(2)}},
	} {
		_, err := gkRun(c.op, c.nOut, c.attrs, c.in...)
		if err == nil {
			t.Errorf("%s %v: no error", c.op, c.in)
		} else if strings.HasPrefix(err.Error(), "panic") {
			t.Errorf("%s: %v", c.op, err)
		}
	}
}

// TestGradKernelsNoPanic feeds every gradient kernel of this file
// degenerate inputs: each must fail or succeed, never panic.
func TestGradKernelsNoPanic(t *testing.T) {
	r := NewRegistry()
	registerGradKernels(r)
	empty, _ := tensor.New(tensor.Float32, 0)
	empty2, _ := tensor.New(tensor.Float32, 2, 0)
	inputs := []*tensor.Tensor{
		nil, tensor.Scalar(float32(1)), empty, empty2, gkShape(), gkShape(-1), gkShape(2, 3), gkShape(1 << 40),
		tensor.From([]int{2, 3}, []float32{1, 2, 3, 4, 5, 6}), tensor.From([]int{2}, []int64{0, 7}),
		tensor.From([]int{3, 2}, []float64{1, 2, 3, 4, 5, 6}), tensor.From([]int{1}, []string{"x"}),
	}
	attrs := [][]*Attr{nil, {IntAttr("axis", 7), StringAttr("op", "Relu")}, {IntAttr("axis", -1), IntsAttr("axes", 0, 0), IntAttr("keepdims", 0)},
		{StringAttr("reduction", "none"), IntAttr("from_scores", 1), IntAttr("ignore_index", 0), IntAttr("transA", 1), IntAttr("coerce", 1)}}
	for _, op := range r.List() {
		for _, as := range attrs {
			for _, a := range inputs {
				for _, b := range inputs {
					for _, c := range inputs[:6] {
						for nOut := 1; nOut <= 2; nOut++ {
							if _, err := gkRun(op.Name, nOut, as, a, b, c); err != nil && strings.HasPrefix(err.Error(), "panic") {
								t.Errorf("%s attrs %v inputs (%v, %v, %v): %v", op.Name, as, a, b, c, err)
								return
							}
						}
					}
				}
			}
		}
	}
}
