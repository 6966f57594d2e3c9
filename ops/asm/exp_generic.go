package asm

import "math"

// expOut32 is e^x for x outside (-104, 89): NaN, +Inf or 0.
func expOut32(x float32) float32 {
	switch {
	case x != x:
		return x
	case x > 0:
		return float32(math.Inf(1))
	}
	return 0
}

// expSliceGeneric sets y[i] = e^x[i] in float32, the Go reference of
// expAVX2 (which computes the same steps with FMA, so results may differ
// in the last bit): n = round(x·log2 e), r = x - n·ln 2 in two parts,
// e^r = 1 + r + r²·P(r) (Cephes expf), scaled by 2^(n>>1) and then
// 2^(n-(n>>1)), both normal floats, so that results below the normal
// range round once to a subnormal or 0. Arguments outside (-104, 89)
// give 0 or +Inf (expOut32), NaN itself. The body is written out in the
// loop: as a function it is too large to be inlined.
func expSliceGeneric(x, y []float32) {
	y = y[:len(x)]
	for i, x := range x {
		if !(x > -104 && x < 89) {
			y[i] = expOut32(x)
			continue
		}
		const magic = 12582912 // 1.5·2^23: adding it rounds to an integer
		n := x*1.44269504088896341 + magic
		n -= magic
		r := x - n*0.693359375 - n*-2.12194440e-4
		p := ((((1.9875691500e-4*r+1.3981999507e-3)*r+8.3334519073e-3)*r+4.1665795894e-2)*r+1.6666665459e-1)*r + 5.0000001201e-1
		ni := int32(n)
		n1 := ni >> 1
		y[i] = (p*(r*r) + r + 1) * math.Float32frombits(uint32(n1+127)<<23) * math.Float32frombits(uint32(ni-n1+127)<<23)
	}
}

func expSumGeneric(x, y []float32, m float32) float64 { return expSumBy(expSliceGeneric, x, y, m) }

// expSumBy is ExpSum with the exponentials by exp (an expImpl's exp):
// y[i] = x[i] - m, then exp in place, then the float64 sum of the y[i] in
// four independent chains (one chain of dependent adds would cost more
// than the exponentials).
func expSumBy(exp func(x, y []float32), x, y []float32, m float32) float64 {
	y = y[:len(x)]
	for i, v := range x {
		y[i] = v - m
	}
	exp(y, y)
	var s0, s1, s2, s3 float64
	i := 0
	for ; i+4 <= len(y); i += 4 {
		s0 += float64(y[i])
		s1 += float64(y[i+1])
		s2 += float64(y[i+2])
		s3 += float64(y[i+3])
	}
	for ; i < len(y); i++ {
		s0 += float64(y[i])
	}
	return (s0 + s1) + (s2 + s3)
}
