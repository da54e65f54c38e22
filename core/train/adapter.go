// PEFT adapters out and in: adapter_model.safetensors plus adapter_config.json.
package train

import (
	"bytes"
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
	return m, nil
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
