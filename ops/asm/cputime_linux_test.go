package asm

import (
	"syscall"
	"time"
)

// threadCPU returns the CPU time the calling thread has used. Benchmarks
// lock their goroutine to its thread and report rates over this time too,
// which the other processes of a busy machine disturb far less than the
// wall clock.
func threadCPU() (time.Duration, bool) {
	var ru syscall.Rusage
	if syscall.Getrusage(1 /* RUSAGE_THREAD */, &ru) != nil {
		return 0, false
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()), true
}
