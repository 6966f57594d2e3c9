package asm

import (
	"fmt"
	"math"
	"math/rand"
	"testing"
)

// winoAT3 is the Aᵀ of F(3×3, 4×4) in float64, the tests' ground truth
// (winoBT, the shared Bᵀ, is in wino_test.go; winoG3x4 is exact as
// written).
var winoAT3 = [3][6]float64{
	{1, 1, 1, 1, 1, 0},
	{0, 1, -1, 2, -2, 0},
	{0, 1, 1, 4, 4, 1},
}

// winoOutput3F64 is Y = Aᵀ m A (3×3) in float64.
func winoOutput3F64(m *[6][6]float64) (y [3][3]float64) {
	for i := 0; i < 3; i++ {
		for j := 0; j < 3; j++ {
			for k := 0; k < 6; k++ {
				for l := 0; l < 6; l++ {
					y[i][j] += winoAT3[i][k] * m[k][l] * winoAT3[j][l]
				}
			}
		}
	}
	return y
}

// winoOutput3AbsF64 is |Aᵀ| m |A| for the tolerance of m ≥ 0.
func winoOutput3AbsF64(m *[6][6]float64) (y [3][3]float64) {
	for i := 0; i < 3; i++ {
		for j := 0; j < 3; j++ {
			for k := 0; k < 6; k++ {
				for l := 0; l < 6; l++ {
					y[i][j] += math.Abs(winoAT3[i][k]) * m[k][l] * math.Abs(winoAT3[j][l])
				}
			}
		}
	}
	return y
}

// TestWino3x4Matrices checks the F(3×3, 4×4) matrices in float64: with
// the F(4×4, 3×3) Bᵀ, Aᵀ[(G g Gᵀ) ⊙ (Bᵀ d B)]A is the valid 4×4
// correlation of a 6×6 tile; and in 1-D, every coefficient of the
// bilinear form Σ_k Aᵀ[i][k]·G[k][b]·Bᵀ[k][a] is exactly [a = i+b].
func TestWino3x4Matrices(t *testing.T) {
	for i := 0; i < 3; i++ {
		for a := 0; a < 6; a++ {
			for b := 0; b < 4; b++ {
				var s float64
				for k := 0; k < 6; k++ {
					s += winoAT3[i][k] * winoG3x4[k][b] * winoBT[k][a]
				}
				want := 0.0
				if a == i+b {
					want = 1
				}
				if math.Abs(s-want) > 1e-15 {
					t.Fatalf("coefficient (i %d, a %d, b %d) = %v, want %v", i, a, b, s, want)
				}
			}
		}
	}
	rng := rand.New(rand.NewSource(1))
	for trial := 0; trial < 100; trial++ {
		var g [4][4]float64
		var d [6][6]float64
		for i := range g {
			for j := range g[i] {
				g[i][j] = rng.Float64()*2 - 1
			}
		}
		for i := range d {
			for j := range d[i] {
				d[i][j] = rng.Float64()*2 - 1
			}
		}
		var u [6][6]float64
		for i := 0; i < 6; i++ {
			for j := 0; j < 6; j++ {
				for a := 0; a < 4; a++ {
					for b := 0; b < 4; b++ {
						u[i][j] += winoG3x4[i][a] * g[a][b] * winoG3x4[j][b]
					}
				}
			}
		}
		v := winoInputF64(&d)
		var m [6][6]float64
		for i := range m {
			for j := range m[i] {
				m[i][j] = u[i][j] * v[i][j]
			}
		}
		y := winoOutput3F64(&m)
		for i := 0; i < 3; i++ {
			for j := 0; j < 3; j++ {
				var want float64
				for a := 0; a < 4; a++ {
					for b := 0; b < 4; b++ {
						want += g[a][b] * d[i+a][j+b]
					}
				}
				if math.Abs(y[i][j]-want) > 1e-12 {
					t.Fatalf("trial %d: y[%d][%d] = %v, want %v", trial, i, j, y[i][j], want)
				}
			}
		}
	}
}

// TestWinoFilter3x4 compares WinoFilter3x4 with G g Gᵀ in float64.
func TestWinoFilter3x4(t *testing.T) {
	rng := rand.New(rand.NewSource(2))
	for trial := 0; trial < 50; trial++ {
		var g [16]float32
		for i := range g {
			g[i] = rng.Float32()*2 - 1
		}
		var u [36]float32
		WinoFilter3x4(&g, &u)
		for i := 0; i < 6; i++ {
			for j := 0; j < 6; j++ {
				var want float64
				for a := 0; a < 4; a++ {
					for b := 0; b < 4; b++ {
						want += winoG3x4[i][a] * float64(g[4*a+b]) * winoG3x4[j][b]
					}
				}
				if math.Abs(float64(u[6*i+j])-want) > 1e-6*(1+math.Abs(want)) {
					t.Fatalf("u[%d][%d] = %v, want %v", i, j, u[6*i+j], want)
				}
			}
		}
	}
}

