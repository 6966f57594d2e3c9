// Package conformance runs test cases in the ONNX backend-test layout: a
// folder holding model.onnx (or one *.onnx file) and test_data_set_*/
// folders of input_N.pb and output_N.pb TensorProtos. Inputs and outputs
// are matched to the graph by name, or by position when the .pb tensors
// are unnamed.
package conformance

import (
	"context"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/onyxrt/onyx/graph"
	"github.com/onyxrt/onyx/onnx"
	"github.com/onyxrt/onyx/ops"
	"github.com/onyxrt/onyx/runtime"
	"github.com/onyxrt/onyx/tensor"
)

// Default tolerances of the ONNX backend test runner.
const (
	DefaultRTol = 1e-3
	DefaultATol = 1e-7
)

// Options configure a run.
type Options struct {
	RTol, ATol float64
	// Timeout bounds one case (0: one minute).
	Timeout  time.Duration
	Registry *ops.Registry
	Threads  int
}

// Status is the outcome of one case.
type Status int

// Outcomes.
const (
	Pass Status = iota
	Fail
	Skip
)

func (s Status) String() string {
	return [...]string{"pass", "fail", "skip"}[s]
}

// Result is the outcome of one case with the reason of a failure or skip.
type Result struct {
	Dir    string
	Name   string
	Status Status
	Reason string
}

// IsCase reports whether dir is a test case folder.
func IsCase(dir string) bool {
	_, err := modelFile(dir)
	if err != nil {
		return false
	}
	sets, _ := filepath.Glob(filepath.Join(dir, "test_data_set_*"))
	return len(sets) > 0
}

func modelFile(dir string) (string, error) {
	p := filepath.Join(dir, "model.onnx")
	if _, err := os.Stat(p); err == nil {
		return p, nil
	}
	m, _ := filepath.Glob(filepath.Join(dir, "*.onnx"))
	if len(m) == 1 {
		return m[0], nil
	}
	return "", fmt.Errorf("%s: no model.onnx", dir)
}

// FindCases expands each path into test case folders: a case itself, or
// the cases found below a folder (searched recursively), sorted.
func FindCases(paths ...string) ([]string, error) {
	var out []string
	for _, p := range paths {
		st, err := os.Stat(p)
		if err != nil {
			return nil, err
		}
		if !st.IsDir() {
			return nil, fmt.Errorf("%s is not a folder", p)
		}
		if IsCase(p) {
			out = append(out, p)
			continue
		}
		err = filepath.WalkDir(p, func(path string, d os.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if d.IsDir() && path != p && IsCase(path) {
				out = append(out, path)
				return filepath.SkipDir
			}
			return nil
		})
		if err != nil {
			return nil, err
		}
	}
	sort.Strings(out)
	return out, nil
}

// Run runs one case folder.
func Run(dir string, opts Options) Result {
	res := Result{Dir: dir, Name: filepath.Base(dir)}
	if err := run(dir, opts); err != nil {
		var skip skipError
		if errors.As(err, &skip) {
			res.Status, res.Reason = Skip, skip.msg
		} else {
			res.Status, res.Reason = Fail, err.Error()
		}
	}
	return res
}

type skipError struct{ msg string }

func (e skipError) Error() string { return e.msg }

func run(dir string, opts Options) error {
	if opts.RTol == 0 {
		opts.RTol = DefaultRTol
	}
	if opts.ATol == 0 {
		opts.ATol = DefaultATol
	}
	if opts.Timeout == 0 {
		opts.Timeout = time.Minute
	}
	mf, err := modelFile(dir)
	if err != nil {
		return err
	}
	m, err := onnx.DecodeFile(mf)
	if err != nil {
		return fmt.Errorf("load: %w", err)
	}
	sess, err := runtime.Compile(m, runtime.Options{Registry: opts.Registry, Threads: opts.Threads})
	if err != nil {
		return fmt.Errorf("compile: %w", err)
	}
	sets, _ := filepath.Glob(filepath.Join(dir, "test_data_set_*"))
	sort.Strings(sets)
	if len(sets) == 0 {
		return skipError{"no test_data_set folders"}
	}
	for _, set := range sets {
		feeds, err := readFeeds(set, sess.Inputs())
		if err != nil {
			return fmt.Errorf("%s: %w", filepath.Base(set), err)
		}
		want, err := readTensors(set, "output", sess.Outputs())
		if err != nil {
			return fmt.Errorf("%s: %w", filepath.Base(set), err)
		}
		// Each set runs twice on the same session: the second run reuses
		// the buffers the first one recycled, and must neither differ nor
		// overwrite the first run's outputs.
		var runs [2]map[string]*tensor.Tensor
		for r := range runs {
			ctx, cancel := context.WithTimeout(context.Background(), opts.Timeout)
			runs[r], err = sess.Run(ctx, feeds)
			cancel()
			if err != nil {
				return fmt.Errorf("%s: run %d: %w", filepath.Base(set), r+1, err)
			}
		}
		for r, got := range runs {
			for _, o := range sess.Outputs() {
				if w, ok := want[o.Name]; ok {
					if err := Compare(got[o.Name], w, opts.RTol, opts.ATol); err != nil {
						return fmt.Errorf("%s: run %d: output %q: %w", filepath.Base(set), r+1, o.Name, err)
					}
				}
			}
		}
		got := runs[0]
		for _, o := range sess.Outputs() {
			w, ok := want[o.Name]
			if !ok {
				continue
			}
			if err := Compare(got[o.Name], w, opts.RTol, opts.ATol); err != nil {
				return fmt.Errorf("%s: output %q of run 1 changed during run 2: %w", filepath.Base(set), o.Name, err)
			}
			// What shape inference promised at compile time must hold.
			if it, ok := sess.ValueType(o.Name); ok && w.Kind() == tensor.KindTensor {
				if it.DType != tensor.Undefined && it.DType != w.DType() {
					return fmt.Errorf("output %q: shape inference gave dtype %v, the run %v", o.Name, it.DType, w.DType())
				}
				if !it.Shape.Matches(w.Shape()) {
					return fmt.Errorf("output %q: shape inference gave shape %v, the run %v", o.Name, it.Shape, w.Shape())
				}
			}
		}
	}
	return nil
}

