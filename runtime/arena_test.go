package runtime

import (
	"context"
	"reflect"
	"testing"

	"github.com/onyxrt/onyx/graph"
	"github.com/onyxrt/onyx/ops"
	"github.com/onyxrt/onyx/tensor"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestSizeClass(t *testing.T) {
	tests := []struct{ n, want int }{
		{0, 0}, {1, 1}, {8, 8}, {9, 10}, {15, 16}, {16, 16}, {17, 20},
		{100, 112}, {1000, 1024}, {1 << 20, 1 << 20}, {1<<20 + 1, 1<<20 + 1<<18},
	}
	for _, tc := range tests {
		got := sizeClass(tc.n)
		assert.Equal(t, tc.want, got, "sizeClass(%d)", tc.n)
		assert.GreaterOrEqual(t, got, tc.n)
		assert.LessOrEqual(t, float64(got), float64(tc.n)*1.25+1)
	}
}

// viewModel computes a = Relu(x), b0 = Identity(a) (the same tensor,
// after which a is dead), d = Neg(x) (a fresh value of a's size, made
// while b0 is alive), b = b0 * 1 and returns b and d.
func viewModel() *graph.Model {
	f32 := func(shape ...int64) graph.Type {
		s := make(tensor.SymShape, len(shape))
		for i, d := range shape {
			s[i] = tensor.Dim{Size: d}
		}
		return graph.Type{Kind: graph.KindTensor, DType: tensor.Float32, Shape: s}
	}
	g := &graph.Graph{
		Inputs:  []graph.ValueInfo{{Name: "x", Type: f32(2, 3)}},
		Outputs: []graph.ValueInfo{{Name: "b", Type: f32(2, 3)}, {Name: "d", Type: f32(2, 3)}},
		Nodes: []*graph.Node{
			{Name: "relu", OpType: "Relu", Inputs: []string{"x"}, Outputs: []string{"a"}},
			{Name: "view", OpType: "Identity", Inputs: []string{"a"}, Outputs: []string{"b0"}},
			{Name: "neg", OpType: "Neg", Inputs: []string{"x"}, Outputs: []string{"d"}},
			{Name: "abs", OpType: "Abs", Inputs: []string{"b0"}, Outputs: []string{"b1"}},
			{Name: "id", OpType: "Mul", Inputs: []string{"b0", "one"}, Outputs: []string{"b"}},
			{Name: "sink", OpType: "Neg", Inputs: []string{"b1"}, Outputs: []string{"unused"}},
		},
	}
	g.AddInitializer("one", tensor.Scalar[float32](1))
	return &graph.Model{IRVersion: 8, Opsets: []graph.OpsetImport{{Version: 17}}, Graph: g}
}

func TestArenaKeepsBuffersThatViewsRead(t *testing.T) {
	s, err := Compile(viewModel(), Options{Threads: 1, DisableGraphPasses: true})
	require.NoError(t, err)
	x := tensor.From([]int{2, 3}, []float32{-1, 2, -3, 4, -5, 6})
	var first map[string]*tensor.Tensor
	for run := range 4 {
		out, err := s.Run(context.Background(), map[string]*tensor.Tensor{"x": x})
		require.NoError(t, err)
		assert.Equal(t, []float32{0, 2, 0, 4, 0, 6}, out["b"].Float32s(), "run %d", run)
		assert.Equal(t, []float32{1, -2, 3, -4, 5, -6}, out["d"].Float32s(), "run %d", run)
		if first == nil {
			first = out
		}
	}
	// Later runs must not have written into what the first one returned.
	assert.Equal(t, []float32{0, 2, 0, 4, 0, 6}, first["b"].Float32s())
	assert.Equal(t, []float32{1, -2, 3, -4, 5, -6}, first["d"].Float32s())
	assert.Equal(t, []float32{-1, 2, -3, 4, -5, 6}, x.Float32s(), "the feed is untouched")
}

func TestArenaRecyclesDeadValues(t *testing.T) {
	s, err := Compile(viewModel(), Options{Threads: 1, DisableGraphPasses: true})
	require.NoError(t, err)
	ar := newArena()
	feeds := map[string]*tensor.Tensor{"x": tensor.From([]int{2, 3}, []float32{-1, 2, -3, 4, -5, 6})}
	for range 2 {
		rc := &ops.RunContext{Ctx: context.Background(), Threads: 1, Alloc: ar}
		_, err := s.prog.run(rc, feeds, ar)
		require.NoError(t, err)
		ar.endRun()
	}
	// a comes back once its view b0 is dead too, then serves "unused";
	// b1 and unused come back at the end. The outputs b and d never do.
	total := 0
	for _, c := range ar.classes {
		for _, b := range c.free {
			assert.Equal(t, tensor.Float32, b.key.dt)
		}
		total += len(c.free)
	}
	assert.Equal(t, 2, total)
	assert.Empty(t, ar.out, "endRun forgets the returned outputs")
}

// TestArenaKeepsClassesOfRecentRuns checks which size classes an arena
// keeps after each run: those that one of the last arenaKeepRuns runs
// asked for, so that runs alternating between a few input shapes reuse
// their buffers, and no others, so that an arena does not hold the
// buffers of a shape it no longer sees.
func TestArenaKeepsClassesOfRecentRuns(t *testing.T) {
	ar := newArena()
	// run asks for and gives back one buffer of each size.
	run := func(sizes ...int) {
		ar.mu.Lock()
		for _, n := range sizes {
			_, tag, ok := ar.buffer(tensor.Float32, n)
			require.True(t, ok)
			ar.recycle(tag.(*block))
		}
		ar.mu.Unlock()
		ar.endRun()
	}
	has := func(n int) bool {
		c := ar.classes[classKey{tensor.Float32, sizeClass(n)}.id()]
		return c != nil && len(c.free) > 0
	}
	run(1000, 64) // a large batch once
	for i := 1; i < arenaKeepRuns; i++ {
		run(100, 64) // then small ones
		assert.True(t, has(1000), "after %d runs without it", i)
	}
	run(100, 64)
	assert.False(t, has(1000), "after %d runs without it", arenaKeepRuns)
	assert.True(t, has(100))
	assert.True(t, has(64))
	// Alternating shapes keep both.
	for range 3 * arenaKeepRuns {
		run(1000, 64)
		run(100, 64)
	}
	assert.True(t, has(1000))
	assert.True(t, has(100))
	assert.Len(t, ar.classes, 3)
}

// TestArenaLendsLargerBlocks checks that a request without a free block
// of its class takes the smallest free block of a larger class up to
// arenaBorrow times its size, and makes its own otherwise.
func TestArenaLendsLargerBlocks(t *testing.T) {
	ar := newArena()
	ar.mu.Lock()
	get := func(n int) *block {
		_, tag, ok := ar.buffer(tensor.Float32, n)
		require.True(t, ok)
		return tag.(*block)
	}
	big, mid := get(1000), get(700)
	ar.recycle(big)
	ar.recycle(mid)
	a := get(600) // the smallest larger block: mid's
	assert.Same(t, mid, a)
	b := get(600) // then big's
	assert.Same(t, big, b)
	c := get(600) // none left: its own
	assert.Equal(t, sizeClass(600), c.key.n)
	ar.recycle(a)
	d := get(100) // 700 is more than arenaBorrow times 100
	assert.NotSame(t, a, d)
	assert.Equal(t, sizeClass(100), d.key.n)
	ar.recycle(b)
	ar.recycle(c)
	ar.recycle(d)
	ar.mu.Unlock()
	ar.endRun()
}

func TestOutputsNeverAliasFeedsOrConstants(t *testing.T) {
	ty := graph.Type{Kind: graph.KindTensor, DType: tensor.Float32, Shape: tensor.SymShape{{Size: 2}}}
	g := &graph.Graph{
		Inputs:  []graph.ValueInfo{{Name: "x", Type: ty}},
		Outputs: []graph.ValueInfo{{Name: "fx", Type: ty}, {Name: "fw", Type: ty}},
		Nodes: []*graph.Node{
			{Name: "a", OpType: "Identity", Inputs: []string{"x"}, Outputs: []string{"fx"}},
			{Name: "b", OpType: "Identity", Inputs: []string{"w"}, Outputs: []string{"fw"}},
		},
	}
	w := tensor.From([]int{2}, []float32{5, 6})
	g.AddInitializer("w", w)
	m := &graph.Model{IRVersion: 8, Opsets: []graph.OpsetImport{{Version: 17}}, Graph: g}
	for _, opts := range []Options{{}, {DisableConstantFolding: true}} {
		s, err := Compile(m, opts)
		require.NoError(t, err)
		x := tensor.From([]int{2}, []float32{1, 2})
		out, err := s.Run(context.Background(), map[string]*tensor.Tensor{"x": x})
		require.NoError(t, err)
		out["fx"].Float32s()[0] = 100
		out["fw"].Float32s()[0] = 100
		assert.Equal(t, []float32{1, 2}, x.Float32s(), "the feed")
		assert.Equal(t, []float32{5, 6}, w.Float32s(), "the initializer")
	}
}

func TestWithSeedMakesUnseededDropoutReproducible(t *testing.T) {
	ty := graph.Type{Kind: graph.KindTensor, DType: tensor.Float32, Shape: tensor.SymShape{{Size: 64}}}
	g := &graph.Graph{
		Inputs:  []graph.ValueInfo{{Name: "x", Type: ty}},
		Outputs: []graph.ValueInfo{{Name: "a", Type: ty}, {Name: "b", Type: ty}},
		Nodes: []*graph.Node{
			{Name: "d1", OpType: "Dropout", Inputs: []string{"x", "ratio", "train"}, Outputs: []string{"a"}},
			{Name: "d2", OpType: "Dropout", Inputs: []string{"x", "ratio", "train"}, Outputs: []string{"b"}},
		},
	}
	g.AddInitializer("ratio", tensor.Scalar[float32](0.5))
	g.AddInitializer("train", tensor.Scalar(true))
	m := &graph.Model{IRVersion: 8, Opsets: []graph.OpsetImport{{Version: 13}}, Graph: g}
	s, err := Compile(m, Options{Threads: 1})
	require.NoError(t, err)
	x := tensor.MustNew(tensor.Float32, 64)
	for i := range x.Float32s() {
		x.Float32s()[i] = 1
	}
	run := func(ctx context.Context) map[string]*tensor.Tensor {
		out, err := s.Run(ctx, map[string]*tensor.Tensor{"x": x})
		require.NoError(t, err)
		return out
	}
	one := run(WithSeed(context.Background(), 7))
	two := run(WithSeed(context.Background(), 7))
	other := run(WithSeed(context.Background(), 8))
	assert.Equal(t, one["a"].Float32s(), two["a"].Float32s(), "same seed, same mask")
	assert.Equal(t, one["b"].Float32s(), two["b"].Float32s())
	assert.NotEqual(t, one["a"].Float32s(), one["b"].Float32s(), "two nodes draw differently")
	assert.NotEqual(t, one["a"].Float32s(), other["a"].Float32s(), "another seed, another mask")
}

func TestRunsKeepTheirWorkersInTheArena(t *testing.T) {
	const n = 1 << 18 // enough for Relu to split over two threads
	ty := graph.Type{Kind: graph.KindTensor, DType: tensor.Float32, Shape: tensor.SymShape{{Size: n}}}
	g := &graph.Graph{
		Inputs:  []graph.ValueInfo{{Name: "x", Type: ty}},
		Outputs: []graph.ValueInfo{{Name: "y", Type: ty}},
		Nodes:   []*graph.Node{{Name: "relu", OpType: "Relu", Inputs: []string{"x"}, Outputs: []string{"y"}}},
	}
	m := &graph.Model{IRVersion: 8, Opsets: []graph.OpsetImport{{Version: 17}}, Graph: g}
	s, err := Compile(m, Options{Threads: 2})
	require.NoError(t, err)
	x := tensor.MustNew(tensor.Float32, n)
	workers := func() *ops.Workers {
		_, err := s.Run(context.Background(), map[string]*tensor.Tensor{"x": x})
		require.NoError(t, err)
		a := s.arenas.hot.Load()
		require.NotNil(t, a, "the arena is back in the pool's hot slot")
		s.arenas.mu.Lock()
		defer s.arenas.mu.Unlock()
		require.Empty(t, s.arenas.idle)
		return a.workers
	}
	w := workers()
	require.NotNil(t, w, "a two-thread run has workers")
	assert.Same(t, w, workers(), "the next run reuses them, still warm")
	// What the cleanup does once the session is garbage (ops tests that
	// Close ends the goroutines).
	s.arenas.close()
	assert.Empty(t, s.arenas.idle)
	assert.Nil(t, s.arenas.hot.Load())
}

// TestArenaBuffersHaveSlack checks that every buffer the arena hands out
// has bufferSlack bytes of spare capacity after its elements, for the
// masked loads and stores of the assembly kernels.
func TestArenaBuffersHaveSlack(t *testing.T) {
	a := newArena()
	for _, dt := range []tensor.DType{tensor.Float32, tensor.Float64, tensor.Int64, tensor.Int32, tensor.Uint8,
		tensor.Int8, tensor.Bool, tensor.Float16, tensor.BFloat16, tensor.Int16, tensor.Uint16, tensor.Uint32, tensor.Uint64} {
		for _, n := range []int{1, 7, 9, 100, 1000, 1024} {
			data, _, ok := a.buffer(dt, n)
			require.True(t, ok, "%v %d", dt, n)
			v := reflect.ValueOf(data)
			require.Equal(t, n, v.Len(), "%v %d", dt, n)
			spare := (v.Cap() - v.Len()) * dt.Size()
			assert.GreaterOrEqual(t, spare, bufferSlack, "%v, %d elements: %d spare bytes", dt, n, spare)
		}
	}
}

// TestPlanLiveSets checks the slots each releasing step lists as live
// (program.planLiveSets) on a hand-made program: a feed, a constant, a
// value two steps read, one that is never read, an output that is never
// released and an enclosing-scope value.
func TestPlanLiveSets(t *testing.T) {
	// Slots: 0 x (feed), 1 w (constant), 2 a, 3 b, 4 unused, 5 c, 6 y
	// (output), 7 o (outer).
	p := &program{slots: 8, inputSlots: []int{0}, outer: []int{7}, constEnv: make([]*tensor.Tensor, 8)}
	p.constEnv[1] = tensor.From([]int{1}, []float32{1})
	p.steps = []step{
		{in: []int{0, 1}, out: []int{2}, release: []int{0}},    // a = f(x, w)
		{in: []int{2, 7}, out: []int{3, 4}, release: []int{4}}, // b, unused = g(a, o)
		{in: []int{2, 3}, out: []int{5}, release: []int{2, 3}}, // c = h(a, b)
		{in: []int{5}, out: []int{6}, release: []int{5, 7}},    // y = k(c)
	}
	p.planLiveSets()
	want := [][]int{{0, 7, 2}, {2, 7, 3, 4}, {2, 7, 3, 5}, {5, 7, 6}}
	for i, st := range p.steps {
		assert.ElementsMatch(t, want[i], st.live, "step %d", i)
		assert.NotNil(t, st.live, "step %d: a nil list would mean every slot", i)
	}
}
