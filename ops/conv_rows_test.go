package ops

import (
	"fmt"
	"math"
	"math/rand"
	"testing"

	"github.com/onyxrt/onyx/ops/asm"
	"github.com/onyxrt/onyx/tensor"
)

// TestConvRowsMatchesGemm runs 1×1 convolutions on the position-row path
// (forced, whatever the kernels) and on the GEMM path, with and without
// bias, summand and activation, on one and two threads, and compares.
func TestConvRowsMatchesGemm(t *testing.T) {
	relu := asm.ConvActNone()
	relu.Lo = 0
	clip := asm.ConvActNone()
	clip.Lo, clip.Hi = 0, 6
	leaky := asm.ConvAct{Lo: float32(math.Inf(-1)), Hi: float32(math.Inf(1)), Leaky: true, Alpha: 0.1}
	tests := []struct {
		c, h, m, s int
		bias, sum  bool
		act        asm.ConvAct
		threads    int
	}{
		{96, 7, 128, 1, true, false, relu, 1}, // 49 positions
		{160, 7, 96, 1, false, false, asm.ConvActNone(), 1},
		{64, 4, 384, 1, true, true, clip, 1},     // 16 positions, summand
		{300, 7, 72, 1, true, true, leaky, 1},    // k blocks, channels not whole panels
		{48, 14, 256, 2, true, true, relu, 1},    // strided: subsampled to 7×7
		{512, 7, 2048, 1, true, true, relu, 2},   // ResNet-50's conv3, two threads
		{1024, 14, 256, 2, true, false, relu, 2}, // strided, two threads
		{33, 5, 65, 1, true, false, relu, 2},     // odd sizes
	}
	for _, tc := range tests {
		t.Run(fmt.Sprintf("c%d_h%d_m%d_s%d_bias%v_sum%v_t%d", tc.c, tc.h, tc.m, tc.s, tc.bias, tc.sum, tc.threads), func(t *testing.T) {
			a := convAttrs{spatialAttrs: spatialAttrs{strides: []int{tc.s, tc.s}, pads: []int{0, 0, 0, 0}, autoPad: "NOTSET"}, group: 1}
			p, err := a.plan([]int{1, tc.c, tc.h, tc.h}, []int{tc.m, tc.c, 1, 1})
			if err != nil {
				t.Fatal(err)
			}
			q := newConv32Plan(p, nil)
			q.rows = true // whatever the kernels in use
			r := rand.New(rand.NewSource(int64(tc.c*tc.m + tc.h)))
			x := randFloats(r, tc.c*tc.h*tc.h)
			W, _ := tensor.New(tensor.Float32, tc.m, tc.c, 1, 1)
			copy(W.Float32s(), randFloats(r, tc.m*tc.c))
			var bias, z []float32
			if tc.bias {
				bias = randFloats(r, tc.m)
			}
			if tc.sum {
				z = randFloats(r, tc.m*p.outSize)
			}
			want := make([]float32, tc.m*p.outSize)
			q.run(nil, 1, x, W.Float32s(), bias, z, want, &tc.act)
			rw := newConvRowsWeights(W, 1)
			if rw == nil {
				t.Fatal("no position-row weights")
			}
			wk := NewWorkers(tc.threads - 1)
			defer wk.Close()
			got := make([]float32, len(want))
			for i := range got {
				got[i] = float32(math.NaN()) // every element must be written
			}
			if !rw.run(&RunContext{Threads: tc.threads, Workers: wk}, q, W, x, bias, z, got, &tc.act) {
				t.Fatal("the position-row path declined")
			}
			for i := range want {
				if d := math.Abs(float64(got[i] - want[i])); !(d <= 1e-5*(1+math.Abs(float64(want[i])))) {
					t.Fatalf("y[%d] = %v, want %v", i, got[i], want[i])
				}
			}
			// Another filter than the constant: declined.
			W2 := W.Clone()
			if rw.run(&RunContext{Threads: 1}, q, W2, x, bias, z, got, &tc.act) {
				t.Error("ran with another filter than its constant")
			}
		})
	}
}

// randFloats returns n values in [-1, 1).
func randFloats(r *rand.Rand, n int) []float32 {
	s := make([]float32, n)
	for i := range s {
		s[i] = 2*r.Float32() - 1
	}
	return s
}

// TestConvRowsPlanned checks which convolutions take the position-row
// path: 1×1 ones (strided or not) of one image with many channels on a
// plane whose last panel would be mostly padding, with the AVX-512
// kernels only.
func TestConvRowsPlanned(t *testing.T) {
	tests := []struct {
		name                       string
		n, c, h, m, k, s, pad, grp int
		want                       bool
	}{
		{"7x7 1x1", 1, 512, 7, 2048, 1, 1, 0, 1, true},
		{"14x14 strided to 7x7", 1, 1024, 14, 2048, 1, 2, 0, 1, true},
		{"4x4", 1, 64, 4, 384, 1, 1, 0, 1, true},
		{"14x14: little padding", 1, 256, 14, 1024, 1, 1, 0, 1, false},
		{"3x3", 1, 512, 7, 512, 3, 1, 1, 1, false},
		{"two images", 2, 512, 7, 2048, 1, 1, 0, 1, false},
		{"groups", 1, 512, 7, 512, 1, 1, 0, 2, false},
		{"few channels", 1, 512, 7, 32, 1, 1, 0, 1, false},
		{"little work", 1, 16, 4, 64, 1, 1, 0, 1, false},
		{"padded 1x1", 1, 512, 5, 512, 1, 1, 1, 1, false},
	}
	avx512 := asm.SgemmImplementation() == "avx512"
	for _, tc := range tests {
		a := convAttrs{spatialAttrs: spatialAttrs{strides: []int{tc.s, tc.s}, pads: []int{tc.pad, tc.pad, tc.pad, tc.pad}, autoPad: "NOTSET"}, group: tc.grp}
		p, err := a.plan([]int{tc.n, tc.c, tc.h, tc.h}, []int{tc.m, tc.c / tc.grp, tc.k, tc.k})
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if got := newConv32Plan(p, nil).rows; got != (tc.want && avx512) {
			t.Errorf("%s: rows = %v, want %v (kernels %s)", tc.name, got, tc.want && avx512, asm.SgemmImplementation())
		}
	}
	// Only constant 1×1 float32 filters of group 1 with enough channels
	// are kept for the path.
	for _, f := range []struct {
		shape []int
		group int
		want  bool
	}{
		{[]int{64, 16, 1, 1}, 1, true},
		{[]int{64, 16, 1}, 1, true},
		{[]int{64, 16, 3, 3}, 1, false},
		{[]int{32, 16, 1, 1}, 1, false},
		{[]int{64, 8, 1, 1}, 2, false},
	} {
		w, _ := tensor.New(tensor.Float32, f.shape...)
		if got := newConvRowsWeights(w, f.group) != nil; got != f.want {
			t.Errorf("filter %v group %d: kept %v, want %v", f.shape, f.group, got, f.want)
		}
	}
}
