//go:build !linux

package ops

import "time"

func processCPU() (time.Duration, bool) { return 0, false }

// threadCPU returns 0 where the thread's CPU clock is not read.
func threadCPU() time.Duration { return 0 }
