// Methods: every fine-tuning method a run can use, by name: its size knob, the sizes a methods sweep runs, its own
// default learning rate, how its settings are checked, and how it attaches to a run's model (core/peft holds the
// methods themselves). One table, so that a method is one entry here and nothing else in the package branches on it.

package train

import (
	"errors"
	"fmt"
	"strings"

	"golora/core/model"
	"golora/core/peft"
	"golora/core/rng"
)

// The methods besides MethodLoRA, MethodFull and MethodFrozen (config.go).
const (
	MethodDoRA   = "dora"   // LoRA's direction with a learned magnitude per output row (Liu et al. 2024)
	MethodTop    = "top"    // the last k blocks, the final norm (and an untied classifier): the paper's FT-Top2
	MethodBitFit = "bitfit" // the RMSNorm gains and zero-initialised biases on the seven linears (Ben Zaken et al. 2022)
	MethodIA3    = "ia3"    // (IA)³: learned scales of the keys, values and MLP activation (Liu et al. 2022)
	// MethodIntrinsic trains z alone in θ = θ0 + P z, a random d-dimensional subspace of every weight
	// (Li et al. 2018, Aghajanyan et al. 2020; peft.Intrinsic)
	MethodIntrinsic = "intrinsic"

	MethodAdapterH    = "adapter-h"    // Houlsby et al.'s adapters after the attention and the MLP (and the norms)
	MethodAdapterL    = "adapter-l"    // Lin et al.'s adapter after the MLP, with its own norm
	MethodPrefixEmbed = "prefix-embed" // prompt tuning: l_p trained embeddings before the input
	MethodPrefixLayer = "prefix-layer" // prefix tuning: l_p trained keys and values in every layer
	// MethodTokens trains token rows alone, no adapter beside them (PEFT's TRAINABLE_TOKENS; Config.TrainTokens
	// chooses them, auto when empty)
	MethodTokens = "tokens"
)

// The size knobs, by the field name Validate, the CLI (with - for _) and the JSON use.
const (
	SizeRank       = "rank"       // LoRA, DoRA: r
	SizeLayers     = "layers"     // top: k, the last blocks trained
	SizeBottleneck = "bottleneck" // adapters: the bottleneck width
	SizePrefixLen  = "prefix_len" // prefixes: l_p, the trained positions
	// intrinsic: d, the subspace's dimension
	SizeIntrinsicDim = "intrinsic_dim"
)

// What a method's run writes (MethodSpec.Files).
const (
	FilesPEFT   = "peft"   // adapter_model.safetensors + adapter_config.json in PEFT's format
	FilesGolora = "golora" // adapter_model.safetensors + golora_adapter.json (golora's own format)
	FilesModel  = "model"  // the whole model, model.safetensors
)

// MethodSpec describes one method for the CLI, the page and the sweep.
type MethodSpec struct {
	Name    string  `json:"name"`
	Summary string  `json:"summary"`          // what it trains, in one line
	Size    string  `json:"size,omitempty"`   // its size knob (SizeRank, ...); "" when it has none
	Ladder  []int   `json:"ladder,omitempty"` // the sizes a methods sweep runs by default
	LR      float32 `json:"lr"`               // its default peak learning rate, tuned on the shipped base (README)
	Merges  bool    `json:"merges"`           // it folds into the base weights: no cost at inference
	Files   string  `json:"files"`            // what finetune -out writes: FilesPEFT, FilesGolora, FilesModel or "" (nothing)

	// validate checks the settings only this method reads (bad reports a field).
	validate func(c Config, m *model.Model, bad func(field, format string, args ...any))
	// attach puts a fresh instance on m (r draws its initial values); nil for frozen.
	attach func(m *model.Model, c Config, r *rng.RNG) (model.Method, error)
}

