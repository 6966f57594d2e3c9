package ops

// Exported forms of the optimizer update equations of optimizer.go, for
// the train package's optimizers: one implementation serves the
// ai.onnx.preview.training operators and training in Go.

// AdagradParams are the attributes of the Adagrad operator.
type AdagradParams struct {
	NormCoefficient float64 // L2 regularization coefficient
	DecayFactor     float64 // learning-rate decay per update
	Epsilon         float64 // added to the root of the accumulated squares
}

// AdagradStep computes one Adagrad update of x with gradient g and
// accumulated squared gradient h, learning rate r and update count t, as
// the ONNX Adagrad operator does (see adagradStep). It returns fresh
// slices.
func AdagradStep[T Float](p AdagradParams, r float64, t int64, x, g, h []T) (xNew, hNew []T) {
	return adagradStep(adagradParams{normCoefficient: p.NormCoefficient, decayFactor: p.DecayFactor, epsilon: p.Epsilon}, r, t, x, g, h)
}

// AdamParams are the attributes of the Adam operator.
type AdamParams struct {
	Alpha               float64 // decay of the averaged gradient (beta1)
	Beta                float64 // decay of the averaged squared gradient (beta2)
	Epsilon             float64 // added to the root of the averaged squares
	NormCoefficient     float64 // L2 regularization coefficient (before the update)
	NormCoefficientPost float64 // weight decay applied after the update
}

// AdamStep computes one Adam update of x with gradient g, averaged
// gradient v and averaged squared gradient h, learning rate r and update
// count t (bias correction applies when t > 0), as the ONNX Adam operator
// does (see adamStep). It returns fresh slices.
func AdamStep[T Float](p AdamParams, r float64, t int64, x, g, v, h []T) (xNew, vNew, hNew []T) {
	return adamStep(adamParams{
		alpha: p.Alpha, beta: p.Beta, epsilon: p.Epsilon,
		normCoefficient: p.NormCoefficient, normCoefficientPost: p.NormCoefficientPost,
	}, r, t, x, g, v, h)
}

// MomentumParams are the attributes of the Momentum operator.
type MomentumParams struct {
	Alpha           float64 // decay of the previous momentum
	Beta            float64 // scale of the current gradient (1 when t == 0)
	NormCoefficient float64 // L2 regularization coefficient
	Nesterov        bool    // mode "nesterov" instead of "standard"
}

// MomentumStep computes one update with momentum of x with gradient g and
// momentum v, learning rate r and update count t, as the ONNX Momentum
// operator does (see momentumStep). Plain SGD is Alpha 0, Beta 1. It
// returns fresh slices.
func MomentumStep[T Float](p MomentumParams, r float64, t int64, x, g, v []T) (xNew, vNew []T) {
	return momentumStep(momentumParams{alpha: p.Alpha, beta: p.Beta, normCoefficient: p.NormCoefficient, nesterov: p.Nesterov}, r, t, x, g, v)
}
