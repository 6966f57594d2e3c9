package ops

import (
	"fmt"
	"reflect"

	"github.com/onyxrt/onyx/tensor"
)

// Control flow: If, Loop and Scan run compiled subgraphs (Builder.Subgraph)
// that may read outer-scope values through the RunContext.

func registerControlFlow(r *Registry) {
	// Versions 19 and 21 only add float8 and int4/uint4 types.
	for _, v := range []int{1, 11, 13, 16, 19, 21} {
		r.Register(&Def{Name: "If", Since: v, Build: buildIf})
	}
	for _, v := range []int{1, 11, 13, 16, 19, 21} {
		r.Register(&Def{Name: "Loop", Since: v, Build: buildLoop})
	}
	r.Register(&Def{Name: "Scan", Since: 8, Build: buildScan8})
	for _, v := range []int{9, 11, 16, 19, 21} {
		r.Register(&Def{Name: "Scan", Since: v, Build: buildScan})
	}
	registerGradControl(r) // grad_control.go: ScanGrad, LoopGrad
}

func scalarBool(t *tensor.Tensor, what string) (bool, error) {
	if t == nil {
		return false, fmt.Errorf("%s is missing", what)
	}
	if t.Len() != 1 {
		return false, fmt.Errorf("%s must have one element, has shape %v", what, t.Shape())
	}
	switch d := t.Data().(type) {
	case []bool:
		return d[0], nil
	}
	v := t.Float64s()
	if v == nil {
		return false, fmt.Errorf("%s has type %v, want bool", what, t.DType())
	}
	return v[0] != 0, nil
}

func buildIf(b *Builder) (Kernel, error) {
	thenG := b.Subgraph("then_branch")
	elseG := b.Subgraph("else_branch")
	if err := b.Err(); err != nil {
		return nil, err
	}
	for _, g := range []Subgraph{thenG, elseG} {
		if len(g.OutputNames()) != b.NumOutputs {
			return nil, fmt.Errorf("branch has %d outputs, the node %d", len(g.OutputNames()), b.NumOutputs)
		}
	}
	return KernelFunc(func(rc *RunContext, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
		cond, err := scalarBool(Opt(in, 0), "cond")
		if err != nil {
			return nil, err
		}
		if cond {
			return thenG.Call(rc, nil)
		}
		return elseG.Call(rc, nil)
	}), nil
}

func buildLoop(b *Builder) (Kernel, error) {
	body := b.Subgraph("body")
	if err := b.Err(); err != nil {
		return nil, err
	}
	nCarried := b.NumInputs - 2
	if nCarried < 0 {
		return nil, fmt.Errorf("Loop needs at least the M and cond inputs (possibly empty), got %d inputs", b.NumInputs)
	}
	if len(body.InputNames()) != nCarried+2 {
		return nil, fmt.Errorf("body takes %d inputs, want %d (iteration, cond and %d loop-carried values)", len(body.InputNames()), nCarried+2, nCarried)
	}
	nScan := len(body.OutputNames()) - 1 - nCarried
	if nScan < 0 {
		return nil, fmt.Errorf("body has %d outputs, want at least %d (cond and the loop-carried values)", len(body.OutputNames()), nCarried+1)
	}
	if b.NumOutputs > nCarried+nScan {
		return nil, fmt.Errorf("node has %d outputs, the body yields %d loop-carried and %d scan values", b.NumOutputs, nCarried, nScan)
	}
	return KernelFunc(func(rc *RunContext, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
		maxTrip := int64(-1)
		if m := Opt(in, 0); m != nil {
			v, err := m.AsInt64s()
			if err != nil || len(v) != 1 {
				return nil, fmt.Errorf("M must be a single int64, got %v", m)
			}
			maxTrip = v[0]
		}
		cond := true
		if c := Opt(in, 1); c != nil {
			var err error
			if cond, err = scalarBool(c, "cond"); err != nil {
				return nil, err
			}
		}
		carried := make([]*tensor.Tensor, nCarried)
		copy(carried, in[2:])
		for i, c := range carried {
			if c == nil {
				return nil, fmt.Errorf("loop-carried input %d is missing", i)
			}
		}
		scans := make([][]*tensor.Tensor, nScan)
		for it := int64(0); (maxTrip < 0 || it < maxTrip) && cond; it++ {
			if err := rc.Err(); err != nil {
				return nil, err
			}
			args := append([]*tensor.Tensor{tensor.Scalar(it), tensor.Scalar(cond)}, carried...)
			outs, err := body.Call(rc, args)
			if err != nil {
				return nil, fmt.Errorf("iteration %d: %w", it, err)
			}
			if cond, err = scalarBool(outs[0], "body cond output"); err != nil {
				return nil, fmt.Errorf("iteration %d: %w", it, err)
			}
			copy(carried, outs[1:1+nCarried])
			for j := range scans {
				scans[j] = append(scans[j], outs[1+nCarried+j])
			}
		}
		res := make([]*tensor.Tensor, b.NumOutputs)
		copy(res, carried)
		for j := 0; j < nScan && nCarried+j < len(res); j++ {
			st, err := stack(scans[j], 0)
			if err != nil {
				return nil, fmt.Errorf("scan output %d: %w", j, err)
			}
			res[nCarried+j] = st
		}
		return res, nil
	}), nil
}

