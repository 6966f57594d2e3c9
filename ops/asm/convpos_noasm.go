//go:build !amd64 || purego

package asm

// Without assembly the position-major convolution kernels are the Go
// references.

func convPosAccelerated() bool { return false }

// convPos512 is always false: there is no AVX-512 kernel to take.
var convPos512 bool

func convPos512Available() bool { return false }

func convPosTiles(k int, x []float32, posOff []int32, nt int, kOff []int32, b []float32, c []float32, ldc int, acc bool) {
	convPosTilesGo(k, x, posOff, nt, kOff, b, c, ldc, acc)
}

func convPosTiles2(k int, x []float32, posOff []int32, nt int, kOff []int32, b []float32, ps int, c []float32, ldc int, acc bool) {
	panic("asm: no paired position-major kernel")
}

func convPosEpi(c []float32, src []int32, win, nq, groups int, bias []float32, act *ConvAct, y []float32, ldy int) {
	convPosEpiGo(c, src, win, nq, groups, bias, act, y, ldy)
}
