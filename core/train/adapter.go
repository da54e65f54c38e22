// Adapters out and in: a run's trained part as files, in PEFT's own formats where PEFT has the method (LoRA, DoRA,
// (IA)³) and in golora's own (golora_adapter.json) where it does not (top, bitfit); reading them back onto a base,
// checked against it, and refusing what golora cannot apply.
package train

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"

	"golora/core/checkpoint"
	"golora/core/model"
	"golora/core/peft"
)

// The files an adapter folder holds: the tensors, and one config (PEFT's or golora's).
const (
	AdapterWeightsName = "adapter_model.safetensors"
	PEFTConfigName     = "adapter_config.json"
	GoloraConfigName   = checkpoint.GoloraConfigName
)

// AdapterFiles is a run's trained part as the bytes of its two files.
type AdapterFiles struct {
	Weights    []byte // AdapterWeightsName
	Config     []byte
	ConfigName string // PEFTConfigName or GoloraConfigName
}

// ExportFiles returns what the run trained as adapter files: PEFT's format for lora (a PiSSA run as the plain rank-2r
// LoRA on the base it was given), dora and ia3; golora's own for top and bitfit. Full fine-tuning's result is the
// whole model (Model().Save), and a frozen run has nothing.
func (s *Session) ExportFiles(baseName string) (AdapterFiles, error) {
	if s.model.Merged() {
		return AdapterFiles{}, fmt.Errorf("adapter: the adapters are merged; export needs them separate")
	}
	switch spec, _ := LookupMethod(s.cfg.Method); spec.Files {
	case FilesModel:
		return AdapterFiles{}, fmt.Errorf("adapter: %s moves every weight: its result is the whole model (model.safetensors), not an adapter", s.cfg.Method)
	case "":
		return AdapterFiles{}, fmt.Errorf("adapter: a %s run trains nothing", s.cfg.Method)
	case FilesGolora:
		if peft.TokensOf(s.model) != nil {
			return AdapterFiles{}, fmt.Errorf("adapter: token rows are written beside LoRA or DoRA (PEFT's trainable_token_indices); %s does not carry them", GoloraConfigName)
		}
		return s.exportGolora(baseName)
	}
	m := s.model
	if s.pissaInit != nil { // the adapter fits the residual base only: write it as a plain LoRA on the base as given
		l := peft.LoRAOf(s.model)
		conv, err := l.ToLoRA(s.pissaInit)
		if err != nil {
			return AdapterFiles{}, fmt.Errorf("adapter: %w; a PiSSA adapter of rank r is a plain LoRA of rank 2r on the base", err)
		}
		m = s.start.Clone()
		if err := m.Attach(conv); err != nil {
			return AdapterFiles{}, err
		}
		if tk := peft.TokensOf(s.model); tk != nil { // the rows are the same on either base
			rows, err := peft.AddTokens(m, tk.TokensConfig)
			if err != nil {
				return AdapterFiles{}, err
			}
			copy(rows.Params(), tk.Params())
		}
	}
	var w, c bytes.Buffer
	if err := WriteAdapter(m, baseName, &w, &c); err != nil {
		return AdapterFiles{}, err
	}
	return AdapterFiles{Weights: w.Bytes(), Config: c.Bytes(), ConfigName: PEFTConfigName}, nil
}

// ExportAdapter returns the run's adapter files' bytes (ExportFiles without the config's name).
func (s *Session) ExportAdapter(baseName string) (weights, config []byte, err error) {
	f, err := s.ExportFiles(baseName)
	return f.Weights, f.Config, err
}

