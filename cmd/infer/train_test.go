package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
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

// ---- fixtures for train, eval, finetune ---------------------------------

// uniform returns a float32 tensor of the shape with values in [-1, 1).
func uniform(rng *rand.Rand, shape ...int) *tensor.Tensor {
	n := 1
	for _, d := range shape {
		n *= d
	}
	v := make([]float32, n)
	for i := range v {
		v[i] = float32(2*rng.Float64() - 1)
	}
	return tensor.From(shape, v)
}

// xorMLP is the 2-2-1 sigmoid MLP of models/xor-mlp with weights drawn
// from seed (not trained): x [N,2] -> y [N,1].
func xorMLP(seed uint64) *graph.Model {
	rng := rand.New(rand.NewPCG(seed, 1))
	m := model(
		[]graph.ValueInfo{tv("x", tensor.Float32, dims("N", 2))},
		[]graph.ValueInfo{tv("y", tensor.Float32, dims("N", 1))},
		&graph.Node{Name: "fc1", OpType: "MatMul", Inputs: []string{"x", "W1"}, Outputs: []string{"h1"}},
		&graph.Node{Name: "bias1", OpType: "Add", Inputs: []string{"h1", "b1"}, Outputs: []string{"z1"}},
		&graph.Node{Name: "act1", OpType: "Sigmoid", Inputs: []string{"z1"}, Outputs: []string{"a1"}},
		&graph.Node{Name: "fc2", OpType: "MatMul", Inputs: []string{"a1", "W2"}, Outputs: []string{"h2"}},
		&graph.Node{Name: "bias2", OpType: "Add", Inputs: []string{"h2", "b2"}, Outputs: []string{"z2"}},
		&graph.Node{Name: "act2", OpType: "Sigmoid", Inputs: []string{"z2"}, Outputs: []string{"y"}},
	)
	m.Graph.AddInitializer("W1", uniform(rng, 2, 2))
	m.Graph.AddInitializer("b1", uniform(rng, 2))
	m.Graph.AddInitializer("W2", uniform(rng, 2, 1))
	m.Graph.AddInitializer("b2", uniform(rng, 1))
	return m
}

// classifier is a one-hidden-layer network x [N,F] -> Relu features
// "feat" [N,H] -> scores [N,C], ending in Softmax ("probs"), LogSoftmax
// ("logprobs") or nothing ("logits").
func classifier(seed uint64, f, h, c int, last string) *graph.Model {
	rng := rand.New(rand.NewPCG(seed, 2))
	out := map[string]string{"Softmax": "probs", "LogSoftmax": "logprobs", "": "logits"}[last]
	nodes := []*graph.Node{
		{Name: "fc1", OpType: "Gemm", Inputs: []string{"x", "W1", "b1"}, Outputs: []string{"z1"}},
		{Name: "act1", OpType: "Relu", Inputs: []string{"z1"}, Outputs: []string{"feat"}},
		{Name: "fc2", OpType: "Gemm", Inputs: []string{"feat", "W2", "b2"}, Outputs: []string{"logits"}},
	}
	if last != "" {
		nodes = append(nodes, &graph.Node{Name: "last", OpType: last, Inputs: []string{"logits"}, Outputs: []string{out},
			Attrs: []*ops.Attr{ops.IntAttr("axis", 1)}})
	}
	m := model([]graph.ValueInfo{tv("x", tensor.Float32, dims("N", f))}, []graph.ValueInfo{tv(out, tensor.Float32, dims("N", c))}, nodes...)
	m.Graph.AddInitializer("W1", uniform(rng, f, h))
	m.Graph.AddInitializer("b1", tensor.From([]int{h}, make([]float32, h)))
	m.Graph.AddInitializer("W2", uniform(rng, h, c))
	m.Graph.AddInitializer("b2", tensor.From([]int{c}, make([]float32, c)))
	return m
}

