package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"sync"

	"github.com/onyxrt/onyx/internal/conformance"
)

func cmdCheck(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("check", flag.ContinueOnError)
	fs.SetOutput(stderr)
	rtol := fs.Float64("rtol", conformance.DefaultRTol, "relative tolerance")
	atol := fs.Float64("atol", conformance.DefaultATol, "absolute tolerance")
	jobs := fs.Int("jobs", 2, "cases run at once")
	verbose := fs.Bool("v", false, "print passing and skipped cases too")
	threads := fs.Int("threads", 1, "compute threads per case")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: infer check [--rtol R] [--atol A] DIR...\n\nEach DIR is a test case (model.onnx + test_data_set_*) or a folder of them.\nexample: infer check /usr/share/libonnx-testdata/data/node")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if fs.NArg() == 0 {
		fs.Usage()
		return 2
	}
	cases, err := conformance.FindCases(fs.Args()...)
	if err != nil {
		fmt.Fprintln(stderr, "infer check:", err)
		return 1
	}
	opts := conformance.Options{RTol: *rtol, ATol: *atol, Registry: registry(), Threads: max(*threads, 1)}
	results := runCases(cases, opts, max(*jobs, 1))
	failed := false
	for _, r := range results {
		switch {
		case r.Status == conformance.Fail:
			failed = true
			fmt.Fprintf(stdout, "FAIL %s: %s\n", r.Dir, conformance.FirstLine(r.Reason))
		case *verbose:
			fmt.Fprintf(stdout, "%s %s %s\n", r.Status, r.Dir, r.Reason)
		}
	}
	fmt.Fprintln(stdout, conformance.Summary(results))
	if failed {
		return 1
	}
	return 0
}

// runCases runs cases on jobs goroutines and returns results in case order.
func runCases(cases []string, opts conformance.Options, jobs int) []conformance.Result {
	results := make([]conformance.Result, len(cases))
	next := make(chan int)
	var wg sync.WaitGroup
	for w := 0; w < jobs; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				results[i] = conformance.Run(cases[i], opts)
			}
		}()
	}
	for i := range cases {
		next <- i
	}
	close(next)
	wg.Wait()
	return results
}
