package ops

import (
	"fmt"
	"math"
	"slices"

	"github.com/onyxrt/onyx/tensor"
)

// reduceOp names one of the ReduceXxx operators.
type reduceOp int

const (
	redSum reduceOp = iota
	redMean
	redMax
	redMin
	redProd
	redL1
	redL2
	redLogSum
	redLogSumExp
	redSumSquare
)

// reduceOps lists every reduction with the opset versions that changed its
// signature or types, and the version from which axes is an input rather
// than an attribute.
var reduceOps = []struct {
	name      string
	op        reduceOp
	versions  []int
	axesInput int
}{
	{"ReduceSum", redSum, []int{1, 11, 13}, 13},
	{"ReduceMean", redMean, []int{1, 11, 13, 18}, 18},
	{"ReduceMax", redMax, []int{1, 11, 12, 13, 18, 20}, 18}, // 20: bool
	{"ReduceMin", redMin, []int{1, 11, 12, 13, 18, 20}, 18}, // 20: bool
	{"ReduceProd", redProd, []int{1, 11, 13, 18}, 18},
	{"ReduceL1", redL1, []int{1, 11, 13, 18}, 18},
	{"ReduceL2", redL2, []int{1, 11, 13, 18}, 18},
	{"ReduceLogSum", redLogSum, []int{1, 11, 13, 18}, 18},
	{"ReduceLogSumExp", redLogSumExp, []int{1, 11, 13, 18}, 18},
	{"ReduceSumSquare", redSumSquare, []int{1, 11, 13, 18}, 18},
}

func registerReduce(r *Registry) {
	for _, ro := range reduceOps {
		for _, v := range ro.versions {
			r.Register(&Def{
				Name:  ro.name,
				Since: v,
				Build: buildReduce(ro.op, v >= ro.axesInput),
			})
		}
	}
	registerArgTopK(r)
	registerCumSum(r)
	registerResize(r)
	registerEinsum(r)
	registerDet(r)
}

// buildReduce returns the Build function of one reduction. axesInput says
// whether axes come from the optional second input (with
// noop_with_empty_axes) instead of the axes attribute.
func buildReduce(op reduceOp, axesInput bool) func(b *Builder) (Kernel, error) {
	return func(b *Builder) (Kernel, error) {
		keep := b.Int("keepdims", 1) != 0
		var attrAxes []int64
		noop := false
		if axesInput {
			noop = b.Int("noop_with_empty_axes", 0) != 0
			if b.Has("axes") {
				// Silently reducing every axis would be wrong, and ONNX
				// Runtime refuses such a node too.
				b.Fail("at opset %d, axes is the second input of %s, not an attribute", b.Opset, b.OpType)
			}
		} else {
			attrAxes = b.Ints("axes", nil)
		}
		if err := b.Err(); err != nil {
			return nil, err
		}
		return KernelFunc(func(rc *RunContext, inputs []*tensor.Tensor) ([]*tensor.Tensor, error) {
			if err := Need(inputs, 1); err != nil {
				return nil, err
			}
			x := inputs[0]
			axes := attrAxes
			if axesInput {
				if t := Opt(inputs, 1); t != nil {
					if t.Rank() > 1 {
						return nil, fmt.Errorf("axes must be 1-D, got shape %v", t.Shape())
					}
					a, err := t.AsInt64s()
					if err != nil {
						return nil, fmt.Errorf("axes: %w", err)
					}
					axes = a
				}
				if len(axes) == 0 && noop {
					// Reducing over no axis still applies the
					// elementwise part (ReduceL1 gives |x|,
					// ReduceSumSquare x², ...), as in ONNX Runtime and
					// the ONNX reference implementation.
					var none [8]bool
					y, err := reduceMask(rc, x, boolsBuf(none[:], x.Rank()), keep, op)
					if err != nil {
						return nil, err
					}
					return rc.Results(y), nil
				}
			}
			y, err := reduceTensor(rc, x, axes, keep, op)
			if err != nil {
				return nil, err
			}
			return rc.Results(y), nil
		}), nil
	}
}

// boolsBuf returns buf[:n] cleared when buf is long enough, else a new
// slice (see intsBuf).
func boolsBuf(buf []bool, n int) []bool {
	if n <= len(buf) {
		clear(buf[:n])
		return buf[:n]
	}
	return make([]bool, n)
}

