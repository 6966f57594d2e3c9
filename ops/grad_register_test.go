package ops

import (
	"fmt"
	"math"
	"strings"
	"testing"

	"github.com/onyxrt/onyx/tensor"
)

// TestGradOpKernelErrors: the backward kernels of grad_register.go reject
// bad inputs with errors, never panics.
func TestGradOpKernelErrors(t *testing.T) {
	reg := Default()
	nan := tensor.From([]int{1, 4}, []float64{math.NaN(), 0, 2, 2})
	for _, c := range []struct {
		op    string
		nOut  int
		attrs []*Attr
		in    []*tensor.Tensor
		want  string
	}{
		{"ActivationGrad", 1, []*Attr{StringAttr("op", "Sin")}, []*tensor.Tensor{gnnRand(1, 2), gnnRand(2, 3)}, "x is"},
		{"PReluGrad", 2, nil, []*tensor.Tensor{gnnRand(1, 2, 3), gnnRand(2, 2, 3), gnnRand(3, 4)}, "does not broadcast"},
		{"ReduceOpGrad", 1, []*Attr{StringAttr("op", "ReduceL2"), IntsAttr("axes", 1)}, []*tensor.Tensor{gnnRand(1, 3), gnnRand(2, 2, 3), gnnRand(3, 2)}, "do not match"},
		{"EinsumGrad", 2, []*Attr{StringAttr("equation", "ij,jk->ik")}, []*tensor.Tensor{gnnRand(1, 2, 2), gnnRand(2, 2, 3), gnnRand(3, 3, 4)}, "gradient shape"},
		{"DetGrad", 1, nil, []*tensor.Tensor{gnnRand(1, 2), gnnRand(2, 2, 3)}, "[..., M, M]"},
		{"GatherElementsGrad", 1, nil, []*tensor.Tensor{gnnI64([]int{2}, 2, 2), gnnI64([]int{1, 2}, 0, 5), gnnRand(1, 1, 2)}, "out of range"},
		{"GatherNDGrad", 1, nil, []*tensor.Tensor{gnnI64([]int{2}, 2, 2), gnnI64([]int{1, 1}, 1), gnnRand(1, 3)}, "dY has shape"},
		{"ScatterGrad", 2, nil, []*tensor.Tensor{gnnRand(1, 3), gnnRand(2, 3), gnnI64([]int{1}, 3), gnnRand(3, 1)}, "out of range"},
		{"Col2ImGrad", 1, nil, []*tensor.Tensor{gnnRand(1, 1, 1, 2, 2), gnnRand(2, 1, 4, 4), gnnI64([]int{2}, 3, 3), gnnI64([]int{2}, 2, 2)}, "dY has shape"},
		{"GroupNormGrad", 3, []*Attr{IntAttr("num_groups", 2)}, []*tensor.Tensor{gnnRand(1, 1, 4, 2), gnnRand(2, 1, 4, 2), gnnRand(3, 3)}, "scale has shape"},
		{"LRNGrad", 1, []*Attr{IntAttr("size", 3)}, []*tensor.Tensor{gnnRand(1, 2), gnnRand(2, 1, 2, 2)}, "dY has shape"},
		{"LpNormGrad", 1, []*Attr{IntAttr("axis", 3)}, []*tensor.Tensor{gnnRand(1, 2, 2), gnnRand(2, 2, 2)}, "axis"},
		{"MVNGrad", 1, []*Attr{IntsAttr("axes", 5)}, []*tensor.Tensor{gnnRand(1, 2, 2), gnnRand(2, 2, 2)}, "axis"},
		{"LpPoolGrad", 1, []*Attr{IntsAttr("kernel_shape", 2, 2)}, []*tensor.Tensor{gnnRand(1, 1, 1, 2, 2), gnnRand(2, 1, 1, 4, 4)}, "dY has shape"},
		{"GlobalLpPoolGrad", 1, nil, []*tensor.Tensor{gnnRand(1, 3), gnnRand(2, 1, 2, 4)}, "dY has shape"},
		{"MaxRoiPoolGrad", 1, []*Attr{IntsAttr("pooled_shape", 1, 1)}, []*tensor.Tensor{gnnRand(1, 1, 1, 1, 1), gnnRand(2, 1, 1, 4, 4), tensor.From([]int{1, 5}, []float64{3, 0, 0, 1, 1})}, "batch index"},
		{"RoiAlignGrad", 1, nil, []*tensor.Tensor{gnnRand(1, 1, 1, 1, 1), gnnRand(2, 1, 1, 4, 4), tensor.From([]int{1, 4}, []float64{0, 0, 2, 2}), gnnI64([]int{1}, 4)}, "out of range"},
		{"MaxUnpoolGrad", 1, []*Attr{IntsAttr("kernel_shape", 2, 2), IntsAttr("strides", 2, 2)}, []*tensor.Tensor{gnnRand(1, 1, 1, 2, 2), gnnRand(2, 1, 1, 1, 1), gnnI64([]int{1, 1, 1, 1}, 9)}, "out of range"},
		{"ResizeGrad", 1, []*Attr{IntAttr("version", 13)}, []*tensor.Tensor{gnnRand(1, 1, 3), gnnI64([]int{2}, 1, 2), nil, tensor.From([]int{2}, []float32{1, 2})}, "dY has shape"},
		{"GridSampleGrad", 2, nil, []*tensor.Tensor{gnnRand(1, 1, 1, 2, 2), gnnRand(2, 1, 1, 3, 3), gnnRand(3, 1, 2, 2, 3)}, "does not fit"},
		{"AffineGridGrad", 1, nil, []*tensor.Tensor{gnnRand(1, 1, 2, 2, 3), gnnI64([]int{4}, 1, 1, 2, 2)}, "dgrid has shape"},
		{"DeformConvGrad", 3, nil, []*tensor.Tensor{gnnRand(1, 1, 1, 2, 2), gnnRand(2, 1, 1, 3, 3), gnnRand(3, 1, 1, 2, 2), gnnRand(4, 1, 3, 2, 2)}, "offset has shape"},
		{"DFTGrad", 1, nil, []*tensor.Tensor{gnnRand(1, 1, 3, 2), gnnRand(2, 1, 4, 1)}, "dY has shape"},
		{"STFTGrad", 1, nil, []*tensor.Tensor{gnnRand(1, 1, 1, 2, 2), gnnRand(2, 1, 4), gnnI64(nil, 1), gnnRand(3, 6)}, "frame length"},
		{"DequantizeLinearGrad", 1, nil, []*tensor.Tensor{gnnRand(1, 2), gnnRand(2, 2), tensor.From([]int{}, []float32{1})}, "x"},
	} {
		t.Run(c.op, func(t *testing.T) {
			names := make([]string, len(c.in))
			vals := map[string]*tensor.Tensor{}
			for i, v := range c.in {
				if v != nil {
					names[i] = fmt.Sprint("in", i)
					vals[names[i]] = v
				}
			}
			present := make([]bool, c.nOut)
			for i := range present {
				present[i] = true
			}
			var err error
			func() {
				defer func() {
					if r := recover(); r != nil {
						err = fmt.Errorf("panic: %v", r)
					}
				}()
				_, err = gnnRun(reg, GradDomain, c.op, 1, c.attrs, names, present, vals, 1)
			}()
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("error %v, want one mentioning %q", err, c.want)
			}
		})
	}
	// NaN boxes give no samples rather than a panic.
	if _, err := gnnRun(reg, GradDomain, "RoiAlignGrad", 1, nil, []string{"dy", "x", "r", "i"}, []bool{true},
		map[string]*tensor.Tensor{"dy": gnnRand(1, 1, 1, 1, 1), "x": gnnRand(2, 1, 1, 3, 3), "r": nan, "i": gnnI64([]int{1}, 0)}, 1); err != nil {
		t.Errorf("RoiAlignGrad with a NaN box: %v", err)
	}
}

