package ops

import (
	"fmt"
	"testing"

	"github.com/onyxrt/onyx/tensor"
)

// The rules of grad_vision.go and grad_signal.go against central finite
// differences.

func TestGradGridSample(t *testing.T) {
	x := gnnRand(1, 2, 2, 4, 5)
	grid := gxAffine(gnnRand(2, 2, 3, 2, 2), 1.2, 0) // some points outside [-1, 1]
	var cases []gnnCase
	for _, mode := range []string{"bilinear", "nearest", "bicubic"} {
		for _, pad := range []string{"zeros", "border", "reflection"} {
			for _, align := range []int64{0, 1} {
				wrt := []int{0, 1}
				if mode == "nearest" {
					wrt = []int{0}
				}
				cases = append(cases, gnnCase{name: fmt.Sprintf("16_%s_%s_align%d", mode, pad, align), op: "GridSample", opset: 16,
					attrs: []*Attr{StringAttr("mode", mode), StringAttr("padding_mode", pad), IntAttr("align_corners", align)},
					in:    []*tensor.Tensor{x, grid}, wrt: wrt})
			}
		}
	}
	cases = append(cases,
		gnnCase{name: "16_default", op: "GridSample", opset: 16, in: []*tensor.Tensor{x, grid}, wrt: []int{0, 1}, emits: []string{"GridSampleGrad"}},
		gnnCase{name: "20_3d_linear", op: "GridSample", opset: 20,
			in: []*tensor.Tensor{gnnRand(3, 1, 2, 3, 4, 3), gxAffine(gnnRand(4, 1, 2, 2, 3, 3), 1.1, 0)}, wrt: []int{0, 1}},
		gnnCase{name: "20_3d_cubic_border", op: "GridSample", opset: 20, attrs: []*Attr{StringAttr("mode", "cubic"), StringAttr("padding_mode", "border")},
			in: []*tensor.Tensor{gnnRand(5, 1, 1, 4, 4, 4), gnnRand(6, 1, 2, 1, 2, 3)}, wrt: []int{0, 1}},
		gnnCase{name: "20_1d_linear_grid_only", op: "GridSample", opset: 20, attrs: []*Attr{IntAttr("align_corners", 1)},
			in: []*tensor.Tensor{gnnRand(7, 2, 3, 6), gnnRand(8, 2, 4, 1)}, wrt: []int{1}},
	)
	runGnnCases(t, cases)
}

func TestGradAffineGridDeformConv(t *testing.T) {
	runGnnCases(t, []gnnCase{
		{name: "affine_2d", op: "AffineGrid", opset: 20, in: []*tensor.Tensor{gnnRand(1, 2, 2, 3), gnnI64([]int{4}, 2, 3, 4, 5)}, wrt: []int{0},
			emits: []string{"AffineGridGrad"}},
		{name: "affine_2d_align", op: "AffineGrid", opset: 20, attrs: []*Attr{IntAttr("align_corners", 1)},
			in: []*tensor.Tensor{gnnRand(2, 1, 2, 3), gnnI64([]int{4}, 1, 1, 3, 1)}, wrt: []int{0}},
		{name: "affine_3d", op: "AffineGrid", opset: 20, in: []*tensor.Tensor{gnnRand(3, 2, 3, 4), gnnI64([]int{5}, 2, 1, 2, 3, 2)}, wrt: []int{0}},
		{name: "deform_plain", op: "DeformConv", opset: 19,
			in:  []*tensor.Tensor{gnnRand(4, 1, 2, 4, 4), gnnRand(5, 3, 2, 2, 2), gxAffine(gnnRand(6, 1, 8, 3, 3), 1.3, 0)},
			wrt: []int{0, 1, 2}, emits: []string{"DeformConvGrad"}},
		{name: "deform_groups_mask_bias", op: "DeformConv", opset: 19,
			attrs: []*Attr{IntAttr("group", 2), IntAttr("offset_group", 2), IntsAttr("pads", 1, 1, 0, 1), IntsAttr("strides", 1, 2), IntsAttr("dilations", 2, 1)},
			in: []*tensor.Tensor{gnnRand(7, 2, 4, 5, 5), gnnRand(8, 4, 2, 2, 3), gxAffine(gnnRand(9, 2, 2*2*6, 4, 3), 1.5, 0),
				gnnRand(10, 4), gnnRand(11, 2, 2*6, 4, 3)},
			wrt: []int{0, 1, 2, 3, 4}},
		{name: "deform_mask_no_bias", op: "DeformConv", opset: 19, attrs: []*Attr{IntsAttr("pads", 1, 1, 1, 1)},
			in:  []*tensor.Tensor{gnnRand(12, 1, 1, 3, 3), gnnRand(13, 2, 1, 3, 3), gxAffine(gnnRand(14, 1, 18, 3, 3), 2, 0), nil, gnnPos(15, 1, 9, 3, 3)},
			wrt: []int{0, 1, 2, 4}},
	})
}

func TestGradSignal(t *testing.T) {
	runGnnCases(t, []gnnCase{
		{name: "dft_real", op: "DFT", opset: 17, in: []*tensor.Tensor{gnnRand(1, 2, 5, 1)}, wrt: []int{0}, emits: []string{"DFTGrad"}},
		{name: "dft_complex_inverse", op: "DFT", opset: 17, attrs: []*Attr{IntAttr("inverse", 1)}, in: []*tensor.Tensor{gnnRand(2, 2, 6, 2)}, wrt: []int{0}},
		{name: "dft_onesided_axis", op: "DFT", opset: 17, attrs: []*Attr{IntAttr("onesided", 1), IntAttr("axis", 2)},
			in: []*tensor.Tensor{gnnRand(3, 2, 3, 7, 1)}, wrt: []int{0}},
		{name: "dft_length_pad", op: "DFT", opset: 17, in: []*tensor.Tensor{gnnRand(4, 1, 4, 2), gnnI64(nil, 6)}, wrt: []int{0}},
		{name: "dft_length_truncate", op: "DFT", opset: 17, attrs: []*Attr{IntAttr("onesided", 1)}, in: []*tensor.Tensor{gnnRand(5, 1, 8, 1), gnnI64(nil, 5)}, wrt: []int{0}},
		{name: "dft_20_axis_input", op: "DFT", opset: 20, attrs: []*Attr{IntAttr("inverse", 1)},
			in: []*tensor.Tensor{gnnRand(6, 4, 3, 2), nil, gnnI64(nil, 0)}, wrt: []int{0}},
		{name: "stft_real_window", op: "STFT", opset: 17,
			in: []*tensor.Tensor{gnnRand(7, 2, 12, 1), gnnI64(nil, 3), gnnRand(8, 5)}, wrt: []int{0, 2}, emits: []string{"STFTGrad"}},
		{name: "stft_complex_twosided", op: "STFT", opset: 17, attrs: []*Attr{IntAttr("onesided", 0)},
			in: []*tensor.Tensor{gnnRand(9, 1, 10, 2), gnnI64(nil, 2), gnnRand(10, 4)}, wrt: []int{0, 2}},
		{name: "stft_frame_length_2d", op: "STFT", opset: 17,
			in: []*tensor.Tensor{gnnRand(11, 2, 9), gnnI64(nil, 4), nil, gnnI64(nil, 4)}, wrt: []int{0}},
	})
}

// TestDequantizeLinearGrad checks dscale against sums computed by hand
// (the scale is float32, out of reach of the float64 difference check;
// train's GradCheck covers it in float32).
func TestDequantizeLinearGrad(t *testing.T) {
	reg := Default()
	x := tensor.From([]int{2, 3}, []int8{1, -2, 3, 4, 0, -6})
	dy := tensor.From([]int{2, 3}, []float32{1, 2, 3, 4, 5, 6})
	for _, c := range []struct {
		name  string
		attrs []*Attr
		scale *tensor.Tensor
		zp    *tensor.Tensor
		want  []float64
	}{
		{"per_tensor", nil, tensor.From([]int{}, []float32{0.5}), tensor.From([]int{}, []int8{1}),
			[]float64{1*0 + 2*-3 + 3*2 + 4*3 + 5*-1 + 6*-7}},
		{"per_axis", []*Attr{IntAttr("axis", 1), IntAttr("per_axis", 1)}, tensor.From([]int{3}, []float32{1, 2, 3}), nil,
			[]float64{1*1 + 4*4, 2*-2 + 5*0, 3*3 + 6*-6}},
		{"blocked", []*Attr{IntAttr("axis", 1), IntAttr("per_axis", 1), IntAttr("block_size", 2)}, tensor.From([]int{2, 2}, []float32{1, 1, 1, 1}), nil,
			[]float64{1*1 + 2*-2, 3 * 3, 4*4 + 5*0, 6 * -6}},
	} {
		names := []string{"dy", "x", "s"}
		vals := map[string]*tensor.Tensor{"dy": dy, "x": x, "s": c.scale}
		if c.zp != nil {
			names = append(names, "z")
			vals["z"] = c.zp
		}
		outs, err := gnnRun(reg, GradDomain, "DequantizeLinearGrad", 1, c.attrs, names, []bool{true}, vals, 1)
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		got := outs[0]
		if got.DType() != tensor.Float32 || !tensor.ShapeEqual(got.Shape(), c.scale.Shape()) {
			t.Fatalf("%s: dscale is %v %v", c.name, got.DType(), got.Shape())
		}
		for i, w := range c.want {
			if g := got.Float64s()[i]; g != w {
				t.Errorf("%s: dscale[%d] = %v, want %v", c.name, i, g, w)
			}
		}
	}
}
