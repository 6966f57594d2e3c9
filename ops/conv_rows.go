package ops

import (
	"sync"

	"github.com/onyxrt/onyx/ops/asm"
	"github.com/onyxrt/onyx/tensor"
)

// The position-row float32 convolution, for the 1×1 convolutions of one
// image whose output plane is small beside the 32-column panels of the
// GEMM (ResNet-50's and MobileNetV2's 7×7 planes: 49 positions take two
// panels, a quarter of them padding) and whose channels are many. The
// GEMM is turned around: D = Xᵀ·Wᵀ, output positions as rows and output
// channels as columns, which come in whole panels, so that no tile column
// is wasted; D (in L2) is then transposed into the channels' planes
// (asm.Transpose), which get the bias, the summand and the activation
// (asm.BiasSumAct). Wᵀ is packed once, the first time a shape takes the
// path. Measured on a Xeon with AVX-512, one thread, the fastest of 80
// runs alternating with the GEMM path: the product alone, 512×49×2048
// and 2048×49×512 ran at 137-157 GFLOP/s this way against 108-115 on the
// GEMM path; in full, ResNet-50's 1×1 convolutions on 7×7 planes took
// 0.79-0.87 of the GEMM path's time, MobileNetV2's 0.79-0.86, the Keras
// MobileNetV2's on 4×4 planes 0.59-0.67 (down to 64→384 channels, 0.4M
// multiply-adds). On 14×14 planes (196 positions, a panel an eighth
// padding) it took 1.02-1.27, and 3×3 convolutions on 7×7 planes
// 1.26-1.34 (their im2col matrix, which the GEMM path packs block by
// block in cache, must be whole here), so neither takes it. With the
// AVX2 kernels (INFER_KERNELS=avx2, whose GEMM path wastes less of its
// narrower tiles) every one of these took 1.04-1.18: the path is for the
// AVX-512 kernels only.

// Which convolutions take this path (conv32Plan.rows).
const (
	rowsMinChannels = 64      // output channels
	rowsMinWork     = 1 << 18 // multiply-adds
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
	return (q.direct || q.sub) && q.pool == nil && p.group == 1 && p.n == 1 && p.m >= rowsMinChannels &&
		q.macs >= rowsMinWork && rowsWaste(p.outSize) && asm.SgemmImplementation() == "avx512"
}

// convRowsWeights is a constant filter of a node whose shapes may take
// the position-row path: Wᵀ, packed (once) the first time one does.
type convRowsWeights struct {
	w    *tensor.Tensor
	once sync.Once
	pb   *asm.PackedB
}

// newConvRowsWeights returns the lazily packed filter of w (nil: none),
// when w is a float32 1×1 filter of group 1 with enough output channels.
func newConvRowsWeights(w *tensor.Tensor, group int) *convRowsWeights {
	if w == nil || group != 1 || w.DType() != tensor.Float32 || w.Rank() < 3 || w.Rank() > 4 || w.Shape()[0] < rowsMinChannels {
		return nil
	}
	for _, d := range w.Shape()[2:] {
		if d != 1 {
			return nil
		}
	}
	return &convRowsWeights{w: w}
}

// packed returns Wᵀ packed for asm.SgemmPacked (K×M, K the input
// channels times the taps).
func (rw *convRowsWeights) packed() *asm.PackedB {
	rw.once.Do(func() {
		m := rw.w.Shape()[0]
		k := rw.w.Len() / m
		rw.pb = asm.PackB(true, k, m, rw.w.Float32s(), k)
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
	j := convRowsJob{a: x[:k*n], lda: n, pb: rw.packed(), d: t.Float32s(), n: n, m: m, k: k, bias: bias, z: z, y: y, act: act}
	wk := rc.workers()
	if q.sub {
		bufs := q.getBufs(wk)
		defer q.putBufs(wk, bufs)
		subsample(x, q.cg, p.inSize, q.g2, bufs.pad)
		j.a = bufs.pad[:k*n]
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
// the k×n input (subsampled for strides) at stride lda, then D's columns
// transposed into y with the epilogue.
type convRowsJob struct {
	a          []float32
	lda        int
	pb         *asm.PackedB
	d          []float32
	n, m, k    int
	bias, z, y []float32
	act        *asm.ConvAct
}

// run computes the output channels of panels [lo, hi).
func (j *convRowsJob) run(lo, hi int) {
	m0, m1 := lo*asm.PanelWidth, min(hi*asm.PanelWidth, j.m)
	var view asm.PackedB // on the stack: no allocation per piece
	j.pb.ColsTo(&view, m0, m1)
	asm.SgemmPacked(true, j.n, m1-m0, j.k, 1, j.a, j.lda, &view, 0, j.d[m0:], j.m)
	y := j.y[m0*j.n : m1*j.n]
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
