// Package ortrun runs a benchmark job's model with ONNX Runtime, through
// onnxruntime_go (cgo): the runner of cmd/bench-ort and cmd/bench-pair.
package ortrun

import (
	"fmt"

	"github.com/onyxrt/onyx/benchmarks/internal/harness"
	ort "github.com/yalue/onnxruntime_go"
)

// runner drives ONNX Runtime with all graph optimizations, intra-op
// threads as the job says, one inter-op thread and sequential execution.
// The input tensors are created once; the first run allocates the outputs
// and every later run is bound to those same buffers.
type runner struct {
	sess    *ort.DynamicAdvancedSession
	inputs  []ort.Value
	outputs []ort.Value
	outName string
	env     bool
}

// Open loads the job's model into an ONNX Runtime session (through the
// libonnxruntime.so.1 of j.ORTLib) and binds its inputs.
func Open(j harness.Job, feeds []harness.Feed) (harness.Runner, string, error) {
	if j.ORTLib == "" {
		return nil, "", fmt.Errorf("libonnxruntime.so.1 not found (make bench installs onnxruntime-node into benchmarks/.ort)")
	}
	ort.SetSharedLibraryPath(j.ORTLib)
	if err := ort.InitializeEnvironment(ort.WithLogLevelError()); err != nil {
		return nil, "", err
	}
	r := &runner{env: true}
	version := ort.GetVersion()
	opts, err := ort.NewSessionOptions()
	if err != nil {
		r.Close()
		return nil, version, err
	}
	defer opts.Destroy()
	for _, set := range []func() error{
		func() error { return opts.SetIntraOpNumThreads(j.Threads) },
		func() error { return opts.SetInterOpNumThreads(1) },
		func() error { return opts.SetExecutionMode(ort.ExecutionModeSequential) },
		func() error { return opts.SetGraphOptimizationLevel(ort.GraphOptimizationLevelEnableAll) },
		func() error {
			if !j.ORTNoSpin {
				return nil
			}
			return opts.AddSessionConfigEntry("session.intra_op.allow_spinning", "0")
		},
	} {
		if err := set(); err != nil {
			r.Close()
			return nil, version, err
		}
	}
	_, outInfo, err := ort.GetInputOutputInfoWithOptions(j.Model, opts)
	if err != nil {
		r.Close()
		return nil, version, err
	}
	var inNames, outNames []string
	for _, f := range feeds {
		inNames = append(inNames, f.Name)
		shape := make([]int64, len(f.Shape))
		for i, d := range f.Shape {
			shape[i] = int64(d)
		}
		var v ort.Value
		if f.F32 != nil {
			v, err = ort.NewTensor(ort.NewShape(shape...), f.F32)
		} else {
			v, err = ort.NewTensor(ort.NewShape(shape...), f.I64)
		}
		if err != nil {
			r.Close()
			return nil, version, err
		}
		r.inputs = append(r.inputs, v)
	}
	for _, o := range outInfo {
		outNames = append(outNames, o.Name)
	}
	if len(outNames) == 0 {
		r.Close()
		return nil, version, harness.ErrNoOutput
	}
	r.outName = outNames[0]
	r.outputs = make([]ort.Value, len(outNames))
	r.sess, err = ort.NewDynamicAdvancedSession(j.Model, inNames, outNames, opts)
	if err != nil {
		r.Close()
		return nil, version, err
	}
	return r, version, nil
}

func (r *runner) Run() error { return r.sess.Run(r.inputs, r.outputs) }

func (r *runner) Output() (*harness.Summary, error) {
	v := r.outputs[0]
	if v == nil {
		return nil, harness.ErrNoOutput
	}
	shape := []int{}
	for _, d := range v.GetShape() {
		shape = append(shape, int(d))
	}
	switch t := v.(type) {
	case *ort.Tensor[float32]:
		return harness.Summarize(r.outName, shape, t.GetData()), nil
	case *ort.Tensor[float64]:
		return harness.Summarize(r.outName, shape, t.GetData()), nil
	case *ort.Tensor[int64]:
		return harness.Summarize(r.outName, shape, t.GetData()), nil
	case *ort.Tensor[int32]:
		return harness.Summarize(r.outName, shape, t.GetData()), nil
	}
	return nil, fmt.Errorf("output %q is a %T", r.outName, v)
}

func (r *runner) Close() {
	for _, v := range append(r.inputs, r.outputs...) {
		if v != nil {
			v.Destroy()
		}
	}
	if r.sess != nil {
		r.sess.Destroy()
	}
	if r.env {
		ort.DestroyEnvironment()
	}
}
