// golora finetune: one fine-tuning run with a progress line on stderr and, with -json, a result object on stdout.
package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"strings"
	"time"

	"golora/core/data"
	"golora/core/model"
	"golora/core/train"
)

// trainFlags binds a train.Config to command-line flags: the task flags for every command that reads a task, the
// training flags for the commands that train.
type trainFlags struct {
	fs       *flag.FlagSet
	cfg      train.Config
	lr       float64
	alpha    float64
	dropout  float64
	wd, clip float64
	targets  string
	dataFile string
	valFile  string
	testFile string
}

// Which flags a command takes (trainFlags.register).
const (
	flagsEvaluate = iota // the task and the evaluation only: evaluate trains nothing
	flagsSweep           // and the training flags, but not -method and -rank, which a sweep sets per run
	flagsFinetune        // every flag
)

func (t *trainFlags) register(fs *flag.FlagSet, which int) {
	t.fs = fs
	t.cfg = train.DefaultConfig()
	c := &t.cfg
	fs.StringVar(&c.Task, "task", c.Task, "task: "+strings.Join(data.TaskNames(), ", ")+" (or give -data)")
	fs.Uint64Var(&c.TaskSeed, "task-seed", c.TaskSeed, "seed of the generated task's examples (and of the split of -data)")
	fs.IntVar(&c.Difficulty, "difficulty", 0, "cipher: letters substituted (0 = task default)")
	fs.IntVar(&c.Facts, "facts", 0, "facts: number of invented facts (0 = task default)")
	fs.StringVar(&t.dataFile, "data", "", "your own examples: JSON Lines, one {\"prompt\": ..., \"completion\": ...} per line")
	fs.StringVar(&t.valFile, "val", "", "with -data: validation examples (JSON Lines) instead of a split")
	fs.StringVar(&t.testFile, "test", "", "with -data: test examples (JSON Lines) instead of a split")
	fs.IntVar(&c.EvalLimit, "eval-limit", 0, "test examples decoded for accuracy (0 = all)")
	if which == flagsEvaluate {
		return
	}
	if which == flagsFinetune {
		fs.StringVar(&c.Method, "method", c.Method, "lora, full or frozen")
		fs.IntVar(&c.Rank, "rank", c.Rank, "LoRA rank r")
		fs.Float64Var(&t.alpha, "alpha", flagFloat(c.Alpha), fmt.Sprintf("LoRA alpha (scaling alpha/r, at most %d)", train.MaxScaling))
		fs.Float64Var(&t.lr, "lr", 0, fmt.Sprintf("peak learning rate (0 = the method's default: %g for LoRA, %g for full)",
			flagFloat(train.DefaultLR(train.MethodLoRA)), flagFloat(train.DefaultLR(train.MethodFull))))
	} else {
		fs.Float64Var(&t.alpha, "alpha", 0, fmt.Sprintf("LoRA alpha of every rank (0 = %g·r, the scaling of the default r=%d, alpha %g)",
			flagFloat(c.Alpha/float32(c.Rank)), c.Rank, flagFloat(c.Alpha)))
		fs.Float64Var(&t.lr, "lr", 0, fmt.Sprintf("peak learning rate of the LoRA runs (0 = %g; the full run takes -full-lr)",
			flagFloat(train.DefaultLR(train.MethodLoRA))))
	}
	fs.BoolVar(&c.RSLoRA, "rslora", false, "scale by alpha/sqrt(r) (rsLoRA)")
	fs.StringVar(&t.targets, "targets", strings.Join(c.Targets, ","), "adapted matrices: some of q,k,v,o,gate,up,down (or all)")
	fs.StringVar(&c.Init, "init", c.Init, "LoRA A init: kaiming (loralib) or gaussian (the paper)")
	fs.Float64Var(&t.dropout, "dropout", 0, "LoRA dropout on the adapter input")
	fs.IntVar(&c.Steps, "steps", c.Steps, "optimizer steps")
	fs.IntVar(&c.Batch, "batch", c.Batch, "sequences per step")
	fs.IntVar(&c.Warmup, "warmup", c.Warmup, "warmup steps (at most -steps)")
	fs.Float64Var(&t.wd, "weight-decay", 0, "AdamW weight decay")
	fs.Float64Var(&t.clip, "clip", flagFloat(c.Clip), "gradient-norm clip (0 = off)")
	fs.Uint64Var(&c.Seed, "seed", c.Seed, "seed of the adapter init, batch order and dropout")
	fs.IntVar(&c.EvalEvery, "eval-every", c.EvalEvery, "evaluate every N steps (0 = at the end only)")
}

