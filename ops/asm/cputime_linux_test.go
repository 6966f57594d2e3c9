package asm

import (
	"time"

	"golang.org/x/sys/unix"
)

// threadCPU returns the CPU time the calling thread has used. Benchmarks
// lock their goroutine to its thread and report rates over this time too,
// which the other processes of a busy machine disturb far less than the
// wall clock. It reads the scheduler's nanosecond account
// (CLOCK_THREAD_CPUTIME_ID), not getrusage's, which advances in timer
// ticks and so is off by up to a tick (4 ms) per reading.
func threadCPU() (time.Duration, bool) {
	var ts unix.Timespec
	if unix.ClockGettime(unix.CLOCK_THREAD_CPUTIME_ID, &ts) != nil {
		return 0, false
	}
	return time.Duration(ts.Nano()), true
}
