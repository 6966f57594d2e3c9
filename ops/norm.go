package ops

import (
	"fmt"
	"math"
	"sync"

	"github.com/onyxrt/onyx/ops/asm"
	"github.com/onyxrt/onyx/tensor"
)

// This file holds the normalization operators: BatchNormalization,
// InstanceNormalization, LayerNormalization, LRN, LpNormalization and
// MeanVarianceNormalization. Statistics are accumulated in float64.

func registerNorm(r *Registry) {
	for _, v := range []int{1, 6, 7, 9, 14, 15} {
		r.Register(&Def{Name: "BatchNormalization", Since: v, Build: buildBatchNorm})
	}
	r.Register(&Def{Domain: FusedDomain, Name: "FusedBatchNorm", Since: 1, Build: buildFusedBatchNorm, Infer: inferFirstOutputSame, Grad: NotDifferentiable})
	for _, v := range []int{1, 6} {
		r.Register(&Def{Name: "InstanceNormalization", Since: v, Build: buildInstanceNorm})
	}
	r.Register(&Def{Name: "LayerNormalization", Since: 17, Build: buildLayerNorm})
	for _, v := range []int{1, 13} {
		r.Register(&Def{Name: "LRN", Since: v, Build: buildLRN})
	}
	for _, v := range []int{9, 13} {
		r.Register(&Def{Name: "MeanVarianceNormalization", Since: v, Build: buildMVN})
	}
	r.Register(&Def{Name: "LpNormalization", Since: 1, Build: buildLpNorm, Infer: inferSameAsFirst})
}

// ---- LpNormalization ----

// buildLpNorm divides x by its L1 or L2 norm along axis; a slice whose
// norm is zero stays zero (as ONNX Runtime does).
func buildLpNorm(b *Builder) (Kernel, error) {
	axis := b.Int("axis", -1)
	p := b.Int("p", 2)
	if err := b.Err(); err != nil {
		return nil, err
	}
	if p != 1 && p != 2 {
		return nil, fmt.Errorf("p must be 1 or 2, got %d", p)
	}
	return KernelFunc(func(rc *RunContext, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
		if err := Need(in, 1); err != nil {
			return nil, err
		}
		x := in[0]
		xs, err := float64s(x, "LpNormalization")
		if err != nil {
			return nil, err
		}
		a, err := NormAxis(axis, x.Rank())
		if err != nil || x.Rank() == 0 {
			return nil, fmt.Errorf("axis %d does not fit shape %v", axis, x.Shape())
		}
		outer, n, inner := prod(x.Shape()[:a]), x.Shape()[a], prod(x.Shape()[a+1:])
		y := make([]float64, len(xs))
		for o := 0; o < outer; o++ {
			for i := 0; i < inner; i++ {
				base := o*n*inner + i
				norm := 0.0
				for k := 0; k < n; k++ {
					v := xs[base+k*inner]
					if p == 1 {
						norm += math.Abs(v)
					} else {
						norm += v * v
					}
				}
				if p == 2 {
					norm = math.Sqrt(norm)
				}
				if norm == 0 {
					continue
				}
				for k := 0; k < n; k++ {
					y[base+k*inner] = xs[base+k*inner] / norm
				}
			}
		}
		t, err := tensor.FromSlice(x.Shape(), y)
		if err != nil {
			return nil, err
		}
		return rc.one(t.Cast(x.DType()))
	}), nil
}

// float64s returns a float tensor's elements as float64, checking the type.
func float64s(t *tensor.Tensor, what string) ([]float64, error) {
	if !t.DType().IsFloat() {
		return nil, ErrDType(what, t.DType())
	}
	return t.Float64s(), nil
}

// fromFloat64s makes a tensor of type dt holding v.
func fromFloat64s(v []float64, dt tensor.DType, shape ...int) (*tensor.Tensor, error) {
	t, err := tensor.FromSlice(shape, v)
	if err != nil {
		return nil, err
	}
	if dt == tensor.Float64 {
		return t, nil
	}
	return t.Cast(dt)
}

// ---- BatchNormalization ----

