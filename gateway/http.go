package gateway

import (
	"bytes"
	"crypto/subtle"
	"errors"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"time"

	gojson "github.com/goccy/go-json"
	"github.com/gofiber/fiber/v2"
	"github.com/gofiber/fiber/v2/middleware/adaptor"
	"github.com/gofiber/fiber/v2/middleware/cors"
	"github.com/gofiber/fiber/v2/middleware/pprof"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/lobbyd/lobbyd/lobby"
	"github.com/lobbyd/lobbyd/netcode"
	"github.com/lobbyd/lobbyd/protocol"
	"github.com/lobbyd/lobbyd/version"
)

// corsMethods are the methods the /v1 API answers to, for CORS preflight
// answers: a browser learns nothing from a list of methods that do not exist.
const corsMethods = "GET, HEAD, POST, DELETE"

// corsMaxAge lets a browser cache a preflight answer for an hour: the
// allowed origins and methods change only with a restart, and every
// uncached preflight doubles a browser client's round trips.
const corsMaxAge = 3600

// newApp builds the Fiber app: the HTTP API of docs/protocol.md §4 and /ws.
func (g *Gateway) newApp() *fiber.App {
	app := fiber.New(fiber.Config{
		DisableStartupMessage: true,
		// Bounds for hostile HTTP clients: a slow handshake or body cannot
		// hold a connection or a worker for long.
		ReadTimeout:  10 * time.Second,
		WriteTimeout: 10 * time.Second,
		IdleTimeout:  60 * time.Second,
		BodyLimit:    64 << 10,
		// Large enough for a JWT in the query string and the headers a
		// browser sends.
		ReadBufferSize: 8 << 10,
		ErrorHandler:   g.httpErrorHandler,
		// goccy/go-json: encoding/json spent more than half of a lobby
		// listing's CPU in reflection (BenchmarkListLobbiesHTTP).
		JSONEncoder: gojson.Marshal,
		JSONDecoder: gojson.Unmarshal,
	})
	netcode.ConfigureApp(app)
	// Idle fasthttp workers go away soon after a burst of handshakes, so a
	// shard holding only upgraded sockets keeps a constant, small number of
	// goroutines.
	app.Server().MaxIdleWorkerDuration = 2 * time.Second
	g.httpConns = newHTTPConns()
	app.Server().ConnState = g.httpConns.track
	app.Use(g.httpConns.middleware)

	app.Get("/healthz", g.handleHealth)
	app.Get("/readyz", g.handleReady)
	app.Get("/ws", g.handleWS)

	v1 := app.Group("/v1", cors.New(cors.Config{
		AllowOriginsFunc: g.originAllowed,
		AllowMethods:     corsMethods,
		AllowHeaders:     "Authorization, Content-Type",
		MaxAge:           corsMaxAge,
	}))
	v1.Post("/auth/guest", g.handleGuest)
	v1.Get("/lobbies", g.handleListLobbies)
	v1.Get("/lobbies/watch", g.handleWatch) // before /lobbies/:id
	v1.Get("/lobbies/:id", g.handleGetLobby)
	v1.Get("/queues", g.handleQueues)
	v1.Post("/queues/:name/tickets", g.handleCreateTicket)
	v1.Delete("/tickets/:id", g.handleDeleteTicket)

	app.Get("/metrics", g.requireOperator, adaptor.HTTPHandler(promhttp.HandlerFor(g.metrics.registry, promhttp.HandlerOpts{})))
	app.Get("/admin/shards", g.requireOperator, g.handleShards)
	app.Post("/admin/drain", g.requireOperator, g.handleDrain)
	app.Delete("/admin/lobbies/:id", g.requireOperator, g.handleCloseLobby)
	g.adminRoutes(app) // admin.go: the rest of the operator's API and page
	// Profiles for operators chasing a hot shard: /debug/pprof/*.
	app.Use("/debug/pprof", g.requireOperator, pprof.New())
	g.mountUI(app)
	// No catch-all handler: a path no route matches reaches httpErrorHandler
	// as Fiber's 404, or as its 405 (with Allow) when the path exists for
	// other methods. A catch-all would hide the 405.
	return app
}

