// golora sweep: one run per LoRA rank plus full fine-tuning, as a table, JSON lines and a chart.
package main

import (
	"encoding/json"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	"golora/core/train"
)

// sweepHints answers the finetune flags that a sweep sets per run.
var sweepHints = map[string]string{
	"rank":   "a sweep trains one LoRA run per rank of -ranks (e.g. -ranks 2 for one run at r=2)",
	"method": "a sweep runs LoRA at each of -ranks, then full fine-tuning (-full=false leaves it out, -full-lr sets its rate)",
	"out":    "a sweep keeps no adapters; train the rank you want with finetune -out",
	"resume": "a sweep cannot be resumed; finetune -resume continues one run",
}

// sweepFlags are a sweep's own flags besides the training ones.
type sweepFlags struct {
	ranks  string
	full   bool
	fullLR float64
}

// configs expands the training flags into the sweep's runs: one LoRA run per rank, with -lr (or LoRA's default)
// and alpha = the default scaling times r unless -alpha is given, then, with -full, a full fine-tuning run at -full-lr.
func (sf sweepFlags) configs(tf *trainFlags) ([]train.Config, error) {
	cfg, err := tf.config()
	if err != nil {
		return nil, err
	}
	var rs []int
	for _, f := range strings.Split(sf.ranks, ",") {
		r, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil {
			return nil, fmt.Errorf("-ranks: %q is not a number", f)
		}
		rs = append(rs, r)
	}
	lr := float32(0)
	if sf.full {
		lr = float32(sf.fullLR)
		if !(lr > 0) {
			return nil, fmt.Errorf("-full-lr: must be a positive number, got %g (or -full=false)", sf.fullLR)
		}
	}
	return train.SweepConfigs(cfg, rs, tf.alpha == 0, lr), nil
}

func runSweep(args []string) error {
	start := time.Now()
	fs := newFlagSet("sweep")
	var bf baseFlags
	var tf trainFlags
	var sf sweepFlags
	bf.register(fs)
	tf.register(fs, flagsSweep)
	fs.StringVar(&sf.ranks, "ranks", "1,2,4,8,16", "LoRA ranks to run")
	fs.BoolVar(&sf.full, "full", true, "also run full fine-tuning as the baseline")
	fs.Float64Var(&sf.fullLR, "full-lr", flagFloat(train.DefaultLR(train.MethodFull)), "learning rate of the full fine-tuning run")
	asJSON := fs.Bool("json", false, "print one JSON object per run on stdout")
	png := fs.String("png", "", "draw accuracy vs rank and vs trainable parameters into this PNG")
	logPath := fs.String("log", "", "write one JSON line per step and per evaluation of every run (and each result) to this file")
	if err := parseFlags(fs, args, sweepHints); err != nil {
		return err
	}
	runs, err := sf.configs(&tf)
	if err != nil {
		return err
	}
	if *png != "" {
		if err := checkWritable("-png", *png); err != nil {
			return err
		}
	}
	if *logPath != "" {
		if err := checkWritable("-log", *logPath); err != nil {
			return err
		}
	}
	base, tok, err := bf.load()
	if err != nil {
		return err
	}
	if err := train.ValidateSweep(base, runs); err != nil {
		return err
	}
	if err := printUnseen(base, tok, runs[0], nil); err != nil {
		return err
	}
	fmt.Fprintf(os.Stderr, "sweep: %d runs on %s\n", len(runs), bf.describe(base))
	var log *json.Encoder
	if *logPath != "" {
		f, err := openLog(*logPath, false)
		if err != nil {
			return err
		}
		defer f.Close()
		log = json.NewEncoder(f)
	}
	var results []train.Result
	var evals progress // the evaluations of every run, for the closing line
	for i, c := range runs {
		label := fmt.Sprintf("[%d/%d] %s", i+1, len(runs), c.Method)
		if c.Method == train.MethodLoRA {
			label = fmt.Sprintf("[%d/%d] r=%d", i+1, len(runs), c.Rank)
		}
		s, err := train.New(base, tok, c)
		if err != nil {
			return fmt.Errorf("sweep run %d: %w", i+1, err)
		}
		p := &progress{label: label, steps: c.Steps, evalEvery: c.EvalEvery, out: os.Stderr, log: log, run: &i}
		res, err := train.Run(s, 1, p.report)
		if err != nil {
			fmt.Fprintln(os.Stderr)
			return fmt.Errorf("sweep run %d (%s): %w", i+1, label[strings.Index(label, " ")+1:], err)
		}
		p.writeLog(logLine{Type: "result", Result: &res})
		evals.evals += p.evals
		evals.evalSecs += p.evalSecs
		results = append(results, res)
	}
	if *asJSON {
		enc := json.NewEncoder(os.Stdout)
		for _, r := range results {
			if err := enc.Encode(r); err != nil {
				return err
			}
		}
	} else {
		printTable(results)
	}
	var written []string
	if *png != "" {
		if err := plotSweep(*png, runs[0].Task, results); err != nil {
			return err
		}
		written = append(written, "the chart to "+*png)
	}
	if *logPath != "" {
		written = append(written, "the log to "+*logPath)
	}
	var trained float64
	for _, r := range results {
		trained += r.Seconds
	}
	fmt.Fprintf(os.Stderr, "sweep: %d runs done in %s (training %s, %s %s)", len(runs), seconds(time.Since(start).Seconds()),
		seconds(trained), plural(evals.evals, "evaluation"), seconds(evals.evalSecs))
	if len(written) > 0 {
		fmt.Fprintf(os.Stderr, "; wrote %s", strings.Join(written, "; "))
	}
	fmt.Fprintln(os.Stderr)
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
