package worker

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain fails the package's tests if a goroutine outlives them: every test shuts down its
// workers and closes its clients, servers and miniredis.
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }
