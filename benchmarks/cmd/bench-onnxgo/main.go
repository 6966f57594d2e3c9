// Command bench-onnxgo is cmd/bench's child for onnx-go
// (github.com/owulveryck/onnx-go) with its Gorgonia backend (gorgonnx).
package main

import (
	"fmt"
	"os"

	"github.com/onyxrt/onyx/benchmarks/internal/gorgoniautil"
	"github.com/onyxrt/onyx/benchmarks/internal/harness"
	onnxgo "github.com/owulveryck/onnx-go"
	"github.com/owulveryck/onnx-go/backend/x/gorgonnx"
	gtensor "gorgonia.org/tensor"
)

func main() { harness.Main(openOnnxGo) }

// onnxGoRunner decodes the model into a Gorgonia graph once and runs that
// graph for every inference. When a second run on the same graph gives
// other values than the first (onnx-go does so on some models), it
// rebuilds the graph before every run from then on, the only way to get
// the first run's values again, and says so in its note.
type onnxGoRunner struct {
	data    []byte
	feeds   []harness.Feed
	inputAt []int // graph-input index of each feed
	backend *gorgonnx.Graph
	model   *onnxgo.Model
	out     gtensor.Tensor
	name    string
	runs    int
	first   *harness.Summary
	rebuild bool
}

func openOnnxGo(j harness.Job, feeds []harness.Feed) (harness.Runner, string, error) {
	harness.SetGoThreads(j.Threads)
	data, err := os.ReadFile(j.Model)
	if err != nil {
		return nil, "", err
	}
	// onnx-go's SetInput(i) addresses the i-th entry of graph.input,
	// initializers listed there included.
	ins, outs, err := harness.GraphIO(data)
	if err != nil {
		return nil, "", err
	}
	r := &onnxGoRunner{data: data, feeds: feeds}
	for _, f := range feeds {
		i := -1
		for k, name := range ins {
			if name == f.Name {
				i = k
			}
		}
		if i < 0 {
			return nil, "", fmt.Errorf("model has no input %q", f.Name)
		}
		r.inputAt = append(r.inputAt, i)
	}
	if len(outs) > 0 {
		r.name = outs[0]
	}
	if err := r.build(); err != nil {
		return nil, "", err
	}
	return r, "", nil
}

func (r *onnxGoRunner) build() error {
	r.backend = gorgonnx.NewGraph()
	r.model = onnxgo.NewModel(r.backend)
	if err := r.model.UnmarshalBinary(r.data); err != nil {
		return err
	}
	for k, f := range r.feeds {
		if err := r.model.SetInput(r.inputAt[k], gorgoniautil.Tensor(f)); err != nil {
			return err
		}
	}
	return nil
}

func (r *onnxGoRunner) Run() error {
	if r.rebuild {
		if err := r.build(); err != nil {
			return err
		}
	}
	if err := r.backend.Run(); err != nil {
		return err
	}
	outs, err := r.model.GetOutputTensors()
	if err != nil {
		return err
	}
	if len(outs) == 0 {
		return harness.ErrNoOutput
	}
	r.out = outs[0]
	r.runs++
	switch {
	case r.runs == 1:
		r.first, err = r.Output()
		return err
	case r.runs == 2 && !r.rebuild:
		second, err := r.Output()
		if err != nil {
			return err
		}
		r.rebuild = harness.RelDiff(second, r.first) > 1e-6
	}
	return nil
}

func (r *onnxGoRunner) Output() (*harness.Summary, error) {
	return gorgoniautil.Summarize(r.name, r.out)
}

func (r *onnxGoRunner) Note() string {
	if r.rebuild {
		return "graph rebuilt (decoded again) before every run: a second run on the same graph gave other values than the first"
	}
	return ""
}

func (r *onnxGoRunner) Close() {}
