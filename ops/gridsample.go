package ops

import (
	"fmt"
	"math"

	"github.com/onyxrt/onyx/tensor"
)

// GridSample (opsets 16 and 20) and AffineGrid (opset 20).
//
// GridSample reads X [N, C, D1..Dk] at the locations of grid
// [N, O1..Ok, k], whose last axis holds normalized coordinates in reverse
// axis order (x for the last axis Dk first), and writes Y [N, C, O1..Ok].
// Opset 16 is 2-D only with modes bilinear/nearest/bicubic; opset 20 is
// N-D with modes linear/nearest/cubic. The arithmetic follows ONNX
// Runtime's CPU kernel: coordinates are denormalized in the element type,
// nearest rounds half to even, cubic uses Keys' kernel with a = -0.75, and
// the padding mode is applied to each sampled pixel index (zeros: outside
// pixels read 0; border: clamped; reflection: reflected at the borders,
// which are the pixel centres with align_corners and the image edges
// without).

type gsMode uint8

const (
	gsLinear gsMode = iota
	gsNearest
	gsCubic
)

type gsPadding uint8

const (
	gsZeros gsPadding = iota
	gsBorder
	gsReflection
)

// gridSampleAttrs are GridSample's parsed attributes.
type gridSampleAttrs struct {
	mode    gsMode
	padding gsPadding
	align   bool
	anyRank bool // opset 20: N-D input; opset 16: 4-D only
}

func buildGridSample(b *Builder) (Kernel, error) {
	a := gridSampleAttrs{anyRank: b.Opset >= 20}
	linear, cubic := "bilinear", "bicubic"
	if a.anyRank {
		linear, cubic = "linear", "cubic"
	}
	mode := b.String("mode", linear)
	pad := b.String("padding_mode", "zeros")
	a.align = b.Int("align_corners", 0) != 0
	if err := b.Err(); err != nil {
		return nil, err
	}
	switch mode {
	case linear:
		a.mode = gsLinear
	case "nearest":
		a.mode = gsNearest
	case cubic:
		a.mode = gsCubic
	default:
		return nil, fmt.Errorf("mode %q is not one of %s, nearest, %s", mode, linear, cubic)
	}
	switch pad {
	case "zeros":
		a.padding = gsZeros
	case "border":
		a.padding = gsBorder
	case "reflection":
		a.padding = gsReflection
	default:
		return nil, fmt.Errorf("padding_mode %q is not one of zeros, border, reflection", pad)
	}
	run := KernelFunc(func(rc *RunContext, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
		if err := Need(in, 2); err != nil {
			return nil, err
		}
		return rc.one(gridSample(rc, in[0], in[1], a))
	})
	return halfWrap(run), nil
}

func gridSample(rc *RunContext, x, grid *tensor.Tensor, a gridSampleAttrs) (*tensor.Tensor, error) {
	xs, gs := x.Shape(), grid.Shape()
	if len(xs) < 3 || (!a.anyRank && len(xs) != 4) {
		want := "at least 3"
		if !a.anyRank {
			want = "4"
		}
		return nil, fmt.Errorf("X must have rank %s, got shape %v", want, xs)
	}
	k := len(xs) - 2
	if len(gs) != len(xs) || gs[0] != xs[0] || gs[len(gs)-1] != k {
		return nil, fmt.Errorf("grid shape %v does not fit X shape %v (want [%d, ..., %d] of rank %d)", gs, xs, xs[0], k, len(xs))
	}
	if !grid.DType().IsFloat() {
		return nil, ErrDType("grid", grid.DType())
	}
	for _, d := range xs[2:] {
		if d == 0 {
			return nil, fmt.Errorf("X has an empty spatial dimension: shape %v", xs)
		}
	}
	yShape := append([]int{xs[0], xs[1]}, gs[1:len(gs)-1]...)
	if err := visCheckSize(yShape, 8); err != nil {
		return nil, err
	}
	switch x.DType() {
	case tensor.Float32:
		g, err := grid.Cast(tensor.Float32)
		if err != nil {
			return nil, err
		}
		y, err := gridSampleT(rc, x.Float32s(), xs, g.Float32s(), gs, a)
		if err != nil {
			return nil, err
		}
		return tensor.FromSlice(yShape, y)
	case tensor.Float64:
		y, err := gridSampleT(rc, x.Float64s(), xs, grid.Float64s(), gs, a)
		if err != nil {
			return nil, err
		}
		return tensor.FromSlice(yShape, y)
	case tensor.String, tensor.Bool:
		return nil, ErrDType("X", x.DType())
	}
	// Integers: sample in float64 and convert back (truncating, as Cast).
	y, err := gridSampleT(rc, x.Float64s(), xs, grid.Float64s(), gs, a)
	if err != nil {
		return nil, err
	}
	yt, err := tensor.FromSlice(yShape, y)
	if err != nil {
		return nil, err
	}
	return yt.Cast(x.DType())
}