// reduceTensor reduces x over axes (all axes when empty) with op.
func reduceTensor(rc *RunContext, x *tensor.Tensor, axes []int64, keep bool, op reduceOp) (*tensor.Tensor, error) {
	shape := x.Shape()
	rank := len(shape)
	var redBuf [8]bool
	red := boolsBuf(redBuf[:], rank)
	if len(axes) == 0 {
		for i := range red {
			red[i] = true
		}
	} else {
		var axBuf [8]int
		norm, err := normAxesInto(axBuf[:], axes, rank)
		if err != nil {
			return nil, err
		}
		for _, a := range norm {
			red[a] = true
		}
	}
	return reduceMask(rc, x, red, keep, op)
}

// reduceMask reduces x over the axes i where red[i] is set (possibly none).
func reduceMask(rc *RunContext, x *tensor.Tensor, red []bool, keep bool, op reduceOp) (*tensor.Tensor, error) {
	shape := x.Shape()
	var outBuf [8]int
	outShape := outBuf[:0]
	for i, d := range shape {
		switch {
		case !red[i]:
			outShape = append(outShape, d)
		case keep:
			outShape = append(outShape, 1)
		}
	}
	var p reducePlan
	p.init(shape, red)
	if x.DType() == tensor.Bool && (op == redMax || op == redMin) {
		// ReduceMax-20 / ReduceMin-20 on bool: any / all, through uint8.
		xb, err := x.Cast(tensor.Uint8)
		if err != nil {
			return nil, err
		}
		acc := make([]uint8, p.outLen)
		reduceIntInto(acc, tensor.Data[uint8](xb), &p, op)
		y, err := tensor.FromSlice(outShape, acc)
		if err != nil {
			return nil, err
		}
		return y.Cast(tensor.Bool)
	}
	xu, dt, err := Upcast(x)
	if err != nil {
		return nil, err
	}
	switch xu.DType() {
	case tensor.Float32, tensor.Float64, tensor.Int8, tensor.Int16, tensor.Int32, tensor.Int64,
		tensor.Uint8, tensor.Uint16, tensor.Uint32, tensor.Uint64:
	default:
		return nil, ErrDType("reduce", x.DType())
	}
	y, err := rc.NewUninit(xu.DType(), outShape...)
	if err != nil {
		return nil, err
	}
	switch s := xu.Data().(type) {
	case []float32:
		reduceFloatInto(y.Float32s(), s, &p, op)
	case []float64:
		reduceFloatInto(tensor.Data[float64](y), s, &p, op)
	case []int8:
		reduceIntInto(tensor.Data[int8](y), s, &p, op)
	case []int16:
		reduceIntInto(tensor.Data[int16](y), s, &p, op)
	case []int32:
		reduceIntInto(tensor.Data[int32](y), s, &p, op)
	case []int64:
		reduceIntInto(tensor.Data[int64](y), s, &p, op)
	case []uint8:
		reduceIntInto(tensor.Data[uint8](y), s, &p, op)
	case []uint16:
		reduceIntInto(tensor.Data[uint16](y), s, &p, op)
	case []uint32:
		reduceIntInto(tensor.Data[uint32](y), s, &p, op)
	case []uint64:
		reduceIntInto(tensor.Data[uint64](y), s, &p, op)
	}
	return Downcast(y, dt)
}

// maxReduceDims bounds the merged dimensions of a reducePlan (merging
// leaves at most rank, and reduced and kept dimensions alternate).
const maxReduceDims = 16

// reducePlan describes a reduction over a row-major tensor after merging
// adjacent dimensions that are both reduced or both kept and dropping
// size-1 dimensions. It is a value (arrays, not slices), so that it lives
// on the stack.
type reducePlan struct {
	n         int                 // number of merged dimensions (>= 1)
	dims      [maxReduceDims]int  // merged input dimensions
	red       [maxReduceDims]bool // whether each merged dimension is reduced
	outStride [maxReduceDims]int  // output stride of each merged dimension (0 when reduced)
	inLen     int                 // number of input elements
	outLen    int                 // number of output elements
	count     int                 // number of input elements folded into each output
	big       *reducePlanDims     // the dimensions when there are more than maxReduceDims
}

// reducePlanDims holds the dimensions of a plan of high rank.
type reducePlanDims struct {
	dims, outStride []int
	red             []bool
}

