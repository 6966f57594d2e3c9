package ops

import (
	"fmt"
	"slices"
	"strings"

	"github.com/onyxrt/onyx/ops/asm"
	"github.com/onyxrt/onyx/tensor"
)

// FusedDwBlock (domain FusedDomain) is what graph/fuse_dwblock.go makes
// of MobileNet's inverted residual block: an optional pointwise (1×1)
// "expand" convolution, a 3×3 depthwise convolution and a pointwise
// "project" convolution, each with its bias and activation, the last
// with an optional summand Z:
//
//	Y = P(D(E(X))) (+ Z before P's activation)
//
// Inputs: X, We, Be, Wd, Bd, Wp, Bp, Z (We, Be, the biases and Z may be
// absent). Each stage's attributes are those of the FusedConv it was
// made from, prefixed by "expand_", "dw_" and "project_" (strides, pads,
// group, activation, min, max, ...).
//
// A block with an expand convolution is computed in bands of output
// rows: the expanded rows a band needs (kept from the previous band
// where they overlap), the depthwise rows of the band, then the project
// GEMM of the band straight into Y. When the expanded tensor is large
// (see dwBlockTuning) the bands are small, so that the expanded
// tensors, six times the size of the block's input and output, stay in
// the L2 cache instead of going through memory; otherwise one band
// holds the whole image. On wide planes, a stride-2 depthwise
// convolution of the bands runs on rows stored as their even columns
// then their odd ones (dwBlockShape.deint), which needs no shuffles.
// Threads split the block by images or ranges of bands; an image of one
// band, when there are fewer images than threads, is split in two phases
// (ranges of expanded channels, then of output positions: runPhased), so
// that small blocks split too, with two splits instead of three (or none:
// the convolutions of small blocks apart do not split). Other blocks run the three float32 convolutions one after
// the other (as do blocks of one band on one thread, and large blocks of
// one band on several threads: dwBlockTuning.phasedMax); a summand Z of
// another shape than Y is added as Add would (broadcast), before the
// project activation.
func buildDwBlock(b *Builder) (Kernel, error) {
	k := &dwBlockKernel{expand: b.In(1), sum: b.In(7), tune: defaultDwBlockTuning()}
	var err error
	for i, pre := range []string{"expand_", "dw_", "project_"} {
		sb := stageBuilder(b, pre)
		if k.act[i], err = readActivation(sb); err != nil {
			return nil, fmt.Errorf("%s: %w", strings.TrimSuffix(pre, "_"), err)
		}
		if k.attrs[i], err = readConvAttrs(sb); err != nil {
			return nil, fmt.Errorf("%s: %w", strings.TrimSuffix(pre, "_"), err)
		}
		if err := sb.Err(); err != nil {
			return nil, err
		}
	}
	for i, a := range k.act {
		k.acts[i] = asm.ConvActNone()
		if a != nil {
			k.acts[i] = a.a32
		}
	}
	if !b.In(0) || !b.In(3) || !b.In(5) {
		return nil, fmt.Errorf("FusedDwBlock needs X, Wd and Wp")
	}
	return k, nil
}

// stageBuilder returns a Builder holding the attributes of b that start
// with prefix, without it.
func stageBuilder(b *Builder, prefix string) *Builder {
	sb := &Builder{NodeName: b.NodeName, OpType: "FusedConv", Domain: FusedDomain, Opset: 1,
		NumInputs: 3, NumOutputs: 1, InputPresent: []bool{true, true, true}, OutputPresent: []bool{true},
		Attrs: map[string]*Attr{}}
	for name, a := range b.Attrs {
		if strings.HasPrefix(name, prefix) {
			c := *a
			c.Name = strings.TrimPrefix(name, prefix)
			sb.Attrs[c.Name] = &c
		}
	}
	return sb
}

// inferDwBlock is the depthwise convolution's shape rule with the
// project convolution's output channels.
func inferDwBlock(b *Builder, in []Meta) ([]Meta, error) {
	if len(in) < 6 {
		return []Meta{{DType: first(in).DType}}, nil
	}
	x := in[0]
	if x.Shape != nil && len(x.Shape) >= 2 && in[1].Shape != nil && len(in[1].Shape) >= 1 {
		x.Shape = slices.Clone(x.Shape)
		x.Shape[1] = in[1].Shape[0]
	}
	out, err := inferConvPool(true)(stageBuilder(b, "dw_"), []Meta{x, in[3]})
	if err != nil || len(out) == 0 {
		return out, err
	}
	if s := out[0].Shape; s != nil && len(s) >= 2 && in[5].Shape != nil && len(in[5].Shape) >= 1 {
		out[0].Shape = slices.Clone(s)
		out[0].Shape[1] = in[5].Shape[0]
	}
	return out[:1], nil
}

