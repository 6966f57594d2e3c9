package ops

import (
	"fmt"
	"math"
	"math/rand"
	"strings"
	"testing"

	"github.com/onyxrt/onyx/tensor"
)

// The gradient rules of grad_nn.go and grad_shape.go, with their backward
// kernels, checked against central finite differences in float64. An
// eager GradContext (gnnCtx) runs each node a rule emits as soon as it is
// emitted, through the registry, so a rule and its kernels are tested
// together without the train package.

// gnnCtx is a GradContext that evaluates emitted nodes at once.
type gnnCtx struct {
	t        testing.TB
	reg      *Registry
	node     *Builder
	vals     map[string]*tensor.Tensor
	ins      []string
	outs     []string
	dys      []string
	needs    []bool
	grads    map[int]*tensor.Tensor
	emitted  []string // op types, in order
	nextName int
}

func (c *gnnCtx) Node() *Builder { return c.node }

func gnnAt(s []string, i int) string {
	if i < len(s) {
		return s[i]
	}
	return ""
}

func (c *gnnCtx) Input(i int) string      { return gnnAt(c.ins, i) }
func (c *gnnCtx) Output(i int) string     { return gnnAt(c.outs, i) }
func (c *gnnCtx) OutputGrad(i int) string { return gnnAt(c.dys, i) }
func (c *gnnCtx) NeedsGrad(i int) bool    { return i < len(c.needs) && c.needs[i] }

func (c *gnnCtx) fresh(base string) string {
	c.nextName++
	return fmt.Sprintf("%s_%d", base, c.nextName)
}

func (c *gnnCtx) Const(t *tensor.Tensor) string {
	n := c.fresh("const")
	c.vals[n] = t
	return n
}

func (c *gnnCtx) Emit(domain, opType string, inputs []string, nOut int, attrs ...*Attr) []string {
	c.t.Helper()
	opset := c.node.Opset
	if domain == GradDomain {
		opset = 1
	}
	c.emitted = append(c.emitted, opType)
	present := make([]bool, nOut)
	for i := range present {
		present[i] = true
	}
	outs, err := gnnRun(c.reg, domain, opType, opset, attrs, inputs, present, c.vals, 2)
	if err != nil {
		c.t.Fatalf("emitted %s: %v", opType, err)
	}
	names := make([]string, nOut)
	for i := range names {
		names[i] = c.fresh(opType)
		c.vals[names[i]] = outs[i]
	}
	return names
}

func (c *gnnCtx) SetInputGrad(i int, name string) {
	v, ok := c.vals[name]
	if !ok || v == nil {
		c.t.Fatalf("SetInputGrad(%d, %q): no such value", i, name)
	}
	if prev := c.grads[i]; prev != nil {
		c.t.Fatalf("input %d: gradient declared twice", i)
	}
	c.grads[i] = v
}

// gnnBuilder makes the Builder of one node.
func gnnBuilder(domain, op string, opset int, attrs []*Attr, inputs []string, outPresent []bool) *Builder {
	b := &Builder{OpType: op, Domain: domain, Opset: opset, NumInputs: len(inputs), NumOutputs: len(outPresent),
		Attrs: map[string]*Attr{}, OutputPresent: outPresent}
	for _, a := range attrs {
		b.Attrs[a.Name] = a
	}
	for _, in := range inputs {
		b.InputPresent = append(b.InputPresent, in != "")
	}
	return b
}

// gnnRun builds and runs one node on named values.
func gnnRun(reg *Registry, domain, op string, opset int, attrs []*Attr, inputs []string, outPresent []bool, vals map[string]*tensor.Tensor, threads int) ([]*tensor.Tensor, error) {
	def, err := reg.Lookup(domain, op, opset)
	if err != nil {
		return nil, err
	}
	b := gnnBuilder(domain, op, opset, attrs, inputs, outPresent)
	k, err := def.Build(b)
	if err != nil {
		return nil, fmt.Errorf("build: %w", err)
	}
	in := make([]*tensor.Tensor, len(inputs))
	for i, n := range inputs {
		if n == "" {
			continue
		}
		v, ok := vals[n]
		if !ok {
			return nil, fmt.Errorf("input %q is not defined", n)
		}
		in[i] = v
	}
	outs, err := k.Run(&RunContext{Threads: threads}, in)
	if err != nil {
		return nil, err
	}
	if len(outs) < len(outPresent) {
		outs = append(outs, make([]*tensor.Tensor, len(outPresent)-len(outs))...)
	}
	for i, p := range outPresent {
		if p && outs[i] == nil {
			return nil, fmt.Errorf("output %d is nil", i)
		}
	}
	return outs, nil
}

// gnnCase is one finite-difference check of an operator's gradient.
type gnnCase struct {
	name  string
	op    string
	opset int
	attrs []*Attr
	in    []*tensor.Tensor // nil: omitted input
	nOut  int              // outputs the forward node names (default 1)
	wrt   []int            // float inputs to differentiate
	loss  []int            // outputs the loss reads (default: output 0)
	// emits, when set, lists op types the rule must emit (in order).
	emits []string
}

