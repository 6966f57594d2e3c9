// Command imdb-lstm trains an Embedding-LSTM sentiment classifier on the
// IMDB reviews (aclImdb, 25,000 train and 25,000 test reviews) with Onyx's
// train package: the 10,000 most frequent words (Keras' imdb word index),
// reviews cut or padded to their last 100 words, Embedding 128, LSTM 64,
// Dense 2, Adam lr 1e-3, batch 32, softmax cross-entropy. It prints the
// test accuracy and writes the model with a final Softmax (output "probs"
// [N,2], class 1 = positive) to -out.
//
//	go run ./models/imdb-lstm                     # 3 epochs
//	go run ./models/imdb-lstm -limit 2000 -test-limit 2000 -epochs 1 -out ''
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"time"

	"github.com/onyxrt/onyx/models/nn"
	"github.com/onyxrt/onyx/train"
	"github.com/onyxrt/onyx/train/data"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "imdb-lstm:", err)
		os.Exit(1)
	}
}

func run() error {
	src := flag.String("data", "../shared/data/imdb/aclImdb_v1_labeled.tar.gz", "the aclImdb archive (imdb_word_index.json beside it)")
	epochs := flag.Int("epochs", 3, "epochs")
	batch := flag.Int("batch", 32, "batch size")
	lr := flag.Float64("lr", 1e-3, "Adam learning rate")
	vocab := flag.Int("words", 10000, "vocabulary size")
	maxLen := flag.Int("maxlen", 100, "review length in words")
	limit := flag.Int("limit", 0, "use only this many training reviews (0: all)")
	testLimit := flag.Int("test-limit", 0, "use only this many test reviews (0: all)")
	seed := flag.Uint64("seed", 1234, "seed of the initial weights and of the shuffling")
	threads := flag.Int("threads", 2, "compute threads")
	embed := flag.Int("embed", 128, "embedding size")
	hidden := flag.Int("hidden", 64, "LSTM units")
	out := flag.String("out", "models/imdb-lstm/model.onnx", "where to write the trained model ('' for nowhere)")
	flag.Parse()
	ctx := context.Background()

	opts := data.Options{NumWords: *vocab, MaxLen: *maxLen, Limit: *limit, Seed: *seed}
	t0 := time.Now()
	trainSet, err := data.Open("imdb:"+*src, "train", opts)
	if err != nil {
		return err
	}
	opts.Limit = *testLimit
	testSet, err := data.Open("imdb:"+*src, "test", opts)
	if err != nil {
		return err
	}
	fmt.Printf("IMDB: %d training, %d test reviews (read in %v)\n", trainSet.Len(), testSet.Len(), time.Since(t0).Round(time.Second))
	tr, err := train.NewTrainer(buildLSTM(*seed, *vocab, *maxLen, *embed, *hidden), train.TrainerOptions{
		Loss: train.SoftmaxCrossEntropy("logits", "label"), Optimizer: train.NewAdam(*lr), Threads: *threads, Seed: *seed,
	})
	if err != nil {
		return err
	}
	start := time.Now()
	if _, err = tr.Fit(ctx, trainSet, train.FitOptions{
		Epochs: *epochs, BatchSize: *batch, Validation: testSet,
		Logf: func(f string, a ...any) { fmt.Printf(f+"\n", a...) },
	}); err != nil {
		return err
	}
	elapsed := time.Since(start)
	ev, err := tr.Evaluate(ctx, testSet, 500, nil)
	if err != nil {
		return err
	}
	fmt.Printf("trained %d epochs in %v; test accuracy %.4f, test loss %.4f\n", *epochs, elapsed.Round(time.Second), ev.Accuracy, ev.Loss)
	if *out == "" {
		return nil
	}
	if err := train.ExportModel(*out, nn.WithSoftmax(tr.Model(), "logits", "probs")); err != nil {
		return err
	}
	fmt.Printf("wrote %s\n", *out)
	return nil
}
