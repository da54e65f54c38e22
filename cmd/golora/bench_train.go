// bench_train.go holds the training rows of `golora bench`: a LoRA step against a full fine-tuning step on the base.
package main

import (
	"fmt"
	"os"

	"golora/core/data"
	"golora/core/model"
	"golora/core/rng"
	"golora/core/train"
)

func init() { benchSuites = append(benchSuites, benchSuite{"train", trainBenchRows}) }

// benchBase is the shipped base when it can be found (natively, from the
// repository), else a freshly initialised model of the same shape: step
// times depend on shapes, not on weight values.
func benchBase() (*model.Model, string, error) {
	if f, err := os.Open(defaultBase()); err == nil {
		defer f.Close()
		m, _, err := model.Load(f, defaultBase())
		return m, "the shipped base", err
	}
	m, err := model.New("random", model.DefaultConfig())
	if err != nil {
		return nil, "", err
	}
	m.Init(rng.New(1))
	return m, "a random model of the base's shape", nil
}

// trainBenchRows times one optimizer step (forward, backward, AdamW) on the
// same e2e batch for LoRA r=8 on q,v, for full fine-tuning, for LoRA with the
// rows of every token of the data (the backward then reaches the embedding),
// and for intrinsic at d = 1000 (full fine-tuning's backward plus two Fastfood
// products per part of the step: its cost does not depend on d).
func trainBenchRows(quick bool, emit func(benchRow)) error {
	base, what, err := benchBase()
	if err != nil {
		return err
	}
	tok := data.NewByteTokenizer()
	cfg := train.DefaultConfig()
	cfg.Rank, cfg.Alpha, cfg.Batch, cfg.Steps = 8, 16, 16, 1_000_000
	lora, err := train.New(base, tok, cfg)
	if err != nil {
		return err
	}
	cfg.TrainTokens = train.TokensAllInData // every token of e2e's data: the most rows a run of it trains
	rows, err := train.New(base, tok, cfg)
	if err != nil {
		return err
	}
	cfg.Method, cfg.LR, cfg.TrainTokens = train.MethodFull, train.DefaultLR(train.MethodFull), ""
	full, err := train.New(base, tok, cfg)
	if err != nil {
		return err
	}
	cfg.Method, cfg.LR, cfg.IntrinsicDim = train.MethodIntrinsic, train.DefaultLR(train.MethodIntrinsic), 1000
	intrinsic, err := train.New(base, tok, cfg)
	if err != nil {
		return err
	}
	batch := lora.NextBatch()
	var stepErr error
	step := func(s *train.Session) func() {
		return func() {
			if _, err := s.StepBatch(&batch); err != nil && stepErr == nil {
				stepErr = err
			}
		}
	}
	t := timeBest(quick, step(lora), step(full), step(rows), step(intrinsic))
	if stepErr != nil {
		return stepErr
	}
	shape := fmt.Sprintf("B=%d,T=%d", batch.B, batch.T)
	emit(benchRow{Name: "train-step-lora/r=8,q,v," + shape, Unit: "ms", Value: ms(t[0]),
		Baseline: "full fine-tuning step, same batch and base (" + what + ")", BaselineValue: ms(t[1])})
	emit(benchRow{Name: fmt.Sprintf("train-step-lora+tokens/r=8,q,v,%d-rows,%s", rows.Info().TokenRows, shape), Unit: "ms",
		Value: ms(t[2]), Baseline: "the same LoRA step without token rows", BaselineValue: ms(t[0])})
	emit(benchRow{Name: "train-step-intrinsic/d=1000," + shape, Unit: "ms", Value: ms(t[3]),
		Baseline: "full fine-tuning step, same batch and base (" + what + ")", BaselineValue: ms(t[1])})
	tokens := float64(batch.B * batch.T)
	emit(benchRow{Name: "train-tokens/lora-r=8,q,v," + shape, Unit: "tokens/s", Value: tokens / t[0].Seconds(),
		Baseline: "full fine-tuning tokens/s, same batch", BaselineValue: tokens / t[1].Seconds()})
	return nil
}
