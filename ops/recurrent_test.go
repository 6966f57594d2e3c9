package ops

import (
	"encoding/json"
	"math"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/onyxrt/onyx/tensor"
)

// rnnFixture is one case of testdata/recurrent.json, written by
// testdata/gen_recurrent.py from a numpy implementation of the ONNX
// equations (itself checked against torch.nn.LSTM/GRU).
type rnnFixture struct {
	Name    string                     `json:"name"`
	Op      string                     `json:"op"`
	Opset   int                        `json:"opset"`
	Attrs   map[string]any             `json:"attrs"`
	Inputs  map[string]rnnFixtureValue `json:"inputs"`
	Outputs map[string]rnnFixtureValue `json:"outputs"`
}

type rnnFixtureValue struct {
	Shape []int     `json:"shape"`
	DType string    `json:"dtype"`
	Data  []float64 `json:"data"`
}

func (v rnnFixtureValue) tensor(t *testing.T) *tensor.Tensor {
	switch v.DType {
	case "float32":
		d := make([]float32, len(v.Data))
		for i, x := range v.Data {
			d[i] = float32(x)
		}
		return tensor.From(v.Shape, d)
	case "float64":
		return tensor.From(v.Shape, append([]float64(nil), v.Data...))
	case "int32":
		d := make([]int32, len(v.Data))
		for i, x := range v.Data {
			d[i] = int32(x)
		}
		return tensor.From(v.Shape, d)
	}
	t.Fatalf("fixture dtype %q", v.DType)
	return nil
}

var rnnInputNames = []string{"X", "W", "R", "B", "sequence_lens", "initial_h", "initial_c", "P"}
var rnnOutputNames = []string{"Y", "Y_h", "Y_c"}

// fixtureAttrs converts JSON attributes to ops attributes.
func fixtureAttrs(t *testing.T, m map[string]any) map[string]*Attr {
	out := map[string]*Attr{}
	for k, v := range m {
		a := &Attr{Name: k}
		switch x := v.(type) {
		case string:
			a.Type, a.String = AttrString, x
		case float64:
			if k == "clip" {
				a.Type, a.Float = AttrFloat, float32(x)
			} else {
				a.Type, a.Int = AttrInt, int64(x)
			}
		case []any:
			if strings.HasPrefix(k, "activation_") {
				a.Type = AttrFloats
				for _, e := range x {
					a.Floats = append(a.Floats, float32(e.(float64)))
				}
			} else {
				a.Type = AttrStrings
				for _, e := range x {
					a.Strings = append(a.Strings, e.(string))
				}
			}
		default:
			t.Fatalf("attribute %s: %T", k, v)
		}
		out[k] = a
	}
	return out
}

// buildRNN builds op at opset with the given attributes, inputs present and
// outputs requested.
func buildRNN(t *testing.T, op string, opset int, attrs map[string]*Attr, inPresent, outPresent []bool) (Kernel, error) {
	t.Helper()
	return buildRNNConst(t, op, opset, attrs, inPresent, outPresent, nil)
}

// buildRNNConst is buildRNN with the inputs in consts (nil entries: not
// constant) known at Build time, as the runtime gives initializers.
func buildRNNConst(t *testing.T, op string, opset int, attrs map[string]*Attr, inPresent, outPresent []bool, consts []*tensor.Tensor) (Kernel, error) {
	t.Helper()
	r := NewRegistry()
	registerRecurrent(r)
	def, err := r.Lookup("", op, opset)
	if err != nil {
		t.Fatal(err)
	}
	if def.Since > opset {
		t.Fatalf("lookup gave since %d for opset %d", def.Since, opset)
	}
	b := &Builder{OpType: op, Opset: opset, NumInputs: len(inPresent), NumOutputs: len(outPresent),
		InputPresent: inPresent, OutputPresent: outPresent, Attrs: attrs}
	if consts != nil {
		b.Const = func(i int) *tensor.Tensor {
			if i < len(consts) {
				return consts[i]
			}
			return nil
		}
	}
	return def.Build(b)
}