// dwBlockKernel is a built FusedDwBlock.
type dwBlockKernel struct {
	expand, sum bool
	act         [3]*activation // expand, dw, project; nil: none
	acts        [3]asm.ConvAct // the same for the float32 kernels
	attrs       [3]convAttrs
	tune        dwBlockTuning
	plans       shapeCache[*dwBlockShape]
}

// dwBlockShape is a FusedDwBlock resolved for one input shape.
type dwBlockShape struct {
	p               [3]*convPlan
	q               [3]*conv32Plan
	mid             [2][]int // the shapes of E's and D's outputs
	outShape        []int
	banded          bool
	n, cin, e, cout int
	h, w, oh, ow    int
	s, pt, pl       int
	ob, rows        int // output rows per band; expanded rows a band holds
	dwScratch       int
	dwFull          asm.DepthwiseGeom // the whole image's depthwise geometry (runPhased)
	dwFullScratch   int
	tune            dwBlockTuning // the kernel's
	// deint: the bands' depthwise convolution (stride 2, one column of
	// padding on the left, an even width) runs on rows stored as their
	// even columns then their odd ones (asm.DepthwiseS2DeintPlanes, no
	// shuffles), made by packing the expand convolution's input columns
	// in that order (see runRows).
	deint bool
}

// dwBlockTuning is how a FusedDwBlock cuts its work: the kernel holds
// defaultDwBlockTuning; tests build kernels with other values to cover
// every path on small blocks.
//
// Small bands pay only where the expanded tensor is much larger than the
// L2 cache (measured on Zen 3 with BenchmarkDwBlock: MobileNetV2's
// 112×112 block with stride 2 gains 10-15%; the 56×56 blocks and
// smaller, whose expanded tensors are under 2 MiB, gain nothing, and
// bands of fewer than a few hundred columns lose to the GEMMs' panel
// overhead; one band per image takes as long as the three convolutions
// apart).
type dwBlockTuning struct {
	// minBytes is the smallest expanded tensor (bytes per image) that is
	// cut into bands, and budget about how many bytes of expanded and
	// depthwise rows a band then holds.
	minBytes, budget int
	// apart runs the three convolutions one after the other.
	apart bool
	// minWork is about how many multiply-adds a thread needs to pay for
	// waking it: the block splits as a whole (its workers are hot from
	// the kernels before), so small blocks split too.
	minWork int
	// phasedMax: an image with fewer bands than threads splits in two
	// phases (runPhased) when its block has fewer multiply-adds than
	// this; larger blocks run apart, their three convolutions split on
	// their own. (Measured on Zen 3 at two threads, block by block,
	// phased against apart: MobileNetV2's 14×14 blocks 24-30% faster,
	// its 28×28 ones 10%, its 7×7 ones 5%, its 56×56 ones 7% faster at
	// stride 2 and 6% slower at stride 1; the whole model about 5%
	// faster with every block of one band, up to 26M multiply-adds,
	// phased: two splits instead of three, and each thread's expanded
	// channels stay in its own cache.)
	phasedMax int
	// deintMinW is the narrowest input whose stride-2 depthwise
	// convolution runs on deinterleaved rows (dwBlockShape.deint).
	// (Measured on Zen 3: MobileNetV2's 112×112 block with stride 2
	// takes 13% less CPU time banded with it, BenchmarkDwBlock; its
	// 56×56 one, whose rows of 28 outputs end in a masked vector, 5-10%
	// more; on 14 columns the kernel makes half as many outputs per ns
	// as the channel-interleaved one, BenchmarkDepthwiseS2Deint.)
	deintMinW int
}

// defaultDwBlockTuning returns the tuning of built FusedDwBlock kernels
// (a function, not a variable: no package state to change).
func defaultDwBlockTuning() dwBlockTuning {
	return dwBlockTuning{minBytes: 3 << 20, budget: 1 << 20, minWork: 300000, phasedMax: 32 << 20, deintMinW: 96}
}

