package recipients

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain fails the package's tests if any goroutine of the normalisation pipeline outlives them.
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }
