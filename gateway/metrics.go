package gateway

import (
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/lobbyd/lobbyd/cluster"
	"github.com/lobbyd/lobbyd/netcode"
	"github.com/lobbyd/lobbyd/protocol"
	"github.com/lobbyd/lobbyd/version"
)

// metrics are the shard's Prometheus metrics, on a registry of their own (no
// package-level state), served at GET /metrics to operators. docs/metrics.md
// lists them; deploy/grafana/lobbyd.json draws them.
//
// The hot paths (a message read, an event fanned out, a connection closed)
// touch only handles resolved here, once: a label lookup (WithLabelValues)
// hashes its values and may allocate, a resolved counter is an atomic add.
// Every label value is from a closed set the code knows, so no client can
// grow the number of series.
type metrics struct {
	registry    *prometheus.Registry
	connections prometheus.Gauge
	opened      prometheus.Counter
	eventsOut   prometheus.Counter
	rateLimited prometheus.Counter
	errors      *prometheus.CounterVec
	shed        *prometheus.CounterVec        // shedding for the memory budget, by kind (shed.go)
	slowClosed  prometheus.Counter            // connections closed 1008, for any reason
	storeLosses *prometheus.CounterVec        // cluster: times this shard dropped what it held from Redis, by why
	resumes     [2]prometheus.Counter         // a resume token was offered: [0] a new session instead, [1] resumed
	logDropped  map[string]prometheus.Counter // log lines held back by the limiter (oplog.go), by kind
	reloads     [2]prometheus.Counter         // configuration reloads: [0] refused, [1] applied
	// Cluster faults (docs/failures.md): a dead shard's sessions taken
	// over by this shard, those it ended when their grace ran out, and
	// resumes whose replay ring was lost with its shard.
	deadShards   prometheus.Counter
	orphaned     prometheus.Counter
	orphansEnded prometheus.Counter
	ringLost     prometheus.Counter
	// resumedFromRecord: resumes of a dead shard's session from the
	// lobby's log, placed by that shard's delivery record.
	resumedFromRecord prometheus.Counter

	ops        map[string]*opMetrics // by op name; unknownOp for anything else
	unknownOp  *opMetrics
	events     map[string]*eventMetrics // by event name; otherEvent for forwarded ones
	otherEvent *eventMetrics
	refused    map[string]prometheus.Counter // handshakes refused, by reason
	closes     map[uint16]prometheus.Counter // closes by code; closeOther for the rest
	closeOther prometheus.Counter
	replies    prometheus.Counter
	replyBytes prometheus.Counter
	errorCodes map[protocol.Code]prometheus.Counter // resolved: a flood of refusals costs no allocation
}

// errorCodes are docs/protocol.md §5's error codes.
var errorCodes = []protocol.Code{
	protocol.CodeBadRequest, protocol.CodeUnknownOp, protocol.CodeUnauthorized, protocol.CodeForbidden,
	protocol.CodeNotHost, protocol.CodeWrongPassword, protocol.CodeNotFound, protocol.CodeQueueUnknown,
	protocol.CodeAlreadyInLobby, protocol.CodeNotInLobby, protocol.CodeLobbyFull, protocol.CodeLobbyLocked,
	protocol.CodeAlreadyQueued, protocol.CodeTooLarge, protocol.CodeRateLimited, protocol.CodeInternal,
	protocol.CodeUnavailable,
}

// errorReply counts one error reply with code.
func (m *metrics) errorReply(code protocol.Code) {
	if c, ok := m.errorCodes[code]; ok {
		c.Inc()
		return
	}
	m.errors.WithLabelValues(string(code)).Inc()
}

// opMetrics are one op's handles.
type opMetrics struct {
	received prometheus.Counter  // messages that named this op (admitted or not)
	bytes    prometheus.Counter  // their payload bytes
	handled  prometheus.Counter  // requests admitted and run (lobbyd_ops_total)
	fanout   prometheus.Observer // read of the request to its last write; nil: the op fans nothing out
}

// eventMetrics are one event's handles: deliveries to sessions on this
// shard and their bytes.
type eventMetrics struct {
	sent  prometheus.Counter
	bytes prometheus.Counter
}

