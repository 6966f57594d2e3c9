// Command bench-pair compares Onyx with ONNX Runtime on one model, run by
// run: both load the model in this one process, then they take turns,
// each pair of runs in alternating order, and it reports both runtimes'
// fastest and median run and the Onyx/ORT ratios: of the fastest runs, of
// the tenth percentiles, of the medians, and the median of the pairs'
// ratios. On a machine whose speed changes from one second to the next,
// a pair's two runs meet about the same machine, so the median of the
// pairs' ratios moves much less from one invocation to the next than
// the ratio of medians taken apart (as cmd/bench's table does): it is the
// measure for telling whether a change to Onyx made it faster.
//
//	bench-pair [--threads T] [--runs N] [--ort-lib PATH] MODEL INPUT.pb...
//
// Unlike cmd/bench's children, it links both runtimes. At two threads and
// more, ONNX Runtime's idle threads are told not to spin (they would take
// the CPU from Onyx's runs), which costs it a little: ratios there lean
// in ORT's disfavour.
package main

import (
	"flag"
	"fmt"
	"os"
	"slices"
	"time"

	"github.com/onyxrt/onyx/benchmarks/internal/harness"
	"github.com/onyxrt/onyx/benchmarks/internal/onyxrun"
	"github.com/onyxrt/onyx/benchmarks/internal/ortrun"
)

func main() {
	threads := flag.Int("threads", 1, "threads of each runtime (and GOMAXPROCS)")
	runs := flag.Int("runs", 100, "timed pairs of runs")
	warmup := flag.Int("warmup", 10, "untimed pairs of runs first")
	lib := flag.String("ort-lib", "", "path of libonnxruntime.so.1 (default: $ONNXRUNTIME_SHARED_LIBRARY_PATH, then the one in .ort)")
	flag.Usage = func() {
		fmt.Fprintln(os.Stderr, "usage: bench-pair [--threads T] [--runs N] [--warmup N] [--ort-lib PATH] MODEL INPUT.pb...")
		flag.PrintDefaults()
	}
	flag.Parse()
	if flag.NArg() < 1 || *threads < 1 || *runs < 1 || *warmup < 0 {
		flag.Usage()
		os.Exit(2)
	}
	if *lib == "" {
		*lib = harness.FindORTLib()
	}
	if err := run(flag.Arg(0), flag.Args()[1:], *threads, *runs, *warmup, *lib); err != nil {
		fmt.Fprintln(os.Stderr, "bench-pair:", err)
		os.Exit(1)
	}
}

func run(model string, inputs []string, threads, runs, warmup int, lib string) error {
	feeds, err := harness.LoadFeeds(inputs)
	if err != nil {
		return err
	}
	j := harness.Job{Model: model, Threads: threads, ORTLib: lib, ORTNoSpin: threads > 1}
	onyx, _, err := onyxrun.Open(j, feeds)
	if err != nil {
		return fmt.Errorf("onyx: %w", err)
	}
	defer onyx.Close()
	ort, version, err := ortrun.Open(j, feeds)
	if err != nil {
		return fmt.Errorf("onnx runtime: %w", err)
	}
	defer ort.Close()
	timed := func(r harness.Runner) (float64, error) {
		start := time.Now()
		err := r.Run()
		return float64(time.Since(start).Nanoseconds()) / 1e6, err
	}
	var on, or, ratio []float64
	for i := range warmup + runs {
		// Alternate which runtime goes first.
		first, second := onyx, ort
		if i%2 == 1 {
			first, second = ort, onyx
		}
		a, err := timed(first)
		if err != nil {
			return err
		}
		b, err := timed(second)
		if err != nil {
			return err
		}
		if i%2 == 1 {
			a, b = b, a
		}
		if i >= warmup {
			on, or, ratio = append(on, a), append(or, b), append(ratio, a/b)
		}
	}
	if err := sameOutputs(onyx, ort); err != nil {
		return err
	}
	slices.Sort(on)
	slices.Sort(or)
	slices.Sort(ratio)
	p := harness.Percentile
	fmt.Printf("%s, %d thread(s), %d pairs (ONNX Runtime %s)\n", model, threads, runs, version)
	fmt.Printf("  Onyx  ms: fastest %.3f  p10 %.3f  median %.3f\n", on[0], p(on, 10), p(on, 50))
	fmt.Printf("  ORT   ms: fastest %.3f  p10 %.3f  median %.3f\n", or[0], p(or, 10), p(or, 50))
	fmt.Printf("  Onyx/ORT: fastest %.3f  p10 %.3f  medians %.3f  median of pairs %.3f\n",
		on[0]/or[0], p(on, 10)/p(or, 10), p(on, 50)/p(or, 50), p(ratio, 50))
	return nil
}

// sameOutputs checks the runtimes' first outputs against each other, as
// cmd/bench does.
func sameOutputs(onyx, ort harness.Runner) error {
	a, err := onyx.Output()
	if err != nil {
		return fmt.Errorf("onyx output: %w", err)
	}
	b, err := ort.Output()
	if err != nil {
		return fmt.Errorf("onnx runtime output: %w", err)
	}
	if d := harness.RelDiff(a, b); d > 1e-3 {
		return fmt.Errorf("outputs differ: relative difference %.3g", d)
	}
	return nil
}
