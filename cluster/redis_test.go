package cluster

import (
	"testing"

	"github.com/redis/go-redis/v9"
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
