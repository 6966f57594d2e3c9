//go:build !purego

package asm

import "unsafe"

// The NEON activation and exponential kernels (act_arm64.s, printed by
// _gen/wino -act): four lanes at a time, lane for lane the Go
// references' steps (expSliceGeneric, and sigmoid32's and tanh32's
// Cephes forms on that exponential).

//go:noescape
func expNEON(n int, x *float32, y *float32)

//go:noescape
func sigmoidNEON(n int, x *float32, y *float32)

//go:noescape
func tanhNEON(n int, x *float32, y *float32)

// archActImpls are the arm64 activation kernels.
var archActImpls = []*actImpl{{
	name:      "neon",
	available: true, // Advanced SIMD is part of every arm64 CPU
	sigmoid: func(x, y []float32) {
		_ = y[len(x)-1]
		sigmoidNEON(len(x), unsafe.SliceData(x), unsafe.SliceData(y))
	},
	tanh: func(x, y []float32) {
		_ = y[len(x)-1]
		tanhNEON(len(x), unsafe.SliceData(x), unsafe.SliceData(y))
	},
	lstmCell: lstmCellNEON,
}}

// lstmCellNEON is LSTMCell with the gate activations and tanh(c) by the
// NEON kernels and the cell update in Go.
func lstmCellNEON(gates, c, h []float32) {
	n := len(c)
	_, _ = gates[4*n-1], h[n-1]
	g := unsafe.SliceData(gates)
	sigmoidNEON(3*n, g, g)
	tanhNEON(n, &gates[3*n], &gates[3*n])
	gi, gO, gf, gg := gates[:n], gates[n:2*n], gates[2*n:3*n], gates[3*n:4*n]
	h = h[:n]
	for j, cv := range c {
		c[j] = gf[j]*cv + gi[j]*gg[j]
	}
	tanhNEON(n, unsafe.SliceData(c), unsafe.SliceData(h))
	for j, o := range gO {
		h[j] *= o
	}
}

// archExpImpls is the arm64 Exp kernel.
var archExpImpls = []*expImpl{{
	name:      "neon",
	available: true,
	exp:       expSliceNEON,
	expSum:    func(x, y []float32, m float32) float64 { return expSumBy(expSliceNEON, x, y, m) },
}}

// expSliceNEON is the expImpl's exp: expNEON over x (len(y) == len(x) > 0).
func expSliceNEON(x, y []float32) {
	_ = y[len(x)-1]
	expNEON(len(x), unsafe.SliceData(x), unsafe.SliceData(y))
}
