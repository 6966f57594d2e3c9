package ops

import (
	"fmt"
	"math"
	"sync"

	"github.com/onyxrt/onyx/tensor"
)

// This file holds the backward kernels of the CNN operators, registered in
// GradDomain: ConvGrad, ConvTransposeGrad, MaxPoolGrad, AveragePoolGrad,
// GlobalAveragePoolGrad, GlobalMaxPoolGrad, BatchNormGrad, LayerNormGrad
// and DropoutGrad. Each takes its forward operator's attributes, so a rule
// copies them (CopyAttrs) and the kernel resolves the same geometry as the
// forward kernel. A kernel computes only the outputs the node names.
// The layout operators' backward kernels are in grad_shape.go.

func registerGradNNKernels(r *Registry) {
	for _, d := range []struct {
		name  string
		build func(*Builder) (Kernel, error)
	}{
		{"ConvGrad", buildConvGrad},
		{"ConvTransposeGrad", buildConvTransposeGrad},
		{"MaxPoolGrad", buildPoolGrad(poolMax)},
		{"AveragePoolGrad", buildPoolGrad(poolAvg)},
		{"GlobalAveragePoolGrad", buildGlobalPoolGrad(poolAvg)},
		{"GlobalMaxPoolGrad", buildGlobalPoolGrad(poolMax)},
		{"BatchNormGrad", buildBatchNormGrad},
		{"LayerNormGrad", buildLayerNormGrad},
		{"DropoutGrad", buildDropoutGrad},
	} {
		r.Register(&Def{Domain: GradDomain, Name: d.name, Since: 1, Build: d.build})
	}
	registerGradShapeKernels(r)
}

// ---- ConvGrad ----

// buildConvGrad: inputs dY, X, W; outputs dX, dW, dB; Conv's attributes.
//
// With attribute pooled_dy=1 (set by the train package's backward fusion)
// there is a fourth input R, and input 0 is not the Conv's dY but the
// gradient dP of a 2×2, stride-2, unpadded MaxPool of R, where R is the
// output of the Relu after the Conv: dY is what MaxPoolGrad(dP, R) with
// activation="Relu" would give. The fast float32 path computes it a few
// images at a time, in cache, instead of writing and reading a tensor
// the size of the Conv's output.
func buildConvGrad(b *Builder) (Kernel, error) {
	a, err := readConvAttrs(b)
	if err != nil {
		return nil, err
	}
	pooled := b.Int("pooled_dy", 0) != 0
	if err := b.Err(); err != nil {
		return nil, err
	}
	want := [3]bool{b.Out(0), b.Out(1), b.Out(2)}
	k := func(rc *RunContext, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
		nIn := 3
		if pooled {
			nIn = 4
		}
		if err := Need(in, nIn); err != nil {
			return nil, err
		}
		dY, X, W := in[0], in[1], in[2]
		if err := sameDType("ConvGrad", X, W, dY); err != nil {
			return nil, err
		}
		p, err := a.plan(X.Shape(), W.Shape())
		if err != nil {
			return nil, err
		}
		var pool *pooledDY
		if pooled {
			if pool, err = newPooledDY(p, dY, in[3]); err != nil {
				return nil, err
			}
			if X.DType() != tensor.Float32 || !convGradFastOK(p) {
				// The general path: dY first, then the usual backward.
				outs, err := maxPoolGradDirect(rc, pool.plan, pool.r, dY, true)
				if err != nil {
					return nil, err
				}
				dY, pool = outs[0], nil
			}
		}
		if pool == nil && !tensor.ShapeEqual(dY.Shape(), p.outShape()) {
			return nil, fmt.Errorf("dY has shape %v, want the output shape %v", dY.Shape(), p.outShape())
		}
		return convBackward(rc, "ConvGrad", p, false, want, dY, X, W, pool)
	}
	return halfWrap(k, 1, 2, 2), nil
}

// pooledDY describes the dY of a ConvGrad with pooled_dy=1: the gradient
// dP of the 2×2 stride-2 max pooling (plan) of r, the Relu after the Conv.
type pooledDY struct {
	plan *poolPlan
	r    *tensor.Tensor
}

