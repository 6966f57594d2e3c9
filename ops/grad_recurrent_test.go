package ops

import (
	"fmt"
	"math"
	"math/rand"
	"strings"
	"testing"

	"github.com/onyxrt/onyx/tensor"
)

// rnnGradCase is one configuration of a recurrent node whose backward
// kernel is checked against central finite differences of the forward
// kernel.
type rnnGradCase struct {
	name                string
	op                  string
	dir                 string
	layout              int
	seq, batch, in, hid int
	lens                []int32 // nil: no sequence_lens
	noB, noH0, noC0     bool
	peep                bool
	inputForget, lbr    bool
	clip                float32
	acts                []string
	alpha, beta         []float32
	grads               []bool  // which output gradients flow (Y, Y_h, Y_c)
	scale               float64 // of the random inputs (default 1)
}

func (c rnnGradCase) kind() rnnKind {
	return map[string]rnnKind{"RNN": kindRNN, "GRU": kindGRU, "LSTM": kindLSTM}[c.op]
}

func (c rnnGradCase) attrs() map[string]*Attr {
	m := map[string]*Attr{
		"hidden_size": IntAttr("hidden_size", int64(c.hid)),
		"direction":   StringAttr("direction", c.dir),
	}
	if c.layout != 0 {
		m["layout"] = IntAttr("layout", int64(c.layout))
	}
	if c.clip > 0 {
		m["clip"] = FloatAttr("clip", c.clip)
	}
	if c.inputForget {
		m["input_forget"] = IntAttr("input_forget", 1)
	}
	if c.lbr {
		m["linear_before_reset"] = IntAttr("linear_before_reset", 1)
	}
	if c.acts != nil {
		m["activations"] = &Attr{Name: "activations", Type: AttrStrings, Strings: c.acts}
	}
	if c.alpha != nil {
		m["activation_alpha"] = FloatsAttr("activation_alpha", c.alpha...)
	}
	if c.beta != nil {
		m["activation_beta"] = FloatsAttr("activation_beta", c.beta...)
	}
	return m
}

func (c rnnGradCase) numDir() int {
	if c.dir == "bidirectional" {
		return 2
	}
	return 1
}

// inputs makes the forward inputs in float64 (nil when absent).
func (c rnnGradCase) inputs(rng *rand.Rand) []*tensor.Tensor {
	k := c.kind()
	nd, gh := c.numDir(), k.gates()*c.hid
	scale := c.scale
	if scale == 0 {
		scale = 1
	}
	rnd := func(shape ...int) *tensor.Tensor {
		n, _ := tensor.NumElements(shape)
		d := make([]float64, n)
		for i := range d {
			d[i] = scale * (2*rng.Float64() - 1)
		}
		return tensor.From(shape, d)
	}
	in := make([]*tensor.Tensor, k.forwardInputs())
	xs := []int{c.seq, c.batch, c.in}
	state := []int{nd, c.batch, c.hid}
	if c.layout == 1 {
		xs = []int{c.batch, c.seq, c.in}
		state = []int{c.batch, nd, c.hid}
	}
	in[0] = rnd(xs...)
	in[1] = rnd(nd, gh, c.in)
	in[2] = rnd(nd, gh, c.hid)
	if !c.noB {
		in[3] = rnd(nd, 2*gh)
	}
	if c.lens != nil {
		in[4] = tensor.From([]int{c.batch}, append([]int32(nil), c.lens...))
	}
	if !c.noH0 {
		in[5] = rnd(state...)
	}
	if k == kindLSTM {
		if !c.noC0 {
			in[6] = rnd(state...)
		}
		if c.peep {
			in[7] = rnd(nd, 3*c.hid)
		}
	}
	return in
}

// rnnGradKernels builds the forward and backward kernels of c.
func rnnGradKernels(t *testing.T, c rnnGradCase) (fwd, bwd Kernel) {
	t.Helper()
	k := c.kind()
	r := NewRegistry()
	registerRecurrent(r)
	registerGradRecurrent(r)
	nf, no := k.forwardInputs(), k.forwardOutputs()
	all := func(n int) []bool {
		v := make([]bool, n)
		for i := range v {
			v[i] = true
		}
		return v
	}
	def, err := r.Lookup("", c.op, 14)
	if err != nil {
		t.Fatal(err)
	}
	fwd, err = def.Build(&Builder{OpType: c.op, Opset: 14, NumInputs: nf, NumOutputs: no,
		InputPresent: all(nf), OutputPresent: all(no), Attrs: c.attrs()})
	if err != nil {
		t.Fatal(err)
	}
	gdef, err := r.Lookup(GradDomain, c.op+"Grad", 1)
	if err != nil {
		t.Fatal(err)
	}
	nOut := 5
	if k == kindLSTM {
		nOut = 7
	}
	bwd, err = gdef.Build(&Builder{OpType: c.op + "Grad", Domain: GradDomain, Opset: 1, NumInputs: nf + no,
		NumOutputs: nOut, InputPresent: all(nf + no), OutputPresent: all(nOut), Attrs: c.attrs()})
	if err != nil {
		t.Fatal(err)
	}
	return fwd, bwd
}

