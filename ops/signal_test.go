package ops

import (
	"context"
	"math"
	"math/cmplx"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/onyxrt/onyx/tensor"
)

// sgRun builds op (from a registry holding only the family register
// fills) with attrs (int, float64, string, []int, []float64, []string
// values) and nOut requested outputs, and runs it on in (nil for an
// omitted optional input). It is shared by signal, random and textvec
// tests.
func sgRun(register func(*Registry), op string, opset int, attrs map[string]any, nOut int, in ...*tensor.Tensor) ([]*tensor.Tensor, error) {
	k, err := sgBuild(register, op, opset, attrs, nOut, len(in), func(i int) bool { return in[i] != nil })
	if err != nil {
		return nil, err
	}
	return k.Run(&RunContext{Ctx: context.Background(), Threads: 3}, in)
}

func sgBuild(register func(*Registry), op string, opset int, attrs map[string]any, nOut, nIn int, present func(int) bool) (Kernel, error) {
	r := NewRegistry()
	register(r)
	def, err := r.Lookup("", op, opset)
	if err != nil {
		return nil, err
	}
	inPresent := make([]bool, nIn)
	for i := range inPresent {
		inPresent[i] = present(i)
	}
	outs := make([]bool, nOut)
	for i := range outs {
		outs[i] = true
	}
	b := &Builder{OpType: op, Opset: opset, NumInputs: nIn, NumOutputs: nOut,
		InputPresent: inPresent, OutputPresent: outs, Attrs: map[string]*Attr{}}
	for name, v := range attrs {
		a := &Attr{Name: name}
		switch x := v.(type) {
		case int:
			a.Type, a.Int = AttrInt, int64(x)
		case float64:
			a.Type, a.Float = AttrFloat, float32(x)
		case string:
			a.Type, a.String = AttrString, x
		case []int:
			a.Type = AttrInts
			for _, e := range x {
				a.Ints = append(a.Ints, int64(e))
			}
		case []float64:
			a.Type = AttrFloats
			for _, e := range x {
				a.Floats = append(a.Floats, float32(e))
			}
		case []string:
			a.Type, a.Strings = AttrStrings, x
		default:
			panic("sgBuild: unsupported attribute type")
		}
		b.Attrs[name] = a
	}
	return def.Build(b)
}

// sgClose fails unless got has want's dtype and shape and values within
// tol*(1+|want|).
func sgClose(t *testing.T, what string, got, want *tensor.Tensor, tol float64) {
	t.Helper()
	if got == nil {
		t.Fatalf("%s: nil output", what)
	}
	if got.DType() != want.DType() || !tensor.ShapeEqual(got.Shape(), want.Shape()) {
		t.Fatalf("%s: got %v%v, want %v%v", what, got.DType(), got.Shape(), want.DType(), want.Shape())
	}
	if want.DType() == tensor.String {
		g, w := tensor.Data[string](got), tensor.Data[string](want)
		for i := range w {
			if g[i] != w[i] {
				t.Fatalf("%s: element %d = %q, want %q\ngot  %q\nwant %q", what, i, g[i], w[i], g, w)
			}
		}
		return
	}
	g, w := got.Float64s(), want.Float64s()
	for i := range w {
		if math.Abs(g[i]-w[i]) > tol*(1+math.Abs(w[i])) {
			t.Fatalf("%s: element %d = %v, want %v\ngot  %v\nwant %v", what, i, g[i], w[i], g, w)
		}
	}
}

func sgF32(shape []int, v ...float32) *tensor.Tensor { return tensor.From(shape, v) }
func sgF64(shape []int, v ...float64) *tensor.Tensor { return tensor.From(shape, v) }
func sgI64(v int64) *tensor.Tensor                   { return tensor.Scalar(v) }

// naiveDFT is the O(n²) definition, the FFT's reference.
func naiveDFT(x []complex128, inverse bool) []complex128 {
	n := len(x)
	sign := -1.0
	if inverse {
		sign = 1
	}
	out := make([]complex128, n)
	for k := range out {
		var s complex128
		for j, v := range x {
			s += v * cmplx.Rect(1, sign*2*math.Pi*float64((j*k)%n)/float64(n))
		}
		out[k] = s
	}
	return out
}

