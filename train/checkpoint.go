package train

import (
	"fmt"
	"sort"
	"strings"

	"github.com/onyxrt/onyx/tensor"
)

// TrainerState is what a Trainer needs to go on training exactly where it
// stopped: the update count, the parameters and state tensors, and the
// optimizer's per-parameter slots. State takes it and SetState puts it
// back (into a new Trainer of the same model and options, after a
// restart); how it is stored is the caller's choice.
type TrainerState struct {
	// Steps is the number of updates done; it drives Adam's bias
	// correction, Adagrad's decay and learning-rate schedules.
	Steps int
	// Values holds the current parameters and state tensors
	// (BatchNormalization running statistics) by initializer name.
	Values map[string]*tensor.Tensor
	// Optimizer holds the optimizer's slots, keyed "SLOT/PARAM" (see
	// OptimizerState).
	Optimizer map[string]*tensor.Tensor
}

// State returns a snapshot of the trainer's state. The tensors are shared,
// not copied: neither the Trainer nor the optimizers modify a tensor in
// place, so the snapshot stays valid while training goes on.
func (t *Trainer) State() (TrainerState, error) {
	opt, err := OptimizerState(t.opts.Optimizer)
	if err != nil {
		return TrainerState{}, err
	}
	return TrainerState{Steps: t.steps, Values: t.snapshot(), Optimizer: opt}, nil
}

// SetState restores a state taken by State, normally from a Trainer of the
// same model and options. Every parameter and state tensor of t must be in
// s.Values with its element type and shape (extra values are ignored, so
// s.Values may hold all of a checkpoint model's initializers); the
// optimizer slots replace the optimizer's.
func (t *Trainer) SetState(s TrainerState) error {
	if s.Steps < 0 {
		return fmt.Errorf("train: SetState: negative step count %d", s.Steps)
	}
	values := make(map[string]*tensor.Tensor, len(t.values))
	for name, cur := range t.values {
		v, ok := s.Values[name]
		if !ok {
			return fmt.Errorf("train: SetState: the state has no value for %q", name)
		}
		if v.DType() != cur.DType() || !tensor.ShapeEqual(v.Shape(), cur.Shape()) {
			return fmt.Errorf("train: SetState: %q is %v%v in the state, %v%v in the model", name, v.DType(), v.Shape(), cur.DType(), cur.Shape())
		}
		values[name] = v
	}
	// Only slots of this trainer's parameters, shaped like them.
	slots := map[string]*tensor.Tensor{}
	for key, v := range s.Optimizer {
		_, param, ok := strings.Cut(key, "/")
		cur, isParam := t.values[param]
		if !ok || !isParam {
			return fmt.Errorf("train: SetState: optimizer slot %q is not of a parameter of this trainer", key)
		}
		if v.DType() != cur.DType() || !tensor.ShapeEqual(v.Shape(), cur.Shape()) {
			return fmt.Errorf("train: SetState: optimizer slot %q is %v%v, the parameter %v%v", key, v.DType(), v.Shape(), cur.DType(), cur.Shape())
		}
		slots[key] = v
	}
	if err := SetOptimizerState(t.opts.Optimizer, slots); err != nil {
		return err
	}
	t.values = values
	t.steps = s.Steps
	return nil
}

// StatefulOptimizer is an Optimizer whose per-parameter state can be saved
// and restored; OptimizerState and SetOptimizerState use it for optimizers
// other than this package's.
type StatefulOptimizer interface {
	Optimizer
	// OptimizerState returns the slots keyed "SLOT/PARAM".
	OptimizerState() map[string]*tensor.Tensor
	// SetOptimizerState replaces the slots.
	SetOptimizerState(map[string]*tensor.Tensor) error
}

// OptimizerState returns the per-parameter state of an optimizer, keyed
// "SLOT/PARAM": "velocity/W" for SGD with momentum (plain SGD has none),
// "m/W" and "v/W" for Adam and AdamW (first and second moments), "h/W"
// for Adagrad (the accumulated squared gradients). The tensors are
// shared.
func OptimizerState(o Optimizer) (map[string]*tensor.Tensor, error) {
	out := map[string]*tensor.Tensor{}
	put := func(slot string, m map[string]*tensor.Tensor) {
		for p, v := range m {
			out[slot+"/"+p] = v
		}
	}
	switch o := o.(type) {
	case *SGD:
		if o.Momentum != 0 {
			put("velocity", o.velocity)
		}
	case *Adam:
		put("m", o.m)
		put("v", o.v)
	case *Adagrad:
		put("h", o.h)
	case StatefulOptimizer:
		return o.OptimizerState(), nil
	default:
		return nil, fmt.Errorf("train: cannot save the state of optimizer %T (it does not implement StatefulOptimizer)", o)
	}
	return out, nil
}

// SetOptimizerState replaces the per-parameter state of an optimizer with
// s (keys as OptimizerState gives them). Parameters without slots in s
// start from zeros, as on their first update.
func SetOptimizerState(o Optimizer, s map[string]*tensor.Tensor) error {
	slots := map[string]map[string]*tensor.Tensor{}
	for key, v := range s {
		slot, param, ok := strings.Cut(key, "/")
		if !ok || param == "" {
			return fmt.Errorf("train: optimizer state key %q is not SLOT/PARAM", key)
		}
		if slots[slot] == nil {
			slots[slot] = map[string]*tensor.Tensor{}
		}
		slots[slot][param] = v
	}
	only := func(names ...string) error {
		allowed := map[string]bool{}
		for _, n := range names {
			allowed[n] = true
		}
		var bad []string
		for slot := range slots {
			if !allowed[slot] {
				bad = append(bad, slot)
			}
		}
		if len(bad) > 0 {
			sort.Strings(bad)
			return fmt.Errorf("train: optimizer %T has no state slots %v (it has %v)", o, bad, names)
		}
		return nil
	}
	get := func(slot string) map[string]*tensor.Tensor {
		if m := slots[slot]; m != nil {
			return m
		}
		return map[string]*tensor.Tensor{}
	}
	switch o := o.(type) {
	case *SGD:
		if err := only("velocity"); err != nil {
			return err
		}
		o.velocity = get("velocity")
	case *Adam:
		if err := only("m", "v"); err != nil {
			return err
		}
		for p := range slots["m"] {
			if slots["v"][p] == nil {
				return fmt.Errorf("train: Adam state has a first moment for %q but no second moment", p)
			}
		}
		for p := range slots["v"] {
			if slots["m"][p] == nil {
				return fmt.Errorf("train: Adam state has a second moment for %q but no first moment", p)
			}
		}
		o.m, o.v = get("m"), get("v")
	case *Adagrad:
		if err := only("h"); err != nil {
			return err
		}
		o.h = get("h")
	case StatefulOptimizer:
		return o.SetOptimizerState(s)
	default:
		return fmt.Errorf("train: cannot restore the state of optimizer %T (it does not implement StatefulOptimizer)", o)
	}
	return nil
}
