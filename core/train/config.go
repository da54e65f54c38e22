// Config: one fine-tuning run's settings, with literal defaults and a validation that names each bad field.
package train

import (
	"errors"
	"fmt"
	"math"
	"strings"

	"golora/core/data"
	"golora/core/model"
	"golora/core/peft"
)

// Methods a run can use.
const (
	MethodLoRA   = "lora"   // train adapters only; the base is frozen
	MethodFull   = "full"   // train every weight (the baseline LoRA is measured against)
	MethodFrozen = "frozen" // train nothing: the base model's own score, for reference
)

// Config is everything one fine-tuning run needs besides the base model.
type Config struct {
	// What to learn.
	Task       string         // "e2e", "cipher", "facts", or "custom" (Custom* below)
	TaskSeed   uint64         // seeds the generated task's examples (1)
	Difficulty int            // cipher: letters substituted (0 = the task's default)
	Facts      int            // facts: how many facts (0 = the task's default)
	Custom     []data.Example // custom: the user's examples, split 80/10/10 unless CustomVal/CustomTest are given
	CustomVal  []data.Example
	CustomTest []data.Example

	// How to learn it.
	Method  string   // one of Methods() (methods.go): lora, dora, full, frozen, top, bitfit, ia3, ...
	Rank    int      // LoRA (and DoRA) r
	Alpha   float32  // LoRA alpha; scaling = Alpha/Rank (or Alpha/sqrt(Rank) with RSLoRA)
	RSLoRA  bool     // rank-stabilised scaling
	Targets []string // adapted matrices: some of q k v o gate up down
	Init    string   // A's init: "kaiming" (loralib), "gaussian" (the paper) or "pissa" (A and B from W0's SVD)
	Dropout float32  // LoRA dropout on the adapter input
	// The other methods' size knobs and LoRA+ (omitted from the fingerprint's JSON when zero: forFingerprint).
	Layers     int     `json:",omitempty"` // top: how many of the last blocks train (k)
	Bottleneck int     `json:",omitempty"` // adapter-h, adapter-l: the bottleneck width
	PrefixLen  int     `json:",omitempty"` // prefix-embed, prefix-layer: l_p, the trained positions
	LRRatioB   float32 `json:",omitempty"` // LoRA+: lora_B's learning rate over A's (PEFT's loraplus_lr_ratio; 0 = off)
	// IntrinsicDim is intrinsic's d: the dimension of the random subspace θ0 + P z it trains in (z's length).
	IntrinsicDim int `json:",omitempty"`
	// PrefixProjection trains prefix-layer's prefix through an MLP (Li & Liang's reparametrisation, PEFT's prefix_projection).
	PrefixProjection bool `json:",omitempty"`
	// TrainTokens trains embedding rows beside the adapters (peft.Tokens, PEFT's trainable_token_indices):
	// "" or "none", "auto", "all-in-data", "chars:CHARACTERS" or "ids:ID,ID,..." (ChooseTokens).
	TrainTokens string `json:",omitempty"` // omitted when empty, so that the fingerprints of older runs stay valid
	// TokensLR is the token rows' peak learning rate (0: the run's LR); the schedule scales it as it scales LR.
	TokensLR float32 `json:",omitempty"`

	// Optimisation.
	LR          float32 // peak learning rate
	Steps       int     // optimizer steps
	Batch       int     // sequences per step
	Warmup      int     // linear warmup steps
	WeightDecay float32 // AdamW decoupled weight decay
	Clip        float32 // global gradient-norm clip (0 = off)
	Seed        uint64  // adapter init, batch order and dropout
	// Shards splits each step's batch into this many parts (its rows sorted
	// by length, then cut where the parts' padded sizes balance), whose
	// gradients are computed independently and added in order. A batch of
	// fewer rows is split one row per part (New records the parts it uses).
	// The page computes the parts in as many Web Workers at once; because the
	// split is part of the run's definition, a run gives the same bits on one
	// worker, on several, and natively.
	Shards int

	// Evaluation.
	EvalEvery int // evaluate every this many steps in Run (0 = only at the end)
	EvalLimit int // test examples decoded for accuracy (0 = the whole test split)
}

// DefaultConfig is the run the README and the page start with: e2e, LoRA r=4 on q,v.
func DefaultConfig() Config {
	c := Config{
		Task:      "e2e",
		TaskSeed:  1,
		Method:    MethodLoRA,
		Rank:      4,                  // the paper's sweet spot on E2E with GPT-2
		Alpha:     16,                 // scaling 4: on the shipped base e2e learns faster than with alpha = 2r
		Targets:   []string{"q", "v"}, // the paper's choice
		Init:      string(peft.InitKaiming),
		LR:        DefaultLR(MethodLoRA),
		Steps:     400, // LoRA r=4 passes 90% exact match on e2e by then (README)
		Batch:     16,  // sequences per step
		Warmup:    20,  // steps
		Clip:      1,   // protects the first steps of full fine-tuning
		Seed:      1,
		Shards:    2, // the page trains on two workers
		EvalEvery: 100,
	}
	// The other methods' size knobs, at the middle of their ladders (methods.go).
	c.Layers = 2     // top: the paper's FT-Top2
	c.Bottleneck = 8 // adapter-h, adapter-l
	c.PrefixLen = 4  // prefix-embed, prefix-layer

	c.IntrinsicDim = 10000 // intrinsic: d where it reached 99.5% on e2e (LoRA r=8 on q,v trains 10,752)
	return c
}

