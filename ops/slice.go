package ops

import (
	"fmt"
	"slices"

	"github.com/onyxrt/onyx/tensor"
)

// Slice, Compress, ReverseSequence and Trilu: selecting parts of a tensor.

// buildSlice1 handles Slice-1, whose starts, ends and axes are attributes.
func buildSlice1(b *Builder) (Kernel, error) {
	starts := b.RequireInts("starts")
	ends := b.RequireInts("ends")
	axes := b.Ints("axes", nil)
	if err := b.Err(); err != nil {
		return nil, err
	}
	return KernelFunc(func(rc *RunContext, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
		if err := Need(in, 1); err != nil {
			return nil, err
		}
		out, err := sliceTensor(rc, in[0], starts, ends, axes, nil)
		if err != nil {
			return nil, err
		}
		return rc.Results(out), nil
	}), nil
}

// buildSlice handles Slice-10 and later: inputs data, starts, ends, and
// optional axes and steps.
func buildSlice(b *Builder) (Kernel, error) {
	return KernelFunc(func(rc *RunContext, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
		if err := Need(in, 3); err != nil {
			return nil, err
		}
		starts, err := layoutInts(in[1], "starts")
		if err != nil {
			return nil, err
		}
		ends, err := layoutInts(in[2], "ends")
		if err != nil {
			return nil, err
		}
		var axes, steps []int64
		if t := Opt(in, 3); t != nil {
			if axes, err = layoutInts(t, "axes"); err != nil {
				return nil, err
			}
		}
		if t := Opt(in, 4); t != nil {
			if steps, err = layoutInts(t, "steps"); err != nil {
				return nil, err
			}
		}
		out, err := sliceTensor(rc, in[0], starts, ends, axes, steps)
		if err != nil {
			return nil, err
		}
		return rc.Results(out), nil
	}), nil
}

// sliceRange clamps one axis's start, end and step (numpy rules) for a
// dimension of size dim, returning the first index and the element count.
func sliceRange(start, end, step int64, dim int) (first, count int) {
	d := int64(dim)
	if start < 0 {
		start += d
	}
	if end < 0 {
		end += d
	}
	if step > 0 {
		start = min(max(start, 0), d)
		end = min(max(end, 0), d)
		if end <= start {
			return int(start), 0
		}
		return int(start), int((end-start-1)/step + 1)
	}
	start = min(max(start, 0), d-1)
	end = min(max(end, -1), d-1)
	if start <= end {
		return 0, 0
	}
	neg := uint64(-(step + 1)) + 1 // |step| without overflow
	return int(start), int(uint64(start-end-1)/neg + 1)
}

