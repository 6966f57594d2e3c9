package ops

import (
	"fmt"

	"github.com/onyxrt/onyx/tensor"
)

// Gradient rules of Resize and Upsample, with their backward kernel:
//
//	ResizeGrad(dy, shape, [roi], [scales], [sizes]) (Resize's attributes), version, upsample
//
// Every mode of Resize is linear in X and separable: each output element
// along an axis is a weighted sum of input elements along it (one tap of
// weight 1 for nearest). The kernel builds the same per-axis taps as the
// forward pass and applies their transposes to dy; outputs that
// tf_crop_and_resize fills with the extrapolation value get no gradient.
// roi and scales get no gradient (see partialGrads).

// gradResize returns the rule of Resize or Upsample, or nil.
func gradResize(name string) GradFunc {
	switch name {
	case "Resize":
		return gradResizeOp
	case "Upsample":
		return gradUpsample
	}
	return nil
}

func gradResizeOp(g GradContext) error {
	dy := g.OutputGrad(0)
	if dy == "" || !g.NeedsGrad(0) {
		return nil
	}
	b := g.Node()
	attrs := append(CopyAttrs(b), IntAttr("version", int64(b.Opset)))
	ins := []string{dy, gradShapeOf(g, 0), "", "", ""}
	if b.Opset < 11 {
		ins[3] = g.Input(1)
	} else {
		ins[2], ins[3], ins[4] = g.Input(1), g.Input(2), g.Input(3)
	}
	g.SetInputGrad(0, g.Emit(GradDomain, "ResizeGrad", trimTrailing(ins), 1, attrs...)[0])
	return nil
}

func gradUpsample(g GradContext) error {
	dy := g.OutputGrad(0)
	if dy == "" || !g.NeedsGrad(0) {
		return nil
	}
	b := g.Node()
	attrs := []*Attr{StringAttr("mode", b.String("mode", "nearest")), IntAttr("upsample", 1)}
	scales := g.Input(1)
	if b.Opset < 9 {
		s := b.Floats("scales", nil)
		if !b.Has("scales") {
			b.Fail("required attribute %q is missing", "scales")
		}
		scales = g.Const(tensor.From([]int{len(s)}, append([]float32(nil), s...)))
	}
	if err := b.Err(); err != nil {
		return err
	}
	g.SetInputGrad(0, g.Emit(GradDomain, "ResizeGrad", []string{dy, gradShapeOf(g, 0), "", scales}, 1, attrs...)[0])
	return nil
}

// trimTrailing drops the trailing absent inputs of a node.
func trimTrailing(ins []string) []string {
	for len(ins) > 0 && ins[len(ins)-1] == "" {
		ins = ins[:len(ins)-1]
	}
	return ins
}

// readResizeGradAttrs parses the attributes as buildResize (version 10
// and later) or buildUpsample (upsample=1) does.
func readResizeGradAttrs(b *Builder) (*resizeAttrs, error) {
	if b.Int("upsample", 0) != 0 {
		a := &resizeAttrs{legacy: true, mode: b.String("mode", "nearest"), coord: "asymmetric", keepAspect: "stretch"}
		if a.mode == "bilinear" {
			a.mode = "linear"
		}
		if err := b.Err(); err != nil {
			return nil, err
		}
		if a.mode != "nearest" && a.mode != "linear" {
			return nil, fmt.Errorf("unsupported mode %q (want nearest or linear)", a.mode)
		}
		return a, nil
	}
	version := int(b.Int("version", 11))
	a := &resizeAttrs{
		mode:        b.String("mode", "nearest"),
		coord:       "asymmetric",
		nearestMode: "round_prefer_floor",
		keepAspect:  "stretch",
	}
	if version < 11 {
		a.legacy = true
		if a.mode != "nearest" && a.mode != "linear" {
			return nil, fmt.Errorf("unsupported mode %q (want nearest or linear)", a.mode)
		}
	} else {
		a.coord = b.String("coordinate_transformation_mode", "half_pixel")
		a.nearestMode = b.String("nearest_mode", "round_prefer_floor")
		a.cubicA = float64(b.Float("cubic_coeff_a", -0.75))
		a.exclude = b.Int("exclude_outside", 0) != 0
		a.extrap = float64(b.Float("extrapolation_value", 0))
	}
	if version >= 18 {
		a.antialias = b.Int("antialias", 0) != 0
		a.axes = b.Ints("axes", nil)
		a.keepAspect = b.String("keep_aspect_ratio_policy", "stretch")
	}
	if err := b.Err(); err != nil {
		return nil, err
	}
	return a, a.validate()
}

