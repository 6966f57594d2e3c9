//go:build !(amd64 || arm64) || purego

package asm

// archExpImpls is empty where there is no assembly for Exp: the Go
// reference is the only implementation.
var archExpImpls []*expImpl
