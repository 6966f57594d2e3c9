package ops

import (
	"github.com/onyxrt/onyx/ops/asm"
)

// The float32 Conv path. A 3×3 depthwise convolution (group == C == M)
// runs a direct kernel per channel; every other 1-D or 2-D convolution is,
// per (image, group), one GEMM of the weights (M/group × C/group·k) by the
// im2col matrix, which is never materialized: asm.SgemmAct asks for it
// block by block, and each block is copied straight into the panel layout
// the GEMM micro-kernel reads, as runs of contiguous input (im2colPlan,
// asm.CopyRuns), or by the plain packer for 1×1 convolutions. The bias and
// the activation are applied to the output while it is in cache. Planes
// of few output positions (a 32-column panel would be mostly padding)
// stack the columns of several images into one GEMM and scatter the
// result.

// convBatchCols is about how many GEMM columns a stack of images gets
// when planes are small.
const convBatchCols = 512

// convRun32 computes y = act(conv(x, w) + bias) (bias may be nil) on up to
// threads goroutines. y is fully written.
func convRun32(wk *Workers, threads int, p *convPlan, x, w, bias, y []float32, act *asm.ConvAct) {
	if p.n == 0 || p.m == 0 || p.outSize == 0 {
		return
	}
	if p.depthwise3x3() {
		depthwiseRun(wk, threads, p, x, w, bias, y, act)
		return
	}
	g2 := p.g
	if len(g2.in) == 1 {
		g2 = g2.as2D()
	}
	if len(g2.in) != 2 {
		// N-D: the generic path, with the vector epilogue.
		var f func([]float32)
		if *act != asm.ConvActNone() {
			f = func(s []float32) { asm.BiasAct(1, len(s), s, len(s), nil, act, s, len(s)) }
		}
		convRun(wk, threads, p, x, w, bias, y, f)
		return
	}
	cg, mg := p.c/p.group, p.m/p.group
	kdim := cg * p.kSize
	// Stack images when the padding of the last panel would waste more
	// than an eighth of the work.
	imgs := 1
	if pad := roundUpInt(p.outSize, asm.PanelWidth); p.n > 1 && 8*(pad-p.outSize) > pad {
		imgs = min(p.n, max(1, convBatchCols/p.outSize))
	}
	stacks := (p.n + imgs - 1) / imgs
	units := stacks * p.group
	cols := imgs * p.outSize
	macs := p.n * p.m * kdim * p.outSize
	threads = max(1, min(threads, macs>>21))
	// Split a unit's columns (in whole panels), or else its rows, so that
	// every thread has work.
	colParts, rowParts := 1, 1
	if units < threads {
		per := (threads + units - 1) / units
		if panels := (cols + asm.PanelWidth - 1) / asm.PanelWidth; panels >= 2*per {
			colParts = per
		} else {
			rowParts = min(per, max(1, mg/8))
		}
	}
	parts := colParts * rowParts
	direct := p.direct && imgs == 1
	// A strided 1×1 convolution without padding reads a subsampled copy
	// of the input directly.
	sub := !direct && imgs == 1 && p.kSize == 1 && g2.pb[0] == 0 && g2.pb[1] == 0 && g2.pe[0] == 0 && g2.pe[1] == 0
	var ic *im2colPlan
	if !direct && !sub {
		ic = newIm2colPlan(p, g2, imgs)
	}
	parallelFor(wk, threads, units*parts, 1, func(lo, hi int) {
		var scratch, padBuf *[]float32
		defer func() {
			if scratch != nil {
				putScratch(scratch)
			}
			if padBuf != nil {
				putScratch(padBuf)
			}
		}()
		var runBuf [3 * 256]int32
		var startBuf [9]int32
		for it := lo; it < hi; it++ {
			part := it % parts
			u := it / parts
			gi := u % p.group
			img0 := (u / p.group) * imgs
			ni := min(imgs, p.n-img0)
			ucols := ni * p.outSize
			cp, rp := part%colParts, part/colParts
			j0, j1 := splitRange(ucols, colParts, cp, asm.PanelWidth)
			m0, m1 := splitRange(mg, rowParts, rp, 1)
			if j0 >= j1 || m0 >= m1 {
				continue
			}
			base := (img0*p.c + gi*cg) * p.inSize
			var pack asm.PackFunc
			switch {
			case direct:
				xg := x[base : base+cg*p.inSize]
				pack = func(p0, kb, jj, nb int, dst []float32) {
					asm.PackBlock(xg, p.inSize, p0, kb, j0+jj, nb, dst)
				}
			case sub:
				if padBuf == nil {
					padBuf = getScratch[float32](cg * p.outSize)
				}
				xs := *padBuf
				subsample(x[base:], cg, p.inSize, g2, xs)
				pack = func(p0, kb, jj, nb int, dst []float32) {
					asm.PackBlock(xs, p.outSize, p0, kb, j0+jj, nb, dst)
				}
			default:
				src := x[base:]
				switch {
				case ic.copy:
					if padBuf == nil {
						padBuf = getScratch[float32](ic.img*imgs + asm.CopyRunsSlack)
						clear(*padBuf)
					}
					ic.fill(x, base, ni, *padBuf)
					src = *padBuf
				case ic.tail(base, ni, p.outSize, len(x)):
					// The last unit: read a copy of the rest of x.
					t := getScratch[float32](len(src) + asm.CopyRunsSlack)
					defer putScratch(t)
					copy(*t, src)
					src = *t
				}
				pack = func(p0, kb, jj, nb int, dst []float32) {
					runs, starts := im2colRuns(ic.colIdx[j0+jj:j0+jj+nb], runBuf[:0], startBuf[:0])
					asm.CopyRuns(dst, kb, len(starts)-1, src, ic.rowOff[p0:p0+kb], runs, starts)
				}
			}
			wg := w[(gi*mg+m0)*kdim:]
			var bg []float32
			if bias != nil {
				bg = bias[gi*mg+m0 : gi*mg+m1]
			}
			if ni == 1 {
				c := y[(img0*p.m+gi*mg+m0)*p.outSize+j0:]
				asm.SgemmAct(m1-m0, j1-j0, kdim, wg, kdim, pack, bg, act, c, p.outSize)
				continue
			}
			// Stacked images: the product goes to a scratch matrix, then
			// each image's columns get the epilogue on their way to y.
			n := j1 - j0
			if scratch == nil {
				scratch = getScratch[float32](mg * cols)
			}
			c := (*scratch)[:(m1-m0)*n]
			asm.SgemmAct(m1-m0, n, kdim, wg, kdim, pack, nil, nil, c, n)
			for j := j0; j < j1; {
				img, pos := j/p.outSize, j%p.outSize
				run := min(p.outSize-pos, j1-j)
				dst := y[((img0+img)*p.m+gi*mg+m0)*p.outSize+pos:]
				asm.BiasAct(m1-m0, run, c[j-j0:], n, bg, act, dst, p.outSize)
				j += run
			}
		}
	})
}

