package ops

import (
	"errors"
	"fmt"

	"github.com/onyxrt/onyx/tensor"
)

// Gradient rules of the sequence and optional operators, and their
// backward kernels (domain GradDomain).
//
// The gradient of a sequence value is a sequence of the same length
// holding each element's gradient; the gradient of an optional is an
// optional holding the content's gradient. The train engine accumulates
// such gradients with GradSum and zero-fills them with GradZerosLike
// (registered here); every other gradient is a tensor.
//
//   - SequenceConstruct: dx_i = SequenceAt(dS, i).
//   - SequenceAt: dS = SequenceAtGrad(S, position, dy): zeros shaped like
//     S's elements, dy at the position.
//   - SequenceInsert: SequenceInsertGrad(dS', position) gives dS (dS'
//     without the inserted position) and dt (dS' at it).
//   - SequenceErase: dS = SequenceEraseGrad(dS', S, position): dS' with
//     zeros shaped like the erased element put back.
//   - SplitToSequence: dx = SplitToSequenceGrad(dS, x), the elements
//     joined back along the split axis.
//   - ConcatFromSequence: dS = ConcatFromSequenceGrad(dy, S), dy cut
//     into the elements' extents.
//   - Optional: dx = OptionalGetElement(dO); OptionalGetElement: dO =
//     OptionalGetElementGrad(O, dy) (an optional holding dy, or dy itself
//     when the input is not an optional).
//   - SequenceMap: SequenceMapGrad runs the gradient graph of the body
//     (SubgraphGradContext) on each element, giving sequences of
//     gradients for the sequence inputs and summed gradients for the
//     tensor inputs and the outer values.
//
// Positions and split sizes are integers: they get no gradient.

// gradSequence returns the rule of a sequence or optional operator, or
// nil.
func gradSequence(name string) GradFunc {
	switch name {
	case "SequenceConstruct":
		return gradSequenceConstruct
	case "SequenceAt":
		return gradSequenceAt
	case "SequenceInsert":
		return gradSequenceInsert
	case "SequenceErase":
		return gradSequenceErase
	case "SplitToSequence":
		return gradSplitToSequence
	case "ConcatFromSequence":
		return gradConcatFromSequence
	case "Optional":
		return gradOptional
	case "OptionalGetElement":
		return gradOptionalGetElement
	case "SequenceMap":
		return gradSequenceMap
	}
	return nil
}

func gradSequenceConstruct(g GradContext) error {
	dS := g.OutputGrad(0)
	if dS == "" {
		return nil
	}
	for i := 0; i < g.Node().NumInputs; i++ {
		if g.NeedsGrad(i) {
			pos := g.Const(tensor.Scalar(int64(i)))
			g.SetInputGrad(i, g.Emit("", "SequenceAt", []string{dS, pos}, 1)[0])
		}
	}
	return nil
}

func gradSequenceAt(g GradContext) error {
	if dy := g.OutputGrad(0); dy != "" && g.NeedsGrad(0) {
		g.SetInputGrad(0, g.Emit(GradDomain, "SequenceAtGrad", []string{g.Input(0), g.Input(1), dy}, 1)[0])
	}
	return nil
}

func gradSequenceInsert(g GradContext) error {
	dS := g.OutputGrad(0)
	if dS == "" || !(g.NeedsGrad(0) || g.NeedsGrad(1)) {
		return nil
	}
	outs := g.Emit(GradDomain, "SequenceInsertGrad", []string{dS, g.Input(2)}, 2)
	g.SetInputGrad(0, outs[0])
	g.SetInputGrad(1, outs[1])
	return nil
}

func gradSequenceErase(g GradContext) error {
	if dS := g.OutputGrad(0); dS != "" && g.NeedsGrad(0) {
		g.SetInputGrad(0, g.Emit(GradDomain, "SequenceEraseGrad", []string{dS, g.Input(0), g.Input(1)}, 1)[0])
	}
	return nil
}

