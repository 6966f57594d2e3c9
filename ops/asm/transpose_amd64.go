//go:build !purego

package asm

// transpose8AVX transposes nb 8×8 blocks side by side: the 8 rows at src
// (stride lds floats), blocks 8 columns apart, into dst (stride ldd
// floats), block b at dst + 8*b*ldd.
//
//go:noescape
func transpose8AVX(src *float32, lds int, dst *float32, ldd int, nb int)

// transpose is Transpose with the extents checked: whole 8×8 blocks in
// assembly (with AVX2), the rest in Go.
func transpose(rows, cols int, src []float32, lds int, dst []float32, ldd int) {
	if !convAVX2 || rows < 8 || cols < 8 {
		transposeGo(0, 0, rows, cols, src, lds, dst, ldd)
		return
	}
	rb, cb := rows/8*8, cols/8*8
	for i := 0; i < rb; i += 8 {
		transpose8AVX(&src[i*lds], lds, &dst[i], ldd, cb/8)
	}
	transposeGo(0, cb, rb, cols, src, lds, dst, ldd)   // the columns past the blocks
	transposeGo(rb, 0, rows, cols, src, lds, dst, ldd) // the rows below them
}

// deinterleave8AVX sets a[i] = src[2i] and b[i] = src[2i+1] for
// i < 8*nb.
//
//go:noescape
func deinterleave8AVX(a *float32, b *float32, src *float32, nb int)

// deinterleave is Deinterleave with the extents checked: blocks of 8
// pairs in assembly (with AVX2), the rest in Go.
func deinterleave(a, b, src []float32) {
	nb := len(b) / 8
	if !convAVX2 || nb == 0 {
		deinterleaveGo(0, a, b, src)
		return
	}
	deinterleave8AVX(&a[0], &b[0], &src[0], nb)
	deinterleaveGo(8*nb, a, b, src)
}
