package ops

import (
	"fmt"
	"math"
	"sync"

	"github.com/onyxrt/onyx/ops/asm"
	"github.com/onyxrt/onyx/tensor"
)

// This file holds the pooling operators: MaxPool (with its Indices
// output), AveragePool, LpPool, their Global forms, and MaxRoiPool.

func registerPool(r *Registry) {
	for _, v := range []int{1, 8, 10, 11, 12} {
		r.Register(&Def{Name: "MaxPool", Since: v, Build: buildMaxPool})
	}
	for _, v := range []int{1, 7, 10, 11, 19} {
		r.Register(&Def{Name: "AveragePool", Since: v, Build: buildAveragePool})
	}
	for _, v := range []int{1, 2, 11, 18} {
		r.Register(&Def{Name: "LpPool", Since: v, Build: buildLpPool})
	}
	r.Register(&Def{Name: "GlobalAveragePool", Since: 1, Build: buildGlobalPool(poolAvg)})
	r.Register(&Def{Name: "GlobalMaxPool", Since: 1, Build: buildGlobalPool(poolMax)})
	for _, v := range []int{1, 2} {
		r.Register(&Def{Name: "GlobalLpPool", Since: v, Build: buildGlobalPool(poolLp)})
	}
	r.Register(&Def{Name: "MaxRoiPool", Since: 1, Build: buildMaxRoiPool, Infer: inferRoiPool})
	for _, v := range []int{10, 16} {
		r.Register(&Def{Name: "RoiAlign", Since: v, Build: buildRoiAlign, Infer: inferRoiPool})
	}
	for _, v := range []int{9, 11} {
		r.Register(&Def{Name: "MaxUnpool", Since: v, Build: buildMaxUnpool, Infer: inferMaxUnpool})
	}
}

type poolKind int

const (
	poolMax poolKind = iota
	poolAvg
	poolLp
)

// poolAttrs are the attributes of MaxPool, AveragePool and LpPool.
type poolAttrs struct {
	spatialAttrs
	kind            poolKind
	ceil            bool
	countIncludePad bool
	storageColMajor bool
	p               float64
	wantIndices     bool
}

func readPoolAttrs(b *Builder, kind poolKind) (*poolAttrs, error) {
	a := &poolAttrs{spatialAttrs: readSpatial(b, true), kind: kind}
	a.ceil = b.Int("ceil_mode", 0) != 0
	a.countIncludePad = b.Int("count_include_pad", 0) != 0
	a.storageColMajor = b.Int("storage_order", 0) != 0
	a.p = readP(b)
	if err := b.Err(); err != nil {
		return nil, err
	}
	if len(a.kernel) == 0 {
		return nil, fmt.Errorf("kernel_shape must not be empty")
	}
	if kind == poolLp && a.p <= 0 {
		return nil, fmt.Errorf("p must be positive, got %v", a.p)
	}
	a.wantIndices = kind == poolMax && b.Out(1)
	return a, nil
}

// readP reads LpPool's p, a float before opset 2 and an int since.
func readP(b *Builder) float64 {
	if at, ok := b.Attrs["p"]; ok && at.Type == AttrFloat {
		return float64(b.Float("p", 2))
	}
	return float64(b.Int("p", 2))
}

// poolPlan lists, for every output position of one plane, the plane
// offsets of the input elements its window covers (CSR: taps of output o
// are offs[start[o]:start[o+1]]).
type poolPlan struct {
	nc              int // N*C planes
	inSize, outSize int
	g               *geom
	start, offs     []int
	padCount        []int // window taps inside the padded input, per output
	direct          bool  // 1-D or 2-D max/average pooling: no tap lists
	// global tells that each plane has one window, the whole plane,
	// without padding: the pool is the global one (globalPoolRun).
	global bool
	// avgBufs holds scratch of a direct AveragePool (*avgPoolBufs) for
	// runs without a worker pool to keep it (a pointer: plans are copied).
	avgBufs *sync.Pool
	// avgVec, for a float32 AveragePool whose windows asm.SumPlane takes
	// (no dilation), has the geometry of the zero-padded copy of a plane
	// that it sums all the windows of, and 1/count of each output's
	// window (nil when every window counts the same).
	avgVec *poolVecPlan
	// maxVec, for a float32 MaxPool of small planes with border windows,
	// has the geometry of the copy of a plane padded with the lowest
	// float32 that maxPoolPlanes32 pools all the windows of with
	// asm.MaxPlane (its pointer, unlike the plan's, is the same in every
	// run: the key of the copies a run's pool keeps).
	maxVec  *poolVecPlan
	threads int      // goroutines a run may use (fast MaxPool only)
	workers *Workers // the run's pool for them
}

func (a *poolAttrs) plan(xs []int) (*poolPlan, error) {
	n, c, sp, err := spatial(xs, 3, "X")
	if err != nil {
		return nil, err
	}
	if len(a.kernel) != len(sp) {
		return nil, fmt.Errorf("kernel_shape %v does not match the %d spatial axes of X %v", a.kernel, len(sp), xs)
	}
	g, err := a.forward(sp, a.kernel, a.ceil)
	if err != nil {
		return nil, err
	}
	for i := range sp {
		// As in ONNX Runtime: a pad as wide as the (dilated) kernel would
		// give windows that see padding only.
		if ek := (a.kernel[i]-1)*g.d[i] + 1; g.pb[i] >= ek || g.pe[i] >= ek {
			return nil, fmt.Errorf("pads %v must be smaller than the kernel %v on every axis", a.pads, a.kernel)
		}
	}
	p := &poolPlan{nc: n * c, inSize: prod(sp), outSize: prod(g.out), g: g}
	p.global = p.outSize == 1
	for i := range sp {
		p.global = p.global && g.k[i] == sp[i] && g.pb[i] == 0 && g.pe[i] == 0
	}
	if len(sp) <= 2 && a.kind != poolLp {
		p.direct = true // pool2D walks the windows itself
		if len(sp) == 1 {
			p.g = g.as2D()
		}
		switch a.kind {
		case poolAvg:
			p.avgBufs = &sync.Pool{}
			p.avgVec = newPoolVecPlan(p.g, a.countIncludePad, true)
		case poolMax:
			if v := newPoolVecPlan(p.g, false, false); v != nil && v.border && p.outSize <= maxPoolPadMaxOut {
				p.maxVec = v
			}
		}
		return p, nil
	}
	p.build(a.kind == poolAvg && a.countIncludePad)
	return p, nil
}

func (p *poolPlan) build(padCount bool) {
	g := p.g
	nd := len(g.in)
	inStr := tensor.Strides(g.in)
	ksz := prod(g.k)
	p.start = make([]int, p.outSize+1)
	p.offs = make([]int, 0, p.outSize*min(ksz, 64))
	if padCount {
		p.padCount = make([]int, p.outSize)
	}
	oidx := make([]int, nd)
	kidx := make([]int, nd)
	for o := 0; o < p.outSize; o++ {
		clear(kidx)
		np := 0
		for t := 0; t < ksz; t++ {
			off, inPad := 0, true
			for i := 0; i < nd; i++ {
				x := oidx[i]*g.s[i] - g.pb[i] + kidx[i]*g.d[i]
				if x < -g.pb[i] || x >= g.in[i]+g.pe[i] {
					inPad = false
				}
				if off >= 0 && x >= 0 && x < g.in[i] {
					off += x * inStr[i]
				} else {
					off = -1
				}
			}
			if off >= 0 {
				p.offs = append(p.offs, off)
			}
			if inPad {
				np++
			}
			for i := nd - 1; i >= 0; i-- {
				kidx[i]++
				if kidx[i] < g.k[i] {
					break
				}
				kidx[i] = 0
			}
		}
		if padCount {
			p.padCount[o] = np
		}
		p.start[o+1] = len(p.offs)
		for i := nd - 1; i >= 0; i-- {
			oidx[i]++
			if oidx[i] < g.out[i] {
				break
			}
			oidx[i] = 0
		}
	}
}

func (a *poolAttrs) outShape(xs []int, p *poolPlan) []int {
	if len(xs) == 3 && p.direct { // 1-D viewed as 2-D
		return []int{xs[0], xs[1], p.g.out[1]}
	}
	return append([]int{xs[0], xs[1]}, p.g.out...)
}

// taps2D returns the kernel taps [lo, hi) of a window starting at input
// coordinate x0 whose positions x0+t*d lie in [from, to).
func taps2D(x0, k, d, from, to int) (lo, hi int) {
	lo, hi = 0, k
	if x0 < from {
		lo = (from - x0 + d - 1) / d
	}
	if last := x0 + (k-1)*d; last >= to {
		hi = k - (last-to)/d - 1
	}
	return lo, max(hi, lo)
}

// maxPool2D is MaxPool over 2-D planes (1-D as a unit-height 2-D).
// maxPool2x2 is the 2×2, stride-2, unpadded MaxPool of every plane whose
// windows all lie inside the image (the common Keras MaxPooling2D).
func maxPool2x2[T Number](planes, h, w, oh, ow, inSize, outSize int, x, y []T) {
	for pl := 0; pl < planes; pl++ {
		src := x[pl*inSize : (pl+1)*inSize]
		dst := y[pl*outSize : (pl+1)*outSize]
		for i := 0; i < oh; i++ {
			r0 := src[2*i*w : 2*i*w+2*ow]
			r1 := src[(2*i+1)*w : (2*i+1)*w+2*ow]
			out := dst[i*ow : (i+1)*ow]
			for j := range out {
				out[j] = max(max(r0[2*j], r0[2*j+1]), max(r1[2*j], r1[2*j+1]))
			}
		}
	}
}

func maxPool2D[T Number](p *poolPlan, x, y []T, idx []int64, colMajor bool, lowest T) {
	g := p.g
	h, w, oh, ow := g.in[0], g.in[1], g.out[0], g.out[1]
	dy, dx := g.d[0], g.d[1]
	if _, f32 := any(x).([]float32); idx == nil && !f32 && g.k[0] == 2 && g.k[1] == 2 && g.s[0] == 2 && g.s[1] == 2 && dy == 1 && dx == 1 &&
		g.pb[0] == 0 && g.pb[1] == 0 && 2*oh <= h && 2*ow <= w {
		maxPool2x2(p.nc, h, w, oh, ow, p.inSize, p.outSize, x, y)
		return
	}
	if idx == nil && dy == 1 && dx == 1 {
		maxPoolRows(p, x, y, lowest)
		return
	}
	// Valid kernel taps of every output column, computed once.
	xr := make([][2]int, ow)
	for j := range xr {
		lo, hi := taps2D(j*g.s[1]-g.pb[1], g.k[1], dx, 0, w)
		xr[j] = [2]int{lo, hi}
	}
	for pl := 0; pl < p.nc; pl++ {
		src := x[pl*p.inSize : (pl+1)*p.inSize]
		dst := y[pl*p.outSize : (pl+1)*p.outSize]
		for i := 0; i < oh; i++ {
			y0 := i*g.s[0] - g.pb[0]
			ylo, yhi := taps2D(y0, g.k[0], dy, 0, h)
			for j, r := range xr {
				x0 := j*g.s[1] - g.pb[1]
				o := i*ow + j
				if ylo >= yhi || r[0] >= r[1] {
					dst[o] = lowest
					if idx != nil {
						idx[pl*p.outSize+o] = -1
					}
					continue
				}
				first := (y0+ylo*dy)*w + x0 + r[0]*dx
				best, bi := src[first], first
				if idx == nil {
					// Branch-free (the builtin max), which random data needs;
					// it also propagates NaN.
					for ty := ylo; ty < yhi; ty++ {
						start := (y0+ty*dy)*w + x0 + r[0]*dx
						row := src[start : start+(r[1]-r[0]-1)*dx+1]
						for t := 0; t < len(row); t += dx {
							best = max(best, row[t])
						}
					}
					dst[o] = best
					continue
				}
				for ty := ylo; ty < yhi; ty++ {
					start := (y0+ty*dy)*w + x0 + r[0]*dx
					row := src[start : start+(r[1]-r[0]-1)*dx+1]
					for t := 0; t < len(row); t += dx {
						if v := row[t]; v > best {
							best, bi = v, start+t
						}
					}
				}
				dst[o] = best
				switch {
				case colMajor:
					idx[pl*p.outSize+o] = int64(pl*p.inSize + (bi%w)*h + bi/w)
				default:
					idx[pl*p.outSize+o] = int64(pl*p.inSize + bi)
				}
			}
		}
	}
}

