package ops

import (
	"math"
	"sync"

	"github.com/onyxrt/onyx/ops/asm"
	"github.com/onyxrt/onyx/tensor"
)

// The position-row float32 convolution, for the convolutions of one
// image whose output plane is small beside the 32-column panels of the
// GEMM (ResNet-50's and MobileNetV2's 7×7 planes: 49 positions take two
// panels, a quarter of them padding; the MNIST CNN's last 3×3 plane: 9
// positions in a panel of 32) and whose channels are many. The GEMM is
// turned around: D = Xᵀ·Wᵀ, output positions as rows and output channels
// as columns, which come in whole panels, so that no tile column is
// wasted; D gets the bias and a clamp along its rows (asm.GemmBiasClamp,
// whole vectors of channels) and is then transposed into the channels'
// planes (asm.Transpose); a summand or a leaky activation is applied to
// the planes instead (asm.BiasSumAct). Wᵀ is packed once, the first time
// a shape takes the path.
//
// A 1×1 convolution multiplies the input in place (Xᵀ read by the
// product's packing of A), or its subsampled copy when strided. Any other
// (a larger kernel, padding, dilation) multiplies im2row, the im2col
// matrix turned around: the input is transposed to channels last, so that
// each tap of an output position's window is a run of all the input
// channels, and a kernel row of taps one run when it lies inside the
// input row; Wᵀ's rows are packed in that order (tap by tap). Both
// matrices are the plan's scratch (conv32Bufs.rows), not the run's
// arena, whose other buffers would otherwise move (which changed
// Inception v2's Winograd layers by up to a fifth).
//
// Measured on a Xeon with AVX-512, one thread, the fastest of 80 runs
// alternating with the GEMM path: the product alone, 512×49×2048 and
// 2048×49×512 ran at 137-157 GFLOP/s this way against 108-115 on the GEMM
// path; in full, ResNet-50's 1×1 convolutions on 7×7 planes took
// 0.79-0.87 of the GEMM path's time, MobileNetV2's 0.79-0.86, the Keras
// MobileNetV2's on 4×4 planes 0.59-0.67 (down to 64→384 channels, 0.4M
// multiply-adds). On 14×14 planes (196 positions, a panel an eighth
// padding) it took 1.02-1.27, so they do not take it. With the AVX2
// kernels (INFER_KERNELS=avx2, whose GEMM path wastes less of its
// narrower tiles) every one of these took 1.04-1.18: the path is for the
// AVX-512 kernels only. Through im2row on a Zen 5 EPYC (2026-11-29):
// 3×3 convolutions of 64-256 channels on 3×3 to 7×7 output planes took
// 0.27-0.82 of the position-major or im2col path's time (128 channels on
// 5×5, padded: 118 → 32 µs; the MNIST CNN's conv3 6.4 → 3.5 µs, against
// its Winograd path, which leaves such one-tile convolutions to this
// one), while ResNet-50's and Inception v2's 3×3 layers on 7×7 planes of
// 160-512 channels, whose im2row exceeds rowsMaxIm2row, made the models
// 4% slower this way.

// Which convolutions take this path (conv32Plan.rows).
const (
	rowsMinChannels = 64      // output channels
	rowsMinWork     = 1 << 18 // multiply-adds
	// rowsMaxIm2row bounds the floats of the turned-around im2col
	// matrix of a convolution with a kernel larger than 1×1 (positions ×
	// taps × input channels) that takes the path.
	rowsMaxIm2row = 1 << 16
)

// rowsWaste reports whether the padding of the last panel of a plane of
// outSize positions exceeds a sixth of the panels' columns.
func rowsWaste(outSize int) bool {
	pad := roundUpInt(outSize, asm.PanelWidth)
	return 6*(pad-outSize) > pad
}

// rowsPlanned reports whether the convolution p, of plan q without a
// pool, takes the position-row path (when its filter is a constant).
func rowsPlanned(p *convPlan, q *conv32Plan) bool {
	if q.pool != nil || p.group != 1 || p.n != 1 || p.m < rowsMinChannels || q.macs < rowsMinWork ||
		!rowsWaste(p.outSize) || asm.SgemmImplementation() != "avx512" {
		return false
	}
	return q.direct || q.sub || rowsTaps(p, q)
}

