package digest

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain checks that no test leaves goroutines behind; the package
// itself starts none (some tests do, to race Verify against itself).
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }
