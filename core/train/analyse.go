// The LoRA paper's analyses of finished runs (core/analysis), from what the page keeps of each run: the call behind
// its Analyse panel, natively and in wasm; and a run's fine-tuned weights, which are what is kept of a run that
// changes the base weights themselves.
package train

import (
	"bytes"
	"errors"
	"fmt"

	"golora/core/analysis"
	"golora/core/model"
	"golora/core/peft"
)

// RunWeights is what is kept of one finished run for its analyses: a LoRA run's adapter (the two files
// ExportAdapter returns), or the fine-tuned weights of a run that changes the base weights themselves (ExportModel:
// full fine-tuning, top, intrinsic). Exactly one of the two is set.
type RunWeights struct {
	Name           string `json:"name"`                      // how messages name the run
	AdapterWeights []byte `json:"adapter_weights,omitempty"` // adapter_model.safetensors
	AdapterConfig  []byte `json:"adapter_config,omitempty"`  // adapter_config.json
	Model          []byte `json:"model,omitempty"`           // the fine-tuned model (ExportModel)
}

// load reads the run's weights against base: a model carrying the adapter, or the fine-tuned model.
func (w RunWeights) load(base *model.Model) (adapted, tuned *model.Model, err error) {
	hasAdapter := len(w.AdapterWeights) > 0 || len(w.AdapterConfig) > 0
	switch {
	case hasAdapter && len(w.Model) > 0:
		return nil, nil, fmt.Errorf("run %s: give its adapter or its fine-tuned model, not both", w.Name)
	case hasAdapter:
		adapted, err = ReadAdapter(base, bytes.NewReader(w.AdapterConfig), w.Name+": adapter_config.json",
			bytes.NewReader(w.AdapterWeights), w.Name+": adapter_model.safetensors")
		return adapted, nil, err
	case len(w.Model) > 0:
		tuned, _, err = model.Load(bytes.NewReader(w.Model), w.Name+": model.safetensors")
		if err == nil && tuned.Config != base.Config {
			err = fmt.Errorf("run %s: its model's config %+v is not the base's %+v", w.Name, tuned.Config, base.Config)
		}
		return nil, tuned, err
	}
	return nil, nil, fmt.Errorf("run %s: nothing kept to analyse (neither an adapter nor a fine-tuned model)", w.Name)
}

// Analyse computes the LoRA paper's analyses (core/analysis; opt from analysis.DefaultOptions) of run a, against
// run b when b is not nil, both fine-tuned from base:
//   - a LoRA run alone: per adapted module (every layer and matrix), the spectrum of ΔW = s·B·A with its effective
//     ranks, Table 7's projections of W0 on ΔW's top-r directions with the amplification factor ||ΔW||/||UᵀW0V||,
//     and the intruder dimensions of W0 + ΔW (Report.Modules[i].LoRA);
//   - a full fine-tuning (or top, or intrinsic) run alone: the same for ΔW = W_ft − W0 of every linear layer
//     (Modules[i].Full; the projections at rank opt.FullRank);
//   - two LoRA runs (two ranks, or two seeds): also φ(i, j) of the paper's Eq. 4 over i ≤ r_a, j ≤ r_b for each module
//     both adapt, on lora_A's right singular vectors and on ΔW's left ones, each beside the same between Gaussian
//     matrices of the same shapes (Modules[i].Compare: the paper's Figures 3 and 4);
//   - a LoRA run and a full one (either order): both updates per module, for intruder dimensions side by side.
//
// Every figure is a plain number or a list of them (the Report's JSON is what the page draws). Two fully fine-tuned
// runs have no low-rank factors to compare: an error says so.
func Analyse(base *model.Model, a RunWeights, b *RunWeights, opt analysis.Options) (*analysis.Report, error) {
	if base == nil {
		return nil, errors.New("analyse: no base model")
	}
	in := analysis.Inputs{Base: base}
	adapted, tuned, err := a.load(base)
	if err != nil {
		return nil, err
	}
	in.LoRA, in.Full = adapted, tuned
	if b != nil {
		adapted, tuned, err := b.load(base)
		if err != nil {
			return nil, err
		}
		switch {
		case adapted != nil && in.LoRA != nil:
			in.Compare = adapted
		case adapted != nil:
			in.LoRA = adapted
		case in.Full != nil:
			return nil, fmt.Errorf("analyse: %s and %s are both fully fine-tuned models: φ compares two adapters' "+
				"low-rank factors (analyse each alone, or one beside a LoRA run)", a.Name, b.Name)
		default:
			in.Full = tuned
		}
	}
	return analysis.Analyze(in, opt)
}

// FineTuned returns a copy of the base with the run's change in its weights: the weights as trained for a method
// that trains base weights (full, top), θ0 + P z for intrinsic. A method whose change lives in parameters of its
// own (LoRA and the other adapters) is refused: its files are its adapter (ExportAdapter), or Merge folds it.
func (s *Session) FineTuned() (*model.Model, error) {
	if s.model.Merged() {
		return nil, errors.New("train: the run's methods are merged; unmerge first")
	}
	m := s.model.Clone()
	for _, meth := range s.model.Methods() {
		switch mt := meth.(type) {
		case *peft.Intrinsic:
			mt.WriteWeights(m.Params.Data, s.model.Params.Data)
		default:
			if len(meth.Params()) > 0 {
				return nil, fmt.Errorf("train: a %s run's change is in its own parameters: export its adapter instead", meth.Name())
			}
		}
	}
	return m, nil
}

// ExportModel returns the run's fine-tuned weights (FineTuned) as a golora model file, safetensors with the config
// in its metadata (what `golora finetune -method full -out` writes, and what RunWeights.Model holds), extra added
// to the metadata.
func (s *Session) ExportModel(extra map[string]string) ([]byte, error) {
	m, err := s.FineTuned()
	if err != nil {
		return nil, err
	}
	var b bytes.Buffer
	if err := m.Save(&b, extra); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}
