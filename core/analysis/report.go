// Analyze: every analysis for every adapted module of a run, against a second adapter and a fully fine-tuned model when given.
package analysis

import (
	"errors"
	"fmt"
	"hash/fnv"

	"gonum.org/v1/gonum/mat"

	"golora/core/model"
	"golora/core/peft"
	"golora/core/rng"
)

// Options are the analyses' settings.
type Options struct {
	Seed        uint64  `json:"seed"`         // of the random controls
	IntruderK   int     `json:"intruder_k"`   // fine-tuned singular vectors examined
	IntruderEps float64 `json:"intruder_eps"` // cosine threshold
	FullRank    int     `json:"full_rank"`    // r of a full fine-tuning ΔW's projections when no adapter gives one
}

// DefaultOptions are the papers' settings where they have one.
func DefaultOptions() Options {
	return Options{
		Seed:        1,
		IntruderK:   10,  // Shuttleworth et al.'s main figures examine the top 10
		IntruderEps: 0.5, // the middle of the range they sweep (0.1-0.9); full fine-tuning stays at 0 there
		FullRank:    8,   // the paper's smaller rank in Figure 3
	}
}

// Validate reports the first invalid option, by name.
func (o Options) Validate() error {
	switch {
	case o.IntruderK < 1:
		return fmt.Errorf("intruder-k: must be at least 1, got %d", o.IntruderK)
	case !(o.IntruderEps > 0 && o.IntruderEps <= 1):
		return fmt.Errorf("intruder-eps: must be in (0, 1], got %g", o.IntruderEps)
	case o.FullRank < 1:
		return fmt.Errorf("full-rank: must be at least 1, got %d", o.FullRank)
	}
	return nil
}

// Inputs are the weights to analyse. Base is required; the others are
// optional, but Compare needs LoRA, and one of LoRA and Full must be set.
type Inputs struct {
	Base    *model.Model // the pre-trained weights W0 (adapters on it are ignored)
	LoRA    *model.Model // a model with adapters on Base's weights (as train.ReadAdapter returns it)
	Compare *model.Model // a second adapted model on the same base: another rank or seed
	Full    *model.Model // Base fully fine-tuned
}

// Report is every analysis, module by module.
type Report struct {
	Options     Options  `json:"options"`
	Rank        int      `json:"rank,omitempty"`         // the adapter's r
	CompareRank int      `json:"compare_rank,omitempty"` // the second adapter's r
	Modules     []Module `json:"modules"`
	// Intruder dimensions summed over the modules, as Shuttleworth et al. report them.
	LoRAIntruders int `json:"lora_intruders"`
	FullIntruders int `json:"full_intruders"`
}

// Module is the analyses of one adapted weight.
type Module struct {
	Name    string      `json:"module"`
	Out     int         `json:"out"`
	In      int         `json:"in"`
	LoRA    *Update     `json:"lora,omitempty"`
	Full    *Update     `json:"full,omitempty"`
	Compare *Comparison `json:"compare,omitempty"`
}

// Update describes one ΔW: its spectrum, Table 7's projections, and the
// intruder dimensions of W0 + ΔW.
type Update struct {
	Spectrum   Spectrum   `json:"spectrum"`
	Projection Projection `json:"projection"`
	Intruders  Intruders  `json:"intruders"`
}

// Comparison is φ(i, j) between the run's adapter (i ≤ R1) and the second
// one (j ≤ R2), as grid[i-1][j-1], with the random controls.
type Comparison struct {
	R1 int `json:"r1"`
	R2 int `json:"r2"`
	// Right singular vectors of the two lora_A (the paper's Figures 3-4).
	A [][]float64 `json:"phi_a"`
	// Left singular vectors of the two ΔW = scaling·B·A.
	DeltaW [][]float64 `json:"phi_delta_w"`
	// The same between Gaussian matrices of lora_A's shapes and of lora_B's shapes.
	RandomA      [][]float64 `json:"random_a"`
	RandomDeltaW [][]float64 `json:"random_delta_w"`
}

// Analyze computes the report for in.
func Analyze(in Inputs, opt Options) (*Report, error) {
	if err := opt.Validate(); err != nil {
		return nil, err
	}
	if in.Base == nil {
		return nil, errors.New("analysis: no base model")
	}
	cfg := in.Base.Config
	same := func(what string, m *model.Model) error {
		if m != nil && m.Config != cfg {
			return fmt.Errorf("analysis: the %s model's config %+v differs from the base's %+v", what, m.Config, cfg)
		}
		return nil
	}
	for _, c := range []struct {
		what string
		m    *model.Model
	}{{"adapted", in.LoRA}, {"compared", in.Compare}, {"fully fine-tuned", in.Full}} {
		if err := same(c.what, c.m); err != nil {
			return nil, err
		}
	}
	if in.LoRA != nil && peft.LoRAOf(in.LoRA) == nil {
		return nil, errors.New("analysis: the adapted model has no adapters")
	}
	if in.Compare != nil && (in.LoRA == nil || peft.LoRAOf(in.Compare) == nil) {
		return nil, errors.New("analysis: a comparison needs two models with adapters")
	}
	if in.LoRA == nil && in.Full == nil {
		return nil, errors.New("analysis: nothing to analyse (give an adapter or a fully fine-tuned model)")
	}
	rep := &Report{Options: opt}
	type site struct {
		l int
		t model.Target
	}
	var sites []site
	if in.LoRA != nil {
		rep.Rank = peft.LoRAOf(in.LoRA).Rank
		for l := range cfg.NLayers {
			for _, t := range peft.LoRAOf(in.LoRA).Targets {
				sites = append(sites, site{l, t})
			}
		}
	} else {
		for l := range cfg.NLayers {
			for _, t := range model.AllTargets() {
				sites = append(sites, site{l, t})
			}
		}
	}
	if in.Compare != nil {
		rep.CompareRank = peft.LoRAOf(in.Compare).Rank
		common := 0
		for _, s := range sites {
			if peft.LoRAOf(in.Compare).Adapter(s.l, s.t) != nil {
				common++
			}
		}
		if common == 0 {
			return nil, fmt.Errorf("analysis: the two adapters adapt no module in common (targets %v and %v)",
				peft.LoRAOf(in.LoRA).Targets, peft.LoRAOf(in.Compare).Targets)
		}
	}
	for _, s := range sites {
		mod, err := analyzeModule(in, s.l, s.t, rep.Rank, opt)
		if err != nil {
			return nil, fmt.Errorf("analysis: %s: %w", s.t.Module(s.l), err)
		}
		if mod.LoRA != nil {
			rep.LoRAIntruders += mod.LoRA.Intruders.Count
		}
		if mod.Full != nil {
			rep.FullIntruders += mod.Full.Intruders.Count
		}
		rep.Modules = append(rep.Modules, mod)
	}
	return rep, nil
}

func analyzeModule(in Inputs, l int, t model.Target, rank int, opt Options) (Module, error) {
	cfg := in.Base.Config
	inDim, out := cfg.Shape(t)
	name := t.Module(l)
	mod := Module{Name: name, Out: out, In: inDim}
	w0 := dense(out, inDim, in.Base.Params.Layers[l].Weight(t))
	wf, err := factorizeU(w0)
	if err != nil {
		return mod, err
	}
	if in.LoRA != nil {
		a := peft.LoRAOf(in.LoRA).Adapter(l, t)
		delta, df, err := adapterDelta(a)
		if err != nil {
			return mod, err
		}
		if mod.LoRA, err = analyzeUpdate(w0, wf, delta, df, a.Rank, opt, stream(opt.Seed, name, "lora")); err != nil {
			return mod, err
		}
		if in.Compare != nil {
			if b := peft.LoRAOf(in.Compare).Adapter(l, t); b != nil {
				if mod.Compare, err = compare(a, df, b, stream(opt.Seed, name, "control")); err != nil {
					return mod, err
				}
			}
		}
	}
	if in.Full != nil {
		var delta mat.Dense
		delta.Sub(dense(out, inDim, in.Full.Params.Layers[l].Weight(t)), w0)
		df, err := Factorize(&delta)
		if err != nil {
			return mod, err
		}
		r := rank
		if r == 0 {
			r = opt.FullRank
		}
		r = min(r, inDim, out)
		if mod.Full, err = analyzeUpdate(w0, wf, &delta, df, r, opt, stream(opt.Seed, name, "full")); err != nil {
			return mod, err
		}
	}
	return mod, nil
}

