package ops

import (
	"fmt"
	"testing"

	"github.com/onyxrt/onyx/tensor"
)

// The rules of grad_reduce.go against central finite differences.

func TestGradReduceOps(t *testing.T) {
	var cases []gnnCase
	for _, op := range []string{"ReduceL1", "ReduceL2", "ReduceLogSum", "ReduceLogSumExp", "ReduceMax", "ReduceMin", "ReduceProd", "ReduceSumSquare"} {
		x := gnnRand(int64(len(op)), 2, 3, 4)
		if op == "ReduceLogSum" {
			x = gnnPos(int64(len(op)), 2, 3, 4)
		}
		cases = append(cases,
			gnnCase{name: op + "/attr_axes_keep", op: op, opset: 13, attrs: []*Attr{IntsAttr("axes", 1)}, in: []*tensor.Tensor{x}, wrt: []int{0},
				emits: []string{"ReduceOpGrad"}},
			gnnCase{name: op + "/attr_axes_nokeep", op: op, opset: 11, attrs: []*Attr{IntsAttr("axes", 0, -1), IntAttr("keepdims", 0)}, in: []*tensor.Tensor{x}, wrt: []int{0}},
			gnnCase{name: op + "/all", op: op, opset: 13, attrs: []*Attr{IntAttr("keepdims", 0)}, in: []*tensor.Tensor{x}, wrt: []int{0}},
			gnnCase{name: op + "/input_axes", op: op, opset: 18, in: []*tensor.Tensor{x, gnnI64([]int{1}, 2)}, wrt: []int{0}},
			gnnCase{name: op + "/noop", op: op, opset: 18, attrs: []*Attr{IntAttr("noop_with_empty_axes", 1)}, in: []*tensor.Tensor{x}, wrt: []int{0}},
		)
	}
	zero1 := tensor.From([]int{2, 3}, []float64{0.5, 0, -1.5, 2, -0.7, 1.2})
	zero2 := tensor.From([]int{2, 3}, []float64{0, 0.8, 0, 2, -0.7, 1.2})
	cases = append(cases,
		gnnCase{name: "ReduceProd/one_zero", op: "ReduceProd", opset: 13, attrs: []*Attr{IntsAttr("axes", 1)}, in: []*tensor.Tensor{zero1}, wrt: []int{0}},
		gnnCase{name: "ReduceProd/two_zeros", op: "ReduceProd", opset: 13, attrs: []*Attr{IntsAttr("axes", 1)}, in: []*tensor.Tensor{zero2}, wrt: []int{0}},
	)
	runGnnCases(t, cases)
}

func TestGradCumSumTopK(t *testing.T) {
	var cases []gnnCase
	for _, excl := range []int64{0, 1} {
		for _, rev := range []int64{0, 1} {
			for _, axis := range []int64{0, -1} {
				cases = append(cases, gnnCase{name: fmt.Sprintf("cumsum_excl%d_rev%d_axis%d", excl, rev, axis), op: "CumSum", opset: 14,
					attrs: []*Attr{IntAttr("exclusive", excl), IntAttr("reverse", rev)},
					in:    []*tensor.Tensor{gnnRand(excl*4+rev*2+axis+3, 3, 4), gnnI64(nil, axis)}, wrt: []int{0}})
			}
		}
	}
	cases = append(cases,
		gnnCase{name: "topk_with_indices", op: "TopK", opset: 11, nOut: 2, in: []*tensor.Tensor{gnnRand(1, 3, 5), gnnI64([]int{1}, 2)}, wrt: []int{0},
			emits: []string{"Shape", "GatherElementsGrad"}},
		gnnCase{name: "topk_values_only", op: "TopK", opset: 11, attrs: []*Attr{IntAttr("axis", 0), IntAttr("largest", 0), IntAttr("sorted", 0)},
			in: []*tensor.Tensor{gnnRand(2, 4, 3), gnnI64([]int{1}, 3)}, wrt: []int{0}, emits: []string{"TopK", "Shape", "GatherElementsGrad"}},
		gnnCase{name: "topk_10", op: "TopK", opset: 10, nOut: 2, in: []*tensor.Tensor{gnnRand(3, 2, 3, 4), gnnI64([]int{1}, 3)}, wrt: []int{0}},
		gnnCase{name: "topk_1_attr_k", op: "TopK", opset: 1, attrs: []*Attr{IntAttr("k", 2), IntAttr("axis", 1)},
			in: []*tensor.Tensor{gnnRand(4, 2, 5)}, wrt: []int{0}},
	)
	runGnnCases(t, cases)
}

