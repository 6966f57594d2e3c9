package asm

import (
	"fmt"
	"math"
	"math/rand"
	"testing"
)

// The F(4×4, 3×3) matrices, in float64, as the tests' ground truth.
var (
	winoBT = [6][6]float64{
		{4, 0, -5, 0, 1, 0},
		{0, -4, -4, 1, 1, 0},
		{0, 4, -4, -1, 1, 0},
		{0, -2, -1, 2, 1, 0},
		{0, 2, -1, -2, 1, 0},
		{0, 4, 0, -5, 0, 1},
	}
	winoAT = [4][6]float64{
		{1, 1, 1, 1, 1, 0},
		{0, 1, -1, 2, -2, 0},
		{0, 1, 1, 4, 4, 0},
		{0, 1, -1, 8, -8, 1},
	}
	winoG = [6][3]float64{
		{1.0 / 4, 0, 0},
		{-1.0 / 6, -1.0 / 6, -1.0 / 6},
		{-1.0 / 6, 1.0 / 6, -1.0 / 6},
		{1.0 / 24, 1.0 / 12, 1.0 / 6},
		{1.0 / 24, -1.0 / 12, 1.0 / 6},
		{0, 0, 1},
	}
)

// winoInputF64 is V = Bᵀ d B in float64.
func winoInputF64(d *[6][6]float64) (v [6][6]float64) {
	var t [6][6]float64
	for i := 0; i < 6; i++ {
		for j := 0; j < 6; j++ {
			for k := 0; k < 6; k++ {
				t[i][j] += winoBT[i][k] * d[k][j]
			}
		}
	}
	for i := 0; i < 6; i++ {
		for j := 0; j < 6; j++ {
			for k := 0; k < 6; k++ {
				v[i][j] += t[i][k] * winoBT[j][k]
			}
		}
	}
	return v
}

// winoOutputF64 is Y = Aᵀ m A in float64.
func winoOutputF64(m *[6][6]float64) (y [4][4]float64) {
	var t [4][6]float64
	for i := 0; i < 4; i++ {
		for j := 0; j < 6; j++ {
			for k := 0; k < 6; k++ {
				t[i][j] += winoAT[i][k] * m[k][j]
			}
		}
	}
	for i := 0; i < 4; i++ {
		for j := 0; j < 4; j++ {
			for k := 0; k < 6; k++ {
				y[i][j] += t[i][k] * winoAT[j][k]
			}
		}
	}
	return y
}

// winoOutputAbsF64 is |Aᵀ| m |A|: a bound on the magnitude of the terms
// of Aᵀ m A for m ≥ 0, to scale a rounding tolerance.
func winoOutputAbsF64(m *[6][6]float64) (y [4][4]float64) {
	for i := 0; i < 4; i++ {
		for j := 0; j < 4; j++ {
			for k := 0; k < 6; k++ {
				for l := 0; l < 6; l++ {
					y[i][j] += math.Abs(winoAT[i][k]) * m[k][l] * math.Abs(winoAT[j][l])
				}
			}
		}
	}
	return y
}

