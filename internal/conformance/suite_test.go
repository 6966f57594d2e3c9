package conformance_test

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/onyxrt/onyx/internal/conformance"
	"github.com/onyxrt/onyx/train"
)

// The ONNX backend suite from Debian's libonnx-testdata, and the real
// exported models of ../shared/models (each with ONNX Runtime's outputs).
const testdataRoot = "/usr/share/libonnx-testdata/data"

const manifestPath = "testdata/expected_failures.txt"

// randomReason starts the manifest reason of cases that compare against
// another program's random numbers.
const randomReason = "random values:"

// suites returns the directory of every suite by name, or of those that
// ONYX_SUITES names (comma-separated): make test runs the backend suites
// again on arm64 under qemu, too slow there for the large models.
func suites(t *testing.T) map[string]string {
	s := map[string]string{}
	for _, name := range []string{"node", "simple", "pytorch-converted", "pytorch-operator"} {
		s[name] = filepath.Join(testdataRoot, name)
	}
	s["shared"] = filepath.Join(repoRoot(t), "..", "shared", "models")
	s["models"] = filepath.Join(repoRoot(t), "models")
	s["exported"] = filepath.Join(repoRoot(t), "testdata", "exported")
	s["opset18plus"] = filepath.Join(repoRoot(t), "testdata", "opset18plus")
	if only := os.Getenv("ONYX_SUITES"); only != "" {
		some := map[string]string{}
		for _, name := range strings.Split(only, ",") {
			dir, ok := s[name]
			if !ok {
				t.Fatalf("ONYX_SUITES names %q, which is not a suite", name)
			}
			some[name] = dir
		}
		return some
	}
	return s
}

func repoRoot(t testing.TB) string {
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("go.mod not found above the test")
		}
		dir = parent
	}
}

// readManifest returns "suite/case" -> reason.
func readManifest(t *testing.T) map[string]string {
	f, err := os.Open(manifestPath)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	m := map[string]string{}
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		id, reason, ok := strings.Cut(line, " ")
		reason = strings.TrimSpace(reason)
		if !ok || reason == "" {
			t.Fatalf("%s:%d: want `suite/case reason`, got %q", manifestPath, n, line)
		}
		if _, dup := m[id]; dup {
			t.Fatalf("%s:%d: %s listed twice", manifestPath, n, id)
		}
		m[id] = reason
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return m
}

// TestSuites runs every case of every suite. A case must pass unless the
// manifest lists it (with a reason); a listed case that passes fails the
// test too, so the manifest stays true. Set ONYX_UPDATE_MANIFEST=1 to
// rewrite the manifest from the current results, keeping the reasons of
// cases already listed (then review the new reasons).
func TestSuites(t *testing.T) {
	if testing.Short() {
		t.Skip("conformance suites are not run with -short")
	}
	expected := readManifest(t)
	reg := train.Registry()
	type job struct{ suite, dir string }
	var jobs []job
	names := []string{}
	all := suites(t)
	for name := range all {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		dir := all[name]
		if _, err := os.Stat(dir); err != nil {
			if os.Getenv("CI") == "true" {
				t.Errorf("suite %s is missing at %s (run `make test`, which installs it)", name, dir)
			} else {
				t.Logf("suite %s is missing at %s: not run (make test installs it)", name, dir)
			}
			continue
		}
		cases, err := conformance.FindCases(dir)
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range cases {
			jobs = append(jobs, job{name, c})
		}
	}
	results := make([]conformance.Result, len(jobs))
	var wg sync.WaitGroup
	next := make(chan int)
	for w := 0; w < runtime.NumCPU(); w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				results[i] = conformance.Run(jobs[i].dir, conformance.Options{Registry: reg, Threads: 2})
			}
		}()
	}
	for i := range jobs {
		next <- i
	}
	close(next)
	wg.Wait()

	type counts struct{ pass, fail, total int }
	per := map[string]*counts{}
	var manifest []string
	seen := map[string]bool{}
	for i, r := range results {
		s := jobs[i].suite
		id := s + "/" + relName(all[s], r.Dir)
		seen[id] = true
		c := per[s]
		if c == nil {
			c = &counts{}
			per[s] = c
		}
		c.total++
		reason, listed := expected[id]
		switch r.Status {
		case conformance.Pass:
			c.pass++
			// Cases whose expected values are another program's random
			// draws may match by chance when unseeded; either outcome is
			// theirs.
			if listed && !strings.HasPrefix(reason, randomReason) {
				t.Errorf("%s passes but the manifest lists it as failing (%s): remove it from %s", id, reason, manifestPath)
			}
		default:
			c.fail++
			line := oneLine(r.Reason)
			if !listed {
				t.Errorf("%s fails: %s", id, line)
				manifest = append(manifest, id+" "+line)
			} else {
				manifest = append(manifest, id+" "+reason) // keep the written reason
			}
		}
	}
	for id := range expected {
		suite, _, _ := strings.Cut(id, "/")
		if _, ran := per[suite]; ran && !seen[id] {
			t.Errorf("manifest lists %s, which is not a case of suite %s", id, suite)
		}
	}
	for _, name := range names {
		if c := per[name]; c != nil {
			t.Logf("%-18s %4d passed, %4d failed, of %4d", name, c.pass, c.fail, c.total)
		}
	}
	if os.Getenv("ONYX_UPDATE_MANIFEST") == "1" && os.Getenv("ONYX_SUITES") == "" {
		sort.Strings(manifest)
		header := "# Conformance cases that fail today, one per line: suite/case, then the reason.\n" +
			"# TestSuites fails on a failure not listed here and on a listed case that passes,\n" +
			"# except cases whose reason starts with \"" + randomReason + "\", which may pass by chance.\n"
		if err := os.WriteFile(manifestPath, []byte(header+strings.Join(manifest, "\n")+"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func relName(root, dir string) string {
	rel, err := filepath.Rel(root, dir)
	if err != nil {
		return dir
	}
	return filepath.ToSlash(rel)
}

func oneLine(s string) string {
	s = strings.Join(strings.Fields(conformance.FirstLine(s)), " ")
	if len(s) > 300 {
		s = s[:300] + "..."
	}
	return fmt.Sprint(s)
}