// FusedBatchNorm (domain FusedDomain) is what graph/optimize.go makes of
// an inference-mode BatchNormalization with one output and the Relu,
// LeakyRelu or Clip that alone reads it: the normalization with an
// "activation" attribute as FusedConv's (and its "alpha", "min", "max"),
// applied to each channel's plane as it is written, in cache, instead of
// in a second pass over the tensor.
func buildFusedBatchNorm(b *Builder) (Kernel, error) {
	act, err := readActivation(b)
	if err != nil {
		return nil, err
	}
	return buildBatchNormWith(b, act)
}

func buildBatchNorm(b *Builder) (Kernel, error) { return buildBatchNormWith(b, nil) }

// buildBatchNormWith builds BatchNormalization followed by act (nil:
// none; only in inference).
func buildBatchNormWith(b *Builder, act *activation) (Kernel, error) {
	eps := float64(b.Float("epsilon", 1e-5))
	momentum := float64(b.Float("momentum", 0.9))
	training := false
	switch {
	case b.Opset >= 14:
		training = b.Int("training_mode", 0) != 0
	case b.Opset >= 7:
		b.Int("spatial", 1)
		training = b.Out(1) || b.Out(2) || b.Out(3) || b.Out(4)
	default:
		b.Int("spatial", 1)
		isTest := b.Int("is_test", 0) != 0
		training = !isTest && (b.Out(1) || b.Out(2) || b.Out(3) || b.Out(4))
	}
	if err := b.Err(); err != nil {
		return nil, err
	}
	if b.Opset >= 14 && !training && (b.Out(1) || b.Out(2)) {
		return nil, fmt.Errorf("running_mean and running_var outputs need training_mode=1")
	}
	if act != nil && training {
		return nil, fmt.Errorf("a fused activation needs inference mode")
	}
	// Inference with constant parameters: y = x*mul + add per channel,
	// with mul and add computed here, once.
	var constMul, constAdd []float64
	var mul32, add32 []float32 // the same in float32, for batchNormRun32
	a32 := asm.ConvActNone()
	if act != nil {
		a32 = act.a32
	}
	if !training {
		var ps [4][]float64
		for i := range ps {
			if c := b.ConstInput(i + 1); c != nil && c.DType().IsFloat() && c.Kind() == tensor.KindTensor {
				ps[i] = c.Float64s()
			}
		}
		if g := len(ps[0]); ps[0] != nil && ps[1] != nil && ps[2] != nil && ps[3] != nil && len(ps[1]) == g && len(ps[2]) == g && len(ps[3]) == g {
			constMul, constAdd = make([]float64, g), make([]float64, g)
			for i := range constMul {
				constMul[i] = ps[0][i] / math.Sqrt(ps[3][i]+eps)
				constAdd[i] = ps[1][i] - ps[2][i]*constMul[i]
			}
			mul32, add32 = make([]float32, g), make([]float32, g)
			for i := range mul32 {
				mul32[i], add32[i] = float32(constMul[i]), float32(constAdd[i])
			}
		}
	}
	return KernelFunc(func(rc *RunContext, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
		if err := Need(in, 5); err != nil {
			return nil, err
		}
		X := in[0]
		xs := X.Shape()
		if len(xs) < 2 {
			return nil, fmt.Errorf("X must have rank at least 2 (N×C×...), got shape %v", xs)
		}
		if constMul != nil && (X.DType() == tensor.Float32 || X.DType() == tensor.Float64) {
			c, inner := xs[1], prod(xs[2:])
			groups := len(constMul)
			if groups == c || groups == c*inner {
				y, err := rc.NewUninit(X.DType(), xs...)
				if err != nil {
					return nil, err
				}
				per := inner * c / groups
				if X.DType() == tensor.Float32 && groups == c {
					batchNormRun32(rc.workers(), rc.threads(), X.Float32s(), y.Float32s(), c, inner, mul32, add32, &a32)
					return rc.Results(y), nil
				}
				if X.DType() == tensor.Float32 {
					var f func([]float32)
					if act != nil {
						f = act.f32
					}
					affineGroupsAct(X.Float32s(), y.Float32s(), constMul, constAdd, per, f)
				} else {
					var f func([]float64)
					if act != nil {
						f = act.f64
					}
					affineGroupsAct(tensor.Data[float64](X), tensor.Data[float64](y), constMul, constAdd, per, f)
				}
				return rc.Results(y), nil
			}
		}
		params := make([][]float64, 4)
		for i, name := range []string{"scale", "B", "mean", "var"} {
			v, err := float64s(in[i+1], "BatchNormalization "+name)
			if err != nil {
				return nil, err
			}
			params[i] = v
		}
		xu, xdt, err := Upcast(X)
		if err != nil {
			return nil, err
		}
		n, c := xs[0], xs[1]
		inner := prod(xs[2:])
		// Parameters are per channel, or per (channel, position) for the
		// non-spatial form of opsets before 9.
		groups := len(params[0])
		if groups != c && groups != c*inner {
			return nil, fmt.Errorf("scale has %d elements, want %d (channels of X %v)", groups, c, xs)
		}
		for i, v := range params[1:] {
			if len(v) != groups {
				return nil, fmt.Errorf("input %d has %d elements, scale has %d", i+2, len(v), groups)
			}
		}
		per := inner * c / groups // consecutive elements sharing parameters
		mean, variance := params[2], params[3]
		var bmean, bvar []float64
		if training {
			bmean, bvar = batchStats(xu, n, groups, per)
			mean, variance = bmean, bvar
		}
		mul := make([]float64, groups)
		add := make([]float64, groups)
		for g := range mul {
			mul[g] = params[0][g] / math.Sqrt(variance[g]+eps)
			add[g] = params[1][g] - mean[g]*mul[g]
		}
		y, err := rc.NewUninit(xu.DType(), xs...)
		if err != nil {
			return nil, err
		}
		switch xu.DType() {
		case tensor.Float32:
			affineGroups(xu.Float32s(), y.Float32s(), mul, add, per)
		case tensor.Float64:
			affineGroups(tensor.Data[float64](xu), tensor.Data[float64](y), mul, add, per)
		default:
			return nil, ErrDType("BatchNormalization", X.DType())
		}
		if act != nil {
			if y, err = applyActivation(act, y); err != nil {
				return nil, err
			}
		}
		if y, err = Downcast(y, xdt); err != nil {
			return nil, err
		}
		if !training {
			return rc.Results(y), nil
		}
		outs := []*tensor.Tensor{y, nil, nil, nil, nil}
		runMean := make([]float64, groups)
		runVar := make([]float64, groups)
		for g := range runMean {
			runMean[g] = params[2][g]*momentum + bmean[g]*(1-momentum)
			runVar[g] = params[3][g]*momentum + bvar[g]*(1-momentum)
		}
		pshape := in[3].Shape()
		mdt := in[3].DType()
		for i, v := range [][]float64{runMean, runVar, bmean, bvar} {
			if outs[i+1], err = fromFloat64s(v, mdt, pshape...); err != nil {
				return nil, err
			}
		}
		if b.Opset >= 14 {
			return outs[:3], nil
		}
		return outs, nil
	}), nil
}

