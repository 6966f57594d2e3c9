package ops

import (
	"fmt"
	"math"

	"github.com/onyxrt/onyx/tensor"
)

// This file holds the pooling operators: MaxPool (with its Indices
// output), AveragePool, LpPool, their Global forms, and MaxRoiPool.

func registerPool(r *Registry) {
	for _, v := range []int{1, 8, 10, 11, 12} {
		r.Register(&Def{Name: "MaxPool", Since: v, Build: buildMaxPool, Differentiable: true})
	}
	for _, v := range []int{1, 7, 10, 11, 19} {
		r.Register(&Def{Name: "AveragePool", Since: v, Build: buildAveragePool, Differentiable: true})
	}
	for _, v := range []int{1, 2, 11, 18} {
		r.Register(&Def{Name: "LpPool", Since: v, Build: buildLpPool, Differentiable: true})
	}
	r.Register(&Def{Name: "GlobalAveragePool", Since: 1, Build: buildGlobalPool(poolAvg), Differentiable: true})
	r.Register(&Def{Name: "GlobalMaxPool", Since: 1, Build: buildGlobalPool(poolMax), Differentiable: true})
	for _, v := range []int{1, 2} {
		r.Register(&Def{Name: "GlobalLpPool", Since: v, Build: buildGlobalPool(poolLp), Differentiable: true})
	}
	r.Register(&Def{Name: "MaxRoiPool", Since: 1, Build: buildMaxRoiPool, Differentiable: true})
}

type poolKind int

const (
	poolMax poolKind = iota
	poolAvg
	poolLp
)

// poolAttrs are the attributes of MaxPool, AveragePool and LpPool.
type poolAttrs struct {
	spatialAttrs
	kind             poolKind
	ceil             bool
	countIncludePad  bool
	storageColMajor  bool
	p                float64
	wantIndices      bool
	allowIntegerMax  bool
	allowedFloatOnly bool
}

func readPoolAttrs(b *Builder, kind poolKind) (*poolAttrs, error) {
	a := &poolAttrs{spatialAttrs: readSpatial(b, true), kind: kind}
	a.ceil = b.Int("ceil_mode", 0) != 0
	a.countIncludePad = b.Int("count_include_pad", 0) != 0
	a.storageColMajor = b.Int("storage_order", 0) != 0
	a.p = readP(b)
	if err := b.Err(); err != nil {
		return nil, err
	}
	if len(a.kernel) == 0 {
		return nil, fmt.Errorf("kernel_shape must not be empty")
	}
	if kind == poolLp && a.p <= 0 {
		return nil, fmt.Errorf("p must be positive, got %v", a.p)
	}
	a.wantIndices = kind == poolMax && b.Out(1)
	return a, nil
}

// readP reads LpPool's p, a float before opset 2 and an int since.
func readP(b *Builder) float64 {
	if at, ok := b.Attrs["p"]; ok && at.Type == AttrFloat {
		return float64(b.Float("p", 2))
	}
	return float64(b.Int("p", 2))
}

// poolPlan lists, for every output position of one plane, the plane
// offsets of the input elements its window covers (CSR: taps of output o
// are offs[start[o]:start[o+1]]).
type poolPlan struct {
	nc              int // N*C planes
	inSize, outSize int
	g               *geom
	start, offs     []int
	padCount        []int // window taps inside the padded input, per output
}

func (a *poolAttrs) plan(xs []int) (*poolPlan, error) {
	n, c, sp, err := spatial(xs, 3, "X")
	if err != nil {
		return nil, err
	}
	if len(a.kernel) != len(sp) {
		return nil, fmt.Errorf("kernel_shape %v does not match the %d spatial axes of X %v", a.kernel, len(sp), xs)
	}
	g, err := a.forward(sp, a.kernel, a.ceil)
	if err != nil {
		return nil, err
	}
	p := &poolPlan{nc: n * c, inSize: prod(sp), outSize: prod(g.out), g: g}
	p.build(a.kind == poolAvg && a.countIncludePad)
	return p, nil
}

