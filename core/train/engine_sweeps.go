// The page's learning-rate and intrinsic-dimension sweeps, run as one ordinary run after another (two workers per
// run, each run resumable after a reload, as the page's rank sweep runs): validateSweep expands them (pageSweepArgs)
// and sweepSummary reads the finished runs' results back into the CLI's answers (the best rates and their ratio, d90).
package train

import "fmt"

// pageSweepArgs are validateSweep's arguments for a sweep of another kind than ranks.
type pageSweepArgs struct {
	Kind   string    `json:"kind"`   // SweepLRs or SweepDims (SweepRanks with values works too); "" takes ranks
	Values []float64 `json:"values"` // the learning rates, or the dimensions d
	LoRA   bool      `json:"lora"`   // SweepDims: and a LoRA run at the config's settings, the reference beside d
}

// configs expands the sweep on the page's config c (sweepConfigs, as sweepStart does); full adds full fine-tuning.
func (a pageSweepArgs) configs(c Config, full bool) ([]Config, error) {
	if len(a.Values) == 0 {
		return nil, &FieldError{Field: "values", Reason: "list at least one value to sweep"}
	}
	if a.LoRA && a.Kind != SweepDims {
		return nil, &FieldError{Field: "lora", Reason: fmt.Sprintf("a LoRA reference run goes with a %s sweep, not %q", SweepDims, a.Kind)}
	}
	cfgs, err := sweepConfigs(c, a.Kind, a.Values, full)
	if err != nil {
		return nil, err
	}
	if a.LoRA {
		l := c
		if l.Method != MethodLoRA {
			l.Method, l.LR = MethodLoRA, DefaultLR(MethodLoRA)
		}
		cfgs = append(cfgs, l)
	}
	return cfgs, nil
}

// sweepSummary {kind, results, targets?} -> for "lrs" {lrs} (SummarizeLRs: each method's best rate by final
// validation loss among the runs that did not diverge, and LoRA's over full fine-tuning's); for "dims" {intrinsic?,
// loraSizes} (D90 at 90% of full fine-tuning's accuracy, absent without a finished full run and intrinsic run; LoRA's
// trainable counts at ranks 1-16 on targets, default q,v, and on all seven matrices). results are the finished runs
// as Result's JSON spells them (method, size, rank, lr, val_loss, accuracy, diverged, ...), as the page keeps them.
func (e *Engine) sweepSummary(args []byte, _ Bulk) (any, Bulk, error) {
	var a struct {
		Kind    string   `json:"kind"`
		Results []Result `json:"results"`
		Targets []string `json:"targets"`
	}
	if err := decodeArgs(args, &a); err != nil {
		return nil, Bulk{}, err
	}
	switch a.Kind {
	case SweepLRs:
		return map[string]any{"lrs": SummarizeLRs(a.Results)}, Bulk{}, nil
	case SweepDims:
		if err := e.needBase(); err != nil {
			return nil, Bulk{}, err
		}
		targets := a.Targets
		if len(targets) == 0 {
			targets = DefaultConfig().Targets
		}
		out := map[string]any{"loraSizes": LoRASizes(e.base.Config, targets)}
		if s, ok := D90(a.Results, 0.9); ok {
			out["intrinsic"] = s
		}
		return out, Bulk{}, nil
	}
	return nil, Bulk{}, &FieldError{Field: "kind", Reason: fmt.Sprintf("must be %s or %s, got %q", SweepLRs, SweepDims, a.Kind)}
}
