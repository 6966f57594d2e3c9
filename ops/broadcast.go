package ops

import (
	"fmt"
	"slices"

	"github.com/onyxrt/onyx/tensor"
)

// This file holds the multidirectional (numpy-style) broadcasting machinery
// shared by every elementwise operator, and usable by other families:
//
//   - broadcastBinary applies a binaryKernel to two tensors, taking tight
//     slice-to-slice loops on the fast paths (same shape, one scalar side)
//     and, in the general case, calling the kernel once per contiguous run
//     of the output (never once per element).
//   - broadcastTernary applies a scalar function to three tensors (Where).
//   - bcastPlan is the underlying iteration plan: input shapes collapsed to
//     as few dimensions as possible, with per-input strides (0 where an
//     input is broadcast). Use it directly for other n-ary patterns.
//   - ewParallel splits a range over rc.Threads goroutines.

// binaryKernel is an elementwise binary operation over slices, in the three
// forms broadcasting needs: vector-vector (equal lengths), vector-scalar and
// scalar-vector. Each method writes len(o) results; a and b have at least
// len(o) elements where they are slices. Implementations are small value
// types (an op code) or funcKernel; the methods are called once per
// contiguous run, so their loops should be tight.
type binaryKernel[A, B, O any] interface {
	vv(o []O, a []A, b []B)
	vs(o []O, a []A, b B)
	sv(o []O, a A, b []B)
}

// funcKernel adapts a scalar function to binaryKernel. It costs one
// indirect call per element: fine for rare or expensive operations, not
// for the hot arithmetic ones.
type funcKernel[A, B, O any] func(A, B) O

func (f funcKernel[A, B, O]) vv(o []O, a []A, b []B) {
	a, b = a[:len(o)], b[:len(o)]
	for i := range o {
		o[i] = f(a[i], b[i])
	}
}

func (f funcKernel[A, B, O]) vs(o []O, a []A, b B) {
	a = a[:len(o)]
	for i := range o {
		o[i] = f(a[i], b)
	}
}

func (f funcKernel[A, B, O]) sv(o []O, a A, b []B) {
	b = b[:len(o)]
	for i := range o {
		o[i] = f(a, b[i])
	}
}

// Grain sizes for ewParallel: the fewest elements worth a goroutine.
const (
	grainCheap = 1 << 15 // one arithmetic op per element
	grainHeavy = 1 << 12 // a transcendental function per element
)

// ewParallel calls fn over [0, n) split into at most rc.Threads chunks of
// at least grain items each; see parallelFor.
func ewParallel(rc *RunContext, n, grain int, fn func(lo, hi int)) {
	parallelFor(rc.workers(), rc.threads(), n, grain, fn)
}

// ewSerial reports whether ewParallel would run all of [0, n) on the
// calling goroutine (parallelFor's rule). Kernels then call their loop
// directly: a closure handed to ewParallel escapes to the heap, which
// costs an allocation per call even when no split happens.
func ewSerial(rc *RunContext, n, grain int) bool {
	return min(rc.threads(), n/max(grain, 1)) <= 1
}

// newOutput allocates a zeroed output tensor whose element type is O.
func newOutput[O tensor.Elem](shape []int) (*tensor.Tensor, []O, error) {
	dt := tensor.DTypeOf([]O(nil))
	if dt == tensor.Undefined {
		return nil, nil, fmt.Errorf("no tensor type for %T", []O(nil))
	}
	t, err := tensor.New(dt, shape...)
	if err != nil {
		return nil, nil, err
	}
	return t, tensor.Data[O](t), nil
}

// newOutputUninit is newOutput for kernels that write every element: the
// storage comes from the run's allocator and may hold old values.
func newOutputUninit[O tensor.Elem](rc *RunContext, shape []int) (*tensor.Tensor, []O, error) {
	dt := tensor.DTypeOf([]O(nil))
	if dt == tensor.Undefined {
		return nil, nil, fmt.Errorf("no tensor type for %T", []O(nil))
	}
	t, err := rc.NewUninit(dt, shape...)
	if err != nil {
		return nil, nil, err
	}
	return t, tensor.Data[O](t), nil
}

// dataAs returns t's elements as []T or an error naming the mismatch.
func dataAs[T tensor.Elem](t *tensor.Tensor) ([]T, error) {
	d, ok := t.Data().([]T)
	if !ok {
		return nil, fmt.Errorf("input of type %v where %v was expected", t.DType(), tensor.DTypeOf([]T(nil)))
	}
	return d, nil
}

