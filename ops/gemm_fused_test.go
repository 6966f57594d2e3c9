package ops

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/onyxrt/onyx/tensor"
)

// gemmBuild builds op (Gemm or MatMul of the ONNX domain, FusedGemm of
// FusedDomain) with attrs, nIn inputs and the given Build-time constants.
func gemmBuild(t *testing.T, domain, op string, attrs []*Attr, nIn int, consts map[int]*tensor.Tensor) Kernel {
	t.Helper()
	def, err := Default().Lookup(domain, op, 13)
	if err != nil {
		t.Fatal(err)
	}
	b := &Builder{OpType: op, Domain: domain, Opset: 13, NumInputs: nIn, NumOutputs: 1, OutputPresent: []bool{true}, Attrs: map[string]*Attr{}}
	for i := 0; i < nIn; i++ {
		b.InputPresent = append(b.InputPresent, true)
	}
	b.Const = func(i int) *tensor.Tensor { return consts[i] }
	for _, a := range attrs {
		b.Attrs[a.Name] = a
	}
	k, err := def.Build(b)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// gemmRef is Y = act(alpha*op(A)*op(B) + beta*C) in float64, with C
// broadcast from cs.
func gemmRef(transA, transB bool, m, n, k int, alpha, beta float64, a, b, c []float64, cs []int, act func(float64) float64) []float64 {
	y := make([]float64, m*n)
	for i := 0; i < m; i++ {
		for j := 0; j < n; j++ {
			var s float64
			for p := 0; p < k; p++ {
				av, bv := a[i*k+p], b[p*n+j]
				if transA {
					av = a[p*m+i]
				}
				if transB {
					bv = b[j*k+p]
				}
				s += av * bv
			}
			v := alpha * s
			if c != nil {
				ci := 0
				switch {
				case len(cs) == 1 && cs[0] == n:
					ci = j
				case len(cs) == 2:
					ci = (i%cs[0])*cs[1] + j%cs[1]
				}
				v += beta * c[ci]
			}
			if act != nil {
				v = act(v)
			}
			y[i*n+j] = v
		}
	}
	return y
}

func randF32(r *rand.Rand, shape ...int) *tensor.Tensor {
	s := make([]float32, prod(shape))
	for i := range s {
		s[i] = r.Float32()*2 - 1
	}
	return tensor.From(shape, s)
}

func checkClose(t *testing.T, what string, got *tensor.Tensor, want []float64, tol float64) {
	t.Helper()
	g := got.Float64s()
	if len(g) != len(want) {
		t.Fatalf("%s: %d values, want %d", what, len(g), len(want))
	}
	for i := range want {
		if d := math.Abs(g[i] - want[i]); !(d <= tol*(1+math.Abs(want[i]))) {
			t.Fatalf("%s: [%d] = %v, want %v", what, i, g[i], want[i])
		}
	}
}

// TestGemmPackedAndFused runs Gemm and FusedGemm over shapes that take
// every float32 route (one row, few rows split by columns, many rows
// split by rows; B constant and packed at Build time or not), every C
// shape, transposes, alpha and beta, activations and thread counts,
// against a float64 reference.
func TestGemmPackedAndFused(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	acts := []struct {
		name   string
		params []float32
		f      func(float64) float64
	}{
		{"", nil, nil},
		{"Relu", nil, func(v float64) float64 { return max(v, 0) }},
		{"LeakyRelu", []float32{0.2}, func(v float64) float64 { return min(v, 0)*0.2 + max(v, 0) }},
		{"Clip", []float32{-0.5, 0.75}, func(v float64) float64 { return min(max(v, -0.5), 0.75) }},
		{"Sigmoid", nil, func(v float64) float64 { return 1 / (1 + math.Exp(-v)) }},
		{"Tanh", nil, math.Tanh},
	}
	shapes := []struct{ m, n, k int }{{1, 10, 1600}, {1, 64, 33}, {3, 100, 70}, {5, 300, 260}, {64, 50, 40}, {200, 70, 64}, {37, 33, 1}, {300, 96, 80}, {8, 512, 520}}
	for si, s := range shapes {
		for _, tr := range [][2]bool{{false, false}, {false, true}, {true, false}, {true, true}} {
			for _, cs := range [][]int{nil, {1}, {s.n}, {1, s.n}, {s.m, 1}, {s.m, s.n}} {
				act := acts[(si+len(cs))%len(acts)]
				as, bs := []int{s.m, s.k}, []int{s.k, s.n}
				if tr[0] {
					as = []int{s.k, s.m}
				}
				if tr[1] {
					bs = []int{s.n, s.k}
				}
				A, B := randF32(r, as...), randF32(r, bs...)
				ins := []*tensor.Tensor{A, B}
				var cw []float64
				if cs != nil {
					C := randF32(r, cs...)
					ins = append(ins, C)
					cw = C.Float64s()
				}
				alpha, beta := 0.5, -1.5
				want := gemmRef(tr[0], tr[1], s.m, s.n, s.k, alpha, beta, A.Float64s(), B.Float64s(), cw, cs, act.f)
				attrs := []*Attr{{Name: "alpha", Type: AttrFloat, Float: float32(alpha)}, {Name: "beta", Type: AttrFloat, Float: float32(beta)},
					{Name: "transA", Type: AttrInt, Int: int64(btoi(tr[0]))}, {Name: "transB", Type: AttrInt, Int: int64(btoi(tr[1]))}}
				domain, op := "", "Gemm"
				if act.name != "" {
					domain, op = FusedDomain, "FusedGemm"
					attrs = append(attrs, &Attr{Name: "activation", Type: AttrString, String: act.name})
					if act.params != nil {
						attrs = append(attrs, &Attr{Name: "activation_params", Type: AttrFloats, Floats: act.params})
					}
				}
				// Every variant must give exactly what the first gives: B
				// packed at Build time or not, on any number of threads.
				var first []float32
				for _, constB := range []bool{false, true} {
					var consts map[int]*tensor.Tensor
					if constB {
						consts = map[int]*tensor.Tensor{1: B}
					}
					k := gemmBuild(t, domain, op, attrs, len(ins), consts)
					for _, threads := range []int{1, 2, 3} {
						out, err := k.Run(&RunContext{Threads: threads}, ins)
						if err != nil {
							t.Fatal(err)
						}
						what := fmt.Sprintf("%s %s m=%d n=%d k=%d trans=%v C=%v constB=%v threads=%d", op, act.name, s.m, s.n, s.k, tr, cs, constB, threads)
						checkClose(t, what, out[0], want, 1e-4*math.Sqrt(float64(s.k)))
						if first == nil {
							first = out[0].Float32s()
						} else if i := firstDiff(first, out[0].Float32s()); i >= 0 {
							t.Fatalf("%s: [%d] = %v, the first variant gave %v", what, i, out[0].Float32s()[i], first[i])
						}
					}
				}
			}
		}
	}
}

// TestFusedGemmRanks checks FusedGemm's MatMul-like reading of A of rank
// 1 and 3, and its activation on float64 and int32 outputs.
func TestFusedGemmRanks(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 8))
	B, C := randF32(r, 6, 4), randF32(r, 4)
	relu := []*Attr{{Name: "activation", Type: AttrString, String: "Relu"}}
	for _, shape := range [][]int{{6}, {2, 3, 6}, {1, 6}} {
		A := randF32(r, shape...)
		m := prod(shape[:len(shape)-1])
		want := gemmRef(false, false, m, 4, 6, 1, 1, A.Float64s(), B.Float64s(), C.Float64s(), []int{4}, func(v float64) float64 { return max(v, 0) })
		k := gemmBuild(t, FusedDomain, "FusedGemm", relu, 3, map[int]*tensor.Tensor{1: B, 2: C})
		out, err := k.Run(&RunContext{Threads: 1}, []*tensor.Tensor{A, B, C})
		if err != nil {
			t.Fatal(err)
		}
		wantShape := append(append([]int(nil), shape[:len(shape)-1]...), 4)
		if !tensor.ShapeEqual(out[0].Shape(), wantShape) {
			t.Fatalf("A %v: Y has shape %v, want %v", shape, out[0].Shape(), wantShape)
		}
		checkClose(t, fmt.Sprint("A ", shape), out[0], want, 1e-5)
	}

	A64, B64 := tensor.From([]int{2, 2}, []float64{1, -2, 3, 4}), tensor.From([]int{2, 2}, []float64{1, 0, 0, -1})
	out, err := gemmBuild(t, FusedDomain, "FusedGemm", relu, 2, nil).Run(&RunContext{Threads: 1}, []*tensor.Tensor{A64, B64})
	if err != nil {
		t.Fatal(err)
	}
	checkClose(t, "float64", out[0], []float64{1, 2, 3, 0}, 0)
	Ai, Bi := tensor.From([]int{2, 2}, []int32{1, -2, 3, 4}), tensor.From([]int{2, 2}, []int32{1, 0, 0, -1})
	out, err = gemmBuild(t, FusedDomain, "FusedGemm", relu, 2, nil).Run(&RunContext{Threads: 1}, []*tensor.Tensor{Ai, Bi})
	if err != nil {
		t.Fatal(err)
	}
	checkClose(t, "int32", out[0], []float64{1, 2, 3, 0}, 0)
	sig := []*Attr{{Name: "activation", Type: AttrString, String: "Sigmoid"}}
	if _, err := gemmBuild(t, FusedDomain, "FusedGemm", sig, 2, nil).Run(&RunContext{Threads: 1}, []*tensor.Tensor{Ai, Bi}); err == nil {
		t.Error("a sigmoid on an int32 product did not fail")
	}
}

