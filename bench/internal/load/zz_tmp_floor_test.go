package load

import (
	"context"
	"testing"
	"time"
)

func TestZZRelayFloorLong(t *testing.T) {
	r, err := RelayFloor(context.Background(), FloorConfig{Measure: 15 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%+v", r)
}
