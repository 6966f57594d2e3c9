package ops

import (
	"fmt"
	"math"

	"github.com/onyxrt/onyx/tensor"
)

func registerResize(r *Registry) {
	for _, v := range []int{10, 11, 13, 18, 19} {
		r.Register(&Def{Name: "Resize", Since: v, Build: buildResize(v), Infer: inferResize})
	}
	r.Register(
		&Def{Name: "Upsample", Since: 7, Build: buildUpsample(false), Infer: inferResize},
		&Def{Name: "Upsample", Since: 9, Build: buildUpsample(true), Infer: inferResize},
	)
}

// resizeAttrs are the parsed attributes of a Resize or Upsample node.
type resizeAttrs struct {
	legacy      bool   // Upsample and Resize-10: asymmetric coordinates, ONNX Runtime's nearest rule
	mode        string // nearest, linear or cubic
	coord       string // coordinate_transformation_mode
	nearestMode string
	cubicA      float64
	exclude     bool
	extrap      float64
	antialias   bool
	axes        []int64 // nil: every axis
	keepAspect  string  // stretch, not_larger or not_smaller
}

func buildResize(version int) func(b *Builder) (Kernel, error) {
	return func(b *Builder) (Kernel, error) {
		a := &resizeAttrs{
			mode:        b.String("mode", "nearest"),
			coord:       "asymmetric",
			nearestMode: "round_prefer_floor",
			keepAspect:  "stretch",
		}
		if version < 11 {
			a.legacy = true
			if a.mode != "nearest" && a.mode != "linear" {
				return nil, fmt.Errorf("unsupported mode %q (want nearest or linear)", a.mode)
			}
		} else {
			a.coord = b.String("coordinate_transformation_mode", "half_pixel")
			a.nearestMode = b.String("nearest_mode", "round_prefer_floor")
			a.cubicA = float64(b.Float("cubic_coeff_a", -0.75))
			a.exclude = b.Int("exclude_outside", 0) != 0
			a.extrap = float64(b.Float("extrapolation_value", 0))
		}
		if version >= 18 {
			a.antialias = b.Int("antialias", 0) != 0
			a.axes = b.Ints("axes", nil)
			a.keepAspect = b.String("keep_aspect_ratio_policy", "stretch")
		}
		if err := b.Err(); err != nil {
			return nil, err
		}
		if err := a.validate(); err != nil {
			return nil, err
		}
		roiIn, scalesIn, sizesIn := 1, 2, 3
		if version < 11 {
			roiIn, scalesIn, sizesIn = -1, 1, -1
		}
		return KernelFunc(func(rc *RunContext, inputs []*tensor.Tensor) ([]*tensor.Tensor, error) {
			if err := Need(inputs, 1); err != nil {
				return nil, err
			}
			get := func(i int) *tensor.Tensor {
				if i < 0 {
					return nil
				}
				if t := Opt(inputs, i); t != nil && t.Len() > 0 {
					return t
				}
				return nil
			}
			var scales []float64
			var sizes []int64
			if t := get(scalesIn); t != nil {
				if !t.DType().IsFloat() {
					return nil, fmt.Errorf("scales must be float, got %v", t.DType())
				}
				scales = t.Float64s()
			}
			if t := get(sizesIn); t != nil {
				s, err := t.AsInt64s()
				if err != nil {
					return nil, fmt.Errorf("sizes: %w", err)
				}
				sizes = s
			}
			var roi []float64
			if t := get(roiIn); t != nil {
				if !t.DType().IsFloat() {
					return nil, fmt.Errorf("roi must be float, got %v", t.DType())
				}
				roi = t.Float64s()
			}
			y, err := resize(inputs[0], a, scales, sizes, roi)
			if err != nil {
				return nil, err
			}
			return rc.Results(y), nil
		}), nil
	}
}

func buildUpsample(scalesInput bool) func(b *Builder) (Kernel, error) {
	return func(b *Builder) (Kernel, error) {
		a := &resizeAttrs{legacy: true, mode: b.String("mode", "nearest"), coord: "asymmetric", keepAspect: "stretch"}
		if a.mode == "bilinear" {
			a.mode = "linear"
		}
		var attrScales []float64
		if !scalesInput {
			for _, s := range b.Floats("scales", nil) {
				attrScales = append(attrScales, float64(s))
			}
			if !b.Has("scales") {
				b.Fail("required attribute %q is missing", "scales")
			}
		}
		if err := b.Err(); err != nil {
			return nil, err
		}
		if a.mode != "nearest" && a.mode != "linear" {
			return nil, fmt.Errorf("unsupported mode %q (want nearest or linear)", a.mode)
		}
		return KernelFunc(func(rc *RunContext, inputs []*tensor.Tensor) ([]*tensor.Tensor, error) {
			n := 1
			if scalesInput {
				n = 2
			}
			if err := Need(inputs, n); err != nil {
				return nil, err
			}
			scales := attrScales
			if scalesInput {
				if !inputs[1].DType().IsFloat() {
					return nil, fmt.Errorf("scales must be float, got %v", inputs[1].DType())
				}
				scales = inputs[1].Float64s()
			}
			y, err := resize(inputs[0], a, scales, nil, nil)
			if err != nil {
				return nil, err
			}
			return rc.Results(y), nil
		}), nil
	}
}

