// The engine's calls for understanding LoRA (issue 12): the paper's analyses of one or two kept runs, a run's
// fine-tuned weights to keep, and the rank, learning-rate and intrinsic-dimension sweeps stepped a chunk per call.
package train

import (
	"errors"
	"fmt"
	"math"

	"golora/core/analysis"
)

// analyseRun names one run given to "analyse"; its files are the bulk bytes "<slot>.adapter" and
// "<slot>.adapterConfig" (a LoRA run's adapter_model.safetensors and adapter_config.json, as exportAdapter gives
// them) or "<slot>.model" (a fine-tuned model, as exportModel gives it), slot "a" or "b".
type analyseRun struct {
	Name string `json:"name"`
}

// analyseOptions are analysis.Options as the page spells them; a zero field keeps analysis.DefaultOptions'.
type analyseOptions struct {
	Seed        uint64  `json:"seed"`
	IntruderK   int     `json:"intruderK"`
	IntruderEps float64 `json:"intruderEps"`
	FullRank    int     `json:"fullRank"`
}

// analyse {a: {name}, b?: {name}, options?} (+ the runs' files, see analyseRun) -> the analysis.Report of a (against
// b): per module (every layer and matrix) the ΔW spectrum and effective ranks, Table 7's projections with the
// amplification factor, intruder dimensions, and with two LoRA runs φ over i ≤ r_a, j ≤ r_b with its random
// controls (Analyse). The report keeps core/analysis's JSON names (modules[].lora.projection.amplification,
// modules[].compare.phi_a, random_a, ...). It needs the loaded base (the runs' base), not a session.
func (e *Engine) analyse(args []byte, in Bulk) (any, Bulk, error) {
	var a struct {
		A       analyseRun     `json:"a"`
		B       *analyseRun    `json:"b"`
		Options analyseOptions `json:"options"`
	}
	if err := decodeArgs(args, &a); err != nil {
		return nil, Bulk{}, err
	}
	if err := e.needBase(); err != nil {
		return nil, Bulk{}, err
	}
	opt := analysis.DefaultOptions()
	if o := a.Options; o.Seed != 0 {
		opt.Seed = o.Seed
	}
	if o := a.Options; o.IntruderK != 0 {
		opt.IntruderK = o.IntruderK
	}
	if o := a.Options; o.IntruderEps != 0 {
		opt.IntruderEps = o.IntruderEps
	}
	if o := a.Options; o.FullRank != 0 {
		opt.FullRank = o.FullRank
	}
	runWeights := func(slot string, r analyseRun) RunWeights {
		name := r.Name
		if name == "" {
			name = slot
		}
		return RunWeights{Name: name, AdapterWeights: in.Bytes[slot+".adapter"], AdapterConfig: in.Bytes[slot+".adapterConfig"],
			Model: in.Bytes[slot+".model"]}
	}
	var b *RunWeights
	if a.B != nil {
		w := runWeights("b", *a.B)
		b = &w
	}
	rep, err := Analyse(e.base, runWeights("a", a.A), b, opt)
	if err != nil {
		return nil, Bulk{}, err
	}
	return rep, Bulk{}, nil
}

// exportModel {} -> {name, params} and the bulk bytes "safetensors": the run's fine-tuned model (ExportModel: a full
// or intrinsic run's weights, what "analyse" takes as "<slot>.model").
func (e *Engine) exportModel(args []byte, _ Bulk) (any, Bulk, error) {
	s, err := e.noArgs(args)
	if err != nil {
		return nil, Bulk{}, err
	}
	b, err := s.ExportModel(map[string]string{"golora.base": e.base.Name, "golora.tokenizer": e.tok.Name()})
	if err != nil {
		return nil, Bulk{}, err
	}
	return map[string]any{"name": e.base.Name, "params": e.base.NumParams()}, Bulk{Bytes: map[string][]byte{"safetensors": b}}, nil
}

// The kinds of sweep sweepStart runs.
const (
	SweepRanks = "ranks" // LoRA at each rank (alpha as the config has it), then full fine-tuning
	SweepLRs   = "lrs"   // LoRA at the config's rank, then full fine-tuning, at each learning rate
	SweepDims  = "dims"  // intrinsic at each d, then full fine-tuning: d90
)

// sweepConfigs expands the page's sweep request into its runs.
func sweepConfigs(c Config, kind string, values []float64, full bool) ([]Config, error) {
	ints := func() ([]int, error) {
		var out []int
		for _, v := range values {
			if v != math.Trunc(v) || v < 1 || v > math.MaxInt32 {
				return nil, &FieldError{Field: "values", Reason: fmt.Sprintf("a %s sweep takes whole numbers from 1, got %g", kind, v)}
			}
			out = append(out, int(v))
		}
		return out, nil
	}
	var fullLR float32
	if full {
		fullLR = DefaultLR(MethodFull)
	}
	switch kind {
	case SweepRanks:
		rs, err := ints()
		return SweepConfigs(c, rs, false, fullLR), err
	case SweepDims:
		ds, err := ints()
		if c.Method != MethodIntrinsic { // intrinsic's defaults as the reference of the scaled rates
			c.Method, c.LR, c.IntrinsicDim = MethodIntrinsic, DefaultLR(MethodIntrinsic), DefaultConfig().IntrinsicDim
		}
		return IntrinsicSweepConfigs(c, ds, fullLR, true), err
	case SweepLRs:
		var lrs []float32
		for _, v := range values {
			if !(v > 0 && v <= 1) {
				return nil, &FieldError{Field: "values", Reason: fmt.Sprintf("learning rates are in (0, 1], got %g", v)}
			}
			lrs = append(lrs, float32(v))
		}
		methods := []string{MethodLoRA}
		if full {
			methods = append(methods, MethodFull)
		}
		c.Method = MethodLoRA
		return LRSweepConfigs(c, lrs, methods), nil
	}
	return nil, &FieldError{Field: "kind", Reason: fmt.Sprintf("must be %s, %s or %s, got %q", SweepRanks, SweepLRs, SweepDims, kind)}
}