// batchStats returns the mean and population variance of each parameter
// group over the batch (x is n samples of groups*per elements).
func batchStats(x *tensor.Tensor, n, groups, per int) (mean, variance []float64) {
	v := x.Float64s()
	mean = make([]float64, groups)
	variance = make([]float64, groups)
	cnt := float64(n * per)
	if cnt == 0 {
		return
	}
	for s := 0; s < n; s++ {
		for g := 0; g < groups; g++ {
			for _, e := range v[(s*groups+g)*per : (s*groups+g+1)*per] {
				mean[g] += e
			}
		}
	}
	for g := range mean {
		mean[g] /= cnt
	}
	for s := 0; s < n; s++ {
		for g := 0; g < groups; g++ {
			m := mean[g]
			for _, e := range v[(s*groups+g)*per : (s*groups+g+1)*per] {
				variance[g] += (e - m) * (e - m)
			}
		}
	}
	for g := range variance {
		variance[g] /= cnt
	}
	return
}

// batchNormRun32 sets y = act(x*mul[ch] + add[ch]) on the planes of
// inner floats of x (channel ch of c, images one after the other) with
// asm.ScaleBiasAct, which gives affineGroupsAct's values (the product
// rounded before the sum, then the activation), the planes split over
// up to threads goroutines.
func batchNormRun32(wk *Workers, threads int, x, y []float32, c, inner int, mul, add []float32, act *asm.ConvAct) {
	planes := len(x) / max(inner, 1)
	j := batchNormJob{x: x, y: y, c: c, inner: inner, mul: mul, add: add, act: act}
	threads = max(1, min(threads, len(x)/minSplitWork))
	if threads == 1 {
		j.run(0, planes)
		return
	}
	parallelForOf(wk, threads, planes, 1, j, (*batchNormJob).run)
}

