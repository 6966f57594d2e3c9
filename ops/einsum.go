package ops

import (
	"fmt"
	"sort"
	"strings"

	"github.com/onyxrt/onyx/tensor"
)

func registerEinsum(r *Registry) {
	r.Register(&Def{Name: "Einsum", Since: 12, Build: buildEinsum, Infer: inferEinsum})
}

// einsumLetters is the number of letter labels (a-z, A-Z); ellipsis
// dimensions get the labels after them.
const einsumLetters = 52

func einsumLabel(c byte) (int, bool) {
	switch {
	case c >= 'a' && c <= 'z':
		return int(c - 'a'), true
	case c >= 'A' && c <= 'Z':
		return 26 + int(c-'A'), true
	}
	return 0, false
}

// einsumTerm is one parsed subscript: letter labels, with the ellipsis
// (if any) at position ell (-1 when absent).
type einsumTerm struct {
	labels []int
	ell    int
}

func parseEinsumTerm(s string) (einsumTerm, error) {
	t := einsumTerm{ell: -1}
	for i := 0; i < len(s); i++ {
		if s[i] == '.' {
			if !strings.HasPrefix(s[i:], "...") || t.ell >= 0 {
				return t, fmt.Errorf("bad ellipsis in subscript %q", s)
			}
			t.ell = len(t.labels)
			i += 2
			continue
		}
		l, ok := einsumLabel(s[i])
		if !ok {
			return t, fmt.Errorf("invalid character %q in subscript %q", s[i], s)
		}
		t.labels = append(t.labels, l)
	}
	return t, nil
}

// einsumSpec is a parsed equation.
type einsumSpec struct {
	inputs   []einsumTerm
	output   einsumTerm
	explicit bool
}

func parseEinsum(eq string) (*einsumSpec, error) {
	eq = strings.ReplaceAll(eq, " ", "")
	sp := &einsumSpec{}
	lhs, rhs, explicit := strings.Cut(eq, "->")
	sp.explicit = explicit
	for _, term := range strings.Split(lhs, ",") {
		t, err := parseEinsumTerm(term)
		if err != nil {
			return nil, err
		}
		sp.inputs = append(sp.inputs, t)
	}
	if explicit {
		t, err := parseEinsumTerm(rhs)
		if err != nil {
			return nil, err
		}
		seen := map[int]bool{}
		for _, l := range t.labels {
			if seen[l] {
				return nil, fmt.Errorf("label %c repeated in the output of %q", einsumChar(l), eq)
			}
			seen[l] = true
			found := false
			for _, in := range sp.inputs {
				for _, m := range in.labels {
					found = found || m == l
				}
			}
			if !found {
				return nil, fmt.Errorf("output label %c does not appear in the inputs of %q", einsumChar(l), eq)
			}
		}
		sp.output = t
	} else {
		// Implicit output: the ellipsis, then the labels seen exactly
		// once, in alphabetical (ASCII) order.
		count := map[int]int{}
		hasEll := false
		for _, in := range sp.inputs {
			for _, l := range in.labels {
				count[l]++
			}
			hasEll = hasEll || in.ell >= 0
		}
		var once []int
		for l, c := range count {
			if c == 1 {
				once = append(once, l)
			}
		}
		sort.Slice(once, func(i, j int) bool { return einsumChar(once[i]) < einsumChar(once[j]) })
		sp.output = einsumTerm{labels: once, ell: -1}
		if hasEll {
			sp.output.ell = 0
		}
	}
	return sp, nil
}

func einsumChar(l int) byte {
	if l < 26 {
		return 'a' + byte(l)
	}
	return 'A' + byte(l-26)
}

