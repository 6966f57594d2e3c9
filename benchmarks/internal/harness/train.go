package harness

import (
	"encoding/json"
	"fmt"
	"os"
	"runtime/debug"
	"slices"
	"strings"
	"syscall"
	"time"
)

// The training benchmark: each (runtime, thread count) trains the MNIST CNN
// of models/mnist-cnn in a child process of its own, cmd/bench-onyx-train
// for Onyx and train_torch.py (run with /usr/bin/python3) for PyTorch. Both
// read the same TrainJob as JSON and print one TrainResult line.

// The training runtimes, as named in the JSON and the table.
const (
	TrainOnyx    = "onyx"
	TrainPyTorch = "pytorch"
)

// TrainRuntimes are the runtimes of the training table, in column order.
var TrainRuntimes = []string{TrainOnyx, TrainPyTorch}

// A TrainJob is what one training child measures: the MNIST CNN trained
// with Adam(LR) and softmax cross-entropy on batches of Batch images, the
// first Batches*Batch images of the MNIST training set in Data (IDX files),
// converted to float32 before timing and used in turn. Warmup untimed steps
// come first; then steps are timed until Steps are done, or Budget has
// passed and MinSteps are done, or 3×Budget has passed.
type TrainJob struct {
	Runtime  string        `json:"runtime"`
	Data     string        `json:"data"`
	Threads  int           `json:"threads"`
	Batch    int           `json:"batch"`
	Batches  int           `json:"batches"`
	LR       float64       `json:"lr"`
	Seed     uint64        `json:"seed"`
	Warmup   int           `json:"warmup"`
	Steps    int           `json:"steps"`
	MinSteps int           `json:"min_steps"`
	Budget   time.Duration `json:"budget"`
}

// A TrainResult is what a training child reports, as one JSON line.
type TrainResult struct {
	OK      bool    `json:"ok"`
	Stage   string  `json:"stage,omitempty"` // where it failed: load or run
	Error   string  `json:"error,omitempty"`
	LoadMS  float64 `json:"load_ms,omitempty"`
	Warmups int     `json:"warmups,omitempty"`
	Steps   int     `json:"steps,omitempty"`
	// StepMS are the timed steps' durations in ms, in order.
	StepMS   []float64 `json:"step_ms,omitempty"`
	MedianMS float64   `json:"median_ms,omitempty"`
	MinMS    float64   `json:"min_ms,omitempty"`
	// ImgPerS is Batch divided by the median step time.
	ImgPerS float64 `json:"img_per_s,omitempty"`
	// FirstLoss and LastLoss are the losses of the first warm-up step and
	// of the last timed step: training must make progress.
	FirstLoss float64 `json:"first_loss,omitempty"`
	LastLoss  float64 `json:"last_loss,omitempty"`
	// CPUMSPerStep is the process's CPU time (user and system, all
	// threads) over the timed steps divided by their count: on a busy
	// machine it varies less than the step times.
	CPUMSPerStep float64 `json:"cpu_ms_per_step,omitempty"`
	// VmHWMKiB is the child's peak resident set (see VmHWM).
	VmHWMKiB    int64  `json:"vmhwm_kib,omitempty"`
	Version     string `json:"version,omitempty"`
	ThreadsUsed int    `json:"threads_used,omitempty"`
}

// A TrainStep runs training step i (on batch i mod Batches) and returns
// its loss.
type TrainStep func(i int) (float64, error)

// TrainOpener prepares a job: it loads the data and builds the model and
// optimizer, and returns the step function and the runtime's version.
type TrainOpener func(j TrainJob) (step TrainStep, version string, err error)

// TrainMain is a Go training child's main: it runs the job given as the
// single argument (JSON) and prints the result.
func TrainMain(open TrainOpener) {
	if len(os.Args) != 2 || !strings.HasPrefix(os.Args[1], "{") {
		fmt.Fprintf(os.Stderr, "usage: %s TRAIN-JOB-JSON\n(a child of cmd/bench; run that instead)\n", os.Args[0])
		os.Exit(2)
	}
	var j TrainJob
	if err := json.Unmarshal([]byte(os.Args[1]), &j); err != nil {
		fmt.Fprintln(os.Stderr, "bad job:", err)
		os.Exit(2)
	}
	r := MeasureTrain(j, open)
	r.VmHWMKiB = VmHWM()
	out, _ := json.Marshal(r)
	fmt.Println(string(out))
}

// MeasureTrain prepares the job, runs its warm-up steps and times its
// steps (see TrainJob).
func MeasureTrain(j TrainJob, open TrainOpener) (r TrainResult) {
	stage := "load"
	defer func() {
		if p := recover(); p != nil {
			r = TrainResult{Stage: stage, Error: fmt.Sprintf("panic: %v", p)}
			fmt.Fprintf(os.Stderr, "panic in %s: %v\n%s", stage, p, debug.Stack())
		}
	}()
	fail := func(err error) TrainResult { return TrainResult{Stage: stage, Error: err.Error()} }
	t0 := time.Now()
	step, version, err := open(j)
	if err != nil {
		return fail(err)
	}
	r.LoadMS = ms(time.Since(t0))
	r.Version = version
	r.ThreadsUsed = j.Threads
	stage = "run"
	i := 0
	for ; i < max(j.Warmup, 1); i++ {
		l, err := step(i)
		if err != nil {
			return fail(fmt.Errorf("warm-up step %d: %w", i+1, err))
		}
		if i == 0 {
			r.FirstLoss = l
		}
	}
	r.Warmups = i
	cpu0 := processCPU()
	start := time.Now()
	for len(r.StepMS) < max(j.Steps, 1) {
		t := time.Now()
		l, err := step(i)
		if err != nil {
			return fail(fmt.Errorf("timed step %d: %w", len(r.StepMS)+1, err))
		}
		r.StepMS = append(r.StepMS, ms(time.Since(t)))
		r.LastLoss = l
		i++
		el := time.Since(start)
		if (el >= j.Budget && len(r.StepMS) >= j.MinSteps) || el >= 3*j.Budget {
			break
		}
	}
	r.OK = true
	r.Steps = len(r.StepMS)
	if cpu0 >= 0 {
		r.CPUMSPerStep = ms(processCPU()-cpu0) / float64(r.Steps)
	}
	sorted := slices.Clone(r.StepMS)
	slices.Sort(sorted)
	r.MedianMS = Percentile(sorted, 50)
	r.MinMS = sorted[0]
	if r.MedianMS > 0 {
		r.ImgPerS = float64(j.Batch) / (r.MedianMS / 1000)
	}
	return r
}

// processCPU returns the CPU time this process has used, or -1.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return -1
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
