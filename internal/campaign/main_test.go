package campaign

import (
	"os"
	"testing"

	"fetchd/internal/testharness"
)

// TestMain removes the fetchd binary the harness built for the campaigns.
func TestMain(m *testing.M) {
	code := m.Run()
	testharness.RemoveBinary()
	os.Exit(code)
}
