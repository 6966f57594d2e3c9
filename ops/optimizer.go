package ops

import (
	"fmt"
	"math"

	"github.com/onyxrt/onyx/tensor"
)

// This file holds the optimizer operators of the ai.onnx.preview.training
// domain: Adagrad, Adam and Momentum (standard and Nesterov). Each takes a
// learning rate R, an update count T and then runs of n tensors (X_1..X_n,
// their gradients G_1..G_n and their optimizer state), and returns the
// updated tensors and state, also in runs of n. The update of one tensor is
// an unexported generic function (adagradStep, adamStep, momentumStep)
// that the train package reuses, so that the operators and training share
// one implementation of each equation.

// trainingDomain is the domain of the ONNX training operators.
const trainingDomain = "ai.onnx.preview.training"

func registerOptimizer(r *Registry) {
	r.Register(
		&Def{Domain: trainingDomain, Name: "Adagrad", Since: 1, Build: buildAdagrad, Infer: inferOptimizer(3)},
		&Def{Domain: trainingDomain, Name: "Adam", Since: 1, Build: buildAdam, Infer: inferOptimizer(4)},
		&Def{Domain: trainingDomain, Name: "Momentum", Since: 1, Build: buildMomentum, Infer: inferOptimizer(3)},
	)
}

// adagradParams are the attributes of Adagrad.
type adagradParams struct {
	normCoefficient float64 // L2 regularization coefficient
	decayFactor     float64 // learning-rate decay per update
	epsilon         float64 // added to the root of the accumulated squares
}

// adagradStep computes one ADAGRAD update of one tensor x with gradient g
// and accumulated squared gradient h (g and h have len(x) elements), with
// learning rate r and update count t, following the ONNX Adagrad equations:
//
//	r' = r / (1 + t*decayFactor)
//	g' = normCoefficient*x + g
//	hNew = h + g'*g'
//	xNew = x - r' * g' / (sqrt(hNew) + epsilon)
//
// Scalar factors are computed in float64 and rounded to T once. It
// allocates fresh results and never modifies its arguments. Both the
// Adagrad operator and the train package's Adagrad optimizer use it; a node
// updating several tensors applies it to each.
func adagradStep[T Float](p adagradParams, r float64, t int64, x, g, h []T) (xNew, hNew []T) {
	rate := T(r / (1 + float64(t)*p.decayFactor))
	norm, eps := T(p.normCoefficient), T(p.epsilon)
	xNew, hNew = make([]T, len(x)), make([]T, len(x))
	for i, xv := range x {
		gr := norm*xv + g[i]
		hn := h[i] + gr*gr
		hNew[i] = hn
		xNew[i] = xv - rate*gr/(T(math.Sqrt(float64(hn)))+eps)
	}
	return xNew, hNew
}

// adamParams are the attributes of Adam.
type adamParams struct {
	alpha               float64 // decay of the averaged gradient
	beta                float64 // decay of the averaged squared gradient
	epsilon             float64 // added to the root of the averaged squares
	normCoefficient     float64 // L2 regularization coefficient (before the update)
	normCoefficientPost float64 // weight decay applied after the update
}

// adamStep computes one Adam update of one tensor x with gradient g,
// averaged gradient v and averaged squared gradient h (g, v and h have
// len(x) elements), with learning rate r and update count t, following the
// ONNX Adam equations:
//
//	g' = normCoefficient*x + g
//	vNew = alpha*v + (1-alpha)*g'
//	hNew = beta*h + (1-beta)*g'*g'
//	r' = t > 0 ? r*sqrt(1-beta^t)/(1-alpha^t) : r
//	xNew = (1-normCoefficientPost) * (x - r' * vNew/(sqrt(hNew)+epsilon))
//
// Scalar factors are computed in float64 and rounded to T once. It
// allocates fresh results and never modifies its arguments. Both the Adam
// operator and the train package's Adam optimizer use it; a node updating
// several tensors applies it to each.
func adamStep[T Float](p adamParams, r float64, t int64, x, g, v, h []T) (xNew, vNew, hNew []T) {
	ra := r
	if t > 0 {
		ra = r * math.Sqrt(1-math.Pow(p.beta, float64(t))) / (1 - math.Pow(p.alpha, float64(t)))
	}
	rate := T(ra)
	norm, eps := T(p.normCoefficient), T(p.epsilon)
	alpha, beta := T(p.alpha), T(p.beta)
	alpha1, beta1 := T(1-p.alpha), T(1-p.beta)
	post := T(1 - p.normCoefficientPost)
	xNew, vNew, hNew = make([]T, len(x)), make([]T, len(x)), make([]T, len(x))
	for i, xv := range x {
		gr := norm*xv + g[i]
		vn := alpha*v[i] + alpha1*gr
		hn := beta*h[i] + beta1*(gr*gr)
		vNew[i], hNew[i] = vn, hn
		xNew[i] = post * (xv - rate*(vn/(T(math.Sqrt(float64(hn)))+eps)))
	}
	return xNew, vNew, hNew
}