func buildEinsum(b *Builder) (Kernel, error) {
	eq := b.String("equation", "")
	if !b.Has("equation") {
		b.Fail("required attribute %q is missing", "equation")
	}
	if err := b.Err(); err != nil {
		return nil, err
	}
	sp, err := parseEinsum(eq)
	if err != nil {
		return nil, err
	}
	return KernelFunc(func(rc *RunContext, inputs []*tensor.Tensor) ([]*tensor.Tensor, error) {
		if len(inputs) != len(sp.inputs) {
			return nil, fmt.Errorf("equation %q has %d operands, got %d inputs", eq, len(sp.inputs), len(inputs))
		}
		if err := Need(inputs, len(inputs)); err != nil {
			return nil, err
		}
		ins := make([]*tensor.Tensor, len(inputs))
		var dt tensor.DType
		for i, in := range inputs {
			if i > 0 && in.DType() != inputs[0].DType() {
				return nil, fmt.Errorf("input %d has type %v, want %v", i, in.DType(), inputs[0].DType())
			}
			u, d, err := Upcast(in)
			if err != nil {
				return nil, err
			}
			ins[i], dt = u, d
		}
		y, err := einsum(sp, ins)
		if err != nil {
			return nil, err
		}
		if y, err = Downcast(y, dt); err != nil {
			return nil, err
		}
		return rc.Results(y), nil
	}), nil
}

// einsumPlan is the loop nest of an einsum: every label with its size,
// output labels first, and per operand the stride of each label.
type einsumPlan struct {
	sizes      []int
	strides    [][]int // [operand][label]
	outStrides []int
	outShape   []int
	outLen     int
}

func planEinsum(sp *einsumSpec, ins []*tensor.Tensor) (*einsumPlan, error) {
	// Ellipsis rank of every operand, and the broadcast ellipsis shape.
	ellRank := 0
	ellRanks := make([]int, len(ins))
	for k, t := range sp.inputs {
		r := ins[k].Rank() - len(t.labels)
		if t.ell < 0 && r != 0 || r < 0 {
			return nil, fmt.Errorf("operand %d has rank %d but its subscript has %d labels", k, ins[k].Rank(), len(t.labels))
		}
		ellRanks[k] = r
		ellRank = max(ellRank, r)
	}
	size := map[int]int{}
	// dimsOf lists, per operand, the label of each dimension.
	dimsOf := make([][]int, len(ins))
	for k, t := range sp.inputs {
		var dims []int
		for i := 0; i <= len(t.labels); i++ {
			if i == t.ell {
				for e := 0; e < ellRanks[k]; e++ {
					dims = append(dims, einsumLetters+ellRank-ellRanks[k]+e)
				}
			}
			if i < len(t.labels) {
				dims = append(dims, t.labels[i])
			}
		}
		dimsOf[k] = dims
		for i, l := range dims {
			d := ins[k].Shape()[i]
			s, ok := size[l]
			switch {
			case !ok || s == 1:
				size[l] = d
			case d != s && d != 1:
				return nil, fmt.Errorf("dimension %d of operand %d has size %d, expected %d", i, k, d, s)
			}
		}
	}
	// Output labels, then the summed ones.
	var order []int
	inOut := map[int]bool{}
	for i := 0; i <= len(sp.output.labels); i++ {
		if i == sp.output.ell {
			for e := 0; e < ellRank; e++ {
				order = append(order, einsumLetters+e)
				inOut[einsumLetters+e] = true
			}
		}
		if i < len(sp.output.labels) {
			order = append(order, sp.output.labels[i])
			inOut[sp.output.labels[i]] = true
		}
	}
	nOut := len(order)
	var summed []int
	for l := range size {
		if !inOut[l] {
			summed = append(summed, l)
		}
	}
	sort.Ints(summed)
	order = append(order, summed...)
	pos := map[int]int{}
	p := &einsumPlan{outLen: 1}
	for i, l := range order {
		pos[l] = i
		p.sizes = append(p.sizes, size[l])
		if i < nOut {
			p.outShape = append(p.outShape, size[l])
			p.outLen *= size[l]
		}
	}
	p.outStrides = make([]int, len(order))
	copy(p.outStrides, tensor.Strides(p.outShape))
	for k, dims := range dimsOf {
		st := make([]int, len(order))
		in := tensor.Strides(ins[k].Shape())
		for i, l := range dims {
			if ins[k].Shape()[i] == 1 && size[l] != 1 {
				continue // broadcast
			}
			st[pos[l]] += in[i]
		}
		p.strides = append(p.strides, st)
	}
	return p, nil
}

