package train

import (
	"fmt"
	"math"

	"github.com/onyxrt/onyx/ops"
	"github.com/onyxrt/onyx/tensor"
)

// An Optimizer updates parameters from their gradients. The update
// equations are the ONNX training operators' (ops.MomentumStep,
// ops.AdamStep, ops.AdagradStep), so a model trained here and one trained
// with the ai.onnx.preview.training operators agree. Optimizers keep
// per-parameter state and are not safe for concurrent use.
type Optimizer interface {
	// LR is the base learning rate (schedules scale it).
	LR() float64
	// Update returns the new value of parameter name, x, given its
	// gradient g, the learning rate lr and the 1-based update count t.
	// It does not modify x or g.
	Update(name string, x, g *tensor.Tensor, lr float64, t int64) (*tensor.Tensor, error)
}

// SGD is stochastic gradient descent, x -= lr*(g + WeightDecay*x),
// optionally with momentum (heavy-ball or Nesterov), as the ONNX Momentum
// operator defines it: v = Momentum*v + g', x -= lr*v (standard) or
// x -= lr*(g' + Momentum*v) (Nesterov), g' = g + WeightDecay*x.
type SGD struct {
	LearningRate float64
	Momentum     float64
	Nesterov     bool
	WeightDecay  float64 // L2 coefficient added to the gradient
	velocity     map[string]*tensor.Tensor
}

// NewSGD returns plain SGD with learning rate lr.
func NewSGD(lr float64) *SGD { return &SGD{LearningRate: lr} }

// NewMomentum returns SGD with momentum (Nesterov's when nesterov is set).
func NewMomentum(lr, momentum float64, nesterov bool) *SGD {
	return &SGD{LearningRate: lr, Momentum: momentum, Nesterov: nesterov}
}

// LR returns the base learning rate.
func (o *SGD) LR() float64 { return o.LearningRate }

// Update applies one step.
func (o *SGD) Update(name string, x, g *tensor.Tensor, lr float64, t int64) (*tensor.Tensor, error) {
	if o.velocity == nil {
		o.velocity = map[string]*tensor.Tensor{}
	}
	p := ops.MomentumParams{Alpha: o.Momentum, Beta: 1, NormCoefficient: o.WeightDecay, Nesterov: o.Nesterov}
	v, err := state(o.velocity, name, x)
	if err != nil {
		return nil, err
	}
	var res []*tensor.Tensor
	switch xs := x.Data().(type) {
	case []float32:
		xn, vn := ops.MomentumStep(p, lr, t, xs, tensor.Data[float32](g), tensor.Data[float32](v))
		res = wrap(x.Shape(), xn, vn)
	case []float64:
		xn, vn := ops.MomentumStep(p, lr, t, xs, tensor.Data[float64](g), tensor.Data[float64](v))
		res = wrap(x.Shape(), xn, vn)
	}
	if o.Momentum != 0 {
		o.velocity[name] = res[1]
	}
	return res[0], nil
}

// Adam is the Adam optimizer as the ONNX Adam operator defines it (bias
// correction folded into the learning rate, epsilon outside the root).
// WeightDecay is an L2 term added to the gradient; with Decoupled set
// (AdamW) it is instead applied after the update, x *= 1 - lr*WeightDecay
// (the operator's norm_coefficient_post).
type Adam struct {
	LearningRate float64
	Beta1        float64 // default 0.9
	Beta2        float64 // default 0.999
	Epsilon      float64 // default 1e-8
	WeightDecay  float64
	Decoupled    bool
	m, v         map[string]*tensor.Tensor
}

// NewAdam returns Adam with learning rate lr and the usual defaults.
func NewAdam(lr float64) *Adam {
	return &Adam{LearningRate: lr, Beta1: 0.9, Beta2: 0.999, Epsilon: 1e-8}
}

// NewAdamW returns Adam with decoupled weight decay wd.
func NewAdamW(lr, wd float64) *Adam {
	a := NewAdam(lr)
	a.WeightDecay, a.Decoupled = wd, true
	return a
}

