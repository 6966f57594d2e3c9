package tensor

import (
	"fmt"
	"slices"
	"sync"
)

// HeaderPool recycles tensor headers (the Tensor values themselves) for
// an allocator that knows when a tensor is dead,
// such as the runtime's per-run arena: a steady-state run then builds its
// intermediate tensors without asking the Go heap for anything.
//
// A header is recycled only by the pool that handed it out, and only
// within the generation it was handed out in: EndGeneration (the end of a
// run) makes every header still out an ordinary tensor as far as Put is
// concerned, so tensors that escape a run (its outputs) keep their shape
// and elements whatever the pool does later. Detach makes that explicit
// and drops the header's link to the pool. A tensor made by New, FromSlice,
// Reshape, Clone and the other constructors is never touched by any pool.
//
// The caller of Put promises that nothing reads the header again: Put
// reuses the Tensor value for a later Get. Shape slices are never
// rewritten: headers of one shape share one slice, which stays valid for
// anyone who kept it. The elements are not the pool's business; Get wraps
// storage the caller supplies.
//
// The zero HeaderPool is ready to use. Its methods are safe for concurrent
// use, unless SetSerialized was called.
type HeaderPool struct {
	mu sync.Mutex
	// serial: the owner serializes every call (SetSerialized), so mu is
	// not taken.
	serial bool
	gen    uint64
	free   []*Tensor
	// spare holds links of detached headers, for reuse.
	spare []*poolLink
	// shapes holds the shape slices headers share (see intern), and
	// recent the last few of them that intern returned, looked through
	// before the map.
	shapes map[shapeKey][]int
	recent [recentShapes][]int
	next   int
}

// recentShapes is how many interned shapes intern looks through before
// its map: a run's values take few distinct shapes.
const recentShapes = 8

// SetSerialized tells p that its owner never calls it from two
// goroutines at once (it holds a lock of its own around every call), so
// that p need not take its own. Call it before any other method.
func (p *HeaderPool) SetSerialized() { p.serial = true }

func (p *HeaderPool) lock() {
	if !p.serial {
		p.mu.Lock()
	}
}

func (p *HeaderPool) unlock() {
	if !p.serial {
		p.mu.Unlock()
	}
}

// poolLink ties a header to the pool that handed it out.
type poolLink struct {
	pool *HeaderPool
	gen  uint64 // the generation it was handed out in
	out  bool   // handed out and not put back
	tag  any
}

// Get returns a header for data (a slice of dt's Go element type, not
// copied) with the given shape (copied, or shared with earlier headers of
// that shape),
// reusing a header put back earlier when there is one. tag is kept with
// the header for Tag. It fails when the length of data does not match the
// shape.
func (p *HeaderPool) Get(dt DType, shape []int, data any, tag any) (*Tensor, error) {
	if err := checkData(dt, shape, data); err != nil {
		return nil, err
	}
	return p.get(dt, shape, data, tag), nil
}

// GetUnchecked is Get for a caller that made data itself to hold the
// elements of shape in dt, so that it need not be checked again.
func (p *HeaderPool) GetUnchecked(dt DType, shape []int, data any, tag any) *Tensor {
	return p.get(dt, shape, data, tag)
}

// get is Get without the check of data.
func (p *HeaderPool) get(dt DType, shape []int, data any, tag any) *Tensor {
	p.lock()
	var t *Tensor
	if n := len(p.free); n > 0 {
		// Prefer a recent header of this very shape, whose shape slice
		// serves as it is (no interning).
		k := n - 1
		for i := n - 1; i >= max(0, n-maxShapeScan); i-- {
			if ShapeEqual(p.free[i].shape, shape) {
				k = i
				break
			}
		}
		t = p.free[k]
		p.free[k] = p.free[n-1]
		p.free[n-1] = nil
		p.free = p.free[:n-1]
	} else {
		var l *poolLink
		if n := len(p.spare); n > 0 {
			l = p.spare[n-1]
			p.spare[n-1] = nil
			p.spare = p.spare[:n-1]
		} else {
			l = &poolLink{pool: p}
		}
		t = &Tensor{pool: l}
	}
	l := t.pool
	l.gen, l.out, l.tag = p.gen, true, tag
	if !ShapeEqual(t.shape, shape) || t.shape == nil {
		t.shape = p.intern(shape)
	}
	p.unlock()
	t.dtype, t.data = dt, data
	return t
}

// maxShapeScan is how many of the most recently freed headers Get looks
// through for one of the wanted shape.
const maxShapeScan = 8

// maxInterned bounds the shapes a pool keeps (a model with dynamic shapes
// could otherwise grow it without end); beyond it, shapes are allocated.
const maxInterned = 4096

// shapeKey is a shape of rank at most len(d), as a map key.
type shapeKey struct {
	rank int
	d    [6]int
}

// intern returns a slice holding shape that no one ever modifies: shape
// slices are shared by every header of that shape, since a kernel may
// keep an input's Shape() (in a plan cache, say) after the tensor is
// dead. The caller holds p.mu.
func (p *HeaderPool) intern(shape []int) []int {
	var k shapeKey
	if len(shape) > len(k.d) {
		return slices.Clone(shape)
	}
	for _, s := range p.recent {
		if s != nil && ShapeEqual(s, shape) {
			return s
		}
	}
	k.rank = copy(k.d[:], shape)
	s, ok := p.shapes[k]
	if ok {
		p.remember(s)
		return s
	}
	s = append(make([]int, 0, len(shape)), shape...)
	if len(p.shapes) < maxInterned {
		p.remember(s)
		if p.shapes == nil {
			p.shapes = map[shapeKey][]int{}
		}
		p.shapes[k] = s
	}
	return s
}

