package ops

import (
	"context"
	"math"
	"strings"
	"sync"
	"testing"

	"github.com/onyxrt/onyx/tensor"
)

// meanVar returns the sample mean and (population) variance of v.
func meanVar(v []float64) (float64, float64) {
	var s float64
	for _, x := range v {
		s += x
	}
	m := s / float64(len(v))
	var q float64
	for _, x := range v {
		q += (x - m) * (x - m)
	}
	return m, q / float64(len(v))
}

func TestRandomDistributions(t *testing.T) {
	const n = 200 * 500
	like := sgF64([]int{200, 500}, make([]float64, n)...)
	cases := []struct {
		name      string
		op        string
		attrs     map[string]any
		in        []*tensor.Tensor
		dtype     tensor.DType
		mean, vr  float64 // expected mean and variance
		low, high float64 // uniform bounds (NaN: unbounded)
	}{
		{"normal", "RandomNormal", map[string]any{"shape": []int{200, 500}, "mean": 2.0, "scale": 3.0, "seed": 1.0},
			nil, tensor.Float32, 2, 9, math.NaN(), math.NaN()},
		{"normal defaults, unseeded, float64", "RandomNormal", map[string]any{"shape": []int{200, 500}, "dtype": int(tensor.Float64)},
			nil, tensor.Float64, 0, 1, math.NaN(), math.NaN()},
		{"normal float16", "RandomNormal", map[string]any{"shape": []int{200, 500}, "dtype": int(tensor.Float16), "mean": -1.0, "scale": 0.5, "seed": 7.0},
			nil, tensor.Float16, -1, 0.25, math.NaN(), math.NaN()},
		{"uniform", "RandomUniform", map[string]any{"shape": []int{200, 500}, "low": -1.0, "high": 3.0, "seed": 2.0},
			nil, tensor.Float32, 1, 16.0 / 12, -1, 3},
		{"uniform defaults", "RandomUniform", map[string]any{"shape": []int{200, 500}},
			nil, tensor.Float32, 0.5, 1.0 / 12, 0, 1},
		{"uniform float16 narrow", "RandomUniform", map[string]any{"shape": []int{200, 500}, "low": 1.0, "high": 1.0625, "dtype": int(tensor.Float16)},
			nil, tensor.Float16, 1.03125, 0.0625 * 0.0625 / 12, 1, 1.0625},
		{"normal like, input dtype", "RandomNormalLike", map[string]any{"mean": 5.0, "scale": 0.1},
			[]*tensor.Tensor{like}, tensor.Float64, 5, 0.01, math.NaN(), math.NaN()},
		{"uniform like, dtype attr", "RandomUniformLike", map[string]any{"low": 10.0, "high": 20.0, "dtype": int(tensor.Float32), "seed": 3.0},
			[]*tensor.Tensor{tensor.MustNew(tensor.Int32, 200, 500)}, tensor.Float32, 15, 100.0 / 12, 10, 20},
	}
	for _, c := range cases {
		got, err := sgRun(registerRandom, c.op, 1, c.attrs, 1, c.in...)
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		y := got[0]
		if y.DType() != c.dtype || !tensor.ShapeEqual(y.Shape(), []int{200, 500}) {
			t.Fatalf("%s: got %v%v, want %v[200 500]", c.name, y.DType(), y.Shape(), c.dtype)
		}
		v := y.Float64s()
		m, vr := meanVar(v)
		sd := math.Sqrt(c.vr)
		// Five standard errors of the mean; the variance within 5%.
		if math.Abs(m-c.mean) > 5*sd/math.Sqrt(n)+1e-3*sd {
			t.Errorf("%s: mean %v, want %v", c.name, m, c.mean)
		}
		if math.Abs(vr-c.vr) > 0.05*c.vr {
			t.Errorf("%s: variance %v, want %v", c.name, vr, c.vr)
		}
		if !math.IsNaN(c.low) {
			for i, x := range v {
				if x < c.low || x >= c.high {
					t.Fatalf("%s: element %d = %v is outside [%v, %v)", c.name, i, x, c.low, c.high)
				}
			}
		}
	}
}

