// Sweeper: a sweep taken a few steps per call, so that the page's Web Worker (which must return between messages)
// drives a whole rank, learning-rate or intrinsic-dimension sweep with the code the CLI's loops use.
package train

import (
	"fmt"

	"golora/core/data"
	"golora/core/model"
)

// Sweeper runs a sweep's configs one after another on one base, a chunk at a time: each Step call takes at most n
// training steps of the run in progress, or one evaluation, and says what it did. Sweep and LRSweep loop over one.
//
// The page's sweeps: a rank sweep over SweepConfigs, a learning-rate sweep over LRSweepConfigs (keepDiverged: a
// rate too high is a result, and the sweep goes on; SummarizeLRs gives the best rates and their ratio) and an
// intrinsic-dimension sweep over IntrinsicSweepConfigs (D90 gives d90 against the full fine-tuning run).
type Sweeper struct {
	base         *model.Model
	tok          data.Tokenizer
	cfgs         []Config
	keepDiverged bool

	run     int      // the run in progress (len(cfgs): all done)
	session *Session // its session; nil before its first step
	last    Metrics  // its counters after its last chunk
	evalDue bool     // the next call evaluates it (at EvalEvery, or finally)
	results []Result
}

// SweepStep is what one Sweeper.Step call did.
type SweepStep struct {
	Run     int     `json:"run"`              // the index of the run it worked on (in the configs)
	Metrics Metrics `json:"metrics"`          // that run's counters after the call
	Eval    *Eval   `json:"eval,omitempty"`   // the evaluation the call made, if any
	Result  *Result `json:"result,omitempty"` // set when the run finished in this call (after its final evaluation, or diverged)
	Done    bool    `json:"done"`             // every run has finished
}

// NewSweeper checks every config against base (ValidateSweep) and returns a sweep ready to step. With keepDiverged,
// a run stopped by a non-finite loss or gradient is kept as a Result with Diverged set instead of ending the sweep.
func NewSweeper(base *model.Model, tok data.Tokenizer, cfgs []Config, keepDiverged bool) (*Sweeper, error) {
	if err := ValidateSweep(base, cfgs); err != nil {
		return nil, err
	}
	return &Sweeper{base: base, tok: tok, cfgs: cfgs, keepDiverged: keepDiverged}, nil
}

// Configs are the sweep's runs, in order.
func (w *Sweeper) Configs() []Config { return w.cfgs }

// Results are the finished runs' results, in order.
func (w *Sweeper) Results() []Result { return w.results }

// Done reports whether every run has finished.
func (w *Sweeper) Done() bool { return w.run >= len(w.cfgs) }

// Session is the run in progress (nil between runs and at the end): its Info, Snapshot or samples.
func (w *Sweeper) Session() *Session { return w.session }

// Step advances the sweep by one chunk: it starts the next run if none is in progress and takes up to n of its
// steps (fewer where an evaluation is due: EvalEvery), or makes the evaluation that is due, or the run's final one,
// which finishes the run (its Result in the answer). Each call trains or evaluates, never both. A run stopped by a
// non-finite loss finishes with Diverged set when the sweep keeps divergences; any other error is returned, and the
// next call tries the same chunk again.
func (w *Sweeper) Step(n int) (SweepStep, error) {
	if w.Done() {
		return SweepStep{Run: len(w.cfgs) - 1, Done: true}, nil
	}
	if n < 1 {
		return SweepStep{}, fmt.Errorf("train: a sweep chunk of %d training steps", n)
	}
	cfg := w.cfgs[w.run]
	st := SweepStep{Run: w.run}
	fail := func(err error) (SweepStep, error) {
		return st, fmt.Errorf("sweep run %d (%s): %w", w.run+1, cfg.Label(), err)
	}
	if w.session == nil {
		s, err := New(w.base, w.tok, cfg)
		if err != nil {
			return fail(err)
		}
		w.session, w.last, w.evalDue = s, s.Metrics(), s.Done()
	}
	s := w.session
	if w.evalDue {
		ev, err := s.Evaluate()
		if err != nil {
			return fail(err)
		}
		w.evalDue = false
		st.Metrics, st.Eval = w.last, &ev
		if s.Done() {
			res := s.result(ev, w.last)
			st.Result = &res
			w.finish(res)
			st.Done = w.Done()
		}
		return st, nil
	}
	k := n
	if e := cfg.EvalEvery; e > 0 {
		k = min(k, e-s.StepsDone()%e)
	}
	m, err := s.Step(k)
	if err != nil {
		d, ok := DivergedResult(s, err)
		if !ok || !w.keepDiverged {
			return fail(err)
		}
		st.Metrics, st.Result = s.Metrics(), &d
		w.finish(d)
		st.Done = w.Done()
		return st, nil
	}
	w.last, st.Metrics = m, m
	w.evalDue = s.Done() || (cfg.EvalEvery > 0 && m.Step%cfg.EvalEvery == 0)
	return st, nil
}

// finish records the run in progress's result and moves to the next run.
func (w *Sweeper) finish(r Result) {
	w.results = append(w.results, r)
	w.session, w.evalDue = nil, false
	w.run++
}
