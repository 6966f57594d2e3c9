package ops

import (
	"fmt"
	"math"
	"slices"

	"github.com/onyxrt/onyx/tensor"
)

// Pad: constant, edge, reflect and (opset 19) wrap padding (negative pads
// crop).

// buildPadAttr handles Pad-1 ("paddings") and Pad-2 ("pads"), whose pads
// and constant value are attributes.
func buildPadAttr(b *Builder) (Kernel, error) {
	name := "pads"
	if b.Opset < 2 {
		name = "paddings"
	}
	pads := b.RequireInts(name)
	mode := b.String("mode", "constant")
	value := b.Float("value", 0)
	if err := b.Err(); err != nil {
		return nil, err
	}
	if err := padCheckMode(mode); err != nil {
		return nil, err
	}
	return KernelFunc(func(rc *RunContext, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
		if err := Need(in, 1); err != nil {
			return nil, err
		}
		x := in[0]
		var cv *tensor.Tensor
		if mode == "constant" && value != 0 {
			c, err := tensor.Scalar(value).Cast(x.DType())
			if err != nil {
				return nil, err
			}
			cv = c
		}
		out, err := padTensor(rc, x, pads, nil, mode, cv)
		if err != nil {
			return nil, err
		}
		return rc.Results(out), nil
	}), nil
}

// buildPad handles Pad-11 and later: inputs data, pads, optional
// constant_value, (opset 18) axes and (opset 19) wrap mode.
func buildPad(b *Builder) (Kernel, error) {
	mode := b.String("mode", "constant")
	if err := b.Err(); err != nil {
		return nil, err
	}
	if err := padCheckMode(mode); err != nil && (mode != "wrap" || b.Opset < 19) {
		return nil, err
	}
	return KernelFunc(func(rc *RunContext, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
		if err := Need(in, 2); err != nil {
			return nil, err
		}
		x := in[0]
		pads, err := layoutInts(in[1], "pads")
		if err != nil {
			return nil, err
		}
		var cv *tensor.Tensor
		if t := Opt(in, 2); t != nil && t.Len() > 0 && mode == "constant" {
			if t.Len() != 1 {
				return nil, fmt.Errorf("constant_value must be a scalar, got shape %v", t.Shape())
			}
			if t.DType() != x.DType() {
				return nil, fmt.Errorf("constant_value type %v differs from data type %v", t.DType(), x.DType())
			}
			cv = t
		}
		var axes []int64
		if t := Opt(in, 3); t != nil {
			if axes, err = layoutInts(t, "axes"); err != nil {
				return nil, err
			}
		}
		out, err := padTensor(rc, x, pads, axes, mode, cv)
		if err != nil {
			return nil, err
		}
		return rc.Results(out), nil
	}), nil
}

func padCheckMode(mode string) error {
	switch mode {
	case "constant", "edge", "reflect":
		return nil
	}
	return fmt.Errorf("unsupported mode %q (want constant, edge or reflect)", mode)
}

