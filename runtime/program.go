package runtime

import (
	"errors"
	"fmt"
	"runtime/debug"
	"strings"
	"sync/atomic"
	"time"

	"github.com/onyxrt/onyx/graph"
	"github.com/onyxrt/onyx/ops"
	"github.com/onyxrt/onyx/tensor"
)

// program is one compiled graph: the top-level graph or a subgraph.
// Values live in numbered slots; constants are filled in before the first
// step and never released.
type program struct {
	slots     int
	slotNames []string
	slotOf    map[string]int
	consts    map[int]*tensor.Tensor
	// constEnv is consts laid out by slot (nil elsewhere), copied into
	// each run's value table in one go; varSlots lists the other slots.
	constEnv []*tensor.Tensor
	// constSpans are the storage ranges [lo, hi) of the constants (of
	// the tensors a sequence or optional constant holds too).
	constSpans [][2]uintptr
	varSlots   []int
	inputNames []string
	inputSlots []int
	// fed marks the input slots: their values are the caller's, never
	// storage of the run's arena, so nothing is released when they die.
	fed      []bool
	outputs  []int // slot of each graph output
	outNames []string
	// metas is what shape inference found for each value, by name.
	metas map[string]ops.Meta
	// outer lists slots whose value comes from an enclosing scope.
	outer []int
	steps []step
	// prof, when not nil, accumulates each step's kernel time
	// (Options.ProfileNodes; the top-level program only).
	prof []stepTime
	// place holds, by slot, where a value is computed in the storage of
	// a Concat (roots) that joins it (place.go); nil when no value is.
	// The top-level program only.
	place []placement
	roots []placeRoot
}

// stepTime is what a profiled program records of one step.
type stepTime struct {
	calls, nanos atomic.Int64
}

type step struct {
	desc   string // `Conv node "conv1"`, for errors
	node   string // the node's name
	opType string
	kernel ops.Kernel
	in     []int // -1 for an omitted optional input
	out    []int // -1 for an omitted optional output
	// release lists the slots that are dead after this step, and live
	// (when release is not empty) the slots that may hold a value when
	// they are released: the arena checks only those for a value that
	// holds or views a released one (planLiveSets).
	release []int
	live    []int
	// scoped is set for nodes with subgraphs, which read this program's
	// values by name.
	scoped bool
	// concat is set for Concat nodes of the default domain, and
	// concatAxis is their axis (place.go).
	concat     bool
	concatAxis int
}

// compiler holds what is shared while compiling a model and its subgraphs.
type compiler struct {
	model       *graph.Model
	reg         *ops.Registry
	fold        bool
	threads     int
	unsupported []string
	// unsupportedOps holds "Op" or "domain.Op" of each unsupported node.
	unsupportedOps map[string]bool
}

// scope resolves names visible from an enclosing graph during compilation.
type scope struct {
	parent *scope
	names  map[string]bool
	// metas holds what shape inference knows of the scope's values.
	metas map[string]ops.Meta
}

// meta returns what is known of a visible value.
func (s *scope) meta(name string) ops.Meta {
	for ; s != nil; s = s.parent {
		if m, ok := s.metas[name]; ok {
			return m
		}
	}
	return ops.Meta{}
}

func (s *scope) has(name string) bool {
	for ; s != nil; s = s.parent {
		if s.names[name] {
			return true
		}
	}
	return false
}

// nondeterministic ops are never folded.
var nondeterministic = map[string]bool{
	"RandomNormal": true, "RandomUniform": true, "RandomNormalLike": true,
	"RandomUniformLike": true, "Multinomial": true, "Bernoulli": true,
}

