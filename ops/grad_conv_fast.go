package ops

import (
	"sync"

	"github.com/onyxrt/onyx/ops/asm"
)

// The float32 backward of an ungrouped 1-D or 2-D convolution, batched
// over images. convGradItems multiplies one image at a time, which leaves
// the GEMMs of small feature maps (a 3×3 output has 9 columns) far too
// thin to be efficient and re-packs W for every image. Here the images are
// taken in chunks whose im2col columns sit side by side, so that a chunk
// is one kdim×cols matrix (column b*outSize+p is position p of image b),
// with dY gathered into the matching m×cols matrix, and
//
//	dWᵀ (kdim×m) += col · dYᵀ        (one GEMM per chunk, per-goroutine sum)
//	dcol (kdim×cols) = Wᵀ · dY       (Wᵀ transposed once per call)
//	dX = col2im(dcol)                (each chunk owns its images of dX)
//
// dB is summed while dY is gathered. im2col and col2im walk rows of the
// image, or, for narrow outputs, a table of each tap's input offsets
// (tapTable). Unpadded stride-1 convolutions whose output is nearly as
// wide as the input use the wide layout (see wideLayoutOK), where im2col
// is contiguous copies and dX needs no col2im but one GEMM per kernel tap
// (dxWide). dY may also come from a fused max pooling gradient
// (dySource), computed a chunk at a time in cache.

// convGradFastOK reports whether convGradFast handles the plan.
func convGradFastOK(p *convPlan) bool {
	nd := len(p.g.in)
	return p.group == 1 && (nd == 1 || nd == 2) && p.n > 0 && p.c > 0 && p.m > 0 && p.kSize > 0 && p.outSize > 0 && p.inSize > 0
}

// convGradChunk returns how many images a chunk holds: enough for about
// 192 columns, an im2col buffer of at most 512 KiB, and a chunk count
// that is a multiple of the goroutines that share them.
func convGradChunk(n, kdim, outSize, threads int) int {
	per := min(n, (192+outSize-1)/outSize)
	per = max(1, min(per, (128<<10)/max(1, kdim*outSize)))
	chunks := (n + per - 1) / per
	if threads > 1 {
		chunks = (chunks + threads - 1) / threads * threads
		per = max(1, (n+chunks-1)/chunks)
	}
	return per
}

