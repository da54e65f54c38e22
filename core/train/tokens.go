// Choosing the token rows a run trains beside its adapters (Config.TrainTokens, peft.Tokens): every token of the
// user's data, the ones the base cannot tell apart or never produces (measured from the base itself), or a list.
package train

import (
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"golora/core/data"
	"golora/core/model"
	"golora/core/peft"
)

// The values of Config.TrainTokens (the CLI's -train-tokens).
const (
	TokensNone      = "none"        // no token rows (the default, also "")
	TokensAuto      = "auto"        // the data's tokens that the base cannot tell apart or never produces (ChooseTokens)
	TokensAllInData = "all-in-data" // every token of the data
	TokensChars     = "chars:"      // chars:STRING, the tokens of each character of STRING
	TokensIDs       = "ids:"        // ids:3,17,42, token ids
)

// The auto rule: a token of the data trains when the base cannot tell it from another token, or (almost) never
// produces it on the data.
//
//   - Near-duplicate rows: its embedding row (or, untied, its classifier row) has a cosine of at least DuplicateCos
//     with another token's row. A base never trained on a token leaves its row where the tied classifier's push
//     against all non-targets moved it, the same vector for every such token: base-v1's ten digits are within
//     1 - cos = 0.7e-4 to 1.2e-4 of another never-seen byte's row, while the new base, which learned digits, keeps
//     them 5e-3 to 7e-2 apart (similar, as digits are, but told apart). Such tokens are one token to the base, on
//     input and on output, and no adapter on the linear layers can separate them: only their own rows can.
//   - Almost never produced: at no position of the data (where it occurs or elsewhere) does the base give it
//     1 in 100 (AnywhereNats, UnseenChars' second test, for any tokenizer). This finds tokens whose rows are
//     distinct but which the base learned never to say: stories260K gives the digits 4 and 6 to 9 at most 1 in
//     100 to 1 in 1,000 on a dates file, and base-v1 the '-' it rarely saw 1 in 250; tokens the base knows reach
//     far more somewhere (the new base's digits: 1 in 3 to 1 in 12).
//
// Both are read from the base and the training examples only, before training, and deterministically, so that a
// resumed run chooses the same rows. The 1e-3 between the two bases' digit rows leaves a factor of 5 on each side.
const DuplicateCos = 0.999

// TokenStat is what the base makes of one token of the data.
type TokenStat struct {
	ID     int     `json:"id"`
	Text   string  `json:"text"`             // the token as Go quotes it ("'7'", "\"▁the\"")
	Count  int     `json:"count"`            // occurrences in the examples measured
	Cos    float32 `json:"max_cos"`          // its row's largest cosine with another token's row (embedding or classifier)
	Twin   int     `json:"twin"`             // that other token
	Nats   float32 `json:"nats"`             // the base's lowest loss on it where it is a target (NaN: never a target)
	Best   float32 `json:"best_p"`           // the base's highest probability of it at any position of the data
	Reason string  `json:"reason,omitempty"` // why it trains: "duplicate", "rare" or both (auto), "in data"; "" when not
}

// TokenChoice is the rows a run trains, from its Config.TrainTokens.
type TokenChoice struct {
	Spec  string      `json:"spec"`
	IDs   []int       `json:"ids"`
	Stats []TokenStat `json:"tokens,omitempty"` // for auto and all-in-data: every token of the data, chosen or not
}

// tokenExamples is how many training examples the choice of tokens reads (as UnseenChars does).
const tokenExamples = 200

// CheckTokensSpec reports a malformed TrainTokens value (its ids and characters are checked against the base by
// ChooseTokens).
func CheckTokensSpec(spec string) error {
	switch {
	case spec == "", spec == TokensNone, spec == TokensAuto, spec == TokensAllInData:
		return nil
	case strings.HasPrefix(spec, TokensChars):
		if strings.TrimPrefix(spec, TokensChars) == "" {
			return fmt.Errorf("chars: needs at least one character, e.g. chars:0123456789")
		}
		return nil
	case strings.HasPrefix(spec, TokensIDs):
		_, err := parseIDs(strings.TrimPrefix(spec, TokensIDs))
		return err
	}
	return fmt.Errorf("%q: want none, auto, all-in-data, chars:CHARACTERS or ids:ID,ID,...", spec)
}

func parseIDs(s string) ([]int, error) {
	var ids []int
	for _, f := range strings.FieldsFunc(s, func(r rune) bool { return r == ',' || r == ' ' }) {
		id, err := strconv.Atoi(f)
		if err != nil {
			return nil, fmt.Errorf("ids: %q is not a token id", f)
		}
		ids = append(ids, id)
	}
	if len(ids) == 0 {
		return nil, fmt.Errorf("ids: needs at least one token id, e.g. ids:48,49")
	}
	return ids, nil
}

