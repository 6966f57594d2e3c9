package ops

import (
	"fmt"
	"math"

	"github.com/onyxrt/onyx/tensor"
)

// Gradient rules of the one-input functions that UnaryGrad does not cover
// (Celu, Selu, Softsign, HardSigmoid, HardSwish, Mish, Gelu,
// ThresholdedRelu, Shrink, Erf and the trigonometric and hyperbolic
// functions), of PRelu, CastLike and Mod, with their backward kernels:
//
//	ActivationGrad(dy, x) op=..., alpha, beta, gamma, approximate   dy * f'(x)
//	PReluGrad(dy, x, slope) legacy=0|1 -> (dx, dslope)              dslope summed to slope's shape

// gradActivation returns the rule of one of this file's operators, or nil.
func gradActivation(name string) GradFunc {
	switch name {
	case "PRelu":
		return gradPRelu
	case "CastLike":
		return gradCastLikeOp
	case "Mod":
		return gradMod
	}
	if _, ok := activationDerivs[name]; ok {
		return gradActivationOp
	}
	return nil
}

// activationParams are the attributes a derivative may depend on.
type activationParams struct {
	alpha, beta, gamma float64
	tanh               bool // Gelu's approximate="tanh"
}

// activationDerivs maps an operator to its derivative f'(x).
var activationDerivs = map[string]func(p activationParams) func(x float64) float64{
	"Celu": func(p activationParams) func(float64) float64 {
		return func(x float64) float64 {
			if x > 0 {
				return 1
			}
			return math.Exp(x / p.alpha)
		}
	},
	"Selu": func(p activationParams) func(float64) float64 {
		return func(x float64) float64 {
			if x > 0 {
				return p.gamma
			}
			return p.gamma * p.alpha * math.Exp(x)
		}
	},
	"Softsign": func(activationParams) func(float64) float64 {
		return func(x float64) float64 {
			d := 1 + math.Abs(x)
			return 1 / (d * d)
		}
	},
	"HardSigmoid": func(p activationParams) func(float64) float64 {
		return func(x float64) float64 {
			if v := p.alpha*x + p.beta; v > 0 && v < 1 {
				return p.alpha
			}
			return 0
		}
	},
	"HardSwish": func(activationParams) func(float64) float64 {
		return func(x float64) float64 {
			switch v := x/6 + 0.5; {
			case v <= 0:
				return 0
			case v >= 1:
				return 1
			}
			return x/3 + 0.5
		}
	},
	"Mish": func(activationParams) func(float64) float64 {
		return func(x float64) float64 {
			t := math.Tanh(softplus64(x))
			return t + x*(1-t*t)*sigmoid64(x)
		}
	},
	"Gelu": func(p activationParams) func(float64) float64 {
		if p.tanh {
			return func(x float64) float64 {
				u := sqrt2OverPi * (x + 0.044715*x*x*x)
				t := math.Tanh(u)
				return 0.5*(1+t) + 0.5*x*(1-t*t)*sqrt2OverPi*(1+3*0.044715*x*x)
			}
		}
		return func(x float64) float64 {
			return 0.5*(1+math.Erf(x/math.Sqrt2)) + x*math.Exp(-x*x/2)/math.Sqrt(2*math.Pi)
		}
	},
	"ThresholdedRelu": func(p activationParams) func(float64) float64 {
		return func(x float64) float64 {
			if x > p.alpha {
				return 1
			}
			return 0
		}
	},
	"Shrink": func(p activationParams) func(float64) float64 { // alpha is lambd
		return func(x float64) float64 {
			if x < -p.alpha || x > p.alpha {
				return 1
			}
			return 0
		}
	},
	"Erf": func(activationParams) func(float64) float64 {
		return func(x float64) float64 { return 2 / math.SqrtPi * math.Exp(-x*x) }
	},
	"Sin": func(activationParams) func(float64) float64 { return math.Cos },
	"Cos": func(activationParams) func(float64) float64 {
		return func(x float64) float64 { return -math.Sin(x) }
	},
	"Tan": func(activationParams) func(float64) float64 {
		return func(x float64) float64 {
			c := math.Cos(x)
			return 1 / (c * c)
		}
	},
	"Asin": func(activationParams) func(float64) float64 {
		return func(x float64) float64 { return 1 / math.Sqrt(1-x*x) }
	},
	"Acos": func(activationParams) func(float64) float64 {
		return func(x float64) float64 { return -1 / math.Sqrt(1-x*x) }
	},
	"Atan": func(activationParams) func(float64) float64 {
		return func(x float64) float64 { return 1 / (1 + x*x) }
	},
	"Sinh": func(activationParams) func(float64) float64 { return math.Cosh },
	"Cosh": func(activationParams) func(float64) float64 { return math.Sinh },
	"Asinh": func(activationParams) func(float64) float64 {
		return func(x float64) float64 { return 1 / math.Sqrt(x*x+1) }
	},
	"Acosh": func(activationParams) func(float64) float64 {
		return func(x float64) float64 { return 1 / math.Sqrt(x*x-1) }
	},
	"Atanh": func(activationParams) func(float64) float64 {
		return func(x float64) float64 { return 1 / (1 - x*x) }
	},
}

