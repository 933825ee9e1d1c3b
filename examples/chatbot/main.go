// Command chatbot is a lobby member that answers chat commands, written on
// the Go SDK (package client): it joins a lobby by its code (or creates a
// public one and prints the code), greets players who join, and answers
// "!ping", "!roll" and "!who" in the lobby's chat. lobby.chat goes to every
// member including the sender (so the bot skips its own lines), and
// lobby.member_joined / lobby.member_left go to the other members. The SDK
// reconnects and resumes on its own; when a resume is refused the bot
// re-reads its lobby from the new session's welcome.
//
// With -queue it plays matchmaking instead: it queues (for example in
// duel), and when matched it greets its opponent in the match lobby,
// answers chat there, and once the opponent has left it leaves too and
// queues again, until stopped. A browser test uses it as the other player
// of a duel.
//
//	go run ./cmd/lobbyd &
//	go run ./examples/chatbot                 # creates a lobby, prints its code
//	go run ./examples/chatbot -code K7QX2M    # joins yours
//	go run ./examples/chatbot -queue duel     # waits in the duel queue for you
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

	"github.com/lobbyd/lobbyd/client"
	"github.com/lobbyd/lobbyd/examples/internal/miniclient"
	"github.com/lobbyd/lobbyd/protocol"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:8080", "lobbyd host:port (a dev server: guest tokens)")
	name := flag.String("name", "Botty", "the bot's display name")
	code := flag.String("code", "", "join the lobby with this code (empty: create a public lobby)")
	queue := flag.String("queue", "", "play matchmaking in this queue (duel, squad, ...) instead of sitting in one lobby")
	runFor := flag.Duration("for", 0, "leave after this long (0: run until SIGINT or SIGTERM)")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if *runFor > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, *runFor)
		defer cancel()
	}
	if err := run(ctx, *addr, *name, *code, *queue, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "chatbot:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, addr, name, code, queue string, out io.Writer) error {
	// A guest token lasts a day: one is enough for the bot's life (a new
	// guest token would be another user, whose session could not resume).
	token, err := miniclient.Guest(ctx, addr, name)
	if err != nil {
		return err
	}
	c, err := client.Dial(ctx, "ws://"+addr+"/ws", client.StaticToken(token), nil)
	if err != nil {
		return err
	}
	defer c.Close()
	b := &bot{c: c, me: c.Welcome().UserID, name: name, queue: queue, out: out, names: map[string]string{}}
	if queue != "" {
		if err := b.enqueue(ctx); err != nil {
			return err
		}
	} else {
		var lv protocol.LobbyView
		if code == "" {
			lv, err = c.CreateLobby(ctx, protocol.CreateLobby{Name: "Chat with " + name, MaxPlayers: 16, Visibility: protocol.VisibilityPublic})
		} else {
			lv, err = c.JoinLobby(ctx, protocol.JoinLobby{Code: code})
		}
		if err != nil {
			return err
		}
		b.enter(lv)
		fmt.Fprintf(out, "ready: %s in lobby %s, code %s, %d members\n", name, lv.ID, lv.Code, len(b.names))
	}
	for {
		select {
		case <-ctx.Done():
			// Leave on the way out, so the others see lobby.member_left
			// "left" now rather than "disconnected" after the resume grace.
			leaveCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			if b.lobby != "" {
				if err := c.LeaveLobby(leaveCtx); err != nil {
					return err
				}
			}
			if b.ticket != "" {
				_ = c.CancelTicket(leaveCtx, b.ticket) // matched meanwhile: nothing to cancel
			}
			fmt.Fprintln(out, "bye")
			return nil
		case ev, ok := <-c.Events():
			if !ok {
				return fmt.Errorf("connection ended: %w", c.Err())
			}
			if err := b.react(ctx, ev); err != nil {
				if ctx.Err() != nil {
					continue // interrupted while answering: leave on the next turn
				}
				return err
			}
		}
	}
}

