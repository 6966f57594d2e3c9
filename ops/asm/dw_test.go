package asm

import (
	"fmt"
	"math"
	"math/rand"
	"testing"
)

// dwImpl is an implementation of DepthwisePlanes under test.
type dwImpl struct {
	name string
	run  func(dst, src []float32, planes int, g *DepthwiseGeom, w, bias []float32, act *ConvAct, scratch []float32)
}

// depthwiseNaive is the definition DepthwisePlanes implements.
func depthwiseNaive(dst, src []float32, planes int, g *DepthwiseGeom, w, bias []float32, act *ConvAct) {
	for p := 0; p < planes; p++ {
		for y := 0; y < g.OH; y++ {
			for x := 0; x < g.OW; x++ {
				var v float32
				if bias != nil {
					v = bias[p]
				}
				for i := 0; i < 3; i++ {
					for j := 0; j < 3; j++ {
						r, c := y*g.Stride+i-g.PadT, x*g.Stride+j-g.PadL
						if r >= 0 && r < g.H && c >= 0 && c < g.W {
							v += w[9*p+3*i+j] * src[p*g.H*g.W+r*g.W+c]
						}
					}
				}
				dst[p*g.OH*g.OW+y*g.OW+x] = act.apply(v)
			}
		}
	}
}

// TestDepthwisePlanes compares DepthwisePlanes (the assembly where the
// CPU has it) and the Go version with the definition, over awkward plane
// sizes, paddings, strides, plane counts, misaligned slices, with and
// without bias, and checks that nothing past the output is written.
func TestDepthwisePlanes(t *testing.T) {
	r := rand.New(rand.NewSource(5))
	impls := []dwImpl{
		{"dispatch", DepthwisePlanes},
		{"go", func(dst, src []float32, planes int, g *DepthwiseGeom, w, bias []float32, act *ConvAct, _ []float32) {
			depthwisePlanesGo(dst, src, planes, g, w, bias, act)
		}},
	}
	impls = append(impls, archDepthwiseImpls()...)
	sizes := []int{1, 2, 3, 5, 7, 8, 9, 14, 16, 17, 31, 33}
	cases := 0
	for _, s := range []int{1, 2} {
		for _, h := range sizes {
			for _, wd := range sizes {
				// A few paddings per size (all of them for some).
				for k := 0; k < 3; k++ {
					pt, pl := r.Intn(3), r.Intn(3)
					pb, pr := r.Intn(4)-1, r.Intn(4)-1
					oh := (h+pt+pb-3)/s + 1
					ow := (wd+pl+pr-3)/s + 1
					if h+pt+pb < 3 || wd+pl+pr < 3 || oh < 1 || ow < 1 {
						continue
					}
					g := &DepthwiseGeom{H: h, W: wd, OH: oh, OW: ow, PadT: pt, PadL: pl, Stride: s}
					planes := 1 + r.Intn(3)
					if r.Intn(2) == 0 {
						planes = 8 + r.Intn(12)
					}
					off := r.Intn(4)
					act := convActs[r.Intn(len(convActs))]
					src := randSlice[float32](r, off+planes*h*wd)[off:]
					if len(src) > 4 && r.Intn(4) == 0 {
						src[r.Intn(len(src))] = float32(math.NaN())
					}
					w := randSlice[float32](r, off+9*planes)[off:]
					var bias []float32
					if r.Intn(2) == 0 {
						bias = randSlice[float32](r, off+planes)[off:]
					}
					n := planes * oh * ow
					want := make([]float32, n)
					depthwiseNaive(want, src, planes, g, w, bias, &act)
					for _, im := range impls {
						name := fmt.Sprintf("%s/%+v/planes=%d/%+v/off=%d/bias=%v", im.name, *g, planes, act, off, bias != nil)
						buf := make([]float32, off+n+16)
						for i := range buf {
							buf[i] = guard
						}
						got := buf[off : off+n]
						scratch := randSlice[float32](r, g.ScratchLen()+r.Intn(5))
						im.run(got, src, planes, g, w, bias, &act, scratch)
						for i := range want {
							if !convClose(got[i], want[i], 1e-5) {
								t.Fatalf("%s: element %d = %v, want %v", name, i, got[i], want[i])
							}
						}
						for i, v := range buf[off+n:] {
							if v != guard {
								t.Fatalf("%s: wrote %v at %d past the output", name, v, i)
							}
						}
						for i, v := range buf[:off] {
							if v != guard {
								t.Fatalf("%s: wrote %v at %d before the output", name, v, i)
							}
						}
					}
					cases++
				}
			}
		}
	}
	if cases < 200 {
		t.Fatalf("only %d cases", cases)
	}
}