// convGradFast computes the gradients of y = conv(x, w) (+ bias) with
// respect to x, w and the bias into dx, dw and db, each nil when not
// wanted. dx need not be zeroed; dw and db are overwritten.
func convGradFast(wk *Workers, threads int, p *convPlan, x, w []float32, src dySource, dx, dw, db []float32) {
	g := p.g
	if len(g.in) == 1 {
		g = g.as2D()
	}
	n, c, m := p.n, p.c, p.m
	kdim, os, is := c*p.kSize, p.outSize, p.inSize
	// In the wide layout an image's columns are oh whole input rows.
	// The wide layout trades piecework in im2col and col2im (kdim rows
	// per image) for piecework in gathering dY (m rows per image).
	wide := kdim >= m && wideLayoutOK(g) && (dx == nil || allFinite(w))
	osMax := os
	if wide {
		osMax = g.out[0] * g.in[1]
	}
	macs := n * m * kdim * osMax
	work := 0
	if dw != nil {
		work += macs
	}
	if dx != nil {
		work += macs
	}
	threads = max(1, min(threads, work>>21))
	per := convGradChunk(n, kdim, osMax, threads)
	chunks := (n + per - 1) / per
	threads = min(threads, chunks)

	var tab []int32
	if useTapTable(g) {
		tab = tapTable(g)
	}
	var wt []float32 // Wᵀ, kdim×m
	if dx != nil {
		wt = make([]float32, kdim*m)
		for i := 0; i < m; i++ {
			for k, v := range w[i*kdim : (i+1)*kdim] {
				wt[k*m+i] = v
			}
		}
	}
	var (
		mu      sync.Mutex
		dwtSum  []float32 // dWᵀ, kdim×m, summed over goroutines
		dbSum   []float32
		started bool
	)
	parallelFor(wk, threads, chunks, 1, func(lo, hi int) {
		maxCols := per * osMax
		var col, dcol, dyc, dwt, dbp []float32
		if dw != nil {
			cb := getScratch[float32](kdim * maxCols)
			defer putScratch(cb)
			col = *cb
			dwt = make([]float32, kdim*m)
		}
		if dx != nil && !wide {
			cb := getScratch[float32](kdim * maxCols)
			defer putScratch(cb)
			dcol = *cb
		}
		// A chunk may leave the wide layout (X not finite): then it needs
		// dcol after all.
		defer func() {
			if wide && dcol != nil {
				putScratch(&dcol)
			}
		}()
		if per > 1 || wide || src.dy == nil {
			cb := getScratch[float32](m * maxCols)
			defer putScratch(cb)
			dyc = *cb
		}
		if db != nil {
			dbp = make([]float32, m)
		}
		for ch := lo; ch < hi; ch++ {
			n0 := ch * per
			nb := min(per, n-n0)
			xs := x[n0*c*is : (n0+nb)*c*is]
			// Wide only where the products with the padding columns are
			// exact zeros: X finite (dW) and W finite (dX).
			wideCh := wide && (dw == nil || allFinite(xs))
			ocols, rw := os, g.out[1]
			if wideCh {
				ocols, rw = osMax, g.in[1]
			}
			cols := nb * ocols
			// dY of the chunk as an m×cols matrix (dB on the way).
			var d []float32
			if !wideCh && nb == 1 && src.dy != nil {
				d = src.dy[n0*m*os : (n0+1)*m*os]
				for i := range dbp {
					dbp[i] += sumFloats(d[i*os : (i+1)*os])
				}
			} else {
				d = dyc[:m*cols]
				src.write(n0, nb, m, g, d, cols, ocols, rw, dbp)
			}
			if dw != nil {
				switch {
				case wideCh:
					im2colWide(xs, nb, c, is, g, col[:kdim*cols])
				case tab != nil:
					im2colTable(xs, nb, c, is, p.kSize, os, tab, col[:kdim*cols])
				default:
					im2colChunk(xs, nb, c, is, g, col[:kdim*cols])
				}
				asm.Sgemm(false, true, kdim, m, cols, 1, col, cols, d, cols, 1, dwt, m)
			}
			if dx != nil {
				dxs := dx[n0*c*is : (n0+nb)*c*is]
				if wideCh {
					dxWide(wt, d, nb, c, m, is, p.kSize, g, dxs)
					continue
				}
				if dcol == nil {
					dcol = *getScratch[float32](kdim * maxCols)
				}
				asm.Sgemm(false, false, kdim, cols, m, 1, wt, m, d, cols, 0, dcol, cols)
				switch {
				case tab != nil:
					col2imTable(dcol[:kdim*cols], nb, c, is, p.kSize, os, tab, dxs)
				default:
					col2imChunk(dcol[:kdim*cols], nb, c, is, g, dxs)
				}
			}
		}
		mu.Lock()
		defer mu.Unlock()
		if !started {
			started = true
			dwtSum, dbSum = dwt, dbp
			return
		}
		for i, v := range dwt {
			dwtSum[i] += v
		}
		for i, v := range dbp {
			dbSum[i] += v
		}
	})
	if dw != nil {
		for i := 0; i < m; i++ {
			row := dw[i*kdim : (i+1)*kdim]
			for k := range row {
				row[k] = dwtSum[k*m+i]
			}
		}
	}
	if db != nil {
		copy(db, dbSum)
	}
}

// The wide layout, for unpadded stride-1 convolutions whose output is
// nearly as wide as the input: an image's columns are oh rows of the
// input's width w (output column x < ow is position x of the row; the
// w-ow columns after it are padding). dY gets zeros in the padding
// columns, and a tap's im2col row for one image is then one contiguous
// stretch of the input plane, and its col2im one contiguous add, instead
// of oh short pieces: the few extra GEMM columns cost less than the
// piecework. The padding columns of im2col hold other input elements,
// which the zeros of dY cancel as long as they are finite; likewise the
// padding columns of Wᵀ·dY are zeros when W is finite. convGradFast checks
// both and otherwise uses the compact layout.

// wideLayoutOK reports whether the 2-D geometry suits the wide layout:
// stride and dilation 1, no padding, w at most 5/4 of ow.
func wideLayoutOK(g *geom) bool {
	return len(g.in) == 2 && g.s[0] == 1 && g.s[1] == 1 && g.d[0] == 1 && g.d[1] == 1 &&
		g.pb[0] == 0 && g.pb[1] == 0 && g.pe[0] == 0 && g.pe[1] == 0 &&
		g.out[1] >= 8 && 4*g.in[1] <= 5*g.out[1]
}

// allFinite reports whether v holds no infinity or NaN.
func allFinite(v []float32) bool {
	var acc float32
	for _, x := range v {
		acc += x - x // 0 for finite x, NaN otherwise
	}
	return acc == 0
}

// im2colWide writes the wide-layout im2col matrix of nb images.
func im2colWide(x []float32, nb, c, inSize int, g *geom, col []float32) {
	w := g.in[1]
	kh, kw := g.k[0], g.k[1]
	oh, ow := g.out[0], g.out[1]
	osw := oh * w
	n := osw - (w - ow) // the last row stops at its last output column
	cols := nb * osw
	row := 0
	for ci := 0; ci < c; ci++ {
		for ki := 0; ki < kh; ki++ {
			for kj := 0; kj < kw; kj++ {
				crow := col[row*cols : (row+1)*cols]
				row++
				off := ki*w + kj
				for b := 0; b < nb; b++ {
					plane := x[(b*c+ci)*inSize : (b*c+ci+1)*inSize]
					dst := crow[b*osw : (b+1)*osw]
					copy(dst[:n], plane[off:off+n])
					clear(dst[n:])
				}
			}
		}
	}
}

// dxWide sets the nb images of dx from the wide-layout dY matrix d
// (m×(nb·oh·w)) without col2im: in the wide layout a tap's contribution
// to an input plane is one contiguous stretch at the tap's offset, so
// each tap is one GEMM, Wᵀ's rows of that tap (a c×m matrix inside wt,
// kdim×m) times the image's dY, accumulated straight into dX, whose
// planes are its rows. The image's dY is packed once for its kk taps.
func dxWide(wt, d []float32, nb, c, m, inSize, kk int, g *geom, dx []float32) {
	w, kw := g.in[1], g.k[1]
	oh, ow := g.out[0], g.out[1]
	osw := oh * w
	n := osw - (w - ow)
	cols := nb * osw
	clear(dx[:nb*c*inSize])
	buf := getScratch[float32](asm.PackedBLen(m, n))
	defer putScratch(buf)
	for b := 0; b < nb; b++ {
		pb := asm.PackBInto(false, m, n, d[b*osw:], cols, *buf)
		img := dx[b*c*inSize : (b+1)*c*inSize]
		for t := 0; t < kk; t++ {
			off := (t/kw)*w + t%kw
			asm.SgemmPacked(false, c, n, m, 1, wt[t*m:], kk*m, pb, 1, img[off:], inSize)
		}
	}
}

// dySource gives ConvGrad's dY image by image: the tensor dy, or, when dy
// is nil, computed from the gradient dp of a 2×2 stride-2 max pooling
// (geometry pool, pooled positions per plane) of the Relu output r, as
// MaxPoolGrad with activation="Relu" does.
type dySource struct {
	dy     []float32
	dp, r  []float32
	pool   *geom
	pooled int
}

