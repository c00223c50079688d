package server

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/wellcomecollection/devstack/emulator/fault"
	"github.com/wellcomecollection/devstack/emulator/internal/docker"
	"github.com/wellcomecollection/devstack/emulator/internal/engine"
	"github.com/wellcomecollection/devstack/emulator/internal/stack"
)

// What seeded templates and snapshots share: a template is a snapshot that
// devstack makes itself. Both are volumes without io.devstack.project, so
// that no stack's down, status or ls takes them for its own; both are
// copies of a MySQL data directory that a server shut down cleanly, without
// that server's identity, made by one short-lived container; both are
// complete only once a done marker, made last, says so (a template's is a
// file in it, a snapshot's a volume of its own); and a stack that starts
// from one logs in with the root password the copy came with and gives
// root its own (upRun.adoptRoot).

// CleanStop is how long MySQL may take to shut down before Docker kills it.
// A copy of its data directory is consistent only after a clean shutdown: a
// file copy under a read lock is not.
const CleanStop = time.Minute

// identityFiles are what belongs to one server rather than to its data: its
// UUID (auto.cnf) and generated keys. A copy leaves them out, and the server
// that opens it makes its own.
const identityFiles = "auto.cnf *.pem"

// VolumeCopy is a copy of volumes by one short-lived container: every
// container start costs a few tenths of a second, so one container copies
// all of them, side by side. Each target is emptied first.
type VolumeCopy struct {
	// Name and Labels are the container's: a stack's, so that a copy cut
	// short is the stack's to remove.
	Name   string
	Labels map[string]string
	// Image is the MySQL image: it is present wherever a stack is, and the
	// copy needs nothing but a shell.
	Image string
	Pairs []VolumePair
	// need is a done marker the first source must hold: a copy of a half-made
	// template fails with ErrHalfMade. It is not copied.
	need string
	// Strip leaves identityFiles out of the first target.
	Strip bool
	// mark is a done marker made in the first target once everything is
	// copied.
	mark string
	// Stop, when set, stops what writes the volumes. It runs while the
	// container starts, and the copy waits for it: either costs a few
	// tenths of a second.
	Stop func(context.Context) error
	// started, when set, is called once the container has started.
	started func()
}

// VolumePair is a volume to copy and the volume to copy it into.
type VolumePair struct {
	From, To string
	// Sub is a folder of From to copy instead of all of it; with Drain it
	// is removed once copied (From is then mounted writable).
	Sub   string
	Drain bool
}

// ErrHalfMade is a template without its done marker: what made it was cut
// short.
var ErrHalfMade = errors.New("it is not complete")

// copyScript is constant: what varies reaches it as arguments ($1 need,
// $2 strip, $3 the number of pairs, $4 gated, $5 mark, then each pair's
// folder and drain), mounted at /from/N and /to/N. Each entry of a folder
// is copied by a cp of its own, side by side: a data directory's thousand
// files, most of them in two schemas, cost a cp alone 0.3 s (half that so),
// and the time goes in the calls a file makes, not in its bytes. A gated copy waits for
// /tmp/go, which devstack puts there once the volumes' writers have
// stopped; one whose devstack died first gives up after ten minutes, having
// copied nothing. InnoDB's files are mostly zeros (a fresh ib_logfile0 and
// ibdata1 hold some 180 MB, 20 MB of it data): where cp can leave holes for
// them, the copy writes a tenth as much.
const copyScript = `need=$1 strip=$2 n=$3 gated=$4 mark=$5
shift 5
[ -z "$need" ] || [ -f "/from/0/$need" ] || exit 3
sparse=
cp --sparse=always /dev/null /tmp/sparse 2>/dev/null && sparse=--sparse=always
w=0
while [ -n "$gated" ] && [ ! -e /tmp/go ]; do
	[ "$w" -lt 30000 ] || exit 4
	sleep 0.02
	w=$((w + 1))
done
copy() {
	own=$(stat -c %u:%g "$1") mode=$(stat -c %a "$1") cps=
	for e in "$1"/* "$1"/.[!.]* "$1"/..?*; do
		[ -e "$e" ] || [ -L "$e" ] || continue
		cp -a $sparse "$e" "$2/" &
		cps="$cps $!"
	done
	for p in $cps; do wait "$p" || return 1; done
	chown "$own" "$2" && chmod "$mode" "$2"
}
pids= i=0
while [ "$i" -lt "$n" ]; do
	sub=$1 drain=$2
	shift 2
	from="/from/$i/$sub"
	(find "/to/$i" -mindepth 1 -delete && copy "$from" "/to/$i" &&
		{ [ -z "$drain" ] || [ -z "$sub" ] || rm -rf "$from" || true; }) &
	pids="$pids $!" i=$((i + 1))
done
for p in $pids; do wait "$p" || exit 1; done
cd /to/0 || exit 1
[ -z "$need" ] || rm -f "$need"
[ -z "$strip" ] || rm -f ` + identityFiles + `
[ -z "$mark" ] || : >"$mark"`

func (c VolumeCopy) spec() docker.ContainerSpec {
	strip, gated := "", ""
	if c.Strip {
		strip = "yes"
	}
	if c.Stop != nil {
		gated = "yes"
	}
	// A shell as PID 1 ignores SIGTERM: a stop of a copy (a killed
	// command's, found by the next one) kills it at once.
	s := docker.ContainerSpec{Name: c.Name, Image: c.Image, Labels: c.Labels, User: stack.RootUser, Network: docker.NoNetwork, StopSignal: "SIGKILL",
		Entrypoint: []string{"sh", "-c", copyScript, "copy", c.need, strip, strconv.Itoa(len(c.Pairs)), gated, c.mark}}
	for i, p := range c.Pairs {
		drain := ""
		if p.Drain {
			drain = "yes"
		}
		s.Entrypoint = append(s.Entrypoint, p.Sub, drain)
		s.Mounts = append(s.Mounts,
			docker.Mount{Volume: p.From, Target: fmt.Sprintf("/from/%d", i), ReadOnly: !p.Drain},
			docker.Mount{Volume: p.To, Target: fmt.Sprintf("/to/%d", i)})
	}
	return s
}

