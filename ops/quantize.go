package ops

import (
	"fmt"
	"math"
	"slices"

	"github.com/onyxrt/onyx/tensor"
)

// This file holds the linear quantization operators: QuantizeLinear,
// DequantizeLinear, DynamicQuantizeLinear, QLinearMatMul and QLinearConv
// (MatMulInteger lives in gemm.go, ConvInteger in conv.go).
//
// Integer semantics follow ONNX and ONNX Runtime: a real value v maps to
// saturate(roundHalfEven(v / scale) + zero_point) with the division in
// float32 and saturation to [0, 255] (uint8) or [-128, 127] (int8); NaN
// maps to the zero point. QLinearMatMul and QLinearConv subtract the zero
// points, accumulate products in int32 (wrapping on overflow, as the spec
// allows), and requantize each sum with the float32 multiplier
// scale_a * scale_b / scale_y.

func registerQuantize(r *Registry) {
	// 19: float16/bfloat16 scales (DequantizeLinear's output takes the
	// scale's type), float8 types, saturate. 21: blocked quantization
	// (block_size), QuantizeLinear's output_dtype, int16/uint16 (and
	// int4/uint4, which Onyx lacks) quantized types.
	for _, v := range []int{10, 13, 19, 21} {
		r.Register(
			&Def{Name: "QuantizeLinear", Since: v, Build: buildQuantizeLinear},
			&Def{Name: "DequantizeLinear", Since: v, Build: buildDequantizeLinear},
		)
	}
	r.Register(
		&Def{Name: "DynamicQuantizeLinear", Since: 11, Build: buildDynamicQuantizeLinear},
		&Def{Name: "QLinearMatMul", Since: 10, Build: buildQLinearMatMul},
		&Def{Name: "QLinearMatMul", Since: 21, Build: buildQLinearMatMul}, // float16/bfloat16 scales, float8
		&Def{Name: "QLinearConv", Since: 10, Build: buildQLinearConv},
	)
}

// quantType is the set of quantized element types (16-bit ones from
// QuantizeLinear-21).
type quantType interface {
	~int8 | ~uint8 | ~int16 | ~uint16
}

// qBounds returns the range of Q.
func qBounds[Q quantType]() (lo, hi float64) {
	var z Q
	switch any(z).(type) {
	case int8:
		return math.MinInt8, math.MaxInt8
	case int16:
		return math.MinInt16, math.MaxInt16
	case uint16:
		return 0, math.MaxUint16
	}
	return 0, math.MaxUint8
}

// quantizeValue returns saturate(roundHalfEven(v) + zp) within [lo, hi];
// NaN counts as 0.
func quantizeValue[Q quantType](v float32, zp int32, lo, hi float64) Q {
	r := math.RoundToEven(float64(v))
	if r != r {
		r = 0
	}
	r += float64(zp)
	r = min(max(r, lo), hi)
	return Q(int32(r))
}

// zeroPoints returns the values of a zero-point tensor of type uint8, int8
// or int32 as int32.
func zeroPoints(t *tensor.Tensor, what string) ([]int32, error) {
	switch s := t.Data().(type) {
	case []int32:
		return s, nil
	case []int16:
		return convertSlice[int16, int32](s), nil
	case []uint16:
		return convertSlice[uint16, int32](s), nil
	}
	return int8s(t, what)
}

// qParams is a per-tensor, per-axis or (block > 0) blocked quantization,
// one scale and zero point per channel. Without blocks, element i of the
// quantized tensor belongs to channel (i/inner) % len(scale); with blocks
// of size block along an axis of size dim (nb blocks), to the scale element
// at the same coordinates except coordinate/block along the axis.
type qParams struct {
	scale []float32
	zp    []int32
	inner int
	block int
	dim   int
	nb    int
}

func (p *qParams) channel(i int) int {
	if p.block == 0 {
		return (i / p.inner) % len(p.scale)
	}
	a := (i / p.inner) % p.dim
	o := i / (p.inner * p.dim)
	return (o*p.nb+a/p.block)*p.inner + i%p.inner
}

// scaleValues returns a scale tensor's values as float32 (float16 and
// bfloat16 scales exist from opset 19).
func scaleValues(scale *tensor.Tensor, what string) ([]float32, error) {
	switch scale.DType() {
	case tensor.Float32:
		return scale.Float32s(), nil
	case tensor.Float16, tensor.BFloat16:
		u, _, err := Upcast(scale)
		if err != nil {
			return nil, err
		}
		return u.Float32s(), nil
	}
	return nil, fmt.Errorf("%s must be float32, float16 or bfloat16, got %v", what, scale.DType())
}

