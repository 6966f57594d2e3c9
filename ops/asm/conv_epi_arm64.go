//go:build !purego

package asm

import (
	"math"
	"unsafe"
)

// The NEON convolution epilogues (conv_epi_arm64.s, printed by
// _gen/wino); when INFER_KERNELS=generic chose the generic SGEMM, the Go
// references run.

//go:noescape
func convBiasActNEON(src *float32, lds int, dst *float32, ldd int, rows int, n int, bias *float32, lo float32, hi float32, alpha float32, mode int)

//go:noescape
func convBiasSumActNEON(src *float32, lds int, dst *float32, ldd int, z *float32, ldz int, rows int, n int, bias *float32, lo float32, hi float32, alpha float32, mode int)

// neonActMode is the mode argument of the NEON kernels: 0 for a clamp
// to [Lo, Hi], 1 for Leaky, 2 for none (nil, or a clamp to ±Inf), 3 for
// a clamp below only (Hi = +Inf, as Relu). Comparisons with an infinite
// bound never hold, so leaving them out changes no result.
func neonActMode(act *ConvAct) int {
	switch {
	case act == nil:
		return 2
	case act.Leaky:
		return 1
	case math.IsInf(float64(act.Hi), 1) && math.IsInf(float64(act.Lo), -1):
		return 2
	case math.IsInf(float64(act.Hi), 1):
		return 3
	}
	return 0
}

// biasAct is BiasAct with the extents checked.
func biasAct(rows, n int, src []float32, lds int, bias []float32, act *ConvAct, dst []float32, ldd int) {
	if !neonKernels || rows <= 0 || n <= 0 {
		biasActGo(rows, n, src, lds, bias, act, dst, ldd)
		return
	}
	var bp *float32
	if bias != nil {
		bp = unsafe.SliceData(bias)
	}
	convBiasActNEON(unsafe.SliceData(src), lds, unsafe.SliceData(dst), ldd, rows, n, bp, act.Lo, act.Hi, act.Alpha, neonActMode(act))
}

// biasSumAct is BiasSumAct with the extents checked.
func biasSumAct(rows, n int, src []float32, lds int, bias, z []float32, ldz int, act *ConvAct, dst []float32, ldd int) {
	if !neonKernels || rows <= 0 || n <= 0 {
		biasSumActGo(rows, n, src, lds, bias, z, ldz, act, dst, ldd)
		return
	}
	var bp *float32
	if bias != nil {
		bp = unsafe.SliceData(bias)
	}
	convBiasSumActNEON(unsafe.SliceData(src), lds, unsafe.SliceData(dst), ldd, unsafe.SliceData(z), ldz, rows, n, bp, act.Lo, act.Hi, act.Alpha, neonActMode(act))
}

func scaleBiasAct(rows, n int, src []float32, lds int, scale, bias []float32, act *ConvAct, dst []float32, ldd int) {
	scaleBiasActGo(rows, n, src, lds, scale, bias, act, dst, ldd)
}
