package stack

import (
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"testing"
)

func TestOwnerAlive(t *testing.T) {
	host, _ := os.Hostname()
	dead := exec.Command("true")
	if err := dead.Run(); err != nil {
		t.Fatal(err)
	}
	for owner, alive := range map[string]bool{
		fmt.Sprintf("%s/%d", host, os.Getpid()):          true,
		fmt.Sprintf("%s/%d", host, dead.Process.Pid):     false,
		"another-host/" + strconv.Itoa(dead.Process.Pid): true, // cannot know: never remove
		"garbage":        true,
		host + "/0":      true,
		host + "/banana": true,
	} {
		if got := OwnerAlive(owner); got != alive {
			t.Errorf("OwnerAlive(%q) = %v, want %v", owner, got, alive)
		}
	}
}
