package main

import (
	"context"
	"testing"

	"github.com/onyxrt/onyx/models/nn"
	"github.com/onyxrt/onyx/train"
	"github.com/onyxrt/onyx/train/data"
)

// TestLossDrops is the short version of the recipe: 10 epochs over the
// 205 training clips; the training loss must drop by a quarter (it
// typically halves; Dropout's masks are not seeded, so runs vary).
func TestLossDrops(t *testing.T) {
	dir := nn.DataDir(t, "speech_commands_v0.01_subset")
	ds, err := data.Open("speech:"+dir, "train", data.Options{})
	if err != nil {
		t.Fatal(err)
	}
	mean, std, err := stats(ds)
	if err != nil {
		t.Fatal(err)
	}
	tr, err := train.NewTrainer(buildCNN(1234, 30, mean, std), train.TrainerOptions{
		Loss: train.SoftmaxCrossEntropy("logits", "label"), Optimizer: train.NewAdam(1e-3), Threads: 2, Seed: 1,
	})
	if err != nil {
		t.Fatal(err)
	}
	h, err := tr.Fit(context.Background(), ds, train.FitOptions{Epochs: 10, BatchSize: 16})
	if err != nil {
		t.Fatal(err)
	}
	first, last := h.Epochs[0].Loss, h.Epochs[len(h.Epochs)-1].Loss
	t.Logf("training loss: epoch 1 %.4f, epoch 10 %.4f", first, last)
	if !(last < 0.75*first) {
		t.Errorf("the loss did not drop by 25%%: %.4f -> %.4f", first, last)
	}
}
