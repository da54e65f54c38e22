// serve.go holds `golora serve`: a small static server for the browser app (web/) and the shipped base model.

package main

import (
	"bytes"
	"compress/gzip"
	_ "embed"
	"fmt"
	"io/fs"
	"mime"
	"net"
	"net/http"
	"os"
	"path"
	"strings"
	"sync"
	"time"
)

// The server answers only these URL paths: the app's files at the top of web/ and in its folders appDirs, and the
// base model in models/. Everything else is a 404, so a stray file in the checkout (a .git directory, a key, a
// notebook) is never served, whatever its name.
var (
	// appExt lists the file types served from web/ and web/dist/.
	appExt = map[string]bool{".html": true, ".js": true, ".css": true, ".wasm": true, ".svg": true, ".png": true, ".ico": true, ".json": true}
	// appDirs are web/'s folders: the build output, the vendored libraries and the page's panels (ES modules).
	appDirs = map[string]bool{"dist": true, "vendor": true, "panels": true}
	// modelExt lists the file types served from models/.
	modelExt = map[string]bool{".safetensors": true, ".md": true, ".json": true}
	// compressible lists the types worth gzipping; safetensors holds float32 noise that gzip barely shrinks.
	compressible = map[string]bool{".html": true, ".js": true, ".css": true, ".wasm": true, ".svg": true, ".json": true, ".md": true}
)

// contentSecurityPolicy keeps the page to its own origin: nothing is fetched from outside, and the worker may compile
// wasm. 'wasm-unsafe-eval' is what WebAssembly.instantiate needs; no JavaScript eval is allowed.
const contentSecurityPolicy = "default-src 'self'; script-src 'self' 'wasm-unsafe-eval'; worker-src 'self'; " +
	"style-src 'self'; img-src 'self' data: blob:; connect-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'"

// defaultFavicon is served at /favicon.ico when web/ has none, so that a browser's automatic request is no 404.
//
//go:embed favicon.ico
var defaultFavicon []byte

// runServe is `golora serve [-addr host:port] [-root dir]`: it prints the URL and serves until the process ends.
func runServe(args []string) error {
	fl := newFlagSet("serve")
	addr := fl.String("addr", "127.0.0.1:8080", "`host:port` to listen on (port 0 picks a free port; \":PORT\" listens on every interface)")
	root := fl.String("root", ".", "`directory` holding web/ and models/ (the repository root)")
	if err := parseFlags(fl, args, nil); err != nil {
		return err
	}
	h, err := newAppHandler(*root)
	if err != nil {
		return fmt.Errorf("serve: %w", err)
	}
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		return fmt.Errorf("serve: %w", err)
	}
	ifaces, _ := net.InterfaceAddrs() // without them only the loopback URL is printed
	urls, everywhere := listenURLs(ln.Addr(), ifaces)
	fmt.Printf("golora: serving the browser app at %s\n", urls[0])
	for _, u := range urls[1:] {
		fmt.Printf("        and at %s\n", u)
	}
	if everywhere {
		fmt.Fprintf(os.Stderr, "golora serve: warning: %s listens on every network interface, so anyone who can reach this "+
			"machine can open the app; -addr 127.0.0.1:%d keeps it to this machine\n", *addr, ln.Addr().(*net.TCPAddr).Port)
	}
	return newServer(h).Serve(ln)
}

// newServer bounds how long a connection may hold the server's memory. Only GETs without a body arrive, so reading a
// request is quick; writing one may take a while on a slow link (golora.wasm is about 6 MB, 1.6 MB gzipped, and the
// base model 1.7 MB: two minutes is about 100 kbit/s), and an idle keep-alive connection is closed after a minute.
func newServer(h http.Handler) *http.Server {
	return &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      2 * time.Minute,
		IdleTimeout:       time.Minute,
		MaxHeaderBytes:    64 << 10, // a browser's request headers are a few KB
	}
}

// listenURLs returns the URLs a listener at a can be opened at: its own address, or for an unspecified host
// (":8080", "0.0.0.0:8080", "[::]:8080") 127.0.0.1 first and then every interface address ifaces lists, with
// everywhere set.
func listenURLs(a net.Addr, ifaces []net.Addr) (urls []string, everywhere bool) {
	tcp, ok := a.(*net.TCPAddr)
	if !ok {
		return []string{"http://" + a.String() + "/"}, false
	}
	url := func(ip net.IP) string { return "http://" + net.JoinHostPort(ip.String(), fmt.Sprint(tcp.Port)) + "/" }
	if tcp.IP != nil && !tcp.IP.IsUnspecified() {
		return []string{url(tcp.IP)}, false
	}
	ipv4Only := tcp.IP != nil && tcp.IP.To4() != nil // "0.0.0.0:PORT" listens on IPv4 only; ":PORT" and "[::]" on both
	urls = []string{url(net.IPv4(127, 0, 0, 1))}
	for _, ia := range ifaces {
		n, ok := ia.(*net.IPNet)
		if !ok || n.IP.IsLoopback() || n.IP.IsLinkLocalUnicast() || (ipv4Only && n.IP.To4() == nil) {
			continue
		}
		urls = append(urls, url(n.IP))
	}
	return urls, true
}

// appHandler serves the allow-listed files below root through an os.Root, which also refuses symlinks leading out.
type appHandler struct {
	root *os.Root

	mu   sync.Mutex
	gzip map[string]gzipped // gzip encodings by file path (a .gz read, or a compression), reused while the file is unchanged
}

type gzipped struct {
	mod  time.Time
	size int64
	data []byte
}

func newAppHandler(dir string) (*appHandler, error) {
	r, err := os.OpenRoot(dir)
	if err != nil {
		return nil, err
	}
	if _, err := r.Stat("web/index.html"); err != nil {
		return nil, fmt.Errorf("%s does not hold the app (web/index.html): %w", dir, err)
	}
	return &appHandler{root: r, gzip: map[string]gzipped{}}, nil
}