// httpError writes the error body of docs/protocol.md §5. A 401 says which
// scheme it wants (RFC 9110 §11.6.1, RFC 6750 §3).
func httpError(c *fiber.Ctx, code protocol.Code, msg string) error {
	return httpErrorStatus(c, code.Status(), code, msg)
}

// httpErrorStatus is httpError with a status of its own (405 carries the
// code bad_request: docs/protocol.md has no code for a wrong method).
func httpErrorStatus(c *fiber.Ctx, status int, code protocol.Code, msg string) error {
	if status == fiber.StatusUnauthorized {
		c.Set(fiber.HeaderWWWAuthenticate, `Bearer realm="lobbyd"`)
	}
	return c.Status(status).JSON(fiber.Map{"error": fiber.Map{"code": code, "msg": msg}})
}

// httpFail answers err: its own code for a *protocol.Error, else internal.
func (g *Gateway) httpFail(c *fiber.Ctx, err error) error {
	var pe *protocol.Error
	if errors.As(err, &pe) {
		return httpError(c, pe.Code, pe.Msg)
	}
	g.logLimited(logHTTPError, slog.LevelError, "http request failed", "path", c.Path(), "err", err)
	return httpError(c, protocol.CodeInternal, "internal error")
}

// httpErrorHandler maps Fiber's own errors (404, 405, 413, timeouts) to the
// JSON error body.
func (g *Gateway) httpErrorHandler(c *fiber.Ctx, err error) error {
	var fe *fiber.Error
	if errors.As(err, &fe) {
		switch fe.Code {
		case fiber.StatusNotFound:
			return httpError(c, protocol.CodeNotFound, "no such endpoint")
		case fiber.StatusRequestTimeout:
			// The request did not arrive within ReadTimeout. 408, not
			// 400: clients and proxies know it means "send it again on a
			// new connection", and the connection closes (RFC 9110 §15.5.9).
			c.Set(fiber.HeaderConnection, "close")
			return httpErrorStatus(c, fe.Code, protocol.CodeBadRequest, "request timeout")
		case fiber.StatusMethodNotAllowed:
			// Fiber has set Allow to the methods the path has.
			return httpErrorStatus(c, fe.Code, protocol.CodeBadRequest, "method not allowed; see the Allow header")
		case fiber.StatusRequestEntityTooLarge:
			return httpError(c, protocol.CodeTooLarge, fe.Message)
		case fiber.StatusUnauthorized:
			return httpError(c, protocol.CodeUnauthorized, fe.Message)
		case fiber.StatusServiceUnavailable:
			return httpError(c, protocol.CodeUnavailable, fe.Message)
		case fiber.StatusBadGateway:
			// Fiber's name for a network error on the connection while a
			// request was read (no handler answers 502): the client reset
			// it, or Shutdown closed it while it waited for a request.
			// Nothing can be answered and nothing failed on our side.
			return nil
		}
		if fe.Code >= 400 && fe.Code < 500 {
			return httpError(c, protocol.CodeBadRequest, fe.Message)
		}
	}
	return g.httpFail(c, err)
}

// health is the answer of GET /healthz: the process runs, and which build it is.
type health struct {
	OK bool `json:"ok"`
	version.Info
}

func (g *Gateway) handleHealth(c *fiber.Ctx) error {
	return c.JSON(health{OK: true, Info: version.Get()})
}

func (g *Gateway) handleReady(c *fiber.Ctx) error {
	if g.draining.Load() {
		c.Set(fiber.HeaderRetryAfter, "5")
		return httpError(c, protocol.CodeUnavailable, "draining")
	}
	if !g.storeReachable() {
		c.Set(fiber.HeaderRetryAfter, "1")
		return httpError(c, protocol.CodeUnavailable, "redis unreachable")
	}
	return c.JSON(fiber.Map{"ok": true})
}

