package netcode

import (
	"go/build"
	"strings"
	"testing"
)

// netcode is the transport: it knows RFC 6455, not what a lobby or an
// error body of PROTOCOL.md is. Close codes of the application and the
// refusal writer come from its caller, so none of lobbyd's packages is
// imported (tests may: the pipeline benchmark decodes requests).
func TestImportsNothingOfLobbyd(t *testing.T) {
	for _, goos := range []string{"linux", "darwin"} {
		ctx := build.Default
		ctx.GOOS = goos
		pkg, err := ctx.ImportDir(".", 0)
		if err != nil {
			t.Fatal(err)
		}
		for _, imp := range pkg.Imports {
			if strings.HasPrefix(imp, "github.com/lobbyd/lobbyd/") {
				t.Errorf("GOOS=%s: netcode imports %s", goos, imp)
			}
		}
	}
}
