package ops

import (
	"fmt"

	"github.com/onyxrt/onyx/tensor"
)

// Gradient rules of the indexing and rearranging operators
// GatherElements, GatherND, ScatterElements, Scatter, ScatterND, Compress,
// ReverseSequence, Trilu, DepthToSpace, SpaceToDepth, CenterCropPad and
// Col2Im, with their backward kernels:
//
//	GatherElementsGrad(shape, indices, dy) axis         scatter-add of dy into zeros
//	GatherNDGrad(shape, indices, dy) batch_dims         scatter-add of dy's slices into zeros
//	ScatterGrad(dy, data, indices, updates) kind=elements|nd, axis, reduction -> (ddata, dupdates)
//	Col2ImGrad(dy, x, image_shape, block_shape) dilations, pads, strides   the im2col of dy
//
// The others compose ONNX operators: the inverse rearrangement, or the
// operator itself (ReverseSequence, Trilu and CenterCropPad are their own
// adjoints).

// gradIndex returns the rule of one of this file's operators, or nil.
func gradIndex(name string) GradFunc {
	switch name {
	case "GatherElements":
		return gradGatherElements
	case "GatherND":
		return gradGatherND
	case "ScatterElements", "Scatter":
		return gradScatter("elements")
	case "ScatterND":
		return gradScatter("nd")
	case "Compress":
		return gradCompress
	case "ReverseSequence", "Trilu":
		return gradSelfAdjoint
	case "DepthToSpace":
		return gradDepthToSpace
	case "SpaceToDepth":
		return gradSpaceToDepth
	case "CenterCropPad":
		return gradCenterCropPad
	case "Col2Im":
		return gradCol2Im
	}
	return nil
}

// ---- GatherElements, GatherND ----

func gradGatherElements(g GradContext) error {
	dy := g.OutputGrad(0)
	if dy == "" || !g.NeedsGrad(0) {
		return nil
	}
	axis := g.Node().Int("axis", 0)
	if err := g.Node().Err(); err != nil {
		return err
	}
	g.SetInputGrad(0, g.Emit(GradDomain, "GatherElementsGrad", []string{gradShapeOf(g, 0), g.Input(1), dy}, 1, IntAttr("axis", axis))[0])
	return nil
}

func gradGatherND(g GradContext) error {
	dy := g.OutputGrad(0)
	if dy == "" || !g.NeedsGrad(0) {
		return nil
	}
	bd := g.Node().Int("batch_dims", 0)
	if err := g.Node().Err(); err != nil {
		return err
	}
	g.SetInputGrad(0, g.Emit(GradDomain, "GatherNDGrad", []string{gradShapeOf(g, 0), g.Input(1), dy}, 1, IntAttr("batch_dims", bd))[0])
	return nil
}

// buildGatherElementsGrad: inputs shape, indices, dY; attribute axis.
// Output dX of that shape: dY added at the positions the indices name.
func buildGatherElementsGrad(b *Builder) (Kernel, error) {
	axis := b.Int("axis", 0)
	if err := b.Err(); err != nil {
		return nil, err
	}
	return KernelFunc(func(rc *RunContext, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
		if err := Need(in, 3); err != nil {
			return nil, err
		}
		shape, err := gradShapeArg(in[0], "shape")
		if err != nil {
			return nil, err
		}
		ind, dyT := in[1], in[2]
		if err := gxSameShape("GatherElementsGrad: dY", dyT, ind.Shape()); err != nil {
			return nil, err
		}
		a, err := elementsCheck(shape, ind.Shape(), axis, "indices")
		if err != nil {
			return nil, err
		}
		offs, err := elementsOffsets(shape, ind, a)
		if err != nil {
			return nil, err
		}
		dy, err := gxFloats(dyT, "GatherElementsGrad: dY")
		if err != nil {
			return nil, err
		}
		if err := checkSize(shape, tensor.Float64); err != nil {
			return nil, err
		}
		dx := make([]float64, prod(shape))
		for i, o := range offs {
			dx[o] += dy[i]
		}
		return rc.one(gxOut(dx, dyT.DType(), shape))
	}), nil
}

