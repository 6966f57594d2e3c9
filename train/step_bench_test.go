package train_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"

	"github.com/onyxrt/onyx/models/nn"
	"github.com/onyxrt/onyx/tensor"
	"github.com/onyxrt/onyx/train"
	"github.com/onyxrt/onyx/train/data"
)

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
			tr, err := train.NewTrainer(nn.MNISTCNN(1234), train.TrainerOptions{
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
