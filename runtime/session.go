// Package runtime compiles a graph into an execution plan and runs it.
//
// Compile resolves every node to an operator kernel (reporting all
// unsupported operators of a model at once), sorts the nodes, folds the
// parts of the graph that depend only on constants, and computes for every
// intermediate value the step after which it is dead, so that a run holds
// only live tensors. The resulting Session is immutable: Run may be called
// from many goroutines at once, each run keeping its own value table.
//
// Memory planning is dynamic: each run borrows an arena from its session
// (arena.go). Kernels allocate outputs through ops.RunContext.NewUninit,
// which the arena serves from buffers of values that are already dead,
// in this run or an earlier one, grouped in size classes; a value's buffer
// goes back as soon as its last reader has run, unless a live view
// (Reshape, Identity and the other layout ops share their input's
// storage, through ops.RunContext.View) still points into it. The tensor
// headers come back too (a tensor.HeaderPool per arena, whose generation
// ends with the run), and a kernel returns its output list in storage the
// run reuses (ops.RunContext.Results), as does the runtime's bookkeeping:
// a warm run asks the Go heap for nothing. Outputs returned to the caller
// are never recycled, and a returned output that would share storage with
// a feed or a constant is copied first.
//
// Concat is computed in place where its inputs are contiguous blocks of
// its output (place.go): Compile places them, down chains of Concats, in
// the storage of the last Concat, in buffers that each arena makes once
// and keeps and that Concats whose lives do not overlap share; the nodes
// computing them write them there, and the Concat has nothing left to
// copy (DenseNet-121's 58 concatenations: 3.5 ms a run before).
//
// Run returns fresh output tensors (and a fresh map) each time. RunInto
// writes the outputs into tensors the caller bound once, so that a warm
// call makes no heap allocation at all (TestZeroAllocationRuns and
// TestOperatorsRunWithoutAllocating check this); the caller then owns
// what it reads until its next RunInto on those tensors.
//
// Shape and Size of a graph input whose declared shape is fully static are
// folded at compile time (Run checks feeds against that shape), and with
// them what depends only on them.
//
// The runtime imports graph, ops and tensor, never onnx: models reach it as
// graph.Model values.
package runtime

import (
	"context"
	"errors"
	"fmt"
	goruntime "runtime"
	"runtime/debug"
	"slices"
	"sort"
	"strings"

	"github.com/onyxrt/onyx/graph"
	"github.com/onyxrt/onyx/ops"
	"github.com/onyxrt/onyx/tensor"
)

// Options configure Compile.
type Options struct {
	// Threads bounds the compute goroutines one Run may use; 0 means one
	// per CPU.
	Threads int
	// Registry supplies the operators; nil means ops.Default().
	Registry *ops.Registry
	// DisableConstantFolding keeps every node for run time (for tests that
	// want each operator executed).
	DisableConstantFolding bool
	// DisableGraphPasses skips graph.Optimize (BatchNorm folding,
	// transpose cancellation, dead-node removal).
	DisableGraphPasses bool
	// ProfileNodes makes the session time each node's kernel on every
	// run (two clock reads per node), for Session.NodeTimes.
	ProfileNodes bool
}

// Session is a compiled model, safe for concurrent use.
type Session struct {
	inputs  []graph.ValueInfo
	outputs []graph.ValueInfo
	prog    *program
	threads int
	// distinctInputs is whether no two inputs share a name (as in any
	// valid model), so that feeds with one entry per input hold no other.
	distinctInputs bool
	// distinctOutputs likewise for the outputs.
	distinctOutputs bool
	// feedOrder is whether the program takes its inputs in the order of
	// inputs, so that a run hands it the feeds as a list (runFed).
	feedOrder bool
	// arenas recycle intermediate buffers from run to run; the pool is
	// the one part of a Session that changes, and it locks.
	arenas *arenaPool
}

// UnsupportedError lists every operator of a model that the registry
// cannot run.
type UnsupportedError struct {
	// OpTypes are the distinct unsupported operators, sorted.
	OpTypes []string
	// Problems has one line per node: its name, op type, domain, opset.
	Problems []string
}

func (e *UnsupportedError) Error() string {
	return fmt.Sprintf("%d node(s) with unsupported operators %s:\n  %s", len(e.Problems), strings.Join(e.OpTypes, ", "), strings.Join(e.Problems, "\n  "))
}

