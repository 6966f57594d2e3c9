package runtime

import (
	"fmt"
	"math/bits"
	"reflect"
	"sync"
	"sync/atomic"
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
// After each run, classes that none of the last arenaKeepRuns runs used
// are dropped, so that runs alternating between inputs of a few shapes
// (a service fed batches of several sizes) find their buffers, and an
// idle arena holds at most about the working sets of those runs.
type arena struct {
	// envBuf and inBuf are the run's value table and a step's input list,
	// resBuf the list of its outputs and feedBuf of its feeds, reused
	// from run to run.
	envBuf, inBuf, resBuf, feedBuf, dstBuf []*tensor.Tensor
	// dstOf holds, by slot of the top-level program, the tensor RunInto's
	// caller bound to that graph output, when the node that computes it
	// may write it there directly (bindOutputs); want is that tensor
	// while its node runs: NewPooled hands it out for the first request
	// of its type and shape.
	dstOf    []*tensor.Tensor
	want     *tensor.Tensor
	bindLast bindCache
	// roots is this arena's storage of the roots of placeOf (the
	// top-level program), places the tensors on their values' places
	// by slot (place.go), made on first use and kept.
	placeOf *program
	roots   []*tensor.Tensor
	places  []*tensor.Tensor
	// workers are the run's worker goroutines (nil with one thread).
	workers *ops.Workers
	// rc is the run's context, reset for each run.
	rc ops.RunContext
	// live is the value table of the running top-level program and
	// liveSlots its slots that are not constants, for Free.
	live      []*tensor.Tensor
	liveSlots []int
	// hdrs recycles the headers of the run's tensors: a dead value's
	// header comes back with its buffer, and a generation ends with
	// each run, so that no header that left a run is touched again.
	// It is serialized: it is used under mu only.
	hdrs tensor.HeaderPool

	// mu guards what follows and hdrs: kernels may free or allocate
	// from more than one goroutine while a split of theirs is under way;
	// but not when serial (lock).
	mu sync.Mutex
	// serial is set while only the run's goroutine runs its kernels: on
	// one thread, and on more between the run's splits (the workers'
	// share hook, useWorkers). Its kernels then allocate and free from
	// the run's goroutine alone, so lock and unlock skip mu (two atomic
	// operations per allocation and per release: 3% of a run of four
	// Relus on 4×10 values, 6% of the Keras dense example at two
	// threads).
	serial  bool
	classes map[uint64]*class // recycled buffers by size class (classKey.id)
	// used lists the classes asked for during this run (class.used).
	used []*class
	// out lists the blocks handed out during this run and not yet
	// recycled (block.outIdx is a block's position).
	out []*block
}

// useWorkers gives the arena the run's worker goroutines, which keep it
// serial between splits: a split starts and ends on the run's goroutine
// (ops.Workers.SetShareHook), so only then does the arena lock.
func (a *arena) useWorkers(threads int) {
	a.workers = ops.NewWorkers(threads - 1)
	a.workers.SetShareHook(func(shared bool) { a.serial = !shared })
}

// lock locks a.mu unless the run is serial.
func (a *arena) lock() {
	if !a.serial {
		a.mu.Lock()
	}
}

// unlock unlocks a.mu unless the run is serial.
func (a *arena) unlock() {
	if !a.serial {
		a.mu.Unlock()
	}
}

// arenaKeepRuns is how many runs a size class stays in an arena unused.
const arenaKeepRuns = 4

type classKey struct {
	dt tensor.DType
	n  int // class length in elements
}

// id is the key as one integer, for a faster map.
func (k classKey) id() uint64 { return uint64(uint32(k.dt))<<48 | uint64(k.n) }

// class holds the recycled buffers of one size class.
type class struct {
	free []*block
	used bool // asked for during this run
	idle int  // runs since one last asked for it
}

// block is one buffer of a size class: its storage and what the arena
// knows of it. Tensors made on it (NewUninit's, and views made with
// RunContext.View) carry the block as their header tag.
type block struct {
	key   classKey
	cls   *class  // its class
	buf   any     // the full class-length slice
	addr  uintptr // where its elements are
	bytes uintptr
	// outIdx is the block's index in arena.out while it is handed out,
	// -1 while it is free.
	outIdx int
	// views caches buf[:n] as an interface value for the lengths asked
	// for so far (nviews of them), so that handing the block out boxes no
	// slice header.
	views  [maxViews]view
	nviews int
}

type view struct {
	n    int
	data any
}

// maxViews bounds a block's cache of prefixes; a class spans lengths
// within 12.5% of each other, of which a model uses few.
const maxViews = 16

// prefix returns buf[:n] boxed, from the cache when it has it.
func (b *block) prefix(n int) any {
	for _, v := range b.views[:b.nviews] {
		if v.n == n {
			return v.data
		}
	}
	d := b.buf
	if n != b.key.n {
		d = prefix(b.buf, n)
	}
	if b.nviews < maxViews {
		b.views[b.nviews] = view{n, d}
		b.nviews++
	} else {
		b.views[n%maxViews] = view{n, d}
	}
	return d
}

func newArena() *arena {
	a := &arena{classes: map[uint64]*class{}}
	a.hdrs.SetSerialized() // every call below holds a.mu
	return a
}

// env returns the run's value table, a copy of consts.
func (a *arena) env(consts []*tensor.Tensor) []*tensor.Tensor {
	if cap(a.envBuf) < len(consts) {
		a.envBuf = make([]*tensor.Tensor, len(consts))
	}
	a.envBuf = a.envBuf[:len(consts)]
	if len(consts) > smallTable {
		copy(a.envBuf, consts)
		return a.envBuf
	}
	for i, t := range consts {
		a.envBuf[i] = t
	}
	return a.envBuf
}

// smallTable is the length up to which the lists of a run are copied
// and cleared element by element: copy and clear of a pointer slice call
// into the Go runtime, which costs more for a few elements.
const smallTable = 32

// clearTensors sets every element of ts to nil.
func clearTensors(ts []*tensor.Tensor) {
	if len(ts) > smallTable {
		clear(ts)
		return
	}
	// Not `for i := range ts`, which the compiler turns into clear.
	for i := 0; i < len(ts); i++ {
		ts[i] = nil
	}
}

// inputs returns a slice of n nils for a step's inputs; the caller clears
// it after the step.
func (a *arena) inputs(n int) []*tensor.Tensor {
	if cap(a.inBuf) < n {
		a.inBuf = make([]*tensor.Tensor, n)
	}
	return a.inBuf[:n]
}

// feeds returns a slice of n elements for the run's feeds.
func (a *arena) feeds(n int) []*tensor.Tensor {
	if cap(a.feedBuf) < n {
		a.feedBuf = make([]*tensor.Tensor, n)
	}
	return a.feedBuf[:n]
}

// dsts returns a slice of n elements for the tensors RunInto's caller
// bound.
func (a *arena) dsts(n int) []*tensor.Tensor {
	if cap(a.dstBuf) < n {
		a.dstBuf = make([]*tensor.Tensor, n)
	}
	return a.dstBuf[:n]
}

// results returns a slice of n elements for the run's outputs.
func (a *arena) results(n int) []*tensor.Tensor {
	if cap(a.resBuf) < n {
		a.resBuf = make([]*tensor.Tensor, n)
	}
	return a.resBuf[:n]
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
	a.lock()
	defer a.unlock()
	data, tag, ok := a.buffer(dt, n)
	if !ok {
		return tensor.New(dt, shape...)
	}
	return a.hdrs.Get(dt, shape, data, tag)
}

// NewPooled implements ops.PoolAllocator: n elements of dt from a
// recycled buffer of n's size class, or from a new one, under a header
// from the pool; or, when the running node computes a graph output that
// the caller bound (a.want) and the request has its type and shape, the
// caller's tensor itself.
func (a *arena) NewPooled(dt tensor.DType, n int, s ops.PoolShape) (*tensor.Tensor, bool, error) {
	a.lock()
	if w := a.want; w != nil && w.DType() == dt && tensor.ShapeEqual(w.Shape(), s.Slice()) {
		// Once: a second request of this node is not its output.
		a.want = nil
		a.unlock()
		return w, true, nil
	}
	data, tag, ok := a.buffer(dt, n)
	if !ok {
		a.unlock()
		return nil, false, nil
	}
	// data is the block's prefix of n elements of dt (n is the caller's
	// element count of s).
	t := a.hdrs.GetUnchecked(dt, s.Slice(), data, tag)
	a.unlock()
	return t, true, nil
}

// ViewPooled implements ops.PoolAllocator: a header from the pool on
// t's elements, tagged as t is (so that its block is known on release).
func (a *arena) ViewPooled(t *tensor.Tensor, s ops.PoolShape) (*tensor.Tensor, error) {
	a.lock()
	defer a.unlock()
	tag, _ := a.hdrs.Tag(t)
	return a.hdrs.Get(t.DType(), s.Slice(), t.Data(), tag)
}

// bindOutputs records in a.dstOf the tensors of dsts (RunInto's bound
// outputs, in the order of p.outputs) that the nodes computing those
// outputs may write directly: plain tensors with elements, sharing
// storage with no feed, no constant of p and no other bound tensor, so
// that writing one early changes nothing another node reads. A kernel
// asks for its output's storage at most once per node, so a tensor
// handed out for another of the node's requests (a scratch buffer) is
// only overwritten when the run copies the output in at its end, as
// without binding. It reports whether it bound any.
func (a *arena) bindOutputs(p *program, dsts, feeds []*tensor.Tensor) bool {
	if a.bindSame(p, dsts, feeds) {
		// The storage of the previous run's tensors: the same outputs
		// are alone.
		for i, ok := range a.bindLast.ok {
			if ok {
				a.dstOf[p.outputs[i]] = dsts[i]
			}
		}
		return a.bindLast.any
	}
	bound := a.bindNew(p, dsts, feeds)
	c := &a.bindLast
	c.p, c.any = p, bound
	c.dsts, c.feeds = c.dsts[:0], c.feeds[:0]
	c.valid = true
	for _, d := range dsts {
		c.dsts = append(c.dsts, dstSpan(d))
	}
	for _, f := range feeds {
		sp, ok := feedSpan(f)
		c.feeds = append(c.feeds, sp)
		c.valid = c.valid && ok
	}
	c.ok = c.ok[:0]
	for i, d := range dsts {
		c.ok = append(c.ok, bound && d != nil && a.dstOf[p.outputs[i]] == d)
	}
	return bound
}

// bindCache is what bindOutputs found for the bound tensors and feeds of
// the last run that had any. It keeps their storage ranges, not the
// tensors, so that the caller's tensors are not kept alive by the
// session between runs: whether a bound tensor may receive its output in
// place depends on those ranges alone.
type bindCache struct {
	p           *program
	dsts, feeds [][2]uintptr // storage [start, bytes) of each
	ok          []bool       // by output: bound
	any         bool
	// valid is false when a feed is a sequence or an optional, whose
	// elements' storage the ranges do not describe.
	valid bool
}

// dstSpan is the storage range bindNew looks at for a bound tensor: none
// for nil and for values that are not tensors (never bound).
func dstSpan(d *tensor.Tensor) [2]uintptr {
	if d == nil || d.Kind() != tensor.KindTensor {
		return [2]uintptr{}
	}
	lo, n := span(d.Data())
	return [2]uintptr{lo, n}
}

// feedSpan is a feed's storage range; ok is false for a sequence or an
// optional.
func feedSpan(f *tensor.Tensor) (sp [2]uintptr, ok bool) {
	if f == nil {
		return sp, true
	}
	if f.Kind() != tensor.KindTensor {
		return sp, false
	}
	lo, n := span(f.Data())
	return [2]uintptr{lo, n}, true
}

// bindSame reports whether dsts and feeds have the storage that
// bindOutputs saw last, for p.
func (a *arena) bindSame(p *program, dsts, feeds []*tensor.Tensor) bool {
	c := &a.bindLast
	if !c.valid || c.p != p || len(c.dsts) != len(dsts) || len(c.feeds) != len(feeds) {
		return false
	}
	for i, d := range dsts {
		if dstSpan(d) != c.dsts[i] {
			return false
		}
	}
	for i, f := range feeds {
		if sp, ok := feedSpan(f); !ok || sp != c.feeds[i] {
			return false
		}
	}
	return true
}

// bindNew is bindOutputs without the cache.
func (a *arena) bindNew(p *program, dsts, feeds []*tensor.Tensor) bool {
	bound := false
	for i, d := range dsts {
		if d == nil || d.Kind() != tensor.KindTensor {
			continue
		}
		lo, n := span(d.Data())
		if lo == 0 || !a.alone(p, i, lo, lo+n, dsts, feeds) {
			continue
		}
		if len(a.dstOf) < p.slots {
			a.dstOf = make([]*tensor.Tensor, p.slots)
		}
		a.dstOf[p.outputs[i]] = d
		bound = true
	}
	return bound
}

// alone reports whether no feed, no constant of p and no tensor of dsts
// but the i-th (the same tensor bound to two outputs is not alone) has
// elements in [lo, hi), the storage of dsts[i].
func (a *arena) alone(p *program, i int, lo, hi uintptr, dsts, feeds []*tensor.Tensor) bool {
	for _, f := range feeds {
		if f != nil && touches(f, lo, hi) {
			return false
		}
	}
	for j, o := range dsts {
		if o != nil && j != i && touches(o, lo, hi) {
			return false
		}
	}
	for _, c := range p.constSpans {
		if c[0] < hi && lo < c[1] {
			return false
		}
	}
	return true
}

// unbindOutputs forgets what bindOutputs recorded.
func (a *arena) unbindOutputs(p *program) {
	for _, s := range p.outputs {
		a.dstOf[s] = nil
	}
	a.want = nil
}

// detach makes t, a value the run returns, the caller's (see
// tensor.HeaderPool.Detach).
func (a *arena) detach(t *tensor.Tensor) {
	a.lock()
	a.hdrs.Detach(t)
	a.unlock()
}

// buffer returns n elements of dt from a recycled buffer of n's size
// class, or from a new one, and the block as the tag; ok is false for
// types and sizes the arena does not recycle. The caller holds a.mu.
func (a *arena) buffer(dt tensor.DType, n int) (data, tag any, ok bool) {
	if n == 0 || !recyclable(dt) {
		return nil, nil, false
	}
	key := classKey{dt, sizeClass(n)}
	c := a.classes[key.id()]
	if c == nil || len(c.free) == 0 {
		if lc := a.larger(key); lc != nil {
			c = lc
		}
	}
	if c == nil {
		c = &class{}
		a.classes[key.id()] = c
	}
	if !c.used {
		c.used = true
		a.used = append(a.used, c)
	}
	var b *block
	if k := len(c.free); k > 0 {
		b = c.free[k-1]
		c.free[k-1] = nil
		c.free = c.free[:k-1]
	} else {
		if key.n > tensor.MaxBytes/max(dt.Size(), 1) {
			// The class may exceed a size limit that n itself meets.
			return nil, nil, false
		}
		b = &block{key: key, cls: c, buf: makeBuffer(dt, key.n)}
		b.addr, b.bytes = span(b.buf)
	}
	b.outIdx = len(a.out)
	a.out = append(a.out, b)
	return b.prefix(n), b, true
}

// larger returns the smallest class of key's type, larger than key's
// and at most arenaBorrow times its length, that has a free block, or
// nil. A request lends a block of a larger class rather than making one
// of its own: values that grow through a model and then shrink
// (DenseNet's concatenations, 96 to 256 channels of 56×56 in its first
// block, then 128 to 512 of 28×28 in the second) reuse the first
// block's buffers instead of each size keeping its own (after a run,
// DenseNet-121's arena held 47 MB that way, 21 MB this way; Inception v1
// 22 → 10 MB, ResNet-50 18 → 14 MB). The caller holds a.mu.
func (a *arena) larger(key classKey) *class {
	for m := sizeClass(key.n + 1); m <= arenaBorrow*key.n; m = sizeClass(m + 1) {
		if c := a.classes[classKey{key.dt, m}.id()]; c != nil && len(c.free) > 0 {
			return c
		}
	}
	return nil
}

// arenaBorrow bounds how many times its length a block lent to a
// smaller request may be (see larger).
const arenaBorrow = 4

// recycle puts b, which no live value reads, back on its class's free
// list. The caller holds a.mu.
func (a *arena) recycle(b *block) {
	last := len(a.out) - 1
	a.out[b.outIdx] = a.out[last]
	a.out[b.outIdx].outIdx = b.outIdx
	a.out[last] = nil
	a.out = a.out[:last]
	b.outIdx = -1
	// The class was asked for during this run (the block was handed out
	// in it), so endRun has not dropped it.
	c := b.cls
	c.free = append(c.free, b)
}

// blockAt returns the handed-out block holding address addr, or nil: the
// storage of a tensor that a kernel built on an arena buffer without the
// arena's help. The caller holds a.mu.
func (a *arena) blockAt(addr uintptr) *block {
	for _, b := range a.out {
		if b.addr <= addr && addr < b.addr+b.bytes {
			return b
		}
	}
	return nil
}

// recyclable reports whether buffers of dt go through the free lists:
// fixed-size types that prefix and span know.
func recyclable(dt tensor.DType) bool {
	return dt != tensor.String && dt.Supported()
}

// makeBuffer returns a new slice of n elements of dt, a type recyclable
// allows, with spare capacity of at least bufferSlack bytes after them.
func makeBuffer(dt tensor.DType, n int) any {
	switch dt {
	case tensor.Float32:
		return alignedFloat32s(n, bufferSlack/4)
	case tensor.Float64:
		return make([]float64, n, n+bufferSlack/8)
	case tensor.Int64:
		return make([]int64, n, n+bufferSlack/8)
	case tensor.Int32:
		return make([]int32, n, n+bufferSlack/4)
	case tensor.Uint8:
		return make([]uint8, n, n+bufferSlack)
	case tensor.Int8:
		return make([]int8, n, n+bufferSlack)
	case tensor.Bool:
		return make([]bool, n, n+bufferSlack)
	case tensor.Float16:
		return make([]tensor.Half, n, n+bufferSlack/2)
	case tensor.BFloat16:
		return make([]tensor.BF16, n, n+bufferSlack/2)
	case tensor.Int16:
		return make([]int16, n, n+bufferSlack/2)
	case tensor.Uint16:
		return make([]uint16, n, n+bufferSlack/2)
	case tensor.Uint32:
		return make([]uint32, n, n+bufferSlack/4)
	case tensor.Uint64:
		return make([]uint64, n, n+bufferSlack/8)
	}
	return tensor.MustNew(dt, n).Data() // the float8 types
}

// bufferSlack is the spare capacity, in bytes, after the elements of an
// arena buffer. The assembly kernels finish a row with masked vector
// loads and stores (up to 64 bytes from an element of the row) that may
// reach past the last element without using those lanes; when those
// lanes fall on a page the process has never touched, the CPU takes a
// microcode assist on every such access (measured on Zen 3: about 70 ns
// per load, 0.5 µs per call of a one-column product), while within the
// buffer's own allocation they cost nothing.
const bufferSlack = 64

// alignedFloat32s returns n float32s, with spare more of capacity,
// starting on a 64-byte boundary: a cache line, and one AVX-512 vector,
// so that the kernels' vector loads and stores at multiples of 16 floats
// from a buffer's start never straddle two lines (a convolution GEMM
// writing C 16 bytes off that boundary took 1-2% longer on a Xeon with
// AVX-512).
func alignedFloat32s(n, spare int) []float32 {
	s := make([]float32, n+spare+16)
	off := (16 - int(uintptr(unsafe.Pointer(unsafe.SliceData(s)))&63)/4) & 15
	return s[off : off+n : off+n+spare]
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
	case []tensor.Half:
		return b[:n]
	case []tensor.BF16:
		return b[:n]
	case []int16:
		return b[:n]
	case []uint16:
		return b[:n]
	case []uint32:
		return b[:n]
	case []uint64:
		return b[:n]
	case []tensor.Float8:
		return b[:n]
	}
	panic(fmt.Sprintf("arena: unexpected buffer type %T", buf))
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
	case nil:
		return 0, 0
	}
	if v := reflect.ValueOf(data); v.Kind() == reflect.Slice && v.Len() > 0 {
		return v.Pointer(), uintptr(v.Len()) * v.Type().Elem().Size()
	}
	return 0, 0
}

