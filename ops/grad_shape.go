package ops

import (
	"fmt"

	"github.com/onyxrt/onyx/tensor"
)

// Gradients of the layout operators Gather, Slice, Pad, Expand, Tile and
// Split: the rules, and the backward kernels GatherGrad, SliceGrad,
// PadGrad, TileGrad and SplitGrad (registered in GradDomain by
// registerGradNNKernels). A rule cannot see shapes, so the kernels take
// the forward input's shape as a 1-D int64 tensor (a Shape node the rule
// emits).

func registerGradShapeKernels(r *Registry) {
	for _, d := range []struct {
		name  string
		build func(*Builder) (Kernel, error)
	}{
		{"GatherGrad", buildGatherGrad},
		{"SliceGrad", buildSliceGrad},
		{"PadGrad", buildPadGrad},
		{"TileGrad", buildTileGrad},
		{"SplitGrad", buildSplitGrad},
	} {
		r.Register(&Def{Domain: GradDomain, Name: d.name, Since: 1, Build: d.build})
	}
}

// ---- rules ----

// gradLayout returns the rule of one of this file's operators, or nil.
func gradLayout(name string) GradFunc {
	switch name {
	case "Gather":
		return gradGather
	case "Slice":
		return gradSlice
	case "Pad":
		return gradPad
	case "Expand":
		return gradExpand
	case "Tile":
		return gradTile
	case "Split":
		return gradSplit
	}
	return nil
}

// constInt64s adds a 1-D int64 constant.
func constInt64s(g GradContext, v []int64) string {
	return g.Const(tensor.From([]int{len(v)}, append([]int64{}, v...)))
}

// gradGather: dX = GatherGrad(Shape(X), indices, dY), a scatter-add into
// zeros (the gradient of an embedding lookup).
func gradGather(g GradContext) error {
	dy := g.OutputGrad(0)
	if dy == "" || !g.NeedsGrad(0) {
		return nil
	}
	axis := g.Node().Int("axis", 0)
	if err := g.Node().Err(); err != nil {
		return err
	}
	dx := g.Emit(GradDomain, "GatherGrad", []string{gradShapeOf(g, 0), g.Input(1), dy}, 1, IntAttr("axis", axis))
	g.SetInputGrad(0, dx[0])
	return nil
}

// gradSlice: dX = SliceGrad(dY, Shape(X), starts, ends, axes, steps): dY
// written into zeros at the sliced positions.
func gradSlice(g GradContext) error {
	dy := g.OutputGrad(0)
	if dy == "" || !g.NeedsGrad(0) {
		return nil
	}
	b := g.Node()
	in := []string{dy, gradShapeOf(g, 0)}
	if b.Opset < 10 {
		starts, ends := b.RequireInts("starts"), b.RequireInts("ends")
		axes := b.Ints("axes", nil)
		if err := b.Err(); err != nil {
			return err
		}
		in = append(in, constInt64s(g, starts), constInt64s(g, ends))
		if axes != nil {
			in = append(in, constInt64s(g, axes))
		}
	} else {
		for i := 1; i < min(b.NumInputs, 5); i++ {
			in = append(in, g.Input(i))
		}
	}
	g.SetInputGrad(0, g.Emit(GradDomain, "SliceGrad", in, 1)[0])
	return nil
}

// gradPad: PadGrad(dY, Shape(X), pads, constant_value, axes) adds every
// element of dY into the input element it was read from (so edge, reflect
// and wrap padding sum their copies), and sums the constant-mode padding
// into the gradient of constant_value.
func gradPad(g GradContext) error {
	dy := g.OutputGrad(0)
	wantCV := g.NeedsGrad(2) && g.Input(2) != ""
	if dy == "" || (!g.NeedsGrad(0) && !wantCV) {
		return nil
	}
	b := g.Node()
	mode := b.String("mode", "constant")
	in := []string{dy, gradShapeOf(g, 0)}
	if b.Opset < 11 {
		name := "pads"
		if b.Opset < 2 {
			name = "paddings"
		}
		pads := b.RequireInts(name)
		if err := b.Err(); err != nil {
			return err
		}
		in = append(in, constInt64s(g, pads))
	} else {
		if err := b.Err(); err != nil {
			return err
		}
		for i := 1; i < min(b.NumInputs, 4); i++ {
			in = append(in, g.Input(i))
		}
	}
	nOut := 1
	if wantCV {
		nOut = 2
	}
	out := g.Emit(GradDomain, "PadGrad", in, nOut, StringAttr("mode", mode))
	if g.NeedsGrad(0) {
		g.SetInputGrad(0, out[0])
	}
	if wantCV {
		g.SetInputGrad(2, out[1])
	}
	return nil
}

