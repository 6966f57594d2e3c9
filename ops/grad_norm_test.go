package ops

import (
	"testing"

	"github.com/onyxrt/onyx/tensor"
)

// The rules of grad_norm.go and grad_pool.go against central finite
// differences.

func TestGradNormalizations(t *testing.T) {
	runGnnCases(t, []gnnCase{
		{name: "instance_4d", op: "InstanceNormalization", opset: 6, in: []*tensor.Tensor{gnnRand(1, 2, 3, 3, 4), gnnRand(2, 3), gnnRand(3, 3)},
			wrt: []int{0, 1, 2}, emits: []string{"GroupNormGrad"}},
		{name: "instance_3d_eps", op: "InstanceNormalization", opset: 1, attrs: []*Attr{FloatAttr("epsilon", 0.1)},
			in: []*tensor.Tensor{gnnRand(4, 3, 2, 5), gnnRand(5, 2), gnnRand(6, 2)}, wrt: []int{0, 1}},
		{name: "group_18", op: "GroupNormalization", opset: 18, attrs: []*Attr{IntAttr("num_groups", 2)},
			in: []*tensor.Tensor{gnnRand(7, 2, 4, 3, 2), gnnRand(8, 2), gnnRand(9, 2)}, wrt: []int{0, 1, 2}},
		{name: "group_21_per_channel", op: "GroupNormalization", opset: 21,
			attrs: []*Attr{IntAttr("num_groups", 3), IntAttr("stash_type", int64(tensor.Float64)), FloatAttr("epsilon", 1e-3)},
			in:    []*tensor.Tensor{gnnRand(10, 2, 6, 4), gnnRand(11, 6), gnnRand(12, 6)}, wrt: []int{0, 1, 2}},
		{name: "group_one_group", op: "GroupNormalization", opset: 18, attrs: []*Attr{IntAttr("num_groups", 1)},
			in: []*tensor.Tensor{gnnRand(13, 3, 2, 3), gnnRand(14, 1), gnnRand(15, 1)}, wrt: []int{0, 1, 2}},
		{name: "lrn_size3", op: "LRN", opset: 13, attrs: []*Attr{IntAttr("size", 3)}, in: []*tensor.Tensor{gnnRand(16, 2, 5, 2, 3)}, wrt: []int{0},
			emits: []string{"LRNGrad"}},
		{name: "lrn_size2_attrs", op: "LRN", opset: 1,
			attrs: []*Attr{IntAttr("size", 2), FloatAttr("alpha", 0.5), FloatAttr("beta", 0.6), FloatAttr("bias", 2)},
			in:    []*tensor.Tensor{gnnRand(17, 1, 4, 3)}, wrt: []int{0}},
		{name: "lrn_size5_big_alpha", op: "LRN", opset: 13, attrs: []*Attr{IntAttr("size", 5), FloatAttr("alpha", 1), FloatAttr("beta", 1.5)},
			in: []*tensor.Tensor{gnnRand(18, 2, 6, 2)}, wrt: []int{0}},
		{name: "lpnorm_p2_last", op: "LpNormalization", opset: 1, in: []*tensor.Tensor{gnnRand(19, 3, 4)}, wrt: []int{0}, emits: []string{"LpNormGrad"}},
		{name: "lpnorm_p1_axis0", op: "LpNormalization", opset: 1, attrs: []*Attr{IntAttr("p", 1), IntAttr("axis", 0)},
			in: []*tensor.Tensor{gnnRand(20, 3, 2, 2)}, wrt: []int{0}},
		{name: "lpnorm_p2_axis1", op: "LpNormalization", opset: 1, attrs: []*Attr{IntAttr("axis", 1)},
			in: []*tensor.Tensor{gnnRand(21, 2, 3, 2)}, wrt: []int{0}},
		{name: "mvn_default_axes", op: "MeanVarianceNormalization", opset: 13, in: []*tensor.Tensor{gnnRand(22, 2, 3, 2, 2)}, wrt: []int{0},
			emits: []string{"MVNGrad"}},
		{name: "mvn_axes1", op: "MeanVarianceNormalization", opset: 9, attrs: []*Attr{IntsAttr("axes", 1)},
			in: []*tensor.Tensor{gnnRand(23, 3, 4, 2)}, wrt: []int{0}},
		{name: "mvn_all", op: "MeanVarianceNormalization", opset: 13, attrs: []*Attr{IntsAttr("axes", 0, 1)},
			in: []*tensor.Tensor{gnnRand(24, 3, 4)}, wrt: []int{0}},
	})
}

