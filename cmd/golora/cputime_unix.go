//go:build unix

// The process's CPU time, for timings on a shared machine: the time this process ran, whatever else did.
package main

import (
	"syscall"
	"time"
)

// cpuNow is the CPU time (user and system) this process has used so far, and true; false if it cannot be read.
func cpuNow() (time.Duration, bool) {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0, false
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()), true
}
