package version

import (
	"runtime/debug"
	"testing"
)

func TestFromBuildInfo(t *testing.T) {
	for _, tc := range []struct {
		name string
		bi   debug.BuildInfo
		want Info
		str  string
	}{
		{
			name: "tagged clean build",
			bi: debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Version: "v1.2.0"},
				Settings: []debug.BuildSetting{{Key: "vcs.revision", Value: "60c2751abcdef0123456789"}, {Key: "vcs.modified", Value: "false"}}},
			want: Info{Version: "v1.2.0", Revision: "60c2751abcdef0123456789", Go: "go1.26.8"},
			str:  "v1.2.0 (rev 60c2751abcde, go1.26.8)",
		},
		{
			name: "pseudo-version with local edits",
			bi: debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Version: "v0.0.0-20261129191500-60c2751abcde+dirty"},
				Settings: []debug.BuildSetting{{Key: "vcs.revision", Value: "60c2751abcde"}, {Key: "vcs.modified", Value: "true"}}},
			want: Info{Version: "v0.0.0-20261129191500-60c2751abcde+dirty", Revision: "60c2751abcde", Modified: true, Go: "go1.26.8"},
			str:  "v0.0.0-20261129191500-60c2751abcde+dirty (rev 60c2751abcde, modified, go1.26.8)",
		},
		{
			name: "no version recorded",
			bi:   debug.BuildInfo{},
			want: Info{Version: Devel},
			str:  "(devel)",
		},
	} {
		got := FromBuildInfo(&tc.bi)
		if got != tc.want {
			t.Errorf("%s: %+v, want %+v", tc.name, got, tc.want)
		}
		if s := got.String(); s != tc.str {
			t.Errorf("%s: String() = %q, want %q", tc.name, s, tc.str)
		}
	}
}

// A test binary carries build info too: Get must answer with a version.
func TestGetAnswers(t *testing.T) {
	if v := Get().Version; v == "" {
		t.Fatal("Get().Version is empty")
	}
}
