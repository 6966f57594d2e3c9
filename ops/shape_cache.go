package ops

import (
	"slices"
	"sync/atomic"
)

// shapeCacheSize is how many input shapes a node keeps plans for.
const shapeCacheSize = 4

// shapeKey is the input shapes a plan was made for (up to four; unused
// ones nil).
type shapeKey [4][]int

// shapeCache keeps the plans (T, only read once made) that a node made
// for the last few input shapes it saw, most recent first, so that runs
// alternating between a few shapes (a service fed batches of several
// sizes) find their plans without allocating, as a run repeating one
// shape does. It is safe for concurrent runs: the list is replaced as a
// whole, never changed once stored (two runs that miss at once may both
// make a plan; the list keeps the last stored).
type shapeCache[T any] struct {
	list atomic.Pointer[shapeList[T]]
}

// shapeList is one immutable list of a shapeCache.
type shapeList[T any] struct {
	keys [shapeCacheSize]shapeKey
	vals [shapeCacheSize]T
	n    int
}

// get returns the plan stored for key, if any.
func (c *shapeCache[T]) get(key shapeKey) (v T, ok bool) {
	l := c.list.Load()
	if l == nil {
		return v, false
	}
	for i := 0; i < l.n; i++ {
		if l.keys[i].equal(&key) {
			return l.vals[i], true
		}
	}
	return v, false
}

// put stores v as the plan of key (a copy of it), first in the list,
// dropping the least recent plan when the list is full.
func (c *shapeCache[T]) put(key shapeKey, v T) {
	var l shapeList[T]
	for i := range key {
		l.keys[0][i] = slices.Clone(key[i])
	}
	l.vals[0], l.n = v, 1
	if old := c.list.Load(); old != nil {
		for i := 0; i < old.n && l.n < shapeCacheSize; i++ {
			if !old.keys[i].equal(&key) {
				l.keys[l.n], l.vals[l.n] = old.keys[i], old.vals[i]
				l.n++
			}
		}
	}
	c.list.Store(&l)
}

// equal reports whether k and o hold the same shapes.
func (k *shapeKey) equal(o *shapeKey) bool {
	for i := range k {
		if !slices.Equal(k[i], o[i]) {
			return false
		}
	}
	return true
}
