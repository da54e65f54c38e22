// golora pretrain: trains the base model from scratch and writes it with its card's figures.
package main

import (
	"encoding/json"
	"flag"
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
	fs := flag.NewFlagSet("pretrain", flag.ContinueOnError)
	out := fs.String("out", "models/base.safetensors", "where to write the model")
	fs.IntVar(&cfg.Steps, "steps", cfg.Steps, "optimizer steps")
	fs.IntVar(&cfg.Batch, "batch", cfg.Batch, "windows per step")
	fs.IntVar(&cfg.SeqLen, "seq", cfg.SeqLen, "window length in tokens")
	fs.IntVar(&cfg.Sentences, "sentences", cfg.Sentences, "corpus size in sentences")
	lr := fs.Float64("lr", float64(cfg.LR), "peak learning rate")
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
	saveEvery := fs.Int("save-every", 250, "steps between checkpoints written to -out (0 = only at the end)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	cfg.LR, cfg.MinLR = float32(*lr), float32(*minLR)
	cfg.CopyMix, cfg.Drills.Periodic = float32(*copyMix), float32(*periodic)
	tok := data.NewByteTokenizer()
	start := time.Now()
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
	fmt.Fprintf(os.Stderr, "pretrain: %d parameters, corpus ready in %.1fs\n", p.Model().NumParams(), time.Since(start).Seconds())
	save := func() error {
		val := p.ValLoss(256)
		copyAcc := p.CopyAccuracy(tok, 100)
		recipe, _ := json.Marshal(cfg)
		extra := map[string]string{
			"golora.pretrain":      string(recipe),
			"golora.steps":         fmt.Sprint(p.StepsDone()),
			"golora.val_loss":      fmt.Sprintf("%.4f", val),
			"golora.tokens_seen":   fmt.Sprint(p.TokensSeen()),
			"golora.tokenizer":     tok.Name(),
			"golora.copy_accuracy": fmt.Sprintf("%.2f", copyAcc),
		}
		if err := os.MkdirAll(filepath.Dir(*out), 0o755); err != nil {
			return err
		}
		if err := writeFile(*out, func(f *os.File) error { return p.Model().Save(f, extra) }); err != nil {
			return err
		}
		fmt.Fprintf(os.Stderr, "pretrain: wrote %s: %d parameters, %d steps, %d tokens seen, validation loss %.4f, copies %.0f%% of held-out code lists, %.0fs\n",
			*out, p.Model().NumParams(), p.StepsDone(), p.TokensSeen(), val, 100*copyAcc, time.Since(start).Seconds())
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
