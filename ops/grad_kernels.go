package ops

import (
	"fmt"
	"math"

	"github.com/onyxrt/onyx/tensor"
)

// This file holds the backward-only kernels of domain GradDomain that the
// gradient rules of grad_elementwise.go and grad_linear.go emit:
//
//	SumToShape(x, shape)                     sum x over the dims it was broadcast along
//	ConstantLike(x) value=v                  a tensor like x filled with v
//	Scale(x) scale=s                         s*x
//	CastLike(x, like)                        x converted to like's element type
//	UnaryGrad(dy, x, y) op=..., alpha=...    dy * f'(x) for a one-input activation
//	ClipGrad(dy, x, [min], [max])            dy where min <= x <= max, else 0
//	PowGrad(dy, x, p) -> (dx, dp)            Pow's partial derivatives (broadcast shape)
//	MaxMinGrad(dy, x1..xn) mode=max|min      dy routed to the first input that won
//	MatMulGrad(dy, a, b) -> (da, db)         numpy matmul (1-D and batched)
//	GemmGrad(dy, a, b, [c]) -> (da, db, [dc]) Gemm with transA/transB/alpha/beta
//	ReduceGrad(dy, shape, [axes])            ReduceSum/ReduceMean broadcast back
//	ConcatGrad(dy, shape1..shapen) axis=a    dy cut back into Concat's pieces
//	SoftmaxGrad(dy, y), LogSoftmaxGrad(dy, y) axis=a, coerce=0|1
//	SoftmaxCrossEntropyLossGrad(dloss, logp, labels, [weight])
//	NegativeLogLikelihoodLossGrad(dloss, x, labels, [weight])
//
// They are registered at version 1 of GradDomain. All take float32 and
// float64 (float16 and bfloat16 through float32) unless said otherwise.

func registerGradKernels(r *Registry) {
	defs := []struct {
		name  string
		build func(b *Builder) (Kernel, error)
	}{
		{"SumToShape", buildSumToShape},
		{"ConstantLike", buildConstantLike},
		{"Scale", buildScale},
		{"CastLike", buildGradCastLike},
		{"UnaryGrad", buildUnaryGrad},
		{"ClipGrad", buildClipGrad},
		{"PowGrad", buildPowGrad},
		{"MaxMinGrad", buildMaxMinGrad},
		{"MatMulGrad", buildMatMulGrad},
		{"GemmGrad", buildGemmGrad},
		{"ReduceGrad", buildReduceGrad},
		{"ConcatGrad", buildConcatGrad},
		{"SoftmaxGrad", buildSoftmaxGrad(false)},
		{"LogSoftmaxGrad", buildSoftmaxGrad(true)},
		{"SoftmaxCrossEntropyLossGrad", buildLossGrad(true)},
		{"NegativeLogLikelihoodLossGrad", buildLossGrad(false)},
	}
	for _, d := range defs {
		r.Register(&Def{Domain: GradDomain, Name: d.name, Since: 1, Build: d.build})
	}
}

// gradShapeArg reads a 1-D integer shape tensor.
func gradShapeArg(t *tensor.Tensor, what string) ([]int, error) {
	if t.Rank() > 1 {
		return nil, fmt.Errorf("%s must be a 1-D shape, got shape %v", what, t.Shape())
	}
	v, err := t.AsInt64s()
	if err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	out := make([]int, len(v))
	for i, d := range v {
		if d < 0 {
			return nil, fmt.Errorf("%s %v has a negative dimension", what, v)
		}
		out[i] = int(d)
	}
	return out, nil
}

// numericInputs fails unless every non-nil tensor has a numeric element
// type (the kernels that compute in float64 read them with Float64s).
func numericInputs(op string, ts ...*tensor.Tensor) error {
	for _, t := range ts {
		if t != nil && !t.DType().IsNumeric() {
			return ErrDType(op, t.DType())
		}
	}
	return nil
}

// checkSize fails when a tensor of shape and element type dt would be
// larger than tensor.New allows.
func checkSize(shape []int, dt tensor.DType) error {
	n, err := tensor.NumElements(shape)
	if err != nil {
		return err
	}
	if sz := dt.Size(); sz > 0 && n > tensor.MaxBytes/sz {
		return fmt.Errorf("shape %v: %w", shape, tensor.ErrTooLarge)
	}
	return nil
}

// ---- SumToShape ----

