//go:build !(amd64 || arm64) || purego

package asm

func archDepthwiseImpls() []dwImpl { return nil }
