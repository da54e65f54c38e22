// PEFT adapters out and in: adapter_model.safetensors plus adapter_config.json.
package train

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"strings"

	"golora/core/checkpoint"
	"golora/core/model"
	"golora/core/peft"
)

// WriteAdapter writes m's adapters in PEFT's layout: tensors
// base_model.model.<module>.lora_A.weight (r, in) and .lora_B.weight (out, r)
// to weights, and the matching adapter_config.json to config. baseName is
// recorded as base_model_name_or_path.
func WriteAdapter(m *model.Model, baseName string, weights, config io.Writer) error {
	set := peft.LoRAOf(m)
	if set == nil {
		return fmt.Errorf("adapter: the model has no LoRA adapters")
	}
	var ts []checkpoint.Tensor
	for _, a := range set.Adapters {
		ts = append(ts,
			checkpoint.Tensor{Name: checkpoint.PEFTKey(a.Module, "A"), Shape: []int{a.Rank, a.In}, Data: a.A},
			checkpoint.Tensor{Name: checkpoint.PEFTKey(a.Module, "B"), Shape: []int{a.Out, a.Rank}, Data: a.B})
	}
	var targets []string
	for _, t := range set.Targets {
		targets = append(targets, t.ProjName())
	}
	init := checkpoint.InitKaiming
	if set.Init == peft.InitGaussian {
		init = checkpoint.InitGaussian
	}
	cfg := checkpoint.NewAdapterConfig(baseName, set.Rank, float64(set.Alpha), float64(set.Dropout), targets, set.RSLoRA, init)
	if tk := peft.TokensOf(m); tk != nil {
		rows, indices, err := tokenRowsOut(tk)
		if err != nil {
			return err
		}
		ts = append(ts, rows...)
		cfg.TrainableTokenIndices = indices
	}
	if err := checkpoint.WriteSafetensors(weights, ts, map[string]string{"format": "pt"}); err != nil {
		return err
	}
	return checkpoint.WriteAdapterConfig(config, cfg)
}

// ExportAdapter returns the run's adapter as the two PEFT files' bytes.
func (s *Session) ExportAdapter(baseName string) (weights, config []byte, err error) {
	var w, c bytes.Buffer
	if s.model.Merged() {
		return nil, nil, fmt.Errorf("adapter: the adapters are merged; export needs them separate")
	}
	if err := WriteAdapter(s.model, baseName, &w, &c); err != nil {
		return nil, nil, err
	}
	return w.Bytes(), c.Bytes(), nil
}

// ReadAdapter reads a PEFT LoRA adapter, checks it against base (every key
// names an existing module of a listed target, shapes agree with the base and
// the rank, every adapted module has both matrices, every value is finite) and returns a copy of
// base with the adapter attached. base is never modified; on error nothing is.
func ReadAdapter(base *model.Model, config io.Reader, configName string, weights io.Reader, weightsName string) (*model.Model, error) {
	cfg, err := checkpoint.ReadAdapterConfig(config, configName)
	if err != nil {
		return nil, err
	}
	bad := func(format string, args ...any) error {
		return fmt.Errorf("adapter %s: %s", configName, fmt.Sprintf(format, args...))
	}
	switch {
	case cfg.UseDoRA:
		return nil, bad("use_dora is set; golora applies plain LoRA only")
	case len(cfg.RankPattern) > 0 || len(cfg.AlphaPattern) > 0:
		return nil, bad("rank_pattern/alpha_pattern are not supported (every module must share r and lora_alpha)")
	case cfg.Bias != "none":
		return nil, bad("bias %q: golora's linear layers have no bias", cfg.Bias)
	case cfg.FanInFanOut:
		return nil, bad("fan_in_fan_out is set; Llama weights are (out, in)")
	case len(cfg.LayersToTransform) > 0 && string(cfg.LayersToTransform) != "null":
		return nil, bad("layers_to_transform is not supported (adapters must cover every layer)")
	}
	targets, err := model.ParseTargets(cfg.TargetModules)
	if err != nil {
		return nil, bad("target_modules: %v", err)
	}
	tensors, _, err := checkpoint.ReadSafetensors(weights, weightsName)
	if err != nil {
		return nil, err
	}
	if err := checkpoint.CheckFinite(tensors); err != nil { // PEFT's safe_merge refuses them too
		return nil, fmt.Errorf("adapter %s: %w", weightsName, err)
	}
	byKey := make(map[string]checkpoint.Tensor, len(tensors))
	for _, t := range tensors {
		if strings.HasSuffix(t.Name, checkpoint.PEFTTokensParam) {
			byKey[t.Name] = t // checked by tokenRowsIn
			continue
		}
		module, _, err := checkpoint.ParsePEFTKey(t.Name)
		if err != nil {
			return nil, fmt.Errorf("adapter %s: %w", weightsName, err)
		}
		if !knownModule(base.Config, targets, module) {
			return nil, fmt.Errorf("adapter %s: tensor %q adapts %s, which is not a %s module of this %d-layer base",
				weightsName, t.Name, module, strings.Join(cfg.TargetModules, "/"), base.Config.NLayers)
		}
		byKey[t.Name] = t
	}
	init := peft.InitKaiming
	if cfg.InitLoraWeights == checkpoint.InitGaussian {
		init = peft.InitGaussian
	}
	m := base.Clone()
	lc := peft.LoRAConfig{Rank: cfg.R, Alpha: float32(cfg.LoraAlpha), RSLoRA: cfg.UseRSLoRA, Init: init,
		Dropout: float32(cfg.LoraDropout), Targets: targets}
	set, err := peft.AddLoRA(m, lc, nil)
	if err != nil {
		return nil, bad("%v", err)
	}
	for _, a := range set.Adapters {
		for _, part := range []struct {
			which string
			dst   []float32
			shape []int
		}{{"A", a.A, []int{a.Rank, a.In}}, {"B", a.B, []int{a.Out, a.Rank}}} {
			key := checkpoint.PEFTKey(a.Module, part.which)
			t, ok := byKey[key]
			if !ok {
				return nil, fmt.Errorf("adapter %s: tensor %q is missing", weightsName, key)
			}
			if fmt.Sprint(t.Shape) != fmt.Sprint(part.shape) {
				return nil, fmt.Errorf("adapter %s: tensor %q has shape %v, expected %v (r = %d from %s)",
					weightsName, key, t.Shape, part.shape, cfg.R, configName)
			}
			copy(part.dst, t.Data)
		}
	}
	if err := tokenRowsIn(m, cfg, configName, byKey, weightsName); err != nil {
		return nil, err
	}
	return m, nil
}

