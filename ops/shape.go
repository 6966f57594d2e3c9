package ops

import (
	"fmt"
	"math"
	"slices"

	"github.com/onyxrt/onyx/tensor"
)

// Shape-only operators (Reshape, Flatten, Squeeze, Unsqueeze, Identity),
// shape queries (Shape, Size) and generators (Constant, ConstantOfShape,
// EyeLike, Range).

// buildReshape1 handles Reshape-1, whose target shape is an attribute.
func buildReshape1(b *Builder) (Kernel, error) {
	shape := b.Ints("shape", nil)
	if err := b.Err(); err != nil {
		return nil, err
	}
	if shape == nil {
		return nil, fmt.Errorf("attribute \"shape\" is missing")
	}
	return KernelFunc(func(rc *RunContext, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
		if err := Need(in, 1); err != nil {
			return nil, err
		}
		out, err := reshapeTo(rc, in[0], shape, false)
		if err != nil {
			return nil, err
		}
		return rc.Results(out), nil
	}), nil
}

// buildReshape handles Reshape-5 and later (allowzero from 14).
func buildReshape(b *Builder) (Kernel, error) {
	allowZero := b.Int("allowzero", 0) != 0
	if err := b.Err(); err != nil {
		return nil, err
	}
	return KernelFunc(func(rc *RunContext, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
		if err := Need(in, 2); err != nil {
			return nil, err
		}
		shape, err := layoutInts(in[1], "shape")
		if err != nil {
			return nil, err
		}
		out, err := reshapeTo(rc, in[0], shape, allowZero)
		if err != nil {
			return nil, err
		}
		return rc.Results(out), nil
	}), nil
}

// reshapeShape resolves a Reshape target: 0 copies the input dimension
// (unless allowZero), -1 is inferred from the element count.
func reshapeShape(in []int, spec []int64, allowZero bool) ([]int, error) {
	return reshapeShapeInto(make([]int, len(spec)), in, spec, allowZero)
}

// reshapeShapeInto is reshapeShape writing into dst, or into a new slice
// when dst is shorter than spec.
func reshapeShapeInto(dst, in []int, spec []int64, allowZero bool) ([]int, error) {
	if len(dst) < len(spec) {
		dst = make([]int, len(spec))
	}
	out := dst[:len(spec)]
	infer := -1
	known := 1
	for i, d := range spec {
		switch {
		case d == -1:
			if infer >= 0 {
				return nil, fmt.Errorf("shape %v has more than one -1", slices.Clone(spec))
			}
			infer = i
			continue
		case d == 0 && !allowZero:
			if i >= len(in) {
				return nil, fmt.Errorf("shape %v copies dimension %d (0) but the input has rank %d", slices.Clone(spec), i, len(in))
			}
			out[i] = in[i]
		case d < 0:
			return nil, fmt.Errorf("shape %v has invalid dimension %d", slices.Clone(spec), d)
		default:
			if uint64(d) > uint64(math.MaxInt) {
				return nil, fmt.Errorf("shape %v: %w", slices.Clone(spec), tensor.ErrTooLarge)
			}
			out[i] = int(d)
		}
		if out[i] != 0 && known > math.MaxInt/out[i] {
			return nil, fmt.Errorf("shape %v: %w", slices.Clone(spec), tensor.ErrTooLarge)
		}
		known *= out[i]
	}
	total := layoutProd(in)
	if infer >= 0 {
		if known == 0 {
			if allowZero {
				return nil, fmt.Errorf("shape %v has both 0 and -1 with allowzero set", slices.Clone(spec))
			}
			return nil, fmt.Errorf("cannot infer -1 in shape %v: the other dimensions have zero elements", slices.Clone(spec))
		}
		if total%known != 0 {
			return nil, fmt.Errorf("cannot reshape %v (%d elements) to %v", slices.Clone(in), total, slices.Clone(spec))
		}
		out[infer] = total / known
		known = total
	}
	if known != total {
		return nil, fmt.Errorf("cannot reshape %v (%d elements) to %v (%d elements)", slices.Clone(in), total, slices.Clone(out), known)
	}
	return out, nil
}

