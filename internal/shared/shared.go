// Package shared finds the files that tests read from ../shared beside the
// repository (a real llama2.c checkpoint the project never commits), and
// skips the calling test when they are absent.
package shared

import (
	"os"
	"path/filepath"
	"testing"
)

// Stories260K returns the path of file in ../shared/models/stories260K beside
// the repository root (found by walking up to go.mod), or skips the test.
func Stories260K(t testing.TB, file string) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			break
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Skip("repository root (go.mod) not found above the test's directory")
		}
		dir = parent
	}
	p := filepath.Join(dir, "..", "shared", "models", "stories260K", file)
	if _, err := os.Stat(p); err != nil {
		t.Skipf("%s not present (the project never commits it; see shared/models/stories260K/SOURCES.md): %v", p, err)
	}
	return p
}