func (p *poolPlan) build(padCount bool) {
	g := p.g
	nd := len(g.in)
	inStr := tensor.Strides(g.in)
	ksz := prod(g.k)
	p.start = make([]int, p.outSize+1)
	p.offs = make([]int, 0, p.outSize*min(ksz, 64))
	if padCount {
		p.padCount = make([]int, p.outSize)
	}
	oidx := make([]int, nd)
	kidx := make([]int, nd)
	for o := 0; o < p.outSize; o++ {
		clear(kidx)
		np := 0
		for t := 0; t < ksz; t++ {
			off, inPad := 0, true
			for i := 0; i < nd; i++ {
				x := oidx[i]*g.s[i] - g.pb[i] + kidx[i]*g.d[i]
				if x < -g.pb[i] || x >= g.in[i]+g.pe[i] {
					inPad = false
				}
				if off >= 0 && x >= 0 && x < g.in[i] {
					off += x * inStr[i]
				} else {
					off = -1
				}
			}
			if off >= 0 {
				p.offs = append(p.offs, off)
			}
			if inPad {
				np++
			}
			for i := nd - 1; i >= 0; i-- {
				kidx[i]++
				if kidx[i] < g.k[i] {
					break
				}
				kidx[i] = 0
			}
		}
		if padCount {
			p.padCount[o] = np
		}
		p.start[o+1] = len(p.offs)
		for i := nd - 1; i >= 0; i-- {
			oidx[i]++
			if oidx[i] < g.out[i] {
				break
			}
			oidx[i] = 0
		}
	}
}

func (a *poolAttrs) outShape(xs []int, p *poolPlan) []int {
	return append([]int{xs[0], xs[1]}, p.g.out...)
}

// ---- MaxPool ----

func buildMaxPool(b *Builder) (Kernel, error) {
	a, err := readPoolAttrs(b, poolMax)
	if err != nil {
		return nil, err
	}
	k := func(rc *RunContext, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
		if err := Need(in, 1); err != nil {
			return nil, err
		}
		X := in[0]
		p, err := a.plan(X.Shape())
		if err != nil {
			return nil, err
		}
		y, err := tensor.New(X.DType(), a.outShape(X.Shape(), p)...)
		if err != nil {
			return nil, err
		}
		var idx *tensor.Tensor
		var id []int64
		if a.wantIndices {
			idx = tensor.MustNew(tensor.Int64, y.Shape()...)
			id = idx.Int64s()
		}
		switch X.DType() {
		case tensor.Float32:
			maxPoolRun(p, X.Float32s(), y.Float32s(), id, a.storageColMajor, float32(-math.MaxFloat32))
		case tensor.Float64:
			maxPoolRun(p, tensor.Data[float64](X), tensor.Data[float64](y), id, a.storageColMajor, -math.MaxFloat64)
		case tensor.Int8:
			maxPoolRun(p, tensor.Data[int8](X), tensor.Data[int8](y), id, a.storageColMajor, math.MinInt8)
		case tensor.Uint8:
			maxPoolRun(p, tensor.Data[uint8](X), tensor.Data[uint8](y), id, a.storageColMajor, 0)
		default:
			return nil, ErrDType("MaxPool", X.DType())
		}
		return []*tensor.Tensor{y, idx}, nil
	}
	return halfWrap(k), nil
}

func maxPoolRun[T Number](p *poolPlan, x, y []T, idx []int64, colMajor bool, lowest T) {
	var cm []int // column-major strides of the spatial dims
	if colMajor && idx != nil {
		cm = make([]int, len(p.g.in))
		acc := 1
		for i := range cm {
			cm[i] = acc
			acc *= p.g.in[i]
		}
	}
	for pl := 0; pl < p.nc; pl++ {
		src := x[pl*p.inSize : (pl+1)*p.inSize]
		dst := y[pl*p.outSize : (pl+1)*p.outSize]
		for o := range dst {
			taps := p.offs[p.start[o]:p.start[o+1]]
			best, bi := lowest, -1
			if len(taps) > 0 {
				best, bi = src[taps[0]], taps[0]
				for _, t := range taps[1:] {
					if v := src[t]; v > best {
						best, bi = v, t
					}
				}
			}
			dst[o] = best
			if idx == nil {
				continue
			}
			if bi < 0 {
				idx[pl*p.outSize+o] = -1
				continue
			}
			if cm != nil {
				off, rem := 0, bi
				for i := len(p.g.in) - 1; i >= 0; i-- {
					off += (rem % p.g.in[i]) * cm[i]
					rem /= p.g.in[i]
				}
				bi = off
			}
			idx[pl*p.outSize+o] = int64(pl*p.inSize + bi)
		}
	}
}

