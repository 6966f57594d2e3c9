package runtime

import (
	"math/bits"
	"reflect"
	"sync"
	"unsafe"

	"github.com/onyxrt/onyx/ops"
	"github.com/onyxrt/onyx/tensor"
)

// An arena recycles the storage of a run's intermediate values: kernels
// allocate their outputs from it (ops.RunContext.Alloc), and when the
// step that reads a value last is done, the value's buffer goes back to
// the arena's free lists, to serve a later step of the same run or of a
// later run. In steady state a run then touches only memory that is
// already mapped and warm in cache, instead of asking the Go heap for
// fresh, page-faulting memory for every value.
//
// A buffer is recycled only when the arena handed it out during this run
// (so never a feed, a constant or a returned output) and no live value
// still points into it: views such as Reshape's output share their
// input's buffer, so a released value whose buffer a live view still
// reads stays where it is. Buffers are grouped in size classes (the
// element count rounded up to three significant bits), so a class serves
// any request within 12.5% of its size.
//
// One arena serves one run at a time; a Session keeps a pool of them.
// An arena also holds the run's worker goroutines (ops.Workers), which
// block while the arena is idle and end when its session is collected.
// After each run, classes that the run did not use are dropped, so an
// idle arena holds at most about one run's working set.
type arena struct {
	// envBuf and inBuf are the run's value table and a step's input list,
	// reused from run to run.
	envBuf, inBuf []*tensor.Tensor
	// workers are the run's worker goroutines (nil with one thread).
	workers *ops.Workers

	mu    sync.Mutex
	free  map[classKey][]any // recycled buffers, full class length
	used  map[classKey]bool  // classes asked for during this run
	owned map[uintptr]owned  // buffers handed out during this run, by address
}

type classKey struct {
	dt tensor.DType
	n  int // class length in elements
}

type owned struct {
	key   classKey
	buf   any // the full class-length buffer
	bytes uintptr
}

func newArena() *arena {
	return &arena{free: map[classKey][]any{}, used: map[classKey]bool{}, owned: map[uintptr]owned{}}
}

// env returns the run's value table, a copy of consts.
func (a *arena) env(consts []*tensor.Tensor) []*tensor.Tensor {
	if cap(a.envBuf) < len(consts) {
		a.envBuf = make([]*tensor.Tensor, len(consts))
	}
	a.envBuf = a.envBuf[:len(consts)]
	copy(a.envBuf, consts)
	return a.envBuf
}

// inputs returns a slice of n nils for a step's inputs; the caller clears
// it after the step.
func (a *arena) inputs(n int) []*tensor.Tensor {
	if cap(a.inBuf) < n {
		a.inBuf = make([]*tensor.Tensor, n)
	}
	return a.inBuf[:n]
}

// sizeClass rounds n up so that only its three most significant bits may
// be set.
func sizeClass(n int) int {
	if n <= 8 {
		return n
	}
	shift := bits.Len(uint(n)) - 3
	return ((n + 1<<shift - 1) >> shift) << shift
}

// NewUninit implements ops.Allocator.
func (a *arena) NewUninit(dt tensor.DType, shape []int) (*tensor.Tensor, error) {
	n, err := tensor.NumElements(shape)
	if err != nil {
		return nil, err
	}
	if n == 0 || !recyclable(dt) {
		return tensor.New(dt, shape...)
	}
	key := classKey{dt, sizeClass(n)}
	a.mu.Lock()
	a.used[key] = true
	var buf any
	if list := a.free[key]; len(list) > 0 {
		buf = list[len(list)-1]
		list[len(list)-1] = nil
		a.free[key] = list[:len(list)-1]
	}
	a.mu.Unlock()
	if buf == nil {
		t, err := tensor.New(dt, key.n)
		if err != nil {
			// The class may exceed a size limit that n itself meets.
			return tensor.New(dt, shape...)
		}
		buf = t.Data()
	}
	data := prefix(buf, n)
	t, err := tensor.FromSlice(shape, data)
	if err != nil {
		return nil, err
	}
	addr, bytes := span(buf)
	a.mu.Lock()
	a.owned[addr] = owned{key: key, buf: buf, bytes: bytes}
	a.mu.Unlock()
	return t, nil
}

// recyclable reports whether buffers of dt go through the free lists:
// fixed-size types that prefix and span know.
func recyclable(dt tensor.DType) bool {
	switch dt {
	case tensor.Float32, tensor.Float64, tensor.Int64, tensor.Int32, tensor.Uint8, tensor.Int8, tensor.Bool:
		return true
	}
	return false
}

// prefix returns buf[:n] for the slice types recyclable allows.
func prefix(buf any, n int) any {
	switch b := buf.(type) {
	case []float32:
		return b[:n]
	case []float64:
		return b[:n]
	case []int64:
		return b[:n]
	case []int32:
		return b[:n]
	case []uint8:
		return b[:n]
	case []int8:
		return b[:n]
	case []bool:
		return b[:n]
	}
	panic("arena: unexpected buffer type")
}

