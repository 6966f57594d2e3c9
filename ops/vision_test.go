package ops

import (
	"context"
	"math"
	"strings"
	"testing"

	"github.com/onyxrt/onyx/tensor"
)

// visRun builds op from a registry holding only the vision family and runs
// it on in (nil for an omitted optional input). attrs values may be int,
// float64, string or []int.
func visRun(op string, opset int, attrs map[string]any, in ...*tensor.Tensor) (*tensor.Tensor, error) {
	r := NewRegistry()
	registerVision(r)
	def, err := r.Lookup("", op, opset)
	if err != nil {
		return nil, err
	}
	present := make([]bool, len(in))
	for i, t := range in {
		present[i] = t != nil
	}
	b := &Builder{OpType: op, Opset: opset, NumInputs: len(in), NumOutputs: 1,
		InputPresent: present, OutputPresent: []bool{true}, Attrs: map[string]*Attr{}}
	for k, v := range attrs {
		a := &Attr{Name: k}
		switch x := v.(type) {
		case int:
			a.Type, a.Int = AttrInt, int64(x)
		case float64:
			a.Type, a.Float = AttrFloat, float32(x)
		case string:
			a.Type, a.String = AttrString, x
		case []int:
			a.Type, a.Ints = AttrInts, make([]int64, len(x))
			for i, e := range x {
				a.Ints[i] = int64(e)
			}
		default:
			panic("unsupported attribute type")
		}
		b.Attrs[k] = a
	}
	k, err := def.Build(b)
	if err != nil {
		return nil, err
	}
	out, err := k.Run(&RunContext{Ctx: context.Background(), Threads: 1}, in)
	if err != nil {
		return nil, err
	}
	return out[0], nil
}

// visCase is one table row: the op run on in must give want (within tol
// for floats), or fail with an error containing errSub.
type visCase struct {
	name   string
	op     string
	opset  int
	attrs  map[string]any
	in     []*tensor.Tensor
	want   *tensor.Tensor
	tol    float64
	errSub string
}

func runVisCases(t *testing.T, cases []visCase) {
	t.Helper()
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := visRun(c.op, c.opset, c.attrs, c.in...)
			if c.errSub != "" {
				if err == nil || !strings.Contains(err.Error(), c.errSub) {
					t.Fatalf("error %v, want one containing %q", err, c.errSub)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got.DType() != c.want.DType() || !tensor.ShapeEqual(got.Shape(), c.want.Shape()) {
				t.Fatalf("got %v%v, want %v%v", got.DType(), got.Shape(), c.want.DType(), c.want.Shape())
			}
			if c.want.DType() == tensor.String {
				g, w := tensor.Data[string](got), tensor.Data[string](c.want)
				for i := range w {
					if g[i] != w[i] {
						t.Fatalf("element %d = %q, want %q\ngot  %q\nwant %q", i, g[i], w[i], g, w)
					}
				}
				return
			}
			g, w := got.Float64s(), c.want.Float64s()
			for i := range w {
				if math.Abs(g[i]-w[i]) > c.tol*(1+math.Abs(w[i])) {
					t.Fatalf("element %d = %v, want %v\ngot  %v\nwant %v", i, g[i], w[i], g, w)
				}
			}
		})
	}
}

func vF32(shape []int, v ...float32) *tensor.Tensor { return tensor.From(shape, v) }
func vF64(shape []int, v ...float64) *tensor.Tensor { return tensor.From(shape, v) }
func vI64(shape []int, v ...int64) *tensor.Tensor   { return tensor.From(shape, v) }
func vI32(shape []int, v ...int32) *tensor.Tensor   { return tensor.From(shape, v) }
func vSh(d ...int) []int                            { return d }

func vHalf(shape []int, v ...float32) *tensor.Tensor {
	h := make([]tensor.Half, len(v))
	for i, x := range v {
		h[i] = tensor.HalfFrom(x)
	}
	return tensor.From(shape, h)
}

// ---- NonMaxSuppression (cases from the ONNX operator documentation) ----

// nmsBoxes are the six boxes of the ONNX examples: three overlapping near
// the origin, two near y = 10, one at y = 100.
var nmsBoxes = []float32{
	0, 0, 1, 1,
	0, 0.1, 1, 1.1,
	0, -0.1, 1, 0.9,
	0, 10, 1, 11,
	0, 10.1, 1, 11.1,
	0, 100, 1, 101,
}
var nmsScores = []float32{0.9, 0.75, 0.6, 0.95, 0.5, 0.3}

