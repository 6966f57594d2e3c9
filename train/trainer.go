package train

import (
	"context"
	"errors"
	"fmt"
	"math"
	"sort"

	"github.com/onyxrt/onyx/graph"
	"github.com/onyxrt/onyx/ops"
	"github.com/onyxrt/onyx/runtime"
	"github.com/onyxrt/onyx/tensor"
)

// TrainerOptions configure NewTrainer.
type TrainerOptions struct {
	// Loss builds the loss on the model (required).
	Loss Loss
	// Optimizer updates the parameters (required).
	Optimizer Optimizer
	// Params lists the trainable initializers; empty means every float
	// initializer of the model through which a gradient reaches the loss
	// (so not BatchNormalization running statistics, a Dropout ratio or
	// Clip bounds).
	Params []string
	// Freeze excludes parameters by name or pattern (see MatchName).
	Freeze []string
	// FreezeBefore excludes the parameters that only feed nodes upstream
	// of this value (see ParamsBefore): train only what comes after it.
	FreezeBefore string
	// Threads bounds the compute goroutines of a step (0: all cores).
	Threads int
	// Seed seeds the shuffling and splitting of Fit and the random
	// nodes (Dropout) of every step.
	Seed uint64
	// ClipNorm, when positive, scales the gradients so that their global
	// L2 norm is at most ClipNorm.
	ClipNorm float64
	// Schedule varies the learning rate (nil: constant).
	Schedule Schedule
	// InferenceMode keeps BatchNormalization and Dropout as the model
	// has them instead of switching them to training mode (batch
	// statistics with running averages written back; dropout active).
	InferenceMode bool
	// Registry supplies the operators (nil: ops.Default()).
	Registry *ops.Registry
}

// Trainer trains a model: each Step runs the forward and backward graph
// on a batch and updates the parameters with the optimizer. A Trainer is
// not safe for concurrent use.
type Trainer struct {
	opts     TrainerOptions
	base     *graph.Model // the caller's model, never modified
	params   []string
	values   map[string]*tensor.Tensor // current parameters and state
	state    map[string]string         // training output -> state initializer it updates
	stateIn  []string                  // state initializers, fed like parameters
	loss     string
	grads    map[string]string
	train    *runtime.Session
	eval     *runtime.Session
	feeds    []graph.ValueInfo // what a step must be fed besides parameters
	steps    int
	lastNorm float64
}

// NewTrainer prepares the training of model with opts: it appends the
// loss, selects the parameters, switches BatchNormalization and Dropout
// to training mode (unless opts.InferenceMode), differentiates with
// Backward and compiles one session for training steps and one for
// evaluation. model itself is not modified; Model and Export give the
// trained model.
func NewTrainer(model *graph.Model, opts TrainerOptions) (*Trainer, error) {
	if model == nil || model.Graph == nil {
		return nil, errors.New("train: NewTrainer: model has no graph")
	}
	if opts.Loss == nil {
		return nil, errors.New("train: NewTrainer: no Loss")
	}
	if opts.Optimizer == nil {
		return nil, errors.New("train: NewTrainer: no Optimizer")
	}
	reg := opts.Registry
	if reg == nil {
		reg = defaultRegistry()
	}
	lm := cloneModel(model)
	loss, err := opts.Loss.Build(lm)
	if err != nil {
		return nil, err
	}
	params, err := selectParams(lm, loss, model.Graph.Initializers, opts)
	if err != nil {
		return nil, err
	}
	tm := cloneModel(lm)
	state := map[string]string{}
	if !opts.InferenceMode {
		if state, err = trainingMode(tm); err != nil {
			return nil, err
		}
	}
	bm, grads, unreached, err := backward(tm, loss, params, reg)
	if err != nil {
		return nil, err
	}
	if len(unreached) > 0 && len(opts.Params) == 0 {
		// Initializers that no gradient reaches (a Dropout ratio, Clip
		// bounds, ...) are hyperparameters, not parameters.
		drop := map[string]bool{}
		for _, u := range unreached {
			drop[u] = true
		}
		var kept []string
		for _, p := range params {
			if !drop[p] {
				kept = append(kept, p)
			}
		}
		if len(kept) == 0 {
			return nil, fmt.Errorf("train: no gradient reaches any of the parameters %v", params)
		}
		params = kept
		if bm, grads, err = Backward(tm, loss, params, reg); err != nil {
			return nil, err
		}
	}
	t := &Trainer{
		opts: opts, base: model, params: params, values: map[string]*tensor.Tensor{},
		state: state, loss: loss, grads: grads,
	}
	outs := map[string]bool{}
	for _, o := range bm.Graph.Outputs {
		outs[o.Name] = true
	}
	stateNames := map[string]bool{}
	for out, init := range state {
		if !outs[out] {
			bm.Graph.Outputs = append(bm.Graph.Outputs, graph.ValueInfo{Name: out, Type: graph.Type{Kind: graph.KindTensor}})
		}
		stateNames[init] = true
	}
	for name := range stateNames {
		t.stateIn = append(t.stateIn, name)
	}
	sort.Strings(t.stateIn)
	if !outs[opts.Loss.Output()] {
		bm.Graph.Outputs = append(bm.Graph.Outputs, graph.ValueInfo{Name: opts.Loss.Output(), Type: graph.Type{Kind: graph.KindTensor}})
	}
	if bm, err = paramsAsInputs(bm, t.stateIn); err != nil {
		return nil, err
	}
	ropts := runtime.Options{Threads: opts.Threads, Registry: reg}
	if t.train, err = runtime.Compile(bm, ropts); err != nil {
		return nil, fmt.Errorf("train: compiling the training graph: %w", err)
	}
	em, err := paramsAsInputs(lm, append(append([]string(nil), params...), t.stateIn...))
	if err != nil {
		return nil, err
	}
	em.Graph.Outputs = append([]graph.ValueInfo(nil), em.Graph.Outputs...)
	eouts := map[string]bool{}
	for _, o := range em.Graph.Outputs {
		eouts[o.Name] = true
	}
	for _, v := range []string{loss, opts.Loss.Output()} {
		if !eouts[v] {
			em.Graph.Outputs = append(em.Graph.Outputs, graph.ValueInfo{Name: v, Type: graph.Type{Kind: graph.KindTensor}})
			eouts[v] = true
		}
	}
	if t.eval, err = runtime.Compile(em, ropts); err != nil {
		return nil, fmt.Errorf("train: compiling the evaluation graph: %w", err)
	}
	for _, p := range append(append([]string(nil), params...), t.stateIn...) {
		t.values[p] = lm.Graph.Initializers[p]
	}
	fed := map[string]bool{}
	for _, p := range params {
		fed[p] = true
	}
	for _, s := range t.stateIn {
		fed[s] = true
	}
	for _, in := range t.train.Inputs() {
		if !fed[in.Name] {
			t.feeds = append(t.feeds, in)
		}
	}
	return t, nil
}