// bot is the bot's state: its lobby and who is in it.
type bot struct {
	c      *client.Client
	me     string
	name   string
	queue  string // -queue: play matches
	out    io.Writer
	lobby  string            // the lobby it is in, "" when none
	ticket string            // its ticket while queued
	names  map[string]string // user id → name: chat events carry only the sender's id
}

// enter makes lv the bot's lobby.
func (b *bot) enter(lv protocol.LobbyView) {
	b.lobby = lv.ID
	clear(b.names)
	for _, m := range lv.Members {
		b.names[m.UserID] = m.Name
	}
}

func (b *bot) enqueue(ctx context.Context) error {
	t, err := b.c.Enqueue(ctx, protocol.Enqueue{Queue: b.queue})
	if err != nil {
		return err
	}
	b.ticket = t.ID
	fmt.Fprintf(b.out, "queued: %s in %s, ticket %s\n", b.name, b.queue, t.ID)
	return nil
}

func (b *bot) say(ctx context.Context, text string) error {
	if err := b.c.Chat(ctx, text); err != nil {
		return err
	}
	fmt.Fprintf(b.out, "said: %s\n", text)
	return nil
}

// react handles one event: it keeps the member list, answers chat and,
// with -queue, plays matches.
func (b *bot) react(ctx context.Context, ev client.Event) error {
	switch d := ev.Data.(type) {
	case *client.SessionReset:
		// The server could not resume the session: what the bot knew may
		// be stale. The new welcome has its lobby as the server sees it.
		fmt.Fprintln(b.out, "session reset: re-reading the lobby")
		b.lobby, b.ticket = "", ""
		if d.Welcome.Lobby != nil {
			b.enter(*d.Welcome.Lobby)
		} else if b.queue != "" {
			return b.enqueue(ctx)
		}
	case *protocol.MatchedEv:
		b.ticket = ""
		b.enter(d.Lobby)
		var them []string
		for id, n := range b.names {
			if id != b.me {
				them = append(them, n)
			}
		}
		sort.Strings(them)
		fmt.Fprintf(b.out, "matched: %s in lobby %s, match %s, against %s\n", b.queue, d.Lobby.ID, d.MatchID, strings.Join(them, ", "))
		return b.say(ctx, "good luck, "+strings.Join(them, " and ")+"! Try !ping, !roll or !who")
	case *protocol.TicketCancelledEv:
		if b.queue != "" && d.TicketID == b.ticket { // timed out: queue again
			b.ticket = ""
			return b.enqueue(ctx)
		}
	case *protocol.MemberJoinedEv:
		b.names[d.Member.UserID] = d.Member.Name
		return b.say(ctx, "welcome, "+d.Member.Name+"! Try !ping, !roll or !who")
	case *protocol.MemberLeftEv:
		delete(b.names, d.UserID)
		if b.queue != "" && len(b.names) <= 1 {
			// The match is over for the bot once it is alone: next one.
			if err := b.c.LeaveLobby(ctx); err != nil {
				return err
			}
			b.lobby = ""
			return b.enqueue(ctx)
		}
	case *protocol.KickedEv:
		if b.queue == "" {
			return errors.New("kicked from the lobby")
		}
		b.lobby = ""
		return b.enqueue(ctx)
	case *protocol.ChatEv:
		if d.From == b.me { // our own lines come back too
			return nil
		}
		if reply := b.answer(d); reply != "" {
			return b.say(ctx, reply)
		}
	}
	return nil
}

// answer is the reply to a chat command, "" for anything else.
func (b *bot) answer(d *protocol.ChatEv) string {
	switch strings.TrimSpace(d.Text) {
	case "!ping":
		return "pong"
	case "!roll":
		return fmt.Sprintf("%s rolled %d", b.names[d.From], 1+rand.IntN(6))
	case "!who":
		list := make([]string, 0, len(b.names))
		for _, n := range b.names {
			list = append(list, n)
		}
		sort.Strings(list)
		return "here: " + strings.Join(list, ", ")
	}
	return ""
}
