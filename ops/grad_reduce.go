package ops

import (
	"fmt"
	"math"

	"github.com/onyxrt/onyx/tensor"
)

// Gradient rules of the reductions that ReduceGrad does not cover
// (ReduceL1, ReduceL2, ReduceLogSum, ReduceLogSumExp, ReduceMax,
// ReduceMin, ReduceProd, ReduceSumSquare), of CumSum, TopK, Einsum and
// Det, with their backward kernels:
//
//	ReduceOpGrad(dy, x, y, [axes]) op=..., keepdims, noop_with_empty_axes, axes
//	EinsumGrad(dy, x1..xn) equation=...  -> (dx1..dxk)
//	DetGrad(dy, x)                       dy * cofactor(x)
//
// CumSum's gradient is a CumSum in the other direction; TopK's is
// GatherElementsGrad (grad_index.go) at the indices of the values.

// gradReduceOp returns the rule of one of this file's operators, or nil.
func gradReduceOp(name string) GradFunc {
	switch name {
	case "ReduceL1", "ReduceL2", "ReduceLogSum", "ReduceLogSumExp", "ReduceMax", "ReduceMin",
		"ReduceProd", "ReduceSumSquare":
		return gradReduceOther
	case "CumSum":
		return gradCumSum
	case "TopK":
		return gradTopK
	case "Einsum":
		return gradEinsum
	case "Det":
		return gradDet
	}
	return nil
}

// gradReduceOther emits ReduceOpGrad(dy, x, y, [axes]) with the forward
// node's attributes.
func gradReduceOther(g GradContext) error {
	b := g.Node()
	attrs := []*Attr{
		StringAttr("op", b.OpType),
		IntAttr("keepdims", b.Int("keepdims", 1)),
		IntAttr("noop_with_empty_axes", b.Int("noop_with_empty_axes", 0)),
	}
	if b.Has("axes") {
		attrs = append(attrs, IntsAttr("axes", b.Ints("axes", nil)...))
	}
	ins := []string{g.OutputGrad(0), g.Input(0), g.Output(0)}
	if b.In(1) {
		ins = append(ins, g.Input(1))
	}
	return gradKernel(g, "ReduceOpGrad", ins, 1, attrs...)
}

func buildReduceOpGrad(b *Builder) (Kernel, error) {
	op := b.String("op", "")
	attrAxes := b.Ints("axes", nil)
	noop := b.Int("noop_with_empty_axes", 0) != 0
	b.Int("keepdims", 1)
	if err := b.Err(); err != nil {
		return nil, err
	}
	switch op {
	case "ReduceL1", "ReduceL2", "ReduceLogSum", "ReduceLogSumExp", "ReduceMax", "ReduceMin",
		"ReduceProd", "ReduceSumSquare":
	default:
		return nil, fmt.Errorf("ReduceOpGrad: unknown op %q", op)
	}
	return KernelFunc(func(rc *RunContext, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
		if err := Need(in, 3); err != nil {
			return nil, err
		}
		dyT, xT, yT := in[0], in[1], in[2]
		xs := xT.Shape()
		axes := attrAxes
		if t := Opt(in, 3); t != nil {
			v, err := t.AsInt64s()
			if err != nil {
				return nil, fmt.Errorf("axes: %w", err)
			}
			axes = v
		}
		var ax []int
		if len(axes) == 0 {
			if !noop {
				for i := range xs {
					ax = append(ax, i)
				}
			}
		} else {
			var err error
			if ax, err = NormAxes(axes, len(xs)); err != nil {
				return nil, err
			}
		}
		group, ng := groupIndex(xs, ax)
		if dyT.Len() != ng || yT.Len() != ng {
			return nil, fmt.Errorf("ReduceOpGrad: gradient %v and output %v do not match the reduction of %v", dyT.Shape(), yT.Shape(), xs)
		}
		dy, err := gxFloats(dyT, "ReduceOpGrad: dy")
		if err != nil {
			return nil, err
		}
		x, err := gxFloats(xT, "ReduceOpGrad: x")
		if err != nil {
			return nil, err
		}
		y, err := gxFloats(yT, "ReduceOpGrad: y")
		if err != nil {
			return nil, err
		}
		dx := reduceOpGrad(op, dy, x, y, group, ng)
		return rc.one(gxOut(dx, dyT.DType(), xs))
	}), nil
}