func buildSumToShape(b *Builder) (Kernel, error) {
	return KernelFunc(func(rc *RunContext, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
		if err := Need(in, 2); err != nil {
			return nil, err
		}
		shape, err := gradShapeArg(in[1], "shape")
		if err != nil {
			return nil, err
		}
		y, err := sumToShape(in[0], shape)
		if err != nil {
			return nil, err
		}
		return rc.Results(y), nil
	}), nil
}

// sumToShape sums x over the dimensions along which a tensor of shape
// was broadcast to x's shape, and returns the result with that shape.
func sumToShape(x *tensor.Tensor, shape []int) (*tensor.Tensor, error) {
	xs := x.Shape()
	if len(shape) > len(xs) {
		return nil, fmt.Errorf("cannot sum shape %v down to the larger rank of %v", xs, shape)
	}
	off := len(xs) - len(shape)
	red := make([]bool, len(xs))
	reduce := false
	for i := range xs {
		switch {
		case i < off:
			red[i] = true
		case shape[i-off] == xs[i]:
		case shape[i-off] == 1:
			red[i] = true
		default:
			return nil, fmt.Errorf("shape %v does not broadcast to %v", shape, xs)
		}
		reduce = reduce || red[i]
	}
	if !reduce {
		return x.Clone().Reshape(shape...)
	}
	y, err := reduceMask(nil, x, red, true, redSum)
	if err != nil {
		return nil, err
	}
	return y.Reshape(shape...)
}

// ---- ConstantLike, Scale, CastLike ----

func buildConstantLike(b *Builder) (Kernel, error) {
	v := float64(b.Float("value", 0))
	if err := b.Err(); err != nil {
		return nil, err
	}
	return KernelFunc(func(rc *RunContext, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
		if err := Need(in, 1); err != nil {
			return nil, err
		}
		x := in[0]
		if !x.DType().IsNumeric() {
			return nil, ErrDType("ConstantLike", x.DType())
		}
		f, err := tensor.New(tensor.Float64, x.Shape()...)
		if err != nil {
			return nil, err
		}
		if v != 0 {
			d := tensor.Data[float64](f)
			for i := range d {
				d[i] = v
			}
		}
		return rc.one(f.Cast(x.DType()))
	}), nil
}

func buildScale(b *Builder) (Kernel, error) {
	s := float64(b.Float("scale", 1))
	if err := b.Err(); err != nil {
		return nil, err
	}
	return halfWrap(func(rc *RunContext, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
		if err := Need(in, 1); err != nil {
			return nil, err
		}
		switch x := in[0].Data().(type) {
		case []float32:
			return rc.Results(tensor.From(in[0].Shape(), scaled(x, float32(s)))), nil
		case []float64:
			return rc.Results(tensor.From(in[0].Shape(), scaled(x, s))), nil
		}
		return nil, ErrDType("Scale", in[0].DType())
	}), nil
}

func scaled[T Float](x []T, s T) []T {
	out := make([]T, len(x))
	for i, v := range x {
		out[i] = s * v
	}
	return out
}

func buildGradCastLike(b *Builder) (Kernel, error) {
	return KernelFunc(func(rc *RunContext, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
		if err := Need(in, 2); err != nil {
			return nil, err
		}
		if in[0].DType() == in[1].DType() {
			return rc.Results(in[0].Clone()), nil
		}
		return rc.one(in[0].Cast(in[1].DType()))
	}), nil
}

// ---- UnaryGrad ----

// unaryDerivs maps an activation to the function giving dx from dy, the
// input x and the output y, for attributes alpha and beta.
var unaryDerivs = map[string]func(alpha, beta float64) func(dy, x, y float64) float64{
	"Exp": func(_, _ float64) func(dy, x, y float64) float64 {
		return func(dy, _, y float64) float64 { return dy * y }
	},
	"Log": func(_, _ float64) func(dy, x, y float64) float64 {
		return func(dy, x, _ float64) float64 { return dy / x }
	},
	"Sqrt": func(_, _ float64) func(dy, x, y float64) float64 {
		return func(dy, _, y float64) float64 { return dy / (2 * y) }
	},
	"Reciprocal": func(_, _ float64) func(dy, x, y float64) float64 {
		return func(dy, _, y float64) float64 { return -dy * y * y }
	},
	"Relu": func(_, _ float64) func(dy, x, y float64) float64 {
		return func(dy, x, _ float64) float64 {
			if x > 0 {
				return dy
			}
			return 0
		}
	},
	"LeakyRelu": func(alpha, _ float64) func(dy, x, y float64) float64 {
		return func(dy, x, _ float64) float64 {
			if x > 0 {
				return dy
			}
			return alpha * dy
		}
	},
	"Sigmoid": func(_, _ float64) func(dy, x, y float64) float64 {
		return func(dy, _, y float64) float64 { return dy * y * (1 - y) }
	},
	"Tanh": func(_, _ float64) func(dy, x, y float64) float64 {
		return func(dy, _, y float64) float64 { return dy * (1 - y*y) }
	},
	"Softplus": func(_, _ float64) func(dy, x, y float64) float64 {
		return func(dy, x, _ float64) float64 { return dy * sigmoid64(x) }
	},
	"Elu": func(alpha, _ float64) func(dy, x, y float64) float64 {
		return func(dy, x, y float64) float64 {
			if x > 0 {
				return dy
			}
			return dy * (y + alpha)
		}
	},
	"Abs": func(_, _ float64) func(dy, x, y float64) float64 {
		return func(dy, x, _ float64) float64 {
			switch {
			case x > 0:
				return dy
			case x < 0:
				return -dy
			}
			return 0
		}
	},
}