// buildGatherNDGrad: inputs shape, indices, dY; attribute batch_dims.
// Output dX of that shape: dY's slices added at the tuples' slices.
func buildGatherNDGrad(b *Builder) (Kernel, error) {
	bd := b.Int("batch_dims", 0)
	if err := b.Err(); err != nil {
		return nil, err
	}
	return KernelFunc(func(rc *RunContext, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
		if err := Need(in, 3); err != nil {
			return nil, err
		}
		shape, err := gradShapeArg(in[0], "shape")
		if err != nil {
			return nil, err
		}
		ind, dyT := in[1], in[2]
		offs, slice, err := ndOffsets(shape, ind, bd)
		if err != nil {
			return nil, err
		}
		if dyT.Len() != len(offs)*slice {
			return nil, fmt.Errorf("GatherNDGrad: dY has shape %v, want %d slices of %d", dyT.Shape(), len(offs), slice)
		}
		dy, err := gxFloats(dyT, "GatherNDGrad: dY")
		if err != nil {
			return nil, err
		}
		if err := checkSize(shape, tensor.Float64); err != nil {
			return nil, err
		}
		dx := make([]float64, prod(shape))
		for i, o := range offs {
			for j, v := range dy[i*slice : (i+1)*slice] {
				dx[o+j] += v
			}
		}
		return rc.one(gxOut(dx, dyT.DType(), shape))
	}), nil
}

// ---- ScatterElements, Scatter, ScatterND ----

// gradScatter: ScatterGrad(dY, data, indices, updates) -> (ddata,
// dupdates) for the reduction of the node (none before opset 16 and for
// Scatter). The indices get no gradient.
func gradScatter(kind string) GradFunc {
	return func(g GradContext) error {
		dy := g.OutputGrad(0)
		wantD, wantU := g.NeedsGrad(0), g.NeedsGrad(2)
		if dy == "" || (!wantD && !wantU) {
			return nil
		}
		b := g.Node()
		red := "none"
		if b.Opset >= 16 && b.OpType != "Scatter" {
			red = b.String("reduction", "none")
		}
		attrs := []*Attr{StringAttr("kind", kind), StringAttr("reduction", red)}
		if kind == "elements" {
			attrs = append(attrs, IntAttr("axis", b.Int("axis", 0)))
		}
		if err := b.Err(); err != nil {
			return err
		}
		nOut := 1
		if wantU {
			nOut = 2
		}
		out := g.Emit(GradDomain, "ScatterGrad", []string{dy, g.Input(0), g.Input(1), g.Input(2)}, nOut, attrs...)
		if wantD {
			g.SetInputGrad(0, out[0])
		}
		if wantU {
			g.SetInputGrad(2, out[1])
		}
		return nil
	}
}

