package report

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
)

// Write writes RESULTS.md, results.json and chart.png into dir.
func Write(dir string, r *Results) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	raw, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, "results.json"), raw, 0o644); err != nil {
		return err
	}
	var png bytes.Buffer
	if err := chart(&png, r); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, "chart.png"), png.Bytes(), 0o644); err != nil {
		return err
	}
	var md bytes.Buffer
	markdown(&md, r)
	if _, err := os.Stat(filepath.Join(dir, AnalysisFile)); err == nil {
		fmt.Fprintf(&md, "\n## Analysis\n\nWhere lobbyd is behind, or a target is not met: the profile and the reason, written by hand after this run, are in [%s](%s).\n", AnalysisFile, AnalysisFile)
	}
	if _, err := os.Stat(filepath.Join(dir, ScalingFile)); err == nil {
		fmt.Fprintf(&md, "\n## Scaling\n\nlobbyd's memory and CPU per player as the number of players grows, and the matcher's pass time as its queue grows, each said linear or where it bends: [%s](%s) (`go run . scaling`, its own run).\n", ScalingFile, ScalingFile)
	}
	return os.WriteFile(filepath.Join(dir, "RESULTS.md"), md.Bytes(), 0o644)
}

// AnalysisFile, beside RESULTS.md, holds what a run cannot write itself:
// why lobbyd is behind where it is, with the profiles. RESULTS.md links it
// when it is there.
const AnalysisFile = "ANALYSIS.md"

// ScalingFile, beside RESULTS.md, is the table `go run . scaling` writes
// (lobbyd alone, so not part of a compare run); RESULTS.md links it when it
// is there.
const ScalingFile = "SCALING.md"

// Read loads a results.json written by Write, so that RESULTS.md and the
// chart can be drawn again after the report itself changed.
func Read(path string) (*Results, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var r Results
	if err := json.Unmarshal(raw, &r); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return &r, nil
}