// momentumParams are the attributes of Momentum.
type momentumParams struct {
	alpha           float64 // decay of the previous momentum
	beta            float64 // scale of the current gradient (1 when t == 0)
	normCoefficient float64 // L2 regularization coefficient
	nesterov        bool    // mode "nesterov" instead of "standard"
}

// momentumStep computes one stochastic-gradient update with momentum of one
// tensor x with gradient g and momentum v (g and v have len(x) elements),
// with learning rate r and update count t, following the ONNX Momentum
// equations:
//
//	g' = normCoefficient*x + g
//	beta' = t > 0 ? beta : 1
//	vNew = alpha*v + beta'*g'
//	xNew = x - r*vNew                 (standard)
//	xNew = x - r*(g' + alpha*vNew)    (nesterov)
//
// It allocates fresh results and never modifies its arguments. Both the
// Momentum operator and the train package's SGD-with-momentum optimizer
// use it; a node updating several tensors applies it to each.
func momentumStep[T Float](p momentumParams, r float64, t int64, x, g, v []T) (xNew, vNew []T) {
	betaAdj := 1.0
	if t > 0 {
		betaAdj = p.beta
	}
	rate, norm, alpha, beta := T(r), T(p.normCoefficient), T(p.alpha), T(betaAdj)
	xNew, vNew = make([]T, len(x)), make([]T, len(x))
	for i, xv := range x {
		gr := norm*xv + g[i]
		vn := alpha*v[i] + beta*gr
		vNew[i] = vn
		if p.nesterov {
			xNew[i] = xv - rate*(gr+alpha*vn)
		} else {
			xNew[i] = xv - rate*vn
		}
	}
	return xNew, vNew
}

// floatAttr reads float attribute name into a float64, with def when
// absent; a required attribute that is missing records an error.
func floatAttr(b *Builder, name string, def float32, required bool) float64 {
	if required && !b.Has(name) {
		b.Fail("required attribute %q is missing", name)
	}
	return float64(b.Float(name, def))
}

func buildAdagrad(b *Builder) (Kernel, error) {
	p := adagradParams{
		normCoefficient: floatAttr(b, "norm_coefficient", 0, false),
		decayFactor:     floatAttr(b, "decay_factor", 0, false),
		epsilon:         floatAttr(b, "epsilon", 1e-6, false),
	}
	if err := b.Err(); err != nil {
		return nil, err
	}
	return optimizerKernel(b, 3, 2,
		func(r float64, t int64, in [][]float32) [][]float32 {
			x, h := adagradStep(p, r, t, in[0], in[1], in[2])
			return [][]float32{x, h}
		},
		func(r float64, t int64, in [][]float64) [][]float64 {
			x, h := adagradStep(p, r, t, in[0], in[1], in[2])
			return [][]float64{x, h}
		})
}

func buildAdam(b *Builder) (Kernel, error) {
	p := adamParams{
		alpha:               floatAttr(b, "alpha", 0.9, false),
		beta:                floatAttr(b, "beta", 0.999, false),
		epsilon:             floatAttr(b, "epsilon", 1e-6, false),
		normCoefficient:     floatAttr(b, "norm_coefficient", 0, false),
		normCoefficientPost: floatAttr(b, "norm_coefficient_post", 0, false),
	}
	if err := b.Err(); err != nil {
		return nil, err
	}
	return optimizerKernel(b, 4, 3,
		func(r float64, t int64, in [][]float32) [][]float32 {
			x, v, h := adamStep(p, r, t, in[0], in[1], in[2], in[3])
			return [][]float32{x, v, h}
		},
		func(r float64, t int64, in [][]float64) [][]float64 {
			x, v, h := adamStep(p, r, t, in[0], in[1], in[2], in[3])
			return [][]float64{x, v, h}
		})
}

func buildMomentum(b *Builder) (Kernel, error) {
	p := momentumParams{
		alpha:           floatAttr(b, "alpha", 0, true),
		beta:            floatAttr(b, "beta", 0, true),
		normCoefficient: floatAttr(b, "norm_coefficient", 0, true),
	}
	if !b.Has("mode") {
		b.Fail("required attribute %q is missing", "mode")
	}
	mode := b.String("mode", "")
	if err := b.Err(); err != nil {
		return nil, err
	}
	switch mode {
	case "standard":
	case "nesterov":
		p.nesterov = true
	default:
		return nil, fmt.Errorf("mode %q is not one of standard, nesterov", mode)
	}
	return optimizerKernel(b, 3, 2,
		func(r float64, t int64, in [][]float32) [][]float32 {
			x, v := momentumStep(p, r, t, in[0], in[1], in[2])
			return [][]float32{x, v}
		},
		func(r float64, t int64, in [][]float64) [][]float64 {
			x, v := momentumStep(p, r, t, in[0], in[1], in[2])
			return [][]float64{x, v}
		})
}

// optimizerStepFunc updates one tensor: in holds its slices of the input
// runs (X, G, then the state), and the result its slices of the output runs.
type optimizerStepFunc[T Float] func(r float64, t int64, in [][]T) [][]T

