package ops

import (
	"fmt"
	"math"

	"github.com/onyxrt/onyx/tensor"
)

// Signal operators, the speech front end: DFT, STFT, the Hann, Hamming and
// Blackman windows, and MelWeightMatrix. Transforms run through the FFT of
// signal_fft.go in complex128 and are rounded to the input's element type
// once at the end.

func registerSignal(r *Registry) {
	r.Register(
		&Def{Name: "DFT", Since: 17, Build: buildDFT},
		&Def{Name: "DFT", Since: 20, Build: buildDFT},
		&Def{Name: "STFT", Since: 17, Build: buildSTFT},
		&Def{Name: "HannWindow", Since: 17, Build: windowBuilder(0.5, 0.5, 0)},
		&Def{Name: "HammingWindow", Since: 17, Build: windowBuilder(25.0/46, 1-25.0/46, 0)},
		&Def{Name: "BlackmanWindow", Since: 17, Build: windowBuilder(0.42, 0.5, 0.08)},
		&Def{Name: "MelWeightMatrix", Since: 17, Build: buildMelWeightMatrix},
	)
}

// signalFloat checks that t holds one of the float types the signal
// operators take.
func signalFloat(t *tensor.Tensor, what string) error {
	if !t.DType().IsFloat() {
		return fmt.Errorf("%s: unsupported element type %v (want a float type)", what, t.DType())
	}
	return nil
}

// sigScalarInt reads a one-element integer tensor (a scalar, or shape [1]).
func sigScalarInt(t *tensor.Tensor, what string) (int64, error) {
	if t.Len() != 1 || t.Rank() > 1 {
		return 0, fmt.Errorf("%s must be a scalar, has shape %v", what, t.Shape())
	}
	if !t.DType().IsInt() {
		return 0, fmt.Errorf("%s must be an integer, has type %v", what, t.DType())
	}
	v, err := t.AsInt64s()
	if err != nil {
		return 0, err
	}
	return v[0], nil
}

// sigScalarFloat reads a one-element float tensor.
func sigScalarFloat(t *tensor.Tensor, what string) (float64, error) {
	if t.Len() != 1 || t.Rank() > 1 {
		return 0, fmt.Errorf("%s must be a scalar, has shape %v", what, t.Shape())
	}
	if !t.DType().IsFloat() {
		return 0, fmt.Errorf("%s must be a float, has type %v", what, t.DType())
	}
	return t.Float64s()[0], nil
}

// sigOutput converts a float64 result (allocated with newOutput, which
// refuses absurd sizes) to type dt.
func sigOutput(dt tensor.DType, t *tensor.Tensor) (*tensor.Tensor, error) {
	if dt == tensor.Float64 {
		return t, nil
	}
	return t.Cast(dt)
}

