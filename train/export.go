package train

import (
	"github.com/onyxrt/onyx/graph"
	"github.com/onyxrt/onyx/onnx"
)

// Export writes the trained inference model to path as an ONNX file: the
// original graph (no loss, no backward nodes, BatchNormalization and
// Dropout as the model had them) with the trained parameters and running
// statistics as initializers.
func (t *Trainer) Export(path string) error {
	return ExportModel(path, t.Model())
}

// ExportModel writes m to path as an ONNX file (onnx.EncodeFile), filling
// in the IR version and producer when m leaves them empty.
func ExportModel(path string, m *graph.Model) error {
	out := *m
	if out.IRVersion == 0 {
		out.IRVersion = 8
	}
	if out.ProducerName == "" {
		out.ProducerName = "onyx-train"
	}
	return onnx.EncodeFile(path, &out)
}