// gradExpand: dX = SumToShape(dY, Shape(X)).
func gradExpand(g GradContext) error {
	if dy := g.OutputGrad(0); dy != "" && g.NeedsGrad(0) {
		setSummedGrad(g, 0, dy)
	}
	return nil
}

// gradTile: dX = TileGrad(dY, Shape(X)), the sum of the tiles.
func gradTile(g GradContext) error {
	dy := g.OutputGrad(0)
	if dy == "" || !g.NeedsGrad(0) {
		return nil
	}
	g.SetInputGrad(0, g.Emit(GradDomain, "TileGrad", []string{dy, gradShapeOf(g, 0)}, 1)[0])
	return nil
}

// gradSplit: dX = SplitGrad(Shape(X), split, dY_0..dY_n-1), the outputs'
// gradients concatenated (zeros for those without one). SplitGrad sizes
// the parts as Split did, from the split sizes (the input, or the
// attribute before opset 13), num_outputs (opset 18) or an equal division.
func gradSplit(g GradContext) error {
	if !g.NeedsGrad(0) {
		return nil
	}
	b := g.Node()
	n := b.NumOutputs
	in := []string{gradShapeOf(g, 0), ""}
	flows := false
	for i := range n {
		d := g.OutputGrad(i)
		flows = flows || d != ""
		in = append(in, d)
	}
	if !flows {
		return nil
	}
	attrs := []*Attr{IntAttr("axis", b.Int("axis", 0))}
	switch {
	case (b.Opset >= 13 || b.Opset < 2) && g.Input(1) != "":
		in[1] = g.Input(1)
	case b.Opset < 13 && b.Has("split"):
		in[1] = constInt64s(g, b.Ints("split", nil))
	}
	if b.Opset >= 18 && b.Has("num_outputs") {
		attrs = append(attrs, IntAttr("num_outputs", b.Int("num_outputs", 0)))
	}
	if err := b.Err(); err != nil {
		return err
	}
	g.SetInputGrad(0, g.Emit(GradDomain, "SplitGrad", in, 1, attrs...)[0])
	return nil
}

// ---- kernels ----

// gradFloat fails unless t holds float32 or float64 (kernels see float16
// and bfloat16 widened by halfWrap).
func gradFloat(what string, t *tensor.Tensor) error {
	return checkDType(what, t, tensor.Float32, tensor.Float64)
}

// buildGatherGrad: inputs shape, indices, dY; output dX of that shape,
// zero except for the sums of the dY slices gathered from each index.
func buildGatherGrad(b *Builder) (Kernel, error) {
	axis := b.Int("axis", 0)
	if err := b.Err(); err != nil {
		return nil, err
	}
	k := func(rc *RunContext, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
		if err := Need(in, 3); err != nil {
			return nil, err
		}
		shape, err := gradShapeArg(in[0], "shape")
		if err != nil {
			return nil, err
		}
		ind, dY := in[1], in[2]
		if err := gradFloat("GatherGrad", dY); err != nil {
			return nil, err
		}
		if len(shape) == 0 {
			return nil, fmt.Errorf("cannot gather from a scalar")
		}
		a, err := NormAxis(axis, len(shape))
		if err != nil {
			return nil, err
		}
		idx, err := gatherIndexList(ind, shape[a])
		if err != nil {
			return nil, err
		}
		ys := append(append(append([]int{}, shape[:a]...), ind.Shape()...), shape[a+1:]...)
		if !tensor.ShapeEqual(dY.Shape(), ys) {
			return nil, fmt.Errorf("dY has shape %v, want %v", dY.Shape(), ys)
		}
		dx, err := tensor.New(dY.DType(), shape...)
		if err != nil {
			return nil, err
		}
		outer, dim, inner := prod(shape[:a]), shape[a], prod(shape[a+1:])
		switch dY.DType() {
		case tensor.Float32:
			gatherGradRun(dY.Float32s(), dx.Float32s(), idx, outer, dim, inner)
		case tensor.Float64:
			gatherGradRun(tensor.Data[float64](dY), tensor.Data[float64](dx), idx, outer, dim, inner)
		}
		return rc.Results(dx), nil
	}
	return halfWrap(k, 2), nil
}

