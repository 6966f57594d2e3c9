package ops

import (
	"fmt"
	"math"

	"github.com/onyxrt/onyx/tensor"
)

// DeformConv (opset 19): a 2-D convolution whose kernel taps are moved by
// learned offsets. For output pixel (oh, ow) and tap (i, j) of offset
// group g the input is read at
//
//	h = oh*sH - padTop  + i*dH + offset[n, g*2*kH*kW + 2*(i*kW+j),   oh, ow]
//	w = ow*sW - padLeft + j*dW + offset[n, g*2*kH*kW + 2*(i*kW+j)+1, oh, ow]
//
// by bilinear interpolation (pixels outside the image read 0), times
// mask[n, g*kH*kW + i*kW+j, oh, ow] when the mask is given. Input channel
// c belongs to offset group c / (C/offset_group). The sampled values form
// a deformable im2col buffer, and each (image, group) is one GEMM with the
// filter, as in Conv.

func registerDeformConv(r *Registry) {
	r.Register(&Def{Name: "DeformConv", Since: 19, Build: buildDeformConv})
}

// deformAttrs are DeformConv's attributes as read at load time.
type deformAttrs struct {
	spatialAttrs
	group, offGroup int
}

// deformPlan is a DeformConv resolved for one set of input shapes (2-D).
type deformPlan struct {
	n, c, m, group, offGroup int
	h, w, kh, kw, oh, ow     int
	sh, sw, dh, dw, ph, pw   int
}

func buildDeformConv(b *Builder) (Kernel, error) {
	a := deformAttrs{spatialAttrs: readSpatial(b, false)}
	a.group = int(b.Int("group", 1))
	a.offGroup = int(b.Int("offset_group", 1))
	if b.Has("auto_pad") {
		b.Fail("DeformConv has no auto_pad attribute")
	}
	if err := b.Err(); err != nil {
		return nil, err
	}
	if a.group <= 0 {
		return nil, fmt.Errorf("group must be positive, got %d", a.group)
	}
	if a.offGroup <= 0 {
		return nil, fmt.Errorf("offset_group must be positive, got %d", a.offGroup)
	}
	k := func(rc *RunContext, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
		if err := Need(in, 3); err != nil {
			return nil, err
		}
		X, W, off, B, mask := in[0], in[1], in[2], Opt(in, 3), Opt(in, 4)
		if err := sameDType("DeformConv", X, W, off, B, mask); err != nil {
			return nil, err
		}
		p, err := a.plan(X, W, off, B, mask)
		if err != nil {
			return nil, err
		}
		y, err := tensor.New(X.DType(), p.n, p.m, p.oh, p.ow)
		if err != nil {
			return nil, err
		}
		switch X.DType() {
		case tensor.Float32:
			deformRun(rc.threads(), p, X.Float32s(), W.Float32s(), off.Float32s(), optData[float32](B), optData[float32](mask), y.Float32s())
		case tensor.Float64:
			deformRun(rc.threads(), p, tensor.Data[float64](X), tensor.Data[float64](W), tensor.Data[float64](off),
				optData[float64](B), optData[float64](mask), tensor.Data[float64](y))
		default:
			return nil, ErrDType("DeformConv", X.DType())
		}
		return rc.Results(y), nil
	}
	return halfWrap(k), nil
}

