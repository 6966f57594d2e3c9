//go:build !(amd64 || arm64) || purego

package asm

// Without assembly the Winograd kernels are the Go references.

// winoAsm is whether the Winograd kernels are assembly (WinoAccelerated).
const winoAsm = false

func blockChannels8(rows, w int, src []float32, planeStride, lds, planes int, dst []float32, ldd int) {
	blockChannels8Go(rows, w, src, planeStride, lds, planes, dst, ldd)
}

func unblockChannels8(rows, w int, src []float32, lds int, dst []float32, planeStride, ldd, planes int) {
	unblockChannels8Go(rows, w, src, lds, dst, planeStride, ldd, planes)
}

func winoInput4x3(nt int, src []float32, lds int, dst []float32, ldxi, ldt int) {
	winoInput4x3Go(nt, src, lds, dst, ldxi, ldt)
}

func winoOutput4x3(nt int, src []float32, ldxi, ldt int, bias []float32, act *ConvAct, dst []float32, ldd int) {
	winoOutput4x3Go(nt, src, ldxi, ldt, bias, act, dst, ldd)
}

// wino3x4Asm is whether the F(3×3, 4×4) kernels are assembly
// (Wino3x4Accelerated).
const wino3x4Asm = false

func winoInput3x4(nt int, src []float32, lds int, dst []float32, ldxi, ldt int) {
	winoInput3x4Go(nt, src, lds, dst, ldxi, ldt)
}

func winoOutput3x4(nt int, src []float32, ldxi, ldt int, bias []float32, act *ConvAct, dst []float32, ldd int) {
	winoOutput3x4Go(nt, src, ldxi, ldt, bias, act, dst, ldd)
}
