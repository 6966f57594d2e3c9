package graph_test

import (
	"context"
	"math"
	"testing"

	"github.com/onyxrt/onyx/graph"
	"github.com/onyxrt/onyx/ops"
	"github.com/onyxrt/onyx/runtime"
	"github.com/onyxrt/onyx/tensor"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// This file holds what the graph-pass tests share: building small graphs,
// filling inputs, and checking that a pass leaves the expected nodes and
// does not change the outputs.

// f32 is the type of a float32 tensor of the given static shape.
func f32(shape ...int64) graph.Type {
	s := make(tensor.SymShape, len(shape))
	for i, d := range shape {
		s[i] = tensor.Dim{Size: d}
	}
	return graph.Type{Kind: graph.KindTensor, DType: tensor.Float32, Shape: s}
}

// shapeOf is the static shape of t.
func shapeOf(t graph.Type) []int {
	s := make([]int, len(t.Shape))
	for i, d := range t.Shape {
		s[i] = int(d.Size)
	}
	return s
}

// node is a node with one output.
func node(op string, in []string, out string, attrs ...*ops.Attr) *graph.Node {
	return &graph.Node{OpType: op, Inputs: in, Outputs: []string{out}, Attrs: attrs}
}

// wave is n values of scale·sin(i·f + 0.3): deterministic test data
// without repeats that would hide a misplaced element.
func wave(n int, f, scale float64) []float32 {
	v := make([]float32, n)
	for i := range v {
		v[i] = float32(math.Sin(float64(i)*f+0.3) * scale)
	}
	return v
}

// opTypes lists the op types of g's nodes in order.
func opTypes(g *graph.Graph) []string {
	var out []string
	for _, n := range g.Nodes {
		out = append(out, n.OpType)
	}
	return out
}

// countOps counts g's nodes of type op that have attribute attr (any
// node of type op when attr is empty).
func countOps(g *graph.Graph, op, attr string) int {
	n := 0
	for _, x := range g.Nodes {
		if x.OpType == op && (attr == "" || x.Attr(attr) != nil) {
			n++
		}
	}
	return n
}

// passCase is one row of a graph-pass table test: nodes reading the graph
// input x (of type in) and writing the output y, and the op types that
// graph.Optimize must leave.
type passCase struct {
	name  string
	opset int64 // 13 when zero
	nodes []*graph.Node
	in    graph.Type
	want  []string
}

// runPassCases runs each case as a subtest: it builds the graph with the
// initializers init adds (init may be nil), optimizes it,
// and checks the op types left, that the input graph is unchanged, that
// every node reads only values made before it, and that the outputs on a
// deterministic x are those of the unoptimized graph. check, if not nil,
// looks at the input graph g and the optimized o further.
func runPassCases(t *testing.T, cases []passCase, init func(g *graph.Graph), check func(t *testing.T, g, o *graph.Graph)) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			g := &graph.Graph{
				Inputs:  []graph.ValueInfo{{Name: "x", Type: tc.in}},
				Outputs: []graph.ValueInfo{{Name: "y"}},
				Nodes:   tc.nodes,
			}
			if init != nil {
				init(g)
			}
			before := len(g.Nodes)
			o := graph.Optimize(g)
			assert.Equal(t, tc.want, opTypes(o))
			assert.Len(t, g.Nodes, before, "the input graph must not change")
			_, err := o.TopoSort(nil)
			require.NoError(t, err)
			for i, n := range o.Nodes {
				for _, in := range n.Inputs {
					for _, later := range o.Nodes[i:] {
						for _, out := range later.Outputs {
							assert.NotEqual(t, in, out, "%s reads %s before it is made", n.OpType, in)
						}
					}
				}
			}
			if check != nil {
				check(t, g, o)
			}

			opset := tc.opset
			if opset == 0 {
				opset = 13
			}
			m := &graph.Model{IRVersion: 8, Opsets: []graph.OpsetImport{{Version: opset}}, Graph: g}
			x, err := tensor.New(tensor.Float32, shapeOf(tc.in)...)
			require.NoError(t, err)
			for i := range x.Float32s() {
				x.Float32s()[i] = float32(math.Cos(float64(i)*1.3)) * 2
			}
			compare(t, m, map[string]*tensor.Tensor{"x": x})
		})
	}
}

// compare checks that m gives the same outputs with and without the graph
// passes, to within 1e-5 relative to 1+|want|.
func compare(t *testing.T, m *graph.Model, feeds map[string]*tensor.Tensor) {
	t.Helper()
	compareRuns(t, m, feeds, 1e-5)
}

// compareRuns checks that m gives the same outputs with and without the
// graph passes, to within tol relative to 1+|want|.
func compareRuns(t *testing.T, m *graph.Model, feeds map[string]*tensor.Tensor, tol float64) {
	t.Helper()
	plain, err := runtime.Compile(m, runtime.Options{DisableGraphPasses: true})
	require.NoError(t, err)
	opt, err := runtime.Compile(m, runtime.Options{})
	require.NoError(t, err)
	want, err := plain.Run(context.Background(), feeds)
	require.NoError(t, err)
	got, err := opt.Run(context.Background(), feeds)
	require.NoError(t, err)
	require.Equal(t, len(want), len(got))
	for name, w := range want {
		g := got[name]
		require.NotNil(t, g, name)
		require.True(t, tensor.ShapeEqual(w.Shape(), g.Shape()), "%s: shape %v, want %v", name, g.Shape(), w.Shape())
		require.Equal(t, w.DType(), g.DType(), name)
		wf, gf := w.Float64s(), g.Float64s()
		for i := range wf {
			assert.InDelta(t, wf[i], gf[i], tol*(1+math.Abs(wf[i])), "%s[%d]", name, i)
		}
	}
}