func gradSplitToSequence(g GradContext) error {
	dS := g.OutputGrad(0)
	if dS == "" || !g.NeedsGrad(0) {
		return nil
	}
	b := g.Node()
	axis := b.Int("axis", 0)
	newAxis := int64(0)
	if !b.In(1) && b.Int("keepdims", 1) == 0 {
		newAxis = 1
	}
	if err := b.Err(); err != nil {
		return err
	}
	g.SetInputGrad(0, g.Emit(GradDomain, "SplitToSequenceGrad", []string{dS, g.Input(0)}, 1,
		IntAttr("axis", axis), IntAttr("new_axis", newAxis))[0])
	return nil
}

func gradConcatFromSequence(g GradContext) error {
	dy := g.OutputGrad(0)
	if dy == "" || !g.NeedsGrad(0) {
		return nil
	}
	b := g.Node()
	axis := b.RequireInt("axis")
	newAxis := b.Int("new_axis", 0)
	if err := b.Err(); err != nil {
		return err
	}
	g.SetInputGrad(0, g.Emit(GradDomain, "ConcatFromSequenceGrad", []string{dy, g.Input(0)}, 1,
		IntAttr("axis", axis), IntAttr("new_axis", newAxis))[0])
	return nil
}

func gradOptional(g GradContext) error {
	if dO := g.OutputGrad(0); dO != "" && g.NeedsGrad(0) {
		g.SetInputGrad(0, g.Emit("", "OptionalGetElement", []string{dO}, 1)[0])
	}
	return nil
}

func gradOptionalGetElement(g GradContext) error {
	if dy := g.OutputGrad(0); dy != "" && g.NeedsGrad(0) {
		g.SetInputGrad(0, g.Emit(GradDomain, "OptionalGetElementGrad", []string{g.Input(0), dy}, 1)[0])
	}
	return nil
}

func gradSequenceMap(g GradContext) error {
	sg, err := subgraphCtx(g)
	if err != nil {
		return err
	}
	b := g.Node()
	fwd, ok := b.Attrs["body"]
	if !ok || fwd.Graph == nil {
		return errors.New("SequenceMap has no body attribute")
	}
	need := make([]bool, b.NumInputs)
	for i := range need {
		need[i] = g.NeedsGrad(i)
	}
	outer := sg.SubgraphOuter("body")
	outGrads := make([]string, b.NumOutputs)
	var dys []string
	for j := range outGrads {
		if dy := g.OutputGrad(j); dy != "" {
			outGrads[j] = "d"
			dys = append(dys, dy)
		}
	}
	if len(dys) == 0 || countTrue(need)+len(outer) == 0 {
		return nil
	}
	body, err := sg.SubgraphGrad(SubgraphGradSpec{Attr: "body", OutputGrads: outGrads, GradInputs: true, Inputs: need, Outer: outer})
	if err != nil {
		return err
	}
	gotGrad := make([]bool, b.NumOutputs)
	for j, d := range outGrads {
		gotGrad[j] = d != ""
	}
	ins := make([]string, 0, b.NumInputs+len(dys)+len(outer))
	for i := 0; i < b.NumInputs; i++ {
		ins = append(ins, g.Input(i))
	}
	ins = append(append(ins, dys...), outer...)
	outs := g.Emit(GradDomain, "SequenceMapGrad", ins, countTrue(need)+len(outer), GraphAttr("body", fwd.Graph),
		GraphAttr("grad_body", body), maskInts("input_grads", need), maskInts("output_grads", gotGrad))
	q := 0
	for i := range need {
		if need[i] {
			g.SetInputGrad(i, outs[q])
			q++
		}
	}
	for _, v := range outer {
		sg.SetOuterGrad(v, outs[q])
		q++
	}
	return nil
}

// ---- kernels ----

func registerGradSequence(r *Registry) {
	for _, d := range []struct {
		name  string
		build func(*Builder) (Kernel, error)
	}{
		{"GradSum", buildGradSum},
		{"GradZerosLike", buildGradZerosLike},
		{"SequenceAtGrad", buildSequenceAtGrad},
		{"SequenceInsertGrad", buildSequenceInsertGrad},
		{"SequenceEraseGrad", buildSequenceEraseGrad},
		{"SplitToSequenceGrad", buildSplitToSequenceGrad},
		{"ConcatFromSequenceGrad", buildConcatFromSequenceGrad},
		{"OptionalGetElementGrad", buildOptionalGetElementGrad},
		{"SequenceMapGrad", buildSequenceMapGrad},
	} {
		r.Register(&Def{Domain: GradDomain, Name: d.name, Since: 1, Build: d.build})
	}
}

