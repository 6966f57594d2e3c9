//go:build !amd64 || purego

package asm

func sumPlaneRows(dst []float32, ldd, nx, ny int, src []float32, lds, kh, kw, sh, maskRows int, scale, rows []float32) {
	sumPlaneRowsGo(dst, ldd, nx, ny, src, lds, kh, kw, sh, scale, rows)
}