func buildUnaryGrad(b *Builder) (Kernel, error) {
	op := b.String("op", "")
	alpha := float64(b.Float("alpha", 0))
	beta := float64(b.Float("beta", 0))
	if err := b.Err(); err != nil {
		return nil, err
	}
	mk, ok := unaryDerivs[op]
	if !ok {
		return nil, fmt.Errorf("UnaryGrad: unknown op %q", op)
	}
	f := mk(alpha, beta)
	return halfWrap(func(rc *RunContext, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
		if err := Need(in, 1); err != nil {
			return nil, err
		}
		dy, x, y := in[0], Opt(in, 1), Opt(in, 2)
		for _, t := range []*tensor.Tensor{x, y} {
			if t != nil && !tensor.ShapeEqual(t.Shape(), dy.Shape()) {
				return nil, fmt.Errorf("UnaryGrad(%s): shape %v differs from the gradient's %v", op, t.Shape(), dy.Shape())
			}
			if t != nil && t.DType() != dy.DType() {
				return nil, fmt.Errorf("UnaryGrad(%s): element types differ (%v and %v)", op, dy.DType(), t.DType())
			}
		}
		if op == "Relu" && (x != nil || y != nil) {
			// dy where the activation is positive: x > 0 exactly where
			// y = max(x, 0) > 0, so either input will do.
			ref := x
			if ref == nil {
				ref = y
			}
			switch dy.DType() {
			case tensor.Float32:
				return reluGradT[float32](rc, dy, ref)
			case tensor.Float64:
				return reluGradT[float64](rc, dy, ref)
			}
		}
		switch dy.DType() {
		case tensor.Float32:
			return unaryGradT[float32](rc, dy, x, y, f)
		case tensor.Float64:
			return unaryGradT[float64](rc, dy, x, y, f)
		}
		return nil, ErrDType("UnaryGrad", dy.DType())
	}), nil
}

func unaryGradT[T Float](rc *RunContext, dy, x, y *tensor.Tensor, f func(dy, x, y float64) float64) ([]*tensor.Tensor, error) {
	g := tensor.Data[T](dy)
	xs, ys := optData[T](x), optData[T](y)
	res, err := rc.NewUninit(dy.DType(), dy.Shape()...)
	if err != nil {
		return nil, err
	}
	out := tensor.Data[T](res)
	ewParallel(rc, len(g), grainHeavy, func(lo, hi int) {
		for i := lo; i < hi; i++ {
			var xv, yv float64
			if xs != nil {
				xv = float64(xs[i])
			}
			if ys != nil {
				yv = float64(ys[i])
			}
			out[i] = T(f(float64(g[i]), xv, yv))
		}
	})
	return rc.Results(res), nil
}

// reluGradT is UnaryGrad for Relu: dy where ref (Relu's input or output)
// is positive, else 0.
func reluGradT[T Float](rc *RunContext, dy, ref *tensor.Tensor) ([]*tensor.Tensor, error) {
	g, r := tensor.Data[T](dy), tensor.Data[T](ref)
	res, err := rc.NewUninit(dy.DType(), dy.Shape()...)
	if err != nil {
		return nil, err
	}
	out := tensor.Data[T](res)
	ewParallel(rc, len(g), grainCheap, func(lo, hi int) {
		switch gs := any(g).(type) {
		case []float32:
			reluGradLoop32(gs[lo:hi], any(r).([]float32)[lo:hi], any(out).([]float32)[lo:hi])
		case []float64:
			reluGradLoop64(gs[lo:hi], any(r).([]float64)[lo:hi], any(out).([]float64)[lo:hi])
		}
	})
	return rc.Results(res), nil
}

