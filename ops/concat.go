package ops

import (
	"fmt"
	"math"
	"slices"
	"unsafe"

	"github.com/onyxrt/onyx/tensor"
)

// Concat, Split, Tile and Expand: joining, cutting and repeating tensors.

func buildConcat(b *Builder) (Kernel, error) {
	var axis int64
	if b.Opset < 4 {
		axis = b.Int("axis", 1)
	} else {
		axis = b.RequireInt("axis")
	}
	if err := b.Err(); err != nil {
		return nil, err
	}
	return KernelFunc(func(rc *RunContext, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
		ins := in
		if slices.Contains(in, nil) {
			// Without the absent (optional) inputs; only this rare case
			// may allocate (more than 8 inputs).
			var insBuf [8]*tensor.Tensor
			ins = insBuf[:0]
			for _, t := range in {
				if t != nil {
					ins = append(ins, t)
				}
			}
		}
		if len(ins) == 0 {
			return nil, fmt.Errorf("no inputs")
		}
		first := ins[0]
		rank := first.Rank()
		if rank == 0 {
			return nil, fmt.Errorf("cannot concatenate scalars")
		}
		a, err := NormAxis(axis, rank)
		if err != nil {
			return nil, err
		}
		var shapeBuf [8]int
		shape := append(shapeBuf[:0], first.Shape()...)
		shape[a] = 0
		for i, t := range ins {
			s := t.Shape()
			if t.DType() != first.DType() {
				return nil, fmt.Errorf("input %d has type %v, input 0 has %v", i, t.DType(), first.DType())
			}
			if len(s) != rank {
				return nil, fmt.Errorf("input %d has shape %v, input 0 has %v (ranks differ)", i, s, first.Shape())
			}
			for j := range s {
				if j != a && s[j] != shape[j] {
					return nil, fmt.Errorf("input %d has shape %v, input 0 has %v (dimension %d differs)", i, s, first.Shape(), j)
				}
			}
			shape[a] += s[a]
		}
		out, err := layoutNewUninit(rc, first.DType(), shape)
		if err != nil {
			return nil, err
		}
		w, err := layoutWidth(first.DType())
		if err != nil {
			return nil, err
		}
		wk, threads := rc.workers(), rc.threads()
		switch w {
		case 1:
			concatRaw[uint8](wk, threads, out, ins, a)
		case 2:
			concatRaw[uint16](wk, threads, out, ins, a)
		case 4:
			concatRaw[uint32](wk, threads, out, ins, a)
		case 8:
			concatRaw[uint64](wk, threads, out, ins, a)
		default:
			concatRaw[string](wk, threads, out, ins, a)
		}
		return rc.Results(out), nil
	}), nil
}

// concatRaw copies ins into out along axis; an output of at least
// concatSplitBytes is split into equal ranges over up to threads
// goroutines (the copies are bound by memory, which two cores stream
// faster than one).
func concatRaw[T layoutElem](wk *Workers, threads int, out *tensor.Tensor, ins []*tensor.Tensor, axis int) {
	dst := layoutRaw[T](out)
	if len(dst) == 0 {
		return
	}
	j := concatJob[T]{dst: dst, ins: ins, axis: axis, inner: layoutProd(out.Shape()[axis+1:])}
	j.rowLen = out.Shape()[axis] * j.inner
	var zero T
	if _, str := any(zero).(string); str || threads <= 1 || len(dst)*int(unsafe.Sizeof(zero)) < concatSplitBytes {
		j.copyRange(0, len(dst))
		return
	}
	j.per = (len(dst) + threads - 1) / threads
	parallelForOf(wk, threads, threads, 1, j, (*concatJob[T]).run)
}

// concatSplitBytes is the smallest output that concatRaw splits.
const concatSplitBytes = 512 << 10

// concatJob is one Concat's copies: rows of rowLen elements of dst (one
// per index of the axes before axis), each the inputs' rows side by side.
type concatJob[T layoutElem] struct {
	dst    []T
	ins    []*tensor.Tensor
	axis   int
	inner  int // elements per index of axis
	rowLen int
	per    int // elements of dst per piece of a split
}

// run copies the pieces [lo, hi) of dst.
func (j *concatJob[T]) run(lo, hi int) {
	j.copyRange(lo*j.per, min(hi*j.per, len(j.dst)))
}

// copyRange writes the elements [from, to) of dst.
func (j *concatJob[T]) copyRange(from, to int) {
	for o := from / j.rowLen; o*j.rowLen < to; o++ {
		at := o * j.rowLen // where the input's row goes
		for _, t := range j.ins {
			chunk := t.Shape()[j.axis] * j.inner
			a, b := max(at, from), min(at+chunk, to)
			if a < b {
				src := layoutRaw[T](t)[o*chunk:]
				if &j.dst[a] != &src[a-at] { // else computed in place (runtime/place.go)
					copy(j.dst[a:b], src[a-at:b-at])
				}
			}
			at += chunk
		}
	}
}