func buildResizeGrad(b *Builder) (Kernel, error) {
	a, err := readResizeGradAttrs(b)
	if err != nil {
		return nil, err
	}
	return KernelFunc(func(rc *RunContext, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
		if err := Need(in, 2); err != nil {
			return nil, err
		}
		dyT := in[0]
		shape, err := gradShapeArg(in[1], "shape")
		if err != nil {
			return nil, err
		}
		get := func(i int) *tensor.Tensor {
			if t := Opt(in, i); t != nil && t.Len() > 0 {
				return t
			}
			return nil
		}
		var scales, roi []float64
		var sizes []int64
		if t := get(3); t != nil {
			if scales, err = gxFloats(t, "scales"); err != nil {
				return nil, err
			}
		}
		if t := get(4); t != nil {
			if sizes, err = t.AsInt64s(); err != nil {
				return nil, fmt.Errorf("sizes: %w", err)
			}
		}
		if t := get(2); t != nil {
			if roi, err = gxFloats(t, "roi"); err != nil {
				return nil, err
			}
		}
		dx, err := resizeGrad(dyT, shape, a, scales, sizes, roi)
		if err != nil {
			return nil, err
		}
		return rc.one(gxOut(dx, dyT.DType(), shape))
	}), nil
}

// resizeGrad returns the gradient of an input of the given shape from
// the output gradient dyT, following resize.
func resizeGrad(dyT *tensor.Tensor, shape []int, a *resizeAttrs, scales []float64, sizes []int64, roi []float64) ([]float64, error) {
	rank := len(shape)
	axes, outShape, scale, err := resizeShape(shape, a, scales, sizes)
	if err != nil {
		return nil, err
	}
	if err := gxSameShape("ResizeGrad: dY", dyT, outShape); err != nil {
		return nil, err
	}
	if err := checkSize(shape, tensor.Float64); err != nil {
		return nil, err
	}
	roiStart, roiEnd := make([]float64, rank), make([]float64, rank)
	for i := range roiEnd {
		roiEnd[i] = 1
	}
	if a.coord == "tf_crop_and_resize" && !a.legacy {
		if len(roi) != 2*len(axes) {
			return nil, fmt.Errorf("roi has %d values, want %d", len(roi), 2*len(axes))
		}
		for j, ax := range axes {
			roiStart[ax], roiEnd[ax] = roi[j], roi[len(axes)+j]
		}
	}
	if dyT.Len() == 0 || prod(shape) == 0 {
		return make([]float64, prod(shape)), nil
	}
	g, err := gxFloats(dyT, "ResizeGrad: dY")
	if err != nil {
		return nil, err
	}
	maps := make([]*resizeAxis, rank)
	for i := range maps {
		maps[i] = a.axisMap(shape[i], outShape[i], scale[i], roiStart[i], roiEnd[i])
	}
	applyOutside(g, maps, outShape, 0)
	cur := append([]int(nil), outShape...)
	for ax := rank - 1; ax >= 0; ax-- {
		m := maps[ax]
		if m.identity() {
			continue
		}
		g = resizePassT(g, cur, ax, m)
		cur[ax] = m.in
	}
	return g, nil
}

// resizePassT applies the transpose of resizePass along axis: src has
// m.out elements along it, the result m.in.
func resizePassT(src []float64, shape []int, axis int, m *resizeAxis) []float64 {
	outer, inner := splitAt(shape, axis)
	in, out := m.in, shape[axis]
	dst := make([]float64, outer*in*inner)
	for o := 0; o < outer; o++ {
		sb, db := o*out*inner, o*in*inner
		for x := 0; x < out; x++ {
			s := src[sb+x*inner : sb+(x+1)*inner]
			for _, t := range m.taps[x] {
				d := dst[db+t.idx*inner : db+(t.idx+1)*inner]
				for i, v := range s {
					d[i] += t.w * v
				}
			}
		}
	}
	return dst
}