func (k *dwBlockKernel) shape(xs, we, wd, wp []int) (*dwBlockShape, error) {
	key := shapeKey{xs, we, wd, wp}
	if s, ok := k.plans.get(key); ok {
		return s, nil
	}
	s := &dwBlockShape{tune: k.tune}
	in := xs
	var err error
	if k.expand {
		if s.p[0], err = k.attrs[0].plan(in, we); err != nil {
			return nil, fmt.Errorf("expand: %w", err)
		}
		in = s.p[0].outShape()
		s.mid[0] = in
	}
	if s.p[1], err = k.attrs[1].plan(in, wd); err != nil {
		return nil, fmt.Errorf("dw: %w", err)
	}
	s.mid[1] = s.p[1].outShape()
	if s.p[2], err = k.attrs[2].plan(s.mid[1], wp); err != nil {
		return nil, fmt.Errorf("project: %w", err)
	}
	s.outShape = s.p[2].outShape()
	for i, p := range s.p {
		if p != nil {
			s.q[i] = newConv32Plan(p, nil)
		}
	}
	pd := s.p[1]
	s.banded = !k.tune.apart && len(xs) == 4 && k.expand && pd.depthwise3x3() && s.p[2].direct && s.p[2].group == 1 &&
		s.p[0].direct && s.p[0].group == 1
	if s.banded {
		g := pd.g
		s.n, s.cin, s.e, s.cout = xs[0], xs[1], pd.c, s.p[2].m
		s.h, s.w, s.oh, s.ow = g.in[0], g.in[1], g.out[0], g.out[1]
		s.s, s.pt, s.pl = g.s[0], g.pb[0], g.pb[1]
		s.ob = s.oh // one band: the expanded tensor is small enough
		if 4*pd.c*pd.inSize >= k.tune.minBytes {
			// The most output rows whose expanded and depthwise rows
			// fit the budget; at least one.
			s.ob = 1
			for ob := 2; ob <= s.oh; ob++ {
				rows := (ob-1)*s.s + 3
				if 4*s.e*(rows*s.w+ob*s.ow) > k.tune.budget {
					break
				}
				s.ob = ob
			}
		}
		// Equal bands, of an even number of rows at stride 1 (the
		// depthwise kernel computes two rows at a time).
		bands := (s.oh + s.ob - 1) / s.ob
		s.ob = (s.oh + bands - 1) / bands
		if s.s == 1 && s.ob%2 == 1 && s.ob < s.oh {
			s.ob++
		}
		s.rows = (s.ob-1)*s.s + 3
		geo := asm.DepthwiseGeom{H: s.rows, W: s.w, OH: s.ob, OW: s.ow, PadT: 2, PadL: s.pl, Stride: s.s}
		s.dwScratch = geo.ScratchLen()
		s.dwFull = asm.DepthwiseGeom{H: s.h, W: s.w, OH: s.oh, OW: s.ow, PadT: s.pt, PadL: s.pl, Stride: s.s}
		s.dwFullScratch = s.dwFull.ScratchLen()
		s.deint = geo.DepthwiseS2Deint() && !k.acts[1].Leaky && s.w >= k.tune.deintMinW
	}
	k.plans.put(key, s)
	return s, nil
}