// Compile prepares a model for running.
func Compile(m *graph.Model, opts Options) (s *Session, err error) {
	defer func() {
		if r := recover(); r != nil {
			s, err = nil, fmt.Errorf("compile: internal error: %v\n%s", r, debug.Stack())
		}
	}()
	if m == nil || m.Graph == nil {
		return nil, errors.New("compile: model has no graph")
	}
	reg := opts.Registry
	if reg == nil {
		reg = ops.Default()
	}
	threads := opts.Threads
	if threads <= 0 {
		threads = goruntime.NumCPU()
	}
	c := &compiler{unsupportedOps: map[string]bool{}, model: m, reg: reg, fold: !opts.DisableConstantFolding, threads: threads}
	prog, err := c.compile(m.Graph, nil)
	weights := weightBytes(m.Graph)
	if err == nil && len(c.unsupported) == 0 && !opts.DisableGraphPasses && c.fold {
		// The passes see the graph with its constant parts folded into
		// initializers (weights made by ConstantOfShape, shapes computed
		// from constants), then the result is compiled again.
		folded := foldedGraph(m.Graph, prog)
		weights = max(weights, weightBytes(folded)) // weights made by ConstantOfShape count too
		// The first program's kernels (filters and weights packed for
		// them) are garbage now: collect them before the second compile
		// packs its own, so that the two are never in memory at once (a
		// model's peak memory would be about twice its weights).
		prog = nil
		goruntime.GC()
		optimized := graph.Optimize(folded)
		if weights >= gcAfterCompileBytes {
			// The filters the passes replaced (folding a
			// BatchNormalization or a Mul into a Conv) are garbage
			// now that folded is.
			folded = nil
			goruntime.GC()
		}
		c = &compiler{unsupportedOps: map[string]bool{}, model: m, reg: reg, fold: true, threads: threads}
		prog, err = c.compile(optimized, nil)
	}
	if len(c.unsupported) > 0 {
		sort.Strings(c.unsupported)
		types := make([]string, 0, len(c.unsupportedOps))
		for op := range c.unsupportedOps {
			types = append(types, op)
		}
		sort.Strings(types)
		return nil, &UnsupportedError{OpTypes: types, Problems: c.unsupported}
	}
	if err != nil {
		return nil, err
	}
	if opts.ProfileNodes {
		prog.prof = make([]stepTime, len(prog.steps))
	}
	s = &Session{
		inputs:  m.Graph.FeedInputs(),
		outputs: m.Graph.Outputs,
		prog:    prog,
		threads: threads,
		arenas:  &arenaPool{},
	}
	names := map[string]bool{}
	for _, in := range s.inputs {
		names[in.Name] = true
	}
	s.distinctInputs = len(names) == len(s.inputs)
	clear(names)
	for _, o := range s.outputs {
		names[o.Name] = true
	}
	s.distinctOutputs = len(names) == len(s.outputs)
	s.feedOrder = len(prog.inputNames) == len(s.inputs)
	for i, name := range prog.inputNames {
		s.feedOrder = s.feedOrder && s.inputs[i].Name == name
	}
	// Idle workers block without spinning; once the session is garbage,
	// they end.
	goruntime.AddCleanup(s, (*arenaPool).close, s.arenas)
	if weights >= gcAfterCompileBytes {
		// Decoding and the first of the two compilations leave garbage
		// of about the model's size; collecting it now lets the first
		// runs (which build transformed weights, see ops/conv_wino.go)
		// reuse that memory instead of raising the process's peak.
		goruntime.GC()
	}
	return s, nil
}

// gcAfterCompileBytes is the size of a model's initializers from which
// Compile ends with a garbage collection: for smaller models the
// collection would cost more time than it saves memory.
const gcAfterCompileBytes = 16 << 20

// weightBytes is the size of g's initializers.
func weightBytes(g *graph.Graph) int {
	n := 0
	for _, t := range g.Initializers {
		if t != nil {
			n += t.Len() * t.DType().Size()
		}
	}
	return n
}

// foldedGraph returns g with the nodes that compilation folded into
// constants replaced by initializers.
func foldedGraph(g *graph.Graph, p *program) *graph.Graph {
	f := *g
	f.Initializers = make(map[string]*tensor.Tensor, len(g.Initializers))
	for k, v := range g.Initializers {
		f.Initializers[k] = v
	}
	f.InitializerOrder = append([]string(nil), g.InitializerOrder...)
	f.Nodes = nil
	for _, n := range g.Nodes {
		folded := len(n.Outputs) > 0
		for _, o := range n.Outputs {
			if o == "" {
				continue
			}
			s, ok := p.slotOf[o]
			if !ok || p.consts[s] == nil {
				folded = false
			}
		}
		if !folded {
			f.Nodes = append(f.Nodes, n)
			continue
		}
		for _, o := range n.Outputs {
			if o != "" {
				f.AddInitializer(o, p.consts[p.slotOf[o]])
			}
		}
	}
	return &f
}

// Inputs describes the values Run expects.
func (s *Session) Inputs() []graph.ValueInfo { return s.inputs }

// Outputs describes the values Run returns.
func (s *Session) Outputs() []graph.ValueInfo { return s.outputs }

