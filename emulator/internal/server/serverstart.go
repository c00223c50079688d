package server

import (
	"archive/tar"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"path"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/wellcomecollection/devstack/emulator/config"
	"github.com/wellcomecollection/devstack/emulator/event"
	"github.com/wellcomecollection/devstack/emulator/fault"
	"github.com/wellcomecollection/devstack/emulator/internal/docker"
	"github.com/wellcomecollection/devstack/emulator/internal/engine"
	"github.com/wellcomecollection/devstack/emulator/internal/stack"
)

// How a MySQL container's server starts.
//
// devstack assumes of a MySQL image only the official interface: the MYSQL_*
// variables, data in /var/lib/mysql, and an ENTRYPOINT and CMD that start
// the server and take server options as arguments. So every MySQL server it
// runs, a template's builder's and every stack's, is started by the image's
// own ENTRYPOINT and CMD with devstack's server options appended, read from
// the image's configuration. Whatever the entrypoint prepares (directories,
// the listen address, configuration made from the environment, a switch of
// user) it prepares.
//
// Entrypoints cost time at every start, also on a data directory that is
// initialised already: the official ones read the server's configuration
// with `mysqld --verbose --help` up to 18 times (some 3 s for MySQL 9.7). So
// devstack skips an entrypoint where it has seen, for that image and those
// options, everything the entrypoint did to start the server, and can do
// exactly that itself: a direct start. It watches the entrypoint once, in
// the template's builder, once the server it started answers:
//   - PID 1 must be the server itself (mysqld or mariadbd), which the
//     entrypoint exec'd: its argv, user, umask and environment are read
//     from /proc/1;
//   - the container's own filesystem, against its image's (the engine's
//     diff), tells what the entrypoint made or changed outside the volumes:
//     folders, links and small files are made again, with their owners and
//     modes; what the server itself makes (its socket, pid and lock files)
//     is left to it;
//   - anything else (a file deleted, a large or secret-bearing file, a
//     server that is not PID 1, a user switch devstack cannot repeat) means
//     no direct start for that image: the entrypoint runs every time.
//
// What was seen is kept as a label of a small volume per image and options
// (devstack-start-<key>), so that every stack of the image starts directly.
// A direct start that fails falls back to the image's entrypoint, once, and
// the image is not started directly again.

const (
	// labelDirectStart, on a direct start's volume, holds what devstack saw
	// the entrypoint do (DirectStart, as JSON).
	labelDirectStart = "io.devstack.direct-start"
	// labelDirectStartImage lets prune find the ones whose image is gone.
	labelDirectStartImage = "io.devstack.direct-start-image-id"
	// LabelStart, on a MySQL container, says how its server was started:
	// startEntrypoint or startDirect.
	LabelStart      = "io.devstack.start"
	startEntrypoint = "entrypoint"
	startDirect     = "direct"
)

// directStartFormat is the version of what a direct start records; a
// change watches entrypoints again.
const directStartFormat = 1

func directStartVolume(key string) string { return "devstack-start-" + key }

// directStartKey identifies an image with a command: a direct start holds
// for those only (options can change what an entrypoint prepares, a folder
// for a log file, say).
func directStartKey(imageID string, cmd []string) string {
	h := sha256.New()
	fmt.Fprintf(h, "format %d\nimage %s\n", directStartFormat, imageID)
	for _, a := range cmd {
		fmt.Fprintf(h, "arg %q\n", a)
	}
	return hex.EncodeToString(h.Sum(nil)[:8])
}

// serverCommand is the command an image's entrypoint is given: the image's
// own CMD with devstack's server options after it.
func serverCommand(img docker.Image, options []string) []string {
	return append(slices.Clone(img.Cmd), options...)
}

