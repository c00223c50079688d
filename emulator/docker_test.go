package emulator

import (
	"crypto/sha256"
	"encoding/hex"
	"os"
	"path/filepath"
	"testing"
)

func TestResolveEndpoint(t *testing.T) {
	home := t.TempDir()
	if got, src := ResolveEndpoint(envMap(map[string]string{"DOCKER_HOST": "tcp://h:2375"}), home); got != "tcp://h:2375" || src != "DOCKER_HOST" {
		t.Errorf("DOCKER_HOST ignored: %s (%s)", got, src)
	}
	if got, src := ResolveEndpoint(envMap(nil), home); got != defaultEndpoint || src != "default socket" {
		t.Errorf("no config: %s (%s)", got, src)
	}
	// A docker CLI context, as colima or OrbStack set one up.
	dir := filepath.Join(home, ".docker")
	sum := sha256.Sum256([]byte("colima"))
	meta := filepath.Join(dir, "contexts", "meta", hex.EncodeToString(sum[:]))
	must(t, os.MkdirAll(meta, 0o700))
	must(t, os.WriteFile(filepath.Join(meta, "meta.json"), []byte(`{"Name":"colima","Endpoints":{"docker":{"Host":"unix:///home/u/.colima/docker.sock"}}}`), 0o600))
	must(t, os.WriteFile(filepath.Join(dir, "config.json"), []byte(`{"currentContext":"colima"}`), 0o600))
	if got, src := ResolveEndpoint(envMap(nil), home); got != "unix:///home/u/.colima/docker.sock" || src != "context colima" {
		t.Errorf("current context not followed: %s (%s)", got, src)
	}
	if got, _ := ResolveEndpoint(envMap(map[string]string{"DOCKER_CONTEXT": "default"}), home); got != defaultEndpoint {
		t.Errorf("DOCKER_CONTEXT=default: %s", got)
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
