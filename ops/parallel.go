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

// Workers is the worker pool of one run: goroutines that help with the
// splits of parallelFor. A split is published, not handed over: its
// pieces are claimed one at a time (an atomic counter) by the goroutine
// that split the work and by whichever workers are awake, so a worker
// that is slow to wake (a parked thread takes tens of microseconds to
// run again, more on a busy machine) never holds up the caller, which
// simply runs the unclaimed pieces itself. A worker that has just
// finished a piece keeps polling for the next split for a short while
// (WorkerSpin) before it parks, because the kernels of a run come in
// quick succession. Workers start on first use and end at Close; an idle
// worker parks rather than spins.
type Workers struct {
	slots  [maxSplits]atomic.Pointer[split] // published splits with pieces left
	wake   chan struct{}                    // tokens for parked workers
	quit   chan struct{}                    // closed by Close
	parked atomic.Int32                     // workers blocked on wake
	closed atomic.Bool

	mu      sync.Mutex
	started int
	max     int
	live    atomic.Int32 // workers running (for tests)
}

// maxSplits bounds the splits published at once (nested parallelFor
// calls each publish one); a split that finds no free slot runs on its
// caller alone.
const maxSplits = 16

// WorkerSpin is how long a worker polls for more work before it parks.
const WorkerSpin = 200 * time.Microsecond

// split is one parallelFor call: fn over [0, n) in pieces of per items.
type split struct {
	fn     func(lo, hi int)
	n, per int
	pieces int32
	slot   int          // index in Workers.slots while published
	next   atomic.Int32 // next piece to claim
	done   atomic.Int32 // pieces finished

	mu       sync.Mutex
	panicked any
}

// NewWorkers returns a pool of at most n worker goroutines (n < 1 means
// none: parallelFor then starts goroutines of its own).
func NewWorkers(n int) *Workers {
	return &Workers{wake: make(chan struct{}, max(n, 1)), quit: make(chan struct{}), max: n}
}

