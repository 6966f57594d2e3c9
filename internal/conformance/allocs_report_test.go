package conformance_test

import (
	"context"
	"os"
	"path/filepath"
	goruntime "runtime"
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

// load compiles the model and reads its feeds; ok is false when the
// files are missing.
func (b benchModel) load(t testing.TB, threads int) (*runtime.Session, map[string]*tensor.Tensor, bool) {
	root := repoRoot(t.(*testing.T))
	if _, err := os.Stat(filepath.Join(root, b.model)); err != nil {
		return nil, nil, false
	}
	m, err := onnx.DecodeFile(filepath.Join(root, b.model))
	require.NoError(t, err)
	s, err := runtime.Compile(m, runtime.Options{Threads: threads})
	require.NoError(t, err)
	feeds := map[string]*tensor.Tensor{}
	for i, in := range s.Inputs() {
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

// measureAllocs runs f warm and returns its heap allocations and bytes
// per call.
func measureAllocs(runs int, f func()) (allocs, bytes float64) {
	for range 3 {
		f()
	}
	var before, after goruntime.MemStats
	goruntime.ReadMemStats(&before)
	allocs = testing.AllocsPerRun(runs, f) // runs+1 calls
	goruntime.ReadMemStats(&after)
	return allocs, float64(after.TotalAlloc-before.TotalAlloc) / float64(runs+1)
}

// TestAllocationReport logs the heap allocations and bytes of a warm
// run of every benchmark model, through Run (fresh outputs) and RunInto
// (outputs bound once). It asserts nothing: set ONYX_ALLOC_REPORT=1 to run
// it.
func TestAllocationReport(t *testing.T) {
	if os.Getenv("ONYX_ALLOC_REPORT") == "" {
		t.Skip("set ONYX_ALLOC_REPORT=1 to measure every benchmark model")
	}
	only := os.Getenv("ONYX_ALLOC_MODEL")
	for _, b := range benchModels() {
		if only != "" && only != b.name {
			continue
		}
		for _, threads := range []int{1, 2} {
			if th := os.Getenv("ONYX_ALLOC_THREADS"); th != "" && th != itoa(threads) {
				continue
			}
			s, feeds, ok := b.load(t, threads)
			if !ok {
				t.Logf("%-18s missing", b.name)
				continue
			}
			runs := 20
			if b.name == "resnet-50" || b.name == "mobilenet-v2" || b.name == "matmul-1024" {
				runs = 3
			}
			ctx := context.Background()
			a1, b1 := measureAllocs(runs, func() {
				if _, err := s.Run(ctx, feeds); err != nil {
					t.Fatal(err)
				}
			})
			outs := map[string]*tensor.Tensor{}
			a2, b2 := measureAllocs(runs, func() {
				if err := s.RunInto(ctx, feeds, outs); err != nil {
					t.Fatal(err)
				}
			})
			t.Logf("%-18s threads %d  Run: %6.0f allocs %9.0f B   RunInto: %6.0f allocs %9.0f B", b.name, threads, a1, b1, a2, b2)
		}
	}
}
