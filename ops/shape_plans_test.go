package ops

import (
	"fmt"
	"math"
	"math/rand/v2"
	"sync"
	"testing"

	"github.com/onyxrt/onyx/tensor"
)

// Tests of the kernels that resolve a plan per input shape once and keep
// it (MatMul's batched geometry, AveragePool's plan) and of the paths
// that run without per-run allocations (Softmax's split and rows, Gather
// with many int32 indices, Concat with many inputs).

// planKernel builds op (opset 13, default registry) with attrs.
func planKernel(t testing.TB, op string, nIn int, attrs map[string]any) Kernel {
	t.Helper()
	return registryNode(t, Default(), op, 13, attrs, nIn, 1, nil)
}

func planRun(t testing.TB, k Kernel, rc *RunContext, in ...*tensor.Tensor) *tensor.Tensor {
	t.Helper()
	out, err := k.Run(rc, in)
	if err != nil {
		t.Fatal(err)
	}
	return out[0]
}

func planRandF32(r *rand.Rand, shape ...int) *tensor.Tensor {
	x := tensor.MustNew(tensor.Float32, shape...)
	for i, d := 0, x.Float32s(); i < len(d); i++ {
		d[i] = float32(r.Float64()*4 - 2)
	}
	return x
}

// matmulNaive is numpy's matmul of a and b (ranks >= 2, batch dimensions
// broadcast) in float64.
func matmulNaive(a, b *tensor.Tensor) ([]int, []float64) {
	sa, sb := a.Shape(), b.Shape()
	m, k, n := sa[len(sa)-2], sa[len(sa)-1], sb[len(sb)-1]
	batch, err := tensor.BroadcastShapes(sa[:len(sa)-2], sb[:len(sb)-2])
	if err != nil {
		panic(err)
	}
	out := append(append([]int{}, batch...), m, n)
	nb := prod(batch)
	sta := tensor.BroadcastStrides(sa[:len(sa)-2], batch)
	stb := tensor.BroadcastStrides(sb[:len(sb)-2], batch)
	y := make([]float64, nb*m*n)
	av, bv := a.Float32s(), b.Float32s()
	idx := make([]int, len(batch))
	for bi := 0; bi < nb; bi++ {
		oa, ob := 0, 0
		for d, v := range idx {
			oa += v * sta[d]
			ob += v * stb[d]
		}
		for i := 0; i < m; i++ {
			for j := 0; j < n; j++ {
				var s float64
				for p := 0; p < k; p++ {
					s += float64(av[oa*m*k+i*k+p]) * float64(bv[ob*k*n+p*n+j])
				}
				y[bi*m*n+i*n+j] = s
			}
		}
		for d := len(idx) - 1; d >= 0; d-- {
			if idx[d]++; idx[d] < batch[d] {
				break
			}
			idx[d] = 0
		}
	}
	return out, y
}

// TestMatMulPlanCache runs one MatMul node over changing shapes (batched,
// broadcast, flat, and back), from several goroutines at once: the
// cached geometry must always be that of the run's own shapes.
func TestMatMulPlanCache(t *testing.T) {
	shapes := [][2][]int{
		{{2, 3, 4}, {2, 4, 5}},
		{{2, 1, 3, 4}, {3, 4, 2}},
		{{3, 4}, {4, 5}},
		{{4, 2, 6}, {1, 6, 3}},
		{{2, 3, 4}, {2, 4, 5}},
	}
	k := planKernel(t, "MatMul", 2, nil)
	var wg sync.WaitGroup
	for g := 0; g < 4; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := rand.New(rand.NewPCG(uint64(g), 7))
			for it := 0; it < 50; it++ {
				sh := shapes[(it+g)%len(shapes)]
				a, b := planRandF32(r, sh[0]...), planRandF32(r, sh[1]...)
				got := planRun(t, k, &RunContext{Threads: 1}, a, b)
				shape, want := matmulNaive(a, b)
				if !tensor.ShapeEqual(got.Shape(), shape) {
					t.Errorf("%v x %v: shape %v, want %v", sh[0], sh[1], got.Shape(), shape)
					return
				}
				for i, v := range got.Float32s() {
					if math.Abs(float64(v)-want[i]) > 1e-4 {
						t.Errorf("%v x %v: [%d] = %v, want %v", sh[0], sh[1], i, v, want[i])
						return
					}
				}
			}
		}()
	}
	wg.Wait()
}

// TestAveragePoolPlanCache runs one AveragePool node over changing input
// shapes (2-D planes, the direct path, and 3-D ones, the tap lists),
// concurrently, against a fresh node per shape.
func TestAveragePoolPlanCache(t *testing.T) {
	attrs2 := map[string]any{"kernel_shape": []int{2, 2}, "strides": []int{1, 1}, "pads": []int{1, 0, 0, 1}, "count_include_pad": 1}
	attrs3 := map[string]any{"kernel_shape": []int{2, 2, 2}, "strides": []int{2, 1, 1}}
	cases := []struct {
		attrs  map[string]any
		shapes [][]int
	}{
		{attrs2, [][]int{{1, 2, 5, 5}, {2, 3, 7, 6}, {1, 1, 3, 3}}},
		{attrs3, [][]int{{1, 2, 4, 4, 4}, {1, 1, 5, 3, 4}}},
	}
	for ci, c := range cases {
		r := rand.New(rand.NewPCG(uint64(ci), 3))
		var xs, wants []*tensor.Tensor
		for _, sh := range c.shapes {
			x := planRandF32(r, sh...)
			xs = append(xs, x)
			wants = append(wants, planRun(t, planKernel(t, "AveragePool", 1, c.attrs), nil, x))
		}
		k := planKernel(t, "AveragePool", 1, c.attrs)
		var wg sync.WaitGroup
		for g := 0; g < 4; g++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for it := 0; it < 40; it++ {
					i := (it + g) % len(xs)
					got := planRun(t, k, &RunContext{Threads: 1}, xs[i])
					if !tensor.ShapeEqual(got.Shape(), wants[i].Shape()) {
						t.Errorf("case %d shape %v: output %v, want %v", ci, xs[i].Shape(), got.Shape(), wants[i].Shape())
						return
					}
					for j, v := range got.Float32s() {
						if v != wants[i].Float32s()[j] {
							t.Errorf("case %d shape %v: [%d] = %v, want %v", ci, xs[i].Shape(), j, v, wants[i].Float32s()[j])
							return
						}
					}
				}
			}()
		}
		wg.Wait()
	}
}

// softmaxRef is Softmax (or LogSoftmax) of one row in float64.
func softmaxRef(s []float32, log bool) []float64 {
	m := math.Inf(-1)
	nan := false
	for _, v := range s {
		m = math.Max(m, float64(v))
		nan = nan || math.IsNaN(float64(v))
	}
	out := make([]float64, len(s))
	var sum float64
	for i, v := range s {
		out[i] = math.Exp(float64(v) - m)
		sum += out[i]
	}
	for i, v := range s {
		switch {
		case nan:
			out[i] = math.NaN()
		case log:
			out[i] = float64(v) - m - math.Log(sum)
		default:
			out[i] /= sum
		}
	}
	return out
}

