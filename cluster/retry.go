package cluster

import (
	"context"
	"time"
)

// RetryUntil runs try until it says not to try again, 20 ms after the
// first attempt and then twice as long each time, and returns its last
// error; ctx ending stops it with that error. The one back-off of the
// requests that must get through a Redis restart (tens of ms to seconds):
// a lost reply settled, an event published again, a read tried again.
func RetryUntil(ctx context.Context, try func() (again bool, err error)) error {
	wait := 20 * time.Millisecond
	for {
		again, err := try()
		if !again {
			return err
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return err
		case <-t.C:
		}
		wait *= 2
	}
}
