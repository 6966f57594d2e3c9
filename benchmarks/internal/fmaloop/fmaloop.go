// Package fmaloop measures what one core's fused multiply-add units
// deliver in practice: a loop of independent FMAs of the widest vectors
// the CPU has (512-bit with AVX-512, else 256-bit), with no memory
// operands, the ceiling that no SGEMM kernel can pass. The bench reports
// it beside the nominal peak, because a shared or clock-limited machine
// may sustain less than its data sheet promises.
package fmaloop

// FlopsPerIter returns the number of floating-point operations one
// iteration of Loop performs: 12 FMAs on Lanes float32 lanes, 2
// operations each.
func FlopsPerIter() int { return 12 * lanes() * 2 }

// Lanes returns the float32 lanes of the loop's vectors: 16 with
// AVX-512, else 8.
func Lanes() int { return lanes() }

// RunIters is the iterations of one timed run in the bench: 19.2 (with
// AVX-512 38.4) million floating-point operations, about 0.2 ms on a
// core that sustains 100 (200) GFLOP/s.
const RunIters = 100000

// RunMFLOP returns the work of one timed run, in millions of operations.
func RunMFLOP() float64 { return float64(RunIters*FlopsPerIter()) / 1e6 }

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

// Beside runs the loop for about a fraction 1/div of mflop million
// floating-point operations (at least 2000 iterations) and returns the
// work it did in MFLOP: a reference run beside a kernel's run of mflop,
// for harness.Referenced. Where Available is false it runs nothing and
// returns 0 (no reference).
func Beside(mflop float64, div int) float64 {
	if !available {
		return 0
	}
	iters := max(int(mflop*1e6/float64(FlopsPerIter()*max(div, 1))), 2000)
	Loop(iters)
	return float64(iters*FlopsPerIter()) / 1e6
}
