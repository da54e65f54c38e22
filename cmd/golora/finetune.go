// golora finetune: one fine-tuning run with a progress line on stderr and, with -json, a result object on stdout.
package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"golora/core/data"
	"golora/core/model"
	"golora/core/train"
)

// trainFlags binds a train.Config to command-line flags.
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

func (t *trainFlags) register(fs *flag.FlagSet) {
	t.fs = fs
	t.cfg = train.DefaultConfig()
	c := &t.cfg
	fs.StringVar(&c.Task, "task", c.Task, "task: "+strings.Join(data.TaskNames(), ", ")+" (or give -data)")
	fs.Uint64Var(&c.TaskSeed, "task-seed", c.TaskSeed, "seed of the generated task's examples")
	fs.IntVar(&c.Difficulty, "difficulty", 0, "cipher: letters substituted (0 = task default)")
	fs.IntVar(&c.Facts, "facts", 0, "facts: number of invented facts (0 = task default)")
	fs.StringVar(&t.dataFile, "data", "", "your own examples: JSON Lines, one {\"prompt\": ..., \"completion\": ...} per line")
	fs.StringVar(&t.valFile, "val", "", "with -data: validation examples (JSON Lines) instead of a split")
	fs.StringVar(&t.testFile, "test", "", "with -data: test examples (JSON Lines) instead of a split")
	fs.StringVar(&c.Method, "method", c.Method, "lora, full or frozen")
	fs.IntVar(&c.Rank, "rank", c.Rank, "LoRA rank r")
	fs.Float64Var(&t.alpha, "alpha", float64(c.Alpha), "LoRA alpha (scaling alpha/r)")
	fs.BoolVar(&c.RSLoRA, "rslora", false, "scale by alpha/sqrt(r) (rsLoRA)")
	fs.StringVar(&t.targets, "targets", strings.Join(c.Targets, ","), "adapted matrices: some of q,k,v,o,gate,up,down (or all)")
	fs.StringVar(&c.Init, "init", c.Init, "LoRA A init: kaiming (loralib) or gaussian (the paper)")
	fs.Float64Var(&t.dropout, "dropout", 0, "LoRA dropout on the adapter input")
	fs.Float64Var(&t.lr, "lr", 0, fmt.Sprintf("peak learning rate (0 = the method's default: %g for LoRA, %g for full)",
		train.DefaultLR(train.MethodLoRA), train.DefaultLR(train.MethodFull)))
	fs.IntVar(&c.Steps, "steps", c.Steps, "optimizer steps")
	fs.IntVar(&c.Batch, "batch", c.Batch, "sequences per step")
	fs.IntVar(&c.Warmup, "warmup", c.Warmup, "warmup steps (by default at most -steps)")
	fs.Float64Var(&t.wd, "weight-decay", 0, "AdamW weight decay")
	fs.Float64Var(&t.clip, "clip", float64(c.Clip), "gradient-norm clip (0 = off)")
	fs.Uint64Var(&c.Seed, "seed", c.Seed, "seed of the adapter init, batch order and dropout")
	fs.IntVar(&c.EvalEvery, "eval-every", c.EvalEvery, "evaluate every N steps (0 = at the end only)")
	fs.IntVar(&c.EvalLimit, "eval-limit", 0, "test examples decoded for accuracy (0 = all)")
}