// zerosLike returns zeros shaped like t: a tensor, a sequence of zeros
// like t's elements, or an optional holding zeros like t's content (an
// empty optional stays empty).
func zerosLike(t *tensor.Tensor) (*tensor.Tensor, error) {
	if t == nil {
		return nil, errors.New("missing value")
	}
	switch t.Kind() {
	case tensor.KindSequence:
		elems := make([]*tensor.Tensor, len(t.Elems()))
		for i, e := range t.Elems() {
			var err error
			if elems[i], err = zerosLike(e); err != nil {
				return nil, err
			}
		}
		return tensor.NewSequence(t.DType(), elems), nil
	case tensor.KindOptional:
		v, ok := t.OptionalValue()
		if !ok {
			return t, nil
		}
		z, err := zerosLike(v)
		if err != nil {
			return nil, err
		}
		return tensor.NewOptional(z, t.DType(), t.OptionalOfSequence()), nil
	}
	if !t.DType().IsNumeric() {
		return nil, fmt.Errorf("no gradient for element type %v", t.DType())
	}
	return tensor.New(t.DType(), t.Shape()...)
}

// addGrad returns a+b for gradients of one value: tensors of one shape
// and type, sequences of one length (elementwise), or optionals (an empty
// one adds nothing).
func addGrad(a, b *tensor.Tensor) (*tensor.Tensor, error) {
	if a == nil || b == nil {
		return nil, errors.New("missing gradient")
	}
	if a.Kind() != b.Kind() {
		return nil, fmt.Errorf("cannot add a %v and a %v", a, b)
	}
	switch a.Kind() {
	case tensor.KindSequence:
		ea, eb := a.Elems(), b.Elems()
		if len(ea) != len(eb) {
			return nil, fmt.Errorf("cannot add sequences of %d and %d tensors", len(ea), len(eb))
		}
		out := make([]*tensor.Tensor, len(ea))
		for i := range ea {
			var err error
			if out[i], err = addGrad(ea[i], eb[i]); err != nil {
				return nil, fmt.Errorf("element %d: %w", i, err)
			}
		}
		return tensor.NewSequence(a.DType(), out), nil
	case tensor.KindOptional:
		va, oka := a.OptionalValue()
		vb, okb := b.OptionalValue()
		if !oka {
			return b, nil
		}
		if !okb {
			return a, nil
		}
		s, err := addGrad(va, vb)
		if err != nil {
			return nil, err
		}
		return tensor.NewOptional(s, a.DType(), a.OptionalOfSequence()), nil
	}
	if a.DType() != b.DType() || !tensor.ShapeEqual(a.Shape(), b.Shape()) {
		return nil, fmt.Errorf("cannot add gradients %v%v and %v%v", a.DType(), a.Shape(), b.DType(), b.Shape())
	}
	switch x := a.Data().(type) {
	case []float32:
		return tensor.From(a.Shape(), addSlices(x, b.Data().([]float32))), nil
	case []float64:
		return tensor.From(a.Shape(), addSlices(x, b.Data().([]float64))), nil
	}
	va, vb := a.Float64s(), b.Float64s()
	if va == nil || vb == nil {
		return nil, ErrDType("gradient", a.DType())
	}
	return fromFloat64s(addSlices(va, vb), a.DType(), a.Shape()...)
}

func addSlices[T Float](a, b []T) []T {
	out := make([]T, len(a))
	for i := range a {
		out[i] = a[i] + b[i]
	}
	return out
}

// GradSum sums gradients of one value (tensors, sequences or optionals).
func buildGradSum(b *Builder) (Kernel, error) {
	return KernelFunc(func(rc *RunContext, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
		if len(in) == 0 || in[0] == nil {
			return nil, errors.New("GradSum needs at least one input")
		}
		s := in[0]
		for i, t := range in[1:] {
			var err error
			if s, err = addGrad(s, t); err != nil {
				return nil, fmt.Errorf("input %d: %w", i+1, err)
			}
		}
		if s == in[0] {
			s = s.Clone()
		}
		return rc.Results(s), nil
	}), nil
}

