package runtime_test

import (
	"context"
	"fmt"
	goruntime "runtime"
	"sync"
	"testing"
	"weak"

	"github.com/onyxrt/onyx/graph"
	"github.com/onyxrt/onyx/ops"
	"github.com/onyxrt/onyx/runtime"
	"github.com/onyxrt/onyx/tensor"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// layoutModel chains the elementwise, activation, layout, shape and
// indexing operators of the default registry (broadcasting included) on
// x of shape [N, 4, 6], with N symbolic so that Shape and Expand run at
// run time.
func layoutModel() *graph.Model {
	i64 := func(shape ...int) graph.Type {
		t := f32(shape...)
		t.DType = tensor.Int64
		return t
	}
	g := &graph.Graph{
		Inputs: []graph.ValueInfo{{Name: "x", Type: f32(-1, 4, 6)}, {Name: "ids", Type: i64(3)}},
		Outputs: []graph.ValueInfo{
			{Name: "sig", Type: f32(-1, 3)}, {Name: "rs", Type: f32(-1, 2, 4)},
			{Name: "sh", Type: i64(3)}, {Name: "e", Type: f32(-1, 4, 6)}, {Name: "id", Type: f32(-1, 3)},
		},
		Nodes: []*graph.Node{
			{Name: "relu", OpType: "Relu", Inputs: []string{"x"}, Outputs: []string{"r"}},
			{Name: "add", OpType: "Add", Inputs: []string{"r", "b"}, Outputs: []string{"a"}},
			{Name: "mul", OpType: "Mul", Inputs: []string{"a", "c"}, Outputs: []string{"m"}},
			{Name: "tr", OpType: "Transpose", Inputs: []string{"m"}, Outputs: []string{"t"},
				Attrs: []*ops.Attr{{Name: "perm", Type: ops.AttrInts, Ints: []int64{0, 2, 1}}}},
			{Name: "sm", OpType: "Softmax", Inputs: []string{"t"}, Outputs: []string{"s"}},
			{Name: "flat", OpType: "Flatten", Inputs: []string{"s"}, Outputs: []string{"f"}},
			{Name: "cat", OpType: "Concat", Inputs: []string{"f", "f"}, Outputs: []string{"cat"},
				Attrs: []*ops.Attr{{Name: "axis", Type: ops.AttrInt, Int: 1}}},
			{Name: "gather", OpType: "Gather", Inputs: []string{"cat", "ids"}, Outputs: []string{"gat"},
				Attrs: []*ops.Attr{{Name: "axis", Type: ops.AttrInt, Int: 1}}},
			{Name: "sig", OpType: "Sigmoid", Inputs: []string{"gat"}, Outputs: []string{"sig"}},
			{Name: "id", OpType: "Identity", Inputs: []string{"gat"}, Outputs: []string{"id"}},
			{Name: "slice", OpType: "Slice", Inputs: []string{"cat", "starts", "ends", "axes"}, Outputs: []string{"sl"}},
			{Name: "unsq", OpType: "Unsqueeze", Inputs: []string{"sl", "one_axis"}, Outputs: []string{"u"}},
			{Name: "sq", OpType: "Squeeze", Inputs: []string{"u", "one_axis"}, Outputs: []string{"q"}},
			{Name: "clip", OpType: "Clip", Inputs: []string{"q", "lo", "hi"}, Outputs: []string{"cl"}},
			{Name: "reshape", OpType: "Reshape", Inputs: []string{"cl", "target"}, Outputs: []string{"rs"}},
			{Name: "shape", OpType: "Shape", Inputs: []string{"x"}, Outputs: []string{"sh"}},
			{Name: "expand", OpType: "Expand", Inputs: []string{"half", "sh"}, Outputs: []string{"e0"}},
			{Name: "sub", OpType: "Sub", Inputs: []string{"e0", "x"}, Outputs: []string{"e"}},
		},
	}
	g.AddInitializer("b", tensor.From([]int{6}, []float32{1, 2, 3, 4, 5, 6}))
	g.AddInitializer("c", tensor.From([]int{4, 1}, []float32{0.5, -1, 2, 0.25}))
	g.AddInitializer("starts", tensor.From([]int{1}, []int64{2}))
	g.AddInitializer("ends", tensor.From([]int{1}, []int64{10}))
	g.AddInitializer("axes", tensor.From([]int{1}, []int64{1}))
	g.AddInitializer("one_axis", tensor.From([]int{1}, []int64{1}))
	g.AddInitializer("lo", tensor.Scalar[float32](0.01))
	g.AddInitializer("hi", tensor.Scalar[float32](0.2))
	g.AddInitializer("target", tensor.From([]int{3}, []int64{-1, 2, 4}))
	g.AddInitializer("half", tensor.From([]int{1, 1, 1}, []float32{0.5}))
	return &graph.Model{IRVersion: 8, Opsets: []graph.OpsetImport{{Version: 17}}, Graph: g}
}

func layoutFeeds(n int) map[string]*tensor.Tensor {
	x := tensor.MustNew(tensor.Float32, n, 4, 6)
	for i := range x.Float32s() {
		x.Float32s()[i] = float32(i%13)/4 - 1
	}
	return map[string]*tensor.Tensor{"x": x, "ids": tensor.From([]int{3}, []int64{0, -1, 30})}
}

// TestRunIntoAllocatesNothing checks the requirement on the
// runtime and the kernels of layoutModel: once warm, a run through
// RunInto makes no heap allocation at all.
func TestRunIntoAllocatesNothing(t *testing.T) {
	for _, threads := range []int{1, 2} {
		for _, opts := range []runtime.Options{{Threads: threads}, {Threads: threads, DisableConstantFolding: true}} {
			name := fmt.Sprintf("threads %d folding %v", threads, !opts.DisableConstantFolding)
			t.Run(name, func(t *testing.T) {
				s, err := runtime.Compile(layoutModel(), opts)
				require.NoError(t, err)
				ctx := context.Background()
				feeds := layoutFeeds(5)
				want, err := s.Run(ctx, feeds)
				require.NoError(t, err)
				outs := map[string]*tensor.Tensor{}
				run := func() {
					if err := s.RunInto(ctx, feeds, outs); err != nil {
						t.Fatal(err)
					}
				}
				run()
				bound := map[string]*tensor.Tensor{}
				for k, v := range outs {
					bound[k] = v
				}
				if allocs := testing.AllocsPerRun(50, run); !raceEnabled {
					assert.Zero(t, allocs, "allocations per warm RunInto")
				}
				for k, v := range want {
					assert.Same(t, bound[k], outs[k], "%s is written in place", k)
					assert.Equal(t, v.Shape(), outs[k].Shape(), k)
					assert.Equal(t, v.Data(), outs[k].Data(), k)
				}
			})
		}
	}
}

func TestRunIntoOutputs(t *testing.T) {
	s, err := runtime.Compile(layoutModel(), runtime.Options{Threads: 1})
	require.NoError(t, err)
	ctx := context.Background()
	feeds := layoutFeeds(2)
	want, err := s.Run(ctx, feeds)
	require.NoError(t, err)

	sig := tensor.MustNew(tensor.Float32, 2, 3)
	wrongShape := tensor.MustNew(tensor.Float32, 7, 3)
	wrongType := tensor.MustNew(tensor.Float64, 3)
	outs := map[string]*tensor.Tensor{"sig": sig, "id": wrongShape, "sh": wrongType, "rs": nil}
	require.NoError(t, s.RunInto(ctx, feeds, outs))
	assert.Same(t, sig, outs["sig"], "a fitting tensor receives the output")
	assert.Equal(t, want["sig"].Float32s(), sig.Float32s())
	for _, name := range []string{"id", "sh", "rs", "e"} {
		assert.Equal(t, want[name].Shape(), outs[name].Shape(), "%s is replaced by a fresh tensor", name)
		assert.Equal(t, want[name].Data(), outs[name].Data(), name)
	}
	assert.Equal(t, make([]float32, 21), wrongShape.Float32s(), "a tensor that does not fit is left alone")

	// The outputs are the caller's: later runs, through Run or RunInto
	// with other maps, do not touch them.
	fresh := map[string]*tensor.Tensor{}
	for k, v := range outs {
		fresh[k] = v.Clone()
	}
	other := layoutFeeds(2)
	other["x"].Float32s()[0] = 40
	for range 3 {
		_, err := s.Run(ctx, other)
		require.NoError(t, err)
		require.NoError(t, s.RunInto(ctx, other, map[string]*tensor.Tensor{}))
	}
	for k, v := range fresh {
		assert.Equal(t, v.Data(), outs[k].Data(), k)
	}

	assert.ErrorContains(t, s.RunInto(ctx, feeds, nil), "nil")
	assert.ErrorContains(t, s.RunInto(ctx, feeds, map[string]*tensor.Tensor{"nope": nil}), `"nope" is not an output`)
	assert.ErrorContains(t, s.RunInto(ctx, feeds, map[string]*tensor.Tensor{s.Outputs()[0].Name: nil, "nope": nil}), `"nope" is not an output`)
}

// TestRunIntoOutputMayBeAFeed binds a feed as the output that replaces
// it, as a recurrent state would be: the output is written after every
// node has read the feed.
func TestRunIntoOutputMayBeAFeed(t *testing.T) {
	g := &graph.Graph{
		Inputs:  []graph.ValueInfo{{Name: "h", Type: f32(2, 3)}},
		Outputs: []graph.ValueInfo{{Name: "h2", Type: f32(2, 3)}},
		Nodes: []*graph.Node{
			{Name: "t", OpType: "Transpose", Inputs: []string{"h"}, Outputs: []string{"ht"}},
			{Name: "r", OpType: "Reshape", Inputs: []string{"ht", "shape"}, Outputs: []string{"hr"}},
			{Name: "a", OpType: "Add", Inputs: []string{"hr", "h"}, Outputs: []string{"h2"}},
		},
	}
	g.AddInitializer("shape", tensor.From([]int{2}, []int64{2, 3}))
	m := &graph.Model{IRVersion: 8, Opsets: []graph.OpsetImport{{Version: 17}}, Graph: g}
	s, err := runtime.Compile(m, runtime.Options{Threads: 1})
	require.NoError(t, err)
	h := tensor.From([]int{2, 3}, []float32{1, 2, 3, 4, 5, 6})
	io := map[string]*tensor.Tensor{"h": h}
	outs := map[string]*tensor.Tensor{"h2": h}
	require.NoError(t, s.RunInto(context.Background(), io, outs))
	// transpose [[1,4],[2,5],[3,6]] read as 2x3: 1 4 2 / 5 3 6
	assert.Equal(t, []float32{2, 6, 5, 9, 8, 12}, h.Float32s())
	assert.Same(t, h, outs["h2"])
}

// TestConcurrentRunInto runs RunInto and Run from many goroutines on one
// session (run it with -race), each RunInto with its own output map.
func TestConcurrentRunInto(t *testing.T) {
	s, err := runtime.Compile(layoutModel(), runtime.Options{Threads: 2})
	require.NoError(t, err)
	ctx := context.Background()
	type result struct {
		feeds map[string]*tensor.Tensor
		want  map[string]*tensor.Tensor
	}
	var cases []result
	for n := 1; n <= 4; n++ {
		f := layoutFeeds(n)
		f["x"].Float32s()[0] = float32(n)
		w, err := s.Run(ctx, f)
		require.NoError(t, err)
		cases = append(cases, result{f, w})
	}
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			outs := map[string]*tensor.Tensor{}
			for i := 0; i < 40; i++ {
				c := cases[(g+i)%len(cases)]
				var got map[string]*tensor.Tensor
				if g%2 == 0 {
					if err := s.RunInto(ctx, c.feeds, outs); err != nil {
						errs <- err
						return
					}
					got = outs
				} else {
					var err error
					if got, err = s.Run(ctx, c.feeds); err != nil {
						errs <- err
						return
					}
				}
				for k, v := range c.want {
					if !assert.ObjectsAreEqual(v.Data(), got[k].Data()) {
						errs <- fmt.Errorf("goroutine %d run %d: output %s differs", g, i, k)
						return
					}
				}
			}
		}(g)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

// TestRunIntoBoundOutputsReadByLaterNodes checks outputs that the nodes
// computing them may write in place of the caller's tensors: one that
// later nodes read, one bound to the same tensor as another output
// (neither is then written early: a transpose into its own input would
// be wrong), and one bound to a tensor that is also a feed.
func TestRunIntoBoundOutputsReadByLaterNodes(t *testing.T) {
	g := &graph.Graph{
		Inputs: []graph.ValueInfo{{Name: "x", Type: f32(3, 3)}},
		Outputs: []graph.ValueInfo{
			{Name: "r", Type: f32(3, 3)}, {Name: "tr", Type: f32(3, 3)}, {Name: "n", Type: f32(3, 3)},
		},
		Nodes: []*graph.Node{
			{Name: "relu", OpType: "Relu", Inputs: []string{"x"}, Outputs: []string{"r"}},
			{Name: "tr", OpType: "Transpose", Inputs: []string{"r"}, Outputs: []string{"tr"}},
			{Name: "neg", OpType: "Neg", Inputs: []string{"tr"}, Outputs: []string{"n"}},
		},
	}
	m := &graph.Model{IRVersion: 8, Opsets: []graph.OpsetImport{{Version: 17}}, Graph: g}
	s, err := runtime.Compile(m, runtime.Options{Threads: 1})
	require.NoError(t, err)
	ctx := context.Background()
	x := tensor.From([]int{3, 3}, []float32{1, -2, 3, 4, 5, -6, 7, 8, 9})
	want, err := s.Run(ctx, map[string]*tensor.Tensor{"x": x})
	require.NoError(t, err)
	r, shared := tensor.MustNew(tensor.Float32, 3, 3), tensor.MustNew(tensor.Float32, 3, 3)
	for run := range 3 {
		outs := map[string]*tensor.Tensor{"r": r, "tr": shared, "n": shared}
		require.NoError(t, s.RunInto(ctx, map[string]*tensor.Tensor{"x": x}, outs), "run %d", run)
		assert.Equal(t, want["r"].Float32s(), r.Float32s(), "run %d: r", run)
		// Both names hold the shared tensor, written last with n.
		assert.Equal(t, want["n"].Float32s(), shared.Float32s(), "run %d: n", run)
		assert.Same(t, shared, outs["tr"])
	}
	// An output bound to the feed it is computed from.
	fed := x.Clone()
	outs := map[string]*tensor.Tensor{"r": fed}
	require.NoError(t, s.RunInto(ctx, map[string]*tensor.Tensor{"x": fed}, outs))
	assert.Equal(t, want["r"].Float32s(), fed.Float32s())
	assert.Equal(t, want["n"].Float32s(), outs["n"].Float32s())
}

// TestSessionKeepsNoCallerTensors checks that after RunInto returns, the
// session holds none of the caller's feeds and bound outputs: dropping
// them frees them, though the session lives on.
func TestSessionKeepsNoCallerTensors(t *testing.T) {
	for _, threads := range []int{1, 2} {
		t.Run(fmt.Sprint("threads ", threads), func(t *testing.T) {
			s, err := runtime.Compile(layoutModel(), runtime.Options{Threads: threads})
			require.NoError(t, err)
			ctx := context.Background()
			var gone []weak.Pointer[tensor.Tensor]
			func() {
				feeds := layoutFeeds(5)
				outs := map[string]*tensor.Tensor{}
				for range 3 { // the second and later runs bind outputs
					require.NoError(t, s.RunInto(ctx, feeds, outs))
				}
				for _, v := range feeds {
					gone = append(gone, weak.Make(v))
				}
				for _, v := range outs {
					gone = append(gone, weak.Make(v))
				}
			}()
			goruntime.GC()
			for i, w := range gone {
				assert.Nil(t, w.Value(), "tensor %d is still reachable", i)
			}
			// The session still runs.
			_, err = s.Run(ctx, layoutFeeds(2))
			require.NoError(t, err)
		})
	}
}
