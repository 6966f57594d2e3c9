// Command bench compares Onyx with ONNX Runtime (through onnxruntime_go),
// gonnx and onnx-go (Gorgonia backend) on the same models and inputs, and
// writes a markdown table (results.md) and the raw numbers (results.json).
//
// Every (runtime, model, threads) is measured in a child process of its
// own (cmd/bench-onyx, bench-ort, bench-gonnx or bench-onnxgo, found next
// to this program's executable or in -bin): it loads the model once,
// binds the inputs, runs it untimed a few times, then times up to -runs
// runs within -budget, and reports latencies, the first output (to check
// it against ONNX Runtime's) and its peak resident set size. A runtime
// that cannot load or run a model, panics, crashes or times out is
// reported with the reason. Run it from the benchmarks folder; `make bench`
// in the repository root installs what it needs first.
//
// It then trains the MNIST CNN of models/mnist-cnn with Onyx
// (cmd/bench-onyx-train) and with PyTorch (train_torch.py) at each thread
// count, each in a child process of its own, and reports images per
// second and peak memory (train.go).
//
//	bench [-quick] [-models LIST] [-sgemm LIST] [-runtimes LIST] [-threads LIST]
//	      [-runs N] [-warmup N] [-budget D] [-timeout D] [-out FILE] [-json FILE]
//	      [-train mnist-cnn|none] [-train-runtimes LIST] [-mnist DIR] [-python PATH]
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/onyxrt/onyx/benchmarks/internal/harness"
	"golang.org/x/sys/cpu"
)

type options struct {
	quick    bool
	models   string
	sgemm    []int
	runtimes []string
	threads  []int
	runs     int
	warmup   int
	minRuns  int
	budget   time.Duration
	minTime  time.Duration
	rounds   int
	timeout  time.Duration
	ortLib   string
	out      string
	jsonOut  string
	readme   string
	peak     float64
	bin      string
	// The training benchmark (train.go).
	train        string
	trainRTs     []string
	mnist        string
	python       string
	trainSteps   int
	trainWarmup  int
	trainBatches int
}

func main() { os.Exit(parentMain(os.Args[1:])) }