func newPooledDY(p *convPlan, dP, r *tensor.Tensor) (*pooledDY, error) {
	if len(p.g.in) != 2 {
		return nil, fmt.Errorf("pooled_dy needs a 2-D convolution")
	}
	if !tensor.ShapeEqual(r.Shape(), p.outShape()) {
		return nil, fmt.Errorf("the pooled input has shape %v, want the output shape %v", r.Shape(), p.outShape())
	}
	if r.DType() != dP.DType() {
		return nil, fmt.Errorf("the pooled input is %v, the gradient %v", r.DType(), dP.DType())
	}
	a := &poolAttrs{spatialAttrs: spatialAttrs{kernel: []int{2, 2}, strides: []int{2, 2}, autoPad: "NOTSET"}, kind: poolMax}
	pp, err := a.plan(r.Shape())
	if err != nil {
		return nil, err
	}
	if ys := a.outShape(r.Shape(), pp); !tensor.ShapeEqual(dP.Shape(), ys) {
		return nil, fmt.Errorf("dY has shape %v, want the pooled output shape %v", dP.Shape(), ys)
	}
	return &pooledDY{plan: pp, r: r}, nil
}

// buildConvTransposeGrad: inputs dY, X, W; outputs dX, dW, dB;
// ConvTranspose's attributes.
func buildConvTransposeGrad(b *Builder) (Kernel, error) {
	ca, err := readConvAttrs(b)
	if err != nil {
		return nil, err
	}
	a := &convTransposeAttrs{convAttrs: ca}
	if b.Has("output_padding") {
		a.outputPadding = ToInts(b.Ints("output_padding", nil))
	}
	if b.Has("output_shape") {
		a.outputShape = ToInts(b.Ints("output_shape", nil))
	}
	if err := b.Err(); err != nil {
		return nil, err
	}
	want := [3]bool{b.Out(0), b.Out(1), b.Out(2)}
	k := func(rc *RunContext, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
		if err := Need(in, 3); err != nil {
			return nil, err
		}
		dY, X, W := in[0], in[1], in[2]
		if err := sameDType("ConvTransposeGrad", X, W, dY); err != nil {
			return nil, err
		}
		p, err := a.plan(X.Shape(), W.Shape())
		if err != nil {
			return nil, err
		}
		if !tensor.ShapeEqual(dY.Shape(), p.outShape()) {
			return nil, fmt.Errorf("dY has shape %v, want the output shape %v", dY.Shape(), p.outShape())
		}
		return convBackward(rc, "ConvTransposeGrad", p, true, want, dY, X, W, nil)
	}
	return halfWrap(k, 1, 2, 2), nil
}

// convBackward computes the wanted gradients of a Conv (or ConvTranspose)
// from dY, or, with pool (fast float32 Conv path only), from the pooled
// gradient dY and pool.r.
func convBackward(rc *RunContext, name string, p *convPlan, transposed bool, want [3]bool, dY, X, W *tensor.Tensor, pool *pooledDY) ([]*tensor.Tensor, error) {
	outs := make([]*tensor.Tensor, 3)
	shapes := [][]int{X.Shape(), W.Shape(), {p.m}}
	if X.DType() == tensor.Float32 && !transposed && convGradFastOK(p) {
		// convGradFast writes every element of the outputs it computes.
		for i, w := range want {
			if w {
				t, err := rc.NewUninit(X.DType(), shapes[i]...)
				if err != nil {
					return nil, err
				}
				outs[i] = t
			}
		}
		src := dySource{dy: dY.Float32s()}
		if pool != nil {
			src = dySource{dp: dY.Float32s(), r: pool.r.Float32s(), pool: pool.plan.g, pooled: pool.plan.outSize}
		}
		convGradFast(rc.workers(), rc.threads(), p, X.Float32s(), W.Float32s(), src,
			optData[float32](outs[0]), optData[float32](outs[1]), optData[float32](outs[2]))
		return outs, nil
	}
	for i, w := range want {
		if w {
			t, err := rc.NewTensor(X.DType(), shapes[i]...)
			if err != nil {
				return nil, err
			}
			outs[i] = t
		}
	}
	switch X.DType() {
	case tensor.Float32:
		convGradRun(rc.workers(), rc.threads(), p, transposed, X.Float32s(), W.Float32s(), dY.Float32s(),
			optData[float32](outs[0]), optData[float32](outs[1]), optData[float32](outs[2]))
	case tensor.Float64:
		convGradRun(rc.workers(), rc.threads(), p, transposed, tensor.Data[float64](X), tensor.Data[float64](W), tensor.Data[float64](dY),
			optData[float64](outs[0]), optData[float64](outs[1]), optData[float64](outs[2]))
	default:
		return nil, ErrDType(name, X.DType())
	}
	return outs, nil
}