// TestWinoMatrices checks the matrices themselves in float64:
// Aᵀ[(G g Gᵀ) ⊙ (Bᵀ d B)]A is the valid 3×3 correlation of a 6×6 tile.
func TestWinoMatrices(t *testing.T) {
	rng := rand.New(rand.NewSource(1))
	for trial := 0; trial < 100; trial++ {
		var g [3][3]float64
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
				for a := 0; a < 3; a++ {
					for b := 0; b < 3; b++ {
						u[i][j] += winoG[i][a] * g[a][b] * winoG[j][b]
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
		y := winoOutputF64(&m)
		for i := 0; i < 4; i++ {
			for j := 0; j < 4; j++ {
				var want float64
				for a := 0; a < 3; a++ {
					for b := 0; b < 3; b++ {
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

func winoRand(rng *rand.Rand, n, skip int) []float32 {
	s := make([]float32, n+skip)[skip:]
	for i := range s {
		s[i] = rng.Float32()*2 - 1
	}
	return s
}

// TestWinoFilter4x3 compares WinoFilter4x3 with G g Gᵀ in float64.
func TestWinoFilter4x3(t *testing.T) {
	rng := rand.New(rand.NewSource(2))
	for trial := 0; trial < 50; trial++ {
		var g [9]float32
		for i := range g {
			g[i] = rng.Float32()*2 - 1
		}
		var u [36]float32
		WinoFilter4x3(&g, &u)
		for i := 0; i < 6; i++ {
			for j := 0; j < 6; j++ {
				var want float64
				for a := 0; a < 3; a++ {
					for b := 0; b < 3; b++ {
						want += winoG[i][a] * float64(g[3*a+b]) * winoG[j][b]
					}
				}
				if math.Abs(float64(u[6*i+j])-want) > 1e-6*(1+math.Abs(want)) {
					t.Fatalf("u[%d][%d] = %v, want %v", i, j, u[6*i+j], want)
				}
			}
		}
	}
}

// winoTileGeom is a tile layout for the transform tests.
type winoTileGeom struct{ nt, lds, ldxi, ldt, skipS, skipD int }

func winoGeoms() []winoTileGeom {
	var gs []winoTileGeom
	for nt := 1; nt <= 13; nt++ {
		w := 32*nt + 16 // floats in one input row of the tiles
		gs = append(gs,
			winoTileGeom{nt, w, 8 * nt, 8, 0, 0},          // ξ-major, tiles contiguous
			winoTileGeom{nt, w + 3, 8*nt + 5, 8, 1, 3},    // odd strides, misaligned
			winoTileGeom{nt, w + 8, 8, 36*8 + 1, 3, 1},    // tile-major
			winoTileGeom{nt, w + 17, 13*nt + 3, 13, 1, 1}, // odd tile stride
		)
	}
	return gs
}

// TestWinoInput4x3 checks WinoInput4x3 (the assembly where the CPU has
// it) bit for bit against its Go reference, the reference against
// Bᵀ d B in float64, and that nothing outside the outputs is written.
func TestWinoInput4x3(t *testing.T) {
	rng := rand.New(rand.NewSource(3))
	for _, g := range winoGeoms() {
		t.Run(fmt.Sprintf("nt%d/lds%d/ldxi%d/ldt%d/skip%d,%d", g.nt, g.lds, g.ldxi, g.ldt, g.skipS, g.skipD), func(t *testing.T) {
			src := winoRand(rng, (g.nt-1)*32+5*g.lds+48, g.skipS)
			dlen := 35*g.ldxi + (g.nt-1)*g.ldt + 8
			got := winoRand(rng, dlen+5, g.skipD)
			want := append([]float32(nil), got...)
			d0 := append([]float32(nil), got...)
			WinoInput4x3(g.nt, src, g.lds, got[:dlen], g.ldxi, g.ldt)
			winoInput4x3Go(g.nt, src, g.lds, want, g.ldxi, g.ldt)
			written := make([]bool, len(got))
			for tt := 0; tt < g.nt; tt++ {
				for l := 0; l < 8; l++ {
					var d [6][6]float64
					for i := 0; i < 6; i++ {
						for j := 0; j < 6; j++ {
							d[i][j] = float64(src[tt*32+i*g.lds+j*8+l])
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

func winoActs() []struct {
	name string
	act  *ConvAct
} {
	none := ConvActNone()
	return []struct {
		name string
		act  *ConvAct
	}{
		{"nil", nil},
		{"none", &none},
		{"relu", &ConvAct{Lo: 0, Hi: float32(math.Inf(1))}},
		{"relu6", &ConvAct{Lo: 0, Hi: 6}},
		{"clip", &ConvAct{Lo: -0.5, Hi: 0.25}},
		{"leaky", &ConvAct{Leaky: true, Alpha: 0.1}},
		{"leakyneg", &ConvAct{Leaky: true, Alpha: -2}},
	}
}

// winoOutputKind is an output transform under test: tiles of m×m
// outputs, 8m floats apart.
type winoOutputKind struct {
	m           int
	kernel, ref func(nt int, src []float32, ldxi, ldt int, bias []float32, act *ConvAct, dst []float32, ldd int)
	// exact returns Aᵀ x A and Aᵀ |x| A in float64 (in the top-left
	// m×m of the arrays).
	exact func(x *[6][6]float64) (y, mag [4][4]float64)
}

var (
	winoOut4x3 = winoOutputKind{4, WinoOutput4x3, winoOutput4x3Go, func(x *[6][6]float64) (y, mag [4][4]float64) {
		y = winoOutputF64(x)
		for xi := range 36 {
			x[xi/6][xi%6] = math.Abs(x[xi/6][xi%6])
		}
		return y, winoOutputAbsF64(x)
	}}
	winoOut3x4 = winoOutputKind{3, WinoOutput3x4, winoOutput3x4Go, func(x *[6][6]float64) (y, mag [4][4]float64) {
		y3 := winoOutput3F64(x)
		for xi := range 36 {
			x[xi/6][xi%6] = math.Abs(x[xi/6][xi%6])
		}
		m3 := winoOutput3AbsF64(x)
		for i := range 3 {
			copy(y[i][:3], y3[i][:])
			copy(mag[i][:3], m3[i][:])
		}
		return y, mag
	}}
)

// TestWinoOutput4x3 checks WinoOutput4x3 bit for bit against its Go
// reference, the reference against Aᵀ m A in float64 with bias and
// activation, and that nothing outside the outputs is written.
func TestWinoOutput4x3(t *testing.T) { testWinoOutput(t, winoOut4x3) }

// testWinoOutput is TestWinoOutput4x3 for any output transform.
func testWinoOutput(t *testing.T, k winoOutputKind) {
	rng := rand.New(rand.NewSource(4))
	step := 8 * k.m // floats from a tile to the next
	for gi, g := range winoGeoms() {
		for ai, a := range winoActs() {
			if (gi+ai)%2 == 1 && g.nt > 3 {
				continue // a sample of the combinations
			}
			for _, withBias := range []bool{false, true} {
				name := fmt.Sprintf("nt%d/ldd%d/ldxi%d/ldt%d/skip%d,%d/%s/bias%v", g.nt, g.lds, g.ldxi, g.ldt, g.skipS, g.skipD, a.name, withBias)
				t.Run(name, func(t *testing.T) {
					slen := 35*g.ldxi + (g.nt-1)*g.ldt + 8
					src := winoRand(rng, slen, g.skipS)
					for i := range src {
						src[i] *= 4
					}
					var bias []float32
					if withBias {
						bias = winoRand(rng, 8, g.skipS)
					}
					dlen := (g.nt-1)*step + (k.m-1)*g.lds + step
					got := winoRand(rng, dlen+7, g.skipD)
					d0 := append([]float32(nil), got...)
					want := append([]float32(nil), got...)
					k.kernel(g.nt, src, g.ldxi, g.ldt, bias, a.act, got[:dlen], g.lds)
					k.ref(g.nt, src, g.ldxi, g.ldt, bias, a.act, want, g.lds)
					written := make([]bool, len(got))
					for tt := 0; tt < g.nt; tt++ {
						for l := 0; l < 8; l++ {
							var m [6][6]float64
							for xi := 0; xi < 36; xi++ {
								m[xi/6][xi%6] = float64(src[xi*g.ldxi+tt*g.ldt+l])
							}
							y, mag := k.exact(&m)
							for i := 0; i < k.m; i++ {
								for j := 0; j < k.m; j++ {
									at := tt*step + i*g.lds + j*8 + l
									written[at] = true
									v := y[i][j]
									if bias != nil {
										v += float64(bias[l])
									}
									if a.act != nil {
										v = float64(a.act.apply(float32(v)))
									}
									if e := math.Abs(float64(want[at]) - v); e > 1e-6*(mag[i][j]+1) {
										t.Fatalf("reference tile %d (%d,%d) lane %d: %v, want %v", tt, i, j, l, want[at], v)
									}
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
	}
}

// TestWinoOutputSpecials checks NaN, infinities and signed zeros through
// the activations, bit for bit against the reference.
func TestWinoOutputSpecials(t *testing.T) { testWinoOutputSpecials(t, winoOut4x3) }

// testWinoOutputSpecials is TestWinoOutputSpecials for any output
// transform.
func testWinoOutputSpecials(t *testing.T, k winoOutputKind) {
	nan, inf := float32(math.NaN()), float32(math.Inf(1))
	specials := []float32{nan, inf, -inf, 0, float32(math.Copysign(0, -1)), 1e30, -1e30, 7, -7}
	rng := rand.New(rand.NewSource(5))
	ldd := 3 * 8 * k.m // three tiles in a row
	for _, a := range winoActs() {
		t.Run(a.name, func(t *testing.T) {
			for trial := 0; trial < 20; trial++ {
				src := make([]float32, 36*8*3)
				for i := range src {
					if rng.Intn(4) == 0 {
						src[i] = specials[rng.Intn(len(specials))]
					}
				}
				got := make([]float32, ldd*k.m)
				want := make([]float32, len(got))
				k.kernel(3, src, 24, 8, nil, a.act, got, ldd)
				k.ref(3, src, 24, 8, nil, a.act, want, ldd)
				for i := range got {
					if math.Float32bits(got[i]) != math.Float32bits(want[i]) && !(got[i] != got[i] && want[i] != want[i]) {
						t.Fatalf("dst[%d] = %v, reference %v", i, got[i], want[i])
					}
				}
			}
		})
	}
}

// TestBlockChannels8 checks BlockChannels8 and UnblockChannels8 against
// their references and the definition over widths 1..37, 1..8 planes,
// odd strides and misaligned slices, including what they must not touch.
func TestBlockChannels8(t *testing.T) {
	rng := rand.New(rand.NewSource(6))
	for w := 1; w <= 37; w++ {
		for planes := 1; planes <= 8; planes++ {
			for _, rows := range []int{1, 3} {
				lds := w + (w*planes+rows)%5
				ldd := 8*w + 8*((w+planes)%3) + (w+rows)%2
				ps := rows*lds + (planes+w)%7
				skip := (w + planes) % 4
				name := fmt.Sprintf("w%d/planes%d/rows%d", w, planes, rows)
				t.Run(name, func(t *testing.T) {
					// Block.
					src := winoRand(rng, (planes-1)*ps+(rows-1)*lds+w, skip)
					dlen := (rows-1)*ldd + 8*w
					got := winoRand(rng, dlen+9, 3-skip)
					d0 := append([]float32(nil), got...)
					want := append([]float32(nil), got...)
					BlockChannels8(rows, w, src, ps, lds, planes, got[:dlen], ldd)
					blockChannels8Go(rows, w, src, ps, lds, planes, want, ldd)
					for i := range got {
						r, x := i/ldd, i%ldd
						if r >= rows || x >= 8*w {
							if got[i] != d0[i] {
								t.Fatalf("block: dst[%d] written outside the rows", i)
							}
							continue
						}
						l := x % 8
						var v float32
						if l < planes {
							v = src[l*ps+r*lds+x/8]
						}
						if got[i] != v || want[i] != v || math.Signbit(float64(got[i])) != math.Signbit(float64(v)) {
							t.Fatalf("block: dst[%d] (r %d x %d l %d) = %v, reference %v, want %v", i, r, x/8, l, got[i], want[i], v)
						}
					}
					// Unblock, with the roles swapped.
					bsrc := winoRand(rng, (rows-1)*ldd+8*w, skip)
					ulen := (planes-1)*ps + (rows-1)*lds + w
					ugot := winoRand(rng, ulen+9, 3-skip)
					u0 := append([]float32(nil), ugot...)
					uwant := append([]float32(nil), ugot...)
					UnblockChannels8(rows, w, bsrc, ldd, ugot[:ulen], ps, lds, planes)
					unblockChannels8Go(rows, w, bsrc, ldd, uwant, ps, lds, planes)
					written := make([]bool, len(ugot))
					for l := 0; l < planes; l++ {
						for r := 0; r < rows; r++ {
							for x := 0; x < w; x++ {
								at := l*ps + r*lds + x
								written[at] = true
								v := bsrc[r*ldd+x*8+l]
								if ugot[at] != v || uwant[at] != v {
									t.Fatalf("unblock: dst[%d] (l %d r %d x %d) = %v, reference %v, want %v", at, l, r, x, ugot[at], uwant[at], v)
								}
							}
						}
					}
					for i := range ugot {
						if !written[i] && ugot[i] != u0[i] {
							t.Fatalf("unblock: dst[%d] written outside the planes", i)
						}
					}
				})
			}
		}
	}
}

// winoConvKind is a Winograd convolution under test: m×m output tiles
// of an r×r filter.
type winoConvKind struct {
	m, r   int
	filter func(g []float32, u *[36]float32)
	input  func(nt int, src []float32, lds int, dst []float32, ldxi, ldt int)
	output func(nt int, src []float32, ldxi, ldt int, bias []float32, act *ConvAct, dst []float32, ldd int)
}

var (
	winoConv4x3 = winoConvKind{4, 3, func(g []float32, u *[36]float32) { WinoFilter4x3((*[9]float32)(g), u) }, WinoInput4x3, WinoOutput4x3}
	winoConv3x4 = winoConvKind{3, 4, func(g []float32, u *[36]float32) { WinoFilter3x4((*[16]float32)(g), u) }, WinoInput3x4, WinoOutput3x4}
)

// TestWinoConv checks the whole chain in float32 against a direct 3×3
// correlation of eight channels: block, input transform, product with
// the transformed filters, output transform with bias and Relu, unblock.
func TestWinoConv(t *testing.T) { testWinoConv(t, winoConv4x3) }

// testWinoConv is TestWinoConv for any tile and filter size.
func testWinoConv(t *testing.T, k winoConvKind) {
	rng := rand.New(rand.NewSource(7))
	const ntx, nty = 3, 2
	m, r := k.m, k.r
	ih, iw := m*nty+r-1, m*ntx+r-1
	oh, ow := m*nty, m*ntx
	for _, planes := range []int{3, 8} {
		x := winoRand(rng, planes*ih*iw, 1)
		var filt [8][16]float32
		var u [8][36]float32
		for l := 0; l < planes; l++ {
			for q := range filt[l][:r*r] {
				filt[l][q] = rng.Float32()*2 - 1
			}
			k.filter(filt[l][:r*r], &u[l])
		}
		bias := winoRand(rng, 8, 0)
		xb := make([]float32, ih*iw*8)
		BlockChannels8(ih, iw, x, ih*iw, iw, planes, xb, iw*8)
		nt := ntx
		v := make([]float32, 36*nt*8)
		yb := make([]float32, oh*ow*8)
		relu := ConvAct{Lo: 0, Hi: float32(math.Inf(1))}
		for ty := 0; ty < nty; ty++ {
			k.input(nt, xb[m*ty*iw*8:], iw*8, v, nt*8, 8)
			for xi := 0; xi < 36; xi++ {
				for tt := 0; tt < nt; tt++ {
					for l := 0; l < 8; l++ {
						v[xi*nt*8+tt*8+l] *= u[l][xi]
					}
				}
			}
			k.output(nt, v, nt*8, 8, bias, &relu, yb[m*ty*ow*8:], ow*8)
		}
		y := make([]float32, planes*oh*ow)
		UnblockChannels8(oh, ow, yb, ow*8, y, oh*ow, ow, planes)
		for l := 0; l < planes; l++ {
			for i := 0; i < oh; i++ {
				for j := 0; j < ow; j++ {
					want := float64(bias[l])
					for a := 0; a < r; a++ {
						for b := 0; b < r; b++ {
							want += float64(filt[l][r*a+b]) * float64(x[l*ih*iw+(i+a)*iw+j+b])
						}
					}
					want = max(want, 0)
					if got := y[l*oh*ow+i*ow+j]; math.Abs(float64(got)-want) > 1e-5 {
						t.Fatalf("planes %d: y[%d][%d][%d] = %v, want %v", planes, l, i, j, got, want)
					}
				}
			}
		}
	}
}

// TestWinoBounds checks that short slices and bad arguments panic with
// the function's name.
func TestWinoBounds(t *testing.T) {
	s := make([]float32, 4096)
	for _, c := range []struct {
		name string
		f    func()
	}{
		{"BlockChannels8", func() { BlockChannels8(2, 8, s[:15], 8, 8, 1, s, 64) }},
		{"BlockChannels8", func() { BlockChannels8(2, 8, s, 16, 8, 1, s[:100], 64) }},
		{"BlockChannels8", func() { BlockChannels8(2, 8, s, 16, 8, 9, s, 64) }},
		{"UnblockChannels8", func() { UnblockChannels8(2, 8, s[:100], 64, s, 16, 8, 1) }},
		{"UnblockChannels8", func() { UnblockChannels8(2, 8, s, 64, s[:20], 16, 8, 2) }},
		{"UnblockChannels8", func() { UnblockChannels8(2, 8, s, 64, s, 16, 8, 0) }},
		{"WinoInput4x3", func() { WinoInput4x3(2, s[:64*5+79], 64, s, 16, 8) }},
		{"WinoInput4x3", func() { WinoInput4x3(2, s, 64, s[:35*16+15], 16, 8) }},
		{"WinoOutput4x3", func() { WinoOutput4x3(2, s[:35*16+15], 16, 8, nil, nil, s, 64) }},
		{"WinoOutput4x3", func() { WinoOutput4x3(2, s, 16, 8, nil, nil, s[:3*64+63], 64) }},
		{"WinoOutput4x3", func() { WinoOutput4x3(2, s, 16, 8, s[:7], nil, s, 64) }},
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
	// Exact fits do not panic.
	BlockChannels8(2, 8, s[:16+8+8], 16, 8, 2, s[:64+64], 64)
	UnblockChannels8(2, 8, s[:64+64], 64, s[:16+8+8], 16, 8, 2)
	WinoInput4x3(2, s[:32+5*64+48], 64, s[:35*16+8+8], 16, 8)
	WinoOutput4x3(2, s[:35*16+8+8], 16, 8, s[:8], nil, s[:32+3*64+32], 64)
}
