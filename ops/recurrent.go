package ops

import (
	"fmt"
	"math"

	"github.com/onyxrt/onyx/tensor"
)

// rnnKind selects the recurrent cell: a simple RNN, a GRU or an LSTM.
type rnnKind int

const (
	kindRNN rnnKind = iota
	kindGRU
	kindLSTM
)

func (k rnnKind) String() string { return [...]string{"RNN", "GRU", "LSTM"}[k] }

// gates is the number of stacked gate blocks in W and R (1, 3 or 4).
func (k rnnKind) gates() int { return [...]int{1, 3, 4}[k] }

// acts is the number of activation functions per direction.
func (k rnnKind) acts() int { return [...]int{1, 2, 3}[k] }

// rnnAttrs is one recurrent node's parsed attributes.
type rnnAttrs struct {
	kind        rnnKind
	hidden      int  // hidden_size, or 0 when the attribute is absent
	numDir      int  // 1 or 2
	reverse     bool // a single direction that runs backwards
	acts        []rnnAct
	clip        float64 // 0: no clipping
	inputForget bool
	lbr         bool // GRU linear_before_reset
	layout      int  // 0: time-major, 1: batch-major
	outY        bool
	outYh       bool
	outYc       bool

	// constR is input R when it is a float64 compile-time constant, and
	// constRT its per-direction transpose, made once so that runs skip it.
	constR  *tensor.Tensor
	constRT any
	// pack holds W and R packed for the float32 path when both are
	// float32 constants (recurrent_fast.go).
	pack *rnnPack

	// fused marks FusedLSTM and FusedGRU (recurrent_fused.go): one
	// direction with Y of shape [steps, batch, hidden] and states of
	// shape [batch, hidden], over time steps tStart to tStart+tSteps-1
	// of X.
	fused          bool
	tStart, tSteps int
}

func registerRecurrent(r *Registry) {
	for _, v := range []int{1, 7, 14} {
		r.Register(&Def{Name: "RNN", Since: v, Build: rnnBuilder(kindRNN, v)})
		r.Register(&Def{Name: "LSTM", Since: v, Build: rnnBuilder(kindLSTM, v)})
	}
	for _, v := range []int{1, 3, 7, 14} {
		r.Register(&Def{Name: "GRU", Since: v, Build: rnnBuilder(kindGRU, v)})
	}
	registerFusedRecurrent(r)
}

// rnnBuilder returns the Build function of one version of RNN, GRU or LSTM.
// The versions share one implementation: v1 adds output_sequence (Y is
// produced whenever the node names it), GRU v3 adds linear_before_reset and
// v14 adds layout.
func rnnBuilder(kind rnnKind, since int) func(b *Builder) (Kernel, error) {
	return func(b *Builder) (Kernel, error) {
		return newRNNKernel(b, kind, since, nil)
	}
}

// newRNNKernel parses a recurrent node and returns its kernel; set, when not
// nil, adjusts the parsed attributes first (the fused variants).
func newRNNKernel(b *Builder, kind rnnKind, since int, set func(*rnnAttrs)) (Kernel, error) {
	a, err := parseRNNAttrs(b, kind, since)
	if err != nil {
		return nil, err
	}
	if set != nil {
		set(a)
	}
	a.outY, a.outYh = b.Out(0), b.Out(1)
	a.outYc = kind == kindLSTM && b.Out(2)
	if r := b.ConstInput(2); r != nil && r.Rank() == 3 && r.DType() == tensor.Float64 {
		a.constR, a.constRT = r, transposeR(tensor.Data[float64](r), r.Shape())
	}
	a.pack = buildRNNPack(a, b)
	return KernelFunc(a.run), nil
}

