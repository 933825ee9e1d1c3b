package main

import (
	"flag"
	"fmt"
	"path/filepath"

	"github.com/lobbyd/lobbyd/bench/internal/harness"
	"github.com/lobbyd/lobbyd/bench/internal/report"
)

// renderCmd draws RESULTS.md and chart.png again from a results.json,
// without measuring anything.
func renderCmd(args []string) error {
	fs := flag.NewFlagSet("render", flag.ContinueOnError)
	dir := fs.String("dir", "", "directory holding results.json, written to in place (default <repo>/bench/results)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *dir == "" {
		root, err := harness.RepoRoot()
		if err != nil {
			return err
		}
		*dir = filepath.Join(root, "bench", "results")
	}
	r, err := report.Read(filepath.Join(*dir, "results.json"))
	if err != nil {
		return err
	}
	if err := report.Write(*dir, r); err != nil {
		return err
	}
	fmt.Println("wrote", filepath.Join(*dir, "RESULTS.md"))
	return nil
}
