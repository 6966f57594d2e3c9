package asm

import (
	"fmt"
	"math"
	"math/rand"
	"testing"
)

func sameFloat(a, b float32) bool {
	return a == b || (math.IsNaN(float64(a)) && math.IsNaN(float64(b)))
}

func TestMaxRowsCols(t *testing.T) {
	r := rand.New(rand.NewSource(6))
	for _, n := range []int{0, 1, 5, 7, 8, 9, 16, 23, 56, 113} {
		for _, off := range []int{0, 1, 3} {
			a := randSlice[float32](r, n+off+MaxColsSlack+8)[off:]
			b := randSlice[float32](r, n+off+MaxColsSlack+8)[off:]
			if n > 3 {
				a[1], b[2] = float32(math.NaN()), float32(math.NaN())
			}
			want := append([]float32(nil), a...)
			got := append([]float32(nil), a...)
			poolMaxRowsGo(want[:n], b)
			MaxRows(got[:n], b)
			for i := range want {
				if !sameFloat(got[i], want[i]) {
					t.Fatalf("MaxRows n=%d off=%d: element %d = %v, want %v", n, off, i, got[i], want[i])
				}
			}
			for _, k := range []int{2, 3} {
				for _, s := range []int{1, 2} {
					m := 0
					if n > 0 {
						m = (n-k)/s + 1
					}
					if m <= 0 {
						continue
					}
					src := randSlice[float32](r, off+(m-1)*s+k+MaxColsSlack)[off:]
					if len(src) > 5 {
						src[4] = float32(math.NaN())
					}
					want := make([]float32, m+4)
					got := make([]float32, m+4)
					for i := range want {
						want[i], got[i] = guard, guard
					}
					poolMaxColsGo(want[:m], src, k, s)
					MaxCols(got[:m], src, k, s)
					for i := range want {
						if !sameFloat(got[i], want[i]) {
							t.Fatalf("%s: element %d = %v, want %v", fmt.Sprintf("MaxCols m=%d k=%d s=%d off=%d", m, k, s, off), i, got[i], want[i])
						}
					}
				}
			}
		}
	}
}

// TestMaxPlane checks MaxPlane against its Go reference over every
// window and stride it takes, without a NaN (the plain kernel), with one
// at the first, the last or a random input the windows read (the kernel
// that keeps NaN), and with one only in the columns past the windows
// (which must not reach the output).
func TestMaxPlane(t *testing.T) {
	r := rand.New(rand.NewSource(7))
	eachPlaneCase(func(name string, kh, kw, sh, sw, nx, ny int) {
		lds := (nx-1)*sw + kw + 3
		ldd := nx + 9
		rows, cols := (ny-1)*sh+kh, (nx-1)*sw+kw
		for _, nan := range []int{-1, 0, (rows-1)*lds + cols - 1, r.Intn(rows)*lds + r.Intn(cols), cols} {
			src := randSlice[float32](r, rows*lds+MaxPlaneSlack)
			if nan >= 0 {
				src[nan] = float32(math.NaN())
			}
			got, want := guarded(ny*ldd), guarded(ny*ldd)
			poolMaxPlaneGo(want, ldd, nx, ny, src, lds, kh, kw, sh, sw)
			MaxPlane(got, ldd, nx, ny, src, lds, kh, kw, sh, sw)
			samePlane(t, fmt.Sprintf("%s NaN at %d", name, nan), got, want, nx, ny, ldd)
			// Told whether the windows hold a NaN.
			got = guarded(ny * ldd)
			MaxPlaneScanned(got, ldd, nx, ny, src, lds, kh, kw, sh, sw, nan >= 0 && nan != cols)
			samePlane(t, fmt.Sprintf("%s NaN at %d, scanned", name, nan), got, want, nx, ny, ldd)
		}
	})
}

// TestMaxPlanes checks MaxPlanes against MaxPlane's Go reference plane by
// plane, on the planes of a tensor (each plane's rows one after the
// other, a last row and column that no window reads, outputs packed so
// that every spill lands in the next plane and the last plane's rows
// store with masks), over every window and stride, without a NaN, with
// one in a window of one plane, and with one only where no window reads.
func TestMaxPlanes(t *testing.T) {
	r := rand.New(rand.NewSource(9))
	eachPlaneCase(func(name string, kh, kw, sh, sw, nx, ny int) {
		w := (nx-1)*sw + kw + 1
		h := (ny-1)*sh + kh + 1
		for _, planes := range []int{1, 2, 5} {
			for _, nan := range []int{-1, w + 1, (planes-1)*h*w + w + 1, h*w - 1} {
				src := randSlice[float32](r, planes*h*w+MaxPlaneSlack)
				if nan >= 0 {
					src[nan] = float32(math.NaN())
				}
				n := planes * nx * ny
				got, want := guarded(n+16), guarded(n+16)
				poolMaxPlanesGo(want, nx, nx*ny, nx, ny, src, w, h*w, planes, kh, kw, sh, sw)
				MaxPlanes(got[:n], nx, nx*ny, nx, ny, src, w, h*w, planes, kh, kw, sh, sw)
				for i := range got {
					if !sameFloat(got[i], want[i]) {
						t.Fatalf("%s planes=%d NaN at %d: output %d = %v, want %v", name, planes, nan, i, got[i], want[i])
					}
				}
			}
		}
	})
}

