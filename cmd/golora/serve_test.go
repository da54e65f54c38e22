// serve_test.go checks what `golora serve` will and will not hand out, and how.

package main

import (
	"bytes"
	"compress/gzip"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// newTestRoot lays out a fake repository: the app, a build, a model, and files that must never be served.
func newTestRoot(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	files := map[string]string{
		"web/index.html":           "<!doctype html><title>golora</title>",
		"web/app.js":               "console.log('app');" + string(bytes.Repeat([]byte(" // padding"), 200)),
		"web/style.css":            "body{}",
		"web/notes.txt":            "not an app file type",
		"web/.hidden.js":           "secret",
		"web/dist/golora.wasm":     "\x00asm" + string(bytes.Repeat([]byte{1, 2, 3, 4}, 4096)),
		"web/dist/wasm_exec.js":    "// go",
		"web/dist/sub/deep.js":     "too deep",
		"web/vendor/lib.js":        "export const lib = 1;",
		"web/panels/run.js":        "export function render() {}",
		"web/other/x.js":           "not an app folder",
		"models/base.safetensors":  "\x08\x00\x00\x00\x00\x00\x00\x00{}      ",
		"models/README.md":         "# base",
		"go.mod":                   "module golora",
		"secret.json":              `{"key":"x"}`,
		".git/config":              "[core]",
		"cmd/golora/serve.go":      "package main",
		"web/dist/golora.wasm.map": "x",
	}
	for name, body := range files {
		p := filepath.Join(dir, filepath.FromSlash(name))
		require.NoError(t, os.MkdirAll(filepath.Dir(p), 0o755))
		require.NoError(t, os.WriteFile(p, []byte(body), 0o644))
	}
	// A symlink inside web/ that points outside the root must not be followed.
	outside := filepath.Join(t.TempDir(), "outside.js")
	require.NoError(t, os.WriteFile(outside, []byte("outside"), 0o644))
	require.NoError(t, os.Symlink(outside, filepath.Join(dir, "web", "link.js")))
	return dir
}

func get(t *testing.T, h http.Handler, target string, hdr map[string]string) *http.Response {
	t.Helper()
	req := httptest.NewRequest(http.MethodGet, "http://golora.test/", nil)
	req.URL.Path = target // set directly so that "..", "//" and "%2e" reach the handler unnormalised
	req.URL.RawPath = ""
	req.RequestURI = target
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec.Result()
}

func TestServeAppFiles(t *testing.T) {
	h, err := newAppHandler(newTestRoot(t))
	require.NoError(t, err)
	tests := []struct {
		path, wantType, wantPrefix string
	}{
		{"/", "text/html; charset=utf-8", "<!doctype html>"},
		{"/index.html", "text/html; charset=utf-8", "<!doctype html>"},
		{"/app.js", "text/javascript; charset=utf-8", "console.log"},
		{"/style.css", "text/css; charset=utf-8", "body{}"},
		{"/dist/golora.wasm", "application/wasm", "\x00asm"},
		{"/dist/wasm_exec.js", "text/javascript; charset=utf-8", "// go"},
		{"/vendor/lib.js", "text/javascript; charset=utf-8", "export const lib"},
		{"/panels/run.js", "text/javascript; charset=utf-8", "export function"},
		{"/models/base.safetensors", "application/octet-stream", "\x08\x00"},
		{"/models/README.md", "text/markdown; charset=utf-8", "# base"},
	}
	for _, tc := range tests {
		res := get(t, h, tc.path, nil)
		body, _ := io.ReadAll(res.Body)
		assert.Equal(t, http.StatusOK, res.StatusCode, "status of %s", tc.path)
		assert.Equal(t, tc.wantType, res.Header.Get("Content-Type"), "Content-Type of %s", tc.path)
		assert.Equal(t, "nosniff", res.Header.Get("X-Content-Type-Options"), "nosniff on %s", tc.path)
		assert.True(t, bytes.HasPrefix(body, []byte(tc.wantPrefix)), "body of %s starts %q", tc.path, body[:min(len(body), 16)])
	}
	res := get(t, h, "/", nil)
	assert.Contains(t, res.Header.Get("Content-Security-Policy"), "default-src 'self'", "the page is kept to its own origin")
}

func TestServeRefuses(t *testing.T) {
	h, err := newAppHandler(newTestRoot(t))
	require.NoError(t, err)
	for _, p := range []string{
		"/dist/", "/dist", "/models/", "/web/", "/web/index.html", // directories (no listing) and the wrong prefix
		"/notes.txt", "/.hidden.js", "/dist/sub/deep.js", "/dist/golora.wasm.map", // types and depths outside the app
		"/../go.mod", "/dist/../../go.mod", "/models/../secret.json", "/..", "/./app.js", "//app.js", // escapes
		"/other/x.js", "/vendor/", "/panels", // folders of web/ that are not the app's
		"/.git/config", "/go.mod", "/secret.json", "/cmd/golora/serve.go",
		"/link.js",                  // a symlink leaving the root
		"/models/base.safetensors/", // trailing slash
		"/app.js\\..\\go.mod", "/missing.js",
	} {
		res := get(t, h, p, nil)
		body, _ := io.ReadAll(res.Body)
		assert.Equal(t, http.StatusNotFound, res.StatusCode, "status of %q", p)
		assert.NotContains(t, string(body), "module golora", "body of %q", p)
		assert.NotContains(t, string(body), "<a href", "body of %q lists a directory", p)
	}
	req := httptest.NewRequest(http.MethodPost, "/app.js", nil)
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	assert.Equal(t, http.StatusMethodNotAllowed, rec.Code, "POST is refused")
}

func TestServeGzip(t *testing.T) {
	dir := newTestRoot(t)
	h, err := newAppHandler(dir)
	require.NoError(t, err)
	raw, err := os.ReadFile(filepath.Join(dir, "web/dist/golora.wasm"))
	require.NoError(t, err)

	// On the fly: gzip when asked, identity otherwise, and the right type either way.
	res := get(t, h, "/dist/golora.wasm", map[string]string{"Accept-Encoding": "br, gzip"})
	assert.Equal(t, "gzip", res.Header.Get("Content-Encoding"), "wasm is gzipped")
	assert.Equal(t, "application/wasm", res.Header.Get("Content-Type"), "gzipped wasm keeps its type")
	assert.Contains(t, res.Header.Get("Vary"), "Accept-Encoding", "caches must key on the encoding")
	assert.Equal(t, raw, gunzip(t, res.Body), "gzipped wasm decodes to the file")

	res = get(t, h, "/dist/golora.wasm", map[string]string{"Accept-Encoding": "gzip;q=0"})
	assert.Empty(t, res.Header.Get("Content-Encoding"), "gzip;q=0 refuses gzip")
	body, _ := io.ReadAll(res.Body)
	assert.Equal(t, raw, body, "identity wasm is the file")

	res = get(t, h, "/models/base.safetensors", map[string]string{"Accept-Encoding": "gzip"})
	assert.Empty(t, res.Header.Get("Content-Encoding"), "float weights are not worth gzipping")

	// Precompressed: a newer web/dist/golora.wasm.gz is served as is.
	var pre bytes.Buffer
	zw := gzip.NewWriter(&pre)
	_, err = zw.Write([]byte("\x00asm precompressed"))
	require.NoError(t, err)
	require.NoError(t, zw.Close())
	gzPath := filepath.Join(dir, "web/dist/golora.wasm.gz")
	require.NoError(t, os.WriteFile(gzPath, pre.Bytes(), 0o644))
	later := time.Now().Add(time.Minute)
	require.NoError(t, os.Chtimes(gzPath, later, later))
	res = get(t, h, "/dist/golora.wasm", map[string]string{"Accept-Encoding": "gzip"})
	assert.Equal(t, "gzip", res.Header.Get("Content-Encoding"), "precompressed wasm is gzip")
	assert.Equal(t, "\x00asm precompressed", string(gunzip(t, res.Body)), "the .gz file is what is served")
	assert.Equal(t, http.StatusNotFound, get(t, h, "/dist/golora.wasm.gz", nil).StatusCode, "the .gz is not a URL itself")

	// A .gz older than its source is stale and ignored.
	earlier := time.Now().Add(-time.Hour)
	require.NoError(t, os.Chtimes(gzPath, earlier, earlier))
	res = get(t, h, "/dist/golora.wasm", map[string]string{"Accept-Encoding": "gzip"})
	assert.Equal(t, raw, gunzip(t, res.Body), "a stale .gz is ignored")
}

func gunzip(t *testing.T, r io.Reader) []byte {
	t.Helper()
	zr, err := gzip.NewReader(r)
	require.NoError(t, err)
	out, err := io.ReadAll(zr)
	require.NoError(t, err)
	return out
}

func TestServeNeedsApp(t *testing.T) {
	_, err := newAppHandler(t.TempDir())
	assert.ErrorContains(t, err, "web/index.html", "a root without the app is refused")
	err = runServe([]string{"-root", t.TempDir(), "-addr", "127.0.0.1:0"})
	assert.ErrorContains(t, err, "web/index.html", "runServe reports a root without the app")
	err = runServe([]string{"extra"})
	assert.ErrorContains(t, err, "unexpected arguments", "runServe refuses stray arguments")
}

func TestListenURLs(t *testing.T) {
	ifaces := []net.Addr{
		&net.IPNet{IP: net.IPv4(127, 0, 0, 1), Mask: net.CIDRMask(8, 32)},
		&net.IPNet{IP: net.IPv4(10, 1, 2, 3), Mask: net.CIDRMask(24, 32)},
		&net.IPNet{IP: net.IPv6loopback, Mask: net.CIDRMask(128, 128)},
		&net.IPNet{IP: net.ParseIP("fe80::1"), Mask: net.CIDRMask(64, 128)}, // link-local: needs a zone to open
		&net.IPNet{IP: net.ParseIP("2001:db8::5"), Mask: net.CIDRMask(64, 128)},
	}
	tests := []struct {
		addr       net.Addr
		want       []string
		everywhere bool
	}{
		{&net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 8080}, []string{"http://127.0.0.1:8080/"}, false},
		{&net.TCPAddr{IP: net.IPv6loopback, Port: 80}, []string{"http://[::1]:80/"}, false},
		{&net.TCPAddr{IP: net.IPv4(10, 1, 2, 3), Port: 80}, []string{"http://10.1.2.3:80/"}, false},
		{&net.TCPAddr{IP: net.IPv4zero, Port: 9090}, []string{"http://127.0.0.1:9090/", "http://10.1.2.3:9090/"}, true},
		{&net.TCPAddr{Port: 1234}, []string{"http://127.0.0.1:1234/", "http://10.1.2.3:1234/", "http://[2001:db8::5]:1234/"}, true},
		{&net.TCPAddr{IP: net.IPv6unspecified, Port: 1234}, []string{"http://127.0.0.1:1234/", "http://10.1.2.3:1234/", "http://[2001:db8::5]:1234/"}, true},
	}
	for _, tc := range tests {
		urls, everywhere := listenURLs(tc.addr, ifaces)
		assert.Equal(t, tc.want, urls, "listenURLs(%v)", tc.addr)
		assert.Equal(t, tc.everywhere, everywhere, "listenURLs(%v) warns of every interface", tc.addr)
	}
}

