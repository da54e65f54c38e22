// Loading a base model (ours, or a llama2.c checkpoint with its tokenizer) and an optional PEFT adapter.
package main

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"golora/core/checkpoint"
	"golora/core/data"
	"golora/core/model"
	"golora/core/peft"
	"golora/core/train"
)

// baseFlags selects the base model and, optionally, an adapter to put on it.
type baseFlags struct {
	base       string // golora safetensors base
	checkpoint string // llama2.c .bin (overrides base)
	tokenizer  string // llama2.c tokenizer.bin
	adapter    string // folder with adapter_model.safetensors + adapter_config.json
}

func (b *baseFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&b.base, "base", defaultBase(), "golora base model (safetensors)")
	fs.StringVar(&b.checkpoint, "checkpoint", "", "llama2.c checkpoint (.bin) to use instead of -base")
	fs.StringVar(&b.tokenizer, "tokenizer", "", "llama2.c tokenizer.bin for -checkpoint (or for a -base fine-tuned from one)")
	fs.StringVar(&b.adapter, "adapter", "", "folder holding an adapter that finetune -out wrote: adapter_model.safetensors with\n"+
		"adapter_config.json (PEFT's LoRA, DoRA, IA3) or golora_adapter.json (top, bitfit)")
}

// describe says which model and adapter a command uses, e.g. "models/base.safetensors with adapter adapters/e2e
// (r=4, alpha 16 on q,v)".
func (b *baseFlags) describe(m *model.Model) string {
	what := b.modelPath()
	if b.adapter == "" {
		return what
	}
	var how string
	switch meth := attachedOf(m).(type) {
	case *peft.DoRA:
		how = "dora " + loraDesc(&meth.LoRA)
	case *peft.LoRA:
		how = loraDesc(meth)
	case nil:
		how = "its tensors in place of the base's"
	default:
		how = meth.Name()
	}
	return fmt.Sprintf("%s with adapter %s (%s)", what, b.adapter, how)
}

func loraDesc(lr *peft.LoRA) string {
	var targets []string
	for _, t := range lr.Targets {
		targets = append(targets, t.String())
	}
	scaling := ""
	if lr.RSLoRA {
		scaling = ", rsLoRA"
	}
	return fmt.Sprintf("r=%d, alpha %g%s on %s", lr.Rank, lr.Alpha, scaling, strings.Join(targets, ","))
}

// attachedOf is the one method attached to m, or nil.
func attachedOf(m *model.Model) model.Method {
	if ms := m.Methods(); len(ms) == 1 {
		return ms[0]
	}
	return nil
}