func gatherGradRun[T Float](dy, dx []T, idx []int, outer, dim, inner int) {
	s := 0
	for o := 0; o < outer; o++ {
		for _, i := range idx {
			dst := dx[(o*dim+i)*inner : (o*dim+i+1)*inner]
			for j, v := range dy[s : s+inner] {
				dst[j] += v
			}
			s += inner
		}
	}
}

// buildSliceGrad: inputs dY, shape, starts, ends, axes (optional), steps
// (optional), as Slice-10+ takes them; output dX of that shape, holding
// dY at the sliced positions and zeros elsewhere.
func buildSliceGrad(b *Builder) (Kernel, error) {
	return KernelFunc(func(rc *RunContext, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
		if err := Need(in, 4); err != nil {
			return nil, err
		}
		dY := in[0]
		s, err := gradShapeArg(in[1], "shape")
		if err != nil {
			return nil, err
		}
		starts, err := layoutInts(in[2], "starts")
		if err != nil {
			return nil, err
		}
		ends, err := layoutInts(in[3], "ends")
		if err != nil {
			return nil, err
		}
		var axes, steps []int64
		if t := Opt(in, 4); t != nil {
			if axes, err = layoutInts(t, "axes"); err != nil {
				return nil, err
			}
		}
		if t := Opt(in, 5); t != nil {
			if steps, err = layoutInts(t, "steps"); err != nil {
				return nil, err
			}
		}
		off, view, strides, err := slicePlan(s, starts, ends, axes, steps)
		if err != nil {
			return nil, err
		}
		if !tensor.ShapeEqual(dY.Shape(), view) {
			return nil, fmt.Errorf("dY has shape %v, the slice has %v", dY.Shape(), view)
		}
		dx, err := layoutNew(rc, dY.DType(), s)
		if err != nil {
			return nil, err
		}
		if dY.Len() == 0 {
			return rc.Results(dx), nil
		}
		f, err := layoutPick(dY.DType(), scatterViewRaw[uint8], scatterViewRaw[uint16], scatterViewRaw[uint32], scatterViewRaw[uint64], scatterViewRaw[string])
		if err != nil {
			return nil, err
		}
		f(dx, off, strides, dY, view)
		return rc.Results(dx), nil
	}), nil
}

// slicePlan resolves Slice's starts, ends, axes and steps on a tensor of
// shape s: the offset of the first selected element, the sliced shape,
// and the element strides of the selection in s.
func slicePlan(s []int, starts, ends, axes, steps []int64) (off int, view, strides []int, err error) {
	if len(starts) != len(ends) {
		return 0, nil, nil, fmt.Errorf("starts %v and ends %v differ in length", starts, ends)
	}
	if axes == nil {
		axes = make([]int64, len(starts))
		for i := range axes {
			axes[i] = int64(i)
		}
	}
	if len(axes) != len(starts) {
		return 0, nil, nil, fmt.Errorf("axes %v and starts %v differ in length", axes, starts)
	}
	if steps != nil && len(steps) != len(starts) {
		return 0, nil, nil, fmt.Errorf("steps %v and starts %v differ in length", steps, starts)
	}
	ax, err := NormAxes(axes, len(s))
	if err != nil {
		return 0, nil, nil, err
	}
	str := tensor.Strides(s)
	view = append([]int{}, s...)
	strides = append([]int{}, str...)
	for i, a := range ax {
		step := int64(1)
		if steps != nil {
			step = steps[i]
		}
		if step == 0 {
			return 0, nil, nil, fmt.Errorf("steps %v has a zero step", steps)
		}
		first, count := sliceRange(starts[i], ends[i], step, s[a])
		view[a] = count
		if count > 0 {
			off += first * str[a]
			strides[a] = int(step) * str[a]
		}
	}
	return off, view, strides, nil
}

