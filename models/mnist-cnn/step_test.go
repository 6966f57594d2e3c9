package main

import (
	"context"
	"math"
	"sort"
	"strings"
	"testing"

	"github.com/onyxrt/onyx/models/nn"
	"github.com/onyxrt/onyx/runtime"
	"github.com/onyxrt/onyx/tensor"
	"github.com/onyxrt/onyx/train"
	"github.com/onyxrt/onyx/train/data"
)

// TestTorchStep checks one training step of the CNN against PyTorch
// (testdata/torch_step.npz, made by torch_step.py): with the same weights
// and batch of 8 MNIST images, train.Backward must give torch's
// cross-entropy loss and every parameter gradient within 1e-4, and a
// Trainer step with Adam must give the loss and the updated weights of
// torch.optim.Adam (within 1e-7 on torch's gradients; 1e-5, 1% of the
// learning rate, through the whole step; see torchAdam for epsilon).
func TestTorchStep(t *testing.T) {
	ref, err := data.ReadNPZ("testdata/torch_step.npz")
	if err != nil {
		t.Fatal(err)
	}
	m := nn.MNISTCNN(1)
	var params []string
	for name := range ref {
		if p, ok := strings.CutPrefix(name, "w/"); ok {
			old := m.Graph.Initializers[p]
			if old == nil {
				t.Fatalf("the fixture has weights %q that the model lacks", p)
			}
			if !sameShape(old.Shape(), ref[name].Shape()) {
				t.Fatalf("%s: fixture shape %v, model %v", p, ref[name].Shape(), old.Shape())
			}
			m.Graph.Initializers[p] = ref[name]
			params = append(params, p)
		}
	}
	sort.Strings(params)
	if len(params) != len(m.Graph.Initializers) {
		t.Fatalf("fixture has %d weight tensors, the model %d", len(params), len(m.Graph.Initializers))
	}
	feeds := map[string]*tensor.Tensor{"input": ref["x"], "label": ref["y"]}
	wantLoss := float64(ref["loss"].Float32s()[0])

	// train.Backward on the model with the loss appended.
	lm := *m
	g := *m.Graph
	g.Inputs = append(g.Inputs[:0:0], g.Inputs...)
	lm.Graph = &g
	loss, err := train.SoftmaxCrossEntropy("logits", "label").Build(&lm)
	if err != nil {
		t.Fatal(err)
	}
	bm, grads, err := train.Backward(&lm, loss, params, nil)
	if err != nil {
		t.Fatal(err)
	}
	s, err := runtime.Compile(bm, runtime.Options{Threads: 2})
	if err != nil {
		t.Fatal(err)
	}
	all := map[string]*tensor.Tensor{}
	for k, v := range feeds {
		all[k] = v
	}
	for _, p := range params {
		all[p] = ref["w/"+p]
	}
	out, err := s.Run(context.Background(), all)
	if err != nil {
		t.Fatal(err)
	}
	gotLoss := float64(out[loss].Float32s()[0])
	if math.Abs(gotLoss-wantLoss) > 1e-4 {
		t.Errorf("loss %.7f, torch %.7f", gotLoss, wantLoss)
	}
	for _, p := range params {
		got, want := out[grads[p]], ref["g/"+p]
		if d, at := maxDiff(got, want); d > 1e-4 {
			t.Errorf("d loss/d %s: differs from torch by %.3g at %d (got %g, torch %g)", p, d, at, got.Float32s()[at], want.Float32s()[at])
		} else {
			t.Logf("d loss/d %-14s %-14v max |onyx - torch| = %.2g (max |g| %.3g)", p, want.Shape(), d, maxAbs(want))
		}
	}

	// One Trainer step with Adam, as torch.optim.Adam(lr=1e-3).
	tr, err := train.NewTrainer(m, train.TrainerOptions{
		Loss: train.SoftmaxCrossEntropy("logits", "label"), Optimizer: torchAdam(), Threads: 2,
	})
	if err != nil {
		t.Fatal(err)
	}
	l, err := tr.Step(context.Background(), feeds)
	if err != nil {
		t.Fatal(err)
	}
	if math.Abs(l-wantLoss) > 1e-4 {
		t.Errorf("Trainer.Step loss %.7f, torch %.7f", l, wantLoss)
	}
	checked := 0
	for name, want := range ref {
		p, ok := strings.CutPrefix(name, "adam/")
		if !ok {
			continue
		}
		checked++
		// The optimizer's math alone: Adam's update applied to torch's
		// own gradient must give torch's weights.
		upd, err := torchAdam().Update(p, ref["w/"+p], ref["g/"+p], 1e-3, 1)
		if err != nil {
			t.Fatal(err)
		}
		if d, at := maxDiff(upd, want); d > 1e-7 {
			t.Errorf("%s: Adam on torch's gradient differs from torch.optim.Adam by %.3g at %d", p, d, at)
		}
		// The whole step. The first Adam step moves each weight by
		// lr*g/(|g|+eps), which is sensitive to rounding where |g| is near
		// eps=1e-8 (a gradient of 3e-8 against 6e-8 moves it by 0.75 or
		// 0.86 lr), so allow 1% of lr there.
		if d, at := maxDiff(tr.Value(p), want); d > 1e-5 {
			t.Errorf("%s after one Trainer step: differs from torch by %.3g at %d", p, d, at)
		}
	}
	if checked == 0 {
		t.Error("the fixture holds no Adam results")
	}
}

// torchAdam is train.Adam set up to reproduce the first step of
// torch.optim.Adam(lr=1e-3). Onyx's Adam follows the ONNX Adam operator
// (and TensorFlow): x -= lr*sqrt(1-b2^t)/(1-b1^t) * m/(sqrt(v)+eps),
// while torch divides by sqrt(v/(1-b2^t))+eps; the two agree when Onyx's
// epsilon is torch's times sqrt(1-b2^t) (at step 1, sqrt(0.001)). With
// the same epsilon they differ only where |g| is within a few 1e-7.
func torchAdam() *train.Adam {
	a := train.NewAdam(1e-3)
	a.Epsilon = 1e-8 * math.Sqrt(1-0.999)
	return a
}

func sameShape(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func maxDiff(a, b *tensor.Tensor) (float64, int) {
	x, y := a.Float32s(), b.Float32s()
	if len(x) != len(y) {
		return math.Inf(1), 0
	}
	d, at := 0.0, 0
	for i := range x {
		if e := math.Abs(float64(x[i] - y[i])); e > d || math.IsNaN(e) {
			d, at = e, i
		}
	}
	return d, at
}

func maxAbs(a *tensor.Tensor) float64 {
	m := 0.0
	for _, v := range a.Float32s() {
		m = max(m, math.Abs(float64(v)))
	}
	return m
}