// avgPool2D is AveragePool over 2-D planes (1-D as a unit-height 2-D),
// the planes split over threads: a window's sum is the sum over its rows
// of each row's sum over the window's columns, every row summed once per
// output column for all the windows over it (k_h + k_w additions an
// output instead of k_h·k_w), in float64, then multiplied by 1 / the
// window's count of taps (inside the input, or inside the padded input
// with count_include_pad). Float32 planes whose windows asm.SumPlane takes
// (p.avgVec) go to it instead (or to asm.SumPlaneRows, which sums each
// row once, when the windows are one column apart), from zero-padded
// copies (avgPoolPlanes32).
func avgPool2D[T Float](p *poolPlan, x, y []T, includePad bool, wk *Workers, threads int) {
	g := p.g
	work := p.nc * p.outSize * (g.k[0] + g.k[1])
	threads = max(1, min(threads, work/minSplitWork))
	j := avgPoolJob[T]{p: p, x: x, y: y, includePad: includePad, wk: wk}
	if threads == 1 {
		j.run(0, p.nc) // no task to allocate when there is no pool
		return
	}
	wk.reserveScratch(p, threads, newAvgPoolBufs)
	parallelForOf(wk, threads, p.nc, 1, j, (*avgPoolJob[T]).run)
}

// poolVecPlan is how a float32 plane's windows all go to a vector kernel
// (asm.SumPlane for AveragePool, asm.MaxPlane for MaxPool): on a copy of
// the plane with pads[0] rows of padding above it and pads[1] columns
// left of it, rows lds floats apart, of rows rows (as many as the windows
// reach; the rows and columns past the input are padding too), the
// padding 0 for a sum, the lowest float32 for a maximum. Each sum is
// then scaled by its scale[output], 1 / its window's count of taps.
// border tells whether any window reads padding.
type poolVecPlan struct {
	pads      [2]int
	rows, lds int
	scale     []float32 // with asm.SumPlaneScaleSlack floats past the outputs'
	border    bool
	bufs      sync.Pool // MaxPool's padded copies (*[]float32) for runs without a worker pool
}

// newPoolVecPlan returns the poolVecPlan of the 2-D geometry g (with the
// counts of AveragePool's windows when avg), or nil when the vector
// kernels do not take its windows.
func newPoolVecPlan(g *geom, includePad, avg bool) *poolVecPlan {
	if g.d[0] != 1 || g.d[1] != 1 || !asm.MaxColsSupported(g.k[1], g.s[1]) || g.out[0] < 1 || g.out[1] < 1 {
		return nil
	}
	v := &poolVecPlan{pads: [2]int{g.pb[0], g.pb[1]}, rows: (g.out[0]-1)*g.s[0] + g.k[0], lds: (g.out[1]-1)*g.s[1] + g.k[1]}
	v.border = v.pads != [2]int{} || v.rows > g.in[0]+g.pb[0] || v.lds > g.in[1]+g.pb[1]
	if !avg {
		return v
	}
	v.scale = make([]float32, g.out[0]*g.out[1]+asm.SumPlaneScaleSlack)
	for i := 0; i < g.out[0]; i++ {
		y0 := i*g.s[0] - g.pb[0]
		lo, hi := taps2D(y0, g.k[0], 1, 0, g.in[0])
		if includePad {
			lo, hi = taps2D(y0, g.k[0], 1, -g.pb[0], g.in[0]+g.pe[0])
		}
		for j := 0; j < g.out[1]; j++ {
			x0 := j*g.s[1] - g.pb[1]
			l, h := taps2D(x0, g.k[1], 1, 0, g.in[1])
			if includePad {
				l, h = taps2D(x0, g.k[1], 1, -g.pb[1], g.in[1]+g.pe[1])
			}
			v.scale[i*g.out[1]+j] = 1 / float32((hi-lo)*(h-l)) // +Inf for no taps: 0·Inf, NaN, as 0/0
		}
	}
	return v
}

// padLen is the floats of the padded copy of a plane, with what
// asm.SumPlane may read past the last window.
func (v *poolVecPlan) padLen() int { return v.rows*v.lds + asm.MaxPlaneSlack }

// sumsLen is the floats of asm.SumPlaneRows' scratch for the geometry g
// (none for windows further apart).
func sumsLen(g *geom) int {
	if g.s[1] != 1 {
		return 0
	}
	return asm.SumPlaneRowsScratch(g.out[1], g.out[0], g.k[0], g.s[0])
}

// avgPoolPlanes32 is avgPool2D's float32 form for a plan with an
// poolVecPlan: each plane copied into the zero-padded buffer pad (of
// v.padLen floats, zero but where planes are copied) and all its windows
// summed by asm.SumPlane, or by asm.SumPlaneRows with the scratch sums
// (sumsLen floats) when they are one column apart.
func avgPoolPlanes32(p *poolPlan, x, y, pad, sums []float32, lo, hi int) {
	g, v := p.g, p.avgVec
	h, w := g.in[0], g.in[1]
	rows := min(h, v.rows-v.pads[0]) // input rows the windows reach
	cols := min(w, v.lds-v.pads[1])
	at := v.pads[0]*v.lds + v.pads[1]
	for pl := lo; pl < hi; pl++ {
		dst := y[pl*p.outSize : (pl+1)*p.outSize]
		asm.CopyRows(pad[at:], v.lds, x[pl*p.inSize:(pl+1)*p.inSize], w, rows, cols)
		if g.s[1] == 1 {
			asm.SumPlaneRows(dst, g.out[1], g.out[1], g.out[0], pad, v.lds, g.k[0], g.k[1], g.s[0], v.scale, sums)
			continue
		}
		asm.SumPlane(dst, g.out[1], g.out[1], g.out[0], pad, v.lds, g.k[0], g.k[1], g.s[0], g.s[1], v.scale)
	}
}

