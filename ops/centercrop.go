package ops

import (
	"fmt"

	"github.com/onyxrt/onyx/tensor"
)

// CenterCropPad (opset 18) crops or pads the axes listed in the axes
// attribute (all axes when absent) to the sizes of the shape input,
// keeping the centre: an axis of size d cropped to s < d starts at
// (d-s)/2 (the odd element is dropped at the end); padded to s > d, the
// input lands at (s-d)/2 in a zero (false, "") output (the odd element of
// padding goes at the end). Any element type.

func buildCenterCropPad(b *Builder) (Kernel, error) {
	axes := b.Ints("axes", nil)
	if err := b.Err(); err != nil {
		return nil, err
	}
	return KernelFunc(func(rc *RunContext, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
		if err := Need(in, 2); err != nil {
			return nil, err
		}
		return rc.one(centerCropPad(in[0], in[1], axes))
	}), nil
}

func centerCropPad(x, shapeT *tensor.Tensor, axesAttr []int64) (*tensor.Tensor, error) {
	if shapeT.DType() != tensor.Int64 && shapeT.DType() != tensor.Int32 {
		return nil, ErrDType("shape", shapeT.DType())
	}
	if shapeT.Rank() != 1 {
		return nil, fmt.Errorf("shape must be 1-D, got shape %v", shapeT.Shape())
	}
	sh, err := shapeT.AsInt64s()
	if err != nil {
		return nil, err
	}
	xs := x.Shape()
	rank := len(xs)
	var axes []int
	if axesAttr == nil {
		axes = make([]int, rank)
		for i := range axes {
			axes[i] = i
		}
	} else if axes, err = NormAxes(axesAttr, rank); err != nil {
		return nil, err
	}
	if len(sh) != len(axes) {
		return nil, fmt.Errorf("shape has %d values for %d axes", len(sh), len(axes))
	}
	outShape := append([]int(nil), xs...)
	region := append([]int(nil), xs...) // the block copied from x to the output
	inStart := make([]int, rank)
	outStart := make([]int, rank)
	for i, a := range axes {
		s, d := sh[i], xs[a]
		if s < 0 || s > 1<<40 {
			return nil, fmt.Errorf("shape %v has a negative or absurd size", sh)
		}
		outShape[a] = int(s)
		if int(s) < d {
			inStart[a] = (d - int(s)) / 2
			region[a] = int(s)
		} else {
			outStart[a] = (int(s) - d) / 2
		}
	}
	out, err := tensor.New(x.DType(), outShape...)
	if err != nil {
		return nil, err
	}
	if out.Len() == 0 || x.Len() == 0 {
		return out, nil
	}
	ss, ds := tensor.Strides(xs), tensor.Strides(outShape)
	so, do := 0, 0
	for i := range xs {
		so += inStart[i] * ss[i]
		do += outStart[i] * ds[i]
	}
	cp, err := layoutPick(x.DType(), ccpCopy[uint8], ccpCopy[uint16], ccpCopy[uint32], ccpCopy[uint64], ccpCopy[string])
	if err != nil {
		return nil, err
	}
	cp(out, do, ds, x, so, ss, region)
	return out, nil
}

// ccpCopy copies the block region of x starting at element so (strides
// ss) into out starting at do (strides ds).
func ccpCopy[T layoutElem](out *tensor.Tensor, do int, ds []int, x *tensor.Tensor, so int, ss []int, region []int) {
	layoutCopy(layoutRaw[T](out), do, ds, layoutRaw[T](x), so, ss, region)
}

func inferCenterCropPad(b *Builder, in []Meta) ([]Meta, error) {
	m := first(in)
	if len(in) < 2 || in[1].Value == nil || m.Shape == nil {
		m.Shape = nil
		if len(in) > 0 && in[0].Shape != nil {
			m.Shape = make(tensor.SymShape, len(in[0].Shape))
			for i := range m.Shape {
				m.Shape[i] = unknownDim
			}
		}
		return []Meta{m}, nil
	}
	sh, err := in[1].Value.AsInt64s()
	if err != nil {
		return []Meta{m}, nil
	}
	rank := len(m.Shape)
	axes := make([]int, rank)
	for i := range axes {
		axes[i] = i
	}
	if a := b.Ints("axes", nil); a != nil {
		if axes, err = NormAxes(a, rank); err != nil {
			return nil, err
		}
	}
	if len(sh) != len(axes) {
		return nil, fmt.Errorf("shape has %d values for %d axes", len(sh), len(axes))
	}
	out := append(tensor.SymShape(nil), m.Shape...)
	for i, a := range axes {
		out[a] = tensor.Dim{Size: sh[i]}
	}
	m.Shape = out
	return []Meta{m}, nil
}