// scanSpec is the parsed form of Scan's attributes.
type scanSpec struct {
	body                           Subgraph
	nState, nScanIn, nScanOut      int
	inAxes, inRev, outAxes, outRev []int64
}

func parseScan(b *Builder, nInputs int, dirAttr string) (*scanSpec, error) {
	s := &scanSpec{body: b.Subgraph("body")}
	s.nScanIn = int(b.RequireInt("num_scan_inputs"))
	if err := b.Err(); err != nil {
		return nil, err
	}
	s.nState = nInputs - s.nScanIn
	if s.nScanIn < 1 || s.nState < 0 {
		return nil, fmt.Errorf("num_scan_inputs %d does not fit %d inputs", s.nScanIn, nInputs)
	}
	if len(s.body.InputNames()) != s.nState+s.nScanIn {
		return nil, fmt.Errorf("body takes %d inputs, want %d", len(s.body.InputNames()), s.nState+s.nScanIn)
	}
	s.nScanOut = len(s.body.OutputNames()) - s.nState
	if s.nScanOut < 0 {
		return nil, fmt.Errorf("body has %d outputs, fewer than the %d state values", len(s.body.OutputNames()), s.nState)
	}
	s.inAxes = b.Ints("scan_input_axes", make([]int64, s.nScanIn))
	s.inRev = b.Ints(dirAttr, make([]int64, s.nScanIn))
	s.outAxes = b.Ints("scan_output_axes", make([]int64, s.nScanOut))
	s.outRev = b.Ints("scan_output_directions", make([]int64, s.nScanOut))
	if len(s.inAxes) != s.nScanIn || len(s.inRev) != s.nScanIn || len(s.outAxes) != s.nScanOut || len(s.outRev) != s.nScanOut {
		return nil, fmt.Errorf("scan axes/directions attributes do not match %d scan inputs and %d scan outputs", s.nScanIn, s.nScanOut)
	}
	return s, b.Err()
}

// run scans once: state and scan inputs in, final state and scan outputs
// out.
func (s *scanSpec) run(rc *RunContext, state, scanIn []*tensor.Tensor) ([]*tensor.Tensor, error) {
	steps := -1
	axes := make([]int, s.nScanIn)
	for i, x := range scanIn {
		if x == nil {
			return nil, fmt.Errorf("scan input %d is missing", i)
		}
		a, err := NormAxis(s.inAxes[i], x.Rank())
		if err == nil && x.Rank() == 0 {
			err = fmt.Errorf("a scalar has no axis to scan")
		}
		if err != nil {
			return nil, fmt.Errorf("scan input %d: %w", i, err)
		}
		axes[i] = a
		n := x.Shape()[a]
		if steps >= 0 && n != steps {
			return nil, fmt.Errorf("scan inputs have different lengths (%d and %d)", steps, n)
		}
		steps = n
	}
	state = append([]*tensor.Tensor(nil), state...)
	outs := make([][]*tensor.Tensor, s.nScanOut)
	for t := 0; t < steps; t++ {
		if err := rc.Err(); err != nil {
			return nil, err
		}
		args := append([]*tensor.Tensor(nil), state...)
		for i, x := range scanIn {
			idx := t
			if s.inRev[i] != 0 {
				idx = steps - 1 - t
			}
			sl, err := takeAlong(x, axes[i], idx)
			if err != nil {
				return nil, err
			}
			args = append(args, sl)
		}
		res, err := s.body.Call(rc, args)
		if err != nil {
			return nil, fmt.Errorf("step %d: %w", t, err)
		}
		copy(state, res[:s.nState])
		for j := range outs {
			outs[j] = append(outs[j], res[s.nState+j])
		}
	}
	result := append([]*tensor.Tensor(nil), state...)
	for j, list := range outs {
		if s.outRev[j] != 0 {
			for a, b := 0, len(list)-1; a < b; a, b = a+1, b-1 {
				list[a], list[b] = list[b], list[a]
			}
		}
		rank := 1
		if len(list) > 0 {
			rank = list[0].Rank() + 1
		}
		axis, err := NormAxis(s.outAxes[j], rank)
		if err != nil {
			return nil, fmt.Errorf("scan output %d: %w", j, err)
		}
		st, err := stack(list, axis)
		if err != nil {
			return nil, fmt.Errorf("scan output %d: %w", j, err)
		}
		result = append(result, st)
	}
	return result, nil
}

