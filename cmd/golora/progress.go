// progress.go holds what a training command shows while it runs: a progress line with an ETA on stderr, the
// evaluations, and with -log one JSON line per step and per evaluation.

package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"golora/core/train"
)

// progress reports one run.
type progress struct {
	label     string        // "lora", "[2/6] r=2", ...
	steps     int           // the run's configured steps
	evalEvery int           // its EvalEvery (0: only the final evaluation)
	out       io.Writer     // the progress line and the evaluations (stderr)
	log       *json.Encoder // -log: one JSON object per line, or nil
	run       *int          // sweep: the run's index in the log lines

	evals    int     // evaluations done in this process
	evalSecs float64 // and their seconds
	lastLine time.Time
	lastEval *train.Eval
	logErr   error // the first -log write error (training goes on)
	lineLen  int   // the length of the progress line last printed
}

// minLineGap keeps the progress line from being rewritten more often than a terminal shows it.
const minLineGap = 100 * time.Millisecond

// logLine is one -log line: a step's metrics, an evaluation, or the run's result.
type logLine struct {
	Type   string         `json:"type"`          // "step", "eval" or "result"
	Run    *int           `json:"run,omitempty"` // sweep: the run's index, from 0
	Step   *train.Metrics `json:"metrics,omitempty"`
	Eval   *train.Eval    `json:"eval,omitempty"`
	Result *train.Result  `json:"result,omitempty"`
}

func (p *progress) writeLog(l logLine) {
	if p.log == nil || p.logErr != nil {
		return
	}
	l.Run = p.run
	if err := p.log.Encode(l); err != nil {
		p.logErr = err
		fmt.Fprintf(p.out, "\n%s: -log: %v (training goes on, without the log)\n", p.label, err)
	}
}

// report takes one train.Progress: a chunk of steps, or an evaluation.
func (p *progress) report(pr train.Progress) {
	m := pr.Metrics
	if pr.Eval != nil {
		ev := pr.Eval
		p.evals++
		p.evalSecs += ev.Seconds
		p.lastEval = ev
		p.writeLog(logLine{Type: "eval", Eval: ev})
		fmt.Fprintf(p.out, "\n%s step %4d  val loss %.4f  accuracy %.1f%% (%d/%d)  evaluated in %s\n",
			p.label, ev.Step, ev.ValLoss, 100*ev.Accuracy, ev.Correct, ev.Total, seconds(ev.Seconds))
		p.lastLine, p.lineLen = time.Time{}, 0
		return
	}
	p.writeLog(logLine{Type: "step", Step: &m})
	evalNext := m.Step == p.steps || (p.evalEvery > 0 && m.Step%p.evalEvery == 0)
	if !evalNext && time.Since(p.lastLine) < minLineGap {
		return
	}
	p.lastLine = time.Now()
	tps := 0.0
	if m.Elapsed > 0 {
		tps = float64(m.Tokens) / m.Elapsed
	}
	line := fmt.Sprintf("%s step %4d/%d  loss %.4f  lr %.1e  %6.0f tok/s  %s  ETA %s", p.label, m.Step, p.steps,
		m.Loss, m.LR, tps, seconds(m.Elapsed), p.eta(m))
	if evalNext {
		line += "  evaluating..."
	}
	fmt.Fprintf(p.out, "\r%s%s", line, strings.Repeat(" ", max(0, p.lineLen-len(line)))) // blank what a longer line left
	p.lineLen = len(line)
}

// eta estimates the time left: the steps left at the run's mean seconds per step, and the evaluations left (the
// one about to start included) at the mean time of those done, once there is one to go by.
func (p *progress) eta(m train.Metrics) string {
	if m.Step < 1 {
		return "?"
	}
	left := float64(p.steps-m.Step) * m.Elapsed / float64(m.Step)
	evals := 1 // the final one
	if p.evalEvery > 0 {
		evals += (p.steps-1)/p.evalEvery - (m.Step-1)/p.evalEvery
	}
	if p.evals == 0 {
		return seconds(left) + " + " + plural(evals, "evaluation")
	}
	return seconds(left + float64(evals)*p.evalSecs/float64(p.evals))
}

// samples prints the last evaluation's first test prompts with their completions.
func (p *progress) samples() {
	if p.lastEval == nil {
		return
	}
	for _, smp := range p.lastEval.Samples {
		fmt.Fprintf(p.out, "  %q -> %q (want %q)\n", smp.Prompt, smp.Got, smp.Want)
	}
}

// seconds formats a duration in seconds as 8.3s, 2m05s or 1h02m.
func seconds(s float64) string {
	d := time.Duration(s * float64(time.Second))
	switch {
	case d < time.Minute:
		return fmt.Sprintf("%.1fs", d.Seconds())
	case d < time.Hour:
		return fmt.Sprintf("%dm%02ds", int(d.Minutes()), int(d.Seconds())%60)
	}
	return fmt.Sprintf("%dh%02dm", int(d.Hours()), int(d.Minutes())%60)
}

func plural(n int, what string) string {
	if n == 1 {
		return "1 " + what
	}
	return fmt.Sprintf("%d %ss", n, what)
}

// openLog opens -log FILE: appended to when a run continues from its -resume state, else started afresh.
func openLog(path string, appendTo bool) (*os.File, error) {
	flags := os.O_CREATE | os.O_WRONLY | os.O_TRUNC
	if appendTo {
		flags = os.O_CREATE | os.O_WRONLY | os.O_APPEND
	}
	f, err := os.OpenFile(path, flags, 0o644)
	if err != nil {
		return nil, fmt.Errorf("-log: %w", err)
	}
	return f, nil
}

// closing is a run's last line: the total time, training and evaluations, the final figures, and what was written
// where (or how to keep it).
func closing(cmd string, total time.Duration, res train.Result, p *progress, wrote []string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s: done in %s (training %s, %s %s); accuracy %.1f%%, val loss %.4f", cmd, seconds(total.Seconds()),
		seconds(res.Seconds), plural(p.evals, "evaluation"), seconds(p.evalSecs), 100*res.Accuracy, res.ValLoss)
	if len(wrote) > 0 {
		fmt.Fprintf(&b, "; wrote %s", strings.Join(wrote, "; "))
	}
	return b.String()
}
