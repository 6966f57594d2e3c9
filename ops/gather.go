package ops

import (
	"fmt"

	"github.com/onyxrt/onyx/tensor"
)

// Gather, GatherElements, GatherND and OneHot: reading by index.

// gatherIndexList reads an index tensor, wrapping negative indices into
// [0, n) and rejecting out-of-range ones.
func gatherIndexList(t *tensor.Tensor, n int) ([]int, error) {
	return gatherIndexListInto(nil, t, n)
}

// gatherIndexListInto is gatherIndexList writing into dst when it is long
// enough.
func gatherIndexListInto(dst []int, t *tensor.Tensor, n int) ([]int, error) {
	if v, ok := t.Data().([]int32); ok {
		// int32 indices (what tf2onnx's Cast makes) read in place: no
		// int64 copy to allocate.
		out := intsBuf(dst, len(v))
		for i, x := range v {
			var err error
			if out[i], err = layoutIndex(int64(x), n); err != nil {
				return nil, fmt.Errorf("indices: %w", err)
			}
		}
		return out, nil
	}
	v, err := t.AsInt64s()
	if err != nil {
		return nil, fmt.Errorf("indices: %w", err)
	}
	out := intsBuf(dst, len(v))
	for i, x := range v {
		if out[i], err = layoutIndex(x, n); err != nil {
			return nil, fmt.Errorf("indices: %w", err)
		}
	}
	return out, nil
}

func buildGather(b *Builder) (Kernel, error) {
	axis := b.Int("axis", 0)
	if err := b.Err(); err != nil {
		return nil, err
	}
	return KernelFunc(func(rc *RunContext, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
		if err := Need(in, 2); err != nil {
			return nil, err
		}
		x, ind := in[0], in[1]
		a, err := NormAxis(axis, x.Rank())
		if err != nil {
			return nil, err
		}
		if x.Rank() == 0 {
			return nil, fmt.Errorf("cannot gather from a scalar")
		}
		s := x.Shape()
		var idxBuf [64]int
		var idx []int
		i64, isI64 := ind.Data().([]int64)
		i32, isI32 := ind.Data().([]int32)
		inPlace := (isI64 && len(i64) > len(idxBuf)) || (isI32 && len(i32) > len(idxBuf))
		switch {
		case inPlace && isI64:
			// Many indices: read them in place (no list to allocate).
			if err := checkIndices(i64, s[a]); err != nil {
				return nil, err
			}
		case inPlace:
			if err := checkIndices(i32, s[a]); err != nil {
				return nil, err
			}
		default:
			if idx, err = gatherIndexListInto(idxBuf[:], ind, s[a]); err != nil {
				return nil, err
			}
		}
		var shapeBuf [8]int
		shape := append(append(append(shapeBuf[:0], s[:a]...), ind.Shape()...), s[a+1:]...)
		out, err := layoutNewUninit(rc, x.DType(), shape)
		if err != nil {
			return nil, err
		}
		if out.Len() > 0 {
			outer, dim, inner := layoutProd(s[:a]), s[a], layoutProd(s[a+1:])
			switch {
			case inPlace && isI64:
				err = gatherInto(out, x, outer, dim, inner, i64)
			case inPlace:
				err = gatherInto(out, x, outer, dim, inner, i32)
			default:
				err = gatherInto(out, x, outer, dim, inner, idx)
			}
			if err != nil {
				return nil, err
			}
		}
		return rc.Results(out), nil
	}), nil
}

// gatherIndices returns x, read as having shape, with the entries idx
// (valid, non-negative) taken along axis: its axis dimension becomes
// len(idx).
func gatherIndices(rc *RunContext, x *tensor.Tensor, shape []int, axis int, idx []int) (*tensor.Tensor, error) {
	outShape := append([]int{}, shape...)
	outShape[axis] = len(idx)
	out, err := layoutNewUninit(rc, x.DType(), outShape)
	if err != nil {
		return nil, err
	}
	if out.Len() == 0 {
		return out, nil
	}
	if err := gatherInto(out, x, layoutProd(shape[:axis]), shape[axis], layoutProd(shape[axis+1:]), idx); err != nil {
		return nil, err
	}
	return out, nil
}