// avgPoolBufs is one goroutine's scratch for avgPool2D: the rows' sums
// and a row of sums and of 1/counts (f), the columns' taps and the
// columns summed one by one (i).
type avgPoolBufs struct {
	f    []float64
	i    []int32
	pad  []float32 // the zero-padded plane of avgPoolPlanes32
	sums []float32 // and the sums of its rows (asm.SumPlaneRows)
}

// avgPoolJob is one avgPool2D.
type avgPoolJob[T Float] struct {
	p          *poolPlan
	x, y       []T
	includePad bool
	wk         *Workers // the run's pool, which keeps the scratch
}

// newAvgPoolBufs makes scratch for the plan p (a *poolPlan) of avgPool2D.
func newAvgPoolBufs(p any) any {
	g := p.(*poolPlan).g
	h, ow := g.in[0], g.out[1]
	b := &avgPoolBufs{f: make([]float64, h*ow+2*ow), i: make([]int32, 5*ow)}
	if v := p.(*poolPlan).avgVec; v != nil {
		b.pad = make([]float32, v.padLen())
		b.sums = make([]float32, sumsLen(g))
	}
	return b
}

// run pools the planes [lo, hi).
func (j *avgPoolJob[T]) run(lo, hi int) {
	p, g := j.p, j.p.g
	h, w, oh, ow := g.in[0], g.in[1], g.out[0], g.out[1]
	bufs, _ := j.wk.takeScratch(p).(*avgPoolBufs)
	if bufs == nil {
		bufs, _ = p.avgBufs.Get().(*avgPoolBufs)
	}
	if bufs == nil {
		bufs = newAvgPoolBufs(p).(*avgPoolBufs)
	}
	defer func() {
		if !j.wk.keepScratch(p, bufs) {
			p.avgBufs.Put(bufs)
		}
	}()
	if p.avgVec != nil {
		if x, ok := any(j.x).([]float32); ok {
			avgPoolPlanes32(p, x, any(j.y).([]float32), bufs.pad, bufs.sums, lo, hi)
			return
		}
	}
	rs, acc, inv := bufs.f[:h*ow], bufs.f[h*ow:h*ow+ow], bufs.f[h*ow+ow:]
	// taps returns the taps [lo, hi) of output coordinate o on axis a
	// that lie in the input, and the window's count of taps.
	taps := func(a, o, size int) (x0, lo, hi, n int) {
		x0 = o*g.s[a] - g.pb[a]
		lo, hi = taps2D(x0, g.k[a], g.d[a], 0, size)
		n = hi - lo
		if j.includePad {
			l, h := taps2D(x0, g.k[a], g.d[a], -g.pb[a], size+g.pe[a])
			n = h - l
		}
		return x0, lo, hi, n
	}
	// The output columns' first input column, taps and counts.
	cols := bufs.i[:4*ow]
	for c := 0; c < ow; c++ {
		x0, tlo, thi, n := taps(1, c, w)
		cols[4*c], cols[4*c+1], cols[4*c+2], cols[4*c+3] = int32(x0), int32(tlo), int32(thi), int32(n)
	}
	d1, s1 := g.d[1], g.s[1]
	// The output columns [cLo, cHi) have all their taps inside the row.
	full := func(c int) bool { return cols[4*c+1] == 0 && int(cols[4*c+2]) == g.k[1] }
	cLo := 0
	for cLo < ow && !full(cLo) {
		cLo++
	}
	cHi := cLo
	for cHi < ow && full(cHi) {
		cHi++
	}
	// The other columns, summed one by one.
	edges := bufs.i[4*ow : 4*ow]
	for c := 0; c < ow; c++ {
		if c < cLo || c >= cHi {
			edges = append(edges, int32(c))
		}
	}
	for pl := lo; pl < hi; pl++ {
		src := j.x[pl*p.inSize : (pl+1)*p.inSize]
		dst := j.y[pl*p.outSize : (pl+1)*p.outSize]
		// Every input row's sums over the output columns' windows: the
		// columns whose windows lie inside the row tap by tap, each tap a
		// pass over them (independent additions), the others one by one.
		for r := 0; r < h; r++ {
			row := src[r*w : (r+1)*w]
			sums := rs[r*ow : (r+1)*ow]
			for _, c := range edges {
				x0, tlo, thi := int(cols[4*c]), int(cols[4*c+1]), int(cols[4*c+2])
				s := 0.0
				for t := tlo; t < thi; t++ {
					s += float64(row[x0+t*d1])
				}
				sums[c] = s
			}
			if cLo == cHi {
				continue
			}
			in := sums[cLo:cHi]
			clear(in)
			for t := 0; t < g.k[1]; t++ {
				off := cLo*s1 - g.pb[1] + t*d1
				if s1 == 1 {
					for c, v := range row[off : off+len(in)] {
						in[c] += float64(v)
					}
					continue
				}
				for c := range in {
					in[c] += float64(row[off+c*s1])
				}
			}
		}
		lastNY := -1
		for i := 0; i < oh; i++ {
			y0, tlo, thi, ny := taps(0, i, h)
			if ny != lastNY {
				// 1 / the windows' counts, for the rows of this count.
				for c := range inv {
					inv[c] = 1 / float64(ny*int(cols[4*c+3]))
				}
				lastNY = ny
			}
			if tlo < thi {
				r0 := y0 + tlo*g.d[0]
				copy(acc, rs[r0*ow:(r0+1)*ow])
			} else {
				clear(acc) // no taps: 0/0, NaN
			}
			for t := tlo + 1; t < thi; t++ {
				r := y0 + t*g.d[0]
				for c, v := range rs[r*ow : (r+1)*ow] {
					acc[c] += v
				}
			}
			out := dst[i*ow : (i+1)*ow]
			for c := range out {
				out[c] = T(acc[c] * inv[c])
			}
		}
	}
}

// ---- MaxPool ----

