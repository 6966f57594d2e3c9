package ops

import (
	"fmt"

	"github.com/onyxrt/onyx/tensor"
)

// shapeRule returns the shape-inference rule shared by an operator
// family for the ai.onnx operator name, or nil. Operators without a rule
// produce values of unknown type; the runtime still runs them.
func shapeRule(name string) InferFunc {
	switch name {
	case "Relu", "LeakyRelu", "Sigmoid", "Tanh", "Elu", "Selu", "Softplus", "Softsign",
		"HardSigmoid", "HardSwish", "Exp", "Log", "Sqrt", "Neg", "Abs", "Reciprocal", "Floor",
		"Ceil", "Round", "Sin", "Cos", "Tan", "Asin", "Acos", "Atan", "Sinh", "Cosh", "Asinh",
		"Acosh", "Atanh", "Erf", "Sign", "Identity", "Softmax", "LogSoftmax", "Hardmax", "Clip",
		"LRN", "InstanceNormalization", "Celu", "ThresholdedRelu", "Shrink", "Mish", "Gelu",
		"CumSum", "PRelu", "MeanVarianceNormalization", "BitwiseNot":
		return inferSameAsFirst
	case "Add", "Sub", "Mul", "Div", "Pow", "Mod", "Max", "Min", "Sum", "Mean", "BitShift",
		"BitwiseAnd", "BitwiseOr", "BitwiseXor":
		return inferBroadcast(false)
	case "And", "Or", "Xor", "Equal", "Less", "Greater", "LessOrEqual", "GreaterOrEqual":
		return inferBroadcast(true)
	case "Not", "IsNaN", "IsInf":
		return inferBoolSame
	case "Where":
		return inferWhere
	case "Cast":
		return inferCast
	case "CastLike":
		return inferCastLike
	case "Dropout":
		return inferDropout
	case "BatchNormalization", "LayerNormalization":
		return inferFirstOutputSame
	case "Shape":
		return inferShape
	case "Size":
		return inferSize
	case "Conv":
		return inferConvPool(true)
	case "MaxPool", "AveragePool", "LpPool":
		return inferConvPool(false)
	case "GlobalAveragePool", "GlobalMaxPool", "GlobalLpPool":
		return inferGlobalPool
	case "Gemm":
		return inferGemm
	case "MatMul":
		return inferMatMul
	case "Flatten":
		return inferFlatten
	case "Reshape":
		return inferReshape
	case "Transpose":
		return inferTranspose
	case "Concat":
		return inferConcat
	case "Unsqueeze":
		return inferUnsqueeze
	case "Squeeze":
		return inferSqueeze
	case "Gather":
		return inferGather
	case "ReduceSum", "ReduceMean", "ReduceMax", "ReduceMin", "ReduceProd", "ReduceL1",
		"ReduceL2", "ReduceLogSum", "ReduceLogSumExp", "ReduceSumSquare":
		return inferReduce
	case "ArgMax", "ArgMin":
		return inferArg
	case "LSTM":
		return inferRecurrent(true)
	case "GRU", "RNN":
		return inferRecurrent(false)
	}
	return nil
}

func first(in []Meta) Meta {
	if len(in) == 0 {
		return Meta{}
	}
	return Meta{DType: in[0].DType, Shape: in[0].Shape}
}

func inferSameAsFirst(b *Builder, in []Meta) ([]Meta, error) { return []Meta{first(in)}, nil }

func inferFirstOutputSame(b *Builder, in []Meta) ([]Meta, error) {
	out := make([]Meta, b.NumOutputs)
	if len(out) > 0 {
		out[0] = first(in)
	}
	return out, nil
}

func inferBoolSame(b *Builder, in []Meta) ([]Meta, error) {
	m := first(in)
	m.DType = tensor.Bool
	return []Meta{m}, nil
}