// linear is y = x·W + b, x [N,2], y [N,1], W and b drawn from seed.
func linear(seed uint64) *graph.Model {
	rng := rand.New(rand.NewPCG(seed, 3))
	m := model([]graph.ValueInfo{tv("x", tensor.Float32, dims("N", 2))}, []graph.ValueInfo{tv("y", tensor.Float32, dims("N", 1))},
		&graph.Node{Name: "fc", OpType: "Gemm", Inputs: []string{"x", "W", "b"}, Outputs: []string{"y"}})
	m.Graph.AddInitializer("W", uniform(rng, 2, 1))
	m.Graph.AddInitializer("b", uniform(rng, 1))
	return m
}

// lineCSV writes n points of y = 0.5*x1 - 0.3*x2 + 0.25 (non-integer
// targets: a regression).
func lineCSV(t *testing.T, dir string, n int) string {
	rng := rand.New(rand.NewPCG(8, 8))
	var b strings.Builder
	b.WriteString("x1,x2,y\n")
	for i := 0; i < n; i++ {
		x1, x2 := 2*rng.Float64()-1, 2*rng.Float64()-1
		fmt.Fprintf(&b, "%.5f,%.5f,%.5f\n", x1, x2, 0.5*x1-0.3*x2+0.25)
	}
	return writeFile(t, dir, "line.csv", []byte(b.String()))
}

// xorCSV writes the XOR table, repeated times, as x1,x2,y.
func xorCSV(t *testing.T, dir string, repeat int) string {
	var b strings.Builder
	b.WriteString("x1,x2,y\n")
	for r := 0; r < repeat; r++ {
		b.WriteString("0,0,0\n0,1,1\n1,0,1\n1,1,0\n")
	}
	return writeFile(t, dir, "xor.csv", []byte(b.String()))
}

// blobsCSV writes n points of 3 classes around well-separated centres in
// 2-D as x1,x2,class.
func blobsCSV(t *testing.T, dir string, n int) string {
	rng := rand.New(rand.NewPCG(7, 7))
	centres := [][2]float64{{0, 2}, {2, -1}, {-2, -1}}
	var b strings.Builder
	b.WriteString("x1,x2,class\n")
	for i := 0; i < n; i++ {
		c := i % 3
		fmt.Fprintf(&b, "%.4f,%.4f,%d\n", centres[c][0]+0.4*rng.NormFloat64(), centres[c][1]+0.4*rng.NormFloat64(), c)
	}
	return writeFile(t, dir, "blobs.csv", []byte(b.String()))
}

// xorNPZ writes the XOR table as x float32 [4,2], y float32 [4,1].
func xorNPZ(t *testing.T, dir string) string {
	p := filepath.Join(dir, "xor.npz")
	require.NoError(t, data.WriteNPZ(p, map[string]*tensor.Tensor{
		"x": tensor.From([]int{4, 2}, []float32{0, 0, 0, 1, 1, 0, 1, 1}),
		"y": tensor.From([]int{4, 1}, []float32{0, 1, 1, 0}),
	}))
	return p
}

// trainResult decodes the --json output of train or finetune.
func trainResult(t *testing.T, stdout string) trainJSON {
	t.Helper()
	var r trainJSON
	require.NoError(t, json.Unmarshal([]byte(stdout), &r), stdout)
	return r
}

// quiet are flags that keep test runs small and deterministic.
var quiet = []string{"--threads", "1", "--progress", "off", "--json"}

func args(a ...any) []string {
	var out []string
	for _, x := range a {
		switch v := x.(type) {
		case string:
			out = append(out, v)
		case []string:
			out = append(out, v...)
		}
	}
	return out
}

// ---- train --------------------------------------------------------------