func buildMaxPool(b *Builder) (Kernel, error) {
	a, err := readPoolAttrs(b, poolMax)
	if err != nil {
		return nil, err
	}
	var plans shapeCache[*poolShape] // the plans of the last few input shapes
	k := func(rc *RunContext, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
		if err := Need(in, 1); err != nil {
			return nil, err
		}
		X := in[0]
		ps, err := a.shapePlan(&plans, X.Shape())
		if err != nil {
			return nil, err
		}
		pl := *ps.p
		p := &pl
		p.threads = rc.threads()
		p.workers = rc.workers()
		// Every path writes all of y.
		y, err := rc.NewUninit(X.DType(), ps.out...)
		if err != nil {
			return nil, err
		}
		var idx *tensor.Tensor
		var id []int64
		if a.wantIndices {
			// Every path writes all of idx too.
			if idx, err = rc.NewUninit(tensor.Int64, y.Shape()...); err != nil {
				return nil, err
			}
			id = idx.Int64s()
		}
		switch X.DType() {
		case tensor.Float32:
			maxPoolRun(p, X.Float32s(), y.Float32s(), id, a.storageColMajor, float32(-math.MaxFloat32))
		case tensor.Float64:
			maxPoolRun(p, tensor.Data[float64](X), tensor.Data[float64](y), id, a.storageColMajor, -math.MaxFloat64)
		case tensor.Int8:
			maxPoolRun(p, tensor.Data[int8](X), tensor.Data[int8](y), id, a.storageColMajor, math.MinInt8)
		case tensor.Uint8:
			maxPoolRun(p, tensor.Data[uint8](X), tensor.Data[uint8](y), id, a.storageColMajor, 0)
		default:
			return nil, ErrDType("MaxPool", X.DType())
		}
		return rc.Results(y, idx), nil
	}
	return halfWrap(k), nil
}

// poolShape is a pooling resolved for one input shape; the plan is only
// read (a run copies it to set its threads).
type poolShape struct {
	out []int
	p   *poolPlan
}

// shapePlan returns the pooling of an input of shape xs, from plans when
// it was resolved lately.
func (a *poolAttrs) shapePlan(plans *shapeCache[*poolShape], xs []int) (*poolShape, error) {
	key := shapeKey{xs}
	if ps, ok := plans.get(key); ok {
		return ps, nil
	}
	p, err := a.plan(xs)
	if err != nil {
		return nil, err
	}
	ps := &poolShape{p: p, out: a.outShape(xs, p)}
	plans.put(key, ps)
	return ps, nil
}

func maxPoolRun[T Number](p *poolPlan, x, y []T, idx []int64, colMajor bool, lowest T) {
	if p.direct {
		maxPool2D(p, x, y, idx, colMajor, lowest)
		return
	}
	var cm []int // column-major strides of the spatial dims
	if colMajor && idx != nil {
		cm = make([]int, len(p.g.in))
		acc := 1
		for i := range cm {
			cm[i] = acc
			acc *= p.g.in[i]
		}
	}
	for pl := 0; pl < p.nc; pl++ {
		src := x[pl*p.inSize : (pl+1)*p.inSize]
		dst := y[pl*p.outSize : (pl+1)*p.outSize]
		for o := range dst {
			taps := p.offs[p.start[o]:p.start[o+1]]
			best, bi := lowest, -1
			if len(taps) > 0 {
				best, bi = src[taps[0]], taps[0]
				for _, t := range taps[1:] {
					if v := src[t]; v > best {
						best, bi = v, t
					}
				}
			}
			dst[o] = best
			if idx == nil {
				continue
			}
			if bi < 0 {
				idx[pl*p.outSize+o] = -1
				continue
			}
			if cm != nil {
				off, rem := 0, bi
				for i := len(p.g.in) - 1; i >= 0; i-- {
					off += (rem % p.g.in[i]) * cm[i]
					rem /= p.g.in[i]
				}
				bi = off
			}
			idx[pl*p.outSize+o] = int64(pl*p.inSize + bi)
		}
	}
}

// ---- AveragePool and LpPool ----

func buildAveragePool(b *Builder) (Kernel, error) { return buildFloatPool(b, poolAvg) }
func buildLpPool(b *Builder) (Kernel, error)      { return buildFloatPool(b, poolLp) }

func buildFloatPool(b *Builder, kind poolKind) (Kernel, error) {
	a, err := readPoolAttrs(b, kind)
	if err != nil {
		return nil, err
	}
	name := map[poolKind]string{poolAvg: "AveragePool", poolLp: "LpPool"}[kind]
	var plans shapeCache[*poolShape] // the plans of the last few input shapes
	k := func(rc *RunContext, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
		if err := Need(in, 1); err != nil {
			return nil, err
		}
		X := in[0]
		ps, err := a.shapePlan(&plans, X.Shape())
		if err != nil {
			return nil, err
		}
		p := ps.p // only read
		// Every path writes all of y.
		y, err := rc.NewUninit(X.DType(), ps.out...)
		if err != nil {
			return nil, err
		}
		switch X.DType() {
		case tensor.Float32:
			floatPoolRun(a, p, X.Float32s(), y.Float32s(), rc.workers(), rc.threads())
		case tensor.Float64:
			floatPoolRun(a, p, tensor.Data[float64](X), tensor.Data[float64](y), rc.workers(), rc.threads())
		default:
			return nil, ErrDType(name, X.DType())
		}
		return rc.Results(y), nil
	}
	return halfWrap(k), nil
}

func floatPoolRun[T Float](a *poolAttrs, p *poolPlan, x, y []T, wk *Workers, threads int) {
	if p.global {
		globalPoolRun(a.kind, a.p, x, y)
		return
	}
	if p.direct {
		avgPool2D(p, x, y, a.countIncludePad, wk, threads)
		return
	}
	for pl := 0; pl < p.nc; pl++ {
		src := x[pl*p.inSize : (pl+1)*p.inSize]
		dst := y[pl*p.outSize : (pl+1)*p.outSize]
		for o := range dst {
			taps := p.offs[p.start[o]:p.start[o+1]]
			if a.kind == poolLp {
				dst[o] = T(lpNorm(src, taps, a.p))
				continue
			}
			var s T
			for _, t := range taps {
				s += src[t]
			}
			n := len(taps)
			if p.padCount != nil {
				n = p.padCount[o]
			}
			dst[o] = s / T(n)
		}
	}
}

