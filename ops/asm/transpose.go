package asm

import "fmt"

// Transpose sets dst[j*ldd+i] = src[i*lds+j] for i < rows, j < cols: a
// rows×cols matrix at stride lds written as its cols×rows transpose at
// stride ldd (8×8 blocks in assembly where the CPU has AVX2, the edges
// and other CPUs in Go). src and dst must not overlap.
func Transpose(rows, cols int, src []float32, lds int, dst []float32, ldd int) {
	if rows <= 0 || cols <= 0 {
		return
	}
	if lds < cols || ldd < rows || len(src) < (rows-1)*lds+cols || len(dst) < (cols-1)*ldd+rows {
		panic(fmt.Sprintf("asm.Transpose: %d×%d at lds %d (len %d) to ldd %d (len %d)", rows, cols, lds, len(src), ldd, len(dst)))
	}
	transpose(rows, cols, src, lds, dst, ldd)
}

// transposeGo is Transpose in Go, the reference of the assembly blocks,
// for rows r0 <= i < rows and columns c0 <= j < cols only.
func transposeGo(r0, c0, rows, cols int, src []float32, lds int, dst []float32, ldd int) {
	for i := r0; i < rows; i++ {
		row := src[i*lds+c0 : i*lds+cols]
		for j, v := range row {
			dst[(c0+j)*ldd+i] = v
		}
	}
}

// Deinterleave sets a[i] = src[2i] and b[i] = src[2i+1] for i < len(b),
// and a[len(b)] = src[2*len(b)] when len(a) is len(b)+1: the even and the
// odd floats of src, which has len(a)+len(b) of them (blocks of 16 in
// assembly where the CPU has AVX2). src must not overlap a or b.
func Deinterleave(a, b, src []float32) {
	n := len(b)
	if len(a) != n && len(a) != n+1 || len(src) != len(a)+n {
		panic(fmt.Sprintf("asm.Deinterleave: %d and %d floats from %d", len(a), len(b), len(src)))
	}
	deinterleave(a, b, src)
}

// deinterleaveGo is Deinterleave in Go from pair i0 on (the reference of
// the assembly blocks).
func deinterleaveGo(i0 int, a, b, src []float32) {
	n := len(b)
	pairs := src[:2*n]
	a, b = a[:n], b[:n]
	for i := i0; i < n; i++ {
		a[i], b[i] = pairs[2*i], pairs[2*i+1]
	}
	if len(src) > 2*n {
		a = a[:n+1]
		a[n] = src[2*n]
	}
}