// Free implements ops.PoolAllocator: a kernel's scratch tensor t is
// dead. The run's value table is checked as for any release, so that a
// kernel freeing one of its inputs by mistake frees nothing.
func (a *arena) Free(t *tensor.Tensor) { a.release(t, a.live, a.liveSlots) }

// release takes back t, a value that is now dead: its header, unless a
// live value is that very tensor or holds it (Identity returns its input;
// a sequence holds its elements), and its buffer, unless a live value has
// elements in it (a view). The live values are live[i] for i in slots, or
// all of live when slots is nil: the run's value table without its
// constants (which never hold arena memory) or, after the run, its
// remaining outputs. Only what the arena handed out during this run is
// taken back.
func (a *arena) release(t *tensor.Tensor, live []*tensor.Tensor, slots []int) {
	if t == nil || t.Kind() != tensor.KindTensor {
		return
	}
	a.lock()
	a.releaseLocked(t, live, slots)
	a.unlock()
}

// releaseLocked is release with a.mu held.
func (a *arena) releaseLocked(t *tensor.Tensor, live []*tensor.Tensor, slots []int) {
	tag, mine := a.hdrs.Tag(t)
	b, _ := tag.(*block)
	if b == nil {
		if addr, _ := span(t.Data()); addr != 0 {
			b = a.blockAt(addr)
		}
	}
	var lo, hi uintptr // the block's storage, when it is still out
	if b != nil && b.outIdx >= 0 {
		lo, hi = b.addr, b.addr+b.bytes
	} else if !mine {
		return // a feed, a constant, or no longer the arena's: nothing to take
	}
	// One pass over the live values: one that is or holds t keeps
	// everything; one with elements in the block keeps the buffer.
	viewed := false
	if slots == nil {
		for _, v := range live {
			if v != nil {
				held, in := relation(v, t, lo, hi)
				if held {
					return
				}
				viewed = viewed || in
			}
		}
	} else {
		for _, s := range slots {
			if v := live[s]; v != nil {
				held, in := relation(v, t, lo, hi)
				if held {
					return
				}
				viewed = viewed || in
			}
		}
	}
	if mine {
		a.hdrs.Take(t)
	}
	if lo != hi && !viewed {
		a.recycle(b)
	}
}

