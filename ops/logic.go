package ops

import (
	"cmp"
	"fmt"

	"github.com/onyxrt/onyx/tensor"
)

// Comparison and logic: Equal, Less, Greater, LessOrEqual, GreaterOrEqual,
// And, Or, Xor, Not, and Where.

func registerLogic(r *Registry) {
	regVersions(r, "Equal", binaryBuilder(cmpEq.apply), 1, 7, 11, 13, 19)
	regVersions(r, "Less", binaryBuilder(cmpLt.apply), 1, 7, 9, 13)
	regVersions(r, "Greater", binaryBuilder(cmpGt.apply), 1, 7, 9, 13)
	regVersions(r, "LessOrEqual", binaryBuilder(cmpLe.apply), 12, 16)
	regVersions(r, "GreaterOrEqual", binaryBuilder(cmpGe.apply), 12, 16)
	regVersions(r, "And", binaryBuilder(logicAnd.apply), 1, 7)
	regVersions(r, "Or", binaryBuilder(logicOr.apply), 1, 7)
	regVersions(r, "Xor", binaryBuilder(logicXor.apply), 1, 7)
	regVersions(r, "Not", unaryBuilder(notTensor), 1)
	regVersions(r, "Where", buildWhere, 9, 16)
}

// cmpOp is a comparison producing bool.
type cmpOp uint8

const (
	cmpEq cmpOp = iota
	cmpLt
	cmpGt
	cmpLe
	cmpGe
)

var cmpOpNames = [...]string{"Equal", "Less", "Greater", "LessOrEqual", "GreaterOrEqual"}

// apply compares a and b elementwise with broadcasting. Every numeric type
// and string are ordered; bool supports Equal only.
func (op cmpOp) apply(rc *RunContext, a, b *tensor.Tensor) (*tensor.Tensor, error) {
	if err := sameType(a, b); err != nil {
		return nil, err
	}
	a, b, dt, err := upcast2(a, b)
	if err != nil {
		return nil, err
	}
	switch a.DType() {
	case tensor.Float32:
		return broadcastBinary[float32, float32, bool](rc, a, b, cmpKernel[float32]{op}, grainCheap)
	case tensor.Float64:
		return broadcastBinary[float64, float64, bool](rc, a, b, cmpKernel[float64]{op}, grainCheap)
	case tensor.Int8:
		return broadcastBinary[int8, int8, bool](rc, a, b, cmpKernel[int8]{op}, grainCheap)
	case tensor.Int16:
		return broadcastBinary[int16, int16, bool](rc, a, b, cmpKernel[int16]{op}, grainCheap)
	case tensor.Int32:
		return broadcastBinary[int32, int32, bool](rc, a, b, cmpKernel[int32]{op}, grainCheap)
	case tensor.Int64:
		return broadcastBinary[int64, int64, bool](rc, a, b, cmpKernel[int64]{op}, grainCheap)
	case tensor.Uint8:
		return broadcastBinary[uint8, uint8, bool](rc, a, b, cmpKernel[uint8]{op}, grainCheap)
	case tensor.Uint16:
		return broadcastBinary[uint16, uint16, bool](rc, a, b, cmpKernel[uint16]{op}, grainCheap)
	case tensor.Uint32:
		return broadcastBinary[uint32, uint32, bool](rc, a, b, cmpKernel[uint32]{op}, grainCheap)
	case tensor.Uint64:
		return broadcastBinary[uint64, uint64, bool](rc, a, b, cmpKernel[uint64]{op}, grainCheap)
	case tensor.String:
		return broadcastBinary[string, string, bool](rc, a, b, cmpKernel[string]{op}, grainCheap)
	case tensor.Bool:
		if op == cmpEq {
			return broadcastBinary[bool, bool, bool](rc, a, b, logicKernel{logicXnor}, grainCheap)
		}
	}
	return nil, ErrDType(cmpOpNames[op], dt)
}

// cmpKernel implements binaryKernel for a comparison.
type cmpKernel[T cmp.Ordered] struct{ op cmpOp }

func (k cmpKernel[T]) vv(o []bool, a, b []T) {
	a, b = a[:len(o)], b[:len(o)]
	switch k.op {
	case cmpEq:
		for i := range o {
			o[i] = a[i] == b[i]
		}
	case cmpLt:
		for i := range o {
			o[i] = a[i] < b[i]
		}
	case cmpGt:
		for i := range o {
			o[i] = a[i] > b[i]
		}
	case cmpLe:
		for i := range o {
			o[i] = a[i] <= b[i]
		}
	case cmpGe:
		for i := range o {
			o[i] = a[i] >= b[i]
		}
	}
}

func (k cmpKernel[T]) vs(o []bool, a []T, y T) {
	a = a[:len(o)]
	switch k.op {
	case cmpEq:
		for i := range o {
			o[i] = a[i] == y
		}
	case cmpLt:
		for i := range o {
			o[i] = a[i] < y
		}
	case cmpGt:
		for i := range o {
			o[i] = a[i] > y
		}
	case cmpLe:
		for i := range o {
			o[i] = a[i] <= y
		}
	case cmpGe:
		for i := range o {
			o[i] = a[i] >= y
		}
	}
}

