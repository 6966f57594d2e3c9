package graph_test

import (
	"context"
	"math"
	"path/filepath"
	"testing"

	"github.com/onyxrt/onyx/graph"
	"github.com/onyxrt/onyx/onnx"
	"github.com/onyxrt/onyx/ops"
	"github.com/onyxrt/onyx/runtime"
	"github.com/onyxrt/onyx/tensor"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// rnnLoopCase describes a Keras-style recurrent Loop (a TensorFlow while
// loop as tf2onnx exports it) for TestFuseRNNLoops.
type rnnLoopCase struct {
	name string
	gru  bool
	// seq is X's number of time steps; trip, limit and start drive the
	// loop: M, the bound of the time counter in the condition and the
	// counter's first value.
	seq, trip, limit, start int
	batch, in, hid          int
	gateAct                 string // the gates' activation (default Sigmoid)
	// useAll makes the final counter and a pass-through weight graph
	// outputs too.
	useAll bool
	// breakCell wires the cell wrongly (the LSTM forget gate multiplies
	// h instead of c; the GRU gate z is not 1-z), so it must not fuse.
	breakCell bool
	// reverse makes the loop read X backwards (not fused).
	reverse bool
	fused   bool // whether the Loop must become a fused node
}

// rnnLoopModel builds the model of c: inputs x [seq, batch, in] and h0
// (and c0) [batch, hid]; outputs y (the scan output), hf (final h) and,
// with useAll, tf and wk.
func rnnLoopModel(c rnnLoopCase) *graph.Model {
	gates := 4
	if c.gru {
		gates = 3
	}
	gh := gates * c.hid
	n := func(op string, in []string, out []string, attrs ...*ops.Attr) *graph.Node {
		return &graph.Node{OpType: op, Inputs: in, Outputs: out, Attrs: attrs}
	}
	one := func(op string, in []string, out string, attrs ...*ops.Attr) *graph.Node {
		return n(op, in, []string{out}, attrs...)
	}
	gateAct := c.gateAct
	if gateAct == "" {
		gateAct = "Sigmoid"
	}
	scalarI64 := graph.Type{Kind: graph.KindTensor, DType: tensor.Int64, Shape: tensor.SymShape{}}
	scalarBool := graph.Type{Kind: graph.KindTensor, DType: tensor.Bool, Shape: tensor.SymShape{}}
	scalarI32 := graph.Type{Kind: graph.KindTensor, DType: tensor.Int32, Shape: tensor.SymShape{}}
	state := f32(int64(c.batch), int64(c.hid))

	body := &graph.Graph{Name: "body", Initializers: map[string]*tensor.Tensor{}}
	body.AddInitializer("one32", tensor.Scalar[int32](1))
	body.AddInitializer("limit_trip", tensor.Scalar[float32](float32(c.trip)))
	body.AddInitializer("limit_t", tensor.Scalar[float32](float32(c.limit)))
	body.AddInitializer("onef", tensor.Scalar[float32](1))
	body.AddInitializer("axes0", tensor.From([]int{1}, []int64{0}))
	body.Inputs = []graph.ValueInfo{{Name: "iter", Type: scalarI64}, {Name: "cond_in", Type: scalarBool}, {Name: "t", Type: scalarI32}, {Name: "h", Type: state}}
	carried := []string{"t", "h"}
	if !c.gru {
		body.Inputs = append(body.Inputs, graph.ValueInfo{Name: "c", Type: state})
		carried = append(carried, "c")
	}
	for _, w := range []string{"wk_in", "rk_in", "b_in"} {
		body.Inputs = append(body.Inputs, graph.ValueInfo{Name: w})
	}
	step := "one32"
	if c.reverse {
		body.AddInitializer("minus1", tensor.Scalar[int32](-1))
		step = "minus1"
	}
	body.Nodes = []*graph.Node{
		one("Gather", []string{"x", "t"}, "xt"),
		one("MatMul", []string{"xt", "wk_in"}, "xw"),
		one("MatMul", []string{"h", "rk_in"}, "hr"),
		one("Add", []string{"t", step}, "t2"),
		one("Cast", []string{"iter"}, "iterf", ops.IntAttr("to", 1)),
		one("Less", []string{"iterf", "limit_trip"}, "c1"),
		one("Cast", []string{"t2"}, "t2f", ops.IntAttr("to", 1)),
		one("Less", []string{"t2f", "limit_t"}, "c2"),
		one("And", []string{"c1", "c2"}, "cond_out"),
	}
	var hNew, cNew string
	if !c.gru {
		// Keras gate order i, f, c, o.
		body.Nodes = append(body.Nodes,
			one("Add", []string{"xw", "hr"}, "s"),
			one("Add", []string{"s", "b_in"}, "z"),
			n("Split", []string{"z"}, []string{"gi", "gf", "gc", "go"}, ops.IntAttr("axis", 1)),
			one(gateAct, []string{"gi"}, "ai"),
			one(gateAct, []string{"gf"}, "af"),
			one("Tanh", []string{"gc"}, "ac"),
			one(gateAct, []string{"go"}, "ao"),
			one("Mul", []string{"ai", "ac"}, "ic"),
			one("Add", []string{"fc", "ic"}, "c_new"),
			one("Tanh", []string{"c_new"}, "tc"),
			one("Mul", []string{"ao", "tc"}, "h_new"),
		)
		if c.breakCell {
			body.Nodes = append(body.Nodes, one("Mul", []string{"af", "h"}, "fc"))
		} else {
			body.Nodes = append(body.Nodes, one("Mul", []string{"af", "c"}, "fc"))
		}
		hNew, cNew = "h_new", "c_new"
	} else {
		// Keras reset_after GRU: biases [2, 3·hid] split into input and
		// recurrent rows; gate order z, r, h; the recurrent thirds taken
		// with Slice.
		slice := func(part int, out string) *graph.Node {
			return one("Slice", []string{"rp", "st" + out, "en" + out, "ax" + out}, out)
		}
		for p, out := range []string{"rz", "rr", "rh"} {
			body.AddInitializer("st"+out, tensor.From([]int{2}, []int64{0, int64(p * c.hid)}))
			end := int64((p + 1) * c.hid)
			if p == 2 {
				end = math.MaxInt32
			}
			body.AddInitializer("en"+out, tensor.From([]int{2}, []int64{math.MaxInt32, end}))
			body.AddInitializer("ax"+out, tensor.From([]int{2}, []int64{0, 1}))
		}
		body.Nodes = append(body.Nodes,
			n("Split", []string{"b_in"}, []string{"bi2", "br2"}, ops.IntAttr("axis", 0)),
			one("Squeeze", []string{"bi2", "axes0"}, "bi"),
			one("Squeeze", []string{"br2", "axes0"}, "br"),
			one("Add", []string{"xw", "bi"}, "xp"),
			n("Split", []string{"xp"}, []string{"xz", "xr", "xh"}, ops.IntAttr("axis", -1)),
			one("Add", []string{"hr", "br"}, "rp"),
			slice(0, "rz"), slice(1, "rr"), slice(2, "rh"),
			one("Add", []string{"xz", "rz"}, "pz"),
			one(gateAct, []string{"pz"}, "z"),
			one("Add", []string{"xr", "rr"}, "pr"),
			one(gateAct, []string{"pr"}, "r"),
			one("Mul", []string{"r", "rh"}, "rrh"),
			one("Add", []string{"xh", "rrh"}, "ph"),
			one("Tanh", []string{"ph"}, "hh"),
			one("Mul", []string{"z", "h"}, "zh"),
			one("Mul", []string{"omz", "hh"}, "zhh"),
			one("Add", []string{"zh", "zhh"}, "h_new"),
		)
		if c.breakCell {
			body.Nodes = append(body.Nodes, one("Sub", []string{"onef", "r"}, "omz"))
		} else {
			body.Nodes = append(body.Nodes, one("Sub", []string{"onef", "z"}, "omz"))
		}
		hNew = "h_new"
	}
	body.Nodes = append(body.Nodes, one("Identity", []string{hNew}, "scan"))
	body.Outputs = []graph.ValueInfo{{Name: "cond_out"}, {Name: "t2"}, {Name: hNew}}
	if !c.gru {
		body.Outputs = append(body.Outputs, graph.ValueInfo{Name: cNew})
	}
	body.Outputs = append(body.Outputs, graph.ValueInfo{Name: "wk_in"}, graph.ValueInfo{Name: "rk_in"}, graph.ValueInfo{Name: "b_in"}, graph.ValueInfo{Name: "scan"})

	g := &graph.Graph{Name: "main", Initializers: map[string]*tensor.Tensor{}}
	g.AddInitializer("trip", tensor.Scalar[int64](int64(c.trip)))
	g.AddInitializer("cond0", tensor.Scalar(true))
	g.AddInitializer("t0", tensor.Scalar[int32](int32(c.start)))
	g.AddInitializer("wk", tensor.From([]int{c.in, gh}, wave(c.in*gh, 0.37, 0.6)))
	g.AddInitializer("rk", tensor.From([]int{c.hid, gh}, wave(c.hid*gh, 0.53, 0.5)))
	if c.gru {
		g.AddInitializer("b", tensor.From([]int{2, gh}, wave(2*gh, 0.71, 0.3)))
	} else {
		g.AddInitializer("b", tensor.From([]int{gh}, wave(gh, 0.71, 0.3)))
	}
	g.Inputs = []graph.ValueInfo{{Name: "x", Type: f32(int64(c.seq), int64(c.batch), int64(c.in))}, {Name: "h0", Type: state}}
	loopIn := []string{"trip", "cond0", "t0", "h0"}
	loopOut := []string{"tf", "hf"}
	if !c.gru {
		g.Inputs = append(g.Inputs, graph.ValueInfo{Name: "c0", Type: state})
		loopIn = append(loopIn, "c0")
		loopOut = append(loopOut, "cf")
	}
	loopIn = append(loopIn, "wk", "rk", "b")
	loopOut = append(loopOut, "wk_out", "rk_out", "b_out", "y")
	g.Nodes = []*graph.Node{n("Loop", loopIn, loopOut, ops.GraphAttr("body", body))}
	g.Outputs = []graph.ValueInfo{{Name: "y"}, {Name: "hf"}}
	if c.useAll {
		g.Outputs = append(g.Outputs, graph.ValueInfo{Name: "tf"}, graph.ValueInfo{Name: "wk_out"})
		if !c.gru {
			g.Outputs = append(g.Outputs, graph.ValueInfo{Name: "cf"})
		}
	}
	_ = carried
	return &graph.Model{IRVersion: 8, Opsets: []graph.OpsetImport{{Version: 13}}, Graph: g}
}

// TestFuseRNNLoops checks that Keras-style LSTM and GRU loops become
// FusedLSTM/FusedGRU nodes with the same outputs, and that loops the pass
// cannot prove to be such a layer stay as they are.
func TestFuseRNNLoops(t *testing.T) {
	tests := []rnnLoopCase{
		{name: "lstm", seq: 6, trip: 6, limit: 6, batch: 2, in: 3, hid: 4, fused: true},
		{name: "lstm batch 1 hidden 16", seq: 9, trip: 9, limit: 9, batch: 1, in: 5, hid: 16, fused: true},
		{name: "lstm reads a window of X", seq: 8, trip: 4, limit: 8, start: 2, batch: 3, in: 2, hid: 3, fused: true},
		{name: "lstm stops at the counter bound", seq: 8, trip: 100, limit: 5, start: 1, batch: 2, in: 2, hid: 3, fused: true},
		{name: "lstm hard sigmoid gates, all outputs used", seq: 5, trip: 5, limit: 5, batch: 2, in: 3, hid: 4, gateAct: "HardSigmoid", useAll: true, fused: true},
		{name: "lstm with a wrong cell stays", seq: 5, trip: 5, limit: 5, batch: 2, in: 3, hid: 4, breakCell: true},
		{name: "lstm read backwards stays", seq: 5, trip: 5, limit: 5, start: 4, batch: 2, in: 3, hid: 4, reverse: true},
		{name: "gru", seq: 6, trip: 6, limit: 6, batch: 2, in: 3, hid: 4, fused: true},
		{name: "gru all outputs used", seq: 7, trip: 7, limit: 7, batch: 3, in: 4, hid: 8, useAll: true, fused: true},
		{name: "gru with a wrong cell stays", seq: 5, trip: 5, limit: 5, batch: 2, in: 3, hid: 4, breakCell: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m := rnnLoopModel(tc)
			o := graph.Optimize(m.Graph)
			want := "FusedLSTM"
			if tc.gru {
				want = "FusedGRU"
			}
			if !tc.fused {
				want = "Loop"
			}
			assert.Contains(t, opTypes(o), want)
			assert.Equal(t, "Loop", m.Graph.Nodes[0].OpType, "the input graph must not change")

			x := tensor.From([]int{tc.seq, tc.batch, tc.in}, wave(tc.seq*tc.batch*tc.in, 0.9, 1.5))
			h0 := tensor.From([]int{tc.batch, tc.hid}, wave(tc.batch*tc.hid, 1.7, 0.4))
			feeds := map[string]*tensor.Tensor{"x": x, "h0": h0}
			if !tc.gru {
				feeds["c0"] = tensor.From([]int{tc.batch, tc.hid}, wave(tc.batch*tc.hid, 2.3, 0.5))
			}
			compareRuns(t, m, feeds, 1e-5)
		})
	}
}