// convGradRun computes the gradients of a convolution (or, transposed, of
// a transposed convolution) with respect to x, w and the bias; dx, dw and
// db are zeroed buffers, nil when not wanted.
//
// Convolution, per (image, group): y = W·im2col(x), W being mg×kdim. So
// dW += dy·im2col(x)ᵀ and dx = col2im(Wᵀ·dy).
// Transposed convolution: y = col2im(Wᵀ·x), W being cg×(mg·k), the
// geometry running from y to x. So dx = W·im2col(dy) and
// dW += x·im2col(dy)ᵀ.
func convGradRun[T float32 | float64](wk *Workers, threads int, p *convPlan, transposed bool, x, w, dy, dx, dw, db []T) {
	cg, mg := p.c/p.group, p.m/p.group
	if db != nil {
		for n := 0; n < p.n; n++ {
			for m := 0; m < p.m; m++ {
				var s T
				for _, v := range dy[(n*p.m+m)*p.outSize : (n*p.m+m+1)*p.outSize] {
					s += v
				}
				db[m] += s
			}
		}
	}
	if dx == nil && dw == nil {
		return
	}
	// Work items are (image, group) pairs. A chunk that is not the whole
	// range accumulates its own dW, added under the lock when it is done.
	items := p.n * p.group
	var mu sync.Mutex
	parallelFor(wk, threads, items, 1, func(lo, hi int) {
		part := dw
		private := dw != nil && (lo != 0 || hi != items)
		if private {
			part = make([]T, len(dw))
		}
		if transposed {
			convTransposeGradItems(p, cg, mg, x, w, dy, dx, part, lo, hi)
		} else {
			convGradItems(p, cg, mg, x, w, dy, dx, part, lo, hi)
		}
		if private {
			mu.Lock()
			for i, v := range part {
				dw[i] += v
			}
			mu.Unlock()
		}
	})
}

// colBands describes how im2col buffers cover the columns (output
// positions, numbered over spatial geometry g) of one (image, group): in
// bands of whole rows of a 2-D (or 1-D, seen as 2-D) geometry, so that
// large images need no huge buffer, or all at once for N-D. g2 is the 2-D
// view (nil for N-D); each band holds at most band rows of width columns.
type colBands struct {
	g2                *geom
	rows, band, width int // output rows, rows per band, columns per row
}

func newColBands(g *geom, kdim int) colBands {
	size := prod(g.out)
	switch len(g.in) {
	case 1:
		g = g.as2D()
	case 2:
	default:
		return colBands{rows: 1, band: 1, width: size}
	}
	b := colBands{g2: g, rows: g.out[0], width: g.out[1]}
	b.band = max(1, min(b.rows, im2colBudget/max(1, kdim*b.width)))
	return b
}

// each calls f for every band: rows [r0, r1), its first column and its
// column count.
func (b colBands) each(f func(r0, r1, c0, cols int)) {
	for r0 := 0; r0 < b.rows; r0 += b.band {
		r1 := min(r0+b.band, b.rows)
		f(r0, r1, r0*b.width, (r1-r0)*b.width)
	}
}

func convGradItems[T float32 | float64](p *convPlan, cg, mg int, x, w, dy, dx, dw []T, lo, hi int) {
	kdim := cg * p.kSize
	if kdim == 0 || p.outSize == 0 || mg == 0 {
		return
	}
	bands := newColBands(p.g, kdim)
	var col, dcol []T
	if !p.direct {
		n := kdim * bands.band * bands.width
		cb := getScratch[T](n)
		defer putScratch(cb)
		col = *cb
		if dx != nil {
			db := getScratch[T](n)
			defer putScratch(db)
			dcol = *db
		}
	}
	for it := lo; it < hi; it++ {
		n, gi := it/p.group, it%p.group
		xg := x[(n*p.c+gi*cg)*p.inSize : (n*p.c+(gi+1)*cg)*p.inSize]
		dyg := dy[(n*p.m+gi*mg)*p.outSize : (n*p.m+(gi+1)*mg)*p.outSize]
		wg := w[gi*mg*kdim : (gi+1)*mg*kdim]
		var dxg []T
		if dx != nil {
			dxg = dx[(n*p.c+gi*cg)*p.inSize : (n*p.c+(gi+1)*cg)*p.inSize]
		}
		if p.direct { // im2col(x) is x itself
			if dw != nil {
				gemmT(false, true, mg, kdim, p.outSize, 1, dyg, p.outSize, xg, p.outSize, 1, dw[gi*mg*kdim:], kdim)
			}
			if dx != nil {
				gemmT(true, false, kdim, p.outSize, mg, 1, wg, kdim, dyg, p.outSize, 0, dxg, p.outSize)
			}
			continue
		}
		bands.each(func(r0, r1, c0, cols int) {
			if dw != nil {
				if bands.g2 == nil {
					im2col(xg, cg, p.g, col)
				} else {
					im2col2D(xg, cg, bands.g2, r0, r1, col[:kdim*cols])
				}
				gemmT(false, true, mg, kdim, cols, 1, dyg[c0:], p.outSize, col, cols, 1, dw[gi*mg*kdim:], kdim)
			}
			if dx != nil {
				gemmT(true, false, kdim, cols, mg, 1, wg, kdim, dyg[c0:], p.outSize, 0, dcol, cols)
				if bands.g2 == nil {
					col2im(dcol, cg, p.g, dxg)
				} else {
					col2imBand(dcol, cg, bands.g2, r0, r1, dxg)
				}
			}
		})
	}
}

