// Command cifar10-cnn trains the CNN of the TensorFlow tutorial on
// CIFAR-10 with Onyx's train package (Adam lr 1e-3, batch 64, softmax
// cross-entropy), measures it on the 10,000 test images and writes the
// model with a final Softmax (output "probs" [N,10]) to -out.
//
//	go run ./models/cifar10-cnn                     # 10 epochs (the tutorial's; about 70 % expected)
//	go run ./models/cifar10-cnn -limit 2000 -epochs 1 -out ''
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
		fmt.Fprintln(os.Stderr, "cifar10-cnn:", err)
		os.Exit(1)
	}
}

func run() error {
	dir := flag.String("data", "../shared/data/cifar10", "CIFAR-10 (cifar10_{train,test}_jpeg.tar.gz or the binary batches)")
	epochs := flag.Int("epochs", 10, "epochs")
	batch := flag.Int("batch", 64, "batch size")
	lr := flag.Float64("lr", 1e-3, "Adam learning rate")
	limit := flag.Int("limit", 0, "use only this many training images (0: all 50,000)")
	seed := flag.Uint64("seed", 1234, "seed of the initial weights and of the shuffling")
	threads := flag.Int("threads", 2, "compute threads")
	out := flag.String("out", "models/cifar10-cnn/model.onnx", "where to write the trained model ('' for nowhere)")
	flag.Parse()
	ctx := context.Background()

	t0 := time.Now()
	trainSet, err := data.Open("cifar10:"+*dir, "train", data.Options{Limit: *limit, Seed: *seed})
	if err != nil {
		return err
	}
	testSet, err := data.Open("cifar10:"+*dir, "test", data.Options{})
	if err != nil {
		return err
	}
	fmt.Printf("CIFAR-10: %d training, %d test images (decoded in %v)\n", trainSet.Len(), testSet.Len(), time.Since(t0).Round(time.Second))
	tr, err := train.NewTrainer(buildCNN(*seed), train.TrainerOptions{
		Loss: train.SoftmaxCrossEntropy("logits", "label"), Optimizer: train.NewAdam(*lr), Threads: *threads, Seed: *seed,
	})
	if err != nil {
		return err
	}
	start := time.Now()
	_, err = tr.Fit(ctx, trainSet, train.FitOptions{
		Epochs: *epochs, BatchSize: *batch, Validation: testSet,
		Logf: func(f string, a ...any) { fmt.Printf(f+"\n", a...) },
	})
	if err != nil {
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