// rnnGradSeeds returns random output gradients (nil where c.grads says no
// gradient flows) for the forward outputs outs.
func rnnGradSeeds(c rnnGradCase, outs []*tensor.Tensor, rng *rand.Rand) []*tensor.Tensor {
	seeds := make([]*tensor.Tensor, len(outs))
	for i, o := range outs {
		if o == nil || (c.grads != nil && !c.grads[i]) {
			continue
		}
		d := make([]float64, o.Len())
		for k := range d {
			d[k] = 2*rng.Float64() - 1
		}
		seeds[i] = tensor.From(o.Shape(), d)
	}
	return seeds
}

// projected is Σ seeds[i]·outs[i], the scalar whose gradient the backward
// kernel computes.
func projected(outs, seeds []*tensor.Tensor) float64 {
	var s float64
	for i, u := range seeds {
		if u == nil {
			continue
		}
		for k, v := range tensor.Data[float64](outs[i]) {
			s += v * tensor.Data[float64](u)[k]
		}
	}
	return s
}

func rnnGradCases() []rnnGradCase {
	type variant struct {
		name string
		set  func(*rnnGradCase)
	}
	common := []variant{
		{"base", func(c *rnnGradCase) {}},
		{"lens", func(c *rnnGradCase) { c.lens = []int32{int32(c.seq), 2} }},
		{"lens0", func(c *rnnGradCase) { c.lens = []int32{1, 0} }},
		{"clip", func(c *rnnGradCase) { c.clip, c.scale = 0.9, 1.5 }},
		{"bare_Y", func(c *rnnGradCase) { c.noB, c.noH0, c.noC0, c.grads = true, true, true, []bool{true, false, false} }},
		{"Yh_only", func(c *rnnGradCase) { c.grads = []bool{false, true, false} }},
	}
	perOp := map[string][]variant{
		"RNN": {
			{"relu", func(c *rnnGradCase) { c.acts = []string{"Relu"} }},
			{"hardsigmoid", func(c *rnnGradCase) {
				c.acts, c.alpha, c.beta, c.scale = []string{"HardSigmoid"}, []float32{0.3}, []float32{0.4}, 1.5
			}},
			{"sigmoid_clip_lens", func(c *rnnGradCase) {
				c.acts, c.clip, c.scale, c.lens = []string{"Sigmoid"}, 0.7, 1.5, []int32{2, int32(c.seq)}
			}},
		},
		"GRU": {
			{"lbr", func(c *rnnGradCase) { c.lbr = true }},
			{"lbr_lens", func(c *rnnGradCase) { c.lbr, c.lens = true, []int32{2, int32(c.seq)} }},
			{"lbr_clip", func(c *rnnGradCase) { c.lbr, c.clip, c.scale = true, 0.8, 1.5 }},
			{"lbr_bare_Yh", func(c *rnnGradCase) { c.lbr, c.noB, c.noH0, c.grads = true, true, true, []bool{false, true} }},
			{"acts_hardsigmoid_relu", func(c *rnnGradCase) { c.acts = []string{"HardSigmoid", "Relu"} }},
			{"acts_tanh_sigmoid_lbr", func(c *rnnGradCase) { c.acts, c.lbr = []string{"Tanh", "Sigmoid"}, true }},
		},
		"LSTM": {
			{"peep", func(c *rnnGradCase) { c.peep = true }},
			{"peep_forget", func(c *rnnGradCase) { c.peep, c.inputForget = true, true }},
			{"peep_clip_lens", func(c *rnnGradCase) {
				c.peep, c.clip, c.scale, c.lens = true, 0.8, 1.5, []int32{2, int32(c.seq)}
			}},
			{"peep_Yc_only", func(c *rnnGradCase) { c.peep, c.grads = true, []bool{false, false, true} }},
			{"acts_hardsigmoid_relu_tanh", func(c *rnnGradCase) {
				c.peep, c.acts = true, []string{"HardSigmoid", "Relu", "Tanh"}
			}},
		},
	}
	var cases []rnnGradCase
	for _, op := range []string{"RNN", "GRU", "LSTM"} {
		for _, dir := range []string{"forward", "reverse", "bidirectional"} {
			for layout := 0; layout < 2; layout++ {
				for vi, v := range append(append([]variant(nil), common...), perOp[op]...) {
					c := rnnGradCase{op: op, dir: dir, layout: layout, seq: 3 + vi%2, batch: 2, in: 3, hid: 2 + vi%3}
					v.set(&c)
					c.name = fmt.Sprintf("%s/%s/layout%d/%s", op, dir, layout, v.name)
					cases = append(cases, c)
				}
			}
		}
	}
	// Every other activation with its derivative, once per operator.
	others := []struct {
		op    string
		acts  []string
		alpha []float32
		beta  []float32
	}{
		{"RNN", []string{"LeakyRelu", "Softsign"}, []float32{0.1}, nil},
		{"RNN", []string{"Softplus", "Elu"}, []float32{0.7}, nil},
		{"RNN", []string{"Affine", "ScaledTanh"}, []float32{0.8, 1.2}, []float32{0.1, 0.7}},
		{"RNN", []string{"ThresholdedRelu", "Tanh"}, []float32{0.25}, nil},
		{"GRU", []string{"Sigmoid", "Softsign", "ScaledTanh", "Elu"}, []float32{1.1, 0.9, 0.5}, []float32{0.8}},
		{"LSTM", []string{"Sigmoid", "Softsign", "Softplus", "HardSigmoid", "Elu", "ScaledTanh"},
			[]float32{0.3, 0.5, 1.1}, []float32{0.45, 0.9}},
	}
	for _, o := range others {
		c := rnnGradCase{op: o.op, dir: "bidirectional", seq: 3, batch: 2, in: 3, hid: 3, acts: o.acts,
			alpha: o.alpha, beta: o.beta, peep: o.op == "LSTM"}
		c.name = fmt.Sprintf("%s/bidirectional/acts_%s", o.op, strings.Join(o.acts, "_"))
		cases = append(cases, c)
	}
	return cases
}

