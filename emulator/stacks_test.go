package emulator

import (
	"testing"
	"time"
)

func TestPruneSelects(t *testing.T) {
	now := time.Now()
	old := now.Add(-3 * time.Hour)
	young := now.Add(-10 * time.Second)
	for _, tc := range []struct {
		name  string
		s     StackInfo
		opts  PruneOptions
		taken bool
	}{
		{"everyday stacks never", StackInfo{Created: old}, PruneOptions{All: true}, false},
		{"orphan", StackInfo{Ephemeral: true, Created: old}, PruneOptions{}, true},
		{"owner alive", StackInfo{Ephemeral: true, OwnerAlive: true, Created: old}, PruneOptions{}, false},
		{"kept orphan", StackInfo{Ephemeral: true, Kept: true, Created: old}, PruneOptions{}, false},
		{"young orphan within grace", StackInfo{Ephemeral: true, Created: young}, PruneOptions{Grace: time.Minute}, false},
		{"all, owner alive", StackInfo{Ephemeral: true, OwnerAlive: true, Kept: true, Created: young}, PruneOptions{All: true}, true},
		{"older than, owner alive", StackInfo{Ephemeral: true, OwnerAlive: true, Created: old}, PruneOptions{OlderThan: time.Hour}, true},
		{"not older than", StackInfo{Ephemeral: true, Created: young}, PruneOptions{OlderThan: time.Hour}, false},
	} {
		if got := tc.opts.selects(tc.s, now); got != tc.taken {
			t.Errorf("%s: selected %v, want %v", tc.name, got, tc.taken)
		}
	}
}
