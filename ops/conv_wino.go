package ops

import (
	"math"
	"sync"
	"sync/atomic"

	"github.com/onyxrt/onyx/ops/asm"
	"github.com/onyxrt/onyx/tensor"
)

// The Winograd F(4×4, 3×3) float32 convolution, for 3×3 convolutions of
// stride 1, dilation 1 and group 1 with a constant filter, where it
// measures faster than im2col + GEMM (see winoWins). A 4×4 output tile
// costs 36 multiplies per channel pair instead of 144:
//
//	Y = Aᵀ [ U ⊙ V ] A,  U = G g Gᵀ (6×6 per filter), V = Bᵀ d B (6×6 input tile)
//
// and the 36 element-wise products, summed over the input channels, are
// 36 GEMMs M[ξ] (tiles × K) = V[ξ] (tiles × C) · U[ξ] (C × K). U is
// transformed and packed (asm.PackB) once, the first time a shape that
// takes this path runs with the constant filter. A run goes band by band
// (a range of tiles, in row-major order across tile rows and images):
// each input tile row is interleaved eight channels at a time
// (asm.BlockChannels8, zeros for the padding and the overhang of the last
// tiles), transformed into V (asm.WinoInput4x3), multiplied (36
// asm.SgemmPacked), transformed back with the bias and the activation
// (asm.WinoOutput4x3) and de-interleaved into the output planes
// (asm.UnblockChannels8), the summand Z of a FusedConv added after. The
// kernels are those of ops/asm/wino*.go (assembly on amd64 and arm64, Go
// references elsewhere).
//
// The same machinery runs the Winograd F(3×3, 4×4) convolution of 4×4
// filters (stride 1, where asm.Wino3x4Accelerated): the same 6×6 input
// tiles and input transform (now 3 columns apart), the same 36 GEMMs, a
// 6×4 filter transform G and a 3×6 output transform Aᵀ (asm/wino3x4.go),
// 3×3 output tiles: 36 multiplies per channel pair for 9 outputs instead
// of 144. The plan's m (output tile size) and r (filter size) are 4 and 3
// or 3 and 4.
//
// The transforms round worse than a direct sum (the input transform
// scales by up to 5 and the output one by up to 8): on random normal data
// the largest error measured is about 5e-6 of the sum of the absolute
// values of an output's terms (conv_wino_test.go accepts 2e-5); on
// ResNet-50 with its weights and input (six layers on this path) the
// logits differ from the im2col path's by at most 1.6e-5 (3e-7 of the
// largest logit; relative 1.3e-5 for logits above 1% of the largest).
// F(3×3, 4×4) measures up to about 3e-6 of the sum of |terms| (the
// direct sum about 6e-7): on the Keras MNIST CNN's 4×4 layers with
// random inputs about 3e-6 of the largest output.

// winoBandBytes is about how many bytes of V and M (the transformed
// inputs and the products) one band keeps.
const winoBandBytes = 512 << 10

// winoBandMaxBytes bounds the bytes of V and M of a band.
const winoBandMaxBytes = 4 << 20

// winoGemmRows is the rows of the GEMM's micro-tile (bands hold a
// multiple of it, so that its tiles are full).
const winoGemmRows = 6

// convWinoWeights is a constant filter of a node that may take the
// Winograd path: its transform is made (once) the first time a shape
// that takes the path runs.
type convWinoWeights struct {
	w    *tensor.Tensor
	r    int // the filter size (3 or 4)
	once sync.Once
	u    *winoFilter
}

// winoFilter is a filter transformed and packed for the Winograd path:
// U[ξ] (cp × kp, zero past C and K), whole and in two column halves (for
// splitting the output channels over two goroutines).
type winoFilter struct {
	c, k, cp, kp int
	whole        [36]*asm.PackedB
	half         [2][36]*asm.PackedB
	split        int // the first column of the second half (0: no halves)
}

