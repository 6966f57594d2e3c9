package conformance_test

import (
	"context"
	"os"
	goruntime "runtime"
	"runtime/pprof"
	"strconv"
	"strings"
	"testing"

	"github.com/onyxrt/onyx/tensor"
)

// TestAllocProfile is a diagnostic, skipped unless ALLOC_PROFILE names a
// file: it runs the benchmark and Keras models (those whose name contains
// ALLOC_PROFILE_MODELS, when set) at ALLOC_PROFILE_THREADS threads
// (default 2), ALLOC_PROFILE_WARM warm-up runs (default 3) and then 5
// RunInto calls, and writes a heap profile of those 5 runs alone to
// ALLOC_PROFILE, logging each model's allocations and GCs. Read it with
// go tool pprof -sample_index=alloc_objects -traces TEST_BINARY FILE.
func TestAllocProfile(t *testing.T) {
	out := os.Getenv("ALLOC_PROFILE")
	if out == "" {
		t.Skip("ALLOC_PROFILE not set")
	}
	rate := goruntime.MemProfileRate
	defer func() { goruntime.MemProfileRate = rate }()
	goruntime.MemProfileRate = 0 // record only the warm runs
	threads := 2
	if n, err := strconv.Atoi(os.Getenv("ALLOC_PROFILE_THREADS")); err == nil {
		threads = n
	}
	warm := 3
	if w, err := strconv.Atoi(os.Getenv("ALLOC_PROFILE_WARM")); err == nil {
		warm = w
	}
	for _, bm := range append(benchModels(), kerasModels(t)...) {
		if f := os.Getenv("ALLOC_PROFILE_MODELS"); f != "" && !strings.Contains(bm.name, f) {
			continue
		}
		s, feeds, ok := bm.load(t, threads)
		if !ok {
			continue
		}
		outs := map[string]*tensor.Tensor{}
		for range warm {
			if err := s.RunInto(context.Background(), feeds, outs); err != nil {
				t.Fatal(err)
			}
		}
		var before, after goruntime.MemStats
		goruntime.ReadMemStats(&before)
		goruntime.MemProfileRate = 1
		for range 5 {
			if err := s.RunInto(context.Background(), feeds, outs); err != nil {
				t.Fatal(err)
			}
		}
		goruntime.MemProfileRate = 0
		goruntime.ReadMemStats(&after)
		t.Logf("%s: %d GCs, %d allocations in 5 runs", bm.name, after.NumGC-before.NumGC, after.Mallocs-before.Mallocs)
	}
	goruntime.GC()
	f, err := os.Create(out)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := pprof.Lookup("allocs").WriteTo(f, 0); err != nil {
		t.Fatal(err)
	}
}
