package conformance_test

import (
	"context"
	"path/filepath"
	goruntime "runtime"
	"testing"

	"github.com/onyxrt/onyx/onnx"
	"github.com/onyxrt/onyx/ops/asm"
	"github.com/onyxrt/onyx/runtime"
	"github.com/onyxrt/onyx/tensor"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestSteadyStateRunsReuseMemory checks the runtime's memory planning on
// the shipped MNIST CNN: once warm, a run takes its intermediate values
// from the session's arena, so what it asks of the Go heap is the returned
// output plus a little bookkeeping per node, not the megabytes of
// activations a batch of 64 images goes through.
func TestSteadyStateRunsReuseMemory(t *testing.T) {
	if asm.SgemmImplementation() == "generic" {
		// The pure-Go path convolves 3x3 filters with Winograd, whose
		// scratch comes from a sync.Pool that each GC empties.
		t.Skip("measured on the assembly kernels' path only (purego or INFER_KERNELS=generic is set)")
	}
	m, err := onnx.DecodeFile(filepath.Join(repoRoot(t), "models", "mnist-cnn", "model.onnx"))
	require.NoError(t, err)
	tests := []struct {
		threads, batch int
	}{
		{1, 1}, {1, 64}, {2, 64},
	}
	for _, tc := range tests {
		s, err := runtime.Compile(m, runtime.Options{Threads: tc.threads})
		require.NoError(t, err)
		x := tensor.MustNew(tensor.Float32, tc.batch, 1, 28, 28)
		for i := range x.Float32s() {
			x.Float32s()[i] = float32(i%255) / 255
		}
		feeds := map[string]*tensor.Tensor{"input": x}
		run := func() {
			if _, err := s.Run(context.Background(), feeds); err != nil {
				t.Fatal(err)
			}
		}
		for range 3 {
			run()
		}
		const runs = 20
		var before, after goruntime.MemStats
		goruntime.ReadMemStats(&before)
		allocs := testing.AllocsPerRun(runs, run) // runs+1 runs
		goruntime.ReadMemStats(&after)
		bytesPerRun := float64(after.TotalAlloc-before.TotalAlloc) / (runs + 1)
		activations := float64(tc.batch * 32 * 26 * 26 * 4) // the first convolution's output alone
		outputBytes := float64(tc.batch * 10 * 4)
		t.Logf("threads %d batch %d: %.0f allocations, %.0f bytes per run (first activation %.0f bytes)", tc.threads, tc.batch, allocs, bytesPerRun, activations)
		// Kernels still allocate small things (tensor headers, shapes,
		// per-run plans): allow 32 KiB and 1/16 of the first activation,
		// far below the activations themselves (8 MB at batch 64).
		assert.Less(t, bytesPerRun, outputBytes+32<<10+activations/16, "threads %d batch %d: bytes per run", tc.threads, tc.batch)
		assert.LessOrEqual(t, allocs, 16.0*13, "threads %d batch %d: allocations per run (13 nodes)", tc.threads, tc.batch)
	}
}