func TestSignalFFTMatchesNaiveDFT(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	lengths := []int{1, 2, 3, 4, 5, 6, 7, 8, 9, 12, 15, 16, 17, 31, 32, 60, 64, 97, 100, 128, 243, 500, 1000}
	for _, n := range lengths {
		plan := newFFTPlan(n)
		scratch := plan.newScratch()
		for _, inverse := range []bool{false, true} {
			x := make([]complex128, n)
			for i := range x {
				x[i] = complex(rng.NormFloat64(), rng.NormFloat64())
			}
			want := naiveDFT(x, inverse)
			got := append([]complex128(nil), x...)
			plan.transform(got, inverse, scratch)
			for k := range want {
				if d := cmplx.Abs(got[k] - want[k]); d > 1e-9*float64(n) {
					t.Fatalf("n=%d inverse=%v: bin %d = %v, want %v (|diff| %g)", n, inverse, k, got[k], want[k], d)
				}
			}
		}
	}
}

func TestSignalDFT(t *testing.T) {
	s3 := math.Sqrt(3)
	cases := []struct {
		name  string
		opset int
		attrs map[string]any
		in    []*tensor.Tensor
		want  *tensor.Tensor
	}{
		// numpy: np.fft.fft([1,2,3,4,5])
		{"real n=5 (Bluestein)", 17, nil,
			[]*tensor.Tensor{sgF32([]int{1, 5, 1}, 1, 2, 3, 4, 5)},
			sgF32([]int{1, 5, 2}, 15, 0, -2.5, 3.4409548, -2.5, 0.81229924, -2.5, -0.81229924, -2.5, -3.4409548)},
		{"onesided n=5", 17, map[string]any{"onesided": 1},
			[]*tensor.Tensor{sgF32([]int{1, 5, 1}, 1, 2, 3, 4, 5)},
			sgF32([]int{1, 3, 2}, 15, 0, -2.5, 3.4409548, -2.5, 0.81229924)},
		// np.fft.fft([1,2,3,4], n=6): zero padding
		{"dft_length pads", 17, nil,
			[]*tensor.Tensor{sgF64([]int{1, 4, 1}, 1, 2, 3, 4), sgI64(6)},
			sgF64([]int{1, 6, 2}, 10, 0, -3.5, -4.3301270189, 2.5, 0.8660254038, -2, 0, 2.5, -0.8660254038, -3.5, 4.3301270189)},
		// np.fft.fft([1..6], n=4): truncation
		{"dft_length truncates", 17, nil,
			[]*tensor.Tensor{sgF32([]int{1, 6, 1}, 1, 2, 3, 4, 5, 6), tensor.Scalar(int32(4))},
			sgF32([]int{1, 4, 2}, 10, 0, -2, 2, -2, 0, -2, -2)},
		// np.fft.ifft([1+1j, 2, 3-1j])
		{"inverse complex n=3", 17, map[string]any{"inverse": 1},
			[]*tensor.Tensor{sgF32([]int{1, 3, 2}, 1, 1, 2, 0, 3, -1)},
			sgF32([]int{1, 3, 2}, 2, 0, -0.7886751346, 0.2113248654, -0.2113248654, 0.7886751346)},
		// np.fft.ifft([1,2,3,4])[:3]: onesided keeps the first half of the inverse too
		{"inverse onesided", 17, map[string]any{"inverse": 1, "onesided": 1},
			[]*tensor.Tensor{sgF32([]int{1, 4, 1}, 1, 2, 3, 4)},
			sgF32([]int{1, 3, 2}, 2.5, 0, -0.5, -0.5, -0.5, 0)},
		// x = [[1,2],[3,4],[5,6]]: np.fft.fft(x, axis=0), as [3, 2, 1] with axis 0
		{"axis 0 of three dims", 17, map[string]any{"axis": 0},
			[]*tensor.Tensor{sgF32([]int{3, 2, 1}, 1, 2, 3, 4, 5, 6)},
			sgF32([]int{3, 2, 2}, 9, 0, 12, 0, -3, float32(s3), -3, float32(s3), -3, float32(-s3), -3, float32(-s3))},
		{"opset 17 negative axis -2", 17, map[string]any{"axis": -2},
			[]*tensor.Tensor{sgF32([]int{3, 2, 1}, 1, 2, 3, 4, 5, 6)},
			sgF32([]int{3, 2, 2}, 3, 0, -1, 0, 7, 0, -1, 0, 11, 0, -1, 0)},
		// DFT-20: the axis is an input, default -2
		{"opset 20 default axis", 20, nil,
			[]*tensor.Tensor{sgF32([]int{3, 2, 1}, 1, 2, 3, 4, 5, 6)},
			sgF32([]int{3, 2, 2}, 3, 0, -1, 0, 7, 0, -1, 0, 11, 0, -1, 0)},
		{"opset 20 axis input", 20, nil,
			[]*tensor.Tensor{sgF32([]int{3, 2, 1}, 1, 2, 3, 4, 5, 6), nil, sgI64(0)},
			sgF32([]int{3, 2, 2}, 9, 0, 12, 0, -3, float32(s3), -3, float32(s3), -3, float32(-s3), -3, float32(-s3))},
		{"opset 20 axis -2 and dft_length", 20, nil,
			[]*tensor.Tensor{sgF32([]int{1, 4, 1}, 1, 2, 3, 4), tensor.Scalar(int64(4)), sgI64(-2)},
			sgF32([]int{1, 4, 2}, 10, 0, -2, 2, -2, 0, -2, -2)},
		{"float16", 17, nil,
			[]*tensor.Tensor{sgHalf([]int{1, 4, 1}, 1, 2, 3, 4)},
			sgHalf([]int{1, 4, 2}, 10, 0, -2, 2, -2, 0, -2, -2)},
	}
	for _, c := range cases {
		got, err := sgRun(registerSignal, "DFT", c.opset, c.attrs, 1, c.in...)
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		sgClose(t, c.name, got[0], c.want, 1e-6)
	}
}

