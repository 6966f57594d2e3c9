//go:build !amd64 || purego

package asm

func depthwiseS2Deint(dst, src []float32, planes int, g *DepthwiseGeom, w, bias []float32, act *ConvAct, zero []float32) {
	depthwiseS2DeintGo(dst, src, planes, g, w, bias, act)
}
