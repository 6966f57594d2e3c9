package conformance_test

import (
	"context"
	"fmt"
	"path/filepath"
	"sync"
	"testing"

	"github.com/onyxrt/onyx/internal/conformance"
	"github.com/onyxrt/onyx/onnx"
	"github.com/onyxrt/onyx/runtime"
	"github.com/onyxrt/onyx/tensor"
	"github.com/stretchr/testify/require"
)

// TestConcurrentSplitRuns runs models whose kernels split their work at 2
// threads from several goroutines on one session at once, through RunInto
// (run it with -race): each run has its own pool of split state and
// scratch (the run's arena), reused from run to run, and no two runs may
// share it. Every run must give what one thread gives.
func TestConcurrentSplitRuns(t *testing.T) {
	models := []benchModel{
		{name: "mnist-cnn b64", model: "models/mnist-cnn/model.onnx"}, // synthetic batch of 64
	}
	for _, bm := range benchModels() {
		switch bm.name {
		case "cifar-cnn", "speech-cnn", "matmul-256":
			models = append(models, bm)
		}
	}
	for _, bm := range models {
		t.Run(bm.name, func(t *testing.T) {
			s, feeds, ok := loadOrSynth(t, bm, 2)
			if !ok {
				t.Skip("model not built: run make bench")
			}
			one, _, _ := loadOrSynth(t, bm, 1)
			ctx := context.Background()
			want, err := one.Run(ctx, feeds)
			require.NoError(t, err)
			const goroutines, runs = 4, 3
			var wg sync.WaitGroup
			errs := make(chan error, goroutines)
			for range goroutines {
				wg.Add(1)
				go func() {
					defer wg.Done()
					outs := map[string]*tensor.Tensor{}
					for range runs {
						if err := s.RunInto(ctx, feeds, outs); err != nil {
							errs <- err
							return
						}
						for name, w := range want {
							if err := conformance.Compare(outs[name], w, 1e-4, 1e-5); err != nil {
								errs <- fmt.Errorf("%s: %w", name, err)
								return
							}
						}
					}
				}()
			}
			wg.Wait()
			close(errs)
			for err := range errs {
				t.Error(err)
			}
		})
	}
}

// loadOrSynth is bm.load, or for a model without input files (the
// shipped MNIST CNN) a batch of 64 synthetic images.
func loadOrSynth(t *testing.T, bm benchModel, threads int) (*runtime.Session, map[string]*tensor.Tensor, bool) {
	if len(bm.feeds) > 0 {
		return bm.load(t, threads)
	}
	m, err := onnx.DecodeFile(filepath.Join(repoRoot(t), bm.model))
	require.NoError(t, err)
	s, err := runtime.Compile(m, runtime.Options{Threads: threads})
	require.NoError(t, err)
	x := tensor.MustNew(tensor.Float32, 64, 1, 28, 28)
	for i := range x.Float32s() {
		x.Float32s()[i] = float32(i%251) / 251
	}
	return s, map[string]*tensor.Tensor{"input": x}, true
}