func (a *resizeAttrs) validate() error {
	switch a.mode {
	case "nearest", "linear", "cubic":
	default:
		return fmt.Errorf("unsupported mode %q", a.mode)
	}
	switch a.coord {
	case "half_pixel", "half_pixel_symmetric", "pytorch_half_pixel", "align_corners",
		"asymmetric", "tf_half_pixel_for_nn", "tf_crop_and_resize":
	default:
		return fmt.Errorf("unsupported coordinate_transformation_mode %q", a.coord)
	}
	switch a.nearestMode {
	case "round_prefer_floor", "round_prefer_ceil", "floor", "ceil":
	default:
		return fmt.Errorf("unsupported nearest_mode %q", a.nearestMode)
	}
	switch a.keepAspect {
	case "stretch", "not_larger", "not_smaller":
	default:
		return fmt.Errorf("unsupported keep_aspect_ratio_policy %q", a.keepAspect)
	}
	return nil
}

// resizeAxis is how one axis of the input maps to the output: for each
// output coordinate, the input indices (clamped into range) and weights
// that make it, and whether it falls outside the crop box of
// tf_crop_and_resize.
type resizeAxis struct {
	in, out int
	taps    [][]resizeTap
	outside []bool // nil when no coordinate is outside
}

type resizeTap struct {
	idx int
	w   float64
}

// identity reports whether the axis is left as it is.
func (m *resizeAxis) identity() bool {
	if m.in != m.out || m.outside != nil {
		return false
	}
	for x, t := range m.taps {
		if len(t) != 1 || t[0].idx != x || t[0].w != 1 {
			return false
		}
	}
	return true
}

// resize resizes x following the Resize specification (and the ONNX
// reference implementation where the two differ). scales or sizes holds
// one entry per resized axis; roi holds starts then ends.
func resize(x *tensor.Tensor, a *resizeAttrs, scales []float64, sizes []int64, roi []float64) (*tensor.Tensor, error) {
	shape := x.Shape()
	rank := len(shape)
	axes, outShape, scale, err := resizeShape(shape, a, scales, sizes)
	if err != nil {
		return nil, err
	}
	roiStart := make([]float64, rank)
	roiEnd := make([]float64, rank)
	for i := range roiEnd {
		roiEnd[i] = 1
	}
	if a.coord == "tf_crop_and_resize" && !a.legacy {
		if len(roi) != 2*len(axes) {
			return nil, fmt.Errorf("roi has %d values, want %d", len(roi), 2*len(axes))
		}
		for j, ax := range axes {
			roiStart[ax], roiEnd[ax] = roi[j], roi[len(axes)+j]
		}
	}
	n, err := tensor.NumElements(outShape)
	if err != nil {
		return nil, err
	}
	if n > tensor.MaxBytes/8 {
		return nil, fmt.Errorf("output shape %v: %w", outShape, tensor.ErrTooLarge)
	}
	if n == 0 || x.Len() == 0 {
		if n != 0 {
			return nil, fmt.Errorf("cannot resize an empty tensor of shape %v to %v", shape, outShape)
		}
		return tensor.New(x.DType(), outShape...)
	}
	maps := make([]*resizeAxis, rank)
	for i := range maps {
		maps[i] = a.axisMap(shape[i], outShape[i], scale[i], roiStart[i], roiEnd[i])
	}
	if a.mode == "nearest" {
		return resizeNearest(x, maps, outShape, a.extrap)
	}
	if !x.DType().IsNumeric() {
		return nil, ErrDType("Resize "+a.mode, x.DType())
	}
	buf := x.Float64s()
	cur := append([]int(nil), shape...)
	for ax, m := range maps {
		if m.identity() {
			continue
		}
		buf = resizePass(buf, cur, ax, m)
		cur[ax] = m.out
	}
	applyOutside(buf, maps, outShape, a.extrap)
	y, err := tensor.FromSlice(outShape, buf)
	if err != nil {
		return nil, err
	}
	return y.Cast(x.DType())
}