func reshapeTo(rc *RunContext, x *tensor.Tensor, spec []int64, allowZero bool) (*tensor.Tensor, error) {
	var buf [8]int
	shape, err := reshapeShapeInto(buf[:], x.Shape(), spec, allowZero)
	if err != nil {
		return nil, err
	}
	return rc.View(x, shape...)
}

func buildFlatten(b *Builder) (Kernel, error) {
	axis := b.Int("axis", 1)
	if err := b.Err(); err != nil {
		return nil, err
	}
	return KernelFunc(func(rc *RunContext, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
		if err := Need(in, 1); err != nil {
			return nil, err
		}
		s := in[0].Shape()
		a := int(axis)
		if axis < -int64(len(s)) || axis > int64(len(s)) {
			return nil, fmt.Errorf("axis %d is out of range for rank %d", axis, len(s))
		}
		if a < 0 {
			a += len(s)
		}
		out, err := rc.View(in[0], layoutProd(s[:a]), layoutProd(s[a:]))
		if err != nil {
			return nil, err
		}
		return rc.Results(out), nil
	}), nil
}

// buildSqueeze handles Squeeze-1/11 (axes attribute) and 13 (axes input).
func buildSqueeze(b *Builder) (Kernel, error) {
	fromInput := b.Opset >= 13
	attrAxes := b.Ints("axes", nil)
	if err := b.Err(); err != nil {
		return nil, err
	}
	return KernelFunc(func(rc *RunContext, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
		if err := Need(in, 1); err != nil {
			return nil, err
		}
		axes := attrAxes
		if fromInput {
			if t := Opt(in, 1); t != nil {
				var err error
				if axes, err = layoutInts(t, "axes"); err != nil {
					return nil, err
				}
				if len(axes) == 0 {
					axes = nil // an empty axes input squeezes every 1, as ONNX Runtime does
				}
			} else {
				axes = nil
			}
		}
		s := in[0].Shape()
		var dropBuf [8]bool
		var axBuf, shapeBuf [8]int
		drop := dropBuf[:0]
		if len(s) > len(dropBuf) {
			drop = make([]bool, 0, len(s))
		}
		drop = drop[:len(s)]
		if axes == nil {
			for i, d := range s {
				drop[i] = d == 1
			}
		} else {
			ax, err := normAxesInto(axBuf[:], axes, len(s))
			if err != nil {
				return nil, err
			}
			for _, a := range ax {
				if s[a] != 1 {
					return nil, fmt.Errorf("cannot squeeze axis %d of size %d (shape %v)", a, s[a], s)
				}
				drop[a] = true
			}
		}
		shape := shapeBuf[:0]
		for i, d := range s {
			if !drop[i] {
				shape = append(shape, d)
			}
		}
		out, err := rc.View(in[0], shape...)
		if err != nil {
			return nil, err
		}
		return rc.Results(out), nil
	}), nil
}

// buildUnsqueeze handles Unsqueeze-1/11 (axes attribute) and 13 (input).
func buildUnsqueeze(b *Builder) (Kernel, error) {
	fromInput := b.Opset >= 13
	var attrAxes []int64
	if !fromInput {
		attrAxes = b.RequireInts("axes")
	}
	if err := b.Err(); err != nil {
		return nil, err
	}
	return KernelFunc(func(rc *RunContext, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
		axes := attrAxes
		if fromInput {
			if err := Need(in, 2); err != nil {
				return nil, err
			}
			var err error
			if axes, err = layoutInts(in[1], "axes"); err != nil {
				return nil, err
			}
		} else if err := Need(in, 1); err != nil {
			return nil, err
		}
		s := in[0].Shape()
		rank := len(s) + len(axes)
		var axBuf, shapeBuf [8]int
		ax, err := normAxesInto(axBuf[:], axes, rank)
		if err != nil {
			return nil, err
		}
		shape := shapeBuf[:0]
		if rank > len(shapeBuf) {
			shape = make([]int, 0, rank)
		}
		shape = shape[:rank]
		for i := range shape {
			shape[i] = -1
		}
		for _, a := range ax {
			shape[a] = 1
		}
		j := 0
		for i := range shape {
			if shape[i] < 0 {
				shape[i] = s[j]
				j++
			}
		}
		out, err := rc.View(in[0], shape...)
		if err != nil {
			return nil, err
		}
		return rc.Results(out), nil
	}), nil
}