// TestServeTimeouts: no connection holds the server forever, whether it stalls while sending its request, while
// reading the response, or idles between requests.
func TestServeTimeouts(t *testing.T) {
	srv := newServer(http.NotFoundHandler())
	assert.Positive(t, srv.ReadHeaderTimeout, "ReadHeaderTimeout")
	assert.Positive(t, srv.ReadTimeout, "ReadTimeout")
	assert.Positive(t, srv.IdleTimeout, "IdleTimeout")
	assert.GreaterOrEqual(t, srv.WriteTimeout, time.Minute, "WriteTimeout leaves a slow link time for the 6 MB wasm")
	assert.Positive(t, srv.MaxHeaderBytes, "MaxHeaderBytes")
}

// TestServeFavicon: /favicon.ico, which browsers ask for by themselves, is an icon rather than a 404 in the console;
// web/favicon.ico replaces the built-in one.
func TestServeFavicon(t *testing.T) {
	dir := newTestRoot(t)
	h, err := newAppHandler(dir)
	require.NoError(t, err)
	res := get(t, h, "/favicon.ico", nil)
	body, _ := io.ReadAll(res.Body)
	assert.Equal(t, http.StatusOK, res.StatusCode)
	assert.Equal(t, "image/x-icon", res.Header.Get("Content-Type"))
	assert.Equal(t, []byte{0, 0, 1, 0}, body[:4], "an ICO header")
	require.NoError(t, os.WriteFile(filepath.Join(dir, "web/favicon.ico"), []byte("own icon"), 0o644))
	body, _ = io.ReadAll(get(t, h, "/favicon.ico", nil).Body)
	assert.Equal(t, "own icon", string(body), "web/favicon.ico is served when present")
}