func TestRandomSeeds(t *testing.T) {
	run := func(attrs map[string]any) []float64 {
		got, err := sgRun(registerRandom, "RandomUniform", 1, attrs, 1)
		if err != nil {
			t.Fatal(err)
		}
		return got[0].Float64s()
	}
	same := func(a, b []float64) bool {
		for i := range a {
			if a[i] != b[i] {
				return false
			}
		}
		return true
	}
	shape := []int{64}
	a := run(map[string]any{"shape": shape, "seed": 5.0})
	b := run(map[string]any{"shape": shape, "seed": 5.0})
	c := run(map[string]any{"shape": shape, "seed": 6.0})
	u1 := run(map[string]any{"shape": shape})
	u2 := run(map[string]any{"shape": shape})
	if !same(a, b) {
		t.Errorf("the same seed gave different values")
	}
	if same(a, c) {
		t.Errorf("seeds 5 and 6 gave the same values")
	}
	if same(u1, u2) {
		t.Errorf("two unseeded runs gave the same values")
	}

	// A seeded kernel called from many goroutines gives the same values
	// each time (no shared generator state).
	k, err := sgBuild(registerRandom, "RandomNormal", 1, map[string]any{"shape": shape, "seed": 9.0}, 1, 0, nil)
	if err != nil {
		t.Fatal(err)
	}
	first, err := k.Run(&RunContext{Ctx: context.Background(), Threads: 1}, nil)
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			got, err := k.Run(&RunContext{Ctx: context.Background(), Threads: 1}, nil)
			if err != nil || !same(got[0].Float64s(), first[0].Float64s()) {
				t.Errorf("concurrent run differs (err %v)", err)
			}
		}()
	}
	wg.Wait()
}

func TestRandomMultinomial(t *testing.T) {
	const samples = 40000
	probs := [][]float64{{0.2, 0.5, 0.3, 0}, {0.7, 0, 0.1, 0.2}}
	logits := []float32{}
	for _, row := range probs {
		for _, p := range row {
			logits = append(logits, float32(math.Log(p)+1.5)) // unnormalized; log(0) = -Inf
		}
	}
	for _, dt := range []tensor.DType{tensor.Int32, tensor.Int64} {
		got, err := sgRun(registerRandom, "Multinomial", 7, map[string]any{"sample_size": samples, "dtype": int(dt), "seed": 4.0}, 1, sgF32([]int{2, 4}, logits...))
		if err != nil {
			t.Fatal(err)
		}
		y := got[0]
		if y.DType() != dt || !tensor.ShapeEqual(y.Shape(), []int{2, samples}) {
			t.Fatalf("got %v%v, want %v[2 %d]", y.DType(), y.Shape(), dt, samples)
		}
		v, _ := y.AsInt64s()
		for r, row := range probs {
			counts := make([]float64, 4)
			for _, c := range v[r*samples : (r+1)*samples] {
				if c < 0 || c > 3 {
					t.Fatalf("class %d out of range", c)
				}
				counts[c]++
			}
			for j, p := range row {
				f := counts[j] / samples
				if math.Abs(f-p) > 5*math.Sqrt(p*(1-p)/samples)+1e-12 {
					t.Errorf("row %d class %d: frequency %v, want %v", r, j, f, p)
				}
			}
		}
	}
	// Default dtype int32, sample_size 1; float64 and float16 inputs.
	for _, x := range []*tensor.Tensor{sgF64([]int{3, 2}, 0, 0, 1, 1, 2, 2), sgHalf([]int{3, 2}, 0, 0, 1, 1, 2, 2)} {
		got, err := sgRun(registerRandom, "Multinomial", 7, nil, 1, x)
		if err != nil {
			t.Fatal(err)
		}
		if got[0].DType() != tensor.Int32 || !tensor.ShapeEqual(got[0].Shape(), []int{3, 1}) {
			t.Fatalf("got %v%v, want int32[3 1]", got[0].DType(), got[0].Shape())
		}
	}
	bad := []struct {
		attrs map[string]any
		in    *tensor.Tensor
		want  string
	}{
		{nil, sgF32([]int{1, 2}, float32(math.Inf(-1)), float32(math.Inf(-1))), "no class"},
		{nil, sgF32([]int{1, 2}, float32(math.NaN()), 0), "log-probability"},
		{nil, sgF32([]int{4}, 0, 0, 0, 0), "batch_size"},
		{map[string]any{"dtype": int(tensor.Float32)}, sgF32([]int{1, 2}, 0, 0), "int32 or int64"},
		{map[string]any{"sample_size": 0}, sgF32([]int{1, 2}, 0, 0), "sample_size"},
	}
	for _, c := range bad {
		_, err := sgRun(registerRandom, "Multinomial", 7, c.attrs, 1, c.in)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%v %v: got error %v, want one mentioning %q", c.attrs, c.in, err, c.want)
		}
	}
}

