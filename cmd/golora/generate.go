// golora generate: continue a prompt; with a llama2.c checkpoint it prints exactly what llama2.c's run prints.
package main

import (
	"fmt"
	"os"

	"golora/core/data"
	"golora/core/model"
	"golora/core/rng"
)

func runGenerate(args []string) error {
	fs := newFlagSet("generate")
	var bf baseFlags
	bf.register(fs)
	prompt := fs.String("prompt", "", "text to continue")
	steps := fs.Int("steps", 256, "total tokens, prompt included (as llama2.c's -n); capped at the context")
	temp := fs.Float64("temperature", 0, fmt.Sprintf("0 = greedy (argmax); else sample softmax(logits/temperature), at most %g", maxTemperature))
	topp := fs.Float64("topp", 0.9, "nucleus sampling mass in [0, 1] (as llama2.c's -p; 0 or 1 samples from every token)")
	seed := fs.Uint64("seed", 1, "sampling seed")
	if err := parseFlags(fs, args, nil); err != nil {
		return err
	}
	if err := checkSampler(*temp, *topp); err != nil {
		return err
	}
	m, tok, err := bf.load()
	if err != nil {
		return err
	}
	if bf.adapter != "" {
		fmt.Fprintf(os.Stderr, "generate: %s\n", bf.describe(m))
	}
	out, err := generate(m, tok, *prompt, *steps, model.Sampler{Temperature: float32(*temp), TopP: float32(*topp), RNG: rng.New(*seed)})
	if err != nil {
		return err
	}
	fmt.Print(out)
	return nil
}

// maxTemperature bounds -temperature: at 10 the softmax of logits a few units apart is already nearly uniform.
const maxTemperature = 10.0

// checkSampler refuses sampling settings that are not numbers or out of their range, naming the flag.
func checkSampler(temperature, topp float64) error {
	if !(temperature >= 0 && temperature <= maxTemperature) { // NaN fails both
		return fmt.Errorf("-temperature: must be between 0 (greedy) and %g, got %g", maxTemperature, temperature)
	}
	if !(topp >= 0 && topp <= 1) {
		return fmt.Errorf("-topp: must be between 0 and 1 (the probability mass kept; 0 or 1 keeps every token), got %g", topp)
	}
	return nil
}

// generate runs llama2.c's generation loop: feed BOS and the prompt, then
// sample until steps tokens have been fed or BOS (llama2.c's delimiter) or
// the tokenizer's End comes out; the text printed is the prompt and the
// continuation, then a newline. With a llama2.c tokenizer it prints pieces
// as run.c's safe_printf does, so the output matches run.c byte for byte.
func generate(m *model.Model, tok data.Tokenizer, prompt string, steps int, s model.Sampler) (string, error) {
	var ids []int
	bpe, isBPE := tok.(*data.BPE)
	if isBPE {
		ids = bpe.EncodeRun(prompt, true, false)
	} else {
		ids = data.EncodePrompt(tok, prompt)
	}
	steps = min(steps, m.Context()) // a prefix method takes some positions of the context
	if steps < 1 {
		return "", fmt.Errorf("-steps must be positive")
	}
	if len(ids) > steps {
		return "", fmt.Errorf("the prompt is %d tokens, more than -steps %d (or the context %d)", len(ids), steps, m.Context())
	}
	d := m.NewDecoder(1)
	probs := make([]float32, m.Config.VocabSize)
	token := ids[0]
	var printed []int
	for pos := 0; pos < steps; pos++ {
		logits, err := d.Next(token)
		if err != nil {
			return "", err
		}
		next := 0
		if pos < len(ids)-1 {
			next = ids[pos+1] // still forcing the prompt
		} else {
			next = s.Sample(logits, probs)
		}
		if next == tok.BOS() || next == tok.End() {
			break
		}
		printed = append(printed, next)
		token = next
	}
	if isBPE {
		return bpe.DecodeRun(printed) + "\n", nil
	}
	return tok.Decode(printed) + "\n", nil
}