func parentMain(args []string) int {
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	var o options
	var sgemm, runtimes, threads, dir string
	fs.BoolVar(&o.quick, "quick", false, "smoke run: 1 timed run, threads 1, models mnist-cnn-b1 and lstm50x10, SGEMM n=64 (other flags still apply)")
	fs.StringVar(&o.models, "models", "", "comma-separated model `names`, all, keras or a prefix ending in * (default: all; with -quick: mnist-cnn-b1,lstm50x10)")
	fs.StringVar(&sgemm, "sgemm", "64,128,256,512,1024", "comma-separated SGEMM sizes n, or none (with -quick: 64)")
	fs.StringVar(&runtimes, "runtimes", strings.Join(harness.Runtimes, ","), "comma-separated runtimes")
	fs.StringVar(&threads, "threads", "1,2", "comma-separated thread counts (with -quick: 1)")
	fs.IntVar(&o.runs, "runs", 300, "timed runs at most (with -quick: 1)")
	fs.IntVar(&o.warmup, "warmup", 5, "untimed runs before timing, at least 2 (with -quick: 2)")
	fs.IntVar(&o.minRuns, "min-runs", 3, "timed runs at least, unless one run takes longer than 3 budgets (with -quick: 1)")
	fs.DurationVar(&o.budget, "budget", 10*time.Second, "time after which timing stops once -min-runs are done (with -quick: 2s)")
	fs.DurationVar(&o.minTime, "min-time", 2*time.Second, "how long the timed runs go on at least, when -runs are done sooner (split over the rounds; the latencies kept are then every k-th run, -runs of them; with -quick: 0)")
	fs.IntVar(&o.rounds, "rounds", 5, "the runtimes take turns in this many rounds per model and thread count, each a process of its own with 1/rounds of -runs, -min-runs and -budget, so that a change in the machine's speed meets them all (with -quick: 1)")
	fs.DurationVar(&o.timeout, "timeout", 15*time.Minute, "kill a child after this long (with -quick: 3m)")
	fs.StringVar(&o.ortLib, "ort-lib", "", "path of libonnxruntime.so.1 (default: $ONNXRUNTIME_SHARED_LIBRARY_PATH, then the one in .ort/node_modules/onnxruntime-node)")
	fs.StringVar(&o.out, "out", "results.md", "markdown output")
	fs.StringVar(&o.jsonOut, "json", "results.json", "JSON output")
	fs.StringVar(&o.readme, "readme", "README.md", "file whose <!-- bench:begin/end --> section gets the table (not on -quick runs unless given; empty: none)")
	fs.Float64Var(&o.peak, "peak", 116, "fp32 FMA peak of one core in GFLOP/s (PERF-ANCHORS.md)")
	fs.StringVar(&dir, "C", ".", "the benchmarks folder")
	fs.StringVar(&o.bin, "bin", "", "folder of the child programs bench-onyx, bench-onyx-train, bench-ort, bench-gonnx, bench-onnxgo (default: this program's folder)")
	var trainRTs string
	fs.StringVar(&o.train, "train", "mnist-cnn", "training benchmark: mnist-cnn, or none")
	fs.StringVar(&trainRTs, "train-runtimes", strings.Join(harness.TrainRuntimes, ","), "comma-separated training runtimes (onyx, pytorch)")
	fs.StringVar(&o.mnist, "mnist", "../../shared/data/mnist", "folder of the MNIST IDX files for the training benchmark")
	fs.StringVar(&o.python, "python", "/usr/bin/python3", "Python with torch 1.13 and numpy, for the PyTorch training child (train_torch.py)")
	fs.IntVar(&o.trainSteps, "train-steps", 200, "timed training steps at most (with -quick: 3)")
	fs.IntVar(&o.trainWarmup, "train-warmup", 10, "untimed training steps first (with -quick: 2)")
	fs.IntVar(&o.trainBatches, "train-batches", 16, "distinct batches of 64 images, used in turn")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	if o.quick {
		quickDefaults := map[string]func(){
			"sgemm":        func() { sgemm = "64" },
			"threads":      func() { threads = "1" },
			"runs":         func() { o.runs = 1 },
			"warmup":       func() { o.warmup = 2 },
			"min-runs":     func() { o.minRuns = 1 },
			"budget":       func() { o.budget = 2 * time.Second },
			"min-time":     func() { o.minTime = 0 },
			"rounds":       func() { o.rounds = 1 },
			"timeout":      func() { o.timeout = 3 * time.Minute },
			"readme":       func() { o.readme = "" },
			"train-steps":  func() { o.trainSteps = 3 },
			"train-warmup": func() { o.trainWarmup = 2 },
		}
		for name, apply := range quickDefaults {
			if !set[name] {
				apply()
			}
		}
	}
	var err error
	if o.sgemm, err = intList(sgemm); err != nil {
		return usage(err)
	}
	if o.threads, err = intList(threads); err != nil || len(o.threads) == 0 {
		return usage(fmt.Errorf("bad -threads %q", threads))
	}
	for _, r := range strings.Split(runtimes, ",") {
		if r = strings.TrimSpace(r); r == "" {
			continue
		}
		if !slices.Contains(harness.Runtimes, r) {
			return usage(fmt.Errorf("unknown runtime %q (known: %s)", r, strings.Join(harness.Runtimes, ", ")))
		}
		o.runtimes = append(o.runtimes, r)
	}
	for _, r := range strings.Split(trainRTs, ",") {
		if r = strings.TrimSpace(r); r == "" {
			continue
		}
		if !slices.Contains(harness.TrainRuntimes, r) {
			return usage(fmt.Errorf("unknown training runtime %q (known: %s)", r, strings.Join(harness.TrainRuntimes, ", ")))
		}
		o.trainRTs = append(o.trainRTs, r)
	}
	if o.train != "none" && o.train != "mnist-cnn" {
		return usage(fmt.Errorf("unknown -train %q (mnist-cnn or none)", o.train))
	}
	if o.trainSteps < 1 || o.trainBatches < 1 {
		return usage(errors.New("-train-steps and -train-batches must be at least 1"))
	}
	if o.rounds < 1 {
		return usage(fmt.Errorf("-rounds %d: want at least 1", o.rounds))
	}
	if o.runs < 1 || o.minRuns < 1 {
		return usage(errors.New("-runs and -min-runs must be at least 1"))
	}
	if o.bin == "" {
		self, err := os.Executable()
		if err != nil {
			return usage(err)
		}
		o.bin = filepath.Dir(self)
	}
	if o.bin, err = filepath.Abs(o.bin); err != nil {
		return usage(err)
	}
	bins := []string{}
	for _, rt := range append([]string{harness.Sgemm, harness.OpenBLAS}, o.runtimes...) {
		bins = append(bins, harness.Binary(rt))
	}
	if o.train != "none" && slices.Contains(o.trainRTs, harness.TrainOnyx) {
		bins = append(bins, onyxTrainBinary)
	}
	for _, b := range bins {
		if _, err := os.Stat(filepath.Join(o.bin, b)); err != nil {
			return usage(fmt.Errorf("no %s in %s: build the programs together (go build -o .bin/ ./cmd/...; make bench does)", b, o.bin))
		}
	}
	if err := os.Chdir(dir); err != nil {
		return usage(err)
	}
	if _, err := os.Stat("models/make_models.py"); err != nil {
		return usage(errors.New("run bench from the benchmarks folder (or give -C DIR)"))
	}
	specs, err := selectModels(modelSpecs(), o.models, o.quick)
	if err != nil {
		return usage(err)
	}
	if o.ortLib == "" {
		o.ortLib = harness.FindORTLib()
	}
	if o.ortLib != "" {
		if abs, err := filepath.Abs(o.ortLib); err == nil {
			o.ortLib = abs
		}
	}

	rep := &report{Opts: o, Machine: machineInfo(), Started: time.Now().UTC()}
	rep.Settings = settingsFrom(o)

	type todo struct {
		table string
		spec  modelSpec
		rt    string
		th    int
		n     int
		// rounds: the cell is measured in o.rounds turns (round is this
		// one's), which mergeRound joins.
		rounds, round int
	}
	var todos []todo
	// addRuntimes adds the cells of every runtime for one model and thread
	// count, the runtimes in turns, round by round.
	addRuntimes := func(table string, s modelSpec, th, n int) {
		for r := range o.rounds {
			for _, rt := range o.runtimes {
				todos = append(todos, todo{table, s, rt, th, n, o.rounds, r})
			}
		}
	}
	for _, th := range o.threads {
		for _, s := range specs {
			addRuntimes("models", s, th, 0)
		}
	}
	if len(o.sgemm) > 0 {
		todos = append(todos, todo{"sgemm", fmaPeakSpec(), harness.FMAPeak, 1, 0, 1, 0})
	}
	for _, n := range o.sgemm {
		for _, th := range o.threads {
			s := matmulSpec(n)
			if th == 1 {
				todos = append(todos, todo{"sgemm", s, harness.Sgemm, 1, n, 1, 0}, todo{"sgemm", s, harness.OpenBLAS, 1, n, 1, 0})
			}
			addRuntimes("sgemm", s, th, n)
		}
	}
	type cellKey struct {
		table, model, rt string
		th, n            int
	}
	first := map[cellKey]*cell{} // round 0's cell, which later rounds join
	for i, t := range todos {
		j := harness.Job{
			Runtime: t.rt, Model: t.spec.Model, Feeds: t.spec.Feeds, Threads: t.th,
			Warmup: o.warmup, Runs: o.runs, MinRuns: o.minRuns, Budget: o.budget, MinTime: o.minTime,
		}
		if t.rounds > 1 {
			j.Runs, j.MinRuns, j.Budget = ceilDiv(o.runs, t.rounds), ceilDiv(o.minRuns, t.rounds), o.budget/time.Duration(t.rounds)
			j.MinTime = o.minTime / time.Duration(t.rounds)
		}
		if t.rt == harness.ORT {
			j.ORTLib = o.ortLib
		}
		key := cellKey{t.table, t.spec.Name, t.rt, t.th, t.n}
		c := &cell{Table: t.table, Model: t.spec.Name, Runtime: t.rt, Threads: t.th, N: t.n, MFLOP: t.spec.MFLOP}
		if t.round > 0 {
			if c0 := first[key]; c0 == nil || !c0.ok() {
				continue // round 0 failed: the cell says why
			}
		}
		if miss := missingFiles(t.spec); len(miss) > 0 && t.rt != harness.FMAPeak {
			c.Reason = "missing " + strings.Join(miss, ", ") + " (run models/make_models.py)"
		} else {
			runChild(filepath.Join(o.bin, harness.Binary(t.rt)), j, o.timeout, c)
		}
		if t.round > 0 {
			c0 := first[key]
			mergeRound(c0, c, t.round)
			c = c0
		} else {
			first[key] = c
			rep.Cells = append(rep.Cells, c)
		}
		round := ""
		if t.rounds > 1 {
			round = fmt.Sprintf(" (round %d/%d)", t.round+1, t.rounds)
		}
		fmt.Fprintf(os.Stderr, "[%d/%d] %-7s %-40s t%d  %s%s\n", i+1, len(todos), t.rt, t.spec.Name, t.th, c.progress(), round)
	}
	if o.train != "none" {
		rep.Train = runTraining(o)
	}
	rep.Finished = time.Now().UTC()
	rep.Machine.LoadEnd = loadAvg()
	rep.check()

	md := rep.markdown()
	if err := os.WriteFile(o.out, []byte(md), 0o644); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		return 1
	}
	js, _ := json.MarshalIndent(rep, "", "  ")
	if err := os.WriteFile(o.jsonOut, append(js, '\n'), 0o644); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		return 1
	}
	if o.readme != "" {
		if err := spliceReadme(o.readme, md); err != nil {
			fmt.Fprintln(os.Stderr, "bench:", err)
			return 1
		}
	}
	fmt.Print(md)
	fmt.Fprintf(os.Stderr, "wrote %s and %s\n", o.out, o.jsonOut)
	return 0
}

