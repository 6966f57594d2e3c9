package ops

import (
	"fmt"

	"github.com/onyxrt/onyx/tensor"
)

// Gradient rules of DFT, STFT and DequantizeLinear, with their backward
// kernels:
//
//	DFTGrad(dy, x, [dft_length], [axis]) inverse, onesided, axis    -> dx
//	STFTGrad(dy, signal, frame_step, [window], [frame_length]) onesided -> (dsignal, dwindow)
//	DequantizeLinearGrad(dy, x, x_scale, [x_zero_point]) axis, per_axis, block_size -> dscale
//
// A DFT is linear: y_k = s·Σ_j x_j·ω^(jk) (ω = e^(∓2πi/L), s = 1 or 1/L for
// the inverse), so with g = dy as complex numbers dx_j = s·Σ_k g_k·ω^(-jk),
// the transform in the other direction of g zero-padded to L (the real
// part only for a real input; zero for input samples beyond dft_length).
// STFT frames are such transforms of window·signal.

// gradSignal returns the rule of DFT or STFT, or nil.
func gradSignal(name string) GradFunc {
	switch name {
	case "DFT":
		return gradDFT
	case "STFT":
		return gradSTFT
	}
	return nil
}

func gradDFT(g GradContext) error {
	b := g.Node()
	attrs := []*Attr{IntAttr("inverse", b.Int("inverse", 0)), IntAttr("onesided", b.Int("onesided", 0))}
	ins := []string{g.OutputGrad(0), g.Input(0), g.Input(1)}
	if b.Opset < 20 {
		attrs = append(attrs, IntAttr("axis", b.Int("axis", 1)))
	} else {
		attrs = append(attrs, IntAttr("axis", -2))
		ins = append(ins, g.Input(2))
	}
	return gradKernel(g, "DFTGrad", trimTrailing(ins), 1, attrs...)
}

func buildDFTGrad(b *Builder) (Kernel, error) {
	inverse := b.Int("inverse", 0) != 0
	onesided := b.Int("onesided", 0) != 0
	attrAxis := b.Int("axis", -2)
	if err := b.Err(); err != nil {
		return nil, err
	}
	return KernelFunc(func(rc *RunContext, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
		if err := Need(in, 2); err != nil {
			return nil, err
		}
		dyT, xT := in[0], in[1]
		shape := xT.Shape()
		r := len(shape)
		if r < 2 || (shape[r-1] != 1 && shape[r-1] != 2) {
			return nil, fmt.Errorf("DFTGrad: input shape %v", shape)
		}
		axis := attrAxis
		if t := Opt(in, 3); t != nil {
			v, err := sigScalarInt(t, "axis")
			if err != nil {
				return nil, err
			}
			axis = v
		}
		a := int(axis)
		if a < 0 {
			a += r
		}
		if a < 0 || a > r-2 {
			return nil, fmt.Errorf("DFTGrad: axis %d is out of range for rank %d", axis, r)
		}
		n := shape[a]
		length := n
		if t := Opt(in, 2); t != nil {
			v, err := sigScalarInt(t, "dft_length")
			if err != nil {
				return nil, err
			}
			if v <= 0 || v > tensor.MaxBytes/64 {
				return nil, fmt.Errorf("DFTGrad: bad dft_length %d", v)
			}
			length = int(v)
		}
		if length == 0 {
			return nil, fmt.Errorf("DFTGrad: empty axis")
		}
		outLen := length
		if onesided {
			outLen = length/2 + 1
		}
		want := append([]int(nil), shape...)
		want[a], want[r-1] = outLen, 2
		if err := gxSameShape("DFTGrad: dY", dyT, want); err != nil {
			return nil, err
		}
		dy, err := gxFloats(dyT, "DFTGrad: dY")
		if err != nil {
			return nil, err
		}
		comp := shape[r-1]
		outer, inner := prod(shape[:a]), prod(shape[a+1:r-1])
		dx := make([]float64, prod(shape))
		plan := newFFTPlan(length)
		scratch := plan.newScratch()
		buf := make([]complex128, length)
		used := min(n, length)
		scale := 1.0
		if inverse {
			scale = 1 / float64(length)
		}
		for j := 0; j < outer*inner; j++ {
			o, i := j/inner, j%inner
			clear(buf)
			for k := 0; k < outLen; k++ {
				q := ((o*outLen+k)*inner + i) * 2
				buf[k] = complex(dy[q], dy[q+1])
			}
			plan.transform(buf, !inverse, scratch)
			for k := 0; k < used; k++ {
				p := ((o*n+k)*inner + i) * comp
				dx[p] = real(buf[k]) * scale
				if comp == 2 {
					dx[p+1] = imag(buf[k]) * scale
				}
			}
		}
		return rc.one(gxOut(dx, xT.DType(), shape))
	}), nil
}