// originAllowed applies allowed_origins: empty allows any Origin, "*" too,
// else an exact match.
func (g *Gateway) originAllowed(origin string) bool {
	origins := g.settings.Load().AllowedOrigins
	if len(origins) == 0 {
		return true
	}
	for _, o := range origins {
		if o == "*" || o == origin {
			return true
		}
	}
	return false
}

// bearer returns the token of an "Authorization: Bearer" header.
func bearer(c *fiber.Ctx) string {
	h := c.Get(fiber.HeaderAuthorization)
	if len(h) > 7 && strings.EqualFold(h[:7], "bearer ") {
		return strings.TrimSpace(h[7:])
	}
	return ""
}

// handleWS checks the handshake in the order of docs/protocol.md §1 — token
// (401), Origin (403), capacity (503) — before anything is upgraded.
func (g *Gateway) handleWS(c *fiber.Ctx) error {
	// Per source address first, before the token costs a signature check:
	// a storm of handshakes (valid tokens or not) from one place is held
	// to a rate.
	now := time.Now().UnixNano()
	if ok, retry := g.hsAddr.allow(addressKey(c.Context().RemoteIP()), now); !ok {
		return g.refuseRate(c, retry, refuseAddressRate, "too many handshakes from this address")
	}
	token := c.Query("token")
	if token == "" {
		token = bearer(c)
	}
	id, err := g.auth.Verify(token)
	if err != nil {
		return g.refuseWS(c, protocol.CodeUnauthorized, refuseToken, err.Error())
	}
	if origin := c.Get(fiber.HeaderOrigin); origin != "" && !g.originAllowed(origin) {
		return g.refuseWS(c, protocol.CodeForbidden, refuseOrigin, "origin not allowed")
	}
	// Per user: reconnecting must not be a way around the message limit
	// (a fresh connection used to bring a full bucket), nor cheap.
	if ok, retry := g.hsUser.allow(id.UserID, now); !ok {
		return g.refuseRate(c, retry, refuseUserRate, "too many handshakes for this user")
	}
	if g.draining.Load() {
		return g.refuseBusy(c, refuseDraining)
	}
	cs := g.newConnState(id, now)
	// last_seq is checked even without resume: a malformed query is a
	// client bug worth reporting (docs/protocol.md), not a no-op.
	var rq resumeQuery
	if ls := c.Query("last_seq"); ls != "" {
		n, err := strconv.ParseUint(ls, 10, 64)
		if err != nil {
			return g.refuseWS(c, protocol.CodeBadRequest, refuseBadQuery, "last_seq must be an unsigned integer")
		}
		rq.lastSeq = n
	}
	if r := c.Query("resume"); r != "" {
		if len(r) > 128 {
			return g.refuseWS(c, protocol.CodeBadRequest, refuseBadQuery, "resume token too long")
		}
		rq.token = strings.Clone(r) // fasthttp reuses the request's buffer after the handler
	}
	if rq != (resumeQuery{}) {
		cs.resume = &rq
	}
	// The connection limit is taken here, atomically, by netcode: a check
	// of the count followed by the upgrade let 200 simultaneous handshakes
	// through a limit of 50 (78 upgrades), since a connection was counted
	// only once it reached its loop. Connections that are closing (a
	// replaced one whose client ignores its 4009) no longer count.
	if err := g.net.Upgrade(c, cs); err != nil {
		if errors.Is(err, netcode.ErrFull) {
			return g.refuseBusy(c, refuseFull)
		}
		return err
	}
	return nil
}

// refuseBusy answers 503 with Retry-After: draining, or at max_connections.
func (g *Gateway) refuseBusy(c *fiber.Ctx, reason string) error {
	c.Set(fiber.HeaderRetryAfter, "5")
	return g.refuseWS(c, protocol.CodeUnavailable, reason, "not accepting connections, retry later")
}