// reduceOpGrad computes dx for reduction op; group maps every element of
// x to its output element.
func reduceOpGrad(op string, dy, x, y []float64, group []int, ng int) []float64 {
	dx := make([]float64, len(x))
	switch op {
	case "ReduceL1":
		for i, v := range x {
			switch {
			case v > 0:
				dx[i] = dy[group[i]]
			case v < 0:
				dx[i] = -dy[group[i]]
			}
		}
	case "ReduceL2":
		for i, v := range x {
			if n := y[group[i]]; n != 0 {
				dx[i] = dy[group[i]] * v / n
			}
		}
	case "ReduceSumSquare":
		for i, v := range x {
			dx[i] = 2 * v * dy[group[i]]
		}
	case "ReduceLogSum":
		sum := make([]float64, ng)
		for i, v := range x {
			sum[group[i]] += v
		}
		for i := range x {
			dx[i] = dy[group[i]] / sum[group[i]]
		}
	case "ReduceLogSumExp":
		for i, v := range x {
			dx[i] = dy[group[i]] * math.Exp(v-y[group[i]])
		}
	case "ReduceMax", "ReduceMin":
		// Ties share the gradient equally.
		cnt := make([]float64, ng)
		for i, v := range x {
			if v == y[group[i]] {
				cnt[group[i]]++
			}
		}
		for i, v := range x {
			if g := group[i]; v == y[g] {
				dx[i] = dy[g] / cnt[g]
			}
		}
	case "ReduceProd":
		// The product of the other elements, without dividing by zero.
		zeros := make([]int, ng)
		nz := make([]float64, ng)
		for i := range nz {
			nz[i] = 1
		}
		for i, v := range x {
			if v == 0 {
				zeros[group[i]]++
			} else {
				nz[group[i]] *= v
			}
		}
		for i, v := range x {
			g := group[i]
			switch {
			case zeros[g] == 0:
				dx[i] = dy[g] * nz[g] / v
			case zeros[g] == 1 && v == 0:
				dx[i] = dy[g] * nz[g]
			}
		}
	}
	return dx
}

// ---- CumSum ----

// gradCumSum: the gradient of a running sum is the running sum of the
// gradient in the other direction (exclusive stays exclusive).
func gradCumSum(g GradContext) error {
	dy := g.OutputGrad(0)
	if dy == "" || !g.NeedsGrad(0) {
		return nil
	}
	b := g.Node()
	excl, rev := b.Int("exclusive", 0), b.Int("reverse", 0)
	if err := b.Err(); err != nil {
		return err
	}
	flip := int64(1)
	if rev != 0 {
		flip = 0
	}
	g.SetInputGrad(0, g.Emit("", "CumSum", []string{dy, g.Input(1)}, 1, IntAttr("exclusive", excl), IntAttr("reverse", flip))[0])
	return nil
}

// ---- TopK ----

// gradTopK scatters the values' gradient back to the positions the
// indices name (computing the indices again with a TopK node when the
// forward node does not output them).
func gradTopK(g GradContext) error {
	dy := g.OutputGrad(0)
	if dy == "" || !g.NeedsGrad(0) {
		return nil
	}
	b := g.Node()
	axis := b.Int("axis", -1)
	if err := b.Err(); err != nil {
		return err
	}
	idx := g.Output(1)
	if idx == "" {
		var ins []string
		for i := 0; i < b.NumInputs; i++ {
			ins = append(ins, g.Input(i))
		}
		idx = g.Emit("", "TopK", ins, 2, CopyAttrs(b)...)[1]
	}
	g.SetInputGrad(0, g.Emit(GradDomain, "GatherElementsGrad", []string{gradShapeOf(g, 0), idx, dy}, 1, IntAttr("axis", axis))[0])
	return nil
}

// ---- Einsum ----

// gradEinsum: EinsumGrad(dy, x1..xn) gives the gradient of every operand
// (an einsum is linear in each).
func gradEinsum(g GradContext) error {
	b := g.Node()
	eq := b.String("equation", "")
	ins := []string{g.OutputGrad(0)}
	for i := 0; i < b.NumInputs; i++ {
		ins = append(ins, g.Input(i))
	}
	return gradKernel(g, "EinsumGrad", ins, b.NumInputs, StringAttr("equation", eq))
}

func buildEinsumGrad(b *Builder) (Kernel, error) {
	eq := b.String("equation", "")
	if err := b.Err(); err != nil {
		return nil, err
	}
	sp, err := parseEinsum(eq)
	if err != nil {
		return nil, err
	}
	nOut := b.NumOutputs
	if nOut > len(sp.inputs) {
		return nil, fmt.Errorf("EinsumGrad: %d outputs for %d operands", nOut, len(sp.inputs))
	}
	return KernelFunc(func(rc *RunContext, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
		if len(in) != 1+len(sp.inputs) {
			return nil, fmt.Errorf("EinsumGrad: equation %q has %d operands, got %d inputs", eq, len(sp.inputs), len(in)-1)
		}
		if err := Need(in, len(in)); err != nil {
			return nil, err
		}
		ops := in[1:]
		p, err := planEinsum(sp, ops)
		if err != nil {
			return nil, err
		}
		if in[0].Len() != p.outLen {
			return nil, fmt.Errorf("EinsumGrad: gradient shape %v, output shape %v", in[0].Shape(), p.outShape)
		}
		dy, err := gxFloats(in[0], "EinsumGrad: dy")
		if err != nil {
			return nil, err
		}
		data := make([][]float64, len(ops))
		for k, t := range ops {
			if data[k], err = gxFloats(t, "EinsumGrad: operand"); err != nil {
				return nil, err
			}
		}
		grads := make([][]float64, nOut)
		for k := range grads {
			if b.Out(k) {
				grads[k] = make([]float64, len(data[k]))
			}
		}
		einsumGradRun(p, dy, data, grads)
		outs := make([]*tensor.Tensor, nOut)
		for k, d := range grads {
			if d != nil {
				if outs[k], err = gxOut(d, ops[k].DType(), ops[k].Shape()); err != nil {
					return nil, err
				}
			}
		}
		return outs, nil
	}), nil
}

