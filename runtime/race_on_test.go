//go:build race

package runtime_test

// raceEnabled reports a -race build. Its sync.Pool drops values at random
// (to expose code that relies on getting them back), so the kernels'
// pooled scratch is sometimes allocated afresh: allocation counts are
// only asserted without it.
const raceEnabled = true