// newConvWinoWeights returns the lazily transformed filter of w (nil:
// none), when w is a constant float32 filter (K×C×3×3, or K×C×4×4 where
// asm.Wino3x4Accelerated) that the path may use with attributes a.
func newConvWinoWeights(w *tensor.Tensor, a *convAttrs) *convWinoWeights {
	if w == nil || w.DType() != tensor.Float32 || w.Rank() != 4 || a.group != 1 {
		return nil
	}
	s := w.Shape()
	r := s[2]
	if s[3] != r || !winoFilterSize(r) || s[0] < winoMinChannels || s[1] < winoMinChannels {
		return nil
	}
	if asm.SgemmImplementation() == "generic" || !asm.WinoAccelerated() {
		// The pure-Go F(2×2, 3×3) path of conv_winograd.go serves the
		// generic GEMM; without assembly transforms, im2col wins.
		return nil
	}
	for _, v := range a.strides {
		if v != 1 {
			return nil
		}
	}
	for _, v := range a.dilations {
		if v != 1 {
			return nil
		}
	}
	// Explicit pads outside what newConvWinoPlan takes would decline at
	// every run (auto_pad gives 3×3 stride-1 pads of 0 or 1, 4×4 ones 1
	// and 2): keep the other paths' packed filter for them instead.
	for _, v := range a.pads {
		if v < 0 || v > 2 {
			return nil
		}
	}
	if winoUBytes(s[1], s[0]) > winoMaxUBytes {
		return nil
	}
	return &convWinoWeights{w: w, r: r}
}

// winoFilterSize reports whether filters of r×r have a Winograd path
// here: 3 (F(4×4, 3×3)) always, 4 (F(3×3, 4×4)) where its kernels are
// assembly.
func winoFilterSize(r int) bool {
	return r == 3 || r == 4 && asm.Wino3x4Accelerated()
}

// winoMaxUBytes bounds the size of a transformed filter (4 times a 3×3
// filter's, 2.25 times a 4×4 one's): the memory it costs must stay small
// against the model's (the transforms are made at the first runs;
// runtime.Compile collects the garbage of a large model's load first, so
// that they reuse it), and a large one is streamed from memory for little
// work per run. ResNet-50's 64-, 128- and 256-channel layers (0.6, 2.4
// and 9.4 MiB) take the path; its 512-channel ones (36 MiB each) barely
// win at batch 1.
const winoMaxUBytes = 16 << 20

// winoUBytes is the size of the transformed filter of c input and k
// output channels.
func winoUBytes(c, k int) int {
	return 36 * 4 * roundUpInt(c, 8) * roundUpInt(k, 8)
}

// filter returns the transformed filter, making it on first use.
func (ww *convWinoWeights) filter() *winoFilter {
	ww.once.Do(func() {
		s := ww.w.Shape()
		ww.u = newWinoFilterR(ww.w.Float32s(), s[0], s[1], ww.r)
	})
	return ww.u
}

// newWinoFilter transforms w (k×c×3×3) and packs U (newWinoFilterR).
func newWinoFilter(w []float32, k, c int) *winoFilter { return newWinoFilterR(w, k, c, 3) }

