package docs

import (
	"bytes"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"unicode"
)

// repoRoot is the repository's top directory (this package is docs/).
const repoRoot = ".."

// repoFiles lists the repository's files, slash-separated and relative to
// its root: the files git tracks (what a fresh clone has) when git is there,
// else every file under the root but .git and node_modules.
func repoFiles(t *testing.T) map[string]bool {
	t.Helper()
	files := map[string]bool{}
	if out, err := exec.Command("git", "-C", repoRoot, "ls-files", "-z").Output(); err == nil {
		for _, f := range bytes.Split(out, []byte{0}) {
			if len(f) > 0 {
				files[string(f)] = true
			}
		}
		return files
	}
	err := filepath.WalkDir(repoRoot, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && (d.Name() == ".git" || d.Name() == "node_modules") {
			return filepath.SkipDir
		}
		if !d.IsDir() {
			rel, _ := filepath.Rel(repoRoot, p)
			files[filepath.ToSlash(rel)] = true
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return files
}

var (
	fence      = regexp.MustCompile("^\\s*(```|~~~)")
	codeSpan   = regexp.MustCompile("`+[^`]*`+")
	inlineLink = regexp.MustCompile(`!?\[[^\]]*\]\(\s*<?([^)\s>]+)>?(?:\s+"[^"]*")?\s*\)`)
	refDef     = regexp.MustCompile(`^\s{0,3}\[[^\]]+\]:\s*<?(\S+?)>?(?:\s+.*)?$`)
	heading    = regexp.MustCompile(`^\s{0,3}#{1,6}\s+(.*?)\s*#*\s*$`)
	htmlAnchor = regexp.MustCompile(`<a\s+(?:name|id)="([^"]+)"`)
	linkInText = regexp.MustCompile(`\[([^\]]*)\]\([^)]*\)`)
	uriScheme  = regexp.MustCompile(`^[a-zA-Z][a-zA-Z0-9+.-]*:`)
)

// proseLines returns the lines of a Markdown text outside fenced code
// blocks.
func proseLines(text string) []string {
	var out []string
	inFence := false
	for _, line := range strings.Split(text, "\n") {
		if fence.MatchString(line) {
			inFence = !inFence
			continue
		}
		if !inFence {
			out = append(out, line)
		}
	}
	return out
}

// markdownLinks returns the link targets of a Markdown text, outside code
// blocks and code spans.
func markdownLinks(text string) []string {
	var out []string
	for _, line := range proseLines(text) {
		line = codeSpan.ReplaceAllString(line, "")
		for _, m := range inlineLink.FindAllStringSubmatch(line, -1) {
			out = append(out, m[1])
		}
		if m := refDef.FindStringSubmatch(line); m != nil {
			out = append(out, m[1])
		}
	}
	return out
}

// anchors returns the anchors GitHub makes for a Markdown text's headings:
// lower case, punctuation but '-' and '_' dropped, spaces to '-', and "-1",
// "-2"... for repeats.
func anchors(text string) map[string]bool {
	seen := map[string]int{}
	out := map[string]bool{}
	for _, line := range proseLines(text) {
		for _, m := range htmlAnchor.FindAllStringSubmatch(line, -1) {
			out[m[1]] = true
		}
		m := heading.FindStringSubmatch(line)
		if m == nil {
			continue
		}
		// Link text stays, link targets go: [text](url) → text.
		h := linkInText.ReplaceAllString(m[1], "$1")
		var b strings.Builder
		for _, r := range strings.ToLower(h) {
			switch {
			case unicode.IsLetter(r) || unicode.IsDigit(r) || r == '-' || r == '_':
				b.WriteRune(r)
			case r == ' ':
				b.WriteByte('-')
			}
		}
		slug := b.String()
		if n := seen[slug]; n > 0 {
			out[slug+"-"+strconv.Itoa(n)] = true
		} else {
			out[slug] = true
		}
		seen[slug]++
	}
	return out
}

// TestMarkdownLinksResolve: every relative link in every Markdown file of
// the repository names a file (or directory) of the repository, and every
// anchor into a Markdown file names one of its headings. A fresh clone must
// have everything its docs point to; nothing may point outside it.
func TestMarkdownLinksResolve(t *testing.T) {
	files := repoFiles(t)
	dirs := map[string]bool{}
	for f := range files {
		for d := path.Dir(f); d != "."; d = path.Dir(d) {
			dirs[d] = true
		}
	}
	texts := map[string]string{}
	read := func(f string) string {
		if s, ok := texts[f]; ok {
			return s
		}
		b, err := os.ReadFile(filepath.Join(repoRoot, filepath.FromSlash(f)))
		if err != nil {
			t.Fatal(err)
		}
		texts[f] = string(b)
		return string(b)
	}
	checked := 0
	for f := range files {
		if !strings.HasSuffix(f, ".md") {
			continue
		}
		for _, link := range markdownLinks(read(f)) {
			if uriScheme.MatchString(link) {
				continue // http:, https:, mailto:: not ours to check
			}
			checked++
			target, frag, _ := strings.Cut(link, "#")
			var resolved string
			switch {
			case strings.HasPrefix(target, "/"):
				t.Errorf("%s: link %q is absolute; use a path relative to the file", f, link)
				continue
			case target == "":
				resolved = f // #anchor in the same file
			default:
				resolved = path.Clean(path.Join(path.Dir(f), target))
			}
			if resolved == ".." || strings.HasPrefix(resolved, "../") {
				t.Errorf("%s: link %q points outside the repository", f, link)
				continue
			}
			if !files[resolved] && !dirs[resolved] {
				t.Errorf("%s: link %q: no file %s in the repository", f, link, resolved)
				continue
			}
			if frag != "" && strings.HasSuffix(resolved, ".md") && !anchors(read(resolved))[frag] {
				t.Errorf("%s: link %q: %s has no heading for #%s", f, link, resolved, frag)
			}
		}
	}
	if checked == 0 {
		t.Fatal("no relative links found: the walker is broken")
	}
}

// The link and anchor parsers on a sample, so a broken regexp cannot make
// the walk above pass by finding nothing.
func TestMarkdownParsers(t *testing.T) {
	text := "# Lobby `ops`, and more!\n" +
		"See [a](docs/a.md#x) and ![img](b.png \"t\") and `[not](c.md)`.\n" +
		"```\n[fenced](d.md)\n# Not a heading\n```\n" +
		"[ref]: e/f.md\n" +
		"## Live lobby list (not built yet)\n## Live lobby list (not built yet)\n"
	if got := strings.Join(markdownLinks(text), " "); got != "docs/a.md#x b.png e/f.md" {
		t.Errorf("links %q", got)
	}
	a := anchors(text)
	for _, want := range []string{"lobby-ops-and-more", "live-lobby-list-not-built-yet", "live-lobby-list-not-built-yet-1"} {
		if !a[want] {
			t.Errorf("no anchor %q in %v", want, a)
		}
	}
	if a["not-a-heading"] {
		t.Error("heading inside a code block counted")
	}
}

// Nothing in the repository cites a document outside it: the wire contract
// and the design notes we started from are in docs/ now (protocol.md,
// architecture.md), and protocol-notes.md was folded into protocol.md.
func TestNoReferencesOutsideTheRepo(t *testing.T) {
	outside := regexp.MustCompile(`PROTOCOL\.md|DESIGN\.md|\.\./shared/|protocol-notes\.md`)
	for f := range repoFiles(t) {
		if f == "CHANGELOG.md" || f == "docs/links_test.go" ||
			!(strings.HasSuffix(f, ".go") || strings.HasSuffix(f, ".md") || strings.HasSuffix(f, ".yaml")) {
			continue
		}
		b, err := os.ReadFile(filepath.Join(repoRoot, filepath.FromSlash(f)))
		if err != nil {
			t.Fatal(err)
		}
		for i, line := range strings.Split(string(b), "\n") {
			if m := outside.FindString(line); m != "" {
				t.Errorf("%s:%d cites %s, which is not in the repository: cite docs/protocol.md (same § numbers) or docs/architecture.md", f, i+1, m)
			}
		}
	}
}