// gradActivationOp emits ActivationGrad(dy, x) with the forward node's
// attributes resolved (defaults included).
func gradActivationOp(g GradContext) error {
	dy := g.OutputGrad(0)
	if dy == "" || !g.NeedsGrad(0) {
		return nil
	}
	b := g.Node()
	attrs := []*Attr{StringAttr("op", b.OpType)}
	switch b.OpType {
	case "Celu", "ThresholdedRelu":
		attrs = append(attrs, FloatAttr("alpha", b.Float("alpha", 1)))
	case "Selu":
		defAlpha, defGamma := float32(1.67326319217681884765625), float32(1.05070102214813232421875)
		if b.Opset < 6 {
			defAlpha, defGamma = 1.6732, 1.0507
		}
		attrs = append(attrs, FloatAttr("alpha", b.Float("alpha", defAlpha)), FloatAttr("gamma", b.Float("gamma", defGamma)))
	case "HardSigmoid":
		attrs = append(attrs, FloatAttr("alpha", b.Float("alpha", 0.2)), FloatAttr("beta", b.Float("beta", 0.5)))
	case "Shrink":
		attrs = append(attrs, FloatAttr("alpha", b.Float("lambd", 0.5)))
	case "Gelu":
		attrs = append(attrs, StringAttr("approximate", b.String("approximate", "none")))
	}
	if err := b.Err(); err != nil {
		return err
	}
	g.SetInputGrad(0, g.Emit(GradDomain, "ActivationGrad", []string{dy, g.Input(0)}, 1, attrs...)[0])
	return nil
}

func buildActivationGrad(b *Builder) (Kernel, error) {
	op := b.String("op", "")
	p := activationParams{
		alpha: float64(b.Float("alpha", 0)),
		beta:  float64(b.Float("beta", 0)),
		gamma: float64(b.Float("gamma", 0)),
	}
	switch approx := b.String("approximate", "none"); approx {
	case "none":
	case "tanh":
		p.tanh = true
	default:
		b.Fail("approximate must be \"none\" or \"tanh\", got %q", approx)
	}
	if err := b.Err(); err != nil {
		return nil, err
	}
	mk, ok := activationDerivs[op]
	if !ok {
		return nil, fmt.Errorf("ActivationGrad: unknown op %q", op)
	}
	if op == "Celu" && p.alpha == 0 {
		return nil, fmt.Errorf("ActivationGrad: Celu alpha must not be 0")
	}
	f := mk(p)
	return halfWrap(func(rc *RunContext, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
		if err := Need(in, 2); err != nil {
			return nil, err
		}
		dy, x := in[0], in[1]
		if err := gradFloat("ActivationGrad", dy); err != nil {
			return nil, err
		}
		if x.DType() != dy.DType() || !tensor.ShapeEqual(x.Shape(), dy.Shape()) {
			return nil, fmt.Errorf("ActivationGrad(%s): x is %v %v, the gradient %v %v", op, x.DType(), x.Shape(), dy.DType(), dy.Shape())
		}
		switch dy.DType() {
		case tensor.Float32:
			return rc.Results(activationGradT[float32](rc, dy, x, f)), nil
		default:
			return rc.Results(activationGradT[float64](rc, dy, x, f)), nil
		}
	}), nil
}

