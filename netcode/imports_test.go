package netcode

import (
	"go/build"
	"slices"
	"strings"
	"testing"
)

// netcode is the transport: it knows RFC 6455, not what a lobby, a session
// or an error body of docs/protocol.md is. The application's close codes and the
// refusal writer come from its caller, so no package above it is imported
// (tests may: the pipeline benchmark decodes requests). Shared low-level
// packages (budget) are fine.
func TestImportsNoPackageAbove(t *testing.T) {
	above := []string{"protocol", "lobby", "matchmaking", "gateway", "cluster", "config", "app"}
	for _, goos := range []string{"linux", "darwin"} {
		ctx := build.Default
		ctx.GOOS = goos
		pkg, err := ctx.ImportDir(".", 0)
		if err != nil {
			t.Fatal(err)
		}
		for _, imp := range pkg.Imports {
			rest, ours := strings.CutPrefix(imp, "github.com/lobbyd/lobbyd/")
			top, _, _ := strings.Cut(rest, "/")
			if ours && slices.Contains(above, top) {
				t.Errorf("GOOS=%s: netcode imports %s", goos, imp)
			}
		}
	}
}
