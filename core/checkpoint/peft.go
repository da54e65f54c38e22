// This file holds the PEFT adapter layout: adapter_config.json (AdapterConfig)
// and the tensor keys of adapter_model.safetensors (PEFTKey, ParsePEFTKey).
//
// The field list follows PEFT's own source: PeftConfig (peft_type, task_type,
// base_model_name_or_path, revision, inference_mode, auto_mapping) and LoraConfig
// in src/peft/tuners/lora/config.py (r, target_modules, exclude_modules,
// lora_alpha, lora_dropout, fan_in_fan_out, bias, use_rslora, modules_to_save,
// init_lora_weights, layers_to_transform, layers_pattern, rank_pattern,
// alpha_pattern, megatron_config, megatron_core, loftq_config, use_dora,
// layer_replication), checked against adapter_config.json files that PEFT wrote.
// PEFT saves them with json.dumps(sort_keys=True, indent=2); we write the same
// keys in the same order. Newer PEFT versions add fields; unknown fields are
// accepted on read and dropped.

package checkpoint

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
)

// LoraInit is PEFT's init_lora_weights: JSON true means loralib's Kaiming-uniform
// A (PEFT's default), "gaussian" a Gaussian A with std 1/r, false a random B as
// well; PEFT knows other strings ("pissa", "olora", "loftq", ...), kept verbatim.
type LoraInit string

// The init_lora_weights values golora writes.
const (
	InitKaiming  LoraInit = "true"     // JSON true
	InitGaussian LoraInit = "gaussian" // JSON "gaussian"
	InitFalse    LoraInit = "false"    // JSON false
)

// MarshalJSON writes true/false as JSON booleans and anything else as a string;
// the empty value is PEFT's default, true.
func (l LoraInit) MarshalJSON() ([]byte, error) {
	switch l {
	case InitKaiming, "":
		return []byte("true"), nil
	case InitFalse:
		return []byte("false"), nil
	}
	return json.Marshal(string(l))
}

// UnmarshalJSON accepts a JSON boolean or a string other than "true"/"false".
func (l *LoraInit) UnmarshalJSON(b []byte) error {
	var v bool
	if err := json.Unmarshal(b, &v); err == nil {
		*l = InitFalse
		if v {
			*l = InitKaiming
		}
		return nil
	}
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return errors.New("init_lora_weights must be a boolean or a string")
	}
	if s == "" || s == string(InitKaiming) || s == string(InitFalse) {
		return fmt.Errorf("init_lora_weights %q: write the boolean, not a string", s)
	}
	*l = LoraInit(s)
	return nil
}

// AdapterConfig is adapter_config.json for a LoRA adapter, as PEFT reads it.
// Fields are in PEFT's (alphabetical) order so the JSON matches what PEFT writes.
type AdapterConfig struct {
	AlphaPattern        map[string]float64 `json:"alpha_pattern"`               // per-module alpha overrides; {} from golora
	AutoMapping         json.RawMessage    `json:"auto_mapping"`                // null
	BaseModelNameOrPath string             `json:"base_model_name_or_path"`     // the base checkpoint the adapter was trained on
	Bias                string             `json:"bias"`                        // "none", "all" or "lora_only"; golora has no biases: "none"
	ExcludeModules      json.RawMessage    `json:"exclude_modules,omitempty"`   // omitted unless read: older PEFT rejects unknown keys
	FanInFanOut         bool               `json:"fan_in_fan_out"`              // false: weights are (out, in)
	InferenceMode       bool               `json:"inference_mode"`              // true once saved for use
	InitLoraWeights     LoraInit           `json:"init_lora_weights"`           // InitKaiming or InitGaussian
	LayerReplication    json.RawMessage    `json:"layer_replication,omitempty"` // omitted unless read: older PEFT rejects unknown keys
	LayersPattern       json.RawMessage    `json:"layers_pattern"`              // null
	LayersToTransform   json.RawMessage    `json:"layers_to_transform"`         // null: every layer
	LoftQConfig         json.RawMessage    `json:"loftq_config"`                // {}
	LoraAlpha           float64            `json:"lora_alpha"`                  // alpha: scaling alpha/r (alpha/sqrt(r) with rsLoRA)
	LoraDropout         float64            `json:"lora_dropout"`                // dropout on the adapter input, in [0, 1)
	MegatronConfig      json.RawMessage    `json:"megatron_config"`             // null
	MegatronCore        string             `json:"megatron_core"`               // "megatron.core", PEFT's default
	ModulesToSave       []string           `json:"modules_to_save"`             // null: no fully trained modules
	PEFTType            string             `json:"peft_type"`                   // "LORA"
	R                   int                `json:"r"`                           // rank
	RankPattern         map[string]int     `json:"rank_pattern"`                // per-module rank overrides; {} from golora
	Revision            *string            `json:"revision"`                    // null
	TargetModules       []string           `json:"target_modules"`              // e.g. "q_proj", "v_proj"
	TaskType            string             `json:"task_type"`                   // "CAUSAL_LM"

	// trainable_token_indices: the token rows trained beside LoRA (TokenIndices), omitted without them.
	TrainableTokenIndices json.RawMessage `json:"trainable_token_indices,omitempty"`

	UseDoRA   bool `json:"use_dora"`   // false
	UseRSLoRA bool `json:"use_rslora"` // scaling alpha/sqrt(r) instead of alpha/r
}

