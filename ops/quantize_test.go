package ops

import (
	"math"
	"strings"
	"testing"

	"github.com/onyxrt/onyx/tensor"
)

// Expected values below come from numpy (float32 arithmetic, np.rint for
// round half to even, np.clip for saturation), the ONNX backend-test
// generators, or hand computation where noted.

type quantCase struct {
	name   string
	op     string
	opset  int
	attrs  map[string]any
	outs   []bool
	in     []*tensor.Tensor
	want   []*tensor.Tensor
	errHas string
}

func runQuantCases(t *testing.T, cases []quantCase) {
	t.Helper()
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := famRun(registerQuantize, c.op, c.opset, c.attrs, c.outs, c.in...)
			if c.errHas != "" {
				if err == nil || !strings.Contains(err.Error(), c.errHas) {
					t.Fatalf("error %v, want one containing %q", err, c.errHas)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != len(c.want) {
				t.Fatalf("%d outputs, want %d", len(got), len(c.want))
			}
			for i, w := range c.want {
				famCheck(t, c.name, got[i], w, 1e-6)
			}
		})
	}
}

func qF32(shape []int, v ...float32) *tensor.Tensor { return tensor.From(shape, v) }
func qU8(shape []int, v ...uint8) *tensor.Tensor    { return tensor.From(shape, v) }
func qI8(shape []int, v ...int8) *tensor.Tensor     { return tensor.From(shape, v) }
func qI32(shape []int, v ...int32) *tensor.Tensor   { return tensor.From(shape, v) }
func qOut(t ...*tensor.Tensor) []*tensor.Tensor     { return t }

func TestQuantizeLinear(t *testing.T) {
	f1 := []int{1}
	nan, inf := float32(math.NaN()), float32(math.Inf(1))
	runQuantCases(t, []quantCase{
		{name: "suite example", op: "QuantizeLinear", opset: 10,
			in:   qOut(qF32([]int{6}, 0, 2, 3, 1000, -254, -1000), tensor.Scalar[float32](2), tensor.Scalar[uint8](128)),
			want: qOut(qU8([]int{6}, 128, 129, 130, 255, 1, 0))},
		{name: "ties to even", op: "QuantizeLinear", opset: 13, // 0.5 1.5 2.5 -0.5 -1.5
			in:   qOut(qF32([]int{5}, 1, 3, 5, -1, -3), tensor.Scalar[float32](2), tensor.Scalar[uint8](10)),
			want: qOut(qU8([]int{5}, 10, 12, 12, 10, 8))},
		{name: "int8 saturation", op: "QuantizeLinear", opset: 13,
			in:   qOut(qF32([]int{4}, 300, -300, 0.6, -0.5), qF32(f1, 1), qI8(f1, -5)),
			want: qOut(qI8([]int{4}, 127, -128, -4, -5))},
		{name: "no zero point is uint8", op: "QuantizeLinear", opset: 13,
			in:   qOut(qF32([]int{3}, -1, 2.5, 3.5), tensor.Scalar[float32](1), nil),
			want: qOut(qU8([]int{3}, 0, 2, 4))},
		{name: "int32 input", op: "QuantizeLinear", opset: 10,
			in:   qOut(qI32([]int{3}, 7, -7, 1000), tensor.Scalar[float32](2), tensor.Scalar[uint8](0)),
			want: qOut(qU8([]int{3}, 4, 0, 255))},
		{name: "per axis default axis 1", op: "QuantizeLinear", opset: 13,
			in:   qOut(qF32([]int{2, 3}, 1, 2, 3, 4, 5, 6), qF32([]int{3}, 1, 2, 4), qU8([]int{3}, 0, 10, 20)),
			want: qOut(qU8([]int{2, 3}, 1, 11, 21, 4, 12, 22))},
		{name: "per axis negative axis", op: "QuantizeLinear", opset: 13, attrs: map[string]any{"axis": -2},
			in:   qOut(qF32([]int{2, 3}, 1, 2, 3, 4, 5, 6), qF32([]int{2}, 1, 0.5), qI8([]int{2}, 0, -10)),
			want: qOut(qI8([]int{2, 3}, 1, 2, 3, -2, 0, 2))},
		{name: "float16 input", op: "QuantizeLinear", opset: 13,
			in:   qOut(halfT(qF32([]int{2}, 1.5, 2.5)), tensor.Scalar[float32](1), nil),
			want: qOut(qU8([]int{2}, 2, 2))},
		{name: "NaN and Inf", op: "QuantizeLinear", opset: 13,
			in:   qOut(qF32([]int{3}, nan, inf, -inf), tensor.Scalar[float32](1), tensor.Scalar[uint8](7)),
			want: qOut(qU8([]int{3}, 7, 255, 0))},
		{name: "per axis before opset 13", op: "QuantizeLinear", opset: 10,
			in: qOut(qF32([]int{2, 3}, 1, 2, 3, 4, 5, 6), qF32([]int{3}, 1, 2, 4), qU8([]int{3}, 0, 10, 20)), errHas: "before opset 13"},
		{name: "scale length", op: "QuantizeLinear", opset: 13,
			in: qOut(qF32([]int{2, 3}, 1, 2, 3, 4, 5, 6), qF32([]int{2}, 1, 2), nil), errHas: "axis 1 has size 3"},
		{name: "zero point shape", op: "QuantizeLinear", opset: 13,
			in: qOut(qF32([]int{2, 3}, 1, 2, 3, 4, 5, 6), qF32([]int{3}, 1, 2, 4), qU8(f1, 0)), errHas: "zero point shape"},
		{name: "scale type", op: "QuantizeLinear", opset: 13,
			in: qOut(qF32(f1, 1), tensor.Scalar[float64](1), nil), errHas: "scale must be float32"},
		{name: "zero point type", op: "QuantizeLinear", opset: 13,
			in: qOut(qF32(f1, 1), tensor.Scalar[float32](1), qI32(nil, 0)), errHas: "y_zero_point"},
		{name: "input type", op: "QuantizeLinear", opset: 13,
			in: qOut(tensor.From(f1, []int64{1}), tensor.Scalar[float32](1), nil), errHas: "unsupported element type"},
	})
}

