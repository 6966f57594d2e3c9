package asm

import "fmt"

// MaxRows sets dst[i] = max(dst[i], src[i]) for i < len(dst), NaN when
// either is NaN (as the builtin max).
func MaxRows(dst, src []float32) {
	if len(dst) == 0 {
		return
	}
	_ = src[len(dst)-1]
	poolMaxRows(dst, src)
}

// MaxColsSlack is how many floats past the last window MaxCols may read.
const MaxColsSlack = 24

// MaxColsSupported reports whether MaxCols handles windows of k floats
// at stride s.
func MaxColsSupported(k, s int) bool { return (k == 2 || k == 3) && (s == 1 || s == 2) }

// MaxCols sets dst[j] = max(src[j*s : j*s+k]) for j < len(dst), NaN when
// any is NaN, for the k and s that MaxColsSupported accepts. src must
// extend MaxColsSlack floats past the last window.
func MaxCols(dst, src []float32, k, s int) {
	if !MaxColsSupported(k, s) {
		panic(fmt.Sprintf("asm.MaxCols: window %d at stride %d", k, s))
	}
	if len(dst) == 0 {
		return
	}
	_ = src[(len(dst)-1)*s+k-1+MaxColsSlack]
	poolMaxCols(dst, src, k, s)
}

func poolMaxRowsGo(dst, src []float32) {
	src = src[:len(dst)]
	for i, v := range src {
		dst[i] = max(dst[i], v)
	}
}

func poolMaxColsGo(dst, src []float32, k, s int) {
	for j := range dst {
		w := src[j*s : j*s+k]
		m := w[0]
		for _, v := range w[1:] {
			m = max(m, v)
		}
		dst[j] = m
	}
}

// MaxPlaneSlack is how many floats past the end of each window row
// MaxPlane may read.
const MaxPlaneSlack = 24

// MaxPlane computes ny rows of nx windows of MaxPool: dst[y*ldd+x] is the
// max over i < kh, j < kw of src[(y*sh+i)*lds + x*sw+j], NaN when any is
// NaN, for the kw and sw that MaxColsSupported accepts. After a row it may
// overwrite up to 7 floats past nx, where they lie in dst, which the
// caller must write afterwards; src must extend MaxPlaneSlack floats past
// the last window.
func MaxPlane(dst []float32, ldd, nx, ny int, src []float32, lds, kh, kw, sh, sw int) {
	if maskRows, ok := planeMaskRows("MaxPlane", dst, ldd, nx, ny, src, lds, kh, kw, sh, sw); ok {
		poolMaxPlane(dst, ldd, nx, ny, src, lds, kh, kw, sh, sw, maskRows, nanUnknown)
	}
}

// MaxPlaneScanned is MaxPlane on a src that the caller knows to hold a
// NaN in what the windows read, or not (hasNaN), as CopyRows tells: it
// skips MaxPlane's own scan. A false hasNaN with a NaN there may lose it.
func MaxPlaneScanned(dst []float32, ldd, nx, ny int, src []float32, lds, kh, kw, sh, sw int, hasNaN bool) {
	if maskRows, ok := planeMaskRows("MaxPlane", dst, ldd, nx, ny, src, lds, kh, kw, sh, sw); ok {
		known := nanAbsent
		if hasNaN {
			known = nanPresent
		}
		poolMaxPlane(dst, ldd, nx, ny, src, lds, kh, kw, sh, sw, maskRows, known)
	}
}

// MaxPlanes is MaxPlane on planes planes of windows alike: plane p
// reads src[p*srcPlane:] and writes dst[p*dstPlane:] (the channel
// planes of a tensor, pooled without padding), with one check of the
// operands for all of them and a NaN scan per group of planes that fits
// in L1 (each pooled right after its scan). Plane p's spill past a row
// may land in later rows or planes, which are written after it; src
// must extend MaxPlaneSlack floats past the last plane's last window.
// The output rows of a plane must not overlap the next plane's
// (dstPlane ≥ (ny-1)*ldd + nx).
func MaxPlanes(dst []float32, ldd, dstPlane, nx, ny int, src []float32, lds, srcPlane, planes, kh, kw, sh, sw int) {
	if planes <= 0 || nx <= 0 || ny <= 0 {
		return
	}
	if srcPlane < 0 || dstPlane < (ny-1)*ldd+nx {
		panic(fmt.Sprintf("asm.MaxPlanes: planes %d floats apart in src and %d in dst for %d rows of %d, %d apart", srcPlane, dstPlane, ny, nx, ldd))
	}
	last := planes - 1
	_ = src[last*srcPlane]
	_ = dst[last*dstPlane]
	lastMask, ok := planeMaskRows("MaxPlanes", dst[last*dstPlane:], ldd, nx, ny, src[last*srcPlane:], lds, kh, kw, sh, sw)
	if ok {
		poolMaxPlanes(dst, ldd, dstPlane, nx, ny, src, lds, srcPlane, planes, kh, kw, sh, sw, lastMask)
	}
}

// maskRowsAt is planeMaskRows' count of rows to store with a mask for
// the plane of ny rows of nx at dst[off:] (off+(ny-1)*ldd+nx ≤ len(dst)).
func maskRowsAt(dst []float32, off, ldd, nx, ny int) int {
	if off+(ny-1)*ldd+nx+8 <= len(dst) {
		return 0
	}
	spill := 0
	if r := len(dst) - off - nx - 8; r >= 0 {
		spill = min(ny, r/ldd+1)
	}
	return ny - spill
}