func convTransposeGradItems[T float32 | float64](p *convPlan, cg, mg int, x, w, dy, dx, dw []T, lo, hi int) {
	rows := mg * p.kSize
	if rows == 0 || p.inSize == 0 || cg == 0 {
		return
	}
	// The columns are X's positions: the forward geometry runs from Y
	// (g.in) to X (g.out).
	bands := newColBands(p.g, rows)
	cb := getScratch[T](rows * bands.band * bands.width)
	defer putScratch(cb)
	col := *cb
	for it := lo; it < hi; it++ {
		n, gi := it/p.group, it%p.group
		xg := x[(n*p.c+gi*cg)*p.inSize : (n*p.c+(gi+1)*cg)*p.inSize]
		dyg := dy[(n*p.m+gi*mg)*p.outSize : (n*p.m+(gi+1)*mg)*p.outSize]
		wg := w[gi*cg*rows : (gi+1)*cg*rows]
		bands.each(func(r0, r1, c0, cols int) {
			if bands.g2 == nil {
				im2col(dyg, mg, p.g, col)
			} else {
				im2col2D(dyg, mg, bands.g2, r0, r1, col[:rows*cols])
			}
			if dx != nil {
				dxg := dx[(n*p.c+gi*cg)*p.inSize : (n*p.c+(gi+1)*cg)*p.inSize]
				gemmT(false, false, cg, cols, rows, 1, wg, rows, col, cols, 0, dxg[c0:], p.inSize)
			}
			if dw != nil {
				gemmT(false, true, cg, rows, cols, 1, xg[c0:], p.inSize, col, cols, 1, dw[gi*cg*rows:], rows)
			}
		})
	}
}

// col2imBand is col2im2D for the output rows [r0, r1) only: col holds
// (r1-r0)*g.out[1] columns.
func col2imBand[T Number](col []T, c int, g *geom, r0, r1 int, y []T) {
	h, w := g.in[0], g.in[1]
	kh, kw := g.k[0], g.k[1]
	oh, ow := r1-r0, g.out[1]
	sh, sw := g.s[0], g.s[1]
	dh, dw := g.d[0], g.d[1]
	ph, pw := g.pb[0], g.pb[1]
	row := 0
	for ci := 0; ci < c; ci++ {
		plane := y[ci*h*w : (ci+1)*h*w]
		for ki := 0; ki < kh; ki++ {
			for kj := 0; kj < kw; kj++ {
				src := col[row*oh*ow : (row+1)*oh*ow]
				row++
				ix0 := kj*dw - pw
				lo, hi := validCols(ix0, ow, sw, w)
				for yy := 0; yy < oh; yy++ {
					iy := (r0+yy)*sh - ph + ki*dh
					if iy < 0 || iy >= h {
						continue
					}
					dst := plane[iy*w : (iy+1)*w]
					s := src[yy*ow : (yy+1)*ow]
					for xx := lo; xx < hi; xx++ {
						dst[ix0+xx*sw] += s[xx]
					}
				}
			}
		}
	}
}

// ---- MaxPoolGrad, AveragePoolGrad ----

