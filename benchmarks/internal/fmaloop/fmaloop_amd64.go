//go:build amd64 && !purego

package fmaloop

import "golang.org/x/sys/cpu"

var (
	available = cpu.X86.HasAVX2 && cpu.X86.HasFMA
	wide      = available && cpu.X86.HasAVX512F
)

// lanes is the float32 lanes of the widest FMA the CPU has.
func lanes() int {
	if wide {
		return 16
	}
	return 8
}

func loop(iters int) float32 {
	if wide {
		return loop512(iters)
	}
	return loop256(iters)
}

//go:noescape
func loop256(iters int) float32

//go:noescape
func loop512(iters int) float32
