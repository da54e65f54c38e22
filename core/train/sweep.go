// Sweep: one run per LoRA rank, plus full fine-tuning as the baseline, each reported as a Result; and the
// learning-rate sweep that compares the two methods' best rates ("LoRA without regret").
package train

import (
	"errors"
	"fmt"
	"slices"
	"strings"

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
			return fmt.Errorf("sweep run %d (%s): %w", i+1, c.Label(), err)
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
	w, err := NewSweeper(base, tok, cfgs, keepDiverged)
	if err != nil {
		return nil, err
	}
	for !w.Done() {
		st, err := w.Step(10)
		if err != nil {
			return w.Results(), err
		}
		if progress != nil && (st.Result == nil || st.Eval != nil) {
			progress(st.Run, Progress{Metrics: st.Metrics, Eval: st.Eval})
		}
	}
	return w.Results(), nil
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

// LRSummary is a learning-rate sweep's answer: each method's best rate (BestLR) and LoRA's over full fine-tuning's
// ("LoRA without regret" found about 10).
type LRSummary struct {
	Rank     int     `json:"rank"`
	BestLoRA float32 `json:"best_lora_lr,omitempty"`
	BestFull float32 `json:"best_full_lr,omitempty"`
	Ratio    float64 `json:"lora_over_full,omitempty"` // 0 unless both methods have a best rate
}

// SummarizeLRs finds each method's best rate among a learning-rate sweep's results, and their ratio.
func SummarizeLRs(results []Result) LRSummary {
	var s LRSummary
	if l, ok := BestLR(results, MethodLoRA); ok {
		s.Rank, s.BestLoRA = l.Rank, l.LR
	}
	if f, ok := BestLR(results, MethodFull); ok {
		s.BestFull = f.LR
	}
	if s.BestLoRA > 0 && s.BestFull > 0 {
		s.Ratio = float64(s.BestLoRA) / float64(s.BestFull)
	}
	return s
}

// MethodSweepConfigs expands cfg into a methods sweep: each of methods (in that order) at each size of its ladder
// (MethodSpec.Ladder, or sizes[method] when given; one run for a method without a size knob), at its own default
// learning rate. A rank method's alpha keeps cfg's scaling alpha/r when keepScaling is set (alpha = 4r for the
// default run), else every run takes cfg.Alpha. An unknown method or an empty ladder is an error naming it.
func MethodSweepConfigs(cfg Config, methods []string, sizes map[string][]int, keepScaling bool) ([]Config, error) {
	if len(methods) == 0 {
		return nil, &FieldError{Field: "methods", Reason: "no methods to sweep"}
	}
	for m := range sizes {
		if !slices.Contains(methods, m) {
			return nil, &FieldError{Field: "sizes", Reason: fmt.Sprintf("%s is not among the sweep's methods (%s)", m, strings.Join(methods, ","))}
		}
	}
	scaling := cfg.Alpha / float32(max(cfg.Rank, 1))
	var out []Config
	for _, m := range methods {
		spec, ok := LookupMethod(m)
		if !ok {
			return nil, &FieldError{Field: "methods", Reason: fmt.Sprintf("unknown method %q (want some of %s)", m, strings.Join(MethodNames(), ", "))}
		}
		ladder := spec.Ladder
		if s, ok := sizes[m]; ok {
			if spec.Size == "" {
				return nil, &FieldError{Field: "sizes", Reason: fmt.Sprintf("%s has no size knob: it runs once", m)}
			}
			ladder = s
		}
		if spec.Size == "" {
			ladder = []int{0}
		}
		if len(ladder) == 0 {
			return nil, &FieldError{Field: "sizes", Reason: fmt.Sprintf("%s has no sizes to run", m)}
		}
		for _, n := range ladder {
			c := cfg
			c.Method, c.LR = m, DefaultLR(m)
			c = c.WithSize(n)
			if spec.Size == SizeRank && keepScaling {
				c.Alpha = scaling * float32(n)
			}
			out = append(out, c)
		}
	}
	return out, nil
}

// Label names a run's method and size for progress lines and tables: "lora r=4", "top k=2", "ia3".
func (c Config) Label() string {
	spec, _ := LookupMethod(c.Method)
	switch spec.Size {
	case SizeRank:
		return fmt.Sprintf("%s r=%d", c.Method, c.Rank)
	case SizeLayers:
		return fmt.Sprintf("%s k=%d", c.Method, c.Layers)
	case SizeBottleneck:
		return fmt.Sprintf("%s m=%d", c.Method, c.Bottleneck)
	case SizePrefixLen:
		return fmt.Sprintf("%s l_p=%d", c.Method, c.PrefixLen)
	case SizeIntrinsicDim:
		return fmt.Sprintf("%s d=%d", c.Method, c.IntrinsicDim)
	}
	return c.Method
}

// SkipError is the error of a run that cannot run on its task at its size, which a methods sweep skips (saying
// Why) and goes on: a prefix that leaves the task's examples no room in the context, or method tokens whose
// train_tokens chose nothing to train. A run started alone reports it as the error it wraps.
type SkipError struct {
	Why string
	Err error
}

func (e *SkipError) Error() string   { return e.Err.Error() }
func (e *SkipError) Unwrap() []error { return []error{e.Err} } // FieldErrors walks into it

// Skippable reports whether err, from New for a run of c, is one a methods sweep skips (SkipError), and why.
func Skippable(c Config, err error) (string, bool) {
	if err == nil {
		return "", false
	}
	if spec, _ := LookupMethod(c.Method); spec.Size == SizePrefixLen && c.PrefixLen > 0 {
		for _, fe := range FieldErrors(err) {
			if fe.Field == "task" { // the examples do not fit the context the prefix leaves
				return fe.Reason, true
			}
		}
		return "", false
	}
	return NothingToTrain(c, err)
}