func closeEnough(got, want float64, dt tensor.DType) bool {
	tol := 1e-5 + 1e-4*math.Abs(want)
	switch dt {
	case tensor.Float64:
		tol = 1e-12 + 1e-10*math.Abs(want)
	case tensor.Float16:
		tol = 2e-2 + 1e-2*math.Abs(want)
	}
	return math.Abs(got-want) <= tol
}

func TestRecurrentFixtures(t *testing.T) {
	raw, err := os.ReadFile("testdata/recurrent.json")
	if err != nil {
		t.Fatal(err)
	}
	var cases []rnnFixture
	if err := json.Unmarshal(raw, &cases); err != nil {
		t.Fatal(err)
	}
	for _, c := range cases {
		nOut := 2
		if c.Op == "LSTM" {
			nOut = 3
		}
		// Every output, then only the last one (Y and Y_h omitted), then
		// with W, R and B constants known at Build time (packed there), on
		// one thread and on two, then with half-precision inputs.
		type variant struct {
			name    string
			outs    []bool
			half    bool
			consts  bool
			threads int
		}
		variants := []variant{
			{"all", []bool{true, true, true}[:nOut], false, false, 2},
			{"last", append(make([]bool, nOut-1), true), false, false, 2},
			{"const", []bool{true, true, true}[:nOut], false, true, 1},
			{"const2", []bool{true, true, true}[:nOut], false, true, 2},
		}
		if c.Inputs["X"].DType == "float32" {
			variants = append(variants, variant{"float16", []bool{true, true, true}[:nOut], true, false, 2})
		}
		for _, v := range variants {
			t.Run(c.Name+"/"+v.name, func(t *testing.T) {
				inputs := make([]*tensor.Tensor, 8)
				present := make([]bool, 8)
				last := 3
				for i, n := range rnnInputNames {
					fv, ok := c.Inputs[n]
					if !ok {
						continue
					}
					inputs[i], present[i] = fv.tensor(t), true
					if v.half && fv.DType == "float32" {
						h, err := inputs[i].Cast(tensor.Float16)
						if err != nil {
							t.Fatal(err)
						}
						inputs[i] = h
					}
					last = i + 1
				}
				inputs, present = inputs[:last], present[:last]
				var consts []*tensor.Tensor
				if v.consts {
					consts = []*tensor.Tensor{nil, inputs[1], inputs[2]}
					if len(inputs) > 3 {
						consts = append(consts, inputs[3])
					}
				}
				k, err := buildRNNConst(t, c.Op, c.Opset, fixtureAttrs(t, c.Attrs), present, v.outs, consts)
				if err != nil {
					t.Fatal(err)
				}
				outs, err := k.Run(&RunContext{Threads: v.threads}, inputs)
				if err != nil {
					t.Fatal(err)
				}
				if len(outs) != nOut {
					t.Fatalf("got %d outputs, want %d", len(outs), nOut)
				}
				for i := 0; i < nOut; i++ {
					if !v.outs[i] {
						continue
					}
					want := c.Outputs[rnnOutputNames[i]]
					got := outs[i]
					if got == nil {
						t.Fatalf("%s: nil", rnnOutputNames[i])
					}
					if !tensor.ShapeEqual(got.Shape(), want.Shape) {
						t.Fatalf("%s: shape %v, want %v", rnnOutputNames[i], got.Shape(), want.Shape)
					}
					if v.half && got.DType() != tensor.Float16 {
						t.Fatalf("%s: dtype %v, want float16", rnnOutputNames[i], got.DType())
					}
					g := got.Float64s()
					bad := 0
					for j := range g {
						if !closeEnough(g[j], want.Data[j], got.DType()) {
							if bad < 5 {
								t.Errorf("%s[%d] = %v, want %v", rnnOutputNames[i], j, g[j], want.Data[j])
							}
							bad++
						}
					}
					if bad > 0 {
						t.Errorf("%s: %d of %d values differ", rnnOutputNames[i], bad, len(g))
					}
				}
			})
		}
	}
}

