package ops

import "sync"

// threads returns how many goroutines a kernel may use (at least 1).
func (rc *RunContext) threads() int {
	if rc == nil || rc.Threads < 1 {
		return 1
	}
	return rc.Threads
}

// parallelFor is the one way kernels split work: it calls fn over [0, n)
// in at most threads contiguous chunks of at least grain items, running
// the first chunk on the calling goroutine and the others on fresh
// goroutines (they cost about a microsecond and never spin when idle). It
// calls fn(0, n) directly when one chunk is all the work is worth. A panic
// in a worker is re-raised on the caller's goroutine, so that the session
// boundary recovers it.
func parallelFor(threads, n, grain int, fn func(lo, hi int)) {
	chunks := min(threads, n/max(grain, 1))
	if chunks <= 1 {
		if n > 0 {
			fn(0, n)
		}
		return
	}
	per := (n + chunks - 1) / chunks
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