func (c *compiler) compile(g *graph.Graph, outer *scope) (*program, error) {
	order, err := g.TopoSort(outer.has)
	if err != nil {
		return nil, err
	}
	p := &program{consts: map[int]*tensor.Tensor{}}
	slotOf := map[string]int{}
	slot := func(name string) int {
		if s, ok := slotOf[name]; ok {
			return s
		}
		s := p.slots
		p.slots++
		slotOf[name] = s
		p.slotNames = append(p.slotNames, name)
		return s
	}
	// Initializers that are also graph inputs are constants: they are not
	// fed (Session.Inputs omits them).
	for _, name := range g.InitializerOrder {
		p.consts[slot(name)] = g.Initializers[name]
	}
	for _, in := range g.Inputs {
		if g.IsInitializer(in.Name) {
			continue
		}
		p.inputNames = append(p.inputNames, in.Name)
		p.inputSlots = append(p.inputSlots, slot(in.Name))
	}
	here := &scope{parent: outer, names: map[string]bool{}, metas: map[string]ops.Meta{}}
	declared := map[string]graph.Type{}
	for _, vi := range append(append(append([]graph.ValueInfo{}, g.ValueInfo...), g.Outputs...), g.Inputs...) {
		declared[vi.Name] = vi.Type
	}
	for _, in := range g.Inputs {
		here.metas[in.Name] = metaOfType(in.Type)
	}
	for name, t := range g.Initializers {
		here.metas[name] = ops.MetaOf(t)
	}
	for name := range slotOf {
		here.names[name] = true
	}
	for _, n := range g.Nodes {
		for _, o := range n.Outputs {
			if o != "" {
				here.names[o] = true
			}
		}
	}
	// Values read from enclosing scopes get slots filled at run start.
	for _, v := range g.FreeVariables() {
		if _, ok := slotOf[v]; !ok && outer.has(v) {
			p.outer = append(p.outer, slot(v))
		}
	}

	var buildErrs []string
	for i, n := range order {
		desc := n.Describe(i)
		def, err := c.reg.Lookup(n.Domain, n.OpType, c.opset(n.Domain))
		if err != nil {
			c.unsupported = append(c.unsupported, fmt.Sprintf("%s: %v", desc, err))
			op := n.OpType
			if n.Domain != "" {
				op = n.Domain + "." + op
			}
			c.unsupportedOps[op] = true
			continue
		}
		st := step{desc: desc, node: n.Name, opType: n.OpType, scoped: len(n.Subgraphs()) > 0}
		b := &ops.Builder{
			NodeName: n.Name, OpType: n.OpType, Domain: n.Domain,
			Opset:     c.opset(n.Domain),
			NumInputs: len(n.Inputs), NumOutputs: len(n.Outputs),
			Attrs: map[string]*ops.Attr{}, Graph: g, OpsetOf: c.opset,
			CompileGraph: func(sub any) (ops.Subgraph, error) {
				sg, ok := sub.(*graph.Graph)
				if !ok {
					return nil, fmt.Errorf("attribute holds %T, not a graph", sub)
				}
				sp, err := c.compile(sg, here)
				if err != nil {
					return nil, err
				}
				return &subgraph{prog: sp}, nil
			},
		}
		for _, a := range n.Attrs {
			b.Attrs[a.Name] = a
		}
		if n.OpType == "Concat" && n.Domain == "" {
			st.concat, st.concatAxis = true, 1 // before opset 4 the axis defaults to 1
			if a, ok := b.Attrs["axis"]; ok {
				st.concatAxis = int(a.Int)
			}
		}
		for _, in := range n.Inputs {
			b.InputPresent = append(b.InputPresent, in != "")
			if in == "" {
				st.in = append(st.in, -1)
			} else {
				st.in = append(st.in, slot(in))
			}
		}
		for _, o := range n.Outputs {
			b.OutputPresent = append(b.OutputPresent, o != "")
			if o == "" {
				st.out = append(st.out, -1)
			} else {
				st.out = append(st.out, slot(o))
			}
		}
		b.Const = func(i int) *tensor.Tensor {
			if i < len(st.in) && st.in[i] >= 0 {
				return p.consts[st.in[i]]
			}
			return nil
		}
		k, err := safeBuild(def, b)
		if err != nil {
			buildErrs = append(buildErrs, fmt.Sprintf("%s: %v", desc, err))
			continue
		}
		st.kernel = k
		if err := c.infer(def, b, n, st, here, declared); err != nil {
			buildErrs = append(buildErrs, fmt.Sprintf("%s: %v", desc, err))
			continue
		}
		if c.fold && outer == nil && !st.scoped {
			if v := staticShapeOf(n, b, p, here); v != nil {
				// Shape or Size of a graph input whose declared shape is
				// fully known: Run checks feeds against it, so the value
				// is a constant, and so may be what depends on it alone.
				p.consts[st.out[0]] = v
				here.metas[n.Outputs[0]] = ops.MetaOf(v)
				continue
			}
		}
		if c.fold && !st.scoped && !nondeterministic[n.OpType] && c.foldable(p, st) {
			outs, err := runStep(&ops.RunContext{Threads: c.threads}, &st, p.gather(&st, nil))
			if err != nil {
				return nil, err
			}
			for j, s := range st.out {
				if s >= 0 && outs[j] != nil {
					p.consts[s] = outs[j]
					here.metas[n.Outputs[j]] = ops.MetaOf(outs[j])
				}
			}
			continue
		}
		p.steps = append(p.steps, st)
	}
	if len(buildErrs) == 1 {
		return nil, errors.New(buildErrs[0])
	}
	if len(buildErrs) > 0 {
		return nil, fmt.Errorf("%d node(s) could not be built:\n  %s", len(buildErrs), strings.Join(buildErrs, "\n  "))
	}
	for _, o := range g.Outputs {
		s, ok := slotOf[o.Name]
		if !ok {
			if !outer.has(o.Name) {
				return nil, fmt.Errorf("graph output %q is not produced by any node, input or initializer", o.Name)
			}
			s = slot(o.Name)
			p.outer = append(p.outer, s)
		}
		p.outputs = append(p.outputs, s)
		p.outNames = append(p.outNames, o.Name)
	}
	p.slotOf = slotOf
	p.metas = here.metas
	p.planLiveness()
	p.fed = make([]bool, p.slots)
	for _, s := range p.inputSlots {
		p.fed[s] = true
	}
	if outer == nil {
		p.planPlacement()
	}
	p.constEnv = make([]*tensor.Tensor, p.slots)
	for s, t := range p.consts {
		p.constEnv[s] = t
	}
	p.varSlots = []int{}
	for s, t := range p.constEnv {
		if t == nil {
			p.varSlots = append(p.varSlots, s)
		} else {
			p.constSpans = appendSpans(p.constSpans, t)
		}
	}
	p.planLiveSets()
	return p, nil
}

