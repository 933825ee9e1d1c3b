package gateway

import (
	"context"
	"errors"
	"slices"
	"strconv"
	"strings"

	"github.com/gofiber/fiber/v2"

	"github.com/lobbyd/lobbyd/cluster"
	"github.com/lobbyd/lobbyd/lobby"
	"github.com/lobbyd/lobbyd/matchmaking"
	"github.com/lobbyd/lobbyd/protocol"
)

// The operator's API beyond /admin/shards, /admin/drain and the close of a
// lobby (http.go): a look inside lobbies and queues, and the drain of any
// shard of the cluster from any shard (docs/protocol.md §4). lobbyctl and
// the operator page (/admin/) are built on these and nothing else. On a
// cluster every answer is the cluster's, whichever shard is asked.

// adminRoutes registers the operator's API of this file.
func (g *Gateway) adminRoutes(app *fiber.App) {
	app.Get("/admin/lobbies", g.requireOperator, g.handleAdminLobbies)
	app.Get("/admin/lobbies/:id", g.requireOperator, g.handleAdminLobby)
	app.Get("/admin/queues", g.requireOperator, g.handleAdminQueues)
	app.Post("/admin/shards/:id/drain", g.requireOperator, g.handleDrainShard)
	g.adminPageRoutes(app) // adminpage.go: the operator page at /admin/
}

// inspector is the lobby store's operator view; every store of this
// repository has one (lobbytest checks it).
func (g *Gateway) inspector() (lobby.Inspector, error) {
	in, ok := g.lobbies.(lobby.Inspector)
	if !ok {
		return nil, protocol.NewError(protocol.CodeInternal, "this lobby store cannot be inspected")
	}
	return in, nil
}

// ownShards names this shard on its members, whose sessions are all here
// when the store does not record shards (a single in-memory shard).
func (g *Gateway) ownShards(a *lobby.AdminLobby) {
	for i := range a.Members {
		if a.Members[i].Shard == "" {
			a.Members[i].Shard = g.opts.ShardID
		}
	}
}

func (g *Gateway) handleAdminLobby(c *fiber.Ctx) error {
	in, err := g.inspector()
	if err != nil {
		return g.httpFail(c, err)
	}
	a, err := in.Inspect(c.UserContext(), c.Params("id"))
	if err != nil {
		return g.httpFail(c, err)
	}
	g.ownShards(&a)
	return c.JSON(a)
}

// adminPage is the answer of GET /admin/lobbies.
type adminPage struct {
	Lobbies    []lobby.AdminLobby `json:"lobbies"`
	NextCursor *string            `json:"next_cursor"` // null on the last page
}

func (g *Gateway) handleAdminLobbies(c *fiber.Ctx) error {
	q := lobby.AdminQuery{
		State: c.Query("state"), Mode: c.Query("mode"), Region: c.Query("region"),
		Visibility: c.Query("visibility"), Shard: c.Query("shard"), User: c.Query("user"),
		Cursor: c.Query("cursor"),
	}
	if s := c.Query("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 {
			n = -1 // out of bounds for CheckAdminQuery (0 would mean its default)
		}
		q.Limit = n
	}
	in, err := g.inspector()
	if err != nil {
		return g.httpFail(c, err)
	}
	local := g.cl == nil
	if local && q.Shard != "" {
		// Every member of a single shard is this shard's: the filter
		// keeps every lobby or none. The bounds are still checked.
		if _, _, err := lobby.CheckAdminQuery(q); err != nil {
			return g.httpFail(c, err)
		}
		if q.Shard != g.opts.ShardID {
			return c.JSON(adminPage{Lobbies: []lobby.AdminLobby{}})
		}
		q.Shard = ""
	}
	page, err := in.InspectList(c.UserContext(), q)
	if err != nil {
		return g.httpFail(c, err)
	}
	for i := range page.Lobbies {
		g.ownShards(&page.Lobbies[i])
	}
	out := adminPage{Lobbies: page.Lobbies}
	if out.Lobbies == nil {
		out.Lobbies = []lobby.AdminLobby{}
	}
	if page.NextCursor != "" {
		out.NextCursor = &page.NextCursor
	}
	return c.JSON(out)
}