// im2colPlan lays out the im2col matrix of one group of a stack of
// images as offsets into a source: element (p, j) is src[rowOff[p] +
// colIdx[j]]. The source is the input itself when the windows need no
// padding and step by one column; otherwise each unit copies its input
// into a zero-bordered buffer whose rows are split into stride phases
// (phase f of a row holds its columns f, f+s, f+2s, ...), so that the
// columns of an output row are contiguous for every kernel tap.
type im2colPlan struct {
	g              *geom
	copy           bool
	rows, rowLen   int // rows of a padded plane and floats per padded row
	phaseLen       int // floats per phase of a padded row
	cg             int // channels per group
	plane, img     int // floats per plane and per image of the source
	inPlane, inImg int // the same in the input
	rowOff, colIdx []int32
}

func newIm2colPlan(p *convPlan, g *geom, imgs int) *im2colPlan {
	h, w := g.in[0], g.in[1]
	kh, kw := g.k[0], g.k[1]
	oh, ow := g.out[0], g.out[1]
	sh, sw, dh, dw := g.s[0], g.s[1], g.d[0], g.d[1]
	cg := p.c / p.group
	q := &im2colPlan{g: g, cg: cg, inPlane: p.inSize, inImg: p.c * p.inSize}
	q.copy = sw != 1 || g.pb[0] != 0 || g.pb[1] != 0 || g.pe[0] != 0 || g.pe[1] != 0
	if q.copy {
		q.rows = (oh-1)*sh + (kh-1)*dh + 1
		wp := (ow-1)*sw + (kw-1)*dw + 1
		q.phaseLen = (wp + sw - 1) / sw
		q.rowLen = q.phaseLen * sw
		q.plane = q.rows * q.rowLen
		q.img = cg * q.plane
	} else {
		q.rows, q.rowLen, q.phaseLen = h, w, w
		q.plane, q.img = p.inSize, p.c*p.inSize
	}
	q.rowOff = make([]int32, cg*kh*kw)
	for ci := 0; ci < cg; ci++ {
		for ki := 0; ki < kh; ki++ {
			for kj := 0; kj < kw; kj++ {
				c := kj * dw
				q.rowOff[(ci*kh+ki)*kw+kj] = int32(ci*q.plane + ki*dh*q.rowLen + (c%sw)*q.phaseLen + c/sw)
			}
		}
	}
	q.colIdx = make([]int32, imgs*p.outSize)
	for i := range q.colIdx {
		img, pos := i/p.outSize, i%p.outSize
		oy, ox := pos/ow, pos%ow
		q.colIdx[i] = int32(img*q.img + oy*sh*q.rowLen + ox)
	}
	return q
}

