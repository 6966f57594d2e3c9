package ops

import (
	"math"

	"github.com/onyxrt/onyx/ops/asm"
)

// maxPoolRows is the 2-D MaxPool (no indices, no dilation) of every
// plane: per output row, the element-wise max of the window's input rows
// goes to a scratch row, whose windows give the outputs. It costs about
// kh + kw/s max operations per output instead of kh*kw.
func maxPoolRows[T Number](p *poolPlan, x, y []T, lowest T) {
	if x32, ok := any(x).([]float32); ok && asm.MaxColsSupported(p.g.k[1], p.g.s[1]) {
		maxPoolPlanes32(p, x32, any(y).([]float32), float32(lowest))
		return
	}
	g := p.g
	h, w, oh, ow := g.in[0], g.in[1], g.out[0], g.out[1]
	kh, kw, sh, sw := g.k[0], g.k[1], g.s[0], g.s[1]
	pt, pl := g.pb[0], g.pb[1]
	// Output columns whose window lies inside the row: [jlo, jhi).
	jlo := min(ow, (pl+sw-1)/sw)
	jhi := max(jlo, min(ow, (w-kw+pl)/sw+1))
	if w-kw+pl < 0 {
		jhi = jlo
	}
	tmp := make([]T, w+asm.MaxColsSlack)
	// float32 rows go through the vector kernels.
	tmp32, _ := any(tmp).([]float32)
	vec := tmp32 != nil && asm.MaxColsSupported(kw, sw)
	for pi := 0; pi < p.nc; pi++ {
		src := x[pi*p.inSize : (pi+1)*p.inSize]
		dst := y[pi*p.outSize : (pi+1)*p.outSize]
		for i := 0; i < oh; i++ {
			out := dst[i*ow : (i+1)*ow]
			y0 := i*sh - pt
			ylo, yhi := max(0, y0), min(h, y0+kh)
			if ylo >= yhi {
				for j := range out {
					out[j] = lowest
				}
				continue
			}
			copy(tmp, src[ylo*w:(ylo+1)*w])
			for yy := ylo + 1; yy < yhi; yy++ {
				r := src[yy*w : (yy+1)*w]
				if tmp32 != nil {
					asm.MaxRows(tmp32[:w], any(r).([]float32))
					continue
				}
				for j, v := range r {
					tmp[j] = max(tmp[j], v)
				}
			}
			edge := func(j int) {
				x0 := j*sw - pl
				a, b := max(0, x0), min(w, x0+kw)
				if a >= b {
					out[j] = lowest
					return
				}
				m := tmp[a]
				for _, v := range tmp[a+1 : b] {
					m = max(m, v)
				}
				out[j] = m
			}
			for j := 0; j < jlo; j++ {
				edge(j)
			}
			switch {
			case vec && jhi > jlo:
				asm.MaxCols(any(out[jlo:jhi]).([]float32), tmp32[jlo*sw-pl:], kw, sw)
			case kw == 2 && sw == 2:
				t := tmp[jlo*2-pl:]
				for j := jlo; j < jhi; j++ {
					o := (j - jlo) * 2
					out[j] = max(t[o], t[o+1])
				}
			case kw == 3 && sw == 2:
				t := tmp[jlo*2-pl:]
				for j := jlo; j < jhi; j++ {
					o := (j - jlo) * 2
					out[j] = max(t[o], t[o+1], t[o+2])
				}
			case kw == 3 && sw == 1:
				t := tmp[jlo-pl:]
				for j := jlo; j < jhi; j++ {
					o := j - jlo
					out[j] = max(t[o], t[o+1], t[o+2])
				}
			default:
				for j := jlo; j < jhi; j++ {
					x0 := j*sw - pl
					m := tmp[x0]
					for _, v := range tmp[x0+1 : x0+kw] {
						m = max(m, v)
					}
					out[j] = m
				}
			}
			for j := jhi; j < ow; j++ {
				edge(j)
			}
		}
	}
}

// maxPoolPlanes32 is the float32 2-D MaxPool (no indices, no dilation)
// for window widths and column strides that asm.MaxPlane handles (see
// maxPoolPlane32), plane by plane. Planes are split over p.threads
// goroutines, each with at least maxPoolSplitWork window elements.
func maxPoolPlanes32(p *poolPlan, x, y []float32, lowest float32) {
	// Locals for the job, so that p does not escape.
	g, inSize, outSize := p.g, p.inSize, p.outSize
	threads := max(1, min(p.threads, p.nc*outSize*g.k[0]*g.k[1]/maxPoolSplitWork))
	if v := p.maxVec; v != nil && lowest == maxPadFill {
		j := maxPadJob{g: g, v: v, x: x, y: y, inSize: inSize, outSize: outSize, wk: p.workers}
		if threads == 1 {
			j.run(0, p.nc) // no task to allocate when there is no pool
			return
		}
		p.workers.reserveScratch(v, threads, newMaxPadBuf)
		parallelForOf(p.workers, threads, p.nc, 1, j, (*maxPadJob).run)
		return
	}
	j := maxPoolJob{g: g, x: x, y: y, inSize: inSize, outSize: outSize, lowest: lowest, inside: windowsInside(g)}
	if threads == 1 {
		j.run(0, p.nc) // one thread: no task to take from the run's pool
		return
	}
	// The operands go into a task of the run's pool (parallelForOf):
	// the split allocates nothing.
	parallelForOf(p.workers, threads, p.nc, 1, j, (*maxPoolJob).run)
}