func nmsIn(boxes, scores *tensor.Tensor, maxOut int64, iou, score float32) []*tensor.Tensor {
	return []*tensor.Tensor{boxes, scores, vI64(vSh(1), maxOut), vF32(vSh(1), iou), vF32(vSh(1), score)}
}

func TestNonMaxSuppression(t *testing.T) {
	boxes := vF32(vSh(1, 6, 4), nmsBoxes...)
	scores := vF32(vSh(1, 1, 6), nmsScores...)
	centre := vF32(vSh(1, 6, 4),
		0.5, 0.5, 1, 1,
		0.5, 0.6, 1, 1,
		0.5, 0.4, 1, 1,
		0.5, 10.5, 1, 1,
		0.5, 10.6, 1, 1,
		0.5, 100.5, 1, 1)
	flipped := vF32(vSh(1, 6, 4),
		1, 1, 0, 0,
		0, 0.1, 1, 1.1,
		0, 0.9, 1, -0.1,
		0, 10, 1, 11,
		1, 10.1, 0, 11.1,
		1, 101, 0, 100)
	identical := make([]float32, 0, 40)
	for i := 0; i < 10; i++ {
		identical = append(identical, 0, 0, 1, 1)
	}
	tenNines := make([]float32, 10)
	for i := range tenNines {
		tenNines[i] = 0.9
	}
	// Two disjoint boxes with equal scores come out in box order.
	tie := vF32(vSh(1, 3, 4), 0, 0, 1, 1, 5, 5, 6, 6, 10, 10, 11, 11)
	tieScores := vF32(vSh(1, 1, 3), 0.5, 0.7, 0.7)
	twoBatches := vF32(vSh(2, 6, 4), append(append([]float32{}, nmsBoxes...), nmsBoxes...)...)
	twoBatchScores := vF32(vSh(2, 1, 6), append(append([]float32{}, nmsScores...), nmsScores...)...)
	twoClassScores := vF32(vSh(1, 2, 6), append(append([]float32{}, nmsScores...), nmsScores...)...)
	const op = "NonMaxSuppression"
	runVisCases(t, []visCase{
		{name: "suppress_by_iou", op: op, opset: 11, in: nmsIn(boxes, scores, 3, 0.5, 0),
			want: vI64(vSh(3, 3), 0, 0, 3, 0, 0, 0, 0, 0, 5)},
		{name: "suppress_by_iou_and_scores", op: op, opset: 11, in: nmsIn(boxes, scores, 3, 0.5, 0.4),
			want: vI64(vSh(2, 3), 0, 0, 3, 0, 0, 0)},
		{name: "center_point_box", op: op, opset: 11, attrs: map[string]any{"center_point_box": 1},
			in: nmsIn(centre, scores, 3, 0.5, 0), want: vI64(vSh(3, 3), 0, 0, 3, 0, 0, 0, 0, 0, 5)},
		{name: "flipped_coordinates", op: op, opset: 10, in: nmsIn(flipped, scores, 3, 0.5, 0),
			want: vI64(vSh(3, 3), 0, 0, 3, 0, 0, 0, 0, 0, 5)},
		{name: "limit_output_size", op: op, opset: 11, in: nmsIn(boxes, scores, 2, 0.5, 0),
			want: vI64(vSh(2, 3), 0, 0, 3, 0, 0, 0)},
		{name: "identical_boxes", op: op, opset: 11,
			in:   nmsIn(vF32(vSh(1, 10, 4), identical...), vF32(vSh(1, 1, 10), tenNines...), 3, 0.5, 0),
			want: vI64(vSh(1, 3), 0, 0, 0)},
		{name: "ties_by_box_index", op: op, opset: 11, in: nmsIn(tie, tieScores, 5, 0.5, 0),
			want: vI64(vSh(3, 3), 0, 0, 1, 0, 0, 2, 0, 0, 0)},
		{name: "two_batches", op: op, opset: 11, in: nmsIn(twoBatches, twoBatchScores, 2, 0.5, 0),
			want: vI64(vSh(4, 3), 0, 0, 3, 0, 0, 0, 1, 0, 3, 1, 0, 0)},
		{name: "two_classes", op: op, opset: 11, in: nmsIn(boxes, twoClassScores, 2, 0.5, 0),
			want: vI64(vSh(4, 3), 0, 0, 3, 0, 0, 0, 0, 1, 3, 0, 1, 0)},
		{name: "iou_1_keeps_all", op: op, opset: 11, in: nmsIn(boxes, scores, 10, 1, 0),
			want: vI64(vSh(6, 3), 0, 0, 3, 0, 0, 0, 0, 0, 1, 0, 0, 2, 0, 0, 4, 0, 0, 5)},
		{name: "no_max_output_means_none", op: op, opset: 11, in: []*tensor.Tensor{boxes, scores},
			want: vI64(vSh(0, 3))},
		{name: "omitted_thresholds", op: op, opset: 11, in: []*tensor.Tensor{boxes, scores, vI64(nil, 1), nil, nil},
			want: vI64(vSh(1, 3), 0, 0, 3)},
		{name: "bad_center_point_box", op: op, opset: 11, attrs: map[string]any{"center_point_box": 2},
			in: []*tensor.Tensor{boxes, scores}, errSub: "center_point_box"},
		{name: "bad_iou", op: op, opset: 11, in: nmsIn(boxes, scores, 3, 1.5, 0), errSub: "iou_threshold"},
		{name: "bad_boxes", op: op, opset: 11, in: nmsIn(vF32(vSh(1, 2, 3), 0, 0, 1, 1, 2, 2), scores, 3, 0.5, 0),
			errSub: "boxes"},
		{name: "boxes_scores_disagree", op: op, opset: 11, in: nmsIn(boxes, vF32(vSh(1, 1, 5), 1, 2, 3, 4, 5), 3, 0.5, 0),
			errSub: "do not agree"},
	})
}

