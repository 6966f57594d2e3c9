package ops

import (
	"fmt"
	"slices"

	"github.com/onyxrt/onyx/tensor"
)

func registerArgTopK(r *Registry) {
	for _, v := range []int{1, 11, 12, 13} {
		r.Register(
			&Def{Name: "ArgMax", Since: v, Build: buildArg(true)},
			&Def{Name: "ArgMin", Since: v, Build: buildArg(false)},
		)
	}
	r.Register(
		&Def{Name: "TopK", Since: 1, Build: buildTopK(false), Infer: inferTopK},
		&Def{Name: "TopK", Since: 10, Build: buildTopK(true), Infer: inferTopK},
		&Def{Name: "TopK", Since: 11, Build: buildTopK(true), Infer: inferTopK},
	)
}

// buildArg builds ArgMax (isMax) or ArgMin.
func buildArg(isMax bool) func(b *Builder) (Kernel, error) {
	return func(b *Builder) (Kernel, error) {
		axis := b.Int("axis", 0)
		keep := b.Int("keepdims", 1) != 0
		last := b.Int("select_last_index", 0) != 0
		if err := b.Err(); err != nil {
			return nil, err
		}
		return KernelFunc(func(rc *RunContext, inputs []*tensor.Tensor) ([]*tensor.Tensor, error) {
			if err := Need(inputs, 1); err != nil {
				return nil, err
			}
			x, _, err := Upcast(inputs[0])
			if err != nil {
				return nil, err
			}
			shape := x.Shape()
			ax, err := NormAxis(axis, len(shape))
			if err != nil {
				return nil, err
			}
			n := shape[ax]
			if n == 0 {
				return nil, fmt.Errorf("cannot take the arg extreme over axis %d of size 0", ax)
			}
			outer, inner := splitAt(shape, ax)
			var outBuf [8]int
			outShape := outBuf[:0]
			for i, d := range shape {
				switch {
				case i != ax:
					outShape = append(outShape, d)
				case keep:
					outShape = append(outShape, 1)
				}
			}
			y, err := rc.NewUninit(tensor.Int64, outShape...)
			if err != nil {
				return nil, err
			}
			out := y.Int64s()
			switch s := x.Data().(type) {
			case []float32:
				argExtreme(out, s, outer, n, inner, isMax, last)
			case []float64:
				argExtreme(out, s, outer, n, inner, isMax, last)
			case []int8:
				argExtreme(out, s, outer, n, inner, isMax, last)
			case []int16:
				argExtreme(out, s, outer, n, inner, isMax, last)
			case []int32:
				argExtreme(out, s, outer, n, inner, isMax, last)
			case []int64:
				argExtreme(out, s, outer, n, inner, isMax, last)
			case []uint8:
				argExtreme(out, s, outer, n, inner, isMax, last)
			case []uint16:
				argExtreme(out, s, outer, n, inner, isMax, last)
			case []uint32:
				argExtreme(out, s, outer, n, inner, isMax, last)
			case []uint64:
				argExtreme(out, s, outer, n, inner, isMax, last)
			default:
				return nil, ErrDType("arg extreme", inputs[0].DType())
			}
			return rc.Results(y), nil
		}), nil
	}
}

// splitAt returns the products of the dimensions before and after axis.
func splitAt(shape []int, axis int) (outer, inner int) {
	outer, inner = 1, 1
	for i, d := range shape {
		if i < axis {
			outer *= d
		} else if i > axis {
			inner *= d
		}
	}
	return outer, inner
}

// argExtreme returns the index of the largest (isMax) or smallest element
// along the middle axis of an [outer, n, inner] array; ties go to the first
// index, or the last when last is set. A NaN wins over any number, and the
// first NaN over later ones, as in NumPy.
func argExtreme[T Number](out []int64, s []T, outer, n, inner int, isMax, last bool) {
	var bestBuf [16]T
	best := bestBuf[:0]
	if inner > len(bestBuf) {
		best = make([]T, 0, inner)
	}
	best = best[:inner]
	clear(out)
	for o := 0; o < outer; o++ {
		base := o * n * inner
		copy(best, s[base:base+inner])
		idx := out[o*inner : (o+1)*inner]
		for k := 1; k < n; k++ {
			row := s[base+k*inner : base+(k+1)*inner]
			for i, v := range row {
				b := best[i]
				if b != b { // NaN already chosen
					continue
				}
				var better bool
				switch {
				case v != v:
					better = true
				case isMax:
					better = v > b || (last && v == b)
				default:
					better = v < b || (last && v == b)
				}
				if better {
					best[i] = v
					idx[i] = int64(k)
				}
			}
		}
	}
	return
}

