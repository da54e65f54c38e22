package train

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"golora/core/data"
	"golora/core/model"
)

func loadModel(t *testing.T, path string) *model.Model {
	t.Helper()
	f, err := os.Open(path)
	require.NoError(t, err)
	defer f.Close()
	m, _, err := model.Load(f, path)
	require.NoError(t, err)
	return m
}

// The previous base never saw a digit: its report names the digits of a
// custom file and nothing else; the shipped base knows them all. A character
// outside ASCII is unseen by both.
func TestUnseenChars(t *testing.T) {
	ex := []data.Example{}
	for _, p := range []string{"the red cat", "a small dog", "the old lamp"} {
		for i := range 10 {
			ex = append(ex, data.Example{Prompt: p + " costs\n", Completion: string(rune('0'+i)) + " coins."})
		}
	}
	ex = append(ex, data.Example{Prompt: "caf\u00e9?\n", Completion: "yes"})
	tok := data.NewByteTokenizer()
	v1, shipped := loadModel(t, "../../models/base-v1.safetensors"), loadModel(t, "../../models/base.safetensors")
	rep, err := UnseenChars(v1, tok, ex, 100)
	require.NoError(t, err)
	assert.Equal(t, 31, rep.Examples)
	flagged := map[string]int{}
	for _, c := range rep.Chars {
		flagged[c.Char] = c.Count
		assert.Less(t, c.Rate, UnseenRate)
	}
	for d := '0'; d <= '9'; d++ {
		assert.Equal(t, 3, flagged[fmt.Sprintf("%q", d)], "digit %c, once per prompt", d)
	}
	assert.Equal(t, 1, flagged["'é'"], "a character of two bytes, named as one")
	assert.Len(t, flagged, 11, "the digits and é, nothing else: %s", rep)
	t.Logf("previous base: %s", rep)
	assert.Contains(t, rep.String(), "full fine-tuning")
	assert.Len(t, rep.Remedies, 4)
	assert.Equal(t, TokensAuto, rep.TrainTokens, "the first remedy, as a setting")

	rep, err = UnseenChars(shipped, tok, ex, 100)
	require.NoError(t, err)
	require.Len(t, rep.Chars, 1, "the shipped base knows digits: %s", rep)
	assert.Equal(t, "'é'", rep.Chars[0].Char)

	rep, err = UnseenChars(shipped, tok, ex, 5)
	require.NoError(t, err)
	assert.Equal(t, 5, rep.Examples, "at most maxExamples")
	assert.Empty(t, rep.Chars)
	assert.Contains(t, rep.String(), "none")
}

// neverInV1 are the bytes base-v1's corpus never held (issue 11): digits,
// tab and 24 punctuation marks and capitals (its copying drills did hold '|').
var neverInV1 = func() []string {
	var out []string
	for _, c := range "0123456789\t!#$%&'*+<=>@XY[\\]^_`{}~" {
		out = append(out, fmt.Sprintf("%q", c))
	}
	return out
}()

// On the own-data benchmark's files, the previous base's report lists the
// digits (and other bytes it never saw) and the shipped base's lists nothing:
// not the '?' that units and arithmetic put after a number, where the base
// gives it little, although it knows it (the false alarm of the rule before).
func TestUnseenCharsOwnData(t *testing.T) {
	tok := data.NewByteTokenizer()
	v1, shipped := loadModel(t, "../../models/base-v1.safetensors"), loadModel(t, "../../models/base.safetensors")
	files, err := filepath.Glob("../../testdata/owndata/*.jsonl")
	require.NoError(t, err)
	require.Len(t, files, 6)
	for _, path := range files {
		f, err := os.Open(path)
		require.NoError(t, err)
		ex, err := data.ReadJSONL(f, path)
		f.Close()
		require.NoError(t, err)
		rep, err := UnseenChars(shipped, tok, ex, 200)
		require.NoError(t, err)
		assert.Empty(t, rep.Chars, "%s: %s", path, rep)
		rep, err = UnseenChars(v1, tok, ex, 200)
		require.NoError(t, err)
		var got []string
		for _, c := range rep.Chars {
			got = append(got, c.Char)
		}
		hasDigits := !strings.Contains(path, "titlecase")
		for d := '0'; d <= '9'; d++ {
			if hasDigits {
				assert.Contains(t, got, fmt.Sprintf("%q", d), "%s: %s", path, rep)
			}
		}
		for _, c := range got {
			assert.Contains(t, neverInV1, c, "%s: base-v1 saw %s", path, c)
		}
	}
}
