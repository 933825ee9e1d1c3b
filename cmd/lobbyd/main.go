// Command lobbyd is the lobby server: flags and configuration, signals. The
// wiring lives in package app; the logic in the packages it wires.
//
// With no flags it starts a single-shard dev server on 127.0.0.1:8080
// (in-memory store, guest tokens). See README.md and docs/protocol.md §6.
package main

import (
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"runtime/debug"
	"syscall"

	"github.com/lobbyd/lobbyd/app"
	"github.com/lobbyd/lobbyd/config"
	"github.com/lobbyd/lobbyd/version"
)

func main() {
	if err := run(os.Args[1:]); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return
		}
		fmt.Fprintln(os.Stderr, "lobbyd:", err)
		os.Exit(1)
	}
}

func run(args []string) error {
	// A shard's heap is mostly small, long-lived per-player state, and its
	// hot paths allocate nothing, so a tighter GC target costs little CPU
	// and saves about a fifth of the memory per idle player (docs/architecture.md).
	// GOGC in the environment still wins.
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(50)
	}
	cfg, err := config.Load(args, os.Getenv, os.Stderr)
	if err != nil {
		return err
	}
	if cfg.ShowVersion {
		fmt.Println("lobbyd", version.Get())
		return nil
	}
	// Every line for the operator, the address included, goes through this
	// one logger, so a log shipper sees one format.
	log := slog.New(slog.NewTextHandler(os.Stderr, nil))
	a, err := app.New(cfg, log)
	if err != nil {
		return err
	}

	// Signals are caught before serving so that a SIGTERM right after start
	// still drains.
	sig := make(chan os.Signal, 2)
	signal.Notify(sig, syscall.SIGTERM, syscall.SIGINT)
	serveErr := make(chan error, 1)
	go func() { serveErr <- a.Serve() }()

	g := a.Gateway
	select {
	case err := <-serveErr:
		return err
	case s := <-sig:
		log.Info("signal received: draining", "signal", s.String())
		g.StartDrain()
	case <-g.Drained(): // POST /admin/drain
	}
	select {
	case <-g.Drained():
	case <-sig: // a second signal: stop waiting
	}
	log.Info("shutting down")
	return a.Shutdown()
}
