// Command bench-onyx is cmd/bench's child for Onyx: it measures one job
// (given as JSON) with an Onyx session, or, for the "sgemm" runtime, with
// the raw ops/asm.Sgemm kernel, or, for "fmapeak", with a loop of FMAs
// that measures what one core sustains.
package main

import (
	"fmt"

	"github.com/onyxrt/onyx/benchmarks/internal/fmaloop"
	"github.com/onyxrt/onyx/benchmarks/internal/harness"
	"github.com/onyxrt/onyx/benchmarks/internal/onyxrun"
	"github.com/onyxrt/onyx/ops/asm"
)

func main() {
	harness.Main(func(j harness.Job, feeds []harness.Feed) (harness.Runner, string, error) {
		switch j.Runtime {
		case harness.Sgemm:
			return openSgemm(feeds)
		case harness.FMAPeak:
			return openFMAPeak()
		}
		return onyxrun.Open(j, feeds)
	})
}

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
