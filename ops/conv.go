package ops

import (
	"fmt"
	"math"
	"slices"
	"strings"

	"github.com/onyxrt/onyx/ops/asm"
	"github.com/onyxrt/onyx/tensor"
)

// This file holds the convolutions: Conv, ConvTranspose and ConvInteger.
// All three lower each (image, group) to one GEMM over an im2col buffer;
// a 1×1 stride-1 unpadded convolution multiplies the input directly. The
// float32 Conv has its own path (conv_fast.go): a direct depthwise
// kernel, im2col packed straight into the GEMM's panels, and the bias and
// activation fused into the GEMM's output.

func registerConv(r *Registry) {
	for _, v := range []int{1, 11} {
		r.Register(&Def{Name: "Conv", Since: v, Build: buildConv})
		r.Register(&Def{Name: "ConvTranspose", Since: v, Build: buildConvTranspose, Infer: inferConvTranspose})
	}
	r.Register(&Def{Name: "ConvInteger", Since: 10, Build: buildConvInteger, Infer: inferConvInteger})
	r.Register(&Def{Domain: FusedDomain, Name: "FusedConv", Since: 1, Build: buildFusedConv, Infer: inferFusedConv, Grad: NotDifferentiable})
}

// FusedDomain is the domain of the operators that graph passes create by
// fusing ONNX operators (FusedConv, FusedGemm). Only compiled graphs hold
// them; exported models never do.
const FusedDomain = "ai.onyx"

// FusedConv (domain FusedDomain) is what the graph passes make of a Conv
// and what follows it (graph/optimize.go, graph/fuse_conv.go):
//
//	Y = pool(act(Conv(X, W, B) + Z))
//
// It has Conv's inputs and attributes, plus an optional fourth input Z
// (the other operand of an Add, usually of the Conv's output shape; it
// broadcasts as Add does), "activation" (Relu, LeakyRelu with "alpha",
// Clip with "min" and "max", or absent for none), and "pool" ("MaxPool",
// or absent) with MaxPool's attributes prefixed by "pool_"
// (pool_kernel_shape, pool_strides, pool_pads, pool_auto_pad,
// pool_ceil_mode, pool_dilations). For float32 the bias, Z and the
// activation are applied to each output tile while it is in cache, and
// the pool to each image's output while it is in cache; other types run
// the operators one after the other. The sum is (Conv + B) + Z, as the
// unfused nodes compute it, so that the fused node gives the same values.
func buildFusedConv(b *Builder) (Kernel, error) {
	act, err := readActivation(b)
	if err != nil {
		return nil, err
	}
	f := &convFusion{act: act, sum: b.In(3)}
	switch kind := b.String("pool", ""); kind {
	case "":
	case "MaxPool":
		pb := poolBuilder(b)
		if f.pool, err = readPoolAttrs(pb, poolMax); err != nil {
			return nil, fmt.Errorf("pool: %w", err)
		}
		if f.poolK, err = buildMaxPool(pb); err != nil {
			return nil, fmt.Errorf("pool: %w", err)
		}
	default:
		return nil, fmt.Errorf("unsupported fused pool %q", kind)
	}
	if err := b.Err(); err != nil {
		return nil, err
	}
	return buildConvWith(b, f)
}

// convFusion is what a FusedConv adds to a Conv.
type convFusion struct {
	act   *activation // nil: none
	sum   bool        // input 3 is a summand Z
	pool  *poolAttrs  // a max pool of the result, or nil
	poolK Kernel      // that MaxPool, for the paths that run it apart
}

// poolPrefix marks FusedConv's MaxPool attributes.
const poolPrefix = "pool_"

// poolBuilder returns a Builder for the MaxPool that a FusedConv's
// "pool_" attributes describe.
func poolBuilder(b *Builder) *Builder {
	pb := &Builder{
		NodeName: b.NodeName, OpType: "MaxPool", Opset: 12,
		NumInputs: 1, NumOutputs: 1, InputPresent: []bool{true}, OutputPresent: []bool{true},
		Attrs: map[string]*Attr{},
	}
	for name, a := range b.Attrs {
		if strings.HasPrefix(name, poolPrefix) {
			c := *a
			c.Name = strings.TrimPrefix(name, poolPrefix)
			pb.Attrs[c.Name] = &c
		}
	}
	return pb
}

// inferFusedConv is Conv's shape rule, then Add's broadcast with Z, then
// MaxPool's rule.
func inferFusedConv(b *Builder, in []Meta) ([]Meta, error) {
	conv := in
	if len(conv) > 3 {
		conv = conv[:3]
	}
	out, err := inferConvPool(true)(b, conv)
	if err != nil || len(out) == 0 {
		return out, err
	}
	if len(in) > 3 && b.In(3) && out[0].Shape != nil && in[3].Shape != nil {
		s, err := broadcastSym(out[0].Shape, in[3].Shape)
		if err != nil {
			return nil, err
		}
		out[0].Shape = s
	}
	if b.String("pool", "") != "" {
		return inferConvPool(false)(poolBuilder(b), out[:1])
	}
	return out[:1], nil
}