// methodSpecs is every method, in the order the CLI lists them and a sweep runs them.
var methodSpecs = []MethodSpec{
	{Name: MethodLoRA, Files: FilesPEFT, Summary: "low-rank updates B·A beside frozen weights (the targets), merged for inference",
		Size: SizeRank, Ladder: []int{1, 4, 16}, LR: 2e-2, Merges: true, validate: validateLoRA,
		attach: func(m *model.Model, c Config, r *rng.RNG) (model.Method, error) {
			lc := c.loraConfig()
			if lc.Init == peft.InitPiSSA {
				return peft.AddPiSSA(m, lc)
			}
			return peft.AddLoRA(m, lc, r)
		}},
	{Name: MethodDoRA, Files: FilesPEFT, Summary: "LoRA's update as a direction, with a learned magnitude per output row",
		Size: SizeRank, Ladder: []int{1, 4, 16}, LR: 3e-2, Merges: true, validate: validateLoRA,
		attach: func(m *model.Model, c Config, r *rng.RNG) (model.Method, error) {
			return peft.AddDoRA(m, c.loraConfig(), r)
		}},
	{Name: MethodFull, Files: FilesModel, Summary: "every weight of the model", LR: 1e-3,
		attach: func(m *model.Model, _ Config, _ *rng.RNG) (model.Method, error) {
			return peft.Full{}, m.Attach(peft.Full{})
		}},
	{Name: MethodFrozen, Summary: "nothing: the base as it is, for reference"},
	{Name: MethodTop, Files: FilesGolora, Summary: "the last k blocks and the final norm; everything below stays frozen",
		Size: SizeLayers, Ladder: []int{1, 2}, LR: 3e-3, validate: validateTop,
		attach: func(m *model.Model, c Config, _ *rng.RNG) (model.Method, error) {
			return peft.AddTop(m, peft.TopConfig{Layers: c.Layers})
		}},
	{Name: MethodBitFit, Files: FilesGolora, Summary: "the norm gains and a new bias on each of the seven linear layers",
		LR: 1e-1,
		attach: func(m *model.Model, _ Config, _ *rng.RNG) (model.Method, error) {
			return peft.AddBitFit(m, peft.BitFitConfig{Targets: model.AllTargets()})
		}},
	{Name: MethodIA3, Files: FilesPEFT, Summary: "a learned scale on the keys, the values and the MLP's inner activation",
		LR: 1e-1, Merges: true,
		attach: func(m *model.Model, _ Config, _ *rng.RNG) (model.Method, error) { return peft.AddIA3(m) }},
	{Name: MethodIntrinsic, Files: FilesModel, Summary: "z alone in θ0 + P z: a random d-dimensional subspace of every weight (intrinsic dimension)",
		Size: SizeIntrinsicDim, Ladder: []int{10, 100, 1000, 10000}, LR: intrinsicLR, Merges: true, validate: validateIntrinsic,
		attach: func(m *model.Model, c Config, _ *rng.RNG) (model.Method, error) {
			return peft.AddIntrinsic(m, peft.IntrinsicConfig{Dim: c.IntrinsicDim, Seed: c.Seed})
		}},
	{Name: MethodAdapterH, Files: FilesGolora, Summary: "a small bottleneck layer after the attention and after the MLP (and the norms)",
		Size: SizeBottleneck, Ladder: []int{2, 8, 32}, LR: 3e-2, validate: validateBottleneck,
		attach: func(m *model.Model, c Config, r *rng.RNG) (model.Method, error) {
			return peft.AddAdapterH(m, peft.AdapterHConfig{Width: c.Bottleneck}, r)
		}},
	{Name: MethodAdapterL, Files: FilesGolora, Summary: "a small bottleneck layer with its own norm after the MLP",
		Size: SizeBottleneck, Ladder: []int{2, 8, 32}, LR: 3e-2, validate: validateBottleneck,
		attach: func(m *model.Model, c Config, r *rng.RNG) (model.Method, error) {
			return peft.AddAdapterL(m, peft.AdapterLConfig{Width: c.Bottleneck}, r)
		}},
	{Name: MethodPrefixEmbed, Files: FilesPEFT, Summary: "l_p learned embeddings read before the input (they take l_p positions)",
		Size: SizePrefixLen, Ladder: []int{1, 4, 16}, LR: 3e-1, validate: validatePrefix,
		attach: func(m *model.Model, c Config, r *rng.RNG) (model.Method, error) {
			return peft.AddPrefixEmbed(m, peft.PrefixEmbedConfig{Len: c.PrefixLen}, r)
		}},
	{Name: MethodPrefixLayer, Files: FilesPEFT, Summary: "l_p learned keys and values in every layer, attended to before the input",
		Size: SizePrefixLen, Ladder: []int{1, 4, 16}, LR: 1e-1, validate: validatePrefix,
		attach: func(m *model.Model, c Config, r *rng.RNG) (model.Method, error) {
			return peft.AddPrefixLayer(m, peft.PrefixLayerConfig{Len: c.PrefixLen, Projection: c.PrefixProjection}, r)
		}},
	{Name: MethodTokens, Files: FilesPEFT, Summary: "trainable copies of chosen embedding rows (the tied classifier's too) and nothing else: train_tokens chooses them",
		LR: 2e-2, Merges: true, validate: validateTokens}, // attached by Session.addTokens, as beside any method
}

