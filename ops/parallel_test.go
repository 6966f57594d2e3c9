package ops

import (
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestParallelForCoversTheRangeOnce(t *testing.T) {
	tests := []struct {
		name                string
		pool, threads, n, g int
	}{
		{"no pool", 0, 3, 1000, 1},
		{"pool", 1, 2, 1000, 1},
		{"pool smaller than threads", 1, 4, 1001, 7},
		{"grain leaves one chunk", 2, 3, 10, 20},
		{"empty", 1, 2, 0, 1},
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
				parallelFor(w, tc.threads, tc.n, tc.g, func(lo, hi int) {
					for i := lo; i < hi; i++ {
						seen[i].Add(1)
					}
				})
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
