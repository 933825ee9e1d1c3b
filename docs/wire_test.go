package docs

import (
	"bytes"
	"encoding/hex"
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/lobbyd/lobbyd/protocol"
)

// wireExample returns the bytes of the code block after
// "<!-- wire: name -->" in protocol.md: the hex pairs before each line's '#'.
func wireExample(t *testing.T, doc, name string) []byte {
	t.Helper()
	m := regexp.MustCompile("(?s)<!-- wire: " + regexp.QuoteMeta(name) + " -->\n```\n(.*?)\n```").FindStringSubmatch(doc)
	if m == nil {
		t.Fatalf("protocol.md: no wire example %q", name)
	}
	var out []byte
	for _, line := range strings.Split(m[1], "\n") {
		line, _, _ = strings.Cut(line, "#")
		for _, f := range strings.Fields(line) {
			b, err := hex.DecodeString(f)
			if err != nil || len(b) != 1 {
				t.Fatalf("wire example %q: %q is not one hex byte", name, f)
			}
			out = append(out, b...)
		}
	}
	return out
}

// The byte-level examples of protocol.md are what the server's codec reads
// and writes.
func TestWireExamples(t *testing.T) {
	b, err := os.ReadFile("protocol.md")
	if err != nil {
		t.Fatal(err)
	}
	doc := string(b)

	var req protocol.Request
	if err := protocol.DecodeRequest(wireExample(t, doc, "ping request"), &req); err != nil || string(req.Op) != "ping" || req.Rid != 1 {
		t.Errorf("ping request decodes to op %q rid %d, err %v", req.Op, req.Rid, err)
	}
	const ts = 1795980000000
	if got, want := wireExample(t, doc, "ping reply"), protocol.AppendPong(nil, 1, ts); !bytes.Equal(got, want) {
		t.Errorf("ping reply:\ndoc    % x\nserver % x", got, want)
	}
	want, err := protocol.AppendEvent(nil, protocol.EvChat, protocol.ChatEv{From: "ada", Text: "hi", Ts: ts})
	if err != nil {
		t.Fatal(err)
	}
	protocol.SetEventSeq(want, 7)
	if got := wireExample(t, doc, "chat event"); !bytes.Equal(got, want) {
		t.Errorf("chat event:\ndoc    % x\nserver % x", got, want)
	}
}
