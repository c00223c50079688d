package docker

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
)

// refusing is an engine that refuses every call with its own words.
type refusing struct {
	Client
	err error
}

func (r refusing) RemoveNetwork(context.Context, string) error     { return r.err }
func (r refusing) CreateVolume(context.Context, Volume) error      { return r.err }
func (r refusing) RunService(context.Context, ContainerSpec) error { return r.err }

// An engine's refusal is said once, with the operation and its object, in
// one line; the whole of the engine's words and their kind stay reachable.
func TestRefusalsAreSaidOnce(t *testing.T) {
	words := fmt.Errorf("%w: Error response from daemon: driver failed programming external connectivity\nmore detail", ErrPortTaken)
	c := Said(refusing{err: words})
	ctx := context.Background()
	id := strings.Repeat("ab12", 16)
	for _, tc := range []struct {
		err  error
		want string
	}{
		{c.RemoveNetwork(ctx, id), "cannot remove network ab12ab12ab12: port is already allocated: Error response from daemon: driver failed programming external connectivity"},
		{c.CreateVolume(ctx, Volume{Name: "devstack-p-shared"}), "cannot create volume devstack-p-shared: port is already allocated: Error response from daemon: driver failed programming external connectivity"},
		{c.RunService(ctx, ContainerSpec{Name: "devstack-p-mysql", Image: "mysql:8.0"}), "cannot start devstack-p-mysql (mysql:8.0): port is already allocated: Error response from daemon: driver failed programming external connectivity"},
	} {
		if tc.err.Error() != tc.want {
			t.Errorf("said %q\nwant %q", tc.err, tc.want)
		}
		if !errors.Is(tc.err, ErrPortTaken) || !strings.Contains(errors.Unwrap(tc.err).Error(), "more detail") {
			t.Errorf("%q lost the engine's words or their kind", tc.err)
		}
	}
	if err := Said(refusing{}).CreateVolume(ctx, Volume{Name: "v"}); err != nil {
		t.Errorf("no refusal, yet %v", err)
	}
}