// config finishes the Config after parsing (JSON Lines files, float flags, defaults by method).
func (t *trainFlags) config() (train.Config, error) {
	c := t.cfg
	c.Alpha, c.Dropout = float32(t.alpha), float32(t.dropout)
	c.WeightDecay, c.Clip = float32(t.wd), float32(t.clip)
	c.LR = float32(t.lr)
	if t.lr == 0 {
		c.LR = train.DefaultLR(c.Method)
	}
	set := map[string]bool{}
	t.fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	if !set["warmup"] {
		c.Warmup = min(c.Warmup, c.Steps) // the default warmup never refuses a short run
	}
	if t.targets == "all" {
		c.Targets = []string{"q", "k", "v", "o", "gate", "up", "down"}
	} else {
		c.Targets = strings.Split(t.targets, ",")
	}
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

// unseenExamples is how many training examples the unseen-characters check scores (a second or two natively).
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

// run trains s to the end with train.Run, printing progress and evaluations to stderr. With a resume file, the
// run's state is written there at every evaluation and every saveEvery (see -resume).
func run(s *train.Session, label, resume string) (train.Result, error) {
	steps := s.Config().Steps
	var final *train.Eval
	lastSave := time.Now()
	res, err := train.Run(s, 10, func(p train.Progress) {
		printProgress(label, steps, p)
		if p.Eval != nil {
			final = p.Eval
		}
		if resume != "" && !s.Done() && (p.Eval != nil || time.Since(lastSave) > saveEvery) {
			if err := saveSnapshot(s, resume); err != nil {
				fmt.Fprintf(os.Stderr, "\n%s: could not save the run to %s: %v (training goes on)\n", label, resume, err)
			}
			lastSave = time.Now()
		}
	})
	if err != nil {
		return train.Result{}, err
	}
	for _, smp := range final.Samples {
		fmt.Fprintf(os.Stderr, "  %q -> %q (want %q)\n", smp.Prompt, smp.Got, smp.Want)
	}
	return res, nil
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

// resumeFrom continues s from the state in path when the file exists (a fresh run when it does not).
func resumeFrom(s *train.Session, path string) error {
	snap, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("-resume: %w", err)
	}
	if err := s.Restore(snap); err != nil {
		return fmt.Errorf("-resume %s: %w (delete the file to start over)", path, err)
	}
	fmt.Fprintf(os.Stderr, "finetune: resuming at step %d of %d from %s\n", s.StepsDone(), s.Config().Steps, path)
	return nil
}

// printProgress writes a progress line (rewritten in place) or an evaluation line to stderr.
func printProgress(label string, steps int, p train.Progress) {
	m := p.Metrics
	if p.Eval == nil {
		fmt.Fprintf(os.Stderr, "\r%s step %4d/%d  loss %.4f  lr %.1e  %6.0f tok/s  %5.1fs ", label, m.Step, steps, m.Loss, m.LR, m.TokensPerSec, m.Elapsed)
		return
	}
	ev := p.Eval
	fmt.Fprintf(os.Stderr, "\n%s step %4d  val loss %.4f  accuracy %.1f%% (%d/%d)\n", label, ev.Step, ev.ValLoss, 100*ev.Accuracy, ev.Correct, ev.Total)
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
	fs := flag.NewFlagSet("finetune", flag.ContinueOnError)
	var bf baseFlags
	var tf trainFlags
	bf.register(fs)
	tf.register(fs)
	asJSON := fs.Bool("json", false, "print the result as one JSON object on stdout")
	out := fs.String("out", "", "write the trained adapter (PEFT files) into this folder")
	resume := fs.String("resume", "", "save the run's state in this file at every evaluation and every minute; if the file\n"+
		"exists, continue the run it holds (same settings and base). Removed when the run completes")
	if err := fs.Parse(args); err != nil {
		return err
	}
	cfg, err := tf.config()
	if err != nil {
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
	info := s.Info()
	fmt.Fprintf(os.Stderr, "finetune: %s on %s (%d train / %d val / %d test), %s, trainable %d of %d params\n",
		cfg.Method, s.Task().Name, info.TrainExamples, info.ValExamples, info.TestExamples, describe(info), info.TrainableParams, info.TotalParams)
	if *resume != "" {
		if err := resumeFrom(s, *resume); err != nil {
			return err
		}
	}
	res, err := run(s, cfg.Method, *resume)
	if err != nil {
		return err
	}
	if *resume != "" {
		if err := os.Remove(*resume); err != nil && !errors.Is(err, os.ErrNotExist) {
			return err
		}
	}
	if *out != "" {
		if err := writeAdapter(s, bf.name(), *out); err != nil {
			return err
		}
	}
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

// writeAdapter writes adapter_model.safetensors and adapter_config.json into dir.
func writeAdapter(s *train.Session, baseName, dir string) error {
	if s.Model().LoRA == nil {
		return fmt.Errorf("-out: only a LoRA run has an adapter to write")
	}
	w, c, err := s.ExportAdapter(baseName)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, "adapter_model.safetensors"), w, 0o644); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, "adapter_config.json"), c, 0o644); err != nil {
		return err
	}
	fmt.Fprintf(os.Stderr, "wrote %s/adapter_model.safetensors (%s) and adapter_config.json\n", dir, humanBytes(int64(len(w))))
	return nil
}
