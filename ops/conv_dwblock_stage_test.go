package ops

import (
	"fmt"
	"math/rand"
	"runtime"
	"slices"
	"testing"
	"time"

	"github.com/onyxrt/onyx/tensor"
)

// BenchmarkDwBlockStages reports the thread CPU time of each of the
// three convolutions of MobileNetV2's blocks run apart (expand,
// depthwise, project) and their multiply-adds per ns.
func BenchmarkDwBlockStages(b *testing.B) {
	cases := []struct {
		name string
		c    dwBlockCase
	}{
		{"b2-112s2", dwBlockCase{1, 16, 112, 112, 96, 2, [4]int{1, 1, 1, 1}, 24, false}},
		{"b3-56", dwBlockCase{1, 24, 56, 56, 144, 1, [4]int{1, 1, 1, 1}, 24, true}},
		{"b4-56s2", dwBlockCase{1, 24, 56, 56, 144, 2, [4]int{1, 1, 1, 1}, 32, false}},
		{"b5-28", dwBlockCase{1, 32, 28, 28, 192, 1, [4]int{1, 1, 1, 1}, 32, true}},
		{"b7-28s2", dwBlockCase{1, 32, 28, 28, 192, 2, [4]int{1, 1, 1, 1}, 64, false}},
		{"b8-14", dwBlockCase{1, 64, 14, 14, 384, 1, [4]int{1, 1, 1, 1}, 64, true}},
		{"b11-14", dwBlockCase{1, 64, 14, 14, 384, 1, [4]int{1, 1, 1, 1}, 96, false}},
		{"b12-14", dwBlockCase{1, 96, 14, 14, 576, 1, [4]int{1, 1, 1, 1}, 96, true}},
		{"b14-14s2", dwBlockCase{1, 96, 14, 14, 576, 2, [4]int{1, 1, 1, 1}, 160, false}},
		{"b15-7", dwBlockCase{1, 160, 7, 7, 960, 1, [4]int{1, 1, 1, 1}, 160, true}},
		{"b17-7-320", dwBlockCase{1, 160, 7, 7, 960, 1, [4]int{1, 1, 1, 1}, 320, false}},
	}
	r := rand.New(rand.NewSource(5))
	for _, tc := range cases {
		c := tc.c
		in := c.inputs(r)
		b.Run(tc.name, func(b *testing.B) {
			k := dwBlockBuild(b, c).(*dwBlockKernel)
			if _, err := k.Run(&RunContext{Threads: 1}, in); err != nil {
				b.Fatal(err)
			}
			s := k.plans.latest()
			acts := k.acts
			f := optData[float32]
			x, we, be, wd, bd, wp, bp, z := f(in[0]), f(in[1]), f(in[2]), f(in[3]), f(in[4]), f(in[5]), f(in[6]), f(in[7])
			y := make([]float32, prod(s.outShape))
			t0 := make([]float32, prod(s.mid[0]))
			t1 := make([]float32, prod(s.mid[1]))
			runtime.LockOSThread()
			defer runtime.UnlockOSThread()
			var d [3]time.Duration
			for i := 0; i < b.N; i++ {
				c0 := threadCPU()
				s.q[0].run(nil, 1, x, we, be, nil, t0, &acts[0])
				c1 := threadCPU()
				s.q[1].run(nil, 1, t0, wd, bd, nil, t1, &acts[1])
				c2 := threadCPU()
				s.q[2].run(nil, 1, t1, wp, bp, z, y, &acts[2])
				c3 := threadCPU()
				d[0] += c1 - c0
				d[1] += c2 - c1
				d[2] += c3 - c2
			}
			hw, ohw := c.h*c.w, s.oh*s.ow
			macs := [3]float64{float64(c.e * c.cin * hw), float64(c.e * 9 * ohw), float64(c.cout * c.e * ohw)}
			for i, name := range []string{"exp", "dw", "proj"} {
				us := float64(d[i].Nanoseconds()) / 1e3 / float64(b.N)
				b.ReportMetric(us, name+"-us")
				b.ReportMetric(macs[i]/us/1e3, name+"-mac/ns")
			}
		})
	}
}