// planLiveSets records in each step that releases values the slots that
// may hold a value while it does: the feeds and enclosing-scope values,
// and the outputs of this and the earlier steps, but those that an
// earlier step released (a slot is written once a run, by its step). A
// release used to check every slot of the program, which made a run's
// releases cost the square of its values (a chain of 21 Relus on four
// floats: half of its 2.8 µs).
func (p *program) planLiveSets() {
	pos := make([]int, p.slots) // where a live slot is in cur, or -1
	for s := range pos {
		pos[s] = -1
	}
	var cur []int
	add := func(s int) {
		if s >= 0 && pos[s] < 0 && p.constEnv[s] == nil {
			pos[s] = len(cur)
			cur = append(cur, s)
		}
	}
	for _, s := range p.inputSlots {
		add(s)
	}
	for _, s := range p.outer {
		add(s)
	}
	for i := range p.steps {
		st := &p.steps[i]
		for _, s := range st.out {
			add(s)
		}
		if len(st.release) == 0 {
			continue
		}
		st.live = append(make([]int, 0, len(cur)), cur...)
		for _, s := range st.release {
			if k := pos[s]; k >= 0 {
				last := cur[len(cur)-1]
				cur[k], pos[last] = last, k
				cur = cur[:len(cur)-1]
				pos[s] = -1
			}
		}
	}
}

// appendSpans appends the storage ranges of t (a tensor, or the tensors a
// sequence or optional holds) to spans.
func appendSpans(spans [][2]uintptr, t *tensor.Tensor) [][2]uintptr {
	switch t.Kind() {
	case tensor.KindSequence:
		for _, e := range t.Elems() {
			spans = appendSpans(spans, e)
		}
		return spans
	case tensor.KindOptional:
		if e, ok := t.OptionalValue(); ok && e != nil {
			spans = appendSpans(spans, e)
		}
		return spans
	}
	if lo, n := span(t.Data()); lo != 0 {
		spans = append(spans, [2]uintptr{lo, lo + n})
	}
	return spans
}