func lpNorm[T Float](src []T, taps []int, p float64) float64 {
	var s float64
	switch p {
	case 1:
		for _, t := range taps {
			s += math.Abs(float64(src[t]))
		}
		return s
	case 2:
		for _, t := range taps {
			v := float64(src[t])
			s += v * v
		}
		return math.Sqrt(s)
	}
	for _, t := range taps {
		s += math.Pow(math.Abs(float64(src[t])), p)
	}
	return math.Pow(s, 1/p)
}

// ---- Global pools ----

func buildGlobalPool(kind poolKind) func(b *Builder) (Kernel, error) {
	name := map[poolKind]string{poolAvg: "GlobalAveragePool", poolMax: "GlobalMaxPool", poolLp: "GlobalLpPool"}[kind]
	return func(b *Builder) (Kernel, error) {
		p := 2.0
		if kind == poolLp {
			p = readP(b)
			if err := b.Err(); err != nil {
				return nil, err
			}
			if p <= 0 {
				return nil, fmt.Errorf("p must be positive, got %v", p)
			}
		}
		k := func(rc *RunContext, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
			if err := Need(in, 1); err != nil {
				return nil, err
			}
			X := in[0]
			xs := X.Shape()
			if len(xs) < 2 {
				return nil, fmt.Errorf("X must have rank at least 2, got shape %v", xs)
			}
			var outBuf [8]int
			out := append(outBuf[:0], xs[0], xs[1])
			for range xs[2:] {
				out = append(out, 1)
			}
			// Every element is written (a reduction of each plane).
			y, err := rc.NewUninit(X.DType(), out...)
			if err != nil {
				return nil, err
			}
			switch X.DType() {
			case tensor.Float32:
				globalPoolRun(kind, p, X.Float32s(), y.Float32s())
			case tensor.Float64:
				globalPoolRun(kind, p, tensor.Data[float64](X), tensor.Data[float64](y))
			default:
				return nil, ErrDType(name, X.DType())
			}
			return rc.Results(y), nil
		}
		return halfWrap(k), nil
	}
}

// sumFloats is the sum of v in eight interleaved partial sums, added
// pairwise at the end: one chain of dependent adds waits four cycles a
// value (MobileNetV2's GlobalAveragePool, 1280 planes of 49: 34 µs a run
// so, 23 µs this way).
func sumFloats[T Float](v []T) T {
	var s0, s1, s2, s3, s4, s5, s6, s7 T
	i := 0
	for ; i+8 <= len(v); i += 8 {
		w := v[i : i+8 : i+8]
		s0 += w[0]
		s1 += w[1]
		s2 += w[2]
		s3 += w[3]
		s4 += w[4]
		s5 += w[5]
		s6 += w[6]
		s7 += w[7]
	}
	for ; i < len(v); i++ {
		s0 += v[i]
	}
	return ((s0 + s1) + (s2 + s3)) + ((s4 + s5) + (s6 + s7))
}

func globalPoolRun[T Float](kind poolKind, p float64, x, y []T) {
	if len(y) == 0 {
		return
	}
	size := len(x) / len(y)
	var taps []int
	if kind == poolLp {
		taps = make([]int, size)
		for i := range taps {
			taps[i] = i
		}
	}
	for pl := range y {
		src := x[pl*size : (pl+1)*size]
		switch kind {
		case poolAvg:
			y[pl] = sumFloats(src) / T(size)
		case poolMax:
			best := T(math.Inf(-1))
			if size > 0 {
				best = src[0]
			}
			for _, v := range src {
				if v > best {
					best = v
				}
			}
			y[pl] = best
		case poolLp:
			y[pl] = T(lpNorm(src, taps, p))
		}
	}
}

// ---- MaxRoiPool ----

func buildMaxRoiPool(b *Builder) (Kernel, error) {
	pooled := ToInts(b.RequireInts("pooled_shape"))
	scale := float64(b.Float("spatial_scale", 1))
	if err := b.Err(); err != nil {
		return nil, err
	}
	if len(pooled) != 2 || pooled[0] <= 0 || pooled[1] <= 0 {
		return nil, fmt.Errorf("pooled_shape must hold two positive sizes, got %v", pooled)
	}
	k := func(rc *RunContext, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
		if err := Need(in, 2); err != nil {
			return nil, err
		}
		X, R := in[0], in[1]
		if err := sameDType("MaxRoiPool", X, R); err != nil {
			return nil, err
		}
		xs := X.Shape()
		if len(xs) != 4 {
			return nil, fmt.Errorf("X must be 4-D, got shape %v", xs)
		}
		if R.Rank() != 2 || R.Shape()[1] != 5 {
			return nil, fmt.Errorf("rois must have shape [num_rois, 5], got %v", R.Shape())
		}
		y, err := tensor.New(X.DType(), R.Shape()[0], xs[1], pooled[0], pooled[1])
		if err != nil {
			return nil, err
		}
		switch X.DType() {
		case tensor.Float32:
			err = maxRoiPoolRun(xs, X.Float32s(), R.Float32s(), pooled, scale, y.Float32s())
		case tensor.Float64:
			err = maxRoiPoolRun(xs, tensor.Data[float64](X), tensor.Data[float64](R), pooled, scale, tensor.Data[float64](y))
		default:
			return nil, ErrDType("MaxRoiPool", X.DType())
		}
		if err != nil {
			return nil, err
		}
		return rc.Results(y), nil
	}
	return halfWrap(k), nil
}

