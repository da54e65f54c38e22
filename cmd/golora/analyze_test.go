package main

import (
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// analyzeJSON runs `golora analyze args... -json` and decodes what it prints.
func analyzeJSON(t *testing.T, args ...string) (analyzeOutput, error) {
	t.Helper()
	r, w, err := os.Pipe()
	require.NoError(t, err)
	stdout := os.Stdout
	os.Stdout = w
	runErr := runAnalyze(append(args, "-json"))
	os.Stdout = stdout
	require.NoError(t, w.Close())
	out, err := io.ReadAll(r)
	require.NoError(t, err)
	var res analyzeOutput
	if runErr == nil {
		require.NoError(t, json.Unmarshal(out, &res), "analyze -json printed %q", out)
	}
	return res, runErr
}

// An adapter compared with itself has φ(r, r) = 1 in every module; a "fully fine-tuned" model that is the
// base with the adapter merged has the adapter's intruders; -png writes the heatmaps.
func TestAnalyzeCLI(t *testing.T) {
	dir := t.TempDir()
	basePath, adapterDir, s := tinyRun(t, dir)
	merged := s.Model()
	require.NoError(t, merged.Merge())
	fullDir := filepath.Join(dir, "full")
	require.NoError(t, os.MkdirAll(fullDir, 0o755))
	require.NoError(t, writeFile(filepath.Join(fullDir, "model.safetensors"), func(f *os.File) error { return merged.Save(f, nil) }))
	require.NoError(t, merged.Unmerge())

	png := filepath.Join(dir, "phi.png")
	out, err := analyzeJSON(t, "-base", basePath, "-adapter", adapterDir, "-compare", adapterDir, "-full", fullDir, "-png", png)
	require.NoError(t, err)
	require.NotNil(t, out.Report)
	assert.Equal(t, filepath.Join(fullDir, "model.safetensors"), out.Full, "-full takes a folder holding model.safetensors")
	assert.Equal(t, 2, out.Rank)
	require.Len(t, out.Modules, 6, "q, v, down in two layers")
	for _, mod := range out.Modules {
		require.NotNil(t, mod.Compare, mod.Name)
		assert.InDelta(t, 1, mod.Compare.A[1][1], 1e-9, "%s: φ of an adapter with itself", mod.Name)
		require.NotNil(t, mod.Full, mod.Name)
		assert.Equal(t, mod.LoRA.Intruders.Count, mod.Full.Intruders.Count, "%s: merged adapter = full ΔW", mod.Name)
	}
	st, err := os.Stat(png)
	require.NoError(t, err)
	assert.Greater(t, st.Size(), int64(10_000), "the PNG has heatmaps in it")

	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"-base", basePath}, "-adapter: give an adapter folder"},
		{[]string{"-base", basePath, "-full", fullDir, "-compare", adapterDir}, "-compare needs -adapter"},
		{[]string{"-base", basePath, "-adapter", adapterDir, "-png", png}, "it needs -compare"},
		{[]string{"-base", basePath, "-adapter", adapterDir, "-intruder-eps", "2"}, "intruder-eps"},
		{[]string{"-base", basePath, "-adapter", adapterDir, "-full", filepath.Join(dir, "none")}, "-full:"},
		{[]string{"-base", basePath, "-adapter", filepath.Join(dir, "none")}, "adapter_config.json"},
	} {
		_, err := analyzeJSON(t, c.args...)
		assert.ErrorContains(t, err, c.want, "%v", c.args)
	}
}
