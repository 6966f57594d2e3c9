package main

import (
	"context"
	"testing"

	"github.com/onyxrt/onyx/models/nn"
	"github.com/onyxrt/onyx/train"
	"github.com/onyxrt/onyx/train/data"
)

// TestLossDrops is the short version of the recipe: 60 Adam steps on
// batches of 32 of the first 1,920 training images.
func TestLossDrops(t *testing.T) {
	dir := nn.DataDir(t, "mnist")
	ds, err := data.Open("mnist:"+dir, "train", data.Options{Limit: 1920})
	if err != nil {
		t.Fatal(err)
	}
	tr, err := train.NewTrainer(nn.MNISTCNN(1234), train.TrainerOptions{
		Loss: train.SoftmaxCrossEntropy("logits", "label"), Optimizer: train.NewAdam(1e-3), Threads: 2,
	})
	if err != nil {
		t.Fatal(err)
	}
	var losses []float64
	for i := 0; i < 60; i++ {
		idx := make([]int, 32)
		for j := range idx {
			idx[j] = i*32 + j
		}
		b, err := ds.Batch(idx)
		if err != nil {
			t.Fatal(err)
		}
		l, err := tr.Step(context.Background(), b)
		if err != nil {
			t.Fatal(err)
		}
		losses = append(losses, l)
	}
	first, last := nn.Mean(losses[:10]), nn.Mean(losses[50:])
	t.Logf("mean loss of steps 1-10 %.4f, of steps 51-60 %.4f", first, last)
	if !(last < 0.5*first) {
		t.Errorf("the loss did not drop by half: %.4f -> %.4f", first, last)
	}
}