// gsDenormalize maps a normalized coordinate to a pixel coordinate along
// an axis of size n.
func gsDenormalize[T Float](v T, n int, align bool) T {
	if align {
		return (v + 1) / 2 * T(n-1)
	}
	return ((v+1)*T(n) - 1) / 2
}

// gsReflect reflects v into [lo, hi] by repeated mirroring at the borders.
func gsReflect[T Float](v, lo, hi T) T {
	rng := hi - lo
	if rng <= 0 {
		return lo
	}
	switch {
	case v < lo:
		dx := lo - v
		n := math.Floor(float64(dx / rng))
		r := dx - T(n)*rng
		if math.Mod(n, 2) == 0 {
			return lo + r
		}
		return hi - r
	case v > hi:
		dx := v - hi
		n := math.Floor(float64(dx / rng))
		r := dx - T(n)*rng
		if math.Mod(n, 2) == 0 {
			return hi - r
		}
		return lo + r
	}
	return v
}

// gsCubicCoeffs returns Keys' cubic convolution weights (a = -0.75) of
// the four taps around a point at fraction t past the second tap.
func gsCubicCoeffs[T Float](t T) [4]T {
	const a = -0.75
	t = T(math.Abs(float64(t)))
	return [4]T{
		((a*(t+1)-5*a)*(t+1)+8*a)*(t+1) - 4*a,
		((a+2)*t-(a+3))*t*t + 1,
		((a+2)*(1-t)-(a+3))*(1-t)*(1-t) + 1,
		((a*(2-t)-5*a)*(2-t)+8*a)*(2-t) - 4*a,
	}
}

// gsAxis resolves the padding of pixel index i along an axis of size n
// with reflection borders lo, hi: it returns the index to read, or -1 for
// a zero.
func gsAxis[T Float](i int, n int, lo, hi T, pad gsPadding) int {
	switch pad {
	case gsZeros:
		if i < 0 || i >= n {
			return -1
		}
		return i
	case gsBorder:
		return min(max(i, 0), n-1)
	}
	r := int(gsReflect(T(i), lo, hi))
	return min(max(r, 0), n-1)
}

// gsFloor returns floor(v) as an int, saturating for values out of the
// int range (and NaN), which then fall outside any image.
func gsFloor[T Float](v T) int {
	const limit = math.MaxInt >> 1
	f := math.Floor(float64(v))
	switch {
	case f >= limit:
		return limit
	case f <= -limit:
		return -limit
	case f != f:
		return -limit
	}
	return int(f)
}

