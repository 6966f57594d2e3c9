package ops

import "fmt"

// Gradient rules of the dense-network operators: MatMul, Gemm, ReduceSum,
// ReduceMean, the reshaping operators (Reshape, Flatten, Squeeze,
// Unsqueeze, Transpose, Concat), Softmax, LogSoftmax and the losses
// SoftmaxCrossEntropyLoss and NegativeLogLikelihoodLoss.

// gradLinear returns the rule of one of those operators, or nil.
func gradLinear(name string) GradFunc {
	switch name {
	case "MatMul":
		return gradMatMul
	case "Gemm":
		return gradGemm
	case "ReduceSum", "ReduceMean":
		return gradReduce
	case "Reshape", "Flatten", "Squeeze", "Unsqueeze":
		return gradReshapeLike
	case "Transpose":
		return gradTranspose
	case "Concat":
		return gradConcat
	case "Softmax", "LogSoftmax":
		return gradSoftmax
	case "SoftmaxCrossEntropyLoss":
		return gradSoftmaxCrossEntropy
	case "NegativeLogLikelihoodLoss":
		return gradNLL
	}
	return nil
}

func gradMatMul(g GradContext) error {
	d := g.Emit(GradDomain, "MatMulGrad", []string{g.OutputGrad(0), g.Input(0), g.Input(1)}, 2)
	for i := 0; i < 2; i++ {
		if g.NeedsGrad(i) {
			g.SetInputGrad(i, d[i])
		}
	}
	return nil
}

// gradGemm emits GemmGrad with Gemm's attributes; C's gradient comes out
// already summed to C's shape and scaled by beta.
func gradGemm(g GradContext) error {
	b := g.Node()
	attrs := []*Attr{
		IntAttr("transA", b.Int("transA", 0)), IntAttr("transB", b.Int("transB", 0)),
		FloatAttr("alpha", b.Float("alpha", 1)), FloatAttr("beta", b.Float("beta", 1)),
	}
	if err := b.Err(); err != nil {
		return err
	}
	ins := []string{g.OutputGrad(0), g.Input(0), g.Input(1)}
	if b.In(2) {
		ins = append(ins, g.Input(2))
	}
	d := g.Emit(GradDomain, "GemmGrad", ins, len(ins)-1, attrs...)
	for i := range d {
		if g.NeedsGrad(i) {
			g.SetInputGrad(i, d[i])
		}
	}
	return nil
}

// gradReduce broadcasts dy back over the reduced axes (divided by the
// count for ReduceMean). Axes are an attribute or an input depending on
// the opset; ReduceGrad takes both forms.
func gradReduce(g GradContext) error {
	b := g.Node()
	attrs := []*Attr{
		IntAttr("keepdims", b.Int("keepdims", 1)),
		IntAttr("noop_with_empty_axes", b.Int("noop_with_empty_axes", 0)),
	}
	if b.Has("axes") {
		attrs = append(attrs, IntsAttr("axes", b.Ints("axes", nil)...))
	}
	if b.OpType == "ReduceMean" {
		attrs = append(attrs, IntAttr("mean", 1))
	}
	if err := b.Err(); err != nil {
		return err
	}
	ins := []string{g.OutputGrad(0), gradShapeOf(g, 0)}
	if b.In(1) {
		ins = append(ins, g.Input(1))
	}
	g.SetInputGrad(0, g.Emit(GradDomain, "ReduceGrad", ins, 1, attrs...)[0])
	return nil
}

// gradReshapeLike reshapes dy back to the input's shape.
func gradReshapeLike(g GradContext) error {
	g.SetInputGrad(0, g.Emit("", "Reshape", []string{g.OutputGrad(0), gradShapeOf(g, 0)}, 1)[0])
	return nil
}

// gradTranspose transposes dy by the inverse permutation (the default
// permutation, reversing the axes, is its own inverse).
func gradTranspose(g GradContext) error {
	b := g.Node()
	var attrs []*Attr
	if b.Has("perm") {
		perm := b.Ints("perm", nil)
		inv := make([]int64, len(perm))
		for i, p := range perm {
			if p < 0 || int(p) >= len(perm) {
				return fmt.Errorf("Transpose perm %v is not a permutation", perm)
			}
			inv[p] = int64(i)
		}
		attrs = append(attrs, IntsAttr("perm", inv...))
	}
	if err := b.Err(); err != nil {
		return err
	}
	g.SetInputGrad(0, g.Emit("", "Transpose", []string{g.OutputGrad(0)}, 1, attrs...)[0])
	return nil
}

