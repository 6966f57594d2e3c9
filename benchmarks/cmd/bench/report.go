package main

import (
	"encoding/json"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	goruntime "runtime"
	"slices"
	"strings"
	"time"

	"github.com/onyxrt/onyx/benchmarks/internal/fmaloop"
	"github.com/onyxrt/onyx/benchmarks/internal/harness"
)

// A cell is one measurement: one runtime on one model at one thread count.
type cell struct {
	Table   string          `json:"table"` // models or sgemm
	Model   string          `json:"model"`
	Runtime string          `json:"runtime"`
	Threads int             `json:"threads"`
	N       int             `json:"n,omitempty"`
	MFLOP   float64         `json:"mflop,omitempty"`
	Result  *harness.Result `json:"result,omitempty"`
	childRun
	// Diff is the relative difference of the output from ONNX Runtime's
	// (see harness.RelDiff); Wrong is set when it exceeds the tolerance.
	Diff   *float64 `json:"diff_vs_ort,omitempty"`
	Wrong  bool     `json:"wrong_output,omitempty"`
	GFLOPS float64  `json:"gflops,omitempty"`
}

func (c *cell) ok() bool { return c.Reason == "" && c.Result != nil && c.Result.OK }

func (c *cell) progress() string {
	if !c.ok() {
		return "fails: " + firstLine(c.Reason)
	}
	return fmt.Sprintf("%s ms median (%d runs), %s MiB", fmtMS(c.Result.Median), c.Result.Runs, fmtMiB(c.Result.VmHWMKiB))
}

// outputTolerance is the largest relative difference from ONNX Runtime's
// output that still counts as the same answer.
const outputTolerance = 1e-3

type machine struct {
	CPU       string   `json:"cpu"`
	CPUs      int      `json:"cpus"`
	MHz       string   `json:"mhz"`
	Flags     []string `json:"simd_flags"`
	MemGiB    float64  `json:"mem_gib"`
	Kernel    string   `json:"kernel"`
	Go        string   `json:"go"`
	Onyx      string   `json:"onyx_commit"`
	Modules   []string `json:"modules"`
	ORTNode   string   `json:"onnxruntime_node"`
	ORT       string   `json:"onnxruntime"`
	OpenBLAS  string   `json:"openblas,omitempty"`
	LoadStart string   `json:"load_start"`
	LoadEnd   string   `json:"load_end"`
}

type report struct {
	Opts     options   `json:"-"`
	Settings string    `json:"settings"`
	Machine  machine   `json:"machine"`
	Started  time.Time `json:"started"`
	Finished time.Time `json:"finished"`
	Quick    bool      `json:"quick"`
	Cells    []*cell   `json:"cells"`
	// Train holds the training benchmark's measurements (train.go).
	Train []*trainCell `json:"train,omitempty"`
}

func settingsFrom(o options) string {
	more := ""
	if o.minTime > 0 {
		more = fmt.Sprintf(" (and more when those are done sooner, for at least %v in all: the latencies kept are then every k-th run's, %d in all)", o.minTime, o.runs)
	}
	return fmt.Sprintf("threads %s; untimed runs first, at least %d and for at least %v (at most %v), then up to %d timed runs%s, stopping after %v once %d are done",
		joinInts(o.threads), max(o.warmup, 2), min(500*time.Millisecond, o.budget/2), o.budget/2, o.runs, more, o.budget, o.minRuns)
}

func joinInts(v []int) string {
	var s []string
	for _, x := range v {
		s = append(s, fmt.Sprint(x))
	}
	return strings.Join(s, ",")
}