// refuseRate answers a handshake over a handshake limit: 429 rate_limited
// with Retry-After in whole seconds (at least 1).
func (g *Gateway) refuseRate(c *fiber.Ctx, retry time.Duration, reason, msg string) error {
	c.Set(fiber.HeaderRetryAfter, strconv.FormatInt(max(1, int64((retry+time.Second-1)/time.Second)), 10))
	return g.refuseWS(c, protocol.CodeRateLimited, reason, msg)
}

func (g *Gateway) handleGuest(c *fiber.Ctx) error {
	if !g.opts.Dev || !g.auth.canIssue() {
		return httpError(c, protocol.CodeNotFound, "guest tokens are available in dev mode only")
	}
	var body struct {
		Name string `json:"name"`
	}
	if len(c.Body()) > 0 {
		if err := c.BodyParser(&body); err != nil {
			return httpError(c, protocol.CodeBadRequest, "body must be JSON {\"name\": string}")
		}
	}
	uid := "guest-" + randomID(8)
	if body.Name != "" && !validName(body.Name) {
		return httpError(c, protocol.CodeBadRequest, "name must be 1-32 characters")
	}
	tok, err := g.auth.Issue(uid, body.Name, 24*time.Hour)
	if err != nil {
		return g.httpFail(c, err)
	}
	return c.JSON(fiber.Map{"token": tok, "user_id": uid})
}

// listBufs are scratch buffers for listing pages written by a JSONLister.
var listBufs = sync.Pool{New: func() any { b := make([]byte, 0, 16<<10); return &b }}

// lobbyPage is the answer of GET /v1/lobbies.
type lobbyPage struct {
	Lobbies    []protocol.LobbyView `json:"lobbies"`
	NextCursor *string              `json:"next_cursor"` // null on the last page
}

// parseListQuery reads GET /v1/lobbies' query. It checks only the syntax
// of has_space and limit: the bounds are lobby.CheckListQuery's, which every
// store applies, so a refusal there is the 400 of docs/protocol.md §4.
func parseListQuery(c *fiber.Ctx) (lobby.ListQuery, error) {
	q := lobby.ListQuery{Mode: c.Query("mode"), Region: c.Query("region"), State: c.Query("state"), Cursor: c.Query("cursor")}
	if s := c.Query("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 {
			n = -1 // out of bounds for CheckListQuery (0 would mean its default)
		}
		q.Limit = n
	}
	switch c.Query("has_space") {
	case "", "false":
	case "true":
		q.HasSpace = true
	default:
		return q, protocol.NewError(protocol.CodeBadRequest, "has_space must be true or false")
	}
	c.Context().QueryArgs().VisitAll(func(k, v []byte) {
		name, ok := bytes.CutPrefix(k, []byte("attr."))
		// One filter over the bound is enough for CheckListQuery to refuse;
		// more would only grow the map.
		if !ok || len(q.Attrs) > protocol.MaxAttrs {
			return
		}
		if q.Attrs == nil {
			q.Attrs = map[string]string{}
		}
		q.Attrs[string(name)] = string(v)
	})
	return q, nil
}

func (g *Gateway) handleListLobbies(c *fiber.Ctx) error {
	q, err := parseListQuery(c)
	if err != nil {
		return g.httpFail(c, err)
	}
	if jl, ok := g.lobbies.(lobby.JSONLister); ok {
		buf := listBufs.Get().(*[]byte)
		defer listBufs.Put(buf)
		b, err := jl.AppendListJSON(c.UserContext(), (*buf)[:0], q)
		*buf = b[:0]
		if err != nil {
			return g.httpFail(c, err)
		}
		c.Set(fiber.HeaderContentType, fiber.MIMEApplicationJSON)
		c.Response().SetBody(b) // copies: buf goes back to the pool
		return nil
	}
	page, err := g.lobbies.List(c.UserContext(), q)
	if err != nil {
		return g.httpFail(c, err)
	}
	var next *string
	if page.NextCursor != "" {
		next = &page.NextCursor
	}
	lobbies := page.Lobbies
	if lobbies == nil {
		lobbies = []protocol.LobbyView{}
	}
	return c.JSON(lobbyPage{Lobbies: lobbies, NextCursor: next})
}