// reluGradLoop32 sets out to g where r > 0, else 0, through a bit mask:
// the sign of r is random, so a branch on it is mispredicted half the
// time.
func reluGradLoop32(g, r, out []float32) {
	r, out = r[:len(g)], out[:len(g)]
	for i, v := range g {
		var keep uint32
		if r[i] > 0 {
			keep = ^uint32(0)
		}
		out[i] = math.Float32frombits(math.Float32bits(v) & keep)
	}
}

// reluGradLoop64 is reluGradLoop32 for float64.
func reluGradLoop64(g, r, out []float64) {
	r, out = r[:len(g)], out[:len(g)]
	for i, v := range g {
		var keep uint64
		if r[i] > 0 {
			keep = ^uint64(0)
		}
		out[i] = math.Float64frombits(math.Float64bits(v) & keep)
	}
}

// ---- ClipGrad ----

func buildClipGrad(b *Builder) (Kernel, error) {
	lo := float64(b.Float("min", float32(math.Inf(-1))))
	hi := float64(b.Float("max", float32(math.Inf(1))))
	if err := b.Err(); err != nil {
		return nil, err
	}
	return KernelFunc(func(rc *RunContext, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
		if err := Need(in, 2); err != nil {
			return nil, err
		}
		dy, x := in[0], in[1]
		if err := numericInputs("ClipGrad", in...); err != nil {
			return nil, err
		}
		if !tensor.ShapeEqual(dy.Shape(), x.Shape()) {
			return nil, fmt.Errorf("ClipGrad: x shape %v differs from the gradient's %v", x.Shape(), dy.Shape())
		}
		l, h := lo, hi
		for i, p := range []*float64{&l, &h} {
			t := Opt(in, 2+i)
			if t == nil {
				continue
			}
			if t.Len() != 1 {
				return nil, fmt.Errorf("ClipGrad: bound has shape %v, want a scalar", t.Shape())
			}
			*p = t.Float64s()[0]
		}
		g, xs := dy.Float64s(), x.Float64s()
		for i, v := range xs {
			if !(v >= l && v <= h) {
				g[i] = 0
			}
		}
		return rc.one(tensor.From(dy.Shape(), g).Cast(dy.DType()))
	}), nil
}

// ---- PowGrad ----

func buildPowGrad(b *Builder) (Kernel, error) {
	return KernelFunc(func(rc *RunContext, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
		if err := Need(in, 3); err != nil {
			return nil, err
		}
		dy, x, p := in[0], in[1], in[2]
		if err := numericInputs("PowGrad", in...); err != nil {
			return nil, err
		}
		shape, err := tensor.BroadcastShapes(x.Shape(), p.Shape())
		if err != nil {
			return nil, err
		}
		if !tensor.ShapeEqual(shape, dy.Shape()) {
			return nil, fmt.Errorf("PowGrad: gradient shape %v differs from the broadcast shape %v", dy.Shape(), shape)
		}
		g := dy.Float64s()
		xs := broadcastTo(x.Float64s(), x.Shape(), shape)
		ps := broadcastTo(p.Float64s(), p.Shape(), shape)
		dx, dp := make([]float64, len(g)), make([]float64, len(g))
		for i, gv := range g {
			xv, pv := xs[i], ps[i]
			dx[i] = gv * pv * math.Pow(xv, pv-1)
			if xv != 0 {
				dp[i] = gv * math.Pow(xv, pv) * math.Log(xv)
			}
		}
		dxT, err := tensor.From(shape, dx).Cast(x.DType())
		if err != nil {
			return nil, err
		}
		var dpT *tensor.Tensor
		if p.DType().IsFloat() {
			if dpT, err = tensor.From(shape, dp).Cast(p.DType()); err != nil {
				return nil, err
			}
		} else if dpT, err = tensor.New(p.DType(), shape...); err != nil {
			return nil, err
		}
		return rc.Results(dxT, dpT), nil
	}), nil
}

// ---- MaxMinGrad ----

func buildMaxMinGrad(b *Builder) (Kernel, error) {
	mode := b.String("mode", "max")
	if err := b.Err(); err != nil {
		return nil, err
	}
	if mode != "max" && mode != "min" {
		return nil, fmt.Errorf("MaxMinGrad: mode %q is not max or min", mode)
	}
	nOut := b.NumOutputs
	return KernelFunc(func(rc *RunContext, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
		if err := Need(in, 1+nOut); err != nil {
			return nil, err
		}
		if err := numericInputs("MaxMinGrad", in...); err != nil {
			return nil, err
		}
		dy := in[0]
		shape := dy.Shape()
		g := dy.Float64s()
		xs := make([][]float64, nOut)
		for i := range xs {
			x := in[1+i]
			if bs, err := tensor.BroadcastShapes(x.Shape(), shape); err != nil || !tensor.ShapeEqual(bs, shape) {
				return nil, fmt.Errorf("MaxMinGrad: input %d of shape %v does not broadcast to %v", i+1, x.Shape(), shape)
			}
			xs[i] = broadcastTo(x.Float64s(), x.Shape(), shape)
		}
		outs := make([][]float64, nOut)
		for i := range outs {
			outs[i] = make([]float64, len(g))
		}
		for e, gv := range g {
			best := 0
			for i := 1; i < nOut; i++ {
				v, w := xs[i][e], xs[best][e]
				if (mode == "max" && v > w) || (mode == "min" && v < w) {
					best = i
				}
			}
			outs[best][e] = gv
		}
		res := make([]*tensor.Tensor, nOut)
		for i, o := range outs {
			t, err := tensor.From(shape, o).Cast(dy.DType())
			if err != nil {
				return nil, err
			}
			res[i] = t
		}
		return res, nil
	}), nil
}

// ---- MatMulGrad ----

func buildMatMulGrad(b *Builder) (Kernel, error) {
	return halfWrap(func(rc *RunContext, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
		if err := Need(in, 3); err != nil {
			return nil, err
		}
		dy, A, B := in[0], in[1], in[2]
		if err := sameDType("MatMulGrad", dy, A, B); err != nil {
			return nil, err
		}
		s, err := matmulShape(A.Shape(), B.Shape())
		if err != nil {
			return nil, err
		}
		if !tensor.ShapeEqual(s.out, dy.Shape()) {
			return nil, fmt.Errorf("MatMulGrad: gradient shape %v differs from the product's %v", dy.Shape(), s.out)
		}
		switch dy.DType() {
		case tensor.Float32:
			return matmulGradT[float32](s, dy, A, B), nil
		case tensor.Float64:
			return matmulGradT[float64](s, dy, A, B), nil
		}
		return nil, ErrDType("MatMulGrad", dy.DType())
	}), nil
}

// matmulGradT computes dA = dY·Bᵀ and dB = Aᵀ·dY for each batch entry,
// accumulating over the batch entries that broadcasting mapped onto the
// same matrix of A or B.
func matmulGradT[T Float](s *mmShape, dy, A, B *tensor.Tensor) []*tensor.Tensor {
	g, a, bb := tensor.Data[T](dy), tensor.Data[T](A), tensor.Data[T](B)
	da, db := make([]T, len(a)), make([]T, len(bb))
	m, k, n := s.m, s.k, s.n
	if s.flat {
		rows := s.batch * m
		gemmT(false, true, rows, k, n, 1, g, n, bb, n, 0, da, k)
		gemmT(true, false, k, n, rows, 1, a, k, g, n, 0, db, n)
	} else {
		for i := 0; i < s.batch; i++ {
			gi := g[i*m*n:]
			gemmT(false, true, m, k, n, 1, gi, n, bb[s.offB[i]:], n, 1, da[s.offA[i]:], k)
			gemmT(true, false, k, n, m, 1, a[s.offA[i]:], k, gi, n, 1, db[s.offB[i]:], n)
		}
	}
	return []*tensor.Tensor{tensor.From(A.Shape(), da), tensor.From(B.Shape(), db)}
}

// ---- GemmGrad ----

