package lobby

import (
	"errors"
	"math"
	"testing"

	"github.com/lobbyd/lobbyd/protocol"
)

// FuzzDecodeCursor: any string either decodes to a sequence a page can be
// listed below (1..MaxUint64-1, or MaxUint64 for "") whose own cursor
// decodes to it again, or is refused with bad_request. Never a panic.
func FuzzDecodeCursor(f *testing.F) {
	for _, c := range []string{"", EncodeCursor(1), EncodeCursor(12345), EncodeCursor(math.MaxUint64 - 1),
		EncodeCursor(0), EncodeCursor(math.MaxUint64), "AAAAAAAAAAA", "AAAAAAAAAAB", "__________8", "not-a-cursor",
		"AAAAAAAAAA=", "AAAAAAAAAA", "AAAAAAAAAAAA", "+/+/+/+/+/+", "\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00"} {
		f.Add(c)
	}
	f.Fuzz(func(t *testing.T, c string) {
		seq, err := DecodeCursor(c)
		if err != nil {
			var pe *protocol.Error
			if !errors.As(err, &pe) || pe.Code != protocol.CodeBadRequest {
				t.Fatalf("%q: %v is not bad_request", c, err)
			}
			return
		}
		if c == "" {
			if seq != math.MaxUint64 {
				t.Fatalf("empty cursor: %d", seq)
			}
			return
		}
		if seq == 0 || seq == math.MaxUint64 {
			t.Fatalf("%q decoded to %d", c, seq)
		}
		if back, err := DecodeCursor(EncodeCursor(seq)); err != nil || back != seq {
			t.Fatalf("%q → %d → %q → %d, %v", c, seq, EncodeCursor(seq), back, err)
		}
	})
}