// LR returns the base learning rate.
func (o *Adam) LR() float64 { return o.LearningRate }

// Update applies one step.
func (o *Adam) Update(name string, x, g *tensor.Tensor, lr float64, t int64) (*tensor.Tensor, error) {
	if o.m == nil {
		o.m, o.v = map[string]*tensor.Tensor{}, map[string]*tensor.Tensor{}
	}
	p := ops.AdamParams{Alpha: orDefault(o.Beta1, 0.9), Beta: orDefault(o.Beta2, 0.999), Epsilon: orDefault(o.Epsilon, 1e-8)}
	if o.Decoupled {
		p.NormCoefficientPost = lr * o.WeightDecay
	} else {
		p.NormCoefficient = o.WeightDecay
	}
	m, err := state(o.m, name, x)
	if err != nil {
		return nil, err
	}
	v, _ := state(o.v, name, x)
	var res []*tensor.Tensor
	switch xs := x.Data().(type) {
	case []float32:
		xn, mn, vn := ops.AdamStep(p, lr, t, xs, tensor.Data[float32](g), tensor.Data[float32](m), tensor.Data[float32](v))
		res = wrap(x.Shape(), xn, mn, vn)
	case []float64:
		xn, mn, vn := ops.AdamStep(p, lr, t, xs, tensor.Data[float64](g), tensor.Data[float64](m), tensor.Data[float64](v))
		res = wrap(x.Shape(), xn, mn, vn)
	}
	o.m[name], o.v[name] = res[1], res[2]
	return res[0], nil
}

// Adagrad is the Adagrad optimizer as the ONNX Adagrad operator defines
// it: the learning rate decays as lr/(1+t*DecayFactor), the update is
// g'/(sqrt(sum g'^2)+Epsilon), g' = g + WeightDecay*x.
type Adagrad struct {
	LearningRate float64
	DecayFactor  float64
	Epsilon      float64 // default 1e-6
	WeightDecay  float64
	h            map[string]*tensor.Tensor
}

// NewAdagrad returns Adagrad with learning rate lr.
func NewAdagrad(lr float64) *Adagrad { return &Adagrad{LearningRate: lr, Epsilon: 1e-6} }

// LR returns the base learning rate.
func (o *Adagrad) LR() float64 { return o.LearningRate }

// Update applies one step. The ONNX operator's update count starts at 0
// (no decay on the first update), so t-1 is passed.
func (o *Adagrad) Update(name string, x, g *tensor.Tensor, lr float64, t int64) (*tensor.Tensor, error) {
	if o.h == nil {
		o.h = map[string]*tensor.Tensor{}
	}
	p := ops.AdagradParams{NormCoefficient: o.WeightDecay, DecayFactor: o.DecayFactor, Epsilon: orDefault(o.Epsilon, 1e-6)}
	h, err := state(o.h, name, x)
	if err != nil {
		return nil, err
	}
	var res []*tensor.Tensor
	switch xs := x.Data().(type) {
	case []float32:
		xn, hn := ops.AdagradStep(p, lr, t-1, xs, tensor.Data[float32](g), tensor.Data[float32](h))
		res = wrap(x.Shape(), xn, hn)
	case []float64:
		xn, hn := ops.AdagradStep(p, lr, t-1, xs, tensor.Data[float64](g), tensor.Data[float64](h))
		res = wrap(x.Shape(), xn, hn)
	}
	o.h[name] = res[1]
	return res[0], nil
}

// state returns the optimizer state tensor of a parameter, zeros like x
// the first time. It fails unless x is float32 or float64.
func state(m map[string]*tensor.Tensor, name string, x *tensor.Tensor) (*tensor.Tensor, error) {
	if x.DType() != tensor.Float32 && x.DType() != tensor.Float64 {
		return nil, fmt.Errorf("train: parameter %q has element type %v; optimizers update float32 and float64", name, x.DType())
	}
	if s, ok := m[name]; ok && tensor.ShapeEqual(s.Shape(), x.Shape()) {
		return s, nil
	}
	s, err := tensor.New(x.DType(), x.Shape()...)
	if err != nil {
		return nil, err
	}
	m[name] = s
	return s, nil
}