// CopyVolumes runs the copy and waits for it.
func (e *Engine) CopyVolumes(ctx context.Context, c VolumeCopy) error {
	start := func(ctx context.Context) error {
		if err := e.RunOwnHelper(ctx, c.spec()); err != nil {
			return fault.Env(err, "%v, to copy volumes", err)
		}
		if c.started != nil {
			c.started()
		}
		return nil
	}
	stop := c.Stop
	if stop == nil {
		stop = func(context.Context) error { return nil }
	}
	err := engine.Parallel(ctx, start, stop)
	defer func() {
		// A copy that was interrupted leaves its container, stopped, as a
		// killed devstack would: it says the copy was cut short, and the
		// next command does it again.
		if ctx.Err() != nil {
			_ = e.Docker.Stop(context.WithoutCancel(ctx), c.Name, 0)
			return
		}
		_ = e.Docker.Remove(context.WithoutCancel(ctx), c.Name)
	}()
	if err != nil {
		return err
	}
	if c.Stop != nil {
		if err := e.Docker.CopyTo(ctx, c.Name, "/tmp", markerFile("go", time.Now())); err != nil {
			return fault.Env(err, "%v, to start the copy", err)
		}
	}
	code, err := e.Docker.Wait(ctx, c.Name)
	switch {
	case err != nil:
		return fault.Env(err, "%v, copying volumes", err)
	case code == 3:
		return ErrHalfMade
	case code != 0:
		return fault.Env(nil, "copying volumes in %s failed (exit code %d):\n%s", c.Name, code, e.LastLines(ctx, c.Name))
	}
	return nil
}

// runsAsRoot reports whether an image's USER is root.
func runsAsRoot(user string) bool {
	u, _, _ := strings.Cut(user, ":")
	return u == "" || u == "0" || u == "root"
}

// OwnDataVolume gives a new, empty data volume the owner and mode of the
// image's own /var/lib/mysql, when the image runs as another user than
// root: the no-copy option leaves the volume's root to root, where such an
// image's server cannot write. A short-lived container of the image, as
// root, reads them from the image's folder (its anonymous volume, which
// the engine fills from the image) and gives them to the volume. labels
// are the container's; name is free for it.
func (e *Engine) OwnDataVolume(ctx context.Context, img docker.Image, image, volume, name string, labels map[string]string) error {
	if runsAsRoot(img.User) {
		return nil
	}
	const script = "chown \"$(stat -c %u:%g /var/lib/mysql)\" /devstack/data && chmod \"$(stat -c %a /var/lib/mysql)\" /devstack/data"
	spec := docker.ContainerSpec{Name: name, Image: image, User: stack.RootUser, Labels: labels, Network: docker.NoNetwork, StopSignal: "SIGKILL",
		Entrypoint: []string{"sh", "-c", script}, Mounts: []docker.Mount{{Volume: volume, Target: "/devstack/data"}}}
	if err := e.Docker.RunHelper(ctx, spec); err != nil {
		return fault.Env(err, "%v, to give volume %s the owner of the image's data directory", err, volume)
	}
	defer e.Docker.Remove(context.WithoutCancel(ctx), name)
	code, err := e.Docker.Wait(ctx, name)
	if err != nil {
		return fault.Env(err, "%v, to give volume %s the owner of %s's data directory (%s runs as %s)", err, volume, image, image, img.User)
	}
	if code != 0 {
		return fault.Env(nil, "cannot give volume %s the owner of %s's data directory (%s runs as %s): exit code %d; its last lines:\n%s", volume, image, image, img.User, code, e.LastLines(ctx, name))
	}
	return nil
}

// RunOwnHelper runs a short-lived helper container. A container of the same
// name that a killed devstack left behind is the project's own: it goes,
// and the helper takes its name. Asking first would not do: the engine may
// finish a killed devstack's create after the look.
func (e *Engine) RunOwnHelper(ctx context.Context, s docker.ContainerSpec) error {
	err := e.Docker.RunHelper(ctx, s)
	if errors.Is(err, docker.ErrNameTaken) {
		if err = e.RemoveLeftover(ctx, s.Name, s.Labels[stack.LabelProject]); err == nil {
			err = e.Docker.RunHelper(ctx, s)
		}
	}
	return err
}

// RemoveLeftover removes the container name if it carries the project's
// label, running or not; one without it is left alone.
func (e *Engine) RemoveLeftover(ctx context.Context, name, project string) error {
	c, err := e.Docker.Inspect(ctx, name)
	if err != nil || c.Labels[stack.LabelProject] != project {
		return nil
	}
	if err := e.Docker.Remove(ctx, c.ID); err != nil && !engine.IsNotFound(err) {
		return fault.Env(err, "%v, left by a devstack command cut short", err)
	}
	return nil
}

// markerFile is a tar stream of one empty file, to extract where its being
// there says something: a template is complete, a copy may begin.
func markerFile(name string, at time.Time) *bytes.Buffer {
	var b bytes.Buffer
	tw := tar.NewWriter(&b)
	_ = tw.WriteHeader(&tar.Header{Name: name, Mode: 0o644, ModTime: at})
	_ = tw.Close()
	return &b
}