func gridSampleT[T Float](rc *RunContext, x []T, xs []int, grid []T, gs []int, a gridSampleAttrs) ([]T, error) {
	k := len(xs) - 2
	n, c := xs[0], xs[1]
	in := xs[2:]
	inStride := tensor.Strides(in)
	inSize := prod(in)
	points := prod(gs[1 : len(gs)-1])
	y := make([]T, n*c*points)
	if len(y) == 0 {
		return y, nil
	}
	lo, hi := make([]T, k), make([]T, k)
	for d, size := range in {
		lo[d], hi[d] = -0.5, T(size)-0.5
		if a.align {
			lo[d], hi[d] = 0, T(size-1)
		}
	}
	taps := 1
	switch a.mode {
	case gsLinear:
		taps = 2
	case gsCubic:
		taps = 4
	}
	// Per axis: the taps' offsets into the image (-1: zero) and weights.
	axOff := make([][]int, k)
	axW := make([][]T, k)
	for d := range axOff {
		axOff[d] = make([]int, taps)
		axW[d] = make([]T, taps)
	}
	total := 1
	for i := 0; i < k; i++ {
		total *= taps
	}
	offs := make([]int, 0, total)
	ws := make([]T, 0, total)
	ctr := make([]int, k)
	for b := 0; b < n; b++ {
		if err := rc.Err(); err != nil {
			return nil, err
		}
		for p := 0; p < points; p++ {
			g := grid[(b*points+p)*k : (b*points+p+1)*k]
			for d := 0; d < k; d++ {
				v := gsDenormalize(g[k-1-d], in[d], a.align)
				switch a.mode {
				case gsNearest:
					i := gsFloor(T(math.RoundToEven(float64(v))))
					axOff[d][0] = gsAxis(i, in[d], lo[d], hi[d], a.padding)
					axW[d][0] = 1
				case gsLinear:
					i := gsFloor(v)
					axOff[d][0] = gsAxis(i, in[d], lo[d], hi[d], a.padding)
					axOff[d][1] = gsAxis(i+1, in[d], lo[d], hi[d], a.padding)
					axW[d][0] = T(i+1) - v
					axW[d][1] = v - T(i)
				case gsCubic:
					i := gsFloor(v)
					cf := gsCubicCoeffs(v - T(i))
					for t := 0; t < 4; t++ {
						axOff[d][t] = gsAxis(i-1+t, in[d], lo[d], hi[d], a.padding)
						axW[d][t] = cf[t]
					}
				}
				for t := 0; t < taps; t++ {
					if axOff[d][t] >= 0 {
						axOff[d][t] *= inStride[d]
					}
				}
			}
			// Combine the axes' taps, dropping those that read a zero.
			offs, ws = offs[:0], ws[:0]
			clear(ctr)
		combos:
			for {
				off, w := 0, T(1)
				for d := 0; d < k; d++ {
					o := axOff[d][ctr[d]]
					if o < 0 {
						off = -1
						break
					}
					off += o
					w *= axW[d][ctr[d]]
				}
				if off >= 0 {
					offs = append(offs, off)
					ws = append(ws, w)
				}
				for d := k - 1; ; d-- {
					if d < 0 {
						break combos
					}
					ctr[d]++
					if ctr[d] < taps {
						break
					}
					ctr[d] = 0
				}
			}
			for ch := 0; ch < c; ch++ {
				img := x[(b*c+ch)*inSize : (b*c+ch+1)*inSize]
				var s T
				for t, o := range offs {
					s += ws[t] * img[o]
				}
				y[(b*c+ch)*points+p] = s
			}
		}
	}
	return y, nil
}

func inferGridSample(b *Builder, in []Meta) ([]Meta, error) {
	if len(in) < 2 || in[0].Shape == nil || in[1].Shape == nil || len(in[0].Shape) < 3 || len(in[1].Shape) < 2 {
		return []Meta{{DType: first(in).DType}}, nil
	}
	xs, gs := in[0].Shape, in[1].Shape
	out := append(tensor.SymShape{xs[0], xs[1]}, gs[1:len(gs)-1]...)
	return []Meta{{DType: in[0].DType, Shape: out}}, nil
}

// ---- AffineGrid ----

// AffineGrid makes the sampling grid of an affine transform: theta
// [N, 2, 3] with size [N, C, H, W] gives grid [N, H, W, 2], theta
// [N, 3, 4] with size [N, C, D, H, W] gives [N, D, H, W, 3]. Each grid
// point is theta applied to the normalized coordinates (x, y[, z], 1) of
// an output pixel: pixel centres spaced 2/size apart, or spanning [-1, 1]
// with align_corners.

