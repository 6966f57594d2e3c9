// Command mnist-cnn trains the small MNIST CNN of this directory with
// Onyx's train package: the network (Conv32-Pool-Conv64-Pool-Conv64-
// Dense64-Dense10, Glorot-uniform init, seeded) is built as a graph.Model,
// trained with Adam (lr 1e-3 with cosine decay to 0, batch 64) and softmax cross-entropy on the
// 60,000 MNIST training images, and measured on the 10,000 test images.
// The trained model, with a final Softmax so that its output "probs" holds
// probabilities, is written to -out when its test accuracy reaches
// -min-acc; -testdata then names a backend-style test case folder whose
// output_0.pb is rewritten with the new model's outputs for input_0.pb.
//
//	go run ./models/mnist-cnn                       # the full recipe: 5 epochs
//	go run ./models/mnist-cnn -epochs 1 -out /tmp/m.onnx -min-acc 0
//	go run ./models/mnist-cnn -steps 300 -out ''    # time 300 steps, write nothing
package main

import (
	"context"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"time"

	"github.com/onyxrt/onyx/models/nn"
	"github.com/onyxrt/onyx/onnx"
	"github.com/onyxrt/onyx/runtime"
	"github.com/onyxrt/onyx/tensor"
	"github.com/onyxrt/onyx/train"
	"github.com/onyxrt/onyx/train/data"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "mnist-cnn:", err)
		os.Exit(1)
	}
}

func run() error {
	dir := flag.String("data", "../shared/data/mnist", "directory of the MNIST IDX files")
	epochs := flag.Int("epochs", 5, "epochs over the 60,000 training images")
	steps := flag.Int("steps", 0, "stop after this many steps (0: run all epochs)")
	batch := flag.Int("batch", 64, "batch size")
	lr := flag.Float64("lr", 1e-3, "Adam learning rate")
	schedule := flag.String("schedule", "cosine", "learning-rate schedule: cosine (from -lr down to 0 over all the epochs' steps) or constant")
	seed := flag.Uint64("seed", 1234, "seed of the initial weights and of the shuffling")
	threads := flag.Int("threads", 2, "compute threads")
	out := flag.String("out", "models/mnist-cnn/model.onnx", "where to write the trained model ('' for nowhere)")
	minAcc := flag.Float64("min-acc", 0.9857, "write -out only if the test accuracy is at least this")
	testdata := flag.String("testdata", "models/mnist-cnn/test_data_set_0", "test case whose output_0.pb is regenerated with -out ('' for none)")
	logEvery := flag.Int("log", 100, "log the mean loss every that many steps")
	flag.Parse()

	ctx := context.Background()
	trainSet, err := data.Open("mnist:"+*dir, "train", data.Options{})
	if err != nil {
		return err
	}
	testSet, err := data.Open("mnist:"+*dir, "test", data.Options{})
	if err != nil {
		return err
	}
	model := nn.MNISTCNN(*seed)
	var sched train.Schedule
	switch *schedule {
	case "cosine":
		sched = train.CosineLR{TotalSteps: *epochs * ((trainSet.Len() + *batch - 1) / *batch)}
	case "constant":
	default:
		return fmt.Errorf("unknown schedule %q (cosine or constant)", *schedule)
	}
	tr, err := train.NewTrainer(model, train.TrainerOptions{
		Loss:      train.SoftmaxCrossEntropy("logits", "label"),
		Optimizer: train.NewAdam(*lr),
		Schedule:  sched,
		Threads:   *threads,
		Seed:      *seed,
	})
	if err != nil {
		return err
	}
	fmt.Printf("MNIST: %d training, %d test images; %d parameter tensors; %d threads\n", trainSet.Len(), testSet.Len(), len(tr.Params()), *threads)

	rng := rand.New(rand.NewPCG(*seed, 0xf17))
	n := trainSet.Len()
	start := time.Now()
	var trainTime time.Duration
	step, done := 0, false
	acc := 0.0
	for epoch := 1; epoch <= *epochs && !done; epoch++ {
		order := rng.Perm(n)
		var sum float64
		var cnt int
		t0 := time.Now()
		for lo := 0; lo < n; lo += *batch {
			b, err := trainSet.Batch(order[lo:min(lo+*batch, n)])
			if err != nil {
				return err
			}
			l, err := tr.Step(ctx, b)
			if err != nil {
				return err
			}
			step++
			sum += l
			cnt++
			if *logEvery > 0 && step%*logEvery == 0 {
				el := time.Since(start)
				fmt.Printf("epoch %d step %6d  loss %.4f  (%.1f ms/step, %v elapsed)\n", epoch, step, sum/float64(cnt), float64(el.Milliseconds())/float64(step), el.Round(time.Second))
				sum, cnt = 0, 0
			}
			if *steps > 0 && step >= *steps {
				done = true
				break
			}
		}
		trainTime += time.Since(t0)
		ev, err := tr.Evaluate(ctx, testSet, 500, nil)
		if err != nil {
			return err
		}
		acc = ev.Accuracy
		fmt.Printf("epoch %d: test loss %.4f, test accuracy %.4f (%d/%d); training time so far %v\n",
			epoch, ev.Loss, ev.Accuracy, int(ev.Accuracy*float64(ev.Examples)+0.5), ev.Examples, trainTime.Round(time.Second))
	}
	fmt.Printf("trained %d steps in %v (%.1f ms/step); total time %v\n", step, trainTime.Round(time.Second),
		float64(trainTime.Milliseconds())/float64(step), time.Since(start).Round(time.Second))
	fmt.Printf("test accuracy: %.4f\n", acc)
	if *out == "" {
		return nil
	}
	if acc < *minAcc {
		fmt.Printf("not writing %s: test accuracy %.4f is below -min-acc %.4f\n", *out, acc, *minAcc)
		return nil
	}
	m := nn.WithSoftmax(tr.Model(), "logits", "probs")
	m.ProducerName = "onyx models/mnist-cnn"
	if err := train.ExportModel(*out, m); err != nil {
		return err
	}
	fmt.Printf("wrote %s\n", *out)
	if *testdata == "" {
		return nil
	}
	return regenerate(*out, *testdata)
}

// regenerate runs the written model on testdata/input_0.pb and writes its
// outputs to testdata/output_0.pb.
func regenerate(modelPath, dir string) error {
	m, err := onnx.DecodeFile(modelPath)
	if err != nil {
		return err
	}
	s, err := runtime.Compile(m, runtime.Options{Threads: 1})
	if err != nil {
		return err
	}
	b, err := os.ReadFile(filepath.Join(dir, "input_0.pb"))
	if err != nil {
		return err
	}
	name, x, err := onnx.DecodeTensor(b)
	if err != nil {
		return err
	}
	res, err := s.Run(context.Background(), map[string]*tensor.Tensor{name: x})
	if err != nil {
		return err
	}
	probs := res["probs"]
	enc, err := onnx.EncodeTensor("probs", probs)
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, "output_0.pb"), enc, 0o644); err != nil {
		return err
	}
	v := probs.Float32s()
	for i := 0; i < probs.Shape()[0]; i++ {
		best := 0
		for c := 1; c < 10; c++ {
			if v[i*10+c] > v[i*10+best] {
				best = c
			}
		}
		fmt.Printf("test image %d: class %d (p %.6f)\n", i, best, v[i*10+best])
	}
	fmt.Printf("wrote %s\n", filepath.Join(dir, "output_0.pb"))
	return nil
}