// GradZerosLike makes the zero gradient of a tensor, sequence or optional.
func buildGradZerosLike(b *Builder) (Kernel, error) {
	return KernelFunc(func(rc *RunContext, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
		if err := Need(in, 1); err != nil {
			return nil, err
		}
		return rc.one(zerosLike(in[0]))
	}), nil
}

// SequenceAtGrad(S, position, dy): zeros like S's elements, dy at the
// position.
func buildSequenceAtGrad(b *Builder) (Kernel, error) {
	return KernelFunc(func(rc *RunContext, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
		s, err := seqArg(in, 0, "input_sequence")
		if err != nil {
			return nil, err
		}
		p, dy := Opt(in, 1), Opt(in, 2)
		if p == nil || dy == nil {
			return nil, errors.New("position and gradient are required")
		}
		pos, err := seqPosition(p, s.Len(), false)
		if err != nil {
			return nil, err
		}
		elems := make([]*tensor.Tensor, s.Len())
		for i, e := range s.Elems() {
			if i == pos {
				if !tensor.ShapeEqual(dy.Shape(), e.Shape()) {
					return nil, fmt.Errorf("gradient has shape %v, element %d %v", dy.Shape(), i, e.Shape())
				}
				elems[i] = dy
				continue
			}
			if elems[i], err = zerosLike(e); err != nil {
				return nil, err
			}
		}
		return rc.Results(tensor.NewSequence(dy.DType(), elems)), nil
	}), nil
}

// SequenceInsertGrad(dS', position): dS' without the inserted position,
// and dS' at it.
func buildSequenceInsertGrad(b *Builder) (Kernel, error) {
	return KernelFunc(func(rc *RunContext, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
		d, err := seqArg(in, 0, "output gradient")
		if err != nil {
			return nil, err
		}
		n := d.Len() - 1 // the input sequence's length
		if n < 0 {
			return nil, errors.New("the output gradient is an empty sequence")
		}
		pos := n
		if p := Opt(in, 1); p != nil {
			if pos, err = seqPosition(p, n, true); err != nil {
				return nil, err
			}
		}
		el := d.Elems()
		rest := make([]*tensor.Tensor, 0, n)
		rest = append(append(rest, el[:pos]...), el[pos+1:]...)
		return rc.Results(tensor.NewSequence(d.DType(), rest), el[pos]), nil
	}), nil
}

// SequenceEraseGrad(dS', S, position): dS' with zeros like the erased
// element put back.
func buildSequenceEraseGrad(b *Builder) (Kernel, error) {
	return KernelFunc(func(rc *RunContext, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
		d, err := seqArg(in, 0, "output gradient")
		if err != nil {
			return nil, err
		}
		s, err := seqArg(in, 1, "input_sequence")
		if err != nil {
			return nil, err
		}
		n := s.Len()
		if n == 0 || d.Len() != n-1 {
			return nil, fmt.Errorf("gradient of %d elements does not fit a sequence of %d with one erased", d.Len(), n)
		}
		pos := n - 1
		if p := Opt(in, 2); p != nil {
			if pos, err = seqPosition(p, n, false); err != nil {
				return nil, err
			}
		}
		z, err := zerosLike(s.Elems()[pos])
		if err != nil {
			return nil, err
		}
		el := d.Elems()
		out := make([]*tensor.Tensor, 0, n)
		out = append(append(append(out, el[:pos]...), z), el[pos:]...)
		return rc.Results(tensor.NewSequence(s.DType(), out)), nil
	}), nil
}

