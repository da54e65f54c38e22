// Token rows trained alone (method tokens) as files: PEFT's TRAINABLE_TOKENS adapter (checkpoint/tokens.go), written
// from a run and read back onto a base.
package train

import (
	"bytes"
	"fmt"
	"io"
	"slices"

	"golora/core/checkpoint"
	"golora/core/model"
	"golora/core/peft"
)

// writeTrainableTokens writes the rows tk holds as PEFT's TRAINABLE_TOKENS adapter: the tensor
// base_model.model.model.embed_tokens.trainable_tokens_delta (K, C), the rows in the order of the ids, and, for an
// untied classifier whose rows train too, base_model.model.lm_head.trainable_tokens_delta, with lm_head in
// target_modules. A tied classifier's rows are the embedding's: PEFT ties them itself.
func writeTrainableTokens(tk *peft.Tokens, baseName string, weights, config io.Writer) error {
	var ts []checkpoint.Tensor
	modules := []string{checkpoint.TokensEmbedModule, checkpoint.TokensHeadModule}
	for i, t := range tk.Tensors() {
		ts = append(ts, checkpoint.Tensor{Name: checkpoint.PEFTTrainableTokensKey(modules[i]), Shape: t.Shape, Data: t.View(tk.Params())})
	}
	if err := checkpoint.WriteSafetensors(weights, ts, map[string]string{"format": "pt"}); err != nil {
		return err
	}
	return checkpoint.WriteTrainableTokensConfig(config, checkpoint.NewTrainableTokensConfig(baseName, tk.IDs, len(ts) > 1))
}

// readTrainableTokens reads a TRAINABLE_TOKENS adapter onto a copy of base: its ids (inside the vocabulary, each
// once), the embedding's rows, and the classifier's when target_modules lists lm_head (refused for a base that ties
// its classifier, unless they equal the embedding's rows: PEFT saves the tied copy too). Any other tensor, a missing
// or misshapen one, is refused.
func readTrainableTokens(base *model.Model, raw []byte, configName string, weights io.Reader, weightsName string) (*model.Model, error) {
	cfg, err := checkpoint.ReadTrainableTokensConfig(bytes.NewReader(raw), configName)
	if err != nil {
		return nil, err
	}
	head, _ := cfg.TrainableTokensTargets() // checked by Validate
	ids := cfg.TokenIndices
	if err := peft.CheckTokenIDs(ids, base.Config.VocabSize); err != nil {
		return nil, fmt.Errorf("adapter %s: token_indices: %w", configName, err)
	}
	byKey, err := readTensors(weights, weightsName)
	if err != nil {
		return nil, err
	}
	embedKey := checkpoint.PEFTTrainableTokensKey(checkpoint.TokensEmbedModule)
	headKey := checkpoint.PEFTTrainableTokensKey(checkpoint.TokensHeadModule)
	for _, k := range slices.Sorted(func(yield func(string) bool) {
		for k := range byKey {
			if !yield(k) {
				return
			}
		}
	}) {
		if k != embedKey && k != headKey {
			return nil, fmt.Errorf("adapter %s: tensor %q: a %s adapter holds %q (and, untied, %q) only",
				weightsName, k, checkpoint.PEFTTypeTrainableTokens, embedKey, headKey)
		}
	}
	shape := []int{len(ids), base.Config.Dim}
	rows := func(key string) ([]float32, error) {
		t, ok := byKey[key]
		if !ok {
			return nil, fmt.Errorf("adapter %s: tensor %q is missing", weightsName, key)
		}
		if !slices.Equal(t.Shape, shape) {
			return nil, fmt.Errorf("adapter %s: tensor %q has shape %v, expected %v (%d token_indices in %s, width %d)",
				weightsName, key, t.Shape, shape, len(ids), configName, base.Config.Dim)
		}
		return t.Data, nil
	}
	embed, err := rows(embedKey)
	if err != nil {
		return nil, err
	}
	_, hasHead := byKey[headKey]
	var out []float32
	switch {
	case base.Config.Tied && hasHead: // PEFT's tied copy: the same rows, or a file golora cannot apply
		h, err := rows(headKey)
		if err != nil {
			return nil, err
		}
		if !slices.Equal(h, embed) {
			return nil, fmt.Errorf("adapter %s: tensor %q differs from %q, but this base ties its classifier to the embedding "+
				"(one row per token serves both)", weightsName, headKey, embedKey)
		}
	case base.Config.Tied: // the classifier reads the embedding's rows, whatever target_modules says
	case head && !hasHead:
		return nil, fmt.Errorf("adapter %s: tensor %q is missing: %s lists lm_head in target_modules", weightsName, headKey, configName)
	case !head && hasHead:
		return nil, fmt.Errorf("adapter %s: tensor %q holds lm_head's rows, but %s's target_modules does not list lm_head", weightsName, headKey, configName)
	case head:
		if out, err = rows(headKey); err != nil {
			return nil, err
		}
	}
	m := base.Clone()
	tk, err := peft.AddTokens(m, peft.TokensConfig{IDs: ids, Output: out != nil})
	if err != nil {
		return nil, fmt.Errorf("adapter %s: %w", configName, err)
	}
	copy(tk.Params(), embed)
	if out != nil {
		copy(tk.Params()[len(embed):], out)
	}
	return m, nil
}