func machineInfo() machine {
	m := machine{CPUs: goruntime.NumCPU(), Go: goruntime.Version() + " " + goruntime.GOOS + "/" + goruntime.GOARCH, LoadStart: loadAvg()}
	var family, model string
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, l := range strings.Split(string(b), "\n") {
			k, v, ok := strings.Cut(l, ":")
			if !ok {
				continue
			}
			k, v = strings.TrimSpace(k), strings.TrimSpace(v)
			switch {
			case k == "model name" && m.CPU == "":
				m.CPU = v
			case k == "cpu MHz" && m.MHz == "":
				m.MHz = v
			case k == "cpu family" && family == "":
				family = v
			case k == "model" && model == "":
				model = v
			case (k == "flags" || k == "Features") && m.Flags == nil:
				have := map[string]bool{}
				for _, f := range strings.Fields(v) {
					have[f] = true
				}
				m.Flags = []string{}
				for _, f := range []string{"avx", "avx2", "fma", "avx512f", "avx512_vnni", "avx512_bf16", "amx_tile", "asimd", "sve"} {
					if have[f] {
						m.Flags = append(m.Flags, f)
					}
				}
			}
		}
	}
	if m.CPU == "" {
		m.CPU = "unknown CPU"
	}
	if family != "" && model != "" {
		m.CPU += fmt.Sprintf(" (family %s, model %s)", family, model)
	}
	if b, err := os.ReadFile("/proc/meminfo"); err == nil {
		var kib float64
		if _, err := fmt.Sscanf(string(b), "MemTotal: %f kB", &kib); err == nil {
			m.MemGiB = math.Round(kib/(1<<20)*10) / 10
		}
	}
	if b, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		m.Kernel = strings.TrimSpace(string(b))
	}
	m.Onyx = "unknown"
	if out, err := exec.Command("git", "-C", "..", "rev-parse", "--short", "HEAD").Output(); err == nil {
		m.Onyx = strings.TrimSpace(string(out))
		if st, err := exec.Command("git", "-C", "..", "status", "--porcelain", "--untracked-files=no").Output(); err == nil && len(strings.TrimSpace(string(st))) > 0 {
			m.Onyx += " (with uncommitted changes)"
		}
	}
	if b, err := os.ReadFile(filepath.Join(".ort", "node_modules", "onnxruntime-node", "package.json")); err == nil {
		var pj struct{ Version string }
		if json.Unmarshal(b, &pj) == nil {
			m.ORTNode = pj.Version
		}
	}
	return m
}

func loadAvg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "?"
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "?"
	}
	return strings.Join(f[:3], " ")
}

func (r *report) moduleVersion(path string) string {
	for _, m := range r.Machine.Modules {
		if p, v, _ := strings.Cut(m, " "); p == path {
			return v
		}
	}
	return "?"
}

// check compares every output with ONNX Runtime's for the same model and
// threads, and computes GFLOP/s for the MatMul models.
func (r *report) check() {
	r.Quick = r.Opts.quick
	for _, c := range r.Cells {
		if c.Runtime == harness.ORT && c.ok() && r.Machine.ORT == "" {
			r.Machine.ORT = c.Result.Version
		}
		if c.Runtime == harness.OpenBLAS && c.ok() && r.Machine.OpenBLAS == "" {
			r.Machine.OpenBLAS = c.Result.Version
		}
		if c.Result != nil {
			for _, m := range c.Result.Modules {
				if !slices.Contains(r.Machine.Modules, m) {
					r.Machine.Modules = append(r.Machine.Modules, m)
				}
			}
		}
		if c.ok() && c.MFLOP > 0 && c.Result.Median > 0 {
			c.GFLOPS = c.MFLOP / c.Result.Median // MFLOP per ms = GFLOP/s
		}
	}
	for _, c := range r.Cells {
		if !c.ok() || c.Runtime == harness.ORT {
			continue
		}
		ref := r.cell(c.Table, c.Model, harness.ORT, c.Threads)
		if ref == nil || !ref.ok() {
			ref = r.anyOK(c.Table, c.Model, harness.ORT)
		}
		if ref == nil || !ref.ok() || ref.Result.Output == nil {
			continue
		}
		d := harness.RelDiff(c.Result.Output, ref.Result.Output)
		if math.IsInf(d, 0) {
			d = math.MaxFloat64
		}
		c.Diff = &d
		c.Wrong = d > outputTolerance
	}
}

// anyOK returns a cell of the runtime on the model that ran, at any
// thread count.
func (r *report) anyOK(table, model, rt string) *cell {
	for _, c := range r.Cells {
		if c.Table == table && c.Model == model && c.Runtime == rt && c.ok() {
			return c
		}
	}
	return nil
}

func (r *report) cell(table, model, rt string, threads int) *cell {
	for _, c := range r.Cells {
		if c.Table == table && c.Model == model && c.Runtime == rt && c.Threads == threads {
			return c
		}
	}
	return nil
}

var rtTitle = map[string]string{harness.Onyx: "Onyx", harness.ORT: "ORT", harness.Gonnx: "gonnx", harness.OnnxGo: "onnx-go", harness.Sgemm: "Onyx asm.Sgemm", harness.OpenBLAS: "OpenBLAS", harness.FMAPeak: "the FMA loop"}