// activation is an in-place epilogue for float32 and float64 outputs;
// a32 is the same for the float32 Conv path, which fuses it with the bias.
type activation struct {
	f32 func([]float32)
	f64 func([]float64)
	a32 asm.ConvAct
}

func readActivation(b *Builder) (*activation, error) {
	name := b.String("activation", "")
	alpha := b.Float("alpha", 0.01)
	lo, hi := b.Float("min", float32(math.Inf(-1))), b.Float("max", float32(math.Inf(1)))
	if err := b.Err(); err != nil {
		return nil, err
	}
	switch name {
	case "":
		return nil, nil
	case "Relu":
		a := asm.ConvAct{Lo: 0, Hi: float32(math.Inf(1))}
		return &activation{f32: act32Slice(a), f64: clampSlice[float64](0, math.Inf(1)), a32: a}, nil
	case "Clip":
		a := asm.ConvAct{Lo: lo, Hi: hi}
		return &activation{f32: act32Slice(a), f64: clampSlice(float64(lo), float64(hi)), a32: a}, nil
	case "LeakyRelu":
		a := asm.ConvAct{Leaky: true, Alpha: alpha}
		return &activation{f32: act32Slice(a), f64: leakySlice(float64(alpha)), a32: a}, nil
	}
	return nil, fmt.Errorf("unsupported fused activation %q", name)
}

// act32Slice applies a in place with the vector kernel.
func act32Slice(a asm.ConvAct) func([]float32) {
	return func(s []float32) { asm.BiasAct(1, len(s), s, len(s), nil, &a, s, len(s)) }
}

func clampSlice[T Float](lo, hi T) func([]T) {
	return func(s []T) {
		for i, v := range s {
			if v < lo {
				s[i] = lo
			} else if v > hi {
				s[i] = hi
			}
		}
	}
}

func leakySlice[T Float](alpha T) func([]T) {
	return func(s []T) {
		for i, v := range s {
			if v < 0 {
				s[i] = v * alpha
			}
		}
	}
}

// convAttrs are Conv's and ConvInteger's attributes.
type convAttrs struct {
	spatialAttrs
	group int
}

func readConvAttrs(b *Builder) (convAttrs, error) {
	a := convAttrs{spatialAttrs: readSpatial(b, false), group: int(b.Int("group", 1))}
	if err := b.Err(); err != nil {
		return a, err
	}
	if a.group <= 0 {
		return a, fmt.Errorf("group must be positive, got %d", a.group)
	}
	return a, nil
}

// convPlan is a convolution resolved for one input shape.
type convPlan struct {
	n, c, m, group int
	g              *geom
	inSize         int // product of the input spatial dims
	outSize        int // product of the output spatial dims
	kSize          int // product of the kernel dims
	direct         bool
	ySpatial       []int // spatial dims of the output
}

// plan checks X (N×C×D...) against W (M×C/group×k...) and resolves the
// output geometry.
func (a *convAttrs) plan(xs, ws []int) (*convPlan, error) {
	n, c, sp, err := spatial(xs, 3, "X")
	if err != nil {
		return nil, err
	}
	if len(ws) != len(xs) {
		return nil, fmt.Errorf("W has shape %v, want rank %d like X %v", ws, len(xs), xs)
	}
	m, kdims := ws[0], ws[2:]
	if a.kernel != nil && !tensor.ShapeEqual(a.kernel, kdims) {
		return nil, fmt.Errorf("kernel_shape %v does not match W shape %v", a.kernel, ws)
	}
	if c%a.group != 0 || m%a.group != 0 || ws[1]*a.group != c {
		return nil, fmt.Errorf("channels do not fit group %d: X has %d, W has shape %v", a.group, c, ws)
	}
	for _, k := range kdims {
		if k <= 0 {
			return nil, fmt.Errorf("W shape %v has an empty kernel", ws)
		}
	}
	g, err := a.forward(sp, kdims, false)
	if err != nil {
		return nil, err
	}
	p := &convPlan{n: n, c: c, m: m, group: a.group, g: g, inSize: prod(sp), outSize: prod(g.out), kSize: prod(kdims), ySpatial: g.out}
	p.direct = p.kSize == 1
	for i := range sp {
		if g.s[i] != 1 || g.pb[i] != 0 || g.pe[i] != 0 {
			p.direct = false
		}
	}
	return p, nil
}

func (p *convPlan) outShape() []int {
	return append([]int{p.n, p.m}, p.ySpatial...)
}

