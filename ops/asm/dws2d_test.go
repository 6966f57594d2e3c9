package asm

import (
	"fmt"
	"math"
	"math/rand"
	"testing"
)

// TestDeinterleaveRows checks DeinterleaveRows against its definition
// over awkward widths and misaligned slices, with guards after dst.
func TestDeinterleaveRows(t *testing.T) {
	r := rand.New(rand.NewSource(1))
	for _, w := range []int{2, 4, 14, 16, 18, 30, 32, 34, 48, 112} {
		for _, rows := range []int{1, 2, 5} {
			for _, off := range []int{0, 1, 3} {
				src := make([]float32, off+rows*w)
				for i := range src {
					src[i] = r.Float32()
				}
				const guard = -7
				dst := make([]float32, off+rows*w+8)
				for i := range dst {
					dst[i] = guard
				}
				DeinterleaveRows(dst[off:], src[off:], rows, w)
				for row := 0; row < rows; row++ {
					for k := 0; k < w/2; k++ {
						e, o := dst[off+row*w+k], dst[off+row*w+w/2+k]
						if e != src[off+row*w+2*k] || o != src[off+row*w+2*k+1] {
							t.Fatalf("w %d rows %d off %d: row %d column %d: %v %v", w, rows, off, row, k, e, o)
						}
					}
				}
				for i, v := range dst[off+rows*w:] {
					if v != guard {
						t.Fatalf("w %d: wrote %v at %d past dst", w, v, i)
					}
				}
			}
		}
	}
}

// TestDepthwiseS2Deint checks DepthwiseS2DeintPlanes (assembly and Go)
// against DepthwisePlanes on the rows in their natural order, over
// awkward sizes, padding, misaligned slices, with and without bias and
// clamp, with guards after the output.
func TestDepthwiseS2Deint(t *testing.T) {
	r := rand.New(rand.NewSource(2))
	cases := 0
	for _, w := range []int{2, 4, 6, 14, 16, 18, 30, 32, 34, 112} {
		for _, h := range []int{1, 2, 3, 5, 8, 17} {
			for _, pt := range []int{0, 1} {
				for _, pb := range []int{0, 1} {
					oh := (h+pt+pb-3)/2 + 1
					if h+pt+pb < 3 || oh <= 0 {
						continue
					}
					g := DepthwiseGeom{H: h, W: w, OH: oh, OW: w / 2, PadT: pt, PadL: 1, Stride: 2}
					if !g.DepthwiseS2Deint() {
						t.Fatalf("%+v not taken", g)
					}
					for _, planes := range []int{1, 3} {
						off := (w + h + planes) % 4
						src := make([]float32, off+planes*h*w)
						for i := range src {
							src[i] = float32(r.NormFloat64())
						}
						wt := make([]float32, 9*planes)
						for i := range wt {
							wt[i] = float32(r.NormFloat64())
						}
						var bias []float32
						act := ConvActNone()
						if (w+h)%2 == 0 {
							bias = make([]float32, planes)
							for i := range bias {
								bias[i] = float32(r.NormFloat64())
							}
							act = ConvAct{Lo: 0, Hi: 6}
						}
						n := planes * g.OH * g.OW
						want := make([]float32, n)
						scratch := make([]float32, g.ScratchLen())
						DepthwisePlanes(want, src[off:], planes, &g, wt, bias, &act, scratch)
						de := make([]float32, off+planes*h*w)
						DeinterleaveRows(de[off:], src[off:], planes*h, w)
						zero := make([]float32, w)
						const guard = 1234.5
						for _, impl := range []string{"dispatch", "go"} {
							got := make([]float32, off+n+9)
							for i := range got {
								got[i] = guard
							}
							if impl == "go" {
								depthwiseS2DeintGo(got[off:], de[off:], planes, &g, wt, bias, &act)
							} else {
								DepthwiseS2DeintPlanes(got[off:], de[off:], planes, &g, wt, bias, &act, zero)
							}
							name := fmt.Sprintf("%s %+v planes %d", impl, g, planes)
							for i, v := range want {
								if d := math.Abs(float64(got[off+i] - v)); d > 1e-5*(1+math.Abs(float64(v))) {
									t.Fatalf("%s: y[%d] = %v, want %v", name, i, got[off+i], v)
								}
							}
							for i, v := range got[off+n:] {
								if v != guard {
									t.Fatalf("%s: wrote %v at %d past the output", name, v, i)
								}
							}
							for i, v := range got[:off] {
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
	}
	if cases < 100 {
		t.Fatalf("only %d cases", cases)
	}
}

// BenchmarkDepthwiseS2Deint compares, on MobileNetV2's stride-2 layers,
// DepthwisePlanes with DepthwiseS2DeintPlanes (and with the
// deinterleaving of its input, which the MobileNet block does on the
// expand convolution's six times smaller input instead).
func BenchmarkDepthwiseS2Deint(b *testing.B) {
	for _, c := range []struct {
		name      string
		planes, n int
	}{{"112", 96, 112}, {"112band", 96, 17}, {"56", 144, 56}, {"28", 192, 28}, {"14", 576, 14}} {
		w := c.n
		if c.name == "112band" {
			w = 112
		}
		o := (c.n+2-3)/2 + 1
		g := DepthwiseGeom{H: c.n, W: w, OH: o, OW: w / 2, PadT: 1, PadL: 1, Stride: 2}
		src := make([]float32, c.planes*c.n*w)
		de := make([]float32, len(src))
		dst := make([]float32, c.planes*g.OH*g.OW)
		wt := make([]float32, 9*c.planes)
		bias := make([]float32, c.planes)
		scratch := make([]float32, g.ScratchLen())
		zero := make([]float32, w)
		act := ConvAct{Lo: 0, Hi: 6}
		macs := float64(9 * len(dst))
		for _, m := range []string{"planes", "deint", "deint+rows"} {
			b.Run(c.name+"/"+m, func(b *testing.B) {
				for i := 0; i < b.N; i++ {
					switch m {
					case "planes":
						DepthwisePlanes(dst, src, c.planes, &g, wt, bias, &act, scratch)
					case "deint":
						DepthwiseS2DeintPlanes(dst, de, c.planes, &g, wt, bias, &act, zero)
					default:
						DeinterleaveRows(de, src, c.planes*c.n, w)
						DepthwiseS2DeintPlanes(dst, de, c.planes, &g, wt, bias, &act, zero)
					}
				}
				b.ReportMetric(macs*float64(b.N)/float64(b.Elapsed().Nanoseconds()), "mac/ns")
			})
		}
	}
}
