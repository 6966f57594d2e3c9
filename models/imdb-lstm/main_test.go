package main

import (
	"context"
	"testing"

	"github.com/onyxrt/onyx/models/nn"
	"github.com/onyxrt/onyx/train"
	"github.com/onyxrt/onyx/train/data"
)

// TestLossDrops is the short version of the recipe: the LSTM (a smaller
// vocabulary, reviews of 40 words) fits 64 training reviews for 10 epochs
// of batch 16 (40 steps); the training loss must drop.
func TestLossDrops(t *testing.T) {
	dir := nn.DataDir(t, "imdb")
	ds, err := data.Open("imdb:"+dir+"/aclImdb_v1_labeled.tar.gz", "train", data.Options{NumWords: 2000, MaxLen: 40, Limit: 64})
	if err != nil {
		t.Fatal(err)
	}
	tr, err := train.NewTrainer(buildLSTM(1234, 2000, 40, 16, 16), train.TrainerOptions{
		Loss: train.SoftmaxCrossEntropy("logits", "label"), Optimizer: train.NewAdam(1e-2), Threads: 2, Seed: 1,
	})
	if err != nil {
		t.Fatal(err)
	}
	h, err := tr.Fit(context.Background(), ds, train.FitOptions{Epochs: 10, BatchSize: 16})
	if err != nil {
		t.Fatal(err)
	}
	first, last := h.Epochs[0].Loss, h.Epochs[len(h.Epochs)-1].Loss
	t.Logf("training loss: epoch 1 %.4f, epoch %d %.4f", first, len(h.Epochs), last)
	if !(last < 0.7*first) {
		t.Errorf("the loss did not drop by 30%%: %.4f -> %.4f", first, last)
	}
}