func TestGradEinsum(t *testing.T) {
	eq := func(s string) []*Attr { return []*Attr{StringAttr("equation", s)} }
	runGnnCases(t, []gnnCase{
		{name: "matmul", op: "Einsum", opset: 12, attrs: eq("ij,jk->ik"), in: []*tensor.Tensor{gnnRand(1, 3, 4), gnnRand(2, 4, 2)}, wrt: []int{0, 1},
			emits: []string{"EinsumGrad"}},
		{name: "batched", op: "Einsum", opset: 12, attrs: eq("bij,bjk->bik"), in: []*tensor.Tensor{gnnRand(3, 2, 3, 4), gnnRand(4, 2, 4, 2)}, wrt: []int{0, 1}},
		{name: "implicit", op: "Einsum", opset: 12, attrs: eq("ij,jk"), in: []*tensor.Tensor{gnnRand(5, 2, 3), gnnRand(6, 3, 2)}, wrt: []int{0, 1}},
		{name: "diagonal", op: "Einsum", opset: 12, attrs: eq("ii->i"), in: []*tensor.Tensor{gnnRand(7, 3, 3)}, wrt: []int{0}},
		{name: "trace", op: "Einsum", opset: 12, attrs: eq("ii"), in: []*tensor.Tensor{gnnRand(8, 4, 4)}, wrt: []int{0}},
		{name: "sum_all", op: "Einsum", opset: 12, attrs: eq("ij->"), in: []*tensor.Tensor{gnnRand(9, 2, 3)}, wrt: []int{0}},
		{name: "outer", op: "Einsum", opset: 12, attrs: eq("i,j->ij"), in: []*tensor.Tensor{gnnRand(10, 3), gnnRand(11, 2)}, wrt: []int{0, 1}},
		{name: "three_operands", op: "Einsum", opset: 12, attrs: eq("ij,jk,kl->il"),
			in: []*tensor.Tensor{gnnRand(12, 2, 3), gnnRand(13, 3, 2), gnnRand(14, 2, 2)}, wrt: []int{0, 1, 2}},
		{name: "ellipsis_broadcast", op: "Einsum", opset: 12, attrs: eq("...ij,...jk->...ik"),
			in: []*tensor.Tensor{gnnRand(15, 2, 3, 4), gnnRand(16, 1, 4, 2)}, wrt: []int{0, 1}},
		{name: "transpose_only_second", op: "Einsum", opset: 12, attrs: eq("ij,kj->ik"),
			in: []*tensor.Tensor{gnnRand(17, 2, 3), gnnRand(18, 4, 3)}, wrt: []int{1}},
	})
}

func TestGradDet(t *testing.T) {
	singular := tensor.From([]int{3, 3}, []float64{1, 2, 3, 2, 4, 6, 0.5, -1, 2})
	runGnnCases(t, []gnnCase{
		{name: "3x3", op: "Det", opset: 11, in: []*tensor.Tensor{gnnRand(1, 3, 3)}, wrt: []int{0}, emits: []string{"DetGrad"}},
		{name: "batched_2x2", op: "Det", opset: 11, in: []*tensor.Tensor{gnnRand(2, 2, 3, 2, 2)}, wrt: []int{0}},
		{name: "4x4", op: "Det", opset: 11, in: []*tensor.Tensor{gnnRand(3, 4, 4)}, wrt: []int{0}},
		{name: "singular", op: "Det", opset: 11, in: []*tensor.Tensor{singular}, wrt: []int{0}},
		{name: "1x1", op: "Det", opset: 11, in: []*tensor.Tensor{gnnRand(4, 2, 1, 1)}, wrt: []int{0}},
	})
}
