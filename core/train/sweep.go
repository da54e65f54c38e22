// Sweep: one run per LoRA rank, plus full fine-tuning as the baseline, each reported as a Result; and the
// learning-rate sweep that compares the two methods' best rates ("LoRA without regret").
package train

import (
	"errors"
	"fmt"

	"golora/core/data"
	"golora/core/model"
)

// Result is one finished run's final figures.
type Result struct {
	Task   string `json:"task"`
	Method string `json:"method"`
	MethodSettings
	TrainableParams int     `json:"trainable_params"`
	TrainableBytes  int64   `json:"trainable_bytes"` // trainable weights + gradients + AdamW moments
	StateBytes      int64   `json:"state_bytes"`     // the same: the training state a method keeps beyond the frozen base
	Steps           int     `json:"steps"`
	ValLoss         float32 `json:"val_loss"`
	Accuracy        float32 `json:"accuracy"`
	TokensPerSec    float64 `json:"tokens_per_s"`
	StepMS          float64 `json:"step_ms"` // mean milliseconds per optimizer step (training only)
	Seconds         float64 `json:"train_seconds"`
	LR              float32 `json:"lr"`                 // peak learning rate
	Diverged        string  `json:"diverged,omitempty"` // in a learning-rate sweep: why the run stopped (a StopError)

	TrainTokens string `json:"train_tokens,omitempty"` // Config.TrainTokens
	TokenRows   int    `json:"token_rows,omitempty"`   // the token rows trained (in TrainableParams)
}

// result is the Result of run s with its final figures.
func (s *Session) result(ev Eval, last Metrics) Result {
	info, cfg := s.Info(), s.Config()
	r := Result{Task: s.Task().Name, Method: cfg.Method, MethodSettings: info.MethodSettings,
		TrainableParams: info.TrainableParams, TrainableBytes: info.TrainableBytes, StateBytes: info.TrainableBytes,
		Steps: s.StepsDone(), ValLoss: ev.ValLoss, Accuracy: ev.Accuracy, Seconds: last.Elapsed, LR: cfg.LR,
		TrainTokens: info.TrainTokens, TokenRows: info.TokenRows}
	if last.Elapsed > 0 {
		r.TokensPerSec = float64(last.Tokens) / last.Elapsed
		if last.Step > 0 {
			r.StepMS = 1000 * last.Elapsed / float64(last.Step)
		}
	}
	return r
}

// SweepConfigs expands cfg into one LoRA run per rank (alpha scaled with the
// rank when keepScaling is set, so alpha/r stays what cfg has) and, when
// fullLR > 0, a full fine-tuning run with that learning rate.
func SweepConfigs(cfg Config, ranks []int, keepScaling bool, fullLR float32) []Config {
	var out []Config
	scaling := cfg.Alpha / float32(max(cfg.Rank, 1))
	for _, r := range ranks {
		c := cfg
		c.Method, c.Rank = MethodLoRA, r
		if keepScaling {
			c.Alpha = scaling * float32(r)
		}
		out = append(out, c)
	}
	if fullLR > 0 {
		c := cfg
		c.Method, c.LR, c.TrainTokens = MethodFull, fullLR, "" // full fine-tuning trains every row already
		out = append(out, c)
	}
	return out
}

// TokenSweepConfigs runs each LoRA run of cfgs once per TrainTokens spec of specs ("none" for the run without
// token rows), in that order; the other runs (full fine-tuning) stay once, unchanged.
func TokenSweepConfigs(cfgs []Config, specs []string) []Config {
	var out []Config
	for _, c := range cfgs {
		if c.Method != MethodLoRA {
			out = append(out, c)
			continue
		}
		for _, spec := range specs {
			c.TrainTokens = spec
			out = append(out, c)
		}
	}
	return out
}

// Progress is what Run reports after each chunk of steps and each evaluation.
type Progress struct {
	Metrics Metrics
	Eval    *Eval // set after an evaluation
}

