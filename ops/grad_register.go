package ops

import (
	"fmt"

	"github.com/onyxrt/onyx/tensor"
)

// registerGradOpKernels registers the backward kernels of the gradient
// rules in grad_activation.go, grad_reduce.go, grad_norm.go, grad_pool.go,
// grad_index.go, grad_resize.go, grad_vision.go and grad_signal.go (domain
// GradDomain, version 1). Most compute in float64 and return the type of
// the gradient they are given (float16 and bfloat16 included).
func registerGradOpKernels(r *Registry) {
	for _, d := range []struct {
		name  string
		build func(*Builder) (Kernel, error)
	}{
		{"ActivationGrad", buildActivationGrad},
		{"PReluGrad", buildPReluGrad},
		{"ReduceOpGrad", buildReduceOpGrad},
		{"EinsumGrad", buildEinsumGrad},
		{"DetGrad", buildDetGrad},
		{"GatherElementsGrad", buildGatherElementsGrad},
		{"GatherNDGrad", buildGatherNDGrad},
		{"ScatterGrad", buildScatterGrad},
		{"Col2ImGrad", buildCol2ImGrad},
		{"GroupNormGrad", buildGroupNormGrad},
		{"LRNGrad", buildLRNGrad},
		{"LpNormGrad", buildLpNormGrad},
		{"MVNGrad", buildMVNGrad},
		{"LpPoolGrad", buildLpPoolGrad},
		{"GlobalLpPoolGrad", buildGlobalLpPoolGrad},
		{"MaxRoiPoolGrad", buildMaxRoiPoolGrad},
		{"RoiAlignGrad", buildRoiAlignGrad},
		{"MaxUnpoolGrad", buildMaxUnpoolGrad},
		{"ResizeGrad", buildResizeGrad},
		{"GridSampleGrad", buildGridSampleGrad},
		{"AffineGridGrad", buildAffineGridGrad},
		{"DeformConvGrad", buildDeformConvGrad},
		{"DFTGrad", buildDFTGrad},
		{"STFTGrad", buildSTFTGrad},
		{"DequantizeLinearGrad", buildDequantizeLinearGrad},
	} {
		r.Register(&Def{Domain: GradDomain, Name: d.name, Since: 1, Build: d.build})
	}
}

// gradKernel is the common shape of a rule: one backward node of domain
// GradDomain taking ins and returning the gradients of the forward
// node's inputs 0..n-1 in order (as many as the last wanted one needs).
// Nothing is emitted when no gradient flows into output 0 or none is
// wanted.
func gradKernel(g GradContext, kernel string, ins []string, n int, attrs ...*Attr) error {
	if g.OutputGrad(0) == "" {
		return nil
	}
	need, nOut := wanted(g, n)
	if nOut == 0 {
		return nil
	}
	if err := g.Node().Err(); err != nil {
		return err
	}
	setGrads(g, need, g.Emit(GradDomain, kernel, ins, nOut, attrs...))
	return nil
}

// gxFloats returns the elements of a float tensor as float64.
func gxFloats(t *tensor.Tensor, what string) ([]float64, error) {
	if t == nil {
		return nil, fmt.Errorf("%s is missing", what)
	}
	return float64s(t, what)
}

// gxOut makes a tensor of type dt and the given shape from v.
func gxOut(v []float64, dt tensor.DType, shape []int) (*tensor.Tensor, error) {
	return fromFloat64s(v, dt, shape...)
}

// gxSameShape fails unless t has the given shape.
func gxSameShape(what string, t *tensor.Tensor, shape []int) error {
	if !tensor.ShapeEqual(t.Shape(), shape) {
		return fmt.Errorf("%s has shape %v, want %v", what, t.Shape(), shape)
	}
	return nil
}

// gxSumTo sums v, of shape from, down to shape to, which broadcasts to
// from (numpy rules: to is aligned to the right).
func gxSumTo(v []float64, from, to []int) ([]float64, error) {
	if len(to) > len(from) {
		return nil, fmt.Errorf("cannot sum shape %v down to %v", from, to)
	}
	off := len(from) - len(to)
	kept := make([]int, len(from))
	for i := range from {
		kept[i] = 1
		if i >= off {
			switch d := to[i-off]; {
			case d == from[i]:
				kept[i] = d
			case d != 1:
				return nil, fmt.Errorf("shape %v does not broadcast to %v", to, from)
			}
		}
	}
	out := make([]float64, prod(to))
	st := tensor.BroadcastStrides(kept, from)
	idx := make([]int, len(from))
	o := 0
	for _, x := range v {
		out[o] += x
		for d := len(from) - 1; d >= 0; d-- {
			idx[d]++
			o += st[d]
			if idx[d] < from[d] {
				break
			}
			o -= st[d] * idx[d]
			idx[d] = 0
		}
	}
	return out, nil
}
