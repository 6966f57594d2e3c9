package runtime

import (
	"math"
	"reflect"
	"slices"

	"github.com/onyxrt/onyx/tensor"
)

// Concatenation in place. A Concat copies its inputs side by side into
// its output; where each input is one contiguous block of the output (the
// dimensions before the axis are all 1: a single image's channels, say),
// the node that computes an input can write it there in the first place,
// and the Concat then has nothing left to copy (ops' Concat skips an
// input that already lies where it belongs). The plan is made once, at
// compile time, from the shapes that inference found (static ones only):
// each such Concat of the top-level graph whose output no other Concat
// joins is a root, with storage in a buffer; its inputs are placed in it at
// their offsets, and so are the inputs of a Concat placed in it, down a
// chain (DenseNet's dense blocks concatenate each layer's output to all
// the features before it: every concatenation of a block is then a prefix
// of the block's last one, and no feature is copied). At run time the
// node of a placed value gets, through the arena's want, a tensor on its
// place, and writes it there if it asks for an output of that shape.
//
// A placed value must be the single output of its node, and neither a
// feed, a constant, a graph output nor a value of an enclosing graph; a
// value that two Concats join is placed in the later one only, and the
// root of a Concat whose output is a graph output is not planned (the
// caller would get the arena's storage). Values are immutable once
// computed and placed regions never overlap but for a nested Concat's,
// which holds exactly its inputs, so a value written into its place is
// never overwritten while it lives. Roots whose lives do not overlap
// share a buffer (shareRoots); each arena makes its own buffers, once,
// and keeps them (runs on other arenas run concurrently); a graph output
// that is a view of one (a Reshape of a root) is copied for the caller.
//
// Node by node (one thread, the lowest of three runs per node), against
// the Concats copying: DenseNet-121 50.1 → 48.0 ms (its 58 Concats 3.5 ms
// → 0.05; one buffer of 3.1 MiB), Inception v1 37.7 → 36.1, SqueezeNet
// 6.9 → 6.5, Inception v2 even (35.0). With a buffer of its own for each
// root, written out of cache every time, Inception v2 lost 1.3-3.8 ms and
// SqueezeNet its gain.

// placeRoot is a buffer that roots share: n elements of dt.
type placeRoot struct {
	dt tensor.DType
	n  int
}

// placement is where a value lives: the index of its root's buffer in
// program.roots (-1: not placed), the element offset, the shape.
type placement struct {
	root, off int
	shape     []int
}

// planPlacement sets p.place and p.roots (see above). p.fed and the
// steps' release lists must be set.
func (p *program) planPlacement() {
	special := make([]bool, p.slots) // graph outputs and enclosing-scope values
	for _, s := range p.outputs {
		special[s] = true
	}
	for _, s := range p.outer {
		special[s] = true
	}
	single := make([]bool, p.slots) // the only output of its node
	for _, st := range p.steps {
		if len(st.out) == 1 && st.out[0] >= 0 {
			single[st.out[0]] = true
		}
	}
	var place []placement
	var roots []placeRoot // by root, before the roots share buffers
	for i := len(p.steps) - 1; i >= 0; i-- {
		st := &p.steps[i]
		if !st.concat || len(st.out) != 1 || st.out[0] < 0 || special[st.out[0]] {
			continue
		}
		out := st.out[0]
		dt, shape, ok := p.staticMeta(out)
		if !ok || dt == tensor.String || len(shape) == 0 {
			continue
		}
		axis := st.concatAxis
		if axis < 0 {
			axis += len(shape)
		}
		if axis < 0 || axis >= len(shape) || prodInts(shape[:axis]) != 1 {
			continue
		}
		if place == nil {
			place = make([]placement, p.slots)
			for s := range place {
				place[s].root = -1
			}
		}
		root, off := place[out].root, place[out].off
		if root < 0 {
			root, off = len(roots), 0
			roots = append(roots, placeRoot{dt: dt, n: prodInts(shape)})
			place[out] = placement{root: root, shape: shape}
		}
		inner := prodInts(shape[axis+1:])
		for _, s := range st.in {
			if s < 0 {
				continue // absent: Concat skips it
			}
			sdt, sh, ok := p.staticMeta(s)
			if !ok || sdt != dt || len(sh) != len(shape) {
				break // the offsets of the inputs after it are unknown
			}
			if single[s] && !special[s] && !p.fed[s] && p.consts[s] == nil && place[s].root < 0 {
				place[s] = placement{root: root, off: off, shape: sh}
			}
			off += sh[axis] * inner
		}
	}
	if place != nil {
		p.shareRoots(place, roots)
	}
	p.place = place
}

