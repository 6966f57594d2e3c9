package ops

import (
	"fmt"
	"math"

	"github.com/onyxrt/onyx/tensor"
)

// This file holds the loss operators NegativeLogLikelihoodLoss and
// SoftmaxCrossEntropyLoss. Both run on nllLoss; SoftmaxCrossEntropyLoss
// is logSoftmaxAxis1 followed by nllLoss (softmaxCrossEntropy). Inputs of
// shape [N, C, d1..dk] are viewed as [N, C, D] with D = d1*...*dk (1 when
// k = 0), targets as [N, D].

func registerLoss(r *Registry) {
	for _, v := range []int{12, 13} {
		r.Register(
			&Def{Name: "NegativeLogLikelihoodLoss", Since: v, Build: buildNLLLoss},
			&Def{Name: "SoftmaxCrossEntropyLoss", Since: v, Build: buildSoftmaxCrossEntropyLoss},
		)
	}
}

// lossReduction is the reduction attribute of the loss operators.
type lossReduction uint8

const (
	lossNone lossReduction = iota // one loss per sample
	lossSum                       // the sum of the sample losses
	lossMean                      // the sum divided by the sum of applied weights
)

// lossAttrs are the attributes shared by the loss operators.
type lossAttrs struct {
	reduction lossReduction
	// ignore is the ignore_index attribute, meaningful when hasIgnore.
	ignore    int64
	hasIgnore bool
}

func readLossAttrs(b *Builder) (lossAttrs, error) {
	var a lossAttrs
	red := b.String("reduction", "mean")
	a.hasIgnore = b.Has("ignore_index")
	a.ignore = b.Int("ignore_index", 0)
	if err := b.Err(); err != nil {
		return a, err
	}
	switch red {
	case "none":
		a.reduction = lossNone
	case "sum":
		a.reduction = lossSum
	case "mean":
		a.reduction = lossMean
	default:
		return a, fmt.Errorf("reduction %q is not one of none, sum, mean", red)
	}
	return a, nil
}

// nllLoss computes the negative log-likelihood loss of logProb, holding
// log-probabilities laid out as [n, c, d], against target, holding class
// indices laid out as [n, d].
//
// Sample (i, j) with class t = target[i*d+j] has loss
// -weight[t] * logProb[(i*c+t)*d+j] (weight nil means all ones) and applied
// weight weight[t]; when a.hasIgnore and t == a.ignore both are zero. A
// target outside [0, c) that is not ignored is an error.
//
// For a.reduction == lossNone the result holds the n*d sample losses;
// otherwise it holds one value, their sum (lossSum) or their sum divided
// by the sum of applied weights (lossMean, NaN when every sample is
// ignored). wsum is the sum of applied weights, which a gradient needs:
// d loss / d logProb[(i*c+t)*d+j] is -weight[t] for none and sum, and
// -weight[t]/wsum for mean (zero for ignored samples). Sums accumulate in
// float64.
func nllLoss[T Float](logProb []T, n, c, d int, target []int64, weight []T, a lossAttrs) (loss []T, wsum T, err error) {
	if len(logProb) != n*c*d || len(target) != n*d || (weight != nil && len(weight) != c) {
		return nil, 0, fmt.Errorf("nllLoss: sizes do not match n=%d c=%d d=%d", n, c, d)
	}
	var per []T
	if a.reduction == lossNone {
		per = make([]T, n*d)
	}
	var sum, ws float64
	for i := 0; i < n; i++ {
		for j := 0; j < d; j++ {
			t := target[i*d+j]
			if a.hasIgnore && t == a.ignore {
				continue // per[i*d+j] stays 0
			}
			if t < 0 || t >= int64(c) {
				return nil, 0, fmt.Errorf("target value %d at sample %d is outside [0, %d)", t, i*d+j, c)
			}
			w := T(1)
			if weight != nil {
				w = weight[t]
			}
			l := -logProb[(i*c+int(t))*d+j] * w
			if per != nil {
				per[i*d+j] = l
			}
			sum += float64(l)
			ws += float64(w)
		}
	}
	switch a.reduction {
	case lossNone:
		return per, T(ws), nil
	case lossSum:
		return []T{T(sum)}, T(ws), nil
	}
	return []T{T(sum / ws)}, T(ws), nil
}

// logSoftmaxAxis1 returns the log-softmax of x, laid out as [n, c, d],
// along the c axis, computed stably (max subtracted, sums in float64).
func logSoftmaxAxis1[T Float](x []T, n, c, d int) []T {
	out := make([]T, len(x))
	for i := 0; i < n; i++ {
		blk, ob := x[i*c*d:(i+1)*c*d], out[i*c*d:(i+1)*c*d]
		for j := 0; j < d; j++ {
			m := math.Inf(-1)
			for k := 0; k < c; k++ {
				m = max(m, float64(blk[k*d+j]))
			}
			var s float64
			for k := 0; k < c; k++ {
				s += math.Exp(float64(blk[k*d+j]) - m)
			}
			lse := m + math.Log(s)
			for k := 0; k < c; k++ {
				ob[k*d+j] = T(float64(blk[k*d+j]) - lse)
			}
		}
	}
	return out
}

