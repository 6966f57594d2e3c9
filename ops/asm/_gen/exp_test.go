package main

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// TestGeneratedExp fails when ../exp_amd64.s or ../exp_stubs_amd64.go
// differ from what this generator writes now: run `go generate` in
// ops/asm after changing exp.go, and commit them.
func TestGeneratedExp(t *testing.T) {
	dir := t.TempDir()
	asmOut, stubsOut := filepath.Join(dir, "exp_amd64.s"), filepath.Join(dir, "exp_stubs_amd64.go")
	if out, err := exec.Command("go", "run", ".", "-kernels", "exp", "-out", asmOut, "-stubs", stubsOut, "-pkg", "asm").CombinedOutput(); err != nil {
		t.Fatalf("generator failed: %v\n%s", err, out)
	}
	for _, f := range []struct{ got, committed string }{
		{asmOut, "../exp_amd64.s"},
		{stubsOut, "../exp_stubs_amd64.go"},
	} {
		got, err := os.ReadFile(f.got)
		if err != nil {
			t.Fatal(err)
		}
		want, err := os.ReadFile(f.committed)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(dropFirstLine(got), dropFirstLine(want)) {
			t.Errorf("%s is stale: run `go generate` in ops/asm and commit the result", f.committed)
		}
	}
}