// batchNormJob is the operands of batchNormRun32.
type batchNormJob struct {
	x, y     []float32
	c, inner int
	mul, add []float32
	act      *asm.ConvAct
}

// run computes the planes [lo, hi), image by image.
func (j *batchNormJob) run(lo, hi int) {
	for lo < hi {
		ch := lo % j.c
		rows := min(hi-lo, j.c-ch)
		at := lo * j.inner
		asm.ScaleBiasAct(rows, j.inner, j.x[at:], j.inner, j.mul[ch:], j.add[ch:], j.act, j.y[at:], j.inner)
		lo += rows
	}
}

// affineGroups sets y = x*mul[g] + add[g], where runs of per consecutive
// elements share group g and groups repeat cyclically.
func affineGroups[T Float](x, y []T, mul, add []float64, per int) {
	affineGroupsAct(x, y, mul, add, per, nil)
}

// affineGroupsAct is affineGroups followed by act (when not nil) on each
// group's stretch of y as it is written.
func affineGroupsAct[T Float](x, y []T, mul, add []float64, per int, act func([]T)) {
	if per == 0 {
		return
	}
	if act != nil && per < 256 {
		// Short stretches (the per-position form): one pass after.
		affineGroupsAct(x, y, mul, add, per, nil)
		act(y[:len(x)])
		return
	}
	groups := len(mul)
	for i := 0; i*per < len(x); i++ {
		g := i % groups
		m, a := T(mul[g]), T(add[g])
		src := x[i*per : (i+1)*per]
		dst := y[i*per : (i+1)*per]
		for j, v := range src {
			dst[j] = v*m + a
		}
		if act != nil {
			act(dst)
		}
	}
}

// ---- InstanceNormalization ----

func buildInstanceNorm(b *Builder) (Kernel, error) {
	eps := float64(b.Float("epsilon", 1e-5))
	if err := b.Err(); err != nil {
		return nil, err
	}
	k := func(rc *RunContext, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
		if err := Need(in, 3); err != nil {
			return nil, err
		}
		X := in[0]
		if err := sameDType("InstanceNormalization", X, in[1], in[2]); err != nil {
			return nil, err
		}
		xs := X.Shape()
		if len(xs) < 2 {
			return nil, fmt.Errorf("input must have rank at least 2, got shape %v", xs)
		}
		n, c, inner := xs[0], xs[1], prod(xs[2:])
		if in[1].Len() != c || in[2].Len() != c {
			return nil, fmt.Errorf("scale and B must have %d elements, got shapes %v and %v", c, in[1].Shape(), in[2].Shape())
		}
		scale, bias := in[1].Float64s(), in[2].Float64s()
		y, err := tensor.New(X.DType(), xs...)
		if err != nil {
			return nil, err
		}
		mul := make([]float64, n*c)
		add := make([]float64, n*c)
		mean, variance := batchStats(X, 1, n*c, inner) // one "sample" of n*c groups
		for i := range mul {
			ch := i % c
			mul[i] = scale[ch] / math.Sqrt(variance[i]+eps)
			add[i] = bias[ch] - mean[i]*mul[i]
		}
		switch X.DType() {
		case tensor.Float32:
			affineGroups(X.Float32s(), y.Float32s(), mul, add, inner)
		case tensor.Float64:
			affineGroups(tensor.Data[float64](X), tensor.Data[float64](y), mul, add, inner)
		default:
			return nil, ErrDType("InstanceNormalization", X.DType())
		}
		return rc.Results(y), nil
	}
	return halfWrap(k), nil
}

// ---- LayerNormalization ----