// plan checks the input shapes and resolves the output geometry.
func (a *deformAttrs) plan(X, W, off, B, mask *tensor.Tensor) (*deformPlan, error) {
	xs, ws := X.Shape(), W.Shape()
	if len(xs) != 4 {
		return nil, fmt.Errorf("X has shape %v: only 2-D DeformConv (X of rank 4, N×C×H×W) is supported", xs)
	}
	if len(ws) != 4 {
		return nil, fmt.Errorf("W has shape %v, want rank 4 like X %v", ws, xs)
	}
	kdims := ws[2:]
	if a.kernel != nil && !tensor.ShapeEqual(a.kernel, kdims) {
		return nil, fmt.Errorf("kernel_shape %v does not match W shape %v", a.kernel, ws)
	}
	if kdims[0] <= 0 || kdims[1] <= 0 {
		return nil, fmt.Errorf("W shape %v has an empty kernel", ws)
	}
	n, c, m := xs[0], xs[1], ws[0]
	if m%a.group != 0 || ws[1]*a.group != c {
		return nil, fmt.Errorf("channels do not fit group %d: X has %d, W has shape %v", a.group, c, ws)
	}
	if c%a.offGroup != 0 {
		return nil, fmt.Errorf("X has %d channels, not a multiple of offset_group %d", c, a.offGroup)
	}
	g, err := a.forward(xs[2:], kdims, false)
	if err != nil {
		return nil, err
	}
	p := &deformPlan{n: n, c: c, m: m, group: a.group, offGroup: a.offGroup,
		h: xs[2], w: xs[3], kh: kdims[0], kw: kdims[1], oh: g.out[0], ow: g.out[1],
		sh: g.s[0], sw: g.s[1], dh: g.d[0], dw: g.d[1], ph: g.pb[0], pw: g.pb[1]}
	taps := p.kh * p.kw
	if want := []int{n, a.offGroup * 2 * taps, p.oh, p.ow}; !tensor.ShapeEqual(off.Shape(), want) {
		return nil, fmt.Errorf("offset has shape %v, want %v (N, offset_group*2*kH*kW, oH, oW)", off.Shape(), want)
	}
	if mask != nil {
		if want := []int{n, a.offGroup * taps, p.oh, p.ow}; !tensor.ShapeEqual(mask.Shape(), want) {
			return nil, fmt.Errorf("mask has shape %v, want %v (N, offset_group*kH*kW, oH, oW)", mask.Shape(), want)
		}
	}
	if B != nil && (B.Rank() != 1 || B.Len() != m) {
		return nil, fmt.Errorf("bias B has shape %v, want [%d]", B.Shape(), m)
	}
	return p, nil
}

// deformRun computes y = deformconv(x, w, offset, mask) + bias (bias and
// mask may be nil) on up to threads goroutines. Work items are (image,
// group, band of output rows); each goroutine has its own column buffer.
func deformRun[T float32 | float64](threads int, p *deformPlan, x, w, off, bias, mask, y []T) {
	cg, mg := p.c/p.group, p.m/p.group
	taps := p.kh * p.kw
	kdim := cg * taps
	outSize := p.oh * p.ow
	if outSize == 0 || p.m == 0 {
		return
	}
	rows := p.oh
	band := max(1, min(rows, im2colBudget/max(1, kdim*p.ow)))
	if units := p.n * p.group; threads > 1 && units < threads {
		band = max(1, min(band, (rows+threads-1)/threads))
	}
	bands := (rows + band - 1) / band
	items := p.n * p.group * bands
	parallelFor(nil, threads, items, 1, func(lo, hi int) {
		buf := getScratch[T](kdim * band * p.ow)
		defer putScratch(buf)
		col := *buf
		smp := newDeformSamples[T](band * p.ow)
		for it := lo; it < hi; it++ {
			bi := it % bands
			gi := (it / bands) % p.group
			n := it / (bands * p.group)
			r0 := bi * band
			r1 := min(r0+band, rows)
			cols := (r1 - r0) * p.ow
			yg := y[(n*p.m+gi*mg)*outSize : (n*p.m+(gi+1)*mg)*outSize]
			var beta T
			if bias != nil {
				fillBias(yg, bias[gi*mg:(gi+1)*mg], outSize, r0*p.ow, r1*p.ow)
				beta = 1
			}
			if kdim == 0 {
				if bias == nil {
					clear(yg)
				}
				continue
			}
			deformIm2col(p, x, off, mask, n, gi*cg, cg, r0, r1, col[:kdim*cols], smp)
			gemmT(false, false, mg, cols, kdim, 1, w[gi*mg*kdim:], kdim, col, cols, beta, yg[r0*p.ow:], outSize)
		}
	})
}

// deformSamples holds, for one tap and the pixels of a band, where and
// how to sample: the flat index of the top-left corner, the four corner
// weights (mask folded in) and which corners lie inside the image.
type deformSamples[T float32 | float64] struct {
	idx                []int
	w00, w01, w10, w11 []T
	in                 []uint8 // bit 0: top-left, 1: top-right, 2: bottom-left, 3: bottom-right
}

func newDeformSamples[T float32 | float64](n int) *deformSamples[T] {
	return &deformSamples[T]{idx: make([]int, n), w00: make([]T, n), w01: make([]T, n), w10: make([]T, n),
		w11: make([]T, n), in: make([]uint8, n)}
}

