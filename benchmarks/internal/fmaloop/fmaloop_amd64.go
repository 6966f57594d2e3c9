//go:build amd64 && !purego

package fmaloop

import "golang.org/x/sys/cpu"

var available = cpu.X86.HasAVX2 && cpu.X86.HasFMA

//go:noescape
func loop(iters int) float32
