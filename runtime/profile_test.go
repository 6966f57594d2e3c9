package runtime_test

import (
	"context"
	"testing"

	"github.com/onyxrt/onyx/runtime"
	"github.com/onyxrt/onyx/tensor"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestNodeTimes(t *testing.T) {
	feeds := map[string]*tensor.Tensor{"x": tensor.From([]int{1, 2}, []float32{3, 4})}

	plain, err := runtime.Compile(model(), runtime.Options{Registry: testRegistry(nil)})
	require.NoError(t, err)
	assert.Nil(t, plain.NodeTimes(), "a session compiled without ProfileNodes records nothing")

	s, err := runtime.Compile(model(), runtime.Options{Registry: testRegistry(nil), ProfileNodes: true})
	require.NoError(t, err)
	for range 3 {
		out, err := s.Run(context.Background(), feeds)
		require.NoError(t, err)
		assert.Equal(t, []float32{12, 24}, out["y"].Float32s())
	}
	nt := s.NodeTimes()
	require.Len(t, nt, 2)
	// Execution order, not the file's (which lists mul first).
	assert.Equal(t, []string{"add", "mul"}, []string{nt[0].Node, nt[1].Node})
	assert.Equal(t, []string{"Add", "Mul"}, []string{nt[0].OpType, nt[1].OpType})
	for _, n := range nt {
		assert.Equal(t, int64(3), n.Calls, n.Node)
		assert.Positive(t, n.Total, n.Node)
	}

	s.ResetNodeTimes()
	for _, n := range s.NodeTimes() {
		assert.Zero(t, n.Calls, n.Node)
		assert.Zero(t, n.Total, n.Node)
	}
	_, err = s.Run(context.Background(), feeds)
	require.NoError(t, err)
	assert.Equal(t, int64(1), s.NodeTimes()[1].Calls)
}