// einsumGradRun walks every combination of label values, adding into
// each wanted operand's gradient the output gradient times the other
// operands (broadcast and repeated labels fold in through the strides).
func einsumGradRun(p *einsumPlan, dy []float64, data, grads [][]float64) {
	total := 1
	for _, s := range p.sizes {
		total *= s
	}
	if total == 0 {
		return
	}
	L := len(p.sizes)
	offs := make([]int, len(data))
	idx := make([]int, L)
	outOff := 0
	for rep := 0; rep < total; rep++ {
		g := dy[outOff]
		if g != 0 {
			for k, d := range grads {
				if d == nil {
					continue
				}
				v := g
				for j, o := range data {
					if j != k {
						v *= o[offs[j]]
					}
				}
				d[offs[k]] += v
			}
		}
		for j := L - 1; j >= 0; j-- {
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
}

// ---- Det ----

// gradDet: d det(A)/dA is A's cofactor matrix, det(A)·A⁻ᵀ when A is
// invertible.
func gradDet(g GradContext) error {
	return gradKernel(g, "DetGrad", []string{g.OutputGrad(0), g.Input(0)}, 1)
}

func buildDetGrad(b *Builder) (Kernel, error) {
	return KernelFunc(func(rc *RunContext, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
		if err := Need(in, 2); err != nil {
			return nil, err
		}
		dyT, xT := in[0], in[1]
		shape := xT.Shape()
		r := len(shape)
		if r < 2 || shape[r-1] != shape[r-2] {
			return nil, fmt.Errorf("DetGrad: input must be [..., M, M], got shape %v", shape)
		}
		if !tensor.ShapeEqual(dyT.Shape(), shape[:r-2]) {
			return nil, fmt.Errorf("DetGrad: gradient shape %v, want %v", dyT.Shape(), shape[:r-2])
		}
		dy, err := gxFloats(dyT, "DetGrad: dy")
		if err != nil {
			return nil, err
		}
		x, err := gxFloats(xT, "DetGrad: x")
		if err != nil {
			return nil, err
		}
		m := shape[r-1]
		dx := make([]float64, len(x))
		for i, g := range dy {
			cof := cofactors(x[i*m*m:(i+1)*m*m], m)
			for j, c := range cof {
				dx[i*m*m+j] = g * c
			}
		}
		return rc.one(gxOut(dx, dyT.DType(), shape))
	}), nil
}

// cofactors returns the cofactor matrix of the m×m row-major matrix a:
// det(a)·a⁻ᵀ through Gauss-Jordan elimination when a is invertible, else
// the signed minors one by one.
func cofactors(a []float64, m int) []float64 {
	if inv, det, ok := invertDet(a, m); ok {
		cof := make([]float64, m*m)
		for i := 0; i < m; i++ {
			for j := 0; j < m; j++ {
				cof[i*m+j] = det * inv[j*m+i]
			}
		}
		return cof
	}
	cof := make([]float64, m*m)
	minor := make([]float64, (m-1)*(m-1))
	for i := 0; i < m; i++ {
		for j := 0; j < m; j++ {
			k := 0
			for r := 0; r < m; r++ {
				if r == i {
					continue
				}
				for c := 0; c < m; c++ {
					if c != j {
						minor[k] = a[r*m+c]
						k++
					}
				}
			}
			d := determinant(minor, m-1)
			if (i+j)%2 == 1 {
				d = -d
			}
			cof[i*m+j] = d
		}
	}
	return cof
}

// invertDet returns the inverse and the determinant of the m×m matrix a
// (not modified), or ok=false when a is singular.
func invertDet(a []float64, m int) (inv []float64, det float64, ok bool) {
	w := append([]float64(nil), a...)
	inv = make([]float64, m*m)
	for i := 0; i < m; i++ {
		inv[i*m+i] = 1
	}
	det = 1
	for c := 0; c < m; c++ {
		p := c
		for i := c + 1; i < m; i++ {
			if math.Abs(w[i*m+c]) > math.Abs(w[p*m+c]) {
				p = i
			}
		}
		if w[p*m+c] == 0 {
			return nil, 0, false
		}
		if p != c {
			for j := 0; j < m; j++ {
				w[c*m+j], w[p*m+j] = w[p*m+j], w[c*m+j]
				inv[c*m+j], inv[p*m+j] = inv[p*m+j], inv[c*m+j]
			}
			det = -det
		}
		piv := w[c*m+c]
		det *= piv
		for j := 0; j < m; j++ {
			w[c*m+j] /= piv
			inv[c*m+j] /= piv
		}
		for i := 0; i < m; i++ {
			if i == c {
				continue
			}
			f := w[i*m+c]
			if f == 0 {
				continue
			}
			for j := 0; j < m; j++ {
				w[i*m+j] -= f * w[c*m+j]
				inv[i*m+j] -= f * inv[c*m+j]
			}
		}
	}
	return inv, det, true
}