// gradConcat cuts dy back into pieces shaped like the inputs.
func gradConcat(g GradContext) error {
	b := g.Node()
	axis := b.Int("axis", 1)
	if err := b.Err(); err != nil {
		return err
	}
	ins := []string{g.OutputGrad(0)}
	for i := 0; i < b.NumInputs; i++ {
		ins = append(ins, gradShapeOf(g, i))
	}
	d := g.Emit(GradDomain, "ConcatGrad", ins, b.NumInputs, IntAttr("axis", axis))
	for i := 0; i < b.NumInputs; i++ {
		if g.NeedsGrad(i) {
			g.SetInputGrad(i, d[i])
		}
	}
	return nil
}

// gradSoftmax emits SoftmaxGrad or LogSoftmaxGrad on the output, with the
// axis resolved for the opset (before 13 the input is coerced to 2-D at
// axis, default 1; from 13 the operation runs along axis, default -1).
func gradSoftmax(g GradContext) error {
	b := g.Node()
	coerce := b.Opset < 13
	def := int64(-1)
	if coerce {
		def = 1
	}
	axis := b.Int("axis", def)
	if err := b.Err(); err != nil {
		return err
	}
	c := int64(0)
	if coerce {
		c = 1
	}
	op := "SoftmaxGrad"
	if b.OpType == "LogSoftmax" {
		op = "LogSoftmaxGrad"
	}
	g.SetInputGrad(0, g.Emit(GradDomain, op, []string{g.OutputGrad(0), g.Output(0)}, 1, IntAttr("axis", axis), IntAttr("coerce", c))[0])
	return nil
}

// lossGradAttrs copies the attributes of a loss operator that its
// gradient kernel reads.
func lossGradAttrs(b *Builder) ([]*Attr, error) {
	attrs := []*Attr{StringAttr("reduction", b.String("reduction", "mean"))}
	if b.Has("ignore_index") {
		attrs = append(attrs, IntAttr("ignore_index", b.Int("ignore_index", 0)))
	}
	return attrs, b.Err()
}

// gradSoftmaxCrossEntropy differentiates the scores through the loss
// (SoftmaxCrossEntropyLossGrad, from log_prob when the node outputs it,
// else from the scores) and through the optional log_prob output
// (LogSoftmaxGrad along the class axis). Labels and weights get none.
func gradSoftmaxCrossEntropy(g GradContext) error {
	b := g.Node()
	if b.In(2) && g.NeedsGrad(2) {
		return fmt.Errorf("the gradient of SoftmaxCrossEntropyLoss with respect to its weights is not supported")
	}
	attrs, err := lossGradAttrs(b)
	if err != nil {
		return err
	}
	weight := ""
	if b.In(2) {
		weight = g.Input(2)
	}
	logProb := g.Output(1)
	if dl := g.OutputGrad(0); dl != "" {
		ins := []string{dl, logProb, g.Input(1), weight}
		if logProb == "" {
			ins[1] = g.Input(0)
			attrs = append(attrs, IntAttr("from_scores", 1))
		}
		if weight == "" {
			ins = ins[:3]
		}
		g.SetInputGrad(0, g.Emit(GradDomain, "SoftmaxCrossEntropyLossGrad", ins, 1, attrs...)[0])
	}
	if dlp := g.OutputGrad(1); dlp != "" && logProb != "" {
		g.SetInputGrad(0, g.Emit(GradDomain, "LogSoftmaxGrad", []string{dlp, logProb}, 1, IntAttr("axis", 1), IntAttr("coerce", 0))[0])
	}
	return nil
}

// gradNLL: the gradient of NegativeLogLikelihoodLoss with respect to its
// input (log-probabilities) is -weight[t] (scaled by the reduction) at
// the target class of each sample.
func gradNLL(g GradContext) error {
	b := g.Node()
	if b.In(2) && g.NeedsGrad(2) {
		return fmt.Errorf("the gradient of NegativeLogLikelihoodLoss with respect to its weights is not supported")
	}
	attrs, err := lossGradAttrs(b)
	if err != nil {
		return err
	}
	ins := []string{g.OutputGrad(0), g.Input(0), g.Input(1)}
	if b.In(2) {
		ins = append(ins, g.Input(2))
	}
	g.SetInputGrad(0, g.Emit(GradDomain, "NegativeLogLikelihoodLossGrad", ins, 1, attrs...)[0])
	return nil
}