// gnnCheck runs the rule of c.op on a random projection of its outputs and
// compares the gradients with central differences. It returns the largest
// error relative to max(1, |gradient|).
func gnnCheck(t *testing.T, reg *Registry, c gnnCase) float64 {
	t.Helper()
	rng := rand.New(rand.NewSource(int64(len(c.name)) * 7919))
	nOut := max(c.nOut, 1)
	loss := c.loss
	if loss == nil {
		loss = []int{0}
	}
	inputs := make([]string, len(c.in))
	vals := map[string]*tensor.Tensor{}
	for i, v := range c.in {
		if v != nil {
			inputs[i] = fmt.Sprintf("x%d", i)
			vals[inputs[i]] = v
		}
	}
	outNames := make([]string, nOut)
	present := make([]bool, nOut)
	for i := range outNames {
		outNames[i] = fmt.Sprintf("y%d", i)
		present[i] = true
	}
	forward := func(vals map[string]*tensor.Tensor) []*tensor.Tensor {
		outs, err := gnnRun(reg, "", c.op, c.opset, c.attrs, inputs, present, vals, 1)
		if err != nil {
			t.Fatalf("forward %s: %v", c.op, err)
		}
		return outs
	}
	ys := forward(vals)
	// The loss is Σ_k Σ r_k·y_k over the outputs it reads.
	proj := map[int][]float64{}
	dys := make([]string, nOut)
	for _, k := range loss {
		r := make([]float64, ys[k].Len())
		for i := range r {
			r[i] = rng.Float64()*2 - 1
		}
		proj[k] = r
		dys[k] = fmt.Sprintf("dy%d", k)
		vals[dys[k]] = tensor.From(ys[k].Shape(), r)
	}
	for i, n := range outNames {
		vals[n] = ys[i]
	}
	lossOf := func(outs []*tensor.Tensor) float64 {
		var s float64
		for k, r := range proj {
			for i, v := range outs[k].Float64s() {
				s += r[i] * v
			}
		}
		return s
	}
	needs := make([]bool, len(c.in))
	for _, i := range c.wrt {
		needs[i] = true
	}
	ctx := &gnnCtx{t: t, reg: reg, node: gnnBuilder("", c.op, c.opset, c.attrs, inputs, present), vals: vals,
		ins: inputs, outs: outNames, dys: dys, needs: needs, grads: map[int]*tensor.Tensor{}}
	rule := gradRule("", c.op)
	if rule == nil {
		t.Fatalf("%s has no gradient rule", c.op)
	}
	if err := rule(ctx); err != nil {
		t.Fatalf("rule: %v", err)
	}
	if c.emits != nil && fmt.Sprint(c.emits) != fmt.Sprint(ctx.emitted) {
		t.Errorf("rule emitted %v, want %v", ctx.emitted, c.emits)
	}
	worst := 0.0
	const h = 1e-6
	for _, i := range c.wrt {
		g := ctx.grads[i]
		if g == nil {
			t.Fatalf("no gradient for input %d", i)
		}
		if !tensor.ShapeEqual(g.Shape(), c.in[i].Shape()) || g.DType() != c.in[i].DType() {
			t.Fatalf("input %d: gradient is %v %v, input is %v %v", i, g.DType(), g.Shape(), c.in[i].DType(), c.in[i].Shape())
		}
		got := g.Float64s()
		base := tensor.Data[float64](c.in[i])
		for e := range base {
			fd := func(d float64) float64 {
				p := c.in[i].Clone()
				tensor.Data[float64](p)[e] += d
				v := map[string]*tensor.Tensor{}
				for k, x := range vals {
					v[k] = x
				}
				v[inputs[i]] = p
				return lossOf(forward(v))
			}
			num := (fd(h) - fd(-h)) / (2 * h)
			err := math.Abs(got[e]-num) / math.Max(1, math.Abs(num))
			if err > worst {
				worst = err
			}
			if !(err < 1e-5) {
				t.Errorf("input %d element %d: gradient %v, finite difference %v", i, e, got[e], num)
				return worst
			}
		}
	}
	return worst
}

// gnnRand returns a float64 tensor with values spread in [-1, 1), distinct
// enough that pooling windows have clear maxima.
func gnnRand(seed int64, shape ...int) *tensor.Tensor {
	r := rand.New(rand.NewSource(seed))
	v := make([]float64, prod(shape))
	for i := range v {
		v[i] = r.Float64()*2 - 1
	}
	return tensor.From(shape, v)
}

func gnnPos(seed int64, shape ...int) *tensor.Tensor {
	t := gnnRand(seed, shape...)
	for i, v := range tensor.Data[float64](t) {
		tensor.Data[float64](t)[i] = 0.5 + math.Abs(v)
	}
	return t
}

func gnnI64(shape []int, v ...int64) *tensor.Tensor { return tensor.From(shape, v) }

func gnnIs(v ...int64) []int64 { return v }

func runGnnCases(t *testing.T, cases []gnnCase) {
	reg := Default()
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			worst := gnnCheck(t, reg, c)
			t.Logf("%s %s: max error %.2e", c.op, c.name, worst)
		})
	}
}

func TestGradConv(t *testing.T) {
	runGnnCases(t, gnnConvCases)
}

