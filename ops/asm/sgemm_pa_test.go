package asm

import (
	"fmt"
	"math"
	"math/rand"
	"testing"
)

// packedARef is an implementation made of Go references that takes the
// packed-A driver (sgemmBlockedPA), so that the driver is tested on every
// architecture and with purego; forEachSgemmImpl includes it.
var packedARef = &sgemmImpl{name: "packedA-ref", available: true, mr: 6, tileP: tilePGeneric, smallWork: 200}

// TestTiles compares each tile kernel, on A in place (tile, against
// tileGeneric's results through the same reference) and on a packed A
// (tileP), with a plain product over all row counts, column counts up to a
// panel (the 16- and 8-column passes), several depths (around the
// unrolling) and alpha/beta pairs, with A and C off 64-byte boundaries,
// guard values around C and NaNs in C when beta is 0.
func TestTiles(t *testing.T) {
	forEachSgemmImpl(t, func(t *testing.T, im *sgemmImpl) {
		r := rand.New(rand.NewSource(3))
		for _, k := range []int{1, 2, 3, 4, 5, 7, 8, 9, 17, 64, 255, 256, 257} {
			for mm := 1; mm <= im.mr; mm++ {
				for _, nn := range []int{1, 2, 7, 8, 9, 15, 16, 17, 23, 24, 25, 31, 32} {
					for _, ab := range [][2]float32{{1, 0}, {1, 0.5}, {-0.5, 1}, {2, -0.25}} {
						ldc, lda := 37, k+3
						a := randSlice[float32](r, mm*lda+1)[1:] // row-major, at stride lda
						ap := make([]float32, mm*k+1)[1:]        // packed: ap[p*mm+i]
						for i := 0; i < mm; i++ {
							for p := 0; p < k; p++ {
								ap[p*mm+i] = a[i*lda+p]
							}
						}
						b := alignedFloats(k * panelN)
						copy(b, randSlice[float32](r, k*panelN))
						c0 := randSlice[float32](r, (mm-1)*ldc+panelN+8)[1:]
						for i := 0; i < mm; i++ {
							for j := nn; j < ldc && i*ldc+j < len(c0); j++ {
								c0[i*ldc+j] = guard
							}
						}
						if ab[1] == 0 {
							for i := 0; i < mm; i++ {
								c0[i*ldc] = float32(math.NaN())
							}
						}
						want := append([]float32(nil), c0...)
						tilePGeneric(k, ap, b, want, ldc, ab[0], ab[1], mm, nn)
						check := func(kind string, got []float32) {
							t.Helper()
							for i := range want {
								d := math.Abs(float64(got[i]) - float64(want[i]))
								if !(d <= 1e-5*(1+math.Abs(float64(want[i])))*math.Sqrt(float64(k+1))) {
									t.Fatalf("%s: k=%d mm=%d nn=%d alpha=%v beta=%v: c[%d] (row %d col %d) = %v want %v",
										kind, k, mm, nn, ab[0], ab[1], i, i/ldc, i%ldc, got[i], want[i])
								}
							}
						}
						if im.tile != nil {
							got := append([]float32(nil), c0...)
							im.tile(k, a, lda, b, got, ldc, ab[0], ab[1], mm, nn)
							check("tile", got)
						}
						if im.tileP != nil {
							got := append([]float32(nil), c0...)
							im.tileP(k, ap, b, got, ldc, ab[0], ab[1], mm, nn)
							check("tileP", got)
						}
					}
				}
			}
		}
	})
}