// resizeShape checks scales or sizes against the input shape and returns
// the resized axes, the output shape and the scale of every axis.
func resizeShape(shape []int, a *resizeAttrs, scales []float64, sizes []int64) (axes, outShape []int, scale []float64, err error) {
	rank := len(shape)
	axes = make([]int, rank)
	for i := range axes {
		axes[i] = i
	}
	if a.axes != nil {
		if axes, err = NormAxes(a.axes, rank); err != nil {
			return nil, nil, nil, err
		}
	}
	switch {
	case scales != nil && sizes != nil:
		return nil, nil, nil, fmt.Errorf("only one of scales and sizes may be given")
	case scales == nil && sizes == nil:
		return nil, nil, nil, fmt.Errorf("one of scales and sizes is required")
	case scales != nil && len(scales) != len(axes):
		return nil, nil, nil, fmt.Errorf("scales has %d values, want %d", len(scales), len(axes))
	case sizes != nil && len(sizes) != len(axes):
		return nil, nil, nil, fmt.Errorf("sizes has %d values, want %d", len(sizes), len(axes))
	}
	scale = make([]float64, rank)
	outShape = append([]int(nil), shape...)
	for i := range scale {
		scale[i] = 1
	}
	if scales != nil {
		for j, ax := range axes {
			s := scales[j]
			if !(s > 0) || math.IsInf(s, 0) {
				return nil, nil, nil, fmt.Errorf("scale %v for axis %d must be positive", s, ax)
			}
			scale[ax] = s
			o := s * float64(shape[ax])
			if o > math.MaxInt32*64 {
				return nil, nil, nil, fmt.Errorf("scale %v for axis %d gives too large an output", s, ax)
			}
			outShape[ax] = int(o)
		}
	} else {
		for j, ax := range axes {
			if sizes[j] < 0 {
				return nil, nil, nil, fmt.Errorf("negative size %d for axis %d", sizes[j], ax)
			}
			if shape[ax] == 0 {
				if sizes[j] != 0 {
					return nil, nil, nil, fmt.Errorf("cannot resize an empty axis %d to size %d", ax, sizes[j])
				}
				continue
			}
			outShape[ax] = int(sizes[j])
			scale[ax] = float64(sizes[j]) / float64(shape[ax])
		}
		if a.keepAspect != "stretch" {
			s := scale[axes[0]]
			for _, ax := range axes[1:] {
				if a.keepAspect == "not_larger" {
					s = math.Min(s, scale[ax])
				} else {
					s = math.Max(s, scale[ax])
				}
			}
			for _, ax := range axes {
				scale[ax] = s
				outShape[ax] = int(s*float64(shape[ax]) + 0.5)
			}
		}
	}
	return axes, outShape, scale, nil
}

// coordinate maps output coordinate x of an axis to the input.
func (a *resizeAttrs) coordinate(x float64, scale float64, in, out int, r0, r1 float64) (xo float64, outside bool) {
	ow := scale * float64(in) // the reference uses the unrounded output width
	fin := float64(in)
	switch a.coord {
	case "align_corners":
		if ow == 1 {
			return 0, false
		}
		return x * (fin - 1) / (ow - 1), false
	case "asymmetric":
		return x / scale, false
	case "tf_crop_and_resize":
		// The reference subtracts the roi bounds in the roi's own
		// precision (float32 as a rule); do so too so that points on the
		// crop border fall on the same side.
		width, start := r1-r0, r0*(fin-1)
		if float64(float32(r0)) == r0 && float64(float32(r1)) == r1 {
			width = float64(float32(r1) - float32(r0))
		}
		if ow == 1 {
			xo = width * (fin - 1) / 2
		} else {
			xo = x * width * (fin - 1) / (ow - 1)
		}
		xo += start
		return xo, xo < 0 || xo > fin-1
	case "pytorch_half_pixel":
		if ow == 1 {
			return -0.5, false
		}
		return (x+0.5)/scale - 0.5, false
	case "half_pixel_symmetric":
		adj := float64(out) / ow
		offset := fin / 2 * (1 - adj)
		return offset + (x+0.5)/scale - 0.5, false
	case "tf_half_pixel_for_nn":
		return (x + 0.5) / scale, false
	}
	return (x+0.5)/scale - 0.5, false // half_pixel
}

// axisMap computes the taps of one axis.
func (a *resizeAttrs) axisMap(in, out int, scale, r0, r1 float64) *resizeAxis {
	m := &resizeAxis{in: in, out: out, taps: make([][]resizeTap, out)}
	clamp := func(i int) int { return min(max(i, 0), in-1) }
	for x := 0; x < out; x++ {
		xo, outside := a.coordinate(float64(x), scale, in, out, r0, r1)
		if outside {
			if m.outside == nil {
				m.outside = make([]bool, out)
			}
			m.outside[x] = true
			xo = math.Max(0, math.Min(xo, float64(in-1)))
		}
		if a.legacy && a.mode == "nearest" {
			// ONNX Runtime's rule for Upsample and Resize-10.
			idx := int(math.Floor(xo))
			if scale < 1 {
				idx = int(math.Ceil(xo))
			}
			m.taps[x] = []resizeTap{{clamp(idx), 1}}
			continue
		}
		// As in the reference: the fractional part lies in (0, 1] (1 on
		// an integer coordinate), and the taps are the n input indices
		// nearest to the coordinate, lower ones first on ties, found
		// after shifting the coordinate by n/2.
		r := 1.0
		if f := math.Floor(xo); f != xo {
			r = xo - f
		}
		ws := a.coeffs(r, scale)
		half := len(ws) / 2
		xp := xo + float64(half)
		var first int
		if fp := math.Floor(xp); fp == xp {
			first = int(fp) - 2*half
		} else {
			first = int(fp) - 2*half + 1
		}
		if a.mode == "nearest" {
			idx := first
			if ws[1] != 0 {
				idx++
			}
			m.taps[x] = []resizeTap{{clamp(idx), 1}}
			continue
		}
		if a.exclude {
			sum := 0.0
			for i := range ws {
				if j := first + i; j < 0 || j >= in {
					ws[i] = 0
				}
				sum += ws[i]
			}
			for i := range ws {
				ws[i] /= sum
			}
		}
		taps := make([]resizeTap, 0, len(ws))
		for i, w := range ws {
			if w == 0 {
				continue
			}
			idx := clamp(first + i)
			if k := len(taps); k > 0 && taps[k-1].idx == idx {
				taps[k-1].w += w
				continue
			}
			taps = append(taps, resizeTap{idx, w})
		}
		m.taps[x] = taps
	}
	return m
}

// coeffs returns the weights of the taps for fractional part r in (0, 1]
// (an even number of them), as the reference computes them.
func (a *resizeAttrs) coeffs(r, scale float64) []float64 {
	switch {
	case a.mode == "nearest":
		floor := r != 1 && (r <= 0.5 && a.nearestMode == "round_prefer_floor" ||
			r < 0.5 && a.nearestMode == "round_prefer_ceil" || a.nearestMode == "floor")
		if floor {
			return []float64{1, 0}
		}
		return []float64{0, 1}
	case a.antialias:
		support := 1.0
		kernel := linearKernel
		if a.mode == "cubic" {
			support = 2
			kernel = func(t float64) float64 { return cubicKernel(t, a.cubicA) }
		}
		s := math.Min(scale, 1)
		start := int(math.Floor(-support/s) + 1)
		var ws []float64
		sum := 0.0
		for i := start; i <= 1-start; i++ {
			w := kernel(s * (float64(i) - r))
			ws = append(ws, w)
			sum += w
		}
		for i := range ws {
			ws[i] /= sum
		}
		return ws
	case a.mode == "linear":
		return []float64{1 - r, r}
	}
	return cubicCoeffs(r, a.cubicA)
}

func linearKernel(t float64) float64 { return math.Max(0, 1-math.Abs(t)) }

// cubicKernel is Keys' cubic convolution kernel with parameter a.
func cubicKernel(t, a float64) float64 {
	t = math.Abs(t)
	t2 := t * t
	t3 := t * t2
	switch {
	case t <= 1:
		return (a+2)*t3 - (a+3)*t2 + 1
	case t < 2:
		return a*t3 - 5*a*t2 + 8*a*t - 4*a
	}
	return 0
}

// cubicCoeffs returns the weights of the four taps around a coordinate
// with fractional part r, computed as the ONNX reference does.
func cubicCoeffs(r, a float64) []float64 {
	q := 1 - r
	return []float64{
		((a*(r+1)-5*a)*(r+1)+8*a)*(r+1) - 4*a,
		((a+2)*r-(a+3))*r*r + 1,
		((a+2)*q-(a+3))*q*q + 1,
		((a*(q+1)-5*a)*(q+1)+8*a)*(q+1) - 4*a,
	}
}