// TestMatMulPacked checks MatMul with B constant (packed at Build time)
// or not, flat and batched products, over thread counts.
func TestMatMulPacked(t *testing.T) {
	r := rand.New(rand.NewPCG(9, 10))
	for _, tc := range []struct{ a, b []int }{
		{[]int{64, 64}, []int{64, 64}},
		{[]int{1, 300}, []int{300, 70}},
		{[]int{3, 50, 40}, []int{40, 33}},
		{[]int{300}, []int{300, 5}},
		{[]int{8, 30, 20}, []int{8, 20, 24}},
		{[]int{2, 150, 130}, []int{130, 140}},
	} {
		A, B := randF32(r, tc.a...), randF32(r, tc.b...)
		ref := nnNode(t, "MatMul", 13, nil, 2, 1, nil)
		want, err := ref.Run(&RunContext{Threads: 1}, []*tensor.Tensor{A, B})
		if err != nil {
			t.Fatal(err)
		}
		// Reference in float64, to check the float32 paths.
		A64, _ := A.Cast(tensor.Float64)
		B64, _ := B.Cast(tensor.Float64)
		want64, err := ref.Run(&RunContext{Threads: 1}, []*tensor.Tensor{A64, B64})
		if err != nil {
			t.Fatal(err)
		}
		checkClose(t, fmt.Sprint("MatMul ", tc.a, tc.b), want[0], want64[0].Float64s(), 1e-4)
		for _, threads := range []int{1, 2, 4} {
			for _, consts := range []map[int]*tensor.Tensor{nil, {1: B}} {
				k := nnNode(t, "MatMul", 13, nil, 2, 1, consts)
				got, err := k.Run(&RunContext{Threads: threads}, []*tensor.Tensor{A, B})
				if err != nil {
					t.Fatal(err)
				}
				if !tensor.ShapeEqual(got[0].Shape(), want[0].Shape()) {
					t.Fatalf("shape %v, want %v", got[0].Shape(), want[0].Shape())
				}
				checkClose(t, fmt.Sprint("MatMul ", tc.a, tc.b, " const ", consts != nil, " threads ", threads), got[0], want64[0].Float64s(), 1e-4)
			}
		}
	}
}

