package ops

import (
	"fmt"

	"github.com/onyxrt/onyx/tensor"
)

func registerCumSum(r *Registry) {
	r.Register(
		&Def{Name: "CumSum", Since: 11, Build: buildCumSum},
		&Def{Name: "CumSum", Since: 14, Build: buildCumSum},
	)
}

func buildCumSum(b *Builder) (Kernel, error) {
	exclusive := b.Int("exclusive", 0) != 0
	reverse := b.Int("reverse", 0) != 0
	if err := b.Err(); err != nil {
		return nil, err
	}
	return KernelFunc(func(rc *RunContext, inputs []*tensor.Tensor) ([]*tensor.Tensor, error) {
		if err := Need(inputs, 2); err != nil {
			return nil, err
		}
		at := inputs[1]
		if at.Rank() > 1 || at.Len() != 1 {
			return nil, fmt.Errorf("axis must be a scalar, got shape %v", at.Shape())
		}
		av, err := at.AsInt64s()
		if err != nil {
			return nil, fmt.Errorf("axis: %w", err)
		}
		x, dt, err := Upcast(inputs[0])
		if err != nil {
			return nil, err
		}
		ax, err := NormAxis(av[0], x.Rank())
		if err != nil {
			return nil, err
		}
		outer, inner := splitAt(x.Shape(), ax)
		p := cumPlan{outer: outer, n: x.Shape()[ax], inner: inner, exclusive: exclusive, reverse: reverse}
		var out any
		switch s := x.Data().(type) {
		case []float32:
			out = cumSum(s, p)
		case []float64:
			out = cumSum(s, p)
		case []int8:
			out = cumSum(s, p)
		case []int16:
			out = cumSum(s, p)
		case []int32:
			out = cumSum(s, p)
		case []int64:
			out = cumSum(s, p)
		case []uint8:
			out = cumSum(s, p)
		case []uint16:
			out = cumSum(s, p)
		case []uint32:
			out = cumSum(s, p)
		case []uint64:
			out = cumSum(s, p)
		default:
			return nil, ErrDType("CumSum", inputs[0].DType())
		}
		y, err := tensor.FromSlice(x.Shape(), out)
		if err != nil {
			return nil, err
		}
		if y, err = Downcast(y, dt); err != nil {
			return nil, err
		}
		return rc.Results(y), nil
	}), nil
}

type cumPlan struct {
	outer, n, inner    int
	exclusive, reverse bool
}

// cumSum computes running sums along the middle axis of an [outer, n,
// inner] array.
func cumSum[T Number](s []T, p cumPlan) []T {
	out := make([]T, len(s))
	acc := make([]T, p.inner)
	for o := 0; o < p.outer; o++ {
		clear(acc)
		for j := 0; j < p.n; j++ {
			k := j
			if p.reverse {
				k = p.n - 1 - j
			}
			off := (o*p.n + k) * p.inner
			src, dst := s[off:off+p.inner], out[off:off+p.inner]
			if p.exclusive {
				copy(dst, acc)
				for i, v := range src {
					acc[i] += v
				}
			} else {
				for i, v := range src {
					acc[i] += v
					dst[i] = acc[i]
				}
			}
		}
	}
	return out
}
