package main

import (
	"math"
	"slices"
	"strings"
	"testing"

	"github.com/onyxrt/onyx/benchmarks/internal/harness"
)

// TestMergeRound checks how a later round's runs join a cell: pooled
// latencies and statistics over all of them, the largest RSS, stability
// only when every round was stable, and a failed round failing the cell.
func TestMergeRound(t *testing.T) {
	yes, no := true, false
	// okCell is a round's cell as its child reports it.
	okCell := func(lat []float64, rss int64, stable *bool) *cell {
		sorted := slices.Sorted(slices.Values(lat))
		return &cell{Result: &harness.Result{OK: true, LatMS: lat, Runs: len(lat), Warmups: 5, VmHWMKiB: rss, Stable: stable, LoadMS: float64(rss),
			Median: harness.Percentile(sorted, 50), Min: sorted[0]}}
	}
	// subsampled is a round whose latencies are every k-th run's, its
	// fastest run not among them.
	subsampled := func(lat []float64, fastest float64) *cell {
		c := okCell(lat, 100, &yes)
		c.Result.Min = fastest
		return c
	}
	tests := []struct {
		name       string
		c, next    *cell
		wantOK     bool
		wantRuns   int
		wantMedian float64
		wantMin    float64
		wantRSS    int64
		wantStable bool
		wantLoad   float64
	}{
		{"pooled", okCell([]float64{3, 1, 2}, 100, &yes), okCell([]float64{10, 9}, 50, &yes), true, 5, 3, 1, 100, true, 100},
		{"fastest runs not kept", subsampled([]float64{3, 2}, 1.5), subsampled([]float64{4, 5}, 0.5), true, 4, 3.5, 0.5, 100, true, 100},
		{"larger RSS later", okCell([]float64{2}, 100, &yes), okCell([]float64{4}, 300, &yes), true, 2, 3, 2, 300, true, 100},
		{"unstable round", okCell([]float64{2}, 100, &yes), okCell([]float64{2}, 100, &no), true, 2, 2, 2, 100, false, 100},
		{"failed round", okCell([]float64{2}, 100, &yes), &cell{childRun: childRun{Reason: "timed out after 1s"}}, false, 1, 2, 2, 100, true, 100},
		{"failed child result", okCell([]float64{2}, 100, &yes), &cell{Result: &harness.Result{Stage: "run", Error: "boom"}}, false, 1, 2, 2, 100, true, 100},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			mergeRound(tc.c, tc.next, 1)
			if got := tc.c.ok(); got != tc.wantOK {
				t.Fatalf("ok() = %v, want %v (reason %q)", got, tc.wantOK, tc.c.Reason)
			}
			if !tc.wantOK && !strings.Contains(tc.c.Reason, "round 2: ") {
				t.Errorf("reason %q does not name round 2", tc.c.Reason)
			}
			r := tc.c.Result
			if r.Runs != tc.wantRuns || len(r.LatMS) != tc.wantRuns {
				t.Errorf("runs %d, %d latencies; want %d", r.Runs, len(r.LatMS), tc.wantRuns)
			}
			if r.Median != tc.wantMedian || r.Min != tc.wantMin {
				t.Errorf("median %v, min %v; want %v, %v", r.Median, r.Min, tc.wantMedian, tc.wantMin)
			}
			if r.VmHWMKiB != tc.wantRSS || *r.Stable != tc.wantStable || r.LoadMS != tc.wantLoad {
				t.Errorf("RSS %d, stable %v, load %v; want %d, %v, %v", r.VmHWMKiB, *r.Stable, r.LoadMS, tc.wantRSS, tc.wantStable, tc.wantLoad)
			}
		})
	}
}

// TestPairedShare checks the paired share of the FMA loop: each run's
// GFLOP/s over the loop's right after it, the median over the runs, kept
// when rounds are merged and absent without reference runs.
func TestPairedShare(t *testing.T) {
	res := func(lat, ref []float64) *harness.Result {
		return &harness.Result{OK: true, LatMS: lat, RefMS: ref, RefMFLOP: 50, Runs: len(lat), Median: lat[0], Min: lat[0]}
	}
	tests := []struct {
		name     string
		lat, ref []float64 // one round
		next     *harness.Result
		want     float64
		wantOK   bool
	}{
		// 100 MFLOP per run against the loop's 50: a run of 2 ms beside a
		// loop run of 0.8 ms is 50 against 62.5 GFLOP/s, 80%.
		{"one run", []float64{2}, []float64{0.8}, nil, 0.8, true},
		{"median", []float64{2, 1, 4}, []float64{0.8, 0.25, 1.6}, nil, 0.8, true},
		{"slow spell in both", []float64{2, 4}, []float64{0.9, 1.8}, nil, 0.9, true},
		{"merged rounds", []float64{2}, []float64{0.8}, res([]float64{1, 1}, []float64{0.45, 0.45}), 0.9, true},
		{"round without reference", []float64{2}, []float64{0.8}, &harness.Result{OK: true, LatMS: []float64{1}, Runs: 1}, 0, false},
		{"no reference", []float64{2}, nil, nil, 0, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := &cell{MFLOP: 100, Result: res(tc.lat, tc.ref)}
			if tc.ref == nil {
				c.Result.RefMFLOP = 0
			}
			if tc.next != nil {
				mergeRound(c, &cell{Result: tc.next}, 1)
			}
			got, ok := pairedShare(c)
			if ok != tc.wantOK || math.Abs(got-tc.want) > 1e-12 {
				t.Errorf("pairedShare = %v, %v; want %v, %v", got, ok, tc.want, tc.wantOK)
			}
		})
	}
}
