package ops

import (
	"math"
	"testing"
	"time"

	"github.com/onyxrt/onyx/tensor"
)

// buildFused builds FusedLSTM or FusedGRU with the given attributes, W, R
// and B constant.
func buildFused(t *testing.T, op string, attrs map[string]*Attr, nIn int, consts []*tensor.Tensor) Kernel {
	t.Helper()
	r := NewRegistry()
	registerRecurrent(r)
	def, err := r.Lookup(FusedDomain, op, 1)
	if err != nil {
		t.Fatal(err)
	}
	present := make([]bool, nIn)
	for i := range present {
		present[i] = i != 4
	}
	outs := []bool{true, true, op == "FusedLSTM"}
	b := &Builder{OpType: op, Domain: FusedDomain, Opset: 1, NumInputs: nIn, NumOutputs: len(outs),
		InputPresent: present, OutputPresent: outs, Attrs: attrs,
		Const: func(i int) *tensor.Tensor {
			if i < len(consts) {
				return consts[i]
			}
			return nil
		}}
	k, err := def.Build(b)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// TestFusedRNNMatchesONNX checks FusedLSTM and FusedGRU against LSTM and
// GRU run on the same window of X: the same values, with the direction
// axis dropped from Y and the states.
func TestFusedRNNMatchesONNX(t *testing.T) {
	const seq, batch, in, hid, start, steps = 7, 3, 4, 5, 2, 4
	fill := func(n int, f float64) []float32 {
		v := make([]float32, n)
		for i := range v {
			v[i] = float32(math.Sin(float64(i)*f+0.2)) * 0.6
		}
		return v
	}
	for _, op := range []string{"LSTM", "GRU"} {
		t.Run(op, func(t *testing.T) {
			g := map[string]int{"LSTM": 4, "GRU": 3}[op]
			x := tensor.From([]int{seq, batch, in}, fill(seq*batch*in, 0.7))
			w := tensor.From([]int{1, g * hid, in}, fill(g*hid*in, 1.1))
			r := tensor.From([]int{1, g * hid, hid}, fill(g*hid*hid, 1.3))
			bias := tensor.From([]int{1, 2 * g * hid}, fill(2*g*hid, 1.7))
			h0 := fill(batch*hid, 1.9)
			c0 := fill(batch*hid, 2.3)
			attrs := map[string]*Attr{"hidden_size": {Type: AttrInt, Int: hid}}
			if op == "GRU" {
				attrs["linear_before_reset"] = &Attr{Type: AttrInt, Int: 1}
			}
			nIn := 6
			if op == "LSTM" {
				nIn = 7
			}
			present := []bool{true, true, true, true, false, true, true}[:nIn]
			want, err := buildRNNConst(t, op, 14, attrs, present, []bool{true, true, op == "LSTM"}, []*tensor.Tensor{nil, w, r, bias})
			if err != nil {
				t.Fatal(err)
			}
			window := tensor.From([]int{steps, batch, in}, x.Float32s()[start*batch*in:(start+steps)*batch*in])
			wantOut, err := want.Run(&RunContext{Threads: 1}, []*tensor.Tensor{window, w, r, bias, nil,
				tensor.From([]int{1, batch, hid}, h0), tensor.From([]int{1, batch, hid}, c0)}[:nIn])
			if err != nil {
				t.Fatal(err)
			}

			fattrs := map[string]*Attr{
				"time_start": {Type: AttrInt, Int: start},
				"time_steps": {Type: AttrInt, Int: steps},
			}
			for k, v := range attrs {
				fattrs[k] = v
			}
			k := buildFused(t, "Fused"+op, fattrs, nIn, []*tensor.Tensor{nil, w, r, bias})
			for _, threads := range []int{1, 2} {
				got, err := k.Run(&RunContext{Threads: threads}, []*tensor.Tensor{x, w, r, bias, nil,
					tensor.From([]int{batch, hid}, h0), tensor.From([]int{batch, hid}, c0)}[:nIn])
				if err != nil {
					t.Fatal(err)
				}
				shapes := [][]int{{steps, batch, hid}, {batch, hid}, {batch, hid}}
				for i, o := range got {
					if o == nil {
						continue
					}
					if !tensor.ShapeEqual(o.Shape(), shapes[i]) {
						t.Fatalf("output %d has shape %v, want %v", i, o.Shape(), shapes[i])
					}
					wv, gv := wantOut[i].Float32s(), o.Float32s()
					for j := range wv {
						if wv[j] != gv[j] {
							t.Fatalf("output %d [%d] = %v, want %v", i, j, gv[j], wv[j])
						}
					}
				}
			}

			// X shorter than the window the node reads.
			short := tensor.From([]int{start + steps - 1, batch, in}, x.Float32s()[:(start+steps-1)*batch*in])
			if _, err := k.Run(&RunContext{Threads: 1}, []*tensor.Tensor{short, w, r, bias, nil,
				tensor.From([]int{batch, hid}, h0), tensor.From([]int{batch, hid}, c0)}[:nIn]); err == nil {
				t.Error("a short X ran")
			}
			// States with the direction axis are the wrong shape here.
			if _, err := k.Run(&RunContext{Threads: 1}, []*tensor.Tensor{x, w, r, bias, nil,
				tensor.From([]int{1, batch, hid}, h0), tensor.From([]int{1, batch, hid}, c0)}[:nIn]); err == nil {
				t.Error("initial states of rank 3 ran")
			}
		})
	}
}

// TestFusedRNNBuildErrors checks the attributes the fused operators
// refuse.
func TestFusedRNNBuildErrors(t *testing.T) {
	r := NewRegistry()
	registerRecurrent(r)
	def, err := r.Lookup(FusedDomain, "FusedLSTM", 1)
	if err != nil {
		t.Fatal(err)
	}
	for name, attrs := range map[string]map[string]*Attr{
		"bidirectional":  {"direction": {Type: AttrString, String: "bidirectional"}},
		"layout 1":       {"layout": {Type: AttrInt, Int: 1}},
		"negative start": {"time_start": {Type: AttrInt, Int: -1}, "time_steps": {Type: AttrInt, Int: 2}},
		"no steps":       {},
	} {
		b := &Builder{OpType: "FusedLSTM", Domain: FusedDomain, Opset: 1, NumInputs: 3, NumOutputs: 1,
			InputPresent: []bool{true, true, true}, OutputPresent: []bool{true}, Attrs: attrs}
		if _, err := def.Build(b); err == nil {
			t.Errorf("%s: build succeeded", name)
		}
	}
}

// benchRNNModel runs op over inputs shaped like a model's (bias, initial
// states present; W, R, B constants) and reports the fastest run.
func benchRNNModel(b *testing.B, op string, seq, batch, in, hid, threads int) {
	t := &testing.T{}
	g := map[string]int{"LSTM": 4, "GRU": 3, "RNN": 1}[op]
	fill := func(n int, f float64) []float32 {
		v := make([]float32, n)
		for i := range v {
			v[i] = float32(math.Sin(float64(i)*f)) * 0.3
		}
		return v
	}
	x := tensor.From([]int{seq, batch, in}, fill(seq*batch*in, 0.3))
	w := tensor.From([]int{1, g * hid, in}, fill(g*hid*in, 0.7))
	r := tensor.From([]int{1, g * hid, hid}, fill(g*hid*hid, 1.1))
	bias := tensor.From([]int{1, 2 * g * hid}, fill(2*g*hid, 1.3))
	h0 := tensor.From([]int{1, batch, hid}, fill(batch*hid, 1.7))
	c0 := tensor.From([]int{1, batch, hid}, fill(batch*hid, 1.9))
	inputs := []*tensor.Tensor{x, w, r, bias, nil, h0}
	present := []bool{true, true, true, true, false, true}
	if op == "LSTM" {
		inputs = append(inputs, c0)
		present = append(present, true)
	}
	k, err := buildRNNConst(t, op, 14, map[string]*Attr{}, present, []bool{true, true, true}[:2+btoi(op == "LSTM")], []*tensor.Tensor{nil, w, r, bias})
	if err != nil {
		b.Fatal(err)
	}
	var ws *Workers
	if threads > 1 {
		ws = NewWorkers(threads - 1)
		defer ws.Close()
	}
	rc := &RunContext{Threads: threads, Workers: ws}
	b.ReportAllocs()
	b.ResetTimer()
	best := time.Duration(math.MaxInt64)
	for i := 0; i < b.N; i++ {
		t0 := time.Now()
		if _, err := k.Run(rc, inputs); err != nil {
			b.Fatal(err)
		}
		best = min(best, time.Since(t0))
	}
	b.ReportMetric(float64(best.Nanoseconds()), "min-ns/op")
}

// The LSTM of benchmarks/models/lstm50x10 and embed_lstm64x100.
func BenchmarkLSTM50x10(b *testing.B)         { benchRNNModel(b, "LSTM", 10, 1, 1, 50, 1) }
func BenchmarkLSTM50x10Threads2(b *testing.B) { benchRNNModel(b, "LSTM", 10, 1, 1, 50, 2) }
func BenchmarkLSTMEmbed64x100(b *testing.B)   { benchRNNModel(b, "LSTM", 100, 1, 64, 64, 1) }
func BenchmarkLSTMEmbed64x100T2(b *testing.B) { benchRNNModel(b, "LSTM", 100, 1, 64, 64, 2) }

// The LSTM and GRU layers of the Keras models whose Loops become fused
// nodes.
func BenchmarkLSTMKeras16x100(b *testing.B) { benchRNNModel(b, "LSTM", 100, 1, 32, 16, 1) }
func BenchmarkGRUKeras128x120(b *testing.B) { benchRNNModel(b, "GRU", 120, 1, 5, 128, 1) }
func BenchmarkGRUKeras64x120(b *testing.B)  { benchRNNModel(b, "GRU", 120, 1, 128, 64, 1) }