// Close ends the workers once they finish the piece they hold. The pool
// must not be used afterwards.
func (w *Workers) Close() {
	if w == nil {
		return
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closed.CompareAndSwap(false, true) {
		close(w.quit)
	}
}

// start makes sure that min(helpers, w.max) workers run.
func (w *Workers) start(helpers int) {
	if int(w.live.Load()) >= min(helpers, w.max) {
		return
	}
	w.mu.Lock()
	for w.started < min(helpers, w.max) && !w.closed.Load() {
		w.started++
		w.live.Add(1)
		go w.work()
	}
	w.mu.Unlock()
}

// publish makes s claimable by the workers and wakes up to helpers of
// them. It reports false when every slot is taken.
func (w *Workers) publish(s *split, helpers int) bool {
	w.start(helpers)
	for i := range w.slots {
		s.slot = i
		if w.slots[i].CompareAndSwap(nil, s) {
			for n := min(helpers, int(w.parked.Load())); n > 0; n-- {
				select {
				case w.wake <- struct{}{}:
				default:
				}
			}
			return true
		}
	}
	return false
}

// claim takes the next piece of s, unpublishing s with its last piece.
func (w *Workers) claim(s *split) (lo, hi int, ok bool) {
	k := s.next.Add(1) - 1
	if k >= s.pieces {
		return 0, 0, false
	}
	if k == s.pieces-1 && w != nil {
		w.slots[s.slot].CompareAndSwap(s, nil)
	}
	lo = int(k) * s.per
	return lo, min(lo+s.per, s.n), true
}

// runPiece calls s.fn(lo, hi), keeping a panic for the caller.
func (s *split) runPiece(lo, hi int) {
	defer func() {
		if p := recover(); p != nil {
			s.mu.Lock()
			if s.panicked == nil {
				s.panicked = p
			}
			s.mu.Unlock()
		}
		s.done.Add(1)
	}()
	s.fn(lo, hi)
}

// help runs one unclaimed piece of any published split and reports
// whether it found one.
func (w *Workers) help() bool {
	for i := range w.slots {
		s := w.slots[i].Load()
		if s == nil {
			continue
		}
		if lo, hi, ok := w.claim(s); ok {
			s.runPiece(lo, hi)
			return true
		}
	}
	return false
}

// pending reports whether a published split has pieces left.
func (w *Workers) pending() bool {
	for i := range w.slots {
		if s := w.slots[i].Load(); s != nil && s.next.Load() < s.pieces {
			return true
		}
	}
	return false
}

func (w *Workers) work() {
	defer w.live.Add(-1)
	idle := time.Now()
	for polls := 0; ; polls++ {
		if w.help() {
			polls, idle = 0, time.Time{}
			continue
		}
		if w.closed.Load() {
			return
		}
		if idle.IsZero() {
			idle = time.Now()
		}
		// Poll (yielding the processor each time) until WorkerSpin has
		// passed without work, reading the clock now and then.
		if polls&31 != 31 || time.Since(idle) < WorkerSpin {
			runtime.Gosched()
			continue
		}
		w.parked.Add(1)
		if w.pending() { // published after the last poll
			w.parked.Add(-1)
			continue
		}
		select {
		case <-w.wake:
		case <-w.quit:
		}
		w.parked.Add(-1)
		polls, idle = 0, time.Time{}
	}
}

// minSplitWork is the least work (multiply-adds, or simple operations on
// elements) that one extra thread must get for a split to pay: handing a
// piece to a hot worker costs about a microsecond, to a parked one tens.
const minSplitWork = 1 << 18

// parallelForWork is parallelFor for a job whose total cost is about
// work (multiply-adds, or simple operations on elements): it uses only as
// many threads as get minSplitWork each, so that small work never pays
// for a split.
func parallelForWork(w *Workers, threads, n int, work int64, fn func(lo, hi int)) {
	t := int(min(int64(threads), work/minSplitWork))
	parallelFor(w, max(t, 1), n, 1, fn)
}

// parallelFor is the one way kernels split work: it calls fn over [0, n)
// in at most threads contiguous chunks of at least grain items, claimed
// in turn by the calling goroutine and by the run's workers (w; with a
// nil w, chunks after the first run on fresh goroutines). It calls fn(0,
// n) directly when one chunk is all the work is worth. It returns when
// every chunk is done; a panic in a chunk is re-raised on the caller's
// goroutine, so that the session boundary recovers it.
func parallelFor(w *Workers, threads, n, grain int, fn func(lo, hi int)) {
	chunks := min(threads, n/max(grain, 1))
	if chunks <= 1 {
		if n > 0 {
			fn(0, n)
		}
		return
	}
	parallelPieces(w, chunks, n, (n+chunks-1)/chunks, fn)
}

// parallelPieces is parallelFor with pieces of per items (the last one
// shorter), possibly more of them than threads: the calling goroutine
// and up to threads-1 workers claim them one at a time, so that a thread
// that starts late, or that the OS preempts, leaves the pieces it has
// not claimed to the others. Kernels use it where a piece costs little
// more to set up than the same items in a larger chunk.
func parallelPieces(w *Workers, threads, n, per int, fn func(lo, hi int)) {
	per = max(per, 1)
	pieces := (n + per - 1) / per
	if threads <= 1 || pieces <= 1 {
		if n > 0 {
			fn(0, n)
		}
		return
	}
	helpers := min(threads, pieces) - 1
	if w == nil || w.max < 1 {
		spawnFor(helpers, n, per, fn)
		return
	}
	s := &split{fn: fn, n: n, per: per, pieces: int32(pieces)}
	if !w.publish(s, helpers) {
		w = nil // every slot taken: run the pieces here
	}
	for {
		lo, hi, ok := w.claim(s)
		if !ok {
			break
		}
		s.runPiece(lo, hi)
	}
	// Wait for the pieces the workers took, helping with other splits
	// (nested ones whose callers wait for us) meanwhile.
	for s.done.Load() < s.pieces {
		if w == nil || !w.help() {
			runtime.Gosched()
		}
	}
	if s.panicked != nil {
		panic(s.panicked)
	}
}

// spawnFor runs the pieces of [0, n) on the caller and on helpers fresh
// goroutines. Like the pool's,
// the pieces are claimed, not handed over: a goroutine that starts late
// (a new goroutine may need a parked thread woken) finds its piece done
// by the caller and ends, and the caller waits only for pieces already
// under way.
func spawnFor(helpers, n, per int, fn func(lo, hi int)) {
	s := &split{fn: fn, n: n, per: per, pieces: int32((n + per - 1) / per)}
	var none *Workers
	take := func() {
		for {
			lo, hi, ok := none.claim(s)
			if !ok {
				return
			}
			s.runPiece(lo, hi)
		}
	}
	for range helpers {
		go take()
	}
	take()
	for s.done.Load() < s.pieces {
		runtime.Gosched()
	}
	if s.panicked != nil {
		panic(s.panicked)
	}
}
