package ops

import "fmt"

// Gradient rules of the elementwise operators: arithmetic with numpy
// broadcasting (Add, Sub, Mul, Div, Pow, Sum, Mean, Max, Min, Where), the
// one-input math and activation functions, Clip, Identity and Cast.
// Inputs that were broadcast get their gradient through SumToShape.

// gradElementwise returns the rule of an elementwise operator, or nil.
func gradElementwise(name string) GradFunc {
	switch name {
	case "Add":
		return gradAdd
	case "Sub":
		return gradSub
	case "Mul":
		return gradMul
	case "Div":
		return gradDiv
	case "Pow":
		return gradPow
	case "Neg":
		return gradNeg
	case "Identity":
		return gradIdentity
	case "Cast":
		return gradCast
	case "Sum", "Mean":
		return gradSumMean
	case "Max", "Min":
		return gradMaxMin
	case "Where":
		return gradWhere
	case "Clip":
		return gradClip
	}
	if _, ok := unaryDerivs[name]; ok {
		return gradUnary
	}
	return nil
}

// gradShapeOf emits Shape(input i).
func gradShapeOf(g GradContext, i int) string {
	return g.Emit("", "Shape", []string{g.Input(i)}, 1)[0]
}

// setSummedGrad declares grad, which has the broadcast shape of the node's
// output, as the gradient of input i after summing it to i's shape.
func setSummedGrad(g GradContext, i int, grad string) {
	g.SetInputGrad(i, g.Emit(GradDomain, "SumToShape", []string{grad, gradShapeOf(g, i)}, 1)[0])
}

// checkNumpyBroadcast rejects the axis-style broadcasting of opsets
// before 7 (broadcast=1 with an axis), which SumToShape cannot undo.
func checkNumpyBroadcast(g GradContext) error {
	b := g.Node()
	if b.Opset < 7 && b.Int("broadcast", 0) != 0 {
		return fmt.Errorf("gradient of %s with the legacy broadcast attribute (opset %d) is not supported: use opset 7 or later", b.OpType, b.Opset)
	}
	return b.Err()
}

func gradAdd(g GradContext) error {
	if err := checkNumpyBroadcast(g); err != nil {
		return err
	}
	dy := g.OutputGrad(0)
	for i := 0; i < 2; i++ {
		if g.NeedsGrad(i) {
			setSummedGrad(g, i, dy)
		}
	}
	return nil
}

func gradSub(g GradContext) error {
	if err := checkNumpyBroadcast(g); err != nil {
		return err
	}
	dy := g.OutputGrad(0)
	if g.NeedsGrad(0) {
		setSummedGrad(g, 0, dy)
	}
	if g.NeedsGrad(1) {
		setSummedGrad(g, 1, g.Emit("", "Neg", []string{dy}, 1)[0])
	}
	return nil
}

func gradMul(g GradContext) error {
	if err := checkNumpyBroadcast(g); err != nil {
		return err
	}
	dy := g.OutputGrad(0)
	if g.NeedsGrad(0) {
		setSummedGrad(g, 0, g.Emit("", "Mul", []string{dy, g.Input(1)}, 1)[0])
	}
	if g.NeedsGrad(1) {
		setSummedGrad(g, 1, g.Emit("", "Mul", []string{dy, g.Input(0)}, 1)[0])
	}
	return nil
}

// gradDiv: y = a/b, da = dy/b, db = -dy*a/b² = -da*y.
func gradDiv(g GradContext) error {
	if err := checkNumpyBroadcast(g); err != nil {
		return err
	}
	da := g.Emit("", "Div", []string{g.OutputGrad(0), g.Input(1)}, 1)[0]
	if g.NeedsGrad(0) {
		setSummedGrad(g, 0, da)
	}
	if g.NeedsGrad(1) {
		db := g.Emit("", "Mul", []string{da, g.Output(0)}, 1)[0]
		setSummedGrad(g, 1, g.Emit("", "Neg", []string{db}, 1)[0])
	}
	return nil
}

// gradPow: y = x^p, dx = dy*p*x^(p-1), dp = dy*y*ln(x) (PowGrad).
func gradPow(g GradContext) error {
	if err := checkNumpyBroadcast(g); err != nil {
		return err
	}
	d := g.Emit(GradDomain, "PowGrad", []string{g.OutputGrad(0), g.Input(0), g.Input(1)}, 2)
	for i := 0; i < 2; i++ {
		if g.NeedsGrad(i) {
			setSummedGrad(g, i, d[i])
		}
	}
	return nil
}

