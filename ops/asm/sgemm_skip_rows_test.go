package asm

import (
	"fmt"
	"math"
	"math/rand"
	"testing"
	"time"
)

// TestSkipRowsRef checks the row-listed kernel against its Go reference
// (fused multiply-adds), bit for bit: every list length up to 40 for
// each row independently (empty rows included), one to nine panels,
// alpha and beta of every kind, misaligned slices and strides wider
// than the block, with guard values after the output; for every
// implementation with such a kernel.
func TestSkipRowsRef(t *testing.T) {
	eachSkipKernels(t, func(sk *skipKernels) bool { return sk.rows != nil }, testSkipRows)
}

// eachSkipKernels runs test as a subtest on the skipping kernels of
// every implementation of this CPU that has them and passes has, once
// per distinct set, or skips t when there is none.
func eachSkipKernels(t *testing.T, has func(*skipKernels) bool, test func(*testing.T, *skipKernels)) {
	seen := map[*skipKernels]bool{}
	for _, im := range sgemmImpls {
		sk := skipKernelsFor(im)
		if sk == nil || seen[sk] || !has(sk) {
			continue
		}
		seen[sk] = true
		t.Run(im.name, func(t *testing.T) { test(t, sk) })
	}
	if len(seen) == 0 {
		t.Skip("no such skipping kernel for this implementation")
	}
}

// testSkipRows is TestSkipRowsRef on one implementation's kernels.
func testSkipRows(t *testing.T, sk *skipKernels) {
	testListed(t, 12, 4, 60, sk.rows, skipRowsRef)
}

// listedKernel is the form of the listed kernels (skipKernels.rows and
// pairs) and their references.
type listedKernel = func(offs []int32, a []float32, lda int, starts []int32, b []float32, kb, np int, c []float32, ldc int, alpha, beta float32)

// testListed checks a listed kernel against its reference, bit for bit,
// with nlists lists (4: one per row, 2: one per pair of rows): every
// list length up to 40 for each list independently (empty ones
// included), one to nine panels, alpha and beta of every kind,
// misaligned slices and strides wider than the block, with guard values
// after the output.
func testListed(t *testing.T, seed int64, nlists, trials int, kernel, ref listedKernel) {
	r := rand.New(rand.NewSource(seed))
	for _, kb := range []int{1, 5, 40, 196} {
		for trial := 0; trial < trials; trial++ {
			for np := 1; np <= 9; np++ {
				for _, ab := range [][2]float32{{1, 0}, {-1.5, 0}, {1, 1}, {0.25, -0.5}, {1, float32(math.Copysign(0, -1))}} {
					boff := r.Intn(5)
					b := randSlice[float32](r, boff+np*panelN*kb)[boff:]
					lda := kb + r.Intn(3)
					aoff := r.Intn(5)
					a := randSlice[float32](r, aoff+3*lda+kb)[aoff:]
					var offs []int32
					starts := make([]int32, nlists+1)
					for i := 0; i < nlists; i++ {
						starts[i] = int32(len(offs))
						cnt := r.Intn(min(kb, 40) + 1)
						if trial%7 == i {
							cnt = 0
						}
						perm := r.Perm(kb)[:cnt]
						sortInts(perm)
						for _, p := range perm {
							offs = append(offs, int32(p*panelN*4))
						}
					}
					starts[nlists] = int32(len(offs))
					eoff := r.Intn(3)
					offs = append(make([]int32, eoff), offs...)[eoff:]
					ldc := np*panelN + r.Intn(3)
					coff := r.Intn(5)
					c0 := randSlice[float32](r, coff+3*ldc+np*panelN+4)[coff:]
					got := append([]float32(nil), c0...)
					want := append([]float32(nil), c0...)
					kernel(offs, a, lda, starts, b, kb, np, got[:3*ldc+np*panelN], ldc, ab[0], ab[1])
					ref(offs, a, lda, starts, b, kb, np, want, ldc, ab[0], ab[1])
					for x := range got {
						if !sameBits(got[x], want[x]) {
							t.Fatalf("kb=%d np=%d alpha, beta=%v: c[%d] = %v, want %v", kb, np, ab, x, got[x], want[x])
						}
					}
				}
			}
		}
	}
}

