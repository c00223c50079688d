// Package example shows a test suite that shares one devstack between its
// tests: TestMain starts it, each test gets it back freshly seeded.
package example

import (
	"context"
	"flag"
	"os"
	"testing"

	"github.com/wellcomecollection/devstack/emulator/devstacktest"
)

func TestMain(m *testing.M) {
	flag.Parse()
	if testing.Short() {
		os.Exit(0) // integration tests: make unit (-short) skips them; make test starts Docker and runs them
	}
	os.Exit(devstacktest.Main(m))
}

// A transfer written by one test is gone for the next: Shared resets.
func TestTransferIsRecorded(t *testing.T) {
	stack := devstacktest.Shared(t)
	db := stack.MySQL(t, "MCP")
	_, err := db.Exec(`INSERT INTO Transfers (transferUUID, currentLocation, type, accessionID, sourceOfAcquisition,
		typeOfTransfer, description, notes, hidden, dirUUIDs, access_system_id, status)
		VALUES ('3f1a5b9e-0000-4000-8000-000000000001', '%sharedPath%currentlyProcessing/t1/', 'standard', '', '', '', '', '', 0, 0, '', 0)`)
	if err != nil {
		t.Fatal(err)
	}
	stack.WriteFile(t, "currentlyProcessing/t1/objects/a.txt", []byte("hello"))
	if err := stack.Redis(t).Set(context.Background(), "transfer:t1", "started", 0).Err(); err != nil {
		t.Fatal(err)
	}
}

func TestStackStartsClean(t *testing.T) {
	stack := devstacktest.Shared(t)
	var n int
	if err := stack.MySQL(t, "MCP").QueryRow("SELECT COUNT(*) FROM Transfers").Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n != 0 {
		t.Errorf("%d transfers left by another test", n)
	}
	if keys, _ := stack.Redis(t).DBSize(context.Background()).Result(); keys != 0 {
		t.Errorf("%d Redis keys left by another test", keys)
	}
}

func TestSeededAdminAndProcessingConfig(t *testing.T) {
	stack := devstacktest.Shared(t)
	var key string
	err := stack.MySQL(t, "MCP").QueryRow(
		"SELECT k.`key` FROM tastypie_apikey k JOIN auth_user u ON u.id = k.user_id WHERE u.username = 'admin'").Scan(&key)
	if err != nil || key != "devstack-dashboard-admin-api-key" {
		t.Errorf("admin API key %q, %v", key, err)
	}
	cfg := stack.ReadFile(t, "sharedMicroServiceTasksConfigs/processingMCPConfigs/born_digitalProcessingMCP.xml")
	if len(cfg) == 0 {
		t.Error("born_digital processing config missing")
	}
}
