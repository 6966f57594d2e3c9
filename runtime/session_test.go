package runtime_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/onyxrt/onyx/graph"
	"github.com/onyxrt/onyx/ops"
	"github.com/onyxrt/onyx/runtime"
	"github.com/onyxrt/onyx/tensor"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// testRegistry holds a few tiny operators so that these tests exercise the
// runtime alone.
func testRegistry(calls *sync.Map) *ops.Registry {
	r := ops.NewRegistry()
	binary := func(name string, f func(a, b float32) float32) *ops.Def {
		return &ops.Def{Name: name, Since: 1, Build: func(b *ops.Builder) (ops.Kernel, error) {
			return ops.KernelFunc(func(rc *ops.RunContext, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
				if calls != nil {
					v, _ := calls.LoadOrStore(name, new(int))
					*(v.(*int))++
				}
				x, y := in[0].Float32s(), in[1].Float32s()
				if len(x) != len(y) {
					return nil, fmt.Errorf("length mismatch %d vs %d", len(x), len(y))
				}
				out := make([]float32, len(x))
				for i := range x {
					out[i] = f(x[i], y[i])
				}
				return []*tensor.Tensor{tensor.From(in[0].Shape(), out)}, nil
			}), nil
		}}
	}
	r.Register(
		binary("Add", func(a, b float32) float32 { return a + b }),
		binary("Mul", func(a, b float32) float32 { return a * b }),
		&ops.Def{Name: "Boom", Since: 1, Build: func(b *ops.Builder) (ops.Kernel, error) {
			return ops.KernelFunc(func(rc *ops.RunContext, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
				var s []int
				_ = s[3] // an index out of range inside a kernel
				return nil, nil
			}), nil
		}},
		&ops.Def{Name: "Wait", Since: 1, Build: func(b *ops.Builder) (ops.Kernel, error) {
			return ops.KernelFunc(func(rc *ops.RunContext, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
				<-rc.Ctx.Done()
				return []*tensor.Tensor{in[0]}, nil
			}), nil
		}},
		&ops.Def{Name: "Scale", Since: 1, Build: func(b *ops.Builder) (ops.Kernel, error) {
			k := b.Float("k", 1)
			return ops.KernelFunc(func(rc *ops.RunContext, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
				x := in[0].Float32s()
				out := make([]float32, len(x))
				for i := range x {
					out[i] = k * x[i]
				}
				return []*tensor.Tensor{tensor.From(in[0].Shape(), out)}, nil
			}), b.Err()
		}},
	)
	return r
}

func f32(shape ...int) graph.Type {
	s := make(tensor.SymShape, len(shape))
	for i, d := range shape {
		if d < 0 {
			s[i] = tensor.Dim{Size: -1, Param: "N"}
		} else {
			s[i] = tensor.Dim{Size: int64(d)}
		}
	}
	return graph.Type{Kind: graph.KindTensor, DType: tensor.Float32, Shape: s}
}

// model builds y = (x + w) * x with w an initializer, its nodes listed in
// reverse order.
func model() *graph.Model {
	g := &graph.Graph{
		Inputs:  []graph.ValueInfo{{Name: "x", Type: f32(-1, 2)}},
		Outputs: []graph.ValueInfo{{Name: "y", Type: f32(-1, 2)}},
		Nodes: []*graph.Node{
			{Name: "mul", OpType: "Mul", Inputs: []string{"s", "x"}, Outputs: []string{"y"}},
			{Name: "add", OpType: "Add", Inputs: []string{"x", "w"}, Outputs: []string{"s"}},
		},
	}
	g.AddInitializer("w", tensor.From([]int{1, 2}, []float32{1, 2}))
	return &graph.Model{IRVersion: 8, Opsets: []graph.OpsetImport{{Version: 13}}, Graph: g}
}

func TestRunSortsNodesAndComputes(t *testing.T) {
	s, err := runtime.Compile(model(), runtime.Options{Registry: testRegistry(nil)})
	require.NoError(t, err)
	out, err := s.Run(context.Background(), map[string]*tensor.Tensor{"x": tensor.From([]int{1, 2}, []float32{3, 4})})
	require.NoError(t, err)
	assert.Equal(t, []float32{12, 24}, out["y"].Float32s())
}

func TestFeedErrors(t *testing.T) {
	s, err := runtime.Compile(model(), runtime.Options{Registry: testRegistry(nil)})
	require.NoError(t, err)
	tests := []struct {
		name  string
		feeds map[string]*tensor.Tensor
		want  string
	}{
		{"missing", map[string]*tensor.Tensor{}, `input "x"`},
		{"misnamed", map[string]*tensor.Tensor{"x": tensor.From([]int{1, 2}, []float32{1, 2}), "z": tensor.Scalar[float32](1)}, `"z" is not an input`},
		{"misnamed only", map[string]*tensor.Tensor{"z": tensor.From([]int{1, 2}, []float32{1, 2})}, `"z" is not an input`},
		{"nil", map[string]*tensor.Tensor{"x": nil}, `input "x"`},
		{"dtype", map[string]*tensor.Tensor{"x": tensor.From([]int{1, 2}, []int64{1, 2})}, "has type int64, the model wants float32"},
		{"shape", map[string]*tensor.Tensor{"x": tensor.From([]int{2, 1}, []float32{1, 2})}, "has shape [2 1], the model wants [N 2]"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := s.Run(context.Background(), tc.feeds)
			require.Error(t, err)
			assert.Contains(t, err.Error(), tc.want)
		})
	}
}

