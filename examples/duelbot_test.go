package examples

import (
	"context"
	"testing"
	"time"

	"github.com/lobbyd/lobbyd/client"
	"github.com/lobbyd/lobbyd/examples/internal/miniclient"
	"github.com/lobbyd/lobbyd/protocol"
)

// chatbot -queue duel waits in the duel queue; a player who queues there
// too is matched with it, greeted in the match lobby, answered in the
// chat, and once the player leaves the bot leaves and queues again. The
// player here uses the Go SDK.
func TestChatbotQueueDuel(t *testing.T) {
	addr := devServer(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	bot := startChatbot(ctx, t, "-addr", addr, "-queue", "duel")
	bot.expectLine("queued: Botty in duel")

	token, err := miniclient.Guest(ctx, addr, "Ada")
	if err != nil {
		t.Fatal(err)
	}
	ada, err := client.Dial(ctx, "ws://"+addr+"/ws", client.StaticToken(token), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer ada.Close()
	if _, err := ada.Enqueue(ctx, protocol.Enqueue{Queue: "duel"}); err != nil {
		t.Fatal(err)
	}
	next := func(f func(client.Event) bool) client.Event {
		t.Helper()
		for {
			select {
			case ev := <-ada.Events():
				if f(ev) {
					return ev
				}
			case <-ctx.Done():
				t.Fatal("Ada waited in vain")
			}
		}
	}
	m := next(func(ev client.Event) bool { return ev.Name == protocol.EvMatched }).Data.(*protocol.MatchedEv)
	if len(m.Lobby.Members) != 2 || m.Lobby.State != protocol.StateInGame {
		t.Fatalf("match lobby %+v", m.Lobby)
	}
	var botID string
	for _, mem := range m.Lobby.Members {
		if mem.Name == "Botty" {
			botID = mem.UserID
		}
	}
	botSays := func() string {
		t.Helper()
		return next(func(ev client.Event) bool {
			c, ok := ev.Data.(*protocol.ChatEv)
			return ok && c.From == botID
		}).Data.(*protocol.ChatEv).Text
	}
	if got := botSays(); got != "good luck, Ada! Try !ping, !roll or !who" {
		t.Fatalf("greeting %q", got)
	}
	if err := ada.Chat(ctx, "!ping"); err != nil {
		t.Fatal(err)
	}
	if got := botSays(); got != "pong" {
		t.Fatalf("!ping: %q", got)
	}
	bot.expectLine("matched: duel in lobby " + m.Lobby.ID)
	if err := ada.LeaveLobby(ctx); err != nil {
		t.Fatal(err)
	}
	bot.expectLine("queued: Botty in duel") // the next match
	bot.interrupt()
	bot.wait()
}
