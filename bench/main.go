package main

import (
	"fmt"
	"os"
)

const usage = `usage (in bench/, its own module):
  go run . compare [-quick] [-runs N] [-servers lobbyd,gorilla,socketio,colyseus,centrifuge] [-out DIR]
  go run . idle -n 10000 -addr 127.0.0.1:8080 [-pid PID] [-operator-token T] [-kind lobbyd|gorilla|socketio|colyseus|centrifuge]
  go run . fanout -addr 127.0.0.1:8080 -n 800 -rate 5 [-ramp 2,5,20,80] [-kind lobbyd|gorilla|socketio|colyseus|centrifuge]
  go run . match -addr 127.0.0.1:8080 -n 2000 -rate 2000 -duration 5s [-ramp 2000,5000,10000,20000]
  go run . cluster [-redis 127.0.0.1:6379] [-n 10000] [-fanout-n 800] [-rate 5]   # 2 shards + Redis against 1 in-memory shard; CLUSTER.md's figures
  go run . scaling [-ns 1000,5000,10000,19000] [-hold 3s] [-benchtime 1x] [-chart F.png]   # memory and CPU per player as N grows; matcher pass time at 10k/100k/1M tickets
  go run . soak [-duration 1m] [-addr 127.0.0.1:8080 -operator-token T]   # every workload at once; SOAK.md, soak.png
  go run . slowread -addr 127.0.0.1:8080 -n 100 [-senders 2 -rate 40 -size 16384 -duration 20s]   # issue 10's slow readers
  go run . render [-dir results]   # RESULTS.md and chart.png again from results.json
run a subcommand with -h for its flags`

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, usage)
		os.Exit(2)
	}
	var err error
	switch os.Args[1] {
	case "compare":
		err = compareCmd(os.Args[2:])
	case "idle":
		err = idleCmd(os.Args[2:])
	case "render":
		err = renderCmd(os.Args[2:])
	case "fanout":
		err = fanoutCmd(os.Args[2:])
	case "match":
		err = matchCmd(os.Args[2:])
	case "cluster":
		err = clusterCmd(os.Args[2:])
	case "scaling":
		err = scalingCmd(os.Args[2:])
	case "soak":
		err = soakCmd(os.Args[2:])
	case "slowread":
		err = slowreadCmd(os.Args[2:])
	case "-h", "-help", "--help", "help":
		fmt.Println(usage)
		return
	default:
		fmt.Fprintf(os.Stderr, "bench: unknown subcommand %q\n%s\n", os.Args[1], usage)
		os.Exit(2)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}
