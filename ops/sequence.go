package ops

import (
	"fmt"
	"reflect"

	"github.com/onyxrt/onyx/tensor"
)

// Sequence operators: building, editing, reading, splitting into and
// concatenating from tensor sequences, and SequenceMap. A sequence is a
// *tensor.Tensor of KindSequence (tensor.NewSequence); its elements are
// never modified once the sequence exists, so output sequences share the
// elements they take over from input sequences, while tensors entering a
// sequence from plain values are copied.

func registerSequence(r *Registry) {
	r.Register(
		&Def{Name: "SequenceEmpty", Since: 11, Build: buildSequenceEmpty},
		&Def{Name: "SequenceConstruct", Since: 11, Build: buildSequenceConstruct},
		&Def{Name: "SequenceInsert", Since: 11, Build: buildSequenceInsert},
		&Def{Name: "SequenceAt", Since: 11, Build: buildSequenceAt},
		&Def{Name: "SequenceErase", Since: 11, Build: buildSequenceErase},
		&Def{Name: "SequenceLength", Since: 11, Build: buildSequenceLength},
		&Def{Name: "SplitToSequence", Since: 11, Build: buildSplitToSequence},
		&Def{Name: "ConcatFromSequence", Since: 11, Build: buildConcatFromSequence},
		&Def{Name: "SequenceMap", Since: 17, Build: buildSequenceMap},
	)
	registerGradSequence(r) // grad_sequence.go: the backward kernels of sequences and optionals
}

// seqArg returns input i, which must be a sequence.
func seqArg(in []*tensor.Tensor, i int, what string) (*tensor.Tensor, error) {
	s := Opt(in, i)
	if s == nil {
		return nil, fmt.Errorf("%s is missing", what)
	}
	if s.Kind() != tensor.KindSequence {
		return nil, fmt.Errorf("%s must be a sequence, got %v", what, s)
	}
	return s, nil
}

// tensorArg returns input i, which must be a plain tensor.
func tensorArg(in []*tensor.Tensor, i int, what string) (*tensor.Tensor, error) {
	t := Opt(in, i)
	if t == nil {
		return nil, fmt.Errorf("%s is missing", what)
	}
	if t.Kind() != tensor.KindTensor {
		return nil, fmt.Errorf("%s must be a tensor, got %v", what, t)
	}
	return t, nil
}

// seqPosition reads a scalar int32/int64 position and maps it into
// [0, n) (or [0, n] when end is allowed), negative values counting from the
// back.
func seqPosition(p *tensor.Tensor, n int, allowEnd bool) (int, error) {
	if p.Kind() != tensor.KindTensor || (p.DType() != tensor.Int64 && p.DType() != tensor.Int32) {
		return 0, fmt.Errorf("position must be an int32 or int64 tensor, got %v", p)
	}
	if p.Len() != 1 || p.Rank() > 1 {
		return 0, fmt.Errorf("position must be a scalar, has shape %v", p.Shape())
	}
	v, _ := p.AsInt64s()
	pos := v[0]
	hi := int64(n) - 1
	if allowEnd {
		hi = int64(n)
	}
	if pos < -int64(n) || pos > hi {
		return 0, fmt.Errorf("position %d is out of range [%d, %d] for a sequence of %d tensors", pos, -n, hi, n)
	}
	if pos < 0 {
		pos += int64(n)
	}
	return int(pos), nil
}

// seqCheckElem checks that t can join a sequence of element type dt
// (Undefined accepts anything) and returns the sequence's element type.
func seqCheckElem(dt tensor.DType, t *tensor.Tensor) (tensor.DType, error) {
	if t.Kind() != tensor.KindTensor {
		return dt, fmt.Errorf("sequence elements must be tensors, got %v", t)
	}
	if dt != tensor.Undefined && t.DType() != dt {
		return dt, fmt.Errorf("tensor of type %v cannot join a sequence of %v", t.DType(), dt)
	}
	return t.DType(), nil
}

func buildSequenceEmpty(b *Builder) (Kernel, error) {
	dt := tensor.DType(b.Int("dtype", int64(tensor.Float32)))
	if err := b.Err(); err != nil {
		return nil, err
	}
	if !dt.Supported() {
		return nil, fmt.Errorf("dtype %v is not supported", dt)
	}
	return KernelFunc(func(rc *RunContext, _ []*tensor.Tensor) ([]*tensor.Tensor, error) {
		return []*tensor.Tensor{tensor.NewSequence(dt, []*tensor.Tensor{})}, nil
	}), nil
}

