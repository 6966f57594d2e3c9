package ops

import (
	"fmt"
	"math"

	"github.com/onyxrt/onyx/tensor"
)

// Col2Im (opset 18) rearranges column blocks into an image, the inverse
// of im2col: input [N, C*prod(block_shape), L] with image_shape and
// block_shape inputs of k values each gives [N, C, image_shape...]. Block
// b's element at kernel offset o lands at image position
// pos(b)*strides - pads_begin + o*dilations; overlapping contributions
// are summed and those outside the image dropped. L must equal the number
// of block positions, prod over axes of
// (image + pads_begin + pads_end - dilations*(block-1) - 1)/strides + 1.

// col2imAttrs holds the attributes, nil when absent (defaults depend on
// the number of spatial axes, known at run time).
type col2imAttrs struct {
	dilations, pads, strides []int
}

func buildCol2Im(b *Builder) (Kernel, error) {
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
	for _, d := range a.dilations {
		if d <= 0 {
			return nil, fmt.Errorf("dilations %v must be positive", a.dilations)
		}
	}
	for _, s := range a.strides {
		if s <= 0 {
			return nil, fmt.Errorf("strides %v must be positive", a.strides)
		}
	}
	for _, p := range a.pads {
		if p < 0 {
			return nil, fmt.Errorf("pads %v must not be negative", a.pads)
		}
	}
	run := KernelFunc(func(rc *RunContext, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
		if err := Need(in, 3); err != nil {
			return nil, err
		}
		return rc.one(col2imOp(in[0], in[1], in[2], a))
	})
	return halfWrap(run), nil
}

// col2imGeom is the resolved geometry of one Col2Im call.
type col2imGeom struct {
	n, c, k, l               int
	img, blk, cols           []int
	dil, padBegin, str       []int
	blockSize, imgSize, rank int
}

func col2imShape(x, imageShape, blockShape *tensor.Tensor, a col2imAttrs) (*col2imGeom, error) {
	img, err := col2imDims(imageShape, "image_shape")
	if err != nil {
		return nil, err
	}
	blk, err := col2imDims(blockShape, "block_shape")
	if err != nil {
		return nil, err
	}
	r := len(img)
	if len(blk) != r || r == 0 {
		return nil, fmt.Errorf("image_shape %v and block_shape %v must have the same non-zero length", img, blk)
	}
	g := &col2imGeom{img: img, blk: blk, rank: r}
	g.dil, g.str = a.dilations, a.strides
	if g.dil == nil {
		g.dil = col2imOnes(r)
	}
	if g.str == nil {
		g.str = col2imOnes(r)
	}
	pads := a.pads
	if pads == nil {
		pads = make([]int, 2*r)
	}
	if len(g.dil) != r || len(g.str) != r || len(pads) != 2*r {
		return nil, fmt.Errorf("dilations %v, strides %v and pads %v do not fit %d spatial axes", g.dil, g.str, pads, r)
	}
	g.padBegin = pads[:r]
	xs := x.Shape()
	if len(xs) != 3 {
		return nil, fmt.Errorf("input must have shape [N, C*prod(block_shape), L], got %v", xs)
	}
	g.blockSize, g.imgSize = 1, 1
	for i := 0; i < r; i++ {
		if blk[i] == 0 || img[i] == 0 {
			return nil, fmt.Errorf("image_shape %v and block_shape %v must be positive", img, blk)
		}
		if g.blockSize > math.MaxInt32/blk[i] || g.imgSize > math.MaxInt32/img[i] {
			return nil, fmt.Errorf("image_shape %v or block_shape %v is too large", img, blk)
		}
		g.blockSize *= blk[i]
		g.imgSize *= img[i]
		span := g.dil[i]*(blk[i]-1) + 1
		nb := (img[i]+pads[i]+pads[i+r]-span)/g.str[i] + 1
		if img[i]+pads[i]+pads[i+r] < span || nb < 1 {
			return nil, fmt.Errorf("block %d (dilated to %d) does not fit image axis %d of size %d with pads %v", blk[i], span, i, img[i], pads)
		}
		g.cols = append(g.cols, nb)
	}
	if xs[1]%g.blockSize != 0 {
		return nil, fmt.Errorf("input dimension 1 (%d) is not a multiple of prod(block_shape) = %d", xs[1], g.blockSize)
	}
	g.n, g.c, g.l = xs[0], xs[1]/g.blockSize, xs[2]
	if want := prod(g.cols); want != g.l {
		return nil, fmt.Errorf("input dimension 2 (%d) must equal the number of blocks %v = %d", g.l, g.cols, want)
	}
	return g, nil
}

