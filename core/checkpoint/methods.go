// This file holds the adapter formats besides plain LoRA: the PEFT ones (DoRA's magnitude key, (IA)³'s config and
// key) and golora's own, for methods PEFT has no format for (golora_adapter.json beside the tensors).
//
// PEFT's names, from its source (src/peft): get_peft_model_state_dict in utils/save_and_load.py drops the adapter
// name from every key and, for DoRA, the ".weight" of lora_magnitude_vector.<adapter>.weight, so DoRA's magnitude is
// saved as base_model.model.<module>.lora_magnitude_vector (out); IA3Layer (tuners/ia3/layer.py) holds ia3_l,
// (out, 1) for a layer whose output it scales and (1, in) for a feedforward one, saved as
// base_model.model.<module>.ia3_l; IA3Config (tuners/ia3/config.py) has target_modules, exclude_modules,
// feedforward_modules, fan_in_fan_out, modules_to_save and init_ia3_weights beside PeftConfig's base_model_name_or_path,
// revision, peft_type, task_type, inference_mode (and PeftConfigMixin's auto_mapping).

package checkpoint

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
)

// PEFT's peft_type values golora reads and writes.
const (
	PEFTTypeLoRA   = "LORA"
	PEFTTypeIA3    = "IA3"
	PEFTTypePrompt = "PROMPT_TUNING"
	PEFTTypePrefix = "PREFIX_TUNING"
)

// ConfigKind tells an adapter's config file apart: PEFT's adapter_config.json (its peft_type) or golora's own
// golora_adapter.json ("golora" and its method). data is the file's bytes; name is used in errors.
func ConfigKind(data []byte, name string) (peftType, goloraMethod string, err error) {
	var head struct {
		PEFTType *string `json:"peft_type"`
		Format   *string `json:"format"`
		Method   string  `json:"method"`
	}
	if err := json.Unmarshal(data, &head); err != nil {
		return "", "", fmt.Errorf("checkpoint %s: invalid JSON: %w", name, err)
	}
	switch {
	case head.PEFTType != nil:
		return *head.PEFTType, "", nil
	case head.Format != nil && *head.Format == GoloraFormat:
		return "", head.Method, nil
	}
	return "", "", fmt.Errorf("checkpoint %s: neither a PEFT adapter config (no peft_type) nor a golora adapter (format %q)", name, GoloraFormat)
}

// readConfigBytes reads at most maxConfigBytes of a config file.
func readConfigBytes(r io.Reader, name string) ([]byte, error) {
	data, err := io.ReadAll(io.LimitReader(r, maxConfigBytes+1))
	if err != nil {
		return nil, fmt.Errorf("checkpoint %s: %w", name, err)
	}
	if len(data) > maxConfigBytes {
		return nil, fmt.Errorf("checkpoint %s: larger than %d bytes", name, maxConfigBytes)
	}
	return data, nil
}

// readConfig reads a PEFT config of type T (within readConfigBytes' limit), decodes its JSON (unknown fields are
// accepted, since newer PEFT adds some, and dropped) and validates it.
func readConfig[T interface{ Validate() error }](r io.Reader, name string) (T, error) {
	var zero, c T
	data, err := readConfigBytes(r, name)
	if err != nil {
		return zero, err
	}
	if err := json.Unmarshal(data, &c); err != nil {
		return zero, fmt.Errorf("checkpoint %s: invalid JSON: %w", name, err)
	}
	if err := c.Validate(); err != nil {
		return zero, fmt.Errorf("checkpoint %s: %w", name, err)
	}
	return c, nil
}

// writeJSON writes v as PEFT writes its configs: sorted keys (the struct's field order), two-space indentation.
func writeJSON(w io.Writer, v any) error {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(v); err != nil {
		return err
	}
	_, err := w.Write(buf.Bytes())
	return err
}

// ---------------------------------------------------------------- DoRA

// peftMagnitude ends DoRA's magnitude keys.
const peftMagnitude = ".lora_magnitude_vector"