func buildSequenceConstruct(b *Builder) (Kernel, error) {
	return KernelFunc(func(rc *RunContext, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
		if len(in) == 0 {
			return nil, fmt.Errorf("needs at least one input")
		}
		dt := tensor.Undefined
		elems := make([]*tensor.Tensor, len(in))
		for i := range in {
			t, err := tensorArg(in, i, fmt.Sprintf("input %d", i))
			if err != nil {
				return nil, err
			}
			if dt, err = seqCheckElem(dt, t); err != nil {
				return nil, fmt.Errorf("input %d: %w", i, err)
			}
			elems[i] = t.Clone()
		}
		return rc.Results(tensor.NewSequence(dt, elems)), nil
	}), nil
}

func buildSequenceInsert(b *Builder) (Kernel, error) {
	return KernelFunc(func(rc *RunContext, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
		s, err := seqArg(in, 0, "input_sequence")
		if err != nil {
			return nil, err
		}
		t, err := tensorArg(in, 1, "tensor")
		if err != nil {
			return nil, err
		}
		dt, err := seqCheckElem(s.DType(), t)
		if err != nil {
			return nil, err
		}
		old := s.Elems()
		pos := len(old)
		if p := Opt(in, 2); p != nil {
			if pos, err = seqPosition(p, len(old), true); err != nil {
				return nil, err
			}
		}
		elems := make([]*tensor.Tensor, 0, len(old)+1)
		elems = append(elems, old[:pos]...)
		elems = append(elems, t.Clone())
		elems = append(elems, old[pos:]...)
		return rc.Results(tensor.NewSequence(dt, elems)), nil
	}), nil
}

func buildSequenceAt(b *Builder) (Kernel, error) {
	return KernelFunc(func(rc *RunContext, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
		s, err := seqArg(in, 0, "input_sequence")
		if err != nil {
			return nil, err
		}
		p := Opt(in, 1)
		if p == nil {
			return nil, fmt.Errorf("position is missing")
		}
		pos, err := seqPosition(p, s.Len(), false)
		if err != nil {
			return nil, err
		}
		return rc.Results(s.Elems()[pos].Clone()), nil
	}), nil
}

func buildSequenceErase(b *Builder) (Kernel, error) {
	return KernelFunc(func(rc *RunContext, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
		s, err := seqArg(in, 0, "input_sequence")
		if err != nil {
			return nil, err
		}
		old := s.Elems()
		if len(old) == 0 {
			return nil, fmt.Errorf("cannot erase from an empty sequence")
		}
		pos := len(old) - 1
		if p := Opt(in, 1); p != nil {
			if pos, err = seqPosition(p, len(old), false); err != nil {
				return nil, err
			}
		}
		elems := make([]*tensor.Tensor, 0, len(old)-1)
		elems = append(elems, old[:pos]...)
		elems = append(elems, old[pos+1:]...)
		return rc.Results(tensor.NewSequence(s.DType(), elems)), nil
	}), nil
}

func buildSequenceLength(b *Builder) (Kernel, error) {
	return KernelFunc(func(rc *RunContext, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
		s, err := seqArg(in, 0, "input_sequence")
		if err != nil {
			return nil, err
		}
		return rc.Results(tensor.Scalar(int64(s.Len()))), nil
	}), nil
}