func TestRandomBernoulli(t *testing.T) {
	const n = 30000
	p := make([]float64, 3*n)
	for i := 0; i < n; i++ {
		p[3*i], p[3*i+1], p[3*i+2] = 0, 1, 0.3
	}
	cases := []struct {
		attrs map[string]any
		in    *tensor.Tensor
		dtype tensor.DType
	}{
		{nil, sgF64([]int{n, 3}, p...), tensor.Float64},
		{map[string]any{"seed": 0.0}, tensor.From([]int{n, 3}, rndConvert[float64, float32](p)), tensor.Float32},
		{map[string]any{"dtype": int(tensor.Bool)}, sgF64([]int{n, 3}, p...), tensor.Bool},
		{map[string]any{"dtype": int(tensor.Int64), "seed": 1.5}, sgF64([]int{n, 3}, p...), tensor.Int64},
		{map[string]any{"dtype": int(tensor.Uint8)}, sgHalf([]int{n, 3}, rndConvert[float64, float32](p)...), tensor.Uint8},
	}
	for _, c := range cases {
		got, err := sgRun(registerRandom, "Bernoulli", 15, c.attrs, 1, c.in)
		if err != nil {
			t.Fatal(err)
		}
		y := got[0]
		if y.DType() != c.dtype || !tensor.ShapeEqual(y.Shape(), []int{n, 3}) {
			t.Fatalf("%v: got %v%v, want %v[%d 3]", c.attrs, y.DType(), y.Shape(), c.dtype, n)
		}
		v := y.Float64s()
		ones := 0.0
		for i := 0; i < n; i++ {
			if v[3*i] != 0 || v[3*i+1] != 1 {
				t.Fatalf("%v: p=0 gave %v, p=1 gave %v", c.attrs, v[3*i], v[3*i+1])
			}
			if x := v[3*i+2]; x != 0 && x != 1 {
				t.Fatalf("%v: drew %v", c.attrs, x)
			}
			ones += v[3*i+2]
		}
		if f := ones / n; math.Abs(f-0.3) > 5*math.Sqrt(0.3*0.7/n) {
			t.Errorf("%v: frequency of ones at p=0.3 is %v", c.attrs, f)
		}
	}
	if _, err := sgRun(registerRandom, "Bernoulli", 15, nil, 1, tensor.From([]int{2}, []int32{0, 1})); err == nil {
		t.Errorf("Bernoulli accepted an int32 input")
	}
	if _, err := sgRun(registerRandom, "Bernoulli", 15, map[string]any{"dtype": int(tensor.String)}, 1, sgF32([]int{1}, 0.5)); err == nil {
		t.Errorf("Bernoulli accepted a string dtype")
	}
}

func TestRandomErrors(t *testing.T) {
	cases := []struct {
		op    string
		attrs map[string]any
		in    []*tensor.Tensor
		want  string
	}{
		{"RandomNormal", nil, nil, "shape"},
		{"RandomNormal", map[string]any{"shape": []int{2, -1}}, nil, "negative"},
		{"RandomNormal", map[string]any{"shape": []int{1 << 20, 1 << 20}}, nil, "too large"},
		{"RandomNormal", map[string]any{"shape": []int{2}, "dtype": int(tensor.Int32)}, nil, "not a float type"},
		{"RandomUniform", map[string]any{"shape": []int{2}, "low": 2.0, "high": 1.0}, nil, "below low"},
		{"RandomNormalLike", nil, []*tensor.Tensor{tensor.From([]int{2}, []int64{1, 2})}, "not a float type"},
		{"RandomUniformLike", nil, []*tensor.Tensor{nil}, "missing"},
	}
	for _, c := range cases {
		_, err := sgRun(registerRandom, c.op, 1, c.attrs, 1, c.in...)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s %v: got error %v, want one mentioning %q", c.op, c.attrs, err, c.want)
		}
	}
}

func rndConvert[S, D float32 | float64](s []S) []D {
	out := make([]D, len(s))
	for i, v := range s {
		out[i] = D(v)
	}
	return out
}