// buildDFT: DFT-17 takes the axis as an attribute (default 1), DFT-20 as an
// optional third input (default -2). The input is [..., 1] (real) or
// [..., 2] (complex); the output is [..., 2] with the axis resized to
// dft_length, or to dft_length/2+1 when onesided. As in ONNX Runtime,
// onesided keeps the first half of whatever transform was computed, also
// for complex input and for the inverse, which is scaled by 1/dft_length.
func buildDFT(b *Builder) (Kernel, error) {
	inverse := b.Int("inverse", 0) != 0
	onesided := b.Int("onesided", 0) != 0
	opset := b.Opset
	attrAxis := int64(-2)
	if opset < 20 {
		attrAxis = b.Int("axis", 1)
	}
	if err := b.Err(); err != nil {
		return nil, err
	}
	return KernelFunc(func(rc *RunContext, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
		x, err := tensorArg(in, 0, "input")
		if err != nil {
			return nil, err
		}
		if err := signalFloat(x, "input"); err != nil {
			return nil, err
		}
		shape := x.Shape()
		r := len(shape)
		if r < 2 || (shape[r-1] != 1 && shape[r-1] != 2) {
			return nil, fmt.Errorf("input must have rank >= 2 and a last dimension of 1 (real) or 2 (complex), has shape %v", shape)
		}
		axis := attrAxis
		if t := Opt(in, 2); t != nil && opset >= 20 {
			if axis, err = sigScalarInt(t, "axis"); err != nil {
				return nil, err
			}
		}
		a := int(axis)
		if a < 0 {
			a += r
		}
		if a < 0 || a > r-2 {
			return nil, fmt.Errorf("axis %d is out of range for rank %d (the last dimension holds real and imaginary parts)", axis, r)
		}
		n := shape[a]
		length := n
		if t := Opt(in, 1); t != nil {
			v, err := sigScalarInt(t, "dft_length")
			if err != nil {
				return nil, err
			}
			if v <= 0 || v > tensor.MaxBytes/64 { // the FFT's tables take up to 64 bytes a sample
				return nil, fmt.Errorf("dft_length must be positive and below %d, is %d", tensor.MaxBytes/64, v)
			}
			length = int(v)
		}
		if length == 0 {
			return nil, fmt.Errorf("cannot transform an empty axis (dimension %d of %v) without dft_length", a, shape)
		}
		outLen := length
		if onesided {
			outLen = length/2 + 1
		}
		outShape := append([]int(nil), shape...)
		outShape[a], outShape[r-1] = outLen, 2
		outer := 1
		for _, d := range shape[:a] {
			outer *= d
		}
		inner := 1
		for _, d := range shape[a+1 : r-1] {
			inner *= d
		}
		yt, ys, err := newOutput[float64](outShape)
		if err != nil {
			return nil, err
		}
		xs := x.Float64s()
		comp := shape[r-1]
		plan := newFFTPlan(length)
		used := min(n, length)
		scale := 1.0
		if inverse {
			scale = 1 / float64(length)
		}
		ewParallel(rc, outer*inner, max(1, 4096/length), func(lo, hi int) {
			buf := make([]complex128, length)
			scratch := plan.newScratch()
			for j := lo; j < hi; j++ {
				o, i := j/inner, j%inner
				for k := 0; k < used; k++ {
					p := ((o*n+k)*inner + i) * comp
					if comp == 2 {
						buf[k] = complex(xs[p], xs[p+1])
					} else {
						buf[k] = complex(xs[p], 0)
					}
				}
				clear(buf[used:])
				plan.transform(buf, inverse, scratch)
				for k := 0; k < outLen; k++ {
					q := ((o*outLen+k)*inner + i) * 2
					ys[q], ys[q+1] = real(buf[k])*scale, imag(buf[k])*scale
				}
			}
		})
		y, err := sigOutput(x.DType(), yt)
		if err != nil {
			return nil, err
		}
		return rc.Results(y), nil
	}), nil
}