func TestGradPools(t *testing.T) {
	rois5 := tensor.From([]int{3, 5}, []float64{0, 0, 0, 3, 3, 1, 1, 1, 5, 4, 0, 2.2, 0.6, 4.7, 5.3})
	rois4 := tensor.From([]int{3, 4}, []float64{0.3, 0.2, 3.6, 4.1, 1.1, 0.7, 5.2, 3.9, 0, 0, 6, 6})
	bidx := gnnI64([]int{3}, 0, 1, 1)
	// MaxUnpool's indices: the argmax of each 2x2 window of a 4x4 plane
	// (flat over N*C*H*W), the last one repeating a position.
	unpoolIdx := gnnI64([]int{1, 2, 2, 2}, 0, 3, 9, 14, 17, 22, 24, 24)
	runGnnCases(t, []gnnCase{
		{name: "lp_p2", op: "LpPool", opset: 11, attrs: []*Attr{IntsAttr("kernel_shape", 2, 2), IntsAttr("strides", 1, 2), IntsAttr("pads", 1, 0, 0, 1)},
			in: []*tensor.Tensor{gnnRand(1, 2, 2, 5, 5)}, wrt: []int{0}, emits: []string{"LpPoolGrad"}},
		{name: "lp_p3_1d", op: "LpPool", opset: 18, attrs: []*Attr{IntsAttr("kernel_shape", 3), IntAttr("p", 3), IntsAttr("dilations", 2), IntAttr("ceil_mode", 1)},
			in: []*tensor.Tensor{gnnRand(2, 1, 2, 9)}, wrt: []int{0}},
		{name: "lp_p1_3d", op: "LpPool", opset: 11, attrs: []*Attr{IntsAttr("kernel_shape", 2, 2, 2), IntAttr("p", 1)},
			in: []*tensor.Tensor{gnnRand(3, 1, 1, 3, 3, 3)}, wrt: []int{0}},
		{name: "lp_float_p_opset1", op: "LpPool", opset: 1, attrs: []*Attr{IntsAttr("kernel_shape", 2, 2), FloatAttr("p", 2)},
			in: []*tensor.Tensor{gnnRand(4, 1, 2, 3, 3)}, wrt: []int{0}},
		{name: "global_lp_p2", op: "GlobalLpPool", opset: 2, in: []*tensor.Tensor{gnnRand(5, 2, 3, 2, 2)}, wrt: []int{0}, emits: []string{"GlobalLpPoolGrad"}},
		{name: "global_lp_p3", op: "GlobalLpPool", opset: 2, attrs: []*Attr{IntAttr("p", 3)}, in: []*tensor.Tensor{gnnRand(6, 1, 2, 5)}, wrt: []int{0}},
		{name: "maxroipool", op: "MaxRoiPool", opset: 1, attrs: []*Attr{IntsAttr("pooled_shape", 2, 2)},
			in: []*tensor.Tensor{gnnRand(7, 2, 2, 6, 6), rois5}, wrt: []int{0}, emits: []string{"MaxRoiPoolGrad"}},
		{name: "maxroipool_scaled", op: "MaxRoiPool", opset: 1, attrs: []*Attr{IntsAttr("pooled_shape", 3, 2), FloatAttr("spatial_scale", 0.5)},
			in: []*tensor.Tensor{gnnRand(8, 2, 1, 5, 6), tensor.From([]int{1, 5}, []float64{1, 2, 0, 10, 8})}, wrt: []int{0}},
		{name: "roialign_avg_16", op: "RoiAlign", opset: 16, attrs: []*Attr{IntAttr("output_height", 2), IntAttr("output_width", 3)},
			in: []*tensor.Tensor{gnnRand(9, 2, 2, 6, 6), rois4, bidx}, wrt: []int{0}, emits: []string{"RoiAlignGrad"}},
		{name: "roialign_avg_10_ratio2", op: "RoiAlign", opset: 10, attrs: []*Attr{IntAttr("sampling_ratio", 2), FloatAttr("spatial_scale", 0.8)},
			in: []*tensor.Tensor{gnnRand(10, 2, 1, 5, 5), rois4, bidx}, wrt: []int{0}},
		{name: "roialign_max", op: "RoiAlign", opset: 16,
			attrs: []*Attr{StringAttr("mode", "max"), IntAttr("output_height", 2), IntAttr("output_width", 2), IntAttr("sampling_ratio", 2),
				StringAttr("coordinate_transformation_mode", "output_half_pixel")},
			in: []*tensor.Tensor{gnnRand(11, 2, 2, 6, 6), rois4, bidx}, wrt: []int{0}},
		{name: "maxunpool", op: "MaxUnpool", opset: 11, attrs: []*Attr{IntsAttr("kernel_shape", 2, 2), IntsAttr("strides", 2, 2)},
			in: []*tensor.Tensor{gnnRand(12, 1, 2, 2, 2), unpoolIdx}, wrt: []int{0}, emits: []string{"MaxUnpoolGrad"}},
		{name: "maxunpool_output_shape", op: "MaxUnpool", opset: 11, attrs: []*Attr{IntsAttr("kernel_shape", 2, 2), IntsAttr("strides", 2, 2)},
			in: []*tensor.Tensor{gnnRand(13, 1, 2, 2, 2), unpoolIdx, gnnI64([]int{4}, 1, 2, 5, 5)}, wrt: []int{0}},
	})
}
