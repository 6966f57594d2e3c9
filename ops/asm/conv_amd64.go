//go:build !purego

package asm

import "unsafe"

// The AVX2 convolution kernels of conv_amd64.s; without AVX2 and FMA, or
// when INFER_KERNELS=generic chose the generic SGEMM, the Go references
// run.

// convAVX2 is whether the assembly convolution kernels run (read once).
var convAVX2 = hasAVX2FMA && sgemmDefault.name != "generic"

//go:noescape
func convBiasActAVX2(src *float32, lds int, dst *float32, ldd int, rows int, n int, bias *float32, lo float32, hi float32, alpha float32, mode int)

//go:noescape
func convBiasSumActAVX2(src *float32, lds int, dst *float32, ldd int, z *float32, ldz int, rows int, n int, bias *float32, lo float32, hi float32, alpha float32, mode int)

// biasAct is BiasAct with the extents checked.
func biasAct(rows, n int, src []float32, lds int, bias []float32, act *ConvAct, dst []float32, ldd int) {
	if !convAVX2 {
		biasActGo(rows, n, src, lds, bias, act, dst, ldd)
		return
	}
	var bp *float32
	if bias != nil {
		bp = unsafe.SliceData(bias)
	}
	convBiasActAVX2(unsafe.SliceData(src), lds, unsafe.SliceData(dst), ldd, rows, n, bp, act.Lo, act.Hi, act.Alpha, act.mode())
}

// biasSumAct is BiasSumAct with the extents checked.
func biasSumAct(rows, n int, src []float32, lds int, bias, z []float32, ldz int, act *ConvAct, dst []float32, ldd int) {
	if !convAVX2 {
		biasSumActGo(rows, n, src, lds, bias, z, ldz, act, dst, ldd)
		return
	}
	var bp *float32
	if bias != nil {
		bp = unsafe.SliceData(bias)
	}
	convBiasSumActAVX2(unsafe.SliceData(src), lds, unsafe.SliceData(dst), ldd, unsafe.SliceData(z), ldz, rows, n, bp, act.Lo, act.Hi, act.Alpha, act.mode())
}

//go:noescape
func convScaleBiasActAVX2(src *float32, lds int, dst *float32, ldd int, rows int, n int, scale *float32, bias *float32, lo float32, hi float32, alpha float32, mode int)

// scaleBiasAct is ScaleBiasAct with the extents checked.
func scaleBiasAct(rows, n int, src []float32, lds int, scale, bias []float32, act *ConvAct, dst []float32, ldd int) {
	if !convAVX2 {
		scaleBiasActGo(rows, n, src, lds, scale, bias, act, dst, ldd)
		return
	}
	convScaleBiasActAVX2(unsafe.SliceData(src), lds, unsafe.SliceData(dst), ldd, rows, n, unsafe.SliceData(scale), unsafe.SliceData(bias), act.Lo, act.Hi, act.Alpha, act.mode())
}

//go:noescape
func convCopyRunsAVX2(dst *float32, kb int, np int, src *float32, rowOff *int32, runs *int32, panelStart *int32)

// copyRuns is CopyRuns with the tables checked.
func copyRuns(dst []float32, kb, np int, src []float32, rowOff, runs, panelStart []int32) {
	if !convAVX2 {
		copyRunsGo(dst, kb, np, src, rowOff, runs, panelStart)
		return
	}
	convCopyRunsAVX2(unsafe.SliceData(dst), kb, np, unsafe.SliceData(src), unsafe.SliceData(rowOff), unsafe.SliceData(runs), unsafe.SliceData(panelStart))
}

//go:noescape
func poolMaxRowsAVX2(dst *float32, src *float32, n int)

//go:noescape
func poolMaxColsAVX2(dst *float32, n int, src *float32, k int, s int)

func poolMaxRows(dst, src []float32) {
	if !convAVX2 {
		poolMaxRowsGo(dst, src)
		return
	}
	poolMaxRowsAVX2(unsafe.SliceData(dst), unsafe.SliceData(src), len(dst))
}

func poolMaxCols(dst, src []float32, k, s int) {
	if !convAVX2 {
		poolMaxColsGo(dst, src, k, s)
		return
	}
	poolMaxColsAVX2(unsafe.SliceData(dst), len(dst), unsafe.SliceData(src), k, s)
}

//go:noescape
func poolMaxPlaneAVX2(dst *float32, ldd int, nx int, ny int, src *float32, lds int, kh int, kw int, sh int, sw int, maskRows int)