// ValueType returns what shape inference found at compile time for a value
// of the top-level graph: its element type and (possibly symbolic) shape.
// ok is false for values it knows nothing of.
func (s *Session) ValueType(name string) (t graph.Type, ok bool) {
	m, found := s.prog.metas[name]
	if !found || (m.DType == tensor.Undefined && m.Shape == nil) {
		return graph.Type{}, false
	}
	return graph.Type{Kind: graph.KindTensor, DType: m.DType, Shape: m.Shape}, true
}

type seedKey struct{}

// WithSeed returns a context that makes the runs it is given to
// reproducible: random operators without a seed attribute (Dropout in
// training mode, RandomNormal, Bernoulli, ...) draw from seed, mixed with
// each node's position, instead of from fresh entropy. The bodies of Loop
// and Scan draw the same values in every iteration.
func WithSeed(ctx context.Context, seed uint64) context.Context {
	return context.WithValue(ctx, seedKey{}, seed)
}

// Run executes the model on feeds (input name to tensor) and returns every
// graph output by name. Feeds are checked against the declared input types
// and shapes. Run stops early with ctx's error when ctx is cancelled.
// The returned tensors are the caller's: no later run reads or writes
// them. See RunInto for runs that allocate nothing.
func (s *Session) Run(ctx context.Context, feeds map[string]*tensor.Tensor) (map[string]*tensor.Tensor, error) {
	out := make(map[string]*tensor.Tensor, len(s.outputs))
	if err := s.run(ctx, feeds, out, false); err != nil {
		return nil, err
	}
	return out, nil
}

// RunInto is Run writing the outputs into tensors the caller provides,
// like ONNX Runtime's bound outputs: for each graph output, when
// outputs[name] is a tensor of the output's element type and shape, the
// result is copied into it; otherwise (the name is absent, its tensor is
// nil or of another type or shape, or the output is a sequence or an
// optional) outputs[name] is set to a fresh tensor, as Run would return
// it. outputs must not hold names that are not graph outputs.
//
// Bind the outputs once (an empty map filled by a first RunInto will do)
// and reuse the map and the feeds: a warm RunInto then makes no heap
// allocation at all, since the run's intermediate values, tensor headers
// and bookkeeping come from the arena the session keeps for it (kernels
// that still allocate are listed by TestZeroAllocationRuns). An output
// tensor may also be a feed of the same call (a recurrent state, say):
// it is written only after every node has run.
//
// outputs is written by RunInto, so concurrent calls need maps of their
// own; the session itself is shared as for Run. A bound tensor that
// shares no storage with a feed, a constant or another bound tensor may
// receive its output directly from the node that computes it, so that
// after a failed RunInto its contents are undefined.
func (s *Session) RunInto(ctx context.Context, feeds, outputs map[string]*tensor.Tensor) error {
	if outputs == nil {
		return errors.New("RunInto: the outputs map is nil")
	}
	return s.run(ctx, feeds, outputs, true)
}

// bindOutputs looks up the tensors bound in out (RunInto), setting dsts[i]
// to that of output i, and checks that out names no other value.
func (s *Session) bindOutputs(out map[string]*tensor.Tensor, dsts []*tensor.Tensor) error {
	bound := 0
	for i, o := range s.outputs {
		d, ok := out[o.Name]
		dsts[i] = d
		if ok {
			bound++
		}
	}
	if s.distinctOutputs && bound == len(out) {
		return nil // no other name: no need to walk the map
	}
	for name := range out {
		if !s.isOutput(name) {
			return fmt.Errorf("RunInto: %q is not an output of the model (outputs: %s)", name, valueNames(s.outputs))
		}
	}
	return nil
}

func (s *Session) isOutput(name string) bool {
	for _, o := range s.outputs {
		if o.Name == name {
			return true
		}
	}
	return false
}

func valueNames(vs []graph.ValueInfo) string {
	names := make([]string, len(vs))
	for i, v := range vs {
		names[i] = v.Name
	}
	return strings.Join(names, ", ")
}