// Methods lists every method a run can use, with its size knob, ladder and default learning rate.
func Methods() []MethodSpec {
	out := make([]MethodSpec, len(methodSpecs))
	for i, s := range methodSpecs {
		s.Ladder = append([]int(nil), s.Ladder...)
		out[i] = s
	}
	return out
}

// MethodNames is every method's name, in table order.
func MethodNames() []string {
	var names []string
	for _, s := range methodSpecs {
		names = append(names, s.Name)
	}
	return names
}

// LookupMethod returns the method called name.
func LookupMethod(name string) (MethodSpec, bool) {
	for _, s := range methodSpecs {
		if s.Name == name {
			return s, true
		}
	}
	return MethodSpec{}, false
}

// DefaultLR is each method's default peak learning rate on the shipped base (MethodSpec.LR): methods that start
// their own parameters at zero or one need a larger step than those that move pretrained weights.
func DefaultLR(method string) float32 {
	if s, ok := LookupMethod(method); ok && s.LR > 0 {
		return s.LR
	}
	return DefaultLR(MethodLoRA)
}

// Size is the value of the run's size knob (0 for a method without one).
func (c Config) Size() int {
	s, _ := LookupMethod(c.Method)
	switch s.Size {
	case SizeRank:
		return c.Rank
	case SizeLayers:
		return c.Layers
	case SizeBottleneck:
		return c.Bottleneck
	case SizePrefixLen:
		return c.PrefixLen
	case SizeIntrinsicDim:
		return c.IntrinsicDim
	}
	return 0
}

// WithSize returns c with its method's size knob set to n (unchanged for a method without one).
func (c Config) WithSize(n int) Config {
	s, _ := LookupMethod(c.Method)
	switch s.Size {
	case SizeRank:
		c.Rank = n
	case SizeLayers:
		c.Layers = n
	case SizeBottleneck:
		c.Bottleneck = n
	case SizePrefixLen:
		c.PrefixLen = n
	case SizeIntrinsicDim:
		c.IntrinsicDim = n
	}
	return c
}

// usesLoRA reports whether the method trains LoRA's A and B (its rank, alpha, targets, init, dropout and lr_ratio_b apply).
func usesLoRA(method string) bool { return method == MethodLoRA || method == MethodDoRA }

// UsesLoRA reports whether method reads LoRA's settings (alpha, rslora, targets, init, dropout, lr_ratio_b).
func UsesLoRA(method string) bool { return usesLoRA(method) }

