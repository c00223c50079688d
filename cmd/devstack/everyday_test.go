package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/wellcomecollection/devstack/emulator"
)

// logs, shell and shared files on one running stack.
func TestLogsShellAndSharedFiles(t *testing.T) {
	t.Parallel()
	s := newStack(t, "DEVSTACK_REDIS_PASSWORD=s3cr3t-redis")
	s.mustRun("up")

	t.Run("logs", func(t *testing.T) {
		all := s.mustRun("logs").stdout
		if !strings.Contains(all, "mysql | ") || !strings.Contains(all, "redis | ") {
			t.Errorf("logs of several services are not prefixed:\n%.600s", all)
		}
		one := s.mustRun("logs", "redis", "--tail", "2").stdout
		if lines := strings.Split(strings.TrimSpace(one), "\n"); len(lines) != 2 || strings.Contains(one, "redis | ") {
			t.Errorf("logs redis --tail 2:\n%s", one)
		}
		for _, args := range [][]string{{"logs", "nosuch"}, {"logs", "--tail", "x"}, {"logs", "--since", "yesterday"}} {
			if r := s.run(args...); r.code != 2 {
				t.Errorf("%v: exit %d, want 2\n%s", args, r.code, r.stderr)
			}
		}
		// -f follows until interrupted.
		cmd := exec.Command(binary, "-p", s.project, "logs", "-f", "--tail", "0", "redis")
		cmd.Env = append(os.Environ(), s.env...)
		out := &lockedBuffer{}
		cmd.Stdout, cmd.Stderr = out, out
		must(t, cmd.Start())
		// A save logs a line; until -f is attached, another one is asked for.
		for deadline := time.Now().Add(30 * time.Second); !strings.Contains(out.String(), "Background saving") && time.Now().Before(deadline); {
			s.mustRun("shell", "redis", "--", "BGSAVE")
			for wait := time.Now().Add(time.Second); !strings.Contains(out.String(), "Background saving") && time.Now().Before(wait); {
				time.Sleep(50 * time.Millisecond)
			}
		}
		must(t, cmd.Process.Signal(syscall.SIGINT))
		err := cmd.Wait()
		if !strings.Contains(out.String(), "Background saving") || err != nil {
			t.Errorf("logs -f: %v\n%s", err, out)
		}
	})

	t.Run("shell", func(t *testing.T) {
		if got := s.mustRun("shell", "mysql", "--", "-N", "-e", "SELECT DATABASE(), CURRENT_USER()").stdout; got != "MCP\tarchivematica@%\n" {
			t.Errorf("shell mysql: %q", got)
		}
		if got := s.mustRun("shell", "mysql", "--root", "--db", "SS", "--", "-N", "-e", "SELECT DATABASE(), USER() LIKE 'root@%'").stdout; got != "SS\t1\n" {
			t.Errorf("shell mysql --root --db SS: %q", got)
		}
		if got := s.mustRun("shell", "redis", "--", "PING").stdout; strings.TrimSpace(got) != "PONG" {
			t.Errorf("shell redis (with a password): %q", got)
		}
		// The client's own failure is the exit code.
		if r := s.run("shell", "mysql", "--", "-e", "SELECT * FROM nosuch"); r.code != 1 || !strings.Contains(r.stderr, "nosuch") {
			t.Errorf("a failing query: exit %d\n%s", r.code, r.stderr)
		}
		for _, args := range [][]string{{"shell", "nosuch"}, {"shell", "redis", "--root"}, {"shell", "mysql", "--db", "other"}, {"shell", "mysql", "-e", "SELECT 1"}} {
			if r := s.run(args...); r.code != 2 {
				t.Errorf("%v: exit %d, want 2\n%s", args, r.code, r.stderr)
			}
		}
		// On a terminal the client is interactive, with a terminal of its own.
		master, tty := ptyPair(t)
		inter := exec.Command(binary, "-p", s.project, "shell", "redis")
		inter.Env = append(os.Environ(), s.env...)
		inter.Stdin, inter.Stdout, inter.Stderr = tty, tty, tty
		must(t, inter.Start())
		screen := &lockedBuffer{}
		go func() {
			// A terminal of 80 columns: it shows the output, and answers
			// each of redis-cli's questions where the cursor is.
			buf := make([]byte, 4096)
			for {
				n, err := master.Read(buf)
				if n > 0 {
					_, _ = screen.Write(buf[:n])
					for range strings.Count(string(buf[:n]), "\x1b[6n") {
						_, _ = master.WriteString("\x1b[24;80R")
					}
				}
				if err != nil {
					return
				}
			}
		}()
		// Type only at a prompt: the line editor reads its answers from the
		// same input.
		await := func(pattern string) {
			re := regexp.MustCompile(pattern)
			for deadline := time.Now().Add(20 * time.Second); !re.MatchString(screen.String()) && time.Now().Before(deadline); {
				time.Sleep(50 * time.Millisecond)
			}
		}
		await(`6379> $`)
		_, _ = master.WriteString("PING\r")
		await(`PONG(?s:.*)6379> $`)
		_, _ = master.WriteString("quit\r")
		exited := make(chan error, 1)
		go func() { exited <- inter.Wait() }()
		select {
		case err := <-exited:
			if err != nil || !strings.Contains(screen.String(), "PONG") || !strings.Contains(screen.String(), "127.0.0.1:6379>") {
				t.Errorf("interactive redis-cli: %v\n%q", err, screen.String())
			}
		case <-time.After(30 * time.Second):
			_ = inter.Process.Kill()
			t.Errorf("interactive redis-cli did not end:\n%q", screen.String())
		}

		// Passwords are in no process's argv while the client runs.
		env := s.envMap()
		slow := exec.Command(binary, "-p", s.project, "shell", "mysql", "--", "-e", "SELECT SLEEP(3)")
		slow.Env = append(os.Environ(), s.env...)
		must(t, slow.Start())
		// Every process's argv, in both containers, once the client runs.
		var argv string
		for deadline := time.Now().Add(30 * time.Second); !strings.Contains(argv, "SLEEP(3)") && time.Now().Before(deadline); {
			argv = ""
			for _, c := range []string{"mysql", "redis"} {
				argv += docker(t, "exec", "devstack-"+s.project+"-"+c, "sh", "-c", `cat /proc/[0-9]*/cmdline | tr '\0' ' '`)
			}
		}
		_ = slow.Wait()
		if !strings.Contains(argv, "SLEEP(3)") {
			t.Fatalf("the client was not seen running: %s", argv)
		}
		for _, pw := range []string{env["MYSQL_PASSWORD"], env["MYSQL_ROOT_PASSWORD"]} {
			if strings.Contains(argv, pw) {
				t.Errorf("a password is in argv: %s", argv)
			}
		}
	})

	t.Run("shared files", func(t *testing.T) {
		local := t.TempDir()
		tree := filepath.Join(local, "transfer1")
		must(t, os.MkdirAll(filepath.Join(tree, "sub"), 0o755))
		must(t, os.WriteFile(filepath.Join(tree, "a.txt"), []byte("hello"), 0o640))
		must(t, os.WriteFile(filepath.Join(tree, "run.sh"), []byte("#!/bin/sh\n"), 0o755))
		must(t, os.WriteFile(filepath.Join(tree, "sub", "b.bin"), bytes.Repeat([]byte{0, 1, 2}, 5000), 0o600))
		must(t, os.Symlink("../a.txt", filepath.Join(tree, "sub", "link")))
		must(t, os.Chmod(filepath.Join(tree, "sub"), 0o750))

		dest := "watchedDirectories/activeTransfers/standardTransfer"
		if got := s.mustRun("shared", "put", tree, dest).stdout; !strings.Contains(got, dest+"/transfer1") {
			t.Errorf("put said %q", got)
		}
		var entries []emulator.SharedEntry
		must(t, json.Unmarshal([]byte(s.mustRun("shared", "ls", dest+"/transfer1", "-o", "json").stdout), &entries))
		got := map[string]string{}
		for _, e := range entries {
			got[strings.TrimPrefix(e.Path, dest+"/transfer1/")] = fmt.Sprintf("%s %s %d:%d", e.Type, e.Mode, e.UID, e.GID)
		}
		want := map[string]string{"a.txt": "file 0640 1000:1000", "run.sh": "file 0755 1000:1000", "sub": "dir 0750 1000:1000"}
		for k, v := range want {
			if got[k] != v {
				t.Errorf("ls %s: %q, want %q (all: %v)", k, got[k], v, got)
			}
		}
		if text := s.mustRun("shared", "ls", dest+"/transfer1/sub").stdout; !strings.Contains(text, "-rw-------") || !strings.Contains(text, "link -> ../a.txt") {
			t.Errorf("shared ls:\n%s", text)
		}
		back := filepath.Join(local, "back")
		s.mustRun("shared", "get", dest+"/transfer1", back)
		if a, b := treeListing(t, tree), treeListing(t, back); a != b {
			t.Errorf("round trip differs:\n%s\n---\n%s", a, b)
		}
		// Again onto what is there: refused, nothing replaced.
		if r := s.run("shared", "put", tree, dest); r.code != 2 || !strings.Contains(r.stderr, "exists") {
			t.Errorf("a second put of the tree: exit %d\n%s", r.code, r.stderr)
		}
		if r := s.run("shared", "get", dest+"/transfer1/a.txt", filepath.Join(back, "a.txt")); r.code != 2 {
			t.Errorf("get onto what exists: exit %d\n%s", r.code, r.stderr)
		}

		// Ways out of the volume.
		s.helper("ln", "-s", "/etc", emulator.SharedDir+"/out")
		outside := filepath.Join(local, "outside")
		must(t, os.MkdirAll(outside, 0o755))
		must(t, os.Symlink("/etc/passwd", filepath.Join(outside, "passwd")))
		for _, args := range [][]string{
			{"shared", "ls", ".."}, {"shared", "ls", "/etc"}, {"shared", "ls", "out"}, {"shared", "ls", "out/"},
			{"shared", "get", "../../../etc/passwd"}, {"shared", "get", "/etc/passwd"}, {"shared", "get", "out/passwd"},
			{"shared", "put", tree, "../x"}, {"shared", "put", tree, "/tmp/x"}, {"shared", "put", tree, "out/x"},
			{"shared", "put", outside, "outside"}, {"shared", "get", "nosuch"}, {"shared", "put", filepath.Join(local, "nosuch")},
		} {
			if r := s.run(args...); r.code != 2 {
				t.Errorf("%v: exit %d, want 2\n%s", args, r.code, r.stderr)
			}
		}
		if strings.Contains(s.helper("ls", "-a", emulator.SharedDir), "devstack-put") {
			t.Error("a refused put left a temporary entry")
		}
	})
}