func buildGemmGrad(b *Builder) (Kernel, error) {
	alpha := b.Float("alpha", 1)
	beta := b.Float("beta", 1)
	transA := b.Int("transA", 0) != 0
	transB := b.Int("transB", 0) != 0
	if err := b.Err(); err != nil {
		return nil, err
	}
	return halfWrap(func(rc *RunContext, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
		if err := Need(in, 3); err != nil {
			return nil, err
		}
		dy, A, B, C := in[0], in[1], in[2], Opt(in, 3)
		if err := sameDType("GemmGrad", dy, A, B, C); err != nil {
			return nil, err
		}
		if A.Rank() != 2 || B.Rank() != 2 || dy.Rank() != 2 {
			return nil, fmt.Errorf("GemmGrad: A, B and the gradient must be 2-D, got %v, %v, %v", A.Shape(), B.Shape(), dy.Shape())
		}
		m, k := A.Shape()[0], A.Shape()[1]
		if transA {
			m, k = k, m
		}
		n := B.Shape()[1]
		if transB {
			n = B.Shape()[0]
		}
		if !tensor.ShapeEqual(dy.Shape(), []int{m, n}) {
			return nil, fmt.Errorf("GemmGrad: gradient shape %v, want [%d %d]", dy.Shape(), m, n)
		}
		var outs []*tensor.Tensor
		switch dy.DType() {
		case tensor.Float32:
			outs = gemmGradT[float32](dy, A, B, transA, transB, m, n, k, float32(alpha))
		case tensor.Float64:
			outs = gemmGradT[float64](dy, A, B, transA, transB, m, n, k, float64(alpha))
		default:
			return nil, ErrDType("GemmGrad", dy.DType())
		}
		if C != nil {
			dc, err := sumToShape(dy, C.Shape())
			if err != nil {
				return nil, err
			}
			if beta != 1 {
				switch d := dc.Data().(type) {
				case []float32:
					dc = tensor.From(dc.Shape(), scaled(d, beta))
				case []float64:
					dc = tensor.From(dc.Shape(), scaled(d, float64(beta)))
				}
			}
			outs = append(outs, dc)
		}
		return outs, nil
	}), nil
}

// gemmGradT returns dA and dB of Y = alpha*op(A)*op(B) (+ beta*C).
func gemmGradT[T Float](dy, A, B *tensor.Tensor, transA, transB bool, m, n, k int, alpha T) []*tensor.Tensor {
	g, a, bb := tensor.Data[T](dy), tensor.Data[T](A), tensor.Data[T](B)
	lda, ldb := A.Shape()[1], B.Shape()[1]
	da, db := make([]T, len(a)), make([]T, len(bb))
	if !transA { // dA (m×k) = alpha * dY · op(B)ᵀ
		gemmT(false, !transB, m, k, n, alpha, g, n, bb, ldb, 0, da, k)
	} else { // dA (k×m) = alpha * op(B) · dYᵀ
		gemmT(transB, true, k, m, n, alpha, bb, ldb, g, n, 0, da, m)
	}
	if !transB { // dB (k×n) = alpha * op(A)ᵀ · dY
		gemmT(!transA, false, k, n, m, alpha, a, lda, g, n, 0, db, n)
	} else { // dB (n×k) = alpha * dYᵀ · op(A)
		gemmT(true, transA, n, k, m, alpha, g, n, a, lda, 0, db, k)
	}
	return []*tensor.Tensor{tensor.From(A.Shape(), da), tensor.From(B.Shape(), db)}
}

// ---- ReduceGrad ----

func buildReduceGrad(b *Builder) (Kernel, error) {
	attrAxes := b.Ints("axes", nil)
	keep := b.Int("keepdims", 1) != 0
	noop := b.Int("noop_with_empty_axes", 0) != 0
	mean := b.Int("mean", 0) != 0
	if err := b.Err(); err != nil {
		return nil, err
	}
	return halfWrap(func(rc *RunContext, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
		if err := Need(in, 2); err != nil {
			return nil, err
		}
		dy := in[0]
		shape, err := gradShapeArg(in[1], "shape")
		if err != nil {
			return nil, err
		}
		axes := attrAxes
		if t := Opt(in, 2); t != nil {
			if axes, err = t.AsInt64s(); err != nil {
				return nil, fmt.Errorf("axes: %w", err)
			}
		}
		red := make([]bool, len(shape))
		if len(axes) == 0 {
			for i := range red {
				red[i] = !noop
			}
		} else {
			norm, err := NormAxes(axes, len(shape))
			if err != nil {
				return nil, err
			}
			for _, a := range norm {
				red[a] = true
			}
		}
		kept := make([]int, len(shape))
		count := 1
		for i, d := range shape {
			kept[i] = d
			if red[i] {
				kept[i] = 1
				count *= d
			}
		}
		if err := checkSize(shape, dy.DType()); err != nil {
			return nil, err
		}
		if dy.Len() != prod(kept) || (keep && !tensor.ShapeEqual(dy.Shape(), kept)) {
			return nil, fmt.Errorf("ReduceGrad: gradient shape %v does not match the reduction of %v", dy.Shape(), shape)
		}
		scale := 1.0
		if mean && count > 0 {
			scale = 1 / float64(count)
		}
		switch g := dy.Data().(type) {
		case []float32:
			return rc.Results(tensor.From(shape, scaled(broadcastTo(g, kept, shape), float32(scale)))), nil
		case []float64:
			return rc.Results(tensor.From(shape, scaled(broadcastTo(g, kept, shape), scale))), nil
		}
		return nil, ErrDType("ReduceGrad", dy.DType())
	}), nil
}