var knownOps = []string{
	protocol.OpPing, protocol.OpLobbyCreate, protocol.OpLobbyJoin, protocol.OpLobbyLeave,
	protocol.OpLobbyUpdate, protocol.OpLobbySetMember, protocol.OpLobbyKick,
	protocol.OpLobbyTransferHost, protocol.OpLobbyChat, protocol.OpLobbySend,
	protocol.OpLobbyStart, protocol.OpMatchmakingEnqueue, protocol.OpMatchmakingCancel,
}

// fanoutOps are the ops whose success sends an event to the members of a
// lobby: their latency, read to last write, is the fan-out latency.
var fanoutOps = map[string]bool{
	protocol.OpLobbyJoin: true, protocol.OpLobbyLeave: true, protocol.OpLobbyUpdate: true,
	protocol.OpLobbySetMember: true, protocol.OpLobbyKick: true, protocol.OpLobbyTransferHost: true,
	protocol.OpLobbyChat: true, protocol.OpLobbySend: true, protocol.OpLobbyStart: true,
}

// streamEvents are the events of a session's numbered stream (lobby and
// matchmaking); the connection events (welcome, server.draining) are
// counted where they are written.
var streamEvents = []string{
	protocol.EvMemberJoined, protocol.EvMemberLeft, protocol.EvLobbyUpdated,
	protocol.EvMemberUpdated, protocol.EvKicked, protocol.EvHostChanged, protocol.EvChat,
	protocol.EvData, protocol.EvStarted, protocol.EvQueued, protocol.EvMatched,
	protocol.EvTicketCancelled, protocol.EvWelcome, protocol.EvServerDraining,
}

// Handshake refusal reasons (lobbyd_handshakes_refused_total{reason}).
const (
	refuseToken       = "token"           // 401: no token, a bad or expired one
	refuseOrigin      = "origin"          // 403: Origin not in allowed_origins
	refuseAddressRate = "address_rate"    // 429: handshake_limit.per_address
	refuseUserRate    = "user_rate"       // 429: handshake_limit.per_user
	refuseDraining    = "draining"        // 503: the shard drains
	refuseFull        = "full"            // 503: max_connections
	refuseBadQuery    = "bad_query"       // 400: last_seq or resume malformed
	refuseBadUpgrade  = "bad_handshake"   // 400/426: not a WebSocket handshake netcode takes
	refuseShutdown    = "shutting_down"   // 503 from netcode after Shutdown
	refuseInternal    = "internal"        // 5xx from netcode (a TLS listener)
	refuseOther       = "other_rejection" // anything not above (kept so a new path is counted)
)

var refuseReasons = []string{refuseToken, refuseOrigin, refuseAddressRate, refuseUserRate,
	refuseDraining, refuseFull, refuseBadQuery, refuseBadUpgrade, refuseShutdown, refuseInternal, refuseOther}

// closeReasons names the close codes a connection ends with
// (lobbyd_closes_total{code,reason}). 1001 is the idle timeout (and a
// shutdown, when nobody scrapes any more).
var closeReasons = []struct {
	code   uint16
	reason string
}{
	{netcode.CloseNormal, "normal"},
	{netcode.CloseGoingAway, "idle"},
	{netcode.CloseProtocolError, "protocol_error"},
	{netcode.CloseUnsupportedData, "unsupported_data"},
	{netcode.CloseAbnormal, "abnormal"},
	{netcode.CloseInvalidPayload, "invalid_payload"},
	{netcode.ClosePolicyViolation, "slow_consumer"},
	{netcode.CloseTooLarge, "too_large"},
	{netcode.CloseInternalError, "internal_error"},
	{protocol.CloseTokenExpired, "token_expired"},
	{protocol.CloseRateLimited, "rate_limited"},
	{protocol.CloseReplaced, "replaced"},
	{protocol.CloseDraining, "draining"},
}

// fanoutBuckets (seconds) span a fan-out done within the loop's turn
// (tens of microseconds) to one that waited on Redis (up to the 2 s a
// request may take in a cluster).
var fanoutBuckets = []float64{.00005, .0001, .00025, .0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5}

