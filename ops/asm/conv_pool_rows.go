package asm

import "fmt"

// Sums of windows one column apart (AveragePool's most common windows:
// 3×3 at stride 1, Inception's "pool" branches), separably: each input
// row's kw-column sums once for every output column, then kh of those
// rows per output row, kw−1+kh−1 additions an output instead of
// kh·kw−1. The sums are SumPlane's, in its order (each window row left
// to right, then the rows top to bottom, in float32), so the results
// are SumPlane's bit for bit.

// SumPlaneRowsScratch is how many floats of scratch SumPlaneRows needs
// for ny output rows of nx windows kh rows high, sh rows apart.
func SumPlaneRowsScratch(nx, ny, kh, sh int) int {
	if nx <= 0 || ny <= 0 {
		return 0
	}
	return ((ny-1)*sh + kh) * roundUp(nx, 16)
}

// SumPlaneRows is SumPlane for windows one column apart (sw = 1), with
// the same results bit for bit, using rows (SumPlaneRowsScratch floats)
// for the rows' sums where it has a kernel that sums separably (AVX-512,
// and the Go version); elsewhere it runs SumPlane. Its operands are
// SumPlane's: it may spill past nx in a row and read scale past the
// nx·ny factors as SumPlane does.
func SumPlaneRows(dst []float32, ldd, nx, ny int, src []float32, lds, kh, kw, sh int, scale, rows []float32) {
	maskRows, ok := planeMaskRows("SumPlaneRows", dst, ldd, nx, ny, src, lds, kh, kw, sh, 1)
	if !ok {
		return
	}
	if len(rows) < SumPlaneRowsScratch(nx, ny, kh, sh) {
		panic(fmt.Sprintf("asm.SumPlaneRows: %d floats of scratch, want %d", len(rows), SumPlaneRowsScratch(nx, ny, kh, sh)))
	}
	_ = scale[nx*ny+SumPlaneScaleSlack-1]
	sumPlaneRows(dst, ldd, nx, ny, src, lds, kh, kw, sh, maskRows, scale, rows)
}

// sumPlaneRowsGo is the Go version of SumPlaneRows.
func sumPlaneRowsGo(dst []float32, ldd, nx, ny int, src []float32, lds, kh, kw, sh int, scale, rows []float32) {
	w := roundUp(nx, 16)
	for r := 0; r < (ny-1)*sh+kh; r++ {
		in, rs := src[r*lds:], rows[r*w:r*w+nx]
		for x := range rs {
			s := in[x] + in[x+1]
			if kw == 3 {
				s += in[x+2]
			}
			rs[x] = s
		}
	}
	for y := 0; y < ny; y++ {
		out := dst[y*ldd : y*ldd+nx]
		copy(out, rows[y*sh*w:y*sh*w+nx])
		for i := 1; i < kh; i++ {
			for x, s := range rows[(y*sh+i)*w : (y*sh+i)*w+nx] {
				out[x] += s
			}
		}
		for x, f := range scale[y*nx : y*nx+nx] {
			out[x] *= f
		}
	}
}