func buildSplitToSequence(b *Builder) (Kernel, error) {
	axis := b.Int("axis", 0)
	keepdims := b.Int("keepdims", 1) != 0
	if err := b.Err(); err != nil {
		return nil, err
	}
	return KernelFunc(func(rc *RunContext, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
		x, err := tensorArg(in, 0, "input")
		if err != nil {
			return nil, err
		}
		if x.Rank() == 0 {
			return nil, fmt.Errorf("cannot split a scalar")
		}
		a, err := NormAxis(axis, x.Rank())
		if err != nil {
			return nil, err
		}
		dim := x.Shape()[a]
		var sizes []int
		squeeze := false
		split := Opt(in, 1)
		switch {
		case split == nil:
			sizes = make([]int, dim)
			for i := range sizes {
				sizes[i] = 1
			}
			squeeze = !keepdims
		case split.Kind() != tensor.KindTensor || (split.DType() != tensor.Int64 && split.DType() != tensor.Int32):
			return nil, fmt.Errorf("split must be an int32 or int64 tensor, got %v", split)
		case split.Rank() == 0:
			v, _ := split.AsInt64s()
			chunk := v[0]
			if chunk <= 0 {
				return nil, fmt.Errorf("split %d must be positive", chunk)
			}
			for left := int64(dim); left > 0; left -= chunk {
				sizes = append(sizes, int(min(left, chunk)))
			}
		case split.Rank() == 1:
			v, _ := split.AsInt64s()
			sum := int64(0)
			sizes = make([]int, len(v))
			for i, s := range v {
				if s < 0 || s > int64(dim) {
					return nil, fmt.Errorf("split %v has invalid size %d for dimension %d of size %d", v, s, a, dim)
				}
				sum += s
				sizes[i] = int(s)
			}
			if sum != int64(dim) {
				return nil, fmt.Errorf("split %v sums to %d, dimension %d has size %d", v, sum, a, dim)
			}
		default:
			return nil, fmt.Errorf("split must be a scalar or 1-D, has shape %v", split.Shape())
		}
		elems, err := splitAlong(x, a, sizes, squeeze)
		if err != nil {
			return nil, err
		}
		return rc.Results(tensor.NewSequence(x.DType(), elems)), nil
	}), nil
}

// splitAlong cuts x along axis into consecutive parts of the given sizes
// (which sum to the axis length), dropping the axis from each part when
// squeeze is set (all sizes are then 1).
func splitAlong(x *tensor.Tensor, axis int, sizes []int, squeeze bool) ([]*tensor.Tensor, error) {
	shape := x.Shape()
	outer, inner := 1, 1
	for _, d := range shape[:axis] {
		outer *= d
	}
	for _, d := range shape[axis+1:] {
		inner *= d
	}
	rowLen := shape[axis] * inner
	src := reflect.ValueOf(x.Data())
	parts := make([]*tensor.Tensor, len(sizes))
	off := 0
	for i, sz := range sizes {
		ps := append([]int{}, shape...)
		ps[axis] = sz
		if squeeze {
			ps = append(ps[:axis], ps[axis+1:]...)
		}
		p, err := tensor.New(x.DType(), ps...)
		if err != nil {
			return nil, err
		}
		chunk := sz * inner
		if chunk > 0 {
			dst := reflect.ValueOf(p.Data())
			for o := 0; o < outer; o++ {
				s := o*rowLen + off
				reflect.Copy(dst.Slice(o*chunk, (o+1)*chunk), src.Slice(s, s+chunk))
			}
		}
		off += chunk
		parts[i] = p
	}
	return parts, nil
}

func buildConcatFromSequence(b *Builder) (Kernel, error) {
	axis := b.RequireInt("axis")
	newAxis := b.Int("new_axis", 0)
	if err := b.Err(); err != nil {
		return nil, err
	}
	if newAxis != 0 && newAxis != 1 {
		return nil, fmt.Errorf("new_axis must be 0 or 1, got %d", newAxis)
	}
	return KernelFunc(func(rc *RunContext, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
		s, err := seqArg(in, 0, "input_sequence")
		if err != nil {
			return nil, err
		}
		elems := s.Elems()
		if len(elems) == 0 {
			return nil, fmt.Errorf("cannot concatenate an empty sequence")
		}
		rank := elems[0].Rank()
		var out *tensor.Tensor
		if newAxis == 1 {
			a, err := NormAxis(axis, rank+1)
			if err != nil {
				return nil, err
			}
			out, err = stack(elems, a)
			if err != nil {
				return nil, err
			}
		} else {
			if rank == 0 {
				return nil, fmt.Errorf("cannot concatenate scalars (use new_axis=1)")
			}
			a, err := NormAxis(axis, rank)
			if err != nil {
				return nil, err
			}
			if out, err = concatAlong(elems, a); err != nil {
				return nil, err
			}
		}
		return rc.Results(out), nil
	}), nil
}