// write writes dY of the nb images from n0 (m planes each, of the
// geometry g's oh×ow outputs) into the m×cols matrix d: plane (b, i) at
// d[i*cols+b*ocols], oh rows at stride rw (zeros after each row's ow
// values when rw > ow), and adds each plane's sum to db (when not nil).
func (s dySource) write(n0, nb, m int, g *geom, d []float32, cols, ocols, rw int, db []float32) {
	oh, ow := g.out[0], g.out[1]
	os := oh * ow
	for b := 0; b < nb; b++ {
		for i := 0; i < m; i++ {
			pl := (n0+b)*m + i
			dst := d[i*cols+b*ocols : i*cols+b*ocols+oh*rw]
			var sum float32
			switch {
			case s.dy == nil:
				sum = maxPoolGrad2x2PlaneF32(s.r[pl*os:(pl+1)*os], oh, ow, s.dp[pl*s.pooled:(pl+1)*s.pooled], s.pool.out[0], s.pool.out[1], dst, rw, true)
			case rw == ow:
				plane := s.dy[pl*os : (pl+1)*os]
				copyF32(dst, plane)
				if db != nil {
					sum = sumFloats(plane)
				}
			default:
				plane := s.dy[pl*os : (pl+1)*os]
				for y := 0; y < oh; y++ {
					row := plane[y*ow : (y+1)*ow]
					copyF32(dst[y*rw:y*rw+ow], row)
					clear(dst[y*rw+ow : (y+1)*rw])
				}
				if db != nil {
					sum = sumFloats(plane)
				}
			}
			if db != nil {
				db[i] += sum
			}
		}
	}
}

// tapTable returns, for every kernel tap t and output position p of the
// 2-D geometry g, the offset in an input plane that im2col reads at
// [t*outSize+p], or -1 in the padding.
func tapTable(g *geom) []int32 {
	h, w := g.in[0], g.in[1]
	kh, kw := g.k[0], g.k[1]
	oh, ow := g.out[0], g.out[1]
	os := oh * ow
	tab := make([]int32, kh*kw*os)
	for ki := 0; ki < kh; ki++ {
		for kj := 0; kj < kw; kj++ {
			t := tab[(ki*kw+kj)*os : (ki*kw+kj+1)*os]
			for y := 0; y < oh; y++ {
				iy := y*g.s[0] - g.pb[0] + ki*g.d[0]
				for x := 0; x < ow; x++ {
					ix := x*g.s[1] - g.pb[1] + kj*g.d[1]
					if iy < 0 || iy >= h || ix < 0 || ix >= w {
						t[y*ow+x] = -1
					} else {
						t[y*ow+x] = int32(iy*w + ix)
					}
				}
			}
		}
	}
	return tab
}

// useTapTable reports whether im2col and col2im walk a tap table (narrow
// outputs, where copying row pieces costs more in loop overhead than the
// copy itself) rather than rows.
func useTapTable(g *geom) bool { return g.out[1] < 16 }

// im2colTable is im2colChunk through the tap table tab.
func im2colTable(x []float32, nb, c, inSize int, kk, os int, tab []int32, col []float32) {
	cols := nb * os
	for ci := 0; ci < c; ci++ {
		for t := 0; t < kk; t++ {
			crow := col[(ci*kk+t)*cols : (ci*kk+t+1)*cols]
			tt := tab[t*os : (t+1)*os]
			for b := 0; b < nb; b++ {
				plane := x[(b*c+ci)*inSize : (b*c+ci+1)*inSize]
				dst := crow[b*os : (b+1)*os]
				dst = dst[:len(tt)]
				for p, o := range tt {
					if o >= 0 {
						dst[p] = plane[o]
					} else {
						dst[p] = 0
					}
				}
			}
		}
	}
}

// col2imTable is col2imChunk through the tap table tab.
func col2imTable(dcol []float32, nb, c, inSize int, kk, os int, tab []int32, dx []float32) {
	cols := nb * os
	clear(dx[:nb*c*inSize])
	for b := 0; b < nb; b++ {
		for ci := 0; ci < c; ci++ {
			plane := dx[(b*c+ci)*inSize : (b*c+ci+1)*inSize]
			for t := 0; t < kk; t++ {
				src := dcol[(ci*kk+t)*cols+b*os : (ci*kk+t)*cols+(b+1)*os]
				tt := tab[t*os : (t+1)*os]
				src = src[:len(tt)]
				for p, o := range tt {
					if o >= 0 {
						plane[o] += src[p]
					}
				}
			}
		}
	}
}