func buildLayerNorm(b *Builder) (Kernel, error) {
	axis := b.Int("axis", -1)
	eps := float64(b.Float("epsilon", 1e-5))
	stash := tensor.DType(b.Int("stash_type", 1))
	if err := b.Err(); err != nil {
		return nil, err
	}
	if !stash.IsFloat() {
		return nil, fmt.Errorf("stash_type %d is not a floating-point type", stash)
	}
	wantStats := [2]bool{b.Out(1), b.Out(2)}
	return KernelFunc(func(rc *RunContext, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
		if err := Need(in, 2); err != nil {
			return nil, err
		}
		X, S, B := in[0], in[1], Opt(in, 2)
		if err := checkDType("LayerNormalization", X, floatTypes...); err != nil {
			return nil, err
		}
		if err := sameDType("LayerNormalization", X, S, B); err != nil {
			return nil, err
		}
		xs := X.Shape()
		ax := int(axis)
		if ax < 0 {
			ax += len(xs)
		}
		if ax < 0 || ax >= len(xs) {
			return nil, fmt.Errorf("axis %d is out of range for rank %d", axis, len(xs))
		}
		norm := xs[ax:]
		rows, size := prod(xs[:ax]), prod(norm)
		if y, ok, err := layerNormDirect(rc, X, S, B, rows, size, eps, norm, wantStats); ok {
			if err != nil {
				return nil, err
			}
			return rc.Results(y), nil
		}
		scale, err := paramTo(S, norm, "Scale")
		if err != nil {
			return nil, err
		}
		var bias []float64
		if B != nil {
			if bias, err = paramTo(B, norm, "B"); err != nil {
				return nil, err
			}
		}
		xu, xdt, err := Upcast(X)
		if err != nil {
			return nil, err
		}
		y, err := rc.NewUninit(xu.DType(), xs...)
		if err != nil {
			return nil, err
		}
		mean := make([]float64, rows)
		inv := make([]float64, rows)
		switch xu.DType() {
		case tensor.Float32:
			layerNormRun(xu.Float32s(), y.Float32s(), scale, bias, mean, inv, size, eps)
		case tensor.Float64:
			layerNormRun(tensor.Data[float64](xu), tensor.Data[float64](y), scale, bias, mean, inv, size, eps)
		}
		if y, err = Downcast(y, xdt); err != nil {
			return nil, err
		}
		outs := []*tensor.Tensor{y, nil, nil}
		sshape := append([]int{}, xs...)
		for i := ax; i < len(sshape); i++ {
			sshape[i] = 1
		}
		for i, v := range [][]float64{mean, inv} {
			if !wantStats[i] {
				continue
			}
			if outs[i+1], err = fromFloat64s(v, stash, sshape...); err != nil {
				return nil, err
			}
		}
		return outs, nil
	}), nil
}

// layerNormDirect is LayerNormalization's common case, with no
// allocation: float32 or float64 X whose Scale and B have the normalized
// shape exactly, and no mean or inverse deviation output. ok is false
// for the other cases.
func layerNormDirect(rc *RunContext, X, S, B *tensor.Tensor, rows, size int, eps float64, norm []int, wantStats [2]bool) (y *tensor.Tensor, ok bool, err error) {
	if wantStats[0] || wantStats[1] || !tensor.ShapeEqual(S.Shape(), norm) || (B != nil && !tensor.ShapeEqual(B.Shape(), norm)) {
		return nil, false, nil
	}
	switch X.DType() {
	case tensor.Float32:
		if y, err = rc.NewUninit(X.DType(), X.Shape()...); err == nil {
			layerNormRows(X.Float32s(), y.Float32s(), S.Float32s(), optData[float32](B), rows, size, eps)
		}
		return y, true, err
	case tensor.Float64:
		if y, err = rc.NewUninit(X.DType(), X.Shape()...); err == nil {
			layerNormRows(tensor.Data[float64](X), tensor.Data[float64](y), tensor.Data[float64](S), optData[float64](B), rows, size, eps)
		}
		return y, true, err
	}
	return nil, false, nil
}

// layerNormRows normalizes rows of size elements of x into y, like
// layerNormRun (statistics in float64), with scale and bias of x's type.
func layerNormRows[T Float](x, y, scale, bias []T, rows, size int, eps float64) {
	if size == 0 {
		return
	}
	scale = scale[:size]
	for r := 0; r < rows; r++ {
		src := x[r*size : (r+1)*size]
		dst := y[r*size : (r+1)*size]
		var s float64
		for _, v := range src {
			s += float64(v)
		}
		m := s / float64(size)
		var ss float64
		for _, v := range src {
			d := float64(v) - m
			ss += d * d
		}
		is := 1 / math.Sqrt(ss/float64(size)+eps)
		for j, v := range src {
			o := (float64(v) - m) * is * float64(scale[j])
			if bias != nil {
				o += float64(bias[j])
			}
			dst[j] = T(o)
		}
	}
}