// TestFuseRNNLoopsRealModels checks the pass on two tf2onnx exports of
// Keras models whose LSTM and GRU layers are Loops: every Loop goes and
// the outputs stay the same (within float rounding over 100-120 steps).
func TestFuseRNNLoopsRealModels(t *testing.T) {
	dir := filepath.Join("..", "..", "shared", "models", "keras")
	for _, tc := range []struct {
		model       string
		fused       string
		count       int
		input       string
		shape       []int
		integerLike bool
	}{
		{"hatespeech_embedding_bilstm_tf2onnx", "FusedLSTM", 2, "args_0", []int{3, 100}, true},
		{"water_gru_attention_tf2onnx", "FusedGRU", 3, "input", []int{2, 120, 5}, false},
	} {
		t.Run(tc.model, func(t *testing.T) {
			m, err := onnx.DecodeFile(filepath.Join(dir, tc.model, "model.onnx"))
			if err != nil {
				t.Skipf("shared model not available: %v", err)
			}
			n := 1
			for _, d := range tc.shape {
				n *= d
			}
			v := wave(n, 0.77, 1)
			for i := range v {
				if tc.integerLike {
					v[i] = float32(int(math.Abs(float64(v[i]))*4000) + i%7)
				}
			}
			feeds := map[string]*tensor.Tensor{tc.input: tensor.From(tc.shape, v)}
			compareRuns(t, m, feeds, 1e-4)
			count := map[string]int{}
			for _, n := range graph.Optimize(foldConstants(t, m)).Nodes {
				count[n.OpType]++
			}
			assert.Equal(t, tc.count, count[tc.fused])
			assert.Zero(t, count["Loop"])
		})
	}
}