func newMetrics(g *Gateway) *metrics {
	m := &metrics{
		registry: prometheus.NewRegistry(),
		connections: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "lobbyd_connections", Help: "Open WebSocket connections on this shard."}),
		opened: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "lobbyd_connections_opened_total", Help: "WebSocket connections opened (handshake accepted)."}),
		eventsOut: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "lobbyd_events_fanned_out_total", Help: "Events encoded for fan-out (each reaches one or more sessions)."}),
		rateLimited: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "lobbyd_rate_limited_total", Help: "Messages refused by the per-connection or per-user rate limit."}),
		errors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "lobbyd_errors_total", Help: "Error replies, by code."}, []string{"code"}),
		shed: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "lobbyd_memory_shed_total", Help: "What the memory budget shed: replay_events dropped from replay rings, slow_consumers closed with 1008."}, []string{"kind"}),
		slowClosed: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "lobbyd_slow_consumers_total", Help: "Connections closed with 1008 slow consumer (write queue over its bound, or shed for the memory budget)."}),
		logDropped: make(map[string]prometheus.Counter, len(logKinds)),
		ops:        make(map[string]*opMetrics, len(knownOps)+1),
		events:     make(map[string]*eventMetrics, len(streamEvents)+1),
		refused:    make(map[string]prometheus.Counter, len(refuseReasons)),
		closes:     make(map[uint16]prometheus.Counter, len(closeReasons)),
		errorCodes: make(map[protocol.Code]prometheus.Counter, len(errorCodes)),
		deadShards: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "lobbyd_cluster_dead_shards_total", Help: "Dead shards whose chores this shard did."}),
		orphaned: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "lobbyd_cluster_orphaned_sessions_total", Help: "Sessions of dead or stopped shards this shard gave a resume deadline."}),
		orphansEnded: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "lobbyd_cluster_orphans_ended_total", Help: "Orphaned sessions this shard ended (grace over, not resumed): member_left and mm.cancelled, reason disconnected."}),
		ringLost: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "lobbyd_cluster_resumes_without_ring_total", Help: "Resumes here of a session whose shard could not hand its replay ring over (dead): a new session (resumed: false) with the lobby snapshot."}),
		resumedFromRecord: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "lobbyd_cluster_resumes_from_record_total", Help: "Resumes here of a session whose shard died or was unreachable, honoured (resumed: true) from the lobby's log where that shard's delivery record placed the client's last seq."}),
		storeLosses: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "lobbyd_store_losses_total", Help: "Times this shard closed every connection and dropped its copies because Redis could not be trusted (why: cut off from redis, redis lost its data, declared dead by another shard); docs/failures.md."}, []string{"why"}),
	}
	received := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "lobbyd_messages_received_total", Help: "Binary messages received from clients, by the op they name (unknown: none of the protocol's, or undecodable)."}, []string{"op"})
	receivedBytes := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "lobbyd_received_bytes_total", Help: "Payload bytes of the messages received from clients, by op."}, []string{"op"})
	handled := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "lobbyd_ops_total", Help: "Requests admitted (past the rate limits and the envelope) and run, by op."}, []string{"op"})
	fanout := prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "lobbyd_fanout_duration_seconds",
		Help:    "From the read of a request to the last write it caused on this shard (its events to every member here, and its reply), by op; requests that succeeded only.",
		Buckets: fanoutBuckets}, []string{"op"})
	for _, op := range append(knownOps, "unknown") {
		om := &opMetrics{received: received.WithLabelValues(op), bytes: receivedBytes.WithLabelValues(op), handled: handled.WithLabelValues(op)}
		if fanoutOps[op] {
			om.fanout = fanout.WithLabelValues(op)
		}
		m.ops[op] = om
	}
	m.unknownOp = m.ops["unknown"]

	evSent := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "lobbyd_events_sent_total", Help: "Events delivered to sessions on this shard (one per recipient), by event; other: events forwarded by another shard of the cluster."}, []string{"event"})
	evBytes := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "lobbyd_sent_bytes_total", Help: "Payload bytes of the events delivered to sessions on this shard, by event."}, []string{"event"})
	for _, ev := range append(streamEvents, "other") {
		m.events[ev] = &eventMetrics{sent: evSent.WithLabelValues(ev), bytes: evBytes.WithLabelValues(ev)}
	}
	m.otherEvent = m.events["other"]
	replies := prometheus.NewCounter(prometheus.CounterOpts{
		Name: "lobbyd_replies_sent_total", Help: "Replies written to clients (ok, error and pong)."})
	replyBytes := prometheus.NewCounter(prometheus.CounterOpts{
		Name: "lobbyd_reply_bytes_sent_total", Help: "Payload bytes of the replies written to clients."})
	m.replies, m.replyBytes = replies, replyBytes

	refused := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "lobbyd_handshakes_refused_total", Help: "WebSocket handshakes refused before the upgrade, by reason."}, []string{"reason"})
	for _, r := range refuseReasons {
		m.refused[r] = refused.WithLabelValues(r)
	}
	closes := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "lobbyd_closes_total", Help: "Connections closed, by the close code sent (or echoed) and what it means; 1006: no close handshake."}, []string{"code", "reason"})
	for _, c := range closeReasons {
		m.closes[c.code] = closes.WithLabelValues(strconv.Itoa(int(c.code)), c.reason)
	}
	m.closeOther = closes.WithLabelValues("other", "other")

	resumes := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "lobbyd_resumes_total", Help: "Connections that offered a resume token: resumed, or given a new session (token unknown, used, or its events no longer held)."}, []string{"result"})
	m.resumes = [2]prometheus.Counter{resumes.WithLabelValues("new_session"), resumes.WithLabelValues("resumed")}
	reloads := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "lobbyd_config_reloads_total", Help: "Configuration reloads (SIGHUP), by result."}, []string{"result"})
	m.reloads = [2]prometheus.Counter{reloads.WithLabelValues("refused"), reloads.WithLabelValues("applied")}

	for _, why := range []cluster.Loss{cluster.LossCutOff, cluster.LossStore, cluster.LossDeclaredDead} {
		m.storeLosses.WithLabelValues(string(why)) // each series from 0, before the first loss
	}
	m.shed.WithLabelValues("replay_events")
	m.shed.WithLabelValues("slow_consumers")
	logDropped := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "lobbyd_log_lines_dropped_total", Help: "Log lines the per-kind log limiter held back (the next line written says how many)."}, []string{"kind"})
	for _, k := range logKinds {
		m.logDropped[k] = logDropped.WithLabelValues(k)
	}
	for _, code := range errorCodes {
		m.errorCodes[code] = m.errors.WithLabelValues(string(code))
	}

	vi := version.Get()
	buildInfo := prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "lobbyd_build_info", Help: "Always 1; the labels say which build runs (docs/operating.md).",
		ConstLabels: prometheus.Labels{"version": vi.Version, "revision": vi.Revision, "goversion": vi.Go},
	})
	buildInfo.Set(1)
	startTime := prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "lobbyd_start_time_seconds", Help: "When this shard started, in unix seconds."})
	startTime.Set(float64(g.started.UnixNano()) / 1e9)

	m.registry.MustRegister(
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		m.connections, m.opened, m.eventsOut, m.rateLimited, m.errors, m.shed, m.slowClosed,
		logDropped, received, receivedBytes, handled, fanout, evSent, evBytes, replies, replyBytes,
		refused, closes, resumes, reloads, buildInfo, startTime, m.storeLosses, m.deadShards, m.orphaned, m.orphansEnded, m.ringLost, m.resumedFromRecord,
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "lobbyd_store_live", Help: "1 while this shard may write to Redis (a heartbeat answered within its liveness); 0 while cut off. Always 1 on a single shard."},
			func() float64 {
				if g.live.Live() {
					return 1
				}
				return 0
			}),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "lobbyd_memory_budget_bytes", Help: "The shard's memory budget for write queues and replay (memory_budget_bytes)."},
			func() float64 { return float64(g.budget.Limit()) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "lobbyd_memory_used_bytes", Help: "Bytes of the memory budget held now by write queues and replay."},
			func() float64 { return float64(g.budget.Used()) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "lobbyd_memory_peak_bytes", Help: "The most bytes of the memory budget held at once since start."},
			func() float64 { return float64(g.budget.Peak()) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "lobbyd_watchers", Help: "Open live lobby list streams (GET /v1/lobbies/watch) on this shard."},
			func() float64 {
				if g.watch == nil {
					return 0
				}
				return float64(g.watch.Len())
			}),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "lobbyd_max_connections", Help: "The connection limit (max_connections)."},
			func() float64 { return float64(g.opts.MaxConnections) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "lobbyd_draining", Help: "1 while this shard drains."},
			func() float64 {
				if g.draining.Load() {
					return 1
				}
				return 0
			}),
		&stateCollector{g: g},
	)
	if g.matchMetrics != nil {
		m.registry.MustRegister(g.matchMetrics.collectors()...)
	}
	return m
}

