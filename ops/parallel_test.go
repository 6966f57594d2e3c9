package ops

import (
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestSplitsCoverTheRangeOnce checks that parallelFor (chunks of at
// least grain items) and parallelPieces (pieces of per items) call fn on
// every index exactly once, and that pieces are no longer than per.
func TestSplitsCoverTheRangeOnce(t *testing.T) {
	tests := []struct {
		name                string
		pieces              bool // parallelPieces with per = g, else parallelFor with grain g
		pool, threads, n, g int
	}{
		{"for: no pool", false, 0, 3, 1000, 1},
		{"for: pool", false, 1, 2, 1000, 1},
		{"for: pool smaller than threads", false, 1, 4, 1001, 7},
		{"for: grain leaves one chunk", false, 2, 3, 10, 20},
		{"for: empty", false, 1, 2, 0, 1},
		{"pieces: no pool, more pieces than threads", true, 0, 2, 1000, 7},
		{"pieces: pool, more pieces than threads", true, 1, 2, 1000, 9},
		{"pieces: one item a piece", true, 1, 2, 37, 1},
		{"pieces: pool smaller than threads", true, 1, 4, 1001, 13},
		{"pieces: one piece", true, 1, 2, 10, 20},
		{"pieces: one thread", true, 1, 1, 100, 3},
		{"pieces: per zero means one", true, 1, 2, 50, 0},
		{"pieces: empty", true, 1, 2, 0, 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var w *Workers
			if tc.pool > 0 {
				w = NewWorkers(tc.pool)
				defer w.Close()
			}
			for range 50 {
				seen := make([]atomic.Int32, tc.n)
				fn := func(lo, hi int) {
					if tc.pieces && tc.threads > 1 && hi-lo > max(tc.g, 1) {
						t.Errorf("piece [%d, %d) is longer than %d", lo, hi, tc.g)
					}
					for i := lo; i < hi; i++ {
						seen[i].Add(1)
					}
				}
				if tc.pieces {
					parallelPieces(w, tc.threads, tc.n, tc.g, fn)
				} else {
					parallelFor(w, tc.threads, tc.n, tc.g, fn)
				}
				for i := range seen {
					require.Equal(t, int32(1), seen[i].Load(), "index %d", i)
				}
			}
		})
	}
}

func TestParallelForNestedOnOneWorker(t *testing.T) {
	w := NewWorkers(1)
	defer w.Close()
	var total atomic.Int64
	parallelFor(w, 2, 4, 1, func(lo, hi int) {
		for range hi - lo {
			// The inner split can only run if waiting callers help:
			// the pool's one worker may be busy with the outer chunk.
			parallelFor(w, 2, 100, 1, func(lo, hi int) { total.Add(int64(hi - lo)) })
		}
	})
	assert.Equal(t, int64(400), total.Load())
}

func TestParallelForReraisesAPanic(t *testing.T) {
	w := NewWorkers(1)
	defer w.Close()
	assert.PanicsWithValue(t, "boom", func() {
		parallelFor(w, 2, 10, 1, func(lo, hi int) {
			if lo > 0 {
				panic("boom")
			}
		})
	})
}

func TestWorkersEndAtClose(t *testing.T) {
	w := NewWorkers(2)
	parallelFor(w, 3, 3000, 1, func(lo, hi int) {})
	w.Close()
	deadline := time.Now().Add(5 * time.Second)
	for w.live.Load() > 0 && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	assert.Equal(t, int32(0), w.live.Load())
	var none *Workers
	none.Close() // a nil pool (one thread) closes too
}

func TestParallelForConcurrentCallersShareAPool(t *testing.T) {
	w := NewWorkers(2)
	defer w.Close()
	done := make(chan bool)
	for g := range 4 {
		go func() {
			ok := true
			for r := range 200 {
				n := 10 + (g*7+r)%90
				seen := make([]atomic.Int32, n)
				parallelFor(w, 3, n, 1+r%3, func(lo, hi int) {
					for i := lo; i < hi; i++ {
						seen[i].Add(1)
					}
				})
				for i := range seen {
					ok = ok && seen[i].Load() == 1
				}
			}
			done <- ok
		}()
	}
	for range 4 {
		assert.True(t, <-done)
	}
}

func TestParallelForDeepNestingRunsInline(t *testing.T) {
	// More nested splits than the pool publishes at once: the extra ones
	// run on their callers.
	w := NewWorkers(1)
	defer w.Close()
	var leaves atomic.Int64
	var nest func(depth int)
	nest = func(depth int) {
		if depth == 0 {
			leaves.Add(1)
			return
		}
		parallelFor(w, 2, 2, 1, func(lo, hi int) {
			for range hi - lo {
				nest(depth - 1)
			}
		})
	}
	nest(maxSplits + 1)
	assert.Equal(t, int64(1)<<(maxSplits+1), leaves.Load())
}

func TestParallelForWorkSmallWorkStaysOnTheCaller(t *testing.T) {
	w := NewWorkers(1)
	defer w.Close()
	var calls atomic.Int32
	parallelForWork(w, 2, 1000, minSplitWork-1, func(lo, hi int) {
		calls.Add(1)
		assert.Equal(t, 0, lo)
		assert.Equal(t, 1000, hi)
	})
	assert.Equal(t, int32(1), calls.Load())
	assert.Equal(t, int32(0), w.live.Load(), "no worker starts for work that small")
	seen := make([]atomic.Int32, 1000)
	parallelForWork(w, 2, 1000, 4*minSplitWork, func(lo, hi int) {
		for i := lo; i < hi; i++ {
			seen[i].Add(1)
		}
	})
	for i := range seen {
		require.Equal(t, int32(1), seen[i].Load(), "index %d", i)
	}
}

func TestSubmitTicketsRunOnce(t *testing.T) {
	w := NewWorkers(2)
	defer w.Close()
	for range 100 {
		var runs atomic.Int32
		runTasks(w, 3, 50, func(int) { runs.Add(1) })
		assert.Equal(t, int32(50), runs.Load())
	}
}