func wrap[T float32 | float64](shape []int, slices ...[]T) []*tensor.Tensor {
	out := make([]*tensor.Tensor, len(slices))
	for i, s := range slices {
		out[i] = tensor.From(shape, s)
	}
	return out
}

// checkGrad fails unless g can update x.
func checkGrad(name string, x, g *tensor.Tensor) error {
	if g == nil {
		return fmt.Errorf("train: no gradient for parameter %q", name)
	}
	if g.DType() != x.DType() || !tensor.ShapeEqual(g.Shape(), x.Shape()) {
		return fmt.Errorf("train: gradient of %q is %v%v, the parameter %v%v", name, g.DType(), g.Shape(), x.DType(), x.Shape())
	}
	return nil
}

// clipGlobalNorm scales every gradient by maxNorm/norm when their global
// L2 norm exceeds maxNorm, and returns the norm before clipping.
func clipGlobalNorm(grads map[string]*tensor.Tensor, maxNorm float64) (float64, error) {
	var sum float64
	for _, g := range grads {
		switch d := g.Data().(type) {
		case []float32:
			for _, v := range d {
				f := float64(v)
				sum += f * f
			}
		case []float64:
			for _, v := range d {
				sum += v * v
			}
		default:
			for _, v := range g.Float64s() {
				sum += v * v
			}
		}
	}
	norm := math.Sqrt(sum)
	if maxNorm <= 0 || norm <= maxNorm || norm == 0 {
		return norm, nil
	}
	scale := maxNorm / norm
	for name, g := range grads {
		switch d := g.Data().(type) {
		case []float32:
			out := make([]float32, len(d))
			for i, v := range d {
				out[i] = v * float32(scale)
			}
			grads[name] = tensor.From(g.Shape(), out)
		case []float64:
			out := make([]float64, len(d))
			for i, v := range d {
				out[i] = v * scale
			}
			grads[name] = tensor.From(g.Shape(), out)
		default:
			return 0, fmt.Errorf("train: gradient of %q has element type %v", name, g.DType())
		}
	}
	return norm, nil
}

// A Schedule gives the learning rate of each update from the base rate.
type Schedule interface {
	// LR returns the learning rate for update step (0-based).
	LR(base float64, step int) float64
}

// ConstantLR keeps the base learning rate.
type ConstantLR struct{}

// LR returns base.
func (ConstantLR) LR(base float64, _ int) float64 { return base }

// StepLR multiplies the learning rate by Gamma every StepSize updates.
type StepLR struct {
	StepSize int
	Gamma    float64
}

// LR returns base * Gamma^(step/StepSize).
func (s StepLR) LR(base float64, step int) float64 {
	if s.StepSize <= 0 {
		return base
	}
	return base * math.Pow(s.Gamma, float64(step/s.StepSize))
}

// CosineLR anneals the learning rate from the base rate to MinLR along a
// half cosine over TotalSteps updates, after Warmup updates of linear
// increase from 0; it stays at MinLR afterwards.
type CosineLR struct {
	TotalSteps int
	Warmup     int
	MinLR      float64
}

// LR returns the annealed learning rate.
func (s CosineLR) LR(base float64, step int) float64 {
	if step < s.Warmup {
		return base * float64(step+1) / float64(s.Warmup)
	}
	span := s.TotalSteps - s.Warmup
	if span <= 0 {
		return base
	}
	p := float64(step-s.Warmup) / float64(span)
	if p >= 1 {
		return s.MinLR
	}
	return s.MinLR + (base-s.MinLR)*(1+math.Cos(math.Pi*p))/2
}