// With a tiny im2col budget every band is one output row.
func TestGradConvBands(t *testing.T) {
	saved := im2colBudget
	im2colBudget = 1
	defer func() { im2colBudget = saved }()
	runGnnCases(t, append(append([]gnnCase{}, gnnConvCases...), gnnConvTransposeCases...))
}

var gnnConvCases = []gnnCase{
	{name: "pads1", op: "Conv", opset: 11, attrs: []*Attr{IntsAttr("pads", 1, 1, 1, 1)},
		in: []*tensor.Tensor{gnnRand(1, 2, 3, 5, 5), gnnRand(2, 4, 3, 3, 3), gnnRand(3, 4)}, wrt: []int{0, 1, 2},
		emits: []string{"ConvGrad"}},
	{name: "group2_stride2_dil2_asym", op: "Conv", opset: 11,
		attrs: []*Attr{IntAttr("group", 2), IntsAttr("strides", 2, 2), IntsAttr("dilations", 2, 1), IntsAttr("pads", 1, 0, 2, 1)},
		in:    []*tensor.Tensor{gnnRand(4, 2, 4, 7, 6), gnnRand(5, 6, 2, 3, 2), gnnRand(6, 6)}, wrt: []int{0, 1, 2}},
	{name: "depthwise", op: "Conv", opset: 11, attrs: []*Attr{IntAttr("group", 3), IntsAttr("pads", 1, 1, 1, 1)},
		in: []*tensor.Tensor{gnnRand(7, 3, 3, 6, 6), gnnRand(8, 3, 1, 3, 3)}, wrt: []int{0, 1}},
	{name: "1x1_direct", op: "Conv", opset: 1,
		in: []*tensor.Tensor{gnnRand(9, 2, 3, 4, 4), gnnRand(10, 5, 3, 1, 1), gnnRand(11, 5)}, wrt: []int{0, 1, 2}},
	{name: "1x1_group_stride", op: "Conv", opset: 11, attrs: []*Attr{IntAttr("group", 2), IntsAttr("strides", 2, 1)},
		in: []*tensor.Tensor{gnnRand(12, 1, 4, 5, 3), gnnRand(13, 2, 2, 1, 1)}, wrt: []int{0, 1}},
	{name: "1d", op: "Conv", opset: 11, attrs: []*Attr{IntsAttr("strides", 2), IntsAttr("pads", 1, 2), IntsAttr("dilations", 2)},
		in: []*tensor.Tensor{gnnRand(14, 2, 2, 9), gnnRand(15, 3, 2, 3), gnnRand(16, 3)}, wrt: []int{0, 1, 2}},
	{name: "3d", op: "Conv", opset: 11, attrs: []*Attr{IntsAttr("strides", 1, 2, 1), IntsAttr("pads", 0, 1, 1, 1, 0, 0)},
		in: []*tensor.Tensor{gnnRand(17, 1, 2, 4, 5, 3), gnnRand(18, 2, 2, 2, 3, 2), gnnRand(19, 2)}, wrt: []int{0, 1, 2}},
	{name: "same_upper_stride2", op: "Conv", opset: 11, attrs: []*Attr{StringAttr("auto_pad", "SAME_UPPER"), IntsAttr("strides", 2, 2)},
		in: []*tensor.Tensor{gnnRand(20, 1, 2, 6, 7), gnnRand(21, 3, 2, 3, 3)}, wrt: []int{0, 1}},
	{name: "same_lower_even_kernel", op: "Conv", opset: 11, attrs: []*Attr{StringAttr("auto_pad", "SAME_LOWER"), IntsAttr("kernel_shape", 2, 2)},
		in: []*tensor.Tensor{gnnRand(22, 2, 2, 5, 4), gnnRand(23, 2, 2, 2, 2)}, wrt: []int{0, 1}},
	{name: "valid", op: "Conv", opset: 11, attrs: []*Attr{StringAttr("auto_pad", "VALID"), IntsAttr("strides", 2, 3)},
		in: []*tensor.Tensor{gnnRand(24, 3, 1, 7, 8), gnnRand(25, 2, 1, 3, 2)}, wrt: []int{0, 1}},
	{name: "weights_only", op: "Conv", opset: 11, attrs: []*Attr{IntsAttr("pads", 0, 1, 0, 1)},
		in: []*tensor.Tensor{gnnRand(26, 3, 2, 4, 4), gnnRand(27, 3, 2, 2, 3), gnnRand(28, 3)}, wrt: []int{1, 2}},
	{name: "input_only", op: "Conv", opset: 11,
		in: []*tensor.Tensor{gnnRand(29, 2, 2, 4, 4), gnnRand(30, 3, 2, 2, 3), gnnRand(31, 3)}, wrt: []int{0}},
}

func TestGradConvTranspose(t *testing.T) {
	runGnnCases(t, gnnConvTransposeCases)
}

