// golora sweep: one run per LoRA rank plus full fine-tuning, or (-methods) each method at its ladder of sizes, or
// (-lrs) each method per learning rate; as a table, JSON lines and a chart.
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"image/color"
	"io"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"

	"golora/core/data"
	"golora/core/model"
	"golora/core/train"
)

// sweepHints answers the finetune flags that a sweep sets per run.
var sweepHints = map[string]string{
	"rank":       "a sweep trains one LoRA run per rank of -ranks (e.g. -ranks 2 for one run at r=2), or -size METHOD=N,N",
	"layers":     "a methods sweep runs top at each k of its ladder: -size top=1,2",
	"bottleneck": "a methods sweep runs the adapters at each width of their ladder: -size adapter-h=2,8",
	"prefix-len": "a methods sweep runs the prefixes at each l_p of their ladder: -size prefix-embed=1,4",
	"out":        "a sweep keeps no adapters; train the rank you want with finetune -out",
	"resume":     "a sweep cannot be resumed; finetune -resume continues one run",
}

// sweepFlags are a sweep's own flags besides the training ones.
type sweepFlags struct {
	ranks      string
	full       bool
	fullLR     float64
	lrs        string // a learning-rate sweep instead (lrConfigs)
	methods    string // a methods sweep: each at its ladder (methodConfigs)
	sizes      sizeFlag
	method     string // the method a rank-like sweep varies: lora (-ranks) or intrinsic (-dims: intrinsicConfigs)
	dims       string
	dimLRScale bool // -dims: each d's rate scaled from -lr at the default d (train.IntrinsicLR)
}

// sizeFlag is the repeatable -size METHOD=N,N,...: a method's sizes in a methods sweep instead of its ladder.
type sizeFlag map[string][]int

func (f *sizeFlag) String() string {
	var parts []string
	for m, ns := range *f {
		var s []string
		for _, n := range ns {
			s = append(s, strconv.Itoa(n))
		}
		parts = append(parts, m+"="+strings.Join(s, ","))
	}
	slices.Sort(parts)
	return strings.Join(parts, " ")
}

func (f *sizeFlag) Set(v string) error {
	m, list, ok := strings.Cut(v, "=")
	if !ok || m == "" || list == "" {
		return fmt.Errorf("want METHOD=N,N,... (e.g. lora=1,4,16), got %q", v)
	}
	if _, ok := train.LookupMethod(m); !ok {
		return fmt.Errorf("unknown method %q (want one of %s)", m, strings.Join(train.MethodNames(), ", "))
	}
	if *f == nil {
		*f = sizeFlag{}
	}
	if _, dup := (*f)[m]; dup {
		return fmt.Errorf("%s given twice", m)
	}
	var ns []int
	for _, part := range strings.Split(list, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(part))
		if err != nil || n < 1 {
			return fmt.Errorf("%s: %q is not a positive whole number", m, part)
		}
		ns = append(ns, n)
	}
	(*f)[m] = ns
	return nil
}