// resizePass interpolates src (of shape) along axis with m.
func resizePass(src []float64, shape []int, axis int, m *resizeAxis) []float64 {
	outer, inner := splitAt(shape, axis)
	in, out := shape[axis], m.out
	dst := make([]float64, outer*out*inner)
	if inner == 1 {
		for o := 0; o < outer; o++ {
			s, d := src[o*in:(o+1)*in], dst[o*out:(o+1)*out]
			for x, taps := range m.taps {
				var v float64
				for _, t := range taps {
					v += t.w * s[t.idx]
				}
				d[x] = v
			}
		}
		return dst
	}
	for o := 0; o < outer; o++ {
		sb, db := o*in*inner, o*out*inner
		for x := 0; x < out; x++ {
			d := dst[db+x*inner : db+(x+1)*inner]
			for _, t := range m.taps[x] {
				s := src[sb+t.idx*inner : sb+(t.idx+1)*inner]
				for i, v := range s {
					d[i] += t.w * v
				}
			}
		}
	}
	return dst
}

// applyOutside sets every output element whose coordinate is outside the
// crop box on some axis to v.
func applyOutside[T any](buf []T, maps []*resizeAxis, shape []int, v T) {
	some := false
	for _, m := range maps {
		some = some || m.outside != nil
	}
	if !some {
		return
	}
	idx := make([]int, len(shape))
	for k := range buf {
		for ax, m := range maps {
			if m.outside != nil && m.outside[idx[ax]] {
				buf[k] = v
				break
			}
		}
		for j := len(idx) - 1; j >= 0; j-- {
			idx[j]++
			if idx[j] < shape[j] {
				break
			}
			idx[j] = 0
		}
	}
}

// resizeNearest gathers the nearest input element for every output
// element; it works for every element type.
func resizeNearest(x *tensor.Tensor, maps []*resizeAxis, outShape []int, extrap float64) (*tensor.Tensor, error) {
	strides := tensor.Strides(x.Shape())
	offs := make([][]int, len(maps))
	for ax, m := range maps {
		offs[ax] = make([]int, m.out)
		for i, t := range m.taps {
			offs[ax][i] = t[0].idx * strides[ax]
		}
	}
	var out any
	switch s := x.Data().(type) {
	case []float32:
		out = gatherNearest(s, offs, outShape, maps, extrap)
	case []float64:
		out = gatherNearest(s, offs, outShape, maps, extrap)
	case []tensor.Half:
		out = gatherNearest(s, offs, outShape, maps, extrap)
	case []tensor.BF16:
		out = gatherNearest(s, offs, outShape, maps, extrap)
	case []int8:
		out = gatherNearest(s, offs, outShape, maps, extrap)
	case []int16:
		out = gatherNearest(s, offs, outShape, maps, extrap)
	case []int32:
		out = gatherNearest(s, offs, outShape, maps, extrap)
	case []int64:
		out = gatherNearest(s, offs, outShape, maps, extrap)
	case []uint8:
		out = gatherNearest(s, offs, outShape, maps, extrap)
	case []uint16:
		out = gatherNearest(s, offs, outShape, maps, extrap)
	case []uint32:
		out = gatherNearest(s, offs, outShape, maps, extrap)
	case []uint64:
		out = gatherNearest(s, offs, outShape, maps, extrap)
	case []bool:
		out = gatherNearest(s, offs, outShape, maps, extrap)
	case []string:
		out = gatherNearest(s, offs, outShape, maps, extrap)
	default:
		return nil, ErrDType("Resize", x.DType())
	}
	return tensor.FromSlice(outShape, out)
}

func gatherNearest[T any](src []T, offs [][]int, shape []int, maps []*resizeAxis, extrap float64) []T {
	n := 1
	for _, d := range shape {
		n *= d
	}
	dst := make([]T, n)
	last := len(shape) - 1
	if last < 0 {
		dst[0] = src[0]
		return dst
	}
	inner := offs[last]
	idx := make([]int, last)
	base := 0
	for j := 0; j < last; j++ {
		base += offs[j][0]
	}
	for k := 0; k < n; k += shape[last] {
		row := dst[k : k+shape[last]]
		for i, o := range inner {
			row[i] = src[base+o]
		}
		for j := last - 1; j >= 0; j-- {
			base -= offs[j][idx[j]]
			idx[j]++
			if idx[j] < shape[j] {
				base += offs[j][idx[j]]
				break
			}
			idx[j] = 0
			base += offs[j][0]
		}
	}
	for _, m := range maps {
		if m.outside != nil {
			// Convert the extrapolation value to the element type.
			var v T
			if c, err := tensor.Scalar(extrap).Cast(tensor.DTypeOf(dst)); err == nil {
				if cs, ok := c.Data().([]T); ok {
					v = cs[0]
				}
			}
			applyOutside(dst, maps, shape, v)
			break
		}
	}
	return dst
}
