package ops

import (
	"fmt"
	"math"
	"strings"
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
			for i, x := range f {
				f[i] = sigmoid32(x)
			}
			return
		case actTanh:
			for i, x := range f {
				f[i] = tanh32(x)
			}
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

// expf is a float32 exponential accurate to about 1 ulp (Cephes expf):
// range reduction by ln 2 and a degree-6 polynomial.
func expf(x float32) float32 {
	switch {
	case x != x:
		return x
	case x > 88.72284:
		return float32(math.Inf(1))
	case x < -103.97208:
		return 0
	}
	fn := float32(math.Floor(float64(x*1.44269504088896341 + 0.5)))
	x -= fn * 0.693359375
	x -= fn * -2.12194440e-4
	p := ((((((1.9875691500e-4*x+1.3981999507e-3)*x+8.3334519073e-3)*x+4.1665795894e-2)*x+1.6666665459e-1)*x+5.0000001201e-1)*x*x + x) + 1
	n := int32(fn)
	switch {
	case n > 127:
		return p * 2 * math.Float32frombits(uint32(n-1+127)<<23)
	case n < -126:
		return p * math.Float32frombits(uint32(n+126+127)<<23) * math.Float32frombits(1<<23)
	}
	return p * math.Float32frombits(uint32(n+127)<<23)
}

// sigmoid32 is 1/(1+e^-x) in float32.
func sigmoid32(x float32) float32 { return 1 / (1 + expf(-x)) }

// tanh32 is tanh in float32 (Cephes tanhf): an odd polynomial near zero,
// 1 - 2/(e^2|x|+1) elsewhere.
func tanh32(x float32) float32 {
	z := x
	if z < 0 {
		z = -z
	}
	switch {
	case z != z:
		return x
	case z > 9.01: // tanh rounds to ±1 in float32
		if x < 0 {
			return -1
		}
		return 1
	case z >= 0.625:
		r := 1 - 2/(expf(z+z)+1)
		if x < 0 {
			r = -r
		}
		return r
	case x == 0:
		return x
	}
	s := x * x
	return ((((-5.70498872745e-3*s+2.06390887954e-2)*s-5.37397155531e-2)*s+1.33314422036e-1)*s-3.33332819422e-1)*s*x + x
}