// TestSkipScanRows4 checks the kernel that lists the non-zero values
// of four rows against scanRows4 over awkward lengths, strides and
// alignments, with zeros of both signs, NaNs and infinities, and checks
// that it writes nothing past its room.
func TestSkipScanRows4(t *testing.T) {
	eachSkipKernels(t, func(sk *skipKernels) bool { return sk.scanRows4 != nil }, testSkipScanRows4)
}

// testSkipScanRows4 is TestSkipScanRows4 on one set of kernels.
func testSkipScanRows4(t *testing.T, sk *skipKernels) {
	r := rand.New(rand.NewSource(13))
	for _, kb := range []int{1, 2, 7, 8, 9, 15, 16, 17, 63, 64, 196, 255, 256, 257, 300} {
		for _, z := range []float64{0, 0.3, 0.7, 1} {
			off := r.Intn(8)
			lda := kb + r.Intn(9)
			a := sparseA(r, 4, kb, lda, off, z, z)
			if z == 0.3 {
				a[r.Intn(4)*lda+r.Intn(kb)] = float32(math.NaN())
				a[r.Intn(4)*lda+r.Intn(kb)] = float32(math.Inf(-1))
			}
			a = a[: 3*lda+kb : 3*lda+kb]
			room := 4*kb + 16
			eoff := r.Intn(4)
			got := make([]int32, eoff+room+4)[eoff:]
			for x := room; x < room+4; x++ {
				got[x] = 12345
			}
			want := make([]int32, room)
			var ge, we [4]int32
			sk.scanRows4(kb, a, lda, got[:room], ge[:])
			scanRows4(kb, a, lda, want, we[:])
			if ge != we {
				t.Fatalf("kb=%d z=%v: row ends %v, want %v", kb, z, ge, we)
			}
			for e := 0; e < int(we[3]); e++ {
				if got[e] != want[e] {
					t.Fatalf("kb=%d z=%v: entry %d is %d, want %d", kb, z, e, got[e], want[e])
				}
			}
			for x := room; x < room+4; x++ {
				if got[x] != 12345 {
					t.Fatalf("kb=%d z=%v: wrote past the room", kb, z)
				}
			}
		}
	}
}

// TestSgemmSkipUnionMatchesPacked checks the one-list skipping product
// (kept for implementations without a row-listed kernel) against
// SgemmPackedEpi bit for bit.
func TestSgemmSkipUnionMatchesPacked(t *testing.T) {
	im := sgemmDefault
	sk := skipKernelsFor(im)
	if sk == nil || sk.rows4 == nil {
		t.Skip("no skipping kernels for this implementation")
	}
	r := rand.New(rand.NewSource(14))
	for _, n := range []int{32, 40, 64, 100, 128, 200} {
		for _, k := range []int{1, 7, 196, 257, 784} {
			for _, ab := range [][2]float32{{1, 0}, {0.5, 0.3}, {1, 1}} {
				lda, ldc := k+r.Intn(3), n+r.Intn(3)
				a := sparseA(r, 4, k, lda, r.Intn(7), 0.6, 0.3)
				pb := PackB(false, k, n, randSlice[float32](r, k*n), n)
				c0 := randSlice[float32](r, 3*ldc+n)
				want := append([]float32(nil), c0...)
				got := append([]float32(nil), c0...)
				idx := make([]int32, SkipScratch(4, k))
				SgemmPacked(false, 4, n, k, ab[0], a, lda, pb, ab[1], want, ldc)
				if !sgemmSkipT(im, 4, n, k, ab[0], a, lda, NewSkipB(pb), ab[1], got, ldc, nil, idx, 256, skipUnionOnly) {
					t.Fatalf("n=%d k=%d: declined", n, k)
				}
				for x := range got {
					if !sameBits(got[x], want[x]) {
						t.Fatalf("n=%d k=%d alpha, beta=%v: C[%d] = %v, want %v", n, k, ab, x, got[x], want[x])
					}
				}
			}
		}
	}
}