// convRun computes y = conv(x, w) + bias (bias may be nil) on up to
// threads goroutines. The work is split into items of (image, group, band
// of output rows); each goroutine has its own im2col buffer.
func convRun[T float32 | float64 | int32](wk *Workers, threads int, p *convPlan, x, w, bias, y []T, act func([]T)) {
	cg, mg := p.c/p.group, p.m/p.group
	kdim := cg * p.kSize
	// Waking a second goroutine costs microseconds: give each at least
	// about two million multiply-adds.
	macs := p.n * p.m * kdim * p.outSize
	threads = max(1, min(threads, macs>>21))
	// The im2col buffer covers a band of output rows (2-D) at a time so
	// that large images do not need a huge buffer; N-D takes all at once.
	g2 := p.g
	if len(g2.in) == 1 {
		g2 = g2.as2D()
	}
	band, rowLen, rows := 1, p.outSize, 1
	if len(g2.in) == 2 && p.outSize > 0 && !p.direct {
		rowLen, rows = g2.out[1], g2.out[0]
		band = max(1, min(rows, im2colBudget/max(1, kdim*rowLen)))
		if units := p.n * p.group; threads > 1 && units < threads {
			// Few images and groups: split the rows so every thread works.
			band = max(1, min(band, (rows+threads-1)/threads))
		}
	} else if len(g2.in) != 2 || p.direct {
		g2 = nil
	}
	bands := (rows + band - 1) / band
	items := p.n * p.group * bands
	if p.outSize == 0 {
		return
	}
	parallelFor(wk, threads, items, 1, func(lo, hi int) {
		var col []T
		if !p.direct {
			buf := getScratch[T](kdim * band * rowLen)
			defer putScratch(buf)
			col = *buf
		}
		for it := lo; it < hi; it++ {
			bi := it % bands
			gi := (it / bands) % p.group
			n := it / (bands * p.group)
			xg := x[(n*p.c+gi*cg)*p.inSize : (n*p.c+(gi+1)*cg)*p.inSize]
			yg := y[(n*p.m+gi*mg)*p.outSize : (n*p.m+(gi+1)*mg)*p.outSize]
			wg := w[gi*mg*kdim:]
			if g2 == nil { // one band: the whole output plane
				var beta T
				if bias != nil {
					fillBias(yg, bias[gi*mg:(gi+1)*mg], p.outSize, 0, p.outSize)
					beta = 1
				}
				if p.direct {
					gemmT(false, false, mg, p.outSize, kdim, 1, wg, kdim, xg, p.outSize, beta, yg, p.outSize)
				} else {
					im2col(xg, cg, p.g, col)
					gemmT(false, false, mg, p.outSize, kdim, 1, wg, kdim, col, p.outSize, beta, yg, p.outSize)
				}
				if act != nil {
					act(yg)
				}
				continue
			}
			r0 := bi * band
			r1 := min(r0+band, rows)
			cols := (r1 - r0) * rowLen
			var beta T
			if bias != nil {
				fillBias(yg, bias[gi*mg:(gi+1)*mg], p.outSize, r0*rowLen, r1*rowLen)
				beta = 1
			}
			im2col2D(xg, cg, g2, r0, r1, col[:kdim*cols])
			gemmT(false, false, mg, cols, kdim, 1, wg, kdim, col, cols, beta, yg[r0*rowLen:], p.outSize)
			if act != nil {
				for i := 0; i < mg; i++ {
					act(yg[i*p.outSize+r0*rowLen : i*p.outSize+r1*rowLen])
				}
			}
		}
	})
}

// fillBias sets elements [from, to) of every output channel's plane
// (planes of size plane) to that channel's bias.
func fillBias[T float32 | float64 | int32](y, bias []T, plane, from, to int) {
	for i, bv := range bias {
		row := y[i*plane+from : i*plane+to]
		for j := range row {
			row[j] = bv
		}
	}
}

// im2colBudget is the most elements an im2col band holds (16 MiB of
// float32) unless a single output row needs more. Tests lower it.
var im2colBudget = 4 << 20

// ---- Conv ----

func buildConv(b *Builder) (Kernel, error) { return buildConvWith(b, nil) }

// convShape is a convolution resolved for one input and filter shape:
// the plans every run of that shape uses (a kernel keeps the last one).
type convShape struct {
	p        *convPlan
	outShape []int         // the convolution's output shape
	q        *conv32Plan   // the float32 path, with the fused pool
	pool     *poolPlan     // the fused pool's plan, or nil
	poolOut  []int         // its output shape
	poolErr  error         // why the pool does not fit the output
	wino     *convWinoPlan // the Winograd path (conv_wino.go), or nil
}

// convShapes resolves input shapes into convShapes, keeping those of the
// last few shapes (shapeCache).
type convShapes struct {
	a     *convAttrs
	pool  *poolAttrs
	plans shapeCache[*convShape]
}