func sgHalf(shape []int, v ...float32) *tensor.Tensor {
	t, err := tensor.From(shape, v).Cast(tensor.Float16)
	if err != nil {
		panic(err)
	}
	return t
}

// TestSignalDFTBatches checks a batched, multi-axis transform against the
// naive DFT of every line.
func TestSignalDFTBatches(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	shape := []int{2, 3, 10, 4, 2} // transform axis 2 of complex data
	n := 2 * 3 * 10 * 4 * 2
	x := make([]float64, n)
	for i := range x {
		x[i] = rng.NormFloat64()
	}
	got, err := sgRun(registerSignal, "DFT", 17, map[string]any{"axis": 2}, 1, sgF64(shape, x...))
	if err != nil {
		t.Fatal(err)
	}
	y := got[0].Float64s()
	for o := 0; o < 6; o++ {
		for i := 0; i < 4; i++ {
			line := make([]complex128, 10)
			for k := range line {
				p := ((o*10+k)*4 + i) * 2
				line[k] = complex(x[p], x[p+1])
			}
			want := naiveDFT(line, false)
			for k := range want {
				p := ((o*10+k)*4 + i) * 2
				if cmplx.Abs(complex(y[p], y[p+1])-want[k]) > 1e-9 {
					t.Fatalf("line %d/%d bin %d: got %v, want %v", o, i, k, complex(y[p], y[p+1]), want[k])
				}
			}
		}
	}
}