// bcastPlan iterates an output of the broadcast shape of k inputs, one
// contiguous innermost run at a time. Output dimensions of size 1 are
// dropped and adjacent dimensions in which every input is either broadcast
// or not in the same way are merged, so [N,C,H,W]+[1,C,1,1] becomes three
// dimensions [N, C, H*W] whose inner run has the second input broadcast.
type bcastPlan struct {
	shape   []int   // the output shape, uncollapsed
	size    int     // number of output elements
	inner   int     // length of the innermost run
	innerSt []int   // per input: 1 if it advances along the run, 0 if broadcast
	outer   []int   // collapsed outer dimensions, outermost first
	outerSt [][]int // outerSt[j][d] is input j's stride along outer[d]
	rows    int     // number of inner runs (size / inner)
}

// newBcastPlan builds the plan for inputs of the given shapes (at most 32),
// failing when they are not broadcastable.
func newBcastPlan(shapes ...[]int) (*bcastPlan, error) {
	if len(shapes) > 32 {
		return nil, fmt.Errorf("broadcast plan: %d inputs (limit 32)", len(shapes))
	}
	out, err := tensor.BroadcastShapes(shapes...)
	if err != nil {
		return nil, err
	}
	size, err := tensor.NumElements(out)
	if err != nil {
		return nil, err
	}
	k, r := len(shapes), len(out)
	var dims []int
	var masks []uint32 // bit j set: input j is broadcast along the dimension
	for i := 0; i < r; i++ {
		if out[i] == 1 {
			continue
		}
		var m uint32
		for j, s := range shapes {
			off := r - len(s)
			if i < off || s[i-off] == 1 {
				m |= 1 << j
			}
		}
		if n := len(dims); n > 0 && masks[n-1] == m {
			dims[n-1] *= out[i]
		} else {
			dims = append(dims, out[i])
			masks = append(masks, m)
		}
	}
	if len(dims) == 0 {
		dims, masks = []int{1}, []uint32{0}
	}
	p := &bcastPlan{shape: out, size: size, innerSt: make([]int, k), outerSt: make([][]int, k)}
	last := len(dims) - 1
	for j := 0; j < k; j++ {
		st := make([]int, len(dims))
		acc := 1
		for d := last; d >= 0; d-- {
			if masks[d]&(1<<j) == 0 {
				st[d] = acc
				acc *= dims[d]
			}
		}
		p.innerSt[j] = st[last]
		p.outerSt[j] = st[:last]
	}
	p.inner = dims[last]
	p.outer = dims[:last]
	if p.inner > 0 {
		p.rows = size / p.inner
	}
	return p, nil
}

// forRows calls fn(outOffset, inOffsets) for the runs lo..hi-1; each run
// covers output elements [outOffset, outOffset+p.inner), and input j starts
// at inOffsets[j] with step p.innerSt[j]. offs is scratch of length k.
func (p *bcastPlan) forRows(lo, hi int, offs []int, fn func(out int, offs []int)) {
	nd := len(p.outer)
	idx := make([]int, nd)
	rem := lo
	for d := nd - 1; d >= 0; d-- {
		idx[d] = rem % p.outer[d]
		rem /= p.outer[d]
	}
	for j := range offs {
		offs[j] = 0
		for d := 0; d < nd; d++ {
			offs[j] += idx[d] * p.outerSt[j][d]
		}
	}
	for row := lo; row < hi; row++ {
		fn(row*p.inner, offs)
		for d := nd - 1; d >= 0; d-- {
			idx[d]++
			if idx[d] < p.outer[d] {
				for j := range offs {
					offs[j] += p.outerSt[j][d]
				}
				break
			}
			for j := range offs {
				offs[j] -= p.outerSt[j][d] * (p.outer[d] - 1)
			}
			idx[d] = 0
		}
	}
}

// run calls fn for every run, in parallel over rc.Threads when the output
// is large enough (grain is the fewest elements per goroutine).
func (p *bcastPlan) run(rc *RunContext, grain int, fn func(out int, offs []int)) {
	if p.size == 0 {
		return
	}
	ewParallel(rc, p.rows, max(1, grain/max(p.inner, 1)), func(lo, hi int) {
		p.forRows(lo, hi, make([]int, len(p.innerSt)), fn)
	})
}

