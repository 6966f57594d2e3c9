package asm

import (
	"fmt"
	"math"
	"math/rand"
	"testing"
)

// TestConvPosTiles compares ConvPosTiles (the assembly where the CPU has
// it) with its Go reference over awkward depths, tile counts, strides,
// offsets (a misaligned input) and accumulation, checking that nothing
// past the tiles' columns and rows is written.
func TestConvPosTiles(t *testing.T) {
	// Both amd64 kernels where the CPU has them: convPosTiles takes the
	// AVX-512 one with the AVX-512 SGEMM (convPos512).
	defer func(v bool) { convPos512 = v }(convPos512)
	for _, wide := range []bool{false, true} {
		if wide && !convPos512Available() {
			continue
		}
		convPos512 = wide
		t.Run(fmt.Sprintf("avx512=%v", wide), testConvPosTiles)
	}
}

func testConvPosTiles(t *testing.T) {
	rng := rand.New(rand.NewSource(1))
	for _, k := range []int{1, 2, 3, 9, 27, 144, 288, 577} {
		for _, nt := range []int{1, 2, 5} {
			for _, ldc := range []int{16, 19, 64} {
				for _, acc := range []bool{false, true} {
					name := fmt.Sprintf("k%d/nt%d/ldc%d/acc%v", k, nt, ldc, acc)
					t.Run(name, func(t *testing.T) {
						xlen := 1000 + rng.Intn(7)
						x := make([]float32, xlen+3)[3:] // misaligned
						for i := range x {
							x[i] = rng.Float32()*2 - 1
						}
						posOff := make([]int32, nt*PosTileRows)
						for i := range posOff {
							posOff[i] = int32(rng.Intn(400))
						}
						kOff := make([]int32, k)
						for i := range kOff {
							kOff[i] = int32(rng.Intn(xlen - 400))
						}
						kOff[k-1] = int32(xlen - 400) // reaches the last element with posOff 399
						posOff[0] = 399
						b := make([]float32, k*PosPanel+1)[1:]
						for i := range b {
							b[i] = rng.Float32()*2 - 1
						}
						rows := nt * PosTileRows
						c0 := make([]float32, rows*ldc+8)
						for i := range c0 {
							c0[i] = rng.Float32()
						}
						got, want := append([]float32(nil), c0...), append([]float32(nil), c0...)
						ConvPosTiles(k, x, NewOffsets(posOff), 0, nt, NewOffsets(kOff), 0, b, got, ldc, acc)
						convPosTilesGo(k, x, posOff, nt, kOff, b, want, ldc, acc)
						for i := range got {
							r, j := i/ldc, i%ldc
							if r >= rows || j >= PosPanel {
								if got[i] != c0[i] {
									t.Fatalf("c[%d] (row %d col %d) outside the tiles written", i, r, j)
								}
								continue
							}
							tol := 1e-5 * float64(k+1)
							if math.Abs(float64(got[i]-want[i])) > tol {
								t.Fatalf("c[row %d][%d] = %g, want %g", r, j, got[i], want[i])
							}
						}
					})
				}
			}
		}
	}
}

// TestConvPosTilesPanels checks that ConvPosTilesPanels (two panels a
// call with the AVX-512 kernel) gives what ConvPosTiles gives panel by
// panel, bit for bit, over odd and even depths and panel counts, a k
// block past the first row, accumulation, and that it writes no column
// past the panels.
func TestConvPosTilesPanels(t *testing.T) {
	defer func(v bool) { convPos512 = v }(convPos512)
	for _, wide := range []bool{false, true} {
		if wide && !convPos512Available() {
			continue
		}
		convPos512 = wide
		rng := rand.New(rand.NewSource(3))
		for _, tc := range []struct{ k, k0, kdim, q0, q1, nt int }{
			{9, 0, 9, 0, 2, 3}, {27, 0, 27, 0, 2, 1}, {1, 0, 1, 0, 4, 2}, {288, 0, 288, 0, 4, 5},
			{7, 3, 12, 1, 4, 2}, {64, 128, 576, 0, 3, 4}, {65, 0, 65, 2, 7, 1}, {30, 0, 30, 3, 4, 2},
		} {
			for _, acc := range []bool{false, true} {
				t.Run(fmt.Sprintf("avx512=%v/%+v/acc%v", wide, tc, acc), func(t *testing.T) {
					xlen := 900
					x := make([]float32, xlen+1)[1:]
					for i := range x {
						x[i] = rng.Float32()*2 - 1
					}
					posOff := make([]int32, tc.nt*PosTileRows)
					for i := range posOff {
						posOff[i] = int32(rng.Intn(300))
					}
					kOff := make([]int32, tc.kdim)
					for i := range kOff {
						kOff[i] = int32(rng.Intn(xlen - 300))
					}
					w := make([]float32, tc.q1*tc.kdim*PosPanel)
					for i := range w {
						w[i] = rng.Float32()*2 - 1
					}
					ldc := tc.q1*PosPanel + 3
					rows := tc.nt * PosTileRows
					c0 := make([]float32, rows*ldc)
					for i := range c0 {
						c0[i] = rng.Float32()
					}
					got, want := append([]float32(nil), c0...), append([]float32(nil), c0...)
					pos, ko := NewOffsets(posOff), NewOffsets(kOff)
					ConvPosTilesPanels(tc.k, x, pos, 0, tc.nt, ko, tc.k0, w, tc.kdim, tc.q0, tc.q1, got, ldc, acc)
					for q := tc.q0; q < tc.q1; q++ {
						ConvPosTiles(tc.k, x, pos, 0, tc.nt, ko, tc.k0, w[(q*tc.kdim+tc.k0)*PosPanel:(q*tc.kdim+tc.k0+tc.k)*PosPanel], want[q*PosPanel:], ldc, acc)
					}
					for i := range got {
						if got[i] != want[i] {
							t.Fatalf("c[row %d][%d] = %g, want %g", i/ldc, i%ldc, got[i], want[i])
						}
					}
				})
			}
		}
	}
}