// ceilDiv is a/b rounded up.
func ceilDiv(a, b int) int { return (a + b - 1) / b }

// mergeRound adds the runs of round (> 0) of a cell, next, to c, round
// 0's: the timed runs are pooled and the median, 90th percentile and
// minimum taken over them all, the peak RSS is the largest of the
// rounds', the load time stays round 0's, and the output counts as
// stable when every round's was. A round that fails makes the cell fail,
// saying which round.
func mergeRound(c, next *cell, round int) {
	if !next.ok() {
		c.Reason = fmt.Sprintf("round %d: %s", round+1, next.Reason)
		if next.Reason == "" && next.Result != nil {
			c.Reason = fmt.Sprintf("round %d: %s: %s", round+1, next.Result.Stage, next.Result.Error)
		}
		c.Stderr = next.Stderr
		return
	}
	r, n := c.Result, next.Result
	if len(r.RefMS) == len(r.LatMS) && len(n.RefMS) == len(n.LatMS) && r.RefMFLOP == n.RefMFLOP {
		r.RefMS = append(r.RefMS, n.RefMS...)
	} else {
		r.RefMS, r.RefMFLOP = nil, 0 // no longer paired run by run
	}
	minBefore := r.Min
	r.LatMS = append(r.LatMS, n.LatMS...)
	r.Runs += n.Runs
	r.Warmups += n.Warmups
	r.VmHWMKiB = max(r.VmHWMKiB, n.VmHWMKiB)
	if r.Stable != nil && n.Stable != nil && !*n.Stable {
		r.Stable = n.Stable
	}
	sorted := slices.Clone(r.LatMS)
	slices.Sort(sorted)
	// The latencies kept may be every k-th run's (Job.MinTime); each
	// round's fastest run is its own.
	r.Median, r.P90, r.Min = harness.Percentile(sorted, 50), harness.Percentile(sorted, 90), min(sorted[0], minBefore, n.Min)
	c.MaxRSSKiB = max(c.MaxRSSKiB, next.MaxRSSKiB)
	c.WallS += next.WallS
}

