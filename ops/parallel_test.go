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

// TestShareHookBracketsTheRunsSplits checks SetShareHook: the hook is
// told true before the pieces of a run's first split run and false once
// its last has ended, once for a split with nested ones, again for the
// next split, and not for work that never splits; every piece sees the
// split under way, and a panic ends it too.
func TestShareHookBracketsTheRunsSplits(t *testing.T) {
	w := NewWorkers(1)
	defer w.Close()
	var calls []bool       // written by the hook, on this goroutine
	var shared atomic.Bool // what the pieces see
	w.SetShareHook(func(on bool) {
		calls = append(calls, on)
		shared.Store(on)
	})
	var unshared atomic.Int64 // pieces that ran with the hook's flag off
	piece := func(lo, hi int) {
		if !shared.Load() {
			unshared.Add(1)
		}
	}
	parallelFor(w, 2, 4, 1, func(lo, hi int) {
		piece(lo, hi)
		parallelFor(w, 2, 8, 1, piece) // nested: no call of its own
	})
	assert.Equal(t, []bool{true, false}, calls)
	assert.False(t, shared.Load())
	parallelFor(w, 2, 1, 1, func(lo, hi int) {}) // one chunk: no split
	assert.Equal(t, []bool{true, false}, calls)
	parallelPieces(w, 2, 10, 3, piece)
	assert.Equal(t, []bool{true, false, true, false}, calls)
	assert.Panics(t, func() {
		parallelFor(w, 2, 4, 1, func(lo, hi int) { panic("piece") })
	})
	assert.Equal(t, []bool{true, false, true, false, true, false}, calls)
	assert.Zero(t, unshared.Load())
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

// countJob is a parallelPiecesOf job for the tests: it counts the
// indices it covers and, with nest set, splits each index again.
type countJob struct {
	w     *Workers
	seen  []atomic.Int32
	inner *atomic.Int64
	nest  int
}

func (j *countJob) run(lo, hi int) {
	for i := lo; i < hi; i++ {
		j.seen[i].Add(1)
		if j.nest > 0 {
			parallelPiecesOf(j.w, 2, j.nest, 1, countLeaf{j.inner}, (*countLeaf).add)
		}
	}
}

// countLeaf is the inner job of a nested countJob.
type countLeaf struct{ total *atomic.Int64 }

func (l *countLeaf) add(lo, hi int) { l.total.Add(int64(hi - lo)) }

// TestParallelPiecesOfRecyclesSplitsSafely runs many typed splits, nested
// ones among them, from several goroutines on one pool, so that workers
// often find in a slot a split that has just finished and gone back to
// its free list, or been reused: every index must still be covered
// exactly once (run it with -race, which also checks that a recycled
// split is never written while a worker reads it).
func TestParallelPiecesOfRecyclesSplitsSafely(t *testing.T) {
	w := NewWorkers(2)
	defer w.Close()
	done := make(chan bool)
	const goroutines = 4
	for g := range goroutines {
		go func() {
			ok := true
			for r := range 300 {
				n := 1 + (g*13+r)%60
				var inner atomic.Int64
				j := countJob{w: w, seen: make([]atomic.Int32, n), inner: &inner, nest: r % 3 * 5}
				parallelPiecesOf(w, 3, n, 1+r%4, j, (*countJob).run)
				for i := range j.seen {
					ok = ok && j.seen[i].Load() == 1
				}
				ok = ok && inner.Load() == int64(n*j.nest)
			}
			done <- ok
		}()
	}
	for range goroutines {
		assert.True(t, <-done)
	}
	// Every split has been let go of: each is on its free list.
	w.tmu.Lock()
	defer w.tmu.Unlock()
	for _, l := range w.tasks {
		switch l := l.(type) {
		case *taskList[countJob]:
			for _, tk := range l.free {
				assert.Equal(t, int32(0), tk.refs.Load())
				assert.Nil(t, tk.arg.seen, "a recycled task keeps its operands")
			}
		}
	}
}

func TestParallelPiecesOfReraisesAPanic(t *testing.T) {
	w := NewWorkers(1)
	defer w.Close()
	for range 20 {
		assert.PanicsWithValue(t, "boom", func() {
			parallelPiecesOf(w, 2, 10, 1, 0, func(_ *int, lo, hi int) {
				if lo > 0 {
					panic("boom")
				}
			})
		})
	}
	// The pool still works.
	seen := make([]atomic.Int32, 100)
	parallelPieces(w, 2, 100, 3, func(lo, hi int) {
		for i := lo; i < hi; i++ {
			seen[i].Add(1)
		}
	})
	for i := range seen {
		require.Equal(t, int32(1), seen[i].Load(), "index %d", i)
	}
}

// sumJob is a job whose operands live on its caller's stack.
type sumJob struct {
	x   []float32
	out []float32 // one partial sum per piece start
}

func (j *sumJob) run(lo, hi int) {
	var s float32
	for _, v := range j.x[lo:hi] {
		s += v
	}
	j.out[lo] = s
}

// TestWarmSplitsAllocateNothing checks the point of parallelPiecesOf and
// of recycled splits: once the pool is warm, a split of a typed job
// makes no heap allocation, nor does parallelForOf, nor a split product.
func TestWarmSplitsAllocateNothing(t *testing.T) {
	if raceEnabled {
		t.Skip("allocation counts are asserted without -race")
	}
	w := NewWorkers(1)
	defer w.Close()
	x := make([]float32, 4096)
	out := make([]float32, len(x))
	a := make([]float32, 256*256)
	c := make([]float32, 256*256)
	tests := []struct {
		name string
		run  func()
	}{
		{"parallelPiecesOf", func() {
			parallelPiecesOf(w, 2, len(x), 256, sumJob{x: x, out: out}, (*sumJob).run)
		}},
		{"parallelForOf", func() {
			parallelForOf(w, 2, len(x), 64, sumJob{x: x, out: out}, (*sumJob).run)
		}},
		{"sgemm split by rows and columns", func() {
			j := sgemmJob{m: 256, n: 256, k: 256, alpha: 1, a: a, lda: 256, b: a, ldb: 256, c: c, ldc: 256, workers: w}
			j.run(2)
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			for range 3 {
				tc.run()
			}
			assert.Zero(t, testing.AllocsPerRun(50, tc.run))
		})
	}
}
