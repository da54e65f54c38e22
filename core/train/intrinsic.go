// The intrinsic-dimension sweep (Li et al. 2018; Aghajanyan et al. 2020): one run per subspace dimension d beside full
// fine-tuning, and d90, the smallest d reaching 90% of full fine-tuning's accuracy.
package train

import (
	"math"
	"strings"

	"golora/core/model"
)

// intrinsicLR is intrinsic's default peak rate, for its default d (DefaultConfig's IntrinsicDim, 10,000): on the
// shipped base it reached 99.5% on e2e and 91% on facts there (0.01: 91.5% on e2e; README). AdamW moves each entry of z by
// about the rate per step, so θ moves by about rate·√d (P's columns have norm 1): see IntrinsicLR for other d.
const intrinsicLR = 3e-2

// IntrinsicLR scales a rate that suits intrinsic at refDim to d: refLR·sqrt(refDim/d), at most 1 (Validate's bound).
// Under AdamW the step in θ, P·Δz, has a norm of about rate·√d, so the scaled rate keeps it the same at every d, as
// a full fine-tuning step's is fixed by its rate; at one rate for every d (Li et al.'s protocol) the small subspaces
// barely move and the large ones overshoot.
func IntrinsicLR(refLR float32, refDim, d int) float32 {
	if refDim < 1 || d < 1 {
		return refLR
	}
	return min(1, float32(float64(refLR)*math.Sqrt(float64(refDim)/float64(d))))
}

// IntrinsicSweepConfigs expands cfg into one intrinsic run per d of dims (every other setting as in cfg) and, when
// fullLR > 0, a full fine-tuning run at that rate: the baseline d90 is measured against. Each run's rate is cfg.LR,
// or with scaleLR IntrinsicLR(cfg.LR, cfg.IntrinsicDim, d): cfg's rate is then the one for cfg's own d.
func IntrinsicSweepConfigs(cfg Config, dims []int, fullLR float32, scaleLR bool) []Config {
	var out []Config
	for _, d := range dims {
		c := cfg
		c.Method, c.IntrinsicDim = MethodIntrinsic, d
		if scaleLR {
			c.LR = IntrinsicLR(cfg.LR, cfg.IntrinsicDim, d)
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

// IntrinsicSummary is d90 and what it was measured against.
type IntrinsicSummary struct {
	FullAccuracy float32 `json:"full_accuracy"` // full fine-tuning's test accuracy
	Target       float32 `json:"target"`        // 90% of it
	// D90 is the smallest d whose run reached Target (0: none did); D90Accuracy that run's accuracy.
	D90         int     `json:"d90"`
	D90Accuracy float32 `json:"d90_accuracy,omitempty"`
	// Best is the most accurate intrinsic run's d and accuracy, for when none reached Target.
	BestDim      int     `json:"best_dim"`
	BestAccuracy float32 `json:"best_accuracy"`
}

// D90 finds, among results (an intrinsic sweep with its full fine-tuning run), the smallest d whose accuracy reaches
// frac (0.9) of full fine-tuning's; false when the results hold no full run that finished, or no intrinsic run.
func D90(results []Result, frac float32) (IntrinsicSummary, bool) {
	var s IntrinsicSummary
	full, intrinsic := false, false
	for _, r := range results {
		if r.Method == MethodFull && r.Diverged == "" {
			s.FullAccuracy, full = r.Accuracy, true
		}
	}
	s.Target = frac * s.FullAccuracy
	for _, r := range results {
		if r.Method != MethodIntrinsic || r.Diverged != "" {
			continue
		}
		intrinsic = true
		if r.Accuracy > s.BestAccuracy || s.BestDim == 0 {
			s.BestDim, s.BestAccuracy = r.Size, r.Accuracy
		}
		if full && r.Accuracy >= s.Target && (s.D90 == 0 || r.Size < s.D90) {
			s.D90, s.D90Accuracy = r.Size, r.Accuracy
		}
	}
	return s, full && intrinsic
}

// LoRASize is LoRA's trainable count at one rank on some targets (in every layer).
type LoRASize struct {
	Targets   string `json:"targets"` // comma-separated, as the CLI spells them
	Rank      int    `json:"rank"`
	Trainable int    `json:"trainable_params"`
}

// LoRASizes are LoRA's trainable counts at ranks 1, 2, 4, 8 and 16 on targets and on all seven linear layers of c:
// what an intrinsic sweep's d is read beside.
func LoRASizes(c model.Config, targets []string) []LoRASize {
	all := []string{"q", "k", "v", "o", "gate", "up", "down"}
	var out []LoRASize
	sets := [][]string{targets}
	if strings.Join(targets, ",") != strings.Join(all, ",") {
		sets = append(sets, all)
	}
	for _, ts := range sets {
		for _, r := range []int{1, 2, 4, 8, 16} {
			out = append(out, LoRASize{strings.Join(ts, ","), r, LoRATrainable(c, ts, r)})
		}
	}
	return out
}

// LoRATrainable is LoRA's trainable count at rank r on targets in every layer of c: Σ r·(in + out), for showing an
// intrinsic sweep's d beside LoRA's sizes. Unknown targets count nothing.
func LoRATrainable(c model.Config, targets []string, r int) int {
	ts, _ := model.ParseTargets(targets)
	n := 0
	for _, t := range ts {
		in, out := c.Shape(t)
		n += r * (in + out)
	}
	return c.NLayers * n
}