var gnnConvTransposeCases = []gnnCase{
	{name: "stride2_pads_outpad", op: "ConvTranspose", opset: 11,
		attrs: []*Attr{IntsAttr("strides", 2, 2), IntsAttr("pads", 1, 0, 0, 1), IntsAttr("output_padding", 1, 0)},
		in:    []*tensor.Tensor{gnnRand(1, 2, 3, 3, 4), gnnRand(2, 3, 2, 3, 3), gnnRand(3, 2)}, wrt: []int{0, 1, 2},
		emits: []string{"ConvTransposeGrad"}},
	{name: "group2_dil", op: "ConvTranspose", opset: 11, attrs: []*Attr{IntAttr("group", 2), IntsAttr("dilations", 2, 1)},
		in: []*tensor.Tensor{gnnRand(4, 1, 4, 3, 3), gnnRand(5, 4, 1, 2, 2), gnnRand(6, 2)}, wrt: []int{0, 1, 2}},
	{name: "output_shape_same_upper", op: "ConvTranspose", opset: 11,
		attrs: []*Attr{IntsAttr("strides", 2, 2), IntsAttr("output_shape", 7, 6), StringAttr("auto_pad", "SAME_UPPER")},
		in:    []*tensor.Tensor{gnnRand(7, 2, 1, 3, 3), gnnRand(8, 1, 2, 3, 3)}, wrt: []int{0, 1}},
	{name: "1d", op: "ConvTranspose", opset: 1, attrs: []*Attr{IntsAttr("strides", 3), IntsAttr("pads", 1, 1)},
		in: []*tensor.Tensor{gnnRand(9, 2, 2, 4), gnnRand(10, 2, 3, 4), gnnRand(11, 3)}, wrt: []int{0, 1, 2}},
}

func TestGradPool(t *testing.T) {
	runGnnCases(t, []gnnCase{
		{name: "max_k3s2p1", op: "MaxPool", opset: 12, attrs: []*Attr{IntsAttr("kernel_shape", 3, 3), IntsAttr("strides", 2, 2), IntsAttr("pads", 1, 1, 1, 1)},
			in: []*tensor.Tensor{gnnRand(1, 2, 2, 7, 7)}, wrt: []int{0}, emits: []string{"MaxPoolGrad"}},
		{name: "max_ceil", op: "MaxPool", opset: 12, attrs: []*Attr{IntsAttr("kernel_shape", 3, 3), IntsAttr("strides", 2, 2), IntAttr("ceil_mode", 1)},
			in: []*tensor.Tensor{gnnRand(2, 1, 2, 6, 6)}, wrt: []int{0}},
		{name: "max_dilated", op: "MaxPool", opset: 12, attrs: []*Attr{IntsAttr("kernel_shape", 2, 2), IntsAttr("dilations", 2, 2), IntsAttr("pads", 0, 1, 1, 0)},
			in: []*tensor.Tensor{gnnRand(3, 1, 1, 7, 8)}, wrt: []int{0}},
		{name: "max_1d_ceil", op: "MaxPool", opset: 12, attrs: []*Attr{IntsAttr("kernel_shape", 3), IntsAttr("strides", 2), IntAttr("ceil_mode", 1), IntsAttr("pads", 1, 0)},
			in: []*tensor.Tensor{gnnRand(4, 2, 3, 10)}, wrt: []int{0}},
		{name: "max_3d", op: "MaxPool", opset: 12, attrs: []*Attr{IntsAttr("kernel_shape", 2, 2, 2), IntsAttr("strides", 2, 1, 2), IntsAttr("pads", 1, 0, 0, 0, 1, 1)},
			in: []*tensor.Tensor{gnnRand(5, 1, 2, 4, 5, 4)}, wrt: []int{0}},
		{name: "max_same_upper", op: "MaxPool", opset: 12, attrs: []*Attr{IntsAttr("kernel_shape", 2, 3), IntsAttr("strides", 2, 2), StringAttr("auto_pad", "SAME_UPPER")},
			in: []*tensor.Tensor{gnnRand(6, 1, 2, 5, 5)}, wrt: []int{0}},
		{name: "max_with_indices", op: "MaxPool", opset: 8, nOut: 2, attrs: []*Attr{IntsAttr("kernel_shape", 2, 2), IntAttr("storage_order", 1)},
			in: []*tensor.Tensor{gnnRand(7, 2, 1, 4, 5)}, wrt: []int{0}},
		{name: "avg_pads_exclude", op: "AveragePool", opset: 11, attrs: []*Attr{IntsAttr("kernel_shape", 3, 3), IntsAttr("strides", 2, 2), IntsAttr("pads", 1, 1, 1, 1)},
			in: []*tensor.Tensor{gnnRand(8, 2, 2, 6, 7)}, wrt: []int{0}, emits: []string{"AveragePoolGrad"}},
		{name: "avg_pads_include", op: "AveragePool", opset: 11, attrs: []*Attr{IntsAttr("kernel_shape", 3, 2), IntsAttr("pads", 1, 0, 1, 1), IntAttr("count_include_pad", 1)},
			in: []*tensor.Tensor{gnnRand(9, 1, 2, 5, 5)}, wrt: []int{0}},
		{name: "avg_ceil_include", op: "AveragePool", opset: 11,
			attrs: []*Attr{IntsAttr("kernel_shape", 3, 3), IntsAttr("strides", 2, 2), IntsAttr("pads", 1, 1, 1, 1), IntAttr("ceil_mode", 1), IntAttr("count_include_pad", 1)},
			in:    []*tensor.Tensor{gnnRand(10, 1, 1, 6, 6)}, wrt: []int{0}},
		{name: "avg_ceil_exclude", op: "AveragePool", opset: 11,
			attrs: []*Attr{IntsAttr("kernel_shape", 2, 2), IntsAttr("strides", 2, 2), IntAttr("ceil_mode", 1)},
			in:    []*tensor.Tensor{gnnRand(11, 1, 1, 5, 5)}, wrt: []int{0}},
		{name: "avg_3d_include", op: "AveragePool", opset: 11, attrs: []*Attr{IntsAttr("kernel_shape", 2, 3, 2), IntsAttr("pads", 1, 1, 0, 0, 1, 1), IntAttr("count_include_pad", 1)},
			in: []*tensor.Tensor{gnnRand(12, 1, 2, 3, 4, 3)}, wrt: []int{0}},
		{name: "avg_1d_dilated", op: "AveragePool", opset: 19, attrs: []*Attr{IntsAttr("kernel_shape", 2), IntsAttr("dilations", 3), IntsAttr("pads", 1, 1)},
			in: []*tensor.Tensor{gnnRand(13, 2, 2, 8)}, wrt: []int{0}},
		{name: "global_avg", op: "GlobalAveragePool", opset: 1, in: []*tensor.Tensor{gnnRand(14, 2, 3, 4, 5)}, wrt: []int{0},
			emits: []string{"GlobalAveragePoolGrad"}},
		{name: "global_avg_3d", op: "GlobalAveragePool", opset: 1, in: []*tensor.Tensor{gnnRand(15, 1, 2, 2, 3, 2)}, wrt: []int{0}},
		{name: "global_max", op: "GlobalMaxPool", opset: 1, in: []*tensor.Tensor{gnnRand(16, 2, 3, 4, 5)}, wrt: []int{0}},
		{name: "global_max_1d", op: "GlobalMaxPool", opset: 1, in: []*tensor.Tensor{gnnRand(17, 2, 2, 7)}, wrt: []int{0}},
	})
}

