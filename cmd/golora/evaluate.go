// golora evaluate: score a base, optionally with an adapter, on a task without training.
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"os"

	"golora/core/train"
)

func runEvaluate(args []string) error {
	fs := flag.NewFlagSet("evaluate", flag.ContinueOnError)
	var bf baseFlags
	var tf trainFlags
	bf.register(fs)
	tf.register(fs)
	asJSON := fs.Bool("json", false, "print the evaluation as JSON on stdout")
	if err := fs.Parse(args); err != nil {
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
	ev, err := s.Evaluate()
	if err != nil {
		return err
	}
	if *asJSON {
		return json.NewEncoder(os.Stdout).Encode(ev)
	}
	fmt.Printf("%s on %s: val loss %.4f, accuracy %.1f%% (%d/%d) in %.1fs\n", bf.name(), s.Task().Name, ev.ValLoss, 100*ev.Accuracy, ev.Correct, ev.Total, ev.Seconds)
	for _, smp := range ev.Samples {
		fmt.Printf("  %q -> %q (want %q)\n", smp.Prompt, smp.Got, smp.Want)
	}
	return nil
}