// DirectStart is how to start an image's server without its entrypoint, as
// devstack saw the entrypoint do it; Why says why not, when it cannot be.
type DirectStart struct {
	Why  string   `json:"why,omitempty"`
	Argv []string `json:"argv,omitempty"`
	// Umask is the server's umask at its start, where it differs.
	Umask string `json:"umask,omitempty"`
	// Env and Unset are what the entrypoint changed in the environment;
	// Copy are variables it set to another's value (NAME=OTHER): a password
	// under the name its image reads (MARIADB_ROOT_PASSWORD from
	// MYSQL_ROOT_PASSWORD), which each container has its own of.
	Env   []string `json:"env,omitempty"`
	Unset []string `json:"unset,omitempty"`
	Copy  []string `json:"copy,omitempty"`
	// Chown is uid:gid that the data directory's files must belong to: the
	// server's, where the container runs as root and the server does not
	// (the entrypoints give them to it, and a snapshot may come from an
	// image with another uid).
	Chown string      `json:"chown,omitempty"`
	Paths []startPath `json:"paths,omitempty"`
}

// startPath is a folder, link or file the entrypoint made or changed.
type startPath struct {
	Path    string `json:"path"`
	Type    string `json:"type"` // dir, link or file
	Owner   string `json:"owner,omitempty"`
	Mode    string `json:"mode,omitempty"`
	Target  string `json:"target,omitempty"`
	Content string `json:"content,omitempty"`
}

// directScript does what a DirectStart says, then execs the server. Its
// arguments are directives, then -- and the server's argv; a folder or file
// it cannot make fails it (exit 70), and the image's entrypoint takes over.
// Owners and modes are set as the entrypoint set them; where that fails,
// the entrypoint (as the same user) did not change them either.
const directScript = `while [ $# -gt 0 ]; do
	case $1 in
	-i) n=$2; shift 2
		if [ -d /var/lib/mysql/mysql ]; then shift "$n"; else
			c=$# i=0
			for a do i=$((i + 1)); [ "$i" -le "$n" ] && set -- "$@" "$a"; done
			shift "$c"; exec "$@"
		fi ;;
	-m) umask "$2"; shift 2 ;;
	-e) export "$2"; shift 2 ;;
	-u) unset "$2"; shift 2 ;;
	-r) eval "$2=\${$3-}"; export "$2"; shift 3 ;;
	-d) mkdir -p "$2" || exit 70; chown "$3" "$2" 2>/dev/null; chmod "$4" "$2" 2>/dev/null; shift 4 ;;
	-l) ln -sfn "$2" "$3" || exit 70; shift 3 ;;
	-f) printf '%s' "$5" >"$2" || exit 70; chown "$3" "$2" 2>/dev/null; chmod "$4" "$2" 2>/dev/null; shift 5 ;;
	-c) find /var/lib/mysql \! -user "${2%:*}" -exec chown "$2" {} + || exit 70; shift 2 ;;
	--) shift; exec "$@" ;;
	*) echo "devstack: unknown directive $1" >&2; exit 70 ;;
	esac
done
exit 70`

// args are directScript's arguments.
func (d DirectStart) args() []string {
	var a []string
	if d.Umask != "" {
		a = append(a, "-m", d.Umask)
	}
	for _, kv := range d.Env {
		a = append(a, "-e", kv)
	}
	for _, k := range d.Unset {
		a = append(a, "-u", k)
	}
	for _, kv := range d.Copy {
		k, from, _ := strings.Cut(kv, "=")
		a = append(a, "-r", k, from)
	}
	if d.Chown != "" {
		a = append(a, "-c", d.Chown)
	}
	for _, p := range d.Paths {
		switch p.Type {
		case "dir":
			a = append(a, "-d", p.Path, p.Owner, p.Mode)
		case "link":
			a = append(a, "-l", p.Target, p.Path)
		case "file":
			a = append(a, "-f", p.Path, p.Owner, p.Mode, p.Content)
		}
	}
	return append(append(a, "--"), d.Argv...)
}