func TestGradNorm(t *testing.T) {
	runGnnCases(t, []gnnCase{
		{name: "bn_training_15", op: "BatchNormalization", opset: 15, nOut: 3, attrs: []*Attr{IntAttr("training_mode", 1), FloatAttr("epsilon", 1e-3)},
			in: []*tensor.Tensor{gnnRand(1, 4, 3, 2, 2), gnnRand(2, 3), gnnRand(3, 3), gnnRand(4, 3), gnnPos(5, 3)}, wrt: []int{0, 1, 2},
			emits: []string{"BatchNormGrad"}},
		{name: "bn_training_only_y", op: "BatchNormalization", opset: 15, attrs: []*Attr{IntAttr("training_mode", 1)},
			in: []*tensor.Tensor{gnnRand(6, 5, 2, 3), gnnRand(7, 2), gnnRand(8, 2), gnnRand(9, 2), gnnPos(10, 2)}, wrt: []int{0, 1, 2}},
		{name: "bn_training_rank2", op: "BatchNormalization", opset: 14, attrs: []*Attr{IntAttr("training_mode", 1)},
			in: []*tensor.Tensor{gnnRand(11, 6, 4), gnnRand(12, 4), gnnRand(13, 4), gnnRand(14, 4), gnnPos(15, 4)}, wrt: []int{0, 1, 2}},
		{name: "bn_training_9", op: "BatchNormalization", opset: 9, nOut: 5,
			in: []*tensor.Tensor{gnnRand(16, 3, 2, 3), gnnRand(17, 2), gnnRand(18, 2), gnnRand(19, 2), gnnPos(20, 2)}, wrt: []int{0, 1, 2}},
		{name: "bn_inference", op: "BatchNormalization", opset: 15,
			in: []*tensor.Tensor{gnnRand(21, 2, 3, 2, 2), gnnRand(22, 3), gnnRand(23, 3), gnnRand(24, 3), gnnPos(25, 3)}, wrt: []int{0, 1, 2, 3, 4}},
		{name: "bn_inference_nonspatial_7", op: "BatchNormalization", opset: 7, attrs: []*Attr{IntAttr("spatial", 0)},
			in: []*tensor.Tensor{gnnRand(26, 3, 2, 2), gnnRand(27, 2, 2), gnnRand(28, 2, 2), gnnRand(29, 2, 2), gnnPos(30, 2, 2)}, wrt: []int{0, 1, 2, 3, 4}},
		{name: "bn_training_nonspatial_7", op: "BatchNormalization", opset: 7, nOut: 5, attrs: []*Attr{IntAttr("spatial", 0)},
			in: []*tensor.Tensor{gnnRand(31, 4, 2, 3), gnnRand(32, 2, 3), gnnRand(33, 2, 3), gnnRand(34, 2, 3), gnnPos(35, 2, 3)}, wrt: []int{0, 1, 2}},
		{name: "ln_last_axis", op: "LayerNormalization", opset: 17,
			in: []*tensor.Tensor{gnnRand(36, 3, 4, 5), gnnRand(37, 5), gnnRand(38, 5)}, wrt: []int{0, 1, 2}, emits: []string{"LayerNormGrad"}},
		{name: "ln_axis1_broadcast_params", op: "LayerNormalization", opset: 17, nOut: 3, attrs: []*Attr{IntAttr("axis", 1), FloatAttr("epsilon", 1e-2)},
			in: []*tensor.Tensor{gnnRand(39, 2, 3, 4), gnnRand(40, 3, 4), gnnRand(41, 4)}, wrt: []int{0, 1, 2}},
		{name: "ln_no_bias", op: "LayerNormalization", opset: 17, attrs: []*Attr{IntAttr("axis", -2)},
			in: []*tensor.Tensor{gnnRand(42, 2, 3, 4), gnnRand(43, 1, 4)}, wrt: []int{0, 1}},
	})
}

