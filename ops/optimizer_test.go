package ops

import (
	"context"
	"strings"
	"testing"

	"github.com/onyxrt/onyx/tensor"
)

// optRun builds training-domain op with attrs (float32 or string values)
// and nOut outputs (all requested), and runs it on in.
func optRun(op string, attrs map[string]any, nOut int, in ...*tensor.Tensor) ([]*tensor.Tensor, error) {
	r := NewRegistry()
	registerOptimizer(r)
	def, err := r.Lookup(trainingDomain, op, 1)
	if err != nil {
		return nil, err
	}
	b := optBuilder(op, attrs, len(in), nOut)
	k, err := def.Build(b)
	if err != nil {
		return nil, err
	}
	return k.Run(&RunContext{Ctx: context.Background(), Threads: 1}, in)
}

func optBuilder(op string, attrs map[string]any, nIn, nOut int) *Builder {
	b := &Builder{OpType: op, Domain: trainingDomain, Opset: 1, NumInputs: nIn, NumOutputs: nOut,
		InputPresent: make([]bool, nIn), OutputPresent: make([]bool, nOut), Attrs: map[string]*Attr{}}
	for i := range b.InputPresent {
		b.InputPresent[i] = true
	}
	for i := range b.OutputPresent {
		b.OutputPresent[i] = true
	}
	for k, v := range attrs {
		switch x := v.(type) {
		case float32:
			b.Attrs[k] = &Attr{Name: k, Type: AttrFloat, Float: x}
		case string:
			b.Attrs[k] = &Attr{Name: k, Type: AttrString, String: x}
		case int:
			b.Attrs[k] = &Attr{Name: k, Type: AttrInt, Int: int64(x)}
		default:
			panic("unsupported attribute type")
		}
	}
	return b
}

func optF32(shape []int, v ...float32) *tensor.Tensor { return tensor.From(shape, v) }
func optF64(shape []int, v ...float64) *tensor.Tensor { return tensor.From(shape, v) }
func optI64(v int64) *tensor.Tensor                   { return tensor.Scalar(v) }