// ---- AveragePool and LpPool ----

func buildAveragePool(b *Builder) (Kernel, error) { return buildFloatPool(b, poolAvg) }
func buildLpPool(b *Builder) (Kernel, error)      { return buildFloatPool(b, poolLp) }

func buildFloatPool(b *Builder, kind poolKind) (Kernel, error) {
	a, err := readPoolAttrs(b, kind)
	if err != nil {
		return nil, err
	}
	name := map[poolKind]string{poolAvg: "AveragePool", poolLp: "LpPool"}[kind]
	k := func(rc *RunContext, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
		if err := Need(in, 1); err != nil {
			return nil, err
		}
		X := in[0]
		p, err := a.plan(X.Shape())
		if err != nil {
			return nil, err
		}
		y, err := tensor.New(X.DType(), a.outShape(X.Shape(), p)...)
		if err != nil {
			return nil, err
		}
		switch X.DType() {
		case tensor.Float32:
			floatPoolRun(a, p, X.Float32s(), y.Float32s())
		case tensor.Float64:
			floatPoolRun(a, p, tensor.Data[float64](X), tensor.Data[float64](y))
		default:
			return nil, ErrDType(name, X.DType())
		}
		return []*tensor.Tensor{y}, nil
	}
	return halfWrap(k), nil
}

func floatPoolRun[T Float](a *poolAttrs, p *poolPlan, x, y []T) {
	for pl := 0; pl < p.nc; pl++ {
		src := x[pl*p.inSize : (pl+1)*p.inSize]
		dst := y[pl*p.outSize : (pl+1)*p.outSize]
		for o := range dst {
			taps := p.offs[p.start[o]:p.start[o+1]]
			if a.kind == poolLp {
				dst[o] = T(lpNorm(src, taps, a.p))
				continue
			}
			var s T
			for _, t := range taps {
				s += src[t]
			}
			n := len(taps)
			if p.padCount != nil {
				n = p.padCount[o]
			}
			dst[o] = s / T(n)
		}
	}
}

func lpNorm[T Float](src []T, taps []int, p float64) float64 {
	var s float64
	switch p {
	case 1:
		for _, t := range taps {
			s += math.Abs(float64(src[t]))
		}
		return s
	case 2:
		for _, t := range taps {
			v := float64(src[t])
			s += v * v
		}
		return math.Sqrt(s)
	}
	for _, t := range taps {
		s += math.Pow(math.Abs(float64(src[t])), p)
	}
	return math.Pow(s, 1/p)
}

// ---- Global pools ----

func buildGlobalPool(kind poolKind) func(b *Builder) (Kernel, error) {
	name := map[poolKind]string{poolAvg: "GlobalAveragePool", poolMax: "GlobalMaxPool", poolLp: "GlobalLpPool"}[kind]
	return func(b *Builder) (Kernel, error) {
		p := 2.0
		if kind == poolLp {
			p = readP(b)
			if err := b.Err(); err != nil {
				return nil, err
			}
			if p <= 0 {
				return nil, fmt.Errorf("p must be positive, got %v", p)
			}
		}
		k := func(rc *RunContext, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
			if err := Need(in, 1); err != nil {
				return nil, err
			}
			X := in[0]
			xs := X.Shape()
			if len(xs) < 2 {
				return nil, fmt.Errorf("X must have rank at least 2, got shape %v", xs)
			}
			out := []int{xs[0], xs[1]}
			for range xs[2:] {
				out = append(out, 1)
			}
			y, err := tensor.New(X.DType(), out...)
			if err != nil {
				return nil, err
			}
			switch X.DType() {
			case tensor.Float32:
				globalPoolRun(kind, p, X.Float32s(), y.Float32s())
			case tensor.Float64:
				globalPoolRun(kind, p, tensor.Data[float64](X), tensor.Data[float64](y))
			default:
				return nil, ErrDType(name, X.DType())
			}
			return []*tensor.Tensor{y}, nil
		}
		return halfWrap(k), nil
	}
}