// buildSplit handles Split-1 (split attribute or second input), 2 and 11
// (split attribute) and 13 (split input).
func buildSplit(b *Builder) (Kernel, error) {
	axis := b.Int("axis", 0)
	attrSplit := b.Ints("split", nil)
	if b.Opset >= 13 {
		attrSplit = nil
	}
	// Split-18: num_outputs splits into that many parts, the last one
	// smaller when the dimension does not divide evenly.
	numOutputs := int64(0)
	if b.Opset >= 18 && b.Has("num_outputs") {
		numOutputs = b.Int("num_outputs", 0)
		if b.Err() == nil && (numOutputs < 1 || int(numOutputs) != b.NumOutputs) {
			b.Fail("num_outputs %d does not match the node's %d outputs", numOutputs, b.NumOutputs)
		}
	}
	if err := b.Err(); err != nil {
		return nil, err
	}
	nOut := b.NumOutputs
	splitInput := b.Opset >= 13 || b.Opset < 2
	return KernelFunc(func(rc *RunContext, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
		if err := Need(in, 1); err != nil {
			return nil, err
		}
		x := in[0]
		a, err := NormAxis(axis, x.Rank())
		if err != nil {
			return nil, err
		}
		if x.Rank() == 0 {
			return nil, fmt.Errorf("cannot split a scalar")
		}
		dim := x.Shape()[a]
		split := attrSplit
		if splitInput {
			if t := Opt(in, 1); t != nil {
				if split, err = layoutInts(t, "split"); err != nil {
					return nil, err
				}
				if len(split) == 0 {
					split = nil
				}
			}
		}
		n := nOut
		if n <= 0 {
			n = len(split)
		}
		var sizesBuf [8]int
		sizes := intsBuf(sizesBuf[:], n)
		if split != nil && numOutputs > 0 {
			return nil, fmt.Errorf("split and num_outputs must not both be given")
		}
		if split == nil && numOutputs > 0 {
			chunk := (dim + n - 1) / n
			last := dim - chunk*(n-1)
			if last < 0 {
				return nil, fmt.Errorf("dimension %d of size %d cannot be split into %d parts of size %d", a, dim, n, chunk)
			}
			for i := range sizes {
				sizes[i] = chunk
			}
			sizes[n-1] = last
		} else if split == nil {
			if n == 0 || dim%n != 0 {
				return nil, fmt.Errorf("dimension %d of size %d cannot be split into %d equal parts", a, dim, n)
			}
			for i := range sizes {
				sizes[i] = dim / n
			}
		} else {
			if len(split) != n {
				return nil, fmt.Errorf("split %v has %d entries for %d outputs", split, len(split), n)
			}
			sum := int64(0)
			for i, v := range split {
				if v < 0 || v > int64(dim) {
					return nil, fmt.Errorf("split %v has invalid size %d", split, v)
				}
				sum += v
				sizes[i] = int(v)
			}
			if sum != int64(dim) {
				return nil, fmt.Errorf("split %v sums to %d, dimension %d has size %d", split, sum, a, dim)
			}
		}
		w, err := layoutWidth(x.DType())
		if err != nil {
			return nil, err
		}
		switch w {
		case 1:
			return splitRaw[uint8](rc, x, a, sizes)
		case 2:
			return splitRaw[uint16](rc, x, a, sizes)
		case 4:
			return splitRaw[uint32](rc, x, a, sizes)
		case 8:
			return splitRaw[uint64](rc, x, a, sizes)
		}
		return splitRaw[string](rc, x, a, sizes)
	}), nil
}

func splitRaw[T layoutElem](rc *RunContext, x *tensor.Tensor, axis int, sizes []int) ([]*tensor.Tensor, error) {
	src := layoutRaw[T](x)
	s := x.Shape()
	outer := layoutProd(s[:axis])
	inner := layoutProd(s[axis+1:])
	rowLen := s[axis] * inner
	outs := rc.resultSlots(len(sizes))
	off := 0
	var shapeBuf [8]int
	for i, sz := range sizes {
		shape := append(shapeBuf[:0], s...)
		shape[axis] = sz
		t, err := layoutNewUninit(rc, x.DType(), shape)
		if err != nil {
			return nil, err
		}
		dst := layoutRaw[T](t)
		chunk := sz * inner
		if chunk > 0 {
			for o := 0; o < outer; o++ {
				copy(dst[o*chunk:(o+1)*chunk], src[o*rowLen+off:o*rowLen+off+chunk])
			}
		}
		off += chunk
		outs[i] = t
	}
	return outs, nil
}

// buildTile1 handles Tile-1: inputs (input, tiles, axis), repeating along
// one axis.
func buildTile1(b *Builder) (Kernel, error) {
	return KernelFunc(func(rc *RunContext, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
		if err := Need(in, 3); err != nil {
			return nil, err
		}
		x := in[0]
		tiles, err := layoutScalarInt(in[1], "tiles")
		if err != nil {
			return nil, err
		}
		axis, err := layoutScalarInt(in[2], "axis")
		if err != nil {
			return nil, err
		}
		a, err := NormAxis(axis, x.Rank())
		if err != nil {
			return nil, err
		}
		reps := make([]int64, x.Rank())
		for i := range reps {
			reps[i] = 1
		}
		reps[a] = tiles
		out, err := tileTensor(rc, x, reps)
		if err != nil {
			return nil, err
		}
		return rc.Results(out), nil
	}), nil
}

