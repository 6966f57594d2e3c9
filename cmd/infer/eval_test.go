package main

import (
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/onyxrt/onyx/graph"
	"github.com/onyxrt/onyx/ops"
	"github.com/onyxrt/onyx/tensor"
	"github.com/onyxrt/onyx/train/data"
)

// softmaxModel: probs = Softmax(x), x [batch, c]: the features are the
// scores, so the prediction is the largest feature.
func softmaxModel(t *testing.T, batch any, c int) string {
	return writeModel(t, model(
		[]graph.ValueInfo{tv("x", tensor.Float32, dims(batch, c))},
		[]graph.ValueInfo{tv("probs", tensor.Float32, dims(batch, c))},
		&graph.Node{OpType: "Softmax", Inputs: []string{"x"}, Outputs: []string{"probs"}, Attrs: []*ops.Attr{ops.IntAttr("axis", 1)}},
	))
}

func TestEval(t *testing.T) {
	dir := t.TempDir()
	// Scores and true classes: rows 3 and 5 are wrong (2 -> 0, 1 -> 2).
	csv := writeFile(t, dir, "scores.csv", []byte("s0,s1,s2,label\n"+
		"5,0,0,0\n0,5,0,1\n0,0,5,2\n5,0,1,2\n0,5,1,1\n0,1,5,1\n3,1,0,0\n"))
	named := writeFile(t, dir, "named.csv", []byte("s0,s1,s2,label\n5,0,0,cat\n0,5,0,dog\n0,4,5,dog\n0,0,5,emu\n"))
	onehot := filepath.Join(dir, "onehot.npz")
	require.NoError(t, data.WriteNPZ(onehot, map[string]*tensor.Tensor{
		"x": tensor.From([]int{3, 3}, []float32{1, 0, 0, 0, 1, 0, 1, 0, 0}),
		"y": tensor.From([]int{3, 3}, []float32{1, 0, 0, 0, 1, 0, 0, 0, 1}),
	}))
	binary := writeFile(t, dir, "binary.csv", []byte("a,b,label\n0.9,0,1\n0.2,0,0\n0.7,0,0\n0.1,0,1\n0.6,0,1\n"))
	firstColumn := writeModel(t, model(
		[]graph.ValueInfo{tv("x", tensor.Float32, dims("N", 2))},
		[]graph.ValueInfo{tv("p", tensor.Float32, dims("N", 1))},
		&graph.Node{OpType: "Slice", Inputs: []string{"x", "starts", "ends", "axes"}, Outputs: []string{"p"}},
	))
	{
		m, err := loadModel(firstColumn)
		require.NoError(t, err)
		m.Graph.AddInitializer("starts", tensor.From([]int{1}, []int64{0}))
		m.Graph.AddInitializer("ends", tensor.From([]int{1}, []int64{1}))
		m.Graph.AddInitializer("axes", tensor.From([]int{1}, []int64{1}))
		firstColumn = writeModel(t, m)
	}
	tests := []struct {
		name      string
		model     string
		data      string
		flags     []string
		accuracy  float64
		n         int
		classes   []string
		confusion [][]int
	}{
		{"argmax", softmaxModel(t, "N", 3), "csv:" + csv, nil, 5.0 / 7, 7, []string{"0", "1", "2"},
			[][]int{{2, 0, 0}, {0, 2, 1}, {1, 0, 1}}},
		{"fixed batch pads the last one", softmaxModel(t, 2, 3), "csv:" + csv, []string{"--batch", "5"}, 5.0 / 7, 7, []string{"0", "1", "2"},
			[][]int{{2, 0, 0}, {0, 2, 1}, {1, 0, 1}}},
		{"limit", softmaxModel(t, "N", 3), "csv:" + csv, []string{"--limit", "4"}, 3.0 / 4, 4, []string{"0", "1", "2"},
			[][]int{{1, 0, 0}, {0, 1, 0}, {1, 0, 1}}},
		{"class names", softmaxModel(t, "N", 3), "csv:" + named, nil, 3.0 / 4, 4, []string{"cat", "dog", "emu"},
			[][]int{{1, 0, 0}, {0, 1, 1}, {0, 0, 1}}},
		{"one-hot labels", softmaxModel(t, "N", 3), "npz:" + onehot, nil, 2.0 / 3, 3, []string{"0", "1", "2"},
			[][]int{{1, 0, 0}, {0, 1, 0}, {1, 0, 0}}},
		{"one unit, threshold", firstColumn, "csv:" + binary, []string{"--threshold", "0.5"}, 3.0 / 5, 5, []string{"0", "1"},
			[][]int{{1, 1}, {1, 2}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			code, stdout, stderr := invoke(t, args("eval", "--data", tc.data, "--json", "--progress", "off", tc.flags, tc.model)...)
			require.Equal(t, 0, code, stderr)
			assert.Equal(t, 1, strings.Count(stdout, "\n"), "one JSON line")
			var r map[string]any
			require.NoError(t, json.Unmarshal([]byte(stdout), &r))
			for _, k := range []string{"accuracy", "n", "correct", "classes", "confusion", "per_class", "seconds"} {
				assert.Contains(t, r, k)
			}
			var ev evalJSON
			require.NoError(t, json.Unmarshal([]byte(stdout), &ev))
			assert.InDelta(t, tc.accuracy, ev.Accuracy, 1e-12)
			assert.Equal(t, tc.n, ev.N)
			assert.Equal(t, tc.classes, ev.Classes)
			assert.Equal(t, tc.confusion, ev.Confusion)
			require.Len(t, ev.PerClass, len(tc.classes))
			for c, m := range ev.PerClass {
				support := 0
				for _, v := range tc.confusion[c] {
					support += v
				}
				assert.Equal(t, support, m.Support)
			}
		})
	}

	// The text report: accuracy, matrix, precision and recall.
	code, stdout, stderr := invoke(t, "eval", "--data", "csv:"+csv, softmaxModel(t, "N", 3))
	require.Equal(t, 0, code, stderr)
	assert.Contains(t, stdout, "accuracy 0.7143 (5/7)")
	assert.Contains(t, stdout, "confusion matrix (rows: true class, columns: predicted class):")
	assert.Contains(t, stdout, "    1     0     2     1\n")
	assert.Contains(t, stdout, "    2    0.5000    0.5000         2\n")

	// Failures (not usage errors) exit 1.
	for _, a := range [][]string{
		{"eval", "--data", "csv:" + filepath.Join(dir, "missing.csv"), softmaxModel(t, "N", 3)},
		{"eval", "--data", "csv:" + binary, softmaxModel(t, "N", 3)}, // 2 features for a 3-feature input
		{"eval", "--data", "csv:" + csv, addModel(t)},                // two inputs
	} {
		code, _, stderr := invoke(t, a...)
		assert.Equal(t, 1, code, "%v: %s", a, stderr)
	}
}
