//go:build !amd64 || purego

package asm

// lstmStepAsm is false where there is no assembly for LSTMStep: the Go
// reference runs.
const lstmStepAsm = false

func lstmStepArch(k int, h, w, xw *float32, ldg int, c, hout *float32, ng, step, wstep int) {
	panic("asm: no LSTM step kernel")
}