func gradNeg(g GradContext) error {
	g.SetInputGrad(0, g.Emit("", "Neg", []string{g.OutputGrad(0)}, 1)[0])
	return nil
}

func gradIdentity(g GradContext) error {
	g.SetInputGrad(0, g.OutputGrad(0))
	return nil
}

// gradCast converts the gradient back to the input's element type.
func gradCast(g GradContext) error {
	g.SetInputGrad(0, g.Emit(GradDomain, "CastLike", []string{g.OutputGrad(0), g.Input(0)}, 1)[0])
	return nil
}

// gradSumMean: every input of Sum gets dy (summed to its shape); Mean's
// get dy/n.
func gradSumMean(g GradContext) error {
	b := g.Node()
	dy := g.OutputGrad(0)
	if b.OpType == "Mean" && b.NumInputs > 1 {
		dy = g.Emit(GradDomain, "Scale", []string{dy}, 1, FloatAttr("scale", 1/float32(b.NumInputs)))[0]
	}
	for i := 0; i < b.NumInputs; i++ {
		if g.NeedsGrad(i) {
			setSummedGrad(g, i, dy)
		}
	}
	return nil
}

// gradMaxMin routes dy to the input that gave each output element (the
// first one on ties).
func gradMaxMin(g GradContext) error {
	b := g.Node()
	mode := "max"
	if b.OpType == "Min" {
		mode = "min"
	}
	ins := []string{g.OutputGrad(0)}
	for i := 0; i < b.NumInputs; i++ {
		ins = append(ins, g.Input(i))
	}
	d := g.Emit(GradDomain, "MaxMinGrad", ins, b.NumInputs, StringAttr("mode", mode))
	for i := 0; i < b.NumInputs; i++ {
		if g.NeedsGrad(i) {
			setSummedGrad(g, i, d[i])
		}
	}
	return nil
}

// gradWhere: y = where(c, a, b), da = where(c, dy, 0), db = where(c, 0, dy).
func gradWhere(g GradContext) error {
	dy := g.OutputGrad(0)
	zeros := g.Emit(GradDomain, "ConstantLike", []string{dy}, 1, FloatAttr("value", 0))[0]
	if g.NeedsGrad(1) {
		setSummedGrad(g, 1, g.Emit("", "Where", []string{g.Input(0), dy, zeros}, 1)[0])
	}
	if g.NeedsGrad(2) {
		setSummedGrad(g, 2, g.Emit("", "Where", []string{g.Input(0), zeros, dy}, 1)[0])
	}
	return nil
}

// gradClip passes dy where min <= x <= max. The bounds are attributes
// before opset 11 and optional inputs after; they get no gradient.
func gradClip(g GradContext) error {
	b := g.Node()
	ins := []string{g.OutputGrad(0), g.Input(0)}
	var attrs []*Attr
	if b.Opset < 11 {
		for _, name := range []string{"min", "max"} {
			if b.Has(name) {
				attrs = append(attrs, FloatAttr(name, b.Float(name, 0)))
			}
		}
		if err := b.Err(); err != nil {
			return err
		}
	} else {
		ins = append(ins, g.Input(1), g.Input(2))
	}
	g.SetInputGrad(0, g.Emit(GradDomain, "ClipGrad", ins, 1, attrs...)[0])
	return nil
}

// gradUnary is the rule of the one-input functions listed in unaryDerivs:
// UnaryGrad(dy, x, y) with the operator's name and alpha.
func gradUnary(g GradContext) error {
	b := g.Node()
	attrs := []*Attr{StringAttr("op", b.OpType)}
	switch b.OpType {
	case "LeakyRelu":
		attrs = append(attrs, FloatAttr("alpha", b.Float("alpha", 0.01)))
	case "Elu":
		attrs = append(attrs, FloatAttr("alpha", b.Float("alpha", 1)))
	}
	if err := b.Err(); err != nil {
		return err
	}
	g.SetInputGrad(0, g.Emit(GradDomain, "UnaryGrad", []string{g.OutputGrad(0), g.Input(0), g.Output(0)}, 1, attrs...)[0])
	return nil
}