// deformIm2col fills col (kdim rows of (r1-r0)*ow columns, row
// (c*kH+i)*kW+j for channel c0+c and tap (i, j)) with the bilinearly
// sampled, masked input of image n for output rows [r0, r1). The sampling
// of a tap is computed once per offset group (into s) and used for all
// its channels.
func deformIm2col[T float32 | float64](p *deformPlan, x, off, mask []T, n, c0, cg, r0, r1 int, col []T, s *deformSamples[T]) {
	taps := p.kh * p.kw
	outSize := p.oh * p.ow
	plane := p.h * p.w
	cols := (r1 - r0) * p.ow
	cpo := p.c / p.offGroup // channels per offset group
	hf, wf := T(p.h), T(p.w)
	for c := c0; c < c0+cg; {
		og := c / cpo
		cEnd := min(c0+cg, (og+1)*cpo) // channels [c, cEnd) share offset group og
		offBase := (n*p.offGroup + og) * 2 * taps * outSize
		maskBase := (n*p.offGroup + og) * taps * outSize
		for i := 0; i < p.kh; i++ {
			for j := 0; j < p.kw; j++ {
				t := i*p.kw + j
				offH := off[offBase+2*t*outSize+r0*p.ow : offBase+2*t*outSize+r1*p.ow]
				offW := off[offBase+(2*t+1)*outSize+r0*p.ow : offBase+(2*t+1)*outSize+r1*p.ow]
				var mk []T
				if mask != nil {
					mk = mask[maskBase+t*outSize+r0*p.ow : maskBase+t*outSize+r1*p.ow]
				}
				for dst := range cols {
					oh, ow := r0+dst/p.ow, dst%p.ow
					hh := T(oh*p.sh-p.ph+i*p.dh) + offH[dst]
					ww := T(ow*p.sw-p.pw+j*p.dw) + offW[dst]
					// Outside (-1, H)×(-1, W) every corner is outside: 0.
					// The negated test also sends NaN coordinates here.
					if !(hh > -1 && hh < hf && ww > -1 && ww < wf) {
						s.in[dst] = 0
						continue
					}
					m := T(1)
					if mk != nil {
						m = mk[dst]
					}
					h0f, w0f := T(math.Floor(float64(hh))), T(math.Floor(float64(ww)))
					lh, lw := hh-h0f, ww-w0f
					h0, w0 := int(h0f), int(w0f)
					s.idx[dst] = h0*p.w + w0
					s.w00[dst], s.w01[dst] = m*(1-lh)*(1-lw), m*(1-lh)*lw
					s.w10[dst], s.w11[dst] = m*lh*(1-lw), m*lh*lw
					// Corners outside the image read 0; they are skipped, so
					// that a zero weight never meets an Inf or NaN pixel.
					var in uint8 = 15
					if h0 < 0 {
						in &^= 3
					}
					if h0+1 >= p.h {
						in &^= 12
					}
					if w0 < 0 {
						in &^= 5
					}
					if w0+1 >= p.w {
						in &^= 10
					}
					s.in[dst] = in
				}
				for ch := c; ch < cEnd; ch++ {
					xp := x[(n*p.c+ch)*plane : (n*p.c+ch+1)*plane]
					row := col[((ch-c0)*taps+t)*cols : ((ch-c0)*taps+t+1)*cols]
					for dst := range row {
						k := s.idx[dst]
						switch in := s.in[dst]; in {
						case 15:
							row[dst] = s.w00[dst]*xp[k] + s.w01[dst]*xp[k+1] + s.w10[dst]*xp[k+p.w] + s.w11[dst]*xp[k+p.w+1]
						case 0:
							row[dst] = 0
						default:
							var v T
							if in&1 != 0 {
								v += s.w00[dst] * xp[k]
							}
							if in&2 != 0 {
								v += s.w01[dst] * xp[k+1]
							}
							if in&4 != 0 {
								v += s.w10[dst] * xp[k+p.w]
							}
							if in&8 != 0 {
								v += s.w11[dst] * xp[k+p.w+1]
							}
							row[dst] = v
						}
					}
				}
			}
		}
		c = cEnd
	}
}