func (c *convShapes) get(xs, ws []int) (*convShape, error) {
	key := shapeKey{xs, ws}
	if s, ok := c.plans.get(key); ok {
		return s, nil
	}
	p, err := c.a.plan(xs, ws)
	if err != nil {
		return nil, err
	}
	s := &convShape{p: p, outShape: p.outShape()}
	if c.pool != nil {
		s.pool, s.poolErr = c.pool.plan(s.outShape)
		if s.poolErr == nil {
			s.poolOut = c.pool.outShape(s.outShape, s.pool)
		}
	}
	s.q = newConv32Plan(p, s.pool)
	s.wino = newConvWinoPlan(p)
	if s.wino != nil && s.wino.tiles == 1 && s.q.rows {
		// One tile: each of the 36 products of the transform is a
		// matrix-vector one, which streams the transformed filter
		// (four times the filter) at the cache's pace; the
		// position-row path reads the filter once, in a product of
		// whole tiles (the MNIST CNN's 64-channel 3×3 output: 6.4 →
		// 3.5 µs).
		s.wino = nil
	}
	c.plans.put(key, s)
	return s, nil
}

// buildConvWith builds Conv, or FusedConv with what f adds (f may be
// nil).
func buildConvWith(b *Builder, f *convFusion) (Kernel, error) {
	if f == nil {
		f = &convFusion{}
	}
	a, err := readConvAttrs(b)
	if err != nil {
		return nil, err
	}
	shapes := &convShapes{a: &a, pool: f.pool}
	// A constant filter is prepared once, here, for the paths that take
	// one (the Winograd and position-row ones when a shape first takes
	// them).
	constW := b.ConstInput(1)
	posW := newConvPosWeights(constW, a.group)   // for the position-major path (conv_pos.go)
	rowsW := newConvRowsWeights(constW, a.group) // for the position-row path (conv_rows.go)
	winoW := newConvWinoWeights(constW, &a)      // for the Winograd path (conv_wino.go)
	if winoW != nil {
		// The Winograd path's transform replaces the packed filter (the
		// rare shapes it declines pack the filter per run).
		posW = nil
	}
	var u32 []float32
	var u64 []float64
	if constW != nil && constW.Rank() == 4 && constW.Shape()[2] == 3 && constW.Shape()[3] == 3 && a.group > 0 && constW.Shape()[0]%a.group == 0 {
		ws := constW.Shape()
		switch wd := constW.Data().(type) {
		case []float32:
			// Only the pure-Go GEMM path uses Winograd for float32 (see
			// the kernel); the transform is 16/9 the size of the filter.
			if asm.SgemmImplementation() == "generic" {
				u32 = winogradFilter(wd, ws[0], ws[1], a.group)
			}
		case []float64:
			u64 = winogradFilter(wd, ws[0], ws[1], a.group)
		}
	}
	// conv computes Conv(X, W, B) with the activation act (or none).
	conv := func(act *activation) KernelFunc {
		var act32 func([]float32)
		var act64 func([]float64)
		a32 := asm.ConvActNone()
		if act != nil {
			act32, act64, a32 = act.f32, act.f64, act.a32
		}
		k := func(rc *RunContext, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
			if err := Need(in, 2); err != nil {
				return nil, err
			}
			X, W, B := in[0], in[1], Opt(in, 2)
			if err := sameDType("Conv", X, W, B); err != nil {
				return nil, err
			}
			cs, err := shapes.get(X.Shape(), W.Shape())
			if err != nil {
				return nil, err
			}
			p := cs.p
			if B != nil && (B.Rank() != 1 || B.Len() != p.m) {
				return nil, fmt.Errorf("bias B has shape %v, want [%d]", B.Shape(), p.m)
			}
			// Every path below writes all of y.
			y, err := rc.NewUninit(X.DType(), cs.outShape...)
			if err != nil {
				return nil, err
			}
			wino := p.winograd()
			switch X.DType() {
			case tensor.Float32:
				// With an assembly GEMM, im2col + GEMM beats the Winograd
				// transforms at the sizes measured (the MNIST CNN).
				if wino && asm.SgemmImplementation() == "generic" {
					u := u32
					if W != constW {
						u = nil
					}
					winogradRun(p, X.Float32s(), W.Float32s(), u, optData[float32](B), y.Float32s())
					if act32 != nil {
						act32(y.Float32s())
					}
				} else if !winoW.runConst(rc, cs, W, X.Float32s(), optData[float32](B), nil, y.Float32s(), &a32, false) {
					q := cs.q
					if q.pool != nil {
						q = q.noPool
					}
					x, w, b := X.Float32s(), W.Float32s(), optData[float32](B)
					if !q.runPos(rc.workers(), rc.threads(), x, w, posW.forW(W), b, nil, y.Float32s(), &a32) &&
						!rowsW.run(rc, q, W, x, b, nil, y.Float32s(), &a32) {
						q.run(rc.workers(), rc.threads(), x, w, b, nil, y.Float32s(), &a32)
					}
				}
			case tensor.Float64:
				if wino {
					u := u64
					if W != constW {
						u = nil
					}
					winogradRun(p, tensor.Data[float64](X), tensor.Data[float64](W), u, optData[float64](B), tensor.Data[float64](y))
					if act64 != nil {
						act64(tensor.Data[float64](y))
					}
				} else {
					convRun(rc.workers(), rc.threads(), p, tensor.Data[float64](X), tensor.Data[float64](W), optData[float64](B), tensor.Data[float64](y), act64)
				}
			default:
				return nil, ErrDType("Conv", X.DType())
			}
			return rc.Results(y), nil
		}
		return halfWrap(k)
	}
	plain := conv(f.act)
	if !f.sum && f.pool == nil {
		return plain, nil
	}
	var bare KernelFunc // the convolution alone, when Z comes before the activation
	if f.sum {
		bare = conv(nil)
	}
	a32 := asm.ConvActNone()
	if f.act != nil {
		a32 = f.act.a32
	}
	// apart runs the fused operators one after the other: the path for
	// other types than float32, for Z that broadcasts, and for the
	// pure-Go Winograd path.
	apart := func(rc *RunContext, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
		var Z *tensor.Tensor
		if f.sum {
			Z = Opt(in, 3)
		}
		in = in[:min(len(in), 3)]
		k := plain
		if Z != nil {
			k = bare
		}
		out, err := k(rc, in)
		if err != nil {
			return nil, err
		}
		y := out[0]
		if Z != nil {
			conv := y
			if y, err = opAdd.apply(rc, conv, Z); err != nil {
				return nil, err
			}
			rc.Free(conv)
			if f.act != nil {
				if y, err = applyActivation(f.act, y); err != nil {
					return nil, err
				}
			}
		}
		if f.poolK != nil {
			out, err := f.poolK.Run(rc, []*tensor.Tensor{y})
			if err != nil {
				return nil, err
			}
			rc.Free(y)
			y = out[0]
		}
		return rc.Results(y), nil
	}
	return KernelFunc(func(rc *RunContext, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
		if err := Need(in, 2); err != nil {
			return nil, err
		}
		X, W, B := in[0], in[1], Opt(in, 2)
		var Z *tensor.Tensor
		if f.sum {
			Z = Opt(in, 3)
		}
		if X.DType() != tensor.Float32 || W.DType() != tensor.Float32 || (B != nil && B.DType() != tensor.Float32) ||
			(Z != nil && Z.DType() != tensor.Float32) {
			return apart(rc, in)
		}
		cs, err := shapes.get(X.Shape(), W.Shape())
		if err != nil {
			return nil, err
		}
		if (Z != nil && !slices.Equal(Z.Shape(), cs.outShape)) || (cs.p.winograd() && asm.SgemmImplementation() == "generic") {
			return apart(rc, in)
		}
		if B != nil && (B.Rank() != 1 || B.Len() != cs.p.m) {
			return nil, fmt.Errorf("bias B has shape %v, want [%d]", B.Shape(), cs.p.m)
		}
		shape := cs.outShape
		if f.pool != nil {
			if cs.poolErr != nil {
				return nil, fmt.Errorf("pool: %w", cs.poolErr)
			}
			shape = cs.poolOut
		}
		y, err := rc.NewUninit(tensor.Float32, shape...)
		if err != nil {
			return nil, err
		}
		x, w, b, z := X.Float32s(), W.Float32s(), optData[float32](B), optData[float32](Z)
		if winoW.runConst(rc, cs, W, x, b, z, y.Float32s(), &a32, f.pool != nil) {
			return rc.Results(y), nil
		}
		if cs.q.runPos(rc.workers(), rc.threads(), x, w, posW.forW(W), b, z, y.Float32s(), &a32) {
			return rc.Results(y), nil
		}
		if rowsW.run(rc, cs.q, W, x, b, z, y.Float32s(), &a32) {
			return rc.Results(y), nil
		}
		if q := cs.q; q.pool != nil && !q.poolUnit {
			// The whole output, from the run's allocator, then the pool.
			t, err := rc.NewUninit(tensor.Float32, cs.outShape...)
			if err != nil {
				return nil, err
			}
			q.runThenPool(rc.workers(), rc.threads(), x, w, b, z, t.Float32s(), y.Float32s(), &a32)
			rc.Free(t)
		} else {
			q.run(rc.workers(), rc.threads(), x, w, b, z, y.Float32s(), &a32)
		}
		return rc.Results(y), nil
	}), nil
}

