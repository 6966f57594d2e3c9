// Command bench-ort is cmd/bench's child for ONNX Runtime, through
// onnxruntime_go (cgo) and the libonnxruntime.so.1 that the job names.
package main

import (
	"github.com/onyxrt/onyx/benchmarks/internal/harness"
	"github.com/onyxrt/onyx/benchmarks/internal/ortrun"
)

func main() { harness.Main(ortrun.Open) }
