package ops

import (
	"github.com/onyxrt/onyx/ops/asm"
)

// depthwise3x3 reports whether p is a 3×3 depthwise convolution (one
// input and one output channel per group) with equal strides of 1 or 2,
// no dilation and no negative padding, which depthwiseRun computes
// directly.
func (p *convPlan) depthwise3x3() bool {
	g := p.g
	return len(g.k) == 2 && g.k[0] == 3 && g.k[1] == 3 && p.group == p.c && p.group == p.m &&
		g.s[0] == g.s[1] && asm.DepthwiseSupported(g.s[0]) && g.d[0] == 1 && g.d[1] == 1 &&
		g.pb[0] >= 0 && g.pb[1] >= 0
}

// depthwiseMinWork is about how many outputs a thread needs to pay for
// waking it.
const depthwiseMinWork = 30000

// depthwiseRun computes a 3×3 depthwise convolution with
// asm.DepthwisePlanes, which reads the input planes where they are (no
// padded copy of each plane): each thread takes a range of the N·C
// planes, one call per run of planes within an image.
func depthwiseRun(wk *Workers, threads int, p *convPlan, x, w, bias, y []float32, act *asm.ConvAct) {
	g := p.g
	geo := asm.DepthwiseGeom{
		H: g.in[0], W: g.in[1], OH: g.out[0], OW: g.out[1],
		PadT: g.pb[0], PadL: g.pb[1], Stride: g.s[0],
	}
	planes := p.n * p.c
	threads = max(1, min(threads, planes*p.outSize/depthwiseMinWork))
	if threads == 1 {
		depthwiseRange(p, &geo, x, w, bias, y, act, 0, planes)
		return
	}
	depthwiseSplit(wk, threads, p, geo, x, w, bias, y, act)
}

// depthwiseJob is the operands of a split depthwiseRun.
type depthwiseJob struct {
	p             *convPlan
	geo           asm.DepthwiseGeom
	x, w, bias, y []float32
	act           *asm.ConvAct
	wk            *Workers
}

// run computes the planes [lo, hi), with scratch that the run's pool
// keeps for p (see Workers.reserveScratch).
func (j *depthwiseJob) run(lo, hi int) {
	buf, _ := j.wk.takeScratch(j.p).(*[]float32)
	if buf == nil {
		buf = newDepthwiseScratch(j.p).(*[]float32)
	}
	defer j.wk.keepScratch(j.p, buf)
	depthwiseRangeIn(j.p, &j.geo, j.x, j.w, j.bias, j.y, j.act, lo, hi, *buf)
}

// newDepthwiseScratch returns the scratch of a goroutine of p's split
// (for Workers.reserveScratch).
func newDepthwiseScratch(p any) any {
	pp := p.(*convPlan)
	g := pp.g
	geo := asm.DepthwiseGeom{H: g.in[0], W: g.in[1], OH: g.out[0], OW: g.out[1], PadT: g.pb[0], PadL: g.pb[1], Stride: g.s[0]}
	b := make([]float32, geo.ScratchLen())
	return &b
}

// depthwiseSplit is depthwiseRun's split over threads: the job is copied
// into a task of the run's pool (parallelPiecesOf), so that a warm run
// allocates nothing.
func depthwiseSplit(wk *Workers, threads int, p *convPlan, geo asm.DepthwiseGeom, x, w, bias, y []float32, act *asm.ConvAct) {
	planes := p.n * p.c
	j := depthwiseJob{p: p, geo: geo, x: x, w: w, bias: bias, y: y, act: act, wk: wk}
	wk.reserveScratch(p, threads, newDepthwiseScratch)
	parallelPiecesOf(wk, threads, planes, pieceItems(threads, planes), j, (*depthwiseJob).run)
}

// depthwiseRange computes the planes [lo, hi) of depthwiseRun, one call
// per run of planes within an image.
func depthwiseRange(p *convPlan, g *asm.DepthwiseGeom, x, w, bias, y []float32, act *asm.ConvAct, lo, hi int) {
	buf := getScratch[float32](g.ScratchLen())
	defer putScratch(buf)
	depthwiseRangeIn(p, g, x, w, bias, y, act, lo, hi, *buf)
}

// depthwiseRangeIn is depthwiseRange with the scratch buf (of at least
// g.ScratchLen() floats).
func depthwiseRangeIn(p *convPlan, g *asm.DepthwiseGeom, x, w, bias, y []float32, act *asm.ConvAct, lo, hi int, buf []float32) {
	geo := *g // a copy on this goroutine's stack
	for pi := lo; pi < hi; {
		ch := pi % p.c
		n := min(hi-pi, p.c-ch)
		var b []float32
		if bias != nil {
			b = bias[ch : ch+n]
		}
		asm.DepthwisePlanes(y[pi*p.outSize:(pi+n)*p.outSize], x[pi*p.inSize:(pi+n)*p.inSize], n, &geo,
			w[ch*9:(ch+n)*9], b, act, buf)
		pi += n
	}
}