// WriteAdapter writes the method attached to m in PEFT's layout, its tensors to weights and its
// adapter_config.json to config: LoRA (base_model.model.<module>.lora_A.weight (r, in), .lora_B.weight (out, r)),
// DoRA (the same with use_dora and <module>.lora_magnitude_vector (out)) or (IA)³ (<module>.ia3_l, (out, 1) for k
// and v, (1, in) for down_proj). baseName is recorded as base_model_name_or_path.
func WriteAdapter(m *model.Model, baseName string, weights, config io.Writer) error {
	var ts []checkpoint.Tensor
	var writeConfig func() error
	switch meth := attached(m).(type) {
	case *peft.DoRA:
		ts = loraTensors(&meth.LoRA)
		for i, a := range meth.Adapters {
			ts = append(ts, checkpoint.Tensor{Name: checkpoint.PEFTMagnitudeKey(a.Module), Shape: []int{a.Out}, Data: meth.Mags[i]})
		}
		cfg := loraConfigFile(&meth.LoRA, baseName)
		cfg.UseDoRA = true
		if err := withTokenRows(m, &ts, &cfg); err != nil {
			return err
		}
		writeConfig = func() error { return checkpoint.WriteAdapterConfig(config, cfg) }
	case *peft.LoRA:
		ts = loraTensors(meth)
		cfg := loraConfigFile(meth, baseName)
		if err := withTokenRows(m, &ts, &cfg); err != nil {
			return err
		}
		writeConfig = func() error { return checkpoint.WriteAdapterConfig(config, cfg) }
	case *peft.IA3:
		if peft.TokensOf(m) != nil {
			return fmt.Errorf("adapter: token rows are written beside LoRA or DoRA (PEFT's trainable_token_indices is a LoraConfig field)")
		}
		for _, sc := range meth.Scales {
			shape := []int{sc.Out, 1}
			if sc.Input {
				shape = []int{1, sc.In}
			}
			ts = append(ts, checkpoint.Tensor{Name: checkpoint.PEFTIA3Key(sc.Module), Shape: shape, Data: sc.L})
		}
		var targets, ff []string
		for _, t := range peft.IA3Targets {
			targets = append(targets, t.ProjName())
			if t == model.TargetDown {
				ff = append(ff, t.ProjName())
			}
		}
		cfg := checkpoint.NewIA3Config(baseName, targets, ff)
		writeConfig = func() error { return checkpoint.WriteIA3Config(config, cfg) }
	case *peft.PrefixEmbed:
		c := m.Config
		ts = append(ts, checkpoint.Tensor{Name: checkpoint.PromptEmbeddingsKey, Shape: []int{meth.Len, c.Dim}, Data: meth.Params()})
		cfg := checkpoint.NewPromptConfig(checkpoint.PEFTTypePrompt, baseName, meth.Len, c.Dim, c.NHeads, c.NLayers)
		writeConfig = func() error { return checkpoint.WritePromptConfig(config, cfg) }
	case *peft.PrefixLayer:
		c := m.Config
		kv := meth.PastKeyValues() // through the MLP when trained with one: the prefix, as PEFT saves it
		ts = append(ts, checkpoint.Tensor{Name: checkpoint.PromptEmbeddingsKey, Shape: []int{meth.Len, len(kv) / meth.Len}, Data: kv})
		cfg := checkpoint.NewPromptConfig(checkpoint.PEFTTypePrefix, baseName, meth.Len, c.KVDim(), c.NKVHeads, c.NLayers)
		writeConfig = func() error { return checkpoint.WritePromptConfig(config, cfg) }
	case nil:
		if tk := peft.TokensOf(m); tk != nil { // token rows alone: PEFT's TRAINABLE_TOKENS
			return writeTrainableTokens(tk, baseName, weights, config)
		}
		return fmt.Errorf("adapter: the model has no LoRA adapters (nor any other method to write)")
	default:
		return fmt.Errorf("adapter: %s has no PEFT format (golora writes it as %s)", attached(m).Name(), GoloraConfigName)
	}
	if err := checkpoint.WriteSafetensors(weights, ts, map[string]string{"format": "pt"}); err != nil {
		return err
	}
	return writeConfig()
}

// attached is the one method attached to m that has files (token rows aside), or nil.
func attached(m *model.Model) model.Method {
	for _, meth := range m.Methods() {
		if _, rows := meth.(*peft.Tokens); rows {
			continue
		}
		if _, ok := meth.(peft.Method); ok {
			return meth
		}
	}
	return nil
}

func loraTensors(set *peft.LoRA) []checkpoint.Tensor {
	var ts []checkpoint.Tensor
	for _, a := range set.Adapters {
		ts = append(ts,
			checkpoint.Tensor{Name: checkpoint.PEFTKey(a.Module, "A"), Shape: []int{a.Rank, a.In}, Data: a.A},
			checkpoint.Tensor{Name: checkpoint.PEFTKey(a.Module, "B"), Shape: []int{a.Out, a.Rank}, Data: a.B})
	}
	return ts
}

