package engine

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/wellcomecollection/devstack/emulator/fault"
)

func TestResolveEndpoint(t *testing.T) {
	home := t.TempDir()
	if got, src := ResolveEndpoint(getenvFrom(map[string]string{"DOCKER_HOST": "tcp://h:2375"}), home); got != "tcp://h:2375" || src != "DOCKER_HOST" {
		t.Errorf("DOCKER_HOST ignored: %s (%s)", got, src)
	}
	if got, src := ResolveEndpoint(getenvFrom(nil), home); got != defaultEndpoint || src != "default socket" {
		t.Errorf("no config: %s (%s)", got, src)
	}
	// A docker CLI context, as colima or OrbStack set one up.
	dir := filepath.Join(home, ".docker")
	sum := sha256.Sum256([]byte("colima"))
	meta := filepath.Join(dir, "contexts", "meta", hex.EncodeToString(sum[:]))
	noErr(t, os.MkdirAll(meta, 0o700))
	noErr(t, os.WriteFile(filepath.Join(meta, "meta.json"), []byte(`{"Name":"colima","Endpoints":{"docker":{"Host":"unix:///home/u/.colima/docker.sock"}}}`), 0o600))
	noErr(t, os.WriteFile(filepath.Join(dir, "config.json"), []byte(`{"currentContext":"colima"}`), 0o600))
	if got, src := ResolveEndpoint(getenvFrom(nil), home); got != "unix:///home/u/.colima/docker.sock" || src != "context colima" {
		t.Errorf("current context not followed: %s (%s)", got, src)
	}
	if got, _ := ResolveEndpoint(getenvFrom(map[string]string{"DOCKER_CONTEXT": "default"}), home); got != defaultEndpoint {
		t.Errorf("DOCKER_CONTEXT=default: %s", got)
	}
}

// A context's TLS files are handed to the clients, unless the user set
// DOCKER_CERT_PATH; SkipTLSVerify leaves verification off.
func TestContextTLS(t *testing.T) {
	home := t.TempDir()
	dir := filepath.Join(home, ".docker")
	sum := sha256.Sum256([]byte("remote"))
	id := hex.EncodeToString(sum[:])
	noErr(t, os.MkdirAll(filepath.Join(dir, "contexts", "meta", id), 0o700))
	noErr(t, os.WriteFile(filepath.Join(dir, "contexts", "meta", id, "meta.json"), []byte(`{"Name":"remote","Endpoints":{"docker":{"Host":"tcp://h:2376","SkipTLSVerify":false}}}`), 0o600))
	tlsDir := filepath.Join(dir, "contexts", "tls", id, "docker")
	noErr(t, os.MkdirAll(tlsDir, 0o700))
	noErr(t, os.WriteFile(filepath.Join(tlsDir, "ca.pem"), []byte("x"), 0o600))
	env := map[string]string{"DOCKER_CONTEXT": "remote"}
	set := func(k, v string) error { env[k] = v; return nil }
	c := currentContext(getenvFrom(env), home)
	if c.host != "tcp://h:2376" || c.tlsDir != tlsDir {
		t.Fatalf("context: %+v", c)
	}
	useContextTLS(c, getenvFrom(env), set)
	if env["DOCKER_CERT_PATH"] != tlsDir || env["DOCKER_TLS_VERIFY"] != "1" {
		t.Errorf("TLS not handed over: %v", env)
	}
	env = map[string]string{"DOCKER_CONTEXT": "remote", "DOCKER_CERT_PATH": "/mine"}
	useContextTLS(c, getenvFrom(env), set)
	if env["DOCKER_CERT_PATH"] != "/mine" {
		t.Errorf("the user's DOCKER_CERT_PATH replaced: %v", env)
	}
}

func noErr(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func getenvFrom(m map[string]string) func(string) string {
	return func(k string) string { return m[k] }
}

// Bad input outranks the failures it caused elsewhere.
func TestFirstClassified(t *testing.T) {
	if err := firstClassified([]error{nil, fault.Env(nil, "env"), fault.Usage("usage")}); fault.ExitCode(err) != fault.ExitUsage {
		t.Errorf("firstClassified: %v", err)
	}
	if err := firstClassified([]error{nil, nil}); err != nil {
		t.Errorf("firstClassified of nothing: %v", err)
	}
}

// A permanent error still says what it marks: up restarts a container that
// a killed command stopped cleanly (a ContainerFailed), which polling
// reports as permanent.
func TestPermanentShowsWhatItMarks(t *testing.T) {
	var cf *ContainerFailed
	if err := Permanent(&fault.Error{Code: fault.ExitEnv, Err: &ContainerFailed{Name: "c", CleanStop: true}}); !errors.As(err, &cf) || !cf.CleanStop {
		t.Errorf("errors.As through Permanent: %v", err)
	}
}