// buildPoolGrad: inputs dY, X; output dX; the pooling operator's
// attributes. MaxPool's gradient goes to the first maximum of each window
// (the element its Indices output names); AveragePool's is spread evenly
// over the window, divided by the same count as the forward pass.
// MaxPoolGrad's attribute activation="Relu" (set by the train package's
// backward fusion) says that X is a Relu's output and fuses that Relu's
// gradient: dX is then also zero where X is not positive.
func buildPoolGrad(kind poolKind) func(b *Builder) (Kernel, error) {
	name := map[poolKind]string{poolMax: "MaxPoolGrad", poolAvg: "AveragePoolGrad"}[kind]
	return func(b *Builder) (Kernel, error) {
		a, err := readPoolAttrs(b, kind)
		if err != nil {
			return nil, err
		}
		relu := false
		switch act := b.String("activation", ""); {
		case act == "":
		case act == "Relu" && kind == poolMax:
			relu = true
		default:
			return nil, fmt.Errorf("%s: unsupported activation %q", name, act)
		}
		if err := b.Err(); err != nil {
			return nil, err
		}
		k := func(rc *RunContext, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
			if err := Need(in, 2); err != nil {
				return nil, err
			}
			dY, X := in[0], in[1]
			if err := sameDType(name, X, dY); err != nil {
				return nil, err
			}
			xs := X.Shape()
			p, err := a.plan(xs)
			if err != nil {
				return nil, err
			}
			if ys := a.outShape(xs, p); !tensor.ShapeEqual(dY.Shape(), ys) {
				return nil, fmt.Errorf("dY has shape %v, want the output shape %v", dY.Shape(), ys)
			}
			if kind == poolMax && p.direct && (X.DType() == tensor.Float32 || X.DType() == tensor.Float64) {
				return maxPoolGradDirect(rc, p, X, dY, relu)
			}
			// The tap lists of every window (the direct 2-D forward path
			// walks windows without them).
			p.build(kind == poolAvg && a.countIncludePad)
			dx, err := rc.NewTensor(X.DType(), xs...)
			if err != nil {
				return nil, err
			}
			switch X.DType() {
			case tensor.Float32:
				poolGradRun(kind, p, X.Float32s(), dY.Float32s(), dx.Float32s(), relu)
			case tensor.Float64:
				poolGradRun(kind, p, tensor.Data[float64](X), tensor.Data[float64](dY), tensor.Data[float64](dx), relu)
			default:
				return nil, ErrDType(name, X.DType())
			}
			return rc.Results(dx), nil
		}
		return halfWrap(k, 1), nil
	}
}

// maxPoolGradDirect is MaxPoolGrad for 1-D and 2-D pooling (p.direct),
// float32 or float64, split over the planes.
func maxPoolGradDirect(rc *RunContext, p *poolPlan, X, dY *tensor.Tensor, relu bool) ([]*tensor.Tensor, error) {
	fast := maxPoolGrad2x2OK(p.g)
	var dx *tensor.Tensor
	var err error
	if fast {
		dx, err = rc.NewUninit(X.DType(), X.Shape()...)
	} else {
		dx, err = rc.NewTensor(X.DType(), X.Shape()...)
	}
	if err != nil {
		return nil, err
	}
	// About 64K input elements per goroutine at least.
	grain := max(1, (1<<16)/max(p.inSize, 1))
	parallelFor(rc.workers(), rc.threads(), p.nc, grain, func(lo, hi int) {
		switch x := X.Data().(type) {
		case []float32:
			if fast {
				maxPoolGrad2x2F32(p.g, p.inSize, p.outSize, lo, hi, x, dY.Float32s(), dx.Float32s(), relu)
			} else {
				maxPoolGrad2D(p.g, p.inSize, p.outSize, lo, hi, x, dY.Float32s(), dx.Float32s(), relu)
			}
		case []float64:
			if fast {
				maxPoolGrad2x2(p.g, p.inSize, p.outSize, lo, hi, x, tensor.Data[float64](dY), tensor.Data[float64](dx), relu)
			} else {
				maxPoolGrad2D(p.g, p.inSize, p.outSize, lo, hi, x, tensor.Data[float64](dY), tensor.Data[float64](dx), relu)
			}
		}
	})
	return rc.Results(dx), nil
}

// poolGradRun adds each output's gradient to its window's inputs; with
// relu (max pooling only) only where the maximum is positive.
func poolGradRun[T Float](kind poolKind, p *poolPlan, x, dy, dx []T, relu bool) {
	for pl := 0; pl < p.nc; pl++ {
		src := x[pl*p.inSize : (pl+1)*p.inSize]
		dst := dx[pl*p.inSize : (pl+1)*p.inSize]
		g := dy[pl*p.outSize : (pl+1)*p.outSize]
		for o, gv := range g {
			taps := p.offs[p.start[o]:p.start[o+1]]
			if len(taps) == 0 {
				continue
			}
			if kind == poolMax {
				bi, best := taps[0], src[taps[0]]
				for _, t := range taps[1:] {
					if v := src[t]; v > best || (best != best && v == v) {
						best, bi = v, t
					}
				}
				if !relu || best > 0 {
					dst[bi] += gv
				}
				continue
			}
			n := len(taps)
			if p.padCount != nil {
				n = p.padCount[o]
			}
			share := gv / T(n)
			for _, t := range taps {
				dst[t] += share
			}
		}
	}
}

// ---- GlobalAveragePoolGrad, GlobalMaxPoolGrad ----