// TestSoftmaxRow32 checks the float32 row kernel against float64 over
// rows of many lengths and with the special values; it must also equal
// softmaxRow (with expSlice32) exactly.
func TestSoftmaxRow32(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	inf, nan := float32(math.Inf(1)), float32(math.NaN())
	var rows [][]float32
	for n := 1; n <= 41; n++ {
		row := make([]float32, n)
		for i := range row {
			row[i] = float32(r.NormFloat64() * 10)
		}
		rows = append(rows, row)
	}
	rows = append(rows,
		[]float32{-200, 0, -90, -87.5, -86.9, 3},      // exponentials near and below float32's range
		[]float32{nan, 1, 2},                          // NaN first
		[]float32{1, 2, nan, 4, 5, 6},                 // NaN later
		[]float32{1, inf, 2},                          // +Inf: NaN
		[]float32{-inf, 1, -inf, 2, 3, 4, 5, 6, -inf}, // -Inf: 0
		[]float32{-inf, -inf},                         // all -Inf: NaN
		[]float32{float32(math.Copysign(0, -1)), 0, 0},
		[]float32{1e30, -1e30, 1e30},
	)
	for _, log := range []bool{false, true} {
		for ri, row := range rows {
			got := make([]float32, len(row))
			softmaxRow32(got, row, log)
			want := softmaxRef(row, log)
			name := fmt.Sprintf("log %v row %d %v", log, ri, row)
			for i, w := range want {
				g := float64(got[i])
				if math.IsNaN(w) || math.IsNaN(g) {
					if math.IsNaN(w) != math.IsNaN(g) {
						t.Errorf("%s: [%d] = %v, want %v", name, i, g, w)
					}
					continue
				}
				if math.IsInf(w, 0) || math.IsInf(g, 0) {
					if w != g {
						t.Errorf("%s: [%d] = %v, want %v", name, i, g, w)
					}
					continue
				}
				if math.Abs(g-w) > 2e-6*math.Abs(w)+1e-30 && math.Abs(g-w) > 2e-6 {
					t.Errorf("%s: [%d] = %v, want %v", name, i, g, w)
				}
			}
			kind := smSoftmax
			if log {
				kind = smLog
			}
			old := make([]float32, len(row))
			softmaxRow(old, row, kind, expSlice32)
			for i := range old {
				if math.Float32bits(old[i]) != math.Float32bits(got[i]) && !(math.IsNaN(float64(old[i])) && math.IsNaN(float64(got[i]))) {
					t.Errorf("%s: [%d] = %v, softmaxRow gives %v", name, i, got[i], old[i])
				}
			}
		}
	}
}

// TestSoftmaxSplit runs Softmax and LogSoftmax over shapes whose rows
// split over two threads (the run's pool), contiguous and strided (the
// column scratch on the stack and, past 64 columns, on the heap), against
// one thread and the float64 reference.
func TestSoftmaxSplit(t *testing.T) {
	r := rand.New(rand.NewPCG(9, 10))
	w := NewWorkers(2)
	defer w.Close()
	for _, op := range []string{"Softmax", "LogSoftmax"} {
		for _, c := range []struct {
			shape []int
			axis  int
		}{
			{[]int{2000, 40}, -1},
			{[]int{3, 4, 10}, -1},
			{[]int{300, 20, 5}, 1},
			{[]int{40, 7, 70}, 1},
			{[]int{2, 3}, 0},
		} {
			x := planRandF32(r, c.shape...)
			k := planKernel(t, op, 1, map[string]any{"axis": c.axis})
			one := planRun(t, k, &RunContext{Threads: 1}, x)
			two := planRun(t, k, &RunContext{Threads: 2, Workers: w}, x)
			a := c.axis
			if a < 0 {
				a += len(c.shape)
			}
			outer, n, inner := prod(c.shape[:a]), c.shape[a], prod(c.shape[a+1:])
			xs := x.Float32s()
			row := make([]float32, n)
			for o := 0; o < outer; o++ {
				for in := 0; in < inner; in++ {
					for j := range row {
						row[j] = xs[(o*n+j)*inner+in]
					}
					want := softmaxRef(row, op == "LogSoftmax")
					for j, wv := range want {
						i := (o*n+j)*inner + in
						if g := float64(one.Float32s()[i]); math.Abs(g-wv) > 2e-6*math.Max(1, math.Abs(wv)) {
							t.Fatalf("%s %v axis %d: [%d] = %v, want %v", op, c.shape, c.axis, i, g, wv)
						}
						if one.Float32s()[i] != two.Float32s()[i] {
							t.Fatalf("%s %v axis %d: [%d] = %v at 2 threads, %v at 1", op, c.shape, c.axis, i, two.Float32s()[i], one.Float32s()[i])
						}
					}
				}
			}
		}
	}
}

