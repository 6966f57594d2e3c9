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

// placeModel chains Concats as DenseNet does, on x of shape [n, 2, 3]:
// c1 = [relu(x), -x] and c2 = [c1, sigmoid(c1)] along the channels (c2's
// axis given as -2), then e = c2·c2 and r, c2 reshaped to [n·8, 3], as
// outputs; c3 = [-x, relu(x)], itself an output, joins values placed in
// c2 too, and g = relu([d, d]) joins one value twice.
func placeModel(n int) *graph.Model {
	typ := func(shape ...int) graph.Type {
		s := make(tensor.SymShape, len(shape))
		for i, d := range shape {
			s[i] = tensor.Dim{Size: int64(d)}
		}
		return graph.Type{Kind: graph.KindTensor, DType: tensor.Float32, Shape: s}
	}
	axis := func(a int64) []*ops.Attr { return []*ops.Attr{{Name: "axis", Type: ops.AttrInt, Int: a}} }
	g := &graph.Graph{
		Inputs: []graph.ValueInfo{{Name: "x", Type: typ(n, 2, 3)}},
		Outputs: []graph.ValueInfo{{Name: "e", Type: typ(n, 8, 3)}, {Name: "r", Type: typ(n*8, 3)},
			{Name: "c3", Type: typ(n, 4, 3)}, {Name: "g", Type: typ(n, 8, 3)}},
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
		xi := x[i*6 : i*6+6]
		var c1, d []float32
		for _, v := range xi {
			c1 = append(c1, max(v, 0))
		}
		for _, v := range xi {
			c1 = append(c1, -v)
		}
		for _, v := range c1 {
			d = append(d, float32(1/(1+math.Exp(-float64(v)))))
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
	require.Len(t, p.roots, 2)
	c2 := at("c2").root
	assert.Equal(t, []int{1, 8, 3}, p.roots[c2].shape)
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