// buildSTFT: the signal is [batch, length, 1 or 2] (or [batch, length],
// real); frames of frame_length samples start every frame_step samples,
// are multiplied by the window (rectangular when absent) and transformed.
// The output is [batch, frames, bins, 2], with bins = frame_length/2+1
// when onesided (the default).
func buildSTFT(b *Builder) (Kernel, error) {
	onesided := b.Int("onesided", 1) != 0
	if err := b.Err(); err != nil {
		return nil, err
	}
	return KernelFunc(func(rc *RunContext, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
		if err := Need(in, 2); err != nil {
			return nil, err
		}
		x := in[0]
		if err := signalFloat(x, "signal"); err != nil {
			return nil, err
		}
		shape := x.Shape()
		comp := 1
		switch {
		case len(shape) == 3 && (shape[2] == 1 || shape[2] == 2):
			comp = shape[2]
		case len(shape) == 2:
		default:
			return nil, fmt.Errorf("signal must be [batch, length, 1 or 2], has shape %v", shape)
		}
		batch, length := shape[0], shape[1]
		step, err := sigScalarInt(in[1], "frame_step")
		if err != nil {
			return nil, err
		}
		if step <= 0 {
			return nil, fmt.Errorf("frame_step must be positive, is %d", step)
		}
		var window []float64
		frame := int64(-1)
		if w := Opt(in, 2); w != nil {
			if err := signalFloat(w, "window"); err != nil {
				return nil, err
			}
			if w.Rank() != 1 {
				return nil, fmt.Errorf("window must be 1-D, has shape %v", w.Shape())
			}
			window = w.Float64s()
			frame = int64(len(window))
		}
		if t := Opt(in, 3); t != nil {
			fl, err := sigScalarInt(t, "frame_length")
			if err != nil {
				return nil, err
			}
			if frame >= 0 && fl != frame {
				return nil, fmt.Errorf("frame_length %d differs from the window's length %d", fl, frame)
			}
			frame = fl
		}
		if frame < 0 {
			return nil, fmt.Errorf("STFT needs a window or a frame_length")
		}
		if frame == 0 || frame > int64(length) {
			return nil, fmt.Errorf("frame length %d must be in [1, %d] (the signal length)", frame, length)
		}
		fl := int(frame)
		frames := (length-fl)/int(step) + 1
		bins := fl
		if onesided {
			bins = fl/2 + 1
		}
		outShape := []int{batch, frames, bins, 2}
		yt, ys, err := newOutput[float64](outShape)
		if err != nil {
			return nil, err
		}
		xs := x.Float64s()
		plan := newFFTPlan(fl)
		ewParallel(rc, batch*frames, max(1, 4096/fl), func(lo, hi int) {
			buf := make([]complex128, fl)
			scratch := plan.newScratch()
			for j := lo; j < hi; j++ {
				bi, f := j/frames, j%frames
				start := bi*length + f*int(step)
				for k := 0; k < fl; k++ {
					p := (start + k) * comp
					v := complex(xs[p], 0)
					if comp == 2 {
						v = complex(xs[p], xs[p+1])
					}
					if window != nil {
						v *= complex(window[k], 0)
					}
					buf[k] = v
				}
				plan.transform(buf, false, scratch)
				q := j * bins * 2
				for k := 0; k < bins; k++ {
					ys[q+2*k], ys[q+2*k+1] = real(buf[k]), imag(buf[k])
				}
			}
		})
		y, err := sigOutput(x.DType(), yt)
		if err != nil {
			return nil, err
		}
		return rc.Results(y), nil
	}), nil
}

// signalOutputType reads the output_datatype attribute (default float) and
// checks that it is numeric.
func signalOutputType(b *Builder) tensor.DType {
	dt := tensor.DType(b.Int("output_datatype", int64(tensor.Float32)))
	if !dt.IsNumeric() {
		b.Fail("output_datatype %v is not a numeric type", dt)
	}
	return dt
}

// windowBuilder returns the Build function of a cosine-sum window
// w[n] = a0 - a1 cos(2πn/N) + a2 cos(4πn/N), where N is the size when
// periodic (the default) and size-1 otherwise. A symmetric window of size 1
// is [1], as in numpy and scipy. Integer output types truncate.
func windowBuilder(a0, a1, a2 float64) func(*Builder) (Kernel, error) {
	return func(b *Builder) (Kernel, error) {
		periodic := b.Int("periodic", 1) != 0
		dt := signalOutputType(b)
		if err := b.Err(); err != nil {
			return nil, err
		}
		return KernelFunc(func(rc *RunContext, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
			if err := Need(in, 1); err != nil {
				return nil, err
			}
			size, err := sigScalarInt(in[0], "size")
			if err != nil {
				return nil, err
			}
			if size < 0 || size > math.MaxInt32 {
				return nil, fmt.Errorf("window size %d is out of range", size)
			}
			n := int(size)
			denom := float64(n)
			if !periodic {
				denom = float64(n - 1)
			}
			vt, v, err := newOutput[float64]([]int{n})
			if err != nil {
				return nil, err
			}
			for i := range v {
				if denom == 0 {
					v[i] = 1
					continue
				}
				ang := 2 * math.Pi * float64(i) / denom
				v[i] = a0 - a1*math.Cos(ang)
				if a2 != 0 {
					v[i] += a2 * math.Cos(2*ang)
				}
			}
			y, err := sigOutput(dt, vt)
			if err != nil {
				return nil, err
			}
			return rc.Results(y), nil
		}), nil
	}
}