func sliceTensor(rc *RunContext, x *tensor.Tensor, starts, ends, axes, steps []int64) (*tensor.Tensor, error) {
	s := x.Shape()
	if len(starts) != len(ends) {
		return nil, fmt.Errorf("starts %v and ends %v differ in length", slices.Clone(starts), slices.Clone(ends))
	}
	var axesBuf [8]int64
	if axes == nil {
		axes = axesBuf[:0]
		for i := range starts {
			axes = append(axes, int64(i))
		}
	}
	if len(axes) != len(starts) {
		return nil, fmt.Errorf("axes %v and starts %v differ in length", slices.Clone(axes), slices.Clone(starts))
	}
	if steps != nil && len(steps) != len(starts) {
		return nil, fmt.Errorf("steps %v and starts %v differ in length", slices.Clone(steps), slices.Clone(starts))
	}
	var axBuf, strBuf, shapeBuf, ssBuf [8]int
	ax, err := normAxesInto(axBuf[:], axes, len(s))
	if err != nil {
		return nil, err
	}
	inStr := stridesInto(intsBuf(strBuf[:], len(s)), s)
	shape := append(shapeBuf[:0], s...)
	ss := append(ssBuf[:0], inStr...)
	off := 0
	for i, a := range ax {
		step := int64(1)
		if steps != nil {
			step = steps[i]
		}
		if step == 0 {
			return nil, fmt.Errorf("steps %v has a zero step", slices.Clone(steps))
		}
		first, count := sliceRange(starts[i], ends[i], step, s[a])
		shape[a] = count
		if count > 0 {
			off += first * inStr[a]
			ss[a] = int(step) * inStr[a]
			if count == 1 {
				ss[a] = 0
			}
		}
	}
	out, err := layoutNewUninit(rc, x.DType(), shape)
	if err != nil {
		return nil, err
	}
	if out.Len() > 0 {
		if err := layoutStrided(out, x, off, shape, ss); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// buildCompress handles Compress-9 and 11 (negative axis).
func buildCompress(b *Builder) (Kernel, error) {
	axis, hasAxis := b.Int("axis", 0), b.Has("axis")
	if err := b.Err(); err != nil {
		return nil, err
	}
	return KernelFunc(func(rc *RunContext, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
		if err := Need(in, 2); err != nil {
			return nil, err
		}
		x, cond := in[0], in[1]
		if cond.Rank() != 1 {
			return nil, fmt.Errorf("condition must be 1-D, got shape %v", cond.Shape())
		}
		var c []bool
		if v, ok := cond.Data().([]bool); ok {
			c = v
		} else if f := cond.Float64s(); f != nil {
			c = make([]bool, len(f))
			for i, v := range f {
				c[i] = v != 0
			}
		} else {
			return nil, fmt.Errorf("condition must be bool, got %v", cond.DType())
		}
		shape := x.Shape()
		a := 0
		if hasAxis {
			var err error
			if a, err = NormAxis(axis, x.Rank()); err != nil {
				return nil, err
			}
		} else {
			shape = []int{x.Len()}
		}
		var idx []int
		for i, v := range c {
			if v {
				if i >= shape[a] {
					return nil, fmt.Errorf("condition has a true entry at %d, beyond dimension size %d", i, shape[a])
				}
				idx = append(idx, i)
			}
		}
		out, err := gatherIndices(rc, x, shape, a, idx)
		if err != nil {
			return nil, err
		}
		return rc.Results(out), nil
	}), nil
}

func buildReverseSequence(b *Builder) (Kernel, error) {
	timeAxis := b.Int("time_axis", 0)
	batchAxis := b.Int("batch_axis", 1)
	if err := b.Err(); err != nil {
		return nil, err
	}
	if (timeAxis != 0 && timeAxis != 1) || (batchAxis != 0 && batchAxis != 1) || timeAxis == batchAxis {
		return nil, fmt.Errorf("time_axis %d and batch_axis %d must be 0 and 1 in some order", timeAxis, batchAxis)
	}
	return KernelFunc(func(rc *RunContext, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
		if err := Need(in, 2); err != nil {
			return nil, err
		}
		x := in[0]
		s := x.Shape()
		if len(s) < 2 {
			return nil, fmt.Errorf("input must have rank >= 2, got shape %v", s)
		}
		lens, err := layoutInts(in[1], "sequence_lens")
		if err != nil {
			return nil, err
		}
		steps, batch := s[timeAxis], s[batchAxis]
		if len(lens) != batch {
			return nil, fmt.Errorf("sequence_lens has %d entries for batch size %d", len(lens), batch)
		}
		for _, l := range lens {
			if l < 0 || l > int64(steps) {
				return nil, fmt.Errorf("sequence length %d is out of range [0, %d]", l, steps)
			}
		}
		out, err := layoutNew(rc, x.DType(), s)
		if err != nil {
			return nil, err
		}
		f, err := layoutPick(x.DType(), reverseSeqRaw[uint8], reverseSeqRaw[uint16], reverseSeqRaw[uint32], reverseSeqRaw[uint64], reverseSeqRaw[string])
		if err != nil {
			return nil, err
		}
		f(out, x, lens, timeAxis == 0)
		return rc.Results(out), nil
	}), nil
}

func reverseSeqRaw[T layoutElem](out, x *tensor.Tensor, lens []int64, timeMajor bool) {
	dst, src := layoutRaw[T](out), layoutRaw[T](x)
	s := x.Shape()
	inner := layoutProd(s[2:])
	steps, batch := s[0], s[1]
	if !timeMajor {
		steps, batch = s[1], s[0]
	}
	at := func(t, b int) int {
		if timeMajor {
			return (t*batch + b) * inner
		}
		return (b*steps + t) * inner
	}
	for b := 0; b < batch; b++ {
		l := int(lens[b])
		for t := 0; t < steps; t++ {
			from := t
			if t < l {
				from = l - 1 - t
			}
			d, o := at(t, b), at(from, b)
			copy(dst[d:d+inner], src[o:o+inner])
		}
	}
}

func buildTrilu(b *Builder) (Kernel, error) {
	upper := b.Int("upper", 1) != 0
	if err := b.Err(); err != nil {
		return nil, err
	}
	return KernelFunc(func(rc *RunContext, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
		if err := Need(in, 1); err != nil {
			return nil, err
		}
		x := in[0]
		if x.Rank() < 2 {
			return nil, fmt.Errorf("input must have rank >= 2, got shape %v", x.Shape())
		}
		k := int64(0)
		if t := Opt(in, 1); t != nil {
			var err error
			if k, err = layoutScalarInt(t, "k"); err != nil {
				return nil, err
			}
		}
		out, err := layoutNew(rc, x.DType(), x.Shape())
		if err != nil {
			return nil, err
		}
		f, err := layoutPick(x.DType(), triluRaw[uint8], triluRaw[uint16], triluRaw[uint32], triluRaw[uint64], triluRaw[string])
		if err != nil {
			return nil, err
		}
		f(out, x, k, upper)
		return rc.Results(out), nil
	}), nil
}

func triluRaw[T layoutElem](out, x *tensor.Tensor, k int64, upper bool) {
	dst, src := layoutRaw[T](out), layoutRaw[T](x)
	s := x.Shape()
	rows, cols := s[len(s)-2], s[len(s)-1]
	if rows == 0 || cols == 0 {
		return
	}
	mats := len(src) / (rows * cols)
	k = min(max(k, -int64(rows+cols)), int64(rows+cols)) // no overflow below
	for m := 0; m < mats; m++ {
		for i := 0; i < rows; i++ {
			// Kept columns [lo, hi): upper keeps j >= i+k, lower j <= i+k.
			lo, hi := int64(0), int64(cols)
			if upper {
				lo = min(max(int64(i)+k, 0), int64(cols))
			} else {
				hi = min(max(int64(i)+k+1, 0), int64(cols))
			}
			row := (m*rows + i) * cols
			copy(dst[row+int(lo):row+int(hi)], src[row+int(lo):row+int(hi)])
		}
	}
}