// ---- GridSample ----

func TestGridSample(t *testing.T) {
	x22 := vF32(vSh(1, 1, 2, 2), 1, 2, 3, 4)
	corner := vF32(vSh(1, 1, 1, 2), -1, -1) // the top-left corner
	row := vF32(vSh(1, 1, 1, 4), 10, 20, 30, 40)
	const op = "GridSample"
	runVisCases(t, []visCase{
		// x = ((g+1)*W-1)/2: the centre of a 2x2 image is pixel (0.5, 0.5).
		{name: "bilinear_centre", op: op, opset: 16, in: []*tensor.Tensor{x22, vF32(vSh(1, 1, 1, 2), 0, 0)},
			want: vF32(vSh(1, 1, 1, 1), 2.5), tol: 1e-6},
		// (-1, -1) is pixel (-0.5, -0.5): a quarter of pixel 0 with zero padding.
		{name: "bilinear_corner_zeros", op: op, opset: 16, in: []*tensor.Tensor{x22, corner},
			want: vF32(vSh(1, 1, 1, 1), 0.25), tol: 1e-6},
		{name: "bilinear_corner_border", op: op, opset: 16, attrs: map[string]any{"padding_mode": "border"},
			in: []*tensor.Tensor{x22, corner}, want: vF32(vSh(1, 1, 1, 1), 1), tol: 1e-6},
		{name: "bilinear_corner_reflection", op: op, opset: 16, attrs: map[string]any{"padding_mode": "reflection"},
			in: []*tensor.Tensor{x22, corner}, want: vF32(vSh(1, 1, 1, 1), 1), tol: 1e-6},
		{name: "align_corners", op: op, opset: 16, attrs: map[string]any{"align_corners": 1},
			in:   []*tensor.Tensor{x22, vF32(vSh(1, 1, 3, 2), -1, -1, 1, 1, 0, -1)},
			want: vF32(vSh(1, 1, 1, 3), 1, 4, 1.5), tol: 1e-6},
		// On a 1x4 row g = 0 is x = 1.5 and g = -0.5 is x = 0.5: both round half to even.
		{name: "nearest_half_to_even", op: op, opset: 16, attrs: map[string]any{"mode": "nearest"},
			in:   []*tensor.Tensor{row, vF32(vSh(1, 1, 3, 2), 0, 0, -0.5, 0, 0.5, 0)},
			want: vF32(vSh(1, 1, 1, 3), 30, 10, 30), tol: 0},
		// Keys' cubic reproduces linear data: x = 1.5 gives 25; at a pixel it gives the pixel.
		{name: "bicubic", op: op, opset: 16, attrs: map[string]any{"mode": "bicubic", "align_corners": 1},
			in:   []*tensor.Tensor{row, vF32(vSh(1, 1, 2, 2), 0, -1, -1.0/3, -1)},
			want: vF32(vSh(1, 1, 1, 2), 25, 20), tol: 1e-6},
		// Zero padding drops taps -1 and 4 of a cubic read at x = 0.5.
		{name: "bicubic_zeros_edge", op: op, opset: 16, attrs: map[string]any{"mode": "bicubic", "align_corners": 1},
			in:   []*tensor.Tensor{row, vF32(vSh(1, 1, 1, 2), -2.0/3, -1)},
			want: vF32(vSh(1, 1, 1, 1), 0.59375*10+0.59375*20-0.09375*30), tol: 1e-6},
		{name: "cubic_border_edge", op: op, opset: 20, attrs: map[string]any{"mode": "cubic", "align_corners": 1, "padding_mode": "border"},
			in:   []*tensor.Tensor{row, vF32(vSh(1, 1, 1, 2), -2.0/3, -1)},
			want: vF32(vSh(1, 1, 1, 1), -0.09375*10+0.59375*10+0.59375*20-0.09375*30), tol: 1e-6},
		{name: "linear_1d", op: op, opset: 20, attrs: map[string]any{"align_corners": 1},
			in:   []*tensor.Tensor{vF32(vSh(1, 1, 4), 10, 20, 30, 40), vF32(vSh(1, 3, 1), -1, 0, 1)},
			want: vF32(vSh(1, 1, 3), 10, 25, 40), tol: 1e-6},
		{name: "linear_3d_centre", op: op, opset: 20, attrs: map[string]any{"mode": "linear", "align_corners": 1},
			in:   []*tensor.Tensor{vF32(vSh(1, 1, 2, 2, 2), 0, 1, 2, 3, 4, 5, 6, 7), vF32(vSh(1, 1, 1, 2, 3), 0, 0, 0, 1, -1, 1)},
			want: vF32(vSh(1, 1, 1, 1, 2), 3.5, 5), tol: 1e-6},
		{name: "nearest_int32", op: op, opset: 20, attrs: map[string]any{"mode": "nearest", "align_corners": 1},
			in:   []*tensor.Tensor{vI32(vSh(1, 1, 2, 2), 1, 2, 3, 4), vF32(vSh(1, 1, 2, 2), 1, -1, -1, 1)},
			want: vI32(vSh(1, 1, 1, 2), 2, 3)},
		{name: "float16", op: op, opset: 16, in: []*tensor.Tensor{vHalf(vSh(1, 1, 2, 2), 1, 2, 3, 4), vHalf(vSh(1, 1, 1, 2), 0, 0)},
			want: vHalf(vSh(1, 1, 1, 1), 2.5), tol: 1e-3},
		{name: "float64_two_channels", op: op, opset: 16,
			in:   []*tensor.Tensor{vF64(vSh(1, 2, 2, 2), 1, 2, 3, 4, 10, 20, 30, 40), vF64(vSh(1, 1, 1, 2), 0, 0)},
			want: vF64(vSh(1, 2, 1, 1), 2.5, 25), tol: 1e-12},
		{name: "empty_grid", op: op, opset: 16, in: []*tensor.Tensor{x22, vF32(vSh(1, 0, 3, 2))},
			want: vF32(vSh(1, 1, 0, 3))},
		{name: "nan_grid_is_zero", op: op, opset: 16, in: []*tensor.Tensor{x22, vF32(vSh(1, 1, 1, 2), float32(math.NaN()), 0)},
			want: vF32(vSh(1, 1, 1, 1), 0)},
		{name: "opset16_mode_names", op: op, opset: 16, attrs: map[string]any{"mode": "linear"},
			in: []*tensor.Tensor{x22, corner}, errSub: "mode"},
		{name: "opset20_mode_names", op: op, opset: 20, attrs: map[string]any{"mode": "bilinear"},
			in: []*tensor.Tensor{x22, corner}, errSub: "mode"},
		{name: "opset16_is_4d", op: op, opset: 16, in: []*tensor.Tensor{vF32(vSh(1, 1, 4), 1, 2, 3, 4), vF32(vSh(1, 1, 1), 0)},
			errSub: "rank 4"},
		{name: "bad_padding", op: op, opset: 20, attrs: map[string]any{"padding_mode": "wrap"},
			in: []*tensor.Tensor{x22, corner}, errSub: "padding_mode"},
		{name: "grid_last_dim", op: op, opset: 20, in: []*tensor.Tensor{x22, vF32(vSh(1, 1, 1, 3), 0, 0, 0)},
			errSub: "grid shape"},
		{name: "grid_batch", op: op, opset: 20, in: []*tensor.Tensor{x22, vF32(vSh(2, 1, 1, 2), 0, 0, 0, 0)},
			errSub: "grid shape"},
		{name: "string_x", op: op, opset: 20, in: []*tensor.Tensor{tensor.From(vSh(1, 1, 1, 1), []string{"a"}), vF32(vSh(1, 1, 1, 2), 0, 0)},
			errSub: "unsupported element type"},
	})
}