// eachPlaneCase calls f with every window and stride the plane kernels
// take, on rows around the vector width and one to five rows.
func eachPlaneCase(f func(name string, kh, kw, sh, sw, nx, ny int)) {
	for _, kh := range []int{1, 2, 3} {
		for _, kw := range []int{2, 3} {
			for _, sw := range []int{1, 2} {
				for _, sh := range []int{1, 2} {
					for _, nx := range []int{1, 7, 8, 13, 56} {
						for _, ny := range []int{1, 2, 5} {
							f(fmt.Sprintf("k=%dx%d s=%d,%d nx=%d ny=%d", kh, kw, sh, sw, nx, ny), kh, kw, sh, sw, nx, ny)
						}
					}
				}
			}
		}
	}
}

// TestSumPlane checks SumPlane against its Go reference bit for bit (the
// same order of additions) and against the windows summed in float64
// times each output's factor, over every window and stride it takes,
// rows around the vector width and the masked last rows, with guards past
// each row's spill.
func TestSumPlane(t *testing.T) {
	r := rand.New(rand.NewSource(8))
	eachPlaneCase(func(name string, kh, kw, sh, sw, nx, ny int) {
		lds := (nx-1)*sw + kw + 3
		ldd := nx + 9
		src := randSlice[float32](r, ((ny-1)*sh+kh)*lds+MaxPlaneSlack)
		scale := make([]float32, nx*ny+SumPlaneScaleSlack) // 1/count, another factor per output
		for i := range scale {
			scale[i] = float32(1) / float32(kh*kw+i%5)
		}
		got, want := guarded(ny*ldd), guarded(ny*ldd)
		poolSumPlaneGo(want, ldd, nx, ny, src, lds, kh, kw, sh, sw, scale)
		SumPlane(got, ldd, nx, ny, src, lds, kh, kw, sh, sw, scale)
		samePlane(t, name, got, want, nx, ny, ldd)
		for y := 0; y < ny; y++ {
			for x := 0; x < nx; x++ {
				s := 0.0
				for a := 0; a < kh; a++ {
					for b := 0; b < kw; b++ {
						s += float64(src[(y*sh+a)*lds+x*sw+b])
					}
				}
				f := float64(scale[y*nx+x])
				if v := got[y*ldd+x]; math.Abs(float64(v)-s*f) > 1e-5 {
					t.Fatalf("%s: (%d,%d) = %v, the window's sum times %v is %v", name, y, x, v, f, s*f)
				}
			}
		}
	})
}

// guarded returns n floats set to guard.
func guarded(n int) []float32 {
	s := make([]float32, n)
	for i := range s {
		s[i] = guard
	}
	return s
}

// samePlane checks ny rows of nx outputs, ldd apart, of a plane kernel
// against its reference bit for bit, and that it wrote nothing past a
// row's 8-float spill.
func samePlane(t *testing.T, name string, got, want []float32, nx, ny, ldd int) {
	t.Helper()
	for y := 0; y < ny; y++ {
		for x := 0; x < ldd; x++ {
			i := y*ldd + x
			if x >= nx && x < nx+8 {
				continue // may be overwritten
			}
			if !sameFloat(got[i], want[i]) {
				t.Fatalf("%s: (%d,%d) = %v, want %v", name, y, x, got[i], want[i])
			}
		}
	}
}

// TestCopyRows checks CopyRows against its reference: the block copied
// between strides, nothing written beside it, and NaN reported when one
// lies in the block (not when it lies beside it).
func TestCopyRows(t *testing.T) {
	r := rand.New(rand.NewSource(9))
	for _, rows := range []int{1, 2, 5} {
		for _, cols := range []int{1, 7, 8, 9, 14, 16, 28, 33} {
			lds, ldd := cols+3, cols+5
			for _, nan := range []int{-1, 0, (rows-1)*lds + cols - 1, r.Intn(rows)*lds + r.Intn(cols), cols} {
				name := fmt.Sprintf("%d×%d NaN at %d", rows, cols, nan)
				src := randSlice[float32](r, rows*lds)
				if nan >= 0 {
					src[nan] = float32(math.NaN())
				}
				got, want := guarded(rows*ldd), guarded(rows*ldd)
				wantNaN := copyRowsGo(want, ldd, src, lds, rows, cols)
				if gotNaN := CopyRows(got, ldd, src, lds, rows, cols); gotNaN != wantNaN {
					t.Fatalf("%s: reported NaN %v, want %v", name, gotNaN, wantNaN)
				}
				if wantNaN != (nan >= 0 && nan != cols) {
					t.Fatalf("%s: the reference reported NaN %v", name, wantNaN)
				}
				for i := range want {
					if !sameFloat(got[i], want[i]) {
						t.Fatalf("%s: dst[%d] = %v, want %v", name, i, got[i], want[i])
					}
				}
			}
		}
	}
}
