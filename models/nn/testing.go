package nn

import (
	"os"
	"path/filepath"
	"testing"
)

// DataDir returns the shared data folder for the tests of models/<name>
// packages ($ONYX_DATA, else ../../../shared/data from the package
// directory), skipping the test when sub is not there.
func DataDir(t testing.TB, sub string) string {
	t.Helper()
	d := os.Getenv("ONYX_DATA")
	if d == "" {
		d = filepath.Join("..", "..", "..", "shared", "data")
	}
	p := filepath.Join(d, sub)
	if _, err := os.Stat(p); err != nil {
		t.Skipf("no data at %s (set ONYX_DATA to the folder holding %s)", p, sub)
	}
	return p
}

// Mean returns the mean of v.
func Mean(v []float64) float64 {
	s := 0.0
	for _, x := range v {
		s += x
	}
	return s / float64(len(v))
}