func TestGradDropout(t *testing.T) {
	on := tensor.From(nil, []bool{true})
	off := tensor.From(nil, []bool{false})
	ratio := tensor.From(nil, []float64{0.3})
	runGnnCases(t, []gnnCase{
		{name: "training_mask", op: "Dropout", opset: 13, nOut: 2, attrs: []*Attr{IntAttr("seed", 3)},
			in: []*tensor.Tensor{gnnRand(1, 4, 5), ratio, on}, wrt: []int{0}, emits: []string{"DropoutGrad"}},
		{name: "training_seed_no_mask", op: "Dropout", opset: 13, attrs: []*Attr{IntAttr("seed", 5)},
			in: []*tensor.Tensor{gnnRand(2, 3, 7), ratio, on}, wrt: []int{0}},
		{name: "training_off", op: "Dropout", opset: 12, nOut: 2,
			in: []*tensor.Tensor{gnnRand(3, 6), ratio, off}, wrt: []int{0}},
		{name: "inference_10", op: "Dropout", opset: 10, attrs: []*Attr{FloatAttr("ratio", 0.4)},
			in: []*tensor.Tensor{gnnRand(4, 2, 3)}, wrt: []int{0}, emits: []string{}},
	})
}

func TestGradLayout(t *testing.T) {
	runGnnCases(t, []gnnCase{
		{name: "gather_embedding", op: "Gather", opset: 13,
			in: []*tensor.Tensor{gnnRand(1, 5, 3), gnnI64([]int{2, 4}, 1, 4, 1, -1, 0, 1, 2, 2)}, wrt: []int{0}, emits: []string{"Shape", "GatherGrad"}},
		{name: "gather_axis1", op: "Gather", opset: 11, attrs: []*Attr{IntAttr("axis", 1)},
			in: []*tensor.Tensor{gnnRand(2, 2, 4, 3), gnnI64([]int{3}, 3, 0, 3)}, wrt: []int{0}},
		{name: "gather_scalar_index", op: "Gather", opset: 1, attrs: []*Attr{IntAttr("axis", -1)},
			in: []*tensor.Tensor{gnnRand(3, 2, 3), gnnI64(nil, 2)}, wrt: []int{0}},
		{name: "slice_steps", op: "Slice", opset: 13,
			in:  []*tensor.Tensor{gnnRand(4, 4, 5, 6), gnnI64([]int{2}, 1, -5), gnnI64([]int{2}, 3, 100), gnnI64([]int{2}, 0, 2), gnnI64([]int{2}, 1, 2)},
			wrt: []int{0}, emits: []string{"Shape", "SliceGrad"}},
		{name: "slice_negative_step", op: "Slice", opset: 11,
			in: []*tensor.Tensor{gnnRand(5, 3, 7), gnnI64([]int{1}, -1), gnnI64([]int{1}, -100), gnnI64([]int{1}, 1), gnnI64([]int{1}, -2)}, wrt: []int{0}},
		{name: "slice_no_axes", op: "Slice", opset: 10,
			in: []*tensor.Tensor{gnnRand(6, 3, 4), gnnI64([]int{2}, 1, 1), gnnI64([]int{2}, 2, 3)}, wrt: []int{0}},
		{name: "slice_attrs_1", op: "Slice", opset: 1, attrs: []*Attr{IntsAttr("starts", 0, 1), IntsAttr("ends", 2, 3), IntsAttr("axes", 1, 2)},
			in: []*tensor.Tensor{gnnRand(7, 2, 3, 4)}, wrt: []int{0}},
		{name: "pad_constant_crop", op: "Pad", opset: 13,
			in: []*tensor.Tensor{gnnRand(8, 3, 4), gnnI64([]int{4}, 1, -1, 2, 1), tensor.From(nil, []float64{0.5})}, wrt: []int{0, 2},
			emits: []string{"Shape", "PadGrad"}},
		{name: "pad_edge", op: "Pad", opset: 13, attrs: []*Attr{StringAttr("mode", "edge")},
			in: []*tensor.Tensor{gnnRand(9, 2, 3, 4), gnnI64([]int{6}, 0, 2, 1, 0, 1, 3)}, wrt: []int{0}},
		{name: "pad_reflect", op: "Pad", opset: 11, attrs: []*Attr{StringAttr("mode", "reflect")},
			in: []*tensor.Tensor{gnnRand(10, 3, 4), gnnI64([]int{4}, 2, 3, 1, 2)}, wrt: []int{0}},
		{name: "pad_attr_2", op: "Pad", opset: 2, attrs: []*Attr{IntsAttr("pads", 0, 1, 2, 0), FloatAttr("value", 1.5)},
			in: []*tensor.Tensor{gnnRand(11, 2, 3)}, wrt: []int{0}},
		{name: "pad_axes_18", op: "Pad", opset: 18,
			in: []*tensor.Tensor{gnnRand(12, 2, 3, 4), gnnI64([]int{2}, 1, 2), nil, gnnI64([]int{1}, -2)}, wrt: []int{0}},
		{name: "pad_wrap_19", op: "Pad", opset: 19, attrs: []*Attr{StringAttr("mode", "wrap")},
			in: []*tensor.Tensor{gnnRand(13, 3, 2), gnnI64([]int{4}, 2, -1, 4, 1)}, wrt: []int{0}},
		{name: "expand", op: "Expand", opset: 13,
			in: []*tensor.Tensor{gnnRand(14, 3, 1), gnnI64([]int{3}, 2, 1, 4)}, wrt: []int{0}, emits: []string{"Shape", "SumToShape"}},
		{name: "tile", op: "Tile", opset: 13,
			in: []*tensor.Tensor{gnnRand(15, 2, 3), gnnI64([]int{2}, 2, 3)}, wrt: []int{0}, emits: []string{"Shape", "TileGrad"}},
		{name: "tile_3d", op: "Tile", opset: 6,
			in: []*tensor.Tensor{gnnRand(16, 1, 2, 2), gnnI64([]int{3}, 3, 1, 2)}, wrt: []int{0}},
		{name: "tile_1", op: "Tile", opset: 1,
			in: []*tensor.Tensor{gnnRand(17, 2, 3), gnnI64(nil, 3), gnnI64(nil, 1)}, wrt: []int{0}},
		{name: "split_partial_grads", op: "Split", opset: 13, nOut: 3, attrs: []*Attr{IntAttr("axis", 1)},
			in: []*tensor.Tensor{gnnRand(18, 2, 6, 3), gnnI64([]int{3}, 2, 3, 1)}, wrt: []int{0}, loss: []int{0, 2},
			emits: []string{"Shape", "SplitGrad"}},
		{name: "split_equal_all", op: "Split", opset: 11, nOut: 2, attrs: []*Attr{IntAttr("axis", -1)},
			in: []*tensor.Tensor{gnnRand(19, 3, 4)}, wrt: []int{0}, loss: []int{0, 1}},
		{name: "split_attr_2", op: "Split", opset: 2, nOut: 2, attrs: []*Attr{IntsAttr("split", 1, 3)},
			in: []*tensor.Tensor{gnnRand(21, 4, 2)}, wrt: []int{0}, loss: []int{1}},
		{name: "split_attr_1", op: "Split", opset: 1, nOut: 2, attrs: []*Attr{IntsAttr("split", 2, 1), IntAttr("axis", 1)},
			in: []*tensor.Tensor{gnnRand(22, 2, 3)}, wrt: []int{0}, loss: []int{0}},
		{name: "split_num_outputs_18", op: "Split", opset: 18, nOut: 3, attrs: []*Attr{IntAttr("num_outputs", 3)},
			in: []*tensor.Tensor{gnnRand(20, 7, 2)}, wrt: []int{0}, loss: []int{1}},
	})
}

