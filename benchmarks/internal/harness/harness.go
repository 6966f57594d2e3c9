// Package harness is the part of the benchmark that runs inside each child
// process: the job a child is given, the timing loop, the output summary
// used to check runtimes against each other, and peak-memory reading.
//
// Each runtime has a child binary of its own (cmd/bench-onyx, bench-ort,
// bench-gonnx, bench-onnxgo), so that a child holds only the code of the
// runtime it measures, and so that the runtimes' generated ONNX protobuf
// packages, which register the same names, never meet in one program. This
// package therefore reads ONNX files with protowire and registers nothing.
package harness

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	goruntime "runtime"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"time"
)

// The runtimes, as named on the command line, in the JSON and in the
// child binaries' names (bench-NAME; sgemm runs in bench-onyx).
const (
	Onyx   = "onyx"
	ORT    = "ort"
	Gonnx  = "gonnx"
	OnnxGo = "onnxgo"
	Sgemm  = "sgemm" // Onyx's ops/asm.Sgemm on raw slices, one thread
	// FMAPeak is a loop of independent FMAs with no memory operands, one
	// thread: what one core's FMA units sustain while the bench runs.
	FMAPeak = "fmapeak"
	// OpenBLAS is OpenBLAS's cblas_sgemm on raw slices, one thread: the
	// SGEMM table's reference from C.
	OpenBLAS = "openblas"
)

// Runtimes are the runtimes of the model table, in column order.
var Runtimes = []string{Onyx, ORT, Gonnx, OnnxGo}

// Binary is the child program that measures a runtime.
func Binary(runtime string) string {
	switch runtime {
	case Sgemm, FMAPeak:
		return "bench-onyx"
	case OpenBLAS:
		return "bench-blas"
	}
	return "bench-" + runtime
}

// A Job is what one child process measures: one runtime, one model, one
// thread count.
type Job struct {
	Runtime string        `json:"runtime"`
	Model   string        `json:"model"`
	Feeds   []string      `json:"feeds"`
	Threads int           `json:"threads"`
	Warmup  int           `json:"warmup"`
	Runs    int           `json:"runs"`
	MinRuns int           `json:"min_runs"`
	Budget  time.Duration `json:"budget"`
	// MinTime is how long the timed runs go on at least, when Runs are
	// done sooner (Budget still ends them): a fast model's runs then
	// span a stretch of time, not the few milliseconds in which a shared
	// machine may happen to be fast or slow.
	MinTime time.Duration `json:"min_time,omitempty"`
	ORTLib  string        `json:"ort_lib,omitempty"`
	// ORTNoSpin turns off the spinning of ONNX Runtime's idle intra-op
	// threads (session.intra_op.allow_spinning 0), for cmd/bench-pair,
	// where they would take the CPU from the other runtime's runs.
	ORTNoSpin bool `json:"ort_no_spin,omitempty"`
}

// FindORTLib finds the libonnxruntime.so.1 to measure ONNX Runtime
// with: $ONNXRUNTIME_SHARED_LIBRARY_PATH, else the one the npm package
// onnxruntime-node ships in .ort (below the working directory, where make
// bench installs it); "" when there is none.
func FindORTLib() string {
	if p := os.Getenv("ONNXRUNTIME_SHARED_LIBRARY_PATH"); p != "" {
		return p
	}
	arch := map[string]string{"amd64": "x64", "arm64": "arm64"}[goruntime.GOARCH]
	m, _ := filepath.Glob(filepath.Join(".ort", "node_modules", "onnxruntime-node", "bin", "napi-v*", goruntime.GOOS, arch, "libonnxruntime.so.1"))
	if len(m) == 0 {
		return ""
	}
	slices.Sort(m)
	return m[len(m)-1]
}

// A Result is what a child reports, as one JSON line on its stdout.
type Result struct {
	OK      bool    `json:"ok"`
	Stage   string  `json:"stage,omitempty"` // where it failed: inputs, load, run, output
	Error   string  `json:"error,omitempty"`
	LoadMS  float64 `json:"load_ms,omitempty"`
	Warmups int     `json:"warmups,omitempty"`
	Runs    int     `json:"runs,omitempty"`
	// LatMS are the timed runs' latencies in ms, in run order: all of
	// them, or, when more than the job's Runs were made (MinTime), every
	// k-th, at most Runs of them; Median, P90 and Min are over all.
	LatMS []float64 `json:"lat_ms,omitempty"`
	// RefMS, for a Referenced runner, are the times of its reference
	// workload (RefMFLOP of work), each run right after the timed run of
	// the same index.
	RefMS    []float64 `json:"ref_ms,omitempty"`
	RefMFLOP float64   `json:"ref_mflop,omitempty"`
	Median   float64   `json:"median_ms,omitempty"`
	P90      float64   `json:"p90_ms,omitempty"`
	Min      float64   `json:"min_ms,omitempty"`
	// VmHWMKiB is the peak resident set of the child's own address space
	// (/proc/self/status VmHWM), read after the last run and Close.
	VmHWMKiB int64 `json:"vmhwm_kib,omitempty"`
	// Output summarizes the first graph output of the first run; Stable
	// says whether the last timed run gave the same values.
	Output *Summary `json:"output,omitempty"`
	Stable *bool    `json:"stable,omitempty"`
	// Note says how the runtime was driven where that differs from "load
	// once, run many times".
	Note    string `json:"note,omitempty"`
	Version string `json:"version,omitempty"`
	// Modules are the versions of the runtime's Go modules in this binary.
	Modules []string `json:"modules,omitempty"`
}