// span returns the address and byte length of a tensor's elements (0, 0
// when it has none).
func span(data any) (uintptr, uintptr) {
	switch b := data.(type) {
	case []float32:
		return uintptr(unsafe.Pointer(unsafe.SliceData(b))), uintptr(len(b)) * 4
	case []float64:
		return uintptr(unsafe.Pointer(unsafe.SliceData(b))), uintptr(len(b)) * 8
	case []int64:
		return uintptr(unsafe.Pointer(unsafe.SliceData(b))), uintptr(len(b)) * 8
	case []int32:
		return uintptr(unsafe.Pointer(unsafe.SliceData(b))), uintptr(len(b)) * 4
	case []uint8:
		return uintptr(unsafe.Pointer(unsafe.SliceData(b))), uintptr(len(b))
	case []int8:
		return uintptr(unsafe.Pointer(unsafe.SliceData(b))), uintptr(len(b))
	case []bool:
		return uintptr(unsafe.Pointer(unsafe.SliceData(b))), uintptr(len(b))
	}
	if v := reflect.ValueOf(data); v.Kind() == reflect.Slice && v.Len() > 0 {
		return v.Pointer(), uintptr(v.Len()) * v.Type().Elem().Size()
	}
	return 0, 0
}

// release takes back the buffer of t, a value that is now dead, unless
// the arena does not own it or a live value overlaps it (t itself is no
// longer among the live values, but another value may be the same
// tensor, as Identity returns its input).
func (a *arena) release(t *tensor.Tensor, p *program, env []*tensor.Tensor) {
	if t == nil || t.Kind() != tensor.KindTensor {
		return
	}
	addr, _ := span(t.Data())
	if addr == 0 {
		return
	}
	a.mu.Lock()
	o, ok := a.owned[addr]
	a.mu.Unlock()
	if !ok {
		return
	}
	lo, hi := addr, addr+o.bytes
	for s, v := range env {
		if v != nil && p.constEnv[s] == nil && touches(v, lo, hi) {
			return
		}
	}
	a.mu.Lock()
	delete(a.owned, addr)
	a.free[o.key] = append(a.free[o.key], o.buf)
	a.mu.Unlock()
}

// touches reports whether v (a tensor, or a sequence or optional holding
// tensors) has elements in [lo, hi).
func touches(v *tensor.Tensor, lo, hi uintptr) bool {
	switch v.Kind() {
	case tensor.KindSequence:
		for _, e := range v.Elems() {
			if touches(e, lo, hi) {
				return true
			}
		}
		return false
	case tensor.KindOptional:
		if e, ok := v.OptionalValue(); ok && e != nil {
			return touches(e, lo, hi)
		}
		return false
	}
	addr, bytes := span(v.Data())
	return addr < hi && lo < addr+bytes
}

// aliasesFixed reports whether t shares storage with a feed or a constant
// of p.
func (p *program) aliasesFixed(t *tensor.Tensor, feeds map[string]*tensor.Tensor) bool {
	for _, f := range feeds {
		if shares(t, f) {
			return true
		}
	}
	for _, c := range p.constEnv {
		if c != nil && shares(t, c) {
			return true
		}
	}
	return false
}

// shares reports whether a and b (tensors, sequences or optionals) have
// elements in common memory.
func shares(a, b *tensor.Tensor) bool {
	switch b.Kind() {
	case tensor.KindSequence:
		for _, e := range b.Elems() {
			if shares(a, e) {
				return true
			}
		}
		return false
	case tensor.KindOptional:
		if e, ok := b.OptionalValue(); ok && e != nil {
			return shares(a, e)
		}
		return false
	}
	lo, n := span(b.Data())
	return lo != 0 && touches(a, lo, lo+n)
}

// endRun forgets the buffers still handed out (they are the run's outputs,
// now the caller's, or were dropped by a failed run) and drops the classes
// the run did not use.
func (a *arena) endRun() {
	a.mu.Lock()
	defer a.mu.Unlock()
	clear(a.owned)
	for k := range a.free {
		if !a.used[k] {
			delete(a.free, k)
		}
	}
	clear(a.used)
}

// arenaPool holds the arenas of idle runs of one session.
type arenaPool struct {
	mu   sync.Mutex
	idle []*arena
}

func (p *arenaPool) get() *arena {
	p.mu.Lock()
	defer p.mu.Unlock()
	if n := len(p.idle); n > 0 {
		a := p.idle[n-1]
		p.idle = p.idle[:n-1]
		return a
	}
	return newArena()
}

// close ends the workers of the idle arenas; the session is gone, so
// there are no others.
func (p *arenaPool) close() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, a := range p.idle {
		a.workers.Close()
	}
	p.idle = nil
}

func (p *arenaPool) put(a *arena) {
	a.endRun()
	p.mu.Lock()
	p.idle = append(p.idle, a)
	p.mu.Unlock()
}

var _ ops.Allocator = (*arena)(nil)