// configs expands the training flags into the sweep's runs: one LoRA run per rank, with -lr (or LoRA's default)
// and -alpha at every rank (-alpha 0: the default scaling times r), then, with -full, a full fine-tuning run at -full-lr.
func (sf sweepFlags) configs(tf *trainFlags) ([]train.Config, error) {
	cfg, err := tf.config()
	if err != nil {
		return nil, err
	}
	specs := tokenSpecs(cfg.TrainTokens)
	switch {
	case sf.method == train.MethodIntrinsic:
		if sf.methods != "" {
			return nil, fmt.Errorf("-method intrinsic is an intrinsic-dimension sweep (d90); -methods runs a methods sweep: give one")
		}
		return sf.intrinsicConfigs(tf, cfg)
	case sf.method != train.MethodLoRA && sf.method != "":
		return nil, fmt.Errorf("-method: a sweep runs LoRA at each of -ranks, then full fine-tuning (-full=false leaves it out, "+
			"-full-lr sets its rate); -method intrinsic runs intrinsic at each of -dims instead of LoRA; -methods M,M runs "+
			"each method at its ladder of sizes (got %q)", sf.method)
	case sf.dims != "":
		return nil, fmt.Errorf("-dims: the dimensions of an intrinsic sweep: give -method intrinsic")
	}
	if sf.methods != "" {
		cfgs, err := sf.methodConfigs(tf, cfg)
		return train.TokenSweepConfigs(cfgs, specs), err
	}
	if len(sf.sizes) > 0 {
		return nil, fmt.Errorf("-size sets a method's sizes in a methods sweep: give -methods too")
	}
	if sf.lrs != "" {
		cfgs, err := sf.lrConfigs(tf, cfg, []string{train.MethodLoRA})
		return train.TokenSweepConfigs(cfgs, specs), err
	}
	rs, err := parseInts("ranks", sf.ranks)
	if err != nil {
		return nil, err
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
	fs.StringVar(&sf.method, "method", train.MethodLoRA, "the method swept: lora (at each of -ranks) or intrinsic (at each of -dims)")
	fs.StringVar(&sf.dims, "dims", "", "with -method intrinsic: the subspace dimensions d, e.g. 10,100,1000,10000 (the default);\n"+
		"reports d90, the smallest d reaching 90% of full fine-tuning's accuracy, beside LoRA's trainable counts\n"+
		"(-ranks given too: LoRA runs at those ranks as well; -lr is intrinsic's rate, LoRA keeps its default)")
	fs.BoolVar(&sf.dimLRScale, "dim-lr-scale", true, fmt.Sprintf("with -dims: -lr (default %g) is the rate at d = %d, and each d runs at lr·sqrt(%d/d),\n"+
		"which keeps the step in the weights the same size (false: every d at -lr)", flagFloat(train.DefaultLR(train.MethodIntrinsic)),
		train.DefaultConfig().IntrinsicDim, train.DefaultConfig().IntrinsicDim))
	asJSON := fs.Bool("json", false, "print one JSON object per run on stdout")
	png := fs.String("png", "", "draw accuracy vs rank and vs trainable parameters into this PNG")
	fs.StringVar(&sf.methods, "methods", "", "a methods sweep instead: each of these methods (or all) at its ladder of sizes\n"+
		"("+ladders()+") at its own default learning rate, e.g. lora,dora,full,top,bitfit,ia3;\n"+
		"-png draws accuracy against trainable parameters per method, and step time relative to full fine-tuning")
	fs.Var(&sf.sizes, "size", "with -methods: METHOD=N,N,... runs that method at these sizes instead of its ladder (repeatable:\n"+
		"-size lora=2,8 -size top=1)")
	fs.StringVar(&sf.lrs, "lrs", "", "a learning-rate sweep instead: LoRA (at the one rank of -ranks, or r=4) and full fine-tuning\n"+
		"(unless -full=false), or each method of -methods at its default size (or the one of -size), at each of these rates,\n"+
		"e.g. 1e-4,3e-4,1e-3,3e-3,1e-2,3e-2,1e-1; reports each method's best rate by final validation loss\n"+
		"(-png: the loss against the rate)")
	logPath := fs.String("log", "", "write one JSON line per step and per evaluation of every run (and each result) to this file")
	from := fs.String("from", "", "train nothing: read the JSON lines that methods sweeps printed (-json) from these files\n"+
		"(comma-separated) and print their table, or draw them with -png (one figure from sweeps run in parts);\n"+
		"with -method intrinsic or -lrs, the one file of such a sweep (its table, d90 or best rates, and chart); for\n"+
		"methods sweeps, a run given twice keeps its first figures and a -time-only sweep's timings replace the runs' own")
	timeOnly := fs.Bool("time-only", false, "with -methods: train nothing; time every run's step against full fine-tuning's and\n"+
		"its decoding against the base's, interleaved in one pass (CPU time), and print those: a sweep run in parts\n"+
		"gets its step times from one pass this way (sweep -from PARTS,TIMES)")
	if err := parseFlags(fs, args, sweepHints); err != nil {
		return err
	}
	if *from != "" {
		if sf.method == train.MethodIntrinsic || sf.lrs != "" {
			return replotSweep(*from, sf, &tf, &bf, *png)
		}
		return replotSweeps(strings.Split(*from, ","), *png, *asJSON)
	}
	if *timeOnly && sf.methods == "" {
		return fmt.Errorf("-time-only times the runs of a methods sweep: give -methods")
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
	var runsOut []sweepRun
	var evals progress // the evaluations of every run, for the closing line
	methodsSweep := sf.methods != "" && sf.lrs == ""
	for i, c := range runs {
		label := fmt.Sprintf("[%d/%d] %s", i+1, len(runs), c.Label())
		if sf.methods == "" && c.Method == train.MethodLoRA {
			label = fmt.Sprintf("[%d/%d] r=%d", i+1, len(runs), c.Rank)
		}
		if sf.lrs != "" {
			label += fmt.Sprintf(" lr=%g", c.LR)
		}
		if c.Method == train.MethodLoRA && c.TrainTokens != "" {
			label += " tokens=" + c.TrainTokens
		}
		s, err := train.New(base, tok, c)
		if err == nil && *timeOnly { // nothing trained: the run as it starts, timed below
			info := s.Info()
			run := sweepRun{Result: train.Result{Task: s.Task().Name, Method: c.Method, MethodSettings: info.MethodSettings,
				TrainableParams: info.TrainableParams, TrainableBytes: info.TrainableBytes, StateBytes: info.TrainableBytes, LR: c.LR}}
			if c.Method != train.MethodFrozen {
				run.DecodeMS, run.DecodeVsBase = decodeCost(s.Model(), base, decodeTimeOnlyRounds)
			}
			fmt.Fprintf(os.Stderr, "%s: decoding timed\n", label)
			results, runsOut = append(results, run.Result), append(runsOut, run)
			continue
		}
		if why, ok := train.Skippable(c, err); ok && methodsSweep { // a prefix too long for the task, or no token rows to train
			fmt.Fprintf(os.Stderr, "%s: skipped: %s\n", label, why)
			runsOut = append(runsOut, sweepRun{Result: train.Result{Task: c.Task, Method: c.Method, LR: c.LR}, Skipped: why})
			runsOut[len(runsOut)-1].MethodSettings = train.MethodSettings{Size: c.Size(), SizeName: sizeName(c.Method)}
			continue
		}
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
		run := sweepRun{Result: res}
		if methodsSweep && c.Method != train.MethodFrozen {
			run.DecodeMS, run.DecodeVsBase = decodeCost(s.Model(), base, decodeRounds)
		}
		runsOut = append(runsOut, run)
	}
	if methodsSweep {
		rounds := timingRounds
		if *timeOnly {
			rounds = timeOnlyRounds
		}
		fmt.Fprintf(os.Stderr, "sweep: timing each method's step against full fine-tuning's, interleaved (%d rounds)...\n", rounds)
		if err := timeSteps(base, tok, runs, runsOut, rounds); err != nil {
			return err
		}
	}
	summary := lrSummaryOf(results)
	intrinsic := sf.method == train.MethodIntrinsic
	var isum intrinsicSummary
	if intrinsic {
		isum = summarizeIntrinsic(base, runs, results)
	}
	if *asJSON {
		enc := json.NewEncoder(os.Stdout)
		for _, r := range runsOut {
			var v any = r
			if !methodsSweep {
				v = r.Result
			}
			if err := enc.Encode(v); err != nil {
				return err
			}
		}
		if sf.lrs != "" {
			if err := enc.Encode(summary); err != nil {
				return err
			}
		}
		if intrinsic {
			if err := enc.Encode(isum); err != nil {
				return err
			}
		}
	} else if sf.lrs != "" {
		printLRTable(results, summary)
	} else if methodsSweep {
		printMethodsTable(runsOut)
	} else {
		printTable(results)
		if intrinsic {
			printIntrinsic(isum)
		}
	}
	var written []string
	if *png != "" {
		title := runs[0].Task
		if title == "custom" && tf.dataFile != "" { // the user's file by its name, not "custom"
			title = filepath.Base(tf.dataFile)
		}
		var err error
		switch {
		case sf.lrs != "":
			err = plotLRSweep(*png, title, results)
		case methodsSweep:
			err = plotMethods(*png, title, runsOut)
		case intrinsic:
			err = plotIntrinsic(*png, title, results, isum)
		default:
			err = plotSweep(*png, title, results)
		}
		if err != nil {
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

// replotSweeps reads the runs that methods sweeps printed with -json from files, and prints their table (or their
// JSON lines again, with -json) and draws them into png (when given). Runs are kept in the files' order; a run given
// twice (full fine-tuning, run in each part of a sweep) keeps its first figures; a -time-only sweep's timings
// replace those of the runs of the same settings.
func replotSweeps(files []string, png string, asJSON bool) error {
	var runs []sweepRun
	byKey := map[string]int{} // a run's method and settings: its index in runs
	task := ""
	for _, path := range files {
		f, err := os.Open(path)
		if err != nil {
			return fmt.Errorf("-from: %w", err)
		}
		dec := json.NewDecoder(f)
		for n := 1; ; n++ {
			var r sweepRun
			if err := dec.Decode(&r); err == io.EOF {
				break
			} else if err != nil {
				f.Close()
				return fmt.Errorf("-from %s: run %d: %w", path, n, err)
			}
			if r.Method == "" {
				continue // a learning-rate sweep's summary line
			}
			if task == "" {
				task = r.Task
			} else if r.Task != task {
				f.Close()
				return fmt.Errorf("-from %s: run %d is of task %s, the first of %s: one figure is one task", path, n, r.Task, task)
			}
			key := fmt.Sprint(r.Method, " ", r.Size, " ", r.Alpha, " ", r.Targets)
			i, seen := byKey[key]
			switch {
			case r.Steps == 0 && r.Skipped == "" && r.Method != train.MethodFrozen: // a -time-only sweep's timings
				if !seen {
					fmt.Fprintf(os.Stderr, "sweep: -from %s: the timings of %s %s=%d match no trained run; left out\n", path, r.Method, r.SizeName, r.Size)
					continue
				}
				runs[i].StepTimedMS, runs[i].StepVsFull, runs[i].DecodeMS, runs[i].DecodeVsBase = r.StepTimedMS, r.StepVsFull, r.DecodeMS, r.DecodeVsBase
			case seen: // given twice (full fine-tuning in each part of a sweep): the first
			default:
				byKey[key] = len(runs)
				runs = append(runs, r)
			}
		}
		f.Close()
	}
	if len(runs) == 0 {
		return fmt.Errorf("-from: no runs in %s", strings.Join(files, ", "))
	}
	if asJSON {
		enc := json.NewEncoder(os.Stdout)
		for _, r := range runs {
			if err := enc.Encode(r); err != nil {
				return err
			}
		}
	} else {
		printMethodsTable(runs)
	}
	if png != "" {
		if err := plotMethods(png, task, runs); err != nil {
			return err
		}
		fmt.Fprintf(os.Stderr, "sweep: wrote the chart of %d runs to %s\n", len(runs), png)
	}
	return nil
}

// sizeName is the size knob of method ("" when it has none).
func sizeName(method string) string {
	spec, _ := train.LookupMethod(method)
	return spec.Size
}

// sweepRun is one run of a methods sweep as -json prints it: the run's Result and what the sweep measured beside it.
type sweepRun struct {
	Skipped string `json:"skipped,omitempty"` // why the run could not run (a prefix that leaves the examples no room, no token rows)
	train.Result
	StepTimedMS  float64 `json:"step_timed_ms,omitempty"`       // a step on the sweep's first batch in the timing pass (CPU time)
	StepVsFull   float64 `json:"step_vs_full,omitempty"`        // step_timed_ms over full fine-tuning's, from the same rounds
	DecodeMS     float64 `json:"decode_ms_per_token,omitempty"` // decoding one row, per token, as trained (unmerged; CPU time)
	DecodeVsBase float64 `json:"decode_vs_base,omitempty"`      // the same over the plain base's, measured alternately with it
}

// timingRounds is how many rounds timeSteps interleaves after a sweep (timeOnlyRounds in a -time-only pass, which
// has the time), and timingSteps the steps each method takes per round.
const (
	timingRounds   = 5
	timeOnlyRounds = 15
	timingSteps    = 2
)

// measure runs f and returns how long it took: the process's CPU time where it can be read (on a shared machine the
// time this process ran, whatever else ran beside it), else the wall clock; and which of the two it was.
func measure(f func() error) (time.Duration, bool, error) {
	if c0, ok := cpuNow(); ok {
		err := f()
		c1, _ := cpuNow()
		return c1 - c0, true, err
	}
	start := time.Now()
	err := f()
	return time.Since(start), false, err
}

// timeSteps sets each run's step_timed_ms and step_vs_full from a timing pass after the sweep: a fresh session of
// every run's settings takes timingSteps steps on the same batch (the sweep's first, identical for every run) in
// each of timingRounds rounds, the runs interleaved within a round. Each figure is the process's CPU time per step
// over all rounds (on the wall clock, where CPU time cannot be read, the fastest round), over full fine-tuning's.
// A sweep without a full run has no ratio.
func timeSteps(base *model.Model, tok data.Tokenizer, cfgs []train.Config, runs []sweepRun, rounds int) error {
	full := -1
	for i, c := range cfgs {
		if c.Method == train.MethodFull && runs[i].Skipped == "" {
			full = i
		}
	}
	if full < 0 {
		return nil
	}
	sessions := make([]*train.Session, len(cfgs))
	var batch data.Batch
	for i, c := range cfgs {
		if runs[i].Skipped != "" || c.Method == train.MethodFrozen {
			continue
		}
		s, err := train.New(base, tok, c)
		if err != nil {
			return fmt.Errorf("timing run %d: %w", i+1, err)
		}
		if i == full || batch.B == 0 {
			batch = s.NextBatch()
		}
		sessions[i] = s
	}
	total, best := make([]time.Duration, len(cfgs)), make([]time.Duration, len(cfgs))
	cpu := true
	for range rounds {
		for i, s := range sessions {
			if s == nil {
				continue
			}
			d, onCPU, err := measure(func() error {
				for range timingSteps {
					if _, err := s.StepBatch(&batch); err != nil {
						return err
					}
				}
				return nil
			})
			if err != nil {
				return fmt.Errorf("timing run %d: %w", i+1, err)
			}
			cpu = cpu && onCPU
			total[i] += d
			if best[i] == 0 || d < best[i] {
				best[i] = d
			}
		}
	}
	per := func(i int) float64 {
		if cpu {
			return float64(total[i]) / float64(time.Millisecond) / float64(rounds*timingSteps)
		}
		return float64(best[i]) / float64(time.Millisecond) / timingSteps
	}
	for i := range runs {
		if sessions[i] != nil {
			runs[i].StepTimedMS, runs[i].StepVsFull = per(i), per(i)/per(full)
		}
	}
	return nil
}

// decodeTokens is how many positions decodeCost decodes per pass, and decodeRounds how many alternating passes of
// the method's model and the base it takes after each run of a sweep (decodeTimeOnlyRounds in a -time-only pass).
const (
	decodeTokens         = 128
	decodeRounds         = 9
	decodeTimeOnlyRounds = 30
)

// decodeCost measures the inference cost of m as trained (its method unmerged, as a deployment that keeps the
// adapter separate runs it): milliseconds per token of one row decoded position by position, in decodeRounds passes
// alternating with the same passes on base, and the ratio of the two: CPU time over all passes where it can be read,
// else the fastest pass of each on the wall clock.
func decodeCost(m, base *model.Model, rounds int) (msPerToken, vsBase float64) {
	tokens := min(decodeTokens, m.Context()) // a prefix takes some of the context: both decode as many tokens
	pass := func(d *model.Decoder) (time.Duration, bool, error) {
		return measure(func() error {
			d.Reset()
			for pos := range tokens {
				if _, err := d.Next(2 + pos%(m.Config.VocabSize-2)); err != nil {
					return err
				}
			}
			return nil
		})
	}
	dm, db := m.NewDecoder(1), base.NewDecoder(1)
	var sum, sumBase, best, bestBase time.Duration
	cpu := true
	for range rounds {
		t, onCPU, err := pass(dm)
		tb, _, errb := pass(db)
		if err != nil || errb != nil {
			return 0, 0 // not measured (omitted from the JSON)
		}
		cpu = cpu && onCPU
		sum, sumBase = sum+t, sumBase+tb
		if best == 0 || t < best {
			best = t
		}
		if bestBase == 0 || tb < bestBase {
			bestBase = tb
		}
	}
	if !cpu {
		sum, sumBase = best*time.Duration(rounds), bestBase*time.Duration(rounds)
	}
	if sumBase <= 0 {
		return 0, 0
	}
	return float64(sum) / float64(time.Millisecond) / float64(rounds*tokens), float64(sum) / float64(sumBase)
}

// methodConfigs expands a methods sweep (or, with -lrs, a learning-rate sweep of the methods).
func (sf sweepFlags) methodConfigs(tf *trainFlags, cfg train.Config) ([]train.Config, error) {
	methods := strings.Split(sf.methods, ",")
	if sf.methods == "all" {
		methods = nil
		for _, m := range train.MethodNames() {
			if m != train.MethodFrozen {
				methods = append(methods, m)
			}
		}
	}
	for i := range methods {
		methods[i] = strings.TrimSpace(methods[i])
	}
	var clash []string
	tf.fs.Visit(func(f *flag.Flag) {
		switch f.Name {
		case "full-lr", "full":
			clash = append(clash, "-"+f.Name+" (list full in -methods, or leave it out)")
		case "lr":
			clash = append(clash, "-lr (each method runs at its own default rate; -lrs tries several)")
		case "ranks":
			if sf.sizes[train.MethodLoRA] != nil {
				clash = append(clash, "-ranks beside -size lora=...")
			}
		}
	})
	if len(clash) > 0 {
		return nil, fmt.Errorf("-methods: %s does not apply", strings.Join(clash, ", "))
	}
	sizes := map[string][]int(sf.sizes)
	if tf.set("ranks") { // -ranks is LoRA's (and DoRA's) ladder
		var rs []int
		for _, f := range strings.Split(sf.ranks, ",") {
			r, err := strconv.Atoi(strings.TrimSpace(f))
			if err != nil {
				return nil, fmt.Errorf("-ranks: %q is not a number", f)
			}
			rs = append(rs, r)
		}
		sizes = maps.Clone(sizes)
		if sizes == nil {
			sizes = map[string][]int{}
		}
		for _, m := range []string{train.MethodLoRA, train.MethodDoRA} {
			if _, given := sizes[m]; !given && slices.Contains(methods, m) {
				sizes[m] = rs
			}
		}
	}
	if sf.lrs != "" {
		one := cfg
		for m, ns := range sizes {
			if len(ns) != 1 {
				return nil, fmt.Errorf("-lrs runs each method at one size: -size %s=%d (give one)", m, ns[0])
			}
		}
		var out []train.Config
		for _, m := range methods {
			c := one
			c.Method = m
			if ns, ok := sizes[m]; ok {
				c = c.WithSize(ns[0])
			}
			if spec, _ := train.LookupMethod(m); spec.Size == train.SizeRank && tf.alpha == 0 {
				c.Alpha = one.Alpha / float32(max(one.Rank, 1)) * float32(c.Rank)
			}
			lcfg, err := sf.lrConfigs(tf, c, []string{m})
			if err != nil {
				return nil, err
			}
			out = append(out, lcfg...)
		}
		return out, nil
	}
	runs, err := train.MethodSweepConfigs(cfg, methods, sizes, tf.alpha == 0)
	if err != nil {
		return nil, fmt.Errorf("-methods: %w", err)
	}
	return runs, nil
}

// ladders describes each method's default sizes, for -h.
func ladders() string {
	var parts []string
	for _, m := range train.Methods() {
		if len(m.Ladder) > 0 {
			var ns []string
			for _, n := range m.Ladder {
				ns = append(ns, strconv.Itoa(n))
			}
			parts = append(parts, fmt.Sprintf("%s %s %s", m.Name, m.Size, strings.Join(ns, ",")))
		}
	}
	return strings.Join(parts, "; ")
}

// printMethodsTable prints a methods sweep: each run's size, cost, scores and step time relative to full.
func printMethodsTable(runs []sweepRun) {
	fmt.Printf("%-8s %-16s %10s %10s %9s %9s %9s %9s %8s %8s\n", "task", "method", "trainable", "state", "val_loss",
		"accuracy", "tok/s", "step ms", "vs full", "decode")
	for _, r := range runs {
		if r.Skipped != "" {
			fmt.Printf("%-8s %-16s skipped: %s\n", r.Task, fmt.Sprintf("%s %s=%d", r.Method, r.SizeName, r.Size), r.Skipped)
			continue
		}
		rel, dec := "-", "-"
		if r.StepVsFull > 0 {
			rel = fmt.Sprintf("%.2fx", r.StepVsFull)
		}
		if r.DecodeVsBase > 0 {
			dec = fmt.Sprintf("%.2fx", r.DecodeVsBase)
		}
		label := r.Method
		if r.SizeName != "" {
			label = fmt.Sprintf("%s %s=%d", r.Method, r.SizeName, r.Size)
		}
		fmt.Printf("%-8s %-16s %10d %10s %9.4f %8.1f%% %9.0f %9.1f %8s %8s\n", r.Task, label, r.TrainableParams,
			humanBytes(r.StateBytes), r.ValLoss, 100*r.Accuracy, r.TokensPerSec, r.StepMS, rel, dec)
	}
}

func printTable(results []train.Result) {
	fmt.Printf("%-6s %-9s %6s %-10s %-13s %10s %10s %9s %9s %9s\n", "task", "method", "r / d", "targets", "train-tokens", "trainable", "state", "val_loss", "accuracy", "tok/s")
	for _, r := range results {
		rank := "-"
		if r.Method == train.MethodLoRA || r.Method == train.MethodIntrinsic {
			rank = strconv.Itoa(r.Size)
		}
		targets := strings.Join(r.Targets, ",")
		if targets == "" {
			targets = "all"
		}
		if r.Method == train.MethodIntrinsic {
			targets = "θ0 + P z"
		}
		tokens := "-"
		if r.TrainTokens != "" && r.TrainTokens != train.TokensNone {
			tokens = fmt.Sprintf("%s (%d)", r.TrainTokens, r.TokenRows)
		}
		fmt.Printf("%-6s %-9s %6s %-10s %-13s %10d %10s %9.4f %8.1f%% %9.0f\n", r.Task, r.Method, rank, targets, tokens,
			r.TrainableParams, humanBytes(r.TrainableBytes), r.ValLoss, 100*r.Accuracy, r.TokensPerSec)
	}
}

// lrConfigs expands a learning-rate sweep: each of methods at cfg's size (LoRA at one rank, alpha as a rank sweep
// sets it) and, for the plain -lrs sweep, full fine-tuning (with -full), each at every rate of -lrs.
func (sf sweepFlags) lrConfigs(tf *trainFlags, cfg train.Config, methods []string) ([]train.Config, error) {
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
	if sf.methods != "" { // cfg is already the method's run at its size
		return train.LRSweepConfigs(cfg, lrs, methods), nil
	}
	if sf.full {
		methods = append(methods, train.MethodFull)
	}
	lcfg := train.SweepConfigs(cfg, []int{rank}, tf.alpha == 0, 0)[0]
	return train.LRSweepConfigs(lcfg, lrs, methods), nil
}

// lrSummary is the last JSON line of `sweep -lrs -json`: each method's best rate and their ratio (train.SummarizeLRs,
// what the page gets too), and every method's best rate.
type lrSummary struct {
	train.LRSummary
	Best map[string]float32 `json:"best_lr"` // every method's best rate by final validation loss
}

func lrSummaryOf(results []train.Result) lrSummary {
	s := lrSummary{LRSummary: train.SummarizeLRs(results), Best: map[string]float32{}}
	for _, r := range results {
		if b, ok := train.BestLR(results, r.Method); ok {
			s.Best[r.Method] = b.LR
		}
	}
	return s
}

func printLRTable(results []train.Result, s lrSummary) {
	fmt.Printf("%-6s %-12s %9s %10s %9s %9s\n", "task", "method", "lr", "trainable", "val_loss", "accuracy")
	for _, r := range results {
		label := r.Method
		if r.SizeName != "" {
			label = fmt.Sprintf("%s %d", r.Method, r.Size)
		}
		if r.Diverged != "" {
			fmt.Printf("%-6s %-12s %9.1e %10d %9s %9s  diverged after %d steps\n", r.Task, label, r.LR, r.TrainableParams, "-", "-", r.Steps)
			continue
		}
		mark := ""
		if s.Best[r.Method] == r.LR {
			mark = "  best"
		}
		fmt.Printf("%-6s %-12s %9.1e %10d %9.4f %8.1f%%%s\n", r.Task, label, r.LR, r.TrainableParams, r.ValLoss, 100*r.Accuracy, mark)
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
	widenLogRange(&p.X)
	widenLogRange(&p.Y)
	img := vgimg.New(7*vg.Inch, 4.5*vg.Inch)
	p.Draw(draw.New(img))
	return savePNG(img, path)
}