// notes collects the footnotes of the tables: one per distinct failure or
// remark, listing where it applies.
type notes struct {
	text  []string
	where [][]string
}

func (n *notes) add(text, where string) int {
	for i, t := range n.text {
		if t == text {
			if !slices.Contains(n.where[i], where) {
				n.where[i] = append(n.where[i], where)
			}
			return i + 1
		}
	}
	n.text = append(n.text, text)
	n.where = append(n.where, []string{where})
	return len(n.text)
}

func (r *report) markdown() string {
	var b strings.Builder
	var nts notes
	m := r.Machine
	fmt.Fprintf(&b, "# Onyx benchmarks: Onyx, ONNX Runtime, gonnx, onnx-go; training against PyTorch\n\n")
	if r.Opts.quick {
		fmt.Fprintf(&b, "> **Quick smoke run** (`-quick`): it shows that every path works; its numbers are not measurements.\n\n")
	}
	flags := strings.Join(m.Flags, " ")
	fmt.Fprintf(&b, "- **CPU: %s**, %d logical CPUs at %s MHz (as /proc/cpuinfo says; %s), %.1f GiB; Linux %s; load average %s at the start, %s at the end\n", m.CPU, m.CPUs, orQ(m.MHz), flags, m.MemGiB, m.Kernel, m.LoadStart, m.LoadEnd)
	fmt.Fprintf(&b, "- Run %s UTC (%s); Onyx %s; %s\n", r.Started.Format("2006-01-02 15:04"), r.Finished.Sub(r.Started).Round(time.Second), m.Onyx, m.Go)
	ortV := m.ORT
	if ortV == "" {
		ortV = "?"
	}
	fmt.Fprintf(&b, "- Runtimes: ONNX Runtime %s (`libonnxruntime.so.1` of npm onnxruntime-node %s) through onnxruntime_go %s; gonnx %s; onnx-go %s with Gorgonia %s\n",
		ortV, orQ(m.ORTNode), r.moduleVersion("github.com/yalue/onnxruntime_go"), r.moduleVersion("github.com/advancedclimatesystems/gonnx"),
		r.moduleVersion("github.com/owulveryck/onnx-go"), r.moduleVersion("gorgonia.org/gorgonia"))
	if m.OpenBLAS != "" {
		fmt.Fprintf(&b, "- SGEMM reference from C: %s (Debian's libopenblas, cblas_sgemm, one thread)\n", m.OpenBLAS)
	}
	fmt.Fprintf(&b, "- **Threads** (column `threads`): Onyx `Options.Threads` and GOMAXPROCS (`Session.RunInto`, outputs reused from run to run); ORT intra-op threads (inter-op 1, sequential, all graph optimizations, inputs and outputs bound once); gonnx and onnx-go have no thread setting, so GOMAXPROCS\n")
	rounds := ""
	if r.Opts.rounds > 1 {
		rounds = fmt.Sprintf(" The runtimes take turns in %d such processes per model and thread count, each with 1/%d of the timed runs and time, so that a change in the machine's speed during the run meets them all; the medians are over the runs of all rounds, the RSS the largest round's.", r.Opts.rounds, r.Opts.rounds)
	}
	fmt.Fprintf(&b, "- Each runtime, model and thread count runs in a process of its own: load once, %s; the tables show the median.%s RSS is that process's peak resident set (VmHWM), MiB. Outputs are checked against ORT's (relative difference ≤ %g)\n\n", r.Settings, rounds, outputTolerance)

	threads := r.Opts.threads
	var models []string
	for _, c := range r.Cells {
		if c.Table == "models" && !slices.Contains(models, c.Model) {
			models = append(models, c.Model)
		}
	}
	if len(models) > 0 {
		fmt.Fprintf(&b, "## Models: median ms per run (Onyx/ORT = Onyx time ÷ ORT time; above 1, Onyx is slower)\n\n")
		fmt.Fprintf(&b, "CPU: %s, %d CPUs; threads as in the column.\n\n", m.CPU, m.CPUs)
		fmt.Fprintf(&b, "| model | threads | Onyx ms | ORT ms | Onyx/ORT | gonnx ms | onnx-go ms | Onyx RSS | ORT RSS | gonnx RSS | onnx-go RSS |\n")
		fmt.Fprintf(&b, "|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|\n")
		for _, th := range threads {
			for _, model := range models {
				cells := map[string]*cell{}
				for _, rt := range harness.Runtimes {
					cells[rt] = r.cell("models", model, rt, th)
				}
				row := []string{model, fmt.Sprint(th)}
				for _, rt := range []string{harness.Onyx, harness.ORT} {
					row = append(row, r.msCell(cells[rt], &nts))
				}
				row = append(row, ratio(cells[harness.Onyx], cells[harness.ORT]))
				for _, rt := range []string{harness.Gonnx, harness.OnnxGo} {
					row = append(row, r.msCell(cells[rt], &nts))
				}
				for _, rt := range harness.Runtimes {
					row = append(row, rssCell(cells[rt]))
				}
				fmt.Fprintf(&b, "| %s |\n", strings.Join(row, " | "))
			}
		}
		b.WriteString("\n")
	}

	var sizes []int
	for _, c := range r.Cells {
		if c.Table == "sgemm" && c.Runtime != harness.FMAPeak && !slices.Contains(sizes, c.N) {
			sizes = append(sizes, c.N)
		}
	}
	if len(sizes) > 0 {
		loop := r.cell("sgemm", fmaPeakSpec().Name, harness.FMAPeak, 1)
		corePeak, peakFrom := r.Opts.peak, "PERF-ANCHORS.md"
		if loop != nil && loop.ok() && loop.Result.Min > 0 && loop.MFLOP/loop.Result.Min > corePeak {
			// Another CPU than the anchors': what the FMA loop did is the
			// least its peak can be.
			corePeak, peakFrom = loop.MFLOP/loop.Result.Min, fmt.Sprintf("the FMA loop's fastest run, above the %.0f of PERF-ANCHORS.md", r.Opts.peak)
		}
		fmt.Fprintf(&b, "## SGEMM n×n×n: GFLOP/s of the median (peak %.0f GFLOP/s per core, %s)\n\n", corePeak, peakFrom)
		fmt.Fprintf(&b, "CPU: %s. Onyx asm.Sgemm is the raw kernel on Go slices, one thread; the others run a MatMul model whose two inputs are the matrices. OpenBLAS is Debian's cblas_sgemm on the same matrices, one thread, the best C BLAS at hand. Percentages are of threads × per-core peak. The best-run column is the fastest of the kernel's timed runs, the least disturbed by whatever else shares the machine.\n\n", m.CPU)
		fmt.Fprintf(&b, "%s\n\n", fmaLoopLine(loop))
		fmt.Fprintf(&b, "| n | threads | Onyx asm.Sgemm | asm.Sgemm best run | asm.Sgemm of FMA loop (median, best; paired) | OpenBLAS cblas_sgemm | Onyx MatMul | ORT MatMul | Onyx/ORT | gonnx MatMul | onnx-go MatMul | peak |\n")
		fmt.Fprintf(&b, "|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|\n")
		for _, n := range sizes {
			model := matmulSpec(n).Name
			for _, th := range threads {
				peak := corePeak * float64(th)
				row := []string{fmt.Sprint(n), fmt.Sprint(th)}
				if th == 1 {
					raw := r.cell("sgemm", model, harness.Sgemm, 1)
					blas := r.cell("sgemm", model, harness.OpenBLAS, 1)
					row = append(row, r.gflopCell(raw, peak, &nts), bestGflopCell(raw, peak), ofLoopCell(raw, loop), r.gflopCell(blas, peak, &nts)+bestOf(blas)+pairedOf(blas))
				} else {
					row = append(row, "–", "–", "–", "–")
				}
				row = append(row, r.gflopCell(r.cell("sgemm", model, harness.Onyx, th), peak, &nts))
				row = append(row, r.gflopCell(r.cell("sgemm", model, harness.ORT, th), peak, &nts))
				row = append(row, ratio(r.cell("sgemm", model, harness.Onyx, th), r.cell("sgemm", model, harness.ORT, th)))
				row = append(row, r.gflopCell(r.cell("sgemm", model, harness.Gonnx, th), peak, &nts))
				row = append(row, r.gflopCell(r.cell("sgemm", model, harness.OnnxGo, th), peak, &nts))
				row = append(row, fmt.Sprintf("%.0f", peak))
				fmt.Fprintf(&b, "| %s |\n", strings.Join(row, " | "))
			}
		}
		b.WriteString("\n")
	}

	r.trainMarkdown(&b, &nts)

	if len(nts.text) > 0 {
		b.WriteString("## Notes\n\n")
		for i, t := range nts.text {
			fmt.Fprintf(&b, "%d. %s (%s)\n", i+1, t, strings.Join(nts.where[i], "; "))
		}
		b.WriteString("\n")
	}
	b.WriteString("Raw numbers (every run's latency, p90, load time, output checks, child stderr on failure): `results.json`.\n")
	return b.String()
}

