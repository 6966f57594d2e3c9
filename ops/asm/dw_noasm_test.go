//go:build !amd64 || purego

package asm

func archDepthwiseImpls() []dwImpl { return nil }
