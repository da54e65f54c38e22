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
	"golora/core/peft"
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
	ratioB   float64
	wd, clip float64
	tokensLR float64
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
		fs.StringVar(&c.Method, "method", c.Method, "how to fine-tune: "+strings.Join(train.MethodNames(), ", ")+
			" (with -adapter: the adapter's method)")
		for _, k := range sizeKnobs {
			if hasKnob(k.size) {
				fs.IntVar(k.field(c), k.flag, *k.field(c), k.usage)
			}
		}
		fs.Float64Var(&t.alpha, "alpha", flagFloat(c.Alpha), fmt.Sprintf("LoRA alpha (scaling alpha/r, at most %d)", train.MaxScaling))
		fs.Float64Var(&t.lr, "lr", 0, "peak learning rate (0 = the method's default: "+defaultLRs()+")")
	} else {
		fs.Float64Var(&t.alpha, "alpha", flagFloat(c.Alpha), fmt.Sprintf("LoRA alpha of every rank: the scaling alpha/r falls as the rank grows, as in the LoRA paper (0 = %g·r instead: every rank at the default r=%d's scaling, which makes large ranks train hotter)",
			flagFloat(c.Alpha/float32(c.Rank)), c.Rank))
		fs.Float64Var(&t.lr, "lr", 0, fmt.Sprintf("peak learning rate of the LoRA runs (0 = %g; the full run takes -full-lr)",
			flagFloat(train.DefaultLR(train.MethodLoRA))))
	}
	fs.BoolVar(&c.RSLoRA, "rslora", false, "scale by alpha/sqrt(r) (rsLoRA)")
	fs.StringVar(&t.targets, "targets", strings.Join(c.Targets, ","), "adapted matrices: some of q,k,v,o,gate,up,down (or all)")
	fs.StringVar(&c.Init, "init", c.Init, "LoRA A init: kaiming (loralib), gaussian (the paper) or pissa (A and B from W0's\n"+
		"top singular vectors, the rest of W0 frozen; written as a plain LoRA of rank 2r)")
	fs.Float64Var(&t.dropout, "dropout", 0, "LoRA dropout on the adapter input")
	tokensHelp := "train these tokens' embedding rows beside LoRA (PEFT's trainable_token_indices): auto (the data's\n" +
		"tokens the base cannot tell apart or never produces), all-in-data, chars:CHARACTERS or ids:ID,ID,... (none: off)"
	if which == flagsSweep {
		tokensHelp += "\nA comma-separated list runs each rank once per value, e.g. none,auto,all-in-data (a chars: or ids:\nvalue comes last)"
	}
	fs.StringVar(&c.TrainTokens, "train-tokens", "", tokensHelp)
	fs.Float64Var(&t.tokensLR, "tokens-lr", 0, "peak learning rate of the token rows (0 = -lr)")
	fs.BoolVar(&c.PrefixProjection, "prefix-projection", false, "prefix-layer: train the prefix through an MLP (Li & Liang's\n"+
		"reparametrisation, PEFT's prefix_projection); the files keep the prefix it computes")
	fs.Float64Var(&t.ratioB, "lr-ratio-b", 0, "LoRA+: lora_B's learning rate is this times lora_A's (PEFT's loraplus_lr_ratio; 0 = off)")
	fs.IntVar(&c.Steps, "steps", c.Steps, "optimizer steps")
	fs.IntVar(&c.Batch, "batch", c.Batch, "sequences per step")
	fs.IntVar(&c.Warmup, "warmup", c.Warmup, "warmup steps (at most -steps)")
	fs.Float64Var(&t.wd, "weight-decay", 0, "AdamW weight decay")
	fs.Float64Var(&t.clip, "clip", flagFloat(c.Clip), "gradient-norm clip (0 = off)")
	fs.Uint64Var(&c.Seed, "seed", c.Seed, "seed of the adapter init, batch order and dropout")
	fs.IntVar(&c.EvalEvery, "eval-every", c.EvalEvery, "evaluate every N steps (0 = at the end only)")
}

// sizeKnob is a method size flag of finetune.
type sizeKnob struct {
	flag, size, usage string
	field             func(c *train.Config) *int
}

