package asm

import "fmt"

// This file holds the kernels of a Winograd F(3×3, 4×4) convolution (4×4
// filters, 3×3 output tiles) on the same channel-interleaved data as the
// F(4×4, 3×3) kernels of wino.go. Both use a 6×6 input tile and the same
// interpolation points (0, 1, -1, 2, -2, ∞), so the input transform Bᵀ
// is the very same (it depends only on the points and the tile size) and
// the 36 products are the same GEMMs; only the filter and output
// transforms differ:
//
//	Bᵀ = [4 0 -5 0 1 0; 0 -4 -4 1 1 0; 0 4 -4 -1 1 0; 0 -2 -1 2 1 0; 0 2 -1 -2 1 0; 0 4 0 -5 0 1]
//	Aᵀ = [1 1 1 1 1 0; 0 1 -1 2 -2 0; 0 1 1 4 4 1]
//	G  = [1/4 0 0 0; -1/6 -1/6 -1/6 -1/6; -1/6 1/6 -1/6 1/6;
//	      1/24 1/12 1/6 1/3; 1/24 -1/12 1/6 -1/3; 0 0 0 1]
//
// (row k of Aᵀ and of G is (1, p, p², ...) at the point p of column k,
// the leading coefficient at ∞, and G's rows carry the interpolation's
// scalings 1/4, -1/6, -1/6, 1/24, 1/24, 1 exactly as in F(4×4, 3×3)), so
// that Aᵀ[(G g) ⊙ (Bᵀ d)] is the correlation y[i] = Σ_a d[i+a]·g[a] of a
// 6-vector with a 4-vector, and Aᵀ[(G g Gᵀ) ⊙ (Bᵀ d B)]A the 2-D one.
// A 3×3 output tile costs 36 multiplies per channel pair instead of 144.
//
// The tiles of a row overlap by three columns: tile t starts 3 columns
// (24 floats) after tile t-1, in the input as in the output.

// Wino3x4Accelerated reports whether the F(3×3, 4×4) kernels of this
// file run as assembly (AVX2 with FMA on amd64, NEON on arm64, unless the
// purego tag or INFER_KERNELS=generic chose the Go references), that is
// whether a Winograd convolution of a 4×4 filter pays off against the
// other paths.
func Wino3x4Accelerated() bool { return wino3x4Asm }

// WinoInput3x4 is WinoInput4x3 with tile t starting 3 columns (24
// floats) after tile t-1: with
//
//	d[i][j][l] = src[t*24 + i*lds + j*8 + l]  for i, j < 6, l < 8,
//
// it writes V = Bᵀ d B (the same Bᵀ) as
//
//	dst[(6*i+j)*ldxi + t*ldt + l] = V[i][j][l]  for i, j < 6
func WinoInput3x4(nt int, src []float32, lds int, dst []float32, ldxi, ldt int) {
	if nt <= 0 {
		return
	}
	if lds < 0 || ldxi < 0 || ldt < 0 {
		panic(fmt.Sprintf("asm.WinoInput3x4: lds %d, ldxi %d, ldt %d", lds, ldxi, ldt))
	}
	if n := (nt-1)*24 + 5*lds + 48; n > len(src) {
		panic(fmt.Sprintf("asm.WinoInput3x4: %d tiles at row stride %d need %d floats of src, have %d", nt, lds, n, len(src)))
	}
	if n := 35*ldxi + (nt-1)*ldt + 8; n > len(dst) {
		panic(fmt.Sprintf("asm.WinoInput3x4: %d tiles at strides %d, %d need %d floats of dst, have %d", nt, ldxi, ldt, n, len(dst)))
	}
	winoInput3x4(nt, src, lds, dst, ldxi, ldt)
}

// winoInput3x4Go is the reference of winoInput3x4: winoInput4x3Go's
// transform, tile by tile.
func winoInput3x4Go(nt int, src []float32, lds int, dst []float32, ldxi, ldt int) {
	for t := 0; t < nt; t++ {
		winoInput4x3Go(1, src[t*24:], lds, dst[t*ldt:], ldxi, ldt)
	}
}

// WinoOutput3x4 transforms nt tiles of 36 8-lane vectors
//
//	m[ξ][l] = src[ξ*ldxi + t*ldt + l]  for ξ = 6i+j < 36, l < 8
//
// into 3×3 outputs, tile t starting 3 columns (24 floats) after tile t-1:
//
//	dst[t*24 + i*ldd + j*8 + l] = act((Aᵀ m A)[i][j][l] + bias[l])  for i, j < 3
//
// with the 3×6 Aᵀ of F(3×3, 4×4). bias (8 floats) nil means no bias, act
// nil the identity.
func WinoOutput3x4(nt int, src []float32, ldxi, ldt int, bias []float32, act *ConvAct, dst []float32, ldd int) {
	if nt <= 0 {
		return
	}
	if ldd < 0 || ldxi < 0 || ldt < 0 {
		panic(fmt.Sprintf("asm.WinoOutput3x4: ldd %d, ldxi %d, ldt %d", ldd, ldxi, ldt))
	}
	if n := 35*ldxi + (nt-1)*ldt + 8; n > len(src) {
		panic(fmt.Sprintf("asm.WinoOutput3x4: %d tiles at strides %d, %d need %d floats of src, have %d", nt, ldxi, ldt, n, len(src)))
	}
	if n := (nt-1)*24 + 2*ldd + 24; n > len(dst) {
		panic(fmt.Sprintf("asm.WinoOutput3x4: %d tiles at row stride %d need %d floats of dst, have %d", nt, ldd, n, len(dst)))
	}
	if bias != nil && len(bias) < 8 {
		panic(fmt.Sprintf("asm.WinoOutput3x4: bias of %d floats, want 8", len(bias)))
	}
	winoOutput3x4(nt, src, ldxi, ldt, bias, act, dst, ldd)
}

