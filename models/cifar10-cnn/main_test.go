package main

import (
	"context"
	"testing"

	"github.com/onyxrt/onyx/models/nn"
	"github.com/onyxrt/onyx/train"
	"github.com/onyxrt/onyx/train/data"
)

// TestLossDrops is the short version of the recipe: 40 Adam steps
// (20 epochs of 2 batches of 10) on the first 20 CIFAR-10 test images
// (the binary test_batch_first20.bin), which the network must start to
// fit.
func TestLossDrops(t *testing.T) {
	dir := nn.DataDir(t, "cifar10")
	ds, err := data.Open("cifar10:"+dir+"/test_batch_first20.bin", "", data.Options{})
	if err != nil {
		t.Fatal(err)
	}
	tr, err := train.NewTrainer(buildCNN(1234), train.TrainerOptions{
		Loss: train.SoftmaxCrossEntropy("logits", "label"), Optimizer: train.NewAdam(1e-3), Threads: 2, Seed: 1,
	})
	if err != nil {
		t.Fatal(err)
	}
	h, err := tr.Fit(context.Background(), ds, train.FitOptions{Epochs: 20, BatchSize: 10})
	if err != nil {
		t.Fatal(err)
	}
	first, last := h.Epochs[0].Loss, h.Epochs[len(h.Epochs)-1].Loss
	t.Logf("%d images; training loss: epoch 1 %.4f, epoch %d %.4f", ds.Len(), first, len(h.Epochs), last)
	if !(last < 0.5*first) {
		t.Errorf("the loss did not drop by half: %.4f -> %.4f", first, last)
	}
}