// TestPackATiles checks the packing of A into tiles (with the assembly
// six-row packer where there is one) against the definition, for both
// layouts of A, odd strides and sizes, and a destination holding
// garbage, for the six- and the 14-row tiles.
func TestPackATiles(t *testing.T) {
	r := rand.New(rand.NewSource(4))
	for _, mr := range []int{6, 14} {
		for _, tc := range []struct{ mb, kb int }{{1, 1}, {5, 3}, {6, 7}, {6, 8}, {6, 9}, {7, 16}, {12, 17}, {13, 63}, {14, 8}, {14, 40}, {15, 23}, {28, 64}, {144, 256}, {143, 255}} {
			for _, trans := range []bool{false, true} {
				for _, off := range []int{0, 1, 3} {
					name := fmt.Sprintf("mr=%d/%dx%d/trans=%v/off=%d", mr, tc.mb, tc.kb, trans, off)
					i0, p0 := 2, 3
					rows, cols := i0+tc.mb, p0+tc.kb
					if trans {
						rows, cols = p0+tc.kb, i0+tc.mb
					}
					lda := cols + 5
					a := randSlice[float32](r, rows*lda+off)[off:]
					dst := make([]float32, tc.mb*tc.kb+off)[off:]
					for i := range dst {
						dst[i] = float32(math.NaN())
					}
					packATiles(trans, mr, tc.mb, tc.kb, a, lda, i0, p0, dst)
					for t0 := 0; t0 < tc.mb; t0 += mr {
						rr := min(mr, tc.mb-t0)
						for p := 0; p < tc.kb; p++ {
							for i := 0; i < rr; i++ {
								var want float32
								if trans {
									want = a[(p0+p)*lda+i0+t0+i]
								} else {
									want = a[(i0+t0+i)*lda+p0+p]
								}
								if got := dst[t0*tc.kb+p*rr+i]; got != want {
									t.Fatalf("%s: tile %d, step %d, row %d: %v want %v", name, t0, p, i, got, want)
								}
							}
						}
					}
				}
			}
		}
	}
}

// TestPackBPart packs B in column parts into one buffer and checks that
// the result is PackBInto's, float for float, and that misplaced parts
// panic.
func TestPackBPart(t *testing.T) {
	r := rand.New(rand.NewSource(5))
	for _, tc := range []struct{ k, n int }{{1, 1}, {3, 33}, {kc + 3, 100}, {2*kc + 1, 64}, {17, ncPA + 40}} {
		for _, trans := range []bool{false, true} {
			ldb := tc.n + 3
			rows := tc.k
			if trans {
				ldb, rows = tc.k+1, tc.n
			}
			b := randSlice[float32](r, rows*ldb)
			want := make([]float32, PackedBLen(tc.k, tc.n)+1)[1:]
			pw := PackBInto(trans, tc.k, tc.n, b, ldb, want)
			got := make([]float32, len(want)+1)[1:]
			for i := range got {
				got[i] = float32(math.NaN())
			}
			var pg *PackedB
			for j0 := 0; j0 < tc.n; j0 += 2 * ColAlign {
				pg = PackBPart(trans, tc.k, tc.n, b, ldb, got, j0, min(j0+2*ColAlign, tc.n))
			}
			if pg.k != pw.k || pg.n != pw.n || pg.kcb != pw.kcb || pg.npad != pw.npad || len(pg.data) != len(pw.data) {
				t.Fatalf("k=%d n=%d trans=%v: PackBPart gave %+v, PackBInto %+v", tc.k, tc.n, trans, *pg, *pw)
			}
			for i := range pw.data {
				if math.Float32bits(pg.data[i]) != math.Float32bits(pw.data[i]) {
					t.Fatalf("k=%d n=%d trans=%v: packed[%d] = %v, PackBInto has %v", tc.k, tc.n, trans, i, pg.data[i], pw.data[i])
				}
			}
		}
	}
	for _, cols := range [][2]int{{1, 40}, {0, 33}, {32, 20}, {-32, 10}} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("PackBPart of columns %v of 70 did not panic", cols)
				}
			}()
			PackBPart(false, 4, 70, make([]float32, 280), 70, make([]float32, PackedBLen(4, 70)), cols[0], cols[1])
		}()
	}
}