// winoOut3 is the 1-D output transform y = Aᵀ x of F(3, 4): six vectors
// at stride sx into three at stride sy.
func winoOut3(x []float32, sx int, y []float32, sy int) {
	for l := 0; l < 8; l++ {
		m0, m1, m2, m3, m4, m5 := x[l], x[sx+l], x[2*sx+l], x[3*sx+l], x[4*sx+l], x[5*sx+l]
		a, b := m1+m2, m1-m2
		c, d := m3+m4, m3-m4
		y[l] = m0 + a + c
		y[sy+l] = b + 2*d
		y[2*sy+l] = a + 4*c + m5
	}
}

// winoOutput3x4Go is the reference of winoOutput3x4: a column pass
// (Aᵀ m) then a row pass (· A), then bias and activation.
func winoOutput3x4Go(nt int, src []float32, ldxi, ldt int, bias []float32, act *ConvAct, dst []float32, ldd int) {
	var m [36 * 8]float32
	var tmp [18 * 8]float32
	var row [24]float32
	for t := 0; t < nt; t++ {
		for xi := 0; xi < 36; xi++ {
			copy(m[xi*8:xi*8+8], src[xi*ldxi+t*ldt:xi*ldxi+t*ldt+8])
		}
		for j := 0; j < 6; j++ {
			winoOut3(m[j*8:], 48, tmp[j*8:], 48)
		}
		for i := 0; i < 3; i++ {
			winoOut3(tmp[i*48:], 8, row[:], 8)
			d := dst[t*24+i*ldd : t*24+i*ldd+24]
			for k, v := range row {
				if bias != nil {
					v += bias[k%8]
				}
				if act != nil {
					v = act.apply(v)
				}
				d[k] = v
			}
		}
	}
}

// WinoFilterCoef returns the weight of tap r·a+b of an r×r filter in
// element ξ = 6i+j of its transform G g Gᵀ, G[i][a]·G[j][b], with the G
// of WinoFilter4x3 (r = 3) or WinoFilter3x4 (r = 4); for code that
// transforms many filters at once as linear combinations of their taps.
func WinoFilterCoef(r, xi, tap int) float64 {
	if r == 3 {
		return winoG4x3[xi/6][tap/3] * winoG4x3[xi%6][tap%3]
	}
	return winoG3x4[xi/6][tap/4] * winoG3x4[xi%6][tap%4]
}

// winoG4x3 is the 6×3 filter transform G of F(4×4, 3×3) (winoFilter1).
var winoG4x3 = [6][3]float64{
	{1.0 / 4, 0, 0},
	{-1.0 / 6, -1.0 / 6, -1.0 / 6},
	{-1.0 / 6, 1.0 / 6, -1.0 / 6},
	{1.0 / 24, 1.0 / 12, 1.0 / 6},
	{1.0 / 24, -1.0 / 12, 1.0 / 6},
	{0, 0, 1},
}

// winoG3x4 is the 6×4 filter transform G of F(3×3, 4×4), exact in
// float64 up to the rounding of 1/6, 1/12, 1/24 and 1/3.
var winoG3x4 = [6][4]float64{
	{1.0 / 4, 0, 0, 0},
	{-1.0 / 6, -1.0 / 6, -1.0 / 6, -1.0 / 6},
	{-1.0 / 6, 1.0 / 6, -1.0 / 6, 1.0 / 6},
	{1.0 / 24, 1.0 / 12, 1.0 / 6, 1.0 / 3},
	{1.0 / 24, -1.0 / 12, 1.0 / 6, -1.0 / 3},
	{0, 0, 0, 1},
}

// WinoFilter3x4 sets u = G g Gᵀ for a 4×4 filter g (row-major), the 6×6
// transformed filter (row-major: u[6*i+j]), computed in float64 and
// rounded once. It is for Build time and has no assembly.
func WinoFilter3x4(g *[16]float32, u *[36]float32) {
	// t = G g (6×4), then u = t Gᵀ.
	var t [6][4]float64
	for i := 0; i < 6; i++ {
		for b := 0; b < 4; b++ {
			var s float64
			for a := 0; a < 4; a++ {
				s += winoG3x4[i][a] * float64(g[4*a+b])
			}
			t[i][b] = s
		}
	}
	for i := 0; i < 6; i++ {
		for j := 0; j < 6; j++ {
			var s float64
			for b := 0; b < 4; b++ {
				s += t[i][b] * winoG3x4[j][b]
			}
			u[6*i+j] = float32(s)
		}
	}
}
