package ops

import "github.com/onyxrt/onyx/ops/asm"

// The first convolution of the MobileNets (and of many other image CNNs):
// few input channels (RGB), a 3×3 kernel, large planes. Its im2col matrix
// is very shallow (kdim = 27), so the im2col GEMM spends most of its time
// copying and packing; the position-major path (conv_pos.go) reads the
// positions straight from a zero-bordered copy of the input instead and
// keeps all the output channels of a panel in registers across the taps.

// posFirstMaxK is the deepest im2col row count (input channels × kernel
// taps) for which the position-major path takes planes of any size.
const posFirstMaxK = 32

// posLargePlaneOK reports whether the position-major path takes the
// convolution p (followed by the max pool pool, nil: none) although its
// planes exceed posMaxOut positions: a shallow first convolution with a
// spatial kernel and no pool, whose positions are then cut into chunks
// (see posChunking).
func posLargePlaneOK(p *convPlan, pool *poolPlan) bool {
	return pool == nil && !p.direct && p.kSize > 1 && p.c*p.kSize <= posFirstMaxK && p.outSize <= 1<<20
}

// posChunkFloats is about how many floats of product a chunk of positions
// keeps (in L2 until the epilogue reads it back).
const posChunkFloats = 12288

// posChunking returns the positions per chunk and the chunks per unit of
// q: one chunk of all the unit's positions unless split (then q has one
// image per unit and no pool), when the positions of an image are cut
// into chunks of whole tiles and of blocks of 8 epilogue outputs, so
// that the product of a chunk stays in cache and two threads can share
// one image. A split q's epilogue table becomes that of a chunk.
func posChunking(q *convPosPlan, split bool) (chunk, chunks int) {
	if !split || q.imgs != 1 || q.win != 1 || q.np != q.nq {
		return q.unitPos.Len(), 1
	}
	const step = 24 // lcm(asm.PosTileRows, 8)
	chunk = max(step, posChunkFloats/q.mPad/step*step)
	if chunk >= q.np {
		return q.unitPos.Len(), 1
	}
	src := make([]int32, chunk)
	for o := range src {
		src[o] = int32(o * q.mPad)
	}
	q.src = asm.NewOffsets(src)
	return chunk, (q.np + chunk - 1) / chunk
}

// runChunks computes the items [lo, hi) of (image, chunk, channel part)
// of a split plan (see posChunking) with the scratch bufs.
func (j *convPosJob) runChunks(bufs *convPosBufs, lo, hi int) {
	pq := j.q
	p := pq.p
	g := p.g
	if len(g.in) == 1 {
		g = g.as2D()
	}
	// bufs.pad holds the input rows of image padded up to rhi; the
	// chunks of a range come in order, so the rows they need only move
	// forward and each is copied once, just before the tiles read it.
	padded, rhi := -1, 0
	for it := lo; it < hi; it++ {
		img := it / (pq.chunks * j.parts)
		ch := it / j.parts % pq.chunks
		part := it % j.parts
		xs := j.x[img*p.c*p.inSize : (img+1)*p.c*p.inSize]
		p0 := ch * pq.chunk
		nq := min(pq.chunk, pq.np-p0)
		if pq.pad {
			// The input rows of the output rows of the chunk.
			oy0, oy1 := p0/g.out[1], (p0+nq-1)/g.out[1]
			a := max(0, oy0*g.s[0]-g.pb[0])
			b := min(g.in[0], oy1*g.s[0]-g.pb[0]+(g.k[0]-1)*g.d[0]+1)
			if padded != img || a > rhi {
				padded, rhi = img, a
			}
			if b > rhi {
				pq.fillPadRows(xs, rhi, b, bufs.pad)
				rhi = b
			}
			xs = bufs.pad[:pq.inImg]
		}
		nt := (nq + asm.PosTileRows - 1) / asm.PosTileRows
		q0 := part * j.part
		q1 := min(q0+j.part, pq.mPad/asm.PosPanel)
		c := bufs.c
		for k0 := 0; k0 < pq.kdim; k0 += pq.kb {
			kb := min(pq.kb, pq.kdim-k0)
			asm.ConvPosTilesPanels(kb, xs, pq.unitPos, p0, nt, pq.kOff, k0, j.w, pq.kdim, q0, q1, c, pq.mPad, k0 > 0)
		}
		m0, m1 := q0*asm.PosPanel, min(pq.m, q1*asm.PosPanel)
		var b []float32
		if j.b != nil {
			b = j.b[m0:m1]
		}
		yi := j.y[img*pq.ySize:]
		asm.ConvPosEpi(c[m0:], pq.src, 1, nq, (m1-m0)/8, b, j.act, yi[m0*pq.outSize+p0:], pq.outSize)
	}
}

// fillPadRows copies the rows [r0, r1) of the planes of one image of x
// into the interior of the zero-bordered buffer dst (see fillPad).
func (pq *convPosPlan) fillPadRows(x []float32, r0, r1 int, dst []float32) {
	g := pq.p.g
	if len(g.in) == 1 {
		g = g.as2D()
	}
	h, w := g.in[0], g.in[1]
	pt, pl := g.pb[0], g.pb[1]
	for i := 0; i < pq.c; i++ {
		src := x[i*h*w : (i+1)*h*w]
		d := dst[i*pq.hp*pq.wp:]
		for y := r0; y < r1; y++ {
			copy(d[(y+pt)*pq.wp+pl:(y+pt)*pq.wp+pl+w], src[y*w:(y+1)*w])
		}
	}
}