// broadcastBinary returns k applied elementwise to a ([]A) and b ([]B)
// under ONNX multidirectional broadcasting; the result has element type O
// and the broadcast shape. It fails when the shapes do not broadcast or the
// element types are not A and B. Same-shape operands and a scalar on
// either side take single tight loops (split over rc.Threads when large);
// other shapes go through a bcastPlan, one kernel call per contiguous run.
func broadcastBinary[A, B, O tensor.Elem](rc *RunContext, a, b *tensor.Tensor, k binaryKernel[A, B, O], grain int) (*tensor.Tensor, error) {
	ad, err := dataAs[A](a)
	if err != nil {
		return nil, err
	}
	bd, err := dataAs[B](b)
	if err != nil {
		return nil, err
	}
	var shape []int
	var shapeBuf [8]int
	if tensor.ShapeEqual(a.Shape(), b.Shape()) {
		shape = a.Shape()
	} else if shape, err = broadcastShape2(shapeBuf[:0], a.Shape(), b.Shape()); err != nil {
		return nil, err
	}
	out, od, err := newOutputUninit[O](rc, shape)
	if err != nil {
		return nil, err
	}
	n := len(od)
	if n == 0 {
		return out, nil
	}
	serial := ewSerial(rc, n, grain)
	switch {
	case len(ad) == n && len(bd) == n:
		if serial {
			k.vv(od, ad, bd)
		} else {
			ewParallel(rc, n, grain, func(lo, hi int) { k.vv(od[lo:hi], ad[lo:hi], bd[lo:hi]) })
		}
		return out, nil
	case len(ad) == n && len(bd) == 1:
		if serial {
			k.vs(od, ad, bd[0])
		} else {
			s := bd[0]
			ewParallel(rc, n, grain, func(lo, hi int) { k.vs(od[lo:hi], ad[lo:hi], s) })
		}
		return out, nil
	case len(ad) == 1 && len(bd) == n:
		if serial {
			k.sv(od, ad[0], bd)
		} else {
			s := ad[0]
			ewParallel(rc, n, grain, func(lo, hi int) { k.sv(od[lo:hi], s, bd[lo:hi]) })
		}
		return out, nil
	}
	var q bcast2
	if q.init(shape, a.Shape(), b.Shape()) {
		rowGrain := max(1, grain/max(q.inner, 1))
		if ewSerial(rc, q.rows, rowGrain) {
			bcast2Rows(&q, k, od, ad, bd, 0, q.rows)
		} else {
			pq := q // a copy for the other goroutines (q stays on the stack)
			ewParallel(rc, q.rows, rowGrain, func(lo, hi int) { bcast2Rows(&pq, k, od, ad, bd, lo, hi) })
		}
		return out, nil
	}
	p, err := newBcastPlan(a.Shape(), b.Shape())
	if err != nil {
		return nil, err
	}
	m := p.inner
	sa, sb := p.innerSt[0], p.innerSt[1]
	p.run(rc, grain, func(o int, offs []int) {
		oa, ob := offs[0], offs[1]
		switch {
		case sa == 1 && sb == 1:
			k.vv(od[o:o+m], ad[oa:oa+m], bd[ob:ob+m])
		case sa == 1:
			k.vs(od[o:o+m], ad[oa:oa+m], bd[ob])
		case sb == 1:
			k.sv(od[o:o+m], ad[oa], bd[ob:ob+m])
		default: // both broadcast along the run: one value repeated
			k.vs(od[o:o+1], ad[oa:oa+1], bd[ob])
			for i := o + 1; i < o+m; i++ {
				od[i] = od[o]
			}
		}
	})
	return out, nil
}

// broadcastTernary returns f(a[i], b[i], c[i]) over the multidirectional
// broadcast of three tensors of element types A, B and C. It costs one
// indirect call per element (Where is its main user).
func broadcastTernary[A, B, C, O tensor.Elem](rc *RunContext, a, b, c *tensor.Tensor, f func(A, B, C) O) (*tensor.Tensor, error) {
	ad, err := dataAs[A](a)
	if err != nil {
		return nil, err
	}
	bd, err := dataAs[B](b)
	if err != nil {
		return nil, err
	}
	cd, err := dataAs[C](c)
	if err != nil {
		return nil, err
	}
	p, err := newBcastPlan(a.Shape(), b.Shape(), c.Shape())
	if err != nil {
		return nil, err
	}
	out, od, err := newOutputUninit[O](rc, p.shape)
	if err != nil {
		return nil, err
	}
	if len(ad) == p.size && len(bd) == p.size && len(cd) == p.size {
		ewParallel(rc, p.size, grainCheap, func(lo, hi int) {
			for i := lo; i < hi; i++ {
				od[i] = f(ad[i], bd[i], cd[i])
			}
		})
		return out, nil
	}
	m := p.inner
	sa, sb, sc := p.innerSt[0], p.innerSt[1], p.innerSt[2]
	p.run(rc, grainCheap, func(o int, offs []int) {
		ia, ib, ic := offs[0], offs[1], offs[2]
		for i := o; i < o+m; i++ {
			od[i] = f(ad[ia], bd[ib], cd[ic])
			ia += sa
			ib += sb
			ic += sc
		}
	})
	return out, nil
}