// readQParams checks a scale (float32) and an optional zero point (nil
// means 0) against a tensor of the given shape: per-tensor when the scale
// has one element, else (only when perAxis) per-axis along axis, with 1-D
// scale and zero point of length shape[axis].
func readQParams(scale, zp *tensor.Tensor, shape []int, axis int64, perAxis bool) (qParams, error) {
	var p qParams
	sv, err := scaleValues(scale, "scale")
	if err != nil {
		return p, err
	}
	p.scale, p.inner = sv, 1
	if zp != nil {
		if !tensor.ShapeEqual(zp.Shape(), scale.Shape()) {
			return p, fmt.Errorf("zero point shape %v differs from scale shape %v", zp.Shape(), scale.Shape())
		}
		z, err := zeroPoints(zp, "zero point")
		if err != nil {
			return p, err
		}
		p.zp = z
	} else {
		p.zp = make([]int32, len(p.scale))
	}
	if len(p.scale) == 1 {
		return p, nil
	}
	if !perAxis {
		return p, fmt.Errorf("scale must be a scalar before opset 13, got shape %v", scale.Shape())
	}
	if scale.Rank() != 1 {
		return p, fmt.Errorf("scale must be a scalar or 1-D, got shape %v", scale.Shape())
	}
	ax, err := NormAxis(axis, len(shape))
	if err != nil {
		return p, err
	}
	if len(p.scale) != shape[ax] {
		return p, fmt.Errorf("scale has %d elements, input axis %d has size %d", len(p.scale), ax, shape[ax])
	}
	p.inner = prod(shape[ax+1:])
	return p, nil
}

// readBlockedQParams checks the scale and optional zero point of blocked
// quantization (opset 21, block_size > 0): they have the rank of the
// quantized tensor (shape) and its dimensions, except along axis where
// they have ceil(shape[axis]/block) elements.
func readBlockedQParams(scale, zp *tensor.Tensor, shape []int, axis int64, block int) (qParams, error) {
	var p qParams
	ax, err := NormAxis(axis, len(shape))
	if err != nil {
		return p, err
	}
	ss := scale.Shape()
	nb := (shape[ax] + block - 1) / block
	ok := len(ss) == len(shape)
	for i := 0; ok && i < len(ss); i++ {
		if i == ax {
			ok = ss[i] == nb
		} else {
			ok = ss[i] == shape[i]
		}
	}
	if !ok {
		return p, fmt.Errorf("scale shape %v does not fit input shape %v with block_size %d along axis %d", ss, shape, block, ax)
	}
	if p.scale, err = scaleValues(scale, "scale"); err != nil {
		return p, err
	}
	if zp != nil {
		if !tensor.ShapeEqual(zp.Shape(), ss) {
			return p, fmt.Errorf("zero point shape %v differs from scale shape %v", zp.Shape(), ss)
		}
		if p.zp, err = zeroPoints(zp, "zero point"); err != nil {
			return p, err
		}
	} else {
		p.zp = make([]int32, len(p.scale))
	}
	p.inner, p.block, p.dim, p.nb = prod(shape[ax+1:]), block, shape[ax], nb
	return p, nil
}

// qLinearAttrs are the attributes of QuantizeLinear/DequantizeLinear.
type qLinearAttrs struct {
	axis    int64
	perAxis bool
	block   int          // block_size (opset 21); 0: per tensor or per axis
	outType tensor.DType // output_dtype of QuantizeLinear-21; Undefined: from the zero point
}

func readQLinearAttrs(b *Builder) (qLinearAttrs, error) {
	var a qLinearAttrs
	var err error
	if a.axis, a.perAxis, err = axisAttr(b); err != nil {
		return a, err
	}
	if b.Opset >= 19 {
		b.Int("saturate", 1) // only changes float8 results; checked for its type
	}
	if b.Opset >= 21 {
		block := b.Int("block_size", 0)
		if block < 0 || block > math.MaxInt32 {
			b.Fail("block_size %d is invalid", block)
		}
		a.block = int(block)
		if b.OpType == "QuantizeLinear" {
			a.outType = tensor.DType(b.Int("output_dtype", 0))
		}
	}
	return a, b.Err()
}

// params reads the scale and zero point of x's quantization.
func (a qLinearAttrs) params(scale, zp *tensor.Tensor, shape []int) (qParams, error) {
	if a.block > 0 {
		return readBlockedQParams(scale, zp, shape, a.axis, a.block)
	}
	return readQParams(scale, zp, shape, a.axis, a.perAxis)
}

// quantizeInto writes saturate(round(x / scale) + zp) per channel to y.
func quantizeInto[Q quantType](rc *RunContext, x []float32, p qParams, y []Q) {
	lo, hi := qBounds[Q]()
	ewParallel(rc, len(x), grainCheap, func(s, e int) {
		for i := s; i < e; i++ {
			c := p.channel(i)
			y[i] = quantizeValue[Q](x[i]/p.scale[c], p.zp[c], lo, hi)
		}
	})
}

// dequantizeInto writes (x - zp) * scale per channel to y.
func dequantizeInto[T int8 | uint8 | int16 | uint16 | int32](rc *RunContext, x []T, p qParams, y []float32) {
	ewParallel(rc, len(x), grainCheap, func(s, e int) {
		for i := s; i < e; i++ {
			c := p.channel(i)
			y[i] = float32(int32(x[i])-p.zp[c]) * p.scale[c]
		}
	})
}

// floatInput returns x's elements as float32 (float16 and bfloat16 widen
// exactly, int32 rounds to nearest as ONNX Runtime's static_cast does).
func floatInput(x *tensor.Tensor) ([]float32, error) {
	switch s := x.Data().(type) {
	case []float32:
		return s, nil
	case []int32:
		out := make([]float32, len(s))
		for i, v := range s {
			out[i] = float32(v)
		}
		return out, nil
	case []tensor.Half, []tensor.BF16:
		u, _, err := Upcast(x)
		if err != nil {
			return nil, err
		}
		return u.Float32s(), nil
	}
	return nil, ErrDType("x", x.DType())
}

// axisAttr reads the axis attribute of QuantizeLinear/DequantizeLinear,
// which exists (and per-axis quantization with it) from opset 13.
func axisAttr(b *Builder) (axis int64, perAxis bool, err error) {
	if b.Opset < 13 {
		return 1, false, nil
	}
	axis = b.Int("axis", 1)
	return axis, true, b.Err()
}

// ---- QuantizeLinear ----

func buildQuantizeLinear(b *Builder) (Kernel, error) {
	attrs, err := readQLinearAttrs(b)
	if err != nil {
		return nil, err
	}
	outTypes := []tensor.DType{tensor.Uint8, tensor.Int8}
	if b.Opset >= 21 {
		outTypes = append(outTypes, tensor.Uint16, tensor.Int16)
	}
	if attrs.outType != tensor.Undefined && !slices.Contains(outTypes, attrs.outType) {
		return nil, fmt.Errorf("output_dtype %s is not supported", dtypeName(attrs.outType))
	}
	return KernelFunc(func(rc *RunContext, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
		if err := Need(in, 2); err != nil {
			return nil, err
		}
		X, S, Z := in[0], in[1], Opt(in, 2)
		ydt := tensor.Uint8
		if attrs.outType != tensor.Undefined {
			ydt = attrs.outType
		}
		if Z != nil {
			if err := checkDType("y_zero_point", Z, outTypes...); err != nil {
				return nil, err
			}
			if attrs.outType != tensor.Undefined && Z.DType() != attrs.outType {
				return nil, fmt.Errorf("y_zero_point has type %v, output_dtype is %v", Z.DType(), attrs.outType)
			}
			ydt = Z.DType()
		}
		p, err := attrs.params(S, Z, X.Shape())
		if err != nil {
			return nil, err
		}
		x, err := floatInput(X)
		if err != nil {
			return nil, err
		}
		y, err := tensor.New(ydt, X.Shape()...)
		if err != nil {
			return nil, err
		}
		switch ydt {
		case tensor.Int8:
			quantizeInto(rc, x, p, tensor.Data[int8](y))
		case tensor.Uint8:
			quantizeInto(rc, x, p, tensor.Data[uint8](y))
		case tensor.Int16:
			quantizeInto(rc, x, p, tensor.Data[int16](y))
		case tensor.Uint16:
			quantizeInto(rc, x, p, tensor.Data[uint16](y))
		}
		return rc.Results(y), nil
	}), nil
}

// ---- DequantizeLinear ----

func buildDequantizeLinear(b *Builder) (Kernel, error) {
	attrs, err := readQLinearAttrs(b)
	if err != nil {
		return nil, err
	}
	inTypes := []tensor.DType{tensor.Uint8, tensor.Int8, tensor.Int32}
	if b.Opset >= 21 {
		inTypes = append(inTypes, tensor.Uint16, tensor.Int16)
	}
	scaleTyped := b.Opset >= 19 // the output has the scale's type
	return KernelFunc(func(rc *RunContext, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
		if err := Need(in, 2); err != nil {
			return nil, err
		}
		X, S, Z := in[0], in[1], Opt(in, 2)
		if err := checkDType("x", X, inTypes...); err != nil {
			return nil, err
		}
		if Z != nil && Z.DType() != X.DType() {
			return nil, fmt.Errorf("x_zero_point has type %v, x has %v", Z.DType(), X.DType())
		}
		p, err := attrs.params(S, Z, X.Shape())
		if err != nil {
			return nil, err
		}
		if X.DType() == tensor.Int32 {
			for _, z := range p.zp {
				if z != 0 {
					return nil, fmt.Errorf("int32 input needs a zero x_zero_point, got %d", z)
				}
			}
		}
		y, err := tensor.New(tensor.Float32, X.Shape()...)
		if err != nil {
			return nil, err
		}
		switch x := X.Data().(type) {
		case []uint8:
			dequantizeInto(rc, x, p, y.Float32s())
		case []int8:
			dequantizeInto(rc, x, p, y.Float32s())
		case []int32:
			dequantizeInto(rc, x, p, y.Float32s())
		case []int16:
			dequantizeInto(rc, x, p, y.Float32s())
		case []uint16:
			dequantizeInto(rc, x, p, y.Float32s())
		}
		if scaleTyped && S.DType() != tensor.Float32 {
			if y, err = Downcast(y, S.DType()); err != nil {
				return nil, err
			}
		}
		return rc.Results(y), nil
	}), nil
}

// ---- DynamicQuantizeLinear ----

// dynamicQuantParams returns the uint8 scale and zero point that
// DynamicQuantizeLinear derives from x: the range [min(x), max(x)] widened
// to hold 0 maps onto [0, 255]. An all-zero (or empty) input gets scale 1,
// as in ONNX Runtime, instead of the spec formula's 0. NaNs are skipped.
func dynamicQuantParams(x []float32) (scale float32, zp int32) {
	var lo, hi float32
	for _, v := range x {
		if v < lo {
			lo = v
		}
		if v > hi {
			hi = v
		}
	}
	if lo == hi {
		return 1, 0
	}
	scale = (hi - lo) / 255
	z := math.RoundToEven(float64(0 - lo/scale))
	if z != z { // infinite range
		z = 0
	}
	return scale, int32(min(max(z, 0), 255))
}

func buildDynamicQuantizeLinear(b *Builder) (Kernel, error) {
	return KernelFunc(func(rc *RunContext, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
		if err := Need(in, 1); err != nil {
			return nil, err
		}
		X := in[0]
		if err := checkDType("x", X, tensor.Float32); err != nil {
			return nil, err
		}
		scale, zp := dynamicQuantParams(X.Float32s())
		y, err := tensor.New(tensor.Uint8, X.Shape()...)
		if err != nil {
			return nil, err
		}
		p := qParams{scale: []float32{scale}, zp: []int32{zp}, inner: 1}
		quantizeInto(rc, X.Float32s(), p, tensor.Data[uint8](y))
		return rc.Results(y, tensor.Scalar(scale), tensor.Scalar(uint8(zp))), nil
	}), nil
}

// ---- requantization ----

// requantizeInto writes saturate(round(float32(acc[i]) * mult(i)) + zp)
// to y.
func requantizeInto[Q quantType](rc *RunContext, acc []int32, mult func(i int) float32, zp int32, y []Q) {
	lo, hi := qBounds[Q]()
	ewParallel(rc, len(acc), grainCheap, func(s, e int) {
		for i := s; i < e; i++ {
			y[i] = quantizeValue[Q](float32(acc[i])*mult(i), zp, lo, hi)
		}
	})
}

// requantize allocates the output of shape shape with the type of
// zero point yz and fills it from acc.
func requantize(rc *RunContext, acc []int32, shape []int, mult func(i int) float32, yz *tensor.Tensor) (*tensor.Tensor, error) {
	zp, err := zeroPoints(yz, "y_zero_point")
	if err != nil {
		return nil, err
	}
	y, err := tensor.New(yz.DType(), shape...)
	if err != nil {
		return nil, err
	}
	switch yz.DType() {
	case tensor.Uint8:
		requantizeInto(rc, acc, mult, zp[0], tensor.Data[uint8](y))
	case tensor.Int8:
		requantizeInto(rc, acc, mult, zp[0], tensor.Data[int8](y))
	default:
		return nil, ErrDType("y_zero_point", yz.DType())
	}
	return y, nil
}

// scalarQParams checks a per-tensor scale (float32, one element) and zero
// point (one element of type zt) and returns the scale.
func scalarQParams(scale, zp *tensor.Tensor, zt tensor.DType, what string) (float32, error) {
	if scale.Len() != 1 {
		return 0, fmt.Errorf("%s_scale must be a scalar, got shape %v", what, scale.Shape())
	}
	sv, err := scaleValues(scale, what+"_scale")
	if err != nil {
		return 0, err
	}
	if zp.Len() != 1 {
		return 0, fmt.Errorf("%s_zero_point must be a scalar, got shape %v", what, zp.Shape())
	}
	if zp.DType() != zt {
		return 0, fmt.Errorf("%s_zero_point has type %v, want %v", what, zp.DType(), zt)
	}
	return sv[0], nil
}

// ---- QLinearMatMul ----

// expandQParam expands the quantization parameter data (of shape pshape)
// to shape: a single value, a 1-D vector along axis vec of shape, or a
// tensor that broadcasts to shape.
func expandQParam[T any](data []T, pshape, shape []int, vec int, what string) ([]T, error) {
	n := prod(shape)
	if len(data) == 1 {
		return broadcastTo(data, pshape, shape), nil
	}
	if len(pshape) == 1 && len(data) == shape[vec] {
		out := make([]T, n)
		inner := prod(shape[vec+1:])
		for i := range out {
			out[i] = data[(i/inner)%len(data)]
		}
		return out, nil
	}
	bs, err := tensor.BroadcastShapes(pshape, shape)
	if err != nil || !tensor.ShapeEqual(bs, shape) {
		return nil, fmt.Errorf("%s of shape %v does not fit %v", what, pshape, shape)
	}
	return broadcastTo(data, pshape, shape), nil
}

// matParams reads the scale and zero point of a QLinearMatMul operand of
// the given shape (rank >= 2). perRow says they vary along rows (operand
// a) rather than columns (operand b). They are returned expanded to the
// operand's shape with the reduced axis (columns of a, rows of b) of size
// 1, along with that reduced shape.
func matParams(scale, zp *tensor.Tensor, shape []int, perRow bool, what string) (s []float32, z []int32, red []int, err error) {
	sv, err := scaleValues(scale, what+"_scale")
	if err != nil {
		return nil, nil, nil, err
	}
	if !tensor.ShapeEqual(scale.Shape(), zp.Shape()) {
		return nil, nil, nil, fmt.Errorf("%s_zero_point shape %v differs from %s_scale shape %v", what, zp.Shape(), what, scale.Shape())
	}
	r := len(shape)
	red = append([]int{}, shape...)
	vec := r - 1
	if perRow {
		red[r-1], vec = 1, r-2
	} else {
		red[r-2] = 1
	}
	if s, err = expandQParam(sv, scale.Shape(), red, vec, what+"_scale"); err != nil {
		return nil, nil, nil, err
	}
	zv, err := zeroPoints(zp, what+"_zero_point")
	if err != nil {
		return nil, nil, nil, err
	}
	if z, err = expandQParam(zv, zp.Shape(), red, vec, what+"_zero_point"); err != nil {
		return nil, nil, nil, err
	}
	return s, z, red, nil
}