// BenchmarkSgemmSkipRowsMin times SgemmPacked, the one-list and the
// row-listed skipping products call by call, alternating, and reports
// the fastest call of each, for A whose columns are non-zero in some
// row with probability dense and whose values there are non-zero with
// probability row (MNIST digits in fours: 0.4 and 0.43).
func BenchmarkSgemmSkipRowsMin(b *testing.B) {
	im := sgemmDefault
	sk := skipKernelsFor(im)
	if sk == nil || sk.rows == nil {
		b.Skip("no row-listed skipping kernel")
	}
	for _, s := range [][3]int{{4, 128, 784}, {4, 64, 128}, {4, 512, 2304}} {
		m, n, k := s[0], s[1], s[2]
		r := rand.New(rand.NewSource(1))
		pb := PackB(false, k, n, randSlice[float32](r, k*n), n)
		sb := NewSkipB(pb)
		c := make([]float32, m*n)
		idx := make([]int32, SkipScratch(m, k))
		for _, d := range [][2]float64{{1, 1}, {1, 0.7}, {1, 0.5}, {0.8, 1}, {0.8, 0.6}, {0.4, 1}, {0.4, 0.43}, {0.2, 0.5}} {
			a := sparseA(r, m, k, k, 0, 1-d[0], 1-d[1])
			b.Run(fmt.Sprintf("m=%d/n=%d/k=%d/dense=%v/row=%v", m, n, k, d[0], d[1]), func(b *testing.B) {
				minP, minU, minR := time.Duration(math.MaxInt64), time.Duration(math.MaxInt64), time.Duration(math.MaxInt64)
				for i := 0; i < b.N; i++ {
					t0 := time.Now()
					sgemmSkipT(im, m, n, k, 1, a, k, sb, 0, c, n, nil, idx, 256, skipUnionOnly)
					t1 := time.Now()
					sgemmSkipT(im, m, n, k, 1, a, k, sb, 0, c, n, nil, idx, 256, skipRowsOnly)
					t2 := time.Now()
					SgemmPacked(false, m, n, k, 1, a, k, pb, 0, c, n)
					t3 := time.Now()
					minU, minR, minP = min(minU, t1.Sub(t0)), min(minR, t2.Sub(t1)), min(minP, t3.Sub(t2))
				}
				b.ReportMetric(float64(minP.Nanoseconds()), "packed-ns")
				b.ReportMetric(float64(minU.Nanoseconds()), "union-ns")
				b.ReportMetric(float64(minR.Nanoseconds()), "rows-ns")
			})
		}
	}
}

