//go:build !linux

package asm

import "time"

func threadCPU() (time.Duration, bool) { return 0, false }
