//go:build race

package ops

// raceEnabled reports a -race build, whose instrumentation makes values
// escape that otherwise stay on the stack: allocation counts are only
// asserted without it.
const raceEnabled = true