// A put that does not fit fails as the environment's failure, and leaves
// nothing under its name, nor its temporary copy.
func TestSharedPutIntoAFullVolume(t *testing.T) {
	t.Parallel()
	s := newStack(t)
	docker(t, "volume", "create", "--driver", "local", "--opt", "type=tmpfs", "--opt", "device=tmpfs", "--opt", "o=size=1m",
		"--label", emulator.LabelProject+"="+s.project, "--label", emulator.LabelService+"=shared", "devstack-"+s.project+"-shared")
	s.mustRun("up")
	big := filepath.Join(t.TempDir(), "big")
	must(t, os.MkdirAll(big, 0o755))
	for _, name := range []string{"1.bin", "2.bin", "3.bin"} {
		must(t, os.WriteFile(filepath.Join(big, name), bytes.Repeat([]byte("x"), 400<<10), 0o644))
	}
	r := s.run("shared", "put", big, "s3_transfers")
	if r.code != 1 || !strings.Contains(r.stderr, "no space left") {
		t.Fatalf("put into a full volume: exit %d\n%s", r.code, r.stderr)
	}
	if left := s.helper("ls", "-a", emulator.SharedDir+"/s3_transfers"); left != ". \n.." && strings.TrimSpace(strings.ReplaceAll(left, "\n", " ")) != ". .." {
		t.Errorf("left in s3_transfers: %q", left)
	}
	// The space is free again: a small put goes through.
	small := filepath.Join(t.TempDir(), "small.txt")
	must(t, os.WriteFile(small, []byte("fits"), 0o644))
	s.mustRun("shared", "put", small, "s3_transfers")
	if got := s.helper("cat", emulator.SharedDir+"/s3_transfers/small.txt"); got != "fits" {
		t.Errorf("after the failed put: %q", got)
	}
}