func TestSignalErrors(t *testing.T) {
	cases := []struct {
		op    string
		opset int
		attrs map[string]any
		in    []*tensor.Tensor
		want  string
	}{
		{"DFT", 17, map[string]any{"axis": 2}, []*tensor.Tensor{sgF32([]int{1, 4, 1}, 1, 2, 3, 4)}, "out of range"},
		{"DFT", 20, nil, []*tensor.Tensor{sgF32([]int{1, 4, 1}, 1, 2, 3, 4), nil, sgI64(-1)}, "out of range"},
		{"DFT", 17, nil, []*tensor.Tensor{sgF32([]int{1, 2, 3}, 1, 2, 3, 4, 5, 6)}, "last dimension"},
		{"DFT", 17, nil, []*tensor.Tensor{sgF32([]int{1, 4, 1}, 1, 2, 3, 4), sgI64(0)}, "dft_length"},
		{"DFT", 17, nil, []*tensor.Tensor{sgF32([]int{1, 4, 1}, 1, 2, 3, 4), sgI64(1 << 40)}, "dft_length"},
		{"DFT", 17, nil, []*tensor.Tensor{sgF32([]int{1 << 20, 4, 1}, make([]float32, 4<<20)...), sgI64(1 << 24)}, "too large"},
		{"HannWindow", 17, nil, []*tensor.Tensor{sgI64(1 << 31)}, "out of range"},
		{"DFT", 17, nil, []*tensor.Tensor{tensor.From([]int{1, 2, 1}, []int32{1, 2})}, "element type"},
		{"STFT", 17, nil, []*tensor.Tensor{sgF32([]int{1, 4, 1}, 1, 2, 3, 4), sgI64(1)}, "window or a frame_length"},
		{"STFT", 17, nil, []*tensor.Tensor{sgF32([]int{1, 4, 1}, 1, 2, 3, 4), sgI64(1), sgF32([]int{2}, 1, 1), sgI64(3)}, "differs"},
		{"STFT", 17, nil, []*tensor.Tensor{sgF32([]int{1, 4, 1}, 1, 2, 3, 4), sgI64(1), nil, sgI64(5)}, "frame length"},
		{"STFT", 17, nil, []*tensor.Tensor{sgF32([]int{1, 4, 1}, 1, 2, 3, 4), sgI64(0), nil, sgI64(2)}, "frame_step"},
		{"HannWindow", 17, nil, []*tensor.Tensor{sgI64(-1)}, "out of range"},
		{"HannWindow", 17, nil, []*tensor.Tensor{sgF32(nil, 4)}, "integer"},
		{"MelWeightMatrix", 17, nil, []*tensor.Tensor{tensor.Scalar(int32(8)), tensor.Scalar(int32(16)), tensor.Scalar(int32(8192)), sgF32(nil, 0), sgF32(nil, 8000)}, "upper_edge_hertz"},
		{"MelWeightMatrix", 17, nil, []*tensor.Tensor{tensor.Scalar(int32(0)), tensor.Scalar(int32(16)), tensor.Scalar(int32(8192)), sgF32(nil, 0), sgF32(nil, 4000)}, "num_mel_bins"},
	}
	for _, c := range cases {
		_, err := sgRun(registerSignal, c.op, c.opset, c.attrs, 1, c.in...)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s %v: got error %v, want one mentioning %q", c.op, c.in, err, c.want)
		}
	}
	if _, err := sgRun(registerSignal, "HannWindow", 17, map[string]any{"output_datatype": int(tensor.String)}, 1, sgI64(3)); err == nil {
		t.Errorf("HannWindow accepted a string output_datatype")
	}
}

func TestSignalSTFT(t *testing.T) {
	sig := sgF32([]int{1, 6, 1}, 0, 1, 2, 3, 4, 5)
	cases := []struct {
		name  string
		attrs map[string]any
		in    []*tensor.Tensor
		want  *tensor.Tensor
	}{
		// numpy: [np.fft.fft(s[i*2:i*2+4] * np.hanning(4))[:3] for i in range(2)]
		{"window, onesided", nil,
			[]*tensor.Tensor{sig, sgI64(2), sgF32([]int{4}, 0, 0.75, 0.75, 0)},
			sgF32([]int{1, 2, 3, 2}, 2.25, 0, -1.5, -0.75, 0.75, 0, 5.25, 0, -3, -2.25, 0.75, 0)},
		// rectangular window of frame_length 3, step 3, two-sided: fft([0,1,2]), fft([3,4,5])
		{"frame_length, two-sided", map[string]any{"onesided": 0},
			[]*tensor.Tensor{sig, sgI64(3), nil, sgI64(3)},
			sgF32([]int{1, 2, 3, 2}, 3, 0, -1.5, 0.8660254, -1.5, -0.8660254, 12, 0, -1.5, 0.8660254, -1.5, -0.8660254)},
		// complex signal [batch 2, length 2, 2], frame 2: fft([a, b]) = [a+b, a-b]
		{"complex, batch 2", map[string]any{"onesided": 0},
			[]*tensor.Tensor{sgF64([]int{2, 2, 2}, 1, 1, 2, -1, 0, 1, 0, 2), sgI64(1), sgF64([]int{2}, 1, 1)},
			sgF64([]int{2, 1, 2, 2}, 3, 0, -1, 2, 0, 3, 0, -1)},
	}
	for _, c := range cases {
		got, err := sgRun(registerSignal, "STFT", 17, c.attrs, 1, c.in...)
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		sgClose(t, c.name, got[0], c.want, 1e-6)
	}
}