// softmaxCrossEntropy computes the softmax cross-entropy loss of scores,
// laid out as [n, c, d], against target ([n, d] class indices): the
// log-softmax of scores along c followed by nllLoss, whose result, wsum
// and errors it returns. logProb is that log-softmax (laid out like
// scores), from which a gradient follows: d loss / d scores[(i*c+k)*d+j]
// is (exp(logProb[(i*c+k)*d+j]) - [k == t]) * g, with g the gradient
// nllLoss gives for sample (i, j) (weight[t], divided by wsum for mean).
func softmaxCrossEntropy[T Float](scores []T, n, c, d int, target []int64, weight []T, a lossAttrs) (loss, logProb []T, wsum T, err error) {
	if len(scores) != n*c*d {
		return nil, nil, 0, fmt.Errorf("softmaxCrossEntropy: %d scores do not match n=%d c=%d d=%d", len(scores), n, c, d)
	}
	logProb = logSoftmaxAxis1(scores, n, c, d)
	loss, wsum, err = nllLoss(logProb, n, c, d, target, weight, a)
	return loss, logProb, wsum, err
}

// lossShapes checks input ([N, C, d1..dk], k >= 0), target ([N, d1..dk])
// and weight ([C] or nil) and returns N, C and D = d1*...*dk.
func lossShapes(input, target, weight *tensor.Tensor) (n, c, d int, err error) {
	xs, ts := input.Shape(), target.Shape()
	if len(xs) < 2 {
		return 0, 0, 0, fmt.Errorf("input must have shape [N, C, d1..dk], got %v", xs)
	}
	if len(ts) != len(xs)-1 || ts[0] != xs[0] || !tensor.ShapeEqual(ts[1:], xs[2:]) {
		return 0, 0, 0, fmt.Errorf("target shape %v does not match input shape %v (want [N, d1..dk])", ts, xs)
	}
	n, c, d = xs[0], xs[1], prod(xs[2:])
	if weight != nil && (weight.Rank() != 1 || weight.Len() != c) {
		return 0, 0, 0, fmt.Errorf("weight has shape %v, want [%d]", weight.Shape(), c)
	}
	return n, c, d, nil
}

func buildNLLLoss(b *Builder) (Kernel, error) { return buildLoss(b, false) }

func buildSoftmaxCrossEntropyLoss(b *Builder) (Kernel, error) { return buildLoss(b, true) }

// buildLoss builds NegativeLogLikelihoodLoss (softmax false: input holds
// log-probabilities) or SoftmaxCrossEntropyLoss (softmax true: input holds
// scores, and output 1 is the optional log_prob).
func buildLoss(b *Builder, softmax bool) (Kernel, error) {
	a, err := readLossAttrs(b)
	if err != nil {
		return nil, err
	}
	wantLogProb := softmax && b.Out(1)
	return KernelFunc(func(rc *RunContext, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
		if err := Need(in, 2); err != nil {
			return nil, err
		}
		X, tgt, W := in[0], in[1], Opt(in, 2)
		if err := checkDType("input", X, floatTypes...); err != nil {
			return nil, err
		}
		if err := sameDType("input and weight", X, W); err != nil {
			return nil, err
		}
		if err := checkDType("target", tgt, tensor.Int32, tensor.Int64); err != nil {
			return nil, err
		}
		n, c, d, err := lossShapes(X, tgt, W)
		if err != nil {
			return nil, err
		}
		target, err := tgt.AsInt64s()
		if err != nil {
			return nil, err
		}
		x, dt, err := Upcast(X)
		if err != nil {
			return nil, err
		}
		w, _, err := Upcast(W)
		if err != nil {
			return nil, err
		}
		outShape := []int{}
		if a.reduction == lossNone {
			outShape = tgt.Shape()
		}
		var outs []*tensor.Tensor
		switch x.DType() {
		case tensor.Float32:
			outs, err = runLoss(tensor.Data[float32](x), optData[float32](w), target, n, c, d, a, softmax, wantLogProb, outShape, X.Shape())
		case tensor.Float64:
			outs, err = runLoss(tensor.Data[float64](x), optData[float64](w), target, n, c, d, a, softmax, wantLogProb, outShape, X.Shape())
		default:
			return nil, ErrDType("input", X.DType())
		}
		if err != nil {
			return nil, err
		}
		for i, o := range outs {
			if outs[i], err = Downcast(o, dt); err != nil {
				return nil, err
			}
		}
		return outs, nil
	}), nil
}

// runLoss runs one loss on typed data and wraps the results: the loss of
// shape outShape, then (softmax only) log_prob of shape xShape when
// wantLogProb, else nil.
func runLoss[T Float](x, w []T, target []int64, n, c, d int, a lossAttrs, softmax, wantLogProb bool, outShape, xShape []int) ([]*tensor.Tensor, error) {
	if !softmax {
		loss, _, err := nllLoss(x, n, c, d, target, w, a)
		if err != nil {
			return nil, err
		}
		return []*tensor.Tensor{tensor.From(outShape, loss)}, nil
	}
	loss, lp, _, err := softmaxCrossEntropy(x, n, c, d, target, w, a)
	if err != nil {
		return nil, err
	}
	outs := []*tensor.Tensor{tensor.From(outShape, loss), nil}
	if wantLogProb {
		outs[1] = tensor.From(xShape, lp)
	}
	return outs, nil
}
