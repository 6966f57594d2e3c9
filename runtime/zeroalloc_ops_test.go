package runtime_test

import (
	"context"
	"testing"

	"github.com/onyxrt/onyx/graph"
	"github.com/onyxrt/onyx/ops"
	"github.com/onyxrt/onyx/runtime"
	"github.com/onyxrt/onyx/tensor"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestOperatorsRunWithoutAllocating runs single-operator models of the
// default registry through RunInto and checks that a warm run makes no
// heap allocation: the kernels take their outputs, views and result lists
// from the run's arena. Operators whose kernels still allocate (Resize,
// Einsum, TopK, NonZero, CumSum, OneHot, DepthToSpace, GatherElements,
// InstanceNormalization, the convolution, pooling, GEMM and recurrent
// families) are not listed.
func TestOperatorsRunWithoutAllocating(t *testing.T) {
	ints := func(name string, v ...int64) *ops.Attr { return &ops.Attr{Name: name, Type: ops.AttrInts, Ints: v} }
	intAttr := func(name string, v int64) *ops.Attr { return &ops.Attr{Name: name, Type: ops.AttrInt, Int: v} }
	floatAttr := func(name string, v float32) *ops.Attr { return &ops.Attr{Name: name, Type: ops.AttrFloat, Float: v} }
	tests := []struct {
		op    string
		in    []string
		attrs []*ops.Attr
		outs  int
	}{
		{"Relu", []string{"x"}, nil, 1},
		{"Sigmoid", []string{"x"}, nil, 1},
		{"Tanh", []string{"x"}, nil, 1},
		{"Exp", []string{"x"}, nil, 1},
		{"Sqrt", []string{"x"}, nil, 1},
		{"Abs", []string{"x"}, nil, 1},
		{"Neg", []string{"x"}, nil, 1},
		{"Erf", []string{"x"}, nil, 1},
		{"LeakyRelu", []string{"x"}, []*ops.Attr{floatAttr("alpha", 0.1)}, 1},
		{"HardSigmoid", []string{"x"}, nil, 1},
		{"Selu", []string{"x"}, nil, 1},
		{"Softplus", []string{"x"}, nil, 1},
		{"Clip", []string{"x", "zero", "two"}, nil, 1},
		{"PRelu", []string{"x", "slope"}, nil, 1},
		{"Add", []string{"x", "y"}, nil, 1},
		{"Add", []string{"x", "scale"}, nil, 1}, // broadcast along the last axis
		{"Mul", []string{"x", "s4"}, nil, 1},    // broadcast along a middle axis
		{"Sub", []string{"x", "zero"}, nil, 1},
		{"Div", []string{"x", "y"}, nil, 1},
		{"Pow", []string{"x", "two"}, nil, 1},
		{"Max", []string{"x", "y", "zero"}, nil, 1},
		{"Sum", []string{"x", "y"}, nil, 1},
		{"Mean", []string{"x", "y"}, nil, 1},
		{"Less", []string{"x", "zero"}, nil, 1},
		{"Equal", []string{"x", "y"}, nil, 1},
		{"Not", []string{"mask"}, nil, 1},
		{"And", []string{"mask", "mask"}, nil, 1},
		{"Where", []string{"mask", "x", "y"}, nil, 1},
		{"Where", []string{"mask", "x", "zero"}, nil, 1},
		{"Cast", []string{"x"}, []*ops.Attr{intAttr("to", int64(tensor.Int32))}, 1},
		{"Cast", []string{"mask"}, []*ops.Attr{intAttr("to", int64(tensor.Float32))}, 1},
		{"Softmax", []string{"x"}, nil, 1},
		{"Softmax", []string{"x"}, []*ops.Attr{intAttr("axis", 1)}, 1},
		{"LogSoftmax", []string{"x"}, nil, 1},
		{"ReduceMean", []string{"x"}, []*ops.Attr{ints("axes", 2)}, 1},
		{"ReduceSum", []string{"x", "ax2"}, nil, 1},
		{"ReduceMax", []string{"x"}, []*ops.Attr{ints("axes", 1)}, 1},
		{"ArgMax", []string{"x"}, []*ops.Attr{intAttr("axis", 1)}, 1},
		{"LayerNormalization", []string{"x", "scale", "bias"}, nil, 1},
		{"BatchNormalization", []string{"x", "s4", "b4", "m4", "v4"}, nil, 1},
		{"Reshape", []string{"x", "target"}, nil, 1},
		{"Flatten", []string{"x"}, nil, 1},
		{"Squeeze", []string{"x1"}, nil, 1},
		{"Unsqueeze", []string{"x", "ax2"}, nil, 1},
		{"Identity", []string{"x"}, nil, 1},
		{"Dropout", []string{"x"}, nil, 1},
		{"Shape", []string{"x"}, nil, 1},
		{"Size", []string{"x"}, nil, 1},
		{"Transpose", []string{"x"}, []*ops.Attr{ints("perm", 0, 2, 1)}, 1},
		{"Concat", []string{"x", "y"}, []*ops.Attr{intAttr("axis", 1)}, 1},
		{"Split", []string{"x", "split"}, []*ops.Attr{intAttr("axis", 2)}, 2},
		{"Slice", []string{"x", "starts", "ends", "ax2"}, nil, 1},
		{"Gather", []string{"x", "idx"}, []*ops.Attr{intAttr("axis", 1)}, 1},
		{"Expand", []string{"s4", "xshape"}, nil, 1},
		{"Tile", []string{"x", "reps"}, nil, 1},
		{"Pad", []string{"x", "pads"}, nil, 1},
		{"ConstantOfShape", []string{"xshape"}, nil, 1},
		{"Range", []string{"r0", "r1", "r2"}, nil, 1},
		{"Trilu", []string{"x"}, nil, 1},
	}
	f32 := func(shape ...int) *tensor.Tensor {
		x := tensor.MustNew(tensor.Float32, shape...)
		for i := range x.Float32s() {
			x.Float32s()[i] = float32(i%7)/3 - 0.9
		}
		return x
	}
	mask := tensor.MustNew(tensor.Bool, 2, 4, 6)
	for i := range tensor.Data[bool](mask) {
		tensor.Data[bool](mask)[i] = i%3 == 0
	}
	fed := map[string]*tensor.Tensor{"x": f32(2, 4, 6), "y": f32(2, 4, 6), "mask": mask, "x1": f32(2, 1, 6)}
	consts := map[string]*tensor.Tensor{
		"zero": tensor.Scalar[float32](0), "two": tensor.Scalar[float32](2),
		"ax2": tensor.From([]int{1}, []int64{2}), "scale": f32(6), "bias": f32(6),
		"s4": f32(4, 1), "b4": f32(4), "m4": f32(4), "v4": tensor.From([]int{4}, []float32{1, 2, 3, 4}),
		"slope": f32(6), "target": tensor.From([]int{2}, []int64{-1, 3}),
		"split": tensor.From([]int{2}, []int64{2, 4}), "starts": tensor.From([]int{1}, []int64{1}),
		"ends": tensor.From([]int{1}, []int64{5}), "idx": tensor.From([]int{2}, []int64{3, -1}),
		"xshape": tensor.From([]int{3}, []int64{2, 4, 6}), "reps": tensor.From([]int{3}, []int64{1, 2, 1}),
		"pads": tensor.From([]int{6}, []int64{0, 1, 0, 0, 1, 2}),
		"r0":   tensor.Scalar[float32](0), "r1": tensor.Scalar[float32](5), "r2": tensor.Scalar[float32](1),
	}
	for _, tc := range tests {
		t.Run(tc.op, func(t *testing.T) {
			g := &graph.Graph{Nodes: []*graph.Node{{Name: "n", OpType: tc.op, Inputs: tc.in, Attrs: tc.attrs}}}
			feeds := map[string]*tensor.Tensor{}
			for _, name := range tc.in {
				if x, ok := fed[name]; ok {
					g.Inputs = append(g.Inputs, graph.ValueInfo{Name: name, Type: graph.Type{Kind: graph.KindTensor, DType: x.DType()}})
					feeds[name] = x
				} else {
					g.AddInitializer(name, consts[name])
				}
			}
			for i := 0; i < tc.outs; i++ {
				name := string(rune('a' + i))
				g.Nodes[0].Outputs = append(g.Nodes[0].Outputs, name)
				g.Outputs = append(g.Outputs, graph.ValueInfo{Name: name, Type: graph.Type{Kind: graph.KindTensor}})
			}
			m := &graph.Model{IRVersion: 8, Opsets: []graph.OpsetImport{{Version: 17}}, Graph: g}
			// Without folding, so that nodes of constants run too.
			s, err := runtime.Compile(m, runtime.Options{Threads: 1, DisableConstantFolding: true})
			require.NoError(t, err)
			ctx := context.Background()
			want, err := s.Run(ctx, feeds)
			require.NoError(t, err)
			outs := map[string]*tensor.Tensor{}
			require.NoError(t, s.RunInto(ctx, feeds, outs))
			if allocs := testing.AllocsPerRun(20, func() { _ = s.RunInto(ctx, feeds, outs) }); !raceEnabled {
				assert.Zero(t, allocs, "allocations per warm run")
			}
			for name, w := range want {
				got := outs[name]
				assert.Equal(t, w.Shape(), got.Shape(), name)
				assert.Equal(t, w.DType(), got.DType(), name)
				for i, v := range w.Float64s() {
					if g := got.Float64s()[i]; g != v && (g == g || v == v) {
						t.Errorf("%s[%d] = %v, want %v", name, i, g, v)
						break
					}
				}
			}
		})
	}
}