func TestSignalWindows(t *testing.T) {
	const h0, h1 = 25.0 / 46, 21.0 / 46
	cases := []struct {
		op    string
		attrs map[string]any
		size  *tensor.Tensor
		want  *tensor.Tensor
	}{
		{"HannWindow", nil, sgI64(4), sgF32([]int{4}, 0, 0.5, 1, 0.5)},
		{"HannWindow", map[string]any{"periodic": 0}, tensor.Scalar(int32(5)), sgF32([]int{5}, 0, 0.5, 1, 0.5, 0)},
		{"HannWindow", map[string]any{"output_datatype": int(tensor.Float64)}, sgI64(4), sgF64([]int{4}, 0, 0.5, 1, 0.5)},
		{"HannWindow", map[string]any{"output_datatype": int(tensor.Int32)}, sgI64(4), tensor.From([]int{4}, []int32{0, 0, 1, 0})},
		{"HannWindow", map[string]any{"periodic": 0}, sgI64(1), sgF32([]int{1}, 1)},
		{"HannWindow", nil, sgI64(0), sgF32([]int{0})},
		{"HammingWindow", nil, sgI64(4), sgF32([]int{4}, h0-h1, h0, 1, h0)},
		{"HammingWindow", map[string]any{"periodic": 0}, sgI64(5), sgF32([]int{5}, h0-h1, h0, 1, h0, h0-h1)},
		// np.blackman(5)
		{"BlackmanWindow", map[string]any{"periodic": 0}, sgI64(5), sgF32([]int{5}, 0, 0.34, 1, 0.34, 0)},
		// periodic Blackman of 4 is np.blackman(5)[:4]
		{"BlackmanWindow", map[string]any{"output_datatype": int(tensor.Float16)}, sgI64(4), sgHalf([]int{4}, 0, 0.34, 1, 0.34)},
	}
	for _, c := range cases {
		got, err := sgRun(registerSignal, c.op, 17, c.attrs, 1, c.size)
		if err != nil {
			t.Fatalf("%s %v: %v", c.op, c.attrs, err)
		}
		sgClose(t, c.op, got[0], c.want, 1e-3)
	}
}

func TestSignalMelWeightMatrix(t *testing.T) {
	in := func(mels, dft, rate int32, lo, hi float32) []*tensor.Tensor {
		return []*tensor.Tensor{tensor.Scalar(mels), tensor.Scalar(dft), tensor.Scalar(rate), sgF32(nil, lo), sgF32(nil, hi)}
	}
	// The backend suite's case (values from the ONNX reference code).
	want := make([]float32, 9*8)
	for _, rc := range [][2]int{{0, 0}, {0, 1}, {1, 2}, {1, 3}, {2, 4}, {3, 5}, {4, 6}, {5, 7}} {
		want[rc[0]*8+rc[1]] = 1
	}
	got, err := sgRun(registerSignal, "MelWeightMatrix", 17, nil, 1, in(8, 16, 8192, 0, 4096)...)
	if err != nil {
		t.Fatal(err)
	}
	sgClose(t, "suite case", got[0], sgF32([]int{9, 8}, want...), 1e-6)

	// dft 64, rate 16000, 3 bins over [100, 6000] Hz: the reference's points
	// are bins [0, 2, 4, 8, 14] (by /usr/bin/python3 with the ONNX test
	// code), giving rising and falling ramps between them.
	got, err = sgRun(registerSignal, "MelWeightMatrix", 17, map[string]any{"output_datatype": int(tensor.Float64)}, 1, in(3, 64, 16000, 100, 6000)...)
	if err != nil {
		t.Fatal(err)
	}
	w := make([]float64, 33*3)
	for i, p := range [][3]int{{0, 2, 4}, {2, 4, 8}, {4, 8, 14}} {
		for j := p[0]; j <= p[1]; j++ {
			w[j*3+i] = float64(j-p[0]) / float64(p[1]-p[0])
		}
		for j := p[1]; j < p[2]; j++ {
			w[j*3+i] = float64(p[2]-j) / float64(p[2]-p[1])
		}
	}
	sgClose(t, "ramps", got[0], sgF64([]int{33, 3}, w...), 1e-12)
}
