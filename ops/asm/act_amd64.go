//go:build !purego

package asm

import "unsafe"

// archActImpls are the amd64 activation kernels (sgemm_amd64.s, generated
// by _gen): AVX2 with FMA, eight lanes at a time.
var archActImpls = []*actImpl{{
	name:      "avx2",
	available: hasAVX2FMA,
	sigmoid: func(x, y []float32) {
		_ = y[len(x)-1]
		sigmoidAVX2(len(x), unsafe.SliceData(x), unsafe.SliceData(y))
	},
	tanh: func(x, y []float32) {
		_ = y[len(x)-1]
		tanhAVX2(len(x), unsafe.SliceData(x), unsafe.SliceData(y))
	},
	lstmCell: func(gates, c, h []float32) {
		n := len(c)
		_, _ = gates[4*n-1], h[n-1]
		g := unsafe.SliceData(gates)
		sigmoidAVX2(3*n, g, g)
		tanhAVX2(n, &gates[3*n], &gates[3*n])
		lstmUpdateAVX2(n, g, unsafe.SliceData(c), unsafe.SliceData(h))
	},
}}
