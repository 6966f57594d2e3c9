package ops

import (
	"math"

	"github.com/onyxrt/onyx/ops/asm"
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
				out, err = softmaxT[float32](rc, x, outer, n, inner, kind)
			case tensor.Float64:
				out, err = softmaxT[float64](rc, x, outer, n, inner, kind)
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
// inner positions, the n values at stride inner.
func softmaxT[T float32 | float64](rc *RunContext, x *tensor.Tensor, outer, n, inner int, kind softmaxKind) (*tensor.Tensor, error) {
	s := tensor.Data[T](x)
	out, d, err := newOutputUninit[T](rc, x.Shape())
	if err != nil || len(d) == 0 {
		return out, err
	}
	j := softmaxJob{n: n, inner: inner, kind: kind}
	switch d := any(d).(type) {
	case []float32:
		j.d32, j.s32 = d, any(s).([]float32)
	case []float64:
		j.d64, j.s64 = d, any(s).([]float64)
	}
	grain := max(1, grainHeavy/(n*inner))
	if ewSerial(rc, outer, grain) {
		j.run(0, outer)
	} else {
		// The operands go into a task of the run's pool: a closure (or a
		// generic job's method) would cost a heap allocation per run.
		parallelForOf(rc.workers(), rc.threads(), outer, grain, j, (*softmaxJob).run)
	}
	return out, nil
}

// softmaxJob is softmaxT's split (float32 or float64 operands): its
// blocks lo..hi-1.
type softmaxJob struct {
	d32, s32 []float32
	d64, s64 []float64
	n, inner int
	kind     softmaxKind
}

func (j *softmaxJob) run(lo, hi int) {
	if j.d32 != nil {
		softmaxBlocks(j.d32, j.s32, lo, hi, j.n, j.inner, j.kind, expSlice32)
		return
	}
	softmaxBlocks(j.d64, j.s64, lo, hi, j.n, j.inner, j.kind, exp64)
}

// softmaxBlocks runs softmaxT's blocks lo..hi-1.
func softmaxBlocks[T Float](d, s []T, lo, hi, n, inner int, kind softmaxKind, exp func(d, s []T)) {
	block := n * inner
	if inner == 1 {
		if d32, ok := any(d).([]float32); ok && kind != smHard {
			s32 := any(s).([]float32)
			// Short rows (a classifier's head) all in one call where
			// there is a kernel for them.
			if kind == smSoftmax && asm.SoftmaxRows(s32[lo*block:hi*block], d32[lo*block:hi*block], n) {
				return
			}
			for o := lo; o < hi; o++ {
				softmaxRow32(d32[o*block:(o+1)*block], s32[o*block:(o+1)*block], kind == smLog)
			}
			return
		}
		for o := lo; o < hi; o++ {
			softmaxRow(d[o*block:(o+1)*block], s[o*block:(o+1)*block], kind, exp)
		}
		return
	}
	// The column maxima and sums: on the stack when short.
	var mBuf, sumBuf [64]T
	m, sum := mBuf[:0], sumBuf[:0]
	if inner <= len(mBuf) {
		m, sum = mBuf[:inner], sumBuf[:inner]
	} else {
		m, sum = make([]T, inner), make([]T, inner)
	}
	for o := lo; o < hi; o++ {
		softmaxStrided(d[o*block:(o+1)*block], s[o*block:(o+1)*block], n, inner, m, sum, kind, exp)
	}
}

// softmaxRow32 is softmaxRow for float32 Softmax (log: LogSoftmax), in
// fewer passes over the row: the maximum (maxFloat32s), then the
// exponentials of v-max and their float64 sum in one pass (asm.ExpSum,
// vectorized), then the scaling. The results are softmaxRow's with
// expSlice32 but for the order of the float64 sum. A NaN (in v, or from
// +Inf-+Inf) gives NaN throughout, as it does in softmaxRow.
func softmaxRow32(d, s []float32, log bool) {
	s = s[:len(d)]
	m := maxFloat32s(s)
	sum := asm.ExpSum(s, d, m)
	softmaxScale(d, s, m, sum, log)
}

// softmaxScale ends softmaxRow and softmaxRow32: d holds the
// exponentials of s-m, sum their sum; log: LogSoftmax.
func softmaxScale[T Float](d, s []T, m T, sum float64, log bool) {
	if log {
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

// maxFloat32s is the largest value of s (len(s) > 0) by comparisons, in
// four independent chains: the builtin max, which propagates NaN, costs
// several times more per value. A NaN is skipped (unless it is s[0]),
// which softmaxRow32 does not mind: the NaN itself makes the row NaN.
func maxFloat32s(s []float32) float32 {
	m0 := s[0]
	m1, m2, m3 := m0, m0, m0
	i := 1
	for ; i+4 <= len(s); i += 4 {
		if v := s[i]; v > m0 {
			m0 = v
		}
		if v := s[i+1]; v > m1 {
			m1 = v
		}
		if v := s[i+2]; v > m2 {
			m2 = v
		}
		if v := s[i+3]; v > m3 {
			m3 = v
		}
	}
	for ; i < len(s); i++ {
		if v := s[i]; v > m0 {
			m0 = v
		}
	}
	for _, v := range [3]float32{m1, m2, m3} {
		if v > m0 {
			m0 = v
		}
	}
	return m0
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
	softmaxScale(d, s, m, sum, kind == smLog)
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