// TestRecurrentHandValues checks a 1-unit RNN and LSTM step by hand.
func TestRecurrentHandValues(t *testing.T) {
	// RNN, hidden 1, input 1: h1 = tanh(0.5*1 + 0), h2 = tanh(0.5*2 + 2*h1).
	x := tensor.From([]int{2, 1, 1}, []float32{1, 2})
	w := tensor.From([]int{1, 1, 1}, []float32{0.5})
	r := tensor.From([]int{1, 1, 1}, []float32{2})
	k, err := buildRNN(t, "RNN", 14, map[string]*Attr{}, []bool{true, true, true}, []bool{true, true})
	if err != nil {
		t.Fatal(err)
	}
	outs, err := k.Run(nil, []*tensor.Tensor{x, w, r})
	if err != nil {
		t.Fatal(err)
	}
	h1 := math.Tanh(0.5)
	h2 := math.Tanh(1 + 2*h1)
	y := outs[0].Float64s()
	if !closeEnough(y[0], h1, tensor.Float32) || !closeEnough(y[1], h2, tensor.Float32) {
		t.Errorf("Y = %v, want [%v %v]", y, h1, h2)
	}
	if yh := outs[1].Float64s(); !closeEnough(yh[0], h2, tensor.Float32) {
		t.Errorf("Y_h = %v, want %v", yh, h2)
	}

	// LSTM, hidden 1, all weights 0 and biases set: i=σ(1), o=σ(2), f=σ(3),
	// c̃=tanh(4); C1 = i*c̃ (C0 = 0); H1 = o*tanh(C1).
	w4 := tensor.From([]int{1, 4, 1}, []float32{0, 0, 0, 0})
	r4 := tensor.From([]int{1, 4, 1}, []float32{0, 0, 0, 0})
	b4 := tensor.From([]int{1, 8}, []float32{1, 2, 3, 4, 0, 0, 0, 0})
	k, err = buildRNN(t, "LSTM", 14, map[string]*Attr{}, []bool{true, true, true, true}, []bool{false, true, true})
	if err != nil {
		t.Fatal(err)
	}
	outs, err = k.Run(nil, []*tensor.Tensor{tensor.From([]int{1, 1, 1}, []float32{7}), w4, r4, b4})
	if err != nil {
		t.Fatal(err)
	}
	sig := func(v float64) float64 { return 1 / (1 + math.Exp(-v)) }
	c1 := sig(1) * math.Tanh(4)
	hh := sig(2) * math.Tanh(c1)
	if outs[0] != nil {
		t.Errorf("Y was not requested but returned")
	}
	if got := outs[1].Float64s()[0]; !closeEnough(got, hh, tensor.Float32) {
		t.Errorf("Y_h = %v, want %v", got, hh)
	}
	if got := outs[2].Float64s()[0]; !closeEnough(got, c1, tensor.Float32) {
		t.Errorf("Y_c = %v, want %v", got, c1)
	}
}