// TestGatherManyInt32Indices gathers with more int32 indices than the
// kernel's stack list holds (read in place), negative ones included,
// against the same indices as int64; one out of range fails.
func TestGatherManyInt32Indices(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	x := planRandF32(r, 50, 3)
	for _, axis := range []int{0, 1} {
		dim := x.Shape()[axis]
		n := 100
		i32 := make([]int32, n)
		i64 := make([]int64, n)
		for i := range i32 {
			v := int32(r.IntN(2*dim) - dim)
			i32[i], i64[i] = v, int64(v)
		}
		k := planKernel(t, "Gather", 2, map[string]any{"axis": axis})
		got := planRun(t, k, &RunContext{Threads: 1}, x, tensor.From([]int{10, 10}, i32))
		want := planRun(t, k, &RunContext{Threads: 1}, x, tensor.From([]int{10, 10}, i64))
		if !tensor.ShapeEqual(got.Shape(), want.Shape()) {
			t.Fatalf("axis %d: shape %v, want %v", axis, got.Shape(), want.Shape())
		}
		for i, v := range got.Float32s() {
			if v != want.Float32s()[i] {
				t.Fatalf("axis %d: [%d] = %v, want %v", axis, i, v, want.Float32s()[i])
			}
		}
		i32[77] = int32(dim)
		if _, err := k.Run(&RunContext{Threads: 1}, []*tensor.Tensor{x, tensor.From([]int{n}, i32)}); err == nil {
			t.Errorf("axis %d: index %d out of [-%d, %d) accepted", axis, dim, dim, dim)
		}
	}
}

// TestConcatManyInputs joins more inputs than Concat's stack list holds,
// without and with an absent one.
func TestConcatManyInputs(t *testing.T) {
	k := planKernel(t, "Concat", 11, map[string]any{"axis": 1})
	for _, absent := range []int{-1, 4} {
		var in []*tensor.Tensor
		var want []float32
		for i := 0; i < 11; i++ {
			if i == absent {
				in = append(in, nil)
				continue
			}
			in = append(in, f32([]int{1, 2}, float32(2*i), float32(2*i+1)))
			want = append(want, float32(2*i), float32(2*i+1))
		}
		got := planRun(t, k, &RunContext{Threads: 1}, in...)
		if !tensor.ShapeEqual(got.Shape(), []int{1, len(want)}) {
			t.Fatalf("absent %d: shape %v, want [1 %d]", absent, got.Shape(), len(want))
		}
		for i, v := range got.Float32s() {
			if v != want[i] {
				t.Fatalf("absent %d: [%d] = %v, want %v", absent, i, v, want[i])
			}
		}
	}
}

// TestConcatSplitCopies joins outputs large enough for the copies to be
// split over two threads, along each axis (several rows of inputs for
// the inner ones), for 4- and 1-byte elements, against the elements
// placed one by one.
func TestConcatSplitCopies(t *testing.T) {
	shapes := [][]int{{2, 40, 30, 50}, {2, 24, 30, 50}, {2, 56, 30, 50}} // joined on axis 1
	for axis := 0; axis < 4; axis++ {
		for _, bytes := range []int{4, 1} {
			var in []*tensor.Tensor
			for i, s := range shapes {
				s = append([]int(nil), s...)
				s[1], s[axis] = s[axis], s[1] // the varying dimension on axis
				n := prod(s)
				if bytes == 4 {
					v := make([]float32, n)
					for e := range v {
						v[e] = float32((e*7 + i*13) % 251)
					}
					in = append(in, tensor.From(s, v))
				} else {
					v := make([]uint8, n)
					for e := range v {
						v[e] = uint8((e*7 + i*13) % 251)
					}
					in = append(in, tensor.From(s, v))
				}
			}
			k := planKernel(t, "Concat", 13, map[string]any{"axis": axis})
			wk := NewWorkers(1)
			got := planRun(t, k, &RunContext{Threads: 2, Workers: wk}, in...)
			wk.Close()
			gs := tensor.Strides(got.Shape())
			g := got.Float64s()
			// Element by element: the output index whose axis coordinate
			// is the input's plus the sizes of the inputs before it.
			off := 0
			for _, x := range in {
				xs := x.Shape()
				xst := tensor.Strides(xs)
				for e, w := range x.Float64s() {
					at := 0
					for d := range xs {
						c := e / xst[d] % xs[d]
						if d == axis {
							c += off
						}
						at += c * gs[d]
					}
					if g[at] != w {
						t.Fatalf("axis %d, %d-byte elements: output %d = %v, want %v", axis, bytes, at, g[at], w)
					}
				}
				off += xs[axis]
			}
		}
	}
}