// gradSTFT emits STFTGrad for the signal and the window (frame_step and
// frame_length are integers).
func gradSTFT(g GradContext) error {
	dy := g.OutputGrad(0)
	wantX, wantW := g.NeedsGrad(0), g.Input(2) != "" && g.NeedsGrad(2)
	if dy == "" || (!wantX && !wantW) {
		return nil
	}
	b := g.Node()
	onesided := b.Int("onesided", 1)
	if err := b.Err(); err != nil {
		return err
	}
	nOut := 1
	if wantW {
		nOut = 2
	}
	out := g.Emit(GradDomain, "STFTGrad", trimTrailing([]string{dy, g.Input(0), g.Input(1), g.Input(2), g.Input(3)}), nOut, IntAttr("onesided", onesided))
	if wantX {
		g.SetInputGrad(0, out[0])
	}
	if wantW {
		g.SetInputGrad(2, out[1])
	}
	return nil
}

func buildSTFTGrad(b *Builder) (Kernel, error) {
	onesided := b.Int("onesided", 1) != 0
	if err := b.Err(); err != nil {
		return nil, err
	}
	return KernelFunc(func(rc *RunContext, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
		if err := Need(in, 3); err != nil {
			return nil, err
		}
		dyT, xT := in[0], in[1]
		shape := xT.Shape()
		comp := 1
		switch {
		case len(shape) == 3 && (shape[2] == 1 || shape[2] == 2):
			comp = shape[2]
		case len(shape) == 2:
		default:
			return nil, fmt.Errorf("STFTGrad: signal shape %v", shape)
		}
		batch, length := shape[0], shape[1]
		step, err := sigScalarInt(in[2], "frame_step")
		if err != nil {
			return nil, err
		}
		if step <= 0 {
			return nil, fmt.Errorf("STFTGrad: frame_step must be positive, is %d", step)
		}
		var window []float64
		wT := Opt(in, 3)
		frame := int64(-1)
		if wT != nil {
			if window, err = gxFloats(wT, "window"); err != nil {
				return nil, err
			}
			frame = int64(len(window))
		}
		if t := Opt(in, 4); t != nil {
			fl, err := sigScalarInt(t, "frame_length")
			if err != nil {
				return nil, err
			}
			if frame >= 0 && fl != frame {
				return nil, fmt.Errorf("STFTGrad: frame_length %d differs from the window's length %d", fl, frame)
			}
			frame = fl
		}
		if frame <= 0 || frame > int64(length) {
			return nil, fmt.Errorf("STFTGrad: frame length %d must be in [1, %d]", frame, length)
		}
		fl := int(frame)
		frames := (length-fl)/int(step) + 1
		bins := fl
		if onesided {
			bins = fl/2 + 1
		}
		if err := gxSameShape("STFTGrad: dY", dyT, []int{batch, frames, bins, 2}); err != nil {
			return nil, err
		}
		dy, err := gxFloats(dyT, "STFTGrad: dY")
		if err != nil {
			return nil, err
		}
		x, err := gxFloats(xT, "STFTGrad: signal")
		if err != nil {
			return nil, err
		}
		dx := make([]float64, len(x))
		var dw []float64
		if window != nil {
			dw = make([]float64, fl)
		}
		plan := newFFTPlan(fl)
		scratch := plan.newScratch()
		buf := make([]complex128, fl)
		for j := 0; j < batch*frames; j++ {
			bi, f := j/frames, j%frames
			clear(buf)
			for k := 0; k < bins; k++ {
				q := (j*bins + k) * 2
				buf[k] = complex(dy[q], dy[q+1])
			}
			plan.transform(buf, true, scratch) // G_t = Σ_k g_k·ω^(-tk)
			start := bi*length + f*int(step)
			for t := 0; t < fl; t++ {
				p := (start + t) * comp
				G := buf[t]
				wt := 1.0
				if window != nil {
					wt = window[t]
					xv := complex(x[p], 0)
					if comp == 2 {
						xv = complex(x[p], x[p+1])
					}
					dw[t] += real(xv * complex(real(G), -imag(G)))
				}
				dx[p] += wt * real(G)
				if comp == 2 {
					dx[p+1] += wt * imag(G)
				}
			}
		}
		outs := []*tensor.Tensor{nil, nil}
		if outs[0], err = gxOut(dx, xT.DType(), shape); err != nil {
			return nil, err
		}
		if b.Out(1) {
			if wT == nil {
				return nil, fmt.Errorf("STFTGrad: the window gradient needs a window")
			}
			if outs[1], err = gxOut(dw, wT.DType(), wT.Shape()); err != nil {
				return nil, err
			}
		}
		return outs, nil
	}), nil
}

