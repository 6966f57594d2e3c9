package asm

import (
	"fmt"
	"os"
)

// actImpl is one implementation of the activation kernels: elementwise
// sigmoid and tanh, and the fused LSTM cell.
type actImpl struct {
	name      string // ISA level, as INFER_KERNELS names it
	available bool   // whether this CPU (and OS) can run it

	// sigmoid and tanh set y[i] = f(x[i]) for i < len(x) (len(y) ==
	// len(x); y may be x).
	sigmoid, tanh func(x, y []float32)
	// lstmCell is LSTMCell with its lengths checked (len(gates) ==
	// 4*len(c), len(h) == len(c) > 0).
	lstmCell func(gates, c, h []float32)
}

var actGeneric = &actImpl{name: "generic", available: true, sigmoid: sigmoidGeneric, tanh: tanhGeneric, lstmCell: lstmCellGeneric}

// actImpls lists every activation implementation compiled in, best first
// (archActImpls comes from the architecture's file).
var actImpls = append(append([]*actImpl(nil), archActImpls...), actGeneric)

// actDefault is the implementation the exported functions use: the best
// one the CPU supports, or INFER_KERNELS=generic's.
var actDefault = chooseAct(os.Getenv("INFER_KERNELS"))

func chooseAct(want string) *actImpl {
	for _, im := range actImpls {
		if im.available && im.name == want {
			return im
		}
	}
	for _, im := range actImpls {
		if im.available {
			return im
		}
	}
	return actGeneric
}

// Sigmoid sets y[i] = 1/(1+e^-x[i]), accurate to a few float32 ulps (a
// NaN stays NaN; results below about 1e-38 may be flushed to zero). y
// must be as long as x and may be x itself.
func Sigmoid(x, y []float32) {
	if len(y) != len(x) {
		panic(fmt.Sprintf("asm.Sigmoid: len(y) = %d, len(x) = %d", len(y), len(x)))
	}
	if len(x) > 0 {
		actDefault.sigmoid(x, y)
	}
}

// Tanh sets y[i] = tanh(x[i]), accurate to a few float32 ulps (a NaN
// stays NaN). y must be as long as x and may be x itself.
func Tanh(x, y []float32) {
	if len(y) != len(x) {
		panic(fmt.Sprintf("asm.Tanh: len(y) = %d, len(x) = %d", len(y), len(x)))
	}
	if len(x) > 0 {
		actDefault.tanh(x, y)
	}
}

// LSTMCell runs one step of an LSTM cell with the default activations
// (sigmoid for the gates, tanh for the cell) over n = len(c) units.
// gates holds the pre-activations of the four gate blocks i, o, f, g
// (ONNX order) of n values each, which it overwrites with their
// activations; then
//
//	c[j] = σ(f[j])·c[j] + σ(i[j])·tanh(g[j])
//	h[j] = σ(o[j])·tanh(c[j])
//
// with c updated in place. gates must hold at least 4n values and h at
// least n; h must not overlap gates or c.
func LSTMCell(gates, c, h []float32) {
	n := len(c)
	if len(gates) < 4*n || len(h) < n {
		panic(fmt.Sprintf("asm.LSTMCell: %d units but len(gates) = %d, len(h) = %d", n, len(gates), len(h)))
	}
	if n > 0 {
		actDefault.lstmCell(gates[:4*n], c, h[:n])
	}
}

// ActImplementation returns the name of the activation kernels in use
// (generic, avx2 or neon), for logs and benchmark reports.
func ActImplementation() string { return actDefault.name }
