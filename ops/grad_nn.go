package ops

import "fmt"

// Gradient rules of the CNN operators: Conv, ConvTranspose, MaxPool,
// AveragePool, GlobalAveragePool, GlobalMaxPool, BatchNormalization,
// LayerNormalization and Dropout. Their backward kernels are in
// grad_nn_kernels.go; the layout operators' rules are in grad_shape.go.

// wanted returns which inputs need a gradient (an absent input never
// does) and the number of outputs a backward node must have to produce
// the last of them (0 when none is wanted).
func wanted(g GradContext, n int) ([]bool, int) {
	need := make([]bool, n)
	nOut := 0
	for i := range need {
		if g.Input(i) != "" && g.NeedsGrad(i) {
			need[i] = true
			nOut = i + 1
		}
	}
	return need, nOut
}

// setGrads declares out[i] as the gradient of input i where need[i].
func setGrads(g GradContext, need []bool, out []string) {
	for i, w := range need {
		if w {
			g.SetInputGrad(i, out[i])
		}
	}
}

// onlyFirstOutputGrad fails when a gradient flows into an output other
// than the first, which op's rule does not handle.
func onlyFirstOutputGrad(g GradContext, op string, nOut int) error {
	for i := 1; i < nOut; i++ {
		if g.OutputGrad(i) != "" {
			return fmt.Errorf("%s: no gradient rule for output %d (%s)", op, i, g.Output(i))
		}
	}
	return nil
}

// gradConvLike is the rule of Conv and ConvTranspose: one backward node
// (dY, X, W) -> (dX, dW, dB) taking the forward node's attributes.
func gradConvLike(kernel string) GradFunc {
	return func(g GradContext) error {
		dy := g.OutputGrad(0)
		need, nOut := wanted(g, 3)
		if dy == "" || nOut == 0 {
			return nil
		}
		out := g.Emit(GradDomain, kernel, []string{dy, g.Input(0), g.Input(1)}, nOut, CopyAttrs(g.Node())...)
		setGrads(g, need, out)
		return nil
	}
}

// gradPoolLike is the rule of the pooling operators: kernel(dY, X) -> dX,
// with the forward node's attributes. MaxPool's Indices output carries no
// gradient.
func gradPoolLike(kernel string) GradFunc {
	return func(g GradContext) error {
		dy := g.OutputGrad(0)
		if dy == "" || !g.NeedsGrad(0) {
			return nil
		}
		out := g.Emit(GradDomain, kernel, []string{dy, g.Input(0)}, 1, CopyAttrs(g.Node())...)
		g.SetInputGrad(0, out[0])
		return nil
	}
}

// batchNormTraining reports whether a BatchNormalization node computes
// batch statistics, as buildBatchNorm decides it.
func batchNormTraining(b *Builder) bool {
	out := b.Out(1) || b.Out(2) || b.Out(3) || b.Out(4)
	switch {
	case b.Opset >= 14:
		return b.Int("training_mode", 0) != 0
	case b.Opset >= 7:
		return out
	default:
		return b.Int("is_test", 0) == 0 && out
	}
}

// gradBatchNorm: BatchNormGrad(dY, X, scale, mean, var) -> (dX, dscale,
// dB, dmean, dvar). In training mode the normalization uses the batch's
// statistics and the gradients flow through them; the mean and var
// inputs then only feed the running statistics, which carry no gradient.
func gradBatchNorm(g GradContext) error {
	if err := onlyFirstOutputGrad(g, "BatchNormalization", 5); err != nil {
		return err
	}
	dy := g.OutputGrad(0)
	b := g.Node()
	training := batchNormTraining(b)
	eps := b.Float("epsilon", 1e-5)
	if err := b.Err(); err != nil {
		return err
	}
	need, _ := wanted(g, 5)
	if training {
		need[3], need[4] = false, false
	}
	nOut := 0
	for i, w := range need {
		if w {
			nOut = i + 1
		}
	}
	if dy == "" || nOut == 0 {
		return nil
	}
	tm := int64(0)
	if training {
		tm = 1
	}
	out := g.Emit(GradDomain, "BatchNormGrad", []string{dy, g.Input(0), g.Input(1), g.Input(3), g.Input(4)}, nOut,
		FloatAttr("epsilon", eps), IntAttr("training_mode", tm))
	setGrads(g, need, out)
	return nil
}

// gradLayerNorm: LayerNormGrad(dY, X, Scale, B) -> (dX, dScale, dB).
// The Mean and InvStdDev outputs carry no gradient.
func gradLayerNorm(g GradContext) error {
	if err := onlyFirstOutputGrad(g, "LayerNormalization", 3); err != nil {
		return err
	}
	dy := g.OutputGrad(0)
	need, nOut := wanted(g, 3)
	if dy == "" || nOut == 0 {
		return nil
	}
	b := g.Node()
	axis, eps := b.Int("axis", -1), b.Float("epsilon", 1e-5)
	if err := b.Err(); err != nil {
		return err
	}
	in := []string{dy, g.Input(0), g.Input(1)}
	if g.Input(2) != "" {
		in = append(in, g.Input(2))
	}
	out := g.Emit(GradDomain, "LayerNormGrad", in, nOut, IntAttr("axis", axis), FloatAttr("epsilon", eps))
	setGrads(g, need, out)
	return nil
}

// gradDropout: before opset 12 Dropout is the identity; later, without a
// training_mode input too. Otherwise DropoutGrad(dY, mask, ratio,
// training_mode) decides at run time, as Dropout does: dY·mask/(1-ratio)
// in training mode, dY otherwise. Without the mask output, DropoutGrad
// draws the mask again from the node's seed (and fails if it has none).
func gradDropout(g GradContext) error {
	dy := g.OutputGrad(0)
	if dy == "" || !g.NeedsGrad(0) {
		return nil
	}
	b := g.Node()
	if b.Opset < 12 || g.Input(2) == "" {
		g.SetInputGrad(0, dy)
		return nil
	}
	var attrs []*Attr
	if b.Has("seed") {
		attrs = append(attrs, IntAttr("seed", b.Int("seed", 0)))
	}
	if err := b.Err(); err != nil {
		return err
	}
	out := g.Emit(GradDomain, "DropoutGrad", []string{dy, g.Output(1), g.Input(1), g.Input(2)}, 1, attrs...)
	g.SetInputGrad(0, out[0])
	return nil
}

// gradNN returns the rule of one of this file's operators, or nil.
func gradNN(name string) GradFunc {
	switch name {
	case "Conv":
		return gradConvLike("ConvGrad")
	case "ConvTranspose":
		return gradConvLike("ConvTransposeGrad")
	case "MaxPool":
		return gradPoolLike("MaxPoolGrad")
	case "AveragePool":
		return gradPoolLike("AveragePoolGrad")
	case "GlobalAveragePool":
		return gradPoolLike("GlobalAveragePoolGrad")
	case "GlobalMaxPool":
		return gradPoolLike("GlobalMaxPoolGrad")
	case "BatchNormalization":
		return gradBatchNorm
	case "LayerNormalization":
		return gradLayerNorm
	case "Dropout":
		return gradDropout
	}
	return nil
}
