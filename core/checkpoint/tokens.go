// This file holds PEFT's TRAINABLE_TOKENS format: trainable rows of the embedding alone, without LoRA beside them.
//
// From PEFT's source (src/peft): TrainableTokensConfig (tuners/trainable_tokens/config.py) has token_indices,
// target_modules (null: the input embedding) and init_weights beside PeftConfig's base_model_name_or_path, revision,
// peft_type, task_type, inference_mode (and PeftConfigMixin's auto_mapping). TrainableTokensLayer
// (tuners/trainable_tokens/layer.py) wraps each target module and holds trainable_tokens_delta.<adapter>: the rows
// themselves (K, C) in the order of token_indices, written into the weight with index_copy (not added to it). With a
// tied classifier, TrainableTokensModel (model.py) puts a layer tied to the embedding's on lm_head, sharing its rows.
// get_peft_model_state_dict (utils/save_and_load.py) keeps the keys holding the prefix "trainable_tokens_" and drops
// the adapter name, so a module's rows are saved as base_model.model.<module>.trainable_tokens_delta; beside LoRA
// (trainable_token_indices) the same rows sit one level down, under .token_adapter (peft.go).

package checkpoint

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
)

// PEFTTypeTrainableTokens is PEFT's peft_type for token rows trained alone.
const PEFTTypeTrainableTokens = "TRAINABLE_TOKENS"

// PEFTTrainableTokensParam ends the key of a module's rows in a TRAINABLE_TOKENS adapter.
const PEFTTrainableTokensParam = ".trainable_tokens_delta"

// PEFTTrainableTokensKey is a TRAINABLE_TOKENS adapter's key of a module's rows, e.g.
// "base_model.model.model.embed_tokens.trainable_tokens_delta".
func PEFTTrainableTokensKey(module string) string {
	return peftPrefix + module + PEFTTrainableTokensParam
}

// TrainableTokensConfig is adapter_config.json for a TRAINABLE_TOKENS adapter, fields in PEFT's (alphabetical) order.
type TrainableTokensConfig struct {
	AutoMapping         json.RawMessage `json:"auto_mapping"`            // null
	BaseModelNameOrPath string          `json:"base_model_name_or_path"` // the base the rows were trained on
	InferenceMode       bool            `json:"inference_mode"`          // true once saved for use
	InitWeights         bool            `json:"init_weights"`            // true: the rows started as the base's
	PEFTType            string          `json:"peft_type"`               // "TRAINABLE_TOKENS"
	Revision            *string         `json:"revision"`                // null
	// TargetModules is null (the input embedding), a list of module names, or one name (PEFT also takes a regular
	// expression there, which golora does not read): TrainableTokensTargets reads it.
	TargetModules json.RawMessage `json:"target_modules"`
	TaskType      string          `json:"task_type"`     // "CAUSAL_LM"
	TokenIndices  []int           `json:"token_indices"` // the tokens whose rows train
}

// NewTrainableTokensConfig is the config golora writes for the rows of ids trained alone: on the input embedding, and
// also on an untied classifier when output is set (a tied classifier shares the embedding's rows, as PEFT ties them).
func NewTrainableTokensConfig(base string, ids []int, output bool) TrainableTokensConfig {
	targets := `["embed_tokens"]`
	if output {
		targets = `["embed_tokens", "lm_head"]`
	}
	return TrainableTokensConfig{AutoMapping: json.RawMessage("null"), BaseModelNameOrPath: base, InferenceMode: true,
		InitWeights: true, PEFTType: PEFTTypeTrainableTokens, TargetModules: json.RawMessage(targets),
		TaskType: "CAUSAL_LM", TokenIndices: append([]int(nil), ids...)}
}

// TrainableTokensTargets reads target_modules: whether the rows serve the input embedding (always: null means it,
// as PEFT infers it) and the classifier (lm_head listed). A module golora does not have, or a pattern, is refused.
func (c TrainableTokensConfig) TrainableTokensTargets() (head bool, err error) {
	raw := bytes.TrimSpace(c.TargetModules)
	if len(raw) == 0 || string(raw) == "null" {
		return false, nil
	}
	var names []string
	if raw[0] == '"' {
		var one string
		if err := json.Unmarshal(raw, &one); err != nil {
			return false, fmt.Errorf("target_modules: %w", err)
		}
		names = []string{one}
	} else if err := json.Unmarshal(raw, &names); err != nil {
		return false, errors.New("target_modules must be null, a module name or a list of module names")
	}
	embed := false
	for _, n := range names {
		switch {
		case n == "embed_tokens" || strings.HasSuffix(n, ".embed_tokens"):
			embed = true
		case n == "lm_head" || strings.HasSuffix(n, ".lm_head"):
			head = true
		default:
			return false, fmt.Errorf("target_modules: %q is neither embed_tokens nor lm_head (golora reads the rows of those two; "+
				"a regular expression is not supported)", n)
		}
	}
	if !embed {
		return false, errors.New("target_modules: lm_head's rows without embed_tokens' rows are not supported")
	}
	return head, nil
}

// Validate checks a TRAINABLE_TOKENS config: its type, at least one token, its targets. The ids themselves are checked
// against a base by the caller.
func (c TrainableTokensConfig) Validate() error {
	switch {
	case c.PEFTType != PEFTTypeTrainableTokens:
		return fmt.Errorf("peft_type %q is not %s", c.PEFTType, PEFTTypeTrainableTokens)
	case len(c.TokenIndices) == 0:
		return errors.New("token_indices is empty: no row to train")
	}
	_, err := c.TrainableTokensTargets()
	return err
}

// WriteTrainableTokensConfig validates c and writes it as PEFT does (sorted keys, two-space indentation).
func WriteTrainableTokensConfig(w io.Writer, c TrainableTokensConfig) error {
	if len(c.AutoMapping) == 0 {
		c.AutoMapping = json.RawMessage("null")
	}
	if len(c.TargetModules) == 0 {
		c.TargetModules = json.RawMessage("null")
	}
	if err := c.Validate(); err != nil {
		return fmt.Errorf("checkpoint: write trainable tokens config: %w", err)
	}
	return writeJSON(w, c)
}

// ReadTrainableTokensConfig reads a TRAINABLE_TOKENS adapter_config.json and validates it; unknown fields are accepted
// (newer PEFT adds some) and dropped.
func ReadTrainableTokensConfig(r io.Reader, name string) (TrainableTokensConfig, error) {
	return readConfig[TrainableTokensConfig](r, name)
}