// scatterViewRaw copies src (contiguous, of shape view) into dst at
// offset off with strides ds.
func scatterViewRaw[T layoutElem](dst *tensor.Tensor, off int, ds []int, src *tensor.Tensor, view []int) {
	layoutCopy(layoutRaw[T](dst), off, ds, layoutRaw[T](src), 0, tensor.Strides(view), view)
}

// buildPadGrad: inputs dY, shape, pads, constant_value (optional, for its
// shape), axes (optional), as Pad-11+ takes them; attribute mode. Output
// 0 is dX: each dY element added into the input element it was read from.
// Output 1 is the gradient of constant_value: the sum of dY over the
// constant padding.
func buildPadGrad(b *Builder) (Kernel, error) {
	mode := b.String("mode", "constant")
	if err := b.Err(); err != nil {
		return nil, err
	}
	if err := padCheckMode(mode); err != nil && mode != "wrap" {
		return nil, err
	}
	wantCV := b.Out(1)
	k := func(rc *RunContext, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
		if err := Need(in, 3); err != nil {
			return nil, err
		}
		dY := in[0]
		if err := gradFloat("PadGrad", dY); err != nil {
			return nil, err
		}
		s, err := gradShapeArg(in[1], "shape")
		if err != nil {
			return nil, err
		}
		pads, err := layoutInts(in[2], "pads")
		if err != nil {
			return nil, err
		}
		var axes []int64
		if t := Opt(in, 4); t != nil {
			if axes, err = layoutInts(t, "axes"); err != nil {
				return nil, err
			}
		}
		maps, os, err := padMaps(s, pads, axes, mode)
		if err != nil {
			return nil, err
		}
		if !tensor.ShapeEqual(dY.Shape(), os) {
			return nil, fmt.Errorf("dY has shape %v, the padded shape is %v", dY.Shape(), os)
		}
		dx, err := tensor.New(dY.DType(), s...)
		if err != nil {
			return nil, err
		}
		var cv float64
		switch dY.DType() {
		case tensor.Float32:
			cv = padGradRun(dY.Float32s(), dx.Float32s(), maps, os)
		case tensor.Float64:
			cv = padGradRun(tensor.Data[float64](dY), tensor.Data[float64](dx), maps, os)
		}
		outs := []*tensor.Tensor{dx, nil}
		if wantCV {
			cs := []int{}
			if t := Opt(in, 3); t != nil {
				cs = t.Shape()
			}
			if outs[1], err = fromFloat64s([]float64{cv}, dY.DType(), cs...); err != nil {
				return nil, err
			}
		}
		return outs, nil
	}
	return halfWrap(k), nil
}

// padMaps resolves Pad's geometry on an input of shape s: for every axis
// and output coordinate, the element offset (coordinate times stride) of
// the input element it reads, or -1 where constant padding is read. It
// also returns the output shape.
func padMaps(s []int, pads, axes []int64, mode string) ([][]int, []int, error) {
	r := len(s)
	if axes == nil {
		axes = make([]int64, r)
		for i := range axes {
			axes[i] = int64(i)
		}
	}
	ax, err := NormAxes(axes, r)
	if err != nil {
		return nil, nil, err
	}
	if len(pads) != 2*len(ax) {
		return nil, nil, fmt.Errorf("pads %v has %d entries, want %d", pads, len(pads), 2*len(ax))
	}
	begin, end := make([]int, r), make([]int, r)
	os := append([]int{}, s...)
	for i, a := range ax {
		pb, pe := pads[i], pads[len(ax)+i]
		n := int64(s[a]) + pb + pe
		if n < 0 || pb > int64(1<<31) || pe > int64(1<<31) || pb < -int64(1<<31) || pe < -int64(1<<31) {
			return nil, nil, fmt.Errorf("pads %v do not fit dimension %d of size %d", pads, a, s[a])
		}
		begin[a], end[a], os[a] = int(pb), int(pe), int(n)
	}
	if _, err := tensor.NumElements(os); err != nil {
		return nil, nil, err
	}
	str := tensor.Strides(s)
	maps := make([][]int, r)
	for a := range s {
		d := s[a]
		m := make([]int, os[a])
		cropB, kept := max(0, -begin[a]), d-max(0, -begin[a])-max(0, -end[a])
		if mode != "constant" && os[a] > 0 && (d == 0 || (mode == "wrap" && kept <= 0)) {
			return nil, nil, fmt.Errorf("cannot %s-pad dimension %d of size %d with pads %v", mode, a, d, pads)
		}
		for o := range m {
			i := o - begin[a]
			switch mode {
			case "constant":
				if i < 0 || i >= d {
					i = -1
				}
			case "wrap":
				i = (o - max(0, begin[a])) % kept
				if i < 0 {
					i += kept
				}
				i += cropB
			case "edge":
				i = min(max(i, 0), d-1)
			default: // reflect
				if d == 1 {
					i = 0
					break
				}
				period := 2 * (d - 1)
				i %= period
				if i < 0 {
					i += period
				}
				if i >= d {
					i = period - i
				}
			}
			if i >= 0 {
				i *= str[a]
			}
			m[o] = i
		}
		maps[a] = m
	}
	return maps, os, nil
}