// newWinoFilterR transforms w (k×c×r×r, r = 3 or 4) and packs U. Each
// U[ξ] is a linear combination of the r² taps of each filter, (G ⊗ G)[ξ],
// summed in float64 and rounded once as asm.WinoFilter4x3 and
// asm.WinoFilter3x4 do; computing one ξ at a time needs only a cp×kp
// matrix of scratch before it is packed.
func newWinoFilterR(w []float32, k, c, r int) *winoFilter {
	f := &winoFilter{c: c, k: k, cp: roundUpInt(c, 8), kp: roundUpInt(k, 8)}
	cp, kp := f.cp, f.kp
	buf := getScratch[float32](cp * kp)
	defer putScratch(buf)
	t := *buf
	clear(t)
	rr := r * r
	var coef [36][16]float64
	for xi := range 36 {
		for tap := range rr {
			coef[xi][tap] = asm.WinoFilterCoef(r, xi, tap)
		}
	}
	per := asm.PackedBLen(cp, kp)
	data := make([]float32, 36*per)
	var taps [16]int
	var cs [16]float64
	for xi := range 36 {
		nz := 0
		for tap, v := range coef[xi][:rr] {
			if v != 0 {
				taps[nz], cs[nz] = tap, v
				nz++
			}
		}
		for oc := 0; oc < k; oc++ {
			for ci := 0; ci < c; ci++ {
				g := w[(oc*c+ci)*rr : (oc*c+ci)*rr+rr]
				var s float64
				for i := range nz {
					s += cs[i] * float64(g[taps[i]])
				}
				t[ci*kp+oc] = float32(s)
			}
		}
		f.whole[xi] = asm.PackBInto(false, cp, kp, t, kp, data[xi*per:(xi+1)*per])
	}
	if panels := (kp + asm.ColAlign - 1) / asm.ColAlign; panels >= 2 {
		f.split = panels / 2 * asm.ColAlign
		for xi := range 36 {
			f.half[0][xi] = f.whole[xi].Cols(0, f.split)
			f.half[1][xi] = f.whole[xi].Cols(f.split, kp)
		}
	}
	return f
}

// winoMinChannels is the fewest input and output channels for which the
// transforms can pay.
const winoMinChannels = 16

// convWinoPlan is a convolution resolved for the Winograd path for one
// input shape: tiles, bands and buffer strides. It is built once per
// shape and then only read.
type convWinoPlan struct {
	m, r     int // output tile size and filter size: 4 and 3, or 3 and 4
	n, c, k  int
	h, w     int
	pt, pl   int // top and left padding
	oh, ow   int
	th, tw   int // tile rows and columns of an image
	tiles    int // of all the images
	cp, kp   int // channels rounded up to 8
	band     int // tiles per band
	bands    int
	ldv, ldm int // ξ strides of a band's V and M
	ldb      int // row stride of an interleaved input tile row
	macs     int
	slot     int // floats of one goroutine's scratch (winoBufs)
	none     asm.ConvAct
	jobs     sync.Pool // *winoJob
}

// winoBufs is one goroutine's scratch, carved from one slot of the
// run's scratch.
type winoBufs struct {
	v, m []float32 // a band's transformed inputs and products
	blk  []float32 // an interleaved input tile row (6 rows)
	out  []float32 // an interleaved output tile row (m rows)
	bias []float32 // the bias of a last block of fewer than 8 channels (8)
}

// newConvWinoPlan returns the Winograd plan of p, or nil when p does not
// take that path (wrong kind of convolution, or a shape where im2col and
// GEMM measured faster).
func newConvWinoPlan(p *convPlan) *convWinoPlan {
	g := p.g
	if p.group != 1 || len(g.in) != 2 || g.k[0] != g.k[1] || !winoFilterSize(g.k[0]) || g.s[0] != 1 || g.s[1] != 1 ||
		g.d[0] != 1 || g.d[1] != 1 || p.n == 0 || p.outSize == 0 || p.c < winoMinChannels || p.m < winoMinChannels {
		return nil
	}
	for i := range 2 {
		if g.pb[i] < 0 || g.pe[i] < 0 || g.pb[i] > 2 || g.pe[i] > 2 {
			return nil
		}
	}
	q := newConvWinoPlanAny(p)
	if !winoWins(q) {
		return nil
	}
	return q
}

// newConvWinoPlanAny is newConvWinoPlan for any convolution that the path
// can compute, whether or not it wins (for tests and benchmarks).
func newConvWinoPlanAny(p *convPlan) *convWinoPlan {
	return newConvWinoPlanBand(p, winoBandBytes)
}

