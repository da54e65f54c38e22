// bench.go holds `golora bench`: rows of measured figures, each next to a baseline measured in the same run.

package main

import (
	"encoding/json"
	"fmt"
	"time"
)

// benchRow is one line of `golora bench`: a figure and the baseline it is
// judged against, both measured in the same run on the same machine.
type benchRow struct {
	Name          string  `json:"name"`
	Unit          string  `json:"unit"` // "GFLOP/s" (higher is better) or "ms" (lower is better)
	Value         float64 `json:"value"`
	Baseline      string  `json:"baseline"` // what the baseline is, and how both were run
	BaselineValue float64 `json:"baseline_value"`
	Ratio         float64 `json:"ratio"` // Value / BaselineValue
}

// benchSuite produces a group of rows; quick asks for shorter timings.
type benchSuite struct {
	name string
	run  func(quick bool, emit func(benchRow)) error
}

// benchSuites lists the suites in the order they run. Other files append
// theirs from init (files initialise in name order), e.g.
//
//	func init() { benchSuites = append(benchSuites, benchSuite{"train", trainBenchRows}) }
var benchSuites []benchSuite

func runBench(args []string) error {
	fs := newFlagSet("bench")
	asJSON := fs.Bool("json", false, "print one JSON object per row instead of a table")
	quick := fs.Bool("quick", false, "shorter timings (noisier figures), for smoke tests")
	only := fs.String("only", "", "run only the suite with this name (default: all)")
	if err := parseFlags(fs, args, nil); err != nil {
		return err
	}
	// Fixed-width columns, so that each row prints as soon as it is measured.
	const rowFormat = "%-46s %10s %-8s %10s %7s  %s\n"
	if !*asJSON {
		fmt.Printf(rowFormat, "name", "value", "unit", "baseline", "ratio", "baseline is")
	}
	emit := func(r benchRow) {
		if r.BaselineValue != 0 {
			r.Ratio = r.Value / r.BaselineValue
		}
		if *asJSON {
			b, err := json.Marshal(r)
			if err != nil {
				panic("bench: " + err.Error()) // a struct of strings and floats always marshals
			}
			fmt.Println(string(b))
			return
		}
		fmt.Printf(rowFormat, r.Name, fmt.Sprintf("%.2f", r.Value), r.Unit, fmt.Sprintf("%.2f", r.BaselineValue),
			fmt.Sprintf("%.2fx", r.Ratio), r.Baseline)
	}
	ran := false
	for _, s := range benchSuites {
		if *only != "" && s.name != *only {
			continue
		}
		ran = true
		if err := s.run(*quick, emit); err != nil {
			return fmt.Errorf("bench %s: %w", s.name, err)
		}
	}
	if !ran {
		return fmt.Errorf("bench: no suite named %q", *only)
	}
	return nil
}

// benchRounds passes of benchRound each (quickRounds of quickRound with
// -quick): on a shared machine a stretch of seconds can run 20-40% slow, and
// with 3 passes of 0.3 s the train-step ratio swung from 0.63 to 0.81 between
// runs; shorter passes, more of them, in the same total time, give every
// figure and its baseline more chances at a quiet moment.
const (
	benchRounds = 12
	benchRound  = 150 * time.Millisecond
	quickRounds = 3
	quickRound  = 50 * time.Millisecond
)

// timeBest returns the time of one call of each of fs: each of benchRounds
// passes runs every f in turn, repeating it until benchRound has elapsed,
// and each f's fastest pass counts, since noise from other processes only
// ever adds time. Interleaving a figure's passes
// with its baseline's exposes both to the same load, which keeps the ratio
// honest on a shared machine.

func timeBest(quick bool, fs ...func()) []time.Duration {
	rounds, round := benchRounds, benchRound
	if quick {
		rounds, round = quickRounds, quickRound
	}
	best := make([]time.Duration, len(fs))
	for i, f := range fs {
		f() // warm caches, pools, the page allocator and (in wasm) the JIT
		best[i] = time.Duration(1<<63 - 1)
	}
	for range rounds {
		for i, f := range fs {
			calls := 0
			start := time.Now()
			var el time.Duration
			for el < round {
				f()
				calls++
				el = time.Since(start)
			}
			best[i] = min(best[i], el/time.Duration(calls))
		}
	}
	return best
}
