// Command lobbyd is the lobby server: flags and configuration, signals. The
// wiring lives in package app; the logic in the packages it wires.
//
// With no flags it starts a single-shard dev server on 127.0.0.1:8080
// (in-memory store, guest tokens). See README.md and docs/protocol.md §6.
//
// `lobbyd check-config [flags] FILE` checks a configuration file and prints
// the settings it would run with; SIGHUP reloads what can change live.
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"runtime/debug"
	"strings"
	"syscall"

	"github.com/lobbyd/lobbyd/app"
	"github.com/lobbyd/lobbyd/config"
	"github.com/lobbyd/lobbyd/gateway"
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

// defaultGOGC is the Go GC target lobbyd sets unless GOGC is set: the heap
// may grow to 1.25 × what was live at the last collection.
const defaultGOGC = 25

func run(args []string) error {
	if len(args) > 0 && args[0] == "check-config" {
		return checkConfig(args[1:], os.Getenv, os.Stdout, os.Stderr)
	}
	// A shard's heap is mostly small, long-lived per-player state, and its
	// hot paths allocate nothing, so a tighter GC target costs little CPU
	// and saves memory per idle player: 25 against Go's 100 (docs/architecture.md,
	// "A GC target of 25"). GOGC in the environment still wins.
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(defaultGOGC)
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
	log, level := app.NewLogger(os.Stderr, cfg)
	a, err := app.New(cfg, log)
	if err != nil {
		return err
	}
	a.LogLevel = level

	// Signals are caught before serving so that a SIGTERM right after start
	// still drains, and a SIGHUP right after start reloads.
	sig := make(chan os.Signal, 2)
	signal.Notify(sig, syscall.SIGTERM, syscall.SIGINT)
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	serveErr := make(chan error, 1)
	go func() { serveErr <- a.Serve() }()

	g := a.Gateway
	draining := false
	for done := false; !done; {
		select {
		case err := <-serveErr:
			return err
		case <-hup:
			reload(a, args, log)
		case s := <-sig:
			if draining { // a second signal: stop waiting
				done = true
				break
			}
			log.Info("signal received: draining", "signal", s.String())
			g.StartDrain()
			draining = true
		case <-g.Drained(): // the drain ended (a signal's, or POST /admin/drain)
			done = true
		}
	}
	log.Info("shutting down")
	return a.Shutdown()
}

// reload reads the configuration again (the same flags, the environment
// and the file) and puts in force what can change live; a configuration
// that does not load changes nothing.
func reload(a *app.App, args []string, log *slog.Logger) {
	next, err := config.Load(args, os.Getenv, io.Discard)
	if err != nil {
		a.Gateway.CountReload(false)
		log.Error("SIGHUP: configuration not reloaded; the settings in force are unchanged", "err", err)
		return
	}
	changed, restart := a.Reload(next)
	a.Gateway.CountReload(true)
	log.Info("SIGHUP: configuration reloaded", "changed", joinOr(changed, "nothing"))
	if len(restart) > 0 {
		log.Warn("SIGHUP: settings changed that need a restart; not applied", "needs_restart", strings.Join(restart, "; "))
	}
}

func joinOr(list []string, none string) string {
	if len(list) == 0 {
		return none
	}
	return strings.Join(list, "; ")
}

// checkConfig is `lobbyd check-config [flags] FILE`: it loads FILE as
// --config with the other flags and the environment, as lobbyd would, and
// prints the effective settings (secrets masked) to stdout, or returns the
// error naming the file, the key and the reason. A public key file named
// by the settings is read and parsed too.
func checkConfig(args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	if len(args) == 0 || strings.HasPrefix(args[len(args)-1], "-") {
		return errors.New("usage: lobbyd check-config [flags] FILE")
	}
	file := args[len(args)-1]
	flags := append(args[:len(args)-1:len(args)-1], "--config", file)
	cfg, err := config.Load(flags, getenv, stderr)
	if err != nil {
		return err
	}
	if cfg.JWTPublicKeyFile != "" {
		if _, err := gateway.NewPublicKeyAuth(cfg.JWTPublicKeyFile); err != nil {
			return fmt.Errorf("config %s: jwt-public-key: %w", file, err)
		}
	}
	out, err := cfg.Effective()
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "# %s is valid. Effective settings (file, environment and flags merged; secrets masked):\n", file)
	_, err = stdout.Write(out)
	return err
}
