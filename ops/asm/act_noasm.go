//go:build !(amd64 || arm64) || purego

package asm

// archActImpls is empty where there is no assembly for the activations:
// the Go reference is the only implementation.
var archActImpls []*actImpl
