//go:build !(amd64 || arm64) || purego

package asm

// Without assembly the convolution epilogues are the Go references.

func biasAct(rows, n int, src []float32, lds int, bias []float32, act *ConvAct, dst []float32, ldd int) {
	biasActGo(rows, n, src, lds, bias, act, dst, ldd)
}

func biasSumAct(rows, n int, src []float32, lds int, bias, z []float32, ldz int, act *ConvAct, dst []float32, ldd int) {
	biasSumActGo(rows, n, src, lds, bias, z, ldz, act, dst, ldd)
}

func scaleBiasAct(rows, n int, src []float32, lds int, scale, bias []float32, act *ConvAct, dst []float32, ldd int) {
	scaleBiasActGo(rows, n, src, lds, scale, bias, act, dst, ldd)
}