// validateMethod checks c.Method and the settings it reads.
func (c Config) validateMethod(m *model.Model, bad func(field, format string, args ...any)) {
	spec, ok := LookupMethod(c.Method)
	if !ok {
		bad("method", "must be one of %s, got %q", strings.Join(MethodNames(), ", "), c.Method)
		return
	}
	if spec.validate != nil {
		spec.validate(c, m, bad)
	}
	if c.PrefixProjection && c.Method != MethodPrefixLayer {
		bad("prefix_projection", "reparametrises prefix-layer's prefix through an MLP; %s has none (leave it off)", c.Method)
	}
	if c.LRRatioB != 0 {
		switch {
		case !usesLoRA(c.Method):
			bad("lr_ratio_b", "LoRA+ sets lora_B's learning rate; %s has no B (leave it 0)", c.Method)
		case !finite(c.LRRatioB) || c.LRRatioB < 0 || c.LRRatioB > 1024:
			bad("lr_ratio_b", "must be between 0 (off) and 1024, got %g (LoRA+ suggests 2 to 16)", c.LRRatioB)
		}
	}
}

// validateLoRA checks LoRA's and DoRA's settings: targets, rank, alpha, dropout, init.
func validateLoRA(c Config, m *model.Model, bad func(field, format string, args ...any)) {
	targets, err := model.ParseTargets(c.Targets)
	if err != nil {
		bad("targets", "%v", err)
	}
	maxRank := 0
	for _, t := range targets {
		in, out := m.Config.Shape(t)
		if r := min(in, out); maxRank == 0 || r < maxRank {
			maxRank = r
		}
	}
	if maxRank == 0 {
		maxRank = min(m.Config.Dim, m.Config.KVDim())
	}
	if c.Rank < 1 || c.Rank > maxRank {
		bad("rank", "must be between 1 and %d (the smaller side of the adapted matrices), got %d", maxRank, c.Rank)
	}
	if !finite(c.Alpha) || c.Alpha <= 0 {
		bad("alpha", "must be a positive number, got %g", c.Alpha)
	} else if s := peft.Scaling(c.Alpha, max(c.Rank, 1), c.RSLoRA); s > MaxScaling {
		div := "r"
		if c.RSLoRA {
			div = "sqrt(r)"
		}
		bad("alpha", "%g gives a scaling alpha/%s of %g, more than %d: every update of B would jump the weights "+
			"(alpha = r to 4r is usual)", c.Alpha, div, s, MaxScaling)
	}
	if !finite(c.Dropout) || c.Dropout < 0 || c.Dropout >= 1 {
		bad("dropout", "must be in [0, 1), got %g", c.Dropout)
	}
	switch peft.LoRAInit(c.Init) {
	case peft.InitKaiming, peft.InitGaussian, "":
	case peft.InitPiSSA:
		if c.Method != MethodLoRA {
			bad("init", "pissa initialises LoRA only (DoRA's magnitudes start from W0's row norms); use kaiming or gaussian")
		}
	default:
		inits := "kaiming, gaussian or pissa"
		if c.Method != MethodLoRA {
			inits = "kaiming or gaussian"
		}
		bad("init", "must be %s, got %q", inits, c.Init)
	}
}

// validateTop checks top's k against the base's blocks.
func validateTop(c Config, m *model.Model, bad func(field, format string, args ...any)) {
	if c.Layers < 1 || c.Layers > m.Config.NLayers {
		bad("layers", "must be between 1 and %d (the base's blocks), got %d", m.Config.NLayers, c.Layers)
	}
}

// validateIntrinsic checks intrinsic's d against the base's parameter count.
func validateIntrinsic(c Config, m *model.Model, bad func(field, format string, args ...any)) {
	if n := m.NumParams(); c.IntrinsicDim < 1 || c.IntrinsicDim > n {
		bad(SizeIntrinsicDim, "must be between 1 and %d (the base's parameters), got %d", n, c.IntrinsicDim)
	}
}

// validateBottleneck checks the adapters' width against the model's.
func validateBottleneck(c Config, m *model.Model, bad func(field, format string, args ...any)) {
	if c.Bottleneck < 1 || c.Bottleneck > m.Config.Dim {
		bad("bottleneck", "must be between 1 and %d (the model's width), got %d", m.Config.Dim, c.Bottleneck)
	}
}

