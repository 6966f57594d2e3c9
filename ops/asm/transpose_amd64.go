//go:build !purego

package asm

// transpose8AVX transposes nb 8×8 blocks side by side: the 8 rows at src
// (stride lds floats), blocks 8 columns apart, into dst (stride ldd
// floats), block b at dst + 8*b*ldd.
//
//go:noescape
func transpose8AVX(src *float32, lds int, dst *float32, ldd int, nb int)

// transpose is Transpose with the extents checked: whole 8×8 blocks in
// assembly (with AVX2), the rest in Go. The blocks go along the rows of
// src (a call per 8 rows of src), unless the rows of dst lie a multiple of
// 2 KiB apart: then the 8 columns of src that a block takes are
// transposed all the way down first, so that only 8 rows of dst are being
// written at a time. Rows of dst so far apart fall in a few sets of the
// L1 cache, and along the rows of src the writes to all the rows of dst
// (32 channel planes of 32×32) took turns evicting each other: 1024×32
// took 0.53 ns an element that way and 0.12 this way, on Zen 5
// (BenchmarkTranspose), against 0.08-0.15 for other shapes.
func transpose(rows, cols int, src []float32, lds int, dst []float32, ldd int) {
	if !convAVX2 || rows < 8 || cols < 8 {
		transposeGo(0, 0, rows, cols, src, lds, dst, ldd)
		return
	}
	rb, cb := rows/8*8, cols/8*8
	if ldd%transposeAliasFloats == 0 {
		for j := 0; j < cb; j += 8 {
			for i := 0; i < rb; i += 8 {
				transpose8AVX(&src[i*lds+j], lds, &dst[j*ldd+i], ldd, 1)
			}
		}
	} else {
		for i := 0; i < rb; i += 8 {
			transpose8AVX(&src[i*lds], lds, &dst[i], ldd, cb/8)
		}
	}
	transposeGo(0, cb, rb, cols, src, lds, dst, ldd)   // the columns past the blocks
	transposeGo(rb, 0, rows, cols, src, lds, dst, ldd) // the rows below them
}

// transposeAliasFloats is the distance between rows of dst (2 KiB) whose
// multiples make transpose go down the columns of src first.
const transposeAliasFloats = 512

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
