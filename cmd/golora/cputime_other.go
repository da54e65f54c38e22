//go:build !unix

// Elsewhere (wasm) the process's CPU time cannot be read: timings fall back to the wall clock.
package main

import "time"

// cpuNow reports false: no CPU time here.
func cpuNow() (time.Duration, bool) { return 0, false }