func (g *Gateway) handleGetLobby(c *fiber.Ctx) error {
	v, err := g.lobbies.Get(c.UserContext(), c.Params("id"))
	if err != nil {
		return g.httpFail(c, err)
	}
	return c.JSON(v)
}

func (g *Gateway) handleQueues(c *fiber.Ctx) error {
	if g.mm == nil {
		return c.JSON([]any{})
	}
	return c.JSON(g.mm.Stats())
}

// playerIdentity verifies the player JWT of an HTTP request.
func (g *Gateway) playerIdentity(c *fiber.Ctx) (Identity, error) {
	id, err := g.auth.Verify(bearer(c))
	if err != nil {
		return Identity{}, protocol.NewError(protocol.CodeUnauthorized, err.Error())
	}
	return id, nil
}

func (g *Gateway) handleCreateTicket(c *fiber.Ctx) error {
	id, err := g.playerIdentity(c)
	if err != nil {
		return g.httpFail(c, err)
	}
	var req protocol.Enqueue
	if len(c.Body()) > 0 {
		if err := c.BodyParser(&req); err != nil {
			return httpError(c, protocol.CodeBadRequest, "body must be a JSON object like mm.enqueue's d")
		}
	}
	req.Queue = strings.Clone(c.Params("name")) // kept in the ticket; fasthttp reuses the buffer
	t, err := g.enqueue(c.UserContext(), playerOf(id), req)
	if err != nil {
		return g.httpFail(c, err)
	}
	return c.JSON(protocol.TicketReply{Ticket: t})
}

func (g *Gateway) handleDeleteTicket(c *fiber.Ctx) error {
	id, err := g.playerIdentity(c)
	if err != nil {
		return g.httpFail(c, err)
	}
	if err := g.cancelTicket(c.UserContext(), id.UserID, c.Params("id")); err != nil {
		return g.httpFail(c, err)
	}
	return c.SendStatus(fiber.StatusNoContent)
}

// requireOperator guards /metrics and /admin/*: the operator token from the
// configuration, compared in constant time; no token configured, no access.
func (g *Gateway) requireOperator(c *fiber.Ctx) error {
	tok := bearer(c)
	if g.opts.OperatorToken == "" || subtle.ConstantTimeCompare([]byte(tok), []byte(g.opts.OperatorToken)) != 1 {
		return httpError(c, protocol.CodeUnauthorized, "operator token required")
	}
	return c.Next()
}

// ShardInfo is one row of GET /admin/shards.
type ShardInfo struct {
	ID          string `json:"id"`
	Addr        string `json:"addr"`
	Connections int    `json:"connections"`
	Lobbies     int    `json:"lobbies"`
	Draining    bool   `json:"draining"`
	LastSeen    int64  `json:"last_seen"`
	// Matchers are the queues whose matcher runs on the shard, by name.
	Matchers []string `json:"matchers"`
}

func (g *Gateway) handleShards(c *fiber.Ctx) error {
	list, err := g.liveShards(c.UserContext())
	if err != nil {
		return g.httpFail(c, err)
	}
	return c.JSON(list)
}

func (g *Gateway) handleDrain(c *fiber.Ctx) error {
	g.log.Info("admin: drain requested", "remote", c.IP())
	g.StartDrain()
	return c.Status(fiber.StatusAccepted).JSON(fiber.Map{"draining": true})
}

func (g *Gateway) handleCloseLobby(c *fiber.Ctx) error {
	id := c.Params("id")
	if err := g.lobbies.Close(c.UserContext(), id); err != nil {
		return g.httpFail(c, err)
	}
	g.log.Info("admin: lobby closed", "lobby_id", id, "remote", c.IP())
	return c.SendStatus(fiber.StatusNoContent)
}