// applyActivation applies act to y (float32, float64, or a half type
// through float32), in place when it can.
func applyActivation(act *activation, y *tensor.Tensor) (*tensor.Tensor, error) {
	switch y.DType() {
	case tensor.Float32:
		act.f32(y.Float32s())
		return y, nil
	case tensor.Float64:
		act.f64(tensor.Data[float64](y))
		return y, nil
	}
	u, dt, err := Upcast(y)
	if err != nil {
		return nil, err
	}
	if u.DType() != tensor.Float32 {
		return nil, ErrDType("FusedConv", y.DType())
	}
	act.f32(u.Float32s())
	return Downcast(u, dt)
}

// optData is tensor.Data that accepts a nil tensor.
func optData[T tensor.Elem](t *tensor.Tensor) []T {
	if t == nil {
		return nil
	}
	return tensor.Data[T](t)
}

// ---- ConvInteger ----

func buildConvInteger(b *Builder) (Kernel, error) {
	a, err := readConvAttrs(b)
	if err != nil {
		return nil, err
	}
	return KernelFunc(func(rc *RunContext, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
		if err := Need(in, 2); err != nil {
			return nil, err
		}
		X, W := in[0], in[1]
		p, err := a.plan(X.Shape(), W.Shape())
		if err != nil {
			return nil, err
		}
		x, err := int8s(X, "ConvInteger x")
		if err != nil {
			return nil, err
		}
		w, err := int8s(W, "ConvInteger w")
		if err != nil {
			return nil, err
		}
		if xz := Opt(in, 2); xz != nil {
			if xz.Len() != 1 {
				return nil, fmt.Errorf("x_zero_point must be a scalar, got shape %v", xz.Shape())
			}
			if err := subZeroPoint(x, X.Shape(), xz, X.DType(), 0, "x"); err != nil {
				return nil, err
			}
		}
		if wz := Opt(in, 3); wz != nil {
			if wz.Len() != 1 && wz.Len() != p.m {
				return nil, fmt.Errorf("w_zero_point has shape %v, want a scalar or [%d]", wz.Shape(), p.m)
			}
			if wz.DType() != W.DType() {
				return nil, fmt.Errorf("w zero point has type %v, w has %v", wz.DType(), W.DType())
			}
			zp, err := int8s(wz, "w_zero_point")
			if err != nil {
				return nil, err
			}
			per := len(w) / max(p.m, 1)
			for i := range w {
				w[i] -= zp[(i/per)%len(zp)]
			}
		}
		y, err := tensor.New(tensor.Int32, p.outShape()...)
		if err != nil {
			return nil, err
		}
		convRun(rc.workers(), rc.threads(), p, x, w, nil, tensor.Data[int32](y), nil)
		return rc.Results(y), nil
	}), nil
}

