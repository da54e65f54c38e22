// Command golora pretrains, fine-tunes (LoRA or any other method), sweeps, generates,
// benchmarks and serves the browser app. Run `golora <command> -h` for flags.
package main

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"strconv"
	"strings"
)

type command struct {
	name, summary string
	examples      []string // shown by `golora <command> -h` under the summary
	run           func(args []string) error
}

func commands() []command {
	return []command{
		{"serve", "serve the browser app (make serve builds the wasm first)",
			[]string{"golora serve -addr 127.0.0.1:8080"}, runServe},
		{"finetune", "fine-tune the base model on a task with LoRA or another method (dora, full, top, bitfit, ia3, ...)",
			[]string{"golora finetune -task e2e -rank 4 -targets q,v -out adapters/e2e", "golora finetune -data my.jsonl -method full -out models/mine",
				"golora finetune -task e2e -method top -layers 2 -out adapters/top2"}, runFinetune},
		{"sweep", "fine-tune once per LoRA rank (plus full fine-tuning), or each method at its sizes, and compare",
			[]string{"golora sweep -task cipher -ranks 1,2,4,8,16 -png cipher.png", "golora sweep -task e2e -methods all -json -png methods.png"}, runSweep},
		{"generate", "generate text from a base model (ours or a llama2.c checkpoint), optionally with an adapter",
			[]string{"golora generate -prompt \"Once upon a time\" -temperature 0.8 -seed 7", "golora generate -checkpoint stories260K.bin -tokenizer tok512.bin -steps 200"}, runGenerate},
		{"evaluate", "score a base model, optionally with an adapter, on a task without training",
			[]string{"golora evaluate -adapter adapters/e2e -task e2e"}, runEvaluate},
		{"export", "write a base (merged with -adapter) as a llama2.c checkpoint or golora safetensors",
			[]string{"golora export -adapter adapters/e2e -llama2c merged.bin"}, runExport},
		{"merge", "merge an adapter into its base and write the merged model",
			[]string{"golora merge -adapter adapters/e2e -out merged.safetensors"}, runMerge},
		{"analyze", "the LoRA paper's analyses of an adapter: subspace similarity, ΔW vs W, spectra, intruders",
			[]string{"golora analyze -adapter adapters/r8 -compare adapters/r48 -png phi.png", "golora analyze -adapter adapters/r8 -full models/full -json"}, runAnalyze},
		{"pretrain", "train a base model from scratch on the generated corpus",
			[]string{"golora pretrain -steps 2000 -out models/mine.safetensors"}, runPretrain},
		{"bench", "measure kernels and training steps against their baselines",
			[]string{"golora bench -only train -json"}, runBench},
	}
}

// newFlagSet returns the flag set of the command name, whose -h starts with the command's one-line summary and
// examples (from commands), then lists its flags.
func newFlagSet(name string) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.Usage = func() {
		w := fs.Output()
		for _, c := range commands() {
			if c.name == name {
				fmt.Fprintf(w, "golora %s: %s\n\nExample:\n", name, c.summary)
				for _, e := range c.examples {
					fmt.Fprintf(w, "  %s\n", e)
				}
			}
		}
		fmt.Fprintf(w, "\nFlags:\n")
		fs.PrintDefaults()
	}
	return fs
}

// parseFlags parses args into fs, refusing positional arguments (every setting is a flag). hints explains, for a
// flag another command has, why this one does not take it.
func parseFlags(fs *flag.FlagSet, args []string, hints map[string]string) error {
	if err := fs.Parse(args); err != nil {
		if name, ok := strings.CutPrefix(err.Error(), "flag provided but not defined: -"); ok && hints[name] != "" {
			return fmt.Errorf("-%s: %s", name, hints[name])
		}
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments %q (every setting is a flag; see golora %s -h)", fs.Args(), fs.Name())
	}
	return nil
}

// flagFloat is a float32 default as a float64 flag default that prints as written: float64(float32(1e-3)) is
// 0.0010000000474974513, flagFloat(1e-3) is 0.001.
func flagFloat(x float32) float64 {
	v, _ := strconv.ParseFloat(strconv.FormatFloat(float64(x), 'g', -1, 32), 64) // a formatted float always parses
	return v
}

func usage() {
	fmt.Fprintf(os.Stderr, "golora: LoRA fine-tuning of small language models, natively and in the browser\n\nUsage: golora <command> [flags]\n\nCommands:\n")
	for _, c := range commands() {
		fmt.Fprintf(os.Stderr, "  %-9s %s\n", c.name, c.summary)
	}
	fmt.Fprintf(os.Stderr, "\nRun `golora <command> -h` for a command's flags.\n")
}

func main() {
	if len(os.Args) < 2 || os.Args[1] == "-h" || os.Args[1] == "--help" || os.Args[1] == "help" {
		usage()
		if len(os.Args) < 2 {
			os.Exit(2)
		}
		return
	}
	for _, c := range commands() {
		if c.name == os.Args[1] {
			err := c.run(os.Args[2:])
			if errors.Is(err, flag.ErrHelp) {
				return
			}
			if err != nil {
				// "golora pretrain: steps ...", not "golora pretrain: pretrain: steps ...".
				fmt.Fprintf(os.Stderr, "golora %s: %s\n", c.name, strings.TrimPrefix(err.Error(), c.name+": "))
				os.Exit(1)
			}
			return
		}
	}
	fmt.Fprintf(os.Stderr, "golora: unknown command %q\n\n", os.Args[1])
	usage()
	os.Exit(2)
}
