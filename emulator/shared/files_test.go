package shared

import (
	"errors"
	"strings"
	"testing"
)

// Names the filesystem would refuse, or that would break a listing, are
// refused in devstack's words before anything is copied.
func TestCheckName(t *testing.T) {
	for _, bad := range []string{strings.Repeat("a", 300), "tmp/" + strings.Repeat("b", 230), "a\nb", "tab\there"} {
		if err := checkName(bad); !errors.Is(err, ErrBadName) {
			t.Errorf("%q: %v", bad, err)
		}
	}
	for _, good := range []string{"tmp/x.txt", strings.Repeat("c", maxName), "ünïcödé/ok"} {
		if err := checkName(good); err != nil {
			t.Errorf("%q refused: %v", good, err)
		}
	}
}
