// Command matchpair plays two players through matchmaking: both queue for
// the same queue (the built-in "duel": one against one) with nearby skills,
// both get mm.matched with the same match and the private lobby the server
// moved them into, and then one sends game data (lobby.send) that the other
// receives as lobby.data. It shows the matchmaking side of the protocol and
// the relay that game traffic uses.
//
//	go run ./cmd/lobbyd &
//	go run ./examples/matchpair
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/lobbyd/lobbyd/examples/internal/miniclient"
)

// matched is the mm.matched payload (docs/protocol.md, "Matchmaking").
type matched struct {
	TicketID string `msgpack:"ticket_id"`
	MatchID  string `msgpack:"match_id"`
	Queue    string `msgpack:"queue"`
	Lobby    struct {
		ID    string `msgpack:"id"`
		State string `msgpack:"state"`
	} `msgpack:"lobby"`
	Teams [][]string `msgpack:"teams"`
}

type player struct {
	name  string
	skill float64
	c     *miniclient.Client
}

func main() {
	addr := flag.String("addr", "127.0.0.1:8080", "lobbyd host:port (a dev server: guest tokens)")
	queue := flag.String("queue", "duel", "matchmaking queue (two players must make a match)")
	flag.Parse()
	// The matcher runs every 50 ms; a minute is plenty even on a busy machine.
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := run(ctx, *addr, *queue, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "matchpair:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, addr, queue string, out io.Writer) error {
	players := []*player{{name: "Ada", skill: 1000}, {name: "Bob", skill: 1040}}
	for _, p := range players {
		token, err := miniclient.Guest(ctx, addr, p.name)
		if err != nil {
			return err
		}
		if p.c, err = miniclient.Dial(ctx, addr, token); err != nil {
			return err
		}
		defer p.c.Close()
	}

	// Both queue. The reply carries the ticket; mm.queued and later
	// mm.matched arrive as events.
	for _, p := range players {
		var r struct {
			Ticket struct {
				ID string `msgpack:"id"`
			} `msgpack:"ticket"`
		}
		if err := p.c.Call(ctx, "mm.enqueue", map[string]any{"queue": queue, "skill": p.skill}, &r); err != nil {
			return fmt.Errorf("%s: mm.enqueue: %w", p.name, err)
		}
		fmt.Fprintf(out, "%s queued for %s with skill %g: ticket %s\n", p.name, queue, p.skill, r.Ticket.ID)
	}

	var matches []matched
	for _, p := range players {
		ev, err := waitFor(ctx, p.c, "mm.matched")
		if err != nil {
			return fmt.Errorf("%s: %w", p.name, err)
		}
		var m matched
		if err := ev.Decode(&m); err != nil {
			return err
		}
		fmt.Fprintf(out, "%s matched: match %s, lobby %s (%s), teams %v\n", p.name, m.MatchID, m.Lobby.ID, m.Lobby.State, m.Teams)
		matches = append(matches, m)
	}
	if matches[0].MatchID != matches[1].MatchID || matches[0].Lobby.ID != matches[1].Lobby.ID {
		return errors.New("the two players were matched into different matches")
	}

	// Game traffic: lobby.send relays bytes to the other members. rid 0
	// asks for no reply, as a game sending at its tick rate would.
	ada, bob := players[0], players[1]
	if err := ada.c.Send("lobby.send", map[string]any{"data": []byte("move e2e4")}); err != nil {
		return err
	}
	ev, err := waitFor(ctx, bob.c, "lobby.data")
	if err != nil {
		return fmt.Errorf("Bob: %w", err)
	}
	var data struct {
		From string `msgpack:"from"`
		Data []byte `msgpack:"data"`
	}
	if err := ev.Decode(&data); err != nil {
		return err
	}
	if data.From != ada.c.Welcome.UserID {
		return fmt.Errorf("lobby.data from %s, want Ada (%s)", data.From, ada.c.Welcome.UserID)
	}
	fmt.Fprintf(out, "Bob received from Ada: %q\n", data.Data)

	for _, p := range players {
		if err := p.c.Call(ctx, "lobby.leave", nil, nil); err != nil {
			return fmt.Errorf("%s: lobby.leave: %w", p.name, err)
		}
	}
	fmt.Fprintln(out, "both left the match lobby")
	return nil
}

// waitFor returns the next event named ev, skipping others.
func waitFor(ctx context.Context, c *miniclient.Client, ev string) (miniclient.Event, error) {
	for {
		select {
		case e, ok := <-c.Events():
			if !ok {
				return e, fmt.Errorf("connection ended waiting for %s: %w", ev, c.Err())
			}
			if e.Ev == ev {
				return e, nil
			}
			if e.Ev == "mm.cancelled" {
				return e, errors.New("ticket cancelled while waiting for " + ev)
			}
		case <-ctx.Done():
			return miniclient.Event{}, fmt.Errorf("waiting for %s: %w", ev, ctx.Err())
		}
	}
}