// TestGradOpKernelTypes: float32 and float16 gradients come out in their
// own type and agree with the float64 ones.
func TestGradOpKernelTypes(t *testing.T) {
	reg := Default()
	x, dy := gnnRand(1, 2, 4, 3, 3), gnnRand(2, 2, 4, 3, 3)
	for _, c := range []struct {
		op    string
		attrs []*Attr
		in    []*tensor.Tensor
		nOut  int
		keep  []bool // inputs left in their own type (integers)
	}{
		{"ActivationGrad", []*Attr{StringAttr("op", "Gelu")}, []*tensor.Tensor{dy, x}, 1, nil},
		{"GroupNormGrad", []*Attr{IntAttr("num_groups", 2)}, []*tensor.Tensor{dy, x, gnnRand(3, 4)}, 3, nil},
		{"ReduceOpGrad", []*Attr{StringAttr("op", "ReduceLogSumExp"), IntsAttr("axes", 1)},
			[]*tensor.Tensor{gnnRand(4, 2, 1, 3, 3), x, gnnRand(5, 2, 1, 3, 3)}, 1, nil},
		{"LpPoolGrad", []*Attr{IntsAttr("kernel_shape", 2, 2)}, []*tensor.Tensor{gnnRand(6, 2, 4, 2, 2), x}, 1, nil},
		{"GridSampleGrad", nil, []*tensor.Tensor{gnnRand(7, 2, 4, 2, 2), x, gnnRand(8, 2, 2, 2, 2)}, 2, nil},
		{"ScatterGrad", []*Attr{StringAttr("reduction", "mul")}, []*tensor.Tensor{gnnRand(9, 3, 2), gnnRand(10, 3, 2), gnnI64([]int{2, 2}, 0, 2, 0, 1), gnnRand(11, 2, 2)},
			2, []bool{false, false, true, false}},
	} {
		run := func(dt tensor.DType) []*tensor.Tensor {
			names := make([]string, len(c.in))
			vals := map[string]*tensor.Tensor{}
			for i, v := range c.in {
				names[i] = fmt.Sprint("in", i)
				if c.keep != nil && c.keep[i] {
					vals[names[i]] = v
					continue
				}
				cv, err := v.Cast(dt)
				if err != nil {
					t.Fatal(err)
				}
				vals[names[i]] = cv
			}
			present := make([]bool, c.nOut)
			for i := range present {
				present[i] = true
			}
			outs, err := gnnRun(reg, GradDomain, c.op, 1, c.attrs, names, present, vals, 2)
			if err != nil {
				t.Fatalf("%s %v: %v", c.op, dt, err)
			}
			return outs
		}
		want := run(tensor.Float64)
		for _, dt := range []tensor.DType{tensor.Float32, tensor.Float16} {
			tol := 1e-5
			if dt == tensor.Float16 {
				tol = 3e-2
			}
			for i, o := range run(dt) {
				if o.DType() != dt || !tensor.ShapeEqual(o.Shape(), want[i].Shape()) {
					t.Fatalf("%s %v output %d: %v %v", c.op, dt, i, o.DType(), o.Shape())
				}
				g, w := o.Float64s(), want[i].Float64s()
				for j := range w {
					if math.Abs(g[j]-w[j]) > tol*(1+math.Abs(w[j])) {
						t.Fatalf("%s %v output %d element %d: %v, want %v", c.op, dt, i, j, g[j], w[j])
					}
				}
			}
		}
	}
}
