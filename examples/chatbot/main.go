// Command chatbot is a lobby member that answers chat commands: it joins a
// lobby by its code (or creates a public one and prints the code), greets
// players who join, and answers "!ping", "!roll" and "!who" in the lobby's
// chat. It shows the event side of the protocol: lobby.chat goes to every
// member including the sender (so the bot skips its own lines), and
// lobby.member_joined / lobby.member_left go to the other members.
//
//	go run ./cmd/lobbyd &
//	go run ./examples/chatbot                 # creates a lobby, prints its code
//	go run ./examples/chatbot -code K7QX2M    # joins yours
//
// It runs until SIGINT or SIGTERM (or -for), then leaves the lobby.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/signal"
	"sort"
	"strings"
	"syscall"
	"time"

	"github.com/lobbyd/lobbyd/examples/internal/miniclient"
)

// Shapes of the payloads the bot reads (docs/protocol.md, "Lobbies").
type member struct {
	UserID string `msgpack:"user_id"`
	Name   string `msgpack:"name"`
}

type lobbyView struct {
	ID      string   `msgpack:"id"`
	Code    string   `msgpack:"code"`
	Members []member `msgpack:"members"`
}

type lobbyReply struct {
	Lobby lobbyView `msgpack:"lobby"`
}

func main() {
	addr := flag.String("addr", "127.0.0.1:8080", "lobbyd host:port (a dev server: guest tokens)")
	name := flag.String("name", "Botty", "the bot's display name")
	code := flag.String("code", "", "join the lobby with this code (empty: create a public lobby)")
	runFor := flag.Duration("for", 0, "leave after this long (0: run until SIGINT or SIGTERM)")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if *runFor > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, *runFor)
		defer cancel()
	}
	if err := run(ctx, *addr, *name, *code, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "chatbot:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, addr, name, code string, out io.Writer) error {
	token, err := miniclient.Guest(ctx, addr, name)
	if err != nil {
		return err
	}
	c, err := miniclient.Dial(ctx, addr, token)
	if err != nil {
		return err
	}
	defer c.Close()
	me := c.Welcome.UserID

	var joined lobbyReply
	if code == "" {
		err = c.Call(ctx, "lobby.create", map[string]any{"name": "Chat with " + name, "max_players": 16, "visibility": "public"}, &joined)
	} else {
		err = c.Call(ctx, "lobby.join", map[string]any{"code": code}, &joined)
	}
	if err != nil {
		return err
	}
	// Who is here, by user id: chat events carry only the sender's id.
	names := map[string]string{}
	for _, m := range joined.Lobby.Members {
		names[m.UserID] = m.Name
	}
	fmt.Fprintf(out, "ready: %s in lobby %s, code %s, %d members\n", name, joined.Lobby.ID, joined.Lobby.Code, len(names))

	say := func(text string) error { return c.Call(ctx, "lobby.chat", map[string]any{"text": text}, nil) }
	for {
		select {
		case <-ctx.Done():
			// Leave on the way out, so the others see lobby.member_left
			// "left" now rather than "disconnected" after the resume grace.
			leaveCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			if err := c.Call(leaveCtx, "lobby.leave", nil, nil); err != nil {
				return err
			}
			fmt.Fprintln(out, "bye")
			return nil
		case ev, ok := <-c.Events():
			if !ok {
				return fmt.Errorf("connection ended: %w", c.Err())
			}
			reply, err := react(ev, me, names)
			if err != nil {
				return err
			}
			if reply != "" {
				if err := say(reply); err != nil {
					return err
				}
				fmt.Fprintf(out, "said: %s\n", reply)
			}
		}
	}
}

// react updates the member list from ev and returns what to say, if anything.
func react(ev miniclient.Event, me string, names map[string]string) (string, error) {
	switch ev.Ev {
	case "lobby.member_joined":
		var d struct {
			Member member `msgpack:"member"`
		}
		if err := ev.Decode(&d); err != nil {
			return "", err
		}
		names[d.Member.UserID] = d.Member.Name
		return "welcome, " + d.Member.Name + "! Try !ping, !roll or !who", nil
	case "lobby.member_left":
		var d struct {
			UserID string `msgpack:"user_id"`
		}
		if err := ev.Decode(&d); err != nil {
			return "", err
		}
		delete(names, d.UserID)
	case "lobby.kicked":
		return "", errors.New("kicked from the lobby")
	case "lobby.chat":
		var d struct {
			From string `msgpack:"from"`
			Text string `msgpack:"text"`
		}
		if err := ev.Decode(&d); err != nil {
			return "", err
		}
		if d.From == me { // our own lines come back too
			return "", nil
		}
		switch strings.TrimSpace(d.Text) {
		case "!ping":
			return "pong", nil
		case "!roll":
			return fmt.Sprintf("%s rolled %d", names[d.From], 1+rand.IntN(6)), nil
		case "!who":
			list := make([]string, 0, len(names))
			for _, n := range names {
				list = append(list, n)
			}
			sort.Strings(list)
			return "here: " + strings.Join(list, ", "), nil
		}
	}
	return "", nil
}