func buildAffineGrid(b *Builder) (Kernel, error) {
	align := b.Int("align_corners", 0) != 0
	if err := b.Err(); err != nil {
		return nil, err
	}
	run := KernelFunc(func(rc *RunContext, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
		if err := Need(in, 2); err != nil {
			return nil, err
		}
		return rc.one(affineGrid(in[0], in[1], align))
	})
	return halfWrap(run), nil
}

func affineGrid(theta, size *tensor.Tensor, align bool) (*tensor.Tensor, error) {
	if size.DType() != tensor.Int64 {
		return nil, ErrDType("size", size.DType())
	}
	sz := size.Int64s()
	if size.Rank() != 1 || (len(sz) != 4 && len(sz) != 5) {
		return nil, fmt.Errorf("size must be a 1-D tensor of 4 or 5 values, got shape %v", size.Shape())
	}
	k := len(sz) - 2
	ts := theta.Shape()
	if len(ts) != 3 || int64(ts[0]) != sz[0] || ts[1] != k || ts[2] != k+1 {
		return nil, fmt.Errorf("theta shape %v does not fit size %v (want [%d, %d, %d])", ts, sz, sz[0], k, k+1)
	}
	dims := make([]int, k)
	for i, d := range sz[2:] {
		if d <= 0 || d > math.MaxInt32 {
			return nil, fmt.Errorf("size %v has a non-positive or absurd spatial dimension", sz)
		}
		dims[i] = int(d)
	}
	if sz[1] < 0 {
		return nil, fmt.Errorf("size %v has a negative channel count", sz)
	}
	shape := append(append([]int{ts[0]}, dims...), k)
	switch theta.DType() {
	case tensor.Float32:
		return affineGridT(theta.Float32s(), ts[0], dims, align, shape)
	case tensor.Float64:
		return affineGridT(theta.Float64s(), ts[0], dims, align, shape)
	}
	return nil, ErrDType("theta", theta.DType())
}

func affineGridT[T Float](theta []T, n int, dims []int, align bool, shape []int) (*tensor.Tensor, error) {
	if err := visCheckSize(shape, 8); err != nil {
		return nil, err
	}
	k := len(dims)
	// base[d][i] is the normalized coordinate of pixel i along axis d.
	base := make([][]T, k)
	for d, size := range dims {
		base[d] = make([]T, size)
		for i := range base[d] {
			switch {
			case !align:
				base[d][i] = T(2*i+1)/T(size) - 1
			case size > 1:
				base[d][i] = T(2*i)/T(size-1) - 1
			default:
				base[d][i] = -1
			}
		}
	}
	points := prod(dims)
	out := make([]T, n*points*k)
	idx := make([]int, k)
	hom := make([]T, k+1)
	hom[k] = 1
	for b := 0; b < n; b++ {
		th := theta[b*k*(k+1) : (b+1)*k*(k+1)]
		clear(idx)
		for p := 0; p < points; p++ {
			// hom = (x, y[, z], 1): the last axis first.
			for d := 0; d < k; d++ {
				hom[d] = base[k-1-d][idx[k-1-d]]
			}
			o := out[(b*points+p)*k : (b*points+p+1)*k]
			for r := 0; r < k; r++ {
				var s T
				for j, h := range hom {
					s += th[r*(k+1)+j] * h
				}
				o[r] = s
			}
			for d := k - 1; d >= 0; d-- {
				idx[d]++
				if idx[d] < dims[d] {
					break
				}
				idx[d] = 0
			}
		}
	}
	return tensor.FromSlice(shape, out)
}

func inferAffineGrid(b *Builder, in []Meta) ([]Meta, error) {
	m := Meta{DType: first(in).DType}
	if len(in) > 1 && in[1].Value != nil {
		if sz, err := in[1].Value.AsInt64s(); err == nil && (len(sz) == 4 || len(sz) == 5) {
			m.Shape = tensor.SymShape{{Size: sz[0]}}
			for _, d := range sz[2:] {
				m.Shape = append(m.Shape, tensor.Dim{Size: d})
			}
			m.Shape = append(m.Shape, tensor.Dim{Size: int64(len(sz) - 2)})
		}
	}
	return []Meta{m}, nil
}