func orQ(s string) string {
	if s == "" {
		return "?"
	}
	return s
}

func where(c *cell) string {
	return fmt.Sprintf("%s t%d", c.Model, c.Threads)
}

// remark returns the footnote reference for a cell that ran but whose
// output differs from ORT's or that needed a workaround.
func (r *report) remark(c *cell, nts *notes) string {
	var refs []string
	if c.Wrong {
		refs = append(refs, fmt.Sprintf("wrong output, note %d", nts.add(fmt.Sprintf("%s's output differs from ORT's (relative difference above %g; see diff_vs_ort in results.json)", rtTitle[c.Runtime], outputTolerance), where(c))))
	} else if c.Result.Stable != nil && !*c.Result.Stable {
		refs = append(refs, fmt.Sprintf("note %d", nts.add(fmt.Sprintf("%s: the last timed run gave other values than the first", rtTitle[c.Runtime]), where(c))))
	}
	if c.Result.Note != "" {
		refs = append(refs, fmt.Sprintf("note %d", nts.add(rtTitle[c.Runtime]+": "+c.Result.Note, where(c))))
	}
	if len(refs) == 0 {
		return ""
	}
	return " (" + strings.Join(refs, ", ") + ")"
}

func (r *report) failCell(c *cell, nts *notes) string {
	short := shortReason(c.Reason)
	n := nts.add(fmt.Sprintf("%s fails: %s", rtTitle[c.Runtime], oneLine(c.Reason, 240)), where(c))
	return fmt.Sprintf("fails: %s (note %d)", short, n)
}