// shareRoots sets p.roots to buffers for roots (their places in place,
// which it renumbers) that roots share where their lives do not overlap:
// a root lives from the first step that writes a value placed in it to
// the last that reads one, and keeps a buffer of its own when a reader
// may alias its values (not one of freshOps). Inception's modules then
// take turns in two buffers and DenseNet's dense blocks share one: a
// buffer written again a module later is still in cache, where storage of
// its own for each root would be written out of cache every time.
func (p *program) shareRoots(place []placement, roots []placeRoot) {
	first := make([]int, len(roots))
	last := make([]int, len(roots))
	for r := range roots {
		first[r], last[r] = len(p.steps), -1
	}
	released := make([]bool, len(place))
	shareable := make([]bool, len(roots))
	for r := range shareable {
		shareable[r] = true
	}
	for i, st := range p.steps {
		for _, s := range st.in {
			if s >= 0 && place[s].root >= 0 && (st.scoped || !freshOps[st.opType]) {
				// A reader that may return a view of the value or hold
				// it (Reshape, a sequence, a subgraph): the root's
				// storage may be read after its last placed value dies.
				shareable[place[s].root] = false
			}
		}
		for _, s := range st.out {
			if s >= 0 && place[s].root >= 0 {
				first[place[s].root] = min(first[place[s].root], i)
			}
		}
		for _, s := range st.release {
			released[s] = true
			if place[s].root >= 0 {
				last[place[s].root] = max(last[place[s].root], i)
			}
		}
	}
	for s := range place {
		if r := place[s].root; r >= 0 && !released[s] {
			last[r] = len(p.steps) // never released: to the end of the run
		}
	}
	// Roots in the order they start, each into the first buffer of its
	// type whose last root has ended before it starts.
	order := make([]int, len(roots))
	for r := range order {
		order[r] = r
	}
	slices.SortStableFunc(order, func(a, b int) int { return first[a] - first[b] })
	buf := make([]int, len(roots))
	var ends []int // by buffer, the last step of its latest root
	for _, r := range order {
		b := -1
		for k, e := range ends {
			if shareable[r] && p.roots[k].dt == roots[r].dt && e < first[r] {
				b = k
				break
			}
		}
		if b < 0 {
			b = len(p.roots)
			p.roots = append(p.roots, placeRoot{dt: roots[r].dt})
			ends = append(ends, -1)
		}
		buf[r] = b
		ends[b] = last[r]
		if !shareable[r] {
			ends[b] = math.MaxInt // its own for good
		}
		p.roots[b].n = max(p.roots[b].n, roots[r].n)
	}
	for s := range place {
		if r := place[s].root; r >= 0 {
			place[s].root = buf[r]
		}
	}
}

// freshOps are the operators whose kernels always return outputs of their
// own, never a view of an input nor an input itself: a root whose values
// only these read may share its buffer (shareRoots).
var freshOps = map[string]bool{
	"Conv": true, "FusedConv": true, "BatchNormalization": true, "FusedBatchNorm": true,
	"Relu": true, "Sigmoid": true, "Tanh": true, "Add": true, "Sub": true, "Mul": true, "Div": true,
	"MaxPool": true, "AveragePool": true, "GlobalAveragePool": true, "GlobalMaxPool": true,
	"Concat": true, "Gemm": true, "FusedGemm": true, "MatMul": true, "Softmax": true, "LRN": true,
}

// staticMeta returns the type and the shape of slot s when shape
// inference found all of its dimensions.
func (p *program) staticMeta(s int) (tensor.DType, []int, bool) {
	m, ok := p.metas[p.slotNames[s]]
	if !ok || m.Shape == nil {
		return 0, nil, false
	}
	shape := make([]int, len(m.Shape))
	for i, d := range m.Shape {
		if !d.Known() {
			return 0, nil, false
		}
		shape[i] = int(d.Size)
	}
	return m.DType, shape, true
}

// placedSlot reports whether slot s has a place in a root.
func (p *program) placedSlot(s int) bool {
	return s >= 0 && s < len(p.place) && p.place[s].root >= 0
}

func prodInts(s []int) int {
	n := 1
	for _, v := range s {
		n *= v
	}
	return n
}

// placed returns the tensor on slot s's place in a's storage of p's
// roots, making the storage and the tensors on the first call.
func (a *arena) placed(p *program, s int) *tensor.Tensor {
	if a.placeOf != p {
		a.makePlaces(p)
	}
	return a.places[s]
}

// makePlaces makes a's storage for p's roots and a tensor on each place.
func (a *arena) makePlaces(p *program) {
	a.placeOf = p
	a.roots = make([]*tensor.Tensor, len(p.roots))
	for i, r := range p.roots {
		a.roots[i] = tensor.MustNew(r.dt, r.n)
	}
	a.places = make([]*tensor.Tensor, len(p.place))
	for s, pl := range p.place {
		if pl.root < 0 {
			continue
		}
		data := reflect.ValueOf(a.roots[pl.root].Data())
		view, err := tensor.FromSlice(pl.shape, data.Slice(pl.off, pl.off+prodInts(pl.shape)).Interface())
		if err != nil {
			panic(err) // the plan's shapes and offsets lie inside their root
		}
		a.places[s] = view
	}
}

// inPlaces reports whether t shares storage with a's roots.
func (a *arena) inPlaces(t *tensor.Tensor) bool {
	for _, r := range a.roots {
		if shares(t, r) {
			return true
		}
	}
	return false
}
