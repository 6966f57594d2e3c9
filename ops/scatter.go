package ops

import (
	"fmt"

	"github.com/onyxrt/onyx/tensor"
)

// ScatterND, ScatterElements and Scatter: writing by index into a copy of
// the data.

// scatterMode is the reduction attribute of the scatter operators.
type scatterMode int

const (
	scatterNone scatterMode = iota
	scatterAdd
	scatterMul
	scatterMax
	scatterMin
)

func scatterModeOf(b *Builder) (scatterMode, error) {
	red := "none"
	if b.Opset >= 16 {
		red = b.String("reduction", "none")
	}
	if err := b.Err(); err != nil {
		return 0, err
	}
	switch red {
	case "none":
		return scatterNone, nil
	case "add":
		return scatterAdd, nil
	case "mul":
		return scatterMul, nil
	case "max":
		return scatterMax, nil
	case "min":
		return scatterMin, nil
	}
	return 0, fmt.Errorf("unknown reduction %q", red)
}

// buildScatterND handles ScatterND-11, 13 and 16 (reduction).
func buildScatterND(b *Builder) (Kernel, error) {
	mode, err := scatterModeOf(b)
	if err != nil {
		return nil, err
	}
	return KernelFunc(func(rc *RunContext, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
		if err := Need(in, 3); err != nil {
			return nil, err
		}
		x, ind, upd := in[0], in[1], in[2]
		offs, slice, err := ndOffsets(x.Shape(), ind, 0)
		if err != nil {
			return nil, err
		}
		is := ind.Shape()
		want := append(append([]int{}, is[:len(is)-1]...), x.Shape()[is[len(is)-1]:]...)
		if !tensor.ShapeEqual(upd.Shape(), want) {
			return nil, fmt.Errorf("updates shape %v, want %v", upd.Shape(), want)
		}
		out, err := scatterApply(x, upd, offs, slice, mode)
		if err != nil {
			return nil, err
		}
		return rc.Results(out), nil
	}), nil
}

// buildScatterElements handles ScatterElements-11, 13 and 16 (reduction),
// and Scatter-9/11 (the same operator under its deprecated name).
func buildScatterElements(b *Builder) (Kernel, error) {
	axis := b.Int("axis", 0)
	mode := scatterNone
	if b.OpType != "Scatter" {
		var err error
		if mode, err = scatterModeOf(b); err != nil {
			return nil, err
		}
	}
	if err := b.Err(); err != nil {
		return nil, err
	}
	return KernelFunc(func(rc *RunContext, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
		if err := Need(in, 3); err != nil {
			return nil, err
		}
		x, ind, upd := in[0], in[1], in[2]
		if !tensor.ShapeEqual(ind.Shape(), upd.Shape()) {
			return nil, fmt.Errorf("indices shape %v and updates shape %v differ", ind.Shape(), upd.Shape())
		}
		a, err := elementsCheck(x.Shape(), ind.Shape(), axis, "indices")
		if err != nil {
			return nil, err
		}
		offs, err := elementsOffsets(x.Shape(), ind, a)
		if err != nil {
			return nil, err
		}
		out, err := scatterApply(x, upd, offs, 1, mode)
		if err != nil {
			return nil, err
		}
		return rc.Results(out), nil
	}), nil
}

// scatterApply returns a copy of x where the slice of size slice at
// offs[i] is combined with the i-th slice of upd.
func scatterApply(x, upd *tensor.Tensor, offs []int, slice int, mode scatterMode) (*tensor.Tensor, error) {
	if upd.DType() != x.DType() {
		return nil, fmt.Errorf("updates type %v differs from data type %v", upd.DType(), x.DType())
	}
	if mode == scatterNone {
		out := x.Clone()
		f, err := layoutPick(x.DType(), scatterRaw[uint8], scatterRaw[uint16], scatterRaw[uint32], scatterRaw[uint64], scatterRaw[string])
		if err != nil {
			return nil, err
		}
		f(out, upd, offs, slice)
		return out, nil
	}
	xu, dt, err := Upcast(x)
	if err != nil {
		return nil, err
	}
	uu, _, err := Upcast(upd)
	if err != nil {
		return nil, err
	}
	f, err := numberPick(xu.DType(), scatterTyped[float32], scatterTyped[float64], scatterTyped[int8], scatterTyped[int16],
		scatterTyped[int32], scatterTyped[int64], scatterTyped[uint8], scatterTyped[uint16], scatterTyped[uint32], scatterTyped[uint64])
	if err != nil {
		return nil, fmt.Errorf("reduction: %w", err)
	}
	out := xu
	if out == x {
		out = x.Clone()
	}
	f(out, uu, offs, slice, mode)
	return Downcast(out, dt)
}

func scatterRaw[T layoutElem](out, upd *tensor.Tensor, offs []int, slice int) {
	dst, src := layoutRaw[T](out), layoutRaw[T](upd)
	for i, o := range offs {
		copy(dst[o:o+slice], src[i*slice:(i+1)*slice])
	}
}

func scatterTyped[T Number](out, upd *tensor.Tensor, offs []int, slice int, mode scatterMode) {
	dst, src := tensor.Data[T](out), tensor.Data[T](upd)
	for i, o := range offs {
		d, s := dst[o:o+slice], src[i*slice:(i+1)*slice]
		switch mode {
		case scatterAdd:
			for j := range d {
				d[j] += s[j]
			}
		case scatterMul:
			for j := range d {
				d[j] *= s[j]
			}
		case scatterMax:
			for j := range d {
				d[j] = max(d[j], s[j])
			}
		case scatterMin:
			for j := range d {
				d[j] = min(d[j], s[j])
			}
		}
	}
}
