//go:build (!amd64 && !arm64) || purego

package asm

// archSgemmImpls is empty where there is no assembly: the generic Go
// kernels are the only implementation.
var archSgemmImpls []*sgemmImpl