// set reports whether the flag name was given on the command line.
func (t *trainFlags) set(name string) bool {
	given := false
	t.fs.Visit(func(f *flag.Flag) { given = given || f.Name == name })
	return given
}

// config finishes the Config after parsing (JSON Lines files, float flags, defaults by method).
func (t *trainFlags) config() (train.Config, error) {
	c := t.cfg
	if t.fs.Lookup("steps") == nil { // evaluate: nothing to train
		return t.data(c)
	}
	if sweep := t.fs.Lookup("rank") == nil; !sweep || t.alpha != 0 { // a sweep's 0 keeps the default scaling
		c.Alpha = float32(t.alpha)
	}
	c.Dropout, c.WeightDecay, c.Clip = float32(t.dropout), float32(t.wd), float32(t.clip)
	c.LR = float32(t.lr)
	if t.lr == 0 {
		c.LR = train.DefaultLR(c.Method)
	}
	if t.targets == "all" {
		c.Targets = []string{"q", "k", "v", "o", "gate", "up", "down"}
	} else {
		c.Targets = strings.Split(t.targets, ",")
	}
	return t.data(c)
}

// data reads -data, -val and -test into c.
func (t *trainFlags) data(c train.Config) (train.Config, error) {
	if t.dataFile != "" {
		c.Task = "custom"
		var err error
		if c.Custom, err = readJSONL(t.dataFile); err != nil {
			return c, err
		}
		if (t.valFile == "") != (t.testFile == "") {
			return c, fmt.Errorf("-val and -test go together (or leave both out to split -data 80/10/10)")
		}
		if t.valFile != "" {
			if c.CustomVal, err = readJSONL(t.valFile); err != nil {
				return c, err
			}
			if c.CustomTest, err = readJSONL(t.testFile); err != nil {
				return c, err
			}
		}
	} else if t.valFile != "" || t.testFile != "" {
		return c, fmt.Errorf("-val and -test need -data")
	}
	return c, nil
}

// unseenExamples is how many training examples the unseen-characters check reads.
const unseenExamples = 200

// printUnseen prints, for the user's own data (-data), which of its characters the base has (almost) never
// seen (train.UnseenChars), before any training. task may be nil: it is then built from cfg.
func printUnseen(base *model.Model, tok data.Tokenizer, cfg train.Config, task *data.Task) error {
	if cfg.Task != "custom" {
		return nil
	}
	if task == nil {
		c := cfg
		c.Method = train.MethodFrozen
		s, err := train.New(base, tok, c)
		if err != nil {
			return err
		}
		task = s.Task()
	}
	rep, err := train.UnseenChars(base, tok, task.Train, unseenExamples)
	if err != nil {
		return err
	}
	fmt.Fprintln(os.Stderr, rep)
	return nil
}

func readJSONL(path string) ([]data.Example, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return data.ReadJSONL(f, path)
}

// saveEvery is how often a run with -resume saves its state between evaluations.
const saveEvery = time.Minute

// run trains s to the end with train.Run, one step per call, reporting to p. With a resume file, the run's state is
// written there at every evaluation and every saveEvery (see -resume).
func run(s *train.Session, p *progress, resume string) (train.Result, error) {
	lastSave := time.Now()
	return train.Run(s, 1, func(pr train.Progress) {
		p.report(pr)
		if resume != "" && !s.Done() && (pr.Eval != nil || time.Since(lastSave) > saveEvery) {
			if err := saveSnapshot(s, resume); err != nil {
				fmt.Fprintf(os.Stderr, "\n%s: could not save the run to %s: %v (training goes on)\n", p.label, resume, err)
			}
			lastSave = time.Now()
		}
	})
}

