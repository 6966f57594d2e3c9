package ops

import (
	"fmt"
	"sync"

	"github.com/onyxrt/onyx/tensor"
)

// This file holds helpers shared by the neural-network operators
// (gemm.go, conv.go, pool.go, norm.go, dropout.go).

// halfWrap makes a float32/float64 kernel serve float16 and bfloat16: half
// inputs are widened to float32 and float32 outputs are narrowed back.
// Output i takes the original type of input like[i] (input 0 when like is
// shorter).
func halfWrap(k KernelFunc, like ...int) KernelFunc {
	return func(rc *RunContext, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
		half := false
		for _, t := range in {
			if t != nil && (t.DType() == tensor.Float16 || t.DType() == tensor.BFloat16) {
				half = true
				break
			}
		}
		if !half {
			return k(rc, in)
		}
		ins := make([]*tensor.Tensor, len(in))
		orig := make([]tensor.DType, len(in))
		for i, t := range in {
			u, dt, err := Upcast(t)
			if err != nil {
				return nil, err
			}
			ins[i], orig[i] = u, dt
		}
		outs, err := k(rc, ins)
		if err != nil {
			return nil, err
		}
		for i, o := range outs {
			src := 0
			if i < len(like) {
				src = like[i]
			}
			if o == nil || o.DType() != tensor.Float32 || src >= len(orig) {
				continue
			}
			if outs[i], err = Downcast(o, orig[src]); err != nil {
				return nil, err
			}
		}
		return outs, nil
	}
}

// checkDType fails unless t's element type is one of allowed.
func checkDType(what string, t *tensor.Tensor, allowed ...tensor.DType) error {
	for _, d := range allowed {
		if t.DType() == d {
			return nil
		}
	}
	return ErrDType(what, t.DType())
}

// sameDType fails unless every non-nil tensor has the type of ts[0].
func sameDType(what string, ts ...*tensor.Tensor) error {
	for _, t := range ts[1:] {
		if t != nil && t.DType() != ts[0].DType() {
			return fmt.Errorf("%s: element types differ (%v and %v)", what, ts[0].DType(), t.DType())
		}
	}
	return nil
}

var (
	floatTypes    = []tensor.DType{tensor.Float32, tensor.Float64, tensor.Float16, tensor.BFloat16}
	floatIntTypes = []tensor.DType{tensor.Float32, tensor.Float64, tensor.Float16, tensor.BFloat16,
		tensor.Int32, tensor.Int64, tensor.Uint32, tensor.Uint64}
)

// prod multiplies ints (1 for none).
func prod(s []int) int {
	n := 1
	for _, v := range s {
		n *= v
	}
	return n
}

// broadcastTo expands data of shape in to shape out under numpy rules
// (in must broadcast to out), always returning a fresh slice.
func broadcastTo[T any](data []T, in, out []int) []T {
	n := prod(out)
	dst := make([]T, n)
	if len(data) == 1 {
		for i := range dst {
			dst[i] = data[0]
		}
		return dst
	}
	if len(data) == n {
		copy(dst, data)
		return dst
	}
	st := tensor.BroadcastStrides(in, out)
	idx := make([]int, len(out))
	off := 0
	for i := range dst {
		dst[i] = data[off]
		for d := len(out) - 1; d >= 0; d-- {
			idx[d]++
			off += st[d]
			if idx[d] < out[d] {
				break
			}
			off -= st[d] * idx[d]
			idx[d] = 0
		}
	}
	return dst
}

// spatialAttrs are the window attributes shared by Conv, ConvTranspose
// and the pooling operators, as read at load time (nil when absent).
type spatialAttrs struct {
	kernel, strides, dilations, pads []int
	autoPad                          string
}

func readSpatial(b *Builder, requireKernel bool) spatialAttrs {
	var a spatialAttrs
	if requireKernel {
		a.kernel = ToInts(b.RequireInts("kernel_shape"))
	} else if b.Has("kernel_shape") {
		a.kernel = ToInts(b.Ints("kernel_shape", nil))
	}
	if b.Has("strides") {
		a.strides = ToInts(b.Ints("strides", nil))
	}
	if b.Has("dilations") {
		a.dilations = ToInts(b.Ints("dilations", nil))
	}
	if b.Has("pads") {
		a.pads = ToInts(b.Ints("pads", nil))
	}
	a.autoPad = b.String("auto_pad", "NOTSET")
	if b.Err() != nil {
		return a
	}
	switch a.autoPad {
	case "NOTSET", "SAME_UPPER", "SAME_LOWER", "VALID":
	case "":
		a.autoPad = "NOTSET"
	default:
		b.Fail("auto_pad %q is not one of NOTSET, SAME_UPPER, SAME_LOWER, VALID", a.autoPad)
	}
	for _, k := range a.kernel {
		if k <= 0 {
			b.Fail("kernel_shape %v has a non-positive size", a.kernel)
		}
	}
	for _, s := range a.strides {
		if s <= 0 {
			b.Fail("strides %v has a non-positive value", a.strides)
		}
	}
	for _, d := range a.dilations {
		if d <= 0 {
			b.Fail("dilations %v has a non-positive value", a.dilations)
		}
	}
	for _, p := range a.pads {
		if p < 0 {
			b.Fail("pads %v has a negative value", a.pads)
		}
	}
	if len(a.pads)%2 != 0 {
		b.Fail("pads %v must hold a begin and an end per axis", a.pads)
	}
	n := len(a.kernel)
	if n > 0 && ((a.strides != nil && len(a.strides) != n) || (a.dilations != nil && len(a.dilations) != n) || (a.pads != nil && len(a.pads) != 2*n)) {
		b.Fail("kernel_shape %v, strides %v, dilations %v and pads %v disagree on the number of axes", a.kernel, a.strides, a.dilations, a.pads)
	}
	return a
}

