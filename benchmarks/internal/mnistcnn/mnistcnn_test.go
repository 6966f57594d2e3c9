package mnistcnn

import (
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"math"
	"path/filepath"
	"strings"
	"testing"

	"github.com/onyxrt/onyx/onnx"
)

// weightsDigest is the SHA-256 of Build(1234)'s initializers (name, shape
// and float32 bits, in initializer order). It was taken when this package
// was written, after checking that models/mnist-cnn's buildCNN(1234)
// encodes to the same bytes as Build(1234); it changes only if the draws
// do.
const weightsDigest = "4165aa8cb64069ce4b3f04055ca41152d21ddb7365b4a49bc5bd1244d287280a"

func digest(seed uint64) string {
	m := Build(seed)
	h := sha256.New()
	for _, name := range m.Graph.InitializerOrder {
		t := m.Graph.Initializers[name]
		fmt.Fprintf(h, "%s%v;", name, t.Shape())
		for _, v := range t.Float32s() {
			binary.Write(h, binary.LittleEndian, math.Float32bits(v))
		}
	}
	return fmt.Sprintf("%x", h.Sum(nil))
}

func TestWeightsDigest(t *testing.T) {
	if got := digest(1234); got != weightsDigest {
		t.Errorf("Build(1234)'s weights have digest %s, want %s (models/mnist-cnn's initial weights)", got, weightsDigest)
	}
	if digest(1235) == weightsDigest {
		t.Error("the seed does not change the weights")
	}
}

// TestSameLayersAsTrainedModel compares the graph with the trained model
// that models/mnist-cnn wrote (which ends in a Softmax): the same nodes
// (names, operators, inputs, outputs) and initializers (names, shapes).
func TestSameLayersAsTrainedModel(t *testing.T) {
	trained, err := onnx.DecodeFile(filepath.Join("..", "..", "..", "models", "mnist-cnn", "model.onnx"))
	if err != nil {
		t.Skip(err)
	}
	m := Build(1)
	describe := func(nodes int, g func(i int) (string, string, []string, []string)) []string {
		var out []string
		for i := 0; i < nodes; i++ {
			name, op, in, o := g(i)
			out = append(out, fmt.Sprintf("%s %s %s -> %s", name, op, strings.Join(in, ","), strings.Join(o, ",")))
		}
		return out
	}
	got := describe(len(m.Graph.Nodes), func(i int) (string, string, []string, []string) {
		n := m.Graph.Nodes[i]
		return n.Name, n.OpType, n.Inputs, n.Outputs
	})
	want := describe(len(trained.Graph.Nodes)-1, func(i int) (string, string, []string, []string) {
		n := trained.Graph.Nodes[i]
		return n.Name, n.OpType, n.Inputs, n.Outputs
	})
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("nodes differ from the trained model's:\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if len(m.Graph.Initializers) != len(trained.Graph.Initializers) {
		t.Errorf("%d initializers, the trained model has %d", len(m.Graph.Initializers), len(trained.Graph.Initializers))
	}
	for name, v := range m.Graph.Initializers {
		w := trained.Graph.Initializers[name]
		if w == nil || fmt.Sprint(w.Shape()) != fmt.Sprint(v.Shape()) {
			t.Errorf("initializer %s %v: the trained model has %v", name, v.Shape(), w)
		}
	}
}