func (k cmpKernel[T]) sv(o []bool, x T, b []T) {
	b = b[:len(o)]
	switch k.op {
	case cmpEq:
		for i := range o {
			o[i] = x == b[i]
		}
	case cmpLt:
		for i := range o {
			o[i] = x < b[i]
		}
	case cmpGt:
		for i := range o {
			o[i] = x > b[i]
		}
	case cmpLe:
		for i := range o {
			o[i] = x <= b[i]
		}
	case cmpGe:
		for i := range o {
			o[i] = x >= b[i]
		}
	}
}

// logicOp is a boolean binary operation.
type logicOp uint8

const (
	logicAnd logicOp = iota
	logicOr
	logicXor
	logicXnor // Equal on bools
)

var logicOpNames = [...]string{"And", "Or", "Xor", "Equal"}

func (op logicOp) apply(rc *RunContext, a, b *tensor.Tensor) (*tensor.Tensor, error) {
	if a.DType() != tensor.Bool || b.DType() != tensor.Bool {
		return nil, fmt.Errorf("%s needs bool inputs, got %v and %v", logicOpNames[op], a.DType(), b.DType())
	}
	return broadcastBinary[bool, bool, bool](rc, a, b, logicKernel{op}, grainCheap)
}

// logicKernel implements binaryKernel for a logicOp.
type logicKernel struct{ op logicOp }

func (k logicKernel) vv(o, a, b []bool) {
	a, b = a[:len(o)], b[:len(o)]
	switch k.op {
	case logicAnd:
		for i := range o {
			o[i] = a[i] && b[i]
		}
	case logicOr:
		for i := range o {
			o[i] = a[i] || b[i]
		}
	case logicXor:
		for i := range o {
			o[i] = a[i] != b[i]
		}
	case logicXnor:
		for i := range o {
			o[i] = a[i] == b[i]
		}
	}
}

func (k logicKernel) vs(o, a []bool, y bool) {
	a = a[:len(o)]
	switch k.op {
	case logicAnd:
		for i := range o {
			o[i] = a[i] && y
		}
	case logicOr:
		for i := range o {
			o[i] = a[i] || y
		}
	case logicXor:
		for i := range o {
			o[i] = a[i] != y
		}
	case logicXnor:
		for i := range o {
			o[i] = a[i] == y
		}
	}
}

func (k logicKernel) sv(o []bool, x bool, b []bool) { k.vs(o, b, x) } // all four are symmetric

func notTensor(rc *RunContext, x *tensor.Tensor) (*tensor.Tensor, error) {
	if x.DType() != tensor.Bool {
		return nil, ErrDType("Not", x.DType())
	}
	return mapUnary(rc, x, func(d, s []bool) {
		s = s[:len(d)]
		for i, v := range s {
			d[i] = !v
		}
	}, grainCheap)
}

// ---- Where ----

func buildWhere(b *Builder) (Kernel, error) {
	return KernelFunc(func(rc *RunContext, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
		if err := Need(in, 3); err != nil {
			return nil, err
		}
		return rc.one(whereTensors(rc, in[0], in[1], in[2]))
	}), nil
}

// whereTensors selects x where cond is true and y elsewhere, broadcasting
// all three. x and y may have any (shared) element type.
func whereTensors(rc *RunContext, c, x, y *tensor.Tensor) (*tensor.Tensor, error) {
	if c.DType() != tensor.Bool {
		return nil, fmt.Errorf("Where condition must be bool, got %v", c.DType())
	}
	if err := sameType(x, y); err != nil {
		return nil, err
	}
	switch x.DType() {
	case tensor.Float32:
		return whereT[float32](rc, c, x, y)
	case tensor.Float64:
		return whereT[float64](rc, c, x, y)
	case tensor.Float16:
		return whereT[tensor.Half](rc, c, x, y)
	case tensor.BFloat16:
		return whereT[tensor.BF16](rc, c, x, y)
	case tensor.Int8:
		return whereT[int8](rc, c, x, y)
	case tensor.Int16:
		return whereT[int16](rc, c, x, y)
	case tensor.Int32:
		return whereT[int32](rc, c, x, y)
	case tensor.Int64:
		return whereT[int64](rc, c, x, y)
	case tensor.Uint8:
		return whereT[uint8](rc, c, x, y)
	case tensor.Uint16:
		return whereT[uint16](rc, c, x, y)
	case tensor.Uint32:
		return whereT[uint32](rc, c, x, y)
	case tensor.Uint64:
		return whereT[uint64](rc, c, x, y)
	case tensor.Bool:
		return whereT[bool](rc, c, x, y)
	case tensor.String:
		return whereT[string](rc, c, x, y)
	}
	return nil, ErrDType("Where", x.DType())
}

