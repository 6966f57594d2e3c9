package main

import (
	"math"
	"math/rand/v2"

	"github.com/onyxrt/onyx/graph"
	"github.com/onyxrt/onyx/ops"
	"github.com/onyxrt/onyx/tensor"
)

// buildLSTM returns the untrained sentiment classifier: input "input"
// int64 [N,maxLen] (word ids < vocab, 0 = padding) -> Embedding(vocab, emb)
// (Gather) -> LSTM(hidden, batch-first layout 1, last hidden state) ->
// Flatten -> Dense 2 -> "logits" [N,2] (class 1 = positive). Like Keras:
// the embedding is U(-0.05, 0.05), LSTM and Dense kernels Glorot-uniform,
// biases zero except the LSTM's forget gate at 1. Seeded.
func buildLSTM(seed uint64, vocab, maxLen, emb, hidden int) *graph.Model {
	rng := rand.New(rand.NewPCG(seed, 0x1d5b))
	uniform := func(lim float64, shape ...int) *tensor.Tensor {
		n := 1
		for _, d := range shape {
			n *= d
		}
		v := make([]float32, n)
		for i := range v {
			v[i] = float32((2*rng.Float64() - 1) * lim)
		}
		return tensor.From(shape, v)
	}
	glorot := func(fanIn, fanOut int, shape ...int) *tensor.Tensor {
		return uniform(math.Sqrt(6/float64(fanIn+fanOut)), shape...)
	}
	batch := tensor.Dim{Size: -1, Param: "N"}
	g := &graph.Graph{
		Name: "imdb_lstm",
		Inputs: []graph.ValueInfo{{Name: "input", Type: graph.Type{Kind: graph.KindTensor, DType: tensor.Int64,
			Shape: tensor.SymShape{batch, {Size: int64(maxLen)}}}}},
		Outputs: []graph.ValueInfo{{Name: "logits", Type: graph.Type{Kind: graph.KindTensor, DType: tensor.Float32,
			Shape: tensor.SymShape{batch, {Size: 2}}}}},
		Nodes: []*graph.Node{
			{Name: "embedding", OpType: "Gather", Inputs: []string{"embedding.weight", "input"}, Outputs: []string{"embedded"},
				Attrs: []*ops.Attr{ops.IntAttr("axis", 0)}},
			// Sequence-major for the LSTM (layout 0, which ONNX Runtime
			// requires), as Keras exports do.
			{Name: "to_time_major", OpType: "Transpose", Inputs: []string{"embedded"}, Outputs: []string{"embedded.t"},
				Attrs: []*ops.Attr{ops.IntsAttr("perm", 1, 0, 2)}},
			{Name: "lstm", OpType: "LSTM", Inputs: []string{"embedded.t", "lstm.W", "lstm.R", "lstm.B"}, Outputs: []string{"", "lstm.h"},
				Attrs: []*ops.Attr{ops.IntAttr("hidden_size", int64(hidden))}},
			// Y_h is [1, N, hidden]: Flatten at axis 2 gives [N, hidden].
			{Name: "flatten", OpType: "Flatten", Inputs: []string{"lstm.h"}, Outputs: []string{"features"},
				Attrs: []*ops.Attr{ops.IntAttr("axis", 2)}},
			{Name: "dense", OpType: "Gemm", Inputs: []string{"features", "dense.weight", "dense.bias"}, Outputs: []string{"logits"}},
		},
	}
	g.AddInitializer("embedding.weight", uniform(0.05, vocab, emb))
	g.AddInitializer("lstm.W", glorot(emb, 4*hidden, 1, 4*hidden, emb))
	g.AddInitializer("lstm.R", glorot(hidden, 4*hidden, 1, 4*hidden, hidden))
	b := make([]float32, 8*hidden)
	for i := 2 * hidden; i < 3*hidden; i++ { // ONNX gate order i, o, f, c: forget bias 1
		b[i] = 1
	}
	g.AddInitializer("lstm.B", tensor.From([]int{1, 8 * hidden}, b))
	g.AddInitializer("dense.weight", glorot(hidden, 2, hidden, 2))
	g.AddInitializer("dense.bias", tensor.From([]int{2}, make([]float32, 2)))
	return &graph.Model{
		IRVersion: 8, ProducerName: "onyx models/imdb-lstm",
		Opsets: []graph.OpsetImport{{Domain: "", Version: 17}},
		Graph:  g,
	}
}