// AdminQueue is one entry of GET /admin/queues: GET /v1/queues' numbers
// and the shard whose matcher runs the queue.
type AdminQueue struct {
	matchmaking.QueueStats
	// Matcher is the shard that holds the queue's matcher lease; nil while
	// none does (a holder died and no shard has taken over yet: at most
	// the lease's TTL plus one renewal, docs/cluster.md).
	Matcher *string `json:"matcher"`
}

func (g *Gateway) handleAdminQueues(c *fiber.Ctx) error {
	if g.mm == nil {
		return c.JSON([]AdminQueue{})
	}
	stats := g.mm.Stats()
	// Which shard matches each queue, and at what rate: this shard's own
	// matchers, or on a cluster every live shard's last report.
	type holder struct {
		shard string
		rate  int
	}
	holders := map[string]holder{}
	if g.cl == nil {
		for q, n := range g.mm.Matchers() {
			holders[q] = holder{g.opts.ShardID, n}
		}
	} else {
		shards, err := g.cl.registry.List(c.UserContext())
		if err != nil {
			return g.httpFail(c, err)
		}
		for _, s := range shards {
			for q, n := range s.Matchers {
				holders[q] = holder{s.ID, n}
			}
		}
		// This shard's own holdings are known now, not as of its last
		// heartbeat.
		for q, n := range g.mm.Matchers() {
			holders[q] = holder{g.opts.ShardID, n}
		}
	}
	out := make([]AdminQueue, len(stats))
	for i, st := range stats {
		out[i].QueueStats = st
		if h, ok := holders[st.Name]; ok {
			out[i].Matcher = &h.shard
			// The matcher's shard makes the queue's matches; the others'
			// count of the last minute is 0.
			out[i].MatchesPerMin = h.rate
		}
	}
	return c.JSON(out)
}

// matchers is this shard's report of the queues it matches.
func (g *Gateway) matchers() map[string]int {
	if g.mm == nil {
		return nil
	}
	return g.mm.Matchers()
}

// matcherNames are a report's queues, sorted (never nil: JSON []).
func matcherNames(m map[string]int) []string {
	out := make([]string, 0, len(m))
	for q := range m {
		out = append(out, q)
	}
	slices.Sort(out)
	return out
}

// errNoShard answers a drain of a shard that is not live.
var errNoShard = protocol.NewError(protocol.CodeNotFound, "no such live shard")

func (g *Gateway) handleDrainShard(c *fiber.Ctx) error {
	id := strings.Clone(c.Params("id"))
	if err := g.drainShard(c.UserContext(), id); err != nil {
		return g.httpFail(c, err)
	}
	g.log.Info("admin: drain of a shard requested", "shard", id, "remote", c.IP())
	return c.Status(fiber.StatusAccepted).JSON(fiber.Map{"shard": id, "draining": true})
}

// drainShard starts the drain of shard id: this one at once, another of
// the cluster through the control bus (at most once, like every control
// message: the caller sees it in /admin/shards' draining).
func (g *Gateway) drainShard(ctx context.Context, id string) error {
	if id == g.opts.ShardID {
		g.StartDrain()
		return nil
	}
	if g.cl == nil {
		return errNoShard
	}
	shards, err := g.cl.registry.List(ctx)
	if err != nil {
		return err
	}
	if !slices.ContainsFunc(shards, func(s cluster.ShardInfo) bool { return s.ID == id }) {
		return errNoShard
	}
	err = g.cl.bus.Drain(ctx, id)
	if errors.Is(err, cluster.ErrShardUnreachable) {
		return protocol.NewError(protocol.CodeUnavailable, "the shard is listed but not listening on its control channel")
	}
	return err
}

// ShardID is this shard's id (Options.ShardID, default applied).
func (g *Gateway) ShardID() string { return g.opts.ShardID }
