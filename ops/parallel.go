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
// worker parks rather than spins. The pool also keeps the state of the
// run's splits and its goroutines' scratch from split to split and from
// run to run (a pool serves one run at a time), so that a warm run's
// splits make no heap allocation (parallelPiecesOf, reserveScratch).
type Workers struct {
	slots  [maxSplits]atomic.Pointer[split] // published splits with pieces left
	wake   chan struct{}                    // tokens for parked workers
	quit   chan struct{}                    // closed by Close
	parked atomic.Int32                     // workers blocked on wake
	closed atomic.Bool
	// splits counts the splits under way (parallelPiecesOf with the
	// pool); onShare, when set (SetShareHook), is told when the first
	// starts and the last ends.
	splits  atomic.Int32
	onShare func(shared bool)

	mu      sync.Mutex
	started int
	max     int
	live    atomic.Int32 // workers running (for tests)

	// tasks holds the finished splits of the run, one free list
	// (*taskList[T]) per type of job, for later splits to reuse: a
	// warm run's splits allocate nothing. A split goes back to its list
	// when its last holder lets go of it (split.release), which may be a
	// worker that found it published just before it ended.
	tmu   sync.Mutex
	tasks []any
	// scratch holds, per key (a kernel's plan), the scratch of the
	// run's goroutines (see takeScratch).
	scratch map[any]*scratchList
}

// scratchList is the scratch the pool keeps for one key: made values,
// of which free are not held now.
type scratchList struct {
	free []any
	made int
}

// list returns the scratch list of key, made if missing (tmu held).
func (w *Workers) list(key any) *scratchList {
	if w.scratch == nil {
		w.scratch = map[any]*scratchList{}
	}
	l := w.scratch[key]
	if l == nil {
		l = &scratchList{free: make([]any, 0, 4)}
		w.scratch[key] = l
	}
	return l
}

// reserveScratch makes sure that the pool keeps n scratch values for key
// (a kernel's plan), making the missing ones with mk(key): a kernel calls
// it before a split of up to n goroutines, each of which then finds one
// with takeScratch, however the pieces fall. (A sync.Pool hides the
// value last put on one processor from a goroutine on another, which
// happens all the time with two threads, and empties at each GC.) What a
// pool keeps is one value per goroutine and plan, for as long as the pool
// lives (the session's arena). w nil: nothing.
func (w *Workers) reserveScratch(key any, n int, mk func(key any) any) {
	if w == nil {
		return
	}
	w.tmu.Lock()
	defer w.tmu.Unlock()
	l := w.list(key)
	for ; l.made < n; l.made++ {
		l.free = append(l.free, mk(key))
	}
}

// takeScratch returns a scratch value of key that no goroutine holds
// (see reserveScratch), or nil (none, or w nil).
func (w *Workers) takeScratch(key any) any {
	if w == nil {
		return nil
	}
	w.tmu.Lock()
	defer w.tmu.Unlock()
	l := w.scratch[key]
	if l == nil || len(l.free) == 0 {
		return nil
	}
	n := len(l.free)
	v := l.free[n-1]
	l.free[n-1] = nil
	l.free = l.free[:n-1]
	return v
}

// keepScratch gives v, scratch of key from takeScratch or made by the
// caller, to the pool, and reports whether it took it (w is not nil).
func (w *Workers) keepScratch(key, v any) bool {
	if w == nil {
		return false
	}
	w.tmu.Lock()
	defer w.tmu.Unlock()
	l := w.list(key)
	if len(l.free) >= l.made {
		l.made = len(l.free) + 1 // one made outside reserveScratch
	}
	l.free = append(l.free, v)
	return true
}

// maxSplits bounds the splits published at once (nested parallelFor
// calls each publish one); a split that finds no free slot runs on its
// caller alone.
const maxSplits = 16

// WorkerSpin is how long a worker polls for more work before it parks.
const WorkerSpin = 200 * time.Microsecond

