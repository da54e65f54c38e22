// This file holds the prose of the pretraining corpus: real English from the
// fortune cookies that Debian's fortunes package ships, read from where the
// package puts them.

package data

import (
	"bufio"
	"fmt"
	"io"
	"strings"
)

// FortunesDir is where Debian's fortunes and fortunes-min packages put their cookie files.
const FortunesDir = "/usr/share/games/fortunes"

// FortuneFiles are the cookie files of the corpus, all of fortunes-min
// (fortunes, literature, riddles) and of fortunes but four: ethnic and
// men-women (jokes about groups of people, which a base model shown to anyone
// should not learn to tell), drugs, and ascii-art (pictures, not prose).
// translate-me is left out too: its cookies are in other languages.
var FortuneFiles = []string{
	"art", "computers", "cookie", "debian", "definitions", "disclaimer", "education", "food", "fortunes",
	"goedel", "humorists", "kids", "knghtbrd", "law", "linux", "linuxcookie", "literature", "love", "magic",
	"medicine", "miscellaneous", "news", "paradoxum", "people", "perl", "pets", "platitudes", "politics",
	"pratchett", "riddles", "science", "songs-poems", "sports", "startrek", "tao", "wisdom", "work", "zippy",
}

// maxCookie bounds a cookie's length: a few very long ones (whole articles,
// lists of hundreds of lines) would otherwise be a large share of the prose.
const maxCookie = 2000

// ReadFortunes returns the cookies of a fortune file (cookies separated by
// lines holding only "%"), each trimmed of blank lines around it and of
// trailing spaces. Cookies with a byte that is neither printable ASCII, a
// newline nor a tab (accented letters, the backspaces of overstruck text),
// and cookies longer than 2,000 bytes, are left out: the second result
// counts them. name is the file's name, for errors.
func ReadFortunes(r io.Reader, name string) (cookies []string, skipped int, err error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64*1024), 1<<20)
	var cur []string
	flush := func() {
		for len(cur) > 0 && strings.TrimSpace(cur[0]) == "" {
			cur = cur[1:]
		}
		for len(cur) > 0 && strings.TrimSpace(cur[len(cur)-1]) == "" {
			cur = cur[:len(cur)-1]
		}
		if len(cur) == 0 {
			return
		}
		s := strings.Join(cur, "\n")
		cur = cur[:0]
		if len(s) > maxCookie || !plainText(s) {
			skipped++
			return
		}
		cookies = append(cookies, s)
	}
	for sc.Scan() {
		line := strings.TrimRight(sc.Text(), " \r")
		if line == "%" {
			flush()
			continue
		}
		cur = append(cur, line)
	}
	if err := sc.Err(); err != nil {
		return nil, 0, fmt.Errorf("%s: %w", name, err)
	}
	flush()
	if len(cookies) == 0 {
		return nil, skipped, fmt.Errorf("%s: no cookie of plain ASCII text (a fortune file separates cookies by lines holding only %%)", name)
	}
	return cookies, skipped, nil
}

// plainText reports whether s holds only printable ASCII, newlines and tabs.
func plainText(s string) bool {
	for i := range len(s) {
		if c := s[i]; (c < ' ' || c > '~') && c != '\n' && c != '\t' {
			return false
		}
	}
	return true
}