// TestSgemmSkipRowsMatchesPacked checks the row-listed skipping product
// and the pair-listed one (where there is a kernel for it), taken
// whatever the density, against SgemmPackedEpi bit for bit:
// widths of one to five panels and partial ones, depths around the k
// blocks, alpha and beta of every kind, wide strides, misaligned slices,
// an epilogue, rows with nothing listed, and NaNs in A.
func TestSgemmSkipRowsMatchesPacked(t *testing.T) {
	im := sgemmDefault
	sk := skipKernelsFor(im)
	if sk == nil || sk.rows == nil {
		t.Skip("no row-listed skipping kernel for this implementation")
	}
	r := rand.New(rand.NewSource(15))
	marks := func(cc []float32, ldc, i0, j0, rows, cols int) {
		for i := i0; i < i0+rows; i++ {
			for j := j0; j < j0+cols; j++ {
				cc[i*ldc+j] = cc[i*ldc+j]*2 + 1
			}
		}
	}
	for _, n := range []int{32, 33, 63, 64, 65, 96, 128, 130, 160, 200} {
		for _, k := range []int{1, 2, 7, 9, 64, 196, 257, 784, 2304} {
			for _, ab := range [][2]float32{{1, 0}, {0.5, 0}, {1, 1}, {1, 0.3}, {-2, -0.75}} {
				for _, z := range [][2]float64{{0.6, 0.5}, {0, 0}, {1, 0}, {0.3, 0.9}} {
					off := r.Intn(7)
					lda, ldc := k+r.Intn(3), n+r.Intn(3)
					a := sparseA(r, 4, k, lda, off, z[0], z[1])
					if r.Intn(3) == 0 {
						a[r.Intn(4)*lda+r.Intn(k)] = float32(math.NaN())
					}
					pb := PackB(false, k, n, randSlice[float32](r, k*n), n)
					c0 := randSlice[float32](r, off+3*ldc+n)[off:]
					want := append([]float32(nil), c0...)
					idx := make([]int32, SkipScratch(4, k))
					SgemmPackedEpi(false, 4, n, k, ab[0], a, lda, pb, ab[1], want, ldc, marks)
					for _, kind := range []int{skipRowsOnly, skipPairsOnly} {
						if kind == skipPairsOnly && sk.pairs == nil {
							continue
						}
						got := append([]float32(nil), c0...)
						if !sgemmSkipT(im, 4, n, k, ab[0], a, lda, NewSkipB(pb), ab[1], got, ldc, marks, idx, 256, kind) {
							t.Fatalf("n=%d k=%d kind=%d: declined", n, k, kind)
						}
						for x := range got {
							if !sameBits(got[x], want[x]) {
								t.Fatalf("n=%d k=%d kind=%d alpha, beta=%v z=%v: C[%d][%d] = %v, want %v", n, k, kind, ab, z, x/ldc, x%ldc, got[x], want[x])
							}
						}
					}
				}
			}
		}
	}
}

// TestSkipPlanPieces checks that a plan run in pieces of panels (in any
// order) gives what SgemmPackedEpi gives, bit for bit, with every kind
// of list and an epilogue, and that a declined plan has no columns.
func TestSkipPlanPieces(t *testing.T) {
	im := sgemmDefault
	if skipKernelsFor(im) == nil {
		t.Skip("no skipping kernels for this implementation")
	}
	r := rand.New(rand.NewSource(16))
	marks := func(cc []float32, ldc, i0, j0, rows, cols int) {
		for i := i0; i < i0+rows; i++ {
			for j := j0; j < j0+cols; j++ {
				cc[i*ldc+j] = cc[i*ldc+j]*2 + 1
			}
		}
	}
	for _, n := range []int{32, 64, 100, 128, 160, 200} {
		for _, k := range []int{7, 196, 784} {
			for _, kind := range []int{skipUnionOnly, skipRowsOnly, skipPairsOnly} {
				lda, ldc := k+r.Intn(3), n+r.Intn(3)
				a := sparseA(r, 4, k, lda, r.Intn(5), 0.6, 0.5)
				pb := PackB(false, k, n, randSlice[float32](r, k*n), n)
				c0 := randSlice[float32](r, 3*ldc+n)
				want := append([]float32(nil), c0...)
				got := append([]float32(nil), c0...)
				SgemmPackedEpi(false, 4, n, k, 0.5, a, lda, pb, 0.25, want, ldc, marks)
				idx := make([]int32, SkipScratch(4, k))
				p, ok := planSkip(im, 4, n, k, 0.5, a, lda, NewSkipB(pb), 0.25, got, ldc, marks, idx, 256, kind)
				if !ok {
					if kind == skipRowsOnly && skipKernelsFor(im).rows == nil || kind == skipPairsOnly && skipKernelsFor(im).pairs == nil {
						continue
					}
					t.Fatalf("n=%d k=%d kind=%d: declined", n, k, kind)
				}
				if p.Work() < 0 {
					t.Fatalf("n=%d k=%d kind=%d: work %d", n, k, kind, p.Work())
				}
				// Pieces of one and two panels, the last first.
				var cuts []int
				for q := 0; q < p.Panels(); q += 1 + r.Intn(2) {
					cuts = append(cuts, q)
				}
				cuts = append(cuts, p.Panels())
				for x := len(cuts) - 2; x >= 0; x-- {
					p.Run(cuts[x], cuts[x+1])
				}
				for x := range got {
					if !sameBits(got[x], want[x]) {
						t.Fatalf("n=%d k=%d kind=%d pieces %v: C[%d][%d] = %v, want %v", n, k, kind, cuts, x/ldc, x%ldc, got[x], want[x])
					}
				}
			}
		}
	}
	var zero skipPlan
	if zero.Panels() != 0 {
		t.Fatalf("the zero plan has %d panels", zero.Panels())
	}
	zero.Run(0, 0)
}