func TestTrain(t *testing.T) {
	dir := t.TempDir()
	xorPath := writeModel(t, xorMLP(5))
	xorCSVPath := xorCSV(t, dir, 1)
	xorNPZPath := xorNPZ(t, dir)
	blobs := blobsCSV(t, dir, 60)
	probs := writeModel(t, classifier(3, 2, 8, 3, "Softmax"))
	logprobs := writeModel(t, classifier(3, 2, 8, 3, "LogSoftmax"))
	logits := writeModel(t, classifier(3, 2, 8, 3, ""))
	line := writeModel(t, linear(4))
	tests := []struct {
		name  string
		model string
		data  string
		flags []string
		// maxRatio bounds the final loss as a fraction of the first.
		maxRatio float64
		accuracy float64 // minimum final training accuracy
	}{
		{"xor csv mse adam", xorPath, "csv:" + xorCSVPath, []string{"--loss", "mse", "--opt", "adam", "--lr", "0.1", "--batch", "4", "--steps", "1500"}, 0.05, 1},
		{"xor npz bce sgd", xorPath, "npz:" + xorNPZPath, []string{"--loss", "bce", "--opt", "sgd", "--lr", "2", "--steps", "2000"}, 0.1, 1},
		{"line csv l1 momentum", line, "csv:" + lineCSV(t, dir, 40), []string{"--loss", "l1", "--opt", "momentum", "--lr", "0.02", "--batch", "8", "--epochs", "20"}, 0.2, 0},
		{"line csv mse sgd", line, "csv:" + lineCSV(t, dir, 40), []string{"--loss", "mse", "--opt", "sgd", "--lr", "0.1", "--batch", "8", "--epochs", "20"}, 0.05, 0},
		{"blobs xent on probs (logits) nesterov", probs, "csv:" + blobs, []string{"--loss", "xent", "--opt", "nesterov", "--lr", "0.05", "--batch", "10", "--epochs", "15"}, 0.2, 0.95},
		{"blobs nll adamw", logprobs, "csv:" + blobs, []string{"--loss", "nll", "--opt", "adamw", "--lr", "0.05", "--batch", "10", "--epochs", "15"}, 0.2, 0.95},
		{"blobs xent adagrad", logits, "csv:" + blobs, []string{"--loss", "xent", "--opt", "adagrad", "--lr", "0.3", "--batch", "10", "--epochs", "15"}, 0.2, 0.95},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			out := filepath.Join(t.TempDir(), "trained.onnx")
			code, stdout, stderr := invoke(t, args("train", "--data", tc.data, "--val", "0", "--out", out, quiet, tc.flags, tc.model)...)
			require.Equal(t, 0, code, stderr)
			r := trainResult(t, stdout)
			require.NotNil(t, r.Loss)
			require.NotNil(t, r.FirstLoss)
			t.Logf("loss %.4g -> %.4g in %d steps", *r.FirstLoss, *r.Loss, r.Steps)
			assert.Less(t, *r.Loss, tc.maxRatio**r.FirstLoss, "the loss must drop")
			if tc.accuracy > 0 {
				require.NotNil(t, r.Accuracy)
				assert.GreaterOrEqual(t, *r.Accuracy, tc.accuracy)
			}
			assert.Nil(t, r.ValAccuracy, "--val 0: no validation")
			assert.Equal(t, out, r.Out)
			assert.FileExists(t, out+".ckpt")

			// The written model is the inference graph; it loads, runs and
			// evaluates.
			m, err := loadModel(out)
			require.NoError(t, err)
			orig, err := loadModel(tc.model)
			require.NoError(t, err)
			assert.Equal(t, len(orig.Graph.Nodes), len(m.Graph.Nodes))
			assert.Equal(t, orig.Graph.Outputs[0].Name, m.Graph.Outputs[0].Name)
			if tc.accuracy == 0 {
				return // regression: nothing to classify
			}
			code, stdout, stderr = invoke(t, "eval", "--data", tc.data, "--json", "--progress", "off", out)
			require.Equal(t, 0, code, stderr)
			var ev evalJSON
			require.NoError(t, json.Unmarshal([]byte(stdout), &ev))
			assert.GreaterOrEqual(t, ev.Accuracy, tc.accuracy)
		})
	}
}

