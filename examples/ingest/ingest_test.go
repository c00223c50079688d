// The Go example of docs/harness.md, kept compiling and passing by CI.
package ingest_test

import (
	"context"
	"testing"

	"github.com/wellcomecollection/devstack/emulator/devstacktest"
)

func TestIngest(t *testing.T) {
	if testing.Short() {
		t.Skip("integration test: -short (make unit) skips it; make test starts Docker and runs it")
	}
	stack := devstacktest.Start(t) // own project, free ports, seeded; removed in t.Cleanup
	db := stack.MySQL(t, "MCP")    // *sql.DB as the app user
	rdb := stack.Redis(t)          // *redis.Client

	stack.WriteFile(t, "watchedDirectories/activeTransfers/standardTransfer/t1/a.txt", []byte("hi"))
	if _, err := db.Exec(`INSERT INTO SIPs (sipUUID, createdTime, hidden, sipType, dirUUIDs, status)
		VALUES (UUID(), NOW(6), 0, 'SIP', 0, 0)`); err != nil {
		t.Fatal(err)
	}
	if err := rdb.Set(context.Background(), "sip:t1", "queued", 0).Err(); err != nil {
		t.Fatal(err)
	}

	var admins int
	if err := db.QueryRow("SELECT COUNT(*) FROM auth_user WHERE is_superuser").Scan(&admins); err != nil || admins != 1 {
		t.Fatalf("seeded admins: %d, %v", admins, err)
	}

	stack.Reset(t) // back to the freshly seeded state: tables, Redis, shared directory
}