// TestSkipCount4 checks the kernel that counts the non-zero columns and
// values of four rows against countSteps4, scanSteps4 and scanRows4
// over awkward depths, strides and alignments, with zeros of both signs
// and NaNs.
func TestSkipCount4(t *testing.T) {
	eachSkipKernels(t, func(sk *skipKernels) bool { return sk.count4 != nil }, testSkipCount4)
}

// testSkipCount4 is TestSkipCount4 on one set of kernels.
func testSkipCount4(t *testing.T, sk *skipKernels) {
	r := rand.New(rand.NewSource(17))
	for _, kb := range []int{1, 7, 8, 9, 15, 16, 17, 31, 32, 33, 63, 64, 196, 257} {
		for _, zcol := range []float64{0, 0.3, 0.7, 1} {
			lda := kb + r.Intn(9)
			a := sparseA(r, 4, kb, lda, r.Intn(8), zcol, 0.4)
			if zcol == 0.3 {
				a[r.Intn(4)*lda+r.Intn(kb)] = float32(math.NaN())
			}
			a = a[: 3*lda+kb : 3*lda+kb]
			gu, gr := sk.count4(kb, a, lda)
			wu, wr := countSteps4(0, kb, a, lda)
			lu := scanSteps4(0, kb, a, lda, make([]int32, kb), 0)
			var ends [4]int32
			scanRows4(kb, a, lda, make([]int32, 4*kb+16), ends[:])
			if gu != wu || wu != lu || gr != wr || wr != int(ends[3]) {
				t.Fatalf("kb=%d zcol=%v: counted %d, %d; countSteps4 %d, %d; scanSteps4 lists %d, scanRows4 %d", kb, zcol, gu, gr, wu, wr, lu, ends[3])
			}
		}
	}
}

// TestSkipPairsRef checks the pair-listed kernel against its Go
// reference (fused multiply-adds), bit for bit, as testListed does.
func TestSkipPairsRef(t *testing.T) {
	eachSkipKernels(t, func(sk *skipKernels) bool { return sk.pairs != nil }, testSkipPairs)
}

// testSkipPairs is TestSkipPairsRef on one implementation's kernels.
func testSkipPairs(t *testing.T, sk *skipKernels) {
	testListed(t, 18, 2, 40, sk.pairs, skipPairsRef)
}

// TestSkipUnionRef checks the union-listed kernel against its Go
// reference (fused multiply-adds), bit for bit, as testListed does.
func TestSkipUnionRef(t *testing.T) {
	eachSkipKernels(t, func(sk *skipKernels) bool { return sk.union != nil }, func(t *testing.T, sk *skipKernels) {
		testListed(t, 20, 1, 40, sk.union, skipUnionRef)
	})
}