// Run computes the block.
func (k *dwBlockKernel) Run(rc *RunContext, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
	if len(in) < 6 || in[0] == nil || in[3] == nil || in[5] == nil {
		return nil, fmt.Errorf("FusedDwBlock needs X, Wd and Wp")
	}
	X, We, Be, Wd, Bd, Wp, Bp := in[0], Opt(in, 1), Opt(in, 2), in[3], Opt(in, 4), in[5], Opt(in, 6)
	var Z *tensor.Tensor
	if k.sum {
		Z = Opt(in, 7)
	}
	if k.expand && We == nil {
		return nil, fmt.Errorf("FusedDwBlock: expand weights missing")
	}
	for _, t := range []*tensor.Tensor{X, We, Be, Wd, Bd, Wp, Bp, Z} {
		if t != nil && t.DType() != tensor.Float32 {
			return nil, ErrDType("FusedDwBlock", t.DType())
		}
	}
	var wes []int
	if We != nil {
		wes = We.Shape()
	}
	s, err := k.shape(X.Shape(), wes, Wd.Shape(), Wp.Shape())
	if err != nil {
		return nil, err
	}
	for i, B := range []*tensor.Tensor{Be, Bd, Bp} {
		if B != nil && s.p[i] != nil && (B.Rank() != 1 || B.Len() != s.p[i].m) {
			return nil, fmt.Errorf("bias %d has shape %v, want [%d]", i, B.Shape(), s.p[i].m)
		}
	}
	acts := &k.acts
	y, err := rc.NewUninit(tensor.Float32, s.outShape...)
	if err != nil {
		return nil, err
	}
	x, we, be, wd, bd, wp, bp := X.Float32s(), optData[float32](We), optData[float32](Be), Wd.Float32s(),
		optData[float32](Bd), Wp.Float32s(), optData[float32](Bp)
	zSame := Z == nil || slices.Equal(Z.Shape(), s.outShape)
	if threads, pieces, per, phased, ok := s.split(rc.threads()); zSame && ok {
		// The scratch comes from the run's arena, so that warm runs
		// allocate nothing whatever its size.
		n := pieces * s.scratchLen()
		if phased {
			n = s.phasedLen(threads)
		}
		buf, err := rc.NewUninit(tensor.Float32, n)
		if err != nil {
			return nil, err
		}
		if phased {
			s.runPhased(rc.workers(), threads, x, we, be, wd, bd, wp, bp, optData[float32](Z), y.Float32s(), acts, buf.Float32s())
		} else {
			s.run(rc.workers(), threads, per, x, we, be, wd, bd, wp, bp, optData[float32](Z), y.Float32s(), acts, buf.Float32s())
		}
		rc.Free(buf)
		return rc.Results(y), nil
	}
	// The three convolutions one after the other.
	wk, threads := rc.workers(), rc.threads()
	src := x
	var tmp [2]*tensor.Tensor
	for i := 0; i < 2; i++ {
		if s.p[i] == nil {
			continue
		}
		if tmp[i], err = rc.NewUninit(tensor.Float32, s.mid[i]...); err != nil {
			return nil, err
		}
		w, b := we, be
		if i == 1 {
			w, b = wd, bd
		}
		s.q[i].run(wk, threads, src, w, b, nil, tmp[i].Float32s(), &acts[i]) // runs depthwise 3×3 directly too
		src = tmp[i].Float32s()
	}
	if zSame {
		s.q[2].run(wk, threads, src, wp, bp, optData[float32](Z), y.Float32s(), &acts[2])
	} else {
		s.q[2].run(wk, threads, src, wp, bp, nil, y.Float32s(), &s.q[2].none)
		sum, err := opAdd.apply(rc, y, Z)
		if err != nil {
			return nil, err
		}
		rc.Free(y)
		y = sum
		if k.act[2] != nil {
			k.act[2].f32(y.Float32s())
		}
	}
	for _, t := range tmp {
		if t != nil {
			rc.Free(t)
		}
	}
	return rc.Results(y), nil
}

// scratchLen is how many floats of scratch a goroutine of run needs.
func (s *dwBlockShape) scratchLen() int {
	return s.e*s.rows*s.w + s.e*s.ob*s.ow + s.dwScratch + s.deintLen()
}

// deintLen is how many floats of run's scratch hold the deinterleaved
// input rows of a band and a row of zeros (deint), after the rest.
func (s *dwBlockShape) deintLen() int {
	if !s.deint {
		return 0
	}
	return s.cin*s.rows*s.w + s.w
}

// macs is the block's multiply-adds per image.
func (s *dwBlockShape) macs() int {
	return s.e*s.h*s.w*s.cin + s.e*s.oh*s.ow*9 + s.cout*s.oh*s.ow*s.e
}

// chunks is how many ranges of bands each image is split into for
// threads goroutines: one per goroutine an image has, at most one per
// band.
func (s *dwBlockShape) chunks(threads int) int {
	if s.n >= threads || s.n == 0 {
		return 1
	}
	return max(1, min((threads+s.n-1)/s.n, (s.oh+s.ob-1)/s.ob))
}