// buildTile handles Tile-6 and later (repeats input).
func buildTile(b *Builder) (Kernel, error) {
	return KernelFunc(func(rc *RunContext, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
		if err := Need(in, 2); err != nil {
			return nil, err
		}
		reps, err := layoutInts(in[1], "repeats")
		if err != nil {
			return nil, err
		}
		out, err := tileTensor(rc, in[0], reps)
		if err != nil {
			return nil, err
		}
		return rc.Results(out), nil
	}), nil
}

// tileTensor repeats x reps[i] times along each axis i, as a strided copy
// from a view of rank 2r: (reps[0], d[0], reps[1], d[1], ...) whose repeat
// dimensions have source stride 0.
func tileTensor(rc *RunContext, x *tensor.Tensor, reps []int64) (*tensor.Tensor, error) {
	s := x.Shape()
	if len(reps) != len(s) {
		return nil, fmt.Errorf("repeats %v has %d entries for an input of rank %d", reps, len(reps), len(s))
	}
	var outBuf, strBuf, viewBuf, vsBuf [8]int
	outShape := intsBuf(outBuf[:], len(s))
	for i, r := range reps {
		if r < 0 {
			return nil, fmt.Errorf("repeats %v has negative entry", reps)
		}
		if s[i] != 0 && r > int64(math.MaxInt/s[i]) {
			return nil, fmt.Errorf("repeats %v: %w", reps, tensor.ErrTooLarge)
		}
		outShape[i] = s[i] * int(r)
	}
	out, err := layoutNewUninit(rc, x.DType(), outShape)
	if err != nil {
		return nil, err
	}
	if out.Len() == 0 {
		return out, nil
	}
	inStr := stridesInto(intsBuf(strBuf[:], len(s)), s)
	view := intsBuf(viewBuf[:], 2*len(s))
	vs := intsBuf(vsBuf[:], 2*len(s))
	for i := range s {
		view[2*i], view[2*i+1] = int(reps[i]), s[i]
		vs[2*i], vs[2*i+1] = 0, inStr[i]
	}
	if err := layoutStrided(out, x, 0, view, vs); err != nil {
		return nil, err
	}
	return out, nil
}

// layoutStrided fills out (contiguous, holding the elements of shape view)
// from x read from element so on with source strides ss.
func layoutStrided(out, x *tensor.Tensor, so int, view, ss []int) error {
	w, err := layoutWidth(x.DType())
	if err != nil {
		return err
	}
	switch w {
	case 1:
		stridedRaw[uint8](out, x, so, view, ss)
	case 2:
		stridedRaw[uint16](out, x, so, view, ss)
	case 4:
		stridedRaw[uint32](out, x, so, view, ss)
	case 8:
		stridedRaw[uint64](out, x, so, view, ss)
	default:
		stridedRaw[string](out, x, so, view, ss)
	}
	return nil
}

func stridedRaw[T layoutElem](out, x *tensor.Tensor, so int, view, ss []int) {
	var buf [8]int
	layoutCopy(layoutRaw[T](out), 0, stridesInto(intsBuf(buf[:], len(view)), view), layoutRaw[T](x), so, ss, view)
}

func buildExpand(b *Builder) (Kernel, error) {
	return KernelFunc(func(rc *RunContext, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
		if err := Need(in, 2); err != nil {
			return nil, err
		}
		x := in[0]
		spec, err := layoutInts(in[1], "shape")
		if err != nil {
			return nil, err
		}
		var shapeBuf, outBuf, strBuf [8]int
		shape, err := layoutDimsInto(shapeBuf[:], spec, "shape")
		if err != nil {
			return nil, err
		}
		outShape, err := broadcastShape2(outBuf[:0], x.Shape(), shape)
		if err != nil {
			return nil, err
		}
		out, err := layoutNewUninit(rc, x.DType(), outShape)
		if err != nil {
			return nil, err
		}
		if out.Len() > 0 {
			if err := layoutStrided(out, x, 0, outShape, broadcastStridesInto(intsBuf(strBuf[:], len(outShape)), x.Shape(), outShape)); err != nil {
				return nil, err
			}
		}
		return rc.Results(out), nil
	}), nil
}

// broadcastStridesInto is tensor.BroadcastStrides writing into dst (of
// len(out)).
func broadcastStridesInto(dst, in, out []int) []int {
	clear(dst)
	off := len(out) - len(in)
	acc := 1
	for i := len(in) - 1; i >= 0; i-- {
		if in[i] != 1 {
			dst[off+i] = acc
		}
		acc *= in[i]
	}
	return dst
}