// cloneModel copies m's graph structure (node, input, output and
// initializer lists) so that it can be extended without touching m; nodes
// and tensors are shared.
func cloneModel(m *graph.Model) *graph.Model {
	g := *m.Graph
	g.Inputs = append([]graph.ValueInfo(nil), g.Inputs...)
	g.Outputs = append([]graph.ValueInfo(nil), g.Outputs...)
	g.ValueInfo = append([]graph.ValueInfo(nil), g.ValueInfo...)
	g.Nodes = append([]*graph.Node(nil), g.Nodes...)
	g.Initializers = make(map[string]*tensor.Tensor, len(m.Graph.Initializers))
	for k, v := range m.Graph.Initializers {
		g.Initializers[k] = v
	}
	g.InitializerOrder = append([]string(nil), g.InitializerOrder...)
	out := *m
	out.Graph = &g
	out.Opsets = append([]graph.OpsetImport(nil), m.Opsets...)
	return &out
}

// trainingMode switches, in place, the BatchNormalization nodes of m to
// training mode (batch statistics, with running_mean and running_var
// outputs) and the Dropout nodes of opset 12 and later to an active
// training_mode input with a mask output. It returns, for each running
// statistic output, the initializer it replaces after a step. Nodes are
// copied before they change.
func trainingMode(m *graph.Model) (map[string]string, error) {
	g := m.Graph
	b := newBuilder(m, "train")
	opset := m.Opset("")
	state := map[string]string{}
	var trueName string
	for i, n := range g.Nodes {
		if ops.NormDomain(n.Domain) != "" {
			continue
		}
		switch n.OpType {
		case "BatchNormalization":
			if len(n.Inputs) < 5 {
				return nil, fmt.Errorf("train: %s has %d inputs, want 5", n.Describe(i), len(n.Inputs))
			}
			c := *n
			c.Outputs = append([]string(nil), n.Outputs...)
			for len(c.Outputs) < 3 {
				c.Outputs = append(c.Outputs, "")
			}
			for j := 1; j <= 2; j++ {
				if c.Outputs[j] == "" {
					c.Outputs[j] = b.fresh(fmt.Sprintf("%s_running_%d", nodeLabel(n, i), j))
				}
			}
			c.Attrs = nil
			for _, a := range n.Attrs {
				if a.Name != "training_mode" && a.Name != "is_test" {
					c.Attrs = append(c.Attrs, a)
				}
			}
			switch {
			case opset >= 14:
				c.Attrs = append(c.Attrs, ops.IntAttr("training_mode", 1))
			case opset < 7:
				c.Attrs = append(c.Attrs, ops.IntAttr("is_test", 0))
			}
			for j, in := range []string{n.Inputs[3], n.Inputs[4]} {
				if g.IsInitializer(in) {
					state[c.Outputs[1+j]] = in
				}
			}
			g.Nodes[i] = &c
		case "Dropout":
			if opset < 12 {
				continue
			}
			c := *n
			c.Inputs = append([]string(nil), n.Inputs...)
			for len(c.Inputs) < 3 {
				c.Inputs = append(c.Inputs, "")
			}
			if trueName == "" {
				trueName = b.constant("training_mode", tensor.Scalar(true))
			}
			c.Inputs[2] = trueName
			c.Outputs = append([]string(nil), n.Outputs...)
			if len(c.Outputs) < 2 {
				c.Outputs = append(c.Outputs, "")
			}
			if c.Outputs[1] == "" {
				c.Outputs[1] = b.fresh(nodeLabel(n, i) + "_mask")
			}
			g.Nodes[i] = &c
		}
	}
	return state, nil
}