// dimsOf returns the plan's merged dimensions, reduced flags and output
// strides.
func (p *reducePlan) dimsOf() ([]int, []bool, []int) {
	if p.big != nil {
		return p.big.dims, p.big.red, p.big.outStride
	}
	return p.dims[:p.n], p.red[:p.n], p.outStride[:p.n]
}

func (p *reducePlan) init(shape []int, red []bool) {
	*p = reducePlan{inLen: 1, outLen: 1, count: 1}
	dims, reds := p.dims[:0], p.red[:0]
	if len(shape) > maxReduceDims {
		dims, reds = nil, nil
	}
	for i, d := range shape {
		p.inLen *= d
		if red[i] {
			p.count *= d
		} else {
			p.outLen *= d
		}
		if d == 1 {
			continue
		}
		if n := len(dims); n > 0 && reds[n-1] == red[i] {
			dims[n-1] *= d
			continue
		}
		dims = append(dims, d)
		reds = append(reds, red[i])
	}
	if len(dims) == 0 {
		dims, reds = append(dims, 1), append(reds, true)
	}
	outStride := p.outStride[:len(dims):len(dims)]
	if len(shape) > maxReduceDims {
		// Fresh slices and copies, so that the heap never points into p.
		big := &reducePlanDims{dims: slices.Clone(dims), outStride: make([]int, len(dims)), red: slices.Clone(reds)}
		p.big = big
		dims, reds, outStride = big.dims, big.red, big.outStride
	}
	p.n = len(dims)
	acc := 1
	for i := len(dims) - 1; i >= 0; i-- {
		outStride[i] = 0
		if !reds[i] {
			outStride[i] = acc
			acc *= dims[i]
		}
	}
}

// each calls fn for every run of the innermost merged dimension: input
// elements [src, src+n) go to output element dst when red is true, or to
// output elements [dst, dst+n) one by one when red is false.
func (p *reducePlan) each(fn func(src, dst, n int, red bool)) {
	if p.inLen == 0 {
		return
	}
	dims, reds, outStride := p.dimsOf()
	last := len(dims) - 1
	n, red := dims[last], reds[last]
	outer := p.inLen / n
	var idxBuf [maxReduceDims]int
	idx := intsBuf(idxBuf[:], last)
	src, dst := 0, 0
	for k := 0; k < outer; k++ {
		fn(src, dst, n, red)
		src += n
		for j := last - 1; j >= 0; j-- {
			idx[j]++
			dst += outStride[j]
			if idx[j] < dims[j] {
				break
			}
			dst -= outStride[j] * dims[j]
			idx[j] = 0
		}
	}
}

// reduceFloatInto reduces float data into dst, accumulating in float64.
func reduceFloatInto[T Float](dst, s []T, p *reducePlan, op reduceOp) {
	acc := getScratch[float64](p.outLen)
	reduceRun(*acc, s, p, op)
	for i, v := range *acc {
		dst[i] = T(v)
	}
	putScratch(acc)
}

// reduceIntInto reduces integer data into dst, in its own type, except for
// the reductions that go through logarithms or square roots.
func reduceIntInto[T Number](dst, s []T, p *reducePlan, op reduceOp) {
	switch op {
	case redL2, redLogSum, redLogSumExp:
		acc := getScratch[float64](p.outLen)
		reduceRun(*acc, s, p, op)
		for i, v := range *acc {
			dst[i] = T(v)
		}
		putScratch(acc)
		return
	}
	reduceRun(dst, s, p, op)
}

// reduceRun performs the reduction of s into acc (p.outLen elements, of
// the accumulator type A).
func reduceRun[T, A Number](acc []A, s []T, p *reducePlan, op reduceOp) {
	switch op {
	case redMax:
		fillSlice(acc, lowest[A]())
	case redMin:
		fillSlice(acc, highest[A]())
	case redProd:
		fillSlice(acc, 1)
	default:
		clear(acc)
	}
	var shift []A
	if op == redLogSumExp {
		// Shift by the maximum for stability; an infinite maximum (an
		// empty or all-infinite set) uses no shift.
		shift = make([]A, p.outLen)
		fillSlice(shift, lowest[A]())
		p.each(func(src, dst, n int, red bool) { accumulate(shift, s[src:src+n], dst, red, redMax, nil) })
		for i, m := range shift {
			if math.IsInf(float64(m), 0) || m != m {
				shift[i] = 0
			}
		}
	}
	p.each(func(src, dst, n int, red bool) { accumulate(acc, s[src:src+n], dst, red, op, shift) })
	switch op {
	case redMean:
		if p.count == 0 {
			if isFloatType[A]() {
				fillSlice(acc, A(math.NaN()))
			}
			return
		}
		c := A(p.count)
		for i := range acc {
			acc[i] /= c
		}
	case redL2:
		for i, v := range acc {
			acc[i] = A(math.Sqrt(float64(v)))
		}
	case redLogSum:
		for i, v := range acc {
			acc[i] = A(math.Log(float64(v)))
		}
	case redLogSumExp:
		for i, v := range acc {
			acc[i] = A(math.Log(float64(v)) + float64(shift[i]))
		}
	}
}