// TestRecurrentGradFiniteDifferences checks every gradient output of the
// backward kernels against central differences of the forward kernel in
// float64.
func TestRecurrentGradFiniteDifferences(t *testing.T) {
	inNames := []string{"X", "W", "R", "B", "sequence_lens", "initial_h", "initial_c", "P"}
	worst := map[string]float64{}
	for ci, c := range rnnGradCases() {
		t.Run(c.name, func(t *testing.T) {
			rng := rand.New(rand.NewSource(int64(ci + 1)))
			fwd, bwd := rnnGradKernels(t, c)
			in := c.inputs(rng)
			outs, err := fwd.Run(nil, in)
			if err != nil {
				t.Fatal(err)
			}
			seeds := rnnGradSeeds(c, outs, rng)
			grads, err := bwd.Run(nil, append(append([]*tensor.Tensor(nil), in...), seeds...))
			if err != nil {
				t.Fatal(err)
			}
			const h = 1e-5
			var maxErr float64
			for k, i := range rnnGradOf[:len(grads)] {
				if in[i] == nil {
					continue
				}
				g := tensor.Data[float64](grads[k])
				if !tensor.ShapeEqual(grads[k].Shape(), in[i].Shape()) {
					t.Fatalf("d%s has shape %v, want %v", inNames[i], grads[k].Shape(), in[i].Shape())
				}
				for e := range g {
					x := tensor.Data[float64](in[i].Clone())
					pert := append([]*tensor.Tensor(nil), in...)
					eval := func(v float64) float64 {
						x[e] = v
						pert[i] = tensor.From(in[i].Shape(), x)
						o, err := fwd.Run(nil, pert)
						if err != nil {
							t.Fatal(err)
						}
						return projected(o, seeds)
					}
					x0 := tensor.Data[float64](in[i])[e]
					fd := (eval(x0+h) - eval(x0-h)) / (2 * h)
					diff := math.Abs(fd-g[e]) / (1 + math.Abs(fd))
					maxErr = max(maxErr, diff)
					if diff > 1e-7 {
						t.Errorf("d%s[%d] = %.10g, finite differences give %.10g", inNames[i], e, g[e], fd)
					}
				}
			}
			t.Logf("max error %.2e", maxErr)
			key := c.op
			worst[key] = max(worst[key], maxErr)
		})
	}
	t.Logf("max errors: RNN %.2e, GRU %.2e, LSTM %.2e", worst["RNN"], worst["GRU"], worst["LSTM"])
}