func (r *report) msCell(c *cell, nts *notes) string {
	switch {
	case c == nil:
		return "–"
	case !c.ok():
		return r.failCell(c, nts)
	}
	return fmtMS(c.Result.Median) + r.remark(c, nts)
}

func (r *report) gflopCell(c *cell, peak float64, nts *notes) string {
	switch {
	case c == nil:
		return "–"
	case !c.ok():
		return r.failCell(c, nts)
	}
	return fmt.Sprintf("%.1f (%.0f%%)", c.GFLOPS, 100*c.GFLOPS/peak) + r.remark(c, nts)
}

// bestGflopCell is the GFLOP/s of c's fastest timed run.
func bestGflopCell(c *cell, peak float64) string {
	if c == nil || !c.ok() || c.Result.Min <= 0 {
		return "–"
	}
	g := c.MFLOP / c.Result.Min
	return fmt.Sprintf("%.1f (%.0f%%)", g, 100*g/peak)
}

// bestOf is ", best G" for c's fastest timed run in GFLOP/s.
func bestOf(c *cell) string {
	if c == nil || !c.ok() || c.Result.Min <= 0 {
		return ""
	}
	return fmt.Sprintf(", best %.1f", c.MFLOP/c.Result.Min)
}

// fmaLoopLine says what the FMA loop measured in this run.
func fmaLoopLine(loop *cell) string {
	if loop == nil || !loop.ok() || loop.Result.Min <= 0 {
		reason := "it did not run"
		if loop != nil && loop.Reason != "" {
			reason = "it failed: " + oneLine(loop.Reason, 120)
		}
		return "What one core sustains was not measured (" + reason + ")."
	}
	return fmt.Sprintf("What one core sustains in this run: a loop of independent "+fmt.Sprint(32*fmaloop.Lanes())+"-bit FMAs with no memory operands (benchmarks/internal/fmaloop) reaches %.1f GFLOP/s at the median and %.1f in its fastest run. No kernel can beat it; the column \"of FMA loop\" divides asm.Sgemm's median by the loop's median and its best run by the loop's best run. A shared machine's speed changes from second to second, so each timed run of asm.Sgemm and of OpenBLAS is also followed by a run of the loop for half its work: \"paired\" is the median over the runs of each run's GFLOP/s as a share of the loop's right after it, what the kernel made of the core it had.",
		loop.GFLOPS, loop.MFLOP/loop.Result.Min)
}

