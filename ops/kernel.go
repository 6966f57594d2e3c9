package ops

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/onyxrt/onyx/tensor"
)

// Kernel runs one node. It must not modify its inputs and must be safe to
// call from many goroutines at once (all per-call state lives on the stack
// or in the returned tensors). An optional input that the node omits is
// nil in inputs. Run returns one tensor per node output; an output the
// node does not name may be returned as nil. The inputs slice itself is
// the runtime's and may be reused once Run returns: keep the tensors, not
// the slice. Likewise the returned slice is read once by the caller and
// not kept, so a kernel may return rc.Results(...), storage the run
// reuses for every node, instead of a fresh slice.
type Kernel interface {
	Run(rc *RunContext, inputs []*tensor.Tensor) ([]*tensor.Tensor, error)
}

// KernelFunc adapts a function to Kernel.
type KernelFunc func(rc *RunContext, inputs []*tensor.Tensor) ([]*tensor.Tensor, error)

// Run calls f.
func (f KernelFunc) Run(rc *RunContext, inputs []*tensor.Tensor) ([]*tensor.Tensor, error) {
	return f(rc, inputs)
}

// RunContext is what a kernel sees of the run it is part of.
type RunContext struct {
	// Ctx is the caller's context; long kernels and loops check it.
	Ctx context.Context
	// Threads is the number of compute goroutines a kernel may use (>= 1).
	Threads int
	// Outer resolves values of enclosing scopes, for subgraphs that read
	// outer-scope values. It is set by the runtime when running a
	// subgraph-bearing node.
	Outer func(name string) (*tensor.Tensor, bool)
	// Seed, when Seeded, is what random operators without a seed
	// attribute (Dropout in training mode, RandomNormal, ...) draw from
	// instead of fresh entropy; the runtime derives it for each step
	// from the run's seed, so that a seeded run is reproducible.
	Seed   uint64
	Seeded bool
	// Workers, when set, are the run's worker goroutines, which kernels
	// that split their work hand chunks to (parallelFor); nil means
	// fresh goroutines per split.
	Workers *Workers
	// Alloc supplies the storage of output tensors (the runtime's
	// per-run arena, which recycles the buffers of dead values); nil
	// means fresh memory from tensor.New.
	Alloc Allocator
	// Pool, when set, is Alloc as a PoolAllocator (the runtime sets
	// both), which saves kernels a type assertion per allocation.
	Pool PoolAllocator

	// results is the storage Results hands out, reused by every node.
	results [8]*tensor.Tensor
}

// Allocator supplies tensor storage to kernels. Its buffers may be
// recycled ones, so NewUninit's contents are undefined; New zeroes.
// An Allocator serves one run at a time: kernels that split work over
// goroutines allocate before they split.
type Allocator interface {
	// NewUninit returns a tensor whose elements the caller must all
	// write before it returns the tensor. It must not keep shape.
	NewUninit(dt tensor.DType, shape []int) (*tensor.Tensor, error)
}

// PoolAllocator is an Allocator that also recycles tensor headers, so
// that a kernel's outputs (and views, see RunContext.View) cost no heap
// allocation in steady state. Shapes go to it by value (PoolShape), so
// that a call through the interface does not make the kernel's shape
// escape to the heap.
type PoolAllocator interface {
	Allocator
	// NewPooled returns a tensor of dt and shape s whose n elements (n is
	// s's element count) come from the pool, contents undefined, or ok
	// false when it has no storage to give (the caller then allocates
	// fresh memory).
	NewPooled(dt tensor.DType, n int, s PoolShape) (t *tensor.Tensor, ok bool, err error)
	// ViewPooled returns a tensor that shares t's elements under shape s,
	// of t's element count (checked by the caller), with a header from
	// the pool.
	ViewPooled(t *tensor.Tensor, s PoolShape) (*tensor.Tensor, error)
	// Free takes back t, a tensor the allocator gave out during this run
	// that nothing reads any more (see RunContext.Free).
	Free(t *tensor.Tensor)
}

// PoolRank is the largest rank of a PoolShape; tensors of higher rank
// are allocated outside the pool.
const PoolRank = 8

// PoolShape is a shape of rank at most PoolRank: Dims[:Rank].
type PoolShape struct {
	Rank int
	Dims [PoolRank]int
}

// Slice returns the shape as a slice of s's own storage.
func (s *PoolShape) Slice() []int { return s.Dims[:s.Rank] }

// pool returns rc's PoolAllocator, or nil.
func (rc *RunContext) pool() PoolAllocator {
	if rc == nil || rc.Alloc == nil {
		return nil
	}
	if rc.Pool != nil {
		return rc.Pool
	}
	pa, _ := rc.Alloc.(PoolAllocator)
	return pa
}

