//go:build !amd64 || purego

package asm

// lstmStepAsm is false where there is no assembly for LSTMStep: the Go
// reference runs.
const lstmStepAsm = false

// lstmGroupDefault is the group of units PackLSTM lays R^T out in.
func lstmGroupDefault() int { return lstmGroup }

func lstmStepArch(g, k int, h, w, xw *float32, ldg int, c, hout *float32, ng, step, wstep int) {
	panic("asm: no LSTM step kernel")
}