// The float32 and float16 forms of a backward kernel agree with the
// float64 one.
func TestGradNNKernelTypes(t *testing.T) {
	reg := Default()
	type kcase struct {
		op    string
		attrs []*Attr
		in    []*tensor.Tensor
		nOut  int
	}
	x, w := gnnRand(1, 2, 4, 6, 6), gnnRand(2, 6, 2, 3, 3)
	dyConv := gnnRand(3, 2, 6, 3, 3)
	dyPool := gnnRand(4, 2, 4, 3, 3)
	cases := []kcase{
		{"ConvGrad", []*Attr{IntAttr("group", 2), IntsAttr("strides", 2, 2), IntsAttr("pads", 1, 1, 1, 1)}, []*tensor.Tensor{dyConv, x, w}, 3},
		{"MaxPoolGrad", []*Attr{IntsAttr("kernel_shape", 2, 2), IntsAttr("strides", 2, 2)}, []*tensor.Tensor{dyPool, x}, 1},
		{"AveragePoolGrad", []*Attr{IntsAttr("kernel_shape", 2, 2), IntsAttr("strides", 2, 2)}, []*tensor.Tensor{dyPool, x}, 1},
		{"BatchNormGrad", []*Attr{IntAttr("training_mode", 1)}, []*tensor.Tensor{gnnRand(5, 2, 4, 6, 6), x, gnnRand(6, 4), gnnRand(7, 4), gnnPos(8, 4)}, 3},
		{"LayerNormGrad", nil, []*tensor.Tensor{gnnRand(9, 2, 4, 6, 6), x, gnnRand(10, 6), gnnRand(11, 6)}, 3},
	}
	for _, c := range cases {
		names := make([]string, len(c.in))
		present := make([]bool, c.nOut)
		for i := range present {
			present[i] = true
		}
		run := func(dt tensor.DType) []*tensor.Tensor {
			vals := map[string]*tensor.Tensor{}
			for i, v := range c.in {
				names[i] = fmt.Sprint("in", i)
				cv, err := v.Cast(dt)
				if err != nil {
					t.Fatal(err)
				}
				vals[names[i]] = cv
			}
			outs, err := gnnRun(reg, GradDomain, c.op, 1, c.attrs, names, present, vals, 2)
			if err != nil {
				t.Fatalf("%s %v: %v", c.op, dt, err)
			}
			return outs
		}
		want := run(tensor.Float64)
		for _, dt := range []tensor.DType{tensor.Float32, tensor.Float16} {
			tol := 1e-5
			if dt == tensor.Float16 {
				tol = 2e-2
			}
			got := run(dt)
			for i := range present {
				o := got[i]
				if o.DType() != dt || !tensor.ShapeEqual(o.Shape(), want[i].Shape()) {
					t.Fatalf("%s %v output %d: %v %v, want %v %v", c.op, dt, i, o.DType(), o.Shape(), dt, want[i].Shape())
				}
				g, w := o.Float64s(), want[i].Float64s()
				for j := range w {
					if math.Abs(g[j]-w[j]) > tol*(1+math.Abs(w[j])) {
						t.Fatalf("%s %v output %d element %d: %v, want %v", c.op, dt, i, j, g[j], w[j])
					}
				}
			}
		}
	}
}

