// Command mnist-transfer shows transfer learning with Onyx's train
// package on MNIST. It trains the CNN of models/mnist-cnn (built here as
// a graph.Model, Glorot-uniform init, seeded) to tell the digits 0-4 apart
// (1 epoch over the ~30,600 training images of 0-4, Adam), cuts the
// trained network before its classifier (train.TransferHead at
// "features", the 576 flattened Conv features) and trains a new
// Dense(5) head for the digits 5-9 on only 10 training images per digit,
// with every convolution frozen (FreezeBefore). It reports the head's
// accuracy on all the 5-9 test images next to the same CNN trained from
// scratch on the same 50 images, and writes the transfer model.
//
//	go run ./models/mnist-transfer
//	go run ./models/mnist-transfer -cut hidden       # keep Dense 64 too, new last layer only
//	go run ./models/mnist-transfer -pre-steps 100 -out ''   # a quick look
package main

import (
	"context"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"time"

	"github.com/onyxrt/onyx/graph"
	"github.com/onyxrt/onyx/models/nn"
	"github.com/onyxrt/onyx/tensor"
	"github.com/onyxrt/onyx/train"
	"github.com/onyxrt/onyx/train/data"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "mnist-transfer:", err)
		os.Exit(1)
	}
}

// buildCNN is models/mnist-cnn's network with classes outputs "logits";
// "features" [N,576] is the flattened output of the convolutions and
// "hidden" [N,64] that of the first Dense layer.
func buildCNN(seed uint64, classes int) *graph.Model {
	s := nn.New("mnist_cnn", "input", seed, 1, 28, 28)
	s.Conv2D(32, 3, "relu").MaxPool(2)
	s.Conv2D(64, 3, "relu").MaxPool(2)
	s.Conv2D(64, 3, "relu").Flatten().Rename("features")
	s.Dense(64, "relu").Rename("hidden")
	s.Dense(classes, "").Rename("logits")
	return s.Model("onyx models/mnist-transfer")
}

// digits is the examples of ds whose label is in [lo, lo+5), relabelled
// label-lo; per > 0 keeps only the first per of each digit.
type digits struct {
	ds  data.Dataset
	idx []int
	lo  int64
}

func selectDigits(ds data.Dataset, lo int64, per int) (*digits, error) {
	d := &digits{ds: ds, lo: lo}
	count := map[int64]int{}
	n := ds.Len()
	for start := 0; start < n; start += 5000 {
		chunk := make([]int, 0, 5000)
		for i := start; i < min(start+5000, n); i++ {
			chunk = append(chunk, i)
		}
		b, err := ds.Batch(chunk)
		if err != nil {
			return nil, err
		}
		for i, l := range b[data.Label].Int64s() {
			if l >= lo && l < lo+5 && (per <= 0 || count[l] < per) {
				count[l]++
				d.idx = append(d.idx, start+i)
			}
		}
	}
	return d, nil
}

func (d *digits) Len() int { return len(d.idx) }

func (d *digits) Batch(idx []int) (map[string]*tensor.Tensor, error) {
	j := make([]int, len(idx))
	for i, k := range idx {
		j[i] = d.idx[k]
	}
	b, err := d.ds.Batch(j)
	if err != nil {
		return nil, err
	}
	l := b[data.Label].Int64s()
	nl := make([]int64, len(l))
	for i := range l {
		nl[i] = l[i] - d.lo
	}
	b[data.Label] = tensor.From([]int{len(nl)}, nl)
	return b, nil
}