func einsum(sp *einsumSpec, ins []*tensor.Tensor) (*tensor.Tensor, error) {
	p, err := planEinsum(sp, ins)
	if err != nil {
		return nil, err
	}
	if n, err := tensor.NumElements(p.outShape); err != nil {
		return nil, err
	} else if n > tensor.MaxBytes/8 {
		return nil, fmt.Errorf("output shape %v: %w", p.outShape, tensor.ErrTooLarge)
	}
	var out any
	switch ins[0].Data().(type) {
	case []float32:
		out = convertSlice[float64, float32](einsumRun[float32, float64](p, ins))
	case []float64:
		out = einsumRun[float64, float64](p, ins)
	case []int8:
		out = einsumRun[int8, int8](p, ins)
	case []int16:
		out = einsumRun[int16, int16](p, ins)
	case []int32:
		out = einsumRun[int32, int32](p, ins)
	case []int64:
		out = einsumRun[int64, int64](p, ins)
	case []uint8:
		out = einsumRun[uint8, uint8](p, ins)
	case []uint16:
		out = einsumRun[uint16, uint16](p, ins)
	case []uint32:
		out = einsumRun[uint32, uint32](p, ins)
	case []uint64:
		out = einsumRun[uint64, uint64](p, ins)
	default:
		return nil, ErrDType("Einsum", ins[0].DType())
	}
	return tensor.FromSlice(p.outShape, out)
}

// einsumRun walks every combination of label values, adding the product
// of the operands into the output.
func einsumRun[T, A Number](p *einsumPlan, ins []*tensor.Tensor) []A {
	acc := make([]A, p.outLen)
	data := make([][]T, len(ins))
	for k, t := range ins {
		data[k] = t.Data().([]T)
	}
	total := 1
	for _, s := range p.sizes {
		total *= s
	}
	if total == 0 {
		return acc
	}
	L := len(p.sizes)
	if L == 0 {
		v := A(1)
		for _, d := range data {
			v *= A(d[0])
		}
		acc[0] = v
		return acc
	}
	n := p.sizes[L-1]
	offs := make([]int, len(ins))
	innerSt := make([]int, len(ins))
	for k := range ins {
		innerSt[k] = p.strides[k][L-1]
	}
	outSt := p.outStrides[L-1]
	idx := make([]int, L-1)
	outOff := 0
	for rep := total / n; rep > 0; rep-- {
		switch {
		case len(data) == 2 && outSt == 0:
			// The common contraction: a dot product along the last label.
			a, b := data[0][offs[0]:], data[1][offs[1]:]
			sa, sb := innerSt[0], innerSt[1]
			var sum A
			for t := 0; t < n; t++ {
				sum += A(a[t*sa]) * A(b[t*sb])
			}
			acc[outOff] += sum
		case len(data) == 2:
			a, b := data[0][offs[0]:], data[1][offs[1]:]
			sa, sb := innerSt[0], innerSt[1]
			for t := 0; t < n; t++ {
				acc[outOff+t*outSt] += A(a[t*sa]) * A(b[t*sb])
			}
		default:
			for t := 0; t < n; t++ {
				v := A(1)
				for k, d := range data {
					v *= A(d[offs[k]+t*innerSt[k]])
				}
				acc[outOff+t*outSt] += v
			}
		}
		for j := L - 2; j >= 0; j-- {
			idx[j]++
			outOff += p.outStrides[j]
			for k := range offs {
				offs[k] += p.strides[k][j]
			}
			if idx[j] < p.sizes[j] {
				break
			}
			outOff -= p.outStrides[j] * p.sizes[j]
			for k := range offs {
				offs[k] -= p.strides[k][j] * p.sizes[j]
			}
			idx[j] = 0
		}
	}
	return acc
}
