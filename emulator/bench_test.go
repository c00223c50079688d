package emulator

import (
	"context"
	"os"
	"slices"
	"testing"
	"time"
)

// BenchmarkSeedAndReset measures `seed` (nothing to change) and `reset` on a
// running stack with the default fixtures, against a baseline measured in the
// same run: one exec round trip into the helper container, the floor of any
// work on the shared volume. Run with `make bench`.
func BenchmarkSeedAndReset(b *testing.B) {
	ctx := context.Background()
	e, err := Connect(ctx)
	if err != nil {
		b.Fatal(err)
	}
	cfg := DefaultConfig()
	cfg.Project = EphemeralProject("bench")
	cfg.MySQL.Port, cfg.Redis.Port = 0, 0
	if v := os.Getenv("DEVSTACK_MYSQL_IMAGE"); v != "" {
		cfg.MySQL.Image = v
	}
	if v := os.Getenv("DEVSTACK_REDIS_IMAGE"); v != "" {
		cfg.Redis.Image = v
	}
	if _, err := Up(ctx, e, cfg, UpOptions{}); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = Down(context.Background(), e, cfg, DownOptions{Volumes: true}) })

	var base, seedT, resetT []time.Duration
	timed := func(into *[]time.Duration, f func() error) {
		t0 := time.Now()
		if err := f(); err != nil {
			b.Fatal(err)
		}
		*into = append(*into, time.Since(t0))
	}
	for b.Loop() {
		timed(&base, func() error {
			_, err := e.helper(NamesFor(cfg.Project)).Exec(ctx, "true")
			return err
		})
		timed(&seedT, func() error { _, err := Seed(ctx, e, cfg, SeedOptions{}); return err })
		timed(&resetT, func() error { _, err := Seed(ctx, e, cfg, SeedOptions{Reset: true}); return err })
	}
	mb, ms, mr := median(base), median(seedT), median(resetT)
	b.ReportMetric(float64(ms.Microseconds())/1000, "seed-ms")
	b.ReportMetric(float64(mr.Microseconds())/1000, "reset-ms")
	b.ReportMetric(float64(mb.Microseconds())/1000, "exec-baseline-ms")
	b.ReportMetric(float64(ms)/float64(mb), "seed/baseline")
	b.ReportMetric(float64(mr)/float64(mb), "reset/baseline")
}

func median(d []time.Duration) time.Duration {
	s := slices.Clone(d)
	slices.Sort(s)
	return s[len(s)/2]
}