// NewTensor returns a zero-filled output tensor, from rc.Alloc when set.
// Kernels allocate their outputs through it (or NewUninit) rather than
// tensor.New, so that the runtime can reuse memory across runs.
func (rc *RunContext) NewTensor(dt tensor.DType, shape ...int) (*tensor.Tensor, error) {
	if rc == nil || rc.Alloc == nil || dt == tensor.String {
		return tensor.New(dt, shape...)
	}
	t, err := rc.NewUninit(dt, shape...)
	if err != nil {
		return nil, err
	}
	clearData(t)
	return t, nil
}

// NewUninit is NewTensor without the zeroing: the kernel must write every
// element of the returned tensor. Fixed-size element types only (strings
// are always zeroed). The shape is copied.
func (rc *RunContext) NewUninit(dt tensor.DType, shape ...int) (*tensor.Tensor, error) {
	if rc == nil || rc.Alloc == nil || dt == tensor.String {
		return tensor.New(dt, shape...)
	}
	pa := rc.pool()
	if pa == nil {
		// An interface call would make every caller's shape escape to
		// the heap: hand the allocator a copy instead.
		return rc.Alloc.NewUninit(dt, slices.Clone(shape))
	}
	if len(shape) > PoolRank {
		return tensor.New(dt, shape...)
	}
	n, err := tensor.NumElements(shape)
	if err != nil {
		return nil, err
	}
	var s PoolShape
	s.Rank = copy(s.Dims[:], shape)
	t, ok, err := pa.NewPooled(dt, n, s)
	if err != nil || ok {
		return t, err
	}
	return tensor.New(dt, shape...)
}

// Free gives back t, a scratch tensor the kernel made with NewUninit or
// NewTensor during this call and does not return, so that its storage
// serves later allocations (a scratch tensor that is just dropped is
// only collected by the Go heap, and the run's allocator makes a new one
// in the next run). The kernel must not use t, nor any view of it,
// afterwards. Tensors from elsewhere are ignored.
func (rc *RunContext) Free(t *tensor.Tensor) {
	if t == nil {
		return
	}
	if pa := rc.pool(); pa != nil {
		pa.Free(t)
	}
}

// View returns a tensor that shares t's elements under another shape of
// the same element count: the output of layout operators (Reshape,
// Flatten, Squeeze, Unsqueeze, Identity). Its header comes from the run's
// pool when there is one. The shape is copied.
func (rc *RunContext) View(t *tensor.Tensor, shape ...int) (*tensor.Tensor, error) {
	if t.Kind() != tensor.KindTensor {
		return nil, fmt.Errorf("a %s has no shape to view", kindName(t.Kind()))
	}
	pa := rc.pool()
	if pa == nil || len(shape) > PoolRank {
		return t.Reshape(shape...)
	}
	n, err := tensor.NumElements(shape)
	if err != nil {
		return nil, err
	}
	if n != t.Len() {
		return nil, fmt.Errorf("cannot reshape %v (%d elements) to %v (%d elements)", t.Shape(), t.Len(), slices.Clone(shape), n)
	}
	var s PoolShape
	s.Rank = copy(s.Dims[:], shape)
	return pa.ViewPooled(t, s)
}

func kindName(k tensor.Kind) string {
	switch k {
	case tensor.KindSequence:
		return "sequence"
	case tensor.KindOptional:
		return "optional"
	}
	return "tensor"
}

// Results returns ts as a kernel's output list, in storage that rc
// reuses for every node of the run (so returning it costs no
// allocation): `return rc.Results(y), nil`. The slice is valid until the
// next call of Results on rc, which is after the runtime has read it;
// a kernel that calls other kernels must read their results before it
// calls Results itself. With a nil rc, or more than 8 tensors, the
// slice is a fresh one.
func (rc *RunContext) Results(ts ...*tensor.Tensor) []*tensor.Tensor {
	if rc == nil || len(ts) > len(rc.results) {
		return append([]*tensor.Tensor(nil), ts...)
	}
	// Element by element: for the one or two results of most nodes, a
	// loop costs less than copy and clear, which call into the Go
	// runtime for pointer slices. Entries past n may keep earlier
	// results until ResetRun.
	for i, t := range ts {
		rc.results[i] = t
	}
	return rc.results[:len(ts):len(ts)]
}

