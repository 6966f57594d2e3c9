package train_test

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"

	"github.com/onyxrt/onyx/graph"
	"github.com/onyxrt/onyx/ops"
	"github.com/onyxrt/onyx/tensor"
	"github.com/onyxrt/onyx/train"
	"github.com/onyxrt/onyx/train/data"
)

// mnistCNN builds the untrained CNN of models/mnist-cnn as
// models/internal/nn does (same layer names, the same Glorot-uniform draws
// from PCG(seed, 0x6e6e), zero biases): Conv32-Relu-MaxPool2,
// Conv64-Relu-MaxPool2, Conv64-Relu, Flatten, Dense64-Relu, Dense10 ->
// "logits".
func mnistCNN(seed uint64) *graph.Model {
	rng := rand.New(rand.NewPCG(seed, 0x6e6e))
	sh := tensor.SymShape{{Size: -1, Param: "N"}, {Size: 1}, {Size: 28}, {Size: 28}}
	g := &graph.Graph{Name: "mnist_cnn", Inputs: []graph.ValueInfo{{Name: "input", Type: graph.Type{Kind: graph.KindTensor, DType: tensor.Float32, Shape: sh}}}}
	cur := "input"
	node := func(name, op string, in []string, out string, attrs ...*ops.Attr) {
		g.Nodes = append(g.Nodes, &graph.Node{Name: name, OpType: op, Inputs: in, Outputs: []string{out}, Attrs: attrs})
		cur = out
	}
	glorot := func(fanIn, fanOut int, shape ...int) *tensor.Tensor {
		n := 1
		for _, d := range shape {
			n *= d
		}
		lim := math.Sqrt(6 / float64(fanIn+fanOut))
		v := make([]float32, n)
		for i := range v {
			v[i] = float32((2*rng.Float64() - 1) * lim)
		}
		return tensor.From(shape, v)
	}
	c := 1
	relus := 0
	relu := func() {
		relus++
		name := fmt.Sprintf("relu%d", relus)
		node(name, "Relu", []string{cur}, name+".out")
	}
	for i, f := range []int{32, 64, 64} {
		name := fmt.Sprintf("conv%d", i+1)
		g.AddInitializer(name+".weight", glorot(c*9, f*9, f, c, 3, 3))
		g.AddInitializer(name+".bias", tensor.From([]int{f}, make([]float32, f)))
		node(name, "Conv", []string{cur, name + ".weight", name + ".bias"}, name+".out", ops.IntsAttr("kernel_shape", 3, 3))
		relu()
		if i < 2 {
			p := fmt.Sprintf("pool%d", i+1)
			node(p, "MaxPool", []string{cur}, p+".out", ops.IntsAttr("kernel_shape", 2, 2), ops.IntsAttr("strides", 2, 2))
		}
		c = f
	}
	node("flatten1", "Flatten", []string{cur}, "features", ops.IntAttr("axis", 1))
	in := 576
	for i, units := range []int{64, 10} {
		name := fmt.Sprintf("dense%d", i+1)
		g.AddInitializer(name+".weight", glorot(in, units, in, units))
		g.AddInitializer(name+".bias", tensor.From([]int{units}, make([]float32, units)))
		out := name + ".out"
		if i == 1 {
			out = "logits"
		}
		node(name, "Gemm", []string{cur, name + ".weight", name + ".bias"}, out)
		if i == 0 {
			relu()
		}
		in = units
	}
	g.Outputs = []graph.ValueInfo{{Name: "logits", Type: graph.Type{Kind: graph.KindTensor, DType: tensor.Float32,
		Shape: tensor.SymShape{{Size: -1, Param: "N"}, {Size: 10}}}}}
	return &graph.Model{IRVersion: 8, Opsets: []graph.OpsetImport{{Domain: "", Version: 17}}, Graph: g}
}

// mnistBatches returns nb batches of 64 MNIST training images (real ones
// when the shared data is there, else random pixels and labels).
func mnistBatches(b testing.TB, nb int) []map[string]*tensor.Tensor {
	const bs = 64
	dir := os.Getenv("ONYX_DATA")
	if dir == "" {
		dir = filepath.Join("..", "..", "shared", "data")
	}
	var out []map[string]*tensor.Tensor
	if ds, err := data.Open("mnist:"+filepath.Join(dir, "mnist"), "train", data.Options{Limit: nb * bs}); err == nil {
		for i := 0; i < nb; i++ {
			idx := make([]int, bs)
			for j := range idx {
				idx[j] = i*bs + j
			}
			f, err := ds.Batch(idx)
			if err != nil {
				b.Fatal(err)
			}
			out = append(out, f)
		}
		return out
	}
	rng := rand.New(rand.NewPCG(1, 2))
	for i := 0; i < nb; i++ {
		x := make([]float32, bs*784)
		for j := range x {
			x[j] = rng.Float32()
		}
		y := make([]int64, bs)
		for j := range y {
			y[j] = int64(rng.IntN(10))
		}
		out = append(out, map[string]*tensor.Tensor{"input": tensor.From([]int{bs, 1, 28, 28}, x), "label": tensor.From([]int{bs}, y)})
	}
	return out
}

// BenchmarkMNISTStep times one Trainer step (forward, backward, Adam) of
// the MNIST CNN on a batch of 64, with 1 and 2 threads; it reports
// images per second.
func BenchmarkMNISTStep(b *testing.B) {
	batches := mnistBatches(b, 16)
	for _, th := range []int{1, 2} {
		b.Run(fmt.Sprintf("threads=%d", th), func(b *testing.B) {
			tr, err := train.NewTrainer(mnistCNN(1234), train.TrainerOptions{
				Loss: train.SoftmaxCrossEntropy("logits", "label"), Optimizer: train.NewAdam(1e-3), Threads: th,
			})
			if err != nil {
				b.Fatal(err)
			}
			ctx := context.Background()
			for i := 0; i < 3; i++ {
				if _, err := tr.Step(ctx, batches[i%len(batches)]); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportAllocs()
			b.ResetTimer()
			c0, ok := processCPU()
			for i := 0; i < b.N; i++ {
				if _, err := tr.Step(ctx, batches[i%len(batches)]); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(64*b.N)/b.Elapsed().Seconds(), "img/s")
			if c1, _ := processCPU(); ok {
				b.ReportMetric(float64((c1-c0).Microseconds())/1000/float64(b.N), "cpu-ms/op")
			}
		})
	}
}