// tokenRowsOut is the token rows as PEFT saves them beside LoRA: the tensors
// base_model.model.<module>.token_adapter.trainable_tokens_delta (K, C), the rows in the order of the ids, and
// trainable_token_indices: the list of ids (PEFT's list form: the input embedding, whose rows a tied classifier
// shares), or, for an untied classifier whose rows train too, {"embed_tokens": ids, "lm_head": ids}.
func tokenRowsOut(tk *peft.Tokens) ([]checkpoint.Tensor, json.RawMessage, error) {
	var ts []checkpoint.Tensor
	for _, t := range tk.Tensors() {
		ts = append(ts, checkpoint.Tensor{Name: "base_model.model." + t.Name, Shape: t.Shape, Data: t.View(tk.Params())})
	}
	var v any = tk.IDs
	if len(ts) > 1 {
		v = map[string][]int{"embed_tokens": tk.IDs, "lm_head": tk.IDs}
	}
	j, err := json.Marshal(v)
	return ts, j, err
}

// tokenRowsIn attaches the token rows that cfg's trainable_token_indices and the file's tensors hold to m, after its
// LoRA. It refuses ids outside the vocabulary or given twice, rows for a classifier that the base ties to its
// embedding, different ids for the embedding and the classifier, a missing or misshapen tensor, and a tensor of
// rows without ids (non-finite values were refused with the whole file).
func tokenRowsIn(m *model.Model, cfg checkpoint.AdapterConfig, configName string, byKey map[string]checkpoint.Tensor, weightsName string) error {
	embed, head, err := cfg.TokenIndices()
	if err != nil {
		return fmt.Errorf("adapter %s: %w", configName, err)
	}
	embedKey, headKey := checkpoint.PEFTTokensKey(checkpoint.TokensEmbedModule), checkpoint.PEFTTokensKey(checkpoint.TokensHeadModule)
	for key := range byKey {
		if strings.HasSuffix(key, checkpoint.PEFTTokensParam) && key != embedKey && key != headKey {
			return fmt.Errorf("adapter %s: tensor %q holds token rows of a module golora does not have", weightsName, key)
		}
	}
	if embed == nil && head == nil {
		for _, key := range []string{embedKey, headKey} {
			if _, ok := byKey[key]; ok {
				return fmt.Errorf("adapter %s: tensor %q holds token rows, but %s has no trainable_token_indices", weightsName, key, configName)
			}
		}
		return nil
	}
	bad := func(format string, args ...any) error {
		return fmt.Errorf("adapter %s: trainable_token_indices: %s", configName, fmt.Sprintf(format, args...))
	}
	switch {
	case embed == nil:
		return bad("lm_head's rows without embed_tokens' rows are not supported")
	case head != nil && m.Config.Tied:
		return bad("rows for lm_head, but this base ties its classifier to the embedding (its rows are embed_tokens')")
	case head != nil && fmt.Sprint(head) != fmt.Sprint(embed):
		return bad("embed_tokens and lm_head must train the same tokens (got %v and %v)", embed, head)
	}
	if err := peft.CheckTokenIDs(embed, m.Config.VocabSize); err != nil {
		return bad("%v", err)
	}
	tk, err := peft.AddTokens(m, peft.TokensConfig{IDs: embed, Output: head != nil})
	if err != nil {
		return bad("%v", err)
	}
	for _, t := range tk.Tensors() {
		key := "base_model.model." + t.Name
		f, ok := byKey[key]
		if !ok {
			return fmt.Errorf("adapter %s: tensor %q is missing", weightsName, key)
		}
		if fmt.Sprint(f.Shape) != fmt.Sprint(t.Shape) {
			return fmt.Errorf("adapter %s: tensor %q has shape %v, expected %v (%d token ids in %s, width %d)",
				weightsName, key, f.Shape, t.Shape, len(embed), configName, m.Config.Dim)
		}
		copy(t.View(tk.Params()), f.Data)
	}
	if _, ok := byKey[headKey]; ok && head == nil {
		return fmt.Errorf("adapter %s: tensor %q holds lm_head's rows, but trainable_token_indices lists only the embedding's", weightsName, headKey)
	}
	return nil
}

// knownModule reports whether module is "model.layers.N.<block>.<target>_proj" for one of targets.
func knownModule(c model.Config, targets []model.Target, module string) bool {
	rest, ok := strings.CutPrefix(module, "model.layers.")
	if !ok {
		return false
	}
	num, _, ok := strings.Cut(rest, ".")
	l, err := strconv.Atoi(num)
	if !ok || err != nil || l < 0 || l >= c.NLayers || strconv.Itoa(l) != num {
		return false
	}
	for _, t := range targets {
		if t.Module(l) == module {
			return true
		}
	}
	return false
}
