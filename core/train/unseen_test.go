package train

import (
	"fmt"
	"os"
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
// custom file and nothing else; the shipped base knows them all.
func TestUnseenChars(t *testing.T) {
	ex := []data.Example{}
	for _, p := range []string{"the red cat", "a small dog", "the old lamp"} {
		for i := range 10 {
			ex = append(ex, data.Example{Prompt: p + " costs\n", Completion: string(rune('0'+i)) + " coins."})
		}
	}
	tok := data.NewByteTokenizer()
	rep, err := UnseenChars(loadModel(t, "../../models/base-v1.safetensors"), tok, ex, 100)
	require.NoError(t, err)
	assert.Equal(t, 30, rep.Examples)
	flagged := map[string]int{}
	for _, c := range rep.Chars {
		flagged[c.Char] = c.Count
		assert.Greater(t, c.Nats, float32(UnseenNats))
	}
	for d := '0'; d <= '9'; d++ {
		assert.Equal(t, 3, flagged[fmt.Sprintf("%q", d)], "digit %c, once per prompt", d)
	}
	for _, c := range "the red cat small dog old lamp costs coins." {
		assert.NotContains(t, flagged, fmt.Sprintf("%q", c), "the previous base knew its letters and punctuation")
	}
	t.Logf("previous base: %s", rep)
	assert.Contains(t, rep.String(), "full fine-tuning")

	rep, err = UnseenChars(loadModel(t, "../../models/base.safetensors"), tok, ex, 100)
	require.NoError(t, err)
	assert.Empty(t, rep.Chars, "the shipped base knows digits")
	assert.Contains(t, rep.String(), "none")

	rep, err = UnseenChars(loadModel(t, "../../models/base.safetensors"), tok, ex, 5)
	require.NoError(t, err)
	assert.Equal(t, 5, rep.Examples, "at most maxExamples")
}
