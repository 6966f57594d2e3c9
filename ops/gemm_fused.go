package ops

import (
	"fmt"
	"math"

	"github.com/onyxrt/onyx/tensor"
)

// FusedGemm (domain FusedDomain) is what the graph passes make of a Gemm
// followed by an activation, and of a MatMul by a constant matrix
// followed by the Add of a bias vector (graph/fuse_gemm.go):
//
//	Y = act(alpha*op(A)*op(B) + beta*C)
//
// with Gemm's inputs and attributes (alpha, beta, transA, transB; C is
// optional), plus "activation" (Relu, LeakyRelu, Clip, Sigmoid, Tanh, or
// empty for none) and "activation_params" (LeakyRelu: alpha; Clip: min,
// max). With transA = 0, A may have any rank: it is read as the matrix
// of its leading dimensions by its last one, and Y has A's leading
// dimensions and N (MatMul's shape rule for a 2-D B). The activation is
// applied to each block of Y while it is in cache.

func registerFusedGemm(r *Registry) {
	r.Register(&Def{Domain: FusedDomain, Name: "FusedGemm", Since: 1, Build: buildFusedGemm, Infer: inferFusedGemm, Grad: NotDifferentiable})
}

func buildFusedGemm(b *Builder) (Kernel, error) { return buildGemmNode(b, true) }

func inferFusedGemm(b *Builder, in []Meta) ([]Meta, error) {
	if b.Int("transA", 0) != 0 || len(in) < 2 || in[0].Shape == nil || in[1].Shape == nil {
		return inferGemm(b, in)
	}
	a, w := in[0].Shape, in[1].Shape
	if len(a) < 1 || len(w) != 2 {
		return nil, fmt.Errorf("FusedGemm needs A of rank at least 1 and a 2-D B, got %v and %v", a, w)
	}
	k1 := a[len(a)-1]
	k2, n := w[0], w[1]
	if b.Int("transB", 0) != 0 {
		k2, n = n, k2
	}
	if k1.Known() && k2.Known() && k1.Size != k2.Size {
		return nil, fmt.Errorf("inner dimensions differ: %d vs %d", k1.Size, k2.Size)
	}
	s := append(append(tensor.SymShape(nil), a[:len(a)-1]...), n)
	return []Meta{{DType: in[0].DType, Shape: s}}, nil
}

// gemmAct is FusedGemm's activation.
type gemmAct struct {
	kind   string
	alpha  float32 // LeakyRelu
	lo, hi float32 // Relu and Clip bounds
}

// readGemmAct reads the activation attributes; nil means none.
func readGemmAct(b *Builder) (*gemmAct, error) {
	kind := b.String("activation", "")
	params := b.Floats("activation_params", nil)
	if err := b.Err(); err != nil {
		return nil, err
	}
	param := func(i int, def float32) float32 {
		if i < len(params) {
			return params[i]
		}
		return def
	}
	a := &gemmAct{kind: kind, lo: float32(math.Inf(-1)), hi: float32(math.Inf(1))}
	switch kind {
	case "":
		return nil, nil
	case "Relu":
		a.lo = 0
	case "LeakyRelu":
		a.alpha = param(0, 0.01)
	case "Clip":
		a.lo, a.hi = param(0, a.lo), param(1, a.hi)
	case "Sigmoid", "Tanh":
	default:
		return nil, fmt.Errorf("unsupported FusedGemm activation %q", kind)
	}
	return a, nil
}

// appliesTo reports whether the activation is defined for dt (integers
// take only the clamping ones).
func (a *gemmAct) appliesTo(dt tensor.DType) bool {
	if dt.IsFloat() {
		return true
	}
	return a.kind == "Relu" || a.kind == "Clip"
}

// apply32 applies the activation to v in place, with the very loops of
// the Relu, LeakyRelu, Clip, Sigmoid and Tanh operators, so that a fused
// Gemm gives bit for bit what the Gemm and the activation give apart.
func (a *gemmAct) apply32(v []float32) {
	switch a.kind {
	case "Relu":
		reluLoop(v, v)
	case "Clip":
		l, h := a.lo, a.hi
		for i, x := range v {
			v[i] = min(max(x, l), h)
		}
	case "LeakyRelu":
		leakyLoop[float32](a.alpha)(v, v)
	case "Sigmoid":
		sigmoidSlice32(v, v)
	case "Tanh":
		tanhSlice32(v, v)
	}
}

// applyGemmActAny applies the activation to a float64 or integer tensor.
func applyGemmActAny(a *gemmAct, y *tensor.Tensor) {
	switch d := y.Data().(type) {
	case []float32:
		a.apply32(d)
	case []float64:
		switch a.kind {
		case "LeakyRelu":
			leakyLoop[float64](a.alpha)(d, d)
		case "Sigmoid":
			mathLoop[float64](sigmoid64)(d, d)
		case "Tanh":
			mathLoop[float64](math.Tanh)(d, d)
		default:
			applyGemmClamp(a, d)
		}
	case []int32:
		applyGemmClamp(a, d)
	case []int64:
		applyGemmClamp(a, d)
	case []uint32:
		applyGemmClamp(a, d)
	case []uint64:
		applyGemmClamp(a, d)
	}
}

// applyGemmClamp is Relu or Clip on any numeric type.
func applyGemmClamp[T Number](a *gemmAct, v []T) {
	if a.kind == "Relu" {
		reluLoop(v, v)
		return
	}
	l, h := T(a.lo), T(a.hi)
	for i, x := range v {
		v[i] = min(max(x, l), h)
	}
}
