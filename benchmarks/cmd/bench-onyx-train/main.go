// Command bench-onyx-train is cmd/bench's training child for Onyx: it
// trains the MNIST CNN of models/mnist-cnn (models/nn.MNISTCNN) with Onyx's
// train package, Adam and softmax cross-entropy, on batches of MNIST
// training images read with train/data, and reports the step times (see
// harness.TrainJob).
package main

import (
	"context"
	"fmt"

	"github.com/onyxrt/onyx/benchmarks/internal/harness"
	"github.com/onyxrt/onyx/models/nn"
	"github.com/onyxrt/onyx/tensor"
	"github.com/onyxrt/onyx/train"
	"github.com/onyxrt/onyx/train/data"
)

func main() { harness.TrainMain(open) }

func open(j harness.TrainJob) (harness.TrainStep, string, error) {
	harness.SetGoThreads(j.Threads)
	if j.Batch < 1 || j.Batches < 1 {
		return nil, "", fmt.Errorf("batch %d and batches %d must be positive", j.Batch, j.Batches)
	}
	ds, err := data.Open("mnist:"+j.Data, "train", data.Options{Limit: j.Batch * j.Batches})
	if err != nil {
		return nil, "", err
	}
	if ds.Len() < j.Batch*j.Batches {
		return nil, "", fmt.Errorf("%s holds %d training images, want %d", j.Data, ds.Len(), j.Batch*j.Batches)
	}
	batches := make([]map[string]*tensor.Tensor, j.Batches)
	for i := range batches {
		idx := make([]int, j.Batch)
		for k := range idx {
			idx[k] = i*j.Batch + k
		}
		if batches[i], err = ds.Batch(idx); err != nil {
			return nil, "", err
		}
	}
	lr := j.LR
	if lr == 0 {
		lr = 1e-3
	}
	tr, err := train.NewTrainer(nn.MNISTCNN(j.Seed), train.TrainerOptions{
		Loss:      train.SoftmaxCrossEntropy("logits", "label"),
		Optimizer: train.NewAdam(lr),
		Threads:   j.Threads,
	})
	if err != nil {
		return nil, "", err
	}
	ctx := context.Background()
	step := func(i int) (float64, error) { return tr.Step(ctx, batches[i%len(batches)]) }
	return step, "Onyx", nil
}
