// golora sweep: one run per LoRA rank plus full fine-tuning, as a table, JSON lines and a chart.
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"strconv"
	"strings"

	"golora/core/train"
)

func runSweep(args []string) error {
	fs := flag.NewFlagSet("sweep", flag.ContinueOnError)
	var bf baseFlags
	var tf trainFlags
	bf.register(fs)
	tf.register(fs)
	ranks := fs.String("ranks", "1,2,4,8,16", "LoRA ranks to run")
	full := fs.Bool("full", true, "also run full fine-tuning as the baseline")
	fullLR := fs.Float64("full-lr", float64(train.DefaultLR(train.MethodFull)), "learning rate of the full fine-tuning run")
	asJSON := fs.Bool("json", false, "print one JSON object per run on stdout")
	png := fs.String("png", "", "draw accuracy vs rank and vs trainable parameters into this PNG")
	if err := fs.Parse(args); err != nil {
		return err
	}
	cfg, err := tf.config()
	if err != nil {
		return err
	}
	var rs []int
	for _, f := range strings.Split(*ranks, ",") {
		r, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil {
			return fmt.Errorf("-ranks: %q is not a number", f)
		}
		rs = append(rs, r)
	}
	base, tok, err := bf.load()
	if err != nil {
		return err
	}
	if err := printUnseen(base, tok, cfg, nil); err != nil {
		return err
	}
	keepScaling := tf.alpha == float64(train.DefaultConfig().Alpha) // keep alpha/r fixed unless -alpha was set
	lr := float32(0)
	if *full {
		lr = float32(*fullLR)
	}
	runs := train.SweepConfigs(cfg, rs, keepScaling, lr)
	results, err := train.Sweep(base, tok, runs, func(i int, p train.Progress) {
		c := runs[i]
		label := fmt.Sprintf("[%d/%d] %s", i+1, len(runs), c.Method)
		if c.Method == train.MethodLoRA {
			label = fmt.Sprintf("[%d/%d] r=%d", i+1, len(runs), c.Rank)
		}
		printProgress(label, c.Steps, p)
	})
	if err != nil {
		return err
	}
	if *asJSON {
		enc := json.NewEncoder(os.Stdout)
		for _, r := range results {
			if err := enc.Encode(r); err != nil {
				return err
			}
		}
	}
	if !*asJSON {
		printTable(results)
	}
	if *png != "" {
		if err := plotSweep(*png, cfg.Task, results); err != nil {
			return err
		}
		fmt.Fprintf(os.Stderr, "wrote %s\n", *png)
	}
	return nil
}

func printTable(results []train.Result) {
	fmt.Printf("%-6s %-6s %4s %-10s %10s %10s %9s %9s %9s\n", "task", "method", "rank", "targets", "trainable", "state", "val_loss", "accuracy", "tok/s")
	for _, r := range results {
		rank := "-"
		if r.Method == train.MethodLoRA {
			rank = strconv.Itoa(r.Rank)
		}
		targets := strings.Join(r.Targets, ",")
		if targets == "" {
			targets = "all"
		}
		fmt.Printf("%-6s %-6s %4s %-10s %10d %10s %9.4f %8.1f%% %9.0f\n", r.Task, r.Method, rank, targets,
			r.TrainableParams, humanBytes(r.TrainableBytes), r.ValLoss, 100*r.Accuracy, r.TokensPerSec)
	}
}
