package conformance_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/onyxrt/onyx/onnx"
	"github.com/onyxrt/onyx/runtime"
	"github.com/onyxrt/onyx/tensor"
	"github.com/stretchr/testify/require"
)

// benchModel is one model of the benchmarks module with its input files.
type benchModel struct {
	name  string
	model string   // relative to the repository root
	feeds []string // input files, in the order of Session.Inputs
}

// benchModels lists the models benchmarks/ measures (the generated ones
// are skipped when `make bench` has not built them).
func benchModels() []benchModel {
	bm := func(name, dir string, inputs int) benchModel {
		m := benchModel{name: name, model: filepath.Join("benchmarks", "models", dir, "model.onnx")}
		for i := 0; i < inputs; i++ {
			m.feeds = append(m.feeds, filepath.Join("benchmarks", "models", dir, "input_"+itoa(i)+".pb"))
		}
		return m
	}
	mnist := func(name, dir string) benchModel {
		return benchModel{name: name, model: filepath.Join("models", "mnist-cnn", "model.onnx"),
			feeds: []string{filepath.Join("benchmarks", "models", dir, "input_0.pb")}}
	}
	return []benchModel{
		mnist("mnist-cnn b1", "mnist_b1"),
		mnist("mnist-cnn b64", "mnist_b64"),
		bm("cifar-cnn", "cifar_cnn", 1),
		bm("lstm50x10", "lstm50x10", 1),
		bm("embed-lstm64x100", "embed_lstm64x100", 1),
		bm("speech-cnn", "speech_cnn", 1),
		bm("mobilenet-v2", "mobilenet_v2", 1),
		bm("resnet-50", "resnet50", 1),
		bm("matmul-64", "matmul_64", 2),
		bm("matmul-128", "matmul_128", 2),
		bm("matmul-256", "matmul_256", 2),
		bm("matmul-512", "matmul_512", 2),
		bm("matmul-1024", "matmul_1024", 2),
	}
}

// kerasDir is where the Keras models are, relative to the repository
// root (outside it: they are skipped when absent).
var kerasDir = filepath.Join("..", "shared", "models", "keras")

// kerasModels lists the Keras models (shared/models/keras/*) with the
// inputs of their test_data_set_0, or nothing when they are absent.
func kerasModels(t testing.TB) []benchModel {
	root := repoRoot(t)
	dirs, _ := filepath.Glob(filepath.Join(root, kerasDir, "*", "model.onnx"))
	var ms []benchModel
	for _, d := range dirs {
		name := filepath.Base(filepath.Dir(d))
		rel := filepath.Join(kerasDir, name)
		inputs, _ := filepath.Glob(filepath.Join(root, rel, "test_data_set_0", "input_*.pb"))
		m := benchModel{name: "keras/" + name, model: filepath.Join(rel, "model.onnx")}
		for i := range inputs {
			m.feeds = append(m.feeds, filepath.Join(rel, "test_data_set_0", "input_"+itoa(i)+".pb"))
		}
		ms = append(ms, m)
	}
	return ms
}

// load compiles the model and reads its feeds; ok is false when the
// files are missing.
func (b benchModel) load(t testing.TB, threads int) (*runtime.Session, map[string]*tensor.Tensor, bool) {
	root := repoRoot(t)
	if _, err := os.Stat(filepath.Join(root, b.model)); err != nil {
		return nil, nil, false
	}
	m, err := onnx.DecodeFile(filepath.Join(root, b.model))
	require.NoError(t, err)
	s, err := runtime.Compile(m, runtime.Options{Threads: threads})
	require.NoError(t, err)
	feeds := map[string]*tensor.Tensor{}
	for i, in := range s.Inputs() {
		if i >= len(b.feeds) {
			return nil, nil, false
		}
		data, err := os.ReadFile(filepath.Join(root, b.feeds[i]))
		if err != nil {
			return nil, nil, false
		}
		_, x, err := onnx.DecodeTensor(data)
		require.NoError(t, err)
		feeds[in.Name] = x
	}
	return s, feeds, true
}

// BenchmarkRunAllocations runs every benchmark model warm, through Run
// (fresh outputs) and RunInto (outputs bound once), at one and two
// threads, then the Keras models (shared/models/keras); its allocs/op and
// B/op (reported always) are where a run still asks the Go heap for
// memory. TestZeroAllocationRuns holds the RunInto counts to their
// budgets. Models that `make bench` has not built are skipped.
func BenchmarkRunAllocations(b *testing.B) {
	for _, bm := range append(benchModels(), kerasModels(b)...) {
		for _, threads := range []int{1, 2} {
			for _, into := range []bool{false, true} {
				api := "Run"
				if into {
					api = "RunInto"
				}
				b.Run(bm.name+"/threads_"+itoa(threads)+"/"+api, func(b *testing.B) {
					s, feeds, ok := bm.load(b, threads)
					if !ok {
						b.Skip("model not built: run make bench")
					}
					ctx := context.Background()
					outs := map[string]*tensor.Tensor{}
					run := func() {
						var err error
						if into {
							err = s.RunInto(ctx, feeds, outs)
						} else {
							_, err = s.Run(ctx, feeds)
						}
						if err != nil {
							b.Fatal(err)
						}
					}
					for range 3 {
						run()
					}
					b.ReportAllocs()
					b.ResetTimer()
					for range b.N {
						run()
					}
				})
			}
		}
	}
}