// staticShapeOf returns the output of n when n is a Shape or Size node
// of the default domain reading a graph input whose declared shape has
// no symbolic dimension, else nil.
func staticShapeOf(n *graph.Node, b *ops.Builder, p *program, here *scope) *tensor.Tensor {
	if n.Domain != "" || (n.OpType != "Shape" && n.OpType != "Size") || len(n.Inputs) != 1 || len(n.Outputs) != 1 || n.Outputs[0] == "" {
		return nil
	}
	input := false
	for _, name := range p.inputNames {
		input = input || name == n.Inputs[0]
	}
	m, ok := here.metas[n.Inputs[0]]
	if !input || !ok || m.Shape == nil {
		return nil
	}
	dims := make([]int64, len(m.Shape))
	size := int64(1)
	for i, d := range m.Shape {
		if !d.Known() {
			return nil
		}
		dims[i] = d.Size
		size *= d.Size
	}
	if n.OpType == "Size" {
		return tensor.Scalar(size)
	}
	// Shape-15's start and end, as the kernel reads them.
	r := int64(len(dims))
	clamp := func(v int64) int64 {
		if v < 0 {
			v += r
		}
		return min(max(v, 0), r)
	}
	lo, hi := clamp(b.Int("start", 0)), r
	if b.Has("end") {
		hi = clamp(b.Int("end", 0))
	}
	if b.Err() != nil {
		return nil
	}
	hi = max(hi, lo)
	v := dims[lo:hi]
	return tensor.From([]int{len(v)}, v)
}

// infer runs shape inference for one node and records the output Metas,
// falling back to the graph's declared types where inference knows less.
// It fails only when inference proves the inputs wrong.
func (c *compiler) infer(def *ops.Def, b *ops.Builder, n *graph.Node, st step, here *scope, declared map[string]graph.Type) (err error) {
	var outs []ops.Meta
	if f := ops.InferFor(def); f != nil {
		in := make([]ops.Meta, len(n.Inputs))
		for i, name := range n.Inputs {
			if name != "" {
				in[i] = here.meta(name)
			}
		}
		func() {
			defer func() {
				if r := recover(); r != nil {
					outs = nil // a rule that trips over odd input only loses knowledge
				}
			}()
			outs, err = f(b, in)
		}()
		if err != nil {
			return fmt.Errorf("shape inference: %w", err)
		}
	}
	for j, name := range n.Outputs {
		if name == "" {
			continue
		}
		var m ops.Meta
		if j < len(outs) {
			m = outs[j]
		}
		if d, ok := declared[name]; ok {
			dm := metaOfType(d)
			if m.DType == tensor.Undefined {
				m.DType = dm.DType
			}
			if m.Shape == nil {
				m.Shape = dm.Shape
			}
		}
		here.metas[name] = m
	}
	return nil
}

func metaOfType(t graph.Type) ops.Meta {
	if t.Kind != graph.KindTensor {
		return ops.Meta{}
	}
	return ops.Meta{DType: t.DType, Shape: t.Shape}
}

func (c *compiler) opset(domain string) int {
	if v := c.model.Opset(domain); v > 0 {
		return v
	}
	return 1
}

// foldable reports whether every present input of st is a constant.
func (c *compiler) foldable(p *program, st step) bool {
	for _, s := range st.in {
		if s >= 0 {
			if _, ok := p.consts[s]; !ok {
				return false
			}
		}
	}
	return true
}

// planLiveness records after which step each non-constant, non-output
// value is read for the last time.
func (p *program) planLiveness() {
	keep := map[int]bool{}
	for _, s := range p.outputs {
		keep[s] = true
	}
	last := map[int]int{}
	for i, st := range p.steps {
		for _, s := range st.in {
			if s >= 0 {
				last[s] = i
			}
		}
		for _, s := range st.out {
			if s >= 0 {
				if _, read := last[s]; !read {
					last[s] = i // produced but never read: dead right away
				}
			}
		}
		if st.scoped {
			// A subgraph may read any value of this scope by name: keep
			// everything defined so far alive until this step.
			for s := 0; s < p.slots; s++ {
				if _, ok := last[s]; ok {
					last[s] = i
				}
			}
		}
	}
	for s, i := range last {
		if keep[s] {
			continue
		}
		if _, isConst := p.consts[s]; isConst {
			continue
		}
		p.steps[i].release = append(p.steps[i].release, s)
	}
}