func readFeeds(set string, inputs []graph.ValueInfo) (map[string]*tensor.Tensor, error) {
	return readTensors(set, "input", inputs)
}

// readTensors reads prefix_N.pb files and maps them to the given values by
// name, or by position for unnamed tensors.
func readTensors(set, prefix string, vals []graph.ValueInfo) (map[string]*tensor.Tensor, error) {
	out := map[string]*tensor.Tensor{}
	byName := map[string]bool{}
	for _, v := range vals {
		byName[v.Name] = true
	}
	for i := 0; ; i++ {
		p := filepath.Join(set, fmt.Sprintf("%s_%d.pb", prefix, i))
		data, err := os.ReadFile(p)
		if errors.Is(err, os.ErrNotExist) {
			break
		}
		if err != nil {
			return nil, err
		}
		var typ graph.Type
		if i < len(vals) {
			typ = vals[i].Type
		}
		name, t, err := onnx.DecodeValue(data, typ)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", filepath.Base(p), err)
		}
		if name == "" || !byName[name] {
			if i >= len(vals) {
				return nil, fmt.Errorf("%s: more %ss than the model has (%d)", filepath.Base(p), prefix, len(vals))
			}
			name = vals[i].Name
		}
		out[name] = t
	}
	return out, nil
}

// Compare checks got against want: same dtype and shape, and values equal
// within |got-want| <= atol + rtol*|want| for floats (NaN matches NaN),
// exactly for other types.
func Compare(got, want *tensor.Tensor, rtol, atol float64) error {
	if got == nil {
		return errors.New("missing")
	}
	if got.Kind() != want.Kind() {
		return fmt.Errorf("got a value of kind %d, want kind %d", got.Kind(), want.Kind())
	}
	switch want.Kind() {
	case tensor.KindSequence:
		g, w := got.Elems(), want.Elems()
		if len(g) != len(w) {
			return fmt.Errorf("sequence has %d elements, want %d", len(g), len(w))
		}
		for i := range w {
			if err := Compare(g[i], w[i], rtol, atol); err != nil {
				return fmt.Errorf("sequence element %d: %w", i, err)
			}
		}
		return nil
	case tensor.KindOptional:
		g, gok := got.OptionalValue()
		w, wok := want.OptionalValue()
		if gok != wok {
			return fmt.Errorf("optional has a value: %v, want %v", gok, wok)
		}
		if !wok {
			return nil
		}
		return Compare(g, w, rtol, atol)
	}
	if got.DType() != want.DType() {
		return fmt.Errorf("dtype %v, want %v", got.DType(), want.DType())
	}
	if !tensor.ShapeEqual(got.Shape(), want.Shape()) {
		return fmt.Errorf("shape %v, want %v", got.Shape(), want.Shape())
	}
	if got.DType() == tensor.String {
		g, w := tensor.Data[string](got), tensor.Data[string](want)
		for i := range w {
			if g[i] != w[i] {
				return fmt.Errorf("element %d is %q, want %q", i, g[i], w[i])
			}
		}
		return nil
	}
	exact := !got.DType().IsFloat()
	g, w := got.Float64s(), want.Float64s()
	if exact {
		gi, err1 := got.AsInt64s()
		wi, err2 := want.AsInt64s()
		if err1 == nil && err2 == nil && got.DType() != tensor.Uint64 {
			for i := range wi {
				if gi[i] != wi[i] {
					return fmt.Errorf("element %d is %d, want %d", i, gi[i], wi[i])
				}
			}
			return nil
		}
	}
	bad, worst, worstIdx := 0, 0.0, -1
	for i := range w {
		a, b := g[i], w[i]
		if math.IsNaN(b) {
			if !math.IsNaN(a) {
				bad++
				worstIdx = i
			}
			continue
		}
		if math.IsInf(b, 0) {
			if a != b {
				bad++
				worstIdx = i
			}
			continue
		}
		d := math.Abs(a - b)
		if exact && d != 0 || !(d <= atol+rtol*math.Abs(b)) {
			bad++
			if d > worst || worstIdx < 0 || math.IsNaN(d) {
				worst, worstIdx = d, i
			}
		}
	}
	if bad > 0 {
		return fmt.Errorf("%d of %d elements differ; e.g. element %d is %v, want %v (rtol %g, atol %g)", bad, len(w), worstIdx, g[worstIdx], w[worstIdx], rtol, atol)
	}
	return nil
}

// Summary formats counts as "N passed, N failed, N skipped".
func Summary(results []Result) string {
	var p, f, s int
	for _, r := range results {
		switch r.Status {
		case Pass:
			p++
		case Fail:
			f++
		case Skip:
			s++
		}
	}
	return fmt.Sprintf("%d passed, %d failed, %d skipped", p, f, s)
}

// FirstLine returns the first line of a reason, for one-line reports.
func FirstLine(s string) string {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i]
	}
	return s
}