func poolMaxPlanesGo(dst []float32, ldd, dstPlane, nx, ny int, src []float32, lds, srcPlane, planes, kh, kw, sh, sw int) {
	for p := 0; p < planes; p++ {
		poolMaxPlaneGo(dst[p*dstPlane:], ldd, nx, ny, src[p*srcPlane:], lds, kh, kw, sh, sw)
	}
}

// nanKnown is what a caller of poolMaxPlane knows of NaN in its input.
type nanKnown int

const (
	nanUnknown nanKnown = iota // scan for it
	nanAbsent
	nanPresent
)

// CopyRows sets dst[i*ldd+j] = src[i*lds+j] for i < rows, j < cols (a
// plane into a padded buffer, or out of one) and reports whether any of
// them is NaN. dst and src must not overlap.
func CopyRows(dst []float32, ldd int, src []float32, lds, rows, cols int) (hasNaN bool) {
	if rows <= 0 || cols <= 0 {
		return false
	}
	if ldd < cols || lds < cols {
		panic(fmt.Sprintf("asm.CopyRows: %d columns at strides %d and %d", cols, lds, ldd))
	}
	_ = dst[(rows-1)*ldd+cols-1]
	_ = src[(rows-1)*lds+cols-1]
	return copyRows(dst, ldd, src, lds, rows, cols)
}

// copyRowsGo is the reference of copyRows.
func copyRowsGo(dst []float32, ldd int, src []float32, lds, rows, cols int) (hasNaN bool) {
	for i := 0; i < rows; i++ {
		row := src[i*lds : i*lds+cols]
		copy(dst[i*ldd:i*ldd+cols], row)
		for _, v := range row {
			hasNaN = hasNaN || v != v
		}
	}
	return hasNaN
}

// planeMaskRows checks the operands of MaxPlane or SumPlane (name) and
// returns how many of the last rows must store with a mask, so that a
// row's 8-float spill past nx stays inside dst; ok is false when there is
// nothing to compute.
func planeMaskRows(name string, dst []float32, ldd, nx, ny int, src []float32, lds, kh, kw, sh, sw int) (maskRows int, ok bool) {
	if !MaxColsSupported(kw, sw) || kh < 1 || sh < 1 {
		panic(fmt.Sprintf("asm.%s: window %d×%d at strides %d, %d", name, kh, kw, sh, sw))
	}
	if nx <= 0 || ny <= 0 {
		return 0, false
	}
	_ = dst[(ny-1)*ldd+nx-1]
	_ = src[((ny-1)*sh+kh-1)*lds+(nx-1)*sw+kw-1+MaxPlaneSlack]
	spill := 0 // rows whose spill stays inside dst
	if r := len(dst) - nx - 8; r >= 0 {
		spill = min(ny, r/ldd+1)
	}
	return ny - spill, true
}

// SumPlane is MaxPlane with sums for maxima, each times its own factor:
// dst[y*ldd+x] = scale[y*nx+x] times the sum over i < kh, j < kw of
// src[(y*sh+i)*lds + x*sw+j] (AveragePool's windows inside a plane, or
// all of them in a zero-padded copy, with 1 / their counts), each window
// row summed left to right and the rows top to bottom, in float32. scale
// holds nx*ny factors and SumPlaneScaleSlack floats more, which may be
// read. Its spill past nx and its reads past the windows are MaxPlane's.
func SumPlane(dst []float32, ldd, nx, ny int, src []float32, lds, kh, kw, sh, sw int, scale []float32) {
	if maskRows, ok := planeMaskRows("SumPlane", dst, ldd, nx, ny, src, lds, kh, kw, sh, sw); ok {
		_ = scale[nx*ny+SumPlaneScaleSlack-1]
		poolSumPlane(dst, ldd, nx, ny, src, lds, kh, kw, sh, sw, maskRows, scale)
	}
}

// SumPlaneScaleSlack is how many floats past its nx*ny factors SumPlane
// may read of scale.
const SumPlaneScaleSlack = 7

func poolSumPlaneGo(dst []float32, ldd, nx, ny int, src []float32, lds, kh, kw, sh, sw int, scale []float32) {
	for y := 0; y < ny; y++ {
		out := dst[y*ldd : y*ldd+nx]
		for x := range out {
			var acc float32
			for i := 0; i < kh; i++ {
				w := src[(y*sh+i)*lds+x*sw : (y*sh+i)*lds+x*sw+kw]
				s := w[0] + w[1]
				if kw == 3 {
					s += w[2]
				}
				if i == 0 {
					acc = s
				} else {
					acc += s
				}
			}
			out[x] = acc * scale[y*nx+x]
		}
	}
}

func poolMaxPlaneGo(dst []float32, ldd, nx, ny int, src []float32, lds, kh, kw, sh, sw int) {
	for y := 0; y < ny; y++ {
		out := dst[y*ldd : y*ldd+nx]
		for x := range out {
			m := src[y*sh*lds+x*sw]
			for i := 0; i < kh; i++ {
				for _, v := range src[(y*sh+i)*lds+x*sw : (y*sh+i)*lds+x*sw+kw] {
					m = max(m, v)
				}
			}
			out[x] = m
		}
	}
}
