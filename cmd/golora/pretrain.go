// golora pretrain: trains the base model from scratch and writes it with its card's figures.
package main

import (
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"golora/core/data"
	"golora/core/model"
	"golora/core/train"
)

func runPretrain(args []string) error {
	cfg := train.DefaultPretrainConfig()
	fs := newFlagSet("pretrain")
	out := fs.String("out", "models/base.safetensors", "where to write the model")
	fs.IntVar(&cfg.Steps, "steps", cfg.Steps, "optimizer steps")
	fs.IntVar(&cfg.Batch, "batch", cfg.Batch, "windows per step")
	fs.IntVar(&cfg.SeqLen, "seq", cfg.SeqLen, "window length in tokens")
	fs.IntVar(&cfg.World, "world", cfg.World, "small-world sentences in the corpus")
	fs.IntVar(&cfg.Formats, "formats", cfg.Formats, "format lines in the corpus (numbers, dates, records, code, ...)")
	fs.IntVar(&cfg.Exercises, "exercises", cfg.Exercises, "exercise lines in the corpus (a prompt and the answer computed from it: lookups, reformatting, sorting, arithmetic, ...)")
	fs.IntVar(&cfg.ProseRepeat, "prose-repeat", cfg.ProseRepeat, "times each fortune cookie is used (0 = no prose)")
	proseDir := fs.String("prose", data.FortunesDir, "folder of Debian's fortunes package (apt-get install -y fortunes)")
	lr := fs.Float64("lr", flagFloat(cfg.LR), "peak learning rate")
	minLR := fs.Float64("lr-min", 0, "floor of the cosine decay (0 = lr/10; equal to -lr for a constant rate)")
	fs.IntVar(&cfg.Warmup, "warmup", cfg.Warmup, "warmup steps")
	fs.Uint64Var(&cfg.Seed, "seed", cfg.Seed, "init and batch-order seed")
	fs.IntVar(&cfg.Model.Dim, "dim", cfg.Model.Dim, "model width")
	fs.IntVar(&cfg.Model.HiddenDim, "hidden", cfg.Model.HiddenDim, "MLP width")
	fs.IntVar(&cfg.Model.NLayers, "layers", cfg.Model.NLayers, "transformer blocks")
	fs.IntVar(&cfg.Model.NHeads, "heads", cfg.Model.NHeads, "query heads")
	fs.IntVar(&cfg.Model.NKVHeads, "kv-heads", cfg.Model.NKVHeads, "key/value heads")
	every := fs.Int("log-every", 50, "steps between progress lines")
	fs.StringVar(&cfg.Init, "init", "", "continue from this golora checkpoint (its config replaces -dim, -layers, ...) instead of fresh weights")
	copyMix := fs.Float64("copy-mix", 0, "share of training lines that are copying drills (0..1; see data.CopyDrills)")
	fs.IntVar(&cfg.Drills.MaxAlphabet, "copy-alphabet", 6, "periodic drills: largest alphabet (2..26 letters)")
	fs.IntVar(&cfg.Drills.MaxPeriod, "copy-period", 16, "periodic drills: longest repeated pattern in bytes (>= 6)")
	periodic := fs.Float64("copy-periodic", 0.6, "share of periodic drills among drills (the rest: codes said twice)")
	mixed := fs.Float64("copy-mixed", 0, "share of drills over digits, capitals and punctuation instead of lowercase letters")
	saveEvery := fs.Int("save-every", 250, "steps between checkpoints written to -out (0 = only at the end)")
	if err := parseFlags(fs, args, nil); err != nil {
		return err
	}
	if err := checkWritable("-out", *out); err != nil {
		return err
	}
	cfg.LR, cfg.MinLR = float32(*lr), float32(*minLR)
	cfg.CopyMix, cfg.Drills.Periodic, cfg.Drills.Mixed = float32(*copyMix), float32(*periodic), float32(*mixed)
	tok := data.NewByteTokenizer()
	start := time.Now()
	if cfg.ProseRepeat > 0 {
		prose, source, err := readProse(*proseDir)
		if err != nil {
			return err
		}
		cfg.Prose, cfg.ProseSource = prose, source
	}
	var init *model.Model
	if cfg.Init != "" {
		b := baseFlags{base: cfg.Init}
		m, _, err := b.loadBase()
		if err != nil {
			return fmt.Errorf("pretrain -init: %w", err)
		}
		init, cfg.Model = m, m.Config
	}
	p, err := train.NewPretrainerFrom(cfg, tok, init)
	if err != nil {
		return err
	}
	if err := reportCorpus(p.Corpus()); err != nil {
		return err
	}
	fmt.Fprintf(os.Stderr, "pretrain: %d parameters, corpus ready in %.1fs\n", p.Model().NumParams(), time.Since(start).Seconds())
	save := func() error {
		val := p.ValLoss(256)
		parts := p.ValLossParts(256)
		copyAcc, copyDigits := p.CopyAccuracy(tok, 100), p.CopyAccuracyDigits(tok, 100)
		recipe, _ := json.Marshal(cfg)
		extra := map[string]string{
			"golora.pretrain":      string(recipe),
			"golora.steps":         fmt.Sprint(p.StepsDone()),
			"golora.val_loss":      fmt.Sprintf("%.4f", val),
			"golora.tokens_seen":   fmt.Sprint(p.TokensSeen()),
			"golora.tokenizer":     tok.Name(),
			"golora.copy_accuracy": fmt.Sprintf("%.2f", copyAcc),
			"golora.copy_digits":   fmt.Sprintf("%.2f", copyDigits),
		}
		for i, l := range parts {
			extra["golora.val_loss_"+data.PartNames[i]] = fmt.Sprintf("%.4f", l)
		}
		if err := os.MkdirAll(filepath.Dir(*out), 0o755); err != nil {
			return err
		}
		if err := writeFile(*out, func(f *os.File) error { return p.Model().Save(f, extra) }); err != nil {
			return err
		}
		fmt.Fprintf(os.Stderr, "pretrain: wrote %s: %d parameters, %d steps, %d tokens seen, validation loss %.4f (world %.4f, formats %.4f, prose %.4f, exercises %.4f), copies %.0f%% of held-out code lists and %.0f%% of number lists, %.0fs\n",
			*out, p.Model().NumParams(), p.StepsDone(), p.TokensSeen(), val, parts[0], parts[1], parts[2], parts[3], 100*copyAcc, 100*copyDigits, time.Since(start).Seconds())
		return nil
	}
	for p.StepsDone() < cfg.Steps {
		m, err := p.Step(*every)
		if err != nil {
			return err
		}
		fmt.Fprintf(os.Stderr, "step %5d/%d  loss %.4f  lr %.2e  %.0f tok/s  %.0fs\n", m.Step, cfg.Steps, m.Loss, m.LR, m.TokensPerSec, m.Elapsed)
		if *saveEvery > 0 && m.Step%*saveEvery == 0 && m.Step < cfg.Steps {
			if err := save(); err != nil {
				return err
			}
		}
	}
	if err := save(); err != nil {
		return err
	}
	return nil
}

