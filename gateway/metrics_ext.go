package gateway

import (
	"context"
	"errors"
	"net"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"

	"github.com/lobbyd/lobbyd/matchmaking"
)

// matchMetrics are matchmaking's series, fed by the matching loop through
// matchmaking.Observer. The gateway makes them before the services are
// built (Wiring.MatchObserver) and registers them with the rest.
type matchMetrics struct {
	made    *prometheus.CounterVec
	players *prometheus.CounterVec
	waited  *prometheus.HistogramVec
	spread  *prometheus.HistogramVec
}

func newMatchMetrics() *matchMetrics {
	return &matchMetrics{
		made: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "lobbyd_matchmaking_matches_total", Help: "Matches made (a lobby created for them) by this shard's matcher, by queue."}, []string{"queue"}),
		players: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "lobbyd_matchmaking_matched_players_total", Help: "Players put in a match by this shard's matcher, by queue."}, []string{"queue"}),
		waited: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "lobbyd_matchmaking_wait_seconds", Help: "How long each matched ticket waited, from mm.enqueue to its match, by queue.",
			Buckets: []float64{.1, .25, .5, 1, 2.5, 5, 10, 20, 30, 60, 120, 300, 600}}, []string{"queue"}),
		spread: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "lobbyd_matchmaking_skill_spread", Help: "Highest minus lowest skill among a match's tickets, by queue (in the skill's own units).",
			Buckets: []float64{0, 10, 25, 50, 100, 200, 400, 800, 1600, 3200}}, []string{"queue"}),
	}
}

func (m *matchMetrics) collectors() []prometheus.Collector {
	return []prometheus.Collector{m.made, m.players, m.waited, m.spread}
}

// init makes every configured queue's series exist at zero, so a
// dashboard shows a queue before its first match.
func (m *matchMetrics) init(queues []string) {
	for _, q := range queues {
		m.made.WithLabelValues(q)
		m.players.WithLabelValues(q)
		m.waited.WithLabelValues(q)
		m.spread.WithLabelValues(q)
	}
}

// Matched implements matchmaking.Observer. Queue names come from the
// configuration, never from a client, so the label set is bounded.
func (m *matchMetrics) Matched(queue string, players int, skillSpread float64, waitedMs []int64) {
	m.made.WithLabelValues(queue).Inc()
	m.players.WithLabelValues(queue).Add(float64(players))
	m.spread.WithLabelValues(queue).Observe(skillSpread)
	w := m.waited.WithLabelValues(queue)
	for _, ms := range waitedMs {
		w.Observe(float64(ms) / 1000)
	}
}

// MatchObserver is the matchmaking.Observer that feeds this shard's
// matchmaking metrics; queues are the configured queue names.
func (w Wiring) MatchObserver(queues []string) matchmaking.Observer {
	w.g.matchMetrics.init(queues)
	return w.g.matchMetrics
}

// redisMetrics time every Redis command of a shard of a cluster (a go-redis
// hook) and count the failed ones. A miss (redis.Nil) is an answer, not an
// error.
type redisMetrics struct {
	duration *prometheus.HistogramVec
	errors   *prometheus.CounterVec
}

func newRedisMetrics() *redisMetrics {
	return &redisMetrics{
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "lobbyd_redis_command_duration_seconds", Help: "Redis command latency as this shard sees it (pipelines as one, command=pipeline), by command.",
			Buckets: []float64{.0001, .00025, .0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2}}, []string{"command"}),
		errors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "lobbyd_redis_errors_total", Help: "Redis commands that failed (timeouts, connection errors, error replies; not a miss), by command."}, []string{"command"}),
	}
}

func (m *redisMetrics) collectors() []prometheus.Collector {
	return []prometheus.Collector{m.duration, m.errors}
}

// RedisHook is the go-redis hook that feeds lobbyd_redis_*; add it to the
// cluster's client before the shard uses it.
func (w Wiring) RedisHook() redis.Hook {
	w.g.redisMetrics.duration.WithLabelValues("ping")
	w.g.redisMetrics.errors.WithLabelValues("ping")
	return w.g.redisMetrics
}

// DialHook implements redis.Hook.
func (m *redisMetrics) DialHook(next redis.DialHook) redis.DialHook {
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		c, err := next(ctx, network, addr)
		if err != nil {
			m.errors.WithLabelValues("dial").Inc()
		}
		return c, err
	}
}

// ProcessHook implements redis.Hook.
func (m *redisMetrics) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		start := time.Now()
		err := next(ctx, cmd)
		m.observe(strings.ToLower(cmd.Name()), start, err)
		return err
	}
}

// ProcessPipelineHook implements redis.Hook.
func (m *redisMetrics) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		start := time.Now()
		err := next(ctx, cmds)
		m.observe("pipeline", start, err)
		return err
	}
}

func (m *redisMetrics) observe(command string, start time.Time, err error) {
	m.duration.WithLabelValues(command).Observe(time.Since(start).Seconds())
	if err != nil && !errors.Is(err, redis.Nil) {
		m.errors.WithLabelValues(command).Inc()
	}
}

// RedisPool exports the shard's Redis connection pool (stats is the
// client's PoolStats): connections open, idle and in use, and how often a
// command found one idle, had to open one or waited past the pool timeout.
// A burst of requests that need Redis opens connections up to the pool's
// size (cluster.DefaultPoolSize); this is where an operator sees it.
func (w Wiring) RedisPool(stats func() *redis.PoolStats) {
	w.g.metrics.registry.MustRegister(redisPoolCollector(stats))
}

var (
	redisPoolConnsDesc = prometheus.NewDesc("lobbyd_redis_pool_connections",
		"Redis connections this shard holds, by state (idle, in_use).", []string{"state"}, nil)
	redisPoolHitsDesc = prometheus.NewDesc("lobbyd_redis_pool_hits_total",
		"Commands that found an idle Redis connection in the pool.", nil, nil)
	redisPoolMissesDesc = prometheus.NewDesc("lobbyd_redis_pool_misses_total",
		"Commands that had to open a Redis connection.", nil, nil)
	redisPoolTimeoutsDesc = prometheus.NewDesc("lobbyd_redis_pool_timeouts_total",
		"Commands that waited for a Redis connection past the pool timeout.", nil, nil)
)

// redisPoolCollector reads the pool's stats once per scrape.
type redisPoolCollector func() *redis.PoolStats

// Describe implements prometheus.Collector.
func (c redisPoolCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- redisPoolConnsDesc
	ch <- redisPoolHitsDesc
	ch <- redisPoolMissesDesc
	ch <- redisPoolTimeoutsDesc
}

// Collect implements prometheus.Collector.
func (c redisPoolCollector) Collect(ch chan<- prometheus.Metric) {
	s := c()
	if s == nil {
		return
	}
	ch <- prometheus.MustNewConstMetric(redisPoolConnsDesc, prometheus.GaugeValue, float64(s.IdleConns), "idle")
	ch <- prometheus.MustNewConstMetric(redisPoolConnsDesc, prometheus.GaugeValue, float64(s.TotalConns-min(s.IdleConns, s.TotalConns)), "in_use")
	ch <- prometheus.MustNewConstMetric(redisPoolHitsDesc, prometheus.CounterValue, float64(s.Hits))
	ch <- prometheus.MustNewConstMetric(redisPoolMissesDesc, prometheus.CounterValue, float64(s.Misses))
	ch <- prometheus.MustNewConstMetric(redisPoolTimeoutsDesc, prometheus.CounterValue, float64(s.Timeouts))
}
