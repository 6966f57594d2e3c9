package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestFinetune(t *testing.T) {
	dir := t.TempDir()
	blobs := "csv:" + blobsCSV(t, dir, 90)
	base := classifier(4, 2, 16, 2, "Softmax") // a 2-class model; the data have 3
	mp := writeModel(t, base)
	tests := []struct {
		name       string
		flags      []string
		trainsBase bool
		softmax    bool
	}{
		{"frozen base", nil, false, true},
		{"train everything", []string{"--freeze-before", "none"}, true, true},
		{"logits out", []string{"--activation", "none", "--opt", "momentum", "--lr", "0.05"}, false, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			out := filepath.Join(t.TempDir(), "ft.onnx")
			code, stdout, stderr := invoke(t, args("finetune", "--data", blobs, "--val", "0", "--cut", "feat", "--classes", "3",
				"--lr", "0.03", "--batch", "10", "--epochs", "20", "--out", out, quiet, tc.flags, mp)...)
			require.Equal(t, 0, code, stderr)
			assert.Contains(t, stderr, `new head on "feat": 3 classes`)
			r := trainResult(t, stdout)
			t.Logf("loss %.4g -> %.4g, accuracy %.3f", *r.FirstLoss, *r.Loss, *r.Accuracy)
			assert.Less(t, *r.Loss, 0.5**r.FirstLoss)
			assert.GreaterOrEqual(t, *r.Accuracy, 0.9)

			m, err := loadModel(out)
			require.NoError(t, err)
			require.Len(t, m.Graph.Outputs, 1)
			o := m.Graph.Outputs[0]
			assert.Equal(t, int64(3), o.Type.Shape[1].Size)
			last := m.Graph.Nodes[len(m.Graph.Nodes)-1]
			if tc.softmax {
				assert.Equal(t, "probs", o.Name, "the output keeps the original name")
				assert.Equal(t, "Softmax", last.OpType)
			} else {
				assert.Equal(t, "head/output", o.Name)
				assert.Equal(t, "Gemm", last.OpType)
			}
			assert.NotContains(t, m.Graph.Initializers, "W2", "the old head is gone")
			assert.Contains(t, m.Graph.Initializers, "head/W")
			same := assert.ObjectsAreEqual(base.Graph.Initializers["W1"].Float32s(), m.Graph.Initializers["W1"].Float32s())
			assert.Equal(t, !tc.trainsBase, same, "base weights W1 unchanged: %v", same)

			code, stdout, stderr = invoke(t, "eval", "--data", blobs, "--json", out)
			require.Equal(t, 0, code, stderr)
			var ev evalJSON
			require.NoError(t, json.Unmarshal([]byte(stdout), &ev))
			assert.GreaterOrEqual(t, ev.Accuracy, 0.9)
		})
	}

	// Resuming rebuilds the same head and continues exactly.
	run := func(out string, extra ...string) trainJSON {
		code, stdout, stderr := invoke(t, args("finetune", "--data", blobs, "--val", "0", "--cut", "feat", "--classes", "3",
			"--batch", "10", "--out", out, quiet, extra, mp)...)
		require.Equal(t, 0, code, stderr)
		return trainResult(t, stdout)
	}
	full := filepath.Join(dir, "full.onnx")
	run(full, "--steps", "20")
	part := filepath.Join(dir, "part.onnx")
	assert.Equal(t, 13, run(part, "--steps", "13").Steps)
	assert.Equal(t, 20, run(part, "--resume", "--steps", "20").Steps)
	a, err := os.ReadFile(full)
	require.NoError(t, err)
	b, err := os.ReadFile(part)
	require.NoError(t, err)
	assert.True(t, bytes.Equal(a, b), "resumed fine-tuning must end with the same weights")
	code, _, stderr := invoke(t, args("finetune", "--resume", "--classes", "4", "--out", part, quiet, mp)...)
	assert.Equal(t, 2, code)
	assert.Contains(t, stderr, "--classes 4 differs from the checkpoint's 3")
}

// Transfer learning on the real MNIST CNN: a new 10-class head on the
// 64-unit hidden layer, base frozen.
func TestFinetuneMNIST(t *testing.T) {
	if testing.Short() {
		t.Skip("trains on MNIST")
	}
	mnist := filepath.Join("..", "..", "..", "shared", "data", "mnist")
	mp := filepath.Join("..", "..", "models", "mnist-cnn", "model.onnx")
	for _, p := range []string{filepath.Join(mnist, "train-images-idx3-ubyte.gz"), mp} {
		if _, err := os.Stat(p); err != nil {
			t.Skipf("%s not present", p)
		}
	}
	out := filepath.Join(t.TempDir(), "ft.onnx")
	code, stdout, stderr := invoke(t, "finetune", "--data", "mnist:"+mnist, "--limit", "1000", "--cut", "relu4.out",
		"--classes", "10", "--lr", "0.01", "--epochs", "1", "--threads", "2", "--progress", "off", "--json", "--out", out, mp)
	require.Equal(t, 0, code, stderr)
	r := trainResult(t, stdout)
	t.Logf("loss %.4g -> %.4g, val accuracy %.3f", *r.FirstLoss, *r.Loss, *r.ValAccuracy)
	assert.Contains(t, stderr, "training 2 parameter tensors (650 elements)")
	assert.Greater(t, *r.ValAccuracy, 0.8)
}