// newConvWinoPlanBand is newConvWinoPlanAny with bands of about bandBytes
// of V and M (tests use smaller ones).
func newConvWinoPlanBand(p *convPlan, bandBytes int) *convWinoPlan {
	g := p.g
	q := &convWinoPlan{m: 4, r: 3, n: p.n, c: p.c, k: p.m, h: g.in[0], w: g.in[1], pt: g.pb[0], pl: g.pb[1],
		oh: g.out[0], ow: g.out[1], none: asm.ConvActNone()}
	if g.k[0] == 4 {
		q.m, q.r = 3, 4
	}
	q.th, q.tw = (q.oh+q.m-1)/q.m, (q.ow+q.m-1)/q.m
	q.tiles = q.n * q.th * q.tw
	q.cp, q.kp = roundUpInt(q.c, 8), roundUpInt(q.k, 8)
	per := 36 * 4 * (q.cp + q.kp) // bytes of V and M per tile
	// Bands that keep V and M in L2, or larger ones where U (streamed
	// once per band) is large: about as many bytes of V and M per band
	// as of U (cp·kp·36·4), within winoBandMaxBytes.
	q.band = max(bandBytes/per, min(q.cp*q.kp/(q.cp+q.kp), winoBandMaxBytes/per))
	q.band = max(winoGemmRows, q.band/winoGemmRows*winoGemmRows)
	if q.band >= q.tiles {
		q.band = q.tiles
	} else {
		// Bands of equal size.
		q.bands = (q.tiles + q.band - 1) / q.band
		q.band = roundUpInt((q.tiles+q.bands-1)/q.bands, winoGemmRows)
	}
	q.bands = (q.tiles + q.band - 1) / q.band
	q.ldv = winoStride(q.band * q.cp)
	q.ldm = winoStride(q.band * q.kp)
	q.ldb = (q.m*q.tw + 6 - q.m) * 8
	q.slot = 36*(q.ldv+q.ldm) + 6*q.ldb + q.m*q.tw*q.m*8 + 16
	q.macs = q.n * q.k * q.c * q.r * q.r * p.outSize
	return q
}

// winoStride returns a stride of at least n floats between the 36
// matrices of a band such that they fall in different cache sets: a
// multiple of 16 floats (a cache line) that is an odd number of lines.
func winoStride(n int) int {
	s := roundUpInt(n, 16)
	if (s/16)%2 == 0 {
		s += 16
	}
	return s
}

// winoWins reports whether q's shape takes the path. Every shape measured
// with at least 16 channels in and out was faster on it than on the
// position-major or im2col paths (BenchmarkConvWinoLayers: 1.4× to 3×
// less CPU time on one thread, from the 16-channel 32×32 layer to
// ResNet-50's 56×56×64; the 512-channel 7×7 layer only about even; with
// 4×4 filters 2× to 3.5× less, the 16-channel 8×8 layer about even) when
// the transformed filter U was in cache, as it is when a benchmark runs
// one layer over and over. In a large model it is not: it comes from
// memory, and U is four times the filter. With every cache flushed
// before each run (a Xeon with AVX-512, one thread, 2026-11-28),
// Inception v2's 3×3 layers of 160-224 channels on 7×7 planes (four
// tiles, U 5-9 MiB) took 1.5-1.6 times the im2col path's time on this
// one (hot: 0.67-0.70), on 14×14 planes (16 tiles) 0.82-0.86, on 28×28
// planes 0.53-0.60. So a U larger than a core's L2 (winoColdUBytes)
// needs at least winoMinTiles tiles a run, and only the transform's size
// limits the rest (winoMaxUBytes). A U within L2 stays there from run to
// run in a small model: the speech CNN's last layer (64 → 128 channels
// on 5×20 planes, ten tiles, U 1.1 MiB) took 0.30 ms on the im2col path
// against 0.07 here.
func winoWins(q *convWinoPlan) bool {
	u := winoUBytes(q.c, q.k)
	return u <= winoMaxUBytes && (q.tiles >= winoMinTiles || u <= winoColdUBytes)
}

