//go:build !amd64 || purego

package asm

func transpose(rows, cols int, src []float32, lds int, dst []float32, ldd int) {
	transposeGo(0, 0, rows, cols, src, lds, dst, ldd)
}

func deinterleave(a, b, src []float32) { deinterleaveGo(0, a, b, src) }