// padGradRun adds dy (of shape os) into dx through maps and returns the
// sum of the dy elements that read constant padding.
func padGradRun[T Float](dy, dx []T, maps [][]int, os []int) float64 {
	var pad float64
	if len(dy) == 0 {
		return 0
	}
	r := len(os)
	if r == 0 {
		dx[0] += dy[0]
		return 0
	}
	idx := make([]int, r)
	for _, v := range dy {
		off := 0
		for a := 0; a < r; a++ {
			m := maps[a][idx[a]]
			if m < 0 {
				off = -1
				break
			}
			off += m
		}
		if off >= 0 {
			dx[off] += v
		} else {
			pad += float64(v)
		}
		for a := r - 1; a >= 0; a-- {
			idx[a]++
			if idx[a] < os[a] {
				break
			}
			idx[a] = 0
		}
	}
	return pad
}

// buildTileGrad: inputs dY, shape; output dX of that shape, the sum of
// the tiles of dY.
func buildTileGrad(b *Builder) (Kernel, error) {
	k := func(rc *RunContext, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
		if err := Need(in, 2); err != nil {
			return nil, err
		}
		dY := in[0]
		if err := gradFloat("TileGrad", dY); err != nil {
			return nil, err
		}
		s, err := gradShapeArg(in[1], "shape")
		if err != nil {
			return nil, err
		}
		ys := dY.Shape()
		if len(ys) != len(s) {
			return nil, fmt.Errorf("dY has shape %v, the input has %v (ranks differ)", ys, s)
		}
		for i := range s {
			if (s[i] == 0 && ys[i] != 0) || (s[i] != 0 && ys[i]%s[i] != 0) {
				return nil, fmt.Errorf("dY shape %v is not a tiling of %v", ys, s)
			}
		}
		dx, err := tensor.New(dY.DType(), s...)
		if err != nil {
			return nil, err
		}
		switch dY.DType() {
		case tensor.Float32:
			tileGradRun(dY.Float32s(), dx.Float32s(), ys, s)
		case tensor.Float64:
			tileGradRun(tensor.Data[float64](dY), tensor.Data[float64](dx), ys, s)
		}
		return rc.Results(dx), nil
	}
	return halfWrap(k), nil
}

func tileGradRun[T Float](dy, dx []T, ys, s []int) {
	if len(dy) == 0 {
		return
	}
	r := len(s)
	if r == 0 {
		dx[0] = dy[0]
		return
	}
	str := tensor.Strides(s)
	idx := make([]int, r) // coordinate in dY
	src := make([]int, r) // coordinate in dX: idx modulo s
	off := 0
	for _, v := range dy {
		dx[off] += v
		for a := r - 1; a >= 0; a-- {
			idx[a]++
			src[a]++
			off += str[a]
			if src[a] == s[a] {
				src[a] = 0
				off -= s[a] * str[a]
			}
			if idx[a] < ys[a] {
				break
			}
			idx[a] = 0
			// ys[a] is a multiple of s[a]: src[a] wrapped to 0 just now.
		}
	}
}

