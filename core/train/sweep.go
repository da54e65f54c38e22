// Sweep: one run per LoRA rank, plus full fine-tuning as the baseline, each reported as a Result.
package train

import (
	"fmt"

	"golora/core/data"
	"golora/core/model"
)

// Result is one finished run's final figures.
type Result struct {
	Task            string   `json:"task"`
	Method          string   `json:"method"`
	Rank            int      `json:"rank"`
	Targets         []string `json:"targets"`
	TrainableParams int      `json:"trainable_params"`
	TrainableBytes  int64    `json:"trainable_bytes"` // trainable weights + gradients + AdamW moments
	Steps           int      `json:"steps"`
	ValLoss         float32  `json:"val_loss"`
	Accuracy        float32  `json:"accuracy"`
	TokensPerSec    float64  `json:"tokens_per_s"`
	Seconds         float64  `json:"train_seconds"`
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
		c.Method, c.LR = MethodFull, fullLR
		out = append(out, c)
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
	info := s.Info()
	tps := 0.0
	if last.Elapsed > 0 {
		tps = float64(last.Tokens) / last.Elapsed
	}
	return Result{Task: s.Task().Name, Method: cfg.Method, Rank: info.Rank, Targets: info.Targets,
		TrainableParams: info.TrainableParams, TrainableBytes: info.TrainableBytes, Steps: s.StepsDone(),
		ValLoss: ev.ValLoss, Accuracy: ev.Accuracy, TokensPerSec: tps, Seconds: last.Elapsed}, nil
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
		if err != nil {
			return results, fmt.Errorf("sweep run %d (%s r=%d): %w", i+1, c.Method, c.Rank, err)
		}
		results = append(results, res)
	}
	return results, nil
}
