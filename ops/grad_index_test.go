package ops

import (
	"testing"

	"github.com/onyxrt/onyx/tensor"
)

// The rules of grad_index.go against central finite differences.

func TestGradGatherScatter(t *testing.T) {
	var cases []gnnCase
	cases = append(cases,
		gnnCase{name: "gather_elements_axis0", op: "GatherElements", opset: 13,
			in: []*tensor.Tensor{gnnRand(1, 3, 4), gnnI64([]int{2, 4}, 0, 2, 1, 2, 2, -3, 0, 1)}, wrt: []int{0},
			emits: []string{"Shape", "GatherElementsGrad"}},
		gnnCase{name: "gather_elements_axis1_dups", op: "GatherElements", opset: 11, attrs: []*Attr{IntAttr("axis", -1)},
			in: []*tensor.Tensor{gnnRand(2, 2, 3), gnnI64([]int{2, 4}, 0, 0, 2, 1, 1, 1, 1, 0)}, wrt: []int{0}},
		gnnCase{name: "gather_nd_elements", op: "GatherND", opset: 11,
			in: []*tensor.Tensor{gnnRand(3, 3, 4), gnnI64([]int{3, 2}, 0, 1, 2, 3, 0, 1)}, wrt: []int{0}, emits: []string{"Shape", "GatherNDGrad"}},
		gnnCase{name: "gather_nd_slices", op: "GatherND", opset: 12,
			in: []*tensor.Tensor{gnnRand(4, 3, 2, 4), gnnI64([]int{2, 1}, 2, -1)}, wrt: []int{0}},
		gnnCase{name: "gather_nd_batch_dims", op: "GatherND", opset: 13, attrs: []*Attr{IntAttr("batch_dims", 1)},
			in: []*tensor.Tensor{gnnRand(5, 2, 3, 4), gnnI64([]int{2, 2, 1}, 0, 2, 1, 1)}, wrt: []int{0}},
	)
	data := gnnRand(6, 3, 4)
	idx := gnnI64([]int{2, 4}, 0, 2, 1, 2, 2, 0, 0, 1)
	dupIdx := gnnI64([]int{2, 4}, 1, 2, 1, 2, 1, 0, 1, 1) // rows 1 and 2 repeat
	upd := gnnRand(7, 2, 4)
	for _, red := range []string{"none", "add", "mul", "max", "min"} {
		cases = append(cases,
			gnnCase{name: "scatter_elements_" + red, op: "ScatterElements", opset: 18, attrs: []*Attr{StringAttr("reduction", red)},
				in: []*tensor.Tensor{data, idx, upd}, wrt: []int{0, 2}, emits: []string{"ScatterGrad"}},
			gnnCase{name: "scatter_elements_dups_" + red, op: "ScatterElements", opset: 18, attrs: []*Attr{StringAttr("reduction", red)},
				in: []*tensor.Tensor{data, dupIdx, upd}, wrt: []int{0, 2}},
			gnnCase{name: "scatter_nd_" + red, op: "ScatterND", opset: 18, attrs: []*Attr{StringAttr("reduction", red)},
				in: []*tensor.Tensor{gnnRand(8, 4, 3), gnnI64([]int{3, 1}, 2, 0, 2), gnnRand(9, 3, 3)}, wrt: []int{0, 2}},
		)
	}
	cases = append(cases,
		gnnCase{name: "scatter_elements_axis1_11", op: "ScatterElements", opset: 11, attrs: []*Attr{IntAttr("axis", 1)},
			in: []*tensor.Tensor{gnnRand(10, 2, 5), gnnI64([]int{2, 2}, 4, 0, -1, 1), gnnRand(11, 2, 2)}, wrt: []int{0, 2}},
		gnnCase{name: "scatter_9", op: "Scatter", opset: 9, in: []*tensor.Tensor{data, idx, upd}, wrt: []int{0, 2}},
		gnnCase{name: "scatter_nd_elements_updates_only", op: "ScatterND", opset: 13,
			in: []*tensor.Tensor{gnnRand(12, 2, 3), gnnI64([]int{2, 2}, 1, 2, 0, 0), gnnRand(13, 2)}, wrt: []int{2}},
	)
	runGnnCases(t, cases)
}