// ---- ConcatGrad ----

func buildConcatGrad(b *Builder) (Kernel, error) {
	axis := b.RequireInt("axis")
	if err := b.Err(); err != nil {
		return nil, err
	}
	nOut := b.NumOutputs
	return halfWrap(func(rc *RunContext, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
		if err := Need(in, 1+nOut); err != nil {
			return nil, err
		}
		dy := in[0]
		ax, err := NormAxis(axis, dy.Rank())
		if err != nil {
			return nil, err
		}
		shapes := make([][]int, nOut)
		total := 0
		for i := range shapes {
			if shapes[i], err = gradShapeArg(in[1+i], "shape"); err != nil {
				return nil, err
			}
			s := shapes[i]
			if len(s) != dy.Rank() {
				return nil, fmt.Errorf("ConcatGrad: piece %d has shape %v, rank differs from %v", i, s, dy.Shape())
			}
			for d := range s {
				if d != ax && s[d] != dy.Shape()[d] {
					return nil, fmt.Errorf("ConcatGrad: piece %d has shape %v, which does not fit %v", i, s, dy.Shape())
				}
			}
			total += s[ax]
		}
		if total != dy.Shape()[ax] {
			return nil, fmt.Errorf("ConcatGrad: pieces add up to %d along axis %d, the gradient has %d", total, ax, dy.Shape()[ax])
		}
		outer, inner := prod(dy.Shape()[:ax]), prod(dy.Shape()[ax+1:])
		switch g := dy.Data().(type) {
		case []float32:
			return splitAxis(g, shapes, ax, outer, total, inner), nil
		case []float64:
			return splitAxis(g, shapes, ax, outer, total, inner), nil
		}
		return nil, ErrDType("ConcatGrad", dy.DType())
	}), nil
}

func splitAxis[T tensor.Elem](g []T, shapes [][]int, ax, outer, total, inner int) []*tensor.Tensor {
	outs := make([]*tensor.Tensor, len(shapes))
	start := 0
	for i, s := range shapes {
		w := s[ax] * inner
		d := make([]T, outer*w)
		for o := 0; o < outer; o++ {
			copy(d[o*w:(o+1)*w], g[o*total*inner+start:])
		}
		start += w
		outs[i] = tensor.From(s, d)
	}
	return outs
}

// ---- SoftmaxGrad, LogSoftmaxGrad ----

func buildSoftmaxGrad(logSoftmax bool) func(b *Builder) (Kernel, error) {
	return func(b *Builder) (Kernel, error) {
		axis := b.Int("axis", -1)
		coerce := b.Int("coerce", 0) != 0
		if err := b.Err(); err != nil {
			return nil, err
		}
		return halfWrap(func(rc *RunContext, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
			if err := Need(in, 2); err != nil {
				return nil, err
			}
			dy, y := in[0], in[1]
			if err := sameDType("SoftmaxGrad", dy, y); err != nil {
				return nil, err
			}
			if !tensor.ShapeEqual(dy.Shape(), y.Shape()) {
				return nil, fmt.Errorf("SoftmaxGrad: gradient shape %v differs from the output's %v", dy.Shape(), y.Shape())
			}
			a, err := NormAxis(axis, y.Rank())
			if err != nil {
				return nil, err
			}
			shape := y.Shape()
			outer, n, inner := prod(shape[:a]), shape[a], prod(shape[a+1:])
			if coerce {
				n, inner = prod(shape[a:]), 1
			}
			switch dy.DType() {
			case tensor.Float32:
				return rc.Results(softmaxGradT[float32](dy, y, outer, n, inner, logSoftmax)), nil
			case tensor.Float64:
				return rc.Results(softmaxGradT[float64](dy, y, outer, n, inner, logSoftmax)), nil
			}
			return nil, ErrDType("SoftmaxGrad", dy.DType())
		}), nil
	}
}

