package ops

import (
	"fmt"
	"math"
	"strings"

	"github.com/onyxrt/onyx/ops/asm"
)

// rnnActKind names one of the activation functions the recurrent operators
// accept in their "activations" attribute.
type rnnActKind int

const (
	actSigmoid rnnActKind = iota
	actTanh
	actRelu
	actAffine
	actLeakyRelu
	actThresholdedRelu
	actScaledTanh
	actHardSigmoid
	actElu
	actSoftsign
	actSoftplus
)

// rnnActSpec describes how an activation reads activation_alpha/beta: whether
// it consumes an alpha and a beta, and their defaults (those of the ONNX
// operator of the same name).
type rnnActSpec struct {
	kind                rnnActKind
	usesAlpha, usesBeta bool
	defAlpha, defBeta   float32
}

var rnnActSpecs = map[string]rnnActSpec{
	"sigmoid":         {kind: actSigmoid},
	"tanh":            {kind: actTanh},
	"relu":            {kind: actRelu},
	"affine":          {kind: actAffine, usesAlpha: true, usesBeta: true, defAlpha: 1},
	"leakyrelu":       {kind: actLeakyRelu, usesAlpha: true, defAlpha: 0.01},
	"thresholdedrelu": {kind: actThresholdedRelu, usesAlpha: true, defAlpha: 1},
	"scaledtanh":      {kind: actScaledTanh, usesAlpha: true, usesBeta: true, defAlpha: 1, defBeta: 1},
	"hardsigmoid":     {kind: actHardSigmoid, usesAlpha: true, usesBeta: true, defAlpha: 0.2, defBeta: 0.5},
	"elu":             {kind: actElu, usesAlpha: true, defAlpha: 1},
	"softsign":        {kind: actSoftsign},
	"softplus":        {kind: actSoftplus},
}

// rnnAct is one resolved activation function with its parameters.
type rnnAct struct {
	kind        rnnActKind
	alpha, beta float32
}

// parseRNNActs resolves the activations attribute into perDir functions for
// each of numDir directions. names may hold one set for all directions or one
// per direction (the first perDir*numDir entries are used, so RNN's default
// ["Tanh", "Tanh"] serves a forward RNN). activation_alpha and _beta values
// are consumed in order by the activations that take them, as ONNX Runtime
// does; an activation without a value gets its operator's default.
func parseRNNActs(names []string, alphas, betas []float32, perDir, numDir int) ([]rnnAct, error) {
	acts := make([]rnnAct, 0, len(names))
	ai, bi := 0, 0
	for _, n := range names {
		spec, ok := rnnActSpecs[strings.ToLower(n)]
		if !ok {
			return nil, fmt.Errorf("unsupported activation %q", n)
		}
		a := rnnAct{kind: spec.kind, alpha: spec.defAlpha, beta: spec.defBeta}
		if spec.usesAlpha && ai < len(alphas) {
			a.alpha = alphas[ai]
			ai++
		}
		if spec.usesBeta && bi < len(betas) {
			a.beta = betas[bi]
			bi++
		}
		acts = append(acts, a)
	}
	want := perDir * numDir
	switch {
	case len(acts) >= want:
		return acts[:want], nil
	case len(acts) == perDir && numDir == 2:
		return append(acts, acts...), nil
	}
	return nil, fmt.Errorf("activations has %d entries, want %d (%d per direction)", len(acts), want, perDir)
}

// applyAct applies a to v in place.
func applyAct[T Float](a rnnAct, v []T) {
	if f, ok := any(v).([]float32); ok {
		switch a.kind {
		case actSigmoid:
			asm.Sigmoid(f, f)
			return
		case actTanh:
			asm.Tanh(f, f)
			return
		}
	}
	alpha, beta := T(a.alpha), T(a.beta)
	switch a.kind {
	case actSigmoid:
		for i, x := range v {
			v[i] = T(1 / (1 + math.Exp(-float64(x))))
		}
	case actTanh:
		for i, x := range v {
			v[i] = T(math.Tanh(float64(x)))
		}
	case actRelu:
		for i, x := range v {
			if x < 0 {
				v[i] = 0
			}
		}
	case actAffine:
		for i, x := range v {
			v[i] = alpha*x + beta
		}
	case actLeakyRelu:
		for i, x := range v {
			if x < 0 {
				v[i] = alpha * x
			}
		}
	case actThresholdedRelu:
		for i, x := range v {
			if x < alpha {
				v[i] = 0
			}
		}
	case actScaledTanh:
		for i, x := range v {
			v[i] = alpha * T(math.Tanh(float64(beta*x)))
		}
	case actHardSigmoid:
		for i, x := range v {
			v[i] = min(max(alpha*x+beta, 0), 1)
		}
	case actElu:
		for i, x := range v {
			if x < 0 {
				v[i] = alpha * T(math.Expm1(float64(x)))
			}
		}
	case actSoftsign:
		for i, x := range v {
			if x < 0 {
				v[i] = x / (1 - x)
			} else {
				v[i] = x / (1 + x)
			}
		}
	case actSoftplus:
		for i, x := range v {
			xf := float64(x)
			// log(1+e^x) = max(x,0) + log1p(e^-|x|), stable for large |x|.
			v[i] = T(math.Max(xf, 0) + math.Log1p(math.Exp(-math.Abs(xf))))
		}
	}
}