func loraConfigFile(set *peft.LoRA, baseName string) checkpoint.AdapterConfig {
	var targets []string
	for _, t := range set.Targets {
		targets = append(targets, t.ProjName())
	}
	init := checkpoint.InitKaiming
	switch set.Init {
	case peft.InitGaussian:
		init = checkpoint.InitGaussian
	case peft.InitPiSSA: // a PiSSA adapter as it trains (fits the residual base); ExportFiles writes the converted one
		init = checkpoint.LoraInit(peft.InitPiSSA)
	}
	return checkpoint.NewAdapterConfig(baseName, set.Rank, float64(set.Alpha), float64(set.Dropout), targets, set.RSLoRA, init)
}

// exportGolora writes a top or bitfit run in golora's own format: the base tensors it trained (whole, by their
// names) and its own tensors, with the base's fingerprint.
func (s *Session) exportGolora(baseName string) (AdapterFiles, error) {
	g := checkpoint.GoloraAdapter{Format: checkpoint.GoloraFormat, Version: checkpoint.GoloraVersion, Method: s.cfg.Method,
		BaseModelNameOrPath: baseName, BaseFingerprint: fingerprintHex(s.baseSum)}
	set := s.cfg.settings()
	g.Layers, g.Bottleneck = set.Layers, set.Bottleneck
	if s.cfg.Method == MethodBitFit {
		g.Targets = set.Targets
	}
	var ts []checkpoint.Tensor
	for _, t := range s.model.Tensors() {
		for _, meth := range s.model.Methods() {
			if meth.TrainsBase(t.Name) {
				ts = append(ts, t)
				g.Replaces = append(g.Replaces, t.Name)
				break
			}
		}
	}
	for _, meth := range s.model.Methods() {
		if pm, ok := meth.(peft.Method); ok {
			for _, t := range pm.Tensors() {
				ts = append(ts, checkpoint.Tensor{Name: t.Name, Shape: t.Shape, Data: t.View(pm.Params())})
				g.Adds = append(g.Adds, t.Name)
			}
		}
	}
	var w, c bytes.Buffer
	if err := checkpoint.WriteSafetensors(&w, ts, map[string]string{"format": "pt", "golora.method": s.cfg.Method}); err != nil {
		return AdapterFiles{}, err
	}
	if err := checkpoint.WriteGoloraAdapter(&c, g); err != nil {
		return AdapterFiles{}, err
	}
	return AdapterFiles{Weights: w.Bytes(), Config: c.Bytes(), ConfigName: GoloraConfigName}, nil
}

func fingerprintHex(sum uint64) string { return fmt.Sprintf("%016x", sum) }

// BaseFingerprint is the fingerprint golora_adapter.json records of the base a run started from.
func BaseFingerprint(m *model.Model) string { return fingerprintHex(weightsSum(m.Params.Data)) }

// ReadAdapter reads an adapter (its config, PEFT's adapter_config.json or golora's golora_adapter.json, and its
// tensors), checks it against base (every key names an existing module of a listed target, shapes agree with the
// base and the config, nothing is missing, every value is finite) and returns a copy of base with it applied: a
// method attached (LoRA, DoRA, (IA)³, bitfit's biases) and/or base tensors replaced (top, bitfit's gains). base is
// never modified; on error nothing is. Formats golora cannot apply are refused, saying why.
func ReadAdapter(base *model.Model, config io.Reader, configName string, weights io.Reader, weightsName string) (*model.Model, error) {
	raw, err := io.ReadAll(io.LimitReader(config, 1<<20+1))
	if err != nil {
		return nil, fmt.Errorf("adapter %s: %w", configName, err)
	}
	peftType, goloraMethod, err := checkpoint.ConfigKind(raw, configName)
	if err != nil {
		return nil, err
	}
	switch {
	case goloraMethod != "":
		return readGolora(base, raw, configName, weights, weightsName)
	case peftType == checkpoint.PEFTTypeLoRA:
		return readLoRA(base, raw, configName, weights, weightsName)
	case peftType == checkpoint.PEFTTypeIA3:
		return readIA3(base, raw, configName, weights, weightsName)
	case peftType == checkpoint.PEFTTypePrompt || peftType == checkpoint.PEFTTypePrefix:
		return readPrompt(base, raw, configName, weights, weightsName)
	case peftType == checkpoint.PEFTTypeTrainableTokens:
		return readTrainableTokens(base, raw, configName, weights, weightsName)
	}
	return nil, fmt.Errorf("adapter %s: peft_type %q: golora applies LORA (with or without use_dora), IA3, PROMPT_TUNING, "+
		"PREFIX_TUNING and TRAINABLE_TOKENS adapters", configName, peftType)
}

