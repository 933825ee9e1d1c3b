package gateway

import (
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/lobbyd/lobbyd/protocol"
)

// metrics are the shard's Prometheus metrics, on a registry of their own (no
// package-level state), served at GET /metrics to operators.
type metrics struct {
	registry    *prometheus.Registry
	connections prometheus.Gauge
	messagesIn  prometheus.Counter
	eventsOut   prometheus.Counter
	rateLimited prometheus.Counter
	ops         *prometheus.CounterVec
	errors      *prometheus.CounterVec
	refused     *prometheus.CounterVec
	shed        *prometheus.CounterVec        // shedding for the memory budget, by kind (shed.go)
	slowClosed  prometheus.Counter            // connections closed 1008, for any reason
	opCounters  map[string]prometheus.Counter // resolved once: the hot path does a map lookup, no allocation
	storeLosses *prometheus.CounterVec        // cluster: times this shard dropped what it held from Redis, by why
}

var knownOps = []string{
	protocol.OpPing, protocol.OpLobbyCreate, protocol.OpLobbyJoin, protocol.OpLobbyLeave,
	protocol.OpLobbyUpdate, protocol.OpLobbySetMember, protocol.OpLobbyKick,
	protocol.OpLobbyTransferHost, protocol.OpLobbyChat, protocol.OpLobbySend,
	protocol.OpLobbyStart, protocol.OpMatchmakingEnqueue, protocol.OpMatchmakingCancel,
}

func newMetrics(g *Gateway) *metrics {
	m := &metrics{
		registry: prometheus.NewRegistry(),
		connections: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "lobbyd_connections", Help: "Open WebSocket connections on this shard."}),
		messagesIn: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "lobbyd_messages_received_total", Help: "Binary messages received from clients."}),
		eventsOut: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "lobbyd_events_fanned_out_total", Help: "Events encoded for fan-out (each reaches one or more sessions)."}),
		rateLimited: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "lobbyd_rate_limited_total", Help: "Messages refused by the per-connection rate limit."}),
		ops: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "lobbyd_ops_total", Help: "Requests handled, by op."}, []string{"op"}),
		errors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "lobbyd_errors_total", Help: "Error replies, by code."}, []string{"code"}),
		refused: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "lobbyd_handshakes_refused_total", Help: "WebSocket handshakes refused before the upgrade, by error code."}, []string{"code"}),
		shed: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "lobbyd_memory_shed_total", Help: "What the memory budget shed: replay_events dropped from replay rings, slow_consumers closed with 1008."}, []string{"kind"}),
		slowClosed: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "lobbyd_slow_consumers_total", Help: "Connections closed with 1008 slow consumer (write queue over its bound, or shed for the memory budget)."}),
		opCounters: make(map[string]prometheus.Counter, len(knownOps)),
		storeLosses: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "lobbyd_store_losses_total", Help: "Times this shard closed every connection and dropped its copies because Redis could not be trusted (why: cut off from redis, redis lost its data, declared dead by another shard); docs/failures.md."}, []string{"why"}),
	}
	m.shed.WithLabelValues("replay_events")
	m.shed.WithLabelValues("slow_consumers")
	for _, op := range knownOps {
		m.opCounters[op] = m.ops.WithLabelValues(op)
	}
	m.registry.MustRegister(
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		m.connections, m.messagesIn, m.eventsOut, m.rateLimited, m.ops, m.errors, m.refused,
		m.shed, m.slowClosed, m.storeLosses,
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
			Name: "lobbyd_sessions", Help: "Sessions on this shard, connected or waiting for a resume."},
			func() float64 { return float64(g.hub.count()) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "lobbyd_watchers", Help: "Open live lobby list streams (GET /v1/lobbies/watch) on this shard."},
			func() float64 {
				if g.watch == nil {
					return 0
				}
				return float64(g.watch.Len())
			}),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "lobbyd_lobbies", Help: "Lobbies in the store."},
			func() float64 { return float64(g.lobbies.Stats().Lobbies) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "lobbyd_draining", Help: "1 while this shard drains."},
			func() float64 {
				if g.draining.Load() {
					return 1
				}
				return 0
			}),
	)
	return m
}

// countOp counts one handled request of a known op.
func (m *metrics) countOp(op []byte) {
	if c, ok := m.opCounters[string(op)]; ok {
		c.Inc()
	}
}