// TestRunTasks checks that every task runs once, with more tasks than
// threads and fewer, and that a panic reaches the caller.
func TestRunTasks(t *testing.T) {
	for _, tc := range []struct{ threads, n int }{{1, 5}, {2, 1}, {2, 9}, {4, 3}, {3, 100}} {
		hits := make([]int32, tc.n)
		runTasks(nil, tc.threads, tc.n, func(i int) { hits[i]++ })
		for i, h := range hits {
			if h != 1 {
				t.Fatalf("threads %d, %d tasks: task %d ran %d times", tc.threads, tc.n, i, h)
			}
		}
	}
	defer func() {
		if recover() == nil {
			t.Error("a panicking task did not panic the caller")
		}
	}()
	runTasks(nil, 2, 8, func(i int) {
		if i == 5 {
			panic("task 5")
		}
	})
}

// firstDiff returns the first index where a and b differ bit for bit
// (NaNs equal), or -1.
func firstDiff(a, b []float32) int {
	for i := range a {
		if math.Float32bits(a[i]) != math.Float32bits(b[i]) && !(a[i] != a[i] && b[i] != b[i]) {
			return i
		}
	}
	return -1
}

// runOp builds op of the ONNX domain at opset 13 (no constants) and runs
// it on one thread.
func runOp(t *testing.T, op string, attrs []*Attr, in ...*tensor.Tensor) *tensor.Tensor {
	t.Helper()
	out, err := gemmBuild(t, "", op, attrs, len(in), nil).Run(&RunContext{Threads: 1}, in)
	if err != nil {
		t.Fatal(err)
	}
	return out[0]
}