func usage(err error) int {
	fmt.Fprintln(os.Stderr, "bench:", err)
	return 2
}

func intList(s string) ([]int, error) {
	var out []int
	for _, f := range strings.Split(s, ",") {
		if f = strings.TrimSpace(f); f == "" || f == "none" {
			continue
		}
		v, err := strconv.Atoi(f)
		if err != nil || v < 1 {
			return nil, fmt.Errorf("bad number %q", f)
		}
		out = append(out, v)
	}
	return out, nil
}

// runChild measures one job in a child process and fills c.
func runChild(prog string, j harness.Job, timeout time.Duration, c *cell) {
	spec, _ := json.Marshal(j)
	c.Result = runChildProcess(&c.childRun, []string{prog, string(spec)}, childEnv(j.Runtime), timeout, func(r *harness.Result) (bool, string, string) {
		return r.OK, r.Stage, r.Error
	})
}

// childEnv is the environment of a child that measures runtime rt: this
// process's, and for OpenBLAS a core type where its own detection falls
// short. OpenBLAS 0.3.21 does not know the newer Xeons and takes its
// generic Prescott (SSE3) kernels there; on a CPU with AVX-512 it gets
// the Skylake-X kernels instead, unless OPENBLAS_CORETYPE is set already.
func childEnv(rt string) []string {
	env := os.Environ()
	if rt == harness.OpenBLAS && os.Getenv("OPENBLAS_CORETYPE") == "" && cpu.X86.HasAVX512F && cpu.X86.HasAVX512DQ {
		env = append(env, "OPENBLAS_CORETYPE=SkylakeX")
	}
	return env
}