// The tiles and transform sizes of winoWins.
const (
	winoMinTiles   = 16
	winoColdUBytes = 2 << 20
)

// threadsFor returns how many goroutines a run on up to threads uses:
// each gets at least about two million multiply-adds (of the direct
// convolution).
func (q *convWinoPlan) threadsFor(threads int) int {
	return max(1, min(threads, q.macs>>21))
}

// scratchLen is the floats of scratch that a run on up to threads
// goroutines needs: a slot for each goroutine that may run a piece of a
// split (the run's workers, when it splits at all).
func (q *convWinoPlan) scratchLen(threads int) int {
	if q.threadsFor(threads) == 1 {
		return q.slot
	}
	return max(threads, 1) * q.slot
}

// bufs returns the scratch of slot i of scratch.
func (q *convWinoPlan) bufs(scratch []float32, i int) winoBufs {
	s := scratch[i*q.slot : (i+1)*q.slot]
	var b winoBufs
	b.v, s = s[:36*q.ldv], s[36*q.ldv:]
	b.m, s = s[:36*q.ldm], s[36*q.ldm:]
	b.blk, s = s[:6*q.ldb], s[6*q.ldb:]
	b.out, s = s[:q.m*q.tw*q.m*8], s[q.m*q.tw*q.m*8:]
	b.bias = s[:8]
	return b
}

// runConst runs the convolution of shape cs on the Winograd path when it
// has one and W is the constant filter of ww, and reports whether it did
// (else nothing is written). z (nil: none) is added after the bias and
// before the activation. With pooled, y is the max pool cs.pool of that
// (a FusedConv's), computed from the whole convolution in scratch.
func (ww *convWinoWeights) runConst(rc *RunContext, cs *convShape, W *tensor.Tensor, x, bias, z, y []float32, act *asm.ConvAct, pooled bool) bool {
	if ww == nil || cs.wino == nil || W != ww.w || pooled && (cs.pool == nil || cs.poolErr != nil) {
		return false
	}
	q := cs.wino
	threads := rc.threads()
	n := q.scratchLen(threads)
	if pooled {
		n += q.n * q.k * q.oh * q.ow
	}
	t, err := rc.NewUninit(tensor.Float32, n)
	if err != nil {
		return false
	}
	scratch := t.Float32s()
	if !pooled {
		q.run(rc.workers(), threads, ww.filter(), x, bias, z, y, act, scratch)
		rc.Free(t)
		return true
	}
	conv, scratch := scratch[:q.n*q.k*q.oh*q.ow], scratch[q.n*q.k*q.oh*q.ow:]
	q.run(rc.workers(), threads, ww.filter(), x, bias, z, conv, act, scratch)
	pp := *cs.pool
	pp.threads, pp.workers = threads, rc.workers()
	maxPoolRun(&pp, conv, y, nil, false, float32(-math.MaxFloat32))
	rc.Free(t)
	return true
}

// winoJob is one run of a convWinoPlan.
type winoJob struct {
	q           *convWinoPlan
	u           *winoFilter
	x, b, z, y  []float32
	act         *asm.ConvAct
	actIdentity bool             // act is the identity
	kparts      int              // parts of the output channels per band (1 or 2)
	scratch     []float32        // the slots of scratch
	slots       atomic.Uint32    // the slots in use, a bit each
	fn          func(lo, hi int) // run, bound once (pooled jobs)
}