func buildScatterGrad(b *Builder) (Kernel, error) {
	kind := b.String("kind", "elements")
	red := b.String("reduction", "none")
	axis := b.Int("axis", 0)
	if err := b.Err(); err != nil {
		return nil, err
	}
	if kind != "elements" && kind != "nd" {
		return nil, fmt.Errorf("ScatterGrad: kind %q is not elements or nd", kind)
	}
	switch red {
	case "none", "add", "mul", "max", "min":
	default:
		return nil, fmt.Errorf("ScatterGrad: unknown reduction %q", red)
	}
	return KernelFunc(func(rc *RunContext, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
		if err := Need(in, 4); err != nil {
			return nil, err
		}
		dyT, dataT, ind, updT := in[0], in[1], in[2], in[3]
		ds := dataT.Shape()
		if err := gxSameShape("ScatterGrad: dY", dyT, ds); err != nil {
			return nil, err
		}
		var offs []int
		slice := 1
		var err error
		if kind == "elements" {
			if !tensor.ShapeEqual(ind.Shape(), updT.Shape()) {
				return nil, fmt.Errorf("ScatterGrad: indices shape %v and updates shape %v differ", ind.Shape(), updT.Shape())
			}
			a, err := elementsCheck(ds, ind.Shape(), axis, "indices")
			if err != nil {
				return nil, err
			}
			if offs, err = elementsOffsets(ds, ind, a); err != nil {
				return nil, err
			}
		} else if offs, slice, err = ndOffsets(ds, ind, 0); err != nil {
			return nil, err
		}
		if updT.Len() != len(offs)*slice {
			return nil, fmt.Errorf("ScatterGrad: updates shape %v does not fit %d slices of %d", updT.Shape(), len(offs), slice)
		}
		dy, err := gxFloats(dyT, "ScatterGrad: dY")
		if err != nil {
			return nil, err
		}
		data, err := gxFloats(dataT, "ScatterGrad: data")
		if err != nil {
			return nil, err
		}
		upd, err := gxFloats(updT, "ScatterGrad: updates")
		if err != nil {
			return nil, err
		}
		dd, du := scatterGradRun(red, dy, data, upd, offs, slice)
		outs := []*tensor.Tensor{nil, nil}
		if outs[0], err = gxOut(dd, dyT.DType(), ds); err != nil {
			return nil, err
		}
		if b.Out(1) {
			if outs[1], err = gxOut(du, updT.DType(), updT.Shape()); err != nil {
				return nil, err
			}
		}
		return outs, nil
	}), nil
}

// scatterGradRun computes the gradients of data and updates of a scatter
// with reduction red that combined update element u (slice i, element j)
// into data element offs[i]+j, in order.
func scatterGradRun(red string, dy, data, upd []float64, offs []int, slice int) (dd, du []float64) {
	dd = append([]float64(nil), dy...)
	du = make([]float64, len(upd))
	// The update elements of every data element, in order (CSR).
	start := make([]int, len(data)+1)
	for _, o := range offs {
		for j := 0; j < slice; j++ {
			start[o+j+1]++
		}
	}
	for i := range data {
		start[i+1] += start[i]
	}
	list := make([]int, len(upd))
	fill := append([]int(nil), start[:len(data)]...)
	for i, o := range offs {
		for j := 0; j < slice; j++ {
			list[fill[o+j]] = i*slice + j
			fill[o+j]++
		}
	}
	for p := range data {
		us := list[start[p]:start[p+1]]
		if len(us) == 0 {
			continue
		}
		g := dy[p]
		switch red {
		case "none": // the last update wins
			dd[p] = 0
			du[us[len(us)-1]] = g
		case "add":
			for _, u := range us {
				du[u] = g
			}
		case "mul":
			// y = data·Πu: each factor's gradient is g times the others.
			pre := data[p]
			suf := make([]float64, len(us)+1)
			suf[len(us)] = 1
			for k := len(us) - 1; k >= 0; k-- {
				suf[k] = suf[k+1] * upd[us[k]]
			}
			dd[p] = g * suf[0]
			for k, u := range us {
				du[u] = g * pre * suf[k+1]
				pre *= upd[u]
			}
		case "max", "min":
			// The gradient goes to the first value (data, then the
			// updates in order) equal to the result.
			best := data[p]
			for _, u := range us {
				if red == "max" {
					best = max(best, upd[u])
				} else {
					best = min(best, upd[u])
				}
			}
			if data[p] == best {
				continue
			}
			dd[p] = 0
			for _, u := range us {
				if upd[u] == best {
					du[u] = g
					break
				}
			}
		}
	}
	return dd, du
}

// ---- Compress ----