// sizeKnobs are the size flags, one per knob of train.Methods (registered when some method has it).
var sizeKnobs = []sizeKnob{
	{"rank", train.SizeRank, "lora, dora: rank r", func(c *train.Config) *int { return &c.Rank }},
	{"layers", train.SizeLayers, "top: how many of the last blocks train (k)", func(c *train.Config) *int { return &c.Layers }},
	{"bottleneck", train.SizeBottleneck, "adapter-h, adapter-l: the bottleneck width", func(c *train.Config) *int { return &c.Bottleneck }},
	{"prefix-len", train.SizePrefixLen, "prefix-embed, prefix-layer: l_p, the trained positions", func(c *train.Config) *int { return &c.PrefixLen }},
	{"intrinsic-dim", train.SizeIntrinsicDim, "intrinsic: d, the dimension of the random subspace θ0 + P z trained", func(c *train.Config) *int { return &c.IntrinsicDim }},
}

// hasKnob reports whether some method has the size knob.
func hasKnob(size string) bool {
	for _, m := range train.Methods() {
		if m.Size == size {
			return true
		}
	}
	return false
}

// defaultLRs lists each method's default learning rate, for -h.
func defaultLRs() string {
	var parts []string
	for _, m := range train.Methods() {
		if m.LR > 0 {
			parts = append(parts, fmt.Sprintf("%s %g", m.Name, flagFloat(m.LR)))
		}
	}
	return strings.Join(parts, ", ")
}

// loraFlags are the flags only LoRA and DoRA read.
var loraFlags = []string{"alpha", "rslora", "targets", "init", "dropout", "lr-ratio-b"}