// TestRecurrentGradFloat32 checks that the float32 and float16 paths agree
// with the float64 one.
func TestRecurrentGradFloat32(t *testing.T) {
	for ci, c := range rnnGradCases() {
		if !strings.HasSuffix(c.name, "/base") && !strings.Contains(c.name, "peep_clip_lens") &&
			!strings.Contains(c.name, "lbr_lens") {
			continue
		}
		t.Run(c.name, func(t *testing.T) {
			rng := rand.New(rand.NewSource(int64(ci + 100)))
			fwd, bwd := rnnGradKernels(t, c)
			in := c.inputs(rng)
			outs, err := fwd.Run(nil, in)
			if err != nil {
				t.Fatal(err)
			}
			all := append(append([]*tensor.Tensor(nil), in...), rnnGradSeeds(c, outs, rng)...)
			want, err := bwd.Run(nil, all)
			if err != nil {
				t.Fatal(err)
			}
			for _, dt := range []tensor.DType{tensor.Float32, tensor.Float16} {
				cast := make([]*tensor.Tensor, len(all))
				for i, v := range all {
					if v != nil && i != 4 {
						if cast[i], err = v.Cast(dt); err != nil {
							t.Fatal(err)
						}
					} else {
						cast[i] = v
					}
				}
				got, err := bwd.Run(&RunContext{Threads: 2}, cast)
				if err != nil {
					t.Fatal(err)
				}
				tol := 1e-4
				if dt == tensor.Float16 {
					tol = 5e-2
				}
				for k := range want {
					if got[k].DType() != dt {
						t.Fatalf("%v: output %d has type %v", dt, k, got[k].DType())
					}
					g, w := got[k].Float64s(), want[k].Float64s()
					for e := range w {
						if math.Abs(g[e]-w[e]) > tol*(1+math.Abs(w[e])) {
							t.Errorf("%v: output %d [%d] = %g, float64 gives %g", dt, k, e, g[e], w[e])
						}
					}
				}
			}
		})
	}
}

func TestRecurrentGradErrors(t *testing.T) {
	c := rnnGradCase{op: "LSTM", dir: "forward", seq: 3, batch: 2, in: 3, hid: 2}
	_, bwd := rnnGradKernels(t, c)
	in := c.inputs(rand.New(rand.NewSource(1)))
	bad := append(append([]*tensor.Tensor(nil), in...), nil, tensor.MustNew(tensor.Float64, 1, 2, 3), nil)
	if _, err := bwd.Run(nil, bad); err == nil || !strings.Contains(err.Error(), "gradient of Y_h") {
		t.Errorf("wrong Y_h gradient shape: got error %v", err)
	}
	bad = append(append([]*tensor.Tensor(nil), in...), nil, tensor.MustNew(tensor.Float32, 1, 2, 2), nil)
	if _, err := bwd.Run(nil, bad); err == nil || !strings.Contains(err.Error(), "element type") {
		t.Errorf("mixed element types: got error %v", err)
	}
	// An empty sequence: every gradient is zero.
	c.seq = 0
	_, bwd = rnnGradKernels(t, c)
	in = c.inputs(rand.New(rand.NewSource(1)))
	gyh := tensor.From([]int{1, 2, 2}, []float64{1, 2, 3, 4})
	grads, err := bwd.Run(nil, append(append([]*tensor.Tensor(nil), in...), nil, gyh, gyh))
	if err != nil {
		t.Fatal(err)
	}
	for k, g := range grads {
		for _, v := range g.Float64s() {
			if v != 0 {
				t.Fatalf("empty sequence: gradient %d is %v", k, g)
			}
		}
	}
}

// fakeGradContext records what a gradient rule emits.
type fakeGradContext struct {
	b          *Builder
	inputs     []string
	outGrads   []string
	needs      map[int]bool
	emitted    []string // "domain:op(inputs)->n"
	attrs      map[string]*Attr
	inputGrads map[int]string
}