func TestRecurrentErrors(t *testing.T) {
	x := tensor.From([]int{2, 1, 1}, []float32{1, 2})
	w := tensor.From([]int{1, 1, 1}, []float32{0.5})
	r := tensor.From([]int{1, 1, 1}, []float32{2})
	all := []bool{true, true, true, true, true, true}
	str := func(s string) *Attr { return &Attr{Type: AttrString, String: s} }
	buildErrs := []struct {
		name  string
		attrs map[string]*Attr
	}{
		{"direction", map[string]*Attr{"direction": str("sideways")}},
		{"activation", map[string]*Attr{"activations": {Type: AttrStrings, Strings: []string{"Gelu"}}}},
		{"activations count", map[string]*Attr{"activations": {Type: AttrStrings, Strings: []string{}}}},
		{"layout", map[string]*Attr{"layout": {Type: AttrInt, Int: 2}}},
		{"clip", map[string]*Attr{"clip": {Type: AttrFloat, Float: -1}}},
		{"attr type", map[string]*Attr{"hidden_size": str("4")}},
	}
	for _, c := range buildErrs {
		if _, err := buildRNN(t, "RNN", 14, c.attrs, all, []bool{true, true}); err == nil {
			t.Errorf("%s: build succeeded", c.name)
		}
	}
	k, err := buildRNN(t, "RNN", 14, map[string]*Attr{"hidden_size": {Type: AttrInt, Int: 1}}, all, []bool{true, true})
	if err != nil {
		t.Fatal(err)
	}
	runErrs := []struct {
		name   string
		inputs []*tensor.Tensor
	}{
		{"missing R", []*tensor.Tensor{x, w}},
		{"X rank", []*tensor.Tensor{tensor.From([]int{2, 1}, []float32{1, 2}), w, r}},
		{"W shape", []*tensor.Tensor{x, tensor.From([]int{1, 2, 1}, []float32{1, 2}), r}},
		{"B shape", []*tensor.Tensor{x, w, r, tensor.From([]int{1, 3}, []float32{1, 2, 3})}},
		{"dtype mix", []*tensor.Tensor{x, tensor.From([]int{1, 1, 1}, []float64{0.5}), r}},
		{"int X", []*tensor.Tensor{tensor.From([]int{2, 1, 1}, []int32{1, 2}), tensor.From([]int{1, 1, 1}, []int32{1}), tensor.From([]int{1, 1, 1}, []int32{1})}},
		{"seq len too long", []*tensor.Tensor{x, w, r, nil, tensor.From([]int{1}, []int32{3})}},
		{"seq len negative", []*tensor.Tensor{x, w, r, nil, tensor.From([]int{1}, []int32{-1})}},
		{"seq len shape", []*tensor.Tensor{x, w, r, nil, tensor.From([]int{2}, []int32{1, 1})}},
		{"seq len float", []*tensor.Tensor{x, w, r, nil, tensor.From([]int{1}, []float32{1})}},
		{"initial_h shape", []*tensor.Tensor{x, w, r, nil, nil, tensor.From([]int{1, 2, 1}, []float32{1, 2})}},
	}
	for _, c := range runErrs {
		if _, err := k.Run(nil, c.inputs); err == nil {
			t.Errorf("%s: run succeeded", c.name)
		}
	}
	// hidden_size disagreeing with R.
	k, err = buildRNN(t, "RNN", 14, map[string]*Attr{"hidden_size": {Type: AttrInt, Int: 3}}, all, []bool{true, true})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := k.Run(nil, []*tensor.Tensor{x, w, r}); err == nil {
		t.Errorf("hidden_size mismatch: run succeeded")
	}
}

// TestRecurrentActivations checks the float32 sigmoid and tanh of the
// recurrent cells (asm.Sigmoid, asm.Tanh) against the float64 library
// over a wide range.
func TestRecurrentActivations(t *testing.T) {
	var xs []float32
	for x := -100.0; x <= 100; x += 0.0137 {
		xs = append(xs, float32(x))
	}
	for _, kind := range []rnnActKind{actSigmoid, actTanh} {
		v := append([]float32(nil), xs...)
		applyAct(rnnAct{kind: kind}, v)
		for i, x := range xs {
			want := math.Tanh(float64(x))
			if kind == actSigmoid {
				want = 1 / (1 + math.Exp(-float64(x)))
			}
			if d := math.Abs(float64(v[i]) - want); d > 1e-6*math.Abs(want)+1e-37 {
				t.Fatalf("activation %d of %v = %v, want %v", kind, x, v[i], want)
			}
		}
	}
}

func benchRNN(b *testing.B, op string, seq, hid int) {
	t := &testing.T{}
	g := map[string]int{"LSTM": 4, "GRU": 3, "RNN": 1}[op]
	fill := func(n int) []float32 {
		v := make([]float32, n)
		for i := range v {
			v[i] = float32(i%17-8) * 0.01
		}
		return v
	}
	x := tensor.From([]int{seq, 1, hid}, fill(seq*hid))
	w := tensor.From([]int{1, g * hid, hid}, fill(g*hid*hid))
	r := tensor.From([]int{1, g * hid, hid}, fill(g*hid*hid))
	// W and R are constants, as in a model (packed at Build time).
	k, err := buildRNNConst(t, op, 14, map[string]*Attr{}, []bool{true, true, true}, []bool{true, true, true}[:2+btoi(op == "LSTM")], []*tensor.Tensor{nil, w, r})
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	best := time.Duration(math.MaxInt64)
	for i := 0; i < b.N; i++ {
		t0 := time.Now()
		if _, err := k.Run(&RunContext{Threads: 1}, []*tensor.Tensor{x, w, r}); err != nil {
			b.Fatal(err)
		}
		best = min(best, time.Since(t0))
	}
	// The fastest run: steadier than the mean on a machine shared with
	// other work.
	b.ReportMetric(float64(best.Nanoseconds()), "min-ns/op")
}