// gatherInto is gatherRaw for x's element type, called directly (see
// layoutWidth: through a function value the slices would escape).
func gatherInto[I int | int64 | int32](out, x *tensor.Tensor, outer, dim, inner int, idx []I) error {
	w, err := layoutWidth(x.DType())
	if err != nil {
		return err
	}
	switch w {
	case 1:
		gatherRaw[uint8](out, x, outer, dim, inner, idx)
	case 2:
		gatherRaw[uint16](out, x, outer, dim, inner, idx)
	case 4:
		gatherRaw[uint32](out, x, outer, dim, inner, idx)
	case 8:
		gatherRaw[uint64](out, x, outer, dim, inner, idx)
	default:
		gatherRaw[string](out, x, outer, dim, inner, idx)
	}
	return nil
}

// gatherRaw copies the entries idx along the middle dimension (of size
// dim) of x, read as (outer, dim, inner), to out. Indices are valid;
// negative ones count from the end.
func gatherRaw[T layoutElem, I int | int64 | int32](out, x *tensor.Tensor, outer, dim, inner int, idx []I) {
	dst, src := layoutRaw[T](out), layoutRaw[T](x)
	d := 0
	for o := 0; o < outer; o++ {
		base := o * dim * inner
		if inner == 1 {
			for _, i := range idx {
				j := int(i)
				if j < 0 {
					j += dim
				}
				dst[d] = src[base+j]
				d++
			}
			continue
		}
		for _, i := range idx {
			j := int(i)
			if j < 0 {
				j += dim
			}
			copy(dst[d:d+inner], src[base+j*inner:base+(j+1)*inner])
			d += inner
		}
	}
}

// checkIndices fails when an index is outside [-n, n).
func checkIndices[I int64 | int32](v []I, n int) error {
	for _, x := range v {
		if int64(x) < -int64(n) || int64(x) >= int64(n) {
			_, err := layoutIndex(int64(x), n)
			return fmt.Errorf("indices: %w", err)
		}
	}
	return nil
}

func buildGatherElements(b *Builder) (Kernel, error) {
	axis := b.Int("axis", 0)
	if err := b.Err(); err != nil {
		return nil, err
	}
	return KernelFunc(func(rc *RunContext, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
		if err := Need(in, 2); err != nil {
			return nil, err
		}
		x, ind := in[0], in[1]
		a, err := elementsCheck(x.Shape(), ind.Shape(), axis, "indices")
		if err != nil {
			return nil, err
		}
		offs, err := elementsOffsets(x.Shape(), ind, a)
		if err != nil {
			return nil, err
		}
		out, err := layoutNewUninit(rc, x.DType(), ind.Shape())
		if err != nil {
			return nil, err
		}
		f, err := layoutPick(x.DType(), takeRaw[uint8], takeRaw[uint16], takeRaw[uint32], takeRaw[uint64], takeRaw[string])
		if err != nil {
			return nil, err
		}
		f(out, x, offs)
		return rc.Results(out), nil
	}), nil
}

// elementsCheck validates the shapes of GatherElements / ScatterElements:
// same rank, and index dimensions no larger than the data's except along
// axis. It returns the normalized axis.
func elementsCheck(data, ind []int, axis int64, what string) (int, error) {
	a, err := NormAxis(axis, len(data))
	if err != nil {
		return 0, err
	}
	if len(data) == 0 {
		return 0, fmt.Errorf("data must have rank >= 1")
	}
	if len(ind) != len(data) {
		return 0, fmt.Errorf("%s shape %v and data shape %v differ in rank", what, ind, data)
	}
	for i := range ind {
		if i != a && ind[i] > data[i] {
			return 0, fmt.Errorf("%s shape %v exceeds data shape %v in dimension %d", what, ind, data, i)
		}
	}
	return a, nil
}