// NewAdapterConfig returns the config golora writes for a LoRA adapter on a
// causal language model, with PEFT's defaults for everything else.
func NewAdapterConfig(base string, r int, alpha, dropout float64, targets []string, rsLoRA bool, init LoraInit) AdapterConfig {
	return AdapterConfig{
		AlphaPattern:        map[string]float64{},
		BaseModelNameOrPath: base,
		Bias:                "none",
		InferenceMode:       true,
		InitLoraWeights:     init,
		LoraAlpha:           alpha,
		LoraDropout:         dropout,
		MegatronCore:        "megatron.core",
		PEFTType:            "LORA",
		R:                   r,
		RankPattern:         map[string]int{},
		TargetModules:       append([]string(nil), targets...),
		TaskType:            "CAUSAL_LM",
		UseRSLoRA:           rsLoRA,
	}
}

// Validate checks what golora relies on: a LoRA adapter with r >= 1, a finite
// alpha > 0, dropout in [0, 1), at least one non-empty target module and a bias
// value PEFT knows. Fields golora cannot apply (use_dora, rank_pattern, ...) are
// left for the caller to reject.
func (c AdapterConfig) Validate() error {
	switch {
	case c.PEFTType != "LORA":
		return fmt.Errorf("peft_type %q is not LORA", c.PEFTType)
	case c.R < 1:
		return fmt.Errorf("r = %d, need r >= 1", c.R)
	case !(c.LoraAlpha > 0) || math.IsInf(c.LoraAlpha, 0):
		return fmt.Errorf("lora_alpha = %v, need a finite alpha > 0", c.LoraAlpha)
	case !(c.LoraDropout >= 0 && c.LoraDropout < 1):
		return fmt.Errorf("lora_dropout = %v, need 0 <= dropout < 1", c.LoraDropout)
	case len(c.TargetModules) == 0:
		return errors.New("target_modules is empty")
	}
	for _, m := range c.TargetModules {
		if m == "" {
			return errors.New("target_modules holds an empty name")
		}
	}
	switch c.Bias {
	case "none", "all", "lora_only":
	default:
		return fmt.Errorf("bias %q is not one of none, all, lora_only", c.Bias)
	}
	return nil
}

