package docker

import (
	"errors"
	"fmt"
	"testing"

	cerrdefs "github.com/containerd/errdefs"
)

// Both engines' wordings and codes of the same faults are classified alike.
func TestWrapClassifiesDockerAndPodman(t *testing.T) {
	for _, tc := range []struct {
		name string
		err  error
		want error
	}{
		{"Docker: name", fmt.Errorf("%w: Conflict. The container name \"/x\" is already in use by container \"ab\"", cerrdefs.ErrConflict), ErrNameTaken},
		{"Podman 4: name", errors.New("creating container storage: the container name \"x\" is already in use by ab. You have to remove that container to be able to reuse that name: that name is already in use"), ErrNameTaken},
		{"Docker: volume", fmt.Errorf("%w: remove v: volume is in use - [ab]", cerrdefs.ErrConflict), ErrInUse},
		{"Podman: volume", errors.New("volume v is being used by the following container(s): ab: volume is being used"), ErrInUse},
		{"port", errors.New("driver failed programming external connectivity: Bind for 127.0.0.1:5 failed: port is already allocated"), ErrPortTaken},
		{"Podman: port", errors.New("rootlessport listen tcp 127.0.0.1:5: bind: address already in use"), ErrPortTaken},
		{"not found", fmt.Errorf("%w: no such container", cerrdefs.ErrNotFound), ErrNotFound},
	} {
		if got := wrap(tc.err); !errors.Is(got, tc.want) {
			t.Errorf("%s: %v is not %v", tc.name, got, tc.want)
		}
	}
	if got := wrap(fmt.Errorf("%w: something else is already in use", cerrdefs.ErrInternal)); errors.Is(got, ErrNameTaken) {
		t.Errorf("an unrelated internal error taken for a name conflict: %v", got)
	}
}