// childRun is how a child process ended, as model and training cells
// record it.
type childRun struct {
	// Reason is why there is no number; empty when the runtime ran.
	Reason string `json:"reason,omitempty"`
	Stderr string `json:"stderr,omitempty"`
	// MaxRSSKiB is wait4's ru_maxrss for the child, kept as a cross-check
	// of the VmHWM that the child reads itself (the table's figure, which
	// cannot include anything of the parent's address space).
	MaxRSSKiB int64   `json:"ru_maxrss_kib,omitempty"`
	WallS     float64 `json:"wall_s"`
}

// runChildProcess runs argv, killing it after timeout, and records its wall
// time and peak RSS in cr. The child's result is the last line of its stdout
// that decodes into an R which status says is finished: ok, or failed with a
// message. It returns that result (nil if there is none) and sets cr.Reason
// (with the tail of stderr) unless the child ran to an ok result.
func runChildProcess[R any](cr *childRun, argv, env []string, timeout time.Duration, status func(*R) (ok bool, stage, msg string)) *R {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	var stdout bytes.Buffer
	stderr := &tailBuffer{max: 64 << 10}
	cmd.Stdout, cmd.Stderr = &stdout, stderr
	// Keep the peers' own logging and ORT's thread spinning as they come.
	cmd.Env = env
	start := time.Now()
	err := cmd.Run()
	cr.WallS = time.Since(start).Seconds()
	if ps := cmd.ProcessState; ps != nil {
		if ru, ok := ps.SysUsage().(*syscall.Rusage); ok {
			cr.MaxRSSKiB = ru.Maxrss
		}
	}
	var res *R
	ok, stage, msg := false, "", ""
	lines := strings.Split(strings.TrimSpace(stdout.String()), "\n")
	for i := len(lines) - 1; i >= 0 && res == nil; i-- {
		r := new(R)
		if json.Unmarshal([]byte(lines[i]), r) != nil {
			continue
		}
		if ok, stage, msg = status(r); ok || msg != "" {
			res = r
		}
	}
	switch {
	case ctx.Err() == context.DeadlineExceeded:
		cr.Reason = fmt.Sprintf("timed out after %v", timeout)
	case res != nil && ok:
	case res != nil:
		cr.Reason = stage + ": " + msg
	case err != nil && strings.Contains(err.Error(), "executable file not found"), err != nil && os.IsNotExist(err):
		cr.Reason = "cannot run " + argv[0] + ": " + err.Error()
	default:
		cr.Reason = crashReason(err, stderr.String())
	}
	if cr.Reason != "" {
		cr.Stderr = lastLines(stderr.String(), 30)
	}
	return res
}

// crashReason describes a child that printed no result: the panic or
// fatal error line of its stderr, else how it exited.
func crashReason(err error, stderr string) string {
	var why string
	for _, l := range strings.Split(stderr, "\n") {
		if strings.HasPrefix(l, "panic:") || strings.HasPrefix(l, "fatal error:") || strings.HasPrefix(l, "SIGSEGV") || strings.HasPrefix(l, "terminate called") {
			why = strings.TrimSpace(l)
			break
		}
	}
	state := "crashed"
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			state = "killed by " + ws.Signal().String()
		} else {
			state = fmt.Sprintf("exit status %d", ee.ExitCode())
		}
	} else if err != nil {
		state = err.Error()
	}
	if why == "" {
		return state + ": " + strings.TrimSpace(lastLines(stderr, 1))
	}
	return state + ": " + why
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// tailBuffer keeps the first and the last bytes written to it.
type tailBuffer struct {
	max  int
	head []byte
	buf  []byte
}

func (t *tailBuffer) Write(p []byte) (int, error) {
	if len(t.head) < t.max/4 {
		n := min(len(p), t.max/4-len(t.head))
		t.head = append(t.head, p[:n]...)
	}
	t.buf = append(t.buf, p...)
	if len(t.buf) > t.max {
		t.buf = append(t.buf[:0], t.buf[len(t.buf)-t.max/2:]...)
	}
	return len(p), nil
}

func (t *tailBuffer) String() string {
	if len(t.head)+len(t.buf) <= t.max && bytes.HasPrefix(t.buf, t.head) {
		return string(t.buf)
	}
	return string(t.head) + "\n...\n" + string(t.buf)
}