// run computes y = act(conv(x) + bias + z) with the filter u (bias and z
// may be nil) on up to threads goroutines, with scratch of at least
// q.scratchLen(threads) floats.
func (q *convWinoPlan) run(wk *Workers, threads int, u *winoFilter, x, bias, z, y []float32, act *asm.ConvAct, scratch []float32) {
	threads = q.threadsFor(threads)
	hj, _ := q.jobs.Get().(*winoJob)
	if hj == nil {
		hj = new(winoJob)
		hj.fn = hj.run
	}
	j := hj
	j.q, j.u, j.x, j.b, j.z, j.y, j.act, j.kparts = q, u, x, bias, z, y, act, 1
	j.scratch = scratch
	j.actIdentity = *act == q.none
	if threads > 1 && q.bands < threads && u.split > 0 {
		// Fewer bands than threads: each band's output channels in two
		// parts, each of which transforms the band's whole input again.
		// With a band or more a thread the bands alone are as fast or
		// faster (on a Xeon with AVX-512 at two threads, the fastest of
		// many runs alternating, against the parts: ResNet-50's 56×56
		// layer, 7 bands, 0.86 of the time; the Keras MNIST CNN's second
		// convolution at batch 4 and a 4×4-kernel layer on 14×14 planes,
		// 4 bands each, 0.87 and 0.92; the layers of 2 and 3 bands, from
		// the MNIST CNN at batch 64, the CIFAR CNN and ResNet-50's 14×14
		// and 7×7 layers at batch 4 and 8, 0.77-1.02).
		j.kparts = 2
	}
	items := q.bands * j.kparts
	if threads == 1 || items == 1 {
		j.run(0, items)
	} else {
		parallelPieces(wk, threads, items, 1, j.fn)
	}
	fn := j.fn
	*j = winoJob{fn: fn} // drop the operands
	q.jobs.Put(j)
}

// run computes the items [lo, hi) of (band, part of the output channels).
func (j *winoJob) run(lo, hi int) {
	q := j.q
	// A free slot of scratch (there is one for each goroutine that may
	// run a piece; should more run at once, the others make their own).
	scratch, slot := j.scratch, 0
	for {
		cur := j.slots.Load()
		for slot < 32 && cur&(1<<slot) != 0 {
			slot++
		}
		if slot >= 32 || (slot+1)*q.slot > len(scratch) {
			scratch, slot = make([]float32, q.slot), -1
			break
		}
		if j.slots.CompareAndSwap(cur, cur|1<<slot) {
			break
		}
		slot = 0
	}
	sb := q.bufs(scratch, max(slot, 0))
	bufs := &sb
	if slot >= 0 {
		defer j.slots.And(^uint32(1 << slot))
	}
	for it := lo; it < hi; it++ {
		b, part := it/j.kparts, it%j.kparts
		t0 := b * q.band
		t1 := min(t0+q.band, q.tiles)
		us := &j.u.whole
		k0, k1 := 0, q.kp
		if j.kparts > 1 {
			us = &j.u.half[part]
			if part == 0 {
				k1 = j.u.split
			} else {
				k0 = j.u.split
			}
		}
		j.band(bufs, t0, t1, us, k0, k1)
	}
}

// band computes the tiles [t0, t1) of the output channels [k0, k1) (a
// multiple of 8, k1 up to kp) with us, U's columns [k0, k1).
func (j *winoJob) band(bufs *winoBufs, t0, t1 int, us *[36]*asm.PackedB, k0, k1 int) {
	q := j.q
	nt := t1 - t0
	v, m := bufs.v, bufs.m
	perImg := q.th * q.tw
	// The input transform, tile row segment by segment.
	for t := t0; t < t1; {
		img, r := t/perImg, t%perImg
		ty, tx0 := r/q.tw, r%q.tw
		tx1 := min(q.tw, tx0+t1-t)
		n := tx1 - tx0
		j.inputSegment(bufs.blk, img, ty, tx0, n, v[(t-t0)*q.cp:])
		t += n
	}
	// The 36 products.
	for xi := range 36 {
		asm.SgemmPacked(false, nt, k1-k0, q.cp, 1, v[xi*q.ldv:], q.cp, us[xi], 0, m[xi*q.ldm+k0:], q.kp)
	}
	// The output transform.
	for t := t0; t < t1; {
		img, r := t/perImg, t%perImg
		ty, tx0 := r/q.tw, r%q.tw
		tx1 := min(q.tw, tx0+t1-t)
		n := tx1 - tx0
		j.outputSegment(bufs, img, ty, tx0, n, m[(t-t0)*q.kp:], k0, min(k1, q.k))
		t += n
	}
}