// gradCompress: Compress gathers the positions where the condition holds,
// so dX = GatherGrad at NonZero(condition) (on the flattened input when
// there is no axis).
func gradCompress(g GradContext) error {
	dy := g.OutputGrad(0)
	if dy == "" || !g.NeedsGrad(0) {
		return nil
	}
	b := g.Node()
	axis, hasAxis := b.Int("axis", 0), b.Has("axis")
	if err := b.Err(); err != nil {
		return err
	}
	idx := g.Emit("", "Reshape", []string{g.Emit("", "NonZero", []string{g.Input(1)}, 1)[0], constInt64s(g, []int64{-1})}, 1)[0]
	if hasAxis {
		g.SetInputGrad(0, g.Emit(GradDomain, "GatherGrad", []string{gradShapeOf(g, 0), idx, dy}, 1, IntAttr("axis", axis))[0])
		return nil
	}
	flat := g.Emit("", "Reshape", []string{g.Emit("", "Size", []string{g.Input(0)}, 1)[0], constInt64s(g, []int64{1})}, 1)[0]
	dx := g.Emit(GradDomain, "GatherGrad", []string{flat, idx, dy}, 1, IntAttr("axis", 0))[0]
	g.SetInputGrad(0, g.Emit("", "Reshape", []string{dx, gradShapeOf(g, 0)}, 1)[0])
	return nil
}

// ---- ReverseSequence, Trilu ----

// gradSelfAdjoint is the rule of linear operators that are their own
// adjoint (a symmetric permutation or mask): dX = op(dY, other inputs).
func gradSelfAdjoint(g GradContext) error {
	dy := g.OutputGrad(0)
	if dy == "" || !g.NeedsGrad(0) {
		return nil
	}
	b := g.Node()
	ins := []string{dy}
	for i := 1; i < b.NumInputs; i++ {
		ins = append(ins, g.Input(i))
	}
	g.SetInputGrad(0, g.Emit("", b.OpType, ins, 1, CopyAttrs(b)...)[0])
	return nil
}

// ---- DepthToSpace, SpaceToDepth ----

// gradSpaceToDepth: SpaceToDepth is the inverse of DepthToSpace in DCR
// mode (the default), a permutation, so its adjoint is that DepthToSpace.
func gradSpaceToDepth(g GradContext) error {
	dy := g.OutputGrad(0)
	if dy == "" || !g.NeedsGrad(0) {
		return nil
	}
	bs := g.Node().RequireInt("blocksize")
	if err := g.Node().Err(); err != nil {
		return err
	}
	g.SetInputGrad(0, g.Emit("", "DepthToSpace", []string{dy}, 1, IntAttr("blocksize", bs))[0])
	return nil
}

// gradDepthToSpace: the inverse permutation. For DCR mode it is
// SpaceToDepth; for CRD mode SpaceToDepth's channels, ordered (block row,
// block column, channel), are reordered to (channel, block row, block
// column) by Transposes and Reshapes.
func gradDepthToSpace(g GradContext) error {
	dy := g.OutputGrad(0)
	if dy == "" || !g.NeedsGrad(0) {
		return nil
	}
	b := g.Node()
	bs := b.RequireInt("blocksize")
	mode := "DCR"
	if b.Opset >= 11 {
		mode = b.String("mode", "DCR")
	}
	if err := b.Err(); err != nil {
		return err
	}
	dx := g.Emit("", "SpaceToDepth", []string{dy}, 1, IntAttr("blocksize", bs))[0]
	if mode == "CRD" {
		// In NHWC the channel axis splits into (block, channel) with
		// constant Reshape shapes (0 copies N, H and W).
		v := g.Emit("", "Transpose", []string{dx}, 1, IntsAttr("perm", 0, 2, 3, 1))[0]
		v = g.Emit("", "Reshape", []string{v, constInt64s(g, []int64{0, 0, 0, bs * bs, -1})}, 1)[0]
		v = g.Emit("", "Transpose", []string{v}, 1, IntsAttr("perm", 0, 1, 2, 4, 3))[0]
		v = g.Emit("", "Reshape", []string{v, constInt64s(g, []int64{0, 0, 0, -1})}, 1)[0]
		dx = g.Emit("", "Transpose", []string{v}, 1, IntsAttr("perm", 0, 3, 1, 2))[0]
	}
	g.SetInputGrad(0, dx)
	return nil
}