// PEFTMagnitudeKey is the key of a module's DoRA magnitude, base_model.model.<module>.lora_magnitude_vector (out).
func PEFTMagnitudeKey(module string) string { return peftPrefix + module + peftMagnitude }

// ---------------------------------------------------------------- (IA)³

// peftIA3 ends (IA)³'s keys.
const peftIA3 = ".ia3_l"

// PEFTIA3Key is the key of a module's (IA)³ vector, base_model.model.<module>.ia3_l.
func PEFTIA3Key(module string) string { return peftPrefix + module + peftIA3 }

// IA3Config is adapter_config.json for an (IA)³ adapter, fields in PEFT's (alphabetical) order.
type IA3Config struct {
	AutoMapping         json.RawMessage `json:"auto_mapping"`              // null
	BaseModelNameOrPath string          `json:"base_model_name_or_path"`   // the base the adapter was trained on
	ExcludeModules      json.RawMessage `json:"exclude_modules,omitempty"` // omitted unless read: older PEFT rejects unknown keys
	FanInFanOut         bool            `json:"fan_in_fan_out"`            // false: weights are (out, in)
	FeedforwardModules  []string        `json:"feedforward_modules"`       // modules whose input is scaled: down_proj
	InferenceMode       bool            `json:"inference_mode"`            // true once saved for use
	InitIA3Weights      bool            `json:"init_ia3_weights"`          // true: the vectors start at 1
	ModulesToSave       []string        `json:"modules_to_save"`           // null
	PEFTType            string          `json:"peft_type"`                 // "IA3"
	Revision            *string         `json:"revision"`                  // null
	TargetModules       []string        `json:"target_modules"`            // k_proj, v_proj, down_proj
	TaskType            string          `json:"task_type"`                 // "CAUSAL_LM"
}

// NewIA3Config is the config golora writes for (IA)³ on a causal language model.
func NewIA3Config(base string, targets, feedforward []string) IA3Config {
	return IA3Config{AutoMapping: json.RawMessage("null"), BaseModelNameOrPath: base, InferenceMode: true, InitIA3Weights: true,
		PEFTType: PEFTTypeIA3, TargetModules: append([]string(nil), targets...),
		FeedforwardModules: append([]string(nil), feedforward...), TaskType: "CAUSAL_LM"}
}

// Validate checks an (IA)³ config: its type, targets, feedforward modules among them, fan_in_fan_out unset and no
// modules_to_save (weights golora cannot place).
func (c IA3Config) Validate() error {
	switch {
	case c.PEFTType != PEFTTypeIA3:
		return fmt.Errorf("peft_type %q is not IA3", c.PEFTType)
	case len(c.TargetModules) == 0:
		return errors.New("target_modules is empty")
	case c.FanInFanOut:
		return errors.New("fan_in_fan_out is set; Llama weights are (out, in)")
	case len(c.ModulesToSave) > 0:
		return errors.New("modules_to_save is not supported (golora applies the (IA)³ vectors only)")
	}
	for _, f := range c.FeedforwardModules {
		found := false
		for _, t := range c.TargetModules {
			found = found || t == f
		}
		if !found {
			return fmt.Errorf("feedforward_modules holds %q, which is not in target_modules (PEFT requires a subset)", f)
		}
	}
	return nil
}

// WriteIA3Config validates c and writes it as PEFT does.
func WriteIA3Config(w io.Writer, c IA3Config) error {
	if err := c.Validate(); err != nil {
		return fmt.Errorf("checkpoint: write IA3 config: %w", err)
	}
	if len(c.AutoMapping) == 0 {
		c.AutoMapping = json.RawMessage("null")
	}
	return writeJSON(w, c)
}