// readTensors reads the adapter's safetensors file, refusing non-finite values, by name.
func readTensors(weights io.Reader, weightsName string) (map[string]checkpoint.Tensor, error) {
	tensors, _, err := checkpoint.ReadSafetensors(weights, weightsName)
	if err != nil {
		return nil, err
	}
	if err := checkpoint.CheckFinite(tensors); err != nil { // PEFT's safe_merge refuses them too
		return nil, fmt.Errorf("adapter %s: %w", weightsName, err)
	}
	byKey := make(map[string]checkpoint.Tensor, len(tensors))
	for _, t := range tensors {
		byKey[t.Name] = t
	}
	return byKey, nil
}

// fill copies the tensor key of byKey into dst, checking its shape (any of shapes).
func fill(byKey map[string]checkpoint.Tensor, key string, dst []float32, weightsName string, why string, shapes ...[]int) error {
	t, ok := byKey[key]
	if !ok {
		return fmt.Errorf("adapter %s: tensor %q is missing", weightsName, key)
	}
	for _, sh := range shapes {
		if slices.Equal(t.Shape, sh) {
			copy(dst, t.Data)
			return nil
		}
	}
	return fmt.Errorf("adapter %s: tensor %q has shape %v, expected %v%s", weightsName, key, t.Shape, shapes[0], why)
}

// readLoRA reads a PEFT LoRA adapter, or a DoRA one (use_dora).
func readLoRA(base *model.Model, raw []byte, configName string, weights io.Reader, weightsName string) (*model.Model, error) {
	cfg, err := checkpoint.ReadAdapterConfig(bytes.NewReader(raw), configName)
	if err != nil {
		return nil, err
	}
	bad := func(format string, args ...any) error {
		return fmt.Errorf("adapter %s: %s", configName, fmt.Sprintf(format, args...))
	}
	switch {
	case len(cfg.RankPattern) > 0 || len(cfg.AlphaPattern) > 0:
		return nil, bad("rank_pattern/alpha_pattern are not supported (every module must share r and lora_alpha)")
	case cfg.Bias != "none":
		return nil, bad("bias %q: golora's linear layers have no bias", cfg.Bias)
	case cfg.FanInFanOut:
		return nil, bad("fan_in_fan_out is set; Llama weights are (out, in)")
	case len(cfg.LayersToTransform) > 0 && string(cfg.LayersToTransform) != "null":
		return nil, bad("layers_to_transform is not supported (adapters must cover every layer)")
	case len(cfg.ModulesToSave) > 0:
		return nil, bad("modules_to_save is not supported (golora applies the adapters only)")
	}
	init := peft.InitKaiming
	switch {
	case cfg.InitLoraWeights == checkpoint.InitGaussian:
		init = peft.InitGaussian
	case strings.HasPrefix(string(cfg.InitLoraWeights), string(peft.InitPiSSA)) ||
		cfg.InitLoraWeights == "olora" || cfg.InitLoraWeights == "corda" || cfg.InitLoraWeights == "loftq":
		return nil, bad("init_lora_weights %q: the adapter was trained on a base its initialisation changed (the residual), "+
			"so it does not fit this base; convert it to a plain LoRA first (PEFT: save_pretrained(..., "+
			"path_initial_model_for_weight_conversion=...); golora's finetune -out does it)", cfg.InitLoraWeights)
	}
	targets, err := peftTargets(base.Config, cfg.TargetModules)
	if err != nil {
		return nil, bad("%v", err)
	}
	byKey, err := readTensors(weights, weightsName)
	if err != nil {
		return nil, err
	}
	rows := takeTokenRows(byKey) // checked by tokenRowsIn
	suffixes := []string{checkpoint.SuffixLoRAA, checkpoint.SuffixLoRAB}
	if cfg.UseDoRA {
		suffixes = append(suffixes, checkpoint.SuffixMagnitude)
	}
	if err := checkModules(base.Config, targets, cfg.TargetModules, byKey, weightsName, suffixes); err != nil {
		return nil, err
	}
	m := base.Clone()
	lc := peft.LoRAConfig{Rank: cfg.R, Alpha: float32(cfg.LoraAlpha), RSLoRA: cfg.UseRSLoRA, Init: init,
		Dropout: float32(cfg.LoraDropout), Targets: targets}
	var set *peft.LoRA
	var dora *peft.DoRA
	if cfg.UseDoRA {
		if dora, err = peft.AddDoRA(m, lc, nil); err != nil {
			return nil, bad("%v", err)
		}
		set = &dora.LoRA
	} else if set, err = peft.AddLoRA(m, lc, nil); err != nil {
		return nil, bad("%v", err)
	}
	why := fmt.Sprintf(" (r = %d from %s)", cfg.R, configName)
	for i, a := range set.Adapters {
		if err := fill(byKey, checkpoint.PEFTKey(a.Module, "A"), a.A, weightsName, why, []int{a.Rank, a.In}); err != nil {
			return nil, err
		}
		if err := fill(byKey, checkpoint.PEFTKey(a.Module, "B"), a.B, weightsName, why, []int{a.Out, a.Rank}); err != nil {
			return nil, err
		}
		if dora != nil {
			key := checkpoint.PEFTMagnitudeKey(a.Module)
			if _, ok := byKey[key]; !ok {
				return nil, fmt.Errorf("adapter %s: tensor %q is missing: %s sets use_dora, and DoRA needs each module's lora_magnitude_vector",
					weightsName, key, configName)
			}
			if err := fill(byKey, key, dora.Mags[i], weightsName, " (one per output row)", []int{a.Out}); err != nil {
				return nil, err
			}
			for o, v := range dora.Mags[i] {
				if v == 0 {
					return nil, fmt.Errorf("adapter %s: tensor %q is 0 at row %d: DoRA's magnitude scales a unit direction", weightsName, key, o)
				}
			}
		}
	}
	if err := tokenRowsIn(m, cfg, configName, rows, weightsName); err != nil {
		return nil, err
	}
	return m, nil
}