// split is one parallelFor call: job over [0, n) in pieces of per items.
//
// A split of a pool is recycled (see Workers.tasks), so a worker may find
// in a slot a split that finishes, or is even reused by another call,
// before it looks at it. refs guards against that: the caller holds a
// reference from the start of the split to its end, and a worker takes
// one (acquire, which fails on a split that nobody holds) before it
// checks that the split is still published and reads anything but refs,
// and drops it (release) when it is done with the split. The last
// holder to let go returns the split to its free list. Fields other than
// refs change only while the caller alone holds the split, before it is
// published.
type split struct {
	job    splitJob // the pieces' function and its operands
	n, per int
	pieces int32
	slot   int          // index in Workers.slots while published
	next   atomic.Int32 // next piece to claim
	done   atomic.Int32 // pieces finished
	refs   atomic.Int32 // holders (see above); 0 while on a free list

	mu       sync.Mutex
	panicked any
}

// splitJob is what a split runs: a *task[T].
type splitJob interface {
	runPieces(lo, hi int)
	recycle()
}

// task is a split together with its job: a copy of the operands (arg)
// and a function of them (body, a plain function or method expression,
// which costs no allocation to pass). Tasks come from the free lists of
// the run's Workers, so that a kernel that splits its work with
// parallelPiecesOf allocates nothing once the run is warm.
type task[T any] struct {
	split
	arg  T
	body func(arg *T, lo, hi int)
	w    *Workers     // owner of list (nil: not recycled)
	list *taskList[T] // the free list the task returns to
}

// taskList is the free list of the tasks of one job type.
type taskList[T any] struct {
	free []*task[T]
}

func (t *task[T]) runPieces(lo, hi int) { t.body(&t.arg, lo, hi) }

// recycle returns t to its free list; its last holder calls it.
func (t *task[T]) recycle() {
	var zero T
	t.arg, t.body, t.job = zero, nil, nil // let go of the operands
	if t.w == nil {
		return
	}
	t.w.tmu.Lock()
	t.list.free = append(t.list.free, t)
	t.w.tmu.Unlock()
}

// getTask returns a task of w's free list of T, or a new one, held by
// the caller (refs 1).
func getTask[T any](w *Workers) *task[T] {
	w.tmu.Lock()
	var list *taskList[T]
	for _, l := range w.tasks {
		if l, ok := l.(*taskList[T]); ok {
			list = l
			break
		}
	}
	if list == nil {
		list = new(taskList[T])
		w.tasks = append(w.tasks, list)
	}
	var t *task[T]
	if n := len(list.free); n > 0 {
		t = list.free[n-1]
		list.free[n-1] = nil
		list.free = list.free[:n-1]
	}
	w.tmu.Unlock()
	if t == nil {
		t = &task[T]{w: w, list: list}
	}
	t.job = t
	t.refs.Store(1)
	return t
}

// acquire takes a reference to s for a worker that found it in a slot,
// unless nobody holds s any more (it is on its free list, or about to
// be).
func (s *split) acquire() bool {
	for {
		r := s.refs.Load()
		if r <= 0 {
			return false
		}
		if s.refs.CompareAndSwap(r, r+1) {
			return true
		}
	}
}

// release drops a reference to s, recycling s with the last one.
func (s *split) release() {
	if s.refs.Add(-1) == 0 {
		s.job.recycle()
	}
}

// NewWorkers returns a pool of at most n worker goroutines (n < 1 means
// none: parallelFor then starts goroutines of its own).
func NewWorkers(n int) *Workers {
	return &Workers{wake: make(chan struct{}, max(n, 1)), quit: make(chan struct{}), max: n}
}

// SetShareHook makes the pool call f(true) before the first of a run's
// splits under way publishes its pieces and f(false) once the last has
// ended: only in between do goroutines other than the run's own run its
// kernels, so that what they share (the run's allocator) needs a lock
// only then. Both calls are made on the run's goroutine (a split that
// starts when none is under way is the run's own; a piece's goroutine
// starts only nested ones), outside any kernel's piece; what the pieces'
// goroutines did is visible to it after f(false). Call it before the
// pool's first split.
func (w *Workers) SetShareHook(f func(shared bool)) { w.onShare = f }

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
	s.job.runPieces(lo, hi)
}

// help runs one unclaimed piece of any published split and reports
// whether it found one.
func (w *Workers) help() bool {
	for i := range w.slots {
		s := w.slots[i].Load()
		if s == nil || !s.acquire() {
			continue
		}
		// Held now: s cannot be recycled, but it may have finished (and
		// been reused) between the load and the acquire.
		if w.slots[i].Load() != s {
			s.release()
			continue
		}
		lo, hi, ok := w.claim(s)
		if ok {
			s.runPiece(lo, hi)
		}
		s.release()
		if ok {
			return true
		}
	}
	return false
}

