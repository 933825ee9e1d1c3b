package cluster

import (
	"fmt"
	"net"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/lobbyd/lobbyd/internal/redistest"
)

func TestOpenForms(t *testing.T) {
	for _, tc := range []struct {
		url  string
		want string // client type
	}{
		{"redis://127.0.0.1:6379/0", "*redis.Client"},
		{"rediss://127.0.0.1:6380/1", "*redis.Client"},
		{"redis+sentinel://127.0.0.1:26379?master_name=m&addr=127.0.0.1:26380", "*redis.Client"},
		{"redis+cluster://127.0.0.1:7000?addr=127.0.0.1:7001", "*redis.ClusterClient"},
	} {
		c, err := Open(tc.url)
		if err != nil {
			t.Errorf("%s: %v", tc.url, err)
			continue
		}
		got := ""
		switch c.(type) {
		case *redis.Client:
			got = "*redis.Client"
		case *redis.ClusterClient:
			got = "*redis.ClusterClient"
		}
		if got != tc.want {
			t.Errorf("%s: client %T, want %s", tc.url, c, tc.want)
		}
		c.Close()
	}
	for _, bad := range []string{"http://x", "redis+foo://x:1", "redis+sentinel://x:1", "redis://x:1?nope=1", "::"} {
		if c, err := Open(bad); err == nil {
			c.Close()
			t.Errorf("%s: no error", bad)
		}
	}
}

// Open's defaults: small buffers on every pooled connection, the pipeline
// pool's included (go-redis gives those 128 KiB each way), unless the URL
// says otherwise.
func TestOpenBufferDefaults(t *testing.T) {
	for _, tc := range []struct {
		url                  string
		conn, pipeRead, pipe int
	}{
		{"redis://127.0.0.1:6379/0", connBufferSize, pipelineBufferSize, pipelineBufferSize},
		{"redis://127.0.0.1:6379/0?pipeline_read_buffer_size=65536", connBufferSize, 65536, pipelineBufferSize},
	} {
		c, err := Open(tc.url)
		if err != nil {
			t.Fatal(err)
		}
		o := c.(*redis.Client).Options()
		if o.ReadBufferSize != tc.conn || o.WriteBufferSize != connBufferSize ||
			o.PipelineReadBufferSize != tc.pipeRead || o.PipelineWriteBufferSize != tc.pipe {
			t.Errorf("%s: buffers read %d write %d, pipeline read %d write %d", tc.url,
				o.ReadBufferSize, o.WriteBufferSize, o.PipelineReadBufferSize, o.PipelineWriteBufferSize)
		}
		if o.PoolSize != DefaultPoolSize {
			t.Errorf("%s: pool size %d, want %d", tc.url, o.PoolSize, DefaultPoolSize)
		}
		c.Close()
	}
}

// A pooled connection's health check (go-redis peeks at its socket before
// a command) runs at most once per healthCheckEvery, and still finds a
// connection Redis closed while it sat idle longer than that: the next
// command goes out on a new one.
func TestHealthCheckThrottled(t *testing.T) {
	srv := redistest.Server(t)
	c, err := Open("redis://" + srv.Addr + "/0?pool_size=1")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ctx := t.Context()
	id, err := c.ClientID(ctx).Result()
	if err != nil {
		t.Fatal(err)
	}
	admin := redis.NewClient(&redis.Options{Addr: srv.Addr})
	defer admin.Close()
	if err := admin.ClientKillByFilter(ctx, "ID", fmt.Sprint(id)).Err(); err != nil {
		t.Fatal(err)
	}
	time.Sleep(2 * healthCheckEvery)
	if err := c.Ping(ctx).Err(); err != nil {
		t.Fatalf("the connection Redis closed was used: %v", err)
	}
	if id2, err := c.ClientID(ctx).Result(); err != nil || id2 == id {
		t.Fatalf("client id %d (%v), was %d: want a new connection", id2, err, id)
	}

	// The throttle itself, on a socket of its own.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	conn, err := checkedDial((&net.Dialer{}).DialContext)(ctx, "tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	raw, err := conn.(syscall.Conn).SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	peeks := 0
	peek := func(uintptr) bool { peeks++; return true }
	for range 3 {
		if err := raw.Read(peek); err != nil {
			t.Fatal(err)
		}
	}
	if peeks != 1 {
		t.Fatalf("%d peeks within %v, want 1", peeks, healthCheckEvery)
	}
	time.Sleep(healthCheckEvery + 10*time.Millisecond)
	if err := raw.Read(peek); err != nil || peeks != 2 {
		t.Fatalf("%d peeks (%v) after %v, want 2", peeks, err, healthCheckEvery)
	}
}

// Open's Redis Cluster client dials through go-redis's own dialer, with
// the throttled health check, and routes by hash tag as the nodes say.
func TestOpenClusterDials(t *testing.T) {
	rc, prefix := redistest.Cluster(t)
	c, err := Open("redis+cluster://" + rc.Options().Addrs[0])
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ctx := t.Context()
	for i := range 8 {
		key := fmt.Sprintf("%s{k%d}", prefix, i) // slots on every master
		if err := c.Set(ctx, key, i, time.Minute).Err(); err != nil {
			t.Fatalf("SET %s: %v", key, err)
		}
		if got, err := c.Get(ctx, key).Int(); err != nil || got != i {
			t.Fatalf("GET %s: %d %v", key, got, err)
		}
	}
}