// elementsOffsets returns, for each element of ind, the data offset it
// addresses: its own coordinates with the one along axis replaced by the
// index value (wrapped when negative, checked).
func elementsOffsets(data []int, ind *tensor.Tensor, axis int) ([]int, error) {
	v, err := ind.AsInt64s()
	if err != nil {
		return nil, fmt.Errorf("indices: %w", err)
	}
	is := ind.Shape()
	ds := tensor.Strides(data)
	offs := make([]int, len(v))
	if len(v) == 0 {
		return offs, nil
	}
	coord := make([]int, len(is))
	base := 0 // offset of coord with coord[axis] treated as 0
	dim := data[axis]
	for p, x := range v {
		i, err := layoutIndex(x, dim)
		if err != nil {
			return nil, fmt.Errorf("indices: %w", err)
		}
		offs[p] = base + i*ds[axis]
		for k := len(is) - 1; k >= 0; k-- {
			coord[k]++
			if k != axis {
				base += ds[k]
			}
			if coord[k] < is[k] {
				break
			}
			if k != axis {
				base -= ds[k] * is[k]
			}
			coord[k] = 0
		}
	}
	return offs, nil
}

// takeRaw sets out[i] = x[offs[i]].
func takeRaw[T layoutElem](out, x *tensor.Tensor, offs []int) {
	dst, src := layoutRaw[T](out), layoutRaw[T](x)
	for i, o := range offs {
		dst[i] = src[o]
	}
}

// buildGatherND handles GatherND-11 and 12+ (batch_dims).
func buildGatherND(b *Builder) (Kernel, error) {
	batchDims := b.Int("batch_dims", 0)
	if err := b.Err(); err != nil {
		return nil, err
	}
	return KernelFunc(func(rc *RunContext, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
		if err := Need(in, 2); err != nil {
			return nil, err
		}
		x, ind := in[0], in[1]
		offs, slice, err := ndOffsets(x.Shape(), ind, batchDims)
		if err != nil {
			return nil, err
		}
		is := ind.Shape()
		k := is[len(is)-1]
		shape := append(append([]int{}, is[:len(is)-1]...), x.Shape()[int(batchDims)+k:]...)
		out, err := layoutNewUninit(rc, x.DType(), shape)
		if err != nil {
			return nil, err
		}
		f, err := layoutPick(x.DType(), takeSlicesRaw[uint8], takeSlicesRaw[uint16], takeSlicesRaw[uint32], takeSlicesRaw[uint64], takeSlicesRaw[string])
		if err != nil {
			return nil, err
		}
		f(out, x, offs, slice)
		return rc.Results(out), nil
	}), nil
}

// ndOffsets resolves the index tuples of GatherND / ScatterND: for each
// tuple (the last dimension of ind) the data offset of the slice it
// addresses, and the slice size. batchDims leading dimensions of data and
// ind are batch dimensions.
func ndOffsets(data []int, ind *tensor.Tensor, batchDims int64) ([]int, int, error) {
	is := ind.Shape()
	if len(data) == 0 || len(is) == 0 {
		return nil, 0, fmt.Errorf("data and indices must have rank >= 1 (shapes %v and %v)", data, is)
	}
	b := int(batchDims)
	if batchDims < 0 || b >= len(data) || b >= len(is) {
		return nil, 0, fmt.Errorf("batch_dims %d is out of range for data shape %v and indices shape %v", batchDims, data, is)
	}
	for i := 0; i < b; i++ {
		if data[i] != is[i] {
			return nil, 0, fmt.Errorf("batch dimension %d differs: data shape %v, indices shape %v", i, data, is)
		}
	}
	k := is[len(is)-1]
	if k > len(data)-b {
		return nil, 0, fmt.Errorf("index tuples of length %d exceed data rank %d minus batch_dims %d", k, len(data), b)
	}
	v, err := ind.AsInt64s()
	if err != nil {
		return nil, 0, fmt.Errorf("indices: %w", err)
	}
	ds := tensor.Strides(data)
	slice := layoutProd(data[b+k:])
	batchSize := layoutProd(data[b:])
	n := layoutProd(is[:len(is)-1])
	perBatch := layoutProd(is[b : len(is)-1])
	offs := make([]int, n)
	for p := range offs {
		off := 0
		if b > 0 && perBatch > 0 {
			off = p / perBatch * batchSize
		}
		for j := 0; j < k; j++ {
			i, err := layoutIndex(v[p*k+j], data[b+j])
			if err != nil {
				return nil, 0, fmt.Errorf("indices: %w", err)
			}
			off += i * ds[b+j]
		}
		offs[p] = off
	}
	return offs, slice, nil
}

