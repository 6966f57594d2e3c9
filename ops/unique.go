package ops

import (
	"cmp"
	"fmt"
	"slices"

	"github.com/onyxrt/onyx/tensor"
)

// NonZero and Unique: value-dependent output shapes.

func buildNonZero(b *Builder) (Kernel, error) {
	return KernelFunc(func(rc *RunContext, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
		if err := Need(in, 1); err != nil {
			return nil, err
		}
		x := in[0]
		// A float is zero when all bits but the sign are clear.
		var mask uint64 = ^uint64(0)
		switch x.DType() {
		case tensor.Float32:
			mask = 0x7fffffff
		case tensor.Float64:
			mask = 0x7fffffffffffffff
		case tensor.Float16, tensor.BFloat16:
			mask = 0x7fff
		}
		f, err := layoutPick(x.DType(), nonZeroRaw[uint8], nonZeroRaw[uint16], nonZeroRaw[uint32], nonZeroRaw[uint64], nonZeroStr)
		if err != nil {
			return nil, err
		}
		pos := f(x, mask)
		s := x.Shape()
		out, err := tensor.New(tensor.Int64, len(s), len(pos))
		if err != nil {
			return nil, err
		}
		v := out.Int64s()
		str := tensor.Strides(s)
		for j, p := range pos {
			for a := range s {
				v[a*len(pos)+j] = int64(p / str[a])
				p %= str[a]
			}
		}
		return rc.Results(out), nil
	}), nil
}

// nonZeroRaw returns the flat positions of the elements with bits outside
// mask's complement set.
func nonZeroRaw[T uint8 | uint16 | uint32 | uint64](x *tensor.Tensor, mask uint64) []int {
	var pos []int
	m := T(mask)
	for i, v := range layoutRaw[T](x) {
		if v&m != 0 {
			pos = append(pos, i)
		}
	}
	return pos
}

func nonZeroStr(x *tensor.Tensor, _ uint64) []int {
	var pos []int
	for i, v := range layoutRaw[string](x) {
		if v != "" {
			pos = append(pos, i)
		}
	}
	return pos
}

func buildUnique(b *Builder) (Kernel, error) {
	axis, hasAxis := b.Int("axis", 0), b.Has("axis")
	sorted := b.Int("sorted", 1) != 0
	if err := b.Err(); err != nil {
		return nil, err
	}
	return KernelFunc(func(rc *RunContext, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
		if err := Need(in, 1); err != nil {
			return nil, err
		}
		x := in[0]
		shape := []int{x.Len()}
		a := 0
		if hasAxis {
			var err error
			if a, err = NormAxis(axis, x.Rank()); err != nil {
				return nil, err
			}
			shape = x.Shape()
		}
		cmpAt, err := uniqueComparator(x)
		if err != nil {
			return nil, err
		}
		n := shape[a]
		outer, inner := layoutProd(shape[:a]), layoutProd(shape[a+1:])
		// compare compares sub-tensors i and j along the axis.
		compare := func(i, j int) int {
			for o := 0; o < outer; o++ {
				bi, bj := (o*n+i)*inner, (o*n+j)*inner
				for k := 0; k < inner; k++ {
					if c := cmpAt(bi+k, bj+k); c != 0 {
						return c
					}
				}
			}
			return 0
		}
		order := make([]int, n)
		for i := range order {
			order[i] = i
		}
		slices.SortStableFunc(order, compare)
		// Groups of equal sub-tensors, each led by its first occurrence
		// (the sort is stable).
		var first, counts []int
		group := make([]int, n) // sub-tensor -> group (sorted order)
		for p, i := range order {
			if p == 0 || compare(order[p-1], i) != 0 {
				first = append(first, i)
				counts = append(counts, 0)
			}
			group[i] = len(first) - 1
			counts[len(counts)-1]++
		}
		rank := make([]int, len(first)) // group -> output position
		for g := range rank {
			rank[g] = g
		}
		if !sorted {
			byFirst := make([]int, len(first))
			for g := range byFirst {
				byFirst[g] = g
			}
			slices.SortFunc(byFirst, func(g, h int) int { return cmp.Compare(first[g], first[h]) })
			for p, g := range byFirst {
				rank[g] = p
			}
		}
		m := len(first)
		idx := make([]int, m)
		indices := make([]int64, m)
		cnt := make([]int64, m)
		for g := range first {
			idx[rank[g]] = first[g]
			indices[rank[g]] = int64(first[g])
			cnt[rank[g]] = int64(counts[g])
		}
		inverse := make([]int64, n)
		for i := range inverse {
			inverse[i] = int64(rank[group[i]])
		}
		y, err := gatherIndices(rc, x, shape, a, idx)
		if err != nil {
			return nil, err
		}
		return []*tensor.Tensor{
			y,
			tensor.From([]int{m}, indices),
			tensor.From([]int{n}, inverse),
			tensor.From([]int{m}, cnt),
		}, nil
	}), nil
}

// uniqueComparator returns a three-way comparison of two elements of x by
// flat position.
func uniqueComparator(x *tensor.Tensor) (func(i, j int) int, error) {
	switch dt := x.DType(); {
	case dt == tensor.String:
		return uniqueCmp(layoutRaw[string](x)), nil
	case dt == tensor.Uint64:
		return uniqueCmp(tensor.Data[uint64](x)), nil
	case dt.IsFloat():
		return uniqueCmp(x.Float64s()), nil
	default:
		v, err := x.AsInt64s()
		if err != nil {
			return nil, fmt.Errorf("unsupported element type %v", dt)
		}
		return uniqueCmp(v), nil
	}
}

func uniqueCmp[T cmp.Ordered](v []T) func(i, j int) int {
	return func(i, j int) int { return cmp.Compare(v[i], v[j]) }
}