// rowsTaps reports whether the convolution p of plan q, with a kernel
// larger than 1×1 or padding, takes the position-row path through the
// turned-around im2col matrix (im2row): a 2-D (or 1-D) one whose matrix
// is small (rowsMaxIm2row).
func rowsTaps(p *convPlan, q *conv32Plan) bool {
	return q.g2 != nil && q.imgs == 1 && !q.direct && !q.sub && p.outSize*q.kdim <= rowsMaxIm2row
}

// convRowsWeights is a constant filter of a node whose shapes may take
// the position-row path: Wᵀ, packed (once) the first time one does.
type convRowsWeights struct {
	w        *tensor.Tensor
	once     sync.Once
	pb       *asm.PackedB
	negZeros []float32 // asm.NegZeros of the output channels
}

// newConvRowsWeights returns the lazily packed filter of w (nil: none),
// when w is a float32 1-D or 2-D filter of group 1 with enough output
// channels.
func newConvRowsWeights(w *tensor.Tensor, group int) *convRowsWeights {
	if w == nil || group != 1 || w.DType() != tensor.Float32 || w.Rank() < 3 || w.Rank() > 4 || w.Shape()[0] < rowsMinChannels {
		return nil
	}
	return &convRowsWeights{w: w}
}

// packed returns Wᵀ packed for asm.SgemmPacked (K×M, K the input
// channels times the taps), its K in the order of im2row's columns: tap
// by tap, the input channels of each (the filter's own order, channel by
// channel, for a 1×1 filter).
func (rw *convRowsWeights) packed() *asm.PackedB {
	rw.once.Do(func() {
		m, c := rw.w.Shape()[0], rw.w.Shape()[1]
		k := rw.w.Len() / m
		w := rw.w.Float32s()
		if taps := k / c; taps > 1 {
			tw := make([]float32, m*k)
			for i := 0; i < m; i++ {
				for ci := 0; ci < c; ci++ {
					for t := 0; t < taps; t++ {
						tw[i*k+t*c+ci] = w[(i*c+ci)*taps+t]
					}
				}
			}
			w = tw
		}
		rw.pb = asm.PackB(true, k, m, w, k)
		rw.negZeros = asm.NegZeros(m)
	})
	return rw.pb
}

// run computes y = act(conv(x, W) + bias + z) on the position-row path
// when the shape of q takes it and W is the constant of rw, and reports
// whether it did (else nothing is written). bias and z may be nil; z has
// the convolution's output shape.
func (rw *convRowsWeights) run(rc *RunContext, q *conv32Plan, W *tensor.Tensor, x, bias, z, y []float32, act *asm.ConvAct) bool {
	if rw == nil || !q.rows || W != rw.w {
		return false
	}
	p := q.p
	n, m, k := p.outSize, p.m, q.kdim
	t, err := rc.NewUninit(tensor.Float32, n*m) // D
	if err != nil {
		return false
	}
	j := convRowsJob{lda: n, transA: true, pb: rw.packed(), d: t.Float32s(), n: n, m: m, k: k, bias: bias, z: z, y: y, act: act, negZeros: rw.negZeros}
	wk := rc.workers()
	switch {
	case q.direct:
		j.a = x[:k*n]
	case q.sub:
		bufs := q.getBufs(wk)
		defer q.putBufs(wk, bufs)
		subsample(x, q.cg, p.inSize, q.g2, bufs.pad)
		j.a = bufs.pad[:k*n]
	default:
		// The input with channels last and im2row in the plan's
		// scratch, not the run's arena, like the subsampled input.
		bufs := q.getBufs(wk)
		defer q.putBufs(wk, bufs)
		if size := p.c*p.inSize + n*k; len(bufs.rows) < size {
			bufs.rows = make([]float32, size)
		}
		xt, r := bufs.rows[:p.c*p.inSize], bufs.rows[p.c*p.inSize:p.c*p.inSize+n*k]
		asm.Transpose(p.c, p.inSize, x, p.inSize, xt, p.c)
		im2row(xt, p.c, q.g2, r)
		j.a, j.lda, j.transA = r, k, false
	}
	panels := (m + asm.PanelWidth - 1) / asm.PanelWidth
	threads := max(1, min(rc.threads(), q.macs>>20, panels))
	if threads == 1 {
		j.run(0, panels)
	} else {
		// About two pieces a thread, whole panels each.
		parallelPiecesOf(wk, threads, panels, (panels+2*threads-1)/(2*threads), j, (*convRowsJob).run)
	}
	rc.Free(t)
	return true
}

