package tensor

import "math"

// The 8-bit float element types of ONNX IR version 9. All four are held
// as []Float8 (the DType tells the format); they convert to and from
// float32 and are otherwise moved around, not computed with.
const (
	Float8E4M3FN   DType = 17
	Float8E4M3FNUZ DType = 18
	Float8E5M2     DType = 19
	Float8E5M2FNUZ DType = 20
)

// Float8 is an 8-bit float stored as its bits; its format is given by the
// DType of the tensor that holds it.
type Float8 uint8

// isFloat8 reports whether d is one of the 8-bit float types.
func (d DType) isFloat8() bool { return d >= Float8E4M3FN && d <= Float8E5M2FNUZ }

// f8format describes one float8 layout.
type f8format struct {
	mant, bias int
	fnuz       bool // NaN is 0x80; no negative zero, no infinity
	inf        bool // has IEEE-style infinities (E5M2)
}

func formatOf(d DType) f8format {
	switch d {
	case Float8E4M3FN:
		return f8format{mant: 3, bias: 7}
	case Float8E4M3FNUZ:
		return f8format{mant: 3, bias: 8, fnuz: true}
	case Float8E5M2:
		return f8format{mant: 2, bias: 15, inf: true}
	}
	return f8format{mant: 2, bias: 16, fnuz: true}
}

// Float8ToFloat32 decodes b in format d exactly.
func Float8ToFloat32(d DType, b Float8) float32 {
	f := formatOf(d)
	if f.fnuz && b == 0x80 {
		return float32(math.NaN())
	}
	sign := float32(1)
	if b&0x80 != 0 {
		sign = -1
	}
	expBits := 7 - f.mant
	e := int(b>>f.mant) & (1<<expBits - 1)
	m := int(b) & (1<<f.mant - 1)
	switch {
	case f.inf && e == 1<<expBits-1:
		if m == 0 {
			return sign * float32(math.Inf(1))
		}
		return float32(math.NaN())
	case d == Float8E4M3FN && e == 15 && m == 7:
		return float32(math.NaN())
	case e == 0:
		return sign * float32(math.Ldexp(float64(m)/float64(int(1)<<f.mant), 1-f.bias))
	}
	return sign * float32(math.Ldexp(1+float64(m)/float64(int(1)<<f.mant), e-f.bias))
}

// float8Max is the largest finite magnitude's code (positive).
func float8Max(d DType) Float8 {
	switch d {
	case Float8E4M3FN:
		return 0x7e // 448
	case Float8E5M2:
		return 0x7b // 57344
	}
	return 0x7f // 240 (E4M3FNUZ), 57344 (E5M2FNUZ)
}

// Float8From rounds f to format d, to nearest with ties to even. With
// saturate (ONNX Cast's default), values beyond the largest finite one,
// infinities included, become it (as ONNX Runtime does); otherwise values
// that round beyond it become infinity (E5M2) or NaN.
func Float8From(d DType, f float32, saturate bool) Float8 {
	fm := formatOf(d)
	nan := Float8(0x7f)
	if fm.fnuz {
		nan = 0x80
	} else if fm.inf {
		nan = 0x7f
	}
	if f != f {
		return nan
	}
	var sign Float8
	if math.Signbit(float64(f)) {
		sign = 0x80
		f = -f
	}
	maxCode := float8Max(d)
	maxVal := Float8ToFloat32(d, maxCode)
	if f > maxVal {
		// Without saturation, values that still round to the largest
		// finite value (below half a step above it) keep it.
		ulp := maxVal - Float8ToFloat32(d, maxCode-1)
		roundsDown := f < maxVal+ulp/2 || (f == maxVal+ulp/2 && maxCode&1 == 0)
		switch {
		case saturate || roundsDown:
			return sign | maxCode // as ONNX Runtime does, infinities too
		case fm.inf:
			return sign | 0x7c
		}
		return nan
	}
	// Binary search the largest code whose value is <= f.
	lo, hi := 0, int(maxCode)
	for lo < hi {
		mid := (lo + hi + 1) / 2
		if Float8ToFloat32(d, Float8(mid)) <= f {
			lo = mid
		} else {
			hi = mid - 1
		}
	}
	code := lo
	if code < int(maxCode) {
		below, above := Float8ToFloat32(d, Float8(code)), Float8ToFloat32(d, Float8(code+1))
		if f-below > above-f || (f-below == above-f && code&1 == 1) {
			code++
		}
	}
	if code == 0 && fm.fnuz {
		return 0 // no negative zero
	}
	return sign | Float8(code)
}