// ServerStart is how a MySQL container's server is started: the key and
// image of the direct start it takes, when it takes one.
type ServerStart struct {
	Direct       bool
	Key, ImageID string
}

// ServerSpec is a MySQL container's spec as it is made: started by the
// image's entrypoint with the image's command and the spec's options
// (spec.Cmd) after it, or, when direct allows it, directly where devstack
// has seen how. The container's LabelStart says which.
func (e *Engine) ServerSpec(ctx context.Context, s docker.ContainerSpec, direct bool) (docker.ContainerSpec, ServerStart, error) {
	img, err := e.Docker.Image(ctx, s.Image)
	if err != nil {
		return s, ServerStart{}, err
	}
	s.Cmd = serverCommand(img, s.Cmd)
	how := ServerStart{Key: directStartKey(img.ID, s.Cmd), ImageID: img.ID}
	if direct {
		if d, ok := e.findDirectStart(ctx, how.Key); ok && d.Why == "" {
			// A data directory that is not initialised yet (an empty volume)
			// goes to the image's entrypoint, which initialises it: the check
			// the official entrypoints make.
			entrypoint := append(slices.Clone(img.Entrypoint), s.Cmd...)
			s.Entrypoint = []string{"sh", "-c", directScript, "devstack-mysql"}
			s.Cmd = append(append([]string{"-i", strconv.Itoa(len(entrypoint))}, entrypoint...), d.args()...)
			how.Direct = true
		}
	}
	s.Labels = cloneWith(s.Labels, LabelStart, map[bool]string{true: startDirect, false: startEntrypoint}[how.Direct])
	return s, how, nil
}

func cloneWith(m map[string]string, k, v string) map[string]string {
	out := make(map[string]string, len(m)+1)
	for mk, mv := range m {
		out[mk] = mv
	}
	out[k] = v
	return out
}

// findDirectStart returns what devstack saw an image's entrypoint do, if it
// watched it.
func (e *Engine) findDirectStart(ctx context.Context, key string) (DirectStart, bool) {
	v, err := e.Docker.Volume(ctx, directStartVolume(key))
	if err != nil {
		return DirectStart{}, false
	}
	var d DirectStart
	if err := json.Unmarshal([]byte(v.Labels[labelDirectStart]), &d); err != nil {
		return DirectStart{}, false
	}
	return d, true
}

// KeepDirectStart records what devstack saw, replacing what it saw before
// (a direct start that failed is recorded as one that cannot be).
func (e *Engine) KeepDirectStart(ctx context.Context, key, imageID string, d DirectStart) error {
	b, _ := json.Marshal(d)
	name := directStartVolume(key)
	if err := e.Docker.RemoveVolume(ctx, name); err != nil && !engine.IsNotFound(err) {
		return err
	}
	labels := map[string]string{labelDirectStart: string(b), labelDirectStartImage: imageID, stack.LabelCreated: time.Now().UTC().Format(time.RFC3339)}
	if err := e.Docker.CreateVolume(ctx, docker.Volume{Name: name, Labels: labels}); err != nil {
		return fault.Env(err, "%v, to record how %s starts", err, imageID)
	}
	return nil
}

// watchLimit bounds what a direct start makes again: a file or a folder the
// size of a configuration, not of a data set, and few of them.
const (
	watchFileLimit  = 64 << 10
	watchPathsLimit = 200
)