// modulesOfInterest are the Go modules whose versions the report names.
var modulesOfInterest = []string{
	"github.com/yalue/onnxruntime_go", "github.com/advancedclimatesystems/gonnx",
	"github.com/owulveryck/onnx-go", "gorgonia.org/gorgonia", "gorgonia.org/tensor",
}

// A Summary is enough of an output to compare runtimes: the values'
// Euclidean norm and the first few of them.
type Summary struct {
	Name  string    `json:"name"`
	Shape []int     `json:"shape"`
	N     int       `json:"n"`
	L2    float64   `json:"l2"`
	Head  []float64 `json:"head"`
	NaNs  int       `json:"nans,omitempty"`
}

const headLen = 64

// Summarize summarizes an output's values.
func Summarize[T float32 | float64 | int64 | int32 | uint8 | int8](name string, shape []int, data []T) *Summary {
	s := &Summary{Name: name, Shape: slices.Clone(shape), N: len(data)}
	var ss float64
	for i, v := range data {
		f := float64(v)
		if math.IsNaN(f) || math.IsInf(f, 0) {
			s.NaNs++
			continue
		}
		ss += f * f
		if i < headLen {
			s.Head = append(s.Head, f)
		}
	}
	s.L2 = math.Sqrt(ss)
	return s
}

// RelDiff compares two summaries: the largest difference of the leading
// values relative to the largest of want's, or the relative difference of
// the norms, whichever is larger. Different sizes or NaN counts give +Inf.
func RelDiff(got, want *Summary) float64 {
	if got == nil || want == nil || got.N != want.N || got.NaNs != want.NaNs || len(got.Head) != len(want.Head) {
		return math.Inf(1)
	}
	scale := 1e-12
	for _, v := range want.Head {
		scale = max(scale, math.Abs(v))
	}
	d := 0.0
	for i := range got.Head {
		d = max(d, math.Abs(got.Head[i]-want.Head[i])/scale)
	}
	if want.L2 > 0 {
		d = max(d, math.Abs(got.L2-want.L2)/want.L2)
	} else if got.L2 != 0 {
		d = math.Inf(1)
	}
	return d
}

// A Runner is one runtime with one model loaded and its inputs bound.
type Runner interface {
	Run() error
	// Output summarizes the first graph output of the latest run.
	Output() (*Summary, error)
	Close()
}

// A Referenced runner has a reference workload of known work, which
// Measure runs and times apart right after each timed run: the FMA loop
// (internal/fmaloop), so that each run of a kernel can be set against
// what the core sustained at that moment, on a machine whose speed
// changes from second to second (a shared host).
// Reference runs the workload once and returns its work in MFLOP.
type Referenced interface{ Reference() (mflop float64) }

// A Noter is a Runner that reports how it was driven.
type Noter interface{ Note() string }

// Opener loads a job's model into a runtime and binds its inputs; version
// is the runtime's own version where it reports one.
type Opener func(j Job, feeds []Feed) (r Runner, version string, err error)

// ErrNoOutput is returned when a runtime produced no output.
var ErrNoOutput = errors.New("no output")

// Main is a child binary's main: it runs the job given as the single
// argument (JSON) with the opener of its runtime and prints the result.
func Main(open Opener) {
	if len(os.Args) != 2 || !strings.HasPrefix(os.Args[1], "{") {
		fmt.Fprintf(os.Stderr, "usage: %s JOB-JSON\n(a child of cmd/bench; run that instead)\n", os.Args[0])
		os.Exit(2)
	}
	var j Job
	if err := json.Unmarshal([]byte(os.Args[1]), &j); err != nil {
		fmt.Fprintln(os.Stderr, "bad job:", err)
		os.Exit(2)
	}
	r := Measure(j, open)
	r.VmHWMKiB = VmHWM()
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, d := range bi.Deps {
			if slices.Contains(modulesOfInterest, d.Path) {
				r.Modules = append(r.Modules, d.Path+" "+d.Version)
			}
		}
	}
	out, _ := json.Marshal(r)
	fmt.Println(string(out))
}

