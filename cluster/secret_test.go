package cluster

import (
	"bytes"
	"context"
	"testing"

	"github.com/lobbyd/lobbyd/internal/redistest"
)

func TestSharedSecretIsTheSameOnEveryShard(t *testing.T) {
	rdb, prefix := redistest.Client(t)
	ks := NewKeyspace(prefix)
	a, err := SharedSecret(context.Background(), rdb, ks, "pepper")
	if err != nil {
		t.Fatal(err)
	}
	b, err := SharedSecret(context.Background(), rdb, ks, "pepper")
	if err != nil || !bytes.Equal(a, b) || len(a) != 32 {
		t.Fatalf("second shard got %x (%v), first %x", b, err, a)
	}
	c, _ := SharedSecret(context.Background(), rdb, ks, "other")
	if bytes.Equal(a, c) {
		t.Fatal("two secrets are equal")
	}
}