// SplitToSequenceGrad(dS, x): the elements of dS joined along axis
// (stacked when new_axis is 1), shaped like x.
func buildSplitToSequenceGrad(b *Builder) (Kernel, error) {
	axis := b.Int("axis", 0)
	newAxis := b.Int("new_axis", 0) != 0
	if err := b.Err(); err != nil {
		return nil, err
	}
	return KernelFunc(func(rc *RunContext, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
		d, err := seqArg(in, 0, "gradient")
		if err != nil {
			return nil, err
		}
		x, err := tensorArg(in, 1, "input")
		if err != nil {
			return nil, err
		}
		a, err := NormAxis(axis, x.Rank())
		if err != nil {
			return nil, err
		}
		var out *tensor.Tensor
		switch {
		case d.Len() == 0:
			out, err = tensor.New(x.DType(), x.Shape()...)
		case newAxis:
			out, err = stack(d.Elems(), a)
		default:
			out, err = concatAlong(d.Elems(), a)
		}
		if err != nil {
			return nil, err
		}
		if !tensor.ShapeEqual(out.Shape(), x.Shape()) {
			return nil, fmt.Errorf("joined gradient has shape %v, the input %v", out.Shape(), x.Shape())
		}
		return rc.Results(out), nil
	}), nil
}

// ConcatFromSequenceGrad(dy, S): dy cut along axis into the extents of
// S's elements (slices of the new axis when new_axis is 1).
func buildConcatFromSequenceGrad(b *Builder) (Kernel, error) {
	axis := b.RequireInt("axis")
	newAxis := b.Int("new_axis", 0) != 0
	if err := b.Err(); err != nil {
		return nil, err
	}
	return KernelFunc(func(rc *RunContext, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
		dy, err := tensorArg(in, 0, "gradient")
		if err != nil {
			return nil, err
		}
		s, err := seqArg(in, 1, "input_sequence")
		if err != nil {
			return nil, err
		}
		el := s.Elems()
		if len(el) == 0 {
			return nil, errors.New("empty input sequence")
		}
		parts := make([]*tensor.Tensor, len(el))
		if newAxis {
			a, err := NormAxis(axis, dy.Rank())
			if err != nil {
				return nil, err
			}
			if dy.Shape()[a] != len(el) {
				return nil, fmt.Errorf("gradient has %d entries along axis %d, the sequence %d elements", dy.Shape()[a], a, len(el))
			}
			for i := range el {
				if parts[i], err = takeAlong(dy, a, i); err != nil {
					return nil, err
				}
			}
		} else {
			a, err := NormAxis(axis, dy.Rank())
			if err != nil {
				return nil, err
			}
			sizes := make([]int, len(el))
			total := 0
			for i, e := range el {
				if e.Rank() != dy.Rank() {
					return nil, fmt.Errorf("element %d has rank %d, the gradient %d", i, e.Rank(), dy.Rank())
				}
				sizes[i] = e.Shape()[a]
				total += sizes[i]
			}
			if total != dy.Shape()[a] {
				return nil, fmt.Errorf("elements span %d along axis %d, the gradient %d", total, a, dy.Shape()[a])
			}
			if parts, err = splitAlong(dy, a, sizes, false); err != nil {
				return nil, err
			}
		}
		return rc.Results(tensor.NewSequence(dy.DType(), parts)), nil
	}), nil
}

// OptionalGetElementGrad(O, dy): an optional holding dy when O is an
// optional, else dy.
func buildOptionalGetElementGrad(b *Builder) (Kernel, error) {
	return KernelFunc(func(rc *RunContext, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
		o, dy := Opt(in, 0), Opt(in, 1)
		if o == nil || dy == nil {
			return nil, errors.New("input and gradient are required")
		}
		if o.Kind() != tensor.KindOptional {
			return rc.Results(dy), nil
		}
		return rc.Results(tensor.NewOptional(dy, dy.DType(), dy.Kind() == tensor.KindSequence)), nil
	}), nil
}