// The per-epoch lines, the validation split and the summary.
func TestTrainOutput(t *testing.T) {
	dir := t.TempDir()
	blobs := blobsCSV(t, dir, 60)
	mp := writeModel(t, classifier(3, 2, 8, 3, "Softmax"))
	out := filepath.Join(dir, "out.onnx")
	code, stdout, stderr := invoke(t, "train", "--data", "csv:"+blobs, "--loss", "xent", "--opt", "adam", "--lr", "0.05",
		"--batch", "8", "--epochs", "3", "--val", "0.2", "--threads", "1", "--progress", "off", "--out", out, mp)
	require.Equal(t, 0, code, stderr)
	lines := strings.Split(strings.TrimSpace(stdout), "\n")
	require.Len(t, lines, 4, stdout)
	for i, l := range lines[:3] {
		assert.True(t, strings.HasPrefix(l, fmt.Sprintf("epoch %d/3: loss ", i+1)), l)
		assert.Contains(t, l, "val accuracy")
	}
	assert.Contains(t, lines[3], "trained 18 steps")
	assert.Contains(t, stderr, "on 48 examples, validating on 12")
	assert.Contains(t, stderr, `xent reads the logits "logits"`)
	assert.Contains(t, stderr, "wrote "+out)
}

// Early stopping ends the run when the monitored loss stops improving.
func TestTrainEarlyStop(t *testing.T) {
	dir := t.TempDir()
	xorPath := writeModel(t, xorMLP(5))
	// A zero learning rate cannot improve anything.
	code, stdout, stderr := invoke(t, args("train", "--data", "csv:"+xorCSV(t, dir, 1), "--val", "0", "--loss", "mse", "--opt", "sgd",
		"--lr", "1e-30", "--epochs", "50", "--early-stop", "3", "--out", filepath.Join(dir, "o.onnx"), quiet, xorPath)...)
	require.Equal(t, 0, code, stderr)
	r := trainResult(t, stdout)
	assert.True(t, r.StoppedEarly)
	assert.Less(t, r.Epochs, 50)
}

