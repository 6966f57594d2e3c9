package ops

import (
	"math"
	"reflect"
	"testing"

	"github.com/onyxrt/onyx/tensor"
)

// The rules of grad_activation.go, checked against central finite
// differences in float64 with the eager context of grad_nn_test.go.

// gxAffine returns a*t + b elementwise (t float64).
func gxAffine(t *tensor.Tensor, a, b float64) *tensor.Tensor {
	v := append([]float64(nil), tensor.Data[float64](t)...)
	for i := range v {
		v[i] = a*v[i] + b
	}
	return tensor.From(t.Shape(), v)
}

func TestGradActivation(t *testing.T) {
	x := gnnRand(1, 3, 4)
	wide := gxAffine(gnnRand(2, 3, 5), 5, 0) // [-5, 5): crosses HardSigmoid's and HardSwish's kinks
	unit := gxAffine(gnnRand(3, 2, 5), 0.9, 0)
	cases := []gnnCase{
		{name: "celu_default", op: "Celu", opset: 12, in: []*tensor.Tensor{x}, wrt: []int{0}, emits: []string{"ActivationGrad"}},
		{name: "celu_alpha", op: "Celu", opset: 12, attrs: []*Attr{FloatAttr("alpha", 0.4)}, in: []*tensor.Tensor{wide}, wrt: []int{0}},
		{name: "selu_default", op: "Selu", opset: 6, in: []*tensor.Tensor{wide}, wrt: []int{0}},
		{name: "selu_1_defaults", op: "Selu", opset: 1, in: []*tensor.Tensor{x}, wrt: []int{0}},
		{name: "selu_attrs", op: "Selu", opset: 6, attrs: []*Attr{FloatAttr("alpha", 2), FloatAttr("gamma", 0.5)}, in: []*tensor.Tensor{x}, wrt: []int{0}},
		{name: "softsign", op: "Softsign", opset: 1, in: []*tensor.Tensor{wide}, wrt: []int{0}},
		{name: "hardsigmoid_default", op: "HardSigmoid", opset: 6, in: []*tensor.Tensor{wide}, wrt: []int{0}},
		{name: "hardsigmoid_attrs", op: "HardSigmoid", opset: 6, attrs: []*Attr{FloatAttr("alpha", 0.5), FloatAttr("beta", 0.3)}, in: []*tensor.Tensor{wide}, wrt: []int{0}},
		{name: "hardswish", op: "HardSwish", opset: 14, in: []*tensor.Tensor{wide}, wrt: []int{0}},
		{name: "mish", op: "Mish", opset: 18, in: []*tensor.Tensor{wide}, wrt: []int{0}},
		{name: "gelu_erf", op: "Gelu", opset: 20, in: []*tensor.Tensor{wide}, wrt: []int{0}},
		{name: "gelu_tanh", op: "Gelu", opset: 20, attrs: []*Attr{StringAttr("approximate", "tanh")}, in: []*tensor.Tensor{wide}, wrt: []int{0}},
		{name: "thresholdedrelu_default", op: "ThresholdedRelu", opset: 10, in: []*tensor.Tensor{wide}, wrt: []int{0}},
		{name: "thresholdedrelu_alpha", op: "ThresholdedRelu", opset: 10, attrs: []*Attr{FloatAttr("alpha", -0.5)}, in: []*tensor.Tensor{x}, wrt: []int{0}},
		{name: "shrink_default", op: "Shrink", opset: 9, in: []*tensor.Tensor{x}, wrt: []int{0}},
		{name: "shrink_attrs", op: "Shrink", opset: 9, attrs: []*Attr{FloatAttr("lambd", 1.5), FloatAttr("bias", 0.7)}, in: []*tensor.Tensor{wide}, wrt: []int{0}},
		{name: "erf", op: "Erf", opset: 13, in: []*tensor.Tensor{gxAffine(x, 2, 0)}, wrt: []int{0}},
		{name: "sin", op: "Sin", opset: 7, in: []*tensor.Tensor{wide}, wrt: []int{0}},
		{name: "cos", op: "Cos", opset: 7, in: []*tensor.Tensor{wide}, wrt: []int{0}},
		{name: "tan", op: "Tan", opset: 7, in: []*tensor.Tensor{x}, wrt: []int{0}},
		{name: "asin", op: "Asin", opset: 7, in: []*tensor.Tensor{unit}, wrt: []int{0}},
		{name: "acos", op: "Acos", opset: 7, in: []*tensor.Tensor{unit}, wrt: []int{0}},
		{name: "atan", op: "Atan", opset: 7, in: []*tensor.Tensor{wide}, wrt: []int{0}},
		{name: "sinh", op: "Sinh", opset: 9, in: []*tensor.Tensor{x}, wrt: []int{0}},
		{name: "cosh", op: "Cosh", opset: 9, in: []*tensor.Tensor{x}, wrt: []int{0}},
		{name: "asinh", op: "Asinh", opset: 9, in: []*tensor.Tensor{wide}, wrt: []int{0}},
		{name: "acosh", op: "Acosh", opset: 9, in: []*tensor.Tensor{gxAffine(gnnPos(4, 2, 3), 1, 1)}, wrt: []int{0}},
		{name: "atanh", op: "Atanh", opset: 9, in: []*tensor.Tensor{unit}, wrt: []int{0}},
	}
	runGnnCases(t, cases)
}

