package conformance_test

import (
	"context"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/onyxrt/onyx/internal/conformance"
	"github.com/onyxrt/onyx/onnx"
	"github.com/onyxrt/onyx/runtime"
	"github.com/onyxrt/onyx/tensor"
	"github.com/stretchr/testify/require"
)

// TestConcurrentRealModels runs real models from many goroutines on one
// session (run it with -race): every run must give the reference output.
func TestConcurrentRealModels(t *testing.T) {
	root := repoRoot(t)
	cases := []string{
		filepath.Join(root, "models", "mnist-cnn"),
		filepath.Join(root, "testdata", "exported", "lstm_2layer_bidir_batchfirst_opset11"),
		filepath.Join(root, "..", "shared", "models", "keras", "water_gru_attention_tf2onnx"),
		// Its fire modules' Concats are computed in place, in storage
		// each run's arena keeps (runtime/place.go).
		filepath.Join(root, "..", "shared", "models", "onnx-light", "light_squeezenet"),
	}
	for _, dir := range cases {
		t.Run(filepath.Base(dir), func(t *testing.T) {
			if _, err := os.Stat(dir); err != nil {
				t.Skipf("%s is not present", dir)
			}
			m, err := onnx.DecodeFile(filepath.Join(dir, "model.onnx"))
			require.NoError(t, err)
			sess, err := runtime.Compile(m, runtime.Options{Threads: 2})
			require.NoError(t, err)
			feeds := map[string]*tensor.Tensor{}
			var want *tensor.Tensor
			for i, in := range sess.Inputs() {
				data, err := os.ReadFile(filepath.Join(dir, "test_data_set_0", "input_"+itoa(i)+".pb"))
				require.NoError(t, err)
				_, x, err := onnx.DecodeTensor(data)
				require.NoError(t, err)
				feeds[in.Name] = x
			}
			data, err := os.ReadFile(filepath.Join(dir, "test_data_set_0", "output_0.pb"))
			require.NoError(t, err)
			_, want, err = onnx.DecodeTensor(data)
			require.NoError(t, err)
			out0 := sess.Outputs()[0].Name

			var wg sync.WaitGroup
			errs := make(chan error, 6)
			for g := 0; g < 6; g++ {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for i := 0; i < 3; i++ {
						got, err := sess.Run(context.Background(), feeds)
						if err == nil {
							err = conformance.Compare(got[out0], want, 1e-4, 1e-5)
						}
						if err != nil {
							errs <- err
							return
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

func itoa(i int) string { return string(rune('0' + i)) }
