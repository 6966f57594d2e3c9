package ops

import "github.com/onyxrt/onyx/tensor"

// Shape inference for the NN-family operators that the shared rules of
// shapeinfer.go do not cover. Each rule only fills what it can be sure of
// and leaves the rest unknown; run-time checks report bad inputs.

// knownDims returns the sizes of s, or false when any is unknown.
func knownDims(s tensor.SymShape) ([]int, bool) {
	if s == nil {
		return nil, false
	}
	out := make([]int, len(s))
	for i, d := range s {
		if !d.Known() {
			return nil, false
		}
		out[i] = int(d.Size)
	}
	return out, true
}

func metaAt(in []Meta, i int) Meta {
	if i < len(in) {
		return in[i]
	}
	return Meta{}
}

// inferMatMulInteger is MatMul's rule with an int32 result.
func inferMatMulInteger(b *Builder, in []Meta) ([]Meta, error) {
	out, err := inferMatMul(b, in)
	if err != nil || len(out) == 0 {
		return out, err
	}
	out[0].DType = tensor.Int32
	return out, nil
}

// inferConvInteger is Conv's rule with an int32 result.
func inferConvInteger(b *Builder, in []Meta) ([]Meta, error) {
	out, err := inferConvPool(true)(b, in)
	if err != nil || len(out) == 0 {
		return out, err
	}
	out[0].DType = tensor.Int32
	return out, nil
}

// inferConvTranspose computes Y's shape when X's and W's are known.
func inferConvTranspose(b *Builder, in []Meta) ([]Meta, error) {
	x, w := metaAt(in, 0), metaAt(in, 1)
	out := []Meta{{DType: x.DType}}
	xs, ok1 := knownDims(x.Shape)
	ws, ok2 := knownDims(w.Shape)
	if !ok1 || !ok2 {
		return out, nil
	}
	ca, err := readConvAttrs(b)
	if err != nil {
		return out, nil
	}
	a := &convTransposeAttrs{convAttrs: ca}
	if b.Has("output_padding") {
		a.outputPadding = ToInts(b.Ints("output_padding", nil))
	}
	if b.Has("output_shape") {
		a.outputShape = ToInts(b.Ints("output_shape", nil))
	}
	p, err := a.plan(xs, ws)
	if err != nil {
		return nil, err
	}
	out[0].Shape = SymOf(p.outShape())
	return out, nil
}

// inferRoiPool gives [num_rois, C, h, w] for MaxRoiPool and RoiAlign.
func inferRoiPool(b *Builder, in []Meta) ([]Meta, error) {
	x, r := metaAt(in, 0), metaAt(in, 1)
	out := []Meta{{DType: x.DType}}
	var h, w int64
	if b.OpType == "MaxRoiPool" {
		ps := b.Ints("pooled_shape", nil)
		if len(ps) != 2 {
			return out, nil
		}
		h, w = ps[0], ps[1]
	} else {
		h, w = b.Int("output_height", 1), b.Int("output_width", 1)
	}
	if len(x.Shape) != 4 || len(r.Shape) != 2 {
		return out, nil
	}
	out[0].Shape = tensor.SymShape{r.Shape[0], x.Shape[1], {Size: h}, {Size: w}}
	return out, nil
}

// inferMaxUnpool uses a constant output_shape, or the default size.
func inferMaxUnpool(b *Builder, in []Meta) ([]Meta, error) {
	x := metaAt(in, 0)
	out := []Meta{{DType: x.DType}}
	if v := metaAt(in, 2).Value; v != nil {
		if s, err := v.AsInt64s(); err == nil {
			out[0].Shape = SymOf(ToInts(s))
		}
		return out, nil
	}
	if metaAt(in, 2).DType != tensor.Undefined { // output_shape given at run time
		return out, nil
	}
	xs, ok := knownDims(x.Shape)
	a := readSpatial(b, true)
	if !ok || b.Err() != nil || len(xs) < 3 || len(a.kernel) != len(xs)-2 {
		return out, nil
	}
	g, err := a.resolve(xs[2:], a.kernel)
	if err != nil {
		return out, nil
	}
	shape := []int{xs[0], xs[1]}
	for i, d := range xs[2:] {
		shape = append(shape, (d-1)*g.s[i]+a.kernel[i]-g.pb[i]-g.pe[i])
	}
	out[0].Shape = SymOf(shape)
	return out, nil
}