//go:noescape
func poolMaxPlaneNoNaNAVX2(dst *float32, ldd int, nx int, ny int, src *float32, lds int, kh int, kw int, sh int, sw int, maskRows int)

//go:noescape
func anyNaNAVX2(src *float32, lds int, rows int, cols int) bool

//go:noescape
func copyRowsAVX2(dst *float32, ldd int, src *float32, lds int, rows int, cols int) bool

// copyRows is CopyRows with the extents checked.
func copyRows(dst []float32, ldd int, src []float32, lds, rows, cols int) bool {
	if !convAVX2 {
		return copyRowsGo(dst, ldd, src, lds, rows, cols)
	}
	return copyRowsAVX2(unsafe.SliceData(dst), ldd, unsafe.SliceData(src), lds, rows, cols)
}

// poolMaxPlanes is MaxPlanes with the operands checked (lastMask: the
// last plane's rows to store with a mask), in groups of planes of about
// maxPlanesGroupBytes of src: each group is scanned for NaN, then pooled
// while the scan left it in L1. A scan covers the whole span from the
// group's first window to its last, the floats between planes too (a
// NaN there only costs the kernel that keeps NaN).
func poolMaxPlanes(dst []float32, ldd, dstPlane, nx, ny int, src []float32, lds, srcPlane, planes, kh, kw, sh, sw, lastMask int) {
	if !convAVX2 {
		poolMaxPlanesGo(dst, ldd, dstPlane, nx, ny, src, lds, srcPlane, planes, kh, kw, sh, sw)
		return
	}
	reach := ((ny-1)*sh+kh-1)*lds + (nx-1)*sw + kw // floats from a plane's first window to its last
	group := max(1, (maxPlanesGroupBytes/4-reach)/max(srcPlane, 1)+1)
	last := planes - 1
	for p0 := 0; p0 < planes; p0 += group {
		p1 := min(planes, p0+group)
		span := (p1-1-p0)*srcPlane + reach
		kernel := poolMaxPlaneAVX2
		if !anyNaNAVX2(&src[p0*srcPlane], span, 1, span) {
			kernel = poolMaxPlaneNoNaNAVX2
		}
		for p := p0; p < p1; p++ {
			mask := lastMask
			if p < last {
				mask = maskRowsAt(dst, p*dstPlane, ldd, nx, ny)
			}
			kernel(&dst[p*dstPlane], ldd, nx, ny, &src[p*srcPlane], lds, kh, kw, sh, sw, mask)
		}
	}
}

// maxPlanesGroupBytes is about how much of src poolMaxPlanes scans for
// NaN before pooling it, well within L1.
const maxPlanesGroupBytes = 16 << 10

// poolMaxPlane is MaxPlane with the operands checked: windows without a
// NaN (the rows and columns they read, scanned first unless known says)
// by plain maxima, else with the NaN kept.
func poolMaxPlane(dst []float32, ldd, nx, ny int, src []float32, lds, kh, kw, sh, sw, maskRows int, known nanKnown) {
	if !convAVX2 {
		poolMaxPlaneGo(dst, ldd, nx, ny, src, lds, kh, kw, sh, sw)
		return
	}
	kernel := poolMaxPlaneAVX2
	if known == nanAbsent || known == nanUnknown && !anyNaNAVX2(unsafe.SliceData(src), lds, (ny-1)*sh+kh, (nx-1)*sw+kw) {
		kernel = poolMaxPlaneNoNaNAVX2
	}
	kernel(unsafe.SliceData(dst), ldd, nx, ny, unsafe.SliceData(src), lds, kh, kw, sh, sw, maskRows)
}

//go:noescape
func poolSumPlaneAVX2(dst *float32, ldd int, nx int, ny int, src *float32, lds int, kh int, kw int, sh int, sw int, maskRows int, scale *float32)

func poolSumPlane(dst []float32, ldd, nx, ny int, src []float32, lds, kh, kw, sh, sw, maskRows int, scale []float32) {
	if !convAVX2 {
		poolSumPlaneGo(dst, ldd, nx, ny, src, lds, kh, kw, sh, sw, scale)
		return
	}
	poolSumPlaneAVX2(unsafe.SliceData(dst), ldd, nx, ny, unsafe.SliceData(src), lds, kh, kw, sh, sw, maskRows, unsafe.SliceData(scale))
}