// sweepStart {config, fileName?, kind, values, full} (+ "file") -> {configs}: a sweep on the loaded base, run in this
// engine by sweepStep (the session, if any, is dropped). kind "ranks" runs LoRA at each rank of values, "lrs" LoRA
// at the config's rank at each learning rate of values, "dims" intrinsic at each d of values (each at the config's
// rate scaled to its d, IntrinsicLR, when the config's method is intrinsic, else at intrinsic's default rate for its
// default d scaled so); full adds full fine-tuning (at each rate, for "lrs").
// Every run is checked before the first starts; configs are the runs as the page's settings.
func (e *Engine) sweepStart(args []byte, in Bulk) (any, Bulk, error) {
	var a struct {
		configArgs
		Kind   string    `json:"kind"`
		Values []float64 `json:"values"`
		Full   bool      `json:"full"`
	}
	if err := decodeArgs(args, &a); err != nil {
		return nil, Bulk{}, err
	}
	if err := e.needBase(); err != nil {
		return nil, Bulk{}, err
	}
	c, err := a.config(in)
	if err != nil {
		return nil, Bulk{}, err
	}
	cfgs, err := sweepConfigs(c, a.Kind, a.Values, a.Full)
	if err != nil {
		return nil, Bulk{}, err
	}
	w, err := NewSweeper(e.base, e.tok, cfgs, a.Kind == SweepLRs)
	if err != nil {
		return nil, Bulk{}, err
	}
	e.session, e.sweeper, e.sweepKind = nil, w, a.Kind
	out := make([]any, len(cfgs))
	for i, c := range cfgs {
		text, err := EncodePageConfig(c)
		if err != nil {
			return nil, Bulk{}, err
		}
		out[i] = rawJSON(text)
	}
	return map[string]any{"configs": out}, Bulk{}, nil
}

// rawJSON is a JSON value passed through as it is.
type rawJSON []byte

func (r rawJSON) MarshalJSON() ([]byte, error) { return r, nil }

// sweepStepReply is what sweepStep answers.
type sweepStepReply struct {
	Run     int         `json:"run"`  // the run worked on, from 0
	Runs    int         `json:"runs"` // how many the sweep has
	Metrics PageMetrics `json:"metrics"`
	Eval    *PageEval   `json:"eval,omitempty"`
	Result  *Result     `json:"result,omitempty"` // the run finished (Result's JSON names, as the CLI's -json prints it)
	Done    bool        `json:"done"`
	// When done: "lrs" gives the best rates and their ratio, "dims" d90 with LoRA's sizes beside it.
	LRs       *LRSummary        `json:"lrs,omitempty"`
	Intrinsic *IntrinsicSummary `json:"intrinsic,omitempty"`
	LoRASizes []LoRASize        `json:"loraSizes,omitempty"`
}

// sweepStep {n} -> {run, runs, metrics, eval?, result?, done, lrs?, intrinsic?, loraSizes?}: one chunk of the
// sweep (Sweeper.Step: up to n training steps of the run in progress, or one evaluation); a learning rate too
// high ends its run with result.diverged set and the sweep goes on.
func (e *Engine) sweepStep(args []byte, _ Bulk) (any, Bulk, error) {
	var a struct {
		N int `json:"n"`
	}
	if err := decodeArgs(args, &a); err != nil {
		return nil, Bulk{}, err
	}
	if e.sweeper == nil {
		return nil, Bulk{}, errors.New("no sweep: call sweepStart first")
	}
	if a.N < 1 || a.N > 1_000_000 {
		return nil, Bulk{}, fmt.Errorf("sweepStep: n must be 1..1000000, got %d", a.N)
	}
	st, err := e.sweeper.Step(a.N)
	if err != nil {
		return nil, Bulk{}, err
	}
	r := sweepStepReply{Run: st.Run, Runs: len(e.sweeper.Configs()), Metrics: pageMetrics(st.Metrics), Result: st.Result, Done: st.Done}
	if st.Eval != nil {
		ev := pageEval(*st.Eval)
		r.Eval = &ev
	}
	if st.Done {
		res := e.sweeper.Results()
		switch e.sweepKind {
		case SweepLRs:
			s := SummarizeLRs(res)
			r.LRs = &s
		case SweepDims:
			if s, ok := D90(res, 0.9); ok {
				r.Intrinsic = &s
			}
			r.LoRASizes = LoRASizes(e.base.Config, e.sweeper.Configs()[0].Targets)
		}
	}
	return r, Bulk{}, nil
}