// BenchmarkDwBlockBudget compares, on one thread, the block run apart
// with banded runs of several band budgets (thread CPU time, rounds
// interleaved so that the machine's load falls on all alike). The
// scratch comes from a reusing allocator, as from the runtime's arena:
// with fresh memory per run, apart runs (three large tensors) looked
// twice as slow as banded ones. (Measured on Zen 3 with it: bands of
// 256-512 KiB gain nothing over apart runs on the 56×56 and smaller
// blocks, and lose 10-40% on 14×14 and 7×7 ones.)
func BenchmarkDwBlockBudget(b *testing.B) {
	cases := []struct {
		name string
		c    dwBlockCase
	}{
		{"b2-112s2", dwBlockCase{1, 16, 112, 112, 96, 2, [4]int{1, 1, 1, 1}, 24, false}},
		{"b3-56", dwBlockCase{1, 24, 56, 56, 144, 1, [4]int{1, 1, 1, 1}, 24, true}},
		{"b4-56s2", dwBlockCase{1, 24, 56, 56, 144, 2, [4]int{1, 1, 1, 1}, 32, false}},
		{"b5-28", dwBlockCase{1, 32, 28, 28, 192, 1, [4]int{1, 1, 1, 1}, 32, true}},
		{"b8-14", dwBlockCase{1, 64, 14, 14, 384, 1, [4]int{1, 1, 1, 1}, 64, true}},
		{"b12-14", dwBlockCase{1, 96, 14, 14, 576, 1, [4]int{1, 1, 1, 1}, 96, true}},
		{"b15-7", dwBlockCase{1, 160, 7, 7, 960, 1, [4]int{1, 1, 1, 1}, 160, true}},
		{"b17-7-320", dwBlockCase{1, 160, 7, 7, 960, 1, [4]int{1, 1, 1, 1}, 320, false}},
	}
	budgets := []int{0, 128 << 10, 256 << 10, 384 << 10, 512 << 10, 1 << 20, 1 << 30}
	r := rand.New(rand.NewSource(5))
	for _, tc := range cases {
		c := tc.c
		in := c.inputs(r)
		b.Run(tc.name, func(b *testing.B) {
			ks := make([]Kernel, len(budgets))
			for i, bu := range budgets {
				tune := defaultDwBlockTuning()
				tune.minBytes, tune.budget, tune.apart = 0, bu, bu == 0
				ks[i] = dwBlockBuildTuned(b, c, tune)
			}
			runtime.LockOSThread()
			defer runtime.UnlockOSThread()
			d := make([]time.Duration, len(budgets))
			al := &reuseAlloc{}
			rc := &RunContext{Threads: 1, Alloc: al}
			for i := 0; i < b.N; i++ {
				for j, k := range ks {
					al.next = 0
					c0 := threadCPU()
					if _, err := k.Run(rc, in); err != nil {
						b.Fatal(err)
					}
					d[j] += threadCPU() - c0
				}
			}
			for j, bu := range budgets {
				s := ks[j].(*dwBlockKernel).plans.latest()
				name := fmt.Sprintf("b%dk-ob%d-us", bu>>10, s.ob)
				if bu == 0 {
					name = "apart-us"
				}
				b.ReportMetric(float64(d[j].Nanoseconds())/1e3/float64(b.N), name)
			}
		})
	}
}

// reuseAlloc hands the n-th allocation of every run the same buffer
// (reset next before each run), as the runtime's arena does in steady
// state, so that benchmarks time no fresh memory.
type reuseAlloc struct {
	bufs [][]float32
	next int
}

func (a *reuseAlloc) NewUninit(dt tensor.DType, shape []int) (*tensor.Tensor, error) {
	n := prod(shape)
	if a.next == len(a.bufs) {
		a.bufs = append(a.bufs, nil)
	}
	if cap(a.bufs[a.next]) < n {
		a.bufs[a.next] = make([]float32, n)
	}
	t := tensor.From(slices.Clone(shape), a.bufs[a.next][:n])
	a.next++
	return t, nil
}
