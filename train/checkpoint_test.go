package train

import (
	"context"
	"strings"
	"testing"

	"github.com/onyxrt/onyx/tensor"
)

// A trainer restored from State continues exactly like the original:
// same parameters after the same further steps, for every optimizer with
// state.
func TestTrainerStateRoundTrip(t *testing.T) {
	feeds := map[string]*tensor.Tensor{"x": xorX, "target": xorY}
	for _, c := range []struct {
		name  string
		opt   func() Optimizer
		slots []string
	}{
		{"sgd", func() Optimizer { return NewSGD(0.5) }, nil},
		{"momentum", func() Optimizer { return NewMomentum(0.5, 0.9, false) }, []string{"velocity"}},
		{"nesterov", func() Optimizer { return NewMomentum(0.5, 0.9, true) }, []string{"velocity"}},
		{"adam", func() Optimizer { return NewAdam(0.05) }, []string{"m", "v"}},
		{"adamw", func() Optimizer { return NewAdamW(0.05, 0.01) }, []string{"m", "v"}},
		{"adagrad", func() Optimizer { return NewAdagrad(0.3) }, []string{"h"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			newTrainer := func() *Trainer {
				tr, err := NewTrainer(xorModel(3), TrainerOptions{Loss: MSE("y", "target"), Optimizer: c.opt(), Threads: 1,
					Schedule: StepLR{StepSize: 4, Gamma: 0.5}})
				if err != nil {
					t.Fatal(err)
				}
				return tr
			}
			steps := func(tr *Trainer, n int) {
				for i := 0; i < n; i++ {
					if _, err := tr.Step(context.Background(), feeds); err != nil {
						t.Fatal(err)
					}
				}
			}
			a := newTrainer()
			steps(a, 5)
			st, err := a.State()
			if err != nil {
				t.Fatal(err)
			}
			if st.Steps != 5 || len(st.Values) != 4 {
				t.Fatalf("state has %d steps and %d values, want 5 and 4", st.Steps, len(st.Values))
			}
			if want := 4 * len(c.slots); len(st.Optimizer) != want {
				t.Fatalf("optimizer state has %d slots, want %d: %v", len(st.Optimizer), want, st.Optimizer)
			}
			for _, slot := range c.slots {
				if st.Optimizer[slot+"/W1"] == nil {
					t.Errorf("no slot %s/W1", slot)
				}
			}
			steps(a, 6)

			b := newTrainer()
			if err := b.SetState(st); err != nil {
				t.Fatal(err)
			}
			if b.Steps() != 5 {
				t.Fatalf("restored trainer is at step %d, want 5", b.Steps())
			}
			steps(b, 6)
			for _, p := range a.Params() {
				av, bv := a.Value(p).Float32s(), b.Value(p).Float32s()
				for i := range av {
					if av[i] != bv[i] {
						t.Fatalf("%s[%d]: %v after the restored run, %v after the original", p, i, bv[i], av[i])
					}
				}
			}
		})
	}
}

func TestTrainerSetStateErrors(t *testing.T) {
	tr, err := NewTrainer(xorModel(3), TrainerOptions{Loss: MSE("y", "target"), Optimizer: NewAdam(0.1), Threads: 1})
	if err != nil {
		t.Fatal(err)
	}
	good, err := tr.State()
	if err != nil {
		t.Fatal(err)
	}
	with := func(f func(s *TrainerState)) TrainerState {
		s := TrainerState{Steps: good.Steps, Values: map[string]*tensor.Tensor{}, Optimizer: map[string]*tensor.Tensor{}}
		for k, v := range good.Values {
			s.Values[k] = v
		}
		f(&s)
		return s
	}
	for _, c := range []struct {
		name  string
		state TrainerState
		want  string
	}{
		{"missing value", with(func(s *TrainerState) { delete(s.Values, "W2") }), `no value for "W2"`},
		{"wrong shape", with(func(s *TrainerState) { s.Values["b1"] = tensor.From([]int{3}, []float32{1, 2, 3}) }), `"b1" is float32[3]`},
		{"wrong slot", with(func(s *TrainerState) { s.Optimizer["h/W1"] = s.Values["W1"] }), "no state slots [h]"},
		{"slot of no parameter", with(func(s *TrainerState) { s.Optimizer["m/W9"] = s.Values["W1"] }), `slot "m/W9"`},
		{"half an Adam slot", with(func(s *TrainerState) { s.Optimizer["m/W1"] = s.Values["W1"] }), "no second moment"},
		{"negative steps", with(func(s *TrainerState) { s.Steps = -1 }), "negative"},
	} {
		t.Run(c.name, func(t *testing.T) {
			err := tr.SetState(c.state)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("SetState: %v, want an error containing %q", err, c.want)
			}
		})
	}
	// A failed SetState leaves the trainer as it was.
	if tr.Steps() != 0 || tr.Value("W1") != good.Values["W1"] {
		t.Error("a failed SetState changed the trainer")
	}
}

// StepAccuracy scores the batch as Accuracy does.
func TestStepAccuracy(t *testing.T) {
	tr, err := NewTrainer(xorModel(5), TrainerOptions{Loss: MSE("y", "target"), Optimizer: NewAdam(0.1), Threads: 1})
	if err != nil {
		t.Fatal(err)
	}
	feeds := map[string]*tensor.Tensor{"x": xorX, "target": xorY}
	var correct, total int
	var ok bool
	for i := 0; i < 1500; i++ {
		if _, correct, total, ok, err = tr.StepAccuracy(context.Background(), feeds); err != nil {
			t.Fatal(err)
		}
	}
	if !ok || total != 4 || correct != 4 {
		t.Errorf("StepAccuracy: %d/%d correct (ok %v), want 4/4", correct, total, ok)
	}
}