// An interrupted run (Ctrl-C, or --steps) resumes from its checkpoint and
// ends exactly where an uninterrupted run ends: same step count, same
// weights, same losses.
func TestTrainResume(t *testing.T) {
	dir := t.TempDir()
	xorPath := writeModel(t, xorMLP(5))
	csv := "csv:" + xorCSV(t, dir, 3) // 12 examples: 3 batches of 4 per epoch
	base := func(out string, extra ...string) []string {
		return args("train", "--data", csv, "--val", "0", "--loss", "bce", "--opt", "adam", "--lr", "0.05",
			"--batch", "4", "--epochs", "4", "--checkpoint-interval", "0", "--out", out, quiet, extra, xorPath)
	}
	fullOut := filepath.Join(dir, "full.onnx")
	code, stdout, stderr := invoke(t, base(fullOut)...)
	require.Equal(t, 0, code, stderr)
	full := trainResult(t, stdout)
	require.Equal(t, 12, full.Steps)
	want, err := os.ReadFile(fullOut)
	require.NoError(t, err)

	// Ctrl-C after step 5 (mid-epoch 2), simulated through the same
	// context the signal cancels.
	t.Run("ctrl-c", func(t *testing.T) {
		out := filepath.Join(t.TempDir(), "run.onnx")
		ctx, cancel := context.WithCancel(context.Background())
		interruptContext = func() (context.Context, context.CancelFunc) { return ctx, cancel }
		afterStep = func(steps int) {
			if steps == 5 {
				cancel()
			}
		}
		code, _, stderr := invoke(t, base(out)...)
		interruptContext, afterStep = defaultInterruptContext, nil
		require.Equal(t, 1, code, stderr)
		assert.Contains(t, stderr, "interrupted at step 5 (epoch 2/4, batch 2/3)")
		assert.Contains(t, stderr, "--resume")
		assert.NoFileExists(t, out, "an interrupted run writes no model")
		ckpt, meta, err := readCheckpoint(out + ".ckpt")
		require.NoError(t, err)
		assert.Equal(t, 5, meta.State.Steps)
		assert.Equal(t, 2, meta.State.Epoch)
		assert.Equal(t, 2, meta.State.Batch)
		assert.NotEmpty(t, ckpt.Graph.Initializers[optimizerPrefix+"m/W1"], "the checkpoint holds Adam's state")

		// The checkpoint is itself a runnable model.
		code, _, stderr = invoke(t, "run", "--random", out+".ckpt")
		require.Equal(t, 0, code, stderr)

		code, stdout, stderr := invoke(t, base(out, "--resume")...)
		require.Equal(t, 0, code, stderr)
		assert.Contains(t, stderr, "resuming from "+out+".ckpt: epoch 2, batch 2, step 5")
		r := trainResult(t, stdout)
		assert.Equal(t, 12, r.Steps)
		assert.Equal(t, full.Loss, r.Loss)
		assert.Equal(t, full.History, stripSeconds(r.History, full.History))
		got, err := os.ReadFile(out)
		require.NoError(t, err)
		assert.True(t, bytes.Equal(want, got), "the resumed run must end with the same weights")
	})

	// --steps stops within an epoch; --resume without the training flags
	// takes them from the checkpoint, and a larger --steps goes on.
	t.Run("steps", func(t *testing.T) {
		out := filepath.Join(t.TempDir(), "run.onnx")
		code, stdout, stderr := invoke(t, base(out, "--steps", "7")...)
		require.Equal(t, 0, code, stderr)
		r := trainResult(t, stdout)
		assert.Equal(t, 7, r.Steps)
		assert.Equal(t, 2, r.Epochs)
		require.Len(t, r.History, 2)

		code, stdout, stderr = invoke(t, args("train", "--resume", "--steps", "12", "--out", out, quiet, xorPath)...)
		require.Equal(t, 0, code, stderr)
		r = trainResult(t, stdout)
		assert.Equal(t, 12, r.Steps)
		assert.Equal(t, 4, r.Epochs)
		assert.Equal(t, full.Loss, r.Loss)
		got, err := os.ReadFile(out)
		require.NoError(t, err)
		assert.True(t, bytes.Equal(want, got), "the resumed run must end with the same weights")

		// Nothing is left to do: the model is written again, unchanged.
		code, stdout, stderr = invoke(t, args("train", "--resume", "--out", out, quiet, xorPath)...)
		require.Equal(t, 0, code, stderr)
		assert.Contains(t, stderr, "already reached the end")
		assert.Equal(t, 12, trainResult(t, stdout).Steps)

		// The optimizer cannot change under a resumed run.
		code, _, stderr = invoke(t, args("train", "--resume", "--opt", "sgd", "--epochs", "5", "--out", out, quiet, xorPath)...)
		assert.Equal(t, 2, code, stderr)
		assert.Contains(t, stderr, "--opt sgd differs from the checkpoint's adam")
	})
}

// stripSeconds copies the timings of want into got, which must otherwise
// be equal.
func stripSeconds(got, want []epochJSON) []epochJSON {
	out := append([]epochJSON(nil), got...)
	for i := range out {
		if i < len(want) {
			out[i].Seconds = want[i].Seconds
		}
	}
	return out
}

var defaultInterruptContext = interruptContext

// --freeze keeps parameters as they were; --init glorot replaces the
// others.
func TestTrainFreezeAndInit(t *testing.T) {
	dir := t.TempDir()
	m := classifier(3, 2, 8, 3, "Softmax")
	mp := writeModel(t, m)
	out := filepath.Join(dir, "o.onnx")
	code, _, stderr := invoke(t, args("train", "--data", "csv:"+blobsCSV(t, dir, 30), "--val", "0", "--loss", "xent", "--opt", "adam",
		"--epochs", "2", "--freeze", "W1", "--freeze", "b*", "--init", "glorot", "--out", out, quiet, mp)...)
	require.Equal(t, 0, code, stderr)
	assert.Contains(t, stderr, "training 1 parameter tensors (24 elements)")
	got, err := loadModel(out)
	require.NoError(t, err)
	assert.Equal(t, m.Graph.Initializers["W1"].Float32s(), got.Graph.Initializers["W1"].Float32s(), "frozen W1")
	assert.Equal(t, m.Graph.Initializers["b2"].Float32s(), got.Graph.Initializers["b2"].Float32s(), "frozen b2")
	assert.NotEqual(t, m.Graph.Initializers["W2"].Float32s(), got.Graph.Initializers["W2"].Float32s(), "trained W2")
}

