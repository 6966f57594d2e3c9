//go:build !amd64 || purego

package asm

// Without assembly the convolution helpers are the Go references (the
// epilogues biasAct and biasSumAct: conv_epi_noasm.go).

func copyRuns(dst []float32, kb, np int, src []float32, rowOff, runs, panelStart []int32) {
	copyRunsGo(dst, kb, np, src, rowOff, runs, panelStart)
}

func poolMaxRows(dst, src []float32) { poolMaxRowsGo(dst, src) }

func poolMaxCols(dst, src []float32, k, s int) { poolMaxColsGo(dst, src, k, s) }

func poolMaxPlane(dst []float32, ldd, nx, ny int, src []float32, lds, kh, kw, sh, sw, maskRows int, known nanKnown) {
	poolMaxPlaneGo(dst, ldd, nx, ny, src, lds, kh, kw, sh, sw)
}

func poolMaxPlanes(dst []float32, ldd, dstPlane, nx, ny int, src []float32, lds, srcPlane, planes, kh, kw, sh, sw, lastMask int) {
	poolMaxPlanesGo(dst, ldd, dstPlane, nx, ny, src, lds, srcPlane, planes, kh, kw, sh, sw)
}

func poolSumPlane(dst []float32, ldd, nx, ny int, src []float32, lds, kh, kw, sh, sw, maskRows int, scale []float32) {
	poolSumPlaneGo(dst, ldd, nx, ny, src, lds, kh, kw, sh, sw, scale)
}

func copyRows(dst []float32, ldd int, src []float32, lds, rows, cols int) bool {
	return copyRowsGo(dst, ldd, src, lds, rows, cols)
}
