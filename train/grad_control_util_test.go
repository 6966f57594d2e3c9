package train_test

import (
	"context"
	"math"
	"testing"

	"github.com/onyxrt/onyx/graph"
	"github.com/onyxrt/onyx/onnx"
	"github.com/onyxrt/onyx/runtime"
	"github.com/onyxrt/onyx/tensor"
)

// checkRoundTrip runs backward model bm, and bm written with onnx.Encode
// and read back, feeding the parameters wrt from inits, and checks that
// both give the same gradients.
func checkRoundTrip(t *testing.T, bm *graph.Model, grads map[string]string, inits map[string]*tensor.Tensor, wrt []string) {
	t.Helper()
	data, err := onnx.Encode(bm)
	if err != nil {
		t.Fatalf("encode: %v", err)
	}
	dm, err := onnx.Decode(data)
	if err != nil {
		t.Fatalf("decode: %v", err)
	}
	feeds := map[string]*tensor.Tensor{}
	for _, w := range wrt {
		feeds[w] = inits[w]
	}
	run := func(m *graph.Model) map[string]*tensor.Tensor {
		s, err := runtime.Compile(m, runtime.Options{Threads: 1})
		if err != nil {
			t.Fatalf("compile: %v", err)
		}
		out, err := s.Run(context.Background(), feeds)
		if err != nil {
			t.Fatalf("run: %v", err)
		}
		return out
	}
	a, b := run(bm), run(dm)
	for _, w := range wrt {
		ga, gb := a[grads[w]], b[grads[w]]
		if ga == nil || gb == nil {
			t.Fatalf("gradient of %s missing", w)
		}
		va, vb := ga.Float64s(), gb.Float64s()
		if len(va) != len(vb) {
			t.Fatalf("gradient of %s: %d and %d elements", w, len(va), len(vb))
		}
		for i := range va {
			if math.Abs(va[i]-vb[i]) > 1e-12 {
				t.Fatalf("gradient of %s [%d]: %v before encoding, %v after", w, i, va[i], vb[i])
			}
		}
	}
}