// bcast2 is the bcastPlan of two or three inputs whose broadcast has
// rank at most 8, held in arrays rather than slices so that it lives on
// the stack.
type bcast2 struct {
	nd      int    // number of collapsed outer dimensions
	outer   [8]int // their sizes, outermost first
	st      [3][8]int
	inner   int // length of the innermost run
	innerSt [3]int
	rows    int // number of inner runs
}

// init plans the broadcast of shapes (two or three) to out, their
// broadcast shape. It returns false when out has more than 8 dimensions.
func (p *bcast2) init(out []int, shapes ...[]int) bool {
	r := len(out)
	if r > len(p.outer) || len(shapes) > len(p.st) {
		return false
	}
	var dims [8]int
	var masks [8]uint8 // bit j set: input j is broadcast along the dimension
	nd := 0
	size := 1
	for i := 0; i < r; i++ {
		size *= out[i]
		if out[i] == 1 {
			continue
		}
		var m uint8
		for j, s := range shapes {
			off := r - len(s)
			if i < off || s[i-off] == 1 {
				m |= 1 << j
			}
		}
		if nd > 0 && masks[nd-1] == m {
			dims[nd-1] *= out[i]
		} else {
			dims[nd], masks[nd] = out[i], m
			nd++
		}
	}
	if nd == 0 {
		dims[0], masks[0], nd = 1, 0, 1
	}
	last := nd - 1
	for j := range shapes {
		acc := 1
		for d := last; d >= 0; d-- {
			if masks[d]&(1<<j) == 0 {
				p.st[j][d] = acc
				acc *= dims[d]
			} else {
				p.st[j][d] = 0
			}
		}
		p.innerSt[j] = p.st[j][last]
	}
	p.nd = last
	copy(p.outer[:last], dims[:last])
	p.inner = dims[last]
	p.rows = 0
	if p.inner > 0 {
		p.rows = size / p.inner
	}
	return true
}

// bcast2Rows applies k to the inner runs lo..hi-1 of p.
func bcast2Rows[A, B, O any](p *bcast2, k binaryKernel[A, B, O], od []O, ad []A, bd []B, lo, hi int) {
	nd := p.nd
	var idx [8]int
	rem := lo
	for d := nd - 1; d >= 0; d-- {
		idx[d] = rem % p.outer[d]
		rem /= p.outer[d]
	}
	oa, ob := 0, 0
	for d := 0; d < nd; d++ {
		oa += idx[d] * p.st[0][d]
		ob += idx[d] * p.st[1][d]
	}
	m := p.inner
	sa, sb := p.innerSt[0], p.innerSt[1]
	for row := lo; row < hi; row++ {
		o := row * m
		switch {
		case sa == 1 && sb == 1:
			k.vv(od[o:o+m], ad[oa:oa+m], bd[ob:ob+m])
		case sa == 1:
			k.vs(od[o:o+m], ad[oa:oa+m], bd[ob])
		case sb == 1:
			k.sv(od[o:o+m], ad[oa], bd[ob:ob+m])
		default: // both broadcast along the run: one value repeated
			k.vs(od[o:o+1], ad[oa:oa+1], bd[ob])
			for i := o + 1; i < o+m; i++ {
				od[i] = od[o]
			}
		}
		for d := nd - 1; d >= 0; d-- {
			idx[d]++
			if idx[d] < p.outer[d] {
				oa += p.st[0][d]
				ob += p.st[1][d]
				break
			}
			oa -= p.st[0][d] * (p.outer[d] - 1)
			ob -= p.st[1][d] * (p.outer[d] - 1)
			idx[d] = 0
		}
	}
}

// broadcastShape2 is tensor.BroadcastShapes of two shapes, appended to
// dst[:0].
func broadcastShape2(dst, a, b []int) ([]int, error) {
	r := max(len(a), len(b))
	out := dst[:0]
	for i := 0; i < r; i++ {
		da, db := 1, 1
		if j := i - (r - len(a)); j >= 0 {
			da = a[j]
		}
		if j := i - (r - len(b)); j >= 0 {
			db = b[j]
		}
		switch {
		case da == db || db == 1:
			out = append(out, da)
		case da == 1:
			out = append(out, db)
		default:
			return nil, fmt.Errorf("shapes %v and %v are not broadcastable (dimension %d: %d vs %d)", slices.Clone(a), slices.Clone(b), i, da, db)
		}
	}
	return out, nil
}