func nodeLabel(n *graph.Node, i int) string {
	if n.Name != "" {
		return n.Name
	}
	return fmt.Sprintf("%s%d", n.OpType, i)
}

// Params returns the trainable parameters' names.
func (t *Trainer) Params() []string { return append([]string(nil), t.params...) }

// Feeds describes what Step must be fed: the model's data inputs and the
// loss's label input.
func (t *Trainer) Feeds() []graph.ValueInfo { return append([]graph.ValueInfo(nil), t.feeds...) }

// LossName is the name of the loss value in the training graph.
func (t *Trainer) LossName() string { return t.loss }

// Steps returns the number of updates done.
func (t *Trainer) Steps() int { return t.steps }

// GradNorm returns the global L2 norm of the gradients of the last step
// (before clipping).
func (t *Trainer) GradNorm() float64 { return t.lastNorm }

// Value returns the current value of a parameter or state tensor.
func (t *Trainer) Value(name string) *tensor.Tensor { return t.values[name] }

// LearningRate returns the learning rate of the next update.
func (t *Trainer) LearningRate() float64 {
	base := t.opts.Optimizer.LR()
	if t.opts.Schedule == nil {
		return base
	}
	return t.opts.Schedule.LR(base, t.steps)
}

// Step runs one training step on a batch (feeds: the model's data inputs
// and the label input) and returns the loss before the update.
func (t *Trainer) Step(ctx context.Context, feeds map[string]*tensor.Tensor) (float64, error) {
	loss, _, err := t.step(ctx, feeds)
	return loss, err
}

// step runs a training step and returns the loss and the training graph's
// outputs.
func (t *Trainer) step(ctx context.Context, feeds map[string]*tensor.Tensor) (float64, map[string]*tensor.Tensor, error) {
	all, err := t.withValues(feeds)
	if err != nil {
		return 0, nil, err
	}
	// Dropout and other random nodes draw from the trainer's seed and the
	// step number: the same options and data give the same training.
	out, err := t.train.Run(runtime.WithSeed(ctx, t.opts.Seed*0x9e3779b97f4a7c15+uint64(t.steps)), all)
	if err != nil {
		return 0, nil, fmt.Errorf("train: step %d: %w", t.steps+1, err)
	}
	loss, err := scalarOf(out[t.loss])
	if err != nil {
		return 0, nil, fmt.Errorf("train: step %d: %w", t.steps+1, err)
	}
	if math.IsNaN(loss) || math.IsInf(loss, 0) {
		return loss, out, fmt.Errorf("train: step %d: the loss is %v", t.steps+1, loss)
	}
	grads := make(map[string]*tensor.Tensor, len(t.params))
	for _, p := range t.params {
		g := out[t.grads[p]]
		if err := checkGrad(p, t.values[p], g); err != nil {
			return 0, nil, err
		}
		grads[p] = g
	}
	if t.lastNorm, err = clipGlobalNorm(grads, t.opts.ClipNorm); err != nil {
		return 0, nil, err
	}
	lr := t.LearningRate()
	for _, p := range t.params {
		x, err := t.opts.Optimizer.Update(p, t.values[p], grads[p], lr, int64(t.steps+1))
		if err != nil {
			return 0, nil, err
		}
		t.values[p] = x
	}
	for o, init := range t.state {
		if v := out[o]; v != nil {
			t.values[init] = v
		}
	}
	t.steps++
	return loss, out, nil
}

// withValues adds the current parameters and state to feeds.
func (t *Trainer) withValues(feeds map[string]*tensor.Tensor) (map[string]*tensor.Tensor, error) {
	all := make(map[string]*tensor.Tensor, len(feeds)+len(t.values))
	for k, v := range feeds {
		if _, ok := t.values[k]; ok {
			return nil, fmt.Errorf("train: %q is a parameter or state of the model, not a feed", k)
		}
		all[k] = v
	}
	for k, v := range t.values {
		all[k] = v
	}
	return all, nil
}

// Run evaluates the model with the current parameters (inference-mode
// graph) on feeds, which must include the label; it returns the model's
// outputs, the loss output and the loss's input.
func (t *Trainer) Run(ctx context.Context, feeds map[string]*tensor.Tensor) (map[string]*tensor.Tensor, error) {
	all, err := t.withValues(feeds)
	if err != nil {
		return nil, err
	}
	return t.eval.Run(ctx, all)
}

// Model returns the trained inference model: the original model with the
// current parameter and running-statistic values as initializers.
func (t *Trainer) Model() *graph.Model {
	m := cloneModel(t.base)
	for name, v := range t.values {
		if m.Graph.IsInitializer(name) {
			m.Graph.Initializers[name] = v
		}
	}
	return m
}