// The expected values below come from the ONNX reference implementations
// (onnx.backend.test.case.node.{adagrad,adam,momentum}.apply_*) run with
// numpy on the same inputs, with the float32-rounded attribute values a
// model stores.
func TestOptimizerOps(t *testing.T) {
	sh := func(d ...int) []int { return d }
	momentum := map[string]any{"alpha": float32(0.95), "beta": float32(0.1), "norm_coefficient": float32(0.001), "mode": "standard"}
	nesterov := map[string]any{"alpha": float32(0.95), "beta": float32(0.1), "norm_coefficient": float32(0.001), "mode": "nesterov"}
	mx := optF32(sh(3), 1.2, 2.8, -0.5)
	mg := optF32(sh(3), -0.94, -2.5, 0.3)
	mv := optF32(sh(3), 1.7, 3.6, -0.1)
	cases := []struct {
		name  string
		op    string
		attrs map[string]any
		in    []*tensor.Tensor
		want  []*tensor.Tensor
		tol   float64
	}{
		{
			name:  "adagrad f32 decay t=3",
			op:    "Adagrad",
			attrs: map[string]any{"norm_coefficient": float32(0.01), "epsilon": float32(1e-5), "decay_factor": float32(0.1)},
			in: []*tensor.Tensor{optF32(nil, 0.1), optI64(3),
				optF32(sh(2, 2), 1, -2, 0.5, 3), optF32(sh(2, 2), -0.2, 0.4, 1.5, -0.7), optF32(sh(2, 2), 0.1, 0, 2, 0.3)},
			want: []*tensor.Tensor{
				optF32(sh(2, 2), 1.0396158695220947, -2.076920986175537, 0.44394293427467346, 3.0595545768737793),
				optF32(sh(2, 2), 0.13609999418258667, 0.1444000005722046, 4.2650251388549805, 0.7489000558853149)},
			tol: 1e-6,
		},
		{
			name:  "adagrad f64 two tensors, default epsilon",
			op:    "Adagrad",
			attrs: map[string]any{"norm_coefficient": float32(0.001)},
			in: []*tensor.Tensor{optF64(nil, 0.5), optI64(0),
				optF64(sh(1), 1), optF64(sh(3), 1, 2, -3),
				optF64(sh(1), -1), optF64(sh(3), -1, -3, 0.25),
				optF64(sh(1), 2), optF64(sh(3), 4, 1, 0)},
			want: []*tensor.Tensor{
				optF64(sh(1), 1.2884824216385917), optF64(sh(3), 1.223427758697742, 2.474309847684512, -3.4999979757167017),
				optF64(sh(1), 2.9980009999051003), optF64(sh(3), 4.9980009999051, 9.988003999430411, 0.06100899992960878)},
			tol: 1e-12,
		},
		{
			name:  "adam f32 t=0 (test_adam)",
			op:    "Adam",
			attrs: map[string]any{"norm_coefficient": float32(0.001), "alpha": float32(0.95), "beta": float32(0.1), "epsilon": float32(1e-7)},
			in: []*tensor.Tensor{optF32(nil, 0.1), optI64(0),
				optF32(sh(2), 1.2, 2.8), optF32(sh(2), -0.94, -2.5), optF32(sh(2), 1.7, 3.6), optF32(sh(2), 0.1, 0.1)},
			want: []*tensor.Tensor{
				optF32(sh(2), 1.025036334991455, 2.6610326766967773),
				optF32(sh(2), 1.568060040473938, 3.295139789581299),
				optF32(sh(2), 0.8032107949256897, 5.622406959533691)},
			tol: 1e-6,
		},
		{
			// test_adam_multiple's expected outputs, computed with
			// epsilon=1e-2 (which its model.onnx omits: onnx/onnx#7749).
			name:  "adam f32 two tensors (test_adam_multiple with its epsilon)",
			op:    "Adam",
			attrs: map[string]any{"norm_coefficient": float32(0.001), "alpha": float32(0.95), "beta": float32(0.85), "epsilon": float32(1e-2)},
			in: []*tensor.Tensor{optF32(nil, 0.1), optI64(0),
				optF32(sh(1), 1), optF32(sh(2), 1, 2),
				optF32(sh(1), -1), optF32(sh(2), -1, -3),
				optF32(sh(1), 2), optF32(sh(2), 4, 1),
				optF32(sh(1), 0.5), optF32(sh(2), 1, 10)},
			want: []*tensor.Tensor{
				optF32(sh(1), 0.75913626), optF32(sh(2), 0.6286528, 1.9745853),
				optF32(sh(1), 1.85005), optF32(sh(2), 3.75005, 0.80009997),
				optF32(sh(1), 0.5747002), optF32(sh(2), 0.9997002, 9.848201)},
			tol: 1e-6,
		},
		{
			name: "adam f64 t=5 bias correction and post regularization, float R",
			op:   "Adam",
			attrs: map[string]any{"norm_coefficient": float32(0.01), "norm_coefficient_post": float32(0.02),
				"alpha": float32(0.9), "beta": float32(0.999), "epsilon": float32(1e-6)},
			in: []*tensor.Tensor{optF32(nil, 0.05), optI64(5),
				optF64(sh(1, 3), 1, -0.5, 2), optF64(sh(1, 3), 0.3, -1.2, 0.05),
				optF64(sh(1, 3), 0.1, -0.2, 0), optF64(sh(1, 3), 0.01, 0.5, 0)},
			want: []*tensor.Tensor{
				optF64(sh(1, 3), 0.9698164585067542, -0.4864113986940307, 1.9332830955668092),
				optF64(sh(1, 3), 0.12100000498443841, -0.30050002394989134, 0.00700000162422656),
				optF64(sh(1, 3), 0.01008609889135808, 0.5009520127427864, 4.899936851859899e-06)},
			// R is float32 0.05 here, float64 0.05 in the reference.
			tol: 1e-8,
		},
		{
			name: "momentum f32 t=0 ignores beta", op: "Momentum", attrs: momentum,
			in: []*tensor.Tensor{optF32(nil, 0.1), optI64(0), mx, mg, mv},
			want: []*tensor.Tensor{
				optF32(sh(3), 1.1323800086975098, 2.7077200412750244, -0.5204499959945679),
				optF32(sh(3), 0.6762000322341919, 0.922799825668335, 0.2045000195503235)},
			tol: 1e-6,
		},
		{
			name: "momentum f32 t=2", op: "Momentum", attrs: momentum,
			in: []*tensor.Tensor{optF32(nil, 0.1), optI64(2), mx, mg, mv},
			want: []*tensor.Tensor{
				optF32(sh(3), 1.0478880405426025, 2.4829719066619873, -0.49349498748779297),
				optF32(sh(3), 1.5211200714111328, 3.1702797412872314, -0.06504999846220016)},
			tol: 1e-6,
		},
		{
			name: "nesterov f32 t=0", op: "Momentum", attrs: nesterov,
			in: []*tensor.Tensor{optF32(nil, 0.1), optI64(0), mx, mg, mv},
			want: []*tensor.Tensor{
				optF32(sh(3), 1.229641079902649, 2.9620540142059326, -0.5493775010108948),
				optF32(sh(3), 0.6762000322341919, 0.922799825668335, 0.2045000195503235)},
			tol: 1e-6,
		},
		{
			name: "nesterov f32 t=2", op: "Momentum", attrs: nesterov,
			in: []*tensor.Tensor{optF32(nil, 0.1), optI64(2), mx, mg, mv},
			want: []*tensor.Tensor{
				optF32(sh(3), 1.1493736505508423, 2.7485432624816895, -0.523770272731781),
				optF32(sh(3), 1.5211200714111328, 3.1702797412872314, -0.06504999846220016)},
			tol: 1e-6,
		},
		{
			name:  "momentum f64 two tensors t=4",
			op:    "Momentum",
			attrs: map[string]any{"alpha": float32(0.9), "beta": float32(0.5), "norm_coefficient": float32(0.01), "mode": "standard"},
			in: []*tensor.Tensor{optF64(nil, 0.2), optI64(4),
				optF64(sh(2), 1, 2), optF64(sh(1, 1), 3),
				optF64(sh(2), 0.5, -0.5), optF64(sh(1, 1), -2),
				optF64(sh(2), 0.1, 0.2), optF64(sh(1, 1), 1)},
			want: []*tensor.Tensor{
				optF64(sh(2), 0.9310000004991889, 2.012000000998378), optF64(sh(1, 1), 3.0170000048354266),
				optF64(sh(2), 0.3449999975040555, -0.06000000499188898), optF64(sh(1, 1), -0.08500002417713404)},
			tol: 1e-12,
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			before := make([]*tensor.Tensor, len(c.in))
			for i, x := range c.in {
				before[i] = x.Clone()
			}
			got, err := optRun(c.op, c.attrs, len(c.want), c.in...)
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != len(c.want) {
				t.Fatalf("got %d outputs, want %d", len(got), len(c.want))
			}
			for i, w := range c.want {
				famCheck(t, c.name, got[i], w, c.tol)
			}
			for i, x := range c.in {
				famCheck(t, "input unchanged", x, before[i], 0)
			}
		})
	}
}