// ofLoopCell is raw's GFLOP/s as a share of the FMA loop's: median over
// median, best run over best run, and the median of the run-by-run
// shares of the loop run beside each run (paired).
func ofLoopCell(raw, loop *cell) string {
	if raw == nil || loop == nil || !raw.ok() || !loop.ok() || raw.Result.Min <= 0 || loop.Result.Min <= 0 || loop.GFLOPS <= 0 {
		return "–"
	}
	best := (raw.MFLOP / raw.Result.Min) / (loop.MFLOP / loop.Result.Min)
	return fmt.Sprintf("%.0f%%, %.0f%%", 100*raw.GFLOPS/loop.GFLOPS, 100*best) + pairedOf(raw)
}

// pairedShare returns the median, over c's timed runs, of each run's
// GFLOP/s as a share of the FMA loop's in the reference run right after
// it (harness.Referenced), and whether c has such runs.
func pairedShare(c *cell) (float64, bool) {
	res := c.Result
	if c.MFLOP <= 0 || res.RefMFLOP <= 0 || len(res.RefMS) != len(res.LatMS) || len(res.LatMS) == 0 {
		return 0, false
	}
	shares := make([]float64, 0, len(res.LatMS))
	for i, lat := range res.LatMS {
		if lat > 0 && res.RefMS[i] > 0 {
			shares = append(shares, (c.MFLOP/lat)/(res.RefMFLOP/res.RefMS[i]))
		}
	}
	if len(shares) == 0 {
		return 0, false
	}
	slices.Sort(shares)
	return harness.Percentile(shares, 50), true
}

// pairedOf is "; paired N%" for c's paired share (pairedShare), or "".
func pairedOf(c *cell) string {
	if c == nil || !c.ok() {
		return ""
	}
	if p, ok := pairedShare(c); ok {
		return fmt.Sprintf("; paired %.0f%%", 100*p)
	}
	return ""
}

func ratio(a, b *cell) string {
	if a == nil || b == nil || !a.ok() || !b.ok() || b.Result.Median <= 0 {
		return "–"
	}
	return fmt.Sprintf("%.2f", a.Result.Median/b.Result.Median)
}

func rssCell(c *cell) string {
	if c == nil || !c.ok() {
		return "–"
	}
	return fmtMiB(c.Result.VmHWMKiB)
}

func fmtMiB(kib int64) string {
	if kib <= 0 {
		return "?"
	}
	return fmt.Sprintf("%.0f", float64(kib)/1024)
}

// fmtMS prints about three significant digits.
func fmtMS(v float64) string {
	switch {
	case v < 1:
		return fmt.Sprintf("%.3f", v)
	case v < 10:
		return fmt.Sprintf("%.2f", v)
	case v < 100:
		return fmt.Sprintf("%.1f", v)
	}
	return fmt.Sprintf("%.0f", v)
}

func firstLine(s string) string {
	s, _, _ = strings.Cut(strings.TrimSpace(s), "\n")
	return s
}

var hexAddr = regexp.MustCompile(`0x[0-9a-f]{6,}`)

// oneLine flattens a reason for a markdown cell or list item; pointers in
// it are blanked so that the same failure reads the same everywhere.
func oneLine(s string, limit int) string {
	s = strings.Join(strings.Fields(s), " ")
	s = hexAddr.ReplaceAllString(s, "0x…")
	s = strings.ReplaceAll(s, "|", "\\|")
	if len(s) > limit {
		s = s[:limit] + "…"
	}
	return s
}

// shortReason is the gist of a failure, for a table cell.
func shortReason(s string) string {
	s = firstLine(s)
	// Drop the stage prefix and wrapping that the cell does not need.
	for _, p := range []string{"load: ", "run: ", "output: ", "inputs: "} {
		s = strings.TrimPrefix(s, p)
	}
	return oneLine(s, 50)
}

const (
	readmeBegin = "<!-- bench:begin -->"
	readmeEnd   = "<!-- bench:end -->"
)

// spliceReadme puts the results between the README's markers, headings
// moved one level down.
func spliceReadme(path, md string) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	s := string(b)
	i, j := strings.Index(s, readmeBegin), strings.Index(s, readmeEnd)
	if i < 0 || j < i {
		return fmt.Errorf("%s has no %s ... %s section", path, readmeBegin, readmeEnd)
	}
	var body []string
	for _, l := range strings.Split(strings.TrimSpace(md), "\n") {
		if strings.HasPrefix(l, "#") {
			l = "##" + l
		}
		body = append(body, l)
	}
	s = s[:i+len(readmeBegin)] + "\n" + strings.Join(body, "\n") + "\n" + s[j:]
	return os.WriteFile(path, []byte(s), 0o644)
}
