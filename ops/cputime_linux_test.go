package ops

import (
	"syscall"
	"time"
	"unsafe"
)

// processCPU returns the CPU time this process has used (user and
// system, all threads). Benchmarks report it per operation too, since on
// a busy machine it varies far less than the wall clock.
func processCPU() (time.Duration, bool) {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0, false
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()), true
}

// threadCPU returns the CPU time the calling thread has used, at
// nanosecond resolution (CLOCK_THREAD_CPUTIME_ID), or 0 when the clock
// fails. Benchmarks that read it lock their goroutine to its thread.
func threadCPU() time.Duration {
	var ts syscall.Timespec
	const clockThreadCPUTime = 3
	if _, _, e := syscall.Syscall(syscall.SYS_CLOCK_GETTIME, clockThreadCPUTime, uintptr(unsafe.Pointer(&ts)), 0); e != 0 {
		return 0
	}
	return time.Duration(ts.Nano())
}
