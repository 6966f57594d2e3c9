package main

import (
	"context"
	"testing"

	"github.com/onyxrt/onyx/models/nn"
	"github.com/onyxrt/onyx/train"
	"github.com/onyxrt/onyx/train/data"
)

// TestTransferShort is the short version of the recipe: 30 pre-training
// steps on digits 0-4, then the cut, the new head and 30 full-batch head
// steps on 10 images per digit 5-9. Only the head trains, its loss must
// drop, and the convolutions must keep their pre-trained values.
func TestTransferShort(t *testing.T) {
	dir := nn.DataDir(t, "mnist")
	ctx := context.Background()
	ds, err := data.Open("mnist:"+dir, "train", data.Options{Limit: 3000})
	if err != nil {
		t.Fatal(err)
	}
	pre, err := selectDigits(ds, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	few, err := selectDigits(ds, 5, 10)
	if err != nil {
		t.Fatal(err)
	}
	if few.Len() != 50 {
		t.Fatalf("%d examples of 5-9, want 50", few.Len())
	}
	base, err := train.NewTrainer(buildCNN(1, 5), train.TrainerOptions{
		Loss: train.SoftmaxCrossEntropy("logits", "label"), Optimizer: train.NewAdam(1e-3), Threads: 2,
	})
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 30; i++ {
		idx := make([]int, 32)
		for j := range idx {
			idx[j] = i*32 + j
		}
		b, err := pre.Batch(idx)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := base.Step(ctx, b); err != nil {
			t.Fatal(err)
		}
	}
	tm, out, err := train.TransferHead(base.Model(), "features", 5, train.DenseOptions{Name: "head", Seed: 1, Output: "logits"})
	if err != nil {
		t.Fatal(err)
	}
	head, err := train.NewTrainer(tm, train.TrainerOptions{
		Loss: train.SoftmaxCrossEntropy(out, "label"), Optimizer: train.NewAdam(1e-3), Threads: 2, FreezeBefore: "features",
	})
	if err != nil {
		t.Fatal(err)
	}
	if p := head.Params(); len(p) != 2 {
		t.Fatalf("trainable %v, want only the head's W and b", p)
	}
	idx := make([]int, 50)
	for i := range idx {
		idx[i] = i
	}
	b, err := few.Batch(idx)
	if err != nil {
		t.Fatal(err)
	}
	var losses []float64
	for i := 0; i < 30; i++ {
		l, err := head.Step(ctx, b)
		if err != nil {
			t.Fatal(err)
		}
		losses = append(losses, l)
	}
	t.Logf("head loss: step 1 %.4f, step 30 %.4f", losses[0], losses[29])
	if !(losses[29] < 0.8*losses[0]) {
		t.Errorf("the head's loss did not drop by 20%%: %.4f -> %.4f", losses[0], losses[29])
	}
	trained := head.Model().Graph.Initializers["conv1.weight"]
	if trained != base.Model().Graph.Initializers["conv1.weight"] {
		t.Error("conv1.weight changed while frozen")
	}
}