// ---- AffineGrid ----

func TestAffineGrid(t *testing.T) {
	id2 := vF32(vSh(1, 2, 3), 1, 0, 0, 0, 1, 0)
	const op = "AffineGrid"
	const third = 2.0 / 3
	runVisCases(t, []visCase{
		// Pixel centres of W = 3: -2/3, 0, 2/3; of H = 2: -1/2, 1/2.
		{name: "identity", op: op, opset: 20, in: []*tensor.Tensor{id2, vI64(vSh(4), 1, 1, 2, 3)},
			want: vF32(vSh(1, 2, 3, 2), -third, -0.5, 0, -0.5, third, -0.5, -third, 0.5, 0, 0.5, third, 0.5), tol: 1e-6},
		{name: "identity_align", op: op, opset: 20, attrs: map[string]any{"align_corners": 1},
			in:   []*tensor.Tensor{id2, vI64(vSh(4), 1, 1, 2, 3)},
			want: vF32(vSh(1, 2, 3, 2), -1, -1, 0, -1, 1, -1, -1, 1, 0, 1, 1, 1), tol: 1e-6},
		// x' = 2x + 0.5, y' = 3y - 1 at x in {-1, 1}, y = -1 (H = 1 with align_corners).
		{name: "scale_shift_align", op: op, opset: 20, attrs: map[string]any{"align_corners": 1},
			in:   []*tensor.Tensor{vF32(vSh(1, 2, 3), 2, 0, 0.5, 0, 3, -1), vI64(vSh(4), 1, 5, 1, 2)},
			want: vF32(vSh(1, 1, 2, 2), -1.5, -4, 2.5, -4), tol: 1e-6},
		// 3-D: rows of theta map (x, y, z, 1); here x' = z, y' = x, z' = y + 1.
		{name: "3d_permute", op: op, opset: 20, attrs: map[string]any{"align_corners": 1},
			in: []*tensor.Tensor{vF64(vSh(1, 3, 4), 0, 0, 1, 0, 1, 0, 0, 0, 0, 1, 0, 1), vI64(vSh(5), 1, 1, 2, 1, 2)},
			want: vF64(vSh(1, 2, 1, 2, 3),
				-1, -1, 0, -1, 1, 0, // d = 0: z = -1; w = 0, 1: x = -1, 1; y = -1
				1, -1, 0, 1, 1, 0), tol: 1e-12},
		{name: "float16", op: op, opset: 20, in: []*tensor.Tensor{vHalf(vSh(1, 2, 3), 1, 0, 0, 0, 1, 0), vI64(vSh(4), 1, 1, 1, 2)},
			want: vHalf(vSh(1, 1, 2, 2), -0.5, 0, 0.5, 0), tol: 1e-3},
		{name: "theta_shape", op: op, opset: 20, in: []*tensor.Tensor{id2, vI64(vSh(5), 1, 1, 2, 2, 2)}, errSub: "theta shape"},
		{name: "size_length", op: op, opset: 20, in: []*tensor.Tensor{id2, vI64(vSh(3), 1, 1, 2)}, errSub: "size"},
		{name: "size_zero", op: op, opset: 20, in: []*tensor.Tensor{id2, vI64(vSh(4), 1, 1, 0, 2)}, errSub: "non-positive"},
	})
}