// TestOptimizerFewerOutputs checks that a node may name only the leading
// outputs (here only X_new).
func TestOptimizerFewerOutputs(t *testing.T) {
	got, err := optRun("Adagrad", nil, 1, optF32(nil, 0.1), optI64(0), optF32([]int{1}, 1), optF32([]int{1}, 2), optF32([]int{1}, 0))
	if err != nil {
		t.Fatal(err)
	}
	// g' = 2, h = 4, x = 1 - 0.1*2/(2+1e-6).
	if len(got) != 1 {
		t.Fatalf("got %d outputs, want 1", len(got))
	}
	famCheck(t, "X_new", got[0], optF32([]int{1}, float32(1-0.1*2/(2+1e-6))), 1e-7)
}

func TestOptimizerErrors(t *testing.T) {
	mom := map[string]any{"alpha": float32(0.9), "beta": float32(1), "norm_coefficient": float32(0), "mode": "standard"}
	x := optF32([]int{2}, 1, 2)
	cases := []struct {
		name  string
		op    string
		attrs map[string]any
		nOut  int
		in    []*tensor.Tensor
		want  string
	}{
		{"no tensors", "Adagrad", nil, 1, []*tensor.Tensor{optF32(nil, 0.1), optI64(0)}, "runs of n"},
		{"ragged inputs", "Adam", nil, 3, []*tensor.Tensor{optF32(nil, 0.1), optI64(0), x, x, x}, "runs of n"},
		{"too many outputs", "Adagrad", nil, 3, []*tensor.Tensor{optF32(nil, 0.1), optI64(0), x, x, x}, "outputs"},
		{"momentum without mode", "Momentum", map[string]any{"alpha": float32(0.9), "beta": float32(1), "norm_coefficient": float32(0)}, 2,
			[]*tensor.Tensor{optF32(nil, 0.1), optI64(0), x, x, x}, `"mode"`},
		{"momentum without alpha", "Momentum", map[string]any{"beta": float32(1), "norm_coefficient": float32(0), "mode": "standard"}, 2,
			[]*tensor.Tensor{optF32(nil, 0.1), optI64(0), x, x, x}, `"alpha"`},
		{"bad mode", "Momentum", map[string]any{"alpha": float32(0.9), "beta": float32(1), "norm_coefficient": float32(0), "mode": "heavy"}, 2,
			[]*tensor.Tensor{optF32(nil, 0.1), optI64(0), x, x, x}, "heavy"},
		{"attribute of the wrong type", "Adam", map[string]any{"alpha": 1}, 3,
			[]*tensor.Tensor{optF32(nil, 0.1), optI64(0), x, x, x, x}, `"alpha"`},
		{"R not scalar", "Momentum", mom, 2, []*tensor.Tensor{optF32([]int{2}, 0.1, 0.2), optI64(0), x, x, x}, "R has shape"},
		{"R int", "Momentum", mom, 2, []*tensor.Tensor{optI64(1), optI64(0), x, x, x}, "R has element type"},
		{"T float", "Momentum", mom, 2, []*tensor.Tensor{optF32(nil, 0.1), optF32(nil, 0), x, x, x}, "T has element type"},
		{"shape mismatch", "Momentum", mom, 2, []*tensor.Tensor{optF32(nil, 0.1), optI64(0), x, optF32([]int{1, 2}, 1, 2), x}, "shape"},
		{"dtype mismatch", "Adagrad", nil, 2, []*tensor.Tensor{optF32(nil, 0.1), optI64(0), x, optF64([]int{2}, 1, 2), x}, "element type"},
		{"int tensors", "Adagrad", nil, 2, []*tensor.Tensor{optF32(nil, 0.1), optI64(0), optI64(1), optI64(1), optI64(1)}, "element type"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := optRun(c.op, c.attrs, c.nOut, c.in...)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("got error %v, want one mentioning %q", err, c.want)
			}
		})
	}
}

