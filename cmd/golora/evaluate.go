// golora evaluate: score a base, optionally with an adapter, on a task without training.
package main

import (
	"encoding/json"
	"fmt"
	"os"

	"golora/core/train"
)

// evaluateHints answers a training flag given to evaluate, which trains nothing.
var evaluateHints = func() map[string]string {
	h := map[string]string{}
	for _, f := range []string{"method", "rank", "alpha", "rslora", "targets", "init", "dropout", "lr", "steps", "batch",
		"warmup", "weight-decay", "clip", "seed", "eval-every", "out", "resume", "log", "train-tokens"} {
		h[f] = "evaluate trains nothing, it scores the model as it is (an adapter's settings come from its adapter_config.json); finetune takes -" + f
	}
	return h
}()

func runEvaluate(args []string) error {
	fs := newFlagSet("evaluate")
	var bf baseFlags
	var tf trainFlags
	bf.register(fs)
	tf.register(fs, flagsEvaluate)
	asJSON := fs.Bool("json", false, "print the evaluation as JSON on stdout")
	if err := parseFlags(fs, args, evaluateHints); err != nil {
		return err
	}
	cfg, err := tf.config()
	if err != nil {
		return err
	}
	cfg.Method = train.MethodFrozen
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
	model := bf.describe(base)
	prompts := len(s.Task().Test)
	if cfg.EvalLimit > 0 {
		prompts = min(prompts, cfg.EvalLimit)
	}
	fmt.Fprintf(os.Stderr, "evaluate: %s on %s (%d test prompts, %d validation examples)...\n", model, s.Task().Name,
		prompts, s.Info().ValExamples)
	ev, err := s.Evaluate()
	if err != nil {
		return err
	}
	if *asJSON {
		return json.NewEncoder(os.Stdout).Encode(struct {
			Model   string `json:"model"`
			Adapter string `json:"adapter,omitempty"`
			train.Eval
		}{bf.modelPath(), bf.adapter, ev})
	}
	fmt.Printf("%s on %s: val loss %.4f, accuracy %.1f%% (%d/%d) in %.1fs\n", model, s.Task().Name, ev.ValLoss, 100*ev.Accuracy, ev.Correct, ev.Total, ev.Seconds)
	for _, smp := range ev.Samples {
		fmt.Printf("  %q -> %q (want %q)\n", smp.Prompt, smp.Got, smp.Want)
	}
	return nil
}