func (f *fakeGradContext) Node() *Builder              { return f.b }
func (f *fakeGradContext) Input(i int) string          { return f.inputs[i] }
func (f *fakeGradContext) Output(i int) string         { return fmt.Sprintf("out%d", i) }
func (f *fakeGradContext) OutputGrad(i int) string     { return f.outGrads[i] }
func (f *fakeGradContext) NeedsGrad(i int) bool        { return f.needs[i] }
func (f *fakeGradContext) Const(*tensor.Tensor) string { return "const" }
func (f *fakeGradContext) SetInputGrad(i int, name string) {
	f.inputGrads[i] = name
}
func (f *fakeGradContext) Emit(domain, opType string, inputs []string, nOut int, attrs ...*Attr) []string {
	f.emitted = append(f.emitted, fmt.Sprintf("%s:%s(%s)->%d", domain, opType, strings.Join(inputs, ","), nOut))
	f.attrs = map[string]*Attr{}
	for _, a := range attrs {
		f.attrs[a.Name] = a
	}
	outs := make([]string, nOut)
	for i := range outs {
		outs[i] = fmt.Sprintf("g%d", i)
	}
	return outs
}

func TestRecurrentGradRule(t *testing.T) {
	r := NewRegistry()
	registerRecurrent(r)
	tests := []struct {
		op        string
		opset     int
		inputs    []string
		outGrads  []string
		needs     []int
		emit      string
		grads     map[int]string
		dropAttrs []string
	}{
		{"LSTM", 14, []string{"x", "w", "r", "b", "", "h0", "c0", "p"}, []string{"", "gyh", ""}, []int{0, 1, 2, 3, 5, 6, 7},
			"ai.onyx.training:LSTMGrad(x,w,r,b,,h0,c0,p,,gyh)->7",
			map[int]string{0: "g0", 1: "g1", 2: "g2", 3: "g3", 5: "g4", 6: "g5", 7: "g6"}, nil},
		{"LSTM", 7, []string{"x", "w", "r"}, []string{"gy", "", ""}, []int{1, 2},
			"ai.onyx.training:LSTMGrad(x,w,r,,,,,,gy)->7", map[int]string{1: "g1", 2: "g2"}, []string{"layout"}},
		{"GRU", 1, []string{"x", "w", "r", "b", "lens", "h0"}, []string{"gy", "gyh"}, []int{0, 5},
			"ai.onyx.training:GRUGrad(x,w,r,b,lens,h0,gy,gyh)->5", map[int]string{0: "g0", 5: "g4"},
			[]string{"linear_before_reset", "layout", "output_sequence"}},
		{"RNN", 14, []string{"x", "w", "r", "", "", "h0"}, []string{"gy", ""}, []int{0, 2, 3, 5},
			"ai.onyx.training:RNNGrad(x,w,r,,,h0,gy)->5", map[int]string{0: "g0", 2: "g2", 5: "g4"}, nil},
		{"RNN", 14, []string{"x", "w", "r"}, []string{"", ""}, []int{0}, "", map[int]string{}, nil},
	}
	for _, tc := range tests {
		def, err := r.Lookup("", tc.op, tc.opset)
		if err != nil {
			t.Fatal(err)
		}
		attrs := map[string]*Attr{
			"hidden_size":         IntAttr("hidden_size", 2),
			"layout":              IntAttr("layout", 0),
			"linear_before_reset": IntAttr("linear_before_reset", 1),
			"output_sequence":     IntAttr("output_sequence", 1),
		}
		b := &Builder{OpType: tc.op, Opset: tc.opset, NumInputs: len(tc.inputs), NumOutputs: len(tc.outGrads), Attrs: attrs}
		f := &fakeGradContext{b: b, inputs: tc.inputs, outGrads: tc.outGrads, needs: map[int]bool{},
			inputGrads: map[int]string{}}
		for _, i := range tc.needs {
			f.needs[i] = true
		}
		rule := GradFor(def)
		if rule == nil {
			t.Fatalf("%s has no gradient rule", tc.op)
		}
		if err := rule(f); err != nil {
			t.Fatal(err)
		}
		got := strings.Join(f.emitted, ";")
		if got != tc.emit {
			t.Errorf("%s-%d emitted %q, want %q", tc.op, tc.opset, got, tc.emit)
		}
		if fmt.Sprint(f.inputGrads) != fmt.Sprint(tc.grads) {
			t.Errorf("%s-%d input grads %v, want %v", tc.op, tc.opset, f.inputGrads, tc.grads)
		}
		for _, a := range tc.dropAttrs {
			if f.attrs[a] != nil {
				t.Errorf("%s-%d: attribute %s passed to the backward node", tc.op, tc.opset, a)
			}
		}
		if tc.emit != "" && f.attrs["hidden_size"] == nil {
			t.Errorf("%s-%d: hidden_size not passed", tc.op, tc.opset)
		}
	}
}