// ---- ConvTranspose ----

type convTransposeAttrs struct {
	convAttrs
	outputPadding []int
	outputShape   []int
}

func buildConvTranspose(b *Builder) (Kernel, error) {
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
	k := func(rc *RunContext, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
		if err := Need(in, 2); err != nil {
			return nil, err
		}
		X, W, B := in[0], in[1], Opt(in, 2)
		if err := sameDType("ConvTranspose", X, W, B); err != nil {
			return nil, err
		}
		p, err := a.plan(X.Shape(), W.Shape())
		if err != nil {
			return nil, err
		}
		if B != nil && (B.Rank() != 1 || B.Len() != p.m) {
			return nil, fmt.Errorf("bias B has shape %v, want [%d]", B.Shape(), p.m)
		}
		y, err := tensor.New(X.DType(), p.outShape()...)
		if err != nil {
			return nil, err
		}
		switch X.DType() {
		case tensor.Float32:
			convTransposeRun(p, X.Float32s(), W.Float32s(), optData[float32](B), y.Float32s())
		case tensor.Float64:
			convTransposeRun(p, tensor.Data[float64](X), tensor.Data[float64](W), optData[float64](B), tensor.Data[float64](y))
		default:
			return nil, ErrDType("ConvTranspose", X.DType())
		}
		return rc.Results(y), nil
	}
	return halfWrap(k), nil
}