func buildQLinearMatMul(b *Builder) (Kernel, error) {
	return KernelFunc(func(rc *RunContext, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
		if err := Need(in, 8); err != nil {
			return nil, err
		}
		A, As, Az, B, Bs, Bz, Ys, Yz := in[0], in[1], in[2], in[3], in[4], in[5], in[6], in[7]
		if Az.DType() != A.DType() || Bz.DType() != B.DType() {
			return nil, fmt.Errorf("zero point types (%v, %v) differ from input types (%v, %v)", Az.DType(), Bz.DType(), A.DType(), B.DType())
		}
		a, err := int8s(A, "a")
		if err != nil {
			return nil, err
		}
		bv, err := int8s(B, "b")
		if err != nil {
			return nil, err
		}
		s, err := matmulShape(A.Shape(), B.Shape())
		if err != nil {
			return nil, err
		}
		if err := checkDType("y_zero_point", Yz, tensor.Uint8, tensor.Int8); err != nil {
			return nil, err
		}
		ys, err := scalarQParams(Ys, Yz, Yz.DType(), "y")
		if err != nil {
			return nil, err
		}
		// Operands as matrices: a [K] is [1, K], b [K] is [K, 1].
		ash, bsh := A.Shape(), B.Shape()
		if len(ash) == 1 {
			ash = []int{1, ash[0]}
		}
		if len(bsh) == 1 {
			bsh = []int{bsh[0], 1}
		}
		sa, za, ared, err := matParams(As, Az, ash, true, "a")
		if err != nil {
			return nil, err
		}
		sb, zb, bred, err := matParams(Bs, Bz, bsh, false, "b")
		if err != nil {
			return nil, err
		}
		m, k, n := s.m, s.k, s.n
		for i := range a {
			a[i] -= za[i/k] // k > 0 when a has elements
		}
		for i := range bv {
			bv[i] -= zb[(i/(k*n))*n+i%n]
		}
		acc := make([]int32, prod(s.out))
		matmulRun(1, s, a, bv, acc)
		// Batch offsets of the per-row and per-column parameters.
		ps, err := matmulShape(ared, bred)
		if err != nil {
			return nil, err
		}
		mult := func(i int) float32 {
			bi, r, j := i/(m*n), (i/n)%m, i%n
			oa, ob := bi*m, 0
			if !ps.flat {
				oa, ob = ps.offA[bi], ps.offB[bi]
			}
			return sa[oa+r] * sb[ob+j] / ys
		}
		y, err := requantize(rc, acc, s.out, mult, Yz)
		if err != nil {
			return nil, err
		}
		return rc.Results(y), nil
	}), nil
}

// ---- QLinearConv ----

func buildQLinearConv(b *Builder) (Kernel, error) {
	a, err := readConvAttrs(b)
	if err != nil {
		return nil, err
	}
	return KernelFunc(func(rc *RunContext, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
		if err := Need(in, 8); err != nil {
			return nil, err
		}
		X, Xs, Xz, W, Ws, Wz, Ys, Yz, B := in[0], in[1], in[2], in[3], in[4], in[5], in[6], in[7], Opt(in, 8)
		p, err := a.plan(X.Shape(), W.Shape())
		if err != nil {
			return nil, err
		}
		x, err := int8s(X, "x")
		if err != nil {
			return nil, err
		}
		w, err := int8s(W, "w")
		if err != nil {
			return nil, err
		}
		xs, err := scalarQParams(Xs, Xz, X.DType(), "x")
		if err != nil {
			return nil, err
		}
		if err := checkDType("y_zero_point", Yz, tensor.Uint8, tensor.Int8); err != nil {
			return nil, err
		}
		ys, err := scalarQParams(Ys, Yz, Yz.DType(), "y")
		if err != nil {
			return nil, err
		}
		// w_scale and w_zero_point: per tensor or per output channel.
		wp, err := readQParams(Ws, Wz, W.Shape(), 0, true)
		if err != nil {
			return nil, fmt.Errorf("w_scale/w_zero_point: %w", err)
		}
		if Wz.DType() != W.DType() {
			return nil, fmt.Errorf("w_zero_point has type %v, w has %v", Wz.DType(), W.DType())
		}
		xz, err := zeroPoints(Xz, "x_zero_point")
		if err != nil {
			return nil, err
		}
		for i := range x {
			x[i] -= xz[0]
		}
		for i := range w {
			w[i] -= wp.zp[wp.channel(i)]
		}
		var bias []int32
		if B != nil {
			if B.DType() != tensor.Int32 || B.Rank() != 1 || B.Len() != p.m {
				return nil, fmt.Errorf("bias B must be int32 of shape [%d], got %v %v", p.m, B.DType(), B.Shape())
			}
			bias = tensor.Data[int32](B)
		}
		out := p.outShape()
		acc := make([]int32, prod(out))
		convRun(nil, 1, p, x, w, bias, acc, nil)
		mults := make([]float32, p.m)
		for c := range mults {
			mults[c] = xs * wp.scale[c%len(wp.scale)] / ys
		}
		mult := func(i int) float32 { return mults[(i/p.outSize)%p.m] }
		y, err := requantize(rc, acc, out, mult, Yz)
		if err != nil {
			return nil, err
		}
		return rc.Results(y), nil
	}), nil
}