// op returns the handles of the op a request names.
func (m *metrics) op(name []byte) *opMetrics {
	if om, ok := m.ops[string(name)]; ok { // string(name) in a map index does not allocate
		return om
	}
	return m.unknownOp
}

// event returns the handles of an event by name.
func (m *metrics) event(name string) *eventMetrics {
	if em, ok := m.events[name]; ok {
		return em
	}
	return m.otherEvent
}

// delivered counts n deliveries of an event of size bytes.
func (em *eventMetrics) delivered(n, size int) {
	if n > 0 {
		em.sent.Add(float64(n))
		em.bytes.Add(float64(n * size))
	}
}

// closed counts one connection closed with code.
func (m *metrics) closed(code uint16) {
	if c, ok := m.closes[code]; ok {
		c.Inc()
		return
	}
	m.closeOther.Inc()
}

// refuse counts one handshake refused for reason.
func (m *metrics) refuse(reason string) {
	if c, ok := m.refused[reason]; ok {
		c.Inc()
		return
	}
	m.refused[refuseOther].Inc()
}

// sent counts one reply written.
func (m *metrics) sent(b []byte) {
	m.replies.Inc()
	m.replyBytes.Add(float64(len(b)))
}

// observeFanout records a request's latency from its read (unix ns).
func (om *opMetrics) observeFanout(readAt int64) {
	if om.fanout != nil && readAt != 0 {
		om.fanout.Observe(float64(time.Now().UnixNano()-readAt) / 1e9)
	}
}

