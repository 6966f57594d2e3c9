//go:build !purego

package asm

import "unsafe"

// The AVX2 kernels of the position-major convolution (convpos_amd64.s),
// and an AVX-512 product of the tiles that runs with the AVX-512 SGEMM;
// without AVX2 and FMA, or when INFER_KERNELS=generic chose the generic
// SGEMM, the Go references run.

//go:noescape
func convPosTilesAVX2(k int, x *float32, posOff *int32, nt int, kOff *int32, b *float32, c *float32, ldc int, acc int)

//go:noescape
func convPosTilesAVX512(k int, x *float32, posOff *int32, nt int, kOff *int32, b *float32, c *float32, ldc int, acc int)

//go:noescape
func convPosTiles2AVX512(k int, x *float32, posOff *int32, nt int, kOff *int32, b *float32, ps int, c *float32, ldc int, acc int)

//go:noescape
func convPosEpiAVX2(c *float32, src *int32, win int, nq int, bias *float32, lo float32, hi float32, alpha float32, y *float32, ldy int, groups int, mode int)

func convPosAccelerated() bool { return convAVX2 }

func convPosTiles(k int, x []float32, posOff []int32, nt int, kOff []int32, b []float32, c []float32, ldc int, acc bool) {
	if !convAVX2 {
		convPosTilesGo(k, x, posOff, nt, kOff, b, c, ldc, acc)
		return
	}
	a := 0
	if acc {
		a = 1
	}
	tiles := convPosTilesAVX2
	if convPos512 {
		tiles = convPosTilesAVX512
	}
	tiles(k, unsafe.SliceData(x), unsafe.SliceData(posOff), nt, unsafe.SliceData(kOff), unsafe.SliceData(b), unsafe.SliceData(c), ldc, a)
}

// convPosTiles2 runs convPosTiles2AVX512 (convPos512 only): the panel at
// b and the one ps bytes further.
func convPosTiles2(k int, x []float32, posOff []int32, nt int, kOff []int32, b []float32, ps int, c []float32, ldc int, acc bool) {
	a := 0
	if acc {
		a = 1
	}
	convPosTiles2AVX512(k, unsafe.SliceData(x), unsafe.SliceData(posOff), nt, unsafe.SliceData(kOff), unsafe.SliceData(b), ps, unsafe.SliceData(c), ldc, a)
}

// convPos512 says that convPosTiles runs the AVX-512 kernel: with the
// AVX-512 SGEMM.
var convPos512 = convAVX2 && sgemmDefault.name == "avx512"

// convPos512Available reports whether the CPU runs convPosTilesAVX512.
func convPos512Available() bool { return convAVX2 && hasAVX512 }

func convPosEpi(c []float32, src []int32, win, nq, groups int, bias []float32, act *ConvAct, y []float32, ldy int) {
	if !convAVX2 {
		convPosEpiGo(c, src, win, nq, groups, bias, act, y, ldy)
		return
	}
	if ldy%transposeAliasFloats == 0 && groups > 1 {
		// Planes a multiple of 2 KiB apart: a group of 8 channels at a
		// time, all its positions, as transpose does (the 32 planes of
		// 32×32 of a CIFAR CNN's first convolution: its epilogue took
		// 0.5 ns an element with all the groups in turn for each 8
		// positions, three times as long as the product).
		for g := 0; g < groups; g++ {
			var bg []float32
			if bias != nil {
				bg = bias[8*g:]
			}
			convPosEpi(c[8*g:], src, win, nq, 1, bg, act, y[8*g*ldy:], ldy)
		}
		return
	}
	var bp *float32
	if bias != nil {
		bp = unsafe.SliceData(bias)
	}
	convPosEpiAVX2(unsafe.SliceData(c), unsafe.SliceData(src), win, nq, bp, act.Lo, act.Hi, act.Alpha, unsafe.SliceData(y), ldy, groups, act.mode())
}
