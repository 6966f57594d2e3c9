//go:build !purego

package asm

import "unsafe"

// The NEON Winograd kernels (wino_arm64.s, printed by _gen/wino); when
// INFER_KERNELS=generic chose the generic SGEMM, the Go references run.
// The arguments were checked by the exported wrappers.

// neonKernels is whether the NEON convolution kernels run (read once).
var neonKernels = sgemmDefault.name != "generic"

// winoAsm is whether the Winograd kernels are assembly (WinoAccelerated).
var winoAsm = neonKernels

//go:noescape
func winoInput4x3NEON(nt int, src *float32, lds int, dst *float32, ldxi int, ldt int)

//go:noescape
func winoOutput4x3NEON(nt int, src *float32, ldxi int, ldt int, bias *float32, lo float32, hi float32, alpha float32, mode int, dst *float32, ldd int)

//go:noescape
func blockChannels8NEONx1(rows int, w int, src *float32, planeStride int, lds int, dst *float32, ldd int)

//go:noescape
func blockChannels8NEONx2(rows int, w int, src *float32, planeStride int, lds int, dst *float32, ldd int)

//go:noescape
func blockChannels8NEONx3(rows int, w int, src *float32, planeStride int, lds int, dst *float32, ldd int)

//go:noescape
func blockChannels8NEONx4(rows int, w int, src *float32, planeStride int, lds int, dst *float32, ldd int)

//go:noescape
func blockChannels8NEONx5(rows int, w int, src *float32, planeStride int, lds int, dst *float32, ldd int)

//go:noescape
func blockChannels8NEONx6(rows int, w int, src *float32, planeStride int, lds int, dst *float32, ldd int)

//go:noescape
func blockChannels8NEONx7(rows int, w int, src *float32, planeStride int, lds int, dst *float32, ldd int)

//go:noescape
func blockChannels8NEONx8(rows int, w int, src *float32, planeStride int, lds int, dst *float32, ldd int)

//go:noescape
func unblockChannels8NEONx1(rows int, w int, src *float32, lds int, dst *float32, planeStride int, ldd int)

//go:noescape
func unblockChannels8NEONx2(rows int, w int, src *float32, lds int, dst *float32, planeStride int, ldd int)

//go:noescape
func unblockChannels8NEONx3(rows int, w int, src *float32, lds int, dst *float32, planeStride int, ldd int)

//go:noescape
func unblockChannels8NEONx4(rows int, w int, src *float32, lds int, dst *float32, planeStride int, ldd int)

//go:noescape
func unblockChannels8NEONx5(rows int, w int, src *float32, lds int, dst *float32, planeStride int, ldd int)

//go:noescape
func unblockChannels8NEONx6(rows int, w int, src *float32, lds int, dst *float32, planeStride int, ldd int)

//go:noescape
func unblockChannels8NEONx7(rows int, w int, src *float32, lds int, dst *float32, planeStride int, ldd int)

//go:noescape
func unblockChannels8NEONx8(rows int, w int, src *float32, lds int, dst *float32, planeStride int, ldd int)

func blockChannels8(rows, w int, src []float32, planeStride, lds, planes int, dst []float32, ldd int) {
	if !neonKernels {
		blockChannels8Go(rows, w, src, planeStride, lds, planes, dst, ldd)
		return
	}
	// A switch, not a table of funcs: calls through func values would let
	// src and dst escape.
	s, d := unsafe.SliceData(src), unsafe.SliceData(dst)
	switch planes {
	case 1:
		blockChannels8NEONx1(rows, w, s, planeStride, lds, d, ldd)
	case 2:
		blockChannels8NEONx2(rows, w, s, planeStride, lds, d, ldd)
	case 3:
		blockChannels8NEONx3(rows, w, s, planeStride, lds, d, ldd)
	case 4:
		blockChannels8NEONx4(rows, w, s, planeStride, lds, d, ldd)
	case 5:
		blockChannels8NEONx5(rows, w, s, planeStride, lds, d, ldd)
	case 6:
		blockChannels8NEONx6(rows, w, s, planeStride, lds, d, ldd)
	case 7:
		blockChannels8NEONx7(rows, w, s, planeStride, lds, d, ldd)
	default:
		blockChannels8NEONx8(rows, w, s, planeStride, lds, d, ldd)
	}
}