func btoi(v bool) int {
	if v {
		return 1
	}
	return 0
}

func BenchmarkLSTM64x100(b *testing.B)  { benchRNN(b, "LSTM", 100, 64) }
func BenchmarkLSTM128x100(b *testing.B) { benchRNN(b, "LSTM", 100, 128) }
func BenchmarkLSTM128x200(b *testing.B) { benchRNN(b, "LSTM", 200, 128) }
func BenchmarkGRU128x100(b *testing.B)  { benchRNN(b, "GRU", 100, 128) }

// TestRecurrentThreads checks that splitting the work over goroutines gives
// the same result as one goroutine, on sizes large enough to split.
func TestRecurrentThreads(t *testing.T) {
	const seq, batch, in, hid = 3, 4, 40, 256
	fill := func(n int, seed int) []float32 {
		v := make([]float32, n)
		for i := range v {
			v[i] = float32((i*seed)%23-11) * 0.01
		}
		return v
	}
	for _, op := range []string{"LSTM", "GRU", "RNN"} {
		g := map[string]int{"LSTM": 4, "GRU": 3, "RNN": 1}[op]
		x := tensor.From([]int{seq, batch, in}, fill(seq*batch*in, 7))
		w := tensor.From([]int{2, g * hid, in}, fill(2*g*hid*in, 5))
		r := tensor.From([]int{2, g * hid, hid}, fill(2*g*hid*hid, 3))
		attrs := map[string]*Attr{"direction": {Type: AttrString, String: "bidirectional"}}
		k, err := buildRNN(t, op, 14, attrs, []bool{true, true, true}, []bool{true, true})
		if err != nil {
			t.Fatal(err)
		}
		one, err := k.Run(&RunContext{Threads: 1}, []*tensor.Tensor{x, w, r})
		if err != nil {
			t.Fatal(err)
		}
		four, err := k.Run(&RunContext{Threads: 4}, []*tensor.Tensor{x, w, r})
		if err != nil {
			t.Fatal(err)
		}
		a, b := one[0].Float32s(), four[0].Float32s()
		for i := range a {
			if math.Abs(float64(a[i]-b[i])) > 1e-6 {
				t.Fatalf("%s: Y[%d] = %v with 4 threads, %v with 1", op, i, b[i], a[i])
			}
		}
	}
}