// MaxScaling bounds LoRA's scaling alpha/r (alpha/sqrt(r) with rsLoRA): an
// AdamW step moves each entry of B by about the learning rate, so the weights
// move by about scaling times that; published recipes use 0.25 to 16.
const MaxScaling = 64

// FieldError is one invalid setting, by the name the CLI flag and the page use.
type FieldError struct {
	Field  string
	Reason string
}

func (e *FieldError) Error() string { return e.Field + ": " + e.Reason }

// FieldErrors lists the fields err (from Validate or New) complains about.
func FieldErrors(err error) []*FieldError {
	var out []*FieldError
	var walk func(error)
	walk = func(e error) {
		if e == nil {
			return
		}
		var fe *FieldError
		if errors.As(e, &fe) && fe == e {
			out = append(out, fe)
			return
		}
		if j, ok := e.(interface{ Unwrap() []error }); ok {
			for _, x := range j.Unwrap() {
				walk(x)
			}
			return
		}
		if errors.As(e, &fe) {
			out = append(out, fe)
		}
	}
	walk(err)
	return out
}

func finite(x float32) bool { return !math.IsNaN(float64(x)) && !math.IsInf(float64(x), 0) }

// Validate checks c against the base model m and returns every invalid field
// (joined), or nil.
func (c Config) Validate(m *model.Model) error {
	var errs []error
	bad := func(field, format string, args ...any) {
		errs = append(errs, &FieldError{Field: field, Reason: fmt.Sprintf(format, args...)})
	}
	switch c.Task {
	case "custom":
		if len(c.Custom) == 0 {
			bad("task", "custom data has no examples")
		}
	case "":
		bad("task", "empty (want one of %s or custom)", strings.Join(data.TaskNames(), ", "))
	default:
		if _, err := data.DefaultTaskConfig(c.Task); err != nil {
			bad("task", "unknown task %q (want one of %s or custom)", c.Task, strings.Join(data.TaskNames(), ", "))
		}
	}
	if c.Difficulty < 0 || c.Difficulty > 26 {
		bad("difficulty", "must be 1..26 letters, got %d", c.Difficulty)
	}
	if c.Facts < 0 {
		bad("facts", "must be positive, got %d", c.Facts)
	}
	c.validateMethod(m, bad) // the method and the settings it reads (methods.go)
	if err := CheckTokensSpec(c.TrainTokens); err != nil {
		bad("train_tokens", "%v", err)
	} else if c.TrainTokens != "" && c.TrainTokens != TokensNone && (c.Method == MethodFull || c.Method == MethodFrozen) {
		why := "full fine-tuning trains every row already"
		if c.Method == MethodFrozen {
			why = "a frozen run trains nothing"
		}
		bad("train_tokens", "%q with method %s: %s (token rows go beside LoRA)", c.TrainTokens, c.Method, why)
	}
	if !finite(c.TokensLR) || c.TokensLR < 0 || c.TokensLR > 1 {
		bad("tokens_lr", "must be between 0 (the run's lr) and 1, got %g", c.TokensLR)
	}
	if c.Method != MethodFrozen {
		if !finite(c.LR) || c.LR <= 0 {
			bad("lr", "must be a positive number, got %g", c.LR)
		} else if c.LR > 1 {
			bad("lr", "%g is far too large (training would diverge); %s's default is %g", c.LR, c.Method, DefaultLR(c.Method))
		}
		if c.Steps < 1 || c.Steps > 1_000_000 {
			bad("steps", "must be between 1 and 1000000, got %d", c.Steps)
		}
		if c.Warmup < 0 || (c.Steps > 0 && c.Warmup > c.Steps) {
			bad("warmup", "must be between 0 and steps (%d): a longer warmup never reaches the peak learning rate, got %d", c.Steps, c.Warmup)
		}
	}
	if c.Batch < 1 || c.Batch > 512 {
		bad("batch", "must be between 1 and 512, got %d", c.Batch)
	}
	if c.Shards < 1 || c.Shards > 512 {
		bad("shards", "must be between 1 and 512, got %d", c.Shards)
	}
	if !finite(c.WeightDecay) || c.WeightDecay < 0 || c.WeightDecay >= 1 {
		bad("weight_decay", "must be in [0, 1), got %g", c.WeightDecay)
	}
	if !finite(c.Clip) || c.Clip < 0 {
		bad("clip", "must be >= 0 (0 turns clipping off), got %g", c.Clip)
	}
	if c.EvalEvery < 0 {
		bad("eval_every", "must be >= 0, got %d", c.EvalEvery)
	}
	if c.EvalLimit < 0 {
		bad("eval_limit", "must be >= 0, got %d", c.EvalLimit)
	}
	return errors.Join(errs...)
}
