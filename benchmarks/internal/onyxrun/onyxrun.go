// Package onyxrun runs a benchmark job's model with an Onyx session: the
// runner of cmd/bench-onyx and cmd/bench-pair.
package onyxrun

import (
	"context"

	"github.com/onyxrt/onyx/benchmarks/internal/harness"
	"github.com/onyxrt/onyx/onnx"
	"github.com/onyxrt/onyx/runtime"
	"github.com/onyxrt/onyx/tensor"
)

// runner drives an Onyx session compiled once with Threads (and
// GOMAXPROCS) set to the job's thread count; the input tensors are built
// once.
type runner struct {
	sess  *runtime.Session
	feeds map[string]*tensor.Tensor
	out   map[string]*tensor.Tensor
	name  string
	ctx   context.Context
}

// Open loads the job's model into an Onyx session and binds its inputs.
func Open(j harness.Job, feeds []harness.Feed) (harness.Runner, string, error) {
	harness.SetGoThreads(j.Threads)
	m, err := onnx.DecodeFile(j.Model)
	if err != nil {
		return nil, "", err
	}
	sess, err := runtime.Compile(m, runtime.Options{Threads: j.Threads})
	if err != nil {
		return nil, "", err
	}
	r := &runner{sess: sess, feeds: map[string]*tensor.Tensor{}, out: map[string]*tensor.Tensor{}, ctx: context.Background()}
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
func (r *runner) Run() error {
	return r.sess.RunInto(r.ctx, r.feeds, r.out)
}

func (r *runner) Output() (*harness.Summary, error) {
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

func (r *runner) Close() {}