// defaultBase finds the shipped base from the repository root or the binary's folder.
func defaultBase() string {
	for _, p := range []string{"models/base.safetensors", "../models/base.safetensors", "../../models/base.safetensors"} {
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	return "models/base.safetensors"
}

// modelPath is the base's file: -checkpoint, else -base.
func (b *baseFlags) modelPath() string {
	if b.checkpoint != "" {
		return b.checkpoint
	}
	return b.base
}

// name is how the base is recorded in an adapter's base_model_name_or_path.
func (b *baseFlags) name() string {
	if b.checkpoint != "" {
		return filepath.Base(b.checkpoint)
	}
	return filepath.Base(b.base)
}

// load returns the base (with the adapter attached when -adapter is set) and its tokenizer.
func (b *baseFlags) load() (*model.Model, data.Tokenizer, error) {
	m, tok, err := b.loadBase()
	if err != nil {
		return nil, nil, err
	}
	if b.adapter == "" {
		return m, tok, nil
	}
	cfgPath, err := adapterConfigPath(b.adapter)
	if err != nil {
		return nil, nil, err
	}
	wPath := filepath.Join(b.adapter, train.AdapterWeightsName)
	cf, err := os.Open(cfgPath)
	if err != nil {
		return nil, nil, err
	}
	defer cf.Close()
	wf, err := os.Open(wPath)
	if err != nil {
		return nil, nil, err
	}
	defer wf.Close()
	am, err := train.ReadAdapter(m, cf, cfgPath, wf, wPath)
	if err != nil {
		return nil, nil, err
	}
	return am, tok, nil
}

// adapterConfigPath finds the adapter's config in dir: PEFT's adapter_config.json or golora's golora_adapter.json
// (one of them), and says what dir holds instead when neither is there.
func adapterConfigPath(dir string) (string, error) {
	var found []string
	for _, name := range []string{train.PEFTConfigName, train.GoloraConfigName} {
		if _, err := os.Stat(filepath.Join(dir, name)); err == nil {
			found = append(found, filepath.Join(dir, name))
		}
	}
	switch len(found) {
	case 1:
		return found[0], nil
	case 2:
		return "", fmt.Errorf("-adapter %s: holds both %s and %s; keep the one of the adapter_model.safetensors beside them",
			dir, train.PEFTConfigName, train.GoloraConfigName)
	}
	if _, err := os.Stat(filepath.Join(dir, "model.safetensors")); err == nil {
		return "", fmt.Errorf("-adapter %s: holds a whole fine-tuned model (full fine-tuning): use it with -base %s",
			dir, filepath.Join(dir, "model.safetensors"))
	}
	if st, err := os.Stat(dir); err != nil || !st.IsDir() {
		return "", fmt.Errorf("-adapter %s: not a folder (finetune -out DIR writes one, with %s and %s or %s)",
			dir, train.AdapterWeightsName, train.PEFTConfigName, train.GoloraConfigName)
	}
	return "", fmt.Errorf("-adapter %s: no %s or %s in it (finetune -out DIR writes them beside %s)",
		dir, train.PEFTConfigName, train.GoloraConfigName, train.AdapterWeightsName)
}

func (b *baseFlags) loadBase() (*model.Model, data.Tokenizer, error) {
	if b.checkpoint == "" {
		f, err := os.Open(b.base)
		if err != nil {
			return nil, nil, fmt.Errorf("%w (the shipped base is models/base.safetensors; run from the repository root or pass -base)", err)
		}
		defer f.Close()
		m, meta, err := model.Load(f, b.base)
		if err != nil {
			return nil, nil, err
		}
		switch tk := meta["golora.tokenizer"]; {
		case tk == "" || tk == "byte":
			return m, data.NewByteTokenizer(), nil
		case strings.HasPrefix(tk, "bpe:") && b.tokenizer != "":
			tok, err := readBPE(b.tokenizer, m.Config.VocabSize)
			if err != nil {
				return nil, nil, err
			}
			return m, tok, nil
		case strings.HasPrefix(tk, "bpe:"):
			return nil, nil, fmt.Errorf("%s was fine-tuned from a llama2.c model with tokenizer %s: pass it with -tokenizer", b.base, strings.TrimPrefix(tk, "bpe:"))
		default:
			return nil, nil, fmt.Errorf("%s: tokenizer %q is neither golora's byte tokenizer nor a llama2.c one", b.base, tk)
		}
	}
	if b.tokenizer == "" {
		return nil, nil, fmt.Errorf("-checkpoint needs -tokenizer (llama2.c's tokenizer.bin)")
	}
	f, err := os.Open(b.checkpoint)
	if err != nil {
		return nil, nil, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, nil, err
	}
	lc, tensors, err := checkpoint.ReadLlama2C(f, b.checkpoint, st.Size())
	if err != nil {
		return nil, nil, err
	}
	m, err := model.FromLlama2C(filepath.Base(b.checkpoint), lc, tensors)
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %w", b.checkpoint, err)
	}
	tok, err := readBPE(b.tokenizer, lc.VocabSize)
	if err != nil {
		return nil, nil, err
	}
	return m, tok, nil
}

// readBPE reads a llama2.c tokenizer.bin of vocab tokens.
func readBPE(path string, vocab int) (*data.BPE, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return data.ReadBPE(f, path, vocab)
}