// ResetRun drops what rc refers to (the context, the allocator, the
// workers, the last node's results), keeping nothing alive between runs
// of the runtime's arena that holds it.
func (rc *RunContext) ResetRun() {
	rc.Ctx, rc.Outer, rc.Workers, rc.Alloc, rc.Pool = nil, nil, nil, nil, nil
	rc.Seed, rc.Seeded, rc.Threads = 0, false, 0
	// Not `for i := range rc.results`, which the compiler turns into a
	// call of the Go runtime's clear.
	for i := 0; i < len(rc.results); i++ {
		rc.results[i] = nil
	}
}

// resultSlots returns n nil entries of rc's reused result storage (see
// Results), for a kernel that fills its outputs one by one.
func (rc *RunContext) resultSlots(n int) []*tensor.Tensor {
	if rc == nil || n > len(rc.results) {
		return make([]*tensor.Tensor, n)
	}
	clear(rc.results[:])
	return rc.results[:n:n]
}

// one wraps a single result (or error) as a kernel's output list, in
// rc's reused storage (see Results).
func (rc *RunContext) one(t *tensor.Tensor, err error) ([]*tensor.Tensor, error) {
	if err != nil {
		return nil, err
	}
	return rc.Results(t), nil
}

// clearData zeroes t's elements.
func clearData(t *tensor.Tensor) {
	switch d := t.Data().(type) {
	case []float32:
		clear(d)
	case []float64:
		clear(d)
	case []int64:
		clear(d)
	case []int32:
		clear(d)
	case []uint8:
		clear(d)
	case []int8:
		clear(d)
	case []bool:
		clear(d)
	default:
		tensor.Zero(t)
	}
}

// Err returns the context's error, if the run was cancelled.
func (rc *RunContext) Err() error {
	if rc == nil || rc.Ctx == nil {
		return nil
	}
	return rc.Ctx.Err()
}

// Subgraph is a compiled graph attribute (the body of If, Loop or Scan).
// The runtime provides it through Builder.Subgraph.
type Subgraph interface {
	// InputNames and OutputNames are the formal parameters and results.
	InputNames() []string
	OutputNames() []string
	// Call runs the subgraph. rc.Outer must resolve the outer-scope values
	// the subgraph reads.
	Call(rc *RunContext, inputs []*tensor.Tensor) ([]*tensor.Tensor, error)
}

// AttrType is the kind of an attribute value, numbered as in ONNX's
// AttributeProto.AttributeType.
type AttrType int

// Attribute kinds.
const (
	AttrUndefined AttrType = 0
	AttrFloat     AttrType = 1
	AttrInt       AttrType = 2
	AttrString    AttrType = 3
	AttrTensor    AttrType = 4
	AttrGraph     AttrType = 5
	AttrFloats    AttrType = 6
	AttrInts      AttrType = 7
	AttrStrings   AttrType = 8
	AttrTensors   AttrType = 9
	AttrGraphs    AttrType = 10
	AttrTypeProto AttrType = 13
)

var attrTypeNames = map[AttrType]string{
	AttrFloat: "float", AttrInt: "int", AttrString: "string", AttrTensor: "tensor",
	AttrGraph: "graph", AttrFloats: "floats", AttrInts: "ints", AttrStrings: "strings",
	AttrTensors: "tensors", AttrGraphs: "graphs", AttrTypeProto: "type_proto",
}

func (t AttrType) String() string {
	if s, ok := attrTypeNames[t]; ok {
		return s
	}
	return fmt.Sprintf("attrtype(%d)", int(t))
}

// Attr is one node attribute. Graph values are held opaquely (the graph
// package's *Graph); kernels reach them compiled, through
// Builder.Subgraph.
type Attr struct {
	Name    string
	Type    AttrType
	Float   float32
	Int     int64
	String  string
	Tensor  *tensor.Tensor
	Graph   any
	Floats  []float32
	Ints    []int64
	Strings []string
	Tensors []*tensor.Tensor
	Graphs  []any
	// TypeProtoDType is the element type of a TYPE_PROTO attribute.
	TypeProtoDType tensor.DType
}

// Builder gives a Def's Build function what it needs to know about one
// node: its attributes, its arity, the opset, constant inputs, and a way to
// compile subgraph attributes. Getters record the first error they meet
// (a wrong attribute type, a missing required attribute), reported by Err,
// so Build can read all attributes and check once.
type Builder struct {
	NodeName string
	OpType   string
	Domain   string
	// Opset is the model's opset version for the node's domain.
	Opset int
	// NumInputs counts the node's inputs, including omitted optional ones
	// (empty names); NumOutputs likewise.
	NumInputs  int
	NumOutputs int
	// InputPresent[i] / OutputPresent[i] say whether the node names that
	// input / output.
	InputPresent  []bool
	OutputPresent []bool
	Attrs         map[string]*Attr
	// Const returns the value of input i when it is a constant
	// (initializer or folded constant) at compile time, else nil.
	Const func(i int) *tensor.Tensor
	// CompileGraph compiles a graph attribute into a Subgraph.
	CompileGraph func(g any) (Subgraph, error)
	// Graph is the graph the node belongs to (a *graph.Graph) and
	// OpsetOf gives the model's opset for any domain, for the rare
	// operators that read their surroundings (the training Gradient op).
	Graph   any
	OpsetOf func(domain string) int

	used map[string]bool
	err  error
}