// Measure loads the job's model, runs it untimed (at least twice: the
// second run shows whether a runtime repeats itself on a loaded model),
// then times runs until j.Runs are done and j.MinTime has passed, or
// j.Budget has passed and j.MinRuns are done, or 3×j.Budget has passed.
func Measure(j Job, open Opener) (r Result) {
	stage := "inputs"
	defer func() {
		if p := recover(); p != nil {
			r = Result{Stage: stage, Error: fmt.Sprintf("panic: %v", p)}
			fmt.Fprintf(os.Stderr, "panic in %s: %v\n%s", stage, p, debug.Stack())
		}
	}()
	fail := func(err error) Result { return Result{Stage: stage, Error: err.Error()} }
	feeds, err := LoadFeeds(j.Feeds)
	if err != nil {
		return fail(err)
	}
	stage = "load"
	t0 := time.Now()
	rn, version, err := open(j, feeds)
	if err != nil {
		return fail(err)
	}
	defer rn.Close()
	r.LoadMS = ms(time.Since(t0))
	r.Version = version

	stage = "run"
	if err := rn.Run(); err != nil {
		return fail(err)
	}
	stage = "output"
	first, err := rn.Output()
	if err != nil {
		return fail(err)
	}
	stage = "run"
	r.Warmups = 1
	wstart := time.Now()
	// Warm up for at least Warmup runs and half a second (a runtime's
	// steady state, with its allocator and caches settled, is what a
	// long-running service sees), but at most Budget/2 beyond two runs.
	warm := min(500*time.Millisecond, j.Budget/2)
	for r.Warmups < 2 || ((r.Warmups < j.Warmup || time.Since(wstart) < warm) && time.Since(wstart) < j.Budget/2) {
		if err := rn.Run(); err != nil {
			return fail(err)
		}
		r.Warmups++
	}
	start := time.Now()
	for {
		t := time.Now()
		if err := rn.Run(); err != nil {
			return fail(fmt.Errorf("timed run %d: %w", len(r.LatMS)+1, err))
		}
		r.LatMS = append(r.LatMS, ms(time.Since(t)))
		if ref, ok := rn.(Referenced); ok {
			t = time.Now()
			r.RefMFLOP = ref.Reference()
			r.RefMS = append(r.RefMS, ms(time.Since(t)))
		}
		el := time.Since(start)
		if len(r.LatMS) >= max(j.Runs, 1) && el >= j.MinTime ||
			el >= j.Budget && len(r.LatMS) >= j.MinRuns || el >= 3*j.Budget {
			break
		}
	}
	stage = "output"
	last, err := rn.Output()
	if err != nil {
		return fail(err)
	}
	stable := RelDiff(last, first) <= 1e-6
	r.Stable = &stable
	r.Output = first
	if n, ok := rn.(Noter); ok {
		r.Note = n.Note()
	}
	r.OK = true
	r.Runs = len(r.LatMS)
	sorted := slices.Clone(r.LatMS)
	slices.Sort(sorted)
	r.Median = Percentile(sorted, 50)
	r.P90 = Percentile(sorted, 90)
	r.Min = sorted[0]
	r.LatMS, r.RefMS = EveryKth(r.LatMS, max(j.Runs, 1)), EveryKth(r.RefMS, max(j.Runs, 1))
	return r
}

// EveryKth returns v, or every k-th value of it from the first when it
// holds more than n: at most n values spread evenly over v.
func EveryKth(v []float64, n int) []float64 {
	if len(v) <= n {
		return v
	}
	k := (len(v) + n - 1) / n
	out := make([]float64, 0, n)
	for i := 0; i < len(v); i += k {
		out = append(out, v[i])
	}
	return out
}

func ms(d time.Duration) float64 { return float64(d.Nanoseconds()) / 1e6 }

// Percentile interpolates linearly between the closest ranks of sorted
// values (numpy's default).
func Percentile(sorted []float64, p float64) float64 {
	if len(sorted) == 0 {
		return math.NaN()
	}
	pos := p / 100 * float64(len(sorted)-1)
	lo := int(math.Floor(pos))
	hi := min(lo+1, len(sorted)-1)
	return sorted[lo] + (pos-float64(lo))*(sorted[hi]-sorted[lo])
}

// VmHWM reads this process's peak resident set size from
// /proc/self/status, in KiB (0 where there is no procfs): the high-water
// mark of this program's own address space, whatever spawned it.
func VmHWM() int64 {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), "VmHWM:"); ok {
			v, _ := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")), 10, 64)
			return v
		}
	}
	return 0
}

// SetGoThreads bounds a Go runtime's parallelism to the job's threads.
func SetGoThreads(n int) {
	if n > 0 {
		goruntime.GOMAXPROCS(n)
	}
}
