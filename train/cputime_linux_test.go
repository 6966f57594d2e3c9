package train_test

import (
	"syscall"
	"time"
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
