// Command speech-cnn trains a small CNN keyword classifier on the
// Speech Commands v0.01 subset in ../shared/data (300 one-second clips of
// 30 words: 205 train, 44 validation, 51 test) with Onyx's train package.
// Each clip becomes 20 log-mel bands x 80 frames (data.Open("speech:...")).
// The network (see buildCNN) starts from seeded Glorot-uniform weights and
// is trained with Adam and softmax cross-entropy; the epoch with the best
// validation loss is kept. It prints the test accuracy and writes the
// model with a final Softmax (output "probs" [N,30], classes in sorted
// word order) to -out.
//
//	go run ./models/speech-cnn
package main

import (
	"context"
	"flag"
	"fmt"
	"math"
	"os"
	"strings"
	"time"

	"github.com/onyxrt/onyx/models/nn"
	"github.com/onyxrt/onyx/train"
	"github.com/onyxrt/onyx/train/data"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "speech-cnn:", err)
		os.Exit(1)
	}
}

func run() error {
	dir := flag.String("data", "../shared/data/speech_commands_v0.01_subset", "the Speech Commands subset (with manifest.csv)")
	epochs := flag.Int("epochs", 60, "epochs")
	batch := flag.Int("batch", 16, "batch size")
	lr := flag.Float64("lr", 1e-3, "Adam learning rate")
	patience := flag.Int("patience", 15, "stop after this many epochs without a better validation loss (0: never)")
	seed := flag.Uint64("seed", 1234, "seed of the initial weights and of the shuffling")
	threads := flag.Int("threads", 2, "compute threads")
	out := flag.String("out", "models/speech-cnn/model.onnx", "where to write the trained model ('' for nowhere)")
	flag.Parse()
	ctx := context.Background()

	src := "speech:" + *dir
	trainSet, err := data.Open(src, "train", data.Options{})
	if err != nil {
		return err
	}
	valSet, err := data.Open(src, "validation", data.Options{})
	if err != nil {
		return err
	}
	testSet, err := data.Open(src, "test", data.Options{})
	if err != nil {
		return err
	}
	classes := trainSet.(data.ClassNamer).Classes()
	mean, std, err := stats(trainSet)
	if err != nil {
		return err
	}
	fmt.Printf("speech commands: %d words (%s ...); %d train, %d validation, %d test clips; features mean %.3f std %.3f\n",
		len(classes), strings.Join(classes[:5], " "), trainSet.Len(), valSet.Len(), testSet.Len(), mean, std)

	tr, err := train.NewTrainer(buildCNN(*seed, len(classes), mean, std), train.TrainerOptions{
		Loss: train.SoftmaxCrossEntropy("logits", "label"), Optimizer: train.NewAdam(*lr), Threads: *threads, Seed: *seed,
	})
	if err != nil {
		return err
	}
	start := time.Now()
	h, err := tr.Fit(ctx, trainSet, train.FitOptions{
		Epochs: *epochs, BatchSize: *batch, Validation: valSet,
		Patience: *patience, RestoreBest: *patience > 0,
		Logf: func(f string, a ...any) { fmt.Printf(f+"\n", a...) },
	})
	if err != nil {
		return err
	}
	elapsed := time.Since(start)
	ev, err := tr.Evaluate(ctx, testSet, 64, nil)
	if err != nil {
		return err
	}
	best := h.Epochs[h.BestEpoch-1]
	fmt.Printf("trained %d epochs in %v; best validation loss %.4f (accuracy %.4f) at epoch %d\n",
		len(h.Epochs), elapsed.Round(time.Millisecond), best.ValLoss, best.ValAccuracy, h.BestEpoch)
	fmt.Printf("test accuracy: %.4f (%d/%d), test loss %.4f; chance is 1/%d = %.4f\n",
		ev.Accuracy, int(math.Round(ev.Accuracy*float64(ev.Examples))), ev.Examples, ev.Loss, len(classes), 1/float64(len(classes)))
	if *out == "" {
		return nil
	}
	if err := train.ExportModel(*out, nn.WithSoftmax(tr.Model(), "logits", "probs")); err != nil {
		return err
	}
	fmt.Printf("wrote %s\n", *out)
	return nil
}

// stats returns the mean and standard deviation of every feature value
// of ds.
func stats(ds data.Dataset) (float32, float32, error) {
	idx := make([]int, ds.Len())
	for i := range idx {
		idx[i] = i
	}
	b, err := ds.Batch(idx)
	if err != nil {
		return 0, 0, err
	}
	var s, s2 float64
	v := b[data.Input].Float32s()
	for _, x := range v {
		s += float64(x)
		s2 += float64(x) * float64(x)
	}
	m := s / float64(len(v))
	return float32(m), float32(math.Sqrt(max(s2/float64(len(v))-m*m, 1e-12))), nil
}