// Run trains s to its configured number of steps in chunks of chunk steps,
// evaluating every EvalEvery steps and at the end, and reports each chunk
// and evaluation to progress (which may be nil).
func Run(s *Session, chunk int, progress func(Progress)) (Result, error) {
	cfg := s.Config()
	if cfg.EvalEvery > 0 {
		chunk = min(chunk, cfg.EvalEvery)
	}
	last := s.Metrics() // a run resumed at its last step trains nothing more: its counters so far
	for !s.Done() {
		m, err := s.Step(chunk)
		if err != nil {
			return Result{}, err
		}
		last = m
		if progress != nil {
			progress(Progress{Metrics: m})
		}
		if cfg.EvalEvery > 0 && m.Step%cfg.EvalEvery == 0 && !s.Done() {
			ev, err := s.Evaluate()
			if err != nil {
				return Result{}, err
			}
			if progress != nil {
				progress(Progress{Metrics: m, Eval: &ev})
			}
		}
	}
	ev, err := s.Evaluate()
	if err != nil {
		return Result{}, err
	}
	if progress != nil {
		progress(Progress{Metrics: last, Eval: &ev})
	}
	return s.result(ev, last), nil
}

// ValidateSweep checks every run of a sweep against base, so that a bad one
// fails before minutes of training; the error names the first bad run.
func ValidateSweep(base *model.Model, cfgs []Config) error {
	if len(cfgs) == 0 {
		return &FieldError{Field: "ranks", Reason: "the sweep has no runs"}
	}
	for i, c := range cfgs {
		if err := c.Validate(base); err != nil {
			return fmt.Errorf("sweep run %d (%s r=%d): %w", i+1, c.Method, c.Rank, err)
		}
	}
	return nil
}

// Sweep validates every config first (ValidateSweep), then runs them one
// after another on base, reporting progress with the run's index.
func Sweep(base *model.Model, tok data.Tokenizer, cfgs []Config, progress func(run int, p Progress)) ([]Result, error) {
	return sweep(base, tok, cfgs, progress, false)
}

// sweep is Sweep; with keepDiverged, a run stopped by a non-finite loss or
// gradient is kept as a Result with Diverged set, and the sweep goes on.
func sweep(base *model.Model, tok data.Tokenizer, cfgs []Config, progress func(run int, p Progress), keepDiverged bool) ([]Result, error) {
	if err := ValidateSweep(base, cfgs); err != nil {
		return nil, err
	}
	var results []Result
	for i, c := range cfgs {
		s, err := New(base, tok, c)
		if err != nil {
			return results, fmt.Errorf("sweep run %d: %w", i+1, err)
		}
		res, err := Run(s, 10, func(p Progress) {
			if progress != nil {
				progress(i, p)
			}
		})
		if err != nil && keepDiverged {
			if d, ok := DivergedResult(s, err); ok {
				res, err = d, nil
			}
		}
		if err != nil {
			return results, fmt.Errorf("sweep run %d (%s r=%d): %w", i+1, c.Method, c.Rank, err)
		}
		results = append(results, res)
	}
	return results, nil
}

// DivergedResult is the Result of run s stopped by err, when err is a
// StopError (a non-finite loss or gradient); false for any other error.
func DivergedResult(s *Session, err error) (Result, bool) {
	var stop *StopError
	if !errors.As(err, &stop) {
		return Result{}, false
	}
	r := s.result(Eval{}, s.Metrics())
	r.Diverged = stop.Error()
	return r, true
}

// LRSweepConfigs expands cfg into one run per learning rate for each of
// methods (lora, full), method by method, every other setting as in cfg.
func LRSweepConfigs(cfg Config, lrs []float32, methods []string) []Config {
	var out []Config
	for _, m := range methods {
		for _, lr := range lrs {
			c := cfg
			c.Method, c.LR = m, lr
			if m == MethodFull {
				c.TrainTokens = "" // full fine-tuning trains every row already
			}
			out = append(out, c)
		}
	}
	return out
}

// LRSweep runs a learning-rate sweep (LRSweepConfigs) like Sweep, except
// that a run stopped by a non-finite loss (a rate too high: the point of the
// sweep is to find where that starts) is kept, with Diverged saying why,
// instead of ending the sweep.
func LRSweep(base *model.Model, tok data.Tokenizer, cfgs []Config, progress func(run int, p Progress)) ([]Result, error) {
	return sweep(base, tok, cfgs, progress, true)
}

// BestLR returns method's run with the lowest final validation loss among
// those that did not diverge ("LoRA without regret" compares the methods'
// best rates by final loss), and false if there is none. Accuracy often
// saturates at 100% over several rates; the loss still orders them.
func BestLR(results []Result, method string) (Result, bool) {
	var best Result
	found := false
	for _, r := range results {
		if r.Method == method && r.Diverged == "" && (!found || r.ValLoss < best.ValLoss) {
			best, found = r, true
		}
	}
	return best, found
}
