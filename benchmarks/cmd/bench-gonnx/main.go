// Command bench-gonnx is cmd/bench's child for gonnx
// (github.com/advancedclimatesystems/gonnx).
package main

import (
	"github.com/advancedclimatesystems/gonnx"
	"github.com/onyxrt/onyx/benchmarks/internal/gorgoniautil"
	"github.com/onyxrt/onyx/benchmarks/internal/harness"
)

func main() { harness.Main(openGonnx) }

// gonnxRunner: the model is parsed once and Run for every inference.
// gonnx has no thread setting, so GOMAXPROCS bounds it.
type gonnxRunner struct {
	m      *gonnx.Model
	inputs gonnx.Tensors
	out    gonnx.Tensors
	name   string
}

func openGonnx(j harness.Job, feeds []harness.Feed) (harness.Runner, string, error) {
	harness.SetGoThreads(j.Threads)
	m, err := gonnx.NewModelFromFile(j.Model)
	if err != nil {
		return nil, "", err
	}
	r := &gonnxRunner{m: m, inputs: gonnx.Tensors{}}
	for _, f := range feeds {
		r.inputs[f.Name] = gorgoniautil.Tensor(f)
	}
	if names := m.OutputNames(); len(names) > 0 {
		r.name = names[0]
	}
	return r, "", nil
}

func (r *gonnxRunner) Run() (err error) {
	r.out, err = r.m.Run(r.inputs)
	return err
}

func (r *gonnxRunner) Output() (*harness.Summary, error) {
	return gorgoniautil.Summarize(r.name, r.out[r.name])
}

func (r *gonnxRunner) Close() {}