// buildTopK builds TopK; kInput says whether k is the second input
// (opset 10+) rather than an attribute.
func buildTopK(kInput bool) func(b *Builder) (Kernel, error) {
	return func(b *Builder) (Kernel, error) {
		axis := b.Int("axis", -1)
		largest := b.Int("largest", 1) != 0
		var kAttr int64
		if !kInput {
			kAttr = b.RequireInt("k")
		}
		if err := b.Err(); err != nil {
			return nil, err
		}
		return KernelFunc(func(rc *RunContext, inputs []*tensor.Tensor) ([]*tensor.Tensor, error) {
			n := 1
			if kInput {
				n = 2
			}
			if err := Need(inputs, n); err != nil {
				return nil, err
			}
			k := kAttr
			if kInput {
				kt := inputs[1]
				ks, err := kt.AsInt64s()
				if err != nil {
					return nil, fmt.Errorf("k: %w", err)
				}
				if len(ks) != 1 || kt.Rank() > 1 {
					return nil, fmt.Errorf("k must hold a single value, got shape %v", kt.Shape())
				}
				k = ks[0]
			}
			x, dt, err := Upcast(inputs[0])
			if err != nil {
				return nil, err
			}
			shape := x.Shape()
			ax, err := NormAxis(axis, len(shape))
			if err != nil {
				return nil, err
			}
			if k < 0 || k > int64(shape[ax]) {
				return nil, fmt.Errorf("k=%d is out of range for axis %d of size %d", k, ax, shape[ax])
			}
			outer, inner := splitAt(shape, ax)
			p := topKPlan{outer: outer, n: shape[ax], inner: inner, k: int(k), largest: largest}
			var vals any
			var idx []int64
			switch s := x.Data().(type) {
			case []float32:
				vals, idx = topK(s, p)
			case []float64:
				vals, idx = topK(s, p)
			case []int8:
				vals, idx = topK(s, p)
			case []int16:
				vals, idx = topK(s, p)
			case []int32:
				vals, idx = topK(s, p)
			case []int64:
				vals, idx = topK(s, p)
			case []uint8:
				vals, idx = topK(s, p)
			case []uint16:
				vals, idx = topK(s, p)
			case []uint32:
				vals, idx = topK(s, p)
			case []uint64:
				vals, idx = topK(s, p)
			default:
				return nil, ErrDType("TopK", inputs[0].DType())
			}
			outShape := slices.Clone(shape)
			outShape[ax] = int(k)
			vt, err := tensor.FromSlice(outShape, vals)
			if err != nil {
				return nil, err
			}
			if vt, err = Downcast(vt, dt); err != nil {
				return nil, err
			}
			it, err := tensor.FromSlice(outShape, idx)
			if err != nil {
				return nil, err
			}
			return rc.Results(vt, it), nil
		}), nil
	}
}

type topKPlan struct {
	outer, n, inner, k int
	largest            bool
}

// topK selects the k largest (or smallest) elements along the middle axis
// of an [outer, n, inner] array, in order, equal values ordered by index.
// NaN counts as larger than every number.
func topK[T Number](s []T, p topKPlan) ([]T, []int64) {
	vals := make([]T, p.outer*p.k*p.inner)
	idx := make([]int64, len(vals))
	line := make([]T, p.n)
	less := func(a, b T) bool { return a < b || (a == a) && (b != b) }
	// cmp orders positions of line: the ones to output first come first.
	cmp := func(a, b int) int {
		va, vb := line[a], line[b]
		if p.largest {
			va, vb = vb, va
		}
		switch {
		case less(va, vb):
			return -1
		case less(vb, va):
			return 1
		}
		return a - b
	}
	order := make([]int, p.n)
	for o := 0; o < p.outer; o++ {
		for i := 0; i < p.inner; i++ {
			base := o*p.n*p.inner + i
			for j := range line {
				line[j] = s[base+j*p.inner]
			}
			best := selectTop(order, p.n, p.k, cmp)
			ob := o*p.k*p.inner + i
			for j, at := range best {
				vals[ob+j*p.inner] = line[at]
				idx[ob+j*p.inner] = int64(at)
			}
		}
	}
	return vals, idx
}

// selectTop returns the k first of positions 0..n-1 under cmp, in order,
// using buf (of length n) as scratch. For small k it keeps a heap of the
// best k seen (O(n log k)); otherwise it sorts everything.
func selectTop(buf []int, n, k int, cmp func(a, b int) int) []int {
	if k == 0 {
		return nil
	}
	if k*4 > n {
		for j := range buf[:n] {
			buf[j] = j
		}
		slices.SortFunc(buf[:n], cmp)
		return buf[:k]
	}
	// h is a heap whose root is the worst of the k best so far.
	h := buf[:k]
	for j := range h {
		h[j] = j
	}
	down := func(i int) {
		for {
			w := i
			if l := 2*i + 1; l < k && cmp(h[l], h[w]) > 0 {
				w = l
			}
			if r := 2*i + 2; r < k && cmp(h[r], h[w]) > 0 {
				w = r
			}
			if w == i {
				return
			}
			h[i], h[w] = h[w], h[i]
			i = w
		}
	}
	for i := k/2 - 1; i >= 0; i-- {
		down(i)
	}
	for j := k; j < n; j++ {
		if cmp(j, h[0]) < 0 {
			h[0] = j
			down(0)
		}
	}
	slices.SortFunc(h, cmp)
	return h
}