// Glorot initialization: the fan-based bound, zero biases, seeded.
func TestGlorotInit(t *testing.T) {
	m := classifier(3, 2, 8, 3, "Softmax")
	m.Graph.Initializers["b1"] = tensor.From([]int{8}, []float32{1, 1, 1, 1, 1, 1, 1, 1})
	changed := glorotInit(m, 9, func(string) bool { return false })
	assert.Equal(t, []string{"W1", "W2", "b1", "b2"}, changed)
	limit := math.Sqrt(6.0 / (2 + 8))
	for _, v := range m.Graph.Initializers["W1"].Float32s() {
		assert.LessOrEqual(t, math.Abs(float64(v)), limit)
	}
	assert.Equal(t, make([]float32, 8), m.Graph.Initializers["b1"].Float32s())
	again := classifier(3, 2, 8, 3, "Softmax")
	glorotInit(again, 9, func(string) bool { return false })
	assert.Equal(t, m.Graph.Initializers["W2"].Float32s(), again.Graph.Initializers["W2"].Float32s())
}

func TestFitLabel(t *testing.T) {
	ints := tensor.From([]int{3}, []int64{0, 1, 1})
	got, err := fitLabel(ints, tv("label", tensor.Float32, dims("N", 1)))
	require.NoError(t, err)
	assert.Equal(t, []int{3, 1}, got.Shape())
	assert.Equal(t, []float32{0, 1, 1}, got.Float32s())
	got, err = fitLabel(tensor.From([]int{2, 1}, []float32{2, 0}), tv("label", tensor.Int64, dims("N")))
	require.NoError(t, err)
	assert.Equal(t, []int{2}, got.Shape())
	assert.Equal(t, tensor.Int64, got.DType())
	_, err = fitLabel(tensor.From([]int{2}, []float32{0.5, 1}), tv("label", tensor.Int64, dims("N")))
	assert.ErrorContains(t, err, "not class indices")
}

func TestProgressBar(t *testing.T) {
	var b bytes.Buffer
	p := newProgress(true, &b, 10, "epoch 1/2", "steps")
	p.add("epoch 1/2 loss 0.5")
	assert.Contains(t, b.String(), "epoch 1/2")
	assert.Contains(t, b.String(), "1/10")
	assert.Contains(t, b.String(), " steps/") // the rate
	p.clear()
	newProgress(false, &b, 10, "", "").add("x") // off: a no-op
	assert.False(t, showProgress("auto", &b), "not a terminal")
}

