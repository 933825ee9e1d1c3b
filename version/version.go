// Package version reports which build of lobbyd is running: the module
// version and the VCS stamp the Go toolchain records in every binary
// (runtime/debug.ReadBuildInfo). `lobbyd --version`, GET /healthz and the
// start-up log line all print it, so an operator can tell which commit a
// shard runs without keeping a list of their own.
//
// Nothing here is set by hand or by -ldflags: a binary built from a tagged
// checkout reports the tag, one built from any other commit a pseudo-version
// with the commit, and one built from a checkout with local edits says so.
//
// Concurrency: Get is safe from any goroutine; the answer never changes.
package version

import (
	"runtime/debug"
	"strings"
	"sync"
)

// Info is what the build says about itself.
type Info struct {
	// Version is the main module's version: a tag such as v1.2.0, a
	// pseudo-version (v0.0.0-20261129191500-60c2751abcde, with +dirty for
	// local edits), or "(devel)" when the toolchain recorded none (go run,
	// go test, a build outside a VCS checkout).
	Version string `json:"version"`
	// Revision is the VCS commit the binary was built from; empty when unknown.
	Revision string `json:"revision,omitempty"`
	// Modified is true when the checkout had uncommitted changes.
	Modified bool `json:"modified,omitempty"`
	// Go is the toolchain that built the binary.
	Go string `json:"go"`
}

// Devel is the version of a build that carries none.
const Devel = "(devel)"

var (
	once sync.Once
	info Info
)

// Get returns the running binary's build information.
func Get() Info {
	once.Do(func() {
		bi, ok := debug.ReadBuildInfo()
		if !ok {
			info = Info{Version: Devel}
			return
		}
		info = FromBuildInfo(bi)
	})
	return info
}

// FromBuildInfo reads an Info from bi (Get with a given build; for tests).
func FromBuildInfo(bi *debug.BuildInfo) Info {
	i := Info{Version: bi.Main.Version, Go: bi.GoVersion}
	if i.Version == "" {
		i.Version = Devel
	}
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			i.Revision = s.Value
		case "vcs.modified":
			i.Modified = s.Value == "true"
		}
	}
	return i
}

// String is the one-line form: "v1.2.0 (rev 60c2751abcde, go1.26.8)", with
// ", modified" when the checkout had local edits.
func (i Info) String() string {
	var b strings.Builder
	b.WriteString(i.Version)
	var extra []string
	if i.Revision != "" {
		rev := i.Revision
		if len(rev) > 12 {
			rev = rev[:12]
		}
		extra = append(extra, "rev "+rev)
	}
	if i.Modified {
		extra = append(extra, "modified")
	}
	if i.Go != "" {
		extra = append(extra, i.Go)
	}
	if len(extra) > 0 {
		b.WriteString(" (")
		b.WriteString(strings.Join(extra, ", "))
		b.WriteString(")")
	}
	return b.String()
}
