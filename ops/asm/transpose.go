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