// buildGlobalPoolGrad: inputs dY, X; output dX.
func buildGlobalPoolGrad(kind poolKind) func(b *Builder) (Kernel, error) {
	name := map[poolKind]string{poolMax: "GlobalMaxPoolGrad", poolAvg: "GlobalAveragePoolGrad"}[kind]
	return func(b *Builder) (Kernel, error) {
		k := func(rc *RunContext, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
			if err := Need(in, 2); err != nil {
				return nil, err
			}
			dY, X := in[0], in[1]
			if err := sameDType(name, X, dY); err != nil {
				return nil, err
			}
			xs := X.Shape()
			if len(xs) < 2 {
				return nil, fmt.Errorf("X must have rank at least 2, got shape %v", xs)
			}
			if dY.Rank() != len(xs) || dY.Len() != xs[0]*xs[1] || (xs[0]*xs[1] > 0 && (dY.Shape()[0] != xs[0] || dY.Shape()[1] != xs[1])) {
				return nil, fmt.Errorf("dY has shape %v, want [%d %d 1...] for X %v", dY.Shape(), xs[0], xs[1], xs)
			}
			dx, err := tensor.New(X.DType(), xs...)
			if err != nil {
				return nil, err
			}
			switch X.DType() {
			case tensor.Float32:
				globalPoolGradRun(kind, X.Float32s(), dY.Float32s(), dx.Float32s())
			case tensor.Float64:
				globalPoolGradRun(kind, tensor.Data[float64](X), tensor.Data[float64](dY), tensor.Data[float64](dx))
			default:
				return nil, ErrDType(name, X.DType())
			}
			return rc.Results(dx), nil
		}
		return halfWrap(k, 1), nil
	}
}

func globalPoolGradRun[T Float](kind poolKind, x, dy, dx []T) {
	if len(dy) == 0 {
		return
	}
	size := len(x) / len(dy)
	if size == 0 {
		return
	}
	for pl, g := range dy {
		src := x[pl*size : (pl+1)*size]
		dst := dx[pl*size : (pl+1)*size]
		if kind == poolAvg {
			share := g / T(size)
			for i := range dst {
				dst[i] = share
			}
			continue
		}
		bi := 0
		for i, v := range src {
			if v > src[bi] || (src[bi] != src[bi] && v == v) {
				bi = i
			}
		}
		dst[bi] = g
	}
}

// ---- BatchNormGrad ----