// split returns how the block runs on up to threads goroutines: on t of
// them, either in pieces of per items (image, chunk of its bands) (run,
// which needs pieces·scratchLen() floats of scratch), or, phased, image
// by image in two splits (runPhased, phasedLen(t) floats); ok false: it
// runs apart.
func (s *dwBlockShape) split(threads int) (t, pieces, per int, phased, ok bool) {
	if !s.banded {
		return 0, 0, 0, false, false
	}
	t = max(1, min(threads, s.n*s.macs()/s.tune.minWork))
	if t == 1 && s.ob >= s.oh {
		// One band on one thread: the three convolutions apart take as
		// long (BenchmarkDwBlock), or up to a percent less.
		return 0, 0, 0, false, false
	}
	items := s.n * s.chunks(t)
	if t > 1 && items < t {
		if s.macs() >= s.tune.phasedMax {
			return 0, 0, 0, false, false
		}
		return t, 0, 0, true, true
	}
	t = min(t, items)
	per = (items + t - 1) / t
	return t, (items + per - 1) / per, per, false, true
}

// run computes the block band by band on threads goroutines (from
// split), each piece of per items (image, chunk of its bands) with its
// own part of buf: each takes whole images, or, with fewer images than
// threads, a range of the bands of one.
func (s *dwBlockShape) run(wk *Workers, threads, per int, x, we, be, wd, bd, wp, bp, z, y []float32, acts *[3]asm.ConvAct, buf []float32) {
	chunks := s.chunks(threads)
	items := s.n * chunks
	if threads == 1 || items <= per {
		s.runItems(x, we, be, wd, bd, wp, bp, z, y, acts, chunks, 0, items, buf[:s.scratchLen()])
		return
	}
	// The operands go into a task of the run's pool (parallelPiecesOf):
	// the split allocates nothing.
	j := dwBlockJob{s: s, x: x, we: we, be: be, wd: wd, bd: bd, wp: wp, bp: bp, z: z, y: y, acts: acts, chunks: chunks, per: per, buf: buf}
	parallelPiecesOf(wk, threads, items, per, j, (*dwBlockJob).run)
}

// dwBlockJob is the operands of a split dwBlockShape.run.
type dwBlockJob struct {
	s                                    *dwBlockShape
	x, we, be, wd, bd, wp, bp, z, y, buf []float32
	acts                                 *[3]asm.ConvAct
	chunks, per                          int
}

func (j *dwBlockJob) run(lo, hi int) {
	n := j.s.scratchLen()
	k := lo / j.per // the piece: its own scratch
	j.s.runItems(j.x, j.we, j.be, j.wd, j.bd, j.wp, j.bp, j.z, j.y, j.acts, j.chunks, lo, hi, j.buf[k*n:(k+1)*n])
}

// phasedLen is how many floats of scratch runPhased needs on threads
// goroutines: an image's expanded and depthwise tensors, and the
// depthwise kernel's scratch of each goroutine.
func (s *dwBlockShape) phasedLen(threads int) int {
	return s.e*s.h*s.w + s.e*s.oh*s.ow + threads*s.dwFullScratch
}

// runPhased computes the block image by image on threads goroutines in
// two splits: the expand and depthwise convolutions of ranges of the
// expanded channels, then the project GEMM of ranges of the output
// positions (or, on small planes, of the output channels). Unlike ranges
// of rows, which would compute the expanded rows around their ends twice
// and give the GEMMs few columns, no work is repeated: a worker that
// comes late costs nothing but the pieces the caller runs in its stead.
func (s *dwBlockShape) runPhased(wk *Workers, threads int, x, we, be, wd, bd, wp, bp, z, y []float32, acts *[3]asm.ConvAct, buf []float32) {
	hw, ohw := s.h*s.w, s.oh*s.ow
	eLen, dLen := s.e*hw, s.e*ohw
	j := dwPhaseJob{s: s, we: we, be: be, wd: wd, bd: bd, wp: wp, bp: bp, acts: acts, parts: threads,
		e: buf[:eLen], d: buf[eLen : eLen+dLen], dws: buf[eLen+dLen : eLen+dLen+threads*s.dwFullScratch]}
	for img := 0; img < s.n; img++ {
		j.x = x[img*s.cin*hw : (img+1)*s.cin*hw]
		j.y = y[img*s.cout*ohw : (img+1)*s.cout*ohw]
		j.z = nil
		if z != nil {
			j.z = z[img*s.cout*ohw : (img+1)*s.cout*ohw]
		}
		parallelPiecesOf(wk, threads, threads, 1, j, (*dwPhaseJob).expand)
		parallelPiecesOf(wk, threads, threads, 1, j, (*dwPhaseJob).project)
	}
}