// softmaxGradT computes, along the n axis of [outer, n, inner] data,
// dx = y*(dy - sum(dy*y)) for softmax and dx = dy - exp(y)*sum(dy) for
// log-softmax (y is then log-probabilities).
func softmaxGradT[T Float](dyT, yT *tensor.Tensor, outer, n, inner int, logSoftmax bool) *tensor.Tensor {
	g, y := tensor.Data[T](dyT), tensor.Data[T](yT)
	dx := make([]T, len(g))
	for o := 0; o < outer; o++ {
		base := o * n * inner
		for j := 0; j < inner; j++ {
			var s float64
			for k := 0; k < n; k++ {
				i := base + k*inner + j
				if logSoftmax {
					s += float64(g[i])
				} else {
					s += float64(g[i]) * float64(y[i])
				}
			}
			for k := 0; k < n; k++ {
				i := base + k*inner + j
				if logSoftmax {
					dx[i] = T(float64(g[i]) - math.Exp(float64(y[i]))*s)
				} else {
					dx[i] = T(float64(y[i]) * (float64(g[i]) - s))
				}
			}
		}
	}
	return tensor.From(dyT.Shape(), dx)
}

// ---- SoftmaxCrossEntropyLossGrad, NegativeLogLikelihoodLossGrad ----

// buildLossGrad builds the gradient of SoftmaxCrossEntropyLoss (softmax:
// input 1 holds log_prob, or the scores when from_scores is set) or of
// NegativeLogLikelihoodLoss (input 1 holds the forward input, read for its
// shape). Both take the loss operator's attributes.
func buildLossGrad(softmax bool) func(b *Builder) (Kernel, error) {
	return func(b *Builder) (Kernel, error) {
		a, err := readLossAttrs(b)
		if err != nil {
			return nil, err
		}
		fromScores := b.Int("from_scores", 0) != 0
		if err := b.Err(); err != nil {
			return nil, err
		}
		return halfWrap(func(rc *RunContext, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
			if err := Need(in, 3); err != nil {
				return nil, err
			}
			dl, X, tgt, W := in[0], in[1], in[2], Opt(in, 3)
			if err := sameDType("loss gradient", X, dl, W); err != nil {
				return nil, err
			}
			if err := checkDType("target", tgt, tensor.Int32, tensor.Int64); err != nil {
				return nil, err
			}
			n, c, d, err := lossShapes(X, tgt, W)
			if err != nil {
				return nil, err
			}
			want := 1
			if a.reduction == lossNone {
				want = n * d
			}
			if dl.Len() != want {
				return nil, fmt.Errorf("loss gradient has %d elements, want %d", dl.Len(), want)
			}
			target, err := tgt.AsInt64s()
			if err != nil {
				return nil, err
			}
			var dx any
			switch X.DType() {
			case tensor.Float32:
				dx, err = lossGradT(tensor.Data[float32](dl), tensor.Data[float32](X), optData[float32](W), target, n, c, d, a, softmax, fromScores)
			case tensor.Float64:
				dx, err = lossGradT(tensor.Data[float64](dl), tensor.Data[float64](X), optData[float64](W), target, n, c, d, a, softmax, fromScores)
			default:
				return nil, ErrDType("loss gradient", X.DType())
			}
			if err != nil {
				return nil, err
			}
			return rc.one(tensor.FromSlice(X.Shape(), dx))
		}), nil
	}
}

// lossGradT returns d loss / d input for NegativeLogLikelihoodLoss (x holds
// log-probabilities) or SoftmaxCrossEntropyLoss (x holds log_prob, or the
// scores when fromScores), laid out as [n, c, d], given dl, the gradient of
// the loss output (one value, or n*d for reduction none). It uses nllLoss
// for the validation of targets and the sum of applied weights.
func lossGradT[T Float](dl, x, w []T, target []int64, n, c, d int, a lossAttrs, softmax, fromScores bool) ([]T, error) {
	logProb := x
	if softmax && fromScores {
		logProb = logSoftmaxAxis1(x, n, c, d)
	}
	_, wsum, err := nllLoss(logProb, n, c, d, target, w, a)
	if err != nil {
		return nil, err
	}
	dx := make([]T, len(x))
	for i := 0; i < n; i++ {
		for j := 0; j < d; j++ {
			t := target[i*d+j]
			if a.hasIgnore && t == a.ignore {
				continue
			}
			g := float64(dl[0])
			if a.reduction == lossNone {
				g = float64(dl[i*d+j])
			}
			if w != nil {
				g *= float64(w[t])
			}
			if a.reduction == lossMean {
				g /= float64(wsum)
			}
			if softmax {
				for k := 0; k < c; k++ {
					idx := (i*c+k)*d + j
					dx[idx] = T(math.Exp(float64(logProb[idx])) * g)
				}
			}
			dx[(i*c+int(t))*d+j] -= T(g)
		}
	}
	return dx, nil
}
