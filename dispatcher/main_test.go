package dispatcher

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain fails the package's tests if a goroutine outlives them: every test stops its handlers,
// pullers, asynq servers, clients and miniredis.
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }
