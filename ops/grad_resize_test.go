package ops

import (
	"testing"

	"github.com/onyxrt/onyx/tensor"
)

// The rules of grad_resize.go against central finite differences.

func TestGradResize(t *testing.T) {
	f32 := func(v ...float32) *tensor.Tensor { return tensor.From([]int{len(v)}, v) }
	x := gnnRand(1, 1, 2, 3, 4)
	runGnnCases(t, []gnnCase{
		{name: "10_nearest_up", op: "Resize", opset: 10, in: []*tensor.Tensor{x, f32(1, 1, 2, 1.5)}, wrt: []int{0},
			emits: []string{"Shape", "ResizeGrad"}},
		{name: "10_linear_down", op: "Resize", opset: 10, attrs: []*Attr{StringAttr("mode", "linear")},
			in: []*tensor.Tensor{x, f32(1, 1, 0.7, 0.6)}, wrt: []int{0}},
		{name: "13_linear_half_pixel", op: "Resize", opset: 13, attrs: []*Attr{StringAttr("mode", "linear")},
			in: []*tensor.Tensor{x, nil, f32(1, 1, 1.7, 0.8)}, wrt: []int{0}},
		{name: "13_linear_align_corners_sizes", op: "Resize", opset: 13,
			attrs: []*Attr{StringAttr("mode", "linear"), StringAttr("coordinate_transformation_mode", "align_corners")},
			in:    []*tensor.Tensor{x, nil, nil, gnnI64([]int{4}, 1, 2, 5, 3)}, wrt: []int{0}},
		{name: "13_cubic_exclude", op: "Resize", opset: 13,
			attrs: []*Attr{StringAttr("mode", "cubic"), FloatAttr("cubic_coeff_a", -0.5), IntAttr("exclude_outside", 1),
				StringAttr("coordinate_transformation_mode", "asymmetric")},
			in: []*tensor.Tensor{x, nil, f32(1, 1, 2, 2)}, wrt: []int{0}},
		{name: "13_cubic_pytorch", op: "Resize", opset: 13,
			attrs: []*Attr{StringAttr("mode", "cubic"), StringAttr("coordinate_transformation_mode", "pytorch_half_pixel")},
			in:    []*tensor.Tensor{x, nil, f32(1, 1, 0.8, 1.3)}, wrt: []int{0}},
		{name: "13_nearest_ceil_tf_nn", op: "Resize", opset: 13,
			attrs: []*Attr{StringAttr("nearest_mode", "round_prefer_ceil"), StringAttr("coordinate_transformation_mode", "tf_half_pixel_for_nn")},
			in:    []*tensor.Tensor{x, nil, f32(1, 1, 1.5, 0.75)}, wrt: []int{0}},
		{name: "11_crop_and_resize", op: "Resize", opset: 11,
			attrs: []*Attr{StringAttr("mode", "linear"), StringAttr("coordinate_transformation_mode", "tf_crop_and_resize"), FloatAttr("extrapolation_value", 3)},
			in:    []*tensor.Tensor{x, f32(0, 0, -0.2, 0.1, 1, 1, 0.9, 1.3), nil, gnnI64([]int{4}, 1, 2, 4, 4)}, wrt: []int{0}},
		{name: "18_antialias_axes", op: "Resize", opset: 18,
			attrs: []*Attr{StringAttr("mode", "linear"), IntAttr("antialias", 1), IntsAttr("axes", 2, 3)},
			in:    []*tensor.Tensor{gnnRand(2, 1, 1, 6, 7), nil, f32(0.5, 0.6)}, wrt: []int{0}},
		{name: "19_cubic_symmetric_keep_aspect", op: "Resize", opset: 19,
			attrs: []*Attr{StringAttr("mode", "cubic"), StringAttr("coordinate_transformation_mode", "half_pixel_symmetric"),
				StringAttr("keep_aspect_ratio_policy", "not_larger"), IntsAttr("axes", -2, -1)},
			in: []*tensor.Tensor{x, nil, nil, gnnI64([]int{2}, 5, 6)}, wrt: []int{0}},
		{name: "13_rank2_last_axis", op: "Resize", opset: 13, attrs: []*Attr{StringAttr("mode", "linear")},
			in: []*tensor.Tensor{gnnRand(3, 2, 5), nil, f32(1, 0.6)}, wrt: []int{0}},
		{name: "upsample_7_attr", op: "Upsample", opset: 7, attrs: []*Attr{FloatsAttr("scales", 1, 1, 2, 2)},
			in: []*tensor.Tensor{x}, wrt: []int{0}},
		{name: "upsample_9_bilinear", op: "Upsample", opset: 9, attrs: []*Attr{StringAttr("mode", "bilinear")},
			in: []*tensor.Tensor{x, f32(1, 1, 2, 1.5)}, wrt: []int{0}},
	})
}
