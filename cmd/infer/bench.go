package main

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"os"
	"os/signal"
	goruntime "runtime"
	"runtime/pprof"
	"slices"
	"text/tabwriter"
	"time"

	"github.com/onyxrt/onyx/runtime"
)

const benchSynopsis = `usage: infer bench [--runs N] [--warmup N] [--threads T] [--dim NAME=V] [--json] [--cpuprofile FILE] [--nodes N] MODEL [INPUT...]

Measures MODEL's latency: compiles it, runs it --warmup times, then times
--runs runs one after the other. Inputs not given as files (PATH or
NAME=PATH, as for infer run) are random, with symbolic dimensions set by
--dim (default 1). With --nodes N, it also times every node and lists the
N slowest, and the time per operator type.

examples:
  infer bench models/mnist-cnn/model.onnx
  infer bench --threads 1 --runs 200 --dim batch=8 --json model.onnx
  infer bench --nodes 10 models/mnist-cnn/model.onnx`

type benchJSON struct {
	Model          string  `json:"model"`
	Threads        int     `json:"threads"`
	Runs           int     `json:"runs"`
	Warmup         int     `json:"warmup"`
	P50MS          float64 `json:"p50_ms"`
	P90MS          float64 `json:"p90_ms"`
	P99MS          float64 `json:"p99_ms"`
	MinMS          float64 `json:"min_ms"`
	MaxMS          float64 `json:"max_ms"`
	MeanMS         float64 `json:"mean_ms"`
	StddevMS       float64 `json:"stddev_ms"`
	ThroughputPerS float64 `json:"throughput_per_s"`
	CompileMS      float64 `json:"compile_ms"`
	// Nodes, with --nodes, lists every node's time per run, slowest first.
	Nodes []nodeJSON `json:"nodes,omitempty"`
}

// nodeJSON is one node's share of a run (bench --nodes).
type nodeJSON struct {
	Node   string  `json:"node"`
	OpType string  `json:"op_type"`
	MS     float64 `json:"ms_per_run"`
	Share  float64 `json:"share"`
}

func cmdBench(args []string, stdout, stderr io.Writer) (code int) {
	defer recoverTo(stderr, "bench", &code)
	fs := newFlagSet("bench", benchSynopsis, stderr)
	runs := fs.Int("runs", 100, "timed runs")
	warmup := fs.Int("warmup", 5, "untimed runs first")
	threads := fs.Int("threads", 0, "compute threads per run (0: all cores, 1: a single thread)")
	seed := fs.Uint64("seed", 1, "seed of the random inputs")
	dims := dimFlag{}
	fs.Var(dims, "dim", "`NAME=V` value of a symbolic dimension (repeatable; default 1)")
	asJSON := fs.Bool("json", false, "print one JSON object")
	cpuProfile := fs.String("cpuprofile", "", "write a CPU profile of the timed runs to `FILE` (go tool pprof)")
	nodes := fs.Int("nodes", 0, "time each node and list the `N` slowest (0: no node times; they add two clock reads per node)")
	pos, err := parseFlags(fs, args)
	if err != nil {
		return parseOutcome(err)
	}
	usageFail := func(msg string) int {
		fmt.Fprintln(stderr, "infer bench:", msg)
		fmt.Fprintln(stderr, "Run 'infer bench -h' for usage.")
		return 2
	}
	switch {
	case len(pos) == 0:
		return usageFail("no MODEL given")
	case *runs < 1:
		return usageFail("--runs must be at least 1")
	case *warmup < 0 || *threads < 0 || *nodes < 0:
		return usageFail("--warmup, --threads and --nodes must not be negative")
	}
	fail := func(err error) int {
		fmt.Fprintln(stderr, "infer bench:", err)
		return exitCode(err)
	}
	m, err := loadModel(pos[0])
	if err != nil {
		return fail(err)
	}
	t0 := time.Now()
	sess, err := compileModelWith(m, runtime.Options{Threads: *threads, ProfileNodes: *nodes > 0})
	if err != nil {
		return fail(err)
	}
	compileTime := time.Since(t0)
	note := func(format string, args ...any) { fmt.Fprintf(stderr, "note: "+format+"\n", args...) }
	feeds, err := buildFeeds(sess.Inputs(), pos[1:], feedOptions{random: true, seed: *seed, dims: dims, image: imageOptions{scale: 1.0 / 255}, note: note})
	if err != nil {
		return fail(err)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	for i := 0; i < *warmup; i++ {
		if _, err := sess.Run(ctx, feeds); err != nil {
			return fail(fmt.Errorf("warm-up run: %w", err))
		}
	}
	sess.ResetNodeTimes()
	if *cpuProfile != "" {
		f, err := os.Create(*cpuProfile)
		if err != nil {
			return fail(err)
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return fail(err)
		}
		defer pprof.StopCPUProfile()
	}
	lat := make([]float64, 0, *runs)
	var total time.Duration
	for i := 0; i < *runs; i++ {
		start := time.Now()
		_, err := sess.Run(ctx, feeds)
		d := time.Since(start)
		if err != nil {
			return fail(fmt.Errorf("run %d: %w", i+1, err))
		}
		total += d
		lat = append(lat, float64(d.Nanoseconds())/1e6)
	}
	effThreads := *threads
	if effThreads == 0 {
		effThreads = goruntime.NumCPU()
	}
	r := summarize(lat)
	r.Model, r.Threads, r.Warmup = pos[0], effThreads, *warmup
	r.ThroughputPerS = float64(len(lat)) / total.Seconds()
	r.CompileMS = float64(compileTime.Microseconds()) / 1000
	if *nodes > 0 {
		r.Nodes = nodeShares(sess.NodeTimes())
	}

	if *asJSON {
		for _, v := range []*float64{&r.P50MS, &r.P90MS, &r.P99MS, &r.MinMS, &r.MaxMS, &r.MeanMS, &r.StddevMS, &r.ThroughputPerS} {
			*v = math.Round(*v*1e4) / 1e4
		}
		for i := range r.Nodes {
			r.Nodes[i].MS = math.Round(r.Nodes[i].MS*1e4) / 1e4
			r.Nodes[i].Share = math.Round(r.Nodes[i].Share*1e4) / 1e4
		}
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(r); err != nil {
			return fail(err)
		}
		return 0
	}
	tw := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "model:\t%s\n", r.Model)
	fmt.Fprintf(tw, "threads:\t%d\n", r.Threads)
	fmt.Fprintf(tw, "runs:\t%d (after %d warm-up)\n", r.Runs, r.Warmup)
	fmt.Fprintf(tw, "latency (ms):\tmedian %.3f  p90 %.3f  p99 %.3f  min %.3f  mean %.3f ± %.3f\n", r.P50MS, r.P90MS, r.P99MS, r.MinMS, r.MeanMS, r.StddevMS)
	fmt.Fprintf(tw, "throughput:\t%.1f runs/s\n", r.ThroughputPerS)
	tw.Flush()
	if *nodes > 0 {
		printNodeShares(stdout, r.Nodes, *nodes)
	}
	fmt.Fprintf(stderr, "compiled in %.1f ms\n", r.CompileMS)
	return 0
}

// nodeShares turns a session's node times into time per run and share of
// the nodes' total, slowest first.
func nodeShares(times []runtime.NodeTime) []nodeJSON {
	var total time.Duration
	for _, t := range times {
		total += t.Total
	}
	out := make([]nodeJSON, 0, len(times))
	for _, t := range times {
		n := nodeJSON{Node: t.Node, OpType: t.OpType}
		if t.Calls > 0 {
			n.MS = t.Total.Seconds() * 1e3 / float64(t.Calls)
		}
		if total > 0 {
			n.Share = float64(t.Total) / float64(total)
		}
		out = append(out, n)
	}
	slices.SortStableFunc(out, func(a, b nodeJSON) int { return cmp.Compare(b.Share, a.Share) })
	return out
}

// printNodeShares prints the top slowest nodes, then the time per
// operator type.
func printNodeShares(w io.Writer, nodes []nodeJSON, top int) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "\nslowest nodes\tms/run\tshare\n")
	for _, n := range nodes[:min(top, len(nodes))] {
		fmt.Fprintf(tw, "%s (%s)\t%.4f\t%.1f%%\n", n.Node, n.OpType, n.MS, 100*n.Share)
	}
	type opTime struct {
		op        string
		count     int
		ms, share float64
	}
	byOp := map[string]*opTime{}
	var ops []*opTime
	for _, n := range nodes {
		o := byOp[n.OpType]
		if o == nil {
			o = &opTime{op: n.OpType}
			byOp[n.OpType] = o
			ops = append(ops, o)
		}
		o.count++
		o.ms += n.MS
		o.share += n.Share
	}
	slices.SortStableFunc(ops, func(a, b *opTime) int { return cmp.Compare(b.share, a.share) })
	fmt.Fprintf(tw, "\noperator type (nodes)\tms/run\tshare\n")
	for _, o := range ops {
		fmt.Fprintf(tw, "%s (%d)\t%.4f\t%.1f%%\n", o.op, o.count, o.ms, 100*o.share)
	}
	tw.Flush()
}

// summarize computes latency statistics (ms) of the runs.
func summarize(lat []float64) benchJSON {
	s := slices.Clone(lat)
	slices.Sort(s)
	var sum float64
	for _, v := range s {
		sum += v
	}
	mean := sum / float64(len(s))
	var ss float64
	for _, v := range s {
		ss += (v - mean) * (v - mean)
	}
	return benchJSON{
		Runs:     len(s),
		P50MS:    percentile(s, 50),
		P90MS:    percentile(s, 90),
		P99MS:    percentile(s, 99),
		MinMS:    s[0],
		MaxMS:    s[len(s)-1],
		MeanMS:   mean,
		StddevMS: math.Sqrt(ss / float64(len(s))),
	}
}

// percentile returns the p-th percentile of sorted values, interpolating
// linearly between closest ranks (numpy's default).
func percentile(sorted []float64, p float64) float64 {
	if len(sorted) == 1 {
		return sorted[0]
	}
	pos := p / 100 * float64(len(sorted)-1)
	lo := int(math.Floor(pos))
	hi := min(lo+1, len(sorted)-1)
	frac := pos - float64(lo)
	return sorted[lo] + frac*(sorted[hi]-sorted[lo])
}