// geom is a window geometry resolved for one input: per spatial axis the
// input size, kernel size, output size, stride, dilation and pads.
type geom struct {
	in, k, out, s, d, pb, pe []int
}

// resolve fills strides, dilations and pads for a rank-n spatial input
// with kernel k, checking lengths.
func (a *spatialAttrs) resolve(in, k []int) (*geom, error) {
	n := len(in)
	if len(k) != n {
		return nil, fmt.Errorf("kernel has %d spatial axes, input has %d", len(k), n)
	}
	g := &geom{in: in, k: k, out: make([]int, n), s: make([]int, n), d: make([]int, n), pb: make([]int, n), pe: make([]int, n)}
	for i := range n {
		g.s[i], g.d[i] = 1, 1
	}
	if a.strides != nil {
		if len(a.strides) != n {
			return nil, fmt.Errorf("strides %v do not match %d spatial axes", a.strides, n)
		}
		copy(g.s, a.strides)
	}
	if a.dilations != nil {
		if len(a.dilations) != n {
			return nil, fmt.Errorf("dilations %v do not match %d spatial axes", a.dilations, n)
		}
		copy(g.d, a.dilations)
	}
	if a.pads != nil && a.autoPad == "NOTSET" {
		if len(a.pads) != 2*n {
			return nil, fmt.Errorf("pads %v do not match %d spatial axes", a.pads, n)
		}
		copy(g.pb, a.pads[:n])
		copy(g.pe, a.pads[n:])
	}
	return g, nil
}

// forward resolves the geometry of a convolution or pooling window over
// spatial input in: output sizes and pads per auto_pad and ceil_mode.
func (a *spatialAttrs) forward(in, k []int, ceil bool) (*geom, error) {
	g, err := a.resolve(in, k)
	if err != nil {
		return nil, err
	}
	for i := range in {
		ek := (k[i]-1)*g.d[i] + 1
		switch a.autoPad {
		case "SAME_UPPER", "SAME_LOWER":
			out := (in[i] + g.s[i] - 1) / g.s[i]
			total := max(0, (out-1)*g.s[i]+ek-in[i])
			small := total / 2
			if a.autoPad == "SAME_UPPER" {
				g.pb[i], g.pe[i] = small, total-small
			} else {
				g.pb[i], g.pe[i] = total-small, small
			}
			g.out[i] = out
			continue
		case "VALID":
			g.pb[i], g.pe[i] = 0, 0
		}
		span := in[i] + g.pb[i] + g.pe[i] - ek
		if span < 0 {
			return nil, fmt.Errorf("window of size %d does not fit padded input size %d on spatial axis %d", ek, in[i]+g.pb[i]+g.pe[i], i)
		}
		out := span/g.s[i] + 1
		if ceil && span%g.s[i] != 0 {
			out++
			// A window that would start in the end padding is dropped.
			if (out-1)*g.s[i] >= in[i]+g.pb[i] {
				out--
			}
		}
		g.out[i] = out
	}
	return g, nil
}

// winIndex maps output coordinate o and kernel tap t on axis i to the
// input coordinate, or -1 when it falls in the padding.
func (g *geom) winIndex(i, o, t int) int {
	x := o*g.s[i] - g.pb[i] + t*g.d[i]
	if x < 0 || x >= g.in[i] {
		return -1
	}
	return x
}

// spatial splits an N×C×D1×...×Dn shape, failing on ranks below minRank.
func spatial(shape []int, minRank int, what string) (n, c int, sp []int, err error) {
	if len(shape) < minRank {
		return 0, 0, nil, fmt.Errorf("%s must have rank at least %d (N×C×spatial), got shape %v", what, minRank, shape)
	}
	return shape[0], shape[1], shape[2:], nil
}

// Scratch buffers (im2col columns, Winograd tiles) are recycled through
// per-type pools so that steady-state runs do not allocate them.
var scratchPools = map[tensor.DType]*sync.Pool{
	tensor.Float32: {}, tensor.Float64: {}, tensor.Int32: {},
}

// getScratch returns a buffer of n elements with undefined contents; give
// it back with putScratch.
func getScratch[T float32 | float64 | int32](n int) *[]T {
	var zero T
	p := scratchPools[tensor.DTypeOf([]T{zero}[:0])]
	if b, ok := p.Get().(*[]T); ok && cap(*b) >= n {
		*b = (*b)[:n]
		return b
	}
	b := make([]T, n)
	return &b
}

func putScratch[T float32 | float64 | int32](b *[]T) {
	var zero T
	scratchPools[tensor.DTypeOf([]T{zero}[:0])].Put(b)
}