func inferBroadcast(boolOut bool) InferFunc {
	return func(b *Builder, in []Meta) ([]Meta, error) {
		m := first(in)
		if boolOut {
			m.DType = tensor.Bool
		}
		if b.Has("broadcast") { // opset < 7: unidirectional, aligned at axis
			return []Meta{m}, nil
		}
		shapes := make([]tensor.SymShape, 0, len(in))
		for _, x := range in {
			shapes = append(shapes, x.Shape)
		}
		s, err := broadcastSym(shapes...)
		if err != nil {
			return nil, err
		}
		m.Shape = s
		return []Meta{m}, nil
	}
}

func inferWhere(b *Builder, in []Meta) ([]Meta, error) {
	if len(in) < 3 {
		return nil, nil
	}
	s, err := broadcastSym(in[0].Shape, in[1].Shape, in[2].Shape)
	if err != nil {
		return nil, err
	}
	return []Meta{{DType: in[1].DType, Shape: s}}, nil
}

func inferCast(b *Builder, in []Meta) ([]Meta, error) {
	m := first(in)
	m.DType = tensor.DType(b.Int("to", 0))
	return []Meta{m}, nil
}

func inferCastLike(b *Builder, in []Meta) ([]Meta, error) {
	m := first(in)
	if len(in) > 1 {
		m.DType = in[1].DType
	}
	return []Meta{m}, nil
}

func inferDropout(b *Builder, in []Meta) ([]Meta, error) {
	out := make([]Meta, b.NumOutputs)
	m := first(in)
	out[0] = m
	if len(out) > 1 {
		mask := tensor.Bool
		if b.Opset < 10 {
			mask = m.DType // the mask had the input's type before opset 10
		}
		out[1] = Meta{DType: mask, Shape: m.Shape}
	}
	return out, nil
}

func inferShape(b *Builder, in []Meta) ([]Meta, error) {
	x := first(in)
	if x.Shape == nil {
		return []Meta{{DType: tensor.Int64, Shape: tensor.SymShape{unknownDim}}}, nil
	}
	r := int64(len(x.Shape))
	start, end := b.Int("start", 0), b.Int("end", r)
	clampIdx := func(v int64) int64 {
		if v < 0 {
			v += r
		}
		return min(max(v, 0), r)
	}
	start, end = clampIdx(start), clampIdx(end)
	n := max(end-start, 0)
	return []Meta{{DType: tensor.Int64, Shape: tensor.SymShape{{Size: n}}}}, nil
}

func inferSize(b *Builder, in []Meta) ([]Meta, error) {
	return []Meta{{DType: tensor.Int64, Shape: tensor.SymShape{}}}, nil
}