// maxPoolSplitWork is the fewest window elements (outputs times window
// size) a goroutine of a split max pool gets: about 20 µs of the vector
// kernels, several times a split's hand-off. (The MNIST CNN's second
// pool at batch 64, 4096 planes of 11×11 under 2×2 windows, is 409600.)
const maxPoolSplitWork = 1 << 16

// windowsInside reports whether every window of g lies inside its plane
// (no padding read, no window cut by the ceiling mode).
func windowsInside(g *geom) bool {
	ylo, yhi := insideRange(g.in[0], g.k[0], g.s[0], g.pb[0], g.out[0])
	xlo, xhi := insideRange(g.in[1], g.k[1], g.s[1], g.pb[1], g.out[1])
	return ylo == 0 && yhi == g.out[0] && xlo == 0 && xhi == g.out[1]
}

// maxPoolPadMaxOut is the most outputs of a plane that maxPoolPlanes32
// pools from a padded copy (poolPlan.maxVec): the border windows, which
// the copy hands to the vector kernel too, are many on small planes (a
// third of a 7×7 plane's under a 3×3 window with padding 1), and the
// copy (asm.CopyRows) costs about the NaN scan that it spares MaxPlane.
// A plane of 128×128 outputs at stride 2 copies 256 KiB, which stays in
// L2. (Measured with 3×3 windows
// at stride 2 and padding on one thread: 64 planes 112×112, 286 → 259
// µs; before the copy was one call, planes of more than 1024 outputs
// were pooled in place with their border windows walked in Go.)
const maxPoolPadMaxOut = 1 << 14

// maxPadFill is the padding of maxPadJob's copies: the lowest float32,
// which MaxPool starts its windows from (as ONNX Runtime does), so that
// a window gives the same whether it reads padding or not.
const maxPadFill = float32(-math.MaxFloat32)

// newMaxPadBuf makes a padded copy buffer (*[]float32) for the
// poolVecPlan v, all padding.
func newMaxPadBuf(v any) any {
	b := make([]float32, v.(*poolVecPlan).padLen())
	for i := range b {
		b[i] = maxPadFill
	}
	return &b
}

// maxPadJob is maxPoolPlanes32 on padded copies of the planes.
type maxPadJob struct {
	g               *geom
	v               *poolVecPlan
	x, y            []float32
	inSize, outSize int
	wk              *Workers // the run's pool, which keeps the copies
}

// run pools the planes [lo, hi).
func (j *maxPadJob) run(lo, hi int) {
	g, v := j.g, j.v
	buf, _ := j.wk.takeScratch(v).(*[]float32)
	if buf == nil {
		buf, _ = v.bufs.Get().(*[]float32)
	}
	if buf == nil {
		buf = newMaxPadBuf(v).(*[]float32)
	}
	defer func() {
		if !j.wk.keepScratch(v, buf) {
			v.bufs.Put(buf)
		}
	}()
	pad := *buf
	h, w := g.in[0], g.in[1]
	rows := min(h, v.rows-v.pads[0])
	cols := min(w, v.lds-v.pads[1])
	at := v.pads[0]*v.lds + v.pads[1]
	for pl := lo; pl < hi; pl++ {
		// The copy tells whether the plane holds a NaN (the padding
		// does not), which spares MaxPlane its scan.
		nan := asm.CopyRows(pad[at:], v.lds, j.x[pl*j.inSize:(pl+1)*j.inSize], w, rows, cols)
		asm.MaxPlaneScanned(j.y[pl*j.outSize:(pl+1)*j.outSize], g.out[1], g.out[1], g.out[0], pad, v.lds, g.k[0], g.k[1], g.s[0], g.s[1], nan)
	}
}

// maxPoolJob is the operands of a split maxPoolPlanes32.
type maxPoolJob struct {
	g               *geom
	x, y            []float32
	inSize, outSize int
	lowest          float32
	inside          bool // windowsInside(g)
}