// stateCollector reads, at each scrape, the gauges that would cost the hot
// path to keep up to date: sessions by state, lobbies and members by
// state, matchmaking queues.
type stateCollector struct{ g *Gateway }

var (
	descSessions = prometheus.NewDesc("lobbyd_sessions",
		"Sessions on this shard by state: connected, or resumable (disconnected, within resume_grace_ms).", []string{"state"}, nil)
	descLobbies = prometheus.NewDesc("lobbyd_lobbies",
		"Lobbies by state (open, in_game), as this shard's store sees them (in a cluster: the lobbies with a member here).", []string{"state"}, nil)
	descMembers = prometheus.NewDesc("lobbyd_lobby_members",
		"Lobby members by state: connected, or disconnected (waiting for a resume).", []string{"state"}, nil)
	descTickets = prometheus.NewDesc("lobbyd_matchmaking_tickets_waiting",
		"Tickets waiting in each matchmaking queue (cluster-wide in a cluster).", []string{"queue"}, nil)
	descPlayers = prometheus.NewDesc("lobbyd_matchmaking_players_waiting",
		"Players waiting in each matchmaking queue (cluster-wide in a cluster).", []string{"queue"}, nil)
	descOldest = prometheus.NewDesc("lobbyd_matchmaking_oldest_wait_seconds",
		"How long the oldest ticket of each queue has waited.", []string{"queue"}, nil)
)

func (c *stateCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descSessions, descLobbies, descMembers, descTickets, descPlayers, descOldest} {
		ch <- d
	}
}

func (c *stateCollector) Collect(ch chan<- prometheus.Metric) {
	g := c.g
	connected, resumable := g.hub.countByState()
	ch <- prometheus.MustNewConstMetric(descSessions, prometheus.GaugeValue, float64(connected), "connected")
	ch <- prometheus.MustNewConstMetric(descSessions, prometheus.GaugeValue, float64(resumable), "resumable")
	st := g.lobbies.Stats()
	ch <- prometheus.MustNewConstMetric(descLobbies, prometheus.GaugeValue, float64(st.Open), protocol.StateOpen)
	ch <- prometheus.MustNewConstMetric(descLobbies, prometheus.GaugeValue, float64(st.InGame), protocol.StateInGame)
	ch <- prometheus.MustNewConstMetric(descMembers, prometheus.GaugeValue, float64(st.Members-st.Disconnected), "connected")
	ch <- prometheus.MustNewConstMetric(descMembers, prometheus.GaugeValue, float64(st.Disconnected), "disconnected")
	if g.mm == nil {
		return
	}
	for _, q := range g.mm.Stats() {
		ch <- prometheus.MustNewConstMetric(descTickets, prometheus.GaugeValue, float64(q.Tickets), q.Name)
		ch <- prometheus.MustNewConstMetric(descPlayers, prometheus.GaugeValue, float64(q.Players), q.Name)
		ch <- prometheus.MustNewConstMetric(descOldest, prometheus.GaugeValue, float64(q.OldestWaitMs)/1000, q.Name)
	}
}