// ---- Col2Im ----

func TestCol2Im(t *testing.T) {
	seq25 := make([]float32, 25)
	for i := range seq25 {
		seq25[i] = float32(i + 1)
	}
	// The ONNX example: blocks 1x5 over a 5x5 image put column j of block
	// row i at pixel (i, j), which transposes the input.
	transposed := make([]float32, 25)
	for i := 0; i < 5; i++ {
		for j := 0; j < 5; j++ {
			transposed[i*5+j] = float32(j*5 + i + 1)
		}
	}
	const op = "Col2Im"
	rows := vF32(vSh(1, 2, 3), 1, 2, 3, 10, 20, 30) // kernel tap 0: 1 2 3, tap 1: 10 20 30
	runVisCases(t, []visCase{
		{name: "onnx_example", op: op, opset: 18, in: []*tensor.Tensor{vF32(vSh(1, 5, 5), seq25...), vI64(vSh(2), 5, 5), vI64(vSh(2), 1, 5)},
			want: vF32(vSh(1, 1, 5, 5), transposed...)},
		// Block l covers pixels l, l+1: overlaps add.
		{name: "overlap_1d", op: op, opset: 18, in: []*tensor.Tensor{rows, vI64(vSh(1), 4), vI64(vSh(1), 2)},
			want: vF32(vSh(1, 1, 4), 1, 12, 23, 30)},
		// Block l tap k lands at 2l - 1 + 2k: taps outside [0, 5) are dropped.
		{name: "strides_pads_dilations_1d", op: op, opset: 18, attrs: map[string]any{"strides": []int{2}, "dilations": []int{2}, "pads": []int{1, 1}},
			in: []*tensor.Tensor{rows, vI64(vSh(1), 5), vI64(vSh(1), 2)}, want: vF32(vSh(1, 1, 5), 0, 12, 0, 23, 0)},
		{name: "int64_two_channels", op: op, opset: 18,
			in:   []*tensor.Tensor{vI64(vSh(1, 4, 1), 1, 2, 3, 4), vI64(vSh(2), 1, 2), vI64(vSh(2), 1, 2)},
			want: vI64(vSh(1, 2, 1, 2), 1, 2, 3, 4)},
		// 2x2 blocks on a 3x3 image: 4 positions; every pixel sums the taps that reach it.
		{name: "overlap_2d_ones", op: op, opset: 18,
			in:   []*tensor.Tensor{vF64(vSh(1, 4, 4), 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1), vI64(vSh(2), 3, 3), vI64(vSh(2), 2, 2)},
			want: vF64(vSh(1, 1, 3, 3), 1, 2, 1, 2, 4, 2, 1, 2, 1)},
		{name: "float16", op: op, opset: 18, in: []*tensor.Tensor{vHalf(vSh(1, 2, 3), 1, 2, 3, 10, 20, 30), vI64(vSh(1), 4), vI64(vSh(1), 2)},
			want: vHalf(vSh(1, 1, 4), 1, 12, 23, 30)},
		{name: "block_count", op: op, opset: 18, in: []*tensor.Tensor{rows, vI64(vSh(1), 5), vI64(vSh(1), 2)}, errSub: "number of blocks"},
		{name: "channels_not_multiple", op: op, opset: 18, in: []*tensor.Tensor{rows, vI64(vSh(1), 4), vI64(vSh(1), 3)}, errSub: "multiple"},
		{name: "attr_length", op: op, opset: 18, attrs: map[string]any{"strides": []int{1, 1}},
			in: []*tensor.Tensor{rows, vI64(vSh(1), 4), vI64(vSh(1), 2)}, errSub: "do not fit"},
		{name: "block_too_big", op: op, opset: 18, in: []*tensor.Tensor{vF32(vSh(1, 5, 1), 1, 2, 3, 4, 5), vI64(vSh(1), 4), vI64(vSh(1), 5)},
			errSub: "does not fit"},
		{name: "zero_stride", op: op, opset: 18, attrs: map[string]any{"strides": []int{0}},
			in: []*tensor.Tensor{rows, vI64(vSh(1), 4), vI64(vSh(1), 2)}, errSub: "strides"},
	})
}