// Usage errors exit with status 2 and say what is wrong.
func TestTrainUsageErrors(t *testing.T) {
	dir := t.TempDir()
	mp := writeModel(t, xorMLP(5))
	csv := "csv:" + xorCSV(t, dir, 1)
	out := filepath.Join(dir, "o.onnx")
	ok := []string{"--data", csv, "--loss", "mse", "--opt", "adam", "--out", out}
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"train no model", args("train", ok), "want one MODEL"},
		{"train no data", args("train", "--loss", "mse", "--opt", "adam", "--out", out, mp), "no --data"},
		{"train bad data", args("train", "--data", "xor.csv", "--loss", "mse", "--opt", "adam", "--out", out, mp), "not KIND:PATH"},
		{"train no loss", args("train", "--data", csv, "--opt", "adam", "--out", out, mp), "no --loss"},
		{"train unknown loss", args("train", ok, "--loss", "hinge", mp), "unknown --loss"},
		{"train no opt", args("train", "--data", csv, "--loss", "mse", "--out", out, mp), "no --opt"},
		{"train unknown opt", args("train", ok, "--opt", "lbfgs", mp), "unknown --opt"},
		{"train no out", args("train", "--data", csv, "--loss", "mse", "--opt", "adam", mp), "no --out"},
		{"train bad lr", args("train", ok, "--lr", "0", mp), "--lr must be positive"},
		{"train bad val", args("train", ok, "--val", "1.5", mp), "--val must be a fraction"},
		{"train bad batch", args("train", ok, "--batch", "0", mp), "--batch must be positive"},
		{"train bad init", args("train", ok, "--init", "he", mp), "--init must be keep or glorot"},
		{"train bad progress", args("train", ok, "--progress", "maybe", mp), "--progress must be"},
		{"train unknown flag", args("train", ok, "--frobnicate", mp), "flag provided but not defined"},
		{"train resume without checkpoint", args("train", "--resume", "--data", csv, mp), "--resume needs"},
		{"eval no data", args("eval", mp), "no --data"},
		{"eval two models", args("eval", "--data", csv, mp, mp), "want one MODEL"},
		{"finetune no cut", args("finetune", "--data", csv, "--classes", "2", "--out", out, mp), "no --cut"},
		{"finetune no classes", args("finetune", "--data", csv, "--cut", "a1", "--out", out, mp), "--classes must be positive"},
		{"finetune unknown cut", args("finetune", "--data", csv, "--cut", "nope", "--classes", "2", "--out", out, mp), `--cut "nope" is not a value`},
		{"finetune bad activation", args("finetune", "--data", csv, "--cut", "a1", "--classes", "2", "--activation", "tanh", "--out", out, mp), "--activation must be"},
		{"explain no out", args("explain", mp, "x.png"), "no --out"},
		{"explain one arg", args("explain", "--out", out, mp), "want MODEL and IMAGE"},
		{"explain bad method", args("explain", "--method", "lime", "--out", out, mp, "x.png"), "--method must be"},
		{"explain bad steps", args("explain", "--steps", "0", "--out", out, mp, "x.png"), "--steps must be positive"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			code, stdout, stderr := invoke(t, tc.args...)
			assert.Equal(t, 2, code, stderr)
			assert.Empty(t, stdout)
			assert.Contains(t, stderr, tc.want)
		})
	}
	for _, cmd := range []string{"train", "eval", "finetune", "explain"} {
		code, _, stderr := invoke(t, cmd, "-h")
		assert.Equal(t, 0, code, cmd)
		assert.Contains(t, stderr, "usage: infer "+cmd, cmd)
		assert.Contains(t, stderr, "examples:", cmd)
	}
}

// A short real run: the MNIST CNN from new Glorot weights on part of MNIST
// (about 10-20 s on two cores).
func TestTrainMNIST(t *testing.T) {
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
	out := filepath.Join(t.TempDir(), "mnist.onnx")
	code, stdout, stderr := invoke(t, "train", "--data", "mnist:"+mnist, "--limit", "3200", "--val", "0.05", "--init", "glorot",
		"--loss", "xent", "--opt", "adam", "--batch", "32", "--steps", "120", "--threads", "2", "--progress", "off", "--json",
		"--out", out, mp)
	require.Equal(t, 0, code, stderr)
	r := trainResult(t, stdout)
	t.Logf("loss %.4g -> %.4g, val accuracy %.4f, %d steps in %.1fs", *r.FirstLoss, *r.Loss, *r.ValAccuracy, r.Steps, r.Seconds)
	assert.Equal(t, 120, r.Steps)
	assert.Less(t, *r.Loss, 0.5**r.FirstLoss)
	assert.Greater(t, *r.ValAccuracy, 0.7)
	code, stdout, stderr = invoke(t, "run", out, filepath.Join("..", "..", "models", "mnist-cnn", "digit7.png"))
	require.Equal(t, 0, code, stderr)
	assert.Contains(t, stdout, "class 7 ")
}