func TestGradPReluCastLikeMod(t *testing.T) {
	runGnnCases(t, []gnnCase{
		{name: "prelu_channel_slope", op: "PRelu", opset: 16, in: []*tensor.Tensor{gnnRand(1, 2, 3, 2, 2), gnnRand(2, 3, 1, 1)}, wrt: []int{0, 1},
			emits: []string{"PReluGrad"}},
		{name: "prelu_scalar_slope", op: "PRelu", opset: 9, in: []*tensor.Tensor{gnnRand(3, 4, 5), gnnRand(4, 1)}, wrt: []int{0, 1}},
		{name: "prelu_full_slope", op: "PRelu", opset: 7, in: []*tensor.Tensor{gnnRand(5, 2, 3), gnnRand(6, 2, 3)}, wrt: []int{1}},
		{name: "prelu_legacy_per_channel", op: "PRelu", opset: 6, in: []*tensor.Tensor{gnnRand(7, 2, 3, 4), gnnRand(8, 3)}, wrt: []int{0, 1}},
		{name: "castlike", op: "CastLike", opset: 15, in: []*tensor.Tensor{gnnRand(9, 2, 3), tensor.From([]int{1}, []float64{0})}, wrt: []int{0},
			emits: []string{"CastLike"}},
		{name: "mod_fmod", op: "Mod", opset: 13, attrs: []*Attr{IntAttr("fmod", 1)},
			in: []*tensor.Tensor{gxAffine(gnnRand(10, 3, 4), 5, 0), gxAffine(gnnPos(11, 4), 1, 0.3)}, wrt: []int{0, 1}},
		{name: "mod_floor_negative_divisor", op: "Mod", opset: 10,
			in: []*tensor.Tensor{gxAffine(gnnRand(12, 2, 3), 4, 0), gxAffine(gnnPos(13, 2, 1), -1, 0)}, wrt: []int{0, 1}},
	})
}

// TestActivationGradKernel checks values against hand-computed ones and
// the float32 path.
func TestActivationGradKernel(t *testing.T) {
	reg := Default()
	run := func(op string, attrs []*Attr, dy, x *tensor.Tensor) []float64 {
		t.Helper()
		outs, err := gnnRun(reg, GradDomain, "ActivationGrad", 1, append([]*Attr{StringAttr("op", op)}, attrs...),
			[]string{"dy", "x"}, []bool{true}, map[string]*tensor.Tensor{"dy": dy, "x": x}, 1)
		if err != nil {
			t.Fatalf("%s: %v", op, err)
		}
		if outs[0].DType() != dy.DType() {
			t.Fatalf("%s: gradient type %v, want %v", op, outs[0].DType(), dy.DType())
		}
		return outs[0].Float64s()
	}
	f32 := func(v ...float32) *tensor.Tensor { return tensor.From([]int{len(v)}, v) }
	got := run("HardSwish", nil, f32(1, 1, 1), f32(-4, 0, 4))
	if !reflect.DeepEqual(got, []float64{0, 0.5, 1}) {
		t.Errorf("HardSwish grad = %v", got)
	}
	got = run("Erf", nil, f32(2), f32(0))
	if math.Abs(got[0]-4/math.SqrtPi) > 1e-6 {
		t.Errorf("Erf grad at 0 = %v, want %v", got[0], 4/math.SqrtPi)
	}
	if _, err := gnnRun(reg, GradDomain, "ActivationGrad", 1, []*Attr{StringAttr("op", "Nope")}, []string{"dy", "x"}, []bool{true},
		map[string]*tensor.Tensor{"dy": f32(1), "x": f32(1)}, 1); err == nil {
		t.Error("unknown op accepted")
	}
	if _, err := gnnRun(reg, GradDomain, "ActivationGrad", 1, []*Attr{StringAttr("op", "Sin")}, []string{"dy", "x"}, []bool{true},
		map[string]*tensor.Tensor{"dy": f32(1, 2), "x": f32(1)}, 1); err == nil {
		t.Error("mismatched shapes accepted")
	}
}
