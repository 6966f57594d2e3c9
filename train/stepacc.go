package train

import (
	"context"

	"github.com/onyxrt/onyx/tensor"
)

// StepAccuracy is Step that also scores the batch's predictions as Fit's
// accuracy does: it returns the loss before the update and how many of
// the loss output's predictions (in training mode, before the update)
// match the label (see Accuracy). ok is false when accuracy does not apply
// to the loss's output and label.
func (t *Trainer) StepAccuracy(ctx context.Context, feeds map[string]*tensor.Tensor) (loss float64, correct, total int, ok bool, err error) {
	loss, out, err := t.step(ctx, feeds)
	if err != nil {
		return loss, 0, 0, false, err
	}
	correct, total, ok = Accuracy(out[t.opts.Loss.Output()], feeds[t.opts.Loss.Label()], t.threshold())
	return loss, correct, total, ok, nil
}