func activationGradT[T Float](rc *RunContext, dy, x *tensor.Tensor, f func(float64) float64) *tensor.Tensor {
	g, xs := tensor.Data[T](dy), tensor.Data[T](x)
	out := make([]T, len(g))
	ewParallel(rc, len(g), grainHeavy, func(lo, hi int) {
		for i := lo; i < hi; i++ {
			out[i] = T(float64(g[i]) * f(float64(xs[i])))
		}
	})
	return tensor.From(dy.Shape(), out)
}

// ---- PRelu ----

// gradPRelu: PReluGrad(dy, x, slope) gives dx and dslope (summed to the
// slope's shape by the kernel, which knows the legacy per-channel form).
func gradPRelu(g GradContext) error {
	legacy := int64(0)
	if g.Node().Opset < 7 {
		legacy = 1
	}
	return gradKernel(g, "PReluGrad", []string{g.OutputGrad(0), g.Input(0), g.Input(1)}, 2, IntAttr("legacy", legacy))
}

func buildPReluGrad(b *Builder) (Kernel, error) {
	legacy := b.Int("legacy", 0) != 0
	if err := b.Err(); err != nil {
		return nil, err
	}
	return KernelFunc(func(rc *RunContext, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
		if err := Need(in, 3); err != nil {
			return nil, err
		}
		dyT, xT, sT := in[0], in[1], in[2]
		slope := sT
		if s, ok := channelSlope(xT, sT); ok && legacy {
			slope = s
		}
		xs := xT.Shape()
		if err := gxSameShape("PReluGrad: dy", dyT, xs); err != nil {
			return nil, err
		}
		shape, err := tensor.BroadcastShapes(xs, slope.Shape())
		if err != nil || !tensor.ShapeEqual(shape, xs) {
			return nil, fmt.Errorf("PReluGrad: slope of shape %v does not broadcast to %v", slope.Shape(), xs)
		}
		dy, err := gxFloats(dyT, "PReluGrad: dy")
		if err != nil {
			return nil, err
		}
		x, err := gxFloats(xT, "PReluGrad: x")
		if err != nil {
			return nil, err
		}
		sv, err := gxFloats(slope, "PReluGrad: slope")
		if err != nil {
			return nil, err
		}
		s := broadcastTo(sv, slope.Shape(), xs)
		dx, ds := make([]float64, len(x)), make([]float64, len(x))
		for i, v := range x {
			if v < 0 {
				dx[i] = dy[i] * s[i]
				ds[i] = dy[i] * v
			} else {
				dx[i] = dy[i]
			}
		}
		outs := []*tensor.Tensor{nil, nil}
		if outs[0], err = gxOut(dx, dyT.DType(), xs); err != nil {
			return nil, err
		}
		if b.Out(1) {
			sum, err := gxSumTo(ds, xs, slope.Shape())
			if err != nil {
				return nil, err
			}
			if outs[1], err = gxOut(sum, sT.DType(), sT.Shape()); err != nil {
				return nil, err
			}
		}
		return outs, nil
	}), nil
}

// ---- CastLike, Mod ----

// gradCastLikeOp converts the gradient back to the input's type; the
// target_type input only gives a type.
func gradCastLikeOp(g GradContext) error {
	if dy := g.OutputGrad(0); dy != "" && g.NeedsGrad(0) {
		g.SetInputGrad(0, g.Emit(GradDomain, "CastLike", []string{dy, g.Input(0)}, 1)[0])
	}
	return nil
}

// gradMod: y = a - b*q with q = floor(a/b) (or trunc(a/b) when fmod=1),
// constant almost everywhere, so da = dy and db = -dy*q, with q computed
// as (a - y)/b.
func gradMod(g GradContext) error {
	dy := g.OutputGrad(0)
	if dy == "" {
		return nil
	}
	if g.NeedsGrad(0) {
		setSummedGrad(g, 0, dy)
	}
	if g.NeedsGrad(1) {
		q := g.Emit("", "Div", []string{g.Emit("", "Sub", []string{g.Input(0), g.Output(0)}, 1)[0], g.Input(1)}, 1)[0]
		db := g.Emit("", "Neg", []string{g.Emit("", "Mul", []string{dy, q}, 1)[0]}, 1)[0]
		setSummedGrad(g, 1, db)
	}
	return nil
}