// SequenceMapGrad: inputs are SequenceMap's, then dL/d(output j) (a
// sequence) for each output marked in output_grads, then the outer values
// that grad_body differentiates. Outputs are dL/d(input i) for each input
// marked in input_grads (a sequence for a sequence input, the sum over
// the elements for a tensor input), then dL/d(outer value). grad_body
// takes the body's inputs and the marked outputs' gradients for one
// element, and returns the marked inputs' and the outer values'
// gradients for it.
func buildSequenceMapGrad(b *Builder) (Kernel, error) {
	body := b.Subgraph("body")
	gb := b.Subgraph("grad_body")
	if err := b.Err(); err != nil {
		return nil, err
	}
	nIn, nOut := len(body.InputNames()), len(body.OutputNames())
	inGrads, err := loopMask(b, "input_grads", nIn)
	if err != nil {
		return nil, err
	}
	outGrads, err := loopMask(b, "output_grads", nOut)
	if err != nil {
		return nil, err
	}
	nX, nG := countTrue(inGrads), countTrue(outGrads)
	nW := b.NumInputs - nIn - nG
	if nW < 0 {
		return nil, fmt.Errorf("SequenceMapGrad has %d inputs, want at least %d", b.NumInputs, nIn+nG)
	}
	if len(gb.InputNames()) != nIn+nG || len(gb.OutputNames()) != nX+nW {
		return nil, fmt.Errorf("grad_body has %d inputs and %d outputs, want %d and %d", len(gb.InputNames()), len(gb.OutputNames()), nIn+nG, nX+nW)
	}
	return KernelFunc(func(rc *RunContext, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
		parts := splitList(in, nIn, nG, nW)
		xs, dys, ws := parts[0], parts[1], parts[2]
		s, err := seqArg(xs, 0, "input_sequence")
		if err != nil {
			return nil, err
		}
		n := s.Len()
		for i, x := range xs {
			if x == nil {
				return nil, fmt.Errorf("input %d is missing", i)
			}
			if x.Kind() == tensor.KindSequence && x.Len() != n {
				return nil, fmt.Errorf("input %d is a sequence of %d tensors, input_sequence has %d", i, x.Len(), n)
			}
		}
		for j, d := range dys {
			if d == nil || d.Kind() != tensor.KindSequence || d.Len() != n {
				return nil, fmt.Errorf("output gradient %d must be a sequence of %d tensors", j, n)
			}
		}
		seqGrads := make([][]*tensor.Tensor, nX)
		sums := make([]*tensor.Tensor, nX+nW) // tensor inputs, then outer values
		for k := 0; k < n; k++ {
			if err := rc.Err(); err != nil {
				return nil, err
			}
			args := make([]*tensor.Tensor, 0, nIn+nG)
			for _, x := range xs {
				if x.Kind() == tensor.KindSequence {
					args = append(args, x.Elems()[k])
				} else {
					args = append(args, x)
				}
			}
			for _, d := range dys {
				args = append(args, d.Elems()[k])
			}
			res, err := gb.Call(rc, args)
			if err != nil {
				return nil, fmt.Errorf("element %d: %w", k, err)
			}
			if len(res) != nX+nW {
				return nil, fmt.Errorf("element %d: gradient body returned %d values, want %d", k, len(res), nX+nW)
			}
			q := 0
			for i, marked := range inGrads {
				if !marked {
					continue
				}
				if xs[i].Kind() == tensor.KindSequence {
					seqGrads[q] = append(seqGrads[q], res[q])
				} else if sums[q] == nil {
					sums[q] = res[q]
				} else if sums[q], err = addGrad(sums[q], res[q]); err != nil {
					return nil, err
				}
				q++
			}
			for w := 0; w < nW; w++ {
				if sums[nX+w] == nil {
					sums[nX+w] = res[nX+w]
				} else if sums[nX+w], err = addGrad(sums[nX+w], res[nX+w]); err != nil {
					return nil, err
				}
			}
		}
		out := make([]*tensor.Tensor, 0, nX+nW)
		q := 0
		for i, marked := range inGrads {
			if !marked {
				continue
			}
			x := xs[i]
			switch {
			case x.Kind() == tensor.KindSequence:
				elems := seqGrads[q]
				if elems == nil {
					elems = []*tensor.Tensor{}
				}
				out = append(out, tensor.NewSequence(x.DType(), elems))
			case sums[q] != nil:
				out = append(out, sums[q])
			default:
				z, err := zerosLike(x)
				if err != nil {
					return nil, err
				}
				out = append(out, z)
			}
			q++
		}
		for w := 0; w < nW; w++ {
			g := sums[nX+w]
			if g == nil {
				if g, err = zerosLike(ws[w]); err != nil {
					return nil, err
				}
			}
			out = append(out, g)
		}
		return out, nil
	}), nil
}