// validatePrefix checks l_p against the context (the examples must fit in what it leaves: New checks them).
func validatePrefix(c Config, m *model.Model, bad func(field, format string, args ...any)) {
	if c.PrefixLen < 1 || c.PrefixLen >= m.Config.SeqLen {
		bad("prefix_len", "must be between 1 and %d (the context, %d, less one token), got %d", m.Config.SeqLen-1, m.Config.SeqLen, c.PrefixLen)
	}
}

// validateTokens checks that a tokens run has rows to train (an empty train_tokens means auto: New sets it).
func validateTokens(c Config, _ *model.Model, bad func(field, format string, args ...any)) {
	if c.TrainTokens == TokensNone {
		bad("train_tokens", "none with method %s, which trains token rows alone: choose them (auto, all-in-data, "+
			"chars:CHARACTERS or ids:ID,...), or leave it empty for auto", MethodTokens)
	}
}

// loraConfig is the run's LoRA (or DoRA) settings; c is validated.
func (c Config) loraConfig() peft.LoRAConfig {
	targets, _ := model.ParseTargets(c.Targets)
	init := peft.LoRAInit(c.Init)
	if init == "" {
		init = peft.InitKaiming
	}
	return peft.LoRAConfig{Rank: c.Rank, Alpha: c.Alpha, RSLoRA: c.RSLoRA, Init: init, Dropout: c.Dropout, Targets: targets}
}

// sizeField is the field an attach error is reported under: the size knob, else the method.
func (s MethodSpec) sizeField() string {
	if s.Size != "" {
		return s.Size
	}
	return "method"
}

// forFingerprint zeroes the settings c's method does not read, so that a snapshot matches its run whatever they
// hold (and a LoRA run's fingerprint is what it was before these settings existed).
func (c Config) forFingerprint() Config {
	s, _ := LookupMethod(c.Method)
	if s.Size != SizeLayers {
		c.Layers = 0
	}
	if s.Size != SizeBottleneck {
		c.Bottleneck = 0
	}
	if s.Size != SizePrefixLen {
		c.PrefixLen = 0
	}
	if s.Size != SizeIntrinsicDim {
		c.IntrinsicDim = 0
	}
	if !usesLoRA(c.Method) {
		c.LRRatioB = 0
	}
	if c.Method != MethodPrefixLayer {
		c.PrefixProjection = false
	}
	return c
}

// MergeWhyNot says why a method that does not merge cannot (for messages).
func MergeWhyNot(method string) string {
	switch method {
	case MethodAdapterH, MethodAdapterL:
		return "an adapter is a nonlinear layer of its own, which no weight of a Llama checkpoint can hold; it adds its latency at inference"
	case MethodPrefixEmbed, MethodPrefixLayer:
		return "its prefix is extra positions, which no weight of a Llama checkpoint can hold (it takes l_p positions of the context)"
	case MethodFull, MethodTop:
		return "it trains the base weights themselves, which already are the fine-tuned model"
	case MethodBitFit:
		return "its biases have no place in a bias-free Llama checkpoint (its norm gains are base weights already)"
	case MethodFrozen:
		return "it trains nothing"
	}
	return "it adds computation that no weight of the base can hold"
}

// ---------------------------------------------------------------- what a run reports

// MethodSettings are the settings that describe a run's method, as Info and Result report them (the fields each
// method has: rank and targets for LoRA and DoRA, layers for top, ...; the others are omitted).
type MethodSettings struct {
	Size       int      `json:"size"`                        // the value of the method's size knob (0 when it has none)
	SizeName   string   `json:"size_name,omitempty"`         // which knob: rank, layers, bottleneck, prefix_len
	Rank       int      `json:"rank,omitempty"`              // lora, dora
	Alpha      float32  `json:"alpha,omitempty"`             // lora, dora: scaling alpha/r (alpha/sqrt(r) with rsLoRA)
	Targets    []string `json:"targets,omitempty"`           // the linear layers a method acts on: lora, dora, bitfit, ia3
	Init       string   `json:"init,omitempty"`              // lora, dora: how A (and B) start
	LRRatioB   float32  `json:"lr_ratio_b,omitempty"`        // lora, dora: LoRA+'s ratio of B's learning rate to A's
	Layers     int      `json:"layers,omitempty"`            // top: the last k blocks trained
	Bottleneck int      `json:"bottleneck,omitempty"`        // adapter-h, adapter-l
	PrefixLen  int      `json:"prefix_len,omitempty"`        // prefix-embed, prefix-layer: l_p
	Projection bool     `json:"prefix_projection,omitempty"` // prefix-layer: trained through Li & Liang's MLP
}

