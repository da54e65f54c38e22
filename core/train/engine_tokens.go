// The page's view of the user's data against the base: which characters the base has (almost) never seen
// (UnseenChars, the warning finetune prints), and which token rows a run's train_tokens chooses (ChooseTokens), both
// before any training.
package train

import (
	"golora/core/data"
	"golora/core/peft"
)

// pageUnseenExamples is how many training examples the page's checks read (finetune's too).
const pageUnseenExamples = 200

// PageToken is one token of the user's data as the page lists it.
type PageToken struct {
	ID     int    `json:"id"`
	Text   string `json:"text"`             // as Go quotes it: '7', '\n', "▁the"
	Count  int    `json:"count,omitempty"`  // occurrences in the examples read
	Reason string `json:"reason,omitempty"` // why auto takes it: "duplicate", "rare" or both
}

// pageTokens lists ch's chosen tokens, with the counts and reasons it measured.
func pageTokens(tok data.Tokenizer, ch TokenChoice) []PageToken {
	stats := map[int]TokenStat{}
	for _, st := range ch.Stats {
		stats[st.ID] = st
	}
	out := []PageToken{}
	for _, id := range ch.IDs {
		st := stats[id]
		out = append(out, PageToken{ID: id, Text: quoteToken(tok, id), Count: st.Count, Reason: st.Reason})
	}
	return out
}

// taskOf is the training split the page's settings give (the user's file for "custom"), from a frozen session.
func (e *Engine) taskOf(a configArgs, in Bulk) (Config, *data.Task, error) {
	if err := e.needBase(); err != nil {
		return Config{}, nil, err
	}
	c, err := a.config(in)
	if err != nil {
		return Config{}, nil, err
	}
	f := c
	f.Method, f.TrainTokens, f.Batch = MethodFrozen, "", 1 // one row of activations: this session never trains
	s, err := New(e.base, e.tok, f)
	if err != nil {
		return Config{}, nil, err
	}
	return c, s.Task(), nil
}

// unseen {config, fileName?} (+ "file") -> {unseen, tokens}: the characters of the training examples that the base
// has (almost) never seen, with what to do (UnseenChars); for a base whose tokenizer is not golora's bytes, which
// UnseenChars skips, tokens lists the data's tokens that auto would train (ChooseTokens), as finetune prints them.
func (e *Engine) unseen(args []byte, in Bulk) (any, Bulk, error) {
	var a configArgs
	if err := decodeArgs(args, &a); err != nil {
		return nil, Bulk{}, err
	}
	_, task, err := e.taskOf(a, in)
	if err != nil {
		return nil, Bulk{}, err
	}
	rep, err := UnseenChars(e.base, e.tok, task.Train, pageUnseenExamples)
	if err != nil {
		return nil, Bulk{}, err
	}
	if rep.Chars == nil {
		rep.Chars = []UnseenChar{}
	}
	tokens := []PageToken{}
	if rep.Skipped != "" {
		ch, err := ChooseTokens(TokensAuto, e.base, e.tok, task.Train)
		if err != nil {
			return nil, Bulk{}, err
		}
		tokens = pageTokens(e.tok, ch)
	}
	return map[string]any{"unseen": rep, "tokens": tokens}, Bulk{}, nil
}

// chooseTokens {config, fileName?} (+ "file") -> {spec, tokens, params}: the token rows a run of these settings
// trains (train_tokens, auto for method tokens when empty, none for full fine-tuning), chosen as New chooses them,
// and how many values they add.
func (e *Engine) chooseTokens(args []byte, in Bulk) (any, Bulk, error) {
	var a configArgs
	if err := decodeArgs(args, &a); err != nil {
		return nil, Bulk{}, err
	}
	c, task, err := e.taskOf(a, in)
	if err != nil {
		return nil, Bulk{}, err
	}
	spec := c.TrainTokens
	if c.Method == MethodTokens && spec == "" {
		spec = TokensAuto
	}
	if c.Method == MethodFull || c.Method == MethodFrozen {
		spec = ""
	}
	ch, err := ChooseTokens(spec, e.base, e.tok, task.Train)
	if err != nil {
		return nil, Bulk{}, &FieldError{Field: "train_tokens", Reason: err.Error()}
	}
	if spec == "" {
		spec = TokensNone
	}
	return map[string]any{"spec": spec, "tokens": pageTokens(e.tok, ch),
		"params": peft.TokensParams(e.base.Config, len(ch.IDs), true)}, Bulk{}, nil
}

// tokenTexts quotes ids for the page.
func tokenTexts(tok data.Tokenizer, ids []int) []string {
	out := make([]string, len(ids))
	for i, id := range ids {
		out[i] = quoteToken(tok, id)
	}
	return out
}
