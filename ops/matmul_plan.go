package ops

import (
	"slices"
	"sync/atomic"
)

// mmPlanCache keeps the geometry (matmulShape) of the last pair of input
// shapes a MatMul node saw, so that a run with the same shapes, the
// steady state, resolves its batched product without allocating. It is
// safe for concurrent runs: an entry is never changed once stored, and a
// run with other shapes replaces the whole entry.
type mmPlanCache struct {
	last atomic.Pointer[mmPlanEntry]
}

// mmPlanEntry is one resolved pair of shapes; s is only read.
type mmPlanEntry struct {
	sa, sb []int
	s      *mmShape
}

// get returns matmulShape(sa, sb), from the cache when the shapes are
// those of the last call. The result is shared: callers must not change
// it (copying the struct to change its fields is fine).
func (c *mmPlanCache) get(sa, sb []int) (*mmShape, error) {
	if e := c.last.Load(); e != nil && slices.Equal(e.sa, sa) && slices.Equal(e.sb, sb) {
		return e.s, nil
	}
	s, err := matmulShape(sa, sb)
	if err != nil {
		return nil, err
	}
	c.last.Store(&mmPlanEntry{sa: slices.Clone(sa), sb: slices.Clone(sb), s: s})
	return s, nil
}
