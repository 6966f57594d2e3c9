package train_test

import (
	"math/rand/v2"
	"testing"

	"github.com/onyxrt/onyx/ops"
	"github.com/onyxrt/onyx/tensor"
	"github.com/onyxrt/onyx/train"
)

// TestGradCheckRecurrent checks the gradient rules of RNN, GRU and LSTM end
// to end: Backward emits RNNGrad/GRUGrad/LSTMGrad, the runtime runs them,
// and GradCheck compares with finite differences of the forward operator.
func TestGradCheckRecurrent(t *testing.T) {
	type tc struct {
		name    string
		op      string
		opset   int
		dir     string
		layout  int
		hid     int
		lens    []int32
		peep    bool
		attrs   []*ops.Attr
		outputs []int // outputs in the loss (nil: all)
	}
	cases := []tc{
		{name: "RNN/forward", op: "RNN", opset: 14, dir: "forward", hid: 3},
		{name: "RNN/bidirectional/layout1/lens/clip", op: "RNN", opset: 14, dir: "bidirectional", layout: 1, hid: 2,
			lens: []int32{4, 2}, attrs: []*ops.Attr{ops.FloatAttr("clip", 0.9)}},
		{name: "RNN/reverse/relu/Y_h", op: "RNN", opset: 7, dir: "reverse", hid: 3, outputs: []int{1},
			attrs: []*ops.Attr{{Name: "activations", Type: ops.AttrStrings, Strings: []string{"Relu"}}}},
		{name: "GRU/forward", op: "GRU", opset: 14, dir: "forward", hid: 3},
		{name: "GRU/reverse/lbr/lens", op: "GRU", opset: 14, dir: "reverse", hid: 2, lens: []int32{3, 4},
			attrs: []*ops.Attr{ops.IntAttr("linear_before_reset", 1)}},
		{name: "GRU/bidirectional/layout1/lbr/Y", op: "GRU", opset: 14, dir: "bidirectional", layout: 1, hid: 2,
			outputs: []int{0}, attrs: []*ops.Attr{ops.IntAttr("linear_before_reset", 1)}},
		{name: "LSTM/forward/opset7", op: "LSTM", opset: 7, dir: "forward", hid: 3},
		{name: "LSTM/bidirectional/peepholes/lens", op: "LSTM", opset: 14, dir: "bidirectional", hid: 2, peep: true,
			lens: []int32{2, 4}},
		{name: "LSTM/reverse/layout1/input_forget/clip/Y_c", op: "LSTM", opset: 14, dir: "reverse", layout: 1, hid: 3,
			peep: true, outputs: []int{2},
			attrs: []*ops.Attr{ops.IntAttr("input_forget", 1), ops.FloatAttr("clip", 1.1)}},
		{name: "LSTM/forward/hardsigmoid", op: "LSTM", opset: 14, dir: "forward", hid: 2, peep: true,
			attrs: []*ops.Attr{{Name: "activations", Type: ops.AttrStrings, Strings: []string{"HardSigmoid", "Tanh", "Softsign"}}}},
	}
	const seq, batch, in = 4, 2, 3
	for ci, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			rng := rand.New(rand.NewPCG(uint64(ci), 7))
			rnd := func(shape ...int) *tensor.Tensor {
				n := 1
				for _, d := range shape {
					n *= d
				}
				v := make([]float64, n)
				for i := range v {
					v[i] = 1.5 * (2*rng.Float64() - 1)
				}
				return tensor.From(shape, v)
			}
			nd := 1
			if c.dir == "bidirectional" {
				nd = 2
			}
			gates := map[string]int{"RNN": 1, "GRU": 3, "LSTM": 4}[c.op]
			gh := gates * c.hid
			xs, state := []int{seq, batch, in}, []int{nd, batch, c.hid}
			if c.layout == 1 {
				xs, state = []int{batch, seq, in}, []int{batch, nd, c.hid}
			}
			inputs := []*tensor.Tensor{rnd(xs...), rnd(nd, gh, in), rnd(nd, gh, c.hid), rnd(nd, 2*gh), nil, rnd(state...)}
			wrt := []int{0, 1, 2, 3, 5}
			nOut := 2
			if c.lens != nil {
				inputs[4] = tensor.From([]int{batch}, c.lens)
			}
			if c.op == "LSTM" {
				inputs = append(inputs, rnd(state...), nil)
				wrt = append(wrt, 6)
				if c.peep {
					inputs[7] = rnd(nd, 3*c.hid)
					wrt = append(wrt, 7)
				}
				nOut = 3
			}
			attrs := append([]*ops.Attr{ops.IntAttr("hidden_size", int64(c.hid)), ops.StringAttr("direction", c.dir)}, c.attrs...)
			if c.layout != 0 {
				attrs = append(attrs, ops.IntAttr("layout", int64(c.layout)))
			}
			var stats train.GradCheckStats
			err := train.GradCheck(c.op, c.opset, attrs, inputs, wrt, train.GradCheckOptions{
				NumOutputs: nOut, Outputs: c.outputs, Seed: uint64(ci), Stats: &stats,
				Step: 1e-5, RTol: 1e-6, ATol: 1e-8,
			})
			if err != nil {
				t.Fatal(err)
			}
			t.Logf("%d elements, max abs error %.2e, max rel error %.2e", stats.Checked, stats.MaxAbsErr, stats.MaxRelErr)
		})
	}
}