// im2colChunk writes the im2col matrix of nb images x (each c planes of
// inSize) over the 2-D geometry g into col, kdim rows of nb*outSize
// columns: row (ci, ki, kj), column b*outSize + oy*ow + ox.
func im2colChunk(x []float32, nb, c, inSize int, g *geom, col []float32) {
	h, w := g.in[0], g.in[1]
	kh, kw := g.k[0], g.k[1]
	oh, ow := g.out[0], g.out[1]
	sh, sw := g.s[0], g.s[1]
	dh, dw := g.d[0], g.d[1]
	ph, pw := g.pb[0], g.pb[1]
	os := oh * ow
	cols := nb * os
	row := 0
	for ci := 0; ci < c; ci++ {
		for ki := 0; ki < kh; ki++ {
			for kj := 0; kj < kw; kj++ {
				ix0 := kj*dw - pw
				lo, hi := validCols(ix0, ow, sw, w)
				crow := col[row*cols : (row+1)*cols]
				row++
				for b := 0; b < nb; b++ {
					plane := x[(b*c+ci)*inSize : (b*c+ci+1)*inSize]
					dst := crow[b*os : (b+1)*os]
					for y := 0; y < oh; y++ {
						d := dst[y*ow : (y+1)*ow]
						iy := y*sh - ph + ki*dh
						if iy < 0 || iy >= h {
							clear(d)
							continue
						}
						src := plane[iy*w : (iy+1)*w]
						if lo > 0 {
							clear(d[:lo])
						}
						if sw == 1 {
							copyF32(d[lo:hi], src[ix0+lo:ix0+hi])
						} else {
							for xx := lo; xx < hi; xx++ {
								d[xx] = src[ix0+xx*sw]
							}
						}
						if hi < ow {
							clear(d[hi:])
						}
					}
				}
			}
		}
	}
}

// col2imChunk is the adjoint of im2colChunk: it sets the nb images of dx
// to the sums of their dcol entries.
func col2imChunk(dcol []float32, nb, c, inSize int, g *geom, dx []float32) {
	h, w := g.in[0], g.in[1]
	kh, kw := g.k[0], g.k[1]
	oh, ow := g.out[0], g.out[1]
	sh, sw := g.s[0], g.s[1]
	dh, dw := g.d[0], g.d[1]
	ph, pw := g.pb[0], g.pb[1]
	os := oh * ow
	cols := nb * os
	clear(dx[:nb*c*inSize])
	for b := 0; b < nb; b++ {
		for ci := 0; ci < c; ci++ {
			plane := dx[(b*c+ci)*inSize : (b*c+ci)*inSize+h*w]
			row := ci * kh * kw
			for ki := 0; ki < kh; ki++ {
				for kj := 0; kj < kw; kj++ {
					src := dcol[row*cols+b*os : row*cols+(b+1)*os]
					row++
					ix0 := kj*dw - pw
					lo, hi := validCols(ix0, ow, sw, w)
					if lo >= hi {
						continue
					}
					for y := 0; y < oh; y++ {
						iy := y*sh - ph + ki*dh
						if iy < 0 || iy >= h {
							continue
						}
						dst := plane[iy*w : (iy+1)*w]
						s := src[y*ow : (y+1)*ow]
						if sw == 1 {
							addF32(dst[ix0+lo:ix0+hi], s[lo:hi])
						} else {
							for xx := lo; xx < hi; xx++ {
								dst[ix0+xx*sw] += s[xx]
							}
						}
					}
				}
			}
		}
	}
}

// copyF32 copies s into d (len(d) >= len(s)) eight floats at a time.
func copyF32(d, s []float32) {
	d = d[:len(s)]
	i := 0
	for ; i+8 <= len(s); i += 8 {
		*(*[8]float32)(d[i:]) = *(*[8]float32)(s[i:])
	}
	for ; i < len(s); i++ {
		d[i] = s[i]
	}
}

// addF32 adds s into d (len(d) >= len(s)).
func addF32(d, s []float32) {
	d = d[:len(s)]
	i := 0
	for ; i+4 <= len(s); i += 4 {
		dd, ss := (*[4]float32)(d[i:]), (*[4]float32)(s[i:])
		dd[0] += ss[0]
		dd[1] += ss[1]
		dd[2] += ss[2]
		dd[3] += ss[3]
	}
	for ; i < len(s); i++ {
		d[i] += s[i]
	}
}