// settings describes the method of c (validated) on m.
func (c Config) settings() MethodSettings {
	spec, _ := LookupMethod(c.Method)
	ms := MethodSettings{Size: c.Size(), SizeName: spec.Size}
	switch c.Method {
	case MethodLoRA, MethodDoRA:
		lc := c.loraConfig()
		ms.Rank, ms.Alpha, ms.Init, ms.LRRatioB = c.Rank, c.Alpha, string(lc.Init), c.LRRatioB
		for _, t := range lc.Targets {
			ms.Targets = append(ms.Targets, t.String())
		}
	case MethodBitFit:
		for _, t := range model.AllTargets() {
			ms.Targets = append(ms.Targets, t.String())
		}
	case MethodIA3:
		for _, t := range peft.IA3Targets {
			ms.Targets = append(ms.Targets, t.String())
		}
	case MethodTop:
		ms.Layers = c.Layers
	case MethodAdapterH, MethodAdapterL:
		ms.Bottleneck = c.Bottleneck
	case MethodPrefixEmbed, MethodPrefixLayer:
		ms.PrefixLen, ms.Projection = c.PrefixLen, c.PrefixProjection
	}
	return ms
}

// ---------------------------------------------------------------- a method that comes with the base

// importedMethod returns the method attached to base (an adapter read from files), or nil.
func importedMethod(base *model.Model) (peft.Method, error) {
	var ms []model.Method
	for _, meth := range base.Methods() {
		if _, rows := meth.(*peft.Tokens); !rows { // token rows go beside the adapter (Session.addTokens)
			ms = append(ms, meth)
		}
	}
	switch {
	case len(ms) == 0:
		return nil, nil
	case len(ms) > 1:
		return nil, fmt.Errorf("train: the base carries %d methods; a run takes one", len(ms))
	}
	pm, ok := ms[0].(peft.Method)
	if !ok {
		return nil, fmt.Errorf("train: the base carries a %s method that a run cannot take over", ms[0].Name())
	}
	return pm, nil
}

// withImported sets c's method settings from a method the base carries: a run continues training it (c.Method is
// its name) or evaluates it (c.Method is frozen).
func (c Config) withImported(imp peft.Method) (Config, error) {
	name := imp.Name()
	if c.Method != MethodFrozen && c.Method != name {
		reason := fmt.Sprintf("the base carries a %s adapter: continue training it with method %s, or evaluate it with frozen", name, name)
		if c.Method == MethodFull {
			reason += " (full fine-tuning needs a plain base: merge the adapter first)"
		}
		return c, &FieldError{Field: "method", Reason: reason}
	}
	switch im := imp.(type) {
	case *peft.DoRA:
		c = c.withLoRA(im.LoRAConfig)
	case *peft.LoRA:
		c = c.withLoRA(im.LoRAConfig)
	case *peft.AdapterH:
		c.Bottleneck = im.Width
	case *peft.AdapterL:
		c.Bottleneck = im.Width
	case *peft.PrefixEmbed:
		c.PrefixLen = im.Len
	case *peft.PrefixLayer:
		if im.Projection {
			return c, fmt.Errorf("train: a prefix-layer adapter still in its projection form cannot be carried into a run")
		}
		c.PrefixLen, c.PrefixProjection = im.Len, false
	case *peft.BitFit, *peft.IA3:
	default:
		return c, fmt.Errorf("train: a run cannot take over a %s adapter", name)
	}
	return c, nil
}

