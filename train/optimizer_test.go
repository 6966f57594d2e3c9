package train

import (
	"math"
	"testing"

	"github.com/onyxrt/onyx/tensor"
)

func near(a, b, tol float64) bool { return math.Abs(a-b) <= tol }

func checkVals(t *testing.T, what string, got *tensor.Tensor, want ...float64) {
	t.Helper()
	g := got.Float64s()
	if len(g) != len(want) {
		t.Fatalf("%s: %v, want %v", what, g, want)
	}
	for i := range g {
		if !near(g[i], want[i], 1e-6) {
			t.Errorf("%s: %v, want %v", what, g, want)
			return
		}
	}
}

func TestOptimizers(t *testing.T) {
	x := tensor.From([]int{2}, []float64{1, 2})
	g := tensor.From([]int{2}, []float64{0.5, -1})
	step := func(o Optimizer, n int) *tensor.Tensor {
		cur := x
		for i := 1; i <= n; i++ {
			var err error
			if cur, err = o.Update("w", cur, g, o.LR(), int64(i)); err != nil {
				t.Fatal(err)
			}
		}
		return cur
	}
	checkVals(t, "SGD", step(NewSGD(0.1), 1), 0.95, 2.1)
	checkVals(t, "SGD weight decay", step(&SGD{LearningRate: 0.1, WeightDecay: 0.1}, 1), 0.94, 2.08)
	// Momentum: v1 = g, v2 = 1.9g.
	checkVals(t, "Momentum 2 steps", step(NewMomentum(0.1, 0.9, false), 2), 1-0.1*0.5*2.9, 2+0.1*2.9)
	// Nesterov: x -= lr*(g + 0.9*v), v1 = g.
	checkVals(t, "Nesterov", step(NewMomentum(0.1, 0.9, true), 1), 1-0.1*0.5*1.9, 2+0.1*1.9)
	// Adam moves each coordinate by about lr*sign(g) while g is constant.
	checkVals(t, "Adam 2 steps", step(NewAdam(0.01), 2), 0.98, 2.02)
	checkVals(t, "AdamW", step(NewAdamW(0.01, 0.5), 1), (1-0.01)*(1-0.005), (2+0.01)*(1-0.005))
	// Adagrad: first step lr*sign(g); with decay the second uses lr/(1+decay).
	ada := &Adagrad{LearningRate: 0.1, DecayFactor: 0.5, Epsilon: 1e-12}
	checkVals(t, "Adagrad 2 steps", step(ada, 2), 1-0.1-0.1/1.5/math.Sqrt2, 2+0.1+0.1/1.5/math.Sqrt2)

	// float32 parameters work the same.
	x32 := tensor.From([]int{2}, []float32{1, 2})
	g32 := tensor.From([]int{2}, []float32{0.5, -1})
	for _, o := range []Optimizer{NewSGD(0.1), NewMomentum(0.1, 0.9, true), NewAdam(0.1), NewAdagrad(0.1)} {
		y, err := o.Update("w", x32, g32, 0.1, 1)
		if err != nil || y.DType() != tensor.Float32 || y.Float32s()[0] >= 1 || y.Float32s()[1] <= 2 {
			t.Errorf("%T on float32: %v, %v", o, y, err)
		}
	}
	if _, err := NewSGD(0.1).Update("w", tensor.From([]int{1}, []int64{1}), tensor.From([]int{1}, []int64{1}), 0.1, 1); err == nil {
		t.Error("SGD accepted an int64 parameter")
	}
}

func TestSchedules(t *testing.T) {
	for _, c := range []struct {
		s    Schedule
		step int
		want float64
	}{
		{ConstantLR{}, 100, 1},
		{StepLR{StepSize: 10, Gamma: 0.5}, 9, 1},
		{StepLR{StepSize: 10, Gamma: 0.5}, 25, 0.25},
		{CosineLR{TotalSteps: 110, Warmup: 10}, 0, 0.1},
		{CosineLR{TotalSteps: 110, Warmup: 10}, 9, 1},
		{CosineLR{TotalSteps: 110, Warmup: 10}, 10, 1},
		{CosineLR{TotalSteps: 110, Warmup: 10}, 60, 0.5},
		{CosineLR{TotalSteps: 110, Warmup: 10, MinLR: 0.1}, 200, 0.1},
	} {
		if got := c.s.LR(1, c.step); !near(got, c.want, 1e-12) {
			t.Errorf("%#v at step %d: %v, want %v", c.s, c.step, got, c.want)
		}
	}
}

func TestClipGlobalNorm(t *testing.T) {
	grads := map[string]*tensor.Tensor{
		"a": tensor.From([]int{1}, []float32{3}),
		"b": tensor.From([]int{1}, []float64{4}),
	}
	norm, err := clipGlobalNorm(grads, 1)
	if err != nil || norm != 5 {
		t.Fatalf("norm %v, %v", norm, err)
	}
	checkVals(t, "a", grads["a"], 0.6)
	checkVals(t, "b", grads["b"], 0.8)
	norm, _ = clipGlobalNorm(grads, 10)
	if !near(norm, 1, 1e-6) {
		t.Errorf("norm after clipping %v", norm)
	}
	checkVals(t, "a unchanged below the limit", grads["a"], 0.6)
}