// Bad inputs give errors, not panics.
func TestGradNNKernelErrors(t *testing.T) {
	reg := Default()
	for _, c := range []struct {
		op    string
		attrs []*Attr
		in    []*tensor.Tensor
		want  string
	}{
		{"ConvGrad", nil, []*tensor.Tensor{gnnRand(1, 1, 2, 2, 2), gnnRand(2, 1, 1, 4, 4), gnnRand(3, 2, 1, 2, 2)}, "dY has shape"},
		{"MaxPoolGrad", []*Attr{IntsAttr("kernel_shape", 2, 2)}, []*tensor.Tensor{gnnRand(4, 1, 1, 2, 2), gnnRand(5, 1, 1, 4, 4)}, "dY has shape"},
		{"GatherGrad", nil, []*tensor.Tensor{gnnI64([]int{2}, 3, 2), gnnI64([]int{1}, 3), gnnRand(6, 1, 2)}, "out of range"},
		{"SliceGrad", nil, []*tensor.Tensor{gnnRand(7, 2), gnnI64([]int{1}, 4), gnnI64([]int{1}, 0), gnnI64([]int{1}, 3)}, "dY has shape"},
		{"TileGrad", nil, []*tensor.Tensor{gnnRand(8, 5), gnnI64([]int{1}, 2)}, "not a tiling"},
		{"PadGrad", nil, []*tensor.Tensor{gnnRand(9, 5), gnnI64([]int{1}, 2), gnnI64([]int{2}, 1, 1)}, "padded shape"},
		{"DropoutGrad", nil, []*tensor.Tensor{gnnRand(10, 5), nil, tensor.From(nil, []float64{0.5}), tensor.From(nil, []bool{true})}, "mask"},
		{"BatchNormGrad", nil, []*tensor.Tensor{gnnRand(11, 2, 3), gnnRand(12, 2, 3), gnnRand(13, 2), gnnRand(14, 2), gnnRand(15, 2)}, "scale has"},
	} {
		names := make([]string, len(c.in))
		vals := map[string]*tensor.Tensor{}
		for i, v := range c.in {
			if v != nil {
				names[i] = fmt.Sprint("in", i)
				vals[names[i]] = v
			}
		}
		_, err := gnnRun(reg, GradDomain, c.op, 1, c.attrs, names, []bool{true}, vals, 1)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: error %v, want one mentioning %q", c.op, err, c.want)
		}
	}
}

// BenchmarkConvGrad compares the backward kernel with the forward Conv
// on one ResNet-like layer.
func BenchmarkConvGrad(b *testing.B) {
	reg := Default()
	x, _ := gnnRand(1, 8, 32, 32, 32).Cast(tensor.Float32)
	w, _ := gnnRand(2, 64, 32, 3, 3).Cast(tensor.Float32)
	dy, _ := gnnRand(3, 8, 64, 32, 32).Cast(tensor.Float32)
	vals := map[string]*tensor.Tensor{"x": x, "w": w, "dy": dy}
	attrs := []*Attr{IntsAttr("pads", 1, 1, 1, 1)}
	for _, c := range []struct {
		name, domain, op string
		in               []string
		out              []bool
	}{
		{"forward", "", "Conv", []string{"x", "w"}, []bool{true}},
		{"dX+dW+dB", GradDomain, "ConvGrad", []string{"dy", "x", "w"}, []bool{true, true, true}},
		{"dW+dB", GradDomain, "ConvGrad", []string{"dy", "x", "w"}, []bool{false, true, true}},
	} {
		b.Run(c.name, func(b *testing.B) {
			opset := 11
			if c.domain != "" {
				opset = 1
			}
			def, err := reg.Lookup(c.domain, c.op, opset)
			if err != nil {
				b.Fatal(err)
			}
			k, err := def.Build(gnnBuilder(c.domain, c.op, opset, attrs, c.in, c.out))
			if err != nil {
				b.Fatal(err)
			}
			in := make([]*tensor.Tensor, len(c.in))
			for i, n := range c.in {
				in[i] = vals[n]
			}
			rc := &RunContext{Threads: 2}
			for b.Loop() {
				if _, err := k.Run(rc, in); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