// ---- CenterCropPad ----

func TestCenterCropPad(t *testing.T) {
	x5 := vF32(vSh(5), 0, 1, 2, 3, 4)
	x23 := vI32(vSh(2, 3), 1, 2, 3, 4, 5, 6)
	const op = "CenterCropPad"
	runVisCases(t, []visCase{
		// 5 -> 2 starts at (5-2)/2 = 1; 5 -> 4 drops the last element.
		{name: "crop_odd", op: op, opset: 18, in: []*tensor.Tensor{x5, vI64(vSh(1), 2)}, want: vF32(vSh(2), 1, 2)},
		{name: "crop_even", op: op, opset: 18, in: []*tensor.Tensor{x5, vI64(vSh(1), 4)}, want: vF32(vSh(4), 0, 1, 2, 3)},
		{name: "crop_to_zero", op: op, opset: 18, in: []*tensor.Tensor{x5, vI64(vSh(1), 0)}, want: vF32(vSh(0))},
		// 2 -> 5 puts the input at (5-2)/2 = 1; the odd padding element goes at the end.
		{name: "pad_odd", op: op, opset: 18, in: []*tensor.Tensor{vF32(vSh(2), 7, 8), vI64(vSh(1), 5)}, want: vF32(vSh(5), 0, 7, 8, 0, 0)},
		{name: "same_size", op: op, opset: 18, in: []*tensor.Tensor{x5, vI64(vSh(1), 5)}, want: x5},
		// Rows padded 2 -> 4, columns cropped 3 -> 1, int32 shape.
		{name: "pad_and_crop_2d", op: op, opset: 18, in: []*tensor.Tensor{x23, vI32(vSh(2), 4, 1)},
			want: vI32(vSh(4, 1), 0, 2, 5, 0)},
		{name: "axes_negative", op: op, opset: 18, attrs: map[string]any{"axes": []int{-1}}, in: []*tensor.Tensor{x23, vI64(vSh(1), 2)},
			want: vI32(vSh(2, 2), 1, 2, 4, 5)},
		{name: "axes_reordered", op: op, opset: 18, attrs: map[string]any{"axes": []int{1, 0}}, in: []*tensor.Tensor{x23, vI64(vSh(2), 1, 3)},
			want: vI32(vSh(3, 1), 2, 5, 0)},
		{name: "strings", op: op, opset: 18, in: []*tensor.Tensor{tensor.From(vSh(2), []string{"a", "b"}), vI64(vSh(1), 3)},
			want: tensor.From(vSh(3), []string{"a", "b", ""})},
		{name: "bool", op: op, opset: 18, in: []*tensor.Tensor{tensor.From(vSh(3), []bool{true, false, true}), vI64(vSh(1), 1)},
			want: tensor.From(vSh(1), []bool{false})},
		{name: "shape_length", op: op, opset: 18, in: []*tensor.Tensor{x23, vI64(vSh(1), 2)}, errSub: "2 axes"},
		{name: "negative_size", op: op, opset: 18, in: []*tensor.Tensor{x5, vI64(vSh(1), -1)}, errSub: "negative"},
		{name: "duplicate_axes", op: op, opset: 18, attrs: map[string]any{"axes": []int{0, -2}}, in: []*tensor.Tensor{x23, vI64(vSh(2), 1, 1)},
			errSub: "twice"},
		{name: "float_shape", op: op, opset: 18, in: []*tensor.Tensor{x5, vF32(vSh(1), 2)}, errSub: "unsupported element type"},
	})
}