// optimizerArity returns n, the number of tensors a node updates, for an
// optimizer whose inputs after R and T are inGroups runs of n tensors and
// whose outputs are at most outGroups runs of n.
func optimizerArity(b *Builder, inGroups, outGroups int) (int, error) {
	rest := b.NumInputs - 2
	if rest <= 0 || rest%inGroups != 0 {
		return 0, fmt.Errorf("got %d inputs, want R, T and then %d runs of n >= 1 tensors", b.NumInputs, inGroups)
	}
	for i := 0; i < b.NumInputs; i++ {
		if !b.In(i) {
			return 0, fmt.Errorf("input %d is missing (no input is optional)", i)
		}
	}
	n := rest / inGroups
	if b.NumOutputs < 1 || b.NumOutputs > outGroups*n {
		return 0, fmt.Errorf("got %d outputs, want at most %d (%d runs of %d tensors)", b.NumOutputs, outGroups*n, outGroups, n)
	}
	return n, nil
}

// optimizerKernel returns the kernel of an optimizer with inGroups input
// runs and outGroups output runs: it checks R, T and the tensors, and
// applies step32 or step64 to each updated tensor.
func optimizerKernel(b *Builder, inGroups, outGroups int, step32 optimizerStepFunc[float32], step64 optimizerStepFunc[float64]) (Kernel, error) {
	n, err := optimizerArity(b, inGroups, outGroups)
	if err != nil {
		return nil, err
	}
	nOut := b.NumOutputs
	return KernelFunc(func(rc *RunContext, inputs []*tensor.Tensor) ([]*tensor.Tensor, error) {
		if err := Need(inputs, 2+inGroups*n); err != nil {
			return nil, err
		}
		r, t, err := optimizerScalars(inputs[0], inputs[1])
		if err != nil {
			return nil, err
		}
		tensors := inputs[2 : 2+inGroups*n]
		switch dt := tensors[0].DType(); dt {
		case tensor.Float32:
			return runOptimizer(r, t, tensors, n, inGroups, outGroups, nOut, step32)
		case tensor.Float64:
			return runOptimizer(r, t, tensors, n, inGroups, outGroups, nOut, step64)
		default:
			return nil, ErrDType("optimized tensor", dt)
		}
	}), nil
}

// optimizerScalars reads the learning rate R (float or double) and the
// update count T (int64), each a scalar or a one-element tensor.
func optimizerScalars(rt, tt *tensor.Tensor) (float64, int64, error) {
	if rt.Len() != 1 {
		return 0, 0, fmt.Errorf("learning rate R has shape %v, want a scalar", rt.Shape())
	}
	var r float64
	switch d := rt.Data().(type) {
	case []float32:
		r = float64(d[0])
	case []float64:
		r = d[0]
	default:
		return 0, 0, fmt.Errorf("learning rate R has element type %v, want float or double", rt.DType())
	}
	if tt.Len() != 1 {
		return 0, 0, fmt.Errorf("update count T has shape %v, want a scalar", tt.Shape())
	}
	d, ok := tt.Data().([]int64)
	if !ok {
		return 0, 0, fmt.Errorf("update count T has element type %v, want int64", tt.DType())
	}
	return r, d[0], nil
}

// runOptimizer checks that the tensors (inGroups runs of n) share one
// element type and that tensor j of every run has the shape of X_j, applies
// step to each j, and returns the first nOut outputs (outGroups runs of n).
func runOptimizer[T Float](r float64, t int64, tensors []*tensor.Tensor, n, inGroups, outGroups, nOut int, step optimizerStepFunc[T]) ([]*tensor.Tensor, error) {
	for i, x := range tensors {
		if _, ok := x.Data().([]T); !ok {
			return nil, fmt.Errorf("input %d has element type %v, want %v like X_1", i+2, x.DType(), tensors[0].DType())
		}
		if ref := tensors[i%n]; !tensor.ShapeEqual(x.Shape(), ref.Shape()) {
			return nil, fmt.Errorf("input %d has shape %v, want %v like input %d", i+2, x.Shape(), ref.Shape(), i%n+2)
		}
	}
	out := make([]*tensor.Tensor, outGroups*n)
	in := make([][]T, inGroups)
	for j := 0; j < n; j++ {
		for k := range in {
			in[k] = tensor.Data[T](tensors[k*n+j])
		}
		res := step(r, t, in)
		for k, s := range res {
			o, err := tensor.FromSlice(tensors[j].Shape(), s)
			if err != nil {
				return nil, err
			}
			out[k*n+j] = o
		}
	}
	return out[:nOut], nil
}

// inferOptimizer is the shape rule of an optimizer with inGroups input
// runs: output run k, tensor j has the type and shape of X_j.
func inferOptimizer(inGroups int) InferFunc {
	return func(b *Builder, in []Meta) ([]Meta, error) {
		out := make([]Meta, b.NumOutputs)
		if len(in) < 2+inGroups || (len(in)-2)%inGroups != 0 {
			return out, nil
		}
		n := (len(in) - 2) / inGroups
		for i := range out {
			x := in[2+i%n]
			out[i] = Meta{DType: x.DType, Shape: x.Shape}
		}
		return out, nil
	}
}