// inferConvPool computes the spatial output size of Conv and the pools
// for explicit pads and every auto_pad mode.
func inferConvPool(conv bool) InferFunc {
	return func(b *Builder, in []Meta) ([]Meta, error) {
		x := first(in)
		out := make([]Meta, b.NumOutputs)
		for i := range out {
			out[i] = Meta{DType: x.DType}
		}
		if len(out) > 1 {
			out[1].DType = tensor.Int64 // MaxPool's Indices
		}
		if x.Shape == nil || len(x.Shape) < 3 {
			return out, nil
		}
		nsp := len(x.Shape) - 2
		kernel := b.Ints("kernel_shape", nil)
		channels := x.Shape[1]
		if conv {
			if len(in) < 2 || in[1].Shape == nil {
				return out, nil
			}
			w := in[1].Shape
			if len(w) != len(x.Shape) {
				return nil, fmt.Errorf("weight has rank %d, input rank %d", len(w), len(x.Shape))
			}
			group := b.Int("group", 1)
			if x.Shape[1].Known() && w[1].Known() && group > 0 && x.Shape[1].Size != w[1].Size*group {
				return nil, fmt.Errorf("input has %d channels, weight expects %d×%d groups", x.Shape[1].Size, w[1].Size, group)
			}
			channels = w[0]
			if kernel == nil {
				for _, d := range w[2:] {
					if !d.Known() {
						return out, nil
					}
					kernel = append(kernel, d.Size)
				}
			}
		}
		if len(kernel) != nsp {
			return out, nil
		}
		strides := b.Ints("strides", nil)
		dil := b.Ints("dilations", nil)
		pads := b.Ints("pads", nil)
		autoPad := b.String("auto_pad", "NOTSET")
		ceil := b.Int("ceil_mode", 0) != 0
		shape := tensor.SymShape{x.Shape[0], channels}
		for i := 0; i < nsp; i++ {
			d := x.Shape[2+i]
			if !d.Known() {
				shape = append(shape, unknownDim)
				continue
			}
			s, dl := int64(1), int64(1)
			if i < len(strides) {
				s = strides[i]
			}
			if i < len(dil) {
				dl = dil[i]
			}
			if s <= 0 || dl <= 0 {
				return nil, fmt.Errorf("strides and dilations must be positive")
			}
			ek := (kernel[i]-1)*dl + 1
			var n int64
			switch autoPad {
			case "SAME_UPPER", "SAME_LOWER":
				n = (d.Size + s - 1) / s
			case "VALID":
				n = (d.Size-ek)/s + 1
			default:
				p := int64(0)
				if len(pads) == 2*nsp {
					p = pads[i] + pads[i+nsp]
				}
				num := d.Size + p - ek
				if ceil {
					n = (num+s-1)/s + 1
					head := int64(0)
					if len(pads) == 2*nsp {
						head = pads[i]
					}
					if (n-1)*s >= d.Size+head { // the last window must start inside
						n--
					}
				} else {
					n = num/s + 1
				}
			}
			if n < 0 {
				return nil, fmt.Errorf("kernel %d (dilated %d) is larger than the padded input dimension %d", kernel[i], ek, d.Size)
			}
			shape = append(shape, tensor.Dim{Size: n})
		}
		for i := range out {
			out[i].Shape = shape
		}
		return out, nil
	}
}

func inferGlobalPool(b *Builder, in []Meta) ([]Meta, error) {
	x := first(in)
	if x.Shape != nil && len(x.Shape) >= 2 {
		s := append(tensor.SymShape{}, x.Shape[:2]...)
		for range x.Shape[2:] {
			s = append(s, tensor.Dim{Size: 1})
		}
		x.Shape = s
	}
	return []Meta{x}, nil
}

func inferGemm(b *Builder, in []Meta) ([]Meta, error) {
	if len(in) < 2 || in[0].Shape == nil || in[1].Shape == nil {
		return []Meta{{DType: first(in).DType}}, nil
	}
	a, w := in[0].Shape, in[1].Shape
	if len(a) != 2 || len(w) != 2 {
		return nil, fmt.Errorf("Gemm inputs must be 2-D, got %v and %v", a, w)
	}
	m, k1 := a[0], a[1]
	if b.Int("transA", 0) != 0 {
		m, k1 = k1, m
	}
	k2, n := w[0], w[1]
	if b.Int("transB", 0) != 0 {
		k2, n = n, k2
	}
	if k1.Known() && k2.Known() && k1.Size != k2.Size {
		return nil, fmt.Errorf("inner dimensions differ: %d vs %d", k1.Size, k2.Size)
	}
	return []Meta{{DType: in[0].DType, Shape: tensor.SymShape{m, n}}}, nil
}