// dwPhaseJob is the operands of runPhased's splits for one image: parts
// pieces, piece k with its own depthwise scratch.
type dwPhaseJob struct {
	s                               *dwBlockShape
	x, we, be, wd, bd, wp, bp, z, y []float32
	e, d, dws                       []float32
	acts                            *[3]asm.ConvAct
	parts                           int
}

// expand computes the expanded and depthwise planes of the channel
// ranges [lo, hi) (in multiples of 8: the depthwise kernel takes eight
// small planes at a time).
func (j *dwPhaseJob) expand(lo, hi int) {
	s := j.s
	hw, ohw := s.h*s.w, s.oh*s.ow
	x := j.x
	pack := func(p0, kb, jj, nb int, dst []float32) {
		asm.PackBlock(x, hw, p0, kb, jj, nb, dst)
	}
	for k := lo; k < hi; k++ {
		c0, c1 := splitRange(s.e, j.parts, k, 8)
		if c0 >= c1 {
			continue
		}
		var b, bd []float32
		if j.be != nil {
			b = j.be[c0:c1]
		}
		if j.bd != nil {
			bd = j.bd[c0:c1]
		}
		asm.SgemmAct(c1-c0, hw, s.cin, j.we[c0*s.cin:], s.cin, pack, b, &j.acts[0], j.e[c0*hw:c1*hw], hw)
		geo := s.dwFull
		asm.DepthwisePlanes(j.d[c0*ohw:c1*ohw], j.e[c0*hw:c1*hw], c1-c0, &geo, j.wd[9*c0:9*c1], bd, &j.acts[1],
			j.dws[k*s.dwFullScratch:(k+1)*s.dwFullScratch])
	}
}

// project computes the project GEMM of the ranges [lo, hi) of the
// output positions (whole panels), or of the output channels when there
// are too few positions for a panel each.
func (j *dwPhaseJob) project(lo, hi int) {
	s := j.s
	ohw := s.oh * s.ow
	d := j.d
	for k := lo; k < hi; k++ {
		if ohw >= j.parts*asm.PanelWidth {
			j0, j1 := splitRange(ohw, j.parts, k, asm.PanelWidth)
			if j0 >= j1 {
				continue
			}
			pack := func(p0, kb, jj, nb int, dst []float32) {
				asm.PackBlock(d, ohw, p0, kb, j0+jj, nb, dst)
			}
			var zb []float32
			if j.z != nil {
				zb = j.z[j0:]
			}
			asm.SgemmActSum(s.cout, j1-j0, s.e, j.wp, s.e, pack, j.bp, zb, ohw, &j.acts[2], j.y[j0:], ohw)
			continue
		}
		m0, m1 := splitRange(s.cout, j.parts, k, 8)
		if m0 >= m1 {
			continue
		}
		pack := func(p0, kb, jj, nb int, dst []float32) {
			asm.PackBlock(d, ohw, p0, kb, jj, nb, dst)
		}
		var b, zb []float32
		if j.bp != nil {
			b = j.bp[m0:m1]
		}
		if j.z != nil {
			zb = j.z[m0*ohw:]
		}
		asm.SgemmActSum(m1-m0, ohw, s.e, j.wp[m0*s.e:], s.e, pack, b, zb, ohw, &j.acts[2], j.y[m0*ohw:], ohw)
	}
}

// runItems computes the items [lo, hi) of (image, chunk of its bands)
// with the scratch buf (of scratchLen() floats).
func (s *dwBlockShape) runItems(x, we, be, wd, bd, wp, bp, z, y []float32, acts *[3]asm.ConvAct, chunks, lo, hi int, buf []float32) {
	eLen, dLen, xLen := s.e*s.rows*s.w, s.e*s.ob*s.ow, s.deintLen()
	e, d, dws, xd := buf[:eLen], buf[eLen:eLen+dLen], buf[eLen+dLen:len(buf)-xLen], buf[len(buf)-xLen:]
	if s.deint {
		clear(xd[s.cin*s.rows*s.w:]) // the row of zeros
	}
	for it := lo; it < hi; it++ {
		img, c := it/chunks, it%chunks
		oa, oz := s.chunkRows(c, chunks)
		xi := x[img*s.cin*s.h*s.w : (img+1)*s.cin*s.h*s.w]
		yi := y[img*s.cout*s.oh*s.ow : (img+1)*s.cout*s.oh*s.ow]
		var zi []float32
		if z != nil {
			zi = z[img*s.cout*s.oh*s.ow : (img+1)*s.cout*s.oh*s.ow]
		}
		s.runRows(xi, we, be, wd, bd, wp, bp, zi, yi, oa, oz, acts, e, d, dws, xd)
	}
}