// tail reports whether the runs of a unit of ni images whose source
// starts at x[base:] would read past the end of x (by up to
// CopyRunsSlack floats), so that the unit must read a copy.
func (q *im2colPlan) tail(base, ni, outSize, xlen int) bool {
	last := base + int(q.rowOff[len(q.rowOff)-1]) + int(q.colIdx[ni*outSize-1])
	return last+asm.CopyRunsSlack >= xlen
}

// fill copies the group of ni images at x[base:] into buf (whose
// padding is already zero).
func (q *im2colPlan) fill(x []float32, base, ni int, buf []float32) {
	g := q.g
	h, w := g.in[0], g.in[1]
	pt, pl := g.pb[0], g.pb[1]
	s := q.rowLen / q.phaseLen
	y0, y1 := max(0, -pt), min(h, q.rows-pt)
	x0, x1 := 0, min(w, q.phaseLen*s-pl)
	if x1 <= x0 {
		return
	}
	for img := 0; img < ni; img++ {
		for ci := 0; ci < q.cg; ci++ {
			src := x[base+img*q.inImg+ci*q.inPlane:]
			dst := buf[img*q.img+ci*q.plane:]
			for iy := y0; iy < y1; iy++ {
				row := src[iy*w+x0 : iy*w+x1]
				d := dst[(iy+pt)*q.rowLen:]
				if s == 1 {
					copy(d[x0+pl:], row)
					continue
				}
				if s == 2 {
					px0 := x0 + pl
					ev, od := d[:q.phaseLen], d[q.phaseLen:2*q.phaseLen]
					for i := px0 & 1; i < len(row); i += 2 {
						ev[(px0+i)>>1] = row[i]
					}
					for i := 1 - px0&1; i < len(row); i += 2 {
						od[(px0+i)>>1] = row[i]
					}
					continue
				}
				for i, v := range row {
					px := x0 + i + pl
					d[(px%s)*q.phaseLen+px/s] = v
				}
			}
		}
	}
}