func (c Config) withLoRA(lc peft.LoRAConfig) Config {
	c.Rank, c.Alpha, c.RSLoRA, c.Dropout, c.Init = lc.Rank, lc.Alpha, lc.RSLoRA, lc.Dropout, string(lc.Init)
	c.Targets = nil
	for _, t := range lc.Targets {
		c.Targets = append(c.Targets, t.String())
	}
	return c
}

// reattach puts a copy of imp, with its values, on m (a fresh copy of the base imp came on).
func reattach(m *model.Model, imp peft.Method) error {
	var meth model.Method
	var err error
	switch im := imp.(type) {
	case *peft.DoRA:
		meth, err = peft.AddDoRA(m, im.LoRAConfig, nil)
	case *peft.LoRA:
		meth, err = peft.AddLoRA(m, im.LoRAConfig, nil)
	case *peft.BitFit:
		meth, err = peft.AddBitFit(m, peft.BitFitConfig{Targets: im.Targets})
	case *peft.IA3:
		meth, err = peft.AddIA3(m)
	case *peft.AdapterH:
		meth, err = peft.AddAdapterH(m, peft.AdapterHConfig{Width: im.Width, FrozenNorms: !im.TrainsBase("model.layers.0.input_layernorm.weight")}, nil)
	case *peft.AdapterL:
		meth, err = peft.AddAdapterL(m, peft.AdapterLConfig{Width: im.Width}, nil)
	case *peft.PrefixEmbed:
		meth, err = peft.AddPrefixEmbed(m, peft.PrefixEmbedConfig{Len: im.Len}, nil)
	case *peft.PrefixLayer:
		meth, err = peft.AddPrefixLayer(m, peft.PrefixLayerConfig{Len: im.Len}, nil)
	default:
		return fmt.Errorf("train: a run cannot take over a %s adapter", imp.Name())
	}
	if err != nil {
		return err
	}
	if len(meth.Params()) != len(imp.Params()) {
		return errors.New("train: the carried adapter changed size when copied")
	}
	copy(meth.Params(), imp.Params())
	return nil
}

// loraPlusSpans are the spans of the run's trainable vector that LoRA+ trains at lr_ratio_b x the rate: as PEFT's
// create_loraplus_optimizer groups them, every lora_B and every one-dimensional tensor (DoRA's magnitudes).
func loraPlusSpans(m *model.Model, tr model.Trainable) [][2]int {
	var spans [][2]int
	off := tr.BaseLen
	for _, meth := range m.Methods() {
		if pm, ok := meth.(peft.Method); ok {
			for _, t := range pm.Tensors() {
				if strings.HasSuffix(t.Name, ".lora_B") || len(t.Shape) == 1 {
					spans = append(spans, [2]int{off + t.Off, off + t.Off + t.Len()})
				}
			}
		}
		off += len(meth.Params())
	}
	return spans
}

// CheckExport reports, before a run of c on m starts, whether its result can be written as files (ExportFiles): a
// PiSSA adapter of rank r is written as the plain LoRA of rank 2r on the base, which must fit the adapted matrices.
func (c Config) CheckExport(m *model.Model) error {
	if c.Method != MethodLoRA || c.Init != string(peft.InitPiSSA) {
		return nil
	}
	targets, err := model.ParseTargets(c.Targets)
	if err != nil {
		return &FieldError{Field: "targets", Reason: err.Error()}
	}
	for _, t := range targets {
		in, out := m.Config.Shape(t)
		if 2*c.Rank > min(in, out) {
			return &FieldError{Field: "rank", Reason: fmt.Sprintf("a PiSSA adapter of rank %d is written as a plain LoRA of rank %d "+
				"on the base, more than %s's smaller side (%d): use a rank of at most %d to keep the files", c.Rank, 2*c.Rank,
				t.ProjName(), min(in, out), min(in, out)/2)}
		}
	}
	return nil
}