// TestDepthwisePlanesWide compares every path with the definition on
// rows wider than one or two vectors (up to the AVX-512 kernel's limit
// and past it) and on paddings wider than a vector, at stride 1 and 2.
func TestDepthwisePlanesWide(t *testing.T) {
	r := rand.New(rand.NewSource(9))
	impls := append([]dwImpl{{"dispatch", DepthwisePlanes}}, archDepthwiseImpls()...)
	tests := []struct{ h, w, pt, pl, pb, pr, s int }{
		{3, 17, 1, 1, 1, 1, 1},
		{4, 63, 0, 2, 0, 0, 1},
		{2, 250, 1, 1, 1, 5, 1}, // 256 outputs a row
		{2, 255, 1, 1, 1, 1, 1}, // 257: past the AVX-512 kernel
		{3, 5, 2, 20, 1, 17, 1}, // padding wider than a vector
		{3, 2, 1, 18, 1, 0, 1},  // outputs left of the plane only
		{5, 40, 1, 1, 1, 1, 2},
		{3, 9, 2, 19, 2, 19, 2},
	}
	for _, tc := range tests {
		oh := (tc.h+tc.pt+tc.pb-3)/tc.s + 1
		ow := (tc.w+tc.pl+tc.pr-3)/tc.s + 1
		g := &DepthwiseGeom{H: tc.h, W: tc.w, OH: oh, OW: ow, PadT: tc.pt, PadL: tc.pl, Stride: tc.s}
		planes := 3
		src := randSlice[float32](r, planes*tc.h*tc.w)
		w := randSlice[float32](r, 9*planes)
		bias := randSlice[float32](r, planes)
		for _, act := range convActs {
			want := make([]float32, planes*oh*ow)
			depthwiseNaive(want, src, planes, g, w, bias, &act)
			for _, im := range impls {
				buf := make([]float32, len(want)+16)
				for i := range buf {
					buf[i] = guard
				}
				got := buf[:len(want)]
				im.run(got, src, planes, g, w, bias, &act, make([]float32, g.ScratchLen()))
				for i := range want {
					if !convClose(got[i], want[i], 1e-5) {
						t.Fatalf("%s %+v %+v: element %d = %v, want %v", im.name, *g, act, i, got[i], want[i])
					}
				}
				for i, v := range buf[len(want):] {
					if v != guard {
						t.Fatalf("%s %+v: wrote %v at %d past the output", im.name, *g, v, i)
					}
				}
			}
		}
	}
}

// BenchmarkDepthwisePlanes times the MobileNetV2 depthwise layers.
func BenchmarkDepthwisePlanes(b *testing.B) {
	for _, c := range []struct {
		name          string
		planes, hw, s int
	}{
		{"112", 32, 112, 1}, {"112s2", 96, 112, 2}, {"56", 144, 56, 1}, {"28", 192, 28, 1},
		{"14", 576, 14, 1}, {"14s2", 576, 14, 2}, {"7", 960, 7, 1},
	} {
		b.Run(c.name, func(b *testing.B) {
			o := (c.hw+2-3)/c.s + 1
			g := &DepthwiseGeom{H: c.hw, W: c.hw, OH: o, OW: o, PadT: 1, PadL: 1, Stride: c.s}
			src := make([]float32, c.planes*c.hw*c.hw)
			dst := make([]float32, c.planes*o*o)
			w := make([]float32, 9*c.planes)
			bias := make([]float32, c.planes)
			scratch := make([]float32, g.ScratchLen())
			act := ConvAct{Lo: 0, Hi: 6}
			b.SetBytes(int64(4 * (len(src) + len(dst))))
			for i := 0; i < b.N; i++ {
				DepthwisePlanes(dst, src, c.planes, g, w, bias, &act, scratch)
			}
		})
	}
}