// chunkRows returns the output rows [oa, oz) of chunk c of an image's
// chunks: as many rows each (the band height only bounds their bands:
// whole bands, as 4 and 3 of 7, would leave one goroutine idle for an
// eighth of the block), cut at the nearest even row at stride 1, where
// the depthwise kernel takes two rows at a time.
func (s *dwBlockShape) chunkRows(c, chunks int) (oa, oz int) {
	at := func(c int) int {
		if c >= chunks {
			return s.oh
		}
		o := s.oh * c / chunks
		if s.s == 1 {
			o = min((o+1)&^1, s.oh)
		}
		return o
	}
	return at(c), at(c + 1)
}

// runRows computes output rows [oa, oz) of one image; xd is the scratch
// of deint (deintLen floats).
func (s *dwBlockShape) runRows(x, we, be, wd, bd, wp, bp, z, y []float32, oa, oz int, acts *[3]asm.ConvAct, e, d, dws, xd []float32) {
	w, plane, ePlane, oPlane := s.w, s.h*s.w, s.rows*s.w, s.oh*s.ow
	prevLo, prevHi := 0, 0 // the input rows e holds, from its first row
	for o0 := oa; o0 < oz; o0 += s.ob {
		o1 := min(o0+s.ob, oz)
		first := o0*s.s - s.pt
		last := (o1-1)*s.s - s.pt + 3
		lo, hi := max(0, first), min(s.h, last)
		start := lo
		if prevHi > lo && prevLo <= lo {
			// Keep the rows [lo, prevHi) from the previous band.
			if off := (lo - prevLo) * w; off > 0 {
				n := (prevHi - lo) * w
				for c := 0; c < s.e; c++ {
					pl := e[c*ePlane : (c+1)*ePlane]
					copy(pl[:n], pl[off:off+n])
				}
			}
			start = prevHi
		}
		if start < hi {
			cols := (hi - start) * w
			src, ld, j0 := x, plane, start*w
			if s.deint {
				// The input rows, even columns first: so are the
				// expanded rows that the depthwise kernel reads.
				for c := 0; c < s.cin; c++ {
					asm.DeinterleaveRows(xd[c*cols:(c+1)*cols], x[c*plane+j0:], hi-start, w)
				}
				src, ld, j0 = xd, cols, 0
			}
			pack := func(p0, kb, jj, nb int, dst []float32) {
				asm.PackBlock(src, ld, p0, kb, j0+jj, nb, dst)
			}
			asm.SgemmAct(s.e, cols, s.cin, we, s.cin, pack, be, &acts[0], e[(start-lo)*w:], ePlane)
		}
		if hi < last {
			// Rows below the input, which the band reads as padding.
			for c := 0; c < s.e; c++ {
				clear(e[c*ePlane+(hi-lo)*w : c*ePlane+(last-lo)*w])
			}
		}
		prevLo, prevHi = lo, hi
		geo := asm.DepthwiseGeom{H: s.rows, W: w, OH: o1 - o0, OW: s.ow, PadT: lo - first, PadL: s.pl, Stride: s.s}
		nb := (o1 - o0) * s.ow
		db := d[:s.e*nb]
		if s.deint {
			asm.DepthwiseS2DeintPlanes(db, e, s.e, &geo, wd, bd, &acts[1], xd[s.cin*s.rows*s.w:])
		} else {
			asm.DepthwisePlanes(db, e, s.e, &geo, wd, bd, &acts[1], dws)
		}
		pack := func(p0, kb, jj, n int, dst []float32) {
			asm.PackBlock(db, nb, p0, kb, jj, n, dst)
		}
		var zb []float32
		if z != nil {
			zb = z[o0*s.ow:]
		}
		asm.SgemmActSum(s.cout, nb, s.e, wp, s.e, pack, bp, zb, oPlane, &acts[2], y[o0*s.ow:], oPlane)
	}
}

func registerDwBlock(r *Registry) {
	r.Register(&Def{Domain: FusedDomain, Name: "FusedDwBlock", Since: 1, Build: buildDwBlock, Infer: inferDwBlock, Grad: NotDifferentiable})
}
