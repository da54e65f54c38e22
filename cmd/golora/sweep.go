// golora sweep: one run per LoRA rank plus full fine-tuning (or, with -lrs, per learning rate), as a table, JSON lines and a chart.
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"image/color"
	"os"
	"strconv"
	"strings"
	"time"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"

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
	lrs    string // a learning-rate sweep instead (lrConfigs)
}

// configs expands the training flags into the sweep's runs: one LoRA run per rank, with -lr (or LoRA's default)
// and alpha = the default scaling times r unless -alpha is given, then, with -full, a full fine-tuning run at -full-lr.
func (sf sweepFlags) configs(tf *trainFlags) ([]train.Config, error) {
	cfg, err := tf.config()
	if err != nil {
		return nil, err
	}
	specs := tokenSpecs(cfg.TrainTokens)
	if sf.lrs != "" {
		cfgs, err := sf.lrConfigs(tf, cfg)
		return train.TokenSweepConfigs(cfgs, specs), err
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
	return train.TokenSweepConfigs(train.SweepConfigs(cfg, rs, tf.alpha == 0, lr), specs), nil
}

// tokenSpecs splits a sweep's -train-tokens into its values: comma-separated, except that a chars: or ids: value
// takes the rest (its own commas included).
func tokenSpecs(list string) []string {
	var specs []string
	for list != "" {
		if strings.HasPrefix(list, train.TokensChars) || strings.HasPrefix(list, train.TokensIDs) {
			return append(specs, list)
		}
		spec, rest, _ := strings.Cut(list, ",")
		specs = append(specs, strings.TrimSpace(spec))
		list = strings.TrimSpace(rest)
	}
	if len(specs) == 0 {
		specs = []string{""}
	}
	return specs
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
	fs.StringVar(&sf.lrs, "lrs", "", "a learning-rate sweep instead: LoRA (at the one rank of -ranks, or r=4) and full fine-tuning\n"+
		"(unless -full=false) at each of these rates, e.g. 1e-4,3e-4,1e-3,3e-3,1e-2,3e-2,1e-1; reports each method's best\n"+
		"rate by final validation loss and their ratio (-png: the loss against the rate)")
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
		if sf.lrs != "" {
			label += fmt.Sprintf(" lr=%g", c.LR)
		}
		if c.Method == train.MethodLoRA && c.TrainTokens != "" {
			label += " tokens=" + c.TrainTokens
		}
		s, err := train.New(base, tok, c)
		if err != nil {
			return fmt.Errorf("sweep run %d: %w", i+1, err)
		}
		p := &progress{label: label, steps: c.Steps, evalEvery: c.EvalEvery, out: os.Stderr, log: log, run: &i}
		res, err := train.Run(s, 1, p.report)
		if d, ok := train.DivergedResult(s, err); ok && sf.lrs != "" { // a rate too high: recorded, and the sweep goes on
			fmt.Fprintf(os.Stderr, "\n%s: %s\n", label, d.Diverged)
			res, err = d, nil
		}
		if err != nil {
			fmt.Fprintln(os.Stderr)
			return fmt.Errorf("sweep run %d (%s): %w", i+1, label[strings.Index(label, " ")+1:], err)
		}
		p.writeLog(logLine{Type: "result", Result: &res})
		evals.evals += p.evals
		evals.evalSecs += p.evalSecs
		results = append(results, res)
	}
	summary := lrSummaryOf(results)
	if *asJSON {
		enc := json.NewEncoder(os.Stdout)
		for _, r := range results {
			if err := enc.Encode(r); err != nil {
				return err
			}
		}
		if sf.lrs != "" {
			if err := enc.Encode(summary); err != nil {
				return err
			}
		}
	} else if sf.lrs != "" {
		printLRTable(results, summary)
	} else {
		printTable(results)
	}
	var written []string
	if *png != "" {
		draw := plotSweep
		if sf.lrs != "" {
			draw = plotLRSweep
		}
		if err := draw(*png, runs[0].Task, results); err != nil {
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
	fmt.Printf("%-6s %-6s %4s %-10s %-13s %10s %10s %9s %9s %9s\n", "task", "method", "rank", "targets", "train-tokens", "trainable", "state", "val_loss", "accuracy", "tok/s")
	for _, r := range results {
		rank := "-"
		if r.Method == train.MethodLoRA {
			rank = strconv.Itoa(r.Rank)
		}
		targets := strings.Join(r.Targets, ",")
		if targets == "" {
			targets = "all"
		}
		tokens := "-"
		if r.TrainTokens != "" && r.TrainTokens != train.TokensNone {
			tokens = fmt.Sprintf("%s (%d)", r.TrainTokens, r.TokenRows)
		}
		fmt.Printf("%-6s %-6s %4s %-10s %-13s %10d %10s %9.4f %8.1f%% %9.0f\n", r.Task, r.Method, rank, targets, tokens,
			r.TrainableParams, humanBytes(r.TrainableBytes), r.ValLoss, 100*r.Accuracy, r.TokensPerSec)
	}
}

// lrConfigs expands a learning-rate sweep: LoRA at one rank (alpha as a rank sweep sets it) and, with -full,
// full fine-tuning, each at every rate of -lrs.
func (sf sweepFlags) lrConfigs(tf *trainFlags, cfg train.Config) ([]train.Config, error) {
	rank := train.DefaultConfig().Rank
	var clash []string
	tf.fs.Visit(func(f *flag.Flag) {
		switch f.Name {
		case "ranks":
			r, err := strconv.Atoi(strings.TrimSpace(sf.ranks))
			if err != nil {
				clash = append(clash, "-ranks (give one rank with -lrs)")
			}
			rank = r
		case "full-lr", "lr":
			clash = append(clash, "-"+f.Name)
		}
	})
	if len(clash) > 0 {
		return nil, fmt.Errorf("-lrs sweeps the learning rates of LoRA at one rank and of full fine-tuning: %s does not apply", strings.Join(clash, ", "))
	}
	var lrs []float32
	for _, f := range strings.Split(sf.lrs, ",") {
		v, err := strconv.ParseFloat(strings.TrimSpace(f), 32)
		if err != nil || !(v > 0) {
			return nil, fmt.Errorf("-lrs: %q is not a positive number", f)
		}
		lrs = append(lrs, float32(v))
	}
	methods := []string{train.MethodLoRA}
	if sf.full {
		methods = append(methods, train.MethodFull)
	}
	lcfg := train.SweepConfigs(cfg, []int{rank}, tf.alpha == 0, 0)[0]
	return train.LRSweepConfigs(lcfg, lrs, methods), nil
}

// lrSummary is the last JSON line of `sweep -lrs -json`: each method's best rate and their ratio.
type lrSummary struct {
	Rank     int     `json:"rank"`
	BestLoRA float32 `json:"best_lora_lr,omitempty"`
	BestFull float32 `json:"best_full_lr,omitempty"`
	Ratio    float64 `json:"lora_over_full,omitempty"`
}

func lrSummaryOf(results []train.Result) lrSummary {
	var s lrSummary
	if l, ok := train.BestLR(results, train.MethodLoRA); ok {
		s.Rank, s.BestLoRA = l.Rank, l.LR
	}
	if f, ok := train.BestLR(results, train.MethodFull); ok {
		s.BestFull = f.LR
	}
	if s.BestLoRA > 0 && s.BestFull > 0 {
		s.Ratio = float64(s.BestLoRA) / float64(s.BestFull)
	}
	return s
}

func printLRTable(results []train.Result, s lrSummary) {
	fmt.Printf("%-6s %-6s %4s %9s %10s %9s %9s\n", "task", "method", "rank", "lr", "trainable", "val_loss", "accuracy")
	for _, r := range results {
		rank := "-"
		if r.Method == train.MethodLoRA {
			rank = strconv.Itoa(r.Rank)
		}
		if r.Diverged != "" {
			fmt.Printf("%-6s %-6s %4s %9.1e %10d %9s %9s  diverged after %d steps\n", r.Task, r.Method, rank, r.LR, r.TrainableParams, "-", "-", r.Steps)
			continue
		}
		mark := ""
		if (r.Method == train.MethodLoRA && r.LR == s.BestLoRA) || (r.Method == train.MethodFull && r.LR == s.BestFull) {
			mark = "  best"
		}
		fmt.Printf("%-6s %-6s %4s %9.1e %10d %9.4f %8.1f%%%s\n", r.Task, r.Method, rank, r.LR, r.TrainableParams, r.ValLoss, 100*r.Accuracy, mark)
	}
	if s.Ratio > 0 {
		fmt.Printf("best learning rate by validation loss: LoRA %g, full fine-tuning %g: LoRA's is %.3gx (\"LoRA without regret\": about 10x)\n",
			s.BestLoRA, s.BestFull, s.Ratio)
	}
}

// plotLRSweep draws the final validation loss against the learning rate (both on log scales), one line per method.
func plotLRSweep(path, task string, results []train.Result) error {
	p := plot.New()
	p.Title.Text = task + ": final validation loss vs learning rate"
	p.X.Label.Text = "peak learning rate (log)"
	p.Y.Label.Text = "validation loss (log)"
	p.X.Scale, p.Y.Scale = plot.LogScale{}, plot.LogScale{}
	p.X.Tick.Marker, p.Y.Tick.Marker = plot.LogTicks{Prec: -1}, plot.LogTicks{Prec: -1}
	p.Add(plotter.NewGrid())
	colors := map[string]color.Color{train.MethodLoRA: color.RGBA{R: 0x1f, G: 0x6f, B: 0xd0, A: 0xff}, train.MethodFull: color.RGBA{R: 0xc0, G: 0x39, B: 0x2b, A: 0xff}}
	names := map[string]string{train.MethodLoRA: "LoRA", train.MethodFull: "full fine-tuning"}
	drawn := 0
	for _, m := range []string{train.MethodLoRA, train.MethodFull} {
		var pts plotter.XYs
		for _, r := range results {
			if r.Method == m && r.Diverged == "" && r.ValLoss > 0 {
				pts = append(pts, plotter.XY{X: float64(r.LR), Y: float64(r.ValLoss)})
			}
		}
		if len(pts) == 0 {
			continue
		}
		line, points, err := plotter.NewLinePoints(pts)
		if err != nil {
			return err
		}
		line.Color, points.Color = colors[m], colors[m]
		points.Shape = draw.CircleGlyph{}
		p.Add(line, points)
		best, _ := train.BestLR(results, m)
		p.Legend.Add(fmt.Sprintf("%s (best %g)", names[m], best.LR), line, points)
		drawn++
	}
	if drawn == 0 {
		return fmt.Errorf("-png: every run diverged; nothing to plot")
	}
	p.Legend.Top = true
	img := vgimg.New(7*vg.Inch, 4.5*vg.Inch)
	p.Draw(draw.New(img))
	return savePNG(img, path)
}
