package runtime

import (
	"context"
	"fmt"
	"math"
	"sync"
	"testing"

	"github.com/onyxrt/onyx/graph"
	"github.com/onyxrt/onyx/ops"
	"github.com/onyxrt/onyx/tensor"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// staticF32 is a float32 tensor type of a fully known shape.
func staticF32(shape ...int) graph.Type {
	s := make(tensor.SymShape, len(shape))
	for i, d := range shape {
		s[i] = tensor.Dim{Size: int64(d)}
	}
	return graph.Type{Kind: graph.KindTensor, DType: tensor.Float32, Shape: s}
}

// placeModel chains Concats as DenseNet does, on x of shape [n, 2, 3]:
// c1 = [relu(x), -x] and c2 = [c1, sigmoid(c1)] along the channels (c2's
// axis given as -2), then e = c2·c2 and r, c2 reshaped to [n·8, 3], as
// outputs; c3 = [-x, relu(x)], itself an output, joins values placed in
// c2 too, and g = relu([d, d]) joins one value twice.
func placeModel(n int) *graph.Model {
	axis := func(a int64) []*ops.Attr { return []*ops.Attr{{Name: "axis", Type: ops.AttrInt, Int: a}} }
	g := &graph.Graph{
		Inputs: []graph.ValueInfo{{Name: "x", Type: staticF32(n, 2, 3)}},
		Outputs: []graph.ValueInfo{{Name: "e", Type: staticF32(n, 8, 3)}, {Name: "r", Type: staticF32(n*8, 3)},
			{Name: "c3", Type: staticF32(n, 4, 3)}, {Name: "g", Type: staticF32(n, 8, 3)}},
		Nodes: []*graph.Node{
			{Name: "relu", OpType: "Relu", Inputs: []string{"x"}, Outputs: []string{"a"}},
			{Name: "neg", OpType: "Neg", Inputs: []string{"x"}, Outputs: []string{"b"}},
			{Name: "c1", OpType: "Concat", Inputs: []string{"a", "b"}, Outputs: []string{"c1"}, Attrs: axis(1)},
			{Name: "sig", OpType: "Sigmoid", Inputs: []string{"c1"}, Outputs: []string{"d"}},
			{Name: "c2", OpType: "Concat", Inputs: []string{"c1", "d"}, Outputs: []string{"c2"}, Attrs: axis(-2)},
			{Name: "mul", OpType: "Mul", Inputs: []string{"c2", "c2"}, Outputs: []string{"e"}},
			{Name: "reshape", OpType: "Reshape", Inputs: []string{"c2", "shape"}, Outputs: []string{"r"}},
			{Name: "c3", OpType: "Concat", Inputs: []string{"b", "a"}, Outputs: []string{"c3"}, Attrs: axis(1)},
			{Name: "c4", OpType: "Concat", Inputs: []string{"d", "d"}, Outputs: []string{"c4"}, Attrs: axis(1)},
			{Name: "relu4", OpType: "Relu", Inputs: []string{"c4"}, Outputs: []string{"g"}},
		},
	}
	g.AddInitializer("shape", tensor.From([]int{2}, []int64{int64(n * 8), 3}))
	return &graph.Model{IRVersion: 8, Opsets: []graph.OpsetImport{{Version: 17}}, Graph: g}
}

// placeWant computes placeModel's outputs for x directly.
func placeWant(n int, x []float32) map[string][]float32 {
	want := map[string][]float32{}
	for i := 0; i < n; i++ {
		c1 := reluNeg(x[i*6 : i*6+6])
		var d []float32
		for _, v := range c1 {
			d = append(d, sigmoid32(v))
		}
		c2 := append(append([]float32{}, c1...), d...)
		for _, v := range c2 {
			want["e"] = append(want["e"], v*v)
		}
		want["r"] = append(want["r"], c2...)
		want["c3"] = append(append(want["c3"], c1[6:]...), c1[:6]...)
		want["g"] = append(append(want["g"], d...), d...)
	}
	return want
}

// reluNeg returns [relu(x), -x] side by side.
func reluNeg(x []float32) []float32 {
	var r []float32
	for _, v := range x {
		r = append(r, max(v, 0))
	}
	for _, v := range x {
		r = append(r, -v)
	}
	return r
}

func sigmoid32(v float32) float32 { return float32(1 / (1 + math.Exp(-float64(v)))) }

func placeFeeds(n, run int) (map[string]*tensor.Tensor, []float32) {
	x := make([]float32, n*6)
	for i := range x {
		x[i] = float32((i*7+run*3)%11)/3 - 1.5
	}
	return map[string]*tensor.Tensor{"x": tensor.From([]int{n, 2, 3}, x)}, x
}

// TestPlacementPlan checks where placeModel's values are computed: with
// one image, c1 and its inputs in c2's storage (c1 at its start), d,
// which c2 and the later c4 join, in c4's (at its start; c2 copies it),
// and c3 (a graph output) not planned; with two images, nowhere (the
// channels of an image are not contiguous).
func TestPlacementPlan(t *testing.T) {
	s, err := Compile(placeModel(1), Options{Threads: 1})
	require.NoError(t, err)
	p := s.prog
	at := func(name string) placement { return p.place[p.slotOf[name]] }
	require.NotNil(t, p.place)
	require.Len(t, p.roots, 2) // c2's and c4's, whose lives overlap
	c2 := at("c2").root
	assert.Equal(t, 24, p.roots[c2].n)
	for name, off := range map[string]int{"c2": 0, "c1": 0, "a": 0, "b": 6} {
		assert.Equal(t, c2, at(name).root, name)
		assert.Equal(t, off, at(name).off, name)
	}
	assert.Equal(t, []int{1, 2, 3}, at("b").shape)
	c4 := at("c4").root
	assert.Equal(t, 1-c2, c4)
	assert.Equal(t, c4, at("d").root)
	assert.Equal(t, 0, at("d").off)
	for _, name := range []string{"x", "c3", "e", "r", "g"} {
		assert.Equal(t, -1, at(name).root, name)
	}

	// After a run, the arena's storage of c2 holds c2: c1's inputs and
	// c1 were computed there (d, computed in c4's, was copied in).
	feeds, x := placeFeeds(1, 3)
	_, err = s.Run(context.Background(), feeds)
	require.NoError(t, err)
	ar := s.arenas.get() // the arena of that run
	defer s.arenas.put(ar)
	require.Len(t, ar.roots, 2)
	assert.InDeltaSlice(t, placeWant(1, x)["r"], ar.roots[c2].Float32s(), 1e-6)

	s2, err := Compile(placeModel(2), Options{Threads: 1})
	require.NoError(t, err)
	assert.Nil(t, s2.prog.place)
}

// TestPlacementResults checks placeModel's outputs against the formulas
// run after run, with one and two images and threads, through Run and
// RunInto: the outputs a run returned stay as they were through later
// runs (r, a view of c2's storage, is the caller's copy), and runs on
// several goroutines at once, each on an arena of its own, agree.
func TestPlacementResults(t *testing.T) {
	for _, n := range []int{1, 2} {
		for _, threads := range []int{1, 2} {
			t.Run(fmt.Sprintf("n%d/t%d", n, threads), func(t *testing.T) {
				s, err := Compile(placeModel(n), Options{Threads: threads})
				require.NoError(t, err)
				ctx := context.Background()
				check := func(run int, outs map[string]*tensor.Tensor) {
					_, x := placeFeeds(n, run)
					for name, want := range placeWant(n, x) {
						assert.InDeltaSlice(t, want, outs[name].Float32s(), 1e-6, "run %d output %s", run, name)
					}
				}
				var kept []map[string]*tensor.Tensor
				into := map[string]*tensor.Tensor{}
				for run := 0; run < 4; run++ {
					feeds, _ := placeFeeds(n, run)
					outs, err := s.Run(ctx, feeds)
					require.NoError(t, err)
					check(run, outs)
					kept = append(kept, outs)
					require.NoError(t, s.RunInto(ctx, feeds, into))
					check(run, into)
				}
				for run, outs := range kept {
					check(run, outs)
				}
				var wg sync.WaitGroup
				for gr := 0; gr < 4; gr++ {
					wg.Add(1)
					go func() {
						defer wg.Done()
						for run := gr; run < gr+20; run++ {
							feeds, _ := placeFeeds(n, run)
							outs, err := s.Run(ctx, feeds)
							if !assert.NoError(t, err) {
								return
							}
							check(run, outs)
						}
					}()
				}
				wg.Wait()
			})
		}
	}
}

// TestPlacementAllocatesNothing checks that a warm RunInto of a model
// whose Concats are computed in place makes no heap allocation.
func TestPlacementAllocatesNothing(t *testing.T) {
	s, err := Compile(placeModel(1), Options{Threads: 1})
	require.NoError(t, err)
	ctx := context.Background()
	feeds, _ := placeFeeds(1, 0)
	outs := map[string]*tensor.Tensor{}
	for range 6 {
		require.NoError(t, s.RunInto(ctx, feeds, outs))
	}
	allocs := testing.AllocsPerRun(20, func() {
		if err := s.RunInto(ctx, feeds, outs); err != nil {
			t.Fatal(err)
		}
	})
	assert.Zero(t, allocs)
}

// shareModel joins two modules' Concats, the second computed from the
// first's: m1 = [relu(x), -x], y = sigmoid(m1), m2 = [relu(y), σ(y)], o =
// relu(m2); with view, r = m1 reshaped to [4, 3] is an output too.
func shareModel(view bool) *graph.Model {
	axis := []*ops.Attr{{Name: "axis", Type: ops.AttrInt, Int: 1}}
	g := &graph.Graph{
		Inputs:  []graph.ValueInfo{{Name: "x", Type: staticF32(1, 2, 3)}},
		Outputs: []graph.ValueInfo{{Name: "o", Type: staticF32(1, 8, 3)}},
		Nodes: []*graph.Node{
			{Name: "relu1", OpType: "Relu", Inputs: []string{"x"}, Outputs: []string{"a1"}},
			{Name: "neg1", OpType: "Neg", Inputs: []string{"x"}, Outputs: []string{"b1"}},
			{Name: "m1", OpType: "Concat", Inputs: []string{"a1", "b1"}, Outputs: []string{"m1"}, Attrs: axis},
			{Name: "sig", OpType: "Sigmoid", Inputs: []string{"m1"}, Outputs: []string{"y"}},
			{Name: "relu2", OpType: "Relu", Inputs: []string{"y"}, Outputs: []string{"a2"}},
			{Name: "sig2", OpType: "Sigmoid", Inputs: []string{"y"}, Outputs: []string{"b2"}},
			{Name: "m2", OpType: "Concat", Inputs: []string{"a2", "b2"}, Outputs: []string{"m2"}, Attrs: axis},
			{Name: "relu3", OpType: "Relu", Inputs: []string{"m2"}, Outputs: []string{"o"}},
		},
	}
	if view {
		g.Outputs = append(g.Outputs, graph.ValueInfo{Name: "r", Type: staticF32(4, 3)})
		g.Nodes = append(g.Nodes, &graph.Node{Name: "reshape", OpType: "Reshape", Inputs: []string{"m1", "shape"}, Outputs: []string{"r"}})
		g.AddInitializer("shape", tensor.From([]int{2}, []int64{4, 3}))
	}
	return &graph.Model{IRVersion: 8, Opsets: []graph.OpsetImport{{Version: 17}}, Graph: g}
}

// TestPlacementSharesBuffers checks that two Concats whose lives do not
// overlap share one buffer when only operators that return outputs of
// their own read their values, and not when a Reshape of the first is
// read at the end (it would see the second's values), and that the
// outputs are right run after run either way.
func TestPlacementSharesBuffers(t *testing.T) {
	for _, view := range []bool{false, true} {
		t.Run(fmt.Sprintf("view=%v", view), func(t *testing.T) {
			s, err := Compile(shareModel(view), Options{Threads: 1})
			require.NoError(t, err)
			p := s.prog
			require.NotNil(t, p.place)
			m1, m2 := p.place[p.slotOf["m1"]].root, p.place[p.slotOf["m2"]].root
			if view {
				assert.Len(t, p.roots, 2)
				assert.NotEqual(t, m1, m2)
			} else {
				assert.Len(t, p.roots, 1)
				assert.Equal(t, m1, m2)
				assert.Equal(t, 24, p.roots[m1].n)
			}
			var kept [][]float32
			for run := 0; run < 4; run++ {
				feeds, x := placeFeeds(1, run)
				outs, err := s.Run(context.Background(), feeds)
				require.NoError(t, err)
				m := reluNeg(x)
				var o []float32
				for _, v := range m {
					o = append(o, max(sigmoid32(v), 0))
				}
				for _, v := range m {
					o = append(o, sigmoid32(sigmoid32(v)))
				}
				assert.InDeltaSlice(t, o, outs["o"].Float32s(), 1e-6, "run %d", run)
				if view {
					assert.InDeltaSlice(t, m, outs["r"].Float32s(), 1e-6, "run %d", run)
					kept = append(kept, outs["r"].Float32s())
				}
			}
			for run, r := range kept {
				_, x := placeFeeds(1, run)
				assert.InDelta(t, max(x[0], 0), r[0], 1e-6, "run %d kept", run)
			}
		})
	}
}