// parseRNNAttrs reads and checks the attributes of one version of RNN, GRU
// or LSTM (the backward kernels of grad_recurrent.go share it).
func parseRNNAttrs(b *Builder, kind rnnKind, since int) (*rnnAttrs, error) {
	a := &rnnAttrs{kind: kind}
	hs := b.Int("hidden_size", 0)
	dir := b.String("direction", "forward")
	var defActs []string
	switch kind {
	case kindRNN:
		defActs = []string{"Tanh", "Tanh"}
	case kindGRU:
		defActs = []string{"Sigmoid", "Tanh"}
	case kindLSTM:
		defActs = []string{"Sigmoid", "Tanh", "Tanh"}
	}
	names := b.Strings("activations", defActs)
	alphas := b.Floats("activation_alpha", nil)
	betas := b.Floats("activation_beta", nil)
	if b.Has("clip") {
		c := b.Float("clip", 0)
		if !(c > 0) {
			b.Fail("clip must be positive, got %v", c)
		}
		a.clip = float64(c)
	}
	if kind == kindLSTM {
		a.inputForget = b.Int("input_forget", 0) != 0
	}
	if kind == kindGRU && since >= 3 {
		a.lbr = b.Int("linear_before_reset", 0) != 0
	}
	if since == 1 {
		b.Int("output_sequence", 0)
	}
	if since >= 14 {
		a.layout = int(b.Int("layout", 0))
	}
	if err := b.Err(); err != nil {
		return nil, err
	}
	if hs < 0 || hs > math.MaxInt32 {
		return nil, fmt.Errorf("hidden_size %d is out of range", hs)
	}
	a.hidden = int(hs)
	switch dir {
	case "forward", "foward": // GRU-1's schema default has this typo
		a.numDir = 1
	case "reverse":
		a.numDir, a.reverse = 1, true
	case "bidirectional":
		a.numDir = 2
	default:
		return nil, fmt.Errorf("direction %q is not forward, reverse or bidirectional", dir)
	}
	if a.layout != 0 && a.layout != 1 {
		return nil, fmt.Errorf("layout must be 0 or 1, got %d", a.layout)
	}
	acts, err := parseRNNActs(names, alphas, betas, kind.acts(), a.numDir)
	if err != nil {
		return nil, err
	}
	a.acts = acts
	return a, nil
}

// rnnShapes holds the dimensions of one call, checked against every input.
type rnnShapes struct {
	seq, batch, in, hid int
	// xOff is the offset in X's data of the first time step to run
	// (nonzero only for fused nodes that start after step 0).
	xOff int
}

// run is the kernel: it checks the inputs, upcasts half types and runs the
// recurrence in float32 or float64.
func (a *rnnAttrs) run(rc *RunContext, inputs []*tensor.Tensor) ([]*tensor.Tensor, error) {
	if err := Need(inputs, 3); err != nil {
		return nil, err
	}
	// Inputs: X W R B sequence_lens initial_h [initial_c P] (LSTM only).
	floatIdx := [...]int{0, 1, 2, 3, 5, 6, 7}
	nf := 5
	if a.kind == kindLSTM {
		nf = 7
	}
	var upArr [8]*tensor.Tensor
	up := upArr[:]
	var dt tensor.DType
	for _, i := range floatIdx[:nf] {
		t := Opt(inputs, i)
		if t == nil {
			continue
		}
		u, odt, err := Upcast(t)
		if err != nil {
			return nil, err
		}
		if i == 0 {
			dt = odt
		} else if odt != dt {
			return nil, fmt.Errorf("input %d has element type %v, X has %v", i, odt, dt)
		}
		up[i] = u
	}
	var outs []*tensor.Tensor
	var err error
	switch up[0].DType() {
	case tensor.Float32:
		outs, err = runRNN32(a, rc, up, inputs)
	case tensor.Float64:
		outs, err = runRNN[float64](a, rc, up, inputs)
	default:
		return nil, ErrDType(a.kind.String(), dt)
	}
	if err != nil {
		return nil, err
	}
	for i, o := range outs {
		if outs[i], err = Downcast(o, dt); err != nil {
			return nil, err
		}
	}
	return outs, nil
}

// checkShape reports an error unless t has exactly the shape want.
func checkShape(name string, t *tensor.Tensor, want ...int) error {
	if !tensor.ShapeEqual(t.Shape(), want) {
		// A copy, so that want itself does not escape.
		return fmt.Errorf("%s has shape %v, want %v", name, t.Shape(), append([]int(nil), want...))
	}
	return nil
}

