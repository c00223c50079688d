package emulator

import (
	"encoding/json"
	"os/exec"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/wellcomecollection/devstack/emulator/internal/fault"
	"github.com/wellcomecollection/devstack/emulator/internal/stack"
	"github.com/wellcomecollection/devstack/emulator/seed"
)

func TestNewSecret(t *testing.T) {
	re := regexp.MustCompile(`^[A-Za-z0-9]{32}$`)
	seen := map[string]bool{}
	for range 100 {
		s := stack.NewSecret()
		if !re.MatchString(s) {
			t.Fatalf("secret %q is not 32 characters of [A-Za-z0-9]", s)
		}
		if seen[s] {
			t.Fatalf("secret %q repeated", s)
		}
		seen[s] = true
	}
}

func TestNewUUID(t *testing.T) {
	if u := seed.NewPipelineUUID(); !regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`).MatchString(u) {
		t.Fatalf("not a version 4 UUID: %s", u)
	}
}

func testVars(redisPassword string) []EnvVar {
	v := stack.Pinned{RootPassword: "rootpw", AppPassword: "apppw", RedisPassword: redisPassword, MySQLPort: 63306, RedisPort: 63379}
	return connectionEnv(stack.NamesFor("p1"), "127.0.0.1", v)
}

func lookup(vars []EnvVar, name string) string {
	for _, v := range vars {
		if v.Name == name {
			return v.Value
		}
	}
	return "<unset>"
}

func TestConnectionEnv(t *testing.T) {
	vars := testVars("")
	want := map[string]string{
		"MYSQL_HOST": "127.0.0.1", "MYSQL_PORT": "63306", "MYSQL_USER": "archivematica", "MYSQL_PASSWORD": "apppw",
		"REDIS_URL": "redis://127.0.0.1:63379/0",
		"SS_DB_URL": "mysql://archivematica:apppw@127.0.0.1:63306/SS",
	}
	for _, c := range []string{"DASHBOARD", "MCPSERVER", "MCPCLIENT"} {
		p := "ARCHIVEMATICA_" + c + "_CLIENT_"
		want[p+"HOST"], want[p+"PORT"], want[p+"USER"], want[p+"PASSWORD"], want[p+"DATABASE"] = "127.0.0.1", "63306", "archivematica", "apppw", "MCP"
	}
	for k, w := range want {
		if got := lookup(vars, k); got != w {
			t.Errorf("%s = %q, want %q", k, got, w)
		}
	}
	if got := lookup(testVars("s3cret"), "REDIS_URL"); got != "redis://:s3cret@127.0.0.1:63379/0" {
		t.Errorf("REDIS_URL with password = %q", got)
	}
	inNet := connectionEnv(stack.NamesFor("p1"), "", stack.Pinned{AppPassword: "x", MySQLPort: 40000, RedisPort: 40001})
	if lookup(inNet, "MYSQL_HOST") != "mysql" || lookup(inNet, "MYSQL_PORT") != "3306" || lookup(inNet, "REDIS_URL") != "redis://redis:6379/0" {
		t.Errorf("in-network addresses wrong: %v", inNet)
	}
}

func TestFormatsCarryTheSameVariables(t *testing.T) {
	vars := append(testVars(""), EnvVar{"ODD", `it's a "$HOME" \ test`})
	var names []string
	for _, v := range vars {
		names = append(names, v.Name)
	}
	js, err := FormatEnv(vars, "json")
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]string
	if err := json.Unmarshal([]byte(js), &m); err != nil {
		t.Fatal(err)
	}
	if len(m) != len(vars) {
		t.Fatalf("json has %d variables, want %d", len(m), len(vars))
	}
	for _, format := range []string{"dotenv", "docker", "shell"} {
		out, _ := FormatEnv(vars, format)
		var got []string
		for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
			got = append(got, strings.TrimPrefix(strings.SplitN(line, "=", 2)[0], "export "))
		}
		if !slices.Equal(got, names) {
			t.Fatalf("%s names %v, want %v", format, got, names)
		}
	}
	if _, err := FormatEnv(vars, "xml"); fault.ExitCode(err) != fault.ExitUsage {
		t.Fatalf("unknown format: %v", err)
	}
}

// tough is a value with everything env files and shells care about.
const tough = `it's a "$HOME" #1 !x ` + "`id`" + ` \ test`

func TestDockerAndDotenvLines(t *testing.T) {
	vars := []EnvVar{{"A", tough}, {"E", ""}}
	docker, _ := FormatEnv(vars, "docker")
	if want := "A=" + tough + "\nE=\n"; docker != want {
		t.Errorf("docker format:\n%s\nwant verbatim:\n%s", docker, want)
	}
	dotenv, _ := FormatEnv(vars, "dotenv")
	if want := "A='it\\'s a \"$HOME\" #1 !x `id` \\ test'\nE=''\n"; dotenv != want {
		t.Errorf("dotenv format:\n%s\nwant:\n%s", dotenv, want)
	}
}

// The shell format must survive eval in a real shell, odd characters included.
func TestShellFormatEvaluates(t *testing.T) {
	vars := append(testVars(""), EnvVar{"ODD", tough})
	sh, _ := FormatEnv(vars, "shell")
	out, err := exec.Command("sh", "-c", sh+`printf '%s|%s|%s' "$ODD" "$SS_DB_URL" "$REDIS_PASSWORD"`).Output()
	if err != nil {
		t.Fatal(err)
	}
	if want := tough + `|mysql://archivematica:apppw@127.0.0.1:63306/SS|`; string(out) != want {
		t.Fatalf("eval gave %q, want %q", out, want)
	}
}