func inferMatMul(b *Builder, in []Meta) ([]Meta, error) {
	dt := first(in).DType
	if len(in) < 2 || in[0].Shape == nil || in[1].Shape == nil {
		return []Meta{{DType: dt}}, nil
	}
	a, c := in[0].Shape, in[1].Shape
	if len(a) == 0 || len(c) == 0 {
		return nil, fmt.Errorf("MatMul inputs must not be scalars")
	}
	a1, c1 := len(a) == 1, len(c) == 1
	if a1 {
		a = tensor.SymShape{{Size: 1}, a[0]}
	}
	if c1 {
		c = tensor.SymShape{c[0], {Size: 1}}
	}
	k1, k2 := a[len(a)-1], c[len(c)-2]
	if k1.Known() && k2.Known() && k1.Size != k2.Size {
		return nil, fmt.Errorf("inner dimensions differ: %v and %v", in[0].Shape, in[1].Shape)
	}
	batch, err := broadcastSym(a[:len(a)-2], c[:len(c)-2])
	if err != nil {
		return nil, err
	}
	s := append(batch, a[len(a)-2], c[len(c)-1])
	if a1 { // drop the M of a promoted vector
		s = append(s[:len(s)-2], s[len(s)-1])
	}
	if c1 { // drop the N of a promoted vector
		s = s[:len(s)-1]
	}
	return []Meta{{DType: dt, Shape: s}}, nil
}

func inferFlatten(b *Builder, in []Meta) ([]Meta, error) {
	x := first(in)
	if x.Shape == nil {
		x.Shape = tensor.SymShape{unknownDim, unknownDim}
		return []Meta{x}, nil
	}
	axis := int(b.Int("axis", 1))
	if axis < 0 {
		axis += len(x.Shape)
	}
	if axis < 0 || axis > len(x.Shape) {
		return nil, fmt.Errorf("axis %d is out of range for rank %d", b.Int("axis", 1), len(x.Shape))
	}
	prod := func(ds tensor.SymShape) tensor.Dim {
		n := int64(1)
		var sym []tensor.Dim
		for _, d := range ds {
			if d.Known() {
				n *= d.Size
			} else {
				sym = append(sym, d)
			}
		}
		switch {
		case len(sym) == 0:
			return tensor.Dim{Size: n}
		case len(sym) == 1 && n == 1:
			return sym[0] // [N 1 1] flattens to N
		}
		return unknownDim
	}
	x.Shape = tensor.SymShape{prod(x.Shape[:axis]), prod(x.Shape[axis:])}
	return []Meta{x}, nil
}

func inferReshape(b *Builder, in []Meta) ([]Meta, error) {
	x := first(in)
	var target []int64
	switch {
	case b.Has("shape"):
		target = b.Ints("shape", nil)
	case len(in) > 1 && in[1].Value != nil:
		v, err := in[1].Value.AsInt64s()
		if err != nil {
			return nil, err
		}
		target = v
	default:
		if len(in) > 1 && in[1].Shape != nil && len(in[1].Shape) == 1 && in[1].Shape[0].Known() {
			s := make(tensor.SymShape, in[1].Shape[0].Size)
			for i := range s {
				s[i] = unknownDim
			}
			x.Shape = s
		} else {
			x.Shape = nil
		}
		return []Meta{x}, nil
	}
	allowZero := b.Int("allowzero", 0) != 0
	s := make(tensor.SymShape, len(target))
	inferAt := -1
	known := int64(1)
	for i, v := range target {
		switch {
		case v == -1:
			if inferAt >= 0 {
				return nil, fmt.Errorf("shape %v has more than one -1", target)
			}
			inferAt = i
			continue
		case v == 0 && !allowZero:
			if x.Shape == nil || i >= len(x.Shape) {
				s[i] = unknownDim
			} else {
				s[i] = x.Shape[i]
			}
		case v < 0:
			return nil, fmt.Errorf("invalid target dimension %d in %v", v, target)
		default:
			s[i] = tensor.Dim{Size: v}
		}
		if s[i].Known() {
			known *= s[i].Size
		} else {
			known = -1
		}
	}
	if inferAt >= 0 {
		s[inferAt] = unknownDim
		total := int64(1)
		for _, d := range x.Shape {
			if !d.Known() {
				total = -1
				break
			}
			total *= d.Size
		}
		if x.Shape != nil && total >= 0 && known > 0 {
			if total%known != 0 {
				return nil, fmt.Errorf("cannot reshape %v to %v", x.Shape, target)
			}
			s[inferAt] = tensor.Dim{Size: total / known}
		}
	}
	x.Shape = s
	return []Meta{x}, nil
}