// TestPackedADriverBitExact checks that where an implementation has both
// kinds of tile, the packed-A driver and the in-place one give the same
// results bit for bit, so that which one runs (it depends on the size of
// A) never shows in the results, e.g. of a product split by rows.
func TestPackedADriverBitExact(t *testing.T) {
	forEachSgemmImpl(t, func(t *testing.T, im *sgemmImpl) {
		if im.tile == nil || im.tileP == nil {
			t.Skip("not both kinds of tile")
		}
		inPlace := *im
		inPlace.tileP = nil
		r := rand.New(rand.NewSource(7))
		for _, tc := range gemmCases() {
			m, n, k := tc.m, tc.n, tc.k
			if m == 0 || n == 0 || k == 0 {
				continue
			}
			for _, tb := range []bool{false, true} {
				ldb := n
				if tb {
					ldb = k
				}
				a, b := randSlice[float32](r, m*k), randSlice[float32](r, k*n)
				c0 := randSlice[float32](r, m*n)
				want, got := append([]float32(nil), c0...), append([]float32(nil), c0...)
				sgemmBlockedEpi(&inPlace, false, m, n, k, 0.5, a, k, tb, b, ldb, nil, 0.25, want, n, nil)
				sgemmBlockedPA(im, false, m, n, k, 0.5, a, k, tb, b, ldb, nil, 0.25, got, n, nil)
				for i := range want {
					if math.Float32bits(got[i]) != math.Float32bits(want[i]) {
						t.Fatalf("m=%d n=%d k=%d transB=%v: c[%d] = %v packed A, %v in place", m, n, k, tb, i, got[i], want[i])
					}
				}
			}
		}
	})
}

// TestSgemmPacksA checks when the packed-A driver is chosen: only for an
// implementation with packed-A tiles, and then for a transposed A or a
// large one used for more than nc columns.
func TestSgemmPacksA(t *testing.T) {
	both := &sgemmImpl{tile: tileGeneric, tileP: tilePGeneric}
	only := &sgemmImpl{tileP: tilePGeneric}
	none := &sgemmImpl{tile: tileGeneric}
	for _, tc := range []struct {
		im      *sgemmImpl
		transA  bool
		m, n, k int
		want    bool
	}{
		{both, false, 64, 1000, 64, false},
		{both, true, 64, 10, 64, true},
		{both, false, 512, 512, 512, true},
		{both, false, 512, nc, 512, false},
		{both, false, 511, 512, 512, false},
		{only, false, 8, 8, 8, true},
		{none, true, 1024, 1024, 1024, false},
	} {
		if got := usePackedA(tc.im, tc.transA, tc.m, tc.n, tc.k); got != tc.want {
			t.Errorf("tile %v, tileP %v, transA=%v, %d×%d×%d: packs A = %v, want %v", tc.im.tile != nil, tc.im.tileP != nil, tc.transA, tc.m, tc.n, tc.k, got, tc.want)
		}
	}
	if SgemmPacksA(false, 1024, 1024, 1024) != usePackedA(sgemmDefault, false, 1024, 1024, 1024) {
		t.Error("SgemmPacksA disagrees with the driver")
	}
}

// TestSgemmLarge checks Sgemm and SgemmPacked on a product large enough
// that every implementation with packed-A tiles packs A (paMinA), with
// misaligned slices and odd strides.
func TestSgemmLarge(t *testing.T) {
	if testing.Short() {
		t.Skip("large")
	}
	m, n, k := 520, nc+35, 505
	if !usePackedA(&sgemmImpl{tile: tileGeneric, tileP: tilePGeneric}, false, m, n, k) {
		t.Fatal("the product is too small to pack A")
	}
	r := rand.New(rand.NewSource(8))
	forEachSgemmImpl(t, func(t *testing.T, im *sgemmImpl) {
		for _, packed := range []bool{false, true} {
			lda, ldb, ldc := k+1, n+3, n+2
			a := randSlice[float32](r, m*lda+1)[1:]
			b := randSlice[float32](r, k*ldb+1)[1:]
			c0 := randSlice[float32](r, m*ldc+1)[1:]
			want, got := append([]float32(nil), c0...), append([]float32(nil), c0...)
			sgemmRef(false, false, m, n, k, 0.5, a, lda, b, ldb, 0.25, want, ldc)
			if packed {
				sgemmPacked(im, false, m, n, k, 0.5, a, lda, PackB(false, k, n, b, ldb), 0.25, got, ldc, nil)
			} else {
				sgemm(im, false, false, m, n, k, 0.5, a, lda, b, ldb, 0.25, got, ldc)
			}
			for i := range want {
				if d := math.Abs(float64(got[i]) - float64(want[i])); d > 1e-4*(1+math.Abs(float64(want[i]))) {
					t.Fatalf("packed=%v: c[%d] = %v want %v", packed, i, got[i], want[i])
				}
			}
		}
	})
}
