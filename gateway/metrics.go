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
	opCounters  map[string]prometheus.Counter // resolved once: the hot path does a map lookup, no allocation
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
		opCounters: make(map[string]prometheus.Counter, len(knownOps)),
	}
	for _, op := range knownOps {
		m.opCounters[op] = m.ops.WithLabelValues(op)
	}
	m.registry.MustRegister(
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		m.connections, m.messagesIn, m.eventsOut, m.rateLimited, m.ops, m.errors, m.refused,
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "lobbyd_sessions", Help: "Sessions on this shard, connected or waiting for a resume."},
			func() float64 { return float64(g.hub.count()) }),
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