// run executes the model and stores its outputs in out; into says
// whether fitting tensors already in out receive copies (RunInto).
func (s *Session) run(ctx context.Context, feeds, out map[string]*tensor.Tensor, into bool) error {
	if ctx == nil {
		ctx = context.Background()
	}
	ar := s.arenas.get()
	defer s.arenas.put(ar)
	var dsts []*tensor.Tensor // RunInto's bound outputs, in output order
	if into {
		dsts = ar.dsts(len(s.outputs))
		if err := s.bindOutputs(out, dsts); err != nil {
			return err
		}
	}
	var vals []*tensor.Tensor // the feeds in input order, for runFed
	if s.feedOrder {
		vals = ar.feeds(len(s.inputs))
	}
	if err := s.checkFeeds(feeds, vals); err != nil {
		return err
	}
	rc := &ar.rc
	// The rest of rc is zero: endRun reset it (ResetRun), and a new
	// arena starts zeroed.
	rc.Ctx, rc.Threads, rc.Alloc, rc.Pool = ctx, s.threads, ar, ar
	rc.Seed, rc.Seeded = ctx.Value(seedKey{}).(uint64)
	// Only the run's goroutine uses the arena until a split starts (see
	// arena.useWorkers).
	ar.serial = true
	if s.threads > 1 {
		// The arena's workers take the run's splits; they stay hot
		// between kernels and between back-to-back runs.
		if ar.workers == nil {
			ar.useWorkers(s.threads)
		}
		rc.Workers = ar.workers
	}
	var res []*tensor.Tensor
	var err error
	if vals != nil {
		bound := into && s.distinctOutputs && ar.bindOutputs(s.prog, dsts, vals)
		res, err = s.prog.runFed(rc, vals, ar)
		if bound {
			ar.unbindOutputs(s.prog)
		}
	} else {
		res, err = s.prog.run(rc, feeds, ar)
	}
	if err != nil {
		return err
	}
	for i, o := range s.outputs {
		if res[i] == nil {
			return fmt.Errorf("graph output %q was not produced", o.Name)
		}
	}
	for i, o := range s.outputs {
		t := res[i]
		if into {
			dst := dsts[i]
			if !s.distinctOutputs {
				dst = out[o.Name] // an earlier output of that name may have set it
			}
			if dst == t {
				continue
			} else if dst != nil && fits(dst, t) {
				if err := tensor.Copy(dst, t); err != nil {
					return err
				}
				// The value is dead now, unless another output is it
				// or reads its buffer.
				res[i] = nil
				ar.release(t, res, nil)
				continue
			}
		}
		if s.prog.aliasesFixed(t, feeds) || ar.inPlaces(t) {
			// A view of a feed or a constant (Identity, Reshape), or of
			// the arena's storage for Concats (place.go): the caller
			// gets its own copy, so that writing it changes neither
			// their input nor the model, and no later run changes it.
			c := t.Clone()
			res[i] = nil
			ar.release(t, res, nil)
			t = c
		} else {
			// The caller's now: the arena forgets it.
			ar.detach(t)
		}
		out[o.Name] = t
	}
	return nil
}

// fits reports whether dst can receive a copy of t.
func fits(dst, t *tensor.Tensor) bool {
	return dst.Kind() == tensor.KindTensor && t.Kind() == tensor.KindTensor &&
		dst.DType() == t.DType() && tensor.ShapeEqual(dst.Shape(), t.Shape())
}

// checkFeeds checks feeds against the inputs and, when vals is not nil,
// sets vals[i] to the feed of input i.
func (s *Session) checkFeeds(feeds map[string]*tensor.Tensor, vals []*tensor.Tensor) error {
	var problems []string
	found := 0
	for i, in := range s.inputs {
		t, ok := feeds[in.Name]
		if ok {
			found++
		}
		if vals != nil {
			vals[i] = t
		}
		if !ok || t == nil {
			problems = append(problems, fmt.Sprintf("input %q (%v) is not fed", in.Name, in.Type))
			continue
		}
		switch {
		case in.Type.Kind == graph.KindSequence && t.Kind() != tensor.KindSequence,
			in.Type.Kind == graph.KindOptional && t.Kind() != tensor.KindOptional,
			in.Type.Kind == graph.KindTensor && t.Kind() != tensor.KindTensor:
			problems = append(problems, fmt.Sprintf("input %q must be a %v", in.Name, in.Type))
			continue
		}
		if in.Type.Kind != graph.KindTensor {
			continue
		}
		if in.Type.DType != tensor.Undefined && t.DType() != in.Type.DType {
			problems = append(problems, fmt.Sprintf("input %q has type %v, the model wants %v", in.Name, t.DType(), in.Type.DType))
			continue
		}
		if !in.Type.Shape.Matches(t.Shape()) {
			problems = append(problems, fmt.Sprintf("input %q has shape %v, the model wants %v", in.Name, t.Shape(), in.Type.Shape))
		}
	}
	if found == len(feeds) && problems == nil && s.distinctInputs {
		// Every feed is an input (input names are distinct): no need to
		// walk the map.
		return nil
	}
	for name := range feeds {
		if !slices.ContainsFunc(s.inputs, func(in graph.ValueInfo) bool { return in.Name == name }) {
			names := make([]string, len(s.inputs))
			for i, in := range s.inputs {
				names[i] = in.Name
			}
			problems = append(problems, fmt.Sprintf("%q is not an input of the model (inputs: %s)", name, strings.Join(names, ", ")))
		}
	}
	if len(problems) > 0 {
		sort.Strings(problems)
		return errors.New(strings.Join(problems, "; "))
	}
	return nil
}
