package ops

import (
	"fmt"
	"math"
	"math/rand"
	"testing"

	"github.com/onyxrt/onyx/ops/asm"
	"github.com/onyxrt/onyx/tensor"
)

// TestConvRowsMatchesGemm runs convolutions on the position-row path
// (forced, whatever the kernels) and on the GEMM path, with and without
// bias, summand and activation, on one and two threads, and compares:
// 1×1 ones straight from the input (or its subsampled copy), and through
// im2row those with larger kernels, padding, strides, dilations, and 1-D
// ones.
func TestConvRowsMatchesGemm(t *testing.T) {
	relu := asm.ConvActNone()
	relu.Lo = 0
	clip := asm.ConvActNone()
	clip.Lo, clip.Hi = 0, 6
	leaky := asm.ConvAct{Lo: float32(math.Inf(-1)), Hi: float32(math.Inf(1)), Leaky: true, Alpha: 0.1}
	tests := []struct {
		c, h, m, k, s, pad, dil int
		oneD                    bool
		bias, sum               bool
		act                     asm.ConvAct
		threads                 int
	}{
		{96, 7, 128, 1, 1, 0, 1, false, true, false, relu, 1}, // 49 positions
		{160, 7, 96, 1, 1, 0, 1, false, false, false, asm.ConvActNone(), 1},
		{64, 4, 384, 1, 1, 0, 1, false, true, true, clip, 1},     // 16 positions, summand
		{300, 7, 72, 1, 1, 0, 1, false, true, true, leaky, 1},    // k blocks, channels not whole panels
		{48, 14, 256, 1, 2, 0, 1, false, true, true, relu, 1},    // strided: subsampled to 7×7
		{512, 7, 2048, 1, 1, 0, 1, false, true, true, relu, 2},   // ResNet-50's conv3, two threads
		{1024, 14, 256, 1, 2, 0, 1, false, true, false, relu, 2}, // strided, two threads
		{33, 5, 65, 1, 1, 0, 1, false, true, false, relu, 2},     // odd sizes
		// Through im2row.
		{64, 5, 64, 3, 1, 0, 1, false, true, false, relu, 1}, // the MNIST CNN's conv3: 3×3 positions
		{64, 5, 64, 3, 1, 0, 1, false, false, false, asm.ConvActNone(), 1},
		{32, 5, 96, 3, 1, 1, 1, false, true, true, clip, 1},   // padded, summand
		{40, 7, 80, 3, 2, 1, 1, false, true, false, leaky, 1}, // strided and padded: 4×4
		{24, 9, 72, 3, 1, 2, 2, false, true, false, relu, 1},  // dilated
		{16, 6, 64, 5, 1, 2, 1, false, false, true, relu, 1},  // 5×5, the padding of both sides of a row
		{128, 7, 200, 3, 1, 1, 1, false, true, true, relu, 2}, // two threads, channels not whole panels
		{32, 12, 64, 3, 1, 1, 1, true, true, false, relu, 1},  // 1-D
		{96, 3, 64, 1, 1, 1, 1, false, true, false, relu, 1},  // padded 1×1
	}
	for _, tc := range tests {
		name := fmt.Sprintf("c%d_h%d_m%d_k%d_s%d_p%d_d%d_1d%v_bias%v_sum%v_t%d", tc.c, tc.h, tc.m, tc.k, tc.s, tc.pad, tc.dil, tc.oneD, tc.bias, tc.sum, tc.threads)
		t.Run(name, func(t *testing.T) {
			xs, ws := []int{1, tc.c, tc.h, tc.h}, []int{tc.m, tc.c, tc.k, tc.k}
			a := convAttrs{spatialAttrs: spatialAttrs{strides: []int{tc.s, tc.s}, dilations: []int{tc.dil, tc.dil}, pads: []int{tc.pad, tc.pad, tc.pad, tc.pad}, autoPad: "NOTSET"}, group: 1}
			if tc.oneD {
				xs, ws = xs[:3], ws[:3]
				a.strides, a.dilations, a.pads = a.strides[:1], a.dilations[:1], a.pads[:2]
			}
			p, err := a.plan(xs, ws)
			if err != nil {
				t.Fatal(err)
			}
			q := newConv32Plan(p, nil)
			q.rows = true // whatever the kernels in use
			r := rand.New(rand.NewSource(int64(tc.c*tc.m + tc.h)))
			x := randFloats(r, prod(xs))
			W, _ := tensor.New(tensor.Float32, ws...)
			copy(W.Float32s(), randFloats(r, W.Len()))
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
			for range 2 { // the second run on the plan's scratch of the first
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
			}
			// Another filter than the constant: declined.
			W2 := W.Clone()
			if rw.run(&RunContext{Threads: 1}, q, W2, x, bias, z, got, &tc.act) {
				t.Error("ran with another filter than its constant")
			}
		})
	}
}

// TestIm2rowIsIm2colTurned checks im2row against im2col: row o of im2row
// holds column o of im2col, its rows taken tap by tap, each tap's channels
// in turn.
func TestIm2rowIsIm2colTurned(t *testing.T) {
	tests := []struct{ c, h, w, k, s, pad, dil int }{
		{1, 5, 5, 3, 1, 0, 1},
		{3, 7, 6, 3, 2, 1, 1},
		{4, 9, 9, 3, 1, 2, 2},
		{2, 6, 8, 5, 1, 2, 1},
		{5, 4, 4, 1, 1, 1, 1},
		{2, 10, 10, 3, 3, 0, 2},
	}
	for _, tc := range tests {
		a := convAttrs{spatialAttrs: spatialAttrs{strides: []int{tc.s, tc.s}, dilations: []int{tc.dil, tc.dil}, pads: []int{tc.pad, tc.pad, tc.pad, tc.pad}, autoPad: "NOTSET"}, group: 1}
		p, err := a.plan([]int{1, tc.c, tc.h, tc.w}, []int{1, tc.c, tc.k, tc.k})
		if err != nil {
			t.Fatal(err)
		}
		r := rand.New(rand.NewSource(int64(tc.c + tc.h*tc.k)))
		x := randFloats(r, tc.c*tc.h*tc.w)
		taps, n := tc.k*tc.k, p.outSize
		col := make([]float32, tc.c*taps*n)
		im2col(x, tc.c, p.g, col)
		xt := make([]float32, len(x))
		asm.Transpose(tc.c, tc.h*tc.w, x, tc.h*tc.w, xt, tc.c)
		row := make([]float32, n*tc.c*taps)
		for i := range row {
			row[i] = float32(math.NaN())
		}
		im2row(xt, tc.c, p.g, row)
		for o := 0; o < n; o++ {
			for tp := 0; tp < taps; tp++ {
				for ci := 0; ci < tc.c; ci++ {
					if got, want := row[(o*taps+tp)*tc.c+ci], col[(ci*taps+tp)*n+o]; got != want {
						t.Fatalf("%+v: position %d tap %d channel %d: %v, want %v", tc, o, tp, ci, got, want)
					}
				}
			}
		}
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
// path: those of one image with many channels on a plane whose last panel
// would be mostly padding, 1×1 ones (strided or not) and the others when
// their im2row matrix is small, with the AVX-512 kernels only; and that
// the Winograd path leaves them a convolution of a single tile.
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
		{"3x3: im2row too large", 1, 512, 7, 512, 3, 1, 1, 1, false},
		{"3x3 on 3x3 positions", 1, 64, 5, 64, 3, 1, 0, 1, true},
		{"3x3 strided to 7x7", 1, 128, 14, 192, 3, 2, 1, 1, true},
		{"3x3 on 14x14: little padding", 1, 64, 14, 64, 3, 1, 1, 1, false},
		{"two images", 2, 512, 7, 2048, 1, 1, 0, 1, false},
		{"groups", 1, 512, 7, 512, 1, 1, 0, 2, false},
		{"few channels", 1, 512, 7, 32, 1, 1, 0, 1, false},
		{"little work", 1, 16, 4, 64, 1, 1, 0, 1, false},
		{"padded 1x1", 1, 512, 5, 512, 1, 1, 1, 1, true},
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
	// The MNIST CNN's conv3 (one Winograd tile) takes the path, the
	// speech CNN's last layer (ten tiles) the Winograd one.
	for _, tc := range []struct {
		c, h, w, m int
		wino       bool
	}{{64, 5, 5, 64, false}, {64, 5, 20, 128, true}} {
		a := convAttrs{spatialAttrs: spatialAttrs{pads: []int{0, 0, 0, 0}, autoPad: "NOTSET"}, group: 1}
		if tc.wino {
			a.pads = []int{1, 1, 1, 1}
		}
		cs := &convShapes{a: &a}
		s, err := cs.get([]int{1, tc.c, tc.h, tc.w}, []int{tc.m, tc.c, 3, 3})
		if err != nil {
			t.Fatal(err)
		}
		if avx512 && (s.wino != nil) != tc.wino {
			t.Errorf("%+v: Winograd %v, want %v", tc, s.wino != nil, tc.wino)
		}
	}
	// Only constant float32 filters of group 1 with enough channels are
	// kept for the path.
	for _, f := range []struct {
		shape []int
		group int
		want  bool
	}{
		{[]int{64, 16, 1, 1}, 1, true},
		{[]int{64, 16, 1}, 1, true},
		{[]int{64, 16, 3, 3}, 1, true},
		{[]int{32, 16, 1, 1}, 1, false},
		{[]int{64, 8, 1, 1}, 2, false},
	} {
		w, _ := tensor.New(tensor.Float32, f.shape...)
		if got := newConvRowsWeights(w, f.group) != nil; got != f.want {
			t.Errorf("filter %v group %d: kept %v, want %v", f.shape, f.group, got, f.want)
		}
	}
}
