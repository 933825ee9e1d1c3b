package report

import (
	"time"

	"github.com/lobbyd/lobbyd/bench/internal/harness"
	"github.com/lobbyd/lobbyd/bench/internal/load"
)

// Run is one server's pass through the workloads.
type Run struct {
	Server string
	Index  int // 1-based run number
	Idle   *load.IdleResult
	Browse *load.BrowseResult
	Fanout *load.FanoutResult
	Churn  *load.ChurnResult
	Match  *load.MatchResult // lobbyd only: the baselines have no matchmaking
	Errors []string          // a workload that failed, with why
}

// Results is a whole compare invocation.
type Results struct {
	Started  time.Time
	Elapsed  time.Duration
	Quick    bool
	Runs     int
	Command  string // the command line that produced this
	Machine  harness.Machine
	LoadEnd  string            // load averages when the runs ended
	Versions map[string]string // server kind → version text
	Skipped  map[string]string // server kind → why it did not run
	Servers  []string          // servers that ran, in report order
	Lobbyd   string            // lobbyd's config file text
	Settings Settings
	Data     []Run
	// Floor is the write floor (load.WriteFloor) measured once per run,
	// just before lobbyd's turn (at the run's start without lobbyd).
	Floor []load.FloorResult
	// RelayFloor is the relay floor (load.RelayFloor), once per run.
	RelayFloor []load.FloorResult `json:",omitempty"`
	// ClientFloor is the client floor (bench/baselines/wsfloor driven by
	// the relay workload at the fixed load), once per run.
	ClientFloor []load.FloorResult `json:",omitempty"`
	// Cluster is the cluster workload, once per compare: each system on
	// two nodes and one Redis.
	Cluster []ClusterRun
}

// ClusterRun is one system's cluster workload: two nodes sharing a private
// Redis, every lobby of 8 with 4 members on each node, relaying, then
// chatting.
type ClusterRun struct {
	System  string
	Version string
	Fanout  *load.FanoutResult
	// Chat is the same ramp with chats: every member gets each chat, its
	// sender included, and the system keeps it for a client that missed it
	// where it can (lobbyd's log, centrifuge's history).
	Chat  *load.FanoutResult
	Error string // why it has no figures
}

// Settings are the workload sizes, shown in RESULTS.md.
type Settings struct {
	Idle   load.IdleConfig
	Fanout load.FanoutConfig
	Churn  load.ChurnConfig
	Browse load.BrowseConfig
	Match  load.MatchConfig
	// Cluster is the relay of the cluster workload (players over 2 nodes).
	Cluster load.FanoutConfig
}

// runsOf returns the runs of one server.
func (r *Results) runsOf(server string) []Run {
	var out []Run
	for _, d := range r.Data {
		if d.Server == server {
			out = append(out, d)
		}
	}
	return out
}