func run() error {
	dir := flag.String("data", "../shared/data/mnist", "directory of the MNIST IDX files")
	preEpochs := flag.Int("pre-epochs", 1, "epochs of pre-training on the digits 0-4")
	preSteps := flag.Int("pre-steps", 0, "stop pre-training after this many steps (0: all epochs)")
	perClass := flag.Int("per-class", 10, "training images per digit 5-9")
	headSteps := flag.Int("head-steps", 300, "full-batch Adam steps for the new head")
	scratchSteps := flag.Int("scratch-steps", 300, "full-batch Adam steps for the from-scratch CNN")
	seed := flag.Uint64("seed", 1234, "seed of the initial weights and of the shuffling")
	threads := flag.Int("threads", 2, "compute threads")
	cut := flag.String("cut", "features", "where to cut: features (the 576 Conv features, before the whole classifier) or hidden (the 64 Dense features, before the last layer)")
	out := flag.String("out", "models/mnist-transfer/model.onnx", "where to write the transfer model ('' for nowhere)")
	flag.Parse()
	ctx := context.Background()

	trainAll, err := data.Open("mnist:"+*dir, "train", data.Options{})
	if err != nil {
		return err
	}
	testAll, err := data.Open("mnist:"+*dir, "test", data.Options{})
	if err != nil {
		return err
	}
	pre, err := selectDigits(trainAll, 0, 0)
	if err != nil {
		return err
	}
	preTest, err := selectDigits(testAll, 0, 0)
	if err != nil {
		return err
	}
	few, err := selectDigits(trainAll, 5, *perClass)
	if err != nil {
		return err
	}
	test59, err := selectDigits(testAll, 5, 0)
	if err != nil {
		return err
	}
	fmt.Printf("digits 0-4: %d training, %d test images; digits 5-9: %d training (%d per digit), %d test images\n",
		pre.Len(), preTest.Len(), few.Len(), *perClass, test59.Len())

	// 1. Pre-train on 0-4.
	t0 := time.Now()
	base, err := train.NewTrainer(buildCNN(*seed, 5), train.TrainerOptions{
		Loss: train.SoftmaxCrossEntropy("logits", "label"), Optimizer: train.NewAdam(1e-3), Threads: *threads, Seed: *seed,
	})
	if err != nil {
		return err
	}
	rng := rand.New(rand.NewPCG(*seed, 0xf17))
	step := 0
pretrain:
	for e := 0; e < *preEpochs; e++ {
		order := rng.Perm(pre.Len())
		for lo := 0; lo < len(order); lo += 64 {
			b, err := pre.Batch(order[lo:min(lo+64, len(order))])
			if err != nil {
				return err
			}
			l, err := base.Step(ctx, b)
			if err != nil {
				return err
			}
			if step++; step%100 == 0 {
				fmt.Printf("pre-training step %d: loss %.4f\n", step, l)
			}
			if *preSteps > 0 && step >= *preSteps {
				break pretrain
			}
		}
	}
	ev, err := base.Evaluate(ctx, preTest, 500, nil)
	if err != nil {
		return err
	}
	fmt.Printf("pre-trained on 0-4: %d steps in %v, test accuracy on 0-4 %.4f\n", step, time.Since(t0).Round(time.Second), ev.Accuracy)

	// 2. Cut before the classifier, new head for 5-9, convolutions frozen.
	t1 := time.Now()
	tm, headOut, err := train.TransferHead(base.Model(), *cut, 5, train.DenseOptions{Name: "head", Seed: *seed, Output: "logits"})
	if err != nil {
		return err
	}
	head, err := train.NewTrainer(tm, train.TrainerOptions{
		Loss: train.SoftmaxCrossEntropy(headOut, "label"), Optimizer: train.NewAdam(1e-3), Threads: *threads,
		FreezeBefore: *cut, Seed: *seed,
	})
	if err != nil {
		return err
	}
	fmt.Printf("transfer: cut at %q, trainable %v\n", *cut, head.Params())
	headAcc, err := fullBatch(ctx, head, few, test59, *headSteps)
	if err != nil {
		return err
	}
	fmt.Printf("transfer head: %d steps in %v, accuracy on the %d test images of 5-9: %.4f\n", *headSteps, time.Since(t1).Round(time.Second), test59.Len(), headAcc)

	// 3. The same 50 images, from scratch.
	t2 := time.Now()
	scratch, err := train.NewTrainer(buildCNN(*seed+1, 5), train.TrainerOptions{
		Loss: train.SoftmaxCrossEntropy("logits", "label"), Optimizer: train.NewAdam(1e-3), Threads: *threads, Seed: *seed,
	})
	if err != nil {
		return err
	}
	scratchAcc, err := fullBatch(ctx, scratch, few, test59, *scratchSteps)
	if err != nil {
		return err
	}
	fmt.Printf("from scratch: %d steps in %v, accuracy on the %d test images of 5-9: %.4f\n", *scratchSteps, time.Since(t2).Round(time.Second), test59.Len(), scratchAcc)
	fmt.Printf("digits 5-9 from %d examples: transfer %.2f%%, from scratch %.2f%%\n", few.Len(), 100*headAcc, 100*scratchAcc)
	if *out != "" {
		m := nn.WithSoftmax(head.Model(), headOut, "probs")
		if err := train.ExportModel(*out, m); err != nil {
			return err
		}
		fmt.Printf("wrote %s (output probs[i] is the probability of digit 5+i)\n", *out)
	}
	return nil
}

// fullBatch trains tr for steps full-batch steps on set and returns the
// accuracy on test.
func fullBatch(ctx context.Context, tr *train.Trainer, set, test data.Dataset, steps int) (float64, error) {
	idx := make([]int, set.Len())
	for i := range idx {
		idx[i] = i
	}
	b, err := set.Batch(idx)
	if err != nil {
		return 0, err
	}
	for i := 1; i <= steps; i++ {
		l, err := tr.Step(ctx, b)
		if err != nil {
			return 0, err
		}
		if i == 1 || i%(max(steps/5, 1)) == 0 {
			fmt.Printf("  step %4d: loss %.4f\n", i, l)
		}
	}
	ev, err := tr.Evaluate(ctx, test, 500, nil)
	return ev.Accuracy, err
}