// inputSegment transforms the n tiles from column tx0 of tile row ty of
// image img into v (tile i at v[i*cp:], ξ stride ldv), using blk for the
// interleaved input rows.
func (j *winoJob) inputSegment(blk []float32, img, ty, tx0, n int, v []float32) {
	q := j.q
	wseg := q.m*n + 6 - q.m
	iy0, ix0 := q.m*ty-q.pt, q.m*tx0-q.pl
	rlo, rhi := max(0, -iy0), min(6, q.h-iy0)
	clo, chi := max(0, -ix0), min(wseg, q.w-ix0)
	// Zero what lies outside the image; BlockChannels8 writes the rest
	// for every block of channels.
	if rhi <= rlo || chi <= clo {
		for r := range 6 {
			clear(blk[r*q.ldb : r*q.ldb+wseg*8])
		}
	} else {
		for r := range 6 {
			row := blk[r*q.ldb : r*q.ldb+wseg*8]
			if r < rlo || r >= rhi {
				clear(row)
				continue
			}
			clear(row[:clo*8])
			clear(row[chi*8:])
		}
	}
	plane := q.h * q.w
	for cb := 0; cb < q.cp; cb += 8 {
		if rhi > rlo && chi > clo {
			planes := min(8, q.c-cb)
			src := j.x[(img*q.c+cb)*plane+(iy0+rlo)*q.w+ix0+clo:]
			asm.BlockChannels8(rhi-rlo, chi-clo, src, plane, q.w, planes, blk[rlo*q.ldb+clo*8:], q.ldb)
		}
		if q.m == 4 {
			asm.WinoInput4x3(n, blk, q.ldb, v[cb:], q.ldv, q.cp)
		} else {
			asm.WinoInput3x4(n, blk, q.ldb, v[cb:], q.ldv, q.cp)
		}
	}
}

// outputSegment transforms the products of the n tiles from column tx0
// of tile row ty of image img (tile i at m[i*kp:], ξ stride ldm) into the
// output channels [k0, k1), adding the bias and z and applying the
// activation.
func (j *winoJob) outputSegment(bufs *winoBufs, img, ty, tx0, n int, m []float32, k0, k1 int) {
	q := j.q
	plane := q.oh * q.ow
	rows := min(q.m, q.oh-q.m*ty)
	cols := min(q.m*n, q.ow-q.m*tx0)
	ldo := q.m * q.tw * 8
	act := j.act
	if j.z != nil || j.actIdentity {
		act = nil
	}
	out := bufs.out
	for kb := k0; kb < k1; kb += 8 {
		planes := min(8, k1-kb)
		var bias []float32
		if j.b != nil {
			if planes == 8 {
				bias = j.b[kb : kb+8]
			} else {
				copy(bufs.bias, j.b[kb:kb+planes])
				bias = bufs.bias
			}
		}
		if q.m == 4 {
			asm.WinoOutput4x3(n, m[kb:], q.ldm, q.kp, bias, act, out, ldo)
		} else {
			asm.WinoOutput3x4(n, m[kb:], q.ldm, q.kp, bias, act, out, ldo)
		}
		off := (img*q.k+kb)*plane + q.m*ty*q.ow + q.m*tx0
		asm.UnblockChannels8(rows, cols, out, ldo, j.y[off:], plane, q.ow, planes)
		if j.z != nil {
			for l := range planes {
				d := j.y[off+l*plane:]
				asm.BiasSumAct(rows, cols, d, q.ow, nil, j.z[off+l*plane:], q.ow, j.act, d, q.ow)
			}
		}
	}
}
