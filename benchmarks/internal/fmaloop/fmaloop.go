// Package fmaloop measures what one core's fused multiply-add units
// deliver in practice: a loop of independent 256-bit FMAs with no memory
// operands, the ceiling that no SGEMM kernel can pass. The bench reports
// it beside the nominal peak, because a shared or clock-limited machine
// may sustain less than its data sheet promises.
package fmaloop

// FlopsPerIter is the number of floating-point operations one iteration
// of Loop performs: 12 FMAs on 8 float32 lanes, 2 operations each.
const FlopsPerIter = 12 * 8 * 2

// RunIters is the iterations of one timed run in the bench: 19.2 million
// floating-point operations, about 0.2 ms on a core that sustains 100
// GFLOP/s.
const RunIters = 100000

// RunMFLOP is the work of one timed run, in millions of operations.
const RunMFLOP = float64(RunIters*FlopsPerIter) / 1e6

// Available reports whether this CPU can run Loop.
func Available() bool { return available }

// Loop runs iters iterations of 12 independent FMA chains and returns a
// value derived from the accumulators, so that the work cannot be
// skipped. It panics when Available is false.
func Loop(iters int) float32 {
	if !available {
		panic("fmaloop: no FMA loop for this CPU")
	}
	if iters <= 0 {
		return 0
	}
	return loop(iters)
}