func buildScan(b *Builder) (Kernel, error) {
	s, err := parseScan(b, b.NumInputs, "scan_input_directions")
	if err != nil {
		return nil, err
	}
	return KernelFunc(func(rc *RunContext, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
		return s.run(rc, in[:s.nState], in[s.nState:])
	}), nil
}

// buildScan8 handles opset 8's batched form: an optional sequence_lens
// first input and a leading batch axis on every state and scan value.
func buildScan8(b *Builder) (Kernel, error) {
	s, err := parseScan(b, b.NumInputs-1, "directions")
	if err != nil {
		return nil, err
	}
	return KernelFunc(func(rc *RunContext, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
		if in[0] != nil {
			return nil, fmt.Errorf("Scan-8 sequence_lens is not supported")
		}
		vals := in[1:]
		if len(vals) == 0 || vals[0] == nil || vals[0].Rank() == 0 {
			return nil, fmt.Errorf("inputs need a batch axis")
		}
		batch := vals[0].Shape()[0]
		per := make([][]*tensor.Tensor, s.nState+s.nScanOut)
		for bi := 0; bi < batch; bi++ {
			items := make([]*tensor.Tensor, len(vals))
			for i, v := range vals {
				if v == nil || v.Rank() == 0 || v.Shape()[0] != batch {
					return nil, fmt.Errorf("input %d lacks batch axis of size %d", i+1, batch)
				}
				if items[i], err = takeAlong(v, 0, bi); err != nil {
					return nil, err
				}
			}
			res, err := s.run(rc, items[:s.nState], items[s.nState:])
			if err != nil {
				return nil, fmt.Errorf("batch %d: %w", bi, err)
			}
			for j, r := range res {
				per[j] = append(per[j], r)
			}
		}
		out := make([]*tensor.Tensor, len(per))
		for j, list := range per {
			if out[j], err = stack(list, 0); err != nil {
				return nil, err
			}
		}
		return out, nil
	}), nil
}

// takeAlong returns slice i of t along axis, with that axis removed.
func takeAlong(t *tensor.Tensor, axis, i int) (*tensor.Tensor, error) {
	if t.Kind() != tensor.KindTensor {
		return nil, fmt.Errorf("cannot slice %v: not a tensor", t)
	}
	shape := t.Shape()
	if i < 0 || i >= shape[axis] {
		return nil, fmt.Errorf("index %d out of range for axis %d of %v", i, axis, shape)
	}
	outShape := append(append([]int{}, shape[:axis]...), shape[axis+1:]...)
	out, err := tensor.New(t.DType(), outShape...)
	if err != nil {
		return nil, err
	}
	inner := 1
	for _, d := range shape[axis+1:] {
		inner *= d
	}
	outer := out.Len() / max(inner, 1)
	if inner == 0 {
		return out, nil
	}
	src, dst := reflect.ValueOf(t.Data()), reflect.ValueOf(out.Data())
	n := shape[axis]
	for o := 0; o < outer; o++ {
		s := (o*n + i) * inner
		reflect.Copy(dst.Slice(o*inner, (o+1)*inner), src.Slice(s, s+inner))
	}
	return out, nil
}

// stack joins same-shaped tensors along a new axis.
func stack(list []*tensor.Tensor, axis int) (*tensor.Tensor, error) {
	if len(list) == 0 {
		return tensor.New(tensor.Float32, 0)
	}
	first := list[0]
	shape := first.Shape()
	for i, t := range list {
		if t == nil {
			return nil, fmt.Errorf("element %d is missing", i)
		}
		if t.Kind() != tensor.KindTensor {
			return nil, fmt.Errorf("element %d is %v: only tensors can be stacked", i, t)
		}
		if t.DType() != first.DType() || !tensor.ShapeEqual(t.Shape(), shape) {
			return nil, fmt.Errorf("element %d is %v%v, element 0 is %v%v: cannot stack", i, t.DType(), t.Shape(), first.DType(), shape)
		}
	}
	if axis < 0 || axis > len(shape) {
		return nil, fmt.Errorf("axis %d out of range for stacking rank %d", axis, len(shape))
	}
	outShape := append(append(append([]int{}, shape[:axis]...), len(list)), shape[axis:]...)
	out, err := tensor.New(first.DType(), outShape...)
	if err != nil {
		return nil, err
	}
	inner := 1
	for _, d := range shape[axis:] {
		inner *= d
	}
	if inner == 0 {
		return out, nil
	}
	outer := first.Len() / inner
	dst := reflect.ValueOf(out.Data())
	n := len(list)
	for k, t := range list {
		src := reflect.ValueOf(t.Data())
		for o := 0; o < outer; o++ {
			d := (o*n + k) * inner
			reflect.Copy(dst.Slice(d, d+inner), src.Slice(o*inner, (o+1)*inner))
		}
	}
	return out, nil
}