// plan resolves a transposed convolution of X (N×C×D...) with W
// (C×M/group×k...). In the returned plan, c and inSize describe X, m and
// outSize describe Y, and the geometry is that of the forward convolution
// from Y to X: g.in holds Y's spatial dims and g.out X's, so col2im is the
// adjoint of im2col.
func (a *convTransposeAttrs) plan(xs, ws []int) (*convPlan, error) {
	n, c, sp, err := spatial(xs, 3, "X")
	if err != nil {
		return nil, err
	}
	if len(ws) != len(xs) {
		return nil, fmt.Errorf("W has shape %v, want rank %d like X %v", ws, len(xs), xs)
	}
	kdims := ws[2:]
	if a.kernel != nil && !tensor.ShapeEqual(a.kernel, kdims) {
		return nil, fmt.Errorf("kernel_shape %v does not match W shape %v", a.kernel, ws)
	}
	if ws[0] != c || c%a.group != 0 {
		return nil, fmt.Errorf("channels do not fit group %d: X has %d, W has shape %v", a.group, c, ws)
	}
	for _, k := range kdims {
		if k <= 0 {
			return nil, fmt.Errorf("W shape %v has an empty kernel", ws)
		}
	}
	m := ws[1] * a.group
	nd := len(sp)
	g, err := a.resolve(sp, kdims)
	if err != nil {
		return nil, err
	}
	op := make([]int, nd)
	if a.outputPadding != nil {
		if len(a.outputPadding) != nd {
			return nil, fmt.Errorf("output_padding %v does not match %d spatial axes", a.outputPadding, nd)
		}
		copy(op, a.outputPadding)
	}
	var outShape []int
	switch {
	case a.outputShape != nil:
		outShape = a.outputShape
		if len(outShape) == nd+2 {
			outShape = outShape[2:]
		}
		if len(outShape) != nd {
			return nil, fmt.Errorf("output_shape %v does not match %d spatial axes", a.outputShape, nd)
		}
	case a.autoPad == "SAME_UPPER" || a.autoPad == "SAME_LOWER":
		outShape = make([]int, nd)
		for i := range nd {
			outShape[i] = sp[i] * g.s[i]
		}
	}
	yd := make([]int, nd)
	for i := range nd {
		ek := (kdims[i]-1)*g.d[i] + 1
		full := g.s[i]*(sp[i]-1) + op[i] + ek
		if outShape != nil {
			total := full - outShape[i]
			half := floorDiv(total, 2)
			if a.autoPad == "SAME_UPPER" {
				g.pb[i], g.pe[i] = half, total-half
			} else {
				g.pb[i], g.pe[i] = total-half, half
			}
			yd[i] = outShape[i]
		} else {
			if a.autoPad == "VALID" {
				g.pb[i], g.pe[i] = 0, 0
			}
			yd[i] = full - g.pb[i] - g.pe[i]
		}
		if yd[i] < 0 {
			return nil, fmt.Errorf("output size %d on spatial axis %d is negative", yd[i], i)
		}
	}
	g.in, g.out = yd, append([]int{}, sp...)
	return &convPlan{n: n, c: c, m: m, group: a.group, g: g, inSize: prod(sp), outSize: prod(yd), kSize: prod(kdims), ySpatial: yd}, nil
}

func floorDiv(a, b int) int {
	q := a / b
	if (a%b != 0) && ((a < 0) != (b < 0)) {
		q--
	}
	return q
}

// convTransposeRun computes y = convTranspose(x, w) + bias.
func convTransposeRun[T float32 | float64](p *convPlan, x, w, bias, y []T) {
	cg, mg := p.c/p.group, p.m/p.group
	rows := mg * p.kSize
	buf := getScratch[T](rows * p.inSize)
	defer putScratch(buf)
	col := *buf
	for n := 0; n < p.n; n++ {
		for gi := 0; gi < p.group; gi++ {
			xg := x[(n*p.c+gi*cg)*p.inSize : (n*p.c+(gi+1)*cg)*p.inSize]
			yg := y[(n*p.m+gi*mg)*p.outSize : (n*p.m+(gi+1)*mg)*p.outSize]
			if bias != nil {
				for i := 0; i < mg; i++ {
					row := yg[i*p.outSize : (i+1)*p.outSize]
					bv := bias[gi*mg+i]
					for j := range row {
						row[j] = bv
					}
				}
			}
			if p.inSize == 0 || rows == 0 {
				continue
			}
			// col = W_g^T x X_g: W_g is cg×rows, X_g is cg×inSize.
			gemmT(true, false, rows, p.inSize, cg, 1, w[gi*cg*rows:], rows, xg, p.inSize, 0, col, p.inSize)
			col2im(col, mg, p.g, yg)
		}
	}
}

// ---- im2col / col2im ----

// im2col gathers the windows of x (c planes of spatial size g.in) into col
// (c*prod(g.k) rows of prod(g.out) columns), writing zeros for padding.
func im2col[T Number](x []T, c int, g *geom, col []T) {
	if len(g.in) == 2 {
		im2col2D(x, c, g, 0, g.out[0], col)
		return
	}
	if len(g.in) == 1 {
		im2col2D(x, c, g.as2D(), 0, 1, col)
		return
	}
	planeWalk(c, g, func(plane, row int, tab [][]int, odo func(func(o, off int))) {
		src := x[plane*prod(g.in):]
		dst := col[row*prod(g.out) : (row+1)*prod(g.out)]
		odo(func(o, off int) {
			if off < 0 {
				dst[o] = 0
			} else {
				dst[o] = src[off]
			}
		})
	})
}

// col2im is the adjoint of im2col: it adds each column entry into the
// plane position it was gathered from (padding entries are dropped).
func col2im[T Number](col []T, c int, g *geom, y []T) {
	if len(g.in) == 2 {
		col2im2D(col, c, g, y)
		return
	}
	if len(g.in) == 1 {
		col2im2D(col, c, g.as2D(), y)
		return
	}
	planeWalk(c, g, func(plane, row int, tab [][]int, odo func(func(o, off int))) {
		dst := y[plane*prod(g.in):]
		src := col[row*prod(g.out) : (row+1)*prod(g.out)]
		odo(func(o, off int) {
			if off >= 0 {
				dst[off] += src[o]
			}
		})
	})
}