// concatAlong joins tensors of one dtype and rank, equal in every
// dimension but axis, along axis.
func concatAlong(list []*tensor.Tensor, axis int) (*tensor.Tensor, error) {
	first := list[0]
	shape := append([]int{}, first.Shape()...)
	shape[axis] = 0
	for i, t := range list {
		s := t.Shape()
		if t.DType() != first.DType() {
			return nil, fmt.Errorf("element %d has type %v, element 0 has %v", i, t.DType(), first.DType())
		}
		if len(s) != len(shape) {
			return nil, fmt.Errorf("element %d has shape %v, element 0 has %v (ranks differ)", i, s, first.Shape())
		}
		for j := range s {
			if j != axis && s[j] != shape[j] {
				return nil, fmt.Errorf("element %d has shape %v, element 0 has %v (dimension %d differs)", i, s, first.Shape(), j)
			}
		}
		shape[axis] += s[axis]
	}
	out, err := tensor.New(first.DType(), shape...)
	if err != nil {
		return nil, err
	}
	outer, inner := 1, 1
	for _, d := range shape[:axis] {
		outer *= d
	}
	for _, d := range shape[axis+1:] {
		inner *= d
	}
	rowLen := shape[axis] * inner
	if out.Len() == 0 {
		return out, nil
	}
	dst := reflect.ValueOf(out.Data())
	off := 0
	for _, t := range list {
		chunk := t.Shape()[axis] * inner
		if chunk == 0 {
			continue
		}
		src := reflect.ValueOf(t.Data())
		for o := 0; o < outer; o++ {
			d := o*rowLen + off
			reflect.Copy(dst.Slice(d, d+chunk), src.Slice(o*chunk, (o+1)*chunk))
		}
		off += chunk
	}
	return out, nil
}

func buildSequenceMap(b *Builder) (Kernel, error) {
	body := b.Subgraph("body")
	if err := b.Err(); err != nil {
		return nil, err
	}
	if b.NumInputs < 1 {
		return nil, fmt.Errorf("needs at least the input_sequence input")
	}
	if n := len(body.InputNames()); n != b.NumInputs {
		return nil, fmt.Errorf("body takes %d inputs, the node has %d", n, b.NumInputs)
	}
	if n := len(body.OutputNames()); n != b.NumOutputs {
		return nil, fmt.Errorf("body yields %d outputs, the node has %d", n, b.NumOutputs)
	}
	nOut := b.NumOutputs
	return KernelFunc(func(rc *RunContext, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
		s, err := seqArg(in, 0, "input_sequence")
		if err != nil {
			return nil, err
		}
		n := s.Len()
		for i, x := range in {
			if x == nil {
				return nil, fmt.Errorf("input %d is missing", i)
			}
			switch x.Kind() {
			case tensor.KindSequence:
				if x.Len() != n {
					return nil, fmt.Errorf("input %d is a sequence of %d tensors, input_sequence has %d", i, x.Len(), n)
				}
			case tensor.KindOptional:
				return nil, fmt.Errorf("input %d is an optional; SequenceMap takes tensors and sequences", i)
			}
		}
		results := make([][]*tensor.Tensor, nOut)
		dts := make([]tensor.DType, nOut)
		for k := 0; k < n; k++ {
			if err := rc.Err(); err != nil {
				return nil, err
			}
			args := make([]*tensor.Tensor, len(in))
			for i, x := range in {
				if x.Kind() == tensor.KindSequence {
					args[i] = x.Elems()[k]
				} else {
					args[i] = x
				}
			}
			outs, err := body.Call(rc, args)
			if err != nil {
				return nil, fmt.Errorf("element %d: %w", k, err)
			}
			if len(outs) < nOut {
				return nil, fmt.Errorf("element %d: body returned %d values, want %d", k, len(outs), nOut)
			}
			for j := 0; j < nOut; j++ {
				o := outs[j]
				if o == nil {
					return nil, fmt.Errorf("element %d: body output %d is missing", k, j)
				}
				if dts[j], err = seqCheckElem(dts[j], o); err != nil {
					return nil, fmt.Errorf("element %d, output %d: %w", k, j, err)
				}
				results[j] = append(results[j], o.Clone())
			}
		}
		res := make([]*tensor.Tensor, nOut)
		for j := range res {
			elems := results[j]
			if elems == nil {
				elems = []*tensor.Tensor{}
			}
			res[j] = tensor.NewSequence(dts[j], elems)
		}
		return res, nil
	}), nil
}