// run executes the program. For the top-level graph feeds maps input names
// to tensors; for subgraphs the caller fills inputs positionally through
// runPositional. It returns the outputs in graph order.
// When ar is set, rc.Alloc is ar and the buffers of dead values go back to
// it.
func (p *program) run(rc *ops.RunContext, feeds map[string]*tensor.Tensor, ar *arena) ([]*tensor.Tensor, error) {
	var env []*tensor.Tensor
	if ar != nil {
		env = ar.env(p.constEnv)
		ar.live, ar.liveSlots = env, p.varSlots
		defer clearTensors(env) // the arena outlives the run: drop its references
	} else {
		env = p.newEnv()
	}
	for i, name := range p.inputNames {
		env[p.inputSlots[i]] = feeds[name]
	}
	return p.exec(rc, env, ar)
}

// runFed is run with the feeds given in the order of p.inputNames.
func (p *program) runFed(rc *ops.RunContext, vals []*tensor.Tensor, ar *arena) ([]*tensor.Tensor, error) {
	env := ar.env(p.constEnv)
	ar.live, ar.liveSlots = env, p.varSlots
	defer clearTensors(env) // the arena outlives the run: drop its references
	for i, s := range p.inputSlots {
		env[s] = vals[i]
	}
	return p.exec(rc, env, ar)
}

// newEnv returns a run's value table with the constants in place.
func (p *program) newEnv() []*tensor.Tensor {
	return append([]*tensor.Tensor(nil), p.constEnv...)
}

// exec runs the steps on env, which newEnv made and the caller fed. With
// an arena, released values give their buffers back to it; subgraphs run
// without one, since Loop and Scan bodies hand values from one iteration
// to the next outside any value table.
func (p *program) exec(rc *ops.RunContext, env []*tensor.Tensor, ar *arena) (res []*tensor.Tensor, err error) {
	// A kernel's panic becomes an error that names its node (as runStep
	// does, with one deferred recover per run instead of one per step).
	cur := -1
	defer func() {
		if cur >= 0 {
			if r := recover(); r != nil {
				res, err = nil, fmt.Errorf("%s: internal error: %v\n%s", p.steps[cur].desc, r, debug.Stack())
			}
		}
	}()
	for _, s := range p.outer {
		if rc.Outer == nil {
			return nil, fmt.Errorf("value %q of an enclosing graph is not available", p.slotNames[s])
		}
		t, ok := rc.Outer(p.slotNames[s])
		if !ok {
			return nil, fmt.Errorf("value %q of an enclosing graph is not available", p.slotNames[s])
		}
		env[s] = t
	}
	// A context without a Done channel is never cancelled: its Err need
	// not be asked before every step.
	cancellable := rc.Ctx != nil && rc.Ctx.Done() != nil
	runSeed := rc.Seed
	if rc.Seeded {
		own := *rc // steps get their own seeds; the caller's rc stays as it is
		rc = &own
	}
	for i := range p.steps {
		st := &p.steps[i]
		if cancellable {
			if err := rc.Err(); err != nil {
				return nil, err
			}
		}
		if rc.Seeded {
			rc.Seed = mixSeed(runSeed, uint64(i))
		}
		src := rc
		if st.scoped {
			parent := rc.Outer
			sub := *rc
			sub.Outer = func(name string) (*tensor.Tensor, bool) {
				if s, ok := p.slotOf[name]; ok && env[s] != nil {
					return env[s], true
				}
				if parent != nil {
					return parent(name)
				}
				return nil, false
			}
			src = &sub
		}
		var in []*tensor.Tensor
		if ar != nil {
			in = ar.inputs(len(st.in))
			if len(st.out) == 1 && st.out[0] >= 0 {
				if o := st.out[0]; o < len(ar.dstOf) && ar.dstOf[o] != nil {
					ar.want = ar.dstOf[o] // a bound graph output (see bindOutputs)
				} else if p.placedSlot(o) {
					ar.want = ar.placed(p, o) // its place in a Concat (place.go)
				}
			}
		}
		if in == nil {
			in = make([]*tensor.Tensor, len(st.in))
		}
		for i, s := range st.in {
			if s >= 0 {
				in[i] = env[s]
			} else {
				in[i] = nil // an omitted optional input
			}
		}
		cur = i
		var t0 time.Time
		if p.prof != nil {
			t0 = time.Now()
		}
		outs, err := st.kernel.Run(src, in)
		if p.prof != nil {
			p.prof[i].calls.Add(1)
			p.prof[i].nanos.Add(int64(time.Since(t0)))
		}
		cur = -1
		if err != nil {
			err = fmt.Errorf("%s: %w", st.desc, err)
		}
		clearTensors(in)
		if ar != nil {
			ar.want = nil
		}
		if err != nil {
			return nil, err
		}
		for j, s := range st.out {
			if s >= 0 {
				if j >= len(outs) || outs[j] == nil {
					return nil, fmt.Errorf("%s: output %d (%q) was not produced", st.desc, j, p.slotNames[s])
				}
				env[s] = outs[j]
			}
		}
		for _, s := range st.release {
			t := env[s]
			env[s] = nil
			if ar != nil && t != nil && !p.fed[s] {
				ar.release(t, env, st.live)
			}
		}
	}
	if ar != nil {
		res = ar.results(len(p.outputs))
	} else {
		res = make([]*tensor.Tensor, len(p.outputs))
	}
	for i, s := range p.outputs {
		res[i] = env[s]
	}
	return res, nil
}

