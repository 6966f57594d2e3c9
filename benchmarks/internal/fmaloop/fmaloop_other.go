//go:build !amd64 || purego

package fmaloop

const available = false

func lanes() int { return 8 }

func loop(int) float32 { return 0 }