func TestOptimizerInfer(t *testing.T) {
	r := Default()
	def, err := r.Lookup(trainingDomain, "Adam", 1)
	if err != nil {
		t.Fatal(err)
	}
	b := optBuilder("Adam", nil, 10, 6)
	in := make([]Meta, 10)
	in[0], in[1] = Meta{DType: tensor.Float32, Shape: SymOf(nil)}, Meta{DType: tensor.Int64, Shape: SymOf(nil)}
	shapes := [][]int{{1}, {2, 3}}
	for k := 0; k < 4; k++ {
		for j, s := range shapes {
			in[2+k*2+j] = Meta{DType: tensor.Float64, Shape: SymOf(s)}
		}
	}
	out, err := InferFor(def)(b, in)
	if err != nil {
		t.Fatal(err)
	}
	for i, m := range out {
		if m.DType != tensor.Float64 || !m.Shape.Matches(shapes[i%2]) || len(m.Shape) != len(shapes[i%2]) {
			t.Fatalf("output %d: got %v %v, want float64 %v", i, m.DType, m.Shape, shapes[i%2])
		}
	}
}

// TestOptimizerStepsShared checks the generic step functions directly,
// as the train package calls them: the results are fresh slices.
func TestOptimizerStepsShared(t *testing.T) {
	x, g, v := []float64{1}, []float64{2}, []float64{0}
	xn, vn := momentumStep(momentumParams{alpha: 0.5, beta: 1}, 0.1, 0, x, g, v)
	if xn[0] != 0.8 || vn[0] != 2 || x[0] != 1 || v[0] != 0 {
		t.Fatalf("momentumStep: x %v v %v (inputs x %v v %v)", xn, vn, x, v)
	}
	xa, va, ha := adamStep(adamParams{alpha: 0.5, beta: 0.5}, 1, 1, x, g, v, []float64{0})
	// v' = 1, h' = 2, r' = sqrt(0.5)/0.5, x' = 1 - r'*1/sqrt(2) = 0.
	if va[0] != 1 || ha[0] != 2 || xa[0] > 1e-15 || xa[0] < -1e-15 {
		t.Fatalf("adamStep: x %v v %v h %v", xa, va, ha)
	}
}