// mixSeed derives a step's seed from the run's (the splitmix64 finalizer
// of their combination), so that nodes draw different values.
func mixSeed(seed, step uint64) uint64 {
	z := seed + (step+1)*0x9e3779b97f4a7c15
	z = (z ^ z>>30) * 0xbf58476d1ce4e5b9
	z = (z ^ z>>27) * 0x94d049bb133111eb
	return z ^ z>>31
}

// gather collects a step's inputs from env (or from constants when env is
// nil, during folding).
func (p *program) gather(st *step, env []*tensor.Tensor) []*tensor.Tensor {
	return p.gatherInto(make([]*tensor.Tensor, len(st.in)), st, env)
}

// gatherInto is gather into in (of len(st.in) elements), or into a new
// slice when in is nil.
func (p *program) gatherInto(in []*tensor.Tensor, st *step, env []*tensor.Tensor) []*tensor.Tensor {
	if in == nil {
		in = make([]*tensor.Tensor, len(st.in))
	}
	for i, s := range st.in {
		switch {
		case s < 0:
		case env == nil:
			in[i] = p.consts[s]
		default:
			in[i] = env[s]
		}
	}
	return in
}

// runStep calls a kernel, turning a panic into an error that names the
// node.
func runStep(rc *ops.RunContext, st *step, in []*tensor.Tensor) (outs []*tensor.Tensor, err error) {
	defer func() {
		if r := recover(); r != nil {
			outs, err = nil, fmt.Errorf("%s: internal error: %v\n%s", st.desc, r, debug.Stack())
		}
	}()
	outs, err = st.kernel.Run(rc, in)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", st.desc, err)
	}
	return outs, nil
}

func safeBuild(def *ops.Def, b *ops.Builder) (k ops.Kernel, err error) {
	defer func() {
		if r := recover(); r != nil {
			k, err = nil, fmt.Errorf("internal error while building: %v", r)
		}
	}()
	k, err = def.Build(b)
	if err == nil {
		err = b.Err()
	}
	if err == nil && k == nil {
		err = fmt.Errorf("operator %s built no kernel", def.Name)
	}
	return k, err
}

// subgraph adapts a compiled program to ops.Subgraph.
type subgraph struct{ prog *program }

func (s *subgraph) InputNames() []string  { return s.prog.inputNames }
func (s *subgraph) OutputNames() []string { return s.prog.outNames }

func (s *subgraph) Call(rc *ops.RunContext, inputs []*tensor.Tensor) ([]*tensor.Tensor, error) {
	p := s.prog
	if len(inputs) > len(p.inputSlots) {
		return nil, fmt.Errorf("subgraph takes %d inputs, got %d", len(p.inputSlots), len(inputs))
	}
	env := p.newEnv()
	for i, t := range inputs {
		env[p.inputSlots[i]] = t
	}
	return p.exec(rc, env, nil)
}