// padTensor pads x by pads ([begin per axis..., end per axis...] over axes,
// all axes when nil). cv is the constant value (nil: zero).
func padTensor(rc *RunContext, x *tensor.Tensor, pads, axes []int64, mode string, cv *tensor.Tensor) (*tensor.Tensor, error) {
	s := x.Shape()
	r := len(s)
	var axesBuf [8]int64
	var axBuf, beginBuf, endBuf, outBuf [8]int
	if axes == nil {
		axes = axesBuf[:0]
		for i := 0; i < r; i++ {
			axes = append(axes, int64(i))
		}
	}
	ax, err := normAxesInto(axBuf[:], axes, r)
	if err != nil {
		return nil, err
	}
	if len(pads) != 2*len(ax) {
		return nil, fmt.Errorf("pads %v has %d entries, want %d", slices.Clone(pads), len(pads), 2*len(ax))
	}
	begin, end := intsBuf(beginBuf[:], r), intsBuf(endBuf[:], r)
	clear(begin)
	clear(end)
	outShape := intsBuf(outBuf[:], r)
	copy(outShape, s)
	for i, a := range ax {
		pb, pe := pads[i], pads[len(ax)+i]
		if pb > math.MaxInt32 || pe > math.MaxInt32 || pb < math.MinInt32 || pe < math.MinInt32 {
			return nil, fmt.Errorf("pads %v: %w", slices.Clone(pads), tensor.ErrTooLarge)
		}
		n := int64(s[a]) + pb + pe
		if n < 0 {
			return nil, fmt.Errorf("pads %v make dimension %d negative", slices.Clone(pads), a)
		}
		if n > math.MaxInt {
			return nil, fmt.Errorf("pads %v: %w", slices.Clone(pads), tensor.ErrTooLarge)
		}
		begin[a], end[a], outShape[a] = int(pb), int(pe), int(n)
	}
	out, err := layoutNew(rc, x.DType(), outShape)
	if err != nil {
		return nil, err
	}
	if out.Len() == 0 {
		return out, nil
	}
	if mode != "constant" {
		for a := range s {
			if s[a] == 0 && outShape[a] > 0 {
				return nil, fmt.Errorf("cannot %s-pad dimension %d of size 0", mode, a)
			}
			if mode == "wrap" && outShape[a] > 0 && s[a]-max(0, -begin[a])-max(0, -end[a]) <= 0 {
				return nil, fmt.Errorf("cannot wrap-pad dimension %d: pads %v crop all of it", a, slices.Clone(pads))
			}
		}
	}
	w, err := layoutWidth(x.DType())
	if err != nil {
		return nil, err
	}
	switch w {
	case 1:
		padRaw[uint8](out, x, begin, end, mode, cv)
	case 2:
		padRaw[uint16](out, x, begin, end, mode, cv)
	case 4:
		padRaw[uint32](out, x, begin, end, mode, cv)
	case 8:
		padRaw[uint64](out, x, begin, end, mode, cv)
	default:
		padRaw[string](out, x, begin, end, mode, cv)
	}
	return out, nil
}

func padRaw[T layoutElem](out, x *tensor.Tensor, begin, end []int, mode string, cv *tensor.Tensor) {
	dst, src := layoutRaw[T](out), layoutRaw[T](x)
	s, os := x.Shape(), out.Shape()
	var inBuf, outBuf, cntBuf [8]int
	inStr, outStr := stridesInto(intsBuf(inBuf[:], len(s)), s), stridesInto(intsBuf(outBuf[:], len(os)), os)
	if mode == "constant" {
		if cv != nil {
			layoutFill(dst, layoutRaw[T](cv)[0])
		}
		// Copy the part of x that survives cropping.
		cnt := intsBuf(cntBuf[:], len(s))
		so, do := 0, 0
		for a := range s {
			cropB, cropE := max(0, -begin[a]), max(0, -end[a])
			cnt[a] = s[a] - cropB - cropE
			if cnt[a] <= 0 {
				return
			}
			so += cropB * inStr[a]
			do += max(0, begin[a]) * outStr[a]
		}
		layoutCopy(dst, do, outStr, src, so, inStr, cnt)
		return
	}
	// Edge, reflect and wrap: each output coordinate reads one input
	// coordinate per axis; maps[a][o] is that coordinate times the input
	// stride. Wrap repeats the part of the axis that survives cropping.
	maps := make([][]int, len(s))
	for a := range s {
		m := make([]int, os[a])
		d := s[a]
		cropB, kept := max(0, -begin[a]), d-max(0, -begin[a])-max(0, -end[a])
		for o := range m {
			i := o - begin[a]
			if mode == "wrap" {
				i = (o - max(0, begin[a])) % kept
				if i < 0 {
					i += kept
				}
				i += cropB
			} else if mode == "edge" {
				i = min(max(i, 0), d-1)
			} else if d == 1 {
				i = 0
			} else {
				period := 2 * (d - 1)
				i %= period
				if i < 0 {
					i += period
				}
				if i >= d {
					i = period - i
				}
			}
			m[o] = i * inStr[a]
		}
		maps[a] = m
	}
	r := len(os)
	if r == 0 {
		dst[0] = src[0]
		return
	}
	inner := maps[r-1]
	idx := make([]int, r-1)
	base := 0
	for a := 0; a < r-1; a++ {
		base += maps[a][0]
	}
	for d := 0; d < len(dst); d += len(inner) {
		row := dst[d : d+len(inner)]
		for j, m := range inner {
			row[j] = src[base+m]
		}
		for k := r - 2; k >= 0; k-- {
			base -= maps[k][idx[k]]
			idx[k]++
			if idx[k] < os[k] {
				base += maps[k][idx[k]]
				break
			}
			idx[k] = 0
			base += maps[k][0]
		}
	}
}
