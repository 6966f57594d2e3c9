package ops

import (
	"math"

	"github.com/onyxrt/onyx/tensor"
)

// Shape inference for the operators of the reduce family that the shared
// rules of shapeinfer.go do not cover: TopK, Resize, Upsample, Einsum and
// Det.

func inferTopK(b *Builder, in []Meta) ([]Meta, error) {
	x := first(in)
	idx := Meta{DType: tensor.Int64}
	if x.Shape == nil {
		return []Meta{x, idx}, nil
	}
	axis, err := NormAxis(b.Int("axis", -1), len(x.Shape))
	if err != nil {
		return nil, err
	}
	k := unknownDim
	if b.Opset < 10 {
		k = tensor.Dim{Size: b.Int("k", -1)}
	} else if len(in) > 1 && in[1].Value != nil {
		if v, err := in[1].Value.AsInt64s(); err == nil && len(v) == 1 {
			k = tensor.Dim{Size: v[0]}
		}
	}
	s := append(tensor.SymShape{}, x.Shape...)
	s[axis] = k
	x.Shape, idx.Shape = s, s
	return []Meta{x, idx}, nil
}

func inferDet(b *Builder, in []Meta) ([]Meta, error) {
	x := first(in)
	if x.Shape != nil && len(x.Shape) >= 2 {
		x.Shape = append(tensor.SymShape{}, x.Shape[:len(x.Shape)-2]...)
	} else {
		x.Shape = nil
	}
	return []Meta{x}, nil
}

func inferEinsum(b *Builder, in []Meta) ([]Meta, error) {
	out := first(in)
	out.Shape = nil
	sp, err := parseEinsum(b.String("equation", ""))
	if err != nil || len(sp.inputs) != len(in) {
		return []Meta{out}, nil
	}
	labels := map[int]tensor.Dim{}
	var ells []tensor.SymShape
	for k, t := range sp.inputs {
		s := in[k].Shape
		if s == nil {
			return []Meta{out}, nil
		}
		ellRank := len(s) - len(t.labels)
		if ellRank < 0 || t.ell < 0 && ellRank != 0 {
			return []Meta{out}, nil
		}
		pos := 0
		for i := 0; i <= len(t.labels); i++ {
			if i == t.ell {
				ells = append(ells, s[pos:pos+ellRank])
				pos += ellRank
			}
			if i < len(t.labels) {
				d := s[pos]
				pos++
				if old, ok := labels[t.labels[i]]; !ok || !old.Known() || old.Size == 1 {
					labels[t.labels[i]] = d
				}
			}
		}
	}
	ell, err := broadcastSym(ells...)
	if err != nil {
		return nil, err
	}
	var shape tensor.SymShape
	for i := 0; i <= len(sp.output.labels); i++ {
		if i == sp.output.ell {
			shape = append(shape, ell...)
		}
		if i < len(sp.output.labels) {
			shape = append(shape, labels[sp.output.labels[i]])
		}
	}
	if shape == nil {
		shape = tensor.SymShape{}
	}
	out.Shape = shape
	return []Meta{out}, nil
}

// inferResize infers Resize and Upsample outputs: the rank of the input,
// with the sizes known where scales or sizes are constants.
func inferResize(b *Builder, in []Meta) ([]Meta, error) {
	x := first(in)
	if x.Shape == nil {
		return []Meta{x}, nil
	}
	rank := len(x.Shape)
	a := &resizeAttrs{keepAspect: "stretch"}
	if b.Opset >= 18 && b.OpType == "Resize" {
		a.axes = b.Ints("axes", nil)
		a.keepAspect = b.String("keep_aspect_ratio_policy", "stretch")
	}
	// input returns the value of input i (nil when absent or empty), and
	// false when it is present but not a constant.
	input := func(i int) (*tensor.Tensor, bool) {
		if !b.In(i) || i >= len(in) {
			return nil, true
		}
		v := in[i].Value
		if v == nil {
			return nil, false
		}
		if v.Len() == 0 {
			return nil, true
		}
		return v, true
	}
	var scales []float64
	var sizes []int64
	known := true
	switch {
	case b.OpType == "Upsample" && b.Opset < 9:
		for _, s := range b.Floats("scales", nil) {
			scales = append(scales, float64(s))
		}
	case b.OpType == "Upsample" || b.Opset < 11:
		t, ok := input(1)
		known = ok && t != nil
		if known {
			scales = t.Float64s()
		}
	default:
		st, ok1 := input(2)
		zt, ok2 := input(3)
		known = ok1 && ok2 && (st != nil || zt != nil)
		if known && st != nil {
			scales = st.Float64s()
		}
		if known && zt != nil {
			v, err := zt.AsInt64s()
			if err != nil {
				return nil, err
			}
			sizes = v
		}
	}
	s := make(tensor.SymShape, rank)
	for i := range s {
		s[i] = unknownDim
	}
	x.Shape = s
	if !known {
		return []Meta{x}, nil
	}
	// Compute with placeholder sizes for unknown input dimensions, then
	// keep only the dimensions that do not depend on them.
	conc := make([]int, rank)
	for i, d := range in[0].Shape {
		conc[i] = 1
		if d.Known() {
			conc[i] = int(d.Size)
		}
	}
	axes, outShape, scale, err := resizeShape(conc, a, scales, sizes)
	if err != nil {
		return nil, err
	}
	resized := make([]bool, rank)
	allKnown := true // every resized input dimension is known
	for _, ax := range axes {
		resized[ax] = true
		allKnown = allKnown && in[0].Shape[ax].Known()
	}
	for i, d := range in[0].Shape {
		var known bool
		switch {
		case !resized[i]:
			s[i] = d
			continue
		case sizes != nil && a.keepAspect == "stretch":
			known = true
		case sizes != nil:
			known = allKnown
		case d.Known():
			known = true
		case scale[i] == 1:
			s[i] = d
			continue
		}
		if known && outShape[i] >= 0 && float64(outShape[i]) <= math.MaxInt32*64 {
			s[i] = tensor.Dim{Size: int64(outShape[i])}
		}
	}
	return []Meta{x}, nil
}