// buildSplitGrad: inputs shape (of Split's input), split (optional: the
// part sizes), dY_0..dY_n-1 (absent where no gradient flows); attributes
// axis and num_outputs as Split takes them. Output dX, the concatenation
// of the dY_i, zeros for the absent ones.
func buildSplitGrad(b *Builder) (Kernel, error) {
	axis := b.Int("axis", 0)
	numOutputs := b.Int("num_outputs", 0)
	if err := b.Err(); err != nil {
		return nil, err
	}
	n := b.NumInputs - 2
	if n < 1 {
		return nil, fmt.Errorf("SplitGrad takes a shape, the split sizes and at least one gradient, got %d inputs", b.NumInputs)
	}
	return KernelFunc(func(rc *RunContext, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
		if err := Need(in, 1); err != nil {
			return nil, err
		}
		xs, err := gradShapeArg(in[0], "shape")
		if err != nil {
			return nil, err
		}
		a, err := NormAxis(axis, len(xs))
		if err != nil || len(xs) == 0 {
			return nil, fmt.Errorf("axis %d is out of range for shape %v", axis, xs)
		}
		var split []int64
		if t := Opt(in, 1); t != nil && t.Len() > 0 {
			if split, err = layoutInts(t, "split"); err != nil {
				return nil, err
			}
		}
		sizes, err := splitSizes(xs[a], n, split, numOutputs)
		if err != nil {
			return nil, err
		}
		parts := make([]*tensor.Tensor, n)
		var first *tensor.Tensor
		for i := range parts {
			t := Opt(in, 2+i)
			if t == nil {
				continue
			}
			want := append([]int{}, xs...)
			want[a] = sizes[i]
			if !tensor.ShapeEqual(t.Shape(), want) {
				return nil, fmt.Errorf("gradient of output %d has shape %v, want %v", i, t.Shape(), want)
			}
			if first == nil {
				first = t
			} else if t.DType() != first.DType() {
				return nil, fmt.Errorf("gradient of output %d has type %v, another has %v", i, t.DType(), first.DType())
			}
			parts[i] = t
		}
		if first == nil {
			return nil, fmt.Errorf("no gradient is given")
		}
		dx, err := layoutNew(rc, first.DType(), xs)
		if err != nil {
			return nil, err
		}
		f, err := layoutPick(first.DType(), splitGradRaw[uint8], splitGradRaw[uint16], splitGradRaw[uint32], splitGradRaw[uint64], splitGradRaw[string])
		if err != nil {
			return nil, err
		}
		f(dx, parts, sizes, a)
		return rc.Results(dx), nil
	}), nil
}

// splitSizes returns the sizes of Split's n parts of a dimension dim: the
// split sizes when given, else num_outputs parts (the last smaller) when
// set, else n equal parts.
func splitSizes(dim, n int, split []int64, numOutputs int64) ([]int, error) {
	sizes := make([]int, n)
	switch {
	case split != nil:
		if len(split) != n {
			return nil, fmt.Errorf("split %v has %d entries for %d outputs", split, len(split), n)
		}
		sum := int64(0)
		for i, v := range split {
			if v < 0 || v > int64(dim) {
				return nil, fmt.Errorf("split %v has invalid size %d", split, v)
			}
			sum += v
			sizes[i] = int(v)
		}
		if sum != int64(dim) {
			return nil, fmt.Errorf("split %v sums to %d, the dimension has size %d", split, sum, dim)
		}
	case numOutputs > 0:
		chunk := (dim + n - 1) / n
		last := dim - chunk*(n-1)
		if last < 0 {
			return nil, fmt.Errorf("dimension of size %d cannot be split into %d parts of size %d", dim, n, chunk)
		}
		for i := range sizes {
			sizes[i] = chunk
		}
		sizes[n-1] = last
	default:
		if dim%n != 0 {
			return nil, fmt.Errorf("dimension of size %d cannot be split into %d equal parts", dim, n)
		}
		for i := range sizes {
			sizes[i] = dim / n
		}
	}
	return sizes, nil
}

func splitGradRaw[T layoutElem](out *tensor.Tensor, parts []*tensor.Tensor, sizes []int, axis int) {
	dst := layoutRaw[T](out)
	if len(dst) == 0 {
		return
	}
	os := out.Shape()
	outer, inner := prod(os[:axis]), prod(os[axis+1:])
	rowLen := os[axis] * inner
	off := 0
	for i, t := range parts {
		chunk := sizes[i] * inner
		if t != nil && chunk > 0 {
			src := layoutRaw[T](t)
			for o := 0; o < outer; o++ {
				copy(dst[o*rowLen+off:o*rowLen+off+chunk], src[o*chunk:(o+1)*chunk])
			}
		}
		off += chunk
	}
}
