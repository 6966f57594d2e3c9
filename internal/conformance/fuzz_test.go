package conformance_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/onyxrt/onyx/onnx"
	"github.com/onyxrt/onyx/runtime"
	"github.com/onyxrt/onyx/train"
)

// FuzzDecodeCompile feeds mutated model files to the decoder and the
// compiler: they must return errors, never panic or hang.
func FuzzDecodeCompile(f *testing.F) {
	seeds, _ := filepath.Glob(filepath.Join(testdataRoot, "node", "test_*", "model.onnx"))
	for i, p := range seeds {
		if i%20 != 0 { // a sample keeps start-up quick
			continue
		}
		if data, err := os.ReadFile(p); err == nil {
			f.Add(data)
		}
	}
	f.Add([]byte{})
	f.Add([]byte{0x08, 0x07, 0x3a, 0x00})
	reg := train.Registry()
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := onnx.Decode(data)
		if err != nil {
			return
		}
		_, _ = runtime.Compile(m, runtime.Options{Registry: reg, Threads: 1})
	})
}
