// Command lobbyctl explains a lobbyd shard, or a whole cluster, to its
// operator: the shards, the lobbies (private ones too, with each member's
// shard and connection), the matchmaking queues and who matches them; and
// it closes a lobby or drains a shard. It speaks only the operator API of
// docs/protocol.md §4 (GET /admin/..., with the operator token), so it
// needs nothing but the address of any one shard.
//
//	lobbyctl [flags] shards
//	lobbyctl [flags] lobbies [--state S] [--visibility V] [--mode M] [--region R] [--shard ID] [--user U] [--limit N] [--all]
//	lobbyctl [flags] lobby ID
//	lobbyctl [flags] queues
//	lobbyctl [flags] close LOBBY
//	lobbyctl [flags] drain [SHARD]
//
// Flags (before or after the command): --addr (LOBBYCTL_ADDR, default
// 127.0.0.1:8080), --token or --token-file (LOBBY_OPERATOR_TOKEN), -o
// table|json, --timeout. Exit status: 0 done, 1 refused or unreachable,
// 2 usage.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"time"
)

func main() {
	os.Exit(run(os.Args[1:], os.Getenv, os.Stdout, os.Stderr))
}

// usageError is a mistake on the command line: exit status 2.
type usageError struct{ msg string }

func (e usageError) Error() string { return e.msg }

const usage = `lobbyctl explains a lobbyd shard or cluster, through its operator API.

Usage:
  lobbyctl [flags] shards                 the live shards of the cluster
  lobbyctl [flags] lobbies [filters]      every lobby, private ones too, newest first
  lobbyctl [flags] lobby ID               one lobby: members, their shard, connected or not
  lobbyctl [flags] queues                 matchmaking queues: waiting, oldest wait, matcher shard
  lobbyctl [flags] close LOBBY            close a lobby (its members get member_left closed)
  lobbyctl [flags] drain [SHARD]          drain SHARD (any shard of the cluster), or the one at --addr

Filters of lobbies:
  --state open|in_game  --visibility public|private  --mode M  --region R
  --shard ID  --user USER_ID  --limit N (1-200)  --cursor C  --all (follow every page)

Flags (before or after the command):
`

// options are the flags every command takes.
type options struct {
	addr, token, tokenFile, output string
	timeout                        time.Duration
}

func (o *options) register(fs *flag.FlagSet, getenv func(string) string) {
	addr := getenv("LOBBYCTL_ADDR")
	if addr == "" {
		addr = "127.0.0.1:8080"
	}
	fs.StringVar(&o.addr, "addr", addr, "a shard's address, host:port or URL (env LOBBYCTL_ADDR)")
	// No default from the environment: -h prints defaults, and the token
	// is a secret. LOBBY_OPERATOR_TOKEN is read after parsing.
	fs.Var(secret{&o.token}, "token", "the operator token (default: env LOBBY_OPERATOR_TOKEN; visible in ps: prefer the env or --token-file)")
	fs.StringVar(&o.tokenFile, "token-file", "", "read the operator token from this file")
	fs.StringVar(&o.output, "o", "table", "output: table or json")
	fs.DurationVar(&o.timeout, "timeout", 10*time.Second, "give up on an answer after this long")
}

// run is lobbyctl with its environment passed in, for the tests. It
// returns the exit status.
func run(args []string, getenv func(string) string, stdout, stderr io.Writer) int {
	err := dispatch(args, getenv, stdout, stderr)
	switch {
	case err == nil:
		return 0
	case errors.Is(err, flag.ErrHelp):
		return 0
	}
	fmt.Fprintln(stderr, "lobbyctl:", err)
	var ue usageError
	if errors.As(err, &ue) {
		fmt.Fprintln(stderr, "run lobbyctl -h for help")
		return 2
	}
	return 1
}

func dispatch(args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	var o options
	global := flag.NewFlagSet("lobbyctl", flag.ContinueOnError)
	global.SetOutput(stderr)
	global.Usage = func() {
		fmt.Fprint(stderr, usage)
		global.PrintDefaults()
	}
	o.register(global, getenv)
	if err := global.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return usageError{err.Error()}
	}
	if global.NArg() == 0 {
		global.Usage()
		return usageError{"no command"}
	}
	name, rest := global.Arg(0), global.Args()[1:]
	cmd, ok := commands[name]
	if !ok {
		return usageError{fmt.Sprintf("unknown command %q", name)}
	}
	// The command's own flag set takes the global flags too, so that
	// "lobbyctl lobbies -o json" works as well as "lobbyctl -o json lobbies".
	fs := flag.NewFlagSet("lobbyctl "+name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	o.registerAgain(fs)
	var f lobbyFilters
	if name == "lobbies" {
		f.register(fs)
	}
	fs.Usage = func() {
		fmt.Fprintf(stderr, "Usage: lobbyctl %s %s\n", name, cmd.args)
		fs.PrintDefaults()
	}
	if err := parseInterspersed(fs, rest); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return usageError{err.Error()}
	}
	pos := fs.Args()
	if len(pos) < cmd.min || len(pos) > cmd.max {
		return usageError{fmt.Sprintf("usage: lobbyctl %s %s", name, cmd.args)}
	}
	if o.output != "table" && o.output != "json" {
		return usageError{fmt.Sprintf("-o %q: want table or json", o.output)}
	}
	switch {
	case o.tokenFile != "":
		b, err := os.ReadFile(o.tokenFile)
		if err != nil {
			return fmt.Errorf("--token-file: %w", err)
		}
		o.token = strings.TrimSpace(string(b))
	case o.token == "":
		o.token = getenv("LOBBY_OPERATOR_TOKEN")
	}
	c, err := newClient(o.addr, o.token, o.timeout)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), o.timeout)
	defer cancel()
	return cmd.run(ctx, &env{c: c, out: stdout, json: o.output == "json", filters: f}, pos)
}

// secret is a string flag whose value -h never prints.
type secret struct{ p *string }

func (s secret) String() string { return "" }

func (s secret) Set(v string) error { *s.p = v; return nil }

// registerAgain adds the global flags to a command's flag set, with the
// values parsed so far as defaults.
func (o *options) registerAgain(fs *flag.FlagSet) {
	fs.StringVar(&o.addr, "addr", o.addr, "a shard's address, host:port or URL (env LOBBYCTL_ADDR)")
	fs.Var(secret{&o.token}, "token", "the operator token (default: env LOBBY_OPERATOR_TOKEN)")
	fs.StringVar(&o.tokenFile, "token-file", o.tokenFile, "read the operator token from this file")
	fs.StringVar(&o.output, "o", o.output, "output: table or json")
	fs.DurationVar(&o.timeout, "timeout", o.timeout, "give up on an answer after this long")
}

// parseInterspersed parses flags anywhere among the arguments ("lobby ID
// -o json"), the way operators type them; "--" ends the flags.
func parseInterspersed(fs *flag.FlagSet, args []string) error {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return err
		}
		args = fs.Args()
		if len(args) == 0 {
			break
		}
		if args[0] == "--" {
			pos = append(pos, args[1:]...)
			break
		}
		pos = append(pos, args[0])
		args = args[1:]
	}
	return fs.Parse(append([]string{"--"}, pos...))
}