// paramTo returns a float parameter broadcast (unidirectionally) to shape.
func paramTo(t *tensor.Tensor, shape []int, what string) ([]float64, error) {
	bs, err := tensor.BroadcastShapes(t.Shape(), shape)
	if err != nil || !tensor.ShapeEqual(bs, shape) {
		return nil, fmt.Errorf("%s of shape %v does not broadcast to %v", what, t.Shape(), shape)
	}
	return broadcastTo(t.Float64s(), t.Shape(), shape), nil
}

func layerNormRun[T Float](x, y []T, scale, bias, mean, inv []float64, size int, eps float64) {
	if size == 0 {
		return
	}
	for r := range mean {
		src := x[r*size : (r+1)*size]
		dst := y[r*size : (r+1)*size]
		var s float64
		for _, v := range src {
			s += float64(v)
		}
		m := s / float64(size)
		var ss float64
		for _, v := range src {
			d := float64(v) - m
			ss += d * d
		}
		is := 1 / math.Sqrt(ss/float64(size)+eps)
		mean[r], inv[r] = m, is
		for j, v := range src {
			o := (float64(v) - m) * is * scale[j]
			if bias != nil {
				o += bias[j]
			}
			dst[j] = T(o)
		}
	}
}

// ---- LRN ----

func buildLRN(b *Builder) (Kernel, error) {
	alpha := float64(b.Float("alpha", 1e-4))
	beta := float64(b.Float("beta", 0.75))
	bias := float64(b.Float("bias", 1))
	size := int(b.RequireInt("size"))
	if err := b.Err(); err != nil {
		return nil, err
	}
	if size <= 0 {
		return nil, fmt.Errorf("size must be positive, got %d", size)
	}
	var bufs sync.Pool // this node's scratch (*[]float64), also the key of it in a run's pool
	k := func(rc *RunContext, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
		if err := Need(in, 1); err != nil {
			return nil, err
		}
		X := in[0]
		xs := X.Shape()
		if len(xs) < 2 {
			return nil, fmt.Errorf("X must have rank at least 2, got shape %v", xs)
		}
		y, err := rc.NewUninit(X.DType(), xs...)
		if err != nil {
			return nil, err
		}
		j := lrnJob{n: xs[0], c: xs[1], inner: prod(xs[2:]), size: size, alpha: alpha, beta: beta, bias: bias, bufs: &bufs, wk: rc.workers()}
		items := j.n * j.c
		// Each element costs about size multiply-adds and a power.
		threads := max(1, min(rc.threads(), items*j.inner*(size+8)/minSplitWork))
		switch X.DType() {
		case tensor.Float32:
			lrnSplit(rc.workers(), threads, items, lrnData[float32]{lrnJob: j, x: X.Float32s(), y: y.Float32s()})
		case tensor.Float64:
			lrnSplit(rc.workers(), threads, items, lrnData[float64]{lrnJob: j, x: tensor.Data[float64](X), y: tensor.Data[float64](y)})
		default:
			return nil, ErrDType("LRN", X.DType())
		}
		return rc.Results(y), nil
	}
	return halfWrap(k), nil
}

// lrnJob is the geometry and attributes of one LRN: n images of c
// channels of inner elements, each divided by (bias + alpha/size · the
// sum of the squares over size channels around it)^beta.
type lrnJob struct {
	n, c, inner, size int
	alpha, beta, bias float64
	bufs              *sync.Pool // the node's scratch (*[]float64), when wk keeps none
	wk                *Workers   // the run's pool
}

// lrnSplit runs j's items on up to threads goroutines.
func lrnSplit[T Float](wk *Workers, threads, items int, j lrnData[T]) {
	if threads == 1 {
		j.run(0, items) // no task to allocate when there is no pool
		return
	}
	parallelForOf(wk, threads, items, 1, j, (*lrnData[T]).run)
}

// lrnData is an lrnJob with its input and output.
type lrnData[T Float] struct {
	lrnJob
	x, y []T
}

