// Package seed turns devstack's fixtures into the rows Archivematica's
// bootstrap leaves: users stored the way Django stores them, their agents,
// profiles and API keys, and the dashboard settings. It needs a database, not
// Docker.
package seed

import (
	"crypto/pbkdf2"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"fmt"
	"math/big"
	"strconv"
	"strings"
)

// DefaultIterations is Django 4.2's PBKDF2 work factor (Archivematica 1.16+);
// Django 5.2 uses 1000000.
const DefaultIterations = 600000

// MaxIterations bounds the work factor a fixture may ask for: ten times
// Django's current one, about 1.5 s a hash here. More would make every
// seed of a new stack take minutes for no development use.
const MaxIterations = 10 * DefaultIterations

const alphanumerics = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"

// RandomString returns n characters from [A-Za-z0-9] (crypto/rand), as
// Django's get_random_string does for salts.
func RandomString(n int) string {
	out := make([]byte, 0, n)
	var buf [64]byte
	for len(out) < n {
		_, _ = rand.Read(buf[:])
		for _, b := range buf {
			// 248 is the largest multiple of 62 below 256: rejecting above it
			// keeps every character equally likely.
			if b < 248 && len(out) < n {
				out = append(out, alphanumerics[b%62])
			}
		}
	}
	return string(out)
}

// HashPassword encodes a password as Django's PBKDF2PasswordHasher does:
// pbkdf2_sha256$<iterations>$<salt>$<base64 sha256 digest>. The salt, 22
// characters of [A-Za-z0-9] like Django's, is derived from the password and
// work factor, so the same fixtures give the same rows on every stack: a
// stack that compose/docker-compose.yml seeds is the one devstack seeds.
// (Random salts protect many users' hashes against precomputed tables;
// devstack's users are development accounts whose passwords are in
// users.yaml.)
func HashPassword(password string, iterations int) string {
	sum := sha256.Sum256([]byte("devstack/salt\x00" + digest(iterations, password)))
	salt := new(big.Int).SetBytes(sum[:]).Text(62)
	return hashWithSalt(password, salt[:22], iterations)
}

func hashWithSalt(password, salt string, iterations int) string {
	dk, _ := pbkdf2.Key(sha256.New, password, []byte(salt), iterations, sha256.Size)
	return fmt.Sprintf("pbkdf2_sha256$%d$%s$%s", iterations, salt, base64.StdEncoding.EncodeToString(dk))
}

// CheckPassword reports whether encoded verifies password, and with how many
// iterations it was made. Anything but a pbkdf2_sha256 hash does not verify.
func CheckPassword(password, encoded string) (ok bool, iterations int) {
	parts := strings.Split(encoded, "$")
	if len(parts) != 4 || parts[0] != "pbkdf2_sha256" {
		return false, 0
	}
	iterations, err := strconv.Atoi(parts[1])
	if err != nil || iterations < 1 {
		return false, 0
	}
	again := hashWithSalt(password, parts[2], iterations)
	return subtle.ConstantTimeCompare([]byte(again), []byte(encoded)) == 1, iterations
}