// watchEntrypoint works out a direct start from a container whose image's
// entrypoint started a server that answers. secrets are values that must not
// end up in a direct start (the container's passwords): an entrypoint that
// hands them on in a file or an argument is repeated by running it.
func (e *Engine) watchEntrypoint(ctx context.Context, name string, secrets []string) (DirectStart, error) {
	c := engine.InContainer{Docker: e.Docker, Name: name}
	self, err := c.Exec(ctx, "sh", "-c", `cat /proc/1/cmdline && printf '\n@@\n' && cat /proc/1/status && printf '\n@@\n' && cat /proc/self/status && printf '\n@@\n' && exec cat /proc/self/environ`)
	if err != nil {
		return DirectStart{}, err
	}
	parts := strings.Split(self, "\n@@\n")
	if len(parts) != 4 {
		return DirectStart{Why: "cannot read the server's process"}, nil
	}
	argv := nulFields(parts[0])
	server, own := procIDs(parts[1]), procIDs(parts[2])
	if len(argv) == 0 || !slices.Contains([]string{"mysqld", "mariadbd"}, path.Base(argv[0])) {
		return DirectStart{Why: fmt.Sprintf("the entrypoint does not exec the server: PID 1 is %q", strings.Join(argv, " "))}, nil
	}
	// The server's environment is readable only as its own user, or with
	// CAP_SYS_PTRACE once it has switched users itself (the builder has it).
	env, err := e.serverEnv(ctx, name, server)
	if err != nil {
		return DirectStart{Why: "cannot read the server's environment: " + strings.ReplaceAll(err.Error(), "\n", "; ")}, nil
	}
	d := DirectStart{Argv: argv}
	if why := d.user(server, own); why != "" {
		return DirectStart{Why: why}, nil
	}
	if server.umask != own.umask {
		d.Umask = server.umask
	}
	d.Env, d.Unset = envChanges(nulFields(parts[3]), env)
	d.Env, d.Copy = copiedSecrets(d.Env, nulFields(parts[3]), secrets)
	if why := d.changes(ctx, e.Docker, name); why != "" {
		return DirectStart{Why: why}, nil
	}
	b, _ := json.Marshal(d)
	for _, s := range secrets {
		if s != "" && strings.Contains(string(b), s) {
			return DirectStart{Why: "the entrypoint hands a password on to the server"}, nil
		}
	}
	if len(b) > watchFileLimit {
		return DirectStart{Why: "the entrypoint prepares too much to repeat it"}, nil
	}
	return d, nil
}

// serverEnv reads PID 1's environment: as its own user, else as root.
func (e *Engine) serverEnv(ctx context.Context, name string, server procStatus) ([]string, error) {
	var err error
	for _, user := range []string{server.uid + ":" + server.gid, "0:0"} {
		var out, errOut strings.Builder
		code, xerr := e.Docker.Exec(ctx, name, docker.Exec{Cmd: []string{"cat", "/proc/1/environ"}, User: user, Stdout: &out, Stderr: &errOut})
		if xerr == nil && code == 0 {
			return nulFields(out.String()), nil
		}
		err = errors.Join(xerr, errors.New(strings.TrimSpace(errOut.String())))
	}
	return nil, err
}

// user works out how the server comes to run as its user: as the
// container's, or switched from root, by the server itself (--user, or its
// configuration) or by the entrypoint (gosu, setpriv), which --user repeats.
func (d *DirectStart) user(server, own procStatus) string {
	switch {
	case server.uid == own.uid && server.gid == own.gid:
		return ""
	case own.uid != "0":
		return fmt.Sprintf("the server runs as uid %s, the container as uid %s", server.uid, own.uid)
	}
	d.Chown = server.uid + ":" + server.gid
	if !slices.ContainsFunc(d.Argv[1:], func(a string) bool {
		return a == "-u" || strings.HasPrefix(a, "--user=") || a == "--user" || strings.HasPrefix(a, "-u") && len(a) > 2
	}) {
		d.Argv = append(d.Argv, "--user="+server.uid)
	}
	return ""
}

// procStatus is what devstack reads of a process's /proc/PID/status.
type procStatus struct{ uid, gid, umask string }

func procIDs(status string) procStatus {
	var p procStatus
	for line := range strings.Lines(status) {
		k, v, _ := strings.Cut(line, ":")
		f := strings.Fields(v)
		if len(f) == 0 {
			continue
		}
		switch k {
		case "Uid":
			p.uid = f[0]
		case "Gid":
			p.gid = f[0]
		case "Umask":
			p.umask = f[0]
		}
	}
	return p
}