func TestDequantizeLinear(t *testing.T) {
	runQuantCases(t, []quantCase{
		{name: "suite example", op: "DequantizeLinear", opset: 10,
			in:   qOut(qU8([]int{4}, 0, 3, 128, 255), tensor.Scalar[float32](2), tensor.Scalar[uint8](128)),
			want: qOut(qF32([]int{4}, -256, -250, 0, 254))},
		{name: "int8", op: "DequantizeLinear", opset: 13,
			in:   qOut(qI8([]int{3}, -128, 127, 0), tensor.Scalar[float32](0.5), tensor.Scalar[int8](-1)),
			want: qOut(qF32([]int{3}, -63.5, 64, 0.5))},
		{name: "int32 without zero point", op: "DequantizeLinear", opset: 13,
			in:   qOut(qI32([]int{2}, 100, -7), tensor.Scalar[float32](0.25), nil),
			want: qOut(qF32([]int{2}, 25, -1.75))},
		{name: "per axis last", op: "DequantizeLinear", opset: 13, attrs: map[string]any{"axis": -1},
			in:   qOut(qU8([]int{2, 2}, 10, 20, 30, 40), qF32([]int{2}, 0.5, 2), qU8([]int{2}, 10, 0)),
			want: qOut(qF32([]int{2, 2}, 0, 40, 10, 80))},
		{name: "int32 with zero point", op: "DequantizeLinear", opset: 13,
			in: qOut(qI32([]int{1}, 1), tensor.Scalar[float32](1), tensor.Scalar[int32](3)), errHas: "zero x_zero_point"},
		{name: "zero point type", op: "DequantizeLinear", opset: 13,
			in: qOut(qU8([]int{1}, 1), tensor.Scalar[float32](1), tensor.Scalar[int8](3)), errHas: "x_zero_point has type"},
		{name: "float input", op: "DequantizeLinear", opset: 13,
			in: qOut(qF32([]int{1}, 1), tensor.Scalar[float32](1), nil), errHas: "unsupported element type"},
		{name: "bad axis", op: "DequantizeLinear", opset: 13, attrs: map[string]any{"axis": 2},
			in: qOut(qU8([]int{2, 2}, 1, 2, 3, 4), qF32([]int{2}, 1, 1), nil), errHas: "out of range"},
	})
}