func TestCompileErrors(t *testing.T) {
	tests := []struct {
		name string
		edit func(g *graph.Graph)
		want []string
	}{
		{"unsupported ops are all reported", func(g *graph.Graph) {
			g.Nodes[0].OpType = "Frobnicate"
			g.Nodes[1].OpType = "Twiddle"
			g.Nodes[1].Domain = "com.example"
		}, []string{"2 node(s) with unsupported operators", `Frobnicate node "mul"`, `Twiddle node "add"`, "com.example"}},
		{"cycle", func(g *graph.Graph) { g.Nodes[1].Inputs = []string{"y", "w"} }, []string{"cycle"}},
		{"undefined value", func(g *graph.Graph) { g.Nodes[1].Inputs = []string{"nope", "w"} }, []string{`Add node "add"`, `"nope"`}},
		{"duplicate producer", func(g *graph.Graph) { g.Nodes[1].Outputs = []string{"y"} }, []string{"both produce"}},
		{"attribute type", func(g *graph.Graph) {
			g.Nodes = append(g.Nodes, &graph.Node{Name: "sc", OpType: "Scale", Inputs: []string{"x"}, Outputs: []string{"z"},
				Attrs: []*ops.Attr{{Name: "k", Type: ops.AttrString, String: "2"}}})
		}, []string{`Scale node "sc"`, `attribute "k" has type string, want float`}},
		{"missing output", func(g *graph.Graph) { g.Outputs[0].Name = "q" }, []string{`graph output "q"`}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m := model()
			tc.edit(m.Graph)
			_, err := runtime.Compile(m, runtime.Options{Registry: testRegistry(nil)})
			require.Error(t, err)
			for _, w := range tc.want {
				assert.Contains(t, err.Error(), w)
			}
		})
	}
}

func TestKernelPanicBecomesError(t *testing.T) {
	m := model()
	m.Graph.Nodes[0].OpType = "Boom"
	s, err := runtime.Compile(m, runtime.Options{Registry: testRegistry(nil)})
	require.NoError(t, err)
	_, err = s.Run(context.Background(), map[string]*tensor.Tensor{"x": tensor.From([]int{1, 2}, []float32{3, 4})})
	require.Error(t, err)
	assert.Contains(t, err.Error(), `Boom node "mul": internal error`)
}

func TestRunIsCancellable(t *testing.T) {
	m := model()
	m.Graph.Nodes[1] = &graph.Node{Name: "wait", OpType: "Wait", Inputs: []string{"x"}, Outputs: []string{"s"}}
	s, err := runtime.Compile(m, runtime.Options{Registry: testRegistry(nil)})
	require.NoError(t, err)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	_, err = s.Run(ctx, map[string]*tensor.Tensor{"x": tensor.From([]int{1, 2}, []float32{3, 4})})
	require.Error(t, err)
	assert.True(t, errors.Is(err, context.DeadlineExceeded), "got %v", err)
}

func TestConstantFolding(t *testing.T) {
	// z = (w + w) * x: the Add depends only on constants and runs once,
	// at compile time.
	m := model()
	m.Graph.Nodes[1].Inputs = []string{"w", "w"}
	var calls sync.Map
	s, err := runtime.Compile(m, runtime.Options{Registry: testRegistry(&calls)})
	require.NoError(t, err)
	for i := 0; i < 3; i++ {
		out, err := s.Run(context.Background(), map[string]*tensor.Tensor{"x": tensor.From([]int{1, 2}, []float32{3, 4})})
		require.NoError(t, err)
		assert.Equal(t, []float32{6, 16}, out["y"].Float32s())
	}
	adds, _ := calls.Load("Add")
	muls, _ := calls.Load("Mul")
	assert.Equal(t, 1, *(adds.(*int)))
	assert.Equal(t, 3, *(muls.(*int)))
}

func TestConcurrentRuns(t *testing.T) {
	s, err := runtime.Compile(model(), runtime.Options{Registry: testRegistry(nil)})
	require.NoError(t, err)
	var wg sync.WaitGroup
	errs := make(chan error, 16)
	for g := 0; g < 16; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			for i := 0; i < 50; i++ {
				v := float32(g*100 + i)
				out, err := s.Run(context.Background(), map[string]*tensor.Tensor{"x": tensor.From([]int{1, 2}, []float32{v, v})})
				if err != nil {
					errs <- err
					return
				}
				if got := out["y"].Float32s(); got[0] != (v+1)*v || got[1] != (v+2)*v {
					errs <- fmt.Errorf("goroutine %d run %d: got %v", g, i, got)
					return
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

func TestUnsupportedErrorType(t *testing.T) {
	m := model()
	m.Graph.Nodes[0].OpType = "Nope"
	_, err := runtime.Compile(m, runtime.Options{Registry: testRegistry(nil)})
	var ue *runtime.UnsupportedError
	require.True(t, errors.As(err, &ue))
	require.Len(t, ue.Problems, 1)
	assert.True(t, strings.Contains(ue.Problems[0], "Nope"))
}

func TestShapeInference(t *testing.T) {
	s, err := runtime.Compile(model(), runtime.Options{Registry: testRegistry(nil)})
	require.NoError(t, err)
	typ, ok := s.ValueType("s")
	require.True(t, ok)
	assert.Equal(t, "float32[N 2]", typ.String())

	// A constant that cannot broadcast with the input is caught at compile
	// time, naming the node.
	m := model()
	m.Graph.AddInitializer("w", tensor.From([]int{3}, []float32{1, 2, 3}))
	_, err = runtime.Compile(m, runtime.Options{Registry: testRegistry(nil)})
	require.Error(t, err)
	assert.Contains(t, err.Error(), `Add node "add": shape inference`)
}