func buildIdentity(b *Builder) (Kernel, error) {
	return KernelFunc(func(rc *RunContext, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
		if err := Need(in, 1); err != nil {
			return nil, err
		}
		if in[0].Kind() != tensor.KindTensor {
			return rc.Results(in[0]), nil // sequences and optionals are immutable values
		}
		out, err := rc.View(in[0], in[0].Shape()...)
		if err != nil {
			return nil, err
		}
		return rc.Results(out), nil
	}), nil
}

// buildShape handles Shape-1/13 and Shape-15 (start and end attributes).
func buildShape(b *Builder) (Kernel, error) {
	start := b.Int("start", 0)
	end, hasEnd := b.Int("end", 0), b.Has("end")
	if err := b.Err(); err != nil {
		return nil, err
	}
	return KernelFunc(func(rc *RunContext, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
		if err := Need(in, 1); err != nil {
			return nil, err
		}
		s := in[0].Shape()
		r := int64(len(s))
		clamp := func(v int64) int {
			if v < 0 {
				v += r
			}
			return int(min(max(v, 0), r))
		}
		lo, hi := clamp(start), len(s)
		if hasEnd {
			hi = clamp(end)
		}
		hi = max(hi, lo)
		out, err := rc.NewUninit(tensor.Int64, hi-lo)
		if err != nil {
			return nil, err
		}
		v := out.Int64s()
		for i := range v {
			v[i] = int64(s[lo+i])
		}
		return rc.Results(out), nil
	}), nil
}

func buildSize(b *Builder) (Kernel, error) {
	return KernelFunc(func(rc *RunContext, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
		if err := Need(in, 1); err != nil {
			return nil, err
		}
		out, err := rc.NewUninit(tensor.Int64)
		if err != nil {
			return nil, err
		}
		out.Int64s()[0] = int64(in[0].Len())
		return rc.Results(out), nil
	}), nil
}

// buildConstant handles every Constant version: value (1+), sparse_value
// (11+, unsupported), and value_float(s)/value_int(s)/value_string(s) (12+).
func buildConstant(b *Builder) (Kernel, error) {
	var val *tensor.Tensor
	set := 0
	for name := range b.Attrs {
		switch name {
		case "value", "sparse_value", "value_float", "value_floats", "value_int", "value_ints", "value_string", "value_strings":
			set++
		}
	}
	if set != 1 {
		return nil, fmt.Errorf("exactly one value attribute must be set, got %d", set)
	}
	switch {
	case b.Has("value"):
		val = b.Tensor("value")
	case b.Has("sparse_value"):
		return nil, fmt.Errorf("sparse_value constants are not supported")
	case b.Has("value_float"):
		val = tensor.Scalar(b.Float("value_float", 0))
	case b.Has("value_floats"):
		v := b.Floats("value_floats", nil)
		val = tensor.From([]int{len(v)}, append([]float32{}, v...))
	case b.Has("value_int"):
		val = tensor.Scalar(b.Int("value_int", 0))
	case b.Has("value_ints"):
		v := b.Ints("value_ints", nil)
		val = tensor.From([]int{len(v)}, append([]int64{}, v...))
	case b.Has("value_string"):
		val = tensor.Scalar(b.String("value_string", ""))
	case b.Has("value_strings"):
		v := b.Strings("value_strings", nil)
		val = tensor.From([]int{len(v)}, append([]string{}, v...))
	}
	if err := b.Err(); err != nil {
		return nil, err
	}
	if val == nil {
		return nil, fmt.Errorf("constant value is missing")
	}
	val = val.Clone()
	return KernelFunc(func(rc *RunContext, _ []*tensor.Tensor) ([]*tensor.Tensor, error) {
		// A copy: the caller may get the output and write it.
		out, err := rc.NewUninit(val.DType(), val.Shape()...)
		if err != nil {
			return nil, err
		}
		if err := tensor.Copy(out, val); err != nil {
			return nil, err
		}
		return rc.Results(out), nil
	}), nil
}