func nulFields(s string) []string {
	return strings.FieldsFunc(s, func(r rune) bool { return r == 0 })
}

// shellVariables are what a shell sets of its own, which an exec's
// environment has and the server's need not, and what the engine sets for
// each container (Podman gives an exec no HOSTNAME).
var shellVariables = []string{"PWD", "OLDPWD", "SHLVL", "_", "HOSTNAME"}

// envChanges are the variables the server's environment sets otherwise than
// the container gives them (an exec's), and those it lacks.
func envChanges(exec, server []string) (set, unset []string) {
	given := map[string]string{}
	for _, kv := range exec {
		k, v, _ := strings.Cut(kv, "=")
		given[k] = v
	}
	seen := map[string]bool{}
	for _, kv := range server {
		k, v, _ := strings.Cut(kv, "=")
		seen[k] = true
		if g, ok := given[k]; (!ok || g != v) && !slices.Contains(shellVariables, k) {
			set = append(set, kv)
		}
	}
	for k := range given {
		if !seen[k] && !slices.Contains(shellVariables, k) {
			unset = append(unset, k)
		}
	}
	slices.Sort(set)
	slices.Sort(unset)
	return set, unset
}

var variableName = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// copiedSecrets takes out of set the variables whose value is a secret that
// a variable of the container's environment (given) holds: they become
// copies of that variable, which every container has its own value of.
func copiedSecrets(set, given, secrets []string) (kept, copies []string) {
	holder := map[string]string{}
	for _, kv := range given {
		k, v, _ := strings.Cut(kv, "=")
		if slices.Contains(secrets, v) && v != "" && holder[v] == "" && variableName.MatchString(k) {
			holder[v] = k
		}
	}
	for _, kv := range set {
		k, v, _ := strings.Cut(kv, "=")
		if from := holder[v]; from != "" && variableName.MatchString(k) {
			copies = append(copies, k+"="+from)
			continue
		}
		kept = append(kept, kv)
	}
	return kept, copies
}

// runtimeFile is what the server makes for itself at every start, outside
// its data: its socket, pid file and locks.
func runtimeFile(p string) bool {
	for _, suffix := range []string{".sock", ".pid", ".lock"} {
		if strings.HasSuffix(p, suffix) {
			return true
		}
	}
	return false
}

// changes reads what the entrypoint made or changed in the container's own
// filesystem; it returns why that cannot be repeated, or "".
func (d *DirectStart) changes(ctx context.Context, dc docker.Client, name string) string {
	changes, err := dc.Changes(ctx, name)
	if err != nil {
		return err.Error()
	}
	var paths []string
	for _, c := range changes {
		if c.Kind == docker.Deleted {
			return "the entrypoint deletes " + c.Path
		}
		if !runtimeFile(c.Path) && c.Path != CloneMount {
			paths = append(paths, c.Path)
		}
	}
	if len(paths) > watchPathsLimit {
		return "the entrypoint changes too many files"
	}
	owners, err := statPaths(ctx, dc, name, paths)
	if err != nil {
		return err.Error()
	}
	for _, p := range paths {
		sp, why := readPath(ctx, dc, name, p)
		if why != "" {
			return why
		}
		if o, ok := owners[p]; ok && sp != nil {
			if sp.Type != "link" {
				sp.Owner, sp.Mode = o.owner, o.mode
			}
			d.Paths = append(d.Paths, *sp)
		}
	}
	slices.SortFunc(d.Paths, func(a, b startPath) int { return strings.Compare(a.Path, b.Path) })
	return ""
}

type pathOwner struct{ owner, mode string }