// foldConstants returns m's graph with the top-level nodes whose inputs
// are all constants replaced by their values, as compilation folds them
// before the passes run.
func foldConstants(t *testing.T, m *graph.Model) *graph.Graph {
	g := *m.Graph
	g.Initializers = map[string]*tensor.Tensor{}
	g.InitializerOrder = nil
	for _, k := range m.Graph.InitializerOrder {
		g.AddInitializer(k, m.Graph.Initializers[k])
	}
	g.Nodes = nil
	for _, n := range m.Graph.Nodes {
		constant := len(n.Subgraphs()) == 0
		for _, in := range n.Inputs {
			if _, ok := g.Initializers[in]; in != "" && !ok {
				constant = false
			}
		}
		if !constant {
			g.Nodes = append(g.Nodes, n)
			continue
		}
		one := &graph.Graph{Nodes: []*graph.Node{n}}
		for _, in := range n.Inputs {
			if in != "" {
				one.AddInitializer(in, g.Initializers[in])
			}
		}
		for _, o := range n.Outputs {
			one.Outputs = append(one.Outputs, graph.ValueInfo{Name: o})
		}
		sess, err := runtime.Compile(&graph.Model{IRVersion: m.IRVersion, Opsets: m.Opsets, Graph: one}, runtime.Options{})
		require.NoError(t, err)
		out, err := sess.Run(context.Background(), nil)
		require.NoError(t, err)
		for name, v := range out {
			g.AddInitializer(name, v)
		}
	}
	return &g
}