// TestSkipScanUnion checks the kernel that lists the steps of the four
// rows together against scanUnion (and its counts against countSteps4
// and scanPairs) over awkward lengths, strides and alignments, with
// zeros of both signs, NaNs and infinities, and checks that it writes
// nothing past its room.
func TestSkipScanUnion(t *testing.T) {
	eachSkipKernels(t, func(sk *skipKernels) bool { return sk.scanUnion != nil }, func(t *testing.T, sk *skipKernels) {
		r := rand.New(rand.NewSource(21))
		for _, kb := range []int{1, 2, 7, 15, 16, 17, 31, 32, 33, 63, 64, 196, 256, 257} {
			for _, z := range []float64{0, 0.3, 0.7, 0.9, 1} {
				lda := kb + r.Intn(9)
				a := sparseA(r, 4, kb, lda, r.Intn(8), z, z)
				if z == 0.3 {
					a[r.Intn(4)*lda+r.Intn(kb)] = float32(math.NaN())
					a[r.Intn(4)*lda+r.Intn(kb)] = float32(math.Inf(-1))
					a[r.Intn(4)*lda+r.Intn(kb)] = float32(math.Copysign(0, -1))
				}
				a = a[: 3*lda+kb : 3*lda+kb]
				room := kb + 16
				got := make([]int32, room+4)
				for x := room; x < room+4; x++ {
					got[x] = 12345
				}
				want := make([]int32, room)
				gn, grows, gpairs := sk.scanUnion(kb, a, lda, got[:room])
				wn, wrows, wpairs := scanUnion(kb, a, lda, want)
				cu, crows := countSteps4(0, kb, a, lda)
				var ends [2]int32
				prows := scanPairs(kb, a, lda, make([]int32, 2*kb+16), ends[:])
				if gn != wn || grows != wrows || gpairs != wpairs || wn != cu || wrows != crows || wrows != prows || wpairs != int(ends[1]) {
					t.Fatalf("kb=%d z=%v: %d, %d, %d listed, want %d, %d, %d (countSteps4 %d, %d; scanPairs %d, %d)", kb, z, gn, grows, gpairs, wn, wrows, wpairs, cu, crows, ends[1], prows)
				}
				for e := 0; e < wn; e++ {
					if got[e] != want[e] {
						t.Fatalf("kb=%d z=%v: entry %d is %d, want %d", kb, z, e, got[e], want[e])
					}
				}
				for x := room; x < room+4; x++ {
					if got[x] != 12345 {
						t.Fatalf("kb=%d z=%v: wrote past the room", kb, z)
					}
				}
			}
		}
	})
}

// TestSkipScanPairs checks the kernel that lists the steps of each pair
// of rows against scanPairs over awkward lengths, strides and
// alignments, with zeros of both signs, NaNs and infinities, and checks
// that it writes nothing past its room.
func TestSkipScanPairs(t *testing.T) {
	eachSkipKernels(t, func(sk *skipKernels) bool { return sk.scanPairs != nil }, func(t *testing.T, sk *skipKernels) {
		r := rand.New(rand.NewSource(19))
		for _, kb := range []int{1, 2, 7, 15, 16, 17, 31, 32, 33, 63, 64, 196, 256, 257} {
			for _, z := range []float64{0, 0.3, 0.7, 1} {
				lda := kb + r.Intn(9)
				a := sparseA(r, 4, kb, lda, r.Intn(8), z, z)
				if z == 0.3 {
					a[r.Intn(4)*lda+r.Intn(kb)] = float32(math.NaN())
					a[r.Intn(4)*lda+r.Intn(kb)] = float32(math.Inf(1))
					a[r.Intn(4)*lda+r.Intn(kb)] = float32(math.Copysign(0, -1))
				}
				a = a[: 3*lda+kb : 3*lda+kb]
				room := 2*kb + 16
				got := make([]int32, room+4)
				for x := room; x < room+4; x++ {
					got[x] = 12345
				}
				want := make([]int32, room)
				var ge, we [2]int32
				grows := sk.scanPairs(kb, a, lda, got[:room], ge[:])
				wrows := scanPairs(kb, a, lda, want, we[:])
				_, crows := countSteps4(0, kb, a, lda)
				if ge != we || grows != wrows || wrows != crows {
					t.Fatalf("kb=%d z=%v: ends %v rows %d, want %v and %d (countSteps4 %d)", kb, z, ge, grows, we, wrows, crows)
				}
				for e := 0; e < int(we[1]); e++ {
					if got[e] != want[e] {
						t.Fatalf("kb=%d z=%v: entry %d is %d, want %d", kb, z, e, got[e], want[e])
					}
				}
				for x := room; x < room+4; x++ {
					if got[x] != 12345 {
						t.Fatalf("kb=%d z=%v: wrote past the room", kb, z)
					}
				}
			}
		}
	})
}
