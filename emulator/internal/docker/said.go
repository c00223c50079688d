package docker

import (
	"context"
	"io"
	"strings"
	"time"
)

// OpError is an engine's refusal, said once where it leaves the engine:
// the operation, the object and the first line of the engine's own words.
// Err keeps them whole (the CLI's --debug shows them), and the kinds the
// seam recognises (ErrNotFound, ErrPortTaken, ...) stay reachable with
// errors.Is.
type OpError struct {
	Op  string // "create volume devstack-p-shared", "list containers"
	Err error
}

func (e *OpError) Error() string {
	s := e.Err.Error()
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		s = s[:i]
	}
	return "cannot " + e.Op + ": " + s
}

func (e *OpError) Unwrap() error { return e.Err }

// said is a Client whose every error says which operation on which object
// the engine refused.
type said struct{ c Client }

// Said wraps c's errors in OpError; Dial's client is already wrapped.
func Said(c Client) Client { return said{c} }

func op(err error, what string, args ...string) error {
	if err == nil {
		return nil
	}
	for i, a := range args {
		args[i] = shortID(a)
	}
	return &OpError{Op: strings.Join(append([]string{what}, args...), " "), Err: err}
}

// shortID shortens a full 64-hex ID as the docker CLI does; a name stays.
func shortID(s string) string {
	if len(s) != 64 || strings.Trim(s, "0123456789abcdef") != "" {
		return s
	}
	return s[:12]
}

func (s said) Endpoint() string   { return s.c.Endpoint() }
func (s said) APIVersion() string { return s.c.APIVersion() }
func (s said) Close() error       { return s.c.Close() }

func (s said) Containers(ctx context.Context, labels ...string) ([]Container, error) {
	cs, err := s.c.Containers(ctx, labels...)
	return cs, op(err, "list containers")
}

func (s said) Inspect(ctx context.Context, nameOrID string) (Container, error) {
	c, err := s.c.Inspect(ctx, nameOrID)
	return c, op(err, "inspect", nameOrID)
}

func (s said) RunService(ctx context.Context, spec ContainerSpec) error {
	return op(s.c.RunService(ctx, spec), "start", spec.Name, "("+spec.Image+")")
}

func (s said) RunHelper(ctx context.Context, spec ContainerSpec) error {
	return op(s.c.RunHelper(ctx, spec), "start", spec.Name, "("+spec.Image+")")
}

func (s said) Create(ctx context.Context, spec ContainerSpec) error {
	return op(s.c.Create(ctx, spec), "create", spec.Name, "("+spec.Image+")")
}

func (s said) Start(ctx context.Context, id string) error {
	return op(s.c.Start(ctx, id), "start", id)
}

func (s said) Stop(ctx context.Context, id string, timeout time.Duration) error {
	return op(s.c.Stop(ctx, id, timeout), "stop", id)
}

func (s said) Restart(ctx context.Context, id string, timeout time.Duration) error {
	return op(s.c.Restart(ctx, id, timeout), "restart", id)
}

func (s said) Remove(ctx context.Context, id string) error {
	return op(s.c.Remove(ctx, id), "remove container", id)
}

func (s said) Rename(ctx context.Context, nameOrID, name string) error {
	return op(s.c.Rename(ctx, nameOrID, name), "rename", nameOrID, "to", name)
}

func (s said) Wait(ctx context.Context, id string) (int, error) {
	code, err := s.c.Wait(ctx, id)
	return code, op(err, "wait for", id)
}

func (s said) Exec(ctx context.Context, id string, x Exec) (int, error) {
	code, err := s.c.Exec(ctx, id, x)
	what := "a command"
	if len(x.Cmd) > 0 {
		what = x.Cmd[0]
	}
	return code, op(err, "run", what, "in", id)
}

func (s said) CopyTo(ctx context.Context, id, dir string, tar io.Reader) error {
	return op(s.c.CopyTo(ctx, id, dir, tar), "copy into", id+":"+dir)
}

func (s said) CopyFrom(ctx context.Context, id, path string) (io.ReadCloser, error) {
	r, err := s.c.CopyFrom(ctx, id, path)
	return r, op(err, "copy", id+":"+path)
}

func (s said) Changes(ctx context.Context, id string) ([]Change, error) {
	cs, err := s.c.Changes(ctx, id)
	return cs, op(err, "list what changed in", id)
}

func (s said) Logs(ctx context.Context, id string, opts LogOptions, stdout, stderr io.Writer) error {
	return op(s.c.Logs(ctx, id, opts, stdout, stderr), "read the logs of", id)
}

func (s said) Info(ctx context.Context) (Info, error) {
	i, err := s.c.Info(ctx)
	return i, op(err, "ask the engine what it is")
}

func (s said) Image(ctx context.Context, ref string) (Image, error) {
	i, err := s.c.Image(ctx, ref)
	return i, op(err, "inspect image", ref)
}

func (s said) Pull(ctx context.Context, ref string) error {
	return op(s.c.Pull(ctx, ref), "pull", ref)
}

func (s said) Pullable(ctx context.Context, ref string) error {
	return op(s.c.Pullable(ctx, ref), "find", ref, "in its registry")
}

func (s said) Volumes(ctx context.Context, labels ...string) ([]Volume, error) {
	vs, err := s.c.Volumes(ctx, labels...)
	return vs, op(err, "list volumes")
}

func (s said) Volume(ctx context.Context, name string) (Volume, error) {
	v, err := s.c.Volume(ctx, name)
	return v, op(err, "inspect volume", name)
}

func (s said) CreateVolume(ctx context.Context, v Volume) error {
	return op(s.c.CreateVolume(ctx, v), "create volume", v.Name)
}

func (s said) RemoveVolume(ctx context.Context, name string) error {
	return op(s.c.RemoveVolume(ctx, name), "remove volume", name)
}

func (s said) VolumeSizes(ctx context.Context) (map[string]int64, error) {
	m, err := s.c.VolumeSizes(ctx)
	return m, op(err, "read the volumes' sizes")
}

func (s said) Networks(ctx context.Context, labels ...string) ([]Network, error) {
	ns, err := s.c.Networks(ctx, labels...)
	return ns, op(err, "list networks")
}

func (s said) Network(ctx context.Context, nameOrID string) (Network, error) {
	n, err := s.c.Network(ctx, nameOrID)
	return n, op(err, "inspect network", nameOrID)
}

func (s said) CreateNetwork(ctx context.Context, name string, labels map[string]string) (string, error) {
	id, err := s.c.CreateNetwork(ctx, name, labels)
	return id, op(err, "create network", name)
}

func (s said) RemoveNetwork(ctx context.Context, id string) error {
	return op(s.c.RemoveNetwork(ctx, id), "remove network", id)
}