func unblockChannels8(rows, w int, src []float32, lds int, dst []float32, planeStride, ldd, planes int) {
	if !neonKernels {
		unblockChannels8Go(rows, w, src, lds, dst, planeStride, ldd, planes)
		return
	}
	s, d := unsafe.SliceData(src), unsafe.SliceData(dst)
	switch planes {
	case 1:
		unblockChannels8NEONx1(rows, w, s, lds, d, planeStride, ldd)
	case 2:
		unblockChannels8NEONx2(rows, w, s, lds, d, planeStride, ldd)
	case 3:
		unblockChannels8NEONx3(rows, w, s, lds, d, planeStride, ldd)
	case 4:
		unblockChannels8NEONx4(rows, w, s, lds, d, planeStride, ldd)
	case 5:
		unblockChannels8NEONx5(rows, w, s, lds, d, planeStride, ldd)
	case 6:
		unblockChannels8NEONx6(rows, w, s, lds, d, planeStride, ldd)
	case 7:
		unblockChannels8NEONx7(rows, w, s, lds, d, planeStride, ldd)
	default:
		unblockChannels8NEONx8(rows, w, s, lds, d, planeStride, ldd)
	}
}

func winoInput4x3(nt int, src []float32, lds int, dst []float32, ldxi, ldt int) {
	if !neonKernels {
		winoInput4x3Go(nt, src, lds, dst, ldxi, ldt)
		return
	}
	winoInput4x3NEON(nt, unsafe.SliceData(src), lds, unsafe.SliceData(dst), ldxi, ldt)
}

func winoOutput4x3(nt int, src []float32, ldxi, ldt int, bias []float32, act *ConvAct, dst []float32, ldd int) {
	if !neonKernels {
		winoOutput4x3Go(nt, src, ldxi, ldt, bias, act, dst, ldd)
		return
	}
	var bp *float32
	if bias != nil {
		bp = unsafe.SliceData(bias)
	}
	var lo, hi, alpha float32
	if act != nil {
		lo, hi, alpha = act.Lo, act.Hi, act.Alpha
	}
	winoOutput4x3NEON(nt, unsafe.SliceData(src), ldxi, ldt, bp, lo, hi, alpha, neonActMode(act), unsafe.SliceData(dst), ldd)
}

// wino3x4Asm is whether the F(3×3, 4×4) kernels are assembly
// (Wino3x4Accelerated).
var wino3x4Asm = neonKernels

//go:noescape
func winoInput3x4NEON(nt int, src *float32, lds int, dst *float32, ldxi int, ldt int)

//go:noescape
func winoOutput3x4NEON(nt int, src *float32, ldxi int, ldt int, bias *float32, lo float32, hi float32, alpha float32, mode int, dst *float32, ldd int)

func winoInput3x4(nt int, src []float32, lds int, dst []float32, ldxi, ldt int) {
	if !neonKernels {
		winoInput3x4Go(nt, src, lds, dst, ldxi, ldt)
		return
	}
	winoInput3x4NEON(nt, unsafe.SliceData(src), lds, unsafe.SliceData(dst), ldxi, ldt)
}

func winoOutput3x4(nt int, src []float32, ldxi, ldt int, bias []float32, act *ConvAct, dst []float32, ldd int) {
	if !neonKernels {
		winoOutput3x4Go(nt, src, ldxi, ldt, bias, act, dst, ldd)
		return
	}
	var bp *float32
	if bias != nil {
		bp = unsafe.SliceData(bias)
	}
	var lo, hi, alpha float32
	if act != nil {
		lo, hi, alpha = act.Lo, act.Hi, act.Alpha
	}
	winoOutput3x4NEON(nt, unsafe.SliceData(src), ldxi, ldt, bp, lo, hi, alpha, neonActMode(act), unsafe.SliceData(dst), ldd)
}