func TestDynamicQuantizeLinear(t *testing.T) {
	// The three cases of the ONNX backend suite, and an all-zero input.
	runQuantCases(t, []quantCase{
		{name: "mixed", op: "DynamicQuantizeLinear", opset: 11, outs: []bool{true, true, true},
			in: qOut(qF32([]int{6}, 0, 2, -3, -2.5, 1.34, 0.5)),
			want: qOut(qU8([]int{6}, 153, 255, 0, 26, 221, 179),
				tensor.Scalar[float32](0.019607844), tensor.Scalar[uint8](153))},
		{name: "max adjusted", op: "DynamicQuantizeLinear", opset: 11, outs: []bool{true, true, true},
			in: qOut(qF32([]int{6}, -1.0, -2.1, -1.3, -2.5, -3.34, -4.0)),
			want: qOut(qU8([]int{6}, 191, 121, 172, 96, 42, 0),
				tensor.Scalar[float32](0.015686275), tensor.Scalar[uint8](255))},
		{name: "min adjusted", op: "DynamicQuantizeLinear", opset: 11, outs: []bool{true, true, true},
			in: qOut(qF32([]int{3, 4}, 1, 2.1, 1.3, 2.5, 3.34, 4.0, 1.5, 2.6, 3.9, 4.0, 3.0, 2.345)),
			want: qOut(qU8([]int{3, 4}, 64, 134, 83, 159, 213, 255, 96, 166, 249, 255, 191, 149),
				tensor.Scalar[float32](0.015686275), tensor.Scalar[uint8](0))},
		{name: "all zero", op: "DynamicQuantizeLinear", opset: 11, outs: []bool{true, true, true},
			in:   qOut(qF32([]int{2}, 0, 0)),
			want: qOut(qU8([]int{2}, 0, 0), tensor.Scalar[float32](1), tensor.Scalar[uint8](0))},
		{name: "double input", op: "DynamicQuantizeLinear", opset: 11, outs: []bool{true, true, true},
			in: qOut(tensor.From([]int{1}, []float64{1})), errHas: "unsupported element type"},
	})
}

func TestQLinearMatMul(t *testing.T) {
	// The backend suite's 2-D example.
	a := qU8([]int{2, 4}, 208, 236, 0, 238, 3, 214, 255, 29)
	b := qU8([]int{4, 3}, 152, 51, 244, 60, 26, 255, 0, 127, 246, 127, 254, 247)
	as, az := qF32([]int{1}, 0.0066), qU8([]int{1}, 113)
	bs, bz := qF32([]int{1}, 0.00705), qU8([]int{1}, 114)
	ys, yz := qF32([]int{1}, 0.0107), qU8([]int{1}, 118)
	y2 := []uint8{168, 115, 255, 1, 66, 151}
	a3 := qU8([]int{2, 2, 4}, append(tensor.Data[uint8](a), tensor.Data[uint8](a)...)...)
	b3 := qU8([]int{2, 4, 3}, append(tensor.Data[uint8](b), tensor.Data[uint8](b)...)...)
	y3 := qU8([]int{2, 2, 3}, append(append([]uint8{}, y2...), y2...)...)
	// Per-row a (int8) and per-column b (uint8), int8 output (numpy:
	// acc = (a - az) @ (b - bz) in int32, y = clip(rint(float32(acc) *
	// float32(as*bs/ys)) - 3, -128, 127)).
	ai := qI8([]int{3, 4}, -5, 100, -128, 7, 127, -3, 0, 55, -60, 20, 30, -1)
	bu := qU8([]int{4, 3}, 10, 200, 0, 255, 3, 77, 128, 128, 129, 1, 90, 250)
	yi := qI8([]int{3, 3}, 47, -19, -13, -128, 23, -72, 16, -7, 6)
	bcs, bcz := qF32([]int{3}, 0.1, 0.03, 0.07), qU8([]int{3}, 128, 120, 130)
	runQuantCases(t, []quantCase{
		{name: "suite 2D", op: "QLinearMatMul", opset: 10,
			in: qOut(a, as, az, b, bs, bz, ys, yz), want: qOut(qU8([]int{2, 3}, y2...))},
		{name: "suite 3D", op: "QLinearMatMul", opset: 10,
			in: qOut(a3, as, az, b3, bs, bz, ys, yz), want: qOut(y3)},
		{name: "batched a, plain b", op: "QLinearMatMul", opset: 10,
			in: qOut(a3, as, az, b, bs, bz, ys, yz), want: qOut(y3)},
		{name: "plain a, batched b", op: "QLinearMatMul", opset: 10,
			in: qOut(a, as, az, b3, bs, bz, ys, yz), want: qOut(y3)},
		{name: "vector a", op: "QLinearMatMul", opset: 10,
			in:   qOut(qU8([]int{4}, 208, 236, 0, 238), as, az, b, bs, bz, ys, yz),
			want: qOut(qU8([]int{3}, y2[:3]...))},
		{name: "per row and column [M,1]", op: "QLinearMatMul", opset: 10,
			in: qOut(ai, qF32([]int{3, 1}, 0.02, 0.05, 0.01), qI8([]int{3, 1}, 1, -2, 0),
				bu, bcs, bcz, tensor.Scalar[float32](0.5), tensor.Scalar[int8](-3)),
			want: qOut(yi)},
		{name: "per row and column vectors", op: "QLinearMatMul", opset: 10,
			in: qOut(ai, qF32([]int{3}, 0.02, 0.05, 0.01), qI8([]int{3}, 1, -2, 0),
				bu, qF32([]int{1, 3}, 0.1, 0.03, 0.07), qU8([]int{1, 3}, 128, 120, 130), tensor.Scalar[float32](0.5), tensor.Scalar[int8](-3)),
			want: qOut(yi)},
		{name: "zero point type", op: "QLinearMatMul", opset: 10,
			in: qOut(a, as, qI8([]int{1}, 1), b, bs, bz, ys, yz), errHas: "zero point types"},
		{name: "y scale not scalar", op: "QLinearMatMul", opset: 10,
			in: qOut(a, as, az, b, bs, bz, qF32([]int{2}, 1, 1), yz), errHas: "y_scale"},
		{name: "scale does not fit", op: "QLinearMatMul", opset: 10,
			in: qOut(a, qF32([]int{4}, 1, 1, 1, 1), qU8([]int{4}, 1, 1, 1, 1), b, bs, bz, ys, yz), errHas: "does not fit"},
		{name: "inner dims", op: "QLinearMatMul", opset: 10,
			in: qOut(a, as, az, qU8([]int{3, 1}, 1, 2, 3), bs, bz, ys, yz), errHas: "inner dimensions"},
		{name: "missing input", op: "QLinearMatMul", opset: 10,
			in: qOut(a, as, az, b, bs, bz, ys, nil), errHas: "missing"},
	})
}