// relation reports whether the live value v is or holds t (see holds),
// and whether it has elements in [lo, hi) (see touches; false when the
// range is empty).
func relation(v, t *tensor.Tensor, lo, hi uintptr) (held, in bool) {
	if v == t {
		return true, false
	}
	if v.Kind() != tensor.KindTensor {
		return holds(v, t), lo != hi && touches(v, lo, hi)
	}
	if lo == hi {
		return false, false
	}
	addr, bytes := span(v.Data())
	return false, addr < hi && lo < addr+bytes
}

// holds reports whether v is t or a sequence or optional holding t.
func holds(v, t *tensor.Tensor) bool {
	if v == t {
		return true
	}
	switch v.Kind() {
	case tensor.KindSequence:
		for _, e := range v.Elems() {
			if holds(e, t) {
				return true
			}
		}
	case tensor.KindOptional:
		if e, ok := v.OptionalValue(); ok && e != nil {
			return holds(e, t)
		}
	}
	return false
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

// endRun forgets the buffers and headers still handed out (they are the
// run's outputs, now the caller's, or were dropped by a failed run or a
// kernel) and drops the classes that the last arenaKeepRuns runs did not
// use.
func (a *arena) endRun() {
	a.rc.ResetRun()
	a.live, a.liveSlots = nil, nil
	clearTensors(a.resBuf)
	clearTensors(a.feedBuf)
	clearTensors(a.dstBuf)
	clearTensors(a.inBuf[:cap(a.inBuf)]) // a kernel's panic may have left its inputs
	a.want = nil
	a.lock()
	defer a.unlock()
	a.hdrs.EndGeneration()
	for i, b := range a.out {
		b.outIdx = -1
		a.out[i] = nil
	}
	a.out = a.out[:0]
	if len(a.used) < len(a.classes) {
		for k, c := range a.classes {
			if !c.used {
				if c.idle++; c.idle >= arenaKeepRuns {
					delete(a.classes, k)
				}
			}
		}
	}
	for i, c := range a.used {
		c.used, c.idle = false, 0
		a.used[i] = nil
	}
	a.used = a.used[:0]
}

// arenaPool holds the arenas of idle runs of one session: the last one
// put back in hot, which back-to-back runs take and return without a
// lock, and any others in idle.
type arenaPool struct {
	hot  atomic.Pointer[arena]
	mu   sync.Mutex
	idle []*arena
}

func (p *arenaPool) get() *arena {
	if a := p.hot.Swap(nil); a != nil {
		return a
	}
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
	if a := p.hot.Swap(nil); a != nil {
		a.workers.Close()
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, a := range p.idle {
		a.workers.Close()
	}
	p.idle = nil
}

func (p *arenaPool) put(a *arena) {
	a.endRun()
	if p.hot.CompareAndSwap(nil, a) {
		return
	}
	p.mu.Lock()
	p.idle = append(p.idle, a)
	p.mu.Unlock()
}

var _ ops.PoolAllocator = (*arena)(nil)
