// Set: all of a model's adapters, with their A and B matrices in one flat trainable buffer.
package lora

import (
	"fmt"

	"golora/core/rng"
)

// Config is one run's LoRA hyperparameters (loralib's names in comments).
type Config struct {
	Rank    int     // r
	Alpha   float32 // lora_alpha
	RSLoRA  bool    // scale by alpha/sqrt(r) instead of alpha/r
	Init    Init    // how A starts
	Dropout float32 // lora_dropout, on the adapter's input only
}

// Shape places one adapter: the module it adapts and that weight's sizes.
type Shape struct {
	Module  string
	In, Out int
}

// Set is every adapter of a model. Params and Grads hold all A and B
// matrices back to back (A then B for each adapter, in Shapes order), so the
// optimizer sees one vector; the adapters' slices are views into them.
type Set struct {
	Config
	Adapters []*Adapter
	Params   []float32
	Grads    []float32
}

// NewSet allocates and initialises adapters for shapes (A from r, B zero; with
// a nil r both stay zero, for loading saved adapters). It returns an error if
// the rank is not in 1..min(in, out) for some shape or alpha is not positive.
func NewSet(cfg Config, shapes []Shape, r *rng.RNG) (*Set, error) {
	if !(cfg.Alpha > 0) {
		return nil, fmt.Errorf("lora: alpha must be positive, got %g", cfg.Alpha)
	}
	if !(cfg.Dropout >= 0 && cfg.Dropout < 1) {
		return nil, fmt.Errorf("lora: dropout must be in [0, 1), got %g", cfg.Dropout)
	}
	total := 0
	for _, sh := range shapes {
		if cfg.Rank < 1 || cfg.Rank > min(sh.In, sh.Out) {
			return nil, fmt.Errorf("lora: rank must be between 1 and %d (the smaller side of %s, %d x %d), got %d",
				min(sh.In, sh.Out), sh.Module, sh.Out, sh.In, cfg.Rank)
		}
		total += cfg.Rank * (sh.In + sh.Out)
	}
	s := &Set{Config: cfg, Params: make([]float32, total), Grads: make([]float32, total)}
	scaling := Scaling(cfg.Alpha, cfg.Rank, cfg.RSLoRA)
	off := 0
	take := func(buf []float32, n int) []float32 { return buf[off : off+n : off+n] }
	for _, sh := range shapes {
		a := &Adapter{Module: sh.Module, In: sh.In, Out: sh.Out, Rank: cfg.Rank, Scaling: scaling, Off: off}
		nA, nB := cfg.Rank*sh.In, sh.Out*cfg.Rank
		a.A, a.DA = take(s.Params, nA), take(s.Grads, nA)
		off += nA
		a.B, a.DB = take(s.Params, nB), take(s.Grads, nB)
		off += nB
		if r != nil {
			a.Reset(cfg.Init, r)
		}
		s.Adapters = append(s.Adapters, a)
	}
	return s, nil
}

// NumParams is the number of trainable parameters: Σ r*(in+out) over adapters.
func (s *Set) NumParams() int { return len(s.Params) }