func TestQLinearConv(t *testing.T) {
	// numpy: naive convolution of (x - xz) and (w - wz) in int64 plus bias,
	// then clip(rint(float32(acc) * float32(xs*ws/ys)) + yz).
	x := qI8([]int{1, 2, 3, 3}, 79, -107, -83, -68, -82, 77, 94, 21, -118, -104, -43, -18, 31, -6, -61, -88, 49, 60)
	w := qU8([]int{2, 2, 2, 2}, 8, 29, 115, 100, 227, 132, 107, 110, 170, 150, 44, 188, 193, 244, 201, 72)
	xs, xz := tensor.Scalar[float32](0.05), tensor.Scalar[int8](-4)
	ws, wz := qF32([]int{2}, 0.01, 0.02), qU8([]int{2}, 120, 131)
	ys, yz := tensor.Scalar[float32](0.2), tensor.Scalar[uint8](100)
	bias := qI32([]int{2}, 300, -1000)
	pad := map[string]any{"pads": []int{1, 1, 1, 1}, "strides": []int{2, 2}}
	// Grouped: uint8 x, int8 w, int8 y, per-tensor w, no bias.
	x2 := qU8([]int{1, 2, 2, 3}, 81, 166, 166, 178, 222, 74, 240, 0, 19, 249, 241, 76)
	w2 := qI8([]int{2, 1, 1, 2}, -93, -48, -117, 100)
	runQuantCases(t, []quantCase{
		{name: "per channel, bias, pads, strides", op: "QLinearConv", opset: 10, attrs: pad,
			in:   qOut(x, xs, xz, w, ws, wz, ys, yz, bias),
			want: qOut(qU8([]int{1, 2, 2, 2}, 99, 108, 114, 104, 148, 108, 161, 11))},
		{name: "groups", op: "QLinearConv", opset: 10, attrs: map[string]any{"group": 2},
			in: qOut(x2, tensor.Scalar[float32](0.1), tensor.Scalar[uint8](7), w2, tensor.Scalar[float32](0.03), tensor.Scalar[int8](-2),
				tensor.Scalar[float32](2.5), tensor.Scalar[int8](5)),
			want: qOut(qI8([]int{1, 2, 2, 2}, -12, -21, -26, -22, -28, 7, 0, -19))},
		{name: "bias type", op: "QLinearConv", opset: 10, attrs: pad,
			in: qOut(x, xs, xz, w, ws, wz, ys, yz, qF32([]int{2}, 1, 2)), errHas: "bias B"},
		{name: "w scale length", op: "QLinearConv", opset: 10, attrs: pad,
			in: qOut(x, xs, xz, w, qF32([]int{3}, 1, 1, 1), qU8([]int{3}, 1, 1, 1), ys, yz), errHas: "w_scale"},
		{name: "x zero point not scalar", op: "QLinearConv", opset: 10, attrs: pad,
			in: qOut(x, xs, qI8([]int{2}, 0, 0), w, ws, wz, ys, yz), errHas: "x_zero_point must be a scalar"},
		{name: "x zero point type", op: "QLinearConv", opset: 10, attrs: pad,
			in: qOut(x, xs, tensor.Scalar[uint8](0), w, ws, wz, ys, yz), errHas: "x_zero_point has type"},
		{name: "channels", op: "QLinearConv", opset: 10,
			in: qOut(qU8([]int{1, 3, 2, 2}, tensor.Data[uint8](x2)...), xs, tensor.Scalar[uint8](0), w, ws, wz, ys, yz), errHas: "channels"},
	})
}
