package ops

import (
	"fmt"

	"github.com/onyxrt/onyx/tensor"
)

// FusedLSTM and FusedGRU (domain FusedDomain) are what the graph pass
// that recognizes recurrent Loops (graph/fuse_rnnloop.go) makes of a Loop
// whose body is one step of an LSTM or GRU cell, as tf2onnx exports the
// Keras recurrent layers it does not map onto ONNX's own operators. They
// take the inputs and attributes of LSTM and GRU (opset 14, layout 0) with
// one direction ("forward"), and differ in two ways:
//
//   - they run time steps time_start to time_start+time_steps-1 of X
//     (attributes; X may have more steps, not fewer), as the Loop read
//     them;
//   - the direction axis is gone: initial_h, initial_c, Y_h and Y_c have
//     shape [batch, hidden] and Y [time_steps, batch, hidden], the shapes
//     of the Loop's state and scan outputs.
func registerFusedRecurrent(r *Registry) {
	r.Register(&Def{Domain: FusedDomain, Name: "FusedLSTM", Since: 1, Build: fusedRNNBuilder(kindLSTM), Infer: inferFusedRNN, Grad: NotDifferentiable})
	r.Register(&Def{Domain: FusedDomain, Name: "FusedGRU", Since: 1, Build: fusedRNNBuilder(kindGRU), Infer: inferFusedRNN, Grad: NotDifferentiable})
}

// fusedRNNBuilder returns the Build function of FusedLSTM or FusedGRU.
func fusedRNNBuilder(kind rnnKind) func(b *Builder) (Kernel, error) {
	return func(b *Builder) (Kernel, error) {
		start, steps := b.Int("time_start", 0), b.Int("time_steps", -1)
		dir, layout := b.String("direction", "forward"), b.Int("layout", 0)
		if err := b.Err(); err != nil {
			return nil, err
		}
		if start < 0 || steps < 0 || start > 1<<40 || steps > 1<<40 {
			return nil, fmt.Errorf("time_start %d and time_steps %d must be non-negative", start, steps)
		}
		if dir != "forward" || layout != 0 {
			return nil, fmt.Errorf("Fused%s runs one forward direction in layout 0", kind)
		}
		return newRNNKernel(b, kind, 14, func(a *rnnAttrs) {
			a.fused, a.tStart, a.tSteps = true, int(start), int(steps)
		})
	}
}

// inferFusedRNN gives FusedLSTM/FusedGRU outputs: Y [time_steps, batch,
// hidden] and the states [batch, hidden].
func inferFusedRNN(b *Builder, in []Meta) ([]Meta, error) {
	x := first(in)
	out := make([]Meta, b.NumOutputs)
	for i := range out {
		out[i] = Meta{DType: x.DType}
	}
	hidden, steps := b.Int("hidden_size", -1), b.Int("time_steps", -1)
	if x.Shape == nil || len(x.Shape) != 3 || hidden <= 0 || steps < 0 {
		return out, nil
	}
	h := tensor.Dim{Size: hidden}
	for i := range out {
		if i == 0 {
			out[i].Shape = tensor.SymShape{{Size: steps}, x.Shape[1], h}
		} else {
			out[i].Shape = tensor.SymShape{x.Shape[1], h}
		}
	}
	return out, nil
}
