// outputs.go holds what the commands write: every output path is checked before any training starts, the trained
// adapter or model is written through temporary files, and a run's resume state is removed only once they are.

package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"golora/core/data"
	"golora/core/train"
)

// checkWritable reports whether a file can be written at path (flag names it in errors): path is not a directory,
// and the nearest existing folder on its way is a folder this process can create files in. Nothing is created.
func checkWritable(flag, path string) error {
	if st, err := os.Stat(path); err == nil && st.IsDir() {
		return fmt.Errorf("%s %s: is a folder, not a file", flag, path)
	}
	return checkFolder(flag, filepath.Dir(path))
}

// checkFolder reports whether dir is, or can be made, a folder to write files in: its nearest existing ancestor (dir
// itself when it exists) is a folder in which a file can be created. A path that cannot be looked at (no such file,
// a file on the way, no permission) is walked up from; the ancestor found then tells what is wrong.
func checkFolder(flag, dir string) error {
	d := dir
	for {
		st, err := os.Stat(d)
		if err == nil {
			if !st.IsDir() {
				return fmt.Errorf("%s %s: %s is a file, not a folder", flag, dir, d)
			}
			break
		}
		parent := filepath.Dir(d)
		if parent == d {
			return fmt.Errorf("%s %s: no folder on the way exists", flag, dir)
		}
		d = parent
	}
	f, err := os.CreateTemp(d, ".golora-check-*")
	if err != nil {
		return fmt.Errorf("%s %s: cannot write there: %w", flag, dir, err)
	}
	name := f.Name()
	f.Close()
	return os.Remove(name)
}

// outputFiles lists what `finetune -out dir` writes for a run of method (train.MethodSpec.Files).
func outputFiles(method, dir string) []string {
	spec, _ := train.LookupMethod(method)
	switch spec.Files {
	case train.FilesModel:
		return []string{filepath.Join(dir, "model.safetensors")}
	case train.FilesGolora:
		return []string{filepath.Join(dir, train.AdapterWeightsName), filepath.Join(dir, train.GoloraConfigName)}
	}
	return []string{filepath.Join(dir, train.AdapterWeightsName), filepath.Join(dir, train.PEFTConfigName)}
}

// checkOutputs checks, before a run of method starts, every path it will write: the -out folder and its files, the
// -resume file (and the temporary file beside it) and the -log file.
func checkOutputs(method, out, resume, logPath string) error {
	if out != "" {
		if method == train.MethodFrozen {
			return fmt.Errorf("-out: a frozen run trains nothing, so there is nothing to write")
		}
		if st, err := os.Stat(out); err == nil && !st.IsDir() {
			return fmt.Errorf("-out %s: is a file; -out names the folder the run's files go into (%s)", out,
				strings.Join(baseNames(outputFiles(method, out)), ", "))
		}
		if err := checkFolder("-out", out); err != nil {
			return err
		}
		for _, f := range outputFiles(method, out) {
			if err := checkWritable("-out", f); err != nil {
				return err
			}
		}
	}
	if resume != "" {
		if method == train.MethodFrozen {
			return fmt.Errorf("-resume: a frozen run trains nothing, so there is no state to save")
		}
		if err := checkWritable("-resume", resume); err != nil {
			return err
		}
	}
	if logPath != "" {
		if err := checkWritable("-log", logPath); err != nil {
			return err
		}
	}
	return nil
}

func baseNames(paths []string) []string {
	var out []string
	for _, p := range paths {
		out = append(out, filepath.Base(p))
	}
	return out
}

// writeRun writes what a finished run keeps into dir: an adapter's two files (PEFT's format, or golora's own for the
// methods PEFT lacks), a full run's model as dir/model.safetensors. It returns what it wrote, for the closing line.
func writeRun(s *train.Session, baseName, dir string) (string, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	if spec, _ := train.LookupMethod(s.Config().Method); spec.Files == train.FilesModel {
		return writeFullModel(s, baseName, dir)
	}
	return writeAdapter(s, baseName, dir)
}

// writeAdapter writes adapter_model.safetensors and its config (adapter_config.json or golora_adapter.json) into dir
// (which exists), and removes the other config if an earlier run left one there: a folder holds one adapter.
func writeAdapter(s *train.Session, baseName, dir string) (string, error) {
	f, err := s.ExportFiles(baseName)
	if err != nil {
		return "", err
	}
	for _, out := range []struct {
		name string
		data []byte
	}{{train.AdapterWeightsName, f.Weights}, {f.ConfigName, f.Config}} {
		if err := writeFile(filepath.Join(dir, out.name), func(file *os.File) error { _, err := file.Write(out.data); return err }); err != nil {
			return "", err
		}
	}
	for _, other := range []string{train.PEFTConfigName, train.GoloraConfigName} {
		if other != f.ConfigName {
			if err := os.Remove(filepath.Join(dir, other)); err != nil && !errors.Is(err, fs.ErrNotExist) {
				return "", err
			}
		}
	}
	return fmt.Sprintf("%s (%s) and %s", filepath.Join(dir, train.AdapterWeightsName), humanBytes(int64(len(f.Weights))), f.ConfigName), nil
}

// writeFullModel writes a full fine-tuning run's model as dir/model.safetensors (which exists): Hugging Face tensor
// names, the config in the metadata as `golora merge` writes a model, plus the run's tokenizer, base and settings.
func writeFullModel(s *train.Session, baseName, dir string) (string, error) {
	cfg := s.Config()
	cfg.Custom, cfg.CustomVal, cfg.CustomTest = nil, nil, nil // the recipe, not the data
	recipe, err := json.Marshal(cfg)
	if err != nil {
		return "", err
	}
	extra := map[string]string{
		"golora.tokenizer": s.Tokenizer().Name(),
		"golora.finetune":  string(recipe),
		"golora.base":      baseName,
		"golora.steps":     fmt.Sprint(s.StepsDone()),
	}
	path := filepath.Join(dir, "model.safetensors")
	m, err := s.FineTuned()
	if err != nil {
		return "", err
	}
	if err := writeFile(path, func(f *os.File) error { return m.Save(f, extra) }); err != nil {
		return "", err
	}
	st, err := os.Stat(path)
	if err != nil {
		return "", err
	}
	use := "-base " + path
	if _, bpe := s.Tokenizer().(*data.BPE); bpe {
		use += " -tokenizer <its tokenizer.bin>"
	}
	return fmt.Sprintf("%s (%s; use it with %s)", path, humanBytes(st.Size()), use), nil
}

// finish keeps what a finished run produced, in the order that never loses it: with a resume file, the final state
// goes there first; then the outputs are written; only then is the resume file removed. If writing fails, the state
// stays, and the same command writes the outputs again without training.
func finish(s *train.Session, baseName, out, resume string) (string, error) {
	if resume != "" {
		if err := saveSnapshot(s, resume); err != nil {
			return "", fmt.Errorf("-resume: saving the finished run: %w", err)
		}
	}
	wrote := ""
	if out != "" {
		var err error
		if wrote, err = writeRun(s, baseName, out); err != nil {
			if resume != "" {
				return "", fmt.Errorf("-out %s: %w; the finished run is kept in %s: run the same command again "+
					"(with an -out that can be written) to write it without training again", out, err, resume)
			}
			return "", fmt.Errorf("-out %s: %w", out, err)
		}
	}
	if resume != "" {
		if err := os.Remove(resume); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return wrote, err
		}
	}
	return wrote, nil
}
