package ops

import (
	"math"

	"github.com/onyxrt/onyx/tensor"
)

// Softmax, LogSoftmax and Hardmax. Before opset 13 the input is coerced to
// 2-D at axis (default 1): rows are everything from axis on. From opset 13
// the operation runs along the single dimension axis (default -1).

func registerSoftmax(r *Registry) {
	regVersions(r, "Softmax", softmaxBuilder(smSoftmax), 1, 11, 13)
	regVersions(r, "LogSoftmax", softmaxBuilder(smLog), 1, 11, 13)
	regVersions(r, "Hardmax", softmaxBuilder(smHard), 1, 11, 13)
}

type softmaxKind uint8

const (
	smSoftmax softmaxKind = iota
	smLog
	smHard
)

var softmaxNames = [...]string{"Softmax", "LogSoftmax", "Hardmax"}

func softmaxBuilder(kind softmaxKind) func(b *Builder) (Kernel, error) {
	return func(b *Builder) (Kernel, error) {
		coerce := b.Opset < 13
		def := int64(-1)
		if coerce {
			def = 1
		}
		axis := b.Int("axis", def)
		if err := b.Err(); err != nil {
			return nil, err
		}
		return unaryKernel(func(rc *RunContext, x *tensor.Tensor) (*tensor.Tensor, error) {
			a, err := NormAxis(axis, x.Rank())
			if err != nil {
				return nil, err
			}
			shape := x.Shape()
			outer, n, inner := 1, 1, 1
			for _, d := range shape[:a] {
				outer *= d
			}
			if coerce {
				for _, d := range shape[a:] {
					n *= d
				}
			} else {
				n = shape[a]
				for _, d := range shape[a+1:] {
					inner *= d
				}
			}
			x, dt, err := Upcast(x)
			if err != nil {
				return nil, err
			}
			var out *tensor.Tensor
			switch x.DType() {
			case tensor.Float32:
				out, err = softmaxT(rc, x, outer, n, inner, kind, expSlice32)
			case tensor.Float64:
				out, err = softmaxT(rc, x, outer, n, inner, kind, exp64)
			default:
				return nil, ErrDType(softmaxNames[kind], dt)
			}
			if err != nil {
				return nil, err
			}
			return Downcast(out, dt)
		}), nil
	}
}

// softmaxT applies kind over blocks of n*inner elements: for each of the
// inner positions, the n values at stride inner. exp is an elementwise
// exponential loop (it may run in place).
func softmaxT[T Float](rc *RunContext, x *tensor.Tensor, outer, n, inner int, kind softmaxKind, exp func(d, s []T)) (*tensor.Tensor, error) {
	s := tensor.Data[T](x)
	out, d, err := newOutputUninit[T](rc, x.Shape())
	if err != nil || len(d) == 0 {
		return out, err
	}
	grain := max(1, grainHeavy/(n*inner))
	if ewSerial(rc, outer, grain) {
		softmaxBlocks(d, s, 0, outer, n, inner, kind, exp)
	} else {
		ewParallel(rc, outer, grain, func(lo, hi int) { softmaxBlocks(d, s, lo, hi, n, inner, kind, exp) })
	}
	return out, nil
}

// softmaxBlocks runs softmaxT's blocks lo..hi-1.
func softmaxBlocks[T Float](d, s []T, lo, hi, n, inner int, kind softmaxKind, exp func(d, s []T)) {
	block := n * inner
	if inner == 1 {
		for o := lo; o < hi; o++ {
			softmaxRow(d[o*block:(o+1)*block], s[o*block:(o+1)*block], kind, exp)
		}
		return
	}
	m, sum := make([]T, inner), make([]T, inner)
	for o := lo; o < hi; o++ {
		softmaxStrided(d[o*block:(o+1)*block], s[o*block:(o+1)*block], n, inner, m, sum, kind, exp)
	}
}

// exp64 is the float64 exponential loop of Softmax and LogSoftmax.
var exp64 = mathLoop[float64](math.Exp)

// softmaxRow handles one contiguous row.
func softmaxRow[T Float](d, s []T, kind softmaxKind, exp func(d, s []T)) {
	s = s[:len(d)]
	if kind == smHard {
		arg := 0
		for i, v := range s {
			if v > s[arg] {
				arg = i
			}
		}
		clear(d)
		d[arg] = 1
		return
	}
	m := s[0]
	for _, v := range s {
		m = max(m, v)
	}
	for i, v := range s {
		d[i] = v - m
	}
	exp(d, d)
	var sum float64
	for _, v := range d {
		sum += float64(v)
	}
	if kind == smLog {
		ls := T(math.Log(sum))
		for i, v := range s {
			d[i] = v - m - ls
		}
		return
	}
	r := T(1 / sum)
	for i := range d {
		d[i] *= r
	}
}

// softmaxStrided handles one block of n rows of inner elements, reducing
// over the rows (vectorized along inner). m and sum are scratch of length
// inner.
func softmaxStrided[T Float](d, s []T, n, inner int, m, sum []T, kind softmaxKind, exp func(d, s []T)) {
	copy(m, s[:inner])
	for j := 1; j < n; j++ {
		row := s[j*inner : (j+1)*inner]
		for k, v := range row {
			m[k] = max(m[k], v)
		}
	}
	if kind == smHard {
		clear(d)
		for k := range m {
			for j := 0; j < n; j++ {
				if s[j*inner+k] == m[k] {
					d[j*inner+k] = 1
					break
				}
			}
		}
		return
	}
	for j := 0; j < n; j++ {
		row, drow := s[j*inner:(j+1)*inner], d[j*inner:(j+1)*inner]
		for k, v := range row {
			drow[k] = v - m[k]
		}
	}
	exp(d, d)
	clear(sum)
	for j := 0; j < n; j++ {
		for k, v := range d[j*inner : (j+1)*inner] {
			sum[k] += v
		}
	}
	if kind == smLog {
		for k, v := range sum {
			sum[k] = T(math.Log(float64(v)))
		}
		for j := 0; j < n; j++ {
			row, drow := s[j*inner:(j+1)*inner], d[j*inner:(j+1)*inner]
			for k, v := range row {
				drow[k] = v - m[k] - sum[k]
			}
		}
		return
	}
	for k, v := range sum {
		sum[k] = 1 / v
	}
	for j := 0; j < n; j++ {
		drow := d[j*inner : (j+1)*inner]
		for k := range drow {
			drow[k] *= sum[k]
		}
	}
}