// ReadIA3Config reads an (IA)³ adapter_config.json and validates it.
func ReadIA3Config(r io.Reader, name string) (IA3Config, error) {
	data, err := readConfigBytes(r, name)
	if err != nil {
		return IA3Config{}, err
	}
	var c IA3Config
	if err := json.Unmarshal(data, &c); err != nil {
		var typeErr *json.UnmarshalTypeError
		if errors.As(err, &typeErr) && (typeErr.Field == "target_modules" || typeErr.Field == "feedforward_modules") {
			return IA3Config{}, fmt.Errorf("checkpoint %s: %s must be a list of module names (a regular expression string is not supported)", name, typeErr.Field)
		}
		return IA3Config{}, fmt.Errorf("checkpoint %s: invalid JSON: %w", name, err)
	}
	if err := c.Validate(); err != nil {
		return IA3Config{}, fmt.Errorf("checkpoint %s: %w", name, err)
	}
	return c, nil
}

// ---------------------------------------------------------------- PEFT keys

// ParsePEFTModuleKey splits a key base_model.model.<module><suffix> for one of suffixes (".ia3_l", ...) and returns
// the module path and the suffix found.
func ParsePEFTModuleKey(key string, suffixes ...string) (module, suffix string, err error) {
	rest, ok := strings.CutPrefix(key, peftPrefix)
	if !ok {
		return "", "", fmt.Errorf("checkpoint: PEFT key %q does not start with %q", key, peftPrefix)
	}
	for _, s := range suffixes {
		if m, ok := strings.CutSuffix(rest, s); ok {
			module, suffix = m, s
			break
		}
	}
	if suffix == "" {
		return "", "", fmt.Errorf("checkpoint: PEFT key %q does not end with %s", key, strings.Join(quoteAll(suffixes), " or "))
	}
	if module == "" || strings.HasPrefix(module, ".") || strings.HasSuffix(module, ".") || strings.Contains(module, "..") {
		return "", "", fmt.Errorf("checkpoint: PEFT key %q has an invalid module path %q", key, module)
	}
	return module, suffix, nil
}

// The suffixes of PEFT's LoRA and DoRA keys, for ParsePEFTModuleKey.
const (
	SuffixLoRAA     = peftA
	SuffixLoRAB     = peftB
	SuffixMagnitude = peftMagnitude
	SuffixIA3       = peftIA3
)

func quoteAll(ss []string) []string {
	out := make([]string, len(ss))
	for i, s := range ss {
		out[i] = fmt.Sprintf("%q", s)
	}
	return out
}

// ---------------------------------------------------------------- golora's own format

// GoloraFormat is the "format" of golora_adapter.json.
const GoloraFormat = "golora-adapter"

// GoloraVersion is the version golora writes and reads.
const GoloraVersion = 1

// GoloraConfigName is the config file of golora's own adapter format, beside adapter_model.safetensors.
const GoloraConfigName = "golora_adapter.json"

// GoloraAdapter is golora_adapter.json: what a method without a PEFT format changed, for the base named. The
// safetensors file beside it holds exactly the tensors listed in Replaces (base tensors by their Hugging Face Llama
// names, whole: they take the base's place) and Adds (the method's own tensors, by the method's names).
type GoloraAdapter struct {
	Format              string   `json:"format"`                  // GoloraFormat
	Version             int      `json:"version"`                 // GoloraVersion
	Method              string   `json:"method"`                  // top, bitfit, adapter-h, adapter-l
	BaseModelNameOrPath string   `json:"base_model_name_or_path"` // the base's file name
	BaseFingerprint     string   `json:"base_fingerprint"`        // FNV-1a 64 of the base's float32 weights' bits, 16 hex digits
	Layers              int      `json:"layers,omitempty"`        // top: k
	Bottleneck          int      `json:"bottleneck,omitempty"`    // adapters
	Targets             []string `json:"targets,omitempty"`       // bitfit: the linear layers given a bias
	Replaces            []string `json:"replaces"`                // base tensors the file replaces
	Adds                []string `json:"adds"`                    // the method's own tensors
}