// TestConvPosTilesBounds checks that offsets reaching outside the input
// panic instead of reading past it.
func TestConvPosTilesBounds(t *testing.T) {
	x := make([]float32, 100)
	posOff := make([]int32, PosTileRows)
	posOff[3] = 90
	kOff := []int32{0, 10}
	pos, ko := NewOffsets(posOff), NewOffsets(kOff)
	b := make([]float32, 2*2*PosPanel)
	c := make([]float32, PosTileRows*2*PosPanel)
	for _, tc := range []struct {
		name string
		run  func()
	}{
		{"ConvPosTiles", func() { ConvPosTiles(2, x, pos, 0, 1, ko, 0, b[:2*PosPanel], c, PosPanel, false) }},
		{"ConvPosTilesPanels", func() { ConvPosTilesPanels(2, x, pos, 0, 1, ko, 0, b, 2, 0, 2, c, 2*PosPanel, false) }},
	} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("%s: no panic for an offset past the input", tc.name)
				}
			}()
			tc.run()
		}()
	}
}

// TestConvPosEpi compares ConvPosEpi with its Go reference over window
// sizes, position counts around multiples of 8, activations and strides,
// checking that nothing past the nq positions of each channel is
// written.
func TestConvPosEpi(t *testing.T) {
	rng := rand.New(rand.NewSource(2))
	acts := []ConvAct{ConvActNone(), {Lo: 0, Hi: float32(math.Inf(1))}, {Lo: -0.5, Hi: 0.25}, {Leaky: true, Alpha: 0.1}}
	for _, win := range []int{1, 2, 4, 9} {
		for _, nq := range []int{1, 7, 8, 9, 16, 25, 169, 512, 1024} {
			groups := 1 + nq%3
			if nq >= 512 {
				groups = 4 // planes a multiple of 2 KiB apart (ldy 512, 1024): group by group
			}
			for ai, act := range acts {
				for _, withBias := range []bool{false, true} {
					t.Run(fmt.Sprintf("win%d/nq%d/groups%d/act%d/bias%v", win, nq, groups, ai, withBias), func(t *testing.T) {
						ldc := 8*groups + rng.Intn(3)
						rows := max(50, nq)
						c := make([]float32, rows*ldc+1)[1:]
						for i := range c {
							c[i] = rng.Float32()*2 - 1
						}
						src := make([]int32, roundUp(nq, 8)*win)
						for i := range src {
							src[i] = int32(rng.Intn(rows) * ldc)
						}
						var bias []float32
						if withBias {
							bias = make([]float32, 8*groups)
							for i := range bias {
								bias[i] = rng.Float32() - 0.5
							}
						}
						ldy := nq + rng.Intn(3)
						if nq >= 512 {
							ldy = nq
						}
						y0 := make([]float32, 8*groups*ldy+5)
						for i := range y0 {
							y0[i] = 7
						}
						got, want := append([]float32(nil), y0...), append([]float32(nil), y0...)
						ConvPosEpi(c, NewOffsets(src), win, nq, groups, bias, &act, got, ldy)
						convPosEpiGo(c, src, win, nq, groups, bias, &act, want, ldy)
						for i := range got {
							if got[i] != want[i] {
								t.Fatalf("y[%d] (channel %d, position %d) = %g, want %g", i, i/ldy, i%ldy, got[i], want[i])
							}
						}
					})
				}
			}
		}
	}
}

// BenchmarkConvPosTiles reports the GFLOP/s of the tile kernel on the
// layers of the MNIST CNN (c input channels of h×h, 3×3 kernel, the
// positions of one image).
func BenchmarkConvPosTiles(b *testing.B) {
	for _, l := range []struct{ c, h int }{{1, 28}, {32, 13}, {64, 5}} {
		k := l.c * 9
		plane := l.h * l.h
		oh := l.h - 2
		nt := (oh*oh + PosTileRows - 1) / PosTileRows
		x := make([]float32, l.c*plane)
		posOff := make([]int32, nt*PosTileRows)
		for i := range posOff {
			p := min(i, oh*oh-1)
			posOff[i] = int32(p/oh*l.h + p%oh)
		}
		kOff := make([]int32, k)
		for i := range kOff {
			kOff[i] = int32(i/9*plane + i%9/3*l.h + i%3)
		}
		w := make([]float32, 2*k*PosPanel)
		c := make([]float32, nt*PosTileRows*64)
		po, ko := NewOffsets(posOff), NewOffsets(kOff)
		b.Run(fmt.Sprintf("k%d", k), func(b *testing.B) {
			loop(b, float64(2*k*nt*PosTileRows*PosPanel), func() {
				ConvPosTiles(k, x, po, 0, nt, ko, 0, w[:k*PosPanel], c, 64, false)
			})
		})
		// Two panels a call (ConvPosTilesPanels; with AVX-512 the paired
		// kernel).
		b.Run(fmt.Sprintf("k%d_2panels", k), func(b *testing.B) {
			loop(b, float64(2*2*k*nt*PosTileRows*PosPanel), func() {
				ConvPosTilesPanels(k, x, po, 0, nt, ko, 0, w, k, 0, 2, c, 64, false)
			})
		})
	}
}