// run computes the channels [lo, hi) of the n×c planes: each one's sums
// of squares in float64 (directly over its window, so that no running sum
// carries the rounding of a large value past its window), then the
// power, through square roots for the usual beta of 3/4 (and 1/2, 1),
// which give math.Pow's results to within an ulp of float64.
func (j *lrnData[T]) run(lo, hi int) {
	lwin, hwin := (j.size-1)/2, j.size-1-(j.size-1)/2 // floor and ceil of (size-1)/2
	buf, _ := j.wk.takeScratch(j.bufs).(*[]float64)
	if buf == nil {
		buf, _ = j.bufs.Get().(*[]float64)
	}
	if buf == nil || cap(*buf) < j.inner {
		b := make([]float64, j.inner)
		buf = &b
	}
	defer func() {
		if !j.wk.keepScratch(j.bufs, buf) {
			j.bufs.Put(buf)
		}
	}()
	sq := (*buf)[:j.inner]
	scale := j.alpha / float64(j.size)
	for it := lo; it < hi; it++ {
		img, ch := it/j.c, it%j.c
		base := img * j.c * j.inner
		clear(sq)
		for i := max(0, ch-lwin); i <= min(j.c-1, ch+hwin); i++ {
			src := j.x[base+i*j.inner : base+(i+1)*j.inner]
			for e, v := range src {
				f := float64(v)
				sq[e] += f * f
			}
		}
		src := j.x[base+ch*j.inner : base+(ch+1)*j.inner]
		dst := j.y[base+ch*j.inner : base+(ch+1)*j.inner]
		switch j.beta {
		case 0.75:
			for e, v := range src {
				d := j.bias + scale*sq[e]
				r := math.Sqrt(d)
				dst[e] = T(float64(v) / (r * math.Sqrt(r)))
			}
		case 0.5:
			for e, v := range src {
				dst[e] = T(float64(v) / math.Sqrt(j.bias+scale*sq[e]))
			}
		case 1:
			for e, v := range src {
				dst[e] = T(float64(v) / (j.bias + scale*sq[e]))
			}
		default:
			for e, v := range src {
				dst[e] = T(float64(v) / math.Pow(j.bias+scale*sq[e], j.beta))
			}
		}
	}
}

// ---- MeanVarianceNormalization ----

func buildMVN(b *Builder) (Kernel, error) {
	axes := b.Ints("axes", []int64{0, 2, 3})
	if err := b.Err(); err != nil {
		return nil, err
	}
	k := func(rc *RunContext, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
		if err := Need(in, 1); err != nil {
			return nil, err
		}
		X := in[0]
		xs := X.Shape()
		ax, err := NormAxes(axes, len(xs))
		if err != nil {
			return nil, err
		}
		group, ngroups := groupIndex(xs, ax)
		v := X.Float64s()
		if v == nil || !X.DType().IsFloat() {
			return nil, ErrDType("MeanVarianceNormalization", X.DType())
		}
		mean := make([]float64, ngroups)
		cnt := make([]float64, ngroups)
		for i, e := range v {
			mean[group[i]] += e
			cnt[group[i]]++
		}
		for g := range mean {
			mean[g] /= cnt[g]
		}
		variance := make([]float64, ngroups)
		for i, e := range v {
			d := e - mean[group[i]]
			variance[group[i]] += d * d
		}
		for i := range v {
			g := group[i]
			v[i] = (v[i] - mean[g]) / (math.Sqrt(variance[g]/cnt[g]) + 1e-9)
		}
		y, err := fromFloat64s(v, X.DType(), xs...)
		if err != nil {
			return nil, err
		}
		return rc.Results(y), nil
	}
	return KernelFunc(k), nil
}

// groupIndex maps every element of shape to the index of its slice once
// the given axes are reduced.
func groupIndex(shape []int, axes []int) ([]int, int) {
	red := make([]bool, len(shape))
	for _, a := range axes {
		red[a] = true
	}
	gshape := make([]int, len(shape))
	for i, d := range shape {
		gshape[i] = d
		if red[i] {
			gshape[i] = 1
		}
	}
	st := tensor.BroadcastStrides(gshape, shape)
	n := prod(shape)
	out := make([]int, n)
	idx := make([]int, len(shape))
	off := 0
	for i := 0; i < n; i++ {
		out[i] = off
		for d := len(shape) - 1; d >= 0; d-- {
			idx[d]++
			off += st[d]
			if idx[d] < shape[d] {
				break
			}
			off -= st[d] * idx[d]
			idx[d] = 0
		}
	}
	return out, prod(gshape)
}