// Validate checks the fields every golora adapter needs.
func (g GoloraAdapter) Validate() error {
	switch {
	case g.Format != GoloraFormat:
		return fmt.Errorf("format %q is not %q", g.Format, GoloraFormat)
	case g.Version != GoloraVersion:
		return fmt.Errorf("version %d; this golora reads version %d", g.Version, GoloraVersion)
	case g.Method == "":
		return errors.New("method is empty")
	case len(g.BaseFingerprint) != 16 || strings.Trim(g.BaseFingerprint, "0123456789abcdef") != "":
		return fmt.Errorf("base_fingerprint %q is not 16 lowercase hex digits", g.BaseFingerprint)
	case len(g.Replaces)+len(g.Adds) == 0:
		return errors.New("replaces and adds are both empty: the adapter changes nothing")
	case g.Layers < 0 || g.Bottleneck < 0:
		return fmt.Errorf("layers %d, bottleneck %d: sizes are positive", g.Layers, g.Bottleneck)
	}
	seen := map[string]bool{}
	for _, n := range append(append([]string(nil), g.Replaces...), g.Adds...) {
		if n == "" || seen[n] {
			return fmt.Errorf("tensor %q is empty or listed twice", n)
		}
		seen[n] = true
	}
	return nil
}

// WriteGoloraAdapter validates g and writes it (keys in field order, two-space indentation).
func WriteGoloraAdapter(w io.Writer, g GoloraAdapter) error {
	if g.Replaces == nil {
		g.Replaces = []string{}
	}
	if g.Adds == nil {
		g.Adds = []string{}
	}
	if err := g.Validate(); err != nil {
		return fmt.Errorf("checkpoint: write golora adapter: %w", err)
	}
	return writeJSON(w, g)
}