// TestFusedGemmBitExact checks what the graph passes rely on: Gemm(A, B,
// bias) gives exactly MatMul(A, B) + bias, and FusedGemm exactly the
// Gemm followed by the activation's own operator, B constant or not.
func TestFusedGemmBitExact(t *testing.T) {
	r := rand.New(rand.NewPCG(11, 12))
	acts := []struct {
		name   string
		params []float32
		op     []*Attr
		extra  []*tensor.Tensor
	}{
		{"Relu", nil, nil, nil},
		{"LeakyRelu", []float32{0.3}, []*Attr{{Name: "alpha", Type: AttrFloat, Float: 0.3}}, nil},
		{"Clip", []float32{-0.2, 0.4}, nil, []*tensor.Tensor{tensor.Scalar[float32](-0.2), tensor.Scalar[float32](0.4)}},
		{"Sigmoid", nil, nil, nil},
		{"Tanh", nil, nil, nil},
	}
	for _, s := range []struct{ m, n, k int }{{1, 30, 700}, {4, 3, 2}, {40, 70, 300}, {130, 64, 600}} {
		for ai, act := range acts {
			A, B, bias := randF32(r, s.m, s.k), randF32(r, s.k, s.n), randF32(r, s.n)
			mm := runOp(t, "MatMul", nil, A, B)
			sum := runOp(t, "Add", nil, mm, bias)
			want := runOp(t, act.name, act.op, append([]*tensor.Tensor{sum}, act.extra...)...)
			fattrs := []*Attr{{Name: "activation", Type: AttrString, String: act.name}}
			if act.params != nil {
				fattrs = append(fattrs, &Attr{Name: "activation_params", Type: AttrFloats, Floats: act.params})
			}
			for _, consts := range []map[int]*tensor.Tensor{nil, {1: B, 2: bias}} {
				for _, threads := range []int{1, 2} {
					what := fmt.Sprintf("m=%d n=%d k=%d %s const %v threads %d", s.m, s.n, s.k, act.name, consts != nil, threads)
					if ai == 0 {
						g, err := gemmBuild(t, "", "Gemm", nil, 3, consts).Run(&RunContext{Threads: threads}, []*tensor.Tensor{A, B, bias})
						if err != nil {
							t.Fatal(err)
						}
						if i := firstDiff(sum.Float32s(), g[0].Float32s()); i >= 0 {
							t.Fatalf("Gemm %s: [%d] = %v, MatMul+Add gave %v", what, i, g[0].Float32s()[i], sum.Float32s()[i])
						}
					}
					f, err := gemmBuild(t, FusedDomain, "FusedGemm", fattrs, 3, consts).Run(&RunContext{Threads: threads}, []*tensor.Tensor{A, B, bias})
					if err != nil {
						t.Fatal(err)
					}
					if i := firstDiff(want.Float32s(), f[0].Float32s()); i >= 0 {
						t.Fatalf("FusedGemm %s: [%d] = %v, the separate operators gave %v", what, i, f[0].Float32s()[i], want.Float32s()[i])
					}
				}
			}
		}
	}
}

// BenchmarkMatMul times n×n×n MatMul kernels, B a run-time input or a
// constant packed at Build time, on one thread and two, reporting the
// fastest run ("min-ns/op") besides the mean: on a machine shared with
// other work the mean says more about the other work.
func BenchmarkMatMul(b *testing.B) {
	r := rand.New(rand.NewPCG(1, 2))
	for _, n := range []int{64, 128, 256, 512} {
		A, B := randF32(r, n, n), randF32(r, n, n)
		for _, constB := range []bool{false, true} {
			for _, threads := range []int{1, 2} {
				var consts map[int]*tensor.Tensor
				if constB {
					consts = map[int]*tensor.Tensor{1: B}
				}
				k := nnNode(b, "MatMul", 13, nil, 2, 1, consts)
				b.Run(fmt.Sprintf("%d/const=%v/threads=%d", n, constB, threads), func(b *testing.B) {
					rc := &RunContext{Threads: threads}
					best := time.Duration(math.MaxInt64)
					for b.Loop() {
						t0 := time.Now()
						if _, err := k.Run(rc, []*tensor.Tensor{A, B}); err != nil {
							b.Fatal(err)
						}
						best = min(best, time.Since(t0))
					}
					b.ReportMetric(float64(best.Nanoseconds()), "min-ns/op")
					b.ReportMetric(2*float64(n*n*n)/float64(best.Nanoseconds()), "best-GFLOP/s")
				})
			}
		}
	}
}