// saveSnapshot writes s's state to path through a temporary file, so that an interruption while writing leaves
// the previous state whole.
func saveSnapshot(s *train.Session, path string) error {
	snap, err := s.Snapshot()
	if err != nil {
		return err
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, snap, 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

// resumeFrom continues s from the state in path when the file exists (a fresh run when it does not), and reports
// whether it did.
func resumeFrom(s *train.Session, path string) (bool, error) {
	snap, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("-resume: %w", err)
	}
	if err := s.Restore(snap); err != nil {
		return false, fmt.Errorf("-resume %s: %w (delete the file to start over)", path, err)
	}
	fmt.Fprintf(os.Stderr, "finetune: resuming at step %d of %d from %s\n", s.StepsDone(), s.Config().Steps, path)
	return true, nil
}

func humanBytes(n int64) string {
	switch {
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d B", n)
}

func runFinetune(args []string) error {
	start := time.Now()
	fs := newFlagSet("finetune")
	var bf baseFlags
	var tf trainFlags
	bf.register(fs)
	tf.register(fs, flagsFinetune)
	asJSON := fs.Bool("json", false, "print the result as one JSON object on stdout")
	out := fs.String("out", "", "write what the run trained into this folder: a LoRA run's adapter as PEFT files\n"+
		"(adapter_model.safetensors, adapter_config.json), a full run's model as model.safetensors")
	resume := fs.String("resume", "", "save the run's state in this file at every evaluation and every minute; if the file\n"+
		"exists, continue the run it holds (same settings and base). Removed once the run's outputs are written")
	logPath := fs.String("log", "", "write one JSON line per step and per evaluation (and the result) to this file")
	if err := parseFlags(fs, args, nil); err != nil {
		return err
	}
	cfg, err := tf.config()
	if err != nil {
		return err
	}
	if err := checkOutputs(cfg.Method, *out, *resume, *logPath); err != nil {
		return err
	}
	base, tok, err := bf.load()
	if err != nil {
		return err
	}
	s, err := train.New(base, tok, cfg)
	if err != nil {
		return err
	}
	if err := printUnseen(base, tok, cfg, s.Task()); err != nil {
		return err
	}
	cfg = s.Config() // an adapter given with -adapter sets the LoRA settings
	info := s.Info()
	fmt.Fprintf(os.Stderr, "finetune: %s on %s (%d train / %d val / %d test), %s, trainable %d of %d params\n",
		cfg.Method, s.Task().Name, info.TrainExamples, info.ValExamples, info.TestExamples, describe(info), info.TrainableParams, info.TotalParams)
	fmt.Fprintf(os.Stderr, "finetune: model %s\n", bf.describe(base))
	if *out == "" && cfg.Method != train.MethodFrozen {
		what := "adapter"
		if cfg.Method == train.MethodFull {
			what = "model"
		}
		fmt.Fprintf(os.Stderr, "finetune: no -out: the trained %s will not be kept (add -out DIR to write it)\n", what)
	}
	resumed := false
	if *resume != "" {
		if resumed, err = resumeFrom(s, *resume); err != nil {
			return err
		}
	}
	p := &progress{label: cfg.Method, steps: cfg.Steps, evalEvery: cfg.EvalEvery, out: os.Stderr}
	if *logPath != "" {
		f, err := openLog(*logPath, resumed)
		if err != nil {
			return err
		}
		defer f.Close()
		p.log = json.NewEncoder(f)
	}
	res, err := run(s, p, *resume)
	if err != nil {
		fmt.Fprintln(os.Stderr)
		if *resume != "" {
			err = fmt.Errorf("%w (the last saved state is in %s)", err, *resume)
		}
		return err
	}
	p.samples()
	wrote, err := finish(s, bf.name(), *out, *resume)
	if err != nil {
		return err
	}
	p.writeLog(logLine{Type: "result", Result: &res})
	var written []string
	if wrote != "" {
		written = append(written, wrote)
	} else if cfg.Method != train.MethodFrozen {
		written = append(written, "nothing (no -out)")
	}
	if *logPath != "" && p.logErr == nil {
		written = append(written, "the log to "+*logPath)
	}
	fmt.Fprintln(os.Stderr, closing("finetune", time.Since(start), res, p, written))
	if *asJSON {
		return json.NewEncoder(os.Stdout).Encode(res)
	}
	return nil
}

func describe(info train.Info) string {
	if info.Method != train.MethodLoRA {
		return info.Method
	}
	return fmt.Sprintf("r=%d on %s", info.Rank, info.TargetsString())
}