// accumulate folds xs into acc: into acc[dst] when red, else element-wise
// into acc[dst:dst+len(xs)]. shift is the per-output offset of
// LogSumExp.
func accumulate[T, A Number](acc []A, xs []T, dst int, red bool, op reduceOp, shift []A) {
	if red {
		a := acc[dst]
		switch op {
		case redSum, redMean, redLogSum:
			for _, v := range xs {
				a += A(v)
			}
		case redSumSquare, redL2:
			for _, v := range xs {
				a += A(v) * A(v)
			}
		case redL1:
			for _, v := range xs {
				w := A(v)
				if w < 0 {
					w = -w
				}
				a += w
			}
		case redProd:
			for _, v := range xs {
				a *= A(v)
			}
		case redMax:
			for _, v := range xs {
				if w := A(v); w > a || w != w {
					a = w
				}
			}
		case redMin:
			for _, v := range xs {
				if w := A(v); w < a || w != w {
					a = w
				}
			}
		case redLogSumExp:
			m := float64(shift[dst])
			for _, v := range xs {
				a += A(math.Exp(float64(A(v)) - m))
			}
		}
		acc[dst] = a
		return
	}
	as := acc[dst : dst+len(xs)]
	switch op {
	case redSum, redMean, redLogSum:
		for i, v := range xs {
			as[i] += A(v)
		}
	case redSumSquare, redL2:
		for i, v := range xs {
			as[i] += A(v) * A(v)
		}
	case redL1:
		for i, v := range xs {
			w := A(v)
			if w < 0 {
				w = -w
			}
			as[i] += w
		}
	case redProd:
		for i, v := range xs {
			as[i] *= A(v)
		}
	case redMax:
		for i, v := range xs {
			if w := A(v); w > as[i] || w != w {
				as[i] = w
			}
		}
	case redMin:
		for i, v := range xs {
			if w := A(v); w < as[i] || w != w {
				as[i] = w
			}
		}
	case redLogSumExp:
		ms := shift[dst : dst+len(xs)]
		for i, v := range xs {
			as[i] += A(math.Exp(float64(A(v)) - float64(ms[i])))
		}
	}
}

func fillSlice[A any](s []A, v A) {
	for i := range s {
		s[i] = v
	}
}

// isFloatType reports whether A is a floating-point type.
func isFloatType[A Number]() bool {
	var z A
	switch any(z).(type) {
	case float32, float64:
		return true
	}
	return false
}

// lowest returns the smallest value of A (-Inf for floats).
func lowest[A Number]() A {
	var z A
	switch p := any(&z).(type) {
	case *float32:
		*p = float32(math.Inf(-1))
	case *float64:
		*p = math.Inf(-1)
	case *int8:
		*p = math.MinInt8
	case *int16:
		*p = math.MinInt16
	case *int32:
		*p = math.MinInt32
	case *int64:
		*p = math.MinInt64
	}
	return z
}

// highest returns the largest value of A (+Inf for floats).
func highest[A Number]() A {
	var z A
	switch p := any(&z).(type) {
	case *float32:
		*p = float32(math.Inf(1))
	case *float64:
		*p = math.Inf(1)
	case *int8:
		*p = math.MaxInt8
	case *int16:
		*p = math.MaxInt16
	case *int32:
		*p = math.MaxInt32
	case *int64:
		*p = math.MaxInt64
	case *uint8:
		*p = math.MaxUint8
	case *uint16:
		*p = math.MaxUint16
	case *uint32:
		*p = math.MaxUint32
	case *uint64:
		*p = math.MaxUint64
	}
	return z
}

func convertSlice[S, D Number](s []S) []D {
	out := make([]D, len(s))
	for i, v := range s {
		out[i] = D(v)
	}
	return out
}