// shapes validates X, W, R, B, initial_h, initial_c and P and returns the
// problem's dimensions.
func (a *rnnAttrs) shapes(in []*tensor.Tensor) (rnnShapes, error) {
	var s rnnShapes
	x, w, r := in[0], in[1], in[2]
	if x.Rank() != 3 {
		return s, fmt.Errorf("X must have rank 3, has shape %v", x.Shape())
	}
	if a.layout == 0 {
		s.seq, s.batch, s.in = x.Shape()[0], x.Shape()[1], x.Shape()[2]
	} else {
		s.batch, s.seq, s.in = x.Shape()[0], x.Shape()[1], x.Shape()[2]
	}
	if a.fused {
		if s.seq < a.tStart+a.tSteps {
			return s, fmt.Errorf("X has %d time steps, the node reads steps %d to %d", s.seq, a.tStart, a.tStart+a.tSteps-1)
		}
		s.seq, s.xOff = a.tSteps, a.tStart*s.batch*s.in
	}
	if r.Rank() != 3 {
		return s, fmt.Errorf("R must have rank 3, has shape %v", r.Shape())
	}
	s.hid = r.Shape()[2]
	if a.hidden != 0 && a.hidden != s.hid {
		return s, fmt.Errorf("hidden_size is %d but R has shape %v", a.hidden, r.Shape())
	}
	gh := a.kind.gates() * s.hid
	nd := a.numDir
	if err := checkShape("W", w, nd, gh, s.in); err != nil {
		return s, err
	}
	if err := checkShape("R", r, nd, gh, s.hid); err != nil {
		return s, err
	}
	if in[3] != nil {
		if err := checkShape("B", in[3], nd, 2*gh); err != nil {
			return s, err
		}
	}
	state := a.stateShape(s)
	if in[5] != nil {
		if err := checkShape("initial_h", in[5], state...); err != nil {
			return s, err
		}
	}
	if in[6] != nil {
		if err := checkShape("initial_c", in[6], state...); err != nil {
			return s, err
		}
	}
	if in[7] != nil {
		if err := checkShape("P", in[7], nd, 3*s.hid); err != nil {
			return s, err
		}
	}
	return s, nil
}

// stateShape is the shape of initial_h, initial_c, Y_h and Y_c.
func (a *rnnAttrs) stateShape(s rnnShapes) []int {
	switch {
	case a.fused:
		return []int{s.batch, s.hid}
	case a.layout == 1:
		return []int{s.batch, a.numDir, s.hid}
	}
	return []int{a.numDir, s.batch, s.hid}
}

// yShape is the shape of Y.
func (a *rnnAttrs) yShape(s rnnShapes) []int {
	switch {
	case a.fused:
		return []int{s.seq, s.batch, s.hid}
	case a.layout == 1:
		return []int{s.batch, s.seq, a.numDir, s.hid}
	}
	return []int{s.seq, a.numDir, s.batch, s.hid}
}

// seqLens reads sequence_lens into per-batch lengths (nil when absent).
func seqLens(t *tensor.Tensor, s rnnShapes) ([]int, error) {
	if t == nil {
		return nil, nil
	}
	if err := checkShape("sequence_lens", t, s.batch); err != nil {
		return nil, err
	}
	v, err := t.AsInt64s()
	if err != nil {
		return nil, fmt.Errorf("sequence_lens: %w", err)
	}
	lens := make([]int, len(v))
	for i, l := range v {
		if l < 0 || l > int64(s.seq) {
			return nil, fmt.Errorf("sequence_lens[%d] = %d is outside [0, %d]", i, l, s.seq)
		}
		lens[i] = int(l)
	}
	return lens, nil
}

// runDirections runs the directions of a recurrent node (or of its
// gradient): a bidirectional node that may use two threads shares its
// directions out with parallelFor, so that a worker takes the backward
// direction when it is awake and the caller runs both otherwise. It
// returns the forward direction's error first.
func runDirections[J interface{ run(*RunContext) error }](rc *RunContext, dirs []J, threads int) error {
	if len(dirs) == 2 && threads > 1 {
		var errs [2]error
		parallelFor(rc.workers(), 2, 2, 1, func(lo, hi int) {
			for d := lo; d < hi; d++ {
				errs[d] = dirs[d].run(rc)
			}
		})
		if errs[0] != nil {
			return errs[0]
		}
		return errs[1]
	}
	for _, j := range dirs {
		if err := j.run(rc); err != nil {
			return err
		}
	}
	return nil
}
