// Command golora pretrains, fine-tunes (LoRA or full), sweeps, generates,
// benchmarks and serves the browser app. Run `golora <command> -h` for flags.
package main

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"strings"
)

type command struct {
	name, summary string
	run           func(args []string) error
}

func commands() []command {
	return []command{
		{"serve", "serve the browser app (make serve builds the wasm first)", runServe},
		{"finetune", "fine-tune the base model on a task with LoRA or full fine-tuning", runFinetune},
		{"sweep", "fine-tune once per LoRA rank (plus full fine-tuning) and compare", runSweep},
		{"generate", "generate text from a base model (ours or a llama2.c checkpoint), optionally with an adapter", runGenerate},
		{"evaluate", "score a base model, optionally with an adapter, on a task", runEvaluate},
		{"export", "write a base (merged with -adapter) as a llama2.c checkpoint or golora safetensors", runExport},
		{"merge", "merge an adapter into its base and write the merged model", runMerge},
		{"pretrain", "train a base model from scratch on the generated corpus", runPretrain},
		{"bench", "measure kernels and training steps against their baselines", runBench},
	}
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
