package ops

import (
	"fmt"
	"sync"
	"testing"
)

// latest returns the plan stored last (the zero T when none is).
func (c *shapeCache[T]) latest() T {
	var v T
	if l := c.list.Load(); l != nil && l.n > 0 {
		v = l.vals[0]
	}
	return v
}

// TestShapeCache checks what a shapeCache finds after a sequence of
// stores: the last shapeCacheSize distinct keys, most recent first, each
// with its latest plan, keys compared shape by shape (nil and empty
// alike, as for a scalar), and copies of the stored shapes kept.
func TestShapeCache(t *testing.T) {
	k := func(s ...[]int) shapeKey { var key shapeKey; copy(key[:], s); return key }
	a, b := []int{1, 3, 8, 8}, []int{4, 3, 8, 8}
	w := []int{16, 3, 3, 3}
	tests := []struct {
		name  string
		puts  []shapeKey
		vals  []int
		found map[int]shapeKey // value → key that must find it
		miss  []shapeKey
	}{
		{"empty", nil, nil, nil, []shapeKey{k(a, w)}},
		{"one", []shapeKey{k(a, w)}, []int{1}, map[int]shapeKey{1: k(a, w)}, []shapeKey{k(b, w), k(a), k(w, a)}},
		{"two alternate", []shapeKey{k(a, w), k(b, w), k(a, w)}, []int{1, 2, 3}, map[int]shapeKey{3: k(a, w), 2: k(b, w)}, nil},
		{"scalar", []shapeKey{k([]int{}, nil)}, []int{7}, map[int]shapeKey{7: k(nil, []int{})}, []shapeKey{k([]int{1})}},
		{"evicts the oldest", []shapeKey{k([]int{1}), k([]int{2}), k([]int{3}), k([]int{4}), k([]int{5})}, []int{1, 2, 3, 4, 5},
			map[int]shapeKey{2: k([]int{2}), 5: k([]int{5})}, []shapeKey{k([]int{1})}},
		{"a hit is not moved", []shapeKey{k([]int{1}), k([]int{2}), k([]int{3}), k([]int{4}), k([]int{1}), k([]int{5})}, []int{1, 2, 3, 4, 6, 5},
			map[int]shapeKey{6: k([]int{1}), 4: k([]int{4}), 5: k([]int{5}), 3: k([]int{3})}, []shapeKey{k([]int{2})}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var c shapeCache[int]
			for i, key := range tc.puts {
				c.put(key, tc.vals[i])
			}
			for want, key := range tc.found {
				if got, ok := c.get(key); !ok || got != want {
					t.Errorf("get(%v) = %d, %v; want %d", key, got, ok, want)
				}
			}
			for _, key := range tc.miss {
				if got, ok := c.get(key); ok {
					t.Errorf("get(%v) = %d, want a miss", key, got)
				}
			}
		})
	}
	// The cache keeps its own copy of the shapes.
	var c shapeCache[int]
	s := []int{2, 3}
	c.put(k(s), 1)
	s[0] = 9
	if _, ok := c.get(k([]int{2, 3})); !ok {
		t.Error("changing a stored shape changed the cache")
	}
}

// TestShapeCacheConcurrent has goroutines look up and store plans of
// several shapes at once (run it with -race): every hit returns the plan
// of its own shape, and hits cost no allocation.
func TestShapeCacheConcurrent(t *testing.T) {
	var c shapeCache[string]
	shapes := [][]int{{1, 10}, {2, 10}, {4, 10}, {8, 10}, {16, 10}, {32, 10}}
	var wg sync.WaitGroup
	for g := 0; g < 4; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 2000; i++ {
				s := shapes[(i+g)%len(shapes)]
				want := fmt.Sprint(s)
				if v, ok := c.get(shapeKey{s}); ok {
					if v != want {
						t.Errorf("get(%v) = %q", s, v)
						return
					}
					continue
				}
				c.put(shapeKey{s}, want)
			}
		}()
	}
	wg.Wait()
	c.put(shapeKey{shapes[0]}, fmt.Sprint(shapes[0]))
	if n := testing.AllocsPerRun(100, func() { c.get(shapeKey{shapes[0]}) }); n != 0 {
		t.Errorf("a hit allocates %v times", n)
	}
}