// as2D views a 1-D geometry as 2-D with a unit leading axis.
func (g *geom) as2D() *geom {
	return &geom{
		in: []int{1, g.in[0]}, k: []int{1, g.k[0]}, out: []int{1, g.out[0]},
		s: []int{1, g.s[0]}, d: []int{1, g.d[0]}, pb: []int{0, g.pb[0]}, pe: []int{0, g.pe[0]},
	}
}

// planeWalk drives the N-D im2col/col2im: for every (plane, kernel tap)
// row it calls f with an odometer that visits every output position o
// with the plane offset of its input (-1 in padding).
func planeWalk(c int, g *geom, f func(plane, row int, tab [][]int, odo func(func(o, off int)))) {
	nd := len(g.in)
	inStr := tensor.Strides(g.in)
	tab := make([][]int, nd) // tab[i][t*out+o]: input offset along axis i, or -1
	for i := range nd {
		tab[i] = make([]int, g.k[i]*g.out[i])
		for t := 0; t < g.k[i]; t++ {
			for o := 0; o < g.out[i]; o++ {
				x := g.winIndex(i, o, t)
				if x >= 0 {
					x *= inStr[i]
				}
				tab[i][t*g.out[i]+o] = x
			}
		}
	}
	ksz, osz := prod(g.k), prod(g.out)
	kidx := make([]int, nd)
	oidx := make([]int, nd)
	row := 0
	for plane := 0; plane < c; plane++ {
		for kk := 0; kk < ksz; kk++ {
			rem := kk
			for i := nd - 1; i >= 0; i-- {
				kidx[i] = rem % g.k[i]
				rem /= g.k[i]
			}
			odo := func(visit func(o, off int)) {
				clear(oidx)
				for o := 0; o < osz; o++ {
					off := 0
					for i := 0; i < nd; i++ {
						v := tab[i][kidx[i]*g.out[i]+oidx[i]]
						if v < 0 {
							off = -1
							break
						}
						off += v
					}
					visit(o, off)
					for i := nd - 1; i >= 0; i-- {
						oidx[i]++
						if oidx[i] < g.out[i] {
							break
						}
						oidx[i] = 0
					}
				}
			}
			f(plane, row, tab, odo)
			row++
		}
	}
}

// validCols returns the range [lo, hi) of output columns whose input
// column ix0 + x*sw lies inside a row of width w (ix0 is the first tap's
// column for output column 0).
func validCols(ix0, ow, sw, w int) (lo, hi int) {
	if ix0 < 0 {
		lo = min(ow, (-ix0+sw-1)/sw)
	}
	if last := w - 1 - ix0; last >= 0 {
		hi = min(ow, last/sw+1)
	}
	return lo, max(hi, lo)
}

// im2col2D gathers output rows [r0, r1) only: col has (r1-r0)*ow columns.
func im2col2D[T Number](x []T, c int, g *geom, r0, r1 int, col []T) {
	h, w := g.in[0], g.in[1]
	kh, kw := g.k[0], g.k[1]
	oh, ow := r1-r0, g.out[1]
	sh, sw := g.s[0], g.s[1]
	dh, dw := g.d[0], g.d[1]
	ph, pw := g.pb[0], g.pb[1]
	row := 0
	for ci := 0; ci < c; ci++ {
		plane := x[ci*h*w : (ci+1)*h*w]
		for ki := 0; ki < kh; ki++ {
			for kj := 0; kj < kw; kj++ {
				dst := col[row*oh*ow : (row+1)*oh*ow]
				row++
				ix0 := kj*dw - pw
				// Output columns whose input column is inside the row.
				lo, hi := validCols(ix0, ow, sw, w)
				for y := 0; y < oh; y++ {
					d := dst[y*ow : (y+1)*ow]
					iy := (r0+y)*sh - ph + ki*dh
					if iy < 0 || iy >= h {
						clear(d)
						continue
					}
					src := plane[iy*w : (iy+1)*w]
					clear(d[:lo])
					if hi == lo {
						// no column of this tap lands inside the row
					} else if sw == 1 {
						copy(d[lo:hi], src[ix0+lo:ix0+hi])
					} else {
						for xx := lo; xx < hi; xx++ {
							d[xx] = src[ix0+xx*sw]
						}
					}
					clear(d[hi:])
				}
			}
		}
	}
}

func col2im2D[T Number](col []T, c int, g *geom, y []T) {
	h, w := g.in[0], g.in[1]
	kh, kw := g.k[0], g.k[1]
	oh, ow := g.out[0], g.out[1]
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
					iy := yy*sh - ph + ki*dh
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