func TestGradRearrange(t *testing.T) {
	cond := tensor.From([]int{4}, []bool{true, false, true, true})
	runGnnCases(t, []gnnCase{
		{name: "compress_axis", op: "Compress", opset: 11, attrs: []*Attr{IntAttr("axis", 1)}, in: []*tensor.Tensor{gnnRand(1, 2, 4, 2), cond}, wrt: []int{0},
			emits: []string{"NonZero", "Reshape", "Shape", "GatherGrad"}},
		{name: "compress_flat", op: "Compress", opset: 9, in: []*tensor.Tensor{gnnRand(2, 2, 3), tensor.From([]int{5}, []bool{false, true, true, false, true})}, wrt: []int{0}},
		{name: "compress_short_condition", op: "Compress", opset: 11, attrs: []*Attr{IntAttr("axis", 0)}, in: []*tensor.Tensor{gnnRand(3, 5, 2), cond}, wrt: []int{0}},
		{name: "reverse_sequence_time_major", op: "ReverseSequence", opset: 10,
			in: []*tensor.Tensor{gnnRand(4, 4, 3, 2), gnnI64([]int{3}, 4, 1, 3)}, wrt: []int{0}, emits: []string{"ReverseSequence"}},
		{name: "reverse_sequence_batch_major", op: "ReverseSequence", opset: 10, attrs: []*Attr{IntAttr("batch_axis", 0), IntAttr("time_axis", 1)},
			in: []*tensor.Tensor{gnnRand(5, 2, 4), gnnI64([]int{2}, 2, 4)}, wrt: []int{0}},
		{name: "trilu_upper", op: "Trilu", opset: 14, in: []*tensor.Tensor{gnnRand(6, 2, 3, 4)}, wrt: []int{0}, emits: []string{"Trilu"}},
		{name: "trilu_lower_k", op: "Trilu", opset: 14, attrs: []*Attr{IntAttr("upper", 0)}, in: []*tensor.Tensor{gnnRand(7, 4, 3), gnnI64(nil, -1)}, wrt: []int{0}},
		{name: "depth_to_space_dcr", op: "DepthToSpace", opset: 13, attrs: []*Attr{IntAttr("blocksize", 2)},
			in: []*tensor.Tensor{gnnRand(8, 2, 8, 2, 3)}, wrt: []int{0}, emits: []string{"SpaceToDepth"}},
		{name: "depth_to_space_crd", op: "DepthToSpace", opset: 13, attrs: []*Attr{IntAttr("blocksize", 2), StringAttr("mode", "CRD")},
			in: []*tensor.Tensor{gnnRand(9, 1, 12, 2, 2)}, wrt: []int{0}, emits: []string{"SpaceToDepth", "Transpose", "Reshape", "Transpose", "Reshape", "Transpose"}},
		{name: "depth_to_space_1", op: "DepthToSpace", opset: 1, attrs: []*Attr{IntAttr("blocksize", 3)},
			in: []*tensor.Tensor{gnnRand(10, 1, 9, 1, 2)}, wrt: []int{0}},
		{name: "space_to_depth", op: "SpaceToDepth", opset: 13, attrs: []*Attr{IntAttr("blocksize", 2)},
			in: []*tensor.Tensor{gnnRand(11, 2, 3, 4, 2)}, wrt: []int{0}, emits: []string{"DepthToSpace"}},
		{name: "center_crop_pad_mixed", op: "CenterCropPad", opset: 18,
			in: []*tensor.Tensor{gnnRand(12, 5, 2, 3), gnnI64([]int{3}, 3, 4, 3)}, wrt: []int{0}, emits: []string{"Shape", "CenterCropPad"}},
		{name: "center_crop_pad_axes", op: "CenterCropPad", opset: 18, attrs: []*Attr{IntsAttr("axes", -1, 0)},
			in: []*tensor.Tensor{gnnRand(13, 4, 3, 6), gnnI64([]int{2}, 3, 7)}, wrt: []int{0}},
		{name: "col2im_2d", op: "Col2Im", opset: 18,
			attrs: []*Attr{IntsAttr("strides", 2, 1), IntsAttr("pads", 1, 0, 1, 1), IntsAttr("dilations", 1, 2)},
			in:    []*tensor.Tensor{gnnRand(14, 1, 2*2*2, 9), gnnI64([]int{2}, 5, 4), gnnI64([]int{2}, 2, 2)}, wrt: []int{0}, emits: []string{"Col2ImGrad"}},
		{name: "col2im_1d", op: "Col2Im", opset: 18,
			in: []*tensor.Tensor{gnnRand(15, 2, 3, 4), gnnI64([]int{1}, 6), gnnI64([]int{1}, 3)}, wrt: []int{0}},
	})
}
