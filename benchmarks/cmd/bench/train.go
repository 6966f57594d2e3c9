package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/onyxrt/onyx/benchmarks/internal/harness"
)

// The training benchmark: the MNIST CNN of models/mnist-cnn trained with
// Adam(1e-3) and softmax cross-entropy on batches of 64 real MNIST images,
// by Onyx (cmd/bench-onyx-train) and by PyTorch (train_torch.py run with
// -python), at each thread count, each in a child process of its own.
// Onyx and PyTorch alternate, thread count by thread count, so that both
// see the same machine.

const (
	onyxTrainBinary = "bench-onyx-train"
	torchScript     = "train_torch.py"
	trainBatch      = 64
	trainLR         = 1e-3
	trainSeed       = 1234
)

// A trainCell is one training measurement: one runtime at one thread count.
type trainCell struct {
	Runtime string               `json:"runtime"`
	Threads int                  `json:"threads"`
	Job     harness.TrainJob     `json:"job"`
	Result  *harness.TrainResult `json:"result,omitempty"`
	childRun
}

func (c *trainCell) ok() bool { return c.Reason == "" && c.Result != nil && c.Result.OK }

func (c *trainCell) progress() string {
	if !c.ok() {
		return "fails: " + firstLine(c.Reason)
	}
	r := c.Result
	return fmt.Sprintf("%.0f img/s (%s ms median of %d steps, %s ms CPU per step; loss %.3f -> %.3f), %s MiB", r.ImgPerS, fmtMS(r.MedianMS), r.Steps, fmtMS(r.CPUMSPerStep), r.FirstLoss, r.LastLoss, fmtMiB(r.VmHWMKiB))
}

var trainTitle = map[string]string{harness.TrainOnyx: "Onyx", harness.TrainPyTorch: "PyTorch"}

// runTraining measures every training runtime at every thread count.
func runTraining(o options) []*trainCell {
	var cells []*trainCell
	data, _ := filepath.Abs(o.mnist)
	script, _ := filepath.Abs(torchScript)
	total := len(o.threads) * len(o.trainRTs)
	for _, th := range o.threads {
		for _, rt := range o.trainRTs {
			j := harness.TrainJob{
				Runtime: rt, Data: data, Threads: th, Batch: trainBatch, Batches: o.trainBatches,
				LR: trainLR, Seed: trainSeed, Warmup: o.trainWarmup, Steps: o.trainSteps,
				MinSteps: min(o.trainSteps, max(o.minRuns, 10)), Budget: o.budget,
			}
			c := &trainCell{Runtime: rt, Threads: th, Job: j}
			if _, err := os.Stat(filepath.Join(o.mnist, "train-images-idx3-ubyte.gz")); err != nil {
				if _, err2 := os.Stat(filepath.Join(o.mnist, "train-images-idx3-ubyte")); err2 != nil {
					c.Reason = "missing MNIST data in " + o.mnist + " (give -mnist DIR)"
				}
			}
			if c.Reason == "" {
				spec, _ := json.Marshal(j)
				var argv []string
				if rt == harness.TrainOnyx {
					argv = []string{filepath.Join(o.bin, onyxTrainBinary), string(spec)}
				} else {
					argv = []string{o.python, script, string(spec)}
				}
				runTrainChild(argv, o.timeout, c)
			}
			cells = append(cells, c)
			fmt.Fprintf(os.Stderr, "[train %d/%d] %-7s mnist-cnn b%d t%d  %s\n", len(cells), total, rt, trainBatch, th, c.progress())
		}
	}
	return cells
}

// runTrainChild runs one training child and fills c.
func runTrainChild(argv []string, timeout time.Duration, c *trainCell) {
	c.Result = runChildProcess(&c.childRun, argv, os.Environ(), timeout, func(r *harness.TrainResult) (bool, string, string) {
		return r.OK, r.Stage, r.Error
	})
}

func (r *report) trainCell(rt string, threads int) *trainCell {
	for _, c := range r.Train {
		if c.Runtime == rt && c.Threads == threads {
			return c
		}
	}
	return nil
}

