package main

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// TestGenerated fails when ../../wino_amd64.s, ../../wino_stubs_amd64.go,
// ../../wino_arm64.s, ../../conv_epi_arm64.s or ../../act_arm64.s differ
// from what this generator writes now: run `go generate` in ops/asm
// after changing the generator, and commit them.
func TestGenerated(t *testing.T) {
	dir := t.TempDir()
	asmOut, stubsOut := filepath.Join(dir, "wino_amd64.s"), filepath.Join(dir, "wino_stubs_amd64.go")
	if out, err := exec.Command("go", "run", ".", "-out", asmOut, "-stubs", stubsOut, "-pkg", "asm").CombinedOutput(); err != nil {
		t.Fatalf("generator failed: %v\n%s", err, out)
	}
	armOut, epiOut, actOut := filepath.Join(dir, "wino_arm64.s"), filepath.Join(dir, "conv_epi_arm64.s"), filepath.Join(dir, "act_arm64.s")
	if out, err := exec.Command("go", "run", ".", "-arm64", armOut, "-epi", epiOut, "-act", actOut).CombinedOutput(); err != nil {
		t.Fatalf("generator failed: %v\n%s", err, out)
	}
	for _, f := range []struct{ got, committed string }{
		{asmOut, "../../wino_amd64.s"},
		{stubsOut, "../../wino_stubs_amd64.go"},
		{armOut, "../../wino_arm64.s"},
		{epiOut, "../../conv_epi_arm64.s"},
		{actOut, "../../act_arm64.s"},
	} {
		got, err := os.ReadFile(f.got)
		if err != nil {
			t.Fatal(err)
		}
		want, err := os.ReadFile(f.committed)
		if err != nil {
			t.Fatal(err)
		}
		// The first line names the command with its output paths.
		if !bytes.Equal(dropFirstLine(got), dropFirstLine(want)) {
			t.Errorf("%s is stale: run `go generate` in ops/asm and commit the result", f.committed)
		}
	}
}

func dropFirstLine(b []byte) []byte {
	if i := bytes.IndexByte(b, '\n'); i >= 0 {
		return b[i+1:]
	}
	return b
}