// TestServeGzipReadOnce: a precompressed .gz is read from disk once and then served from memory while it is
// unchanged (its modification time and size), and read again once it changes.
func TestServeGzipReadOnce(t *testing.T) {
	dir := newTestRoot(t)
	h, err := newAppHandler(dir)
	require.NoError(t, err)
	gzPath := filepath.Join(dir, "web/dist/golora.wasm.gz")
	write := func(body string, mod time.Time) {
		var pre bytes.Buffer
		zw := gzip.NewWriter(&pre)
		_, err := zw.Write([]byte(body))
		require.NoError(t, err)
		require.NoError(t, zw.Close())
		require.NoError(t, os.WriteFile(gzPath, pre.Bytes(), 0o644))
		require.NoError(t, os.Chtimes(gzPath, mod, mod))
	}
	later := time.Now().Add(time.Minute)
	write("first build", later)
	fetch := func() string {
		return string(gunzip(t, get(t, h, "/dist/golora.wasm", map[string]string{"Accept-Encoding": "gzip"}).Body))
	}
	assert.Equal(t, "first build", fetch())
	write("other build", later) // the same size and time: the server cannot tell, and keeps what it read
	assert.Equal(t, "first build", fetch(), "the .gz was not read again")
	write("other build", later.Add(time.Second))
	assert.Equal(t, "other build", fetch(), "a changed .gz is read again")
}