// subsample sets dst[c][oy][ox] = x[c][oy*sh][ox*sw] for the c planes of
// x: the input of a 1×1 convolution with strides and no padding.
func subsample(x []float32, c, plane int, g *geom, dst []float32) {
	w := g.in[1]
	oh, ow := g.out[0], g.out[1]
	sh, sw := g.s[0], g.s[1]
	for ci := 0; ci < c; ci++ {
		src := x[ci*plane:]
		d := dst[ci*oh*ow : (ci+1)*oh*ow]
		for oy := 0; oy < oh; oy++ {
			row := src[oy*sh*w:]
			out := d[oy*ow : (oy+1)*ow]
			if sw == 1 {
				copy(out, row)
				continue
			}
			for ox := range out {
				out[ox] = row[ox*sw]
			}
		}
	}
}

// im2colRuns splits the columns with source offsets colIdx into runs of
// consecutive offsets within 32-column panels, for asm.CopyRuns.
func im2colRuns(colIdx []int32, runs, starts []int32) ([]int32, []int32) {
	const pn = asm.PanelWidth
	for q := 0; q*pn < len(colIdx); q++ {
		starts = append(starts, int32(len(runs)/3))
		ci := colIdx[q*pn : min(len(colIdx), (q+1)*pn)]
		for c := 0; c < len(ci); {
			e := c + 1
			for e < len(ci) && ci[e] == ci[e-1]+1 {
				e++
			}
			runs = append(runs, ci[c], int32(c), int32((e-c+7)/8))
			c = e
		}
	}
	starts = append(starts, int32(len(runs)/3))
	return runs, starts
}

// splitRange returns part i of [0, n) split into parts pieces whose
// boundaries are multiples of align.
func splitRange(n, parts, i, align int) (lo, hi int) {
	if parts <= 1 {
		return 0, n
	}
	units := (n + align - 1) / align
	lo = min(n, (units*i/parts)*align)
	hi = min(n, (units*(i+1)/parts)*align)
	return lo, hi
}

func roundUpInt(x, m int) int { return (x + m - 1) / m * m }

// depthwise3x3 reports whether p is a 3×3 depthwise convolution (one
// input and one output channel per group) with equal strides of 1 or 2
// and no dilation, which depthwiseRun computes directly.
func (p *convPlan) depthwise3x3() bool {
	g := p.g
	return len(g.k) == 2 && g.k[0] == 3 && g.k[1] == 3 && p.group == p.c && p.group == p.m &&
		g.s[0] == g.s[1] && asm.DepthwiseSupported(g.s[0]) && g.d[0] == 1 && g.d[1] == 1
}

// depthwiseRun computes a 3×3 depthwise convolution plane by plane: each
// input plane is copied into a zero-bordered buffer that holds every tap,
// then asm.Depthwise3x3 computes the output plane.
func depthwiseRun(wk *Workers, threads int, p *convPlan, x, w, bias, y []float32, act *asm.ConvAct) {
	g := p.g
	h, wd := g.in[0], g.in[1]
	oh, ow := g.out[0], g.out[1]
	s := g.s[0]
	pt, pl := g.pb[0], g.pb[1]
	lds := (ow-1)*s + 3
	rows := (oh-1)*s + 3
	planes := p.n * p.c
	// Each thread needs about 30k outputs to pay for waking it.
	threads = max(1, min(threads, planes*p.outSize/30000))
	parallelFor(wk, threads, planes, 1, func(lo, hi int) {
		buf := getScratch[float32](rows*lds + asm.DepthwiseSlack)
		defer putScratch(buf)
		pad := *buf
		clear(pad)
		// Input rows and columns that land in the buffer.
		y0, y1 := max(0, -pt), min(h, rows-pt)
		x0, x1 := max(0, -pl), min(wd, lds-pl)
		for pi := lo; pi < hi; pi++ {
			ch := pi % p.c
			src := x[pi*p.inSize : (pi+1)*p.inSize]
			if x1 > x0 && y1 > y0 {
				asm.CopyRows(pad[(y0+pt)*lds+x0+pl:], lds, src[y0*wd+x0:], wd, x1-x0, y1-y0)
			}
			var b float32
			if bias != nil {
				b = bias[ch]
			}
			asm.Depthwise3x3(y[pi*p.outSize:(pi+1)*p.outSize], ow, oh, pad, lds, s, w[ch*9:ch*9+9], b, act)
		}
	})
}
