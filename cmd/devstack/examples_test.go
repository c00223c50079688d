package main

import (
	"os"
	"os/exec"
	"strings"
	"testing"
)

// The Python example of docs/harness.md, run the way it says: under
// `devstack run`.
func TestPythonExampleUnderRun(t *testing.T) {
	integration(t)
	t.Parallel()
	cmd := exec.Command(binary, "run", "--", "/usr/bin/python3", "-m", "unittest", "-v", "examples/python/test_stack.py")
	cmd.Dir = "../.."
	cmd.Env = os.Environ()
	out, err := cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "Ran 3 tests") || !strings.Contains(string(out), "\nOK") {
		t.Fatalf("python example: %v\n%s", err, out)
	}
}