// pending reports whether a split is published (one with pieces left:
// a split leaves its slot with its last piece).
func (w *Workers) pending() bool {
	for i := range w.slots {
		if w.slots[i].Load() != nil {
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
//
// The split itself allocates nothing once the run is warm, but fn, a
// closure, usually does: kernels on a run's hot path use
// parallelPiecesOf.
func parallelPieces(w *Workers, threads, n, per int, fn func(lo, hi int)) {
	per = max(per, 1)
	if threads <= 1 || n <= per {
		if n > 0 {
			fn(0, n)
		}
		return
	}
	parallelPiecesOf(w, threads, n, per, fn, callPieces)
}

// callPieces is parallelPieces' body: the closure itself is the job.
func callPieces(fn *func(lo, hi int), lo, hi int) { (*fn)(lo, hi) }

// parallelForOf is parallelFor for a job given as operands (arg, copied)
// and a function of them (body: a plain function or a method
// expression, not a closure), which costs no heap allocation once the
// run's pool is warm (see parallelPiecesOf).
func parallelForOf[T any](w *Workers, threads, n, grain int, arg T, body func(arg *T, lo, hi int)) {
	chunks := min(threads, n/max(grain, 1))
	if chunks <= 1 {
		chunks = 1
	}
	parallelPiecesOf(w, chunks, n, (n+chunks-1)/chunks, arg, body)
}

// parallelPiecesOf is parallelPieces for a job given as operands (arg)
// and a function of them (body, called with a pointer to a copy of arg
// that all pieces share): a plain function or a method expression such
// as (*convJob).run, not a closure. The copy of arg lives in a task from
// the run's pool (Workers), recycled when the split ends, so that a warm
// run's splits make no heap allocation. arg is copied, never retained:
// a caller's operands may live on its stack (what they point to moves to
// the heap as for any value stored in the heap).
func parallelPiecesOf[T any](w *Workers, threads, n, per int, arg T, body func(arg *T, lo, hi int)) {
	per = max(per, 1)
	pieces := (n + per - 1) / per
	if n <= 0 {
		return
	}
	if w == nil || w.max < 1 {
		// No pool: a task of our own, on fresh goroutines.
		t := &task[T]{arg: arg, body: body}
		t.job = t
		if threads <= 1 || pieces <= 1 {
			body(&t.arg, 0, n)
			return
		}
		spawnFor(min(threads, pieces)-1, n, per, t)
		return
	}
	t := getTask[T](w)
	t.arg, t.body = arg, body
	s := &t.split
	if threads <= 1 || pieces <= 1 {
		body(&t.arg, 0, n)
		s.release()
		return
	}
	s.n, s.per, s.pieces = n, per, int32(pieces)
	s.next.Store(0)
	s.done.Store(0)
	s.panicked = nil
	helpers := min(threads, pieces) - 1
	pw := w
	if w.splits.Add(1) == 1 && w.onShare != nil {
		w.onShare(true)
	}
	if !w.publish(s, helpers) {
		pw = nil // every slot taken: run the pieces here
	}
	for {
		lo, hi, ok := pw.claim(s)
		if !ok {
			break
		}
		s.runPiece(lo, hi)
	}
	// Wait for the pieces the workers took, helping with other splits
	// (nested ones whose callers wait for us) meanwhile.
	for s.done.Load() < s.pieces {
		if pw == nil || !w.help() {
			runtime.Gosched()
		}
	}
	if w.splits.Add(-1) == 0 && w.onShare != nil {
		w.onShare(false)
	}
	p := s.panicked
	s.release()
	if p != nil {
		panic(p)
	}
}

// spawnFor runs the pieces of [0, n) of job on the caller and on helpers
// fresh goroutines. Like the pool's, the pieces are claimed, not handed
// over: a goroutine that starts late (a new goroutine may need a parked
// thread woken) finds its piece done by the caller and ends, and the
// caller waits only for pieces already under way.
func spawnFor(helpers, n, per int, job splitJob) {
	s := &split{job: job, n: n, per: per, pieces: int32((n + per - 1) / per)}
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