// adapterDelta returns ΔW = scaling · B · A (out, in) in float64 and its SVD (from the factors).
func adapterDelta(a *peft.Adapter) (*mat.Dense, Factors, error) {
	b, am := dense(a.Out, a.Rank, a.B), dense(a.Rank, a.In, a.A)
	var d mat.Dense
	d.Mul(b, am)
	d.Scale(float64(a.Scaling), &d)
	f, err := FactorizeProduct(float64(a.Scaling), b, am)
	return &d, f, err
}

// analyzeUpdate computes the spectrum, the projections at rank r and the
// intruders of one ΔW (df its SVD) on W0 (wf its SVD, U and S).
func analyzeUpdate(w0 *mat.Dense, wf Factors, delta *mat.Dense, df Factors, r int, opt Options, rnd *rng.RNG) (*Update, error) {
	proj, err := Project(w0, delta, wf.S, df, r, rnd)
	if err != nil {
		return nil, err
	}
	var tuned mat.Dense
	tuned.Add(w0, delta)
	tf, err := factorizeU(&tuned)
	if err != nil {
		return nil, err
	}
	intr, err := FindIntruders(wf, tf, min(opt.IntruderK, len(tf.S)), opt.IntruderEps)
	if err != nil {
		return nil, err
	}
	return &Update{Spectrum: NewSpectrum(df.S), Projection: proj, Intruders: intr}, nil
}

// compare computes φ between adapter a (df the SVD of its ΔW) and adapter b,
// with the random controls drawn from rnd.
func compare(a *peft.Adapter, df Factors, b *peft.Adapter, rnd *rng.RNG) (*Comparison, error) {
	r1, r2 := a.Rank, b.Rank
	c := &Comparison{R1: r1, R2: r2}
	// The right singular vectors of A (r, in) span its rows, in the input space.
	fa, err := Factorize(dense(r1, a.In, a.A))
	if err != nil {
		return nil, err
	}
	fb, err := Factorize(dense(r2, b.In, b.A))
	if err != nil {
		return nil, err
	}
	c.A = Similarity(fa.V, fb.V, r1, r2)
	// The left singular vectors of ΔW (out, in) span its columns, in the output space.
	_, dfb, err := adapterDelta(b)
	if err != nil {
		return nil, err
	}
	c.DeltaW = Similarity(df.U, dfb.U, r1, r2)
	// The row space of a Gaussian (r, in) matrix and the column space of a
	// Gaussian (out, r) one (lora_B's shape) are uniformly random subspaces.
	var g [4]*mat.Dense
	for i, dims := range [4][2]int{{a.In, r1}, {b.In, r2}, {a.Out, r1}, {b.Out, r2}} {
		if g[i], err = randomBasis(dims[0], dims[1], rnd); err != nil {
			return nil, err
		}
	}
	c.RandomA = Similarity(g[0], g[1], r1, r2)
	c.RandomDeltaW = Similarity(g[2], g[3], r1, r2)
	return c, nil
}

// stream is the random generator of one module's one use: it depends on the
// seed, the module and the use only, so one analysis's draws do not move
// when another is added or left out.
func stream(seed uint64, module, use string) *rng.RNG {
	h := fnv.New64a()
	h.Write([]byte(module + "/" + use))
	return rng.New(seed ^ h.Sum64())
}