// TestWinoInput3x4 checks WinoInput3x4 (the assembly where the CPU has
// it) bit for bit against its Go reference, the reference against
// Bᵀ d B in float64 on tiles 3 columns apart, and that nothing outside
// the outputs is written.
func TestWinoInput3x4(t *testing.T) {
	rng := rand.New(rand.NewSource(3))
	for _, g := range winoGeoms() {
		t.Run(fmt.Sprintf("nt%d/lds%d/ldxi%d/ldt%d/skip%d,%d", g.nt, g.lds, g.ldxi, g.ldt, g.skipS, g.skipD), func(t *testing.T) {
			src := winoRand(rng, (g.nt-1)*24+5*g.lds+48, g.skipS)
			dlen := 35*g.ldxi + (g.nt-1)*g.ldt + 8
			got := winoRand(rng, dlen+5, g.skipD)
			want := append([]float32(nil), got...)
			d0 := append([]float32(nil), got...)
			WinoInput3x4(g.nt, src, g.lds, got[:dlen], g.ldxi, g.ldt)
			winoInput3x4Go(g.nt, src, g.lds, want, g.ldxi, g.ldt)
			written := make([]bool, len(got))
			for tt := 0; tt < g.nt; tt++ {
				for l := 0; l < 8; l++ {
					var d [6][6]float64
					for i := 0; i < 6; i++ {
						for j := 0; j < 6; j++ {
							d[i][j] = float64(src[tt*24+i*g.lds+j*8+l])
						}
					}
					v := winoInputF64(&d)
					for xi := 0; xi < 36; xi++ {
						at := xi*g.ldxi + tt*g.ldt + l
						written[at] = true
						if e := math.Abs(float64(want[at]) - v[xi/6][xi%6]); e > 1e-5 {
							t.Fatalf("reference tile %d ξ %d lane %d: %v, want %v", tt, xi, l, want[at], v[xi/6][xi%6])
						}
					}
				}
			}
			for i := range got {
				if !written[i] {
					if got[i] != d0[i] {
						t.Fatalf("dst[%d] written outside the tiles", i)
					}
					continue
				}
				if math.Float32bits(got[i]) != math.Float32bits(want[i]) {
					t.Fatalf("dst[%d] = %v, reference %v", i, got[i], want[i])
				}
			}
		})
	}
}

// TestWinoOutput3x4 checks WinoOutput3x4 as TestWinoOutput4x3 checks
// WinoOutput4x3.
func TestWinoOutput3x4(t *testing.T) { testWinoOutput(t, winoOut3x4) }

// TestWinoOutput3x4Specials checks NaN, infinities and signed zeros
// through the activations, bit for bit against the reference.
func TestWinoOutput3x4Specials(t *testing.T) { testWinoOutputSpecials(t, winoOut3x4) }

// TestWino3x4Conv checks the whole F(3×3, 4×4) chain in float32 against
// a direct 4×4 correlation of eight channels: block, input transform,
// product with the transformed filters, output transform with bias and
// Relu, unblock.
func TestWino3x4Conv(t *testing.T) { testWinoConv(t, winoConv3x4) }

// TestWino3x4Bounds checks that short slices and bad arguments panic with
// the function's name, and that exact fits do not.
func TestWino3x4Bounds(t *testing.T) {
	s := make([]float32, 4096)
	for _, c := range []struct {
		name string
		f    func()
	}{
		{"WinoInput3x4", func() { WinoInput3x4(2, s[:24+5*64+47], 64, s, 16, 8) }},
		{"WinoInput3x4", func() { WinoInput3x4(2, s, 64, s[:35*16+15], 16, 8) }},
		{"WinoInput3x4", func() { WinoInput3x4(2, s, -1, s, 16, 8) }},
		{"WinoOutput3x4", func() { WinoOutput3x4(2, s[:35*16+15], 16, 8, nil, nil, s, 64) }},
		{"WinoOutput3x4", func() { WinoOutput3x4(2, s, 16, 8, nil, nil, s[:24+2*64+23], 64) }},
		{"WinoOutput3x4", func() { WinoOutput3x4(2, s, 16, 8, s[:7], nil, s, 64) }},
	} {
		func() {
			defer func() {
				r := recover()
				if r == nil {
					t.Errorf("%s: no panic", c.name)
					return
				}
				if msg := fmt.Sprint(r); len(msg) < len(c.name)+4 || msg[:4+len(c.name)] != "asm."+c.name {
					t.Errorf("panic %q does not name asm.%s", msg, c.name)
				}
			}()
			c.f()
		}()
	}
	WinoInput3x4(2, s[:24+5*64+48], 64, s[:35*16+8+8], 16, 8)
	WinoOutput3x4(2, s[:35*16+8+8], 16, 8, s[:8], nil, s[:24+2*64+24], 64)
}