// readIA3 reads a PEFT (IA)³ adapter: golora's (IA)³ scales k_proj's and v_proj's outputs and down_proj's input.
func readIA3(base *model.Model, raw []byte, configName string, weights io.Reader, weightsName string) (*model.Model, error) {
	cfg, err := checkpoint.ReadIA3Config(bytes.NewReader(raw), configName)
	if err != nil {
		return nil, err
	}
	targets, err := peftTargets(base.Config, cfg.TargetModules)
	if err != nil {
		return nil, fmt.Errorf("adapter %s: %v", configName, err)
	}
	var want, wantFF []string
	for _, t := range peft.IA3Targets {
		want = append(want, t.String())
		if t == model.TargetDown {
			wantFF = append(wantFF, t.ProjName())
		}
	}
	var got []string
	for _, t := range targets {
		got = append(got, t.String())
	}
	ff := slices.Clone(cfg.FeedforwardModules)
	slices.Sort(ff)
	if !slices.Equal(got, want) || !slices.Equal(ff, wantFF) {
		return nil, fmt.Errorf("adapter %s: target_modules %v with feedforward_modules %v: golora's (IA)³ scales k_proj, v_proj "+
			"and down_proj (feedforward), PEFT's Llama defaults", configName, cfg.TargetModules, cfg.FeedforwardModules)
	}
	byKey, err := readTensors(weights, weightsName)
	if err != nil {
		return nil, err
	}
	if err := checkModules(base.Config, targets, cfg.TargetModules, byKey, weightsName, []string{checkpoint.SuffixIA3}); err != nil {
		return nil, err
	}
	m := base.Clone()
	ia, err := peft.AddIA3(m)
	if err != nil {
		return nil, err
	}
	for _, sc := range ia.Scales {
		shapes := [][]int{{sc.Out, 1}, {sc.Out}}
		if sc.Input {
			shapes = [][]int{{1, sc.In}, {sc.In}}
		}
		if err := fill(byKey, checkpoint.PEFTIA3Key(sc.Module), sc.L, weightsName, "", shapes...); err != nil {
			return nil, err
		}
	}
	return m, nil
}