func inferTranspose(b *Builder, in []Meta) ([]Meta, error) {
	x := first(in)
	if x.Shape == nil {
		return []Meta{x}, nil
	}
	perm := b.Ints("perm", nil)
	r := len(x.Shape)
	s := make(tensor.SymShape, r)
	for i := range s {
		p := r - 1 - i
		if perm != nil {
			if len(perm) != r {
				return nil, fmt.Errorf("perm %v does not fit rank %d", perm, r)
			}
			p = int(perm[i])
			if p < 0 || p >= r {
				return nil, fmt.Errorf("perm %v is out of range for rank %d", perm, r)
			}
		}
		s[i] = x.Shape[p]
	}
	x.Shape = s
	return []Meta{x}, nil
}

func inferConcat(b *Builder, in []Meta) ([]Meta, error) {
	x := first(in)
	var rank = -1
	for _, m := range in {
		if m.Shape == nil {
			x.Shape = nil
			return []Meta{x}, nil
		}
		if rank >= 0 && len(m.Shape) != rank {
			return nil, fmt.Errorf("inputs have ranks %d and %d", rank, len(m.Shape))
		}
		rank = len(m.Shape)
	}
	axis, err := NormAxis(b.Int("axis", 0), rank)
	if err != nil {
		return nil, err
	}
	s := append(tensor.SymShape{}, in[0].Shape...)
	total := int64(0)
	for _, m := range in {
		d := m.Shape[axis]
		if !d.Known() || total < 0 {
			total = -1
			continue
		}
		total += d.Size
	}
	s[axis] = tensor.Dim{Size: total}
	if total < 0 {
		s[axis] = unknownDim
	}
	x.Shape = s
	return []Meta{x}, nil
}

// axesOf reads axes from an attribute or a constant input.
func axesOf(b *Builder, in []Meta, input int) ([]int64, bool) {
	if b.Has("axes") {
		return b.Ints("axes", nil), true
	}
	if len(in) > input && in[input].Value != nil {
		v, err := in[input].Value.AsInt64s()
		return v, err == nil
	}
	if len(in) <= input || (in[input].Shape == nil && in[input].DType == tensor.Undefined) {
		return nil, true // absent
	}
	return nil, false
}

func inferUnsqueeze(b *Builder, in []Meta) ([]Meta, error) {
	x := first(in)
	axes, ok := axesOf(b, in, 1)
	if !ok || x.Shape == nil {
		x.Shape = nil
		return []Meta{x}, nil
	}
	r := len(x.Shape) + len(axes)
	norm, err := NormAxes(axes, r)
	if err != nil {
		return nil, err
	}
	ins := map[int]bool{}
	for _, a := range norm {
		ins[a] = true
	}
	s := make(tensor.SymShape, 0, r)
	j := 0
	for i := 0; i < r; i++ {
		if ins[i] {
			s = append(s, tensor.Dim{Size: 1})
		} else {
			s = append(s, x.Shape[j])
			j++
		}
	}
	x.Shape = s
	return []Meta{x}, nil
}

func inferSqueeze(b *Builder, in []Meta) ([]Meta, error) {
	x := first(in)
	axes, ok := axesOf(b, in, 1)
	if !ok || x.Shape == nil {
		x.Shape = nil
		return []Meta{x}, nil
	}
	drop := map[int]bool{}
	if len(axes) == 0 {
		for i, d := range x.Shape {
			if !d.Known() {
				x.Shape = nil
				return []Meta{x}, nil
			}
			if d.Size == 1 {
				drop[i] = true
			}
		}
	} else {
		norm, err := NormAxes(axes, len(x.Shape))
		if err != nil {
			return nil, err
		}
		for _, a := range norm {
			if d := x.Shape[a]; d.Known() && d.Size != 1 {
				return nil, fmt.Errorf("cannot squeeze axis %d of size %d", a, d.Size)
			}
			drop[a] = true
		}
	}
	s := tensor.SymShape{}
	for i, d := range x.Shape {
		if !drop[i] {
			s = append(s, d)
		}
	}
	x.Shape = s
	return []Meta{x}, nil
}