// TestRecurrentFloat32MatchesFloat64 runs the float32 path (weights packed
// at Build time or not, one thread or two) against the float64 path on
// random inputs of sizes that fill whole vectors and tiles and leave
// tails, for the configurations that take different float32 routes.
func TestRecurrentFloat32MatchesFloat64(t *testing.T) {
	type cfg struct {
		op    string
		attrs map[string]*Attr
		lens  []int32 // nil: no sequence_lens
		h0    bool
	}
	str := func(s string) *Attr { return &Attr{Type: AttrString, String: s} }
	one := func(v int64) *Attr { return &Attr{Type: AttrInt, Int: v} }
	cfgs := []cfg{
		{"LSTM", map[string]*Attr{}, nil, false},
		{"LSTM", map[string]*Attr{}, []int32{5, 2, 0}, true},
		{"LSTM", map[string]*Attr{"direction": str("reverse")}, []int32{5, 3, 4}, true},
		{"LSTM", map[string]*Attr{"direction": str("reverse")}, []int32{3, 5, 4}, false},
		{"LSTM", map[string]*Attr{"direction": str("bidirectional")}, []int32{4, 5, 1}, false},
		{"LSTM", map[string]*Attr{"direction": str("bidirectional"), "layout": one(1)}, nil, true},
		{"LSTM", map[string]*Attr{"clip": {Type: AttrFloat, Float: 0.7}}, nil, false},
		{"GRU", map[string]*Attr{}, nil, false},
		{"GRU", map[string]*Attr{"linear_before_reset": one(1), "direction": str("bidirectional")}, []int32{4, 5, 1}, true},
		{"RNN", map[string]*Attr{}, nil, true},
		{"RNN", map[string]*Attr{"direction": str("reverse"), "layout": one(1)}, []int32{2, 5, 5}, false},
	}
	const seq, in = 5, 19
	// Batch 1 with a default LSTM and constant R takes asm.LSTMStep.
	for _, bh := range []struct{ batch, hid int }{{3, 7}, {3, 50}, {3, 64}, {1, 7}, {1, 50}, {1, 64}} {
		batch, hid := bh.batch, bh.hid
		for ci, c := range cfgs {
			g := map[string]int{"LSTM": 4, "GRU": 3, "RNN": 1}[c.op]
			nd := 1
			if c.attrs["direction"] != nil && c.attrs["direction"].String == "bidirectional" {
				nd = 2
			}
			layout := 0
			if c.attrs["layout"] != nil {
				layout = int(c.attrs["layout"].Int)
			}
			fill := func(n int, seed int) []float32 {
				v := make([]float32, n)
				for i := range v {
					v[i] = float32(math.Sin(float64(i*seed+ci))) * 0.6
				}
				return v
			}
			xs := []int{seq, batch, in}
			st := []int{nd, batch, hid}
			if layout == 1 {
				xs, st = []int{batch, seq, in}, []int{batch, nd, hid}
			}
			ins := []*tensor.Tensor{
				tensor.From(xs, fill(seq*batch*in, 7)),
				tensor.From([]int{nd, g * hid, in}, fill(nd*g*hid*in, 5)),
				tensor.From([]int{nd, g * hid, hid}, fill(nd*g*hid*hid, 3)),
				tensor.From([]int{nd, 2 * g * hid}, fill(nd*2*g*hid, 11)),
				nil, nil, nil,
			}
			present := []bool{true, true, true, true, false, false, false}
			if c.lens != nil {
				ins[4], present[4] = tensor.From([]int{batch}, c.lens[:batch]), true
			}
			if c.h0 {
				ins[5], present[5] = tensor.From(st, fill(nd*batch*hid, 13)), true
				if c.op == "LSTM" {
					ins[6], present[6] = tensor.From(st, fill(nd*batch*hid, 17)), true
				}
			}
			nOut := 2 + btoi(c.op == "LSTM")
			outs := []bool{true, true, true}[:nOut]
			wide := make([]*tensor.Tensor, len(ins))
			for i, x := range ins {
				if x != nil && x.DType() == tensor.Float32 {
					wide[i], _ = x.Cast(tensor.Float64)
				} else {
					wide[i] = x
				}
			}
			k64, err := buildRNN(t, c.op, 14, c.attrs, present, outs)
			if err != nil {
				t.Fatal(err)
			}
			want, err := k64.Run(&RunContext{Threads: 1}, wide)
			if err != nil {
				t.Fatal(err)
			}
			// The variants must agree exactly: W and R packed at Build
			// time or per run, one thread or two.
			var first []*tensor.Tensor
			for _, consts := range []bool{false, true} {
				for _, threads := range []int{1, 2} {
					var cs []*tensor.Tensor
					if consts {
						cs = ins[:4]
					}
					k, err := buildRNNConst(t, c.op, 14, c.attrs, present, outs, cs)
					if err != nil {
						t.Fatal(err)
					}
					got, err := k.Run(&RunContext{Threads: threads}, ins)
					if err != nil {
						t.Fatal(err)
					}
					if first == nil {
						first = got
					}
					for o := range want {
						for i, v := range got[o].Float32s() {
							if f := first[o].Float32s()[i]; math.Float32bits(v) != math.Float32bits(f) {
								t.Fatalf("hid %d, case %d (%s), consts %v, threads %d: output %d [%d] = %v, the first variant gave %v",
									hid, ci, c.op, consts, threads, o, i, v, f)
							}
						}
						w, g := want[o].Float64s(), got[o].Float64s()
						for i := range w {
							if math.Abs(w[i]-g[i]) > 2e-5*(1+math.Abs(w[i])) {
								t.Fatalf("hid %d, case %d (%s), consts %v, threads %d: output %d [%d] = %v, want %v",
									hid, ci, c.op, consts, threads, o, i, g[i], w[i])
							}
						}
					}
				}
			}
		}
	}
}
