//go:build !linux

package ops

import "time"

func processCPU() (time.Duration, bool) { return 0, false }
