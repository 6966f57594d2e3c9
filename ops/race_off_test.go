//go:build !race

package ops

// raceEnabled reports a -race build (see race_on_test.go).
const raceEnabled = false