// buildBatchNormGrad: inputs dY, X, scale, mean, var; outputs dX, dscale,
// dB, and (inference mode only) dmean, dvar. Attributes epsilon and
// training_mode: in training mode the statistics are the batch's,
// recomputed from X (the mean and var inputs are then unused), and the
// gradient flows through them; in inference mode BatchNormalization is an
// affine map per channel. Parameters may be per channel or, for the
// non-spatial form of opsets before 9, per (channel, position).
func buildBatchNormGrad(b *Builder) (Kernel, error) {
	eps := float64(b.Float("epsilon", 1e-5))
	training := b.Int("training_mode", 0) != 0
	if err := b.Err(); err != nil {
		return nil, err
	}
	want := [5]bool{b.Out(0), b.Out(1), b.Out(2), b.Out(3), b.Out(4)}
	return KernelFunc(func(rc *RunContext, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
		if err := Need(in, 5); err != nil {
			return nil, err
		}
		dY, X := in[0], in[1]
		xs := X.Shape()
		if len(xs) < 2 {
			return nil, fmt.Errorf("X must have rank at least 2 (N×C×...), got shape %v", xs)
		}
		if !tensor.ShapeEqual(dY.Shape(), xs) {
			return nil, fmt.Errorf("dY has shape %v, X has %v", dY.Shape(), xs)
		}
		x, err := float64s(X, "BatchNormGrad X")
		if err != nil {
			return nil, err
		}
		dy, err := float64s(dY, "BatchNormGrad dY")
		if err != nil {
			return nil, err
		}
		params := make([][]float64, 3)
		for i, name := range []string{"scale", "mean", "var"} {
			if params[i], err = float64s(in[[]int{2, 3, 4}[i]], "BatchNormGrad "+name); err != nil {
				return nil, err
			}
		}
		n, c, inner := xs[0], xs[1], prod(xs[2:])
		groups := len(params[0])
		if groups != c && groups != c*inner {
			return nil, fmt.Errorf("scale has %d elements, want %d (channels of X %v)", groups, c, xs)
		}
		for i, v := range params[1:] {
			if len(v) != groups {
				return nil, fmt.Errorf("input %d has %d elements, scale has %d", i+3, len(v), groups)
			}
		}
		per := 0
		if groups > 0 {
			per = inner * c / groups
		}
		scale, mean, variance := params[0], params[1], params[2]
		if training {
			mean, variance = batchStats(X, n, groups, per)
		}
		dx := make([]float64, len(x))
		dscale := make([]float64, groups)
		dbias := make([]float64, groups)
		dmean := make([]float64, groups)
		dvar := make([]float64, groups)
		// Per group: dbias = Σdy, dscale = Σdy·x̂ with x̂ = (x-mean)·inv.
		inv := make([]float64, groups)
		for g := range inv {
			inv[g] = 1 / math.Sqrt(variance[g]+eps)
		}
		for s := 0; s < n; s++ {
			for g := 0; g < groups; g++ {
				base := (s*groups + g) * per
				m, iv := mean[g], inv[g]
				var sb, ss float64
				for j, d := range dy[base : base+per] {
					sb += d
					ss += d * (x[base+j] - m) * iv
				}
				dbias[g] += sb
				dscale[g] += ss
			}
		}
		cnt := float64(n * per)
		for s := 0; s < n; s++ {
			for g := 0; g < groups; g++ {
				base := (s*groups + g) * per
				m, iv, sc := mean[g], inv[g], scale[g]
				for j, d := range dy[base : base+per] {
					if training {
						xh := (x[base+j] - m) * iv
						dx[base+j] = sc * iv * (d - dbias[g]/cnt - xh*dscale[g]/cnt)
					} else {
						dx[base+j] = d * sc * iv
					}
				}
			}
		}
		if !training {
			for g := range dmean {
				dmean[g] = -dbias[g] * scale[g] * inv[g]
				// dvar = Σ dy·scale·(x-mean)·(-1/2)(var+eps)^(-3/2)
				dvar[g] = -0.5 * scale[g] * dscale[g] * inv[g] * inv[g]
			}
		}
		outs := make([]*tensor.Tensor, 5)
		vals := [][]float64{dx, dscale, dbias, dmean, dvar}
		like := []*tensor.Tensor{X, in[2], in[2], in[3], in[4]}
		for i, v := range vals {
			if !want[i] {
				continue
			}
			if outs[i], err = fromFloat64s(v, like[i].DType(), like[i].Shape()...); err != nil {
				return nil, err
			}
		}
		return outs, nil
	}), nil
}

// ---- LayerNormGrad ----

// buildLayerNormGrad: inputs dY, X, Scale, B (optional, for its shape);
// outputs dX, dScale, dB (dScale and dB summed down to the shapes of Scale
// and B, which broadcast to the normalized shape); LayerNormalization's
// attributes axis and epsilon.
func buildLayerNormGrad(b *Builder) (Kernel, error) {
	axis := b.Int("axis", -1)
	eps := float64(b.Float("epsilon", 1e-5))
	if err := b.Err(); err != nil {
		return nil, err
	}
	want := [3]bool{b.Out(0), b.Out(1), b.Out(2)}
	return KernelFunc(func(rc *RunContext, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
		if err := Need(in, 3); err != nil {
			return nil, err
		}
		dY, X, S, B := in[0], in[1], in[2], Opt(in, 3)
		xs := X.Shape()
		if !tensor.ShapeEqual(dY.Shape(), xs) {
			return nil, fmt.Errorf("dY has shape %v, X has %v", dY.Shape(), xs)
		}
		ax, err := NormAxis(axis, len(xs))
		if err != nil {
			return nil, err
		}
		x, err := float64s(X, "LayerNormGrad X")
		if err != nil {
			return nil, err
		}
		dy, err := float64s(dY, "LayerNormGrad dY")
		if err != nil {
			return nil, err
		}
		norm := xs[ax:]
		rows, size := prod(xs[:ax]), prod(norm)
		scale, err := paramTo(S, norm, "Scale")
		if err != nil {
			return nil, err
		}
		dx := make([]float64, len(x))
		dscale := make([]float64, size)
		dbias := make([]float64, size)
		if size > 0 {
			for r := 0; r < rows; r++ {
				src, g := x[r*size:(r+1)*size], dy[r*size:(r+1)*size]
				var s float64
				for _, v := range src {
					s += v
				}
				m := s / float64(size)
				var ss float64
				for _, v := range src {
					ss += (v - m) * (v - m)
				}
				inv := 1 / math.Sqrt(ss/float64(size)+eps)
				// dx = inv·(gs - mean(gs) - x̂·mean(gs·x̂)), gs = dy·scale.
				var mg, mgx float64
				for j, v := range src {
					xh := (v - m) * inv
					gs := g[j] * scale[j]
					mg += gs
					mgx += gs * xh
					dscale[j] += g[j] * xh
					dbias[j] += g[j]
				}
				mg /= float64(size)
				mgx /= float64(size)
				for j, v := range src {
					xh := (v - m) * inv
					dx[r*size+j] = inv * (g[j]*scale[j] - mg - xh*mgx)
				}
			}
		}
		outs := make([]*tensor.Tensor, 3)
		if want[0] {
			if outs[0], err = fromFloat64s(dx, X.DType(), xs...); err != nil {
				return nil, err
			}
		}
		for i, p := range []*tensor.Tensor{S, B} {
			if !want[i+1] || p == nil {
				continue
			}
			v := [][]float64{dscale, dbias}[i]
			if outs[i+1], err = fromFloat64s(sumToShape64(v, norm, p.Shape()), p.DType(), p.Shape()...); err != nil {
				return nil, err
			}
		}
		return outs, nil
	}), nil
}