// ReadGoloraAdapter reads golora_adapter.json and validates it; unknown fields are refused (a newer golora's
// adapter may change what the file means).
func ReadGoloraAdapter(r io.Reader, name string) (GoloraAdapter, error) {
	data, err := readConfigBytes(r, name)
	if err != nil {
		return GoloraAdapter{}, err
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	var g GoloraAdapter
	if err := dec.Decode(&g); err != nil {
		return GoloraAdapter{}, fmt.Errorf("checkpoint %s: invalid golora adapter: %w", name, err)
	}
	if err := g.Validate(); err != nil {
		return GoloraAdapter{}, fmt.Errorf("checkpoint %s: %w", name, err)
	}
	return g, nil
}

// ---------------------------------------------------------------- prompt and prefix tuning

// PEFT saves a prompt-learning adapter as one tensor, without the base_model.model prefix.
const PromptEmbeddingsKey = "prompt_embeddings"

// PromptConfig is adapter_config.json for PEFT's prompt learning methods: PROMPT_TUNING (PromptTuningConfig,
// tuners/prompt_tuning/config.py) and PREFIX_TUNING (PrefixTuningConfig, tuners/prefix_tuning/config.py), both on
// PromptLearningConfig (config.py: num_virtual_tokens, token_dim, num_transformer_submodules, num_attention_heads,
// num_layers). Fields of the other type are omitted when writing. For PREFIX_TUNING on a grouped-query model PEFT sizes
// token_dim as the key/value width and num_attention_heads as the key/value heads (_prepare_prompt_learning_config).
type PromptConfig struct {
	AutoMapping              json.RawMessage `json:"auto_mapping"`                      // null
	BaseModelNameOrPath      string          `json:"base_model_name_or_path"`           // the base the adapter was trained on
	EncoderHiddenSize        *int            `json:"encoder_hidden_size,omitempty"`     // PREFIX_TUNING: the MLP's width
	InferenceMode            bool            `json:"inference_mode"`                    // true once saved for use
	NumAttentionHeads        *int            `json:"num_attention_heads"`               // query heads (prompt), key/value heads (prefix)
	NumLayers                *int            `json:"num_layers"`                        // the base's blocks
	NumTransformerSubmodules *int            `json:"num_transformer_submodules"`        // 1 for a decoder-only model
	NumVirtualTokens         int             `json:"num_virtual_tokens"`                // l_p
	PEFTType                 string          `json:"peft_type"`                         // PROMPT_TUNING or PREFIX_TUNING
	PrefixProjection         *bool           `json:"prefix_projection,omitempty"`       // PREFIX_TUNING: trained through an MLP
	PromptTuningInit         *string         `json:"prompt_tuning_init,omitempty"`      // PROMPT_TUNING: RANDOM or TEXT
	PromptTuningInitText     json.RawMessage `json:"prompt_tuning_init_text,omitempty"` // PROMPT_TUNING: with TEXT (null)
	Revision                 *string         `json:"revision"`                          // null
	TaskType                 string          `json:"task_type"`                         // "CAUSAL_LM"
	TokenDim                 int             `json:"token_dim"`                         // C (prompt), NKV·head size (prefix)
	TokenizerKwargs          json.RawMessage `json:"tokenizer_kwargs,omitempty"`        // PROMPT_TUNING: null
	TokenizerNameOrPath      json.RawMessage `json:"tokenizer_name_or_path,omitempty"`  // PROMPT_TUNING: with TEXT (null)
}

// NewPromptConfig is the config golora writes for PROMPT_TUNING (l_p rows of width tokenDim) or PREFIX_TUNING (l_p
// keys and values of width tokenDim in each of layers, heads the key/value heads), as saved for inference: the prefix
// itself, without an MLP (prefix_projection false, as PEFT's file holds it).
func NewPromptConfig(peftType, base string, lp, tokenDim, heads, layers int) PromptConfig {
	one := 1
	c := PromptConfig{AutoMapping: json.RawMessage("null"), BaseModelNameOrPath: base, InferenceMode: true,
		NumAttentionHeads: &heads, NumLayers: &layers, NumTransformerSubmodules: &one, NumVirtualTokens: lp,
		PEFTType: peftType, TaskType: "CAUSAL_LM", TokenDim: tokenDim}
	switch peftType {
	case PEFTTypePrompt:
		random := "RANDOM"
		c.PromptTuningInit = &random
		c.PromptTuningInitText, c.TokenizerKwargs, c.TokenizerNameOrPath = json.RawMessage("null"), json.RawMessage("null"), json.RawMessage("null")
	case PEFTTypePrefix:
		off := false
		c.PrefixProjection, c.EncoderHiddenSize = &off, &tokenDim
	}
	return c
}

// Validate checks a prompt-learning config: its type, a positive l_p and token_dim, one transformer submodule.
func (c PromptConfig) Validate() error {
	switch {
	case c.PEFTType != PEFTTypePrompt && c.PEFTType != PEFTTypePrefix:
		return fmt.Errorf("peft_type %q is not %s or %s", c.PEFTType, PEFTTypePrompt, PEFTTypePrefix)
	case c.NumVirtualTokens < 1:
		return fmt.Errorf("num_virtual_tokens = %d, need at least 1", c.NumVirtualTokens)
	case c.TokenDim < 1:
		return fmt.Errorf("token_dim = %d, need at least 1", c.TokenDim)
	case c.NumTransformerSubmodules != nil && *c.NumTransformerSubmodules != 1:
		return fmt.Errorf("num_transformer_submodules = %d: a decoder-only model has one", *c.NumTransformerSubmodules)
	}
	return nil
}

// WritePromptConfig validates c and writes it as PEFT does (sorted keys, two-space indentation).
func WritePromptConfig(w io.Writer, c PromptConfig) error {
	if err := c.Validate(); err != nil {
		return fmt.Errorf("checkpoint: write prompt config: %w", err)
	}
	if len(c.AutoMapping) == 0 {
		c.AutoMapping = json.RawMessage("null")
	}
	return writeJSON(w, c)
}

// ReadPromptConfig reads a PROMPT_TUNING or PREFIX_TUNING adapter_config.json and validates it; unknown fields are
// accepted (newer PEFT adds some) and dropped.
func ReadPromptConfig(r io.Reader, name string) (PromptConfig, error) {
	return readConfig[PromptConfig](r, name)
}
