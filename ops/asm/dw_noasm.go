//go:build !(amd64 || arm64) || purego

package asm

func depthwisePlanes(dst, src []float32, planes int, g *DepthwiseGeom, l *dwLayout, w, bias []float32, act *ConvAct, scratch []float32) {
	depthwisePlanesGo(dst, src, planes, g, w, bias, act)
}

func (g *DepthwiseGeom) archScratchLen() int { return 0 }