// takeSlicesRaw copies x[offs[i] : offs[i]+slice] to out's i-th slice.
func takeSlicesRaw[T layoutElem](out, x *tensor.Tensor, offs []int, slice int) {
	dst, src := layoutRaw[T](out), layoutRaw[T](x)
	for i, o := range offs {
		copy(dst[i*slice:(i+1)*slice], src[o:o+slice])
	}
}

// buildOneHot handles OneHot-9 and 11 (negative indices and axis).
func buildOneHot(b *Builder) (Kernel, error) {
	axis := b.Int("axis", -1)
	if err := b.Err(); err != nil {
		return nil, err
	}
	return KernelFunc(func(rc *RunContext, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
		if err := Need(in, 3); err != nil {
			return nil, err
		}
		ind, vals := in[0], in[2]
		depth, err := layoutScalarInt(in[1], "depth")
		if err != nil {
			return nil, err
		}
		if depth < 1 {
			return nil, fmt.Errorf("depth %d must be positive", depth)
		}
		if vals.Len() != 2 {
			return nil, fmt.Errorf("values must hold [off, on], got shape %v", vals.Shape())
		}
		s := ind.Shape()
		a, err := NormAxis(axis, len(s)+1)
		if err != nil {
			return nil, err
		}
		var idx []int64
		if ind.DType().IsFloat() {
			f := ind.Float64s()
			idx = make([]int64, len(f))
			for i, v := range f {
				idx[i] = int64(v) // out-of-range values just select nothing
			}
		} else if idx, err = ind.AsInt64s(); err != nil {
			return nil, fmt.Errorf("indices: %w", err)
		}
		d, err := layoutDims([]int64{depth}, "depth")
		if err != nil {
			return nil, err
		}
		shape := append(append(append([]int{}, s[:a]...), d[0]), s[a:]...)
		if _, err := tensor.NumElements(shape); err != nil {
			return nil, err
		}
		out, err := layoutNew(rc, vals.DType(), shape)
		if err != nil {
			return nil, err
		}
		f, err := layoutPick(vals.DType(), oneHotRaw[uint8], oneHotRaw[uint16], oneHotRaw[uint32], oneHotRaw[uint64], oneHotRaw[string])
		if err != nil {
			return nil, err
		}
		f(out, vals, idx, layoutProd(s[a:]), d[0])
		return rc.Results(out), nil
	}), nil
}

func oneHotRaw[T layoutElem](out, vals *tensor.Tensor, idx []int64, inner, depth int) {
	dst, v := layoutRaw[T](out), layoutRaw[T](vals)
	layoutFill(dst, v[0])
	for p, i := range idx {
		if i < 0 {
			i += int64(depth)
		}
		if i < 0 || i >= int64(depth) {
			continue
		}
		o, r := p/inner, p%inner
		dst[(o*depth+int(i))*inner+r] = v[1]
	}
}