// ---- CenterCropPad ----

// gradCenterCropPad: cropping or padding dY back to the input's shape
// puts every element where it came from (the centre offsets match).
func gradCenterCropPad(g GradContext) error {
	dy := g.OutputGrad(0)
	if dy == "" || !g.NeedsGrad(0) {
		return nil
	}
	g.SetInputGrad(0, g.Emit("", "CenterCropPad", []string{dy, gradShapeOf(g, 0)}, 1)[0])
	return nil
}

// ---- Col2Im ----

// gradCol2Im: Col2Im sums column blocks into an image; its adjoint reads
// the blocks back out of dY (im2col).
func gradCol2Im(g GradContext) error {
	return gradKernel(g, "Col2ImGrad", []string{g.OutputGrad(0), g.Input(0), g.Input(1), g.Input(2)}, 1, CopyAttrs(g.Node())...)
}

func buildCol2ImGrad(b *Builder) (Kernel, error) {
	var a col2imAttrs
	if b.Has("dilations") {
		a.dilations = ToInts(b.Ints("dilations", nil))
	}
	if b.Has("pads") {
		a.pads = ToInts(b.Ints("pads", nil))
	}
	if b.Has("strides") {
		a.strides = ToInts(b.Ints("strides", nil))
	}
	if err := b.Err(); err != nil {
		return nil, err
	}
	return KernelFunc(func(rc *RunContext, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
		if err := Need(in, 4); err != nil {
			return nil, err
		}
		dyT, x := in[0], in[1]
		geo, err := col2imShape(x, in[2], in[3], a)
		if err != nil {
			return nil, err
		}
		if err := gxSameShape("Col2ImGrad: dY", dyT, append([]int{geo.n, geo.c}, geo.img...)); err != nil {
			return nil, err
		}
		dy, err := gxFloats(dyT, "Col2ImGrad: dY")
		if err != nil {
			return nil, err
		}
		return rc.one(gxOut(im2colGather(dy, geo), dyT.DType(), x.Shape()))
	}), nil
}

// im2colGather is the adjoint of col2imScatter: every column element
// reads the image element it was added into (0 outside the image).
func im2colGather(img []float64, g *col2imGeom) []float64 {
	r := g.rank
	out := make([]float64, g.n*g.c*g.blockSize*g.l)
	imgStride := tensor.Strides(g.img)
	koff := make([]int, r)
	pos := make([]int, r)
	for b := 0; b < g.n*g.c; b++ {
		src := img[b*g.imgSize : (b+1)*g.imgSize]
		clear(koff)
		for kk := 0; kk < g.blockSize; kk++ {
			dst := out[(b*g.blockSize+kk)*g.l : (b*g.blockSize+kk+1)*g.l]
			clear(pos)
			for l := 0; l < g.l; l++ {
				off, inside := 0, true
				for d := 0; d < r; d++ {
					p := pos[d]*g.str[d] - g.padBegin[d] + koff[d]*g.dil[d]
					if p < 0 || p >= g.img[d] {
						inside = false
						break
					}
					off += p * imgStride[d]
				}
				if inside {
					dst[l] = src[off]
				}
				for d := r - 1; d >= 0; d-- {
					pos[d]++
					if pos[d] < g.cols[d] {
						break
					}
					pos[d] = 0
				}
			}
			for d := r - 1; d >= 0; d-- {
				koff[d]++
				if koff[d] < g.blk[d] {
					break
				}
				koff[d] = 0
			}
		}
	}
	return out
}