func buildConstantOfShape(b *Builder) (Kernel, error) {
	val := b.Tensor("value")
	if err := b.Err(); err != nil {
		return nil, err
	}
	if val == nil {
		val = tensor.Scalar(float32(0))
	}
	if val.Len() != 1 {
		return nil, fmt.Errorf("value must have exactly one element, got shape %v", val.Shape())
	}
	val = val.Clone()
	return KernelFunc(func(rc *RunContext, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
		if err := Need(in, 1); err != nil {
			return nil, err
		}
		spec, err := layoutInts(in[0], "shape")
		if err != nil {
			return nil, err
		}
		var buf [8]int
		shape, err := layoutDimsInto(buf[:], spec, "shape")
		if err != nil {
			return nil, err
		}
		out, err := rc.NewUninit(val.DType(), shape...)
		if err != nil {
			return nil, err
		}
		f, err := layoutPick(val.DType(), constFill[uint8], constFill[uint16], constFill[uint32], constFill[uint64], constFill[string])
		if err != nil {
			return nil, err
		}
		f(out, val)
		return rc.Results(out), nil
	}), nil
}

// constFill sets every element of out to the single element of v (same
// dtype).
func constFill[T layoutElem](out, v *tensor.Tensor) {
	layoutFill(layoutRaw[T](out), layoutRaw[T](v)[0])
}

func buildEyeLike(b *Builder) (Kernel, error) {
	dtype, hasDType := tensor.DType(b.Int("dtype", 0)), b.Has("dtype")
	k := b.Int("k", 0)
	if err := b.Err(); err != nil {
		return nil, err
	}
	if hasDType && (!dtype.Supported() || dtype == tensor.String) {
		return nil, fmt.Errorf("unsupported dtype %v", dtype)
	}
	return KernelFunc(func(rc *RunContext, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
		if err := Need(in, 1); err != nil {
			return nil, err
		}
		s := in[0].Shape()
		if len(s) != 2 {
			return nil, fmt.Errorf("input must be 2-D, got shape %v", s)
		}
		dt := in[0].DType()
		if hasDType {
			dt = dtype
		}
		if dt == tensor.String {
			return nil, ErrDType("EyeLike", dt)
		}
		out, err := layoutNew(rc, dt, s)
		if err != nil {
			return nil, err
		}
		oneT, err := tensor.Scalar(float32(1)).Cast(dt)
		if err != nil {
			return nil, err
		}
		f, err := layoutPick(dt, eyeRaw[uint8], eyeRaw[uint16], eyeRaw[uint32], eyeRaw[uint64], eyeRaw[string])
		if err != nil {
			return nil, err
		}
		f(out, oneT, k)
		return rc.Results(out), nil
	}), nil
}

func eyeRaw[T layoutElem](out, oneT *tensor.Tensor, k int64) {
	dst, v := layoutRaw[T](out), layoutRaw[T](oneT)[0]
	rows, cols := out.Shape()[0], out.Shape()[1]
	for i := 0; i < rows; i++ {
		j := int64(i) + k
		if j >= 0 && j < int64(cols) {
			dst[i*cols+int(j)] = v
		}
	}
}

