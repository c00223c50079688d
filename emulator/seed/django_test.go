package seed

import (
	"context"
	"errors"
	"regexp"
	"strings"
	"testing"
	"time"
)

// A hash made by Django 4.2: make_password("archivematica", salt="devstacksalt", hasher="pbkdf2_sha256")
// with iterations 600000, computed independently with Python's hashlib.pbkdf2_hmac.
func TestHashMatchesDjango(t *testing.T) {
	got := hashWithSalt("archivematica", "devstacksalt", 600000)
	if got != djangoHash {
		t.Fatalf("hash %s, want %s", got, djangoHash)
	}
}

func TestHashAndCheck(t *testing.T) {
	enc := HashPassword("s3cret", 1000)
	if !regexp.MustCompile(`^pbkdf2_sha256\$1000\$[A-Za-z0-9]{22}\$[A-Za-z0-9+/]{43}=$`).MatchString(enc) {
		t.Fatalf("encoded %q", enc)
	}
	if ok, it := CheckPassword("s3cret", enc); !ok || it != 1000 {
		t.Errorf("own hash does not verify: %v %d", ok, it)
	}
	if ok, _ := CheckPassword("other", enc); ok {
		t.Error("wrong password verifies")
	}
	// Derived, not random: the same password and work factor give the same
	// hash on every stack, another password another salt.
	if HashPassword("s3cret", 1000) != enc || strings.Split(HashPassword("other", 1000), "$")[2] == strings.Split(enc, "$")[2] {
		t.Error("salts are not derived from password and work factor")
	}
	for _, bad := range []string{"", "md5$1$x$y", "pbkdf2_sha256$x$salt$h", "pbkdf2_sha256$0$salt$h", "!unusable"} {
		if ok, _ := CheckPassword("s3cret", bad); ok {
			t.Errorf("%q verifies", bad)
		}
	}
}

const djangoHash = "pbkdf2_sha256$600000$devstacksalt$3ojtcK/GZ2vdwk/gjxAZjiVPWedXRw0Ks0eXFsYnq/Y="

// Hashing gives up when its command is cancelled: a seed at a high work
// factor must not hold the project lock for minutes after SIGTERM.
func TestHashingStopsOnCancel(t *testing.T) {
	s := NewSeeder(&Fixtures{})
	ctx, cancel := context.WithCancel(context.Background())
	go func() { time.Sleep(50 * time.Millisecond); cancel() }()
	start := time.Now()
	m, err := newMemStore(nil)
	if err != nil {
		t.Fatal(err)
	}
	_, err = s.hashFor(ctx, m, MaxIterations*100, "slow")
	if !errors.Is(err, context.Canceled) || time.Since(start) > time.Second {
		t.Errorf("hashing went on after cancel: %v after %s", err, time.Since(start))
	}
}