func globalPoolRun[T Float](kind poolKind, p float64, x, y []T) {
	if len(y) == 0 {
		return
	}
	size := len(x) / len(y)
	var taps []int
	if kind == poolLp {
		taps = make([]int, size)
		for i := range taps {
			taps[i] = i
		}
	}
	for pl := range y {
		src := x[pl*size : (pl+1)*size]
		switch kind {
		case poolAvg:
			var s T
			for _, v := range src {
				s += v
			}
			y[pl] = s / T(size)
		case poolMax:
			best := T(math.Inf(-1))
			if size > 0 {
				best = src[0]
			}
			for _, v := range src {
				if v > best {
					best = v
				}
			}
			y[pl] = best
		case poolLp:
			y[pl] = T(lpNorm(src, taps, p))
		}
	}
}

// ---- MaxRoiPool ----

func buildMaxRoiPool(b *Builder) (Kernel, error) {
	pooled := ToInts(b.RequireInts("pooled_shape"))
	scale := float64(b.Float("spatial_scale", 1))
	if err := b.Err(); err != nil {
		return nil, err
	}
	if len(pooled) != 2 || pooled[0] <= 0 || pooled[1] <= 0 {
		return nil, fmt.Errorf("pooled_shape must hold two positive sizes, got %v", pooled)
	}
	k := func(rc *RunContext, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
		if err := Need(in, 2); err != nil {
			return nil, err
		}
		X, R := in[0], in[1]
		if err := sameDType("MaxRoiPool", X, R); err != nil {
			return nil, err
		}
		xs := X.Shape()
		if len(xs) != 4 {
			return nil, fmt.Errorf("X must be 4-D, got shape %v", xs)
		}
		if R.Rank() != 2 || R.Shape()[1] != 5 {
			return nil, fmt.Errorf("rois must have shape [num_rois, 5], got %v", R.Shape())
		}
		y, err := tensor.New(X.DType(), R.Shape()[0], xs[1], pooled[0], pooled[1])
		if err != nil {
			return nil, err
		}
		switch X.DType() {
		case tensor.Float32:
			err = maxRoiPoolRun(xs, X.Float32s(), R.Float32s(), pooled, scale, y.Float32s())
		case tensor.Float64:
			err = maxRoiPoolRun(xs, tensor.Data[float64](X), tensor.Data[float64](R), pooled, scale, tensor.Data[float64](y))
		default:
			return nil, ErrDType("MaxRoiPool", X.DType())
		}
		if err != nil {
			return nil, err
		}
		return []*tensor.Tensor{y}, nil
	}
	return halfWrap(k), nil
}

// maxRoiPoolRun follows Caffe's ROIPooling, as ONNX Runtime does.
func maxRoiPoolRun[T Float](xs []int, x, rois []T, pooled []int, scale float64, y []T) error {
	n, c, h, w := xs[0], xs[1], xs[2], xs[3]
	ph, pw := pooled[0], pooled[1]
	for r := 0; r < len(rois)/5; r++ {
		roi := rois[r*5 : r*5+5]
		bi := int(roi[0])
		if bi < 0 || bi >= n || float64(bi) != float64(roi[0]) {
			return fmt.Errorf("roi %d has batch index %v, out of range [0, %d)", r, roi[0], n)
		}
		x1 := int(math.Round(float64(roi[1]) * scale))
		y1 := int(math.Round(float64(roi[2]) * scale))
		x2 := int(math.Round(float64(roi[3]) * scale))
		y2 := int(math.Round(float64(roi[4]) * scale))
		rh := float64(max(y2-y1+1, 1)) / float64(ph)
		rw := float64(max(x2-x1+1, 1)) / float64(pw)
		for ci := 0; ci < c; ci++ {
			plane := x[(bi*c+ci)*h*w : (bi*c+ci+1)*h*w]
			dst := y[(r*c+ci)*ph*pw : (r*c+ci+1)*ph*pw]
			for i := 0; i < ph; i++ {
				hs := min(max(int(math.Floor(float64(i)*rh))+y1, 0), h)
				he := min(max(int(math.Ceil(float64(i+1)*rh))+y1, 0), h)
				for j := 0; j < pw; j++ {
					ws := min(max(int(math.Floor(float64(j)*rw))+x1, 0), w)
					we := min(max(int(math.Ceil(float64(j+1)*rw))+x1, 0), w)
					if he <= hs || we <= ws {
						dst[i*pw+j] = 0
						continue
					}
					best := plane[hs*w+ws]
					for yy := hs; yy < he; yy++ {
						for _, v := range plane[yy*w+ws : yy*w+we] {
							if v > best {
								best = v
							}
						}
					}
					dst[i*pw+j] = best
				}
			}
		}
	}
	return nil
}
