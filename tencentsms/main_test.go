package tencentsms_test

import (
	"testing"

	"go.uber.org/goleak"
)

// Every test closes its clients and servers: no connection goroutine may
// outlive the tests.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}
