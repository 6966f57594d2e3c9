package ops

import (
	"fmt"
	"math"

	"github.com/onyxrt/onyx/tensor"
)

func registerDet(r *Registry) {
	r.Register(&Def{Name: "Det", Since: 11, Build: buildDet, Infer: inferDet})
}

func buildDet(b *Builder) (Kernel, error) {
	return KernelFunc(func(rc *RunContext, inputs []*tensor.Tensor) ([]*tensor.Tensor, error) {
		if err := Need(inputs, 1); err != nil {
			return nil, err
		}
		x := inputs[0]
		if !x.DType().IsFloat() {
			return nil, ErrDType("Det", x.DType())
		}
		shape := x.Shape()
		r := len(shape)
		if r < 2 || shape[r-1] != shape[r-2] {
			return nil, fmt.Errorf("input must be [..., M, M], got shape %v", shape)
		}
		m := shape[r-1]
		data := x.Float64s()
		batch := 1
		for _, d := range shape[:r-2] {
			batch *= d
		}
		out := make([]float64, batch)
		a := make([]float64, m*m)
		for i := range out {
			copy(a, data[i*m*m:(i+1)*m*m])
			out[i] = determinant(a, m)
		}
		y, err := tensor.FromSlice(shape[:r-2], out)
		if err != nil {
			return nil, err
		}
		if y, err = y.Cast(x.DType()); err != nil {
			return nil, err
		}
		return rc.Results(y), nil
	}), nil
}

// determinant returns the determinant of the m×m row-major matrix a by LU
// decomposition with partial pivoting; a is overwritten.
func determinant(a []float64, m int) float64 {
	det := 1.0
	for c := 0; c < m; c++ {
		p := c
		for i := c + 1; i < m; i++ {
			if math.Abs(a[i*m+c]) > math.Abs(a[p*m+c]) {
				p = i
			}
		}
		if a[p*m+c] == 0 {
			return 0
		}
		if p != c {
			for j := 0; j < m; j++ {
				a[c*m+j], a[p*m+j] = a[p*m+j], a[c*m+j]
			}
			det = -det
		}
		piv := a[c*m+c]
		det *= piv
		for i := c + 1; i < m; i++ {
			f := a[i*m+c] / piv
			if f == 0 {
				continue
			}
			for j := c + 1; j < m; j++ {
				a[i*m+j] -= f * a[c*m+j]
			}
		}
	}
	return det
}