// ---- GroupNormalization (expected values from numpy) ----

func TestGroupNormalization(t *testing.T) {
	// Channels [0 1] [2 3] [4 6] [8 10]; two groups: mean 1.5, var 1.25 and mean 7, var 5.
	x := vF32(vSh(1, 4, 2), 0, 1, 2, 3, 4, 6, 8, 10)
	xd := vF64(vSh(1, 4, 2), 0, 1, 2, 3, 4, 6, 8, 10)
	perGroup := []float64{-1.6832708399, 0.1055763867, 1.8944236133, 3.6832708399,
		-1.6708197224, -1.2236065741, -0.7763934259, -0.3291802776}
	perChannel := []float64{-1.34163542, -0.4472118067, 1.8944236133, 3.6832708399,
		-4.0249183346, -1.3416394449, 0.7888525931, 4.3665577794}
	oneGroupEps := []float64{-1.2706396577, -0.9716656206, -0.6726915835, -0.3737175464,
		-0.0747435093, 0.5232045649, 1.1211526391, 1.7191007133}
	f32s := func(v []float64) []float32 {
		o := make([]float32, len(v))
		for i, e := range v {
			o[i] = float32(e)
		}
		return o
	}
	const op = "GroupNormalization"
	g2 := map[string]any{"num_groups": 2}
	runVisCases(t, []visCase{
		{name: "opset18_per_group", op: op, opset: 18, attrs: g2,
			in: []*tensor.Tensor{x, vF32(vSh(2), 2, 0.5), vF32(vSh(2), 1, -1)}, want: vF32(vSh(1, 4, 2), f32s(perGroup)...), tol: 1e-6},
		{name: "opset21_per_channel", op: op, opset: 21, attrs: g2,
			in: []*tensor.Tensor{x, vF32(vSh(4), 1, 2, 3, 4), vF32(vSh(4), 0, 1, 0, -1)}, want: vF32(vSh(1, 4, 2), f32s(perChannel)...), tol: 1e-6},
		{name: "one_group_epsilon", op: op, opset: 21, attrs: map[string]any{"num_groups": 1, "epsilon": 0.5},
			in: []*tensor.Tensor{x, vF32(vSh(4), 1, 1, 1, 1), vF32(vSh(4), 0, 0, 0, 0)}, want: vF32(vSh(1, 4, 2), f32s(oneGroupEps)...), tol: 1e-6},
		{name: "float64_stash11", op: op, opset: 21, attrs: map[string]any{"num_groups": 2, "stash_type": 11},
			in: []*tensor.Tensor{xd, vF64(vSh(4), 1, 2, 3, 4), vF64(vSh(4), 0, 1, 0, -1)}, want: vF64(vSh(1, 4, 2), perChannel...), tol: 1e-9},
		{name: "float64_stash1", op: op, opset: 21, attrs: g2,
			in: []*tensor.Tensor{xd, vF64(vSh(4), 1, 2, 3, 4), vF64(vSh(4), 0, 1, 0, -1)}, want: vF64(vSh(1, 4, 2), perChannel...), tol: 1e-6},
		{name: "float16", op: op, opset: 18, attrs: g2,
			in:   []*tensor.Tensor{vHalf(vSh(1, 4, 2), 0, 1, 2, 3, 4, 6, 8, 10), vHalf(vSh(2), 2, 0.5), vHalf(vSh(2), 1, -1)},
			want: vHalf(vSh(1, 4, 2), f32s(perGroup)...), tol: 2e-3},
		{name: "rank2", op: op, opset: 21, attrs: g2,
			in:   []*tensor.Tensor{vF32(vSh(1, 4), 1, 3, 5, 5), vF32(vSh(4), 1, 1, 1, 1), vF32(vSh(4), 0, 0, 0, 0)},
			want: vF32(vSh(1, 4), -1, 1, 0, 0), tol: 1e-4},
		{name: "groups_do_not_divide", op: op, opset: 21, attrs: map[string]any{"num_groups": 3},
			in: []*tensor.Tensor{x, vF32(vSh(4), 1, 1, 1, 1), vF32(vSh(4), 0, 0, 0, 0)}, errSub: "groups"},
		{name: "opset21_scale_per_group", op: op, opset: 21, attrs: g2,
			in: []*tensor.Tensor{x, vF32(vSh(2), 1, 1), vF32(vSh(2), 0, 0)}, errSub: "shape [4]"},
		{name: "opset18_scale_per_channel", op: op, opset: 18, attrs: g2,
			in: []*tensor.Tensor{x, vF32(vSh(4), 1, 1, 1, 1), vF32(vSh(4), 0, 0, 0, 0)}, errSub: "shape [2]"},
		{name: "num_groups_missing", op: op, opset: 21, in: []*tensor.Tensor{x, vF32(vSh(4), 1, 1, 1, 1), vF32(vSh(4), 0, 0, 0, 0)},
			errSub: "num_groups"},
		{name: "bad_stash", op: op, opset: 21, attrs: map[string]any{"num_groups": 2, "stash_type": 7},
			in: []*tensor.Tensor{x, vF32(vSh(4), 1, 1, 1, 1), vF32(vSh(4), 0, 0, 0, 0)}, errSub: "stash_type"},
		{name: "mixed_types", op: op, opset: 21, attrs: g2,
			in: []*tensor.Tensor{x, vF64(vSh(4), 1, 1, 1, 1), vF32(vSh(4), 0, 0, 0, 0)}, errSub: "element types differ"},
		{name: "int_x", op: op, opset: 21, attrs: g2,
			in: []*tensor.Tensor{vI32(vSh(1, 4, 1), 1, 2, 3, 4), vI32(vSh(4), 1, 1, 1, 1), vI32(vSh(4), 0, 0, 0, 0)}, errSub: "unsupported element type"},
	})
}

// TestVisionRegistered checks every version the family promises.
func TestVisionRegistered(t *testing.T) {
	r := Default()
	for _, c := range []struct {
		op     string
		opset  int
		expect int
	}{
		{"NonMaxSuppression", 10, 10}, {"NonMaxSuppression", 21, 11},
		{"GridSample", 16, 16}, {"GridSample", 19, 16}, {"GridSample", 21, 20},
		{"AffineGrid", 21, 20}, {"Col2Im", 21, 18}, {"CenterCropPad", 21, 18},
		{"GroupNormalization", 20, 18}, {"GroupNormalization", 21, 21},
	} {
		d, err := r.Lookup("", c.op, c.opset)
		if err != nil {
			t.Fatal(err)
		}
		if d.Since != c.expect {
			t.Errorf("%s at opset %d: Def since %d, want %d", c.op, c.opset, d.Since, c.expect)
		}
	}
}