// run pools the planes [lo, hi): when every window lies inside its plane
// all in one call of asm.MaxPlanes (small planes, such as the MNIST
// CNN's 11×11 ones, spent more on the checks, the NaN scan and the
// border logic of each call than on their windows: 4096 of them, 360 →
// 130-170 µs on one thread), but for a last plane that the kernel would
// read past the end of x.
func (j *maxPoolJob) run(lo, hi int) {
	g := j.g
	if j.inside && j.inSize > 0 && j.outSize > 0 {
		oh, ow := g.out[0], g.out[1]
		// The planes up to the last whose reads stay inside x.
		reach := ((oh-1)*g.s[0]+g.k[0]-1)*g.in[1] + (ow-1)*g.s[1] + g.k[1] - 1 + asm.MaxPlaneSlack
		n := hi - lo
		if end := len(j.x) - 1 - reach; end < 0 {
			n = 0
		} else {
			n = min(n, max(0, end/j.inSize-lo+1))
		}
		asm.MaxPlanes(j.y[lo*j.outSize:hi*j.outSize], ow, j.outSize, ow, oh, j.x[lo*j.inSize:], g.in[1], j.inSize, n, g.k[0], g.k[1], g.s[0], g.s[1])
		lo += n
	}
	for pi := lo; pi < hi; pi++ {
		maxPoolPlane32(g, j.x[pi*j.inSize:], g.in[1], 0, j.y[pi*j.outSize:(pi+1)*j.outSize], 0, g.out[0], j.lowest)
	}
}

// maxPoolPlane32 computes the output rows [pr0, pr1) of one plane of a
// float32 2-D MaxPool (no dilation; asm.MaxColsSupported(kw, sw)) of
// geometry g: the windows that lie inside the plane go to asm.MaxPlane,
// the border ones are walked here. src holds the input rows from r0 on,
// lds floats apart (input (iy, ix) is src[(iy-r0)*lds+ix]; lds ≥ the
// plane's width), at least every row the windows
// of the output rows read, and may extend past them (the vector kernel
// reads up to asm.MaxPlaneSlack floats past a window when src has them);
// dst is the output plane (output (i, j) is dst[i*ow+j]), and nothing
// past row pr1 of it is written.
func maxPoolPlane32(g *geom, src []float32, lds, r0 int, dst []float32, pr0, pr1 int, lowest float32) {
	h, w, ow := g.in[0], g.in[1], g.out[1]
	kh, kw, sh, sw := g.k[0], g.k[1], g.s[0], g.s[1]
	pt, pl := g.pb[0], g.pb[1]
	ylo, yhi := insideRange(h, kh, sh, pt, g.out[0])
	xlo, xhi := insideRange(w, kw, sw, pl, ow)
	ylo, yhi = max(ylo, pr0), min(yhi, pr1)
	dst = dst[:pr1*ow]
	window := func(i, j int) float32 {
		y0, x0 := i*sh-pt, j*sw-pl
		a, b := max(0, y0), min(h, y0+kh)
		c, d := max(0, x0), min(w, x0+kw)
		if a >= b || c >= d {
			return lowest
		}
		m := src[(a-r0)*lds+c]
		for yy := a; yy < b; yy++ {
			for _, v := range src[(yy-r0)*lds+c : (yy-r0)*lds+d] {
				m = max(m, v)
			}
		}
		return m
	}
	ny, nx := yhi-ylo, xhi-xlo
	if nx > 0 {
		// The kernel reads past the last window: keep it inside src.
		for ny > 0 {
			end := ((ylo+ny-1)*sh-pt+kh-1-r0)*lds + (xhi-1)*sw - pl + kw - 1 + asm.MaxPlaneSlack
			if end < len(src) {
				break
			}
			ny--
		}
	} else {
		ny = 0
	}
	if ny > 0 {
		asm.MaxPlane(dst[ylo*ow+xlo:], ow, nx, ny, src[(ylo*sh-pt-r0)*lds+xlo*sw-pl:], lds, kh, kw, sh, sw)
	}
	for i := pr0; i < pr1; i++ {
		out := dst[i*ow : (i+1)*ow]
		if i >= ylo && i < ylo+ny {
			for j := 0; j < xlo; j++ {
				out[j] = window(i, j)
			}
			for j := xhi; j < ow; j++ {
				out[j] = window(i, j)
			}
			continue
		}
		for j := range out {
			out[j] = window(i, j)
		}
	}
}

// insideRange returns the outputs [lo, hi) (of n) whose window of k
// inputs at stride s, starting at o*s-pad, lies inside [0, size).
func insideRange(size, k, s, pad, n int) (lo, hi int) {
	lo = min(n, (pad+s-1)/s)
	if size-k+pad < 0 {
		return lo, lo
	}
	hi = max(lo, min(n, (size-k+pad)/s+1))
	return lo, hi
}