// maxRoiPoolRun follows Caffe's ROIPooling, as ONNX Runtime does.
func maxRoiPoolRun[T Float](xs []int, x, rois []T, pooled []int, scale float64, y []T) error {
	n, c, h, w := xs[0], xs[1], xs[2], xs[3]
	ph, pw := pooled[0], pooled[1]
	for r := 0; r < len(rois)/5; r++ {
		roi := rois[r*5 : r*5+5]
		bi := int(roi[0])
		if bi < 0 || bi >= n || float64(bi) != float64(roi[0]) {
			return fmt.Errorf("roi %d has batch index %v, out of range [0, %d)", r, roi[0], n)
		}
		x1 := int(math.Round(float64(roi[1]) * scale))
		y1 := int(math.Round(float64(roi[2]) * scale))
		x2 := int(math.Round(float64(roi[3]) * scale))
		y2 := int(math.Round(float64(roi[4]) * scale))
		rh := float64(max(y2-y1+1, 1)) / float64(ph)
		rw := float64(max(x2-x1+1, 1)) / float64(pw)
		for ci := 0; ci < c; ci++ {
			plane := x[(bi*c+ci)*h*w : (bi*c+ci+1)*h*w]
			dst := y[(r*c+ci)*ph*pw : (r*c+ci+1)*ph*pw]
			for i := 0; i < ph; i++ {
				hs := min(max(int(math.Floor(float64(i)*rh))+y1, 0), h)
				he := min(max(int(math.Ceil(float64(i+1)*rh))+y1, 0), h)
				for j := 0; j < pw; j++ {
					ws := min(max(int(math.Floor(float64(j)*rw))+x1, 0), w)
					we := min(max(int(math.Ceil(float64(j+1)*rw))+x1, 0), w)
					if he <= hs || we <= ws {
						dst[i*pw+j] = 0
						continue
					}
					best := plane[hs*w+ws]
					for yy := hs; yy < he; yy++ {
						for _, v := range plane[yy*w+ws : yy*w+we] {
							if v > best {
								best = v
							}
						}
					}
					dst[i*pw+j] = best
				}
			}
		}
	}
	return nil
}

// ---- RoiAlign ----

func buildRoiAlign(b *Builder) (Kernel, error) {
	mode := b.String("mode", "avg")
	oh := int(b.Int("output_height", 1))
	ow := int(b.Int("output_width", 1))
	ratio := int(b.Int("sampling_ratio", 0))
	scale := float64(b.Float("spatial_scale", 1))
	ctm := "output_half_pixel" // opset 10 behaviour
	if b.Opset >= 16 {
		ctm = b.String("coordinate_transformation_mode", "half_pixel")
	}
	if err := b.Err(); err != nil {
		return nil, err
	}
	if mode != "avg" && mode != "max" {
		return nil, fmt.Errorf("mode %q is not avg or max", mode)
	}
	if ctm != "half_pixel" && ctm != "output_half_pixel" {
		return nil, fmt.Errorf("coordinate_transformation_mode %q is not half_pixel or output_half_pixel", ctm)
	}
	if oh <= 0 || ow <= 0 || ratio < 0 {
		return nil, fmt.Errorf("output_height %d, output_width %d and sampling_ratio %d must be positive (ratio may be 0)", oh, ow, ratio)
	}
	ra := &roiAlign{max: mode == "max", oh: oh, ow: ow, ratio: ratio, scale: scale, halfPixel: ctm == "half_pixel"}
	k := func(rc *RunContext, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
		if err := Need(in, 3); err != nil {
			return nil, err
		}
		X, R, I := in[0], in[1], in[2]
		if err := sameDType("RoiAlign", X, R); err != nil {
			return nil, err
		}
		xs := X.Shape()
		if len(xs) != 4 {
			return nil, fmt.Errorf("X must be 4-D, got shape %v", xs)
		}
		if R.Rank() != 2 || R.Shape()[1] != 4 {
			return nil, fmt.Errorf("rois must have shape [num_rois, 4], got %v", R.Shape())
		}
		idx, err := I.AsInt64s()
		if err != nil {
			return nil, fmt.Errorf("batch_indices: %w", err)
		}
		nr := R.Shape()[0]
		if len(idx) != nr {
			return nil, fmt.Errorf("batch_indices has %d entries, rois has %d", len(idx), nr)
		}
		for i, v := range idx {
			if v < 0 || v >= int64(xs[0]) {
				return nil, fmt.Errorf("batch index %d of roi %d is out of range [0, %d)", v, i, xs[0])
			}
		}
		y, err := tensor.New(X.DType(), nr, xs[1], oh, ow)
		if err != nil {
			return nil, err
		}
		switch X.DType() {
		case tensor.Float32:
			roiAlignRun(ra, xs, X.Float32s(), R.Float32s(), idx, y.Float32s())
		case tensor.Float64:
			roiAlignRun(ra, xs, tensor.Data[float64](X), tensor.Data[float64](R), idx, tensor.Data[float64](y))
		default:
			return nil, ErrDType("RoiAlign", X.DType())
		}
		return rc.Results(y), nil
	}
	return halfWrap(k), nil
}

type roiAlign struct {
	max       bool
	oh, ow    int
	ratio     int
	scale     float64
	halfPixel bool
}

// roiSample is one bilinear sample: four plane offsets and their weights.
type roiSample struct {
	pos [4]int
	w   [4]float64
}