// statPaths reads the owners and modes of paths as the container has them:
// engines' archives do not all say (Podman's gives every file 0:0).
// Paths that are gone are left out.
func statPaths(ctx context.Context, dc docker.Client, name string, paths []string) (map[string]pathOwner, error) {
	out := map[string]pathOwner{}
	if len(paths) == 0 {
		return out, nil
	}
	var stdout strings.Builder
	if _, err := dc.Exec(ctx, name, docker.Exec{Cmd: append([]string{"stat", "-c", "%u:%g %a %n", "--"}, paths...), Stdout: &stdout}); err != nil {
		return nil, err
	}
	for line := range strings.Lines(stdout.String()) {
		f := strings.SplitN(strings.TrimSuffix(line, "\n"), " ", 3)
		if len(f) == 3 {
			out[f[2]] = pathOwner{owner: f[0], mode: f[1]}
		}
	}
	return out, nil
}

// readPath reads one changed path as the container has it: its kind, a
// file's content, a link's target; nil for one that is gone or that the
// engine does not copy (a socket).
func readPath(ctx context.Context, dc docker.Client, name, p string) (*startPath, string) {
	rc, err := dc.CopyFrom(ctx, name, p)
	if engine.IsNotFound(err) {
		return nil, ""
	}
	if err != nil {
		return nil, err.Error()
	}
	defer rc.Close()
	tr := tar.NewReader(rc)
	h, err := tr.Next()
	if err == io.EOF {
		return nil, ""
	}
	if err != nil {
		return nil, "cannot read " + p + ": " + err.Error()
	}
	sp := &startPath{Path: p}
	switch h.Typeflag {
	case tar.TypeDir:
		sp.Type = "dir"
	case tar.TypeSymlink:
		sp.Type, sp.Target = "link", h.Linkname
	case tar.TypeReg:
		if h.Size > watchFileLimit {
			return nil, fmt.Sprintf("the entrypoint writes %s (%d bytes)", p, h.Size)
		}
		b, err := io.ReadAll(tr)
		if err != nil {
			return nil, "cannot read " + p + ": " + err.Error()
		}
		if slices.Contains(b, 0) {
			return nil, "the entrypoint writes a binary file, " + p
		}
		sp.Type, sp.Content = "file", string(b)
	default:
		return nil, "the entrypoint makes " + p + ", neither a folder, a link nor a file"
	}
	return sp, ""
}

// pruneDirectStarts removes what devstack saw of images' entrypoints: all
// of it, or that of images that are gone. A template's next build watches
// the entrypoint again.
func (e *Engine) pruneDirectStarts(ctx context.Context, all bool, progress event.Sink) ([]string, error) {
	vs, err := e.Docker.Volumes(ctx, labelDirectStart)
	if err != nil {
		return nil, err
	}
	removed := []string{}
	for _, v := range vs {
		if img, err := e.Docker.Image(ctx, v.Labels[labelDirectStartImage]); !all && err == nil && img.ID != "" {
			continue
		}
		progress.Note("removing %s (how an image's server starts)", v.Name)
		if err := e.Docker.RemoveVolume(ctx, v.Name); err != nil && !engine.IsNotFound(err) {
			return removed, err
		}
		removed = append(removed, v.Name)
	}
	return removed, nil
}

// ServerStartNote says, for doctor, how the servers of a MySQL image start
// with cfg's options: directly, through the entrypoint (and why), or not
// known until a template is made.
func (e *Engine) ServerStartNote(ctx context.Context, cfg config.Config, role string, img docker.Image) string {
	if role != config.ServiceMySQL {
		return ""
	}
	d, ok := e.findDirectStart(ctx, directStartKey(img.ID, serverCommand(img, config.ServerArgs(cfg.MySQL.ServerOptions))))
	switch {
	case !ok:
		return " (its entrypoint is watched when a template is made)"
	case d.Why != "":
		return " (servers start through its entrypoint: " + d.Why + ")"
	}
	return " (servers start directly, as its entrypoint starts them)"
}