func col2imOnes(n int) []int {
	s := make([]int, n)
	for i := range s {
		s[i] = 1
	}
	return s
}

// col2imDims reads a 1-D int64 input of non-negative values.
func col2imDims(t *tensor.Tensor, what string) ([]int, error) {
	if t.DType() != tensor.Int64 {
		return nil, ErrDType(what, t.DType())
	}
	if t.Rank() != 1 {
		return nil, fmt.Errorf("%s must be 1-D, got shape %v", what, t.Shape())
	}
	v := t.Int64s()
	out := make([]int, len(v))
	for i, d := range v {
		if d < 0 || d > math.MaxInt32 {
			return nil, fmt.Errorf("%s %v has a negative or absurd value", what, v)
		}
		out[i] = int(d)
	}
	return out, nil
}

func col2imOp(x, imageShape, blockShape *tensor.Tensor, a col2imAttrs) (*tensor.Tensor, error) {
	g, err := col2imShape(x, imageShape, blockShape, a)
	if err != nil {
		return nil, err
	}
	shape := append([]int{g.n, g.c}, g.img...)
	if err := visCheckSize(shape, x.DType().Size()); err != nil {
		return nil, err
	}
	switch s := x.Data().(type) {
	case []float32:
		return tensor.FromSlice(shape, col2imScatter(s, g))
	case []float64:
		return tensor.FromSlice(shape, col2imScatter(s, g))
	case []int8:
		return tensor.FromSlice(shape, col2imScatter(s, g))
	case []int16:
		return tensor.FromSlice(shape, col2imScatter(s, g))
	case []int32:
		return tensor.FromSlice(shape, col2imScatter(s, g))
	case []int64:
		return tensor.FromSlice(shape, col2imScatter(s, g))
	case []uint8:
		return tensor.FromSlice(shape, col2imScatter(s, g))
	case []uint16:
		return tensor.FromSlice(shape, col2imScatter(s, g))
	case []uint32:
		return tensor.FromSlice(shape, col2imScatter(s, g))
	case []uint64:
		return tensor.FromSlice(shape, col2imScatter(s, g))
	}
	return nil, ErrDType("input", x.DType())
}

func col2imScatter[T Number](x []T, g *col2imGeom) []T {
	r := g.rank
	out := make([]T, g.n*g.c*g.imgSize)
	imgStride := tensor.Strides(g.img)
	koff := make([]int, r) // kernel offset of the current block element
	pos := make([]int, r)  // block position
	for b := 0; b < g.n*g.c; b++ {
		dst := out[b*g.imgSize : (b+1)*g.imgSize]
		clear(koff)
		for kk := 0; kk < g.blockSize; kk++ {
			src := x[(b*g.blockSize+kk)*g.l : (b*g.blockSize+kk+1)*g.l]
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
					dst[off] += src[l]
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

func inferCol2Im(b *Builder, in []Meta) ([]Meta, error) {
	m := Meta{DType: first(in).DType}
	if len(in) > 1 && in[1].Value != nil && in[0].Shape != nil && len(in[0].Shape) == 3 {
		if img, err := in[1].Value.AsInt64s(); err == nil {
			m.Shape = tensor.SymShape{in[0].Shape[0], unknownDim}
			if len(in) > 2 && in[2].Value != nil && in[0].Shape[1].Known() {
				if blk, err := in[2].Value.AsInt64s(); err == nil {
					k := int64(1)
					for _, v := range blk {
						k *= v
					}
					if k > 0 {
						m.Shape[1] = tensor.Dim{Size: in[0].Shape[1].Size / k}
					}
				}
			}
			for _, d := range img {
				m.Shape = append(m.Shape, tensor.Dim{Size: d})
			}
		}
	}
	return []Meta{m}, nil
}