// ---- DequantizeLinear ----

// gradDequantize: y = (x - zero_point)·scale, so dscale sums dy·(x -
// zero_point) over each scale's elements. x and the zero point are
// integers.
func gradDequantize(g GradContext) error {
	dy := g.OutputGrad(0)
	if dy == "" || !g.NeedsGrad(1) {
		return nil
	}
	b := g.Node()
	var attrs []*Attr
	if b.Opset >= 13 {
		attrs = append(attrs, IntAttr("axis", b.Int("axis", 1)), IntAttr("per_axis", 1))
	}
	if b.Opset >= 21 {
		attrs = append(attrs, IntAttr("block_size", b.Int("block_size", 0)))
	}
	if err := b.Err(); err != nil {
		return err
	}
	ins := []string{dy, g.Input(0), g.Input(1)}
	if b.In(2) {
		ins = append(ins, g.Input(2))
	}
	g.SetInputGrad(1, g.Emit(GradDomain, "DequantizeLinearGrad", ins, 1, attrs...)[0])
	return nil
}

func buildDequantizeLinearGrad(b *Builder) (Kernel, error) {
	a := qLinearAttrs{axis: b.Int("axis", 1), perAxis: b.Int("per_axis", 0) != 0, block: int(b.Int("block_size", 0))}
	if err := b.Err(); err != nil {
		return nil, err
	}
	if a.block < 0 {
		return nil, fmt.Errorf("DequantizeLinearGrad: block_size %d is negative", a.block)
	}
	return KernelFunc(func(rc *RunContext, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
		if err := Need(in, 3); err != nil {
			return nil, err
		}
		dyT, xT, sT, zT := in[0], in[1], in[2], Opt(in, 3)
		if err := gxSameShape("DequantizeLinearGrad: dY", dyT, xT.Shape()); err != nil {
			return nil, err
		}
		p, err := a.params(sT, zT, xT.Shape())
		if err != nil {
			return nil, err
		}
		xv, err := xT.AsInt64s()
		if err != nil {
			return nil, fmt.Errorf("DequantizeLinearGrad: x: %w", err)
		}
		dy, err := gxFloats(dyT, "DequantizeLinearGrad: dY")
		if err != nil {
			return nil, err
		}
		ds := make([]float64, len(p.scale))
		for i, v := range xv {
			c := p.channel(i)
			ds[c] += dy[i] * float64(v-int64(p.zp[c]))
		}
		return rc.one(gxOut(ds, sT.DType(), sT.Shape()))
	}), nil
}