// unusedFlags lists, one note each, the flags given on the command line that method does not read: another
// method's size knob, or LoRA's settings for a method without A and B (a script that switches -method keeps the
// others' flags, so they are noted, not refused).
func (t *trainFlags) unusedFlags(method string) []string {
	spec, ok := train.LookupMethod(method)
	if !ok {
		return nil // Validate names the bad method
	}
	var notes []string
	for _, k := range sizeKnobs {
		if t.fs.Lookup(k.flag) != nil && t.set(k.flag) && spec.Size != k.size {
			takes := "no size flag"
			for _, o := range sizeKnobs {
				if o.size == spec.Size {
					takes = "-" + o.flag
				}
			}
			notes = append(notes, fmt.Sprintf("-%s (the size of %s) is not read by -method %s, which takes %s", k.flag,
				strings.SplitN(k.usage, ":", 2)[0], method, takes))
		}
	}
	if !train.UsesLoRA(method) {
		for _, f := range loraFlags {
			if t.fs.Lookup(f) != nil && t.set(f) {
				notes = append(notes, fmt.Sprintf("-%s (a LoRA setting) is not read by -method %s", f, method))
			}
		}
	}
	if method != train.MethodPrefixLayer && t.fs.Lookup("prefix-projection") != nil && t.set("prefix-projection") {
		notes = append(notes, fmt.Sprintf("-prefix-projection (a prefix-layer setting) is not read by -method %s", method))
	}
	return notes
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
	if sweep := t.fs.Lookup("rank") == nil; !sweep || t.alpha != 0 { // a sweep's -alpha 0 keeps the default r's scaling
		c.Alpha = float32(t.alpha)
	}
	c.Dropout, c.WeightDecay, c.Clip, c.LRRatioB = float32(t.dropout), float32(t.wd), float32(t.clip), float32(t.ratioB)
	c.TokensLR = float32(t.tokensLR)
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
		c.Method, c.TrainTokens = train.MethodFrozen, ""
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
	if rep.Skipped != "" { // another tokenizer: the tokens auto would train, measured the same way from the base
		ch, err := train.ChooseTokens(train.TokensAuto, base, tok, task.Train)
		if err != nil {
			return err
		}
		if len(ch.IDs) > 0 {
			fmt.Fprintf(os.Stderr, "unseen tokens: the base cannot tell apart or (almost) never produces %d of the data's tokens: %s\n"+
				"  LoRA alone will likely not learn them: train their embedding rows beside it (-train-tokens auto), or use full fine-tuning\n",
				len(ch.IDs), train.TokensText(tok, ch.IDs))
		}
	}
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
	base, tok, err := bf.load()
	if err != nil {
		return err
	}
	if carried := carriedMethod(base); carried != "" && !tf.set("method") {
		cfg.Method = carried // -adapter DIR continues the adapter's own method
	}
	for _, note := range tf.unusedFlags(cfg.Method) {
		fmt.Fprintf(os.Stderr, "finetune: note: %s\n", note)
	}
	if err := checkOutputs(cfg.Method, *out, *resume, *logPath); err != nil {
		return err
	}
	if *out != "" {
		if err := cfg.CheckExport(base); err != nil {
			return err
		}
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
	printTokens(s)
	fmt.Fprintf(os.Stderr, "finetune: %s on %s (%d train / %d val / %d test), %s, trainable %d of %d params\n",
		cfg.Method, s.Task().Name, info.TrainExamples, info.ValExamples, info.TestExamples, describe(info), info.TrainableParams, info.TotalParams)
	fmt.Fprintf(os.Stderr, "finetune: model %s\n", bf.describe(base))
	if *out == "" && cfg.Method != train.MethodFrozen {
		what := "adapter"
		if spec, _ := train.LookupMethod(cfg.Method); spec.Files == train.FilesModel {
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

// describe names a run's method and size: "r=4 on q,v", "dora r=4 on q,v", "top k=2", "ia3", and its token rows
// ("r=4 on q,v + 10 token rows").
func describe(info train.Info) string {
	d := info.Method
	switch {
	case info.Method == train.MethodLoRA:
		d = fmt.Sprintf("r=%d on %s", info.Rank, info.TargetsString())
	case info.Rank > 0:
		d = fmt.Sprintf("%s r=%d on %s", info.Method, info.Rank, info.TargetsString())
	case info.SizeName == train.SizeLayers:
		d = fmt.Sprintf("%s k=%d", info.Method, info.Size)
	case info.SizeName != "":
		d = fmt.Sprintf("%s %s=%d", info.Method, info.SizeName, info.Size)
	}
	if info.TokenRows > 0 {
		d += fmt.Sprintf(" + %d token rows", info.TokenRows)
	}
	return d
}

// carriedMethod is the method of the adapter the base carries (-adapter), or "".
func carriedMethod(m *model.Model) string {
	var ms []model.Method
	for _, meth := range m.Methods() {
		if _, rows := meth.(*peft.Tokens); !rows { // token rows go beside the adapter
			ms = append(ms, meth)
		}
	}
	if len(ms) == 1 {
		return ms[0].Name()
	}
	return ""
}

// printTokens says which token rows a run trains and, for auto, why each was chosen.
func printTokens(s *train.Session) {
	ch := s.Tokens()
	if ch.Spec == "" || ch.Spec == train.TokensNone {
		return
	}
	if len(ch.IDs) == 0 {
		fmt.Fprintf(os.Stderr, "train-tokens %s: no token of the data needs its row trained (the base tells every one apart and produces it)\n", ch.Spec)
		return
	}
	fmt.Fprintf(os.Stderr, "train-tokens %s: the rows of %d tokens train: %s\n", ch.Spec, len(ch.IDs), train.TokensText(s.Tokenizer(), ch.IDs))
	if ch.Spec != train.TokensAuto {
		return
	}
	for _, st := range ch.Stats {
		if st.Reason == "" {
			continue
		}
		var why []string
		if strings.Contains(st.Reason, "duplicate") {
			why = append(why, fmt.Sprintf("its row is almost %s's row (cos %.5f)", train.TokensText(s.Tokenizer(), []int{st.Twin}), st.Cos))
		}
		if strings.Contains(st.Reason, "rare") {
			why = append(why, fmt.Sprintf("the base gives it at most %.2g anywhere", st.Best))
		}
		fmt.Fprintf(os.Stderr, "  %-6s %5d times: %s\n", st.Text, st.Count, strings.Join(why, "; "))
	}
}