// buildMelWeightMatrix builds the [dft_length/2+1, num_mel_bins] matrix of
// triangular mel filters that maps a onesided spectrum to mel bins. The
// band [lower_edge_hertz, upper_edge_hertz] is cut into num_mel_bins+2
// points equally spaced on the mel scale (mel = 2595 log10(1 + hz/700)),
// each mapped to the spectrum bin floor((dft_length+1) hz / sample_rate);
// filter i rises from point i to point i+1 and falls to point i+2. This is
// the ONNX reference's and ONNX Runtime's construction.
func buildMelWeightMatrix(b *Builder) (Kernel, error) {
	dt := signalOutputType(b)
	if err := b.Err(); err != nil {
		return nil, err
	}
	return KernelFunc(func(rc *RunContext, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
		if err := Need(in, 5); err != nil {
			return nil, err
		}
		var ints [3]int64
		for i, name := range []string{"num_mel_bins", "dft_length", "sample_rate"} {
			v, err := sigScalarInt(in[i], name)
			if err != nil {
				return nil, err
			}
			if v <= 0 || v > math.MaxInt32 {
				return nil, fmt.Errorf("%s must be positive, is %d", name, v)
			}
			ints[i] = v
		}
		lower, err := sigScalarFloat(in[3], "lower_edge_hertz")
		if err != nil {
			return nil, err
		}
		upper, err := sigScalarFloat(in[4], "upper_edge_hertz")
		if err != nil {
			return nil, err
		}
		mels, dftLen, rate := int(ints[0]), float64(ints[1]), float64(ints[2])
		specBins := int(ints[1])/2 + 1
		if !(lower >= 0) || !(upper >= lower) {
			return nil, fmt.Errorf("need 0 <= lower_edge_hertz (%g) <= upper_edge_hertz (%g)", lower, upper)
		}
		if hi := math.Floor((dftLen + 1) * upper / rate); hi >= float64(specBins) {
			return nil, fmt.Errorf("upper_edge_hertz %g maps to spectrum bin %g, beyond the %d bins of dft_length %d at sample_rate %d", upper, hi, specBins, ints[1], ints[2])
		}
		toMel := func(hz float64) float64 { return 2595 * math.Log10(1+hz/700) }
		lowMel, highMel := toMel(lower), toMel(upper)
		step := (highMel - lowMel) / float64(mels+2)
		points := make([]int, mels+2)
		for i := range points {
			hz := 700 * (math.Pow(10, (lowMel+step*float64(i))/2595) - 1)
			points[i] = int(math.Floor((dftLen + 1) * hz / rate))
			if points[i] < 0 || points[i] >= specBins {
				return nil, fmt.Errorf("mel point %d maps to spectrum bin %d, out of [0, %d)", i, points[i], specBins)
			}
		}
		wt, w, err := newOutput[float64]([]int{specBins, mels})
		if err != nil {
			return nil, err
		}
		for i := 0; i < mels; i++ {
			left, center, right := points[i], points[i+1], points[i+2]
			if up := center - left; up == 0 {
				w[center*mels+i] = 1
			} else {
				for j := left; j <= center; j++ {
					w[j*mels+i] = float64(j-left) / float64(up)
				}
			}
			if down := right - center; down > 0 {
				for j := center; j < right; j++ {
					w[j*mels+i] = float64(right-j) / float64(down)
				}
			}
		}
		y, err := sigOutput(dt, wt)
		if err != nil {
			return nil, err
		}
		return rc.Results(y), nil
	}), nil
}