// checkModules refuses a key that names no module of the base among targets (or ends otherwise than suffixes).
func checkModules(c model.Config, targets []model.Target, names []string, byKey map[string]checkpoint.Tensor, weightsName string, suffixes []string) error {
	keys := slices.Sorted(func(yield func(string) bool) {
		for k := range byKey {
			if !yield(k) {
				return
			}
		}
	})
	for _, k := range keys {
		module, _, err := checkpoint.ParsePEFTModuleKey(k, suffixes...)
		if err != nil {
			return fmt.Errorf("adapter %s: %w", weightsName, err)
		}
		if !knownModule(c, targets, module) {
			return fmt.Errorf("adapter %s: tensor %q adapts %s, which is not a %s module of this %d-layer base",
				weightsName, k, module, strings.Join(names, "/"), c.NLayers)
		}
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

// readGolora reads golora's own format: the base tensors it replaces, and the method's own tensors attached.
func readGolora(base *model.Model, raw []byte, configName string, weights io.Reader, weightsName string) (*model.Model, error) {
	g, err := checkpoint.ReadGoloraAdapter(bytes.NewReader(raw), configName)
	if err != nil {
		return nil, err
	}
	bad := func(format string, args ...any) error {
		return fmt.Errorf("adapter %s: %s", configName, fmt.Sprintf(format, args...))
	}
	if fp := BaseFingerprint(base); fp != g.BaseFingerprint {
		return nil, bad("the %s adapter was trained on a base with fingerprint %s (%s); this base's is %s: it replaces "+
			"whole tensors, so on another base it would make a mixture of two models (a base already fine-tuned, or another file)",
			g.Method, g.BaseFingerprint, g.BaseModelNameOrPath, fp)
	}
	// What the method trains on this base: the tensors it replaces and those it adds, by name.
	scratch := base.Clone()
	var meth model.Method
	switch g.Method {
	case MethodTop:
		meth, err = peft.AddTop(scratch, peft.TopConfig{Layers: g.Layers})
	case MethodBitFit:
		var targets []model.Target
		if targets, err = model.ParseTargets(g.Targets); err == nil {
			meth, err = peft.AddBitFit(scratch, peft.BitFitConfig{Targets: targets})
		}
	case MethodAdapterH: // the blocks' norms train with the adapters unless the file replaces none
		meth, err = peft.AddAdapterH(scratch, peft.AdapterHConfig{Width: g.Bottleneck, FrozenNorms: len(g.Replaces) == 0}, nil)
	case MethodAdapterL:
		meth, err = peft.AddAdapterL(scratch, peft.AdapterLConfig{Width: g.Bottleneck}, nil)
	default:
		return nil, bad("method %q: golora reads top, bitfit, adapter-h and adapter-l adapters in this format", g.Method)
	}
	if err != nil {
		return nil, bad("%v", err)
	}
	var replaces, adds []string
	for _, t := range base.Config.Tensors() {
		if meth.TrainsBase(t.Name) {
			replaces = append(replaces, t.Name)
		}
	}
	var own []peft.Tensor
	if pm, ok := meth.(peft.Method); ok {
		own = pm.Tensors()
		for _, t := range own {
			adds = append(adds, t.Name)
		}
	}
	if err := sameNames("replaces", g.Replaces, replaces); err != nil {
		return nil, bad("%s (what %s trains on this %d-layer base)", err, g.Method, base.Config.NLayers)
	}
	if err := sameNames("adds", g.Adds, adds); err != nil {
		return nil, bad("%s (what %s adds on this base)", err, g.Method)
	}
	byKey, err := readTensors(weights, weightsName)
	if err != nil {
		return nil, err
	}
	for k := range byKey {
		if !slices.Contains(replaces, k) && !slices.Contains(adds, k) {
			return nil, fmt.Errorf("adapter %s: tensor %q is not listed in %s", weightsName, k, configName)
		}
	}
	views := scratch.Params.Views(scratch.Config)
	for _, t := range base.Config.Tensors() {
		if slices.Contains(replaces, t.Name) {
			if err := fill(byKey, t.Name, views[t.Name], weightsName, " (the base's)", t.Shape); err != nil {
				return nil, err
			}
		}
	}
	if pm, ok := meth.(peft.Method); ok {
		for _, t := range own {
			if err := fill(byKey, t.Name, t.View(pm.Params()), weightsName, "", t.Shape); err != nil {
				return nil, err
			}
		}
	}
	if g.Method == MethodTop { // it trains base weights only: the result is a plain base
		m := base.Clone()
		copy(m.Params.Data, scratch.Params.Data)
		return m, nil
	}
	return scratch, nil
}

// sameNames reports the difference between two lists of tensor names (as sets).
func sameNames(field string, got, want []string) error {
	for _, n := range want {
		if !slices.Contains(got, n) {
			return fmt.Errorf("%s lacks %q", field, n)
		}
	}
	for _, n := range got {
		if !slices.Contains(want, n) {
			return fmt.Errorf("%s holds %q", field, n)
		}
	}
	return nil
}

// withTokenRows adds the token rows attached to m (if any) to a LoRA or DoRA adapter's tensors and config.
func withTokenRows(m *model.Model, ts *[]checkpoint.Tensor, cfg *checkpoint.AdapterConfig) error {
	tk := peft.TokensOf(m)
	if tk == nil {
		return nil
	}
	rows, indices, err := tokenRowsOut(tk)
	if err != nil {
		return err
	}
	*ts = append(*ts, rows...)
	cfg.TrainableTokenIndices = indices
	return nil
}

// takeTokenRows moves the tensors of token rows out of byKey.
func takeTokenRows(byKey map[string]checkpoint.Tensor) map[string]checkpoint.Tensor {
	rows := map[string]checkpoint.Tensor{}
	for k, t := range byKey {
		if strings.HasSuffix(k, checkpoint.PEFTTokensParam) {
			rows[k] = t
			delete(byKey, k)
		}
	}
	return rows
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

// readPrompt reads a PEFT PROMPT_TUNING adapter (l_p rows before the input) or PREFIX_TUNING one (l_p keys and values
// per layer), checking the config's sizes against base: a prompt of token_dim C, a prefix of token_dim KVD on
// num_attention_heads = the key/value heads (PEFT's sizes for grouped-query attention), num_layers L.
func readPrompt(base *model.Model, raw []byte, configName string, weights io.Reader, weightsName string) (*model.Model, error) {
	cfg, err := checkpoint.ReadPromptConfig(bytes.NewReader(raw), configName)
	if err != nil {
		return nil, err
	}
	c := base.Config
	prefix := cfg.PEFTType == checkpoint.PEFTTypePrefix
	dim, heads, what := c.Dim, c.NHeads, "the model's width"
	if prefix {
		dim, heads, what = c.KVDim(), c.NKVHeads, "the keys' width (key/value heads x head size)"
	}
	bad := func(format string, args ...any) error {
		return fmt.Errorf("adapter %s: %s", configName, fmt.Sprintf(format, args...))
	}
	switch {
	case cfg.TokenDim != dim:
		return nil, bad("token_dim = %d, this base's is %d (%s)", cfg.TokenDim, dim, what)
	case cfg.NumLayers != nil && *cfg.NumLayers != c.NLayers:
		return nil, bad("num_layers = %d, this base has %d", *cfg.NumLayers, c.NLayers)
	case cfg.NumAttentionHeads != nil && *cfg.NumAttentionHeads != heads:
		return nil, bad("num_attention_heads = %d, this base's is %d", *cfg.NumAttentionHeads, heads)
	case cfg.NumVirtualTokens >= c.SeqLen:
		return nil, bad("num_virtual_tokens = %d leaves no room in the base's context of %d", cfg.NumVirtualTokens, c.SeqLen)
	}
	byKey, err := readTensors(weights, weightsName)
	if err != nil {
		return nil, err
	}
	for k := range byKey {
		if k != checkpoint.PromptEmbeddingsKey {
			return nil, fmt.Errorf("adapter %s: tensor %q: a %s adapter holds %q only", weightsName, k, cfg.PEFTType, checkpoint.PromptEmbeddingsKey)
		}
	}
	m := base.Clone()
	lp := cfg.NumVirtualTokens
	if prefix {
		p, err := peft.AddPrefixLayer(m, peft.PrefixLayerConfig{Len: lp}, nil)
		if err != nil {
			return nil, bad("%v", err)
		}
		err = fill(byKey, checkpoint.PromptEmbeddingsKey, p.Params(), weightsName, fmt.Sprintf(" (num_virtual_tokens %d, num_layers x 2 x token_dim)", lp),
			[]int{lp, 2 * c.NLayers * dim})
		if err != nil {
			return nil, err
		}
		return m, nil
	}
	p, err := peft.AddPrefixEmbed(m, peft.PrefixEmbedConfig{Len: lp}, nil)
	if err != nil {
		return nil, bad("%v", err)
	}
	if err := fill(byKey, checkpoint.PromptEmbeddingsKey, p.Params(), weightsName, fmt.Sprintf(" (num_virtual_tokens %d, token_dim)", lp),
		[]int{lp, dim}); err != nil {
		return nil, err
	}
	return m, nil
}