// resolve maps a URL path to a file path below the root, or "" when the URL names nothing the app serves.
func resolve(urlPath string) string {
	if urlPath == "/" {
		return "web/index.html"
	}
	if !strings.HasPrefix(urlPath, "/") || strings.Contains(urlPath, "\\") || strings.ContainsRune(urlPath, 0) {
		return ""
	}
	clean := path.Clean(urlPath)
	if clean != urlPath { // "..", "//", "/./" and trailing slashes: refuse rather than reinterpret
		return ""
	}
	parts := strings.Split(clean[1:], "/")
	for _, p := range parts {
		if p == "" || strings.HasPrefix(p, ".") {
			return ""
		}
	}
	ext := path.Ext(clean)
	switch {
	case len(parts) == 1 && appExt[ext]:
		return "web/" + parts[0]
	case len(parts) == 2 && appDirs[parts[0]] && appExt[ext]:
		return "web/" + clean[1:]
	case len(parts) == 2 && parts[0] == "models" && modelExt[ext]:
		return "models/" + parts[1]
	}
	return ""
}

func (h *appHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	name := resolve(r.URL.Path)
	if name == "" {
		http.NotFound(w, r)
		return
	}
	st, err := h.root.Stat(name)
	if err != nil && name == "web/favicon.ico" {
		w.Header().Set("Content-Type", contentType(".ico"))
		w.Header().Set("X-Content-Type-Options", "nosniff")
		http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(defaultFavicon))
		return
	}
	if err != nil || !st.Mode().IsRegular() {
		http.NotFound(w, r)
		return
	}
	ext := path.Ext(name)
	hdr := w.Header()
	hdr.Set("Content-Type", contentType(ext))
	hdr.Set("X-Content-Type-Options", "nosniff")
	hdr.Set("Cache-Control", "no-cache") // revalidate: a rebuilt wasm must never mix with a cached worker.js
	if ext == ".html" {
		hdr.Set("Content-Security-Policy", contentSecurityPolicy)
	}
	if compressible[ext] {
		hdr.Add("Vary", "Accept-Encoding")
		if acceptsGzip(r) {
			data, mod, err := h.gzipped(name, st)
			if err != nil {
				http.Error(w, "internal error", http.StatusInternalServerError)
				return
			}
			hdr.Set("Content-Encoding", "gzip")
			http.ServeContent(w, r, "", mod, bytes.NewReader(data))
			return
		}
	}
	f, err := h.root.Open(name)
	if err != nil {
		http.NotFound(w, r)
		return
	}
	defer f.Close()
	http.ServeContent(w, r, "", st.ModTime(), f)
}

// gzipped returns name's gzip encoding: the precompressed name+".gz" when it is at least as new as name (what
// `make wasm` writes with `gzip -9k`), else a compression made once. Either is read once and kept until the file it
// came from changes (its modification time or size), so a request costs a stat, not a read of megabytes.
func (h *appHandler) gzipped(name string, st fs.FileInfo) ([]byte, time.Time, error) {
	if gz, err := h.root.Stat(name + ".gz"); err == nil && gz.Mode().IsRegular() && !gz.ModTime().Before(st.ModTime()) {
		return h.cached(name+".gz", gz, func() ([]byte, error) { return h.root.ReadFile(name + ".gz") })
	}
	return h.cached(name, st, func() ([]byte, error) { return h.compress(name) })
}

// cached returns the bytes kept for key while the file st describes is unchanged, else make's, which it keeps.
func (h *appHandler) cached(key string, st fs.FileInfo, make func() ([]byte, error)) ([]byte, time.Time, error) {
	h.mu.Lock()
	c, ok := h.gzip[key]
	h.mu.Unlock()
	if ok && c.mod.Equal(st.ModTime()) && c.size == st.Size() {
		return c.data, c.mod, nil
	}
	data, err := make()
	if err != nil {
		return nil, time.Time{}, err
	}
	c = gzipped{mod: st.ModTime(), size: st.Size(), data: data}
	h.mu.Lock()
	h.gzip[key] = c
	h.mu.Unlock()
	return c.data, c.mod, nil
}

// compress gzips the file name at the best compression.
func (h *appHandler) compress(name string) ([]byte, error) {
	raw, err := h.root.ReadFile(name)
	if err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&buf, gzip.BestCompression) // the level is a valid constant
	if _, err := zw.Write(raw); err != nil {
		return nil, err
	}
	if err := zw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// acceptsGzip reports whether the request's Accept-Encoding allows gzip (and does not refuse it with q=0).
func acceptsGzip(r *http.Request) bool {
	for _, part := range strings.Split(r.Header.Get("Accept-Encoding"), ",") {
		coding, params, _ := strings.Cut(strings.TrimSpace(part), ";")
		if strings.TrimSpace(coding) != "gzip" {
			continue
		}
		q := strings.ReplaceAll(strings.TrimSpace(params), " ", "")
		return q != "q=0" && q != "q=0.0" && q != "q=0.00" && q != "q=0.000"
	}
	return false
}

func contentType(ext string) string {
	switch ext {
	case ".wasm":
		return "application/wasm" // instantiateStreaming refuses anything else
	case ".js":
		return "text/javascript; charset=utf-8"
	case ".safetensors":
		return "application/octet-stream"
	case ".md":
		return "text/markdown; charset=utf-8"
	case ".ico":
		return "image/x-icon" // the system's MIME table may lack it or call it image/vnd.microsoft.icon
	}
	if t := mime.TypeByExtension(ext); t != "" {
		return t
	}
	return "application/octet-stream"
}