// trainMarkdown writes the training table.
func (r *report) trainMarkdown(b *strings.Builder, nts *notes) {
	if len(r.Train) == 0 {
		return
	}
	var j harness.TrainJob
	for _, c := range r.Train {
		j = c.Job
		break
	}
	version := "?"
	if c := r.anyTrainOK(harness.TrainPyTorch); c != nil && c.Result.Version != "" {
		version = c.Result.Version
	}
	fmt.Fprintf(b, "## Training: MNIST CNN, images per second (Onyx/PyTorch = Onyx's speed ÷ PyTorch's; above 1, Onyx is faster)\n\n")
	fmt.Fprintf(b, "The CNN of models/mnist-cnn (Conv32-MaxPool-Conv64-MaxPool-Conv64-Dense64-Dense10, ReLU; Onyx builds it as models/mnist-cnn does, PyTorch with the same layers and Glorot-uniform init) trained with Adam(%g) and softmax cross-entropy on batches of %d MNIST training images (the first %d, converted to float32 before timing and used in turn). "+
		"A step is forward, loss, backward and the Adam update: Onyx's `train.Trainer.Step`, PyTorch's (%s) `zero_grad`, forward, `backward`, `step` and `loss.item()`. "+
		"Threads: Onyx `TrainerOptions.Threads` and GOMAXPROCS; PyTorch `torch.set_num_threads`. Each runtime and thread count runs in a process of its own: %d untimed steps, then up to %d timed steps, stopping after %v once %d are done; img/s is %d ÷ the median step. RSS is the process's peak resident set (VmHWM), MiB. results.json also has every step's time and each process's CPU time per step.\n\n",
		j.LR, j.Batch, j.Batch*j.Batches, version, j.Warmup, j.Steps, j.Budget, j.MinSteps, j.Batch)
	fmt.Fprintf(b, "| model | threads | Onyx img/s | PyTorch img/s | Onyx/PyTorch | Onyx ms/step | PyTorch ms/step | Onyx RSS | PyTorch RSS |\n")
	fmt.Fprintf(b, "|---|--:|--:|--:|--:|--:|--:|--:|--:|\n")
	for _, th := range r.Opts.threads {
		on, pt := r.trainCell(harness.TrainOnyx, th), r.trainCell(harness.TrainPyTorch, th)
		if on == nil && pt == nil {
			continue
		}
		row := []string{fmt.Sprintf("mnist-cnn b%d", j.Batch), fmt.Sprint(th)}
		for _, c := range []*trainCell{on, pt} {
			row = append(row, r.imgCell(c, nts))
		}
		ratio := "–"
		if on != nil && pt != nil && on.ok() && pt.ok() && pt.Result.ImgPerS > 0 {
			ratio = fmt.Sprintf("%.2f", on.Result.ImgPerS/pt.Result.ImgPerS)
		}
		row = append(row, ratio)
		for _, c := range []*trainCell{on, pt} {
			if c != nil && c.ok() {
				row = append(row, fmtMS(c.Result.MedianMS))
			} else {
				row = append(row, "–")
			}
		}
		for _, c := range []*trainCell{on, pt} {
			if c != nil && c.ok() {
				row = append(row, fmtMiB(c.Result.VmHWMKiB))
			} else {
				row = append(row, "–")
			}
		}
		fmt.Fprintf(b, "| %s |\n", strings.Join(row, " | "))
	}
	b.WriteString("\n")
}

func (r *report) anyTrainOK(rt string) *trainCell {
	for _, c := range r.Train {
		if c.Runtime == rt && c.ok() {
			return c
		}
	}
	return nil
}

func (r *report) imgCell(c *trainCell, nts *notes) string {
	switch {
	case c == nil:
		return "–"
	case !c.ok():
		n := nts.add(fmt.Sprintf("%s training fails: %s", trainTitle[c.Runtime], oneLine(c.Reason, 240)), fmt.Sprintf("mnist-cnn t%d", c.Threads))
		return fmt.Sprintf("fails: %s (note %d)", shortReason(c.Reason), n)
	}
	s := fmt.Sprintf("%.0f", c.Result.ImgPerS)
	if !(c.Result.LastLoss < c.Result.FirstLoss) {
		n := nts.add(fmt.Sprintf("%s: the loss did not fall during the run (see results.json)", trainTitle[c.Runtime]), fmt.Sprintf("mnist-cnn t%d", c.Threads))
		s += fmt.Sprintf(" (note %d)", n)
	}
	return s
}
