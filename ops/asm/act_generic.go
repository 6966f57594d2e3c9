package asm

import "math"

// The Go reference of the activation kernels: Cephes' float32 expf and
// tanhf, which the assembly follows lane for lane (it uses FMA, so
// results may differ in the last bit or two).

// expHi bounds the argument of expf32 so that e^x and its 2^n scale
// stay finite floats.
const expHi = 88.3762626647949

// expf32 is e^x for x clamped to ±expHi: range reduction by ln 2 in two
// parts and a degree-5 polynomial (Cephes expf), about 1 ulp.
func expf32(x float32) float32 {
	if x != x {
		return x
	}
	x = min(max(x, -expHi), expHi)
	fn := float32(math.Floor(float64(x*1.44269504088896341 + 0.5)))
	x -= fn * 0.693359375
	x -= fn * -2.12194440e-4
	y := float32(1.9875691500e-4)
	y = y*x + 1.3981999507e-3
	y = y*x + 8.3334519073e-3
	y = y*x + 4.1665795894e-2
	y = y*x + 1.6666665459e-1
	y = y*x + 5.0000001201e-1
	y = y*(x*x) + x + 1
	n := int32(fn) + 127
	if n <= 0 {
		return 0 // 2^-127 is below the normal range: flushed as the assembly does
	}
	return y * math.Float32frombits(uint32(n)<<23)
}

// sigmoid32 is 1/(1+e^-x).
func sigmoid32(x float32) float32 { return 1 / (1 + expf32(-x)) }

// tanh32 is tanh(x) = sign(x)·t(|x|) with t(z) = z + z³·q(z²) below
// 0.625, else 1 - 2/(e^2z+1).
func tanh32(x float32) float32 {
	z := float32(math.Abs(float64(x)))
	var r float32
	if z < 0.625 {
		s := x * x
		p := float32(-5.70498872745e-3)
		p = p*s + 2.06390887954e-2
		p = p*s - 5.37397155531e-2
		p = p*s + 1.33314422036e-1
		p = p*s - 3.33332819422e-1
		r = z*(p*s) + z
	} else {
		r = 1 - 2/(expf32(z+z)+1)
	}
	return float32(math.Copysign(float64(r), float64(x)))
}

func sigmoidGeneric(x, y []float32) {
	y = y[:len(x)]
	for i, v := range x {
		y[i] = sigmoid32(v)
	}
}

func tanhGeneric(x, y []float32) {
	y = y[:len(x)]
	for i, v := range x {
		y[i] = tanh32(v)
	}
}

func lstmCellGeneric(gates, c, h []float32) {
	n := len(c)
	sigmoidGeneric(gates[:3*n], gates[:3*n])
	tanhGeneric(gates[3*n:4*n], gates[3*n:4*n])
	gi, gO, gf, gg := gates[:n], gates[n:2*n], gates[2*n:3*n], gates[3*n:4*n]
	h = h[:n]
	for j, cv := range c {
		cv = gf[j]*cv + gi[j]*gg[j]
		c[j] = cv
		h[j] = gO[j] * tanh32(cv)
	}
}