// ChooseTokens resolves spec against base (and its tokenizer) and the training examples: the token ids whose rows
// train, in increasing order, or none. Every id is checked to be inside the vocabulary, once (ids: given twice is
// refused); characters of chars: become their tokens (a character a BPE vocabulary spells with several tokens gives
// them all).
func ChooseTokens(spec string, base *model.Model, tok data.Tokenizer, train []data.Example) (TokenChoice, error) {
	ch := TokenChoice{Spec: spec}
	if err := CheckTokensSpec(spec); err != nil {
		return ch, err
	}
	switch {
	case spec == "" || spec == TokensNone:
		return ch, nil
	case strings.HasPrefix(spec, TokensIDs):
		ids, _ := parseIDs(strings.TrimPrefix(spec, TokensIDs))
		if err := peft.CheckTokenIDs(ids, base.Config.VocabSize); err != nil {
			return ch, err
		}
		ch.IDs = slices.Sorted(slices.Values(ids))
		return ch, nil
	case strings.HasPrefix(spec, TokensChars):
		set := map[int]bool{}
		for _, r := range strings.TrimPrefix(spec, TokensChars) {
			for _, id := range tok.Encode(string(r)) {
				set[id] = true
			}
		}
		for id := range set {
			ch.IDs = append(ch.IDs, id)
		}
		slices.Sort(ch.IDs)
		return ch, nil
	}
	stats, err := MeasureTokens(base, tok, train, tokenExamples)
	if err != nil {
		return ch, err
	}
	for i := range stats {
		st := &stats[i]
		if spec == TokensAuto {
			var why []string
			if st.Cos >= DuplicateCos {
				why = append(why, "duplicate")
			}
			if -math.Log(float64(st.Best)) > AnywhereNats {
				why = append(why, "rare")
			}
			st.Reason = strings.Join(why, ",")
		} else {
			st.Reason = "in data"
		}
		if st.Reason != "" {
			ch.IDs = append(ch.IDs, st.ID)
		}
	}
	slices.Sort(ch.IDs)
	ch.Stats = stats
	return ch, nil
}

// MeasureTokens scores the base on up to maxExamples of ex (prompt and completion, as training reads them) and
// returns, for every token of their text (BOS and End aside), most frequent first: its count, its row's largest
// cosine with another row (embedding, and an untied classifier's), the base's lowest loss on it where it is a target,
// and the base's highest probability of it anywhere.
func MeasureTokens(m *model.Model, tok data.Tokenizer, ex []data.Example, maxExamples int) ([]TokenStat, error) {
	ex = ex[:min(len(ex), maxExamples)]
	seqs, err := data.EncodeExamples(tok, ex, m.Config.SeqLen, "data")
	if err != nil {
		return nil, err
	}
	V := m.Config.VocabSize
	count := make([]int, V)
	easiest := make([]float32, V)
	best := make([]float32, V)
	for v := range easiest {
		easiest[v] = float32(math.NaN())
	}
	acts := m.NewActs(1, m.Config.SeqLen)
	special := func(id int) bool { return id == tok.BOS() || id == tok.End() }
	for _, s := range seqs {
		T := len(s.Tokens) - 1
		m.Forward(acts, s.Tokens[:T], s.Tokens[1:], nil, 1, T)
		for i, id := range s.Tokens[1:] {
			if l := acts.Losses[i]; !special(id) && (math.IsNaN(float64(easiest[id])) || l < easiest[id]) {
				easiest[id] = l
			}
			for v, p := range acts.Probs[i*V : (i+1)*V] {
				best[v] = max(best[v], p)
			}
		}
		for _, id := range s.Tokens {
			if !special(id) {
				count[id]++
			}
		}
	}
	var rows []int // the data's tokens: only their rows are compared (K·V, not V² products: a 32,000-token vocabulary)
	for id, n := range count {
		if n > 0 {
			rows = append(rows, id)
		}
	}
	cos, twin := maxCosines(m.Params.Embed, V, m.Config.Dim, rows)
	if !m.Config.Tied {
		c2, t2 := maxCosines(m.Params.LMHead, V, m.Config.Dim, rows)
		for _, v := range rows {
			if c2[v] > cos[v] {
				cos[v], twin[v] = c2[v], t2[v]
			}
		}
	}
	var stats []TokenStat
	for id, n := range count {
		if n == 0 {
			continue
		}
		stats = append(stats, TokenStat{ID: id, Text: quoteToken(tok, id), Count: n, Cos: cos[id], Twin: twin[id],
			Nats: easiest[id], Best: best[id]})
	}
	slices.SortStableFunc(stats, func(a, b TokenStat) int { return b.Count - a.Count })
	return stats, nil
}