// convRowsJob is one run of the position-row path: D (n×m) = Aᵀ·Wᵀ, A
// the k×n input (subsampled for strides) at stride lda, or D = A·Wᵀ, A
// the n×k im2row matrix (not transA), then D's columns transposed into y
// with the epilogue.
type convRowsJob struct {
	a          []float32
	lda        int
	transA     bool
	pb         *asm.PackedB
	d          []float32
	n, m, k    int
	bias, z, y []float32
	act        *asm.ConvAct
	negZeros   []float32 // the bias row of a convolution without one
}

// run computes the output channels of panels [lo, hi).
func (j *convRowsJob) run(lo, hi int) {
	m0, m1 := lo*asm.PanelWidth, min(hi*asm.PanelWidth, j.m)
	var view asm.PackedB // on the stack: no allocation per piece
	j.pb.ColsTo(&view, m0, m1)
	asm.SgemmPacked(j.transA, j.n, m1-m0, j.k, 1, j.a, j.lda, &view, 0, j.d[m0:], j.m)
	y := j.y[m0*j.n : m1*j.n]
	if j.z == nil && !j.act.Leaky {
		// The bias and the clamp along D's rows, whole vectors of
		// channels, before the transpose (after it the planes' rows
		// may be short: 9 or 49 positions).
		if j.bias != nil || !math.IsInf(float64(j.act.Lo), -1) || !math.IsInf(float64(j.act.Hi), 1) {
			bias := j.negZeros
			if j.bias != nil {
				bias = j.bias
			}
			asm.GemmBiasClamp(j.n, m1-m0, j.d[m0:], j.m, bias[m0:m1], 0, j.act.Lo, j.act.Hi)
		}
		asm.Transpose(j.n, m1-m0, j.d[m0:], j.m, y, j.n)
		return
	}
	asm.Transpose(j.n, m1-m0, j.d[m0:], j.m, y, j.n)
	var bias, z []float32
	if j.bias != nil {
		bias = j.bias[m0:m1]
	}
	if j.z != nil {
		z = j.z[m0*j.n : m1*j.n]
	}
	asm.BiasSumAct(m1-m0, j.n, y, j.n, bias, z, j.n, j.act, y, j.n)
}

// im2row writes the im2col matrix of the 2-D geometry g turned around:
// row o of r (n×K, K = taps × c) is output position o's window, tap by
// tap (row-major over the kernel), the c input channels of each from xt,
// the input with channels last (h·w×c), zeros where the tap falls in the
// padding.
func im2row(xt []float32, c int, g *geom, r []float32) {
	h, w := g.in[0], g.in[1]
	kh, kw := g.k[0], g.k[1]
	oh, ow := g.out[0], g.out[1]
	k := kh * kw * c
	for oy := 0; oy < oh; oy++ {
		for ox := 0; ox < ow; ox++ {
			row := r[(oy*ow+ox)*k:][:k]
			ix0 := ox*g.s[1] - g.pb[1]
			// The taps of a kernel row are contiguous in xt when they
			// step by one column and all fall inside the row.
			whole := g.d[1] == 1 && ix0 >= 0 && ix0+kw <= w
			for ki := 0; ki < kh; ki++ {
				seg := row[ki*kw*c:][:kw*c]
				iy := oy*g.s[0] - g.pb[0] + ki*g.d[0]
				switch {
				case iy < 0 || iy >= h:
					clear(seg)
				case whole:
					copy(seg, xt[(iy*w+ix0)*c:][:kw*c])
				default:
					for kj := 0; kj < kw; kj++ {
						dst := seg[kj*c:][:c]
						if ix := ix0 + kj*g.d[1]; ix < 0 || ix >= w {
							clear(dst)
						} else {
							copy(dst, xt[(iy*w+ix)*c:][:c])
						}
					}
				}
			}
		}
	}
}
