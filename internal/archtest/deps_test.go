package archtest

import (
	"os/exec"
	"strings"
	"testing"
)

const module = "github.com/onyxrt/onyx"

// allowed lists, per package, the module packages it may import (directly
// or not). Packages not listed here are unconstrained (cmd, internal).
var allowed = map[string][]string{
	"ops/asm":     {},
	"tensor":      {},
	"ops":         {"tensor", "ops/asm"},
	"graph":       {"ops", "tensor", "ops/asm"},
	"onnx/onnxpb": {},
	"onnx":        {"graph", "ops", "tensor", "ops/asm", "onnx/onnxpb"},
	"runtime":     {"graph", "ops", "tensor", "ops/asm"},
	"train":       {"runtime", "graph", "ops", "tensor", "ops/asm", "onnx", "onnx/onnxpb"},
}

// external lists the non-standard-library modules a package may reach.
var external = []string{"google.golang.org/protobuf", "golang.org/x/sys"}

func TestDependencies(t *testing.T) {
	for pkg, ok := range allowed {
		out, err := exec.Command("go", "list", "-deps", module+"/"+pkg).Output()
		if err != nil {
			t.Fatalf("go list %s: %v", pkg, err)
		}
		permitted := map[string]bool{module + "/" + pkg: true}
		for _, p := range ok {
			permitted[module+"/"+p] = true
		}
		for _, dep := range strings.Fields(string(out)) {
			switch {
			case strings.HasPrefix(dep, module+"/"):
				if !permitted[dep] {
					t.Errorf("%s imports %s, which ARCHITECTURE.md forbids", pkg, strings.TrimPrefix(dep, module+"/"))
				}
			case strings.Contains(strings.SplitN(dep, "/", 2)[0], "."):
				good := false
				for _, e := range external {
					if strings.HasPrefix(dep, e) {
						good = true
					}
				}
				if !good {
					t.Errorf("%s depends on %s, outside the chosen dependencies", pkg, dep)
				}
			}
		}
	}
}