// whereT is Where for element type T: one plan over the three shapes and
// a direct selection loop per contiguous run (no per-element calls).
func whereT[T tensor.Elem](rc *RunContext, c, x, y *tensor.Tensor) (*tensor.Tensor, error) {
	cd := tensor.Data[bool](c)
	xd, err := dataAs[T](x)
	if err != nil {
		return nil, err
	}
	yd, err := dataAs[T](y)
	if err != nil {
		return nil, err
	}
	cs, xs, ys := c.Shape(), x.Shape(), y.Shape()
	if tensor.ShapeEqual(cs, xs) && tensor.ShapeEqual(cs, ys) {
		out, od, err := newOutputUninit[T](rc, xs)
		if err != nil {
			return nil, err
		}
		if ewSerial(rc, len(od), grainCheap) {
			whereLoop(od, cd, xd, yd)
		} else {
			ewParallel(rc, len(od), grainCheap, func(lo, hi int) { whereLoop(od[lo:hi], cd[lo:hi], xd[lo:hi], yd[lo:hi]) })
		}
		return out, nil
	}
	var shapeBuf, shapeBuf2 [8]int
	shape, err := broadcastShape2(shapeBuf[:0], cs, xs)
	if err == nil {
		shape, err = broadcastShape2(shapeBuf2[:0], shape, ys)
	}
	if err != nil {
		return nil, err
	}
	var q bcast2
	if q.init(shape, cs, xs, ys) {
		out, od, err := newOutputUninit[T](rc, shape)
		if err != nil || len(od) == 0 {
			return out, err
		}
		rowGrain := max(1, grainCheap/max(q.inner, 1))
		if ewSerial(rc, q.rows, rowGrain) {
			whereRows(&q, od, cd, xd, yd, 0, q.rows)
		} else {
			pq := q
			ewParallel(rc, q.rows, rowGrain, func(lo, hi int) { whereRows(&pq, od, cd, xd, yd, lo, hi) })
		}
		return out, nil
	}
	p, err := newBcastPlan(cs, xs, ys)
	if err != nil {
		return nil, err
	}
	out, od, err := newOutput[T](p.shape)
	if err != nil {
		return nil, err
	}
	m := p.inner
	sc, sx, sy := p.innerSt[0], p.innerSt[1], p.innerSt[2]
	p.run(rc, grainCheap, func(o int, offs []int) {
		ic, ix, iy := offs[0], offs[1], offs[2]
		dst := od[o : o+m]
		if sc == 1 && sx == 1 && sy == 1 {
			cs, xs, ys := cd[ic:ic+m], xd[ix:ix+m], yd[iy:iy+m]
			for i := range dst {
				if cs[i] {
					dst[i] = xs[i]
				} else {
					dst[i] = ys[i]
				}
			}
			return
		}
		for i := range dst {
			if cd[ic] {
				dst[i] = xd[ix]
			} else {
				dst[i] = yd[iy]
			}
			ic += sc
			ix += sx
			iy += sy
		}
	})
	return out, nil
}

// whereLoop selects x where c is set, else y, over equal-length slices.
func whereLoop[T any](dst []T, c []bool, x, y []T) {
	c, x, y = c[:len(dst)], x[:len(dst)], y[:len(dst)]
	for i := range dst {
		if c[i] {
			dst[i] = x[i]
		} else {
			dst[i] = y[i]
		}
	}
}

// whereRows is Where over the inner runs lo..hi-1 of p (inputs c, x, y).
func whereRows[T any](p *bcast2, od []T, cd []bool, xd, yd []T, lo, hi int) {
	nd := p.nd
	var idx [8]int
	rem := lo
	for d := nd - 1; d >= 0; d-- {
		idx[d] = rem % p.outer[d]
		rem /= p.outer[d]
	}
	var ic, ix, iy int
	for d := 0; d < nd; d++ {
		ic += idx[d] * p.st[0][d]
		ix += idx[d] * p.st[1][d]
		iy += idx[d] * p.st[2][d]
	}
	m := p.inner
	sc, sx, sy := p.innerSt[0], p.innerSt[1], p.innerSt[2]
	for row := lo; row < hi; row++ {
		dst := od[row*m : (row+1)*m]
		if sc == 1 && sx == 1 && sy == 1 {
			whereLoop(dst, cd[ic:ic+m], xd[ix:ix+m], yd[iy:iy+m])
		} else {
			c, x, y := ic, ix, iy
			for i := range dst {
				if cd[c] {
					dst[i] = xd[x]
				} else {
					dst[i] = yd[y]
				}
				c += sc
				x += sx
				y += sy
			}
		}
		for d := nd - 1; d >= 0; d-- {
			idx[d]++
			if idx[d] < p.outer[d] {
				ic += p.st[0][d]
				ix += p.st[1][d]
				iy += p.st[2][d]
				break
			}
			ic -= p.st[0][d] * (p.outer[d] - 1)
			ix -= p.st[1][d] * (p.outer[d] - 1)
			iy -= p.st[2][d] * (p.outer[d] - 1)
			idx[d] = 0
		}
	}
}