// WriteAdapterConfig validates c and writes it as PEFT does: sorted keys,
// two-space indentation. Nil maps are written as {} and unset raw fields as
// PEFT's defaults (null, loftq_config {}).
func WriteAdapterConfig(w io.Writer, c AdapterConfig) error {
	if err := c.Validate(); err != nil {
		return fmt.Errorf("checkpoint: write adapter config: %w", err)
	}
	if c.AlphaPattern == nil {
		c.AlphaPattern = map[string]float64{}
	}
	if c.RankPattern == nil {
		c.RankPattern = map[string]int{}
	}
	null := json.RawMessage("null")
	for _, f := range []*json.RawMessage{&c.AutoMapping, &c.LayersPattern, &c.LayersToTransform, &c.MegatronConfig} {
		if len(*f) == 0 {
			*f = null
		}
	}
	if len(c.LoftQConfig) == 0 {
		c.LoftQConfig = json.RawMessage("{}")
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(c); err != nil {
		return fmt.Errorf("checkpoint: write adapter config: %w", err)
	}
	if _, err := w.Write(buf.Bytes()); err != nil {
		return fmt.Errorf("checkpoint: write adapter config: %w", err)
	}
	return nil
}

// maxConfigBytes bounds adapter_config.json; real ones are about 1 KB.
const maxConfigBytes = 1 << 20

// ReadAdapterConfig reads adapter_config.json and validates it (see Validate).
// A missing init_lora_weights means PEFT's default, InitKaiming. name is the file
// name used in errors.
func ReadAdapterConfig(r io.Reader, name string) (AdapterConfig, error) {
	fail := func(format string, args ...any) error {
		return fmt.Errorf("checkpoint %s: "+format, append([]any{name}, args...)...)
	}
	data, err := io.ReadAll(io.LimitReader(r, maxConfigBytes+1))
	if err != nil {
		return AdapterConfig{}, fail("%w", err)
	}
	if len(data) > maxConfigBytes {
		return AdapterConfig{}, fail("larger than %d bytes", maxConfigBytes)
	}
	var c AdapterConfig
	if err := json.Unmarshal(data, &c); err != nil {
		var typeErr *json.UnmarshalTypeError
		if errors.As(err, &typeErr) && typeErr.Field == "target_modules" {
			return AdapterConfig{}, fail("target_modules must be a list of module names (a regular expression string is not supported)")
		}
		return AdapterConfig{}, fail("invalid JSON: %w", err)
	}
	if c.InitLoraWeights == "" {
		c.InitLoraWeights = InitKaiming
	}
	if err := c.Validate(); err != nil {
		return AdapterConfig{}, fail("%w", err)
	}
	return c, nil
}

// PEFT's key layout in adapter_model.safetensors: A is (r, in), B is (out, r).
const (
	peftPrefix = "base_model.model."
	peftA      = ".lora_A.weight"
	peftB      = ".lora_B.weight"
)

// PEFTKey returns the adapter_model.safetensors key of a module's A or B matrix,
// e.g. PEFTKey("model.layers.0.self_attn.q_proj", "A") =
// "base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight". It panics if
// which is not "A" or "B" (a programmer error).
func PEFTKey(module string, which string) string {
	if which != "A" && which != "B" {
		panic(fmt.Sprintf("checkpoint: PEFTKey which = %q, want \"A\" or \"B\"", which))
	}
	return peftPrefix + module + ".lora_" + which + ".weight"
}

// ParsePEFTKey splits an adapter_model.safetensors key into its module path and
// "A" or "B".
func ParsePEFTKey(key string) (module, which string, err error) {
	rest, ok := strings.CutPrefix(key, peftPrefix)
	if !ok {
		return "", "", fmt.Errorf("checkpoint: PEFT key %q does not start with %q", key, peftPrefix)
	}
	switch {
	case strings.HasSuffix(rest, peftA):
		module, which = strings.TrimSuffix(rest, peftA), "A"
	case strings.HasSuffix(rest, peftB):
		module, which = strings.TrimSuffix(rest, peftB), "B"
	default:
		return "", "", fmt.Errorf("checkpoint: PEFT key %q does not end with %q or %q", key, peftA, peftB)
	}
	if module == "" || strings.HasPrefix(module, ".") || strings.HasSuffix(module, ".") || strings.Contains(module, "..") {
		return "", "", fmt.Errorf("checkpoint: PEFT key %q has an invalid module path %q", key, module)
	}
	return module, which, nil
}

// PEFTTokensParam ends the key of a module's trainable token rows: PEFT's TrainableTokensWrapper saves its
// token_adapter's trainable_tokens_delta (K, C), the rows themselves (not a difference), in the order of the
// config's trainable_token_indices (src/peft/utils/other.py, adapter_state_dict).
const PEFTTokensParam = ".token_adapter.trainable_tokens_delta"

// The modules whose rows train: the input embedding, and an untied classifier (in PEFT's dict form).
const (
	TokensEmbedModule = "model.embed_tokens"
	TokensHeadModule  = "lm_head"
)

// PEFTTokensKey is the adapter_model.safetensors key of a module's token rows, e.g.
// "base_model.model.model.embed_tokens.token_adapter.trainable_tokens_delta".
func PEFTTokensKey(module string) string { return peftPrefix + module + PEFTTokensParam }

// TokenIndices reads trainable_token_indices: a list (the input embedding's rows, PEFT's list form) or an object
// of module name to list (PEFT's dict form; golora knows embed_tokens and lm_head, matched by their last name).
// It returns nil lists when the field is absent or null. The ids themselves are checked against a base by the caller.
func (c AdapterConfig) TokenIndices() (embed, head []int, err error) {
	raw := bytes.TrimSpace(c.TrainableTokenIndices)
	if len(raw) == 0 || string(raw) == "null" {
		return nil, nil, nil
	}
	if raw[0] == '[' {
		if err := json.Unmarshal(raw, &embed); err != nil {
			return nil, nil, fmt.Errorf("trainable_token_indices: %w", err)
		}
		return embed, nil, nil
	}
	var byModule map[string][]int
	if err := json.Unmarshal(raw, &byModule); err != nil {
		return nil, nil, errors.New("trainable_token_indices must be a list of token ids or an object of module name to such lists")
	}
	for name, ids := range byModule {
		switch {
		case name == "embed_tokens" || strings.HasSuffix(name, ".embed_tokens"):
			embed = ids
		case name == "lm_head" || strings.HasSuffix(name, ".lm_head"):
			head = ids
		default:
			return nil, nil, fmt.Errorf("trainable_token_indices: module %q is neither embed_tokens nor lm_head", name)
		}
	}
	return embed, head, nil
}

// TargetModules lists the Llama projections LoRA can target, in model order, with
// the block that holds each.
var TargetModules = []struct{ Name, Block string }{
	{"q_proj", "self_attn"}, {"k_proj", "self_attn"}, {"v_proj", "self_attn"}, {"o_proj", "self_attn"},
	{"gate_proj", "mlp"}, {"up_proj", "mlp"}, {"down_proj", "mlp"},
}

// ModulePath returns the Hugging Face Llama module path of a projection in a
// layer, e.g. ModulePath(3, "gate_proj") = "model.layers.3.mlp.gate_proj".
func ModulePath(layer int, target string) (string, error) {
	if layer < 0 {
		return "", fmt.Errorf("checkpoint: layer %d is negative", layer)
	}
	for _, t := range TargetModules {
		if t.Name == target {
			return "model.layers." + strconv.Itoa(layer) + "." + t.Block + "." + target, nil
		}
	}
	return "", fmt.Errorf("checkpoint: unknown target module %q (want one of q_proj, k_proj, v_proj, o_proj, gate_proj, up_proj, down_proj)", target)
}