func inferGather(b *Builder, in []Meta) ([]Meta, error) {
	x := first(in)
	if len(in) < 2 || x.Shape == nil || in[1].Shape == nil {
		x.Shape = nil
		return []Meta{x}, nil
	}
	axis, err := NormAxis(b.Int("axis", 0), len(x.Shape))
	if err != nil {
		return nil, err
	}
	s := append(append(append(tensor.SymShape{}, x.Shape[:axis]...), in[1].Shape...), x.Shape[axis+1:]...)
	x.Shape = s
	return []Meta{x}, nil
}

func inferReduce(b *Builder, in []Meta) ([]Meta, error) {
	x := first(in)
	if x.Shape == nil {
		return []Meta{x}, nil
	}
	axes, ok := axesOf(b, in, 1)
	if !ok {
		x.Shape = nil
		return []Meta{x}, nil
	}
	keep := b.Int("keepdims", 1) != 0
	if len(axes) == 0 && b.Int("noop_with_empty_axes", 0) != 0 {
		return []Meta{x}, nil
	}
	norm, err := NormAxes(axes, len(x.Shape))
	if err != nil {
		return nil, err
	}
	red := map[int]bool{}
	for _, a := range norm {
		red[a] = true
	}
	s := tensor.SymShape{}
	for i, d := range x.Shape {
		switch {
		case len(axes) > 0 && !red[i]:
			s = append(s, d)
		case keep:
			s = append(s, tensor.Dim{Size: 1})
		}
	}
	x.Shape = s
	return []Meta{x}, nil
}

func inferArg(b *Builder, in []Meta) ([]Meta, error) {
	x := first(in)
	x.DType = tensor.Int64
	if x.Shape == nil {
		return []Meta{x}, nil
	}
	axis, err := NormAxis(b.Int("axis", 0), len(x.Shape))
	if err != nil {
		return nil, err
	}
	s := append(tensor.SymShape{}, x.Shape...)
	if b.Int("keepdims", 1) != 0 {
		s[axis] = tensor.Dim{Size: 1}
	} else {
		s = append(s[:axis], s[axis+1:]...)
	}
	x.Shape = s
	return []Meta{x}, nil
}

// inferRecurrent gives LSTM/GRU/RNN outputs: Y [seq, dirs, batch, hidden]
// (layout 0) and the states [dirs, batch, hidden].
func inferRecurrent(lstm bool) InferFunc {
	return func(b *Builder, in []Meta) ([]Meta, error) {
		x := first(in)
		out := make([]Meta, b.NumOutputs)
		for i := range out {
			out[i] = Meta{DType: x.DType}
		}
		hidden := b.Int("hidden_size", -1)
		dirs := int64(1)
		if b.String("direction", "forward") == "bidirectional" {
			dirs = 2
		}
		if x.Shape == nil || len(x.Shape) != 3 || hidden <= 0 {
			return out, nil
		}
		h := tensor.Dim{Size: hidden}
		d := tensor.Dim{Size: dirs}
		seq, batch := x.Shape[0], x.Shape[1]
		layout := b.Int("layout", 0)
		if layout != 0 {
			seq, batch = batch, seq
		}
		y := tensor.SymShape{seq, d, batch, h}
		st := tensor.SymShape{d, batch, h}
		if layout != 0 {
			y = tensor.SymShape{batch, seq, d, h}
			st = tensor.SymShape{batch, d, h}
		}
		for i := range out {
			if i == 0 {
				out[i].Shape = y
			} else {
				out[i].Shape = st
			}
		}
		return out, nil
	}
}