// roiAlignRun follows the ONNX reference (and ONNX Runtime): samples
// outside [-1, size] contribute zero; max mode takes the largest weighted
// corner of each sample.
func roiAlignRun[T Float](ra *roiAlign, xs []int, x, rois []T, idx []int64, y []T) {
	c, h, w := xs[1], xs[2], xs[3]
	off := 0.0
	if ra.halfPixel {
		off = 0.5
	}
	var samples []roiSample
	for r := range idx {
		roi := rois[r*4 : r*4+4]
		x1, y1 := float64(roi[0])*ra.scale-off, float64(roi[1])*ra.scale-off
		x2, y2 := float64(roi[2])*ra.scale-off, float64(roi[3])*ra.scale-off
		rw, rh := x2-x1, y2-y1
		if !ra.halfPixel {
			rw, rh = math.Max(rw, 1), math.Max(rh, 1)
		}
		bh, bw := rh/float64(ra.oh), rw/float64(ra.ow)
		gh, gw := ra.ratio, ra.ratio
		if ra.ratio == 0 {
			gh, gw = int(math.Ceil(rh/float64(ra.oh))), int(math.Ceil(rw/float64(ra.ow)))
		}
		count := float64(max(gh*gw, 1))
		// The samples of every bin, shared by all channels.
		samples = samples[:0]
		for ph := 0; ph < ra.oh; ph++ {
			for pw := 0; pw < ra.ow; pw++ {
				for iy := 0; iy < gh; iy++ {
					yy := y1 + float64(ph)*bh + (float64(iy)+0.5)*bh/float64(gh)
					for ix := 0; ix < gw; ix++ {
						xx := x1 + float64(pw)*bw + (float64(ix)+0.5)*bw/float64(gw)
						samples = append(samples, bilinearSample(yy, xx, h, w))
					}
				}
			}
		}
		per := gh * gw
		for ci := 0; ci < c; ci++ {
			plane := x[(int(idx[r])*c+ci)*h*w : (int(idx[r])*c+ci+1)*h*w]
			out := y[(r*c+ci)*ra.oh*ra.ow : (r*c+ci+1)*ra.oh*ra.ow]
			for b := range out {
				var acc float64
				for si, s := range samples[b*per : (b+1)*per] {
					if ra.max {
						v := max(s.w[0]*float64(plane[s.pos[0]]), s.w[1]*float64(plane[s.pos[1]]),
							s.w[2]*float64(plane[s.pos[2]]), s.w[3]*float64(plane[s.pos[3]]))
						if si == 0 || v > acc {
							acc = v
						}
						continue
					}
					for k := 0; k < 4; k++ {
						acc += s.w[k] * float64(plane[s.pos[k]])
					}
				}
				if !ra.max {
					acc /= count
				}
				out[b] = T(acc)
			}
		}
	}
}

func bilinearSample(y, x float64, h, w int) roiSample {
	if y < -1 || y > float64(h) || x < -1 || x > float64(w) {
		return roiSample{}
	}
	y, x = math.Max(y, 0), math.Max(x, 0)
	yl, xl := int(y), int(x)
	yh, xh := yl+1, xl+1
	if yl >= h-1 {
		yl, yh, y = h-1, h-1, float64(h-1)
	}
	if xl >= w-1 {
		xl, xh, x = w-1, w-1, float64(w-1)
	}
	ly, lx := y-float64(yl), x-float64(xl)
	hy, hx := 1-ly, 1-lx
	return roiSample{
		pos: [4]int{yl*w + xl, yl*w + xh, yh*w + xl, yh*w + xh},
		w:   [4]float64{hy * hx, hy * lx, ly * hx, ly * lx},
	}
}

// ---- MaxUnpool ----

func buildMaxUnpool(b *Builder) (Kernel, error) {
	a := readSpatial(b, true)
	if err := b.Err(); err != nil {
		return nil, err
	}
	k := func(rc *RunContext, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
		if err := Need(in, 2); err != nil {
			return nil, err
		}
		X, I := in[0], in[1]
		xs := X.Shape()
		n, c, sp, err := spatial(xs, 3, "X")
		if err != nil {
			return nil, err
		}
		if !tensor.ShapeEqual(I.Shape(), xs) {
			return nil, fmt.Errorf("indices have shape %v, X has %v", I.Shape(), xs)
		}
		idx, err := I.AsInt64s()
		if err != nil {
			return nil, fmt.Errorf("indices: %w", err)
		}
		if len(a.kernel) != len(sp) {
			return nil, fmt.Errorf("kernel_shape %v does not match the %d spatial axes of X %v", a.kernel, len(sp), xs)
		}
		g, err := a.resolve(sp, a.kernel)
		if err != nil {
			return nil, err
		}
		// The default output is the MaxPool input the indices refer to.
		def := []int{n, c}
		for i := range sp {
			def = append(def, (sp[i]-1)*g.s[i]+a.kernel[i]-g.pb[i]-g.pe[i])
		}
		out := def
		if os := Opt(in, 2); os != nil {
			v, err := os.AsInt64s()
			if err != nil {
				return nil, fmt.Errorf("output_shape: %w", err)
			}
			if len(v) != len(xs) || v[0] != int64(n) || v[1] != int64(c) {
				return nil, fmt.Errorf("output_shape %v does not fit X %v", v, xs)
			}
			out = ToInts(v)
		}
		y, err := tensor.New(X.DType(), out...)
		if err != nil {
			return nil, err
		}
		dst, err := unpoolTargets(idx, def, out)
		if err != nil {
			return nil, err
		}
		if err := scatterFlat(X, y, dst); err != nil {
			return nil, err
		}
		return rc.Results(y), nil
	}
	return KernelFunc(k), nil
}

// scatterFlat sets y[dst[i]] = x[i] for dst[i] >= 0 (same element types).
func scatterFlat(x, y *tensor.Tensor, dst []int) error {
	switch xv := x.Data().(type) {
	case []float32:
		scatterInto(xv, tensor.Data[float32](y), dst)
	case []float64:
		scatterInto(xv, tensor.Data[float64](y), dst)
	case []tensor.Half:
		scatterInto(xv, tensor.Data[tensor.Half](y), dst)
	default:
		return ErrDType("MaxUnpool", x.DType())
	}
	return nil
}

func scatterInto[T any](x, y []T, dst []int) {
	for i, o := range dst {
		if o >= 0 {
			y[o] = x[i]
		}
	}
}

// unpoolTargets maps MaxUnpool's indices, flat positions in the default
// output shape def, to flat positions in the output shape out (-1 for a
// position that out crops away).
func unpoolTargets(idx []int64, def, out []int) ([]int, error) {
	dst := make([]int, len(idx))
	total := prod(def)
	dstr, ostr := tensor.Strides(def), tensor.Strides(out)
	for i, v := range idx {
		if v < 0 || v >= int64(total) {
			return nil, fmt.Errorf("index %d is out of range for output shape %v", v, def)
		}
		o := 0
		for d := range def {
			co := int(v) / dstr[d] % def[d]
			if co >= out[d] {
				o = -1
				break
			}
			o += co * ostr[d]
		}
		dst[i] = o
	}
	return dst, nil
}