// sumToShape64 sums v, of shape from, down to shape to, which broadcasts
// to from (numpy rules).
func sumToShape64(v []float64, from, to []int) []float64 {
	out := make([]float64, prod(to))
	if len(out) == len(v) {
		copy(out, v)
		return out
	}
	st := tensor.BroadcastStrides(to, from)
	idx := make([]int, len(from))
	off := 0
	for _, e := range v {
		out[off] += e
		for d := len(from) - 1; d >= 0; d-- {
			idx[d]++
			off += st[d]
			if idx[d] < from[d] {
				break
			}
			off -= st[d] * idx[d]
			idx[d] = 0
		}
	}
	return out
}

// ---- DropoutGrad ----

// buildDropoutGrad: inputs dY, mask (optional), ratio (optional),
// training_mode (optional); output dX. Outside training mode (or with a
// zero ratio) dX is dY. In training mode dX = dY·mask/(1-ratio); without a
// mask input the mask is drawn again from the seed attribute, as Dropout
// drew it.
func buildDropoutGrad(b *Builder) (Kernel, error) {
	seeded := b.Has("seed")
	seed := b.Int("seed", 0)
	if err := b.Err(); err != nil {
		return nil, err
	}
	k := func(rc *RunContext, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
		if err := Need(in, 1); err != nil {
			return nil, err
		}
		dY := in[0]
		if err := checkDType("DropoutGrad", dY, floatTypes...); err != nil {
			return nil, err
		}
		ratio, training := 0.5, false
		if r := Opt(in, 2); r != nil {
			if r.Len() != 1 || !r.DType().IsFloat() {
				return nil, fmt.Errorf("ratio must be a float scalar, got %v", r)
			}
			ratio = r.Float64s()[0]
		}
		if t := Opt(in, 3); t != nil {
			tv, ok := t.Data().([]bool)
			if !ok || len(tv) != 1 {
				return nil, fmt.Errorf("training_mode must be a bool scalar, got %v", t)
			}
			training = tv[0]
		}
		if !training || ratio == 0 {
			return rc.Results(dY.Clone()), nil
		}
		if !(ratio >= 0 && ratio < 1) {
			return nil, fmt.Errorf("ratio must be in [0, 1), got %v", ratio)
		}
		keep := make([]bool, dY.Len())
		switch mask := Opt(in, 1); {
		case mask != nil:
			if !tensor.ShapeEqual(mask.Shape(), dY.Shape()) {
				return nil, fmt.Errorf("mask has shape %v, dY has %v", mask.Shape(), dY.Shape())
			}
			if mv, ok := mask.Data().([]bool); ok {
				copy(keep, mv)
			} else if f := mask.Float64s(); f != nil {
				for i, v := range f {
					keep[i] = v != 0
				}
			} else {
				return nil, fmt.Errorf("mask must be bool, got %v", mask.DType())
			}
		case seeded:
			mt := newMT19937(uint32(seed))
			for i := range keep {
				keep[i] = mt.float64() >= ratio
			}
		default:
			return nil, fmt.Errorf("the gradient of Dropout in training mode needs its mask output (or a seed attribute)")
		}
		dx := tensor.MustNew(dY.DType(), dY.Shape()...)
		switch dY.DType() {
		case tensor.Float32:
			dropoutApply(dY.Float32s(), dx.Float32s(), keep, ratio)
		case tensor.Float64:
			dropoutApply(tensor.Data[float64](dY), tensor.Data[float64](dx), keep, ratio)
		default:
			return nil, ErrDType("DropoutGrad", dY.DType())
		}
		return rc.Results(dx), nil
	}
	return halfWrap(k), nil
}
