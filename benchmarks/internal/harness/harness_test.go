package harness

import (
	"slices"
	"testing"
	"time"
)

// countRunner counts its runs; each takes about pause.
type countRunner struct {
	runs  int
	pause time.Duration
}

func (c *countRunner) Run() error {
	c.runs++
	if c.pause > 0 {
		time.Sleep(c.pause)
	}
	return nil
}

func (c *countRunner) Output() (*Summary, error) {
	return &Summary{Name: "y", Shape: []int{1}, N: 1, L2: 1, Head: []float64{1}}, nil
}

func (c *countRunner) Close() {}

// TestMeasureMinTime checks that timed runs go on for MinTime when Runs
// are done sooner, that at most Runs latencies are kept, spread over all
// the runs, and that the statistics are over all of them.
func TestMeasureMinTime(t *testing.T) {
	tests := []struct {
		name     string
		job      Job
		pause    time.Duration
		wantMore bool // more runs than Runs
	}{
		{"runs first", Job{Runs: 10, MinRuns: 1, Budget: 10 * time.Second, Warmup: 2}, 0, false},
		{"min time", Job{Runs: 10, MinRuns: 1, Budget: 10 * time.Second, MinTime: 50 * time.Millisecond, Warmup: 2}, 100 * time.Microsecond, true},
		{"budget ends it", Job{Runs: 10, MinRuns: 1, Budget: 20 * time.Millisecond, MinTime: 10 * time.Second, Warmup: 2}, 100 * time.Microsecond, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rn := &countRunner{pause: tc.pause}
			start := time.Now()
			r := Measure(tc.job, func(Job, []Feed) (Runner, string, error) { return rn, "test", nil })
			el := time.Since(start)
			if !r.OK {
				t.Fatalf("failed: %s: %s", r.Stage, r.Error)
			}
			if got := rn.runs - r.Warmups; got != r.Runs {
				t.Errorf("%d timed runs made, %d reported", got, r.Runs)
			}
			if tc.wantMore != (r.Runs > tc.job.Runs) {
				t.Errorf("%d runs for Runs %d", r.Runs, tc.job.Runs)
			}
			if len(r.LatMS) > tc.job.Runs || len(r.LatMS) < min(r.Runs, tc.job.Runs/2) {
				t.Errorf("%d latencies kept of %d runs, Runs %d", len(r.LatMS), r.Runs, tc.job.Runs)
			}
			if tc.job.MinTime > 0 && tc.job.MinTime < tc.job.Budget && el < tc.job.MinTime {
				t.Errorf("took %v, MinTime %v", el, tc.job.MinTime)
			}
			if tc.job.MinTime > tc.job.Budget && el > 3*tc.job.Budget+time.Second {
				t.Errorf("took %v with a budget of %v", el, tc.job.Budget)
			}
			if r.Min > slices.Min(r.LatMS) || r.Min <= 0 || r.Median < r.Min || r.P90 < r.Median {
				t.Errorf("min %v, median %v, p90 %v over latencies %v..", r.Min, r.Median, r.P90, r.LatMS[:min(3, len(r.LatMS))])
			}
		})
	}
}

// TestEveryKth checks the subsample: v itself when short enough, else
// every k-th value from the first, at most n.
func TestEveryKth(t *testing.T) {
	v := []float64{0, 1, 2, 3, 4, 5, 6, 7, 8, 9}
	tests := []struct {
		n    int
		want []float64
	}{
		{10, v},
		{20, v},
		{5, []float64{0, 2, 4, 6, 8}},
		{4, []float64{0, 3, 6, 9}},
		{3, []float64{0, 4, 8}},
		{1, []float64{0}},
	}
	for _, tc := range tests {
		if got := EveryKth(v, tc.n); !slices.Equal(got, tc.want) {
			t.Errorf("EveryKth(v, %d) = %v, want %v", tc.n, got, tc.want)
		}
	}
}
