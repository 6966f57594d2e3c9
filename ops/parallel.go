package ops

import (
	"runtime"
	"sync"
	"sync/atomic"
	"time"
)

// threads returns how many goroutines a kernel may use (at least 1).
func (rc *RunContext) threads() int {
	if rc == nil || rc.Threads < 1 {
		return 1
	}
	return rc.Threads
}

// workers returns the run's worker pool, or nil.
func (rc *RunContext) workers() *Workers {
	if rc == nil {
		return nil
	}
	return rc.Workers
}

// Workers is the worker pool of one run: goroutines that take the chunks
// parallelFor hands out. A worker that has just finished a chunk keeps
// polling for the next one for a short while (WorkerSpin) before it
// blocks, because the kernels of a run come in quick succession and
// waking a parked thread costs tens of microseconds, as much as a small
// convolution. Workers start on first use and end at Close; a pool whose
// run is over never spins, and an idle worker blocks rather than spins.
type Workers struct {
	jobs    chan *chunk
	mu      sync.Mutex
	started int
	max     int
	closed  bool
	live    atomic.Int32 // workers running (for tests)
}

// WorkerSpin is how long a worker polls for more work before it blocks.
const WorkerSpin = 200 * time.Microsecond

// chunk is one range of a parallelFor.
type chunk struct {
	fn       func(lo, hi int)
	lo, hi   int
	done     atomic.Bool
	panicked any
}

// NewWorkers returns a pool of at most n worker goroutines (n < 1 means
// none: parallelFor then starts goroutines of its own).
func NewWorkers(n int) *Workers {
	return &Workers{jobs: make(chan *chunk, 4*max(n, 1)), max: n}
}

// Close ends the workers once they finish what they hold. The pool must
// not be used afterwards.
func (w *Workers) Close() {
	if w == nil {
		return
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if !w.closed {
		w.closed = true
		close(w.jobs)
	}
}

// submit hands c to a worker, starting one when fewer than needed run.
func (w *Workers) submit(c *chunk, needed int) {
	w.mu.Lock()
	if w.started < min(needed, w.max) {
		w.started++
		go w.work()
	}
	w.mu.Unlock()
	w.jobs <- c
}

func (w *Workers) work() {
	w.live.Add(1)
	defer w.live.Add(-1)
	for {
		var c *chunk
		deadline := time.Now().Add(WorkerSpin)
		for c == nil {
			select {
			case j, ok := <-w.jobs:
				if !ok {
					return
				}
				c = j
			default:
				if time.Now().After(deadline) {
					j, ok := <-w.jobs
					if !ok {
						return
					}
					c = j
				} else {
					runtime.Gosched()
				}
			}
		}
		c.run()
	}
}

func (c *chunk) run() {
	defer func() {
		c.panicked = recover()
		c.done.Store(true)
	}()
	c.fn(c.lo, c.hi)
}

// parallelFor is the one way kernels split work: it calls fn over [0, n)
// in at most threads contiguous chunks of at least grain items, running
// the first chunk on the calling goroutine and the others on the run's
// workers (w; with a nil w, on fresh goroutines). It calls fn(0, n)
// directly when one chunk is all the work is worth. A panic in a chunk is
// re-raised on the caller's goroutine, so that the session boundary
// recovers it.
func parallelFor(w *Workers, threads, n, grain int, fn func(lo, hi int)) {
	chunks := min(threads, n/max(grain, 1))
	if chunks <= 1 {
		if n > 0 {
			fn(0, n)
		}
		return
	}
	per := (n + chunks - 1) / chunks
	if w == nil || w.max < 1 {
		spawnFor(n, per, fn)
		return
	}
	cs := make([]chunk, 0, chunks-1)
	for lo := per; lo < n; lo += per {
		cs = append(cs, chunk{fn: fn, lo: lo, hi: min(lo+per, n)})
	}
	for i := range cs {
		w.submit(&cs[i], chunks-1)
	}
	fn(0, per)
	for i := range cs {
		for !cs[i].done.Load() {
			// Run queued chunks meanwhile (ours, or those of a nested
			// parallelFor whose caller holds the only worker).
			select {
			case c, ok := <-w.jobs:
				if ok {
					c.run()
				}
			default:
				runtime.Gosched()
			}
		}
	}
	for i := range cs {
		if cs[i].panicked != nil {
			panic(cs[i].panicked)
		}
	}
}

// spawnFor runs the chunks after the first on fresh goroutines.
func spawnFor(n, per int, fn func(lo, hi int)) {
	var (
		wg       sync.WaitGroup
		mu       sync.Mutex
		panicked any
	)
	for lo := per; lo < n; lo += per {
		wg.Add(1)
		go func(lo, hi int) {
			defer wg.Done()
			defer func() {
				if p := recover(); p != nil {
					mu.Lock()
					panicked = p
					mu.Unlock()
				}
			}()
			fn(lo, hi)
		}(lo, min(lo+per, n))
	}
	fn(0, per)
	wg.Wait()
	if panicked != nil {
		panic(panicked)
	}
}