// readProse reads the fortune files of data.FortuneFiles from dir, and says
// where they came from (the folder, the count, and a SHA-256 of the text, so
// that a recipe records which text it saw).
func readProse(dir string) ([]string, string, error) {
	var prose []string
	skipped := 0
	h := sha256.New()
	for _, name := range data.FortuneFiles {
		path := filepath.Join(dir, name)
		f, err := os.Open(path)
		if err != nil {
			return nil, "", fmt.Errorf("prose: %w (the corpus reads Debian's fortunes package: apt-get install -y fortunes, or -prose-repeat 0 for none)", err)
		}
		cookies, skip, err := data.ReadFortunes(f, path)
		f.Close()
		if err != nil {
			return nil, "", err
		}
		for _, c := range cookies {
			h.Write([]byte(c))
			h.Write([]byte{0})
		}
		prose = append(prose, cookies...)
		skipped += skip
	}
	source := fmt.Sprintf("fortunes: %d cookies from %d files of %s (%d left out: not plain ASCII, or over 2,000 bytes), sha256 %x",
		len(prose), len(data.FortuneFiles), dir, skipped, h.Sum(nil))
	fmt.Fprintf(os.Stderr, "pretrain: prose: %s\n", source)
	return prose, source, nil
}

// reportCorpus prints the corpus's composition and refuses one where a
// printable byte, newline or tab falls under data.MinByteFrequency.
func reportCorpus(ct *data.CorpusText) error {
	_, total := ct.ByteCounts()
	share := func(i int) float64 { return 100 * float64(ct.Bytes[i]) / float64(max(total, 1)) }
	fmt.Fprintf(os.Stderr, "pretrain: corpus: %d training lines, %d bytes: world %.1f%%, formats %.1f%%, prose %.1f%%, exercises %.1f%%; held out: %d, %d, %d, %d lines; left out for holding a test answer: %d, %d, %d, %d lines\n",
		len(ct.Train), total, share(0), share(1), share(2), share(3), len(ct.Val[0]), len(ct.Val[1]), len(ct.Val[2]), len(ct.Val[3]), ct.Dropped[0], ct.Dropped[1], ct.Dropped[2], ct.Dropped[3])
	b, f := ct.RarestByte()
	fmt.Fprintf(os.Stderr, "pretrain: rarest byte %q: 1 in %.0f bytes\n", b, 1/f)
	if f < data.MinByteFrequency {
		return fmt.Errorf("pretrain: byte %q appears once in %.0f bytes of the corpus, under 1 in %.0f", b, 1/f, 1/data.MinByteFrequency)
	}
	return nil
}