// Err returns the first attribute error met by a getter.
func (b *Builder) Err() error { return b.err }

// Fail records err as the build error (if none yet) and returns it.
func (b *Builder) Fail(format string, args ...any) error {
	if b.err == nil {
		b.err = fmt.Errorf(format, args...)
	}
	return b.err
}

func (b *Builder) attr(name string, want ...AttrType) *Attr {
	a, ok := b.Attrs[name]
	if !ok {
		return nil
	}
	for _, w := range want {
		if a.Type == w {
			return a
		}
	}
	names := make([]string, len(want))
	for i, w := range want {
		names[i] = w.String()
	}
	b.Fail("attribute %q has type %v, want %s", name, a.Type, strings.Join(names, " or "))
	return nil
}

// Has reports whether the node sets attribute name.
func (b *Builder) Has(name string) bool { _, ok := b.Attrs[name]; return ok }

// Int returns an int attribute, or def when absent.
func (b *Builder) Int(name string, def int64) int64 {
	if a := b.attr(name, AttrInt); a != nil {
		return a.Int
	}
	return def
}

// Float returns a float attribute, or def when absent.
func (b *Builder) Float(name string, def float32) float32 {
	if a := b.attr(name, AttrFloat); a != nil {
		return a.Float
	}
	return def
}

// String returns a string attribute, or def when absent.
func (b *Builder) String(name string, def string) string {
	if a := b.attr(name, AttrString); a != nil {
		return a.String
	}
	return def
}

// Ints returns an ints attribute, or def when absent.
func (b *Builder) Ints(name string, def []int64) []int64 {
	if a := b.attr(name, AttrInts); a != nil {
		return a.Ints
	}
	return def
}

// Floats returns a floats attribute, or def when absent.
func (b *Builder) Floats(name string, def []float32) []float32 {
	if a := b.attr(name, AttrFloats); a != nil {
		return a.Floats
	}
	return def
}

// Strings returns a strings attribute, or def when absent.
func (b *Builder) Strings(name string, def []string) []string {
	if a := b.attr(name, AttrStrings); a != nil {
		return a.Strings
	}
	return def
}

// Tensor returns a tensor attribute, or nil when absent.
func (b *Builder) Tensor(name string) *tensor.Tensor {
	if a := b.attr(name, AttrTensor); a != nil {
		return a.Tensor
	}
	return nil
}

// RequireInt returns a required int attribute, recording an error when it
// is missing.
func (b *Builder) RequireInt(name string) int64 {
	if !b.Has(name) {
		b.Fail("required attribute %q is missing", name)
		return 0
	}
	return b.Int(name, 0)
}

// RequireInts returns a required ints attribute.
func (b *Builder) RequireInts(name string) []int64 {
	if !b.Has(name) {
		b.Fail("required attribute %q is missing", name)
		return nil
	}
	return b.Ints(name, nil)
}

// Subgraph compiles the required graph attribute name.
func (b *Builder) Subgraph(name string) Subgraph {
	a := b.attr(name, AttrGraph)
	if a == nil {
		if b.err == nil {
			b.Fail("required graph attribute %q is missing", name)
		}
		return nil
	}
	if b.CompileGraph == nil {
		b.Fail("graph attribute %q cannot be compiled here", name)
		return nil
	}
	sg, err := b.CompileGraph(a.Graph)
	if err != nil {
		b.Fail("attribute %q: %w", name, err)
		return nil
	}
	return sg
}

// In reports whether optional input i is present.
func (b *Builder) In(i int) bool { return i < len(b.InputPresent) && b.InputPresent[i] }

// Out reports whether optional output i is requested.
func (b *Builder) Out(i int) bool { return i < len(b.OutputPresent) && b.OutputPresent[i] }

// ConstInput returns input i if it is known at compile time, else nil.
func (b *Builder) ConstInput(i int) *tensor.Tensor {
	if b.Const == nil || !b.In(i) {
		return nil
	}
	return b.Const(i)
}