// maxCosines returns, for each of rows of w (V, C), its largest cosine with another row and that row (the first
// of equals); the other entries are -1.
func maxCosines(w []float32, V, C int, rows []int) ([]float32, []int) {
	norm := make([]float64, V)
	for v := range V {
		var s float64
		for _, x := range w[v*C : (v+1)*C] {
			s += float64(x) * float64(x)
		}
		norm[v] = math.Sqrt(s)
	}
	cos, twin := make([]float32, V), make([]int, V)
	for v := range cos {
		cos[v], twin[v] = -1, -1
	}
	for _, a := range rows {
		ra := w[a*C : (a+1)*C]
		for b := range V {
			if b == a {
				continue
			}
			var d float64
			for j, x := range w[b*C : (b+1)*C] {
				d += float64(ra[j]) * float64(x)
			}
			c := float32(0)
			if norm[a] > 0 && norm[b] > 0 {
				c = float32(d / (norm[a] * norm[b]))
			}
			if c > cos[a] {
				cos[a], twin[a] = c, b
			}
		}
	}
	return cos, twin
}

// quoteToken is a token's text as Go quotes it: a byte token that is not valid UTF-8 alone as its \x escape.
func quoteToken(tok data.Tokenizer, id int) string {
	s := tok.Decode([]int{id})
	if len(s) == 1 && !utf8.ValidString(s) {
		return fmt.Sprintf("'\\x%02x'", s[0])
	}
	if utf8.RuneCountInString(s) == 1 {
		r, _ := utf8.DecodeRuneInString(s)
		return strconv.QuoteRune(r)
	}
	return strconv.Quote(s)
}

// TokensText is the chosen tokens as text for a terminal: "'0' '1' ... (12 rows)".
func TokensText(tok data.Tokenizer, ids []int) string {
	var parts []string
	for i, id := range ids {
		if i == 40 {
			parts = append(parts, fmt.Sprintf("and %d more", len(ids)-i))
			break
		}
		parts = append(parts, quoteToken(tok, id))
	}
	return strings.Join(parts, " ")
}

// addTokens attaches the run's token rows to its model (after its adapters): an imported adapter's rows with their
// values, or the rows cfg.TrainTokens chooses from the base and the training split. A run that chooses none (auto
// on a base that knows the data's tokens) trains without rows.
func (s *Session) addTokens(base *model.Model, imported *peft.Tokens) error {
	if imported != nil {
		tk, err := peft.AddTokens(s.model, imported.TokensConfig)
		if err != nil {
			return err
		}
		copy(tk.Params(), imported.Params())
		s.tokens = TokenChoice{Spec: s.cfg.TrainTokens, IDs: imported.IDs}
		return nil
	}
	spec := s.cfg.TrainTokens
	if spec == "" || spec == TokensNone || s.cfg.Method == MethodFrozen || s.cfg.Method == MethodFull {
		return nil
	}
	ch, err := ChooseTokens(spec, base, s.tok, s.task.Train)
	if err != nil {
		return &FieldError{Field: "train_tokens", Reason: err.Error()}
	}
	s.tokens = ch
	if len(ch.IDs) == 0 {
		if s.cfg.Method == MethodTokens {
			return &FieldError{Field: "train_tokens", Reason: fmt.Sprintf("%s %s: the base tells every token "+
				"of the data apart and produces it, so method %s has nothing to train (use all-in-data or a list)", spec, noTokensChosen, MethodTokens)}
		}
		return nil
	}
	if _, err := peft.AddTokens(s.model, peft.TokensConfig{IDs: ch.IDs, Output: true}); err != nil {
		return &FieldError{Field: "train_tokens", Reason: err.Error()}
	}
	return nil
}

// noTokensChosen marks the error of a tokens run whose train_tokens chose no token (NothingToTrain).
const noTokensChosen = "chose no token"

// NothingToTrain reports whether err (from New) says that a run of c has nothing to train: method tokens, whose
// train_tokens (auto) chose no token of the data. A methods sweep skips such a run, saying why.
func NothingToTrain(c Config, err error) (string, bool) {
	if err == nil || c.Method != MethodTokens {
		return "", false
	}
	for _, fe := range FieldErrors(err) {
		if fe.Field == "train_tokens" && strings.Contains(fe.Reason, noTokensChosen) {
			return fe.Reason, true
		}
	}
	return "", false
}

// Tokens is the run's choice of token rows (empty without Config.TrainTokens).
func (s *Session) Tokens() TokenChoice { return s.tokens }

// tokensSpan is where the token rows lie in the run's trainable vector (false: the run trains none).
func tokensSpan(m *model.Model, tr model.Trainable) ([2]int, bool) {
	off := tr.BaseLen
	for _, meth := range m.Methods() {
		n := len(meth.Params())
		if _, ok := meth.(*peft.Tokens); ok && off+n <= tr.Len {
			return [2]int{off, off + n}, true
		}
		off += n
	}
	return [2]int{}, false
}