// remember puts s, an interned shape, among p.recent.
func (p *HeaderPool) remember(s []int) {
	p.recent[p.next] = s
	p.next = (p.next + 1) % recentShapes
}

// checkData checks that data is a slice of dt's element type holding as
// many elements as shape does.
func checkData(dt DType, shape []int, data any) error {
	if d, ok := data.([]float32); ok && dt == Float32 {
		// The common case, without the general type switches.
		if n, err := NumElements(shape); err == nil && n == len(d) {
			return nil
		}
	}
	n, err := NumElements(shape)
	if err != nil {
		return err
	}
	got := DTypeOf(data)
	if dt.isFloat8() {
		if _, ok := data.([]Float8); ok {
			got = dt
		}
	}
	if got != dt || dt == Undefined {
		return fmt.Errorf("data of type %T does not hold %v elements", data, dt)
	}
	if l := sliceLen(data); l != n {
		return fmt.Errorf("shape %v needs %d elements, data has %d", slices.Clone(shape), n, l)
	}
	return nil
}

// mine reports whether p handed t out in the current generation and t
// has not been put back. The caller holds p.mu.
func (p *HeaderPool) mine(t *Tensor) bool {
	l := t.pool
	return l != nil && l.pool == p && l.out && l.gen == p.gen
}

// Pooled reports whether t's header belongs to a HeaderPool (it was handed
// out by Get and not detached): only such a header is ever given other
// elements or another shape, so a tensor that is not pooled keeps its
// storage and shape for good.
func (t *Tensor) Pooled() bool { return t.pool != nil }

// Tag returns the tag Get attached to t and true, when p handed t out in
// the current generation and it has not been put back; otherwise nil and
// false.
func (p *HeaderPool) Tag(t *Tensor) (any, bool) {
	if t == nil || t.pool == nil {
		return nil, false
	}
	p.lock()
	defer p.unlock()
	if !p.mine(t) {
		return nil, false
	}
	return t.pool.tag, true
}

// Put takes back t, a header p handed out in the current generation that
// nothing will read again, for a later Get. It reports whether it took
// it: tensors of other pools or generations, and ordinary tensors, are
// left alone.
func (p *HeaderPool) Put(t *Tensor) bool {
	if t == nil || t.pool == nil {
		return false
	}
	p.lock()
	defer p.unlock()
	if !p.mine(t) {
		return false
	}
	t.pool.out, t.pool.tag = false, nil
	t.data = nil
	p.free = append(p.free, t)
	return true
}

// Take is Tag followed by Put, under one lock: it returns the tag Get
// attached to t and takes t back, when p handed t out in the current
// generation and it has not been put back; otherwise it returns nil and
// false and leaves t alone.
func (p *HeaderPool) Take(t *Tensor) (any, bool) {
	if t == nil || t.pool == nil {
		return nil, false
	}
	p.lock()
	defer p.unlock()
	if !p.mine(t) {
		return nil, false
	}
	tag := t.pool.tag
	t.pool.out, t.pool.tag = false, nil
	t.data = nil
	p.free = append(p.free, t)
	return tag, true
}

// Detach turns t, and the elements of a sequence or an optional t holds,
// into ordinary tensors as far as p is concerned: p will never reuse
// them, and they no longer refer to p. A run hands its outputs to the
// caller this way.
func (p *HeaderPool) Detach(t *Tensor) {
	if t == nil {
		return
	}
	switch d := t.data.(type) {
	case seqData:
		for _, e := range d.elems {
			p.Detach(e)
		}
	case optData:
		p.Detach(d.value)
	}
	l := t.pool
	if l == nil || l.pool != p {
		return
	}
	p.lock()
	defer p.unlock()
	if t.pool != l || !l.out {
		// Detached meanwhile through another path, or put back (then it
		// is the pool's again and no caller may hold it).
		return
	}
	t.pool = nil
	l.out, l.tag = false, nil
	p.spare = append(p.spare, l)
}

// EndGeneration ends the current generation: the headers still out
// (a run's outputs, or tensors a run dropped without Put) will never be
// taken back by Put, and Tag no longer knows them.
func (p *HeaderPool) EndGeneration() {
	p.lock()
	p.gen++
	p.unlock()
}

// Len returns the number of headers ready for reuse (for tests).
func (p *HeaderPool) Len() int {
	p.lock()
	defer p.unlock()
	return len(p.free)
}

// Copy copies src's elements into dst, which must have src's element
// type and shape. Both must be tensors (not sequences or optionals).
func Copy(dst, src *Tensor) error {
	if dst.Kind() != KindTensor || src.Kind() != KindTensor {
		return fmt.Errorf("copy: sequences and optionals are not copied in place")
	}
	if dst.dtype != src.dtype || !ShapeEqual(dst.shape, src.shape) {
		return fmt.Errorf("copy: destination %v%v does not match source %v%v", dst.dtype, slices.Clone(dst.shape), src.dtype, slices.Clone(src.shape))
	}
	copySlice(dst.data, src.data)
	return nil
}
