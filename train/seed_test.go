package train

import (
	"context"
	"testing"

	"github.com/onyxrt/onyx/graph"
	"github.com/onyxrt/onyx/tensor"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestSeededTrainingRepeats trains the XOR MLP with a Dropout layer (no
// seed attribute) twice with the same seed and once with another: the
// losses repeat exactly with the seed and differ without it.
func TestSeededTrainingRepeats(t *testing.T) {
	losses := func(seed uint64) []float64 {
		m := xorModel(5)
		g := m.Graph
		for _, n := range g.Nodes {
			if n.Name == "fc2" {
				n.Inputs[0] = "a1d"
			}
		}
		g.Nodes = append(g.Nodes, &graph.Node{Name: "drop", OpType: "Dropout", Inputs: []string{"a1", "ratio", "training"}, Outputs: []string{"a1d"}})
		g.AddInitializer("ratio", tensor.Scalar[float32](0.5))
		g.AddInitializer("training", tensor.Scalar(true))
		tr, err := NewTrainer(m, TrainerOptions{Loss: MSE("y", "target"), Optimizer: NewAdam(0.1), Threads: 1, Seed: seed, Params: []string{"W1", "b1", "W2", "b2"}})
		require.NoError(t, err)
		var out []float64
		for range 20 {
			l, err := tr.Step(context.Background(), map[string]*tensor.Tensor{"x": xorX, "target": xorY})
			require.NoError(t, err)
			out = append(out, l)
		}
		return out
	}
	a, b, c := losses(3), losses(3), losses(4)
	assert.Equal(t, a, b)
	assert.NotEqual(t, a, c)
}
