// golora merge and golora export: write a base with its adapter merged, as golora safetensors or a llama2.c checkpoint.
package main

import (
	"fmt"
	"os"
	"path/filepath"

	"golora/core/checkpoint"
	"golora/core/model"
	"golora/core/train"
)

func runMerge(args []string) error {
	fs := newFlagSet("merge")
	var bf baseFlags
	bf.register(fs)
	out := fs.String("out", "", "merged model to write (golora safetensors)")
	l2c := fs.String("llama2c", "", "also (or instead) write the merged model as a llama2.c checkpoint")
	if err := parseFlags(fs, args, nil); err != nil {
		return err
	}
	if bf.adapter == "" {
		return fmt.Errorf("-adapter is required: the folder of the adapter to merge")
	}
	if *out == "" && *l2c == "" {
		return fmt.Errorf("-out (or -llama2c) is required")
	}
	if err := checkModelOutputs(*out, *l2c); err != nil {
		return err
	}
	m, _, err := bf.load()
	if err != nil {
		return err
	}
	fmt.Fprintf(os.Stderr, "merge: %s\n", bf.describe(m))
	if err := mergeMethods(m); err != nil {
		return err
	}
	return writeModel(m, *out, *l2c)
}

// mergeMethods folds the methods attached to m into its weights (none: an adapter that replaced base tensors, such
// as top's, is in them already), or says why one cannot be.
func mergeMethods(m *model.Model) error {
	for _, meth := range m.Methods() {
		if _, ok := meth.(model.Merger); !ok {
			return fmt.Errorf("%s cannot be merged: %s; evaluate and generate use it as it is", meth.Name(), train.MergeWhyNot(meth.Name()))
		}
	}
	if len(m.Methods()) == 0 {
		return nil
	}
	return m.Merge()
}

func runExport(args []string) error {
	fs := newFlagSet("export")
	var bf baseFlags
	bf.register(fs)
	l2c := fs.String("llama2c", "", "write the base (merged with -adapter if given) as a llama2.c checkpoint")
	out := fs.String("out", "", "write it as golora safetensors")
	if err := parseFlags(fs, args, nil); err != nil {
		return err
	}
	if *out == "" && *l2c == "" {
		return fmt.Errorf("-llama2c FILE or -out FILE is required (adapters are written by finetune -out DIR)")
	}
	if err := checkModelOutputs(*out, *l2c); err != nil {
		return err
	}
	m, _, err := bf.load()
	if err != nil {
		return err
	}
	if err := mergeMethods(m); err != nil {
		return err
	}
	return writeModel(m, *out, *l2c)
}

// checkModelOutputs checks the -out and -llama2c files (either may be empty) before a model is loaded and merged.
func checkModelOutputs(out, l2c string) error {
	if out != "" {
		if err := checkWritable("-out", out); err != nil {
			return err
		}
	}
	if l2c != "" {
		return checkWritable("-llama2c", l2c)
	}
	return nil
}

// writeModel writes m as golora safetensors to out and/or as llama2.c to l2c (either may be empty).
func writeModel(m *model.Model, out, l2c string) error {
	if out != "" {
		if err := writeFile(out, func(f *os.File) error { return m.Save(f, nil) }); err != nil {
			return err
		}
		fmt.Fprintf(os.Stderr, "wrote %s\n", out)
	}
	if l2c != "" {
		lc, tensors, ok := m.Llama2C()
		if !ok {
			return fmt.Errorf("-llama2c: llama2.c fixes norm eps 1e-5 and RoPE base 10000; this model uses %g and %g", m.Config.NormEps, m.Config.RopeBase)
		}
		if err := writeFile(l2c, func(f *os.File) error { return checkpoint.WriteLlama2C(f, lc, tensors) }); err != nil {
			return err
		}
		fmt.Fprintf(os.Stderr, "wrote %s (llama2.c legacy format)\n", l2c)
	}
	return nil
}

// writeFile writes through a temporary file and renames it, so a failure never leaves a partial file. The file is
// readable by all (0644), as os.WriteFile makes adapters: CreateTemp's 0600 would hide a model from other users.
func writeFile(path string, write func(*os.File) error) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), ".golora-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if err := tmp.Chmod(0o644); err != nil {
		tmp.Close()
		return err
	}
	if err := write(tmp); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}