func buildRange(b *Builder) (Kernel, error) {
	return KernelFunc(func(rc *RunContext, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
		if err := Need(in, 3); err != nil {
			return nil, err
		}
		dt := in[0].DType()
		for i, t := range in[:3] {
			if t.Len() != 1 {
				return nil, fmt.Errorf("input %d must be a scalar, got shape %v", i, t.Shape())
			}
			if t.DType() != dt {
				return nil, fmt.Errorf("inputs have different types %v and %v", dt, t.DType())
			}
		}
		f, err := numberPick(dt, rangeFloat[float32], rangeFloat[float64], rangeInt[int8], rangeInt[int16],
			rangeInt[int32], rangeInt[int64], rangeUint[uint8], rangeUint[uint16], rangeUint[uint32], rangeUint[uint64])
		if err != nil {
			return nil, err
		}
		out, err := f(rc, in[0], in[1], in[2])
		if err != nil {
			return nil, err
		}
		return rc.Results(out), nil
	}), nil
}

func rangeFloat[T Float](rc *RunContext, st, lt, dt *tensor.Tensor) (*tensor.Tensor, error) {
	start, limit, delta := tensor.Data[T](st)[0], tensor.Data[T](lt)[0], tensor.Data[T](dt)[0]
	if delta == 0 {
		return nil, fmt.Errorf("delta must not be zero")
	}
	c := math.Ceil((float64(limit) - float64(start)) / float64(delta))
	if math.IsNaN(c) {
		return nil, fmt.Errorf("range(%v, %v, %v) has no defined length", start, limit, delta)
	}
	c = max(c, 0)
	if c > float64(tensor.MaxBytes) {
		return nil, fmt.Errorf("range(%v, %v, %v) has %g elements: %w", start, limit, delta, c, tensor.ErrTooLarge)
	}
	n, err := layoutCount(uint64(c), "range")
	if err != nil {
		return nil, err
	}
	out, err := rc.NewUninit(st.DType(), n)
	if err != nil {
		return nil, err
	}
	v := tensor.Data[T](out)
	for i := range v {
		v[i] = start + T(i)*delta
	}
	return out, nil
}

func rangeInt[T ~int8 | ~int16 | ~int32 | ~int64](rc *RunContext, st, lt, dt *tensor.Tensor) (*tensor.Tensor, error) {
	start, limit, delta := tensor.Data[T](st)[0], tensor.Data[T](lt)[0], tensor.Data[T](dt)[0]
	if delta == 0 {
		return nil, fmt.Errorf("delta must not be zero")
	}
	// The span of two int64s always fits a uint64.
	var n uint64
	if delta > 0 && limit > start {
		span := uint64(int64(limit)) - uint64(int64(start))
		d := uint64(int64(delta))
		n = span/d + layoutBoolU(span%d != 0)
	} else if delta < 0 && limit < start {
		span := uint64(int64(start)) - uint64(int64(limit))
		d := uint64(-(int64(delta) + 1)) + 1
		n = span/d + layoutBoolU(span%d != 0)
	}
	count, err := layoutCount(n, "range")
	if err != nil {
		return nil, err
	}
	out, err := rc.NewUninit(st.DType(), count)
	if err != nil {
		return nil, err
	}
	v := tensor.Data[T](out)
	x := start
	for i := range v {
		v[i] = x
		x += delta
	}
	return out, nil
}

func rangeUint[T ~uint8 | ~uint16 | ~uint32 | ~uint64](rc *RunContext, st, lt, dt *tensor.Tensor) (*tensor.Tensor, error) {
	start, limit, delta := tensor.Data[T](st)[0], tensor.Data[T](lt)[0], tensor.Data[T](dt)[0]
	if delta == 0 {
		return nil, fmt.Errorf("delta must not be zero")
	}
	var n uint64
	if limit > start {
		span, d := uint64(limit-start), uint64(delta)
		n = span/d + layoutBoolU(span%d != 0)
	}
	count, err := layoutCount(n, "range")
	if err != nil {
		return nil, err
	}
	out, err := rc.NewUninit(st.DType(), count)
	if err != nil {
		return nil, err
	}
	v := tensor.Data[T](out)
	x := start
	for i := range v {
		v[i] = x
		x += delta
	}
	return out, nil
}

func layoutBoolU(b bool) uint64 {
	if b {
		return 1
	}
	return 0
}
