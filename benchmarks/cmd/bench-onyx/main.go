// Command bench-onyx is cmd/bench's child for Onyx: it measures one job
// (given as JSON) with an Onyx session, or, for the "sgemm" runtime, with
// the raw ops/asm.Sgemm kernel, or, for "fmapeak", with a loop of FMAs
// that measures what one core sustains.
package main

import (
	"context"
	"fmt"

	"github.com/onyxrt/onyx/benchmarks/internal/fmaloop"
	"github.com/onyxrt/onyx/benchmarks/internal/harness"
	"github.com/onyxrt/onyx/onnx"
	"github.com/onyxrt/onyx/ops/asm"
	"github.com/onyxrt/onyx/runtime"
	"github.com/onyxrt/onyx/tensor"
)

func main() {
	harness.Main(func(j harness.Job, feeds []harness.Feed) (harness.Runner, string, error) {
		switch j.Runtime {
		case harness.Sgemm:
			return openSgemm(feeds)
		case harness.FMAPeak:
			return openFMAPeak()
		}
		return openOnyx(j, feeds)
	})
}

// onyxRunner drives an Onyx session compiled once with Threads (and
// GOMAXPROCS) set to the job's thread count; the input tensors are built
// once.
type onyxRunner struct {
	sess  *runtime.Session
	feeds map[string]*tensor.Tensor
	out   map[string]*tensor.Tensor
	name  string
	ctx   context.Context
}

func openOnyx(j harness.Job, feeds []harness.Feed) (harness.Runner, string, error) {
	harness.SetGoThreads(j.Threads)
	m, err := onnx.DecodeFile(j.Model)
	if err != nil {
		return nil, "", err
	}
	sess, err := runtime.Compile(m, runtime.Options{Threads: j.Threads})
	if err != nil {
		return nil, "", err
	}
	r := &onyxRunner{sess: sess, feeds: map[string]*tensor.Tensor{}, out: map[string]*tensor.Tensor{}, ctx: context.Background()}
	for _, f := range feeds {
		if f.F32 != nil {
			r.feeds[f.Name] = tensor.From(f.Shape, f.F32)
		} else {
			r.feeds[f.Name] = tensor.From(f.Shape, f.I64)
		}
	}
	if outs := sess.Outputs(); len(outs) > 0 {
		r.name = outs[0].Name
	}
	return r, "", nil
}

// Run runs the model into the outputs of the previous run (RunInto), as
// ORT runs into outputs bound once.
func (r *onyxRunner) Run() error {
	return r.sess.RunInto(r.ctx, r.feeds, r.out)
}

func (r *onyxRunner) Output() (*harness.Summary, error) {
	t := r.out[r.name]
	if t == nil {
		return nil, harness.ErrNoOutput
	}
	switch t.DType() {
	case tensor.Float32:
		return harness.Summarize(r.name, t.Shape(), t.Float32s()), nil
	case tensor.Int64:
		return harness.Summarize(r.name, t.Shape(), t.Int64s()), nil
	}
	return harness.Summarize(r.name, t.Shape(), t.Float64s()), nil
}

func (r *onyxRunner) Close() {}

// sgemmRunner times Onyx's raw kernel, C = A·B on the MatMul model's two
// inputs, on one goroutine (GOMAXPROCS 1).
type sgemmRunner struct {
	n       int
	a, b, c []float32
}

func openSgemm(feeds []harness.Feed) (harness.Runner, string, error) {
	harness.SetGoThreads(1)
	if len(feeds) != 2 || len(feeds[0].Shape) != 2 || feeds[0].F32 == nil || feeds[1].F32 == nil {
		return nil, "", fmt.Errorf("sgemm wants two float32 matrices")
	}
	n := feeds[0].Shape[0]
	if feeds[0].Shape[1] != n || feeds[1].Shape[0] != n || feeds[1].Shape[1] != n {
		return nil, "", fmt.Errorf("sgemm wants two n×n matrices, got %v and %v", feeds[0].Shape, feeds[1].Shape)
	}
	return &sgemmRunner{n: n, a: feeds[0].F32, b: feeds[1].F32, c: make([]float32, n*n)}, "", nil
}

func (r *sgemmRunner) Run() error {
	n := r.n
	asm.Sgemm(false, false, n, n, n, 1, r.a, n, r.b, n, 0, r.c, n)
	return nil
}

// Reference runs the FMA loop for half the work of a run (see
// harness.Referenced), where the CPU has it (else no reference).
func (r *sgemmRunner) Reference() float64 {
	return fmaloop.Beside(2*float64(r.n)*float64(r.n)*float64(r.n)/1e6, 2)
}

func (r *sgemmRunner) Output() (*harness.Summary, error) {
	return harness.Summarize("Y", []int{r.n, r.n}, r.c), nil
}

func (r *sgemmRunner) Close() {}

// fmaPeakRunner times fmaloop.Loop.
type fmaPeakRunner struct{ last float32 }

func openFMAPeak() (harness.Runner, string, error) {
	if !fmaloop.Available() {
		return nil, "", fmt.Errorf("no FMA loop for this CPU")
	}
	return &fmaPeakRunner{}, "", nil
}

func (r *fmaPeakRunner) Run() error {
	r.last = fmaloop.Loop(fmaloop.RunIters)
	return nil
}

func (r *fmaPeakRunner) Output() (*harness.Summary, error) {
	return harness.Summarize("acc", []int{1}, []float32{r.last}), nil
}

func (r *fmaPeakRunner) Close() {}
