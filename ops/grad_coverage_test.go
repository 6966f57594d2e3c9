package ops

import (
	"reflect"
	"sort"
	"strings"
	"testing"
)

func isNotDifferentiableRule(f GradFunc) bool {
	return f != nil && reflect.ValueOf(f).Pointer() == reflect.ValueOf(GradFunc(NotDifferentiable)).Pointer()
}

// TestEveryOpHasGradRuleOrIsMarked: every version of every ai.onnx
// operator of Default() has a gradient rule, or is marked not
// differentiable (nonDifferentiable), or is a listed exception
// (gradExceptions), and the lists name registered operators only.
func TestEveryOpHasGradRuleOrIsMarked(t *testing.T) {
	reg := Default()
	registered := map[string]bool{}
	var rules, marked, excepted []string
	for _, info := range reg.List() {
		if NormDomain(info.Domain) != "" {
			continue
		}
		registered[info.Name] = true
		kind := ""
		for _, v := range info.Versions {
			def, err := reg.Lookup(info.Domain, info.Name, v)
			if err != nil {
				t.Fatal(err)
			}
			rule := GradFor(def)
			k := "rule"
			switch {
			case rule == nil:
				k = "none"
			case isNotDifferentiableRule(rule):
				k = "nondiff"
			}
			if kind != "" && k != kind {
				t.Errorf("%s: version %d has a %s, an earlier one a %s", info.Name, v, k, kind)
			}
			kind = k
		}
		_, nd := nonDifferentiable[info.Name]
		_, ex := gradExceptions[info.Name]
		switch kind {
		case "none":
			if !ex {
				t.Errorf("%s (opsets %v) has no gradient rule and is neither marked non-differentiable (grad_nondiff.go nonDifferentiable) nor a listed exception (gradExceptions)", info.Name, info.Versions)
			}
			excepted = append(excepted, info.Name)
		case "nondiff":
			if !nd {
				t.Errorf("%s is NotDifferentiable but not listed with a reason in nonDifferentiable", info.Name)
			}
			marked = append(marked, info.Name)
		default:
			rules = append(rules, info.Name)
		}
		if kind != "nondiff" && nd {
			t.Errorf("%s is listed in nonDifferentiable but GradFor gives it a %s", info.Name, kind)
		}
		if kind != "none" && ex {
			t.Errorf("%s is listed in gradExceptions but has a rule now: remove it from the list", info.Name)
		}
		if r := NoGradReason("", info.Name); (kind == "rule") != (r == "") {
			t.Errorf("%s: NoGradReason %q for a %s", info.Name, r, kind)
		}
	}
	for _, list := range []map[string]string{nonDifferentiable, gradExceptions, partialGrads} {
		for name, reason := range list {
			if !registered[name] {
				t.Errorf("%s is listed in grad_nondiff.go but not registered in Default()", name)
			}
			if strings.TrimSpace(reason) == "" {
				t.Errorf("%s is listed without a reason", name)
			}
		}
	}
	for name := range partialGrads {
		if rule := gradRule("", name); rule == nil || isNotDifferentiableRule(rule) {
			t.Errorf("partialGrads lists %s, which has no rule", name)
		}
	}
	sort.Strings(excepted)
	t.Logf("%d operators with gradient rules, %d not differentiable, %d exceptions: %v", len(rules), len(marked), len(excepted), excepted)
}

// TestGradRuleKernelsRegistered: the backward kernels of the rules are
// registered in GradDomain.
func TestGradRuleKernelsRegistered(t *testing.T) {
	reg := Default()
	for _, name := range []string{"ActivationGrad", "PReluGrad", "ReduceOpGrad", "EinsumGrad", "DetGrad",
		"GatherElementsGrad", "GatherNDGrad", "ScatterGrad", "Col2ImGrad", "GroupNormGrad", "LRNGrad",
		"LpNormGrad", "MVNGrad", "LpPoolGrad", "GlobalLpPoolGrad", "MaxRoiPoolGrad", "RoiAlignGrad",
		"MaxUnpoolGrad", "ResizeGrad", "GridSampleGrad", "AffineGridGrad", "DeformConvGrad", "DFTGrad",
		"STFTGrad", "DequantizeLinearGrad",
		// grad_control.go and grad_sequence.go
		"ScanGrad", "LoopGrad", "SequenceMapGrad", "GradSum", "GradZerosLike", "SequenceAtGrad",
		"SequenceInsertGrad", "SequenceEraseGrad", "SplitToSequenceGrad", "ConcatFromSequenceGrad",
		"OptionalGetElementGrad"} {
		if _, err := reg.Lookup(GradDomain, name, 1); err != nil {
			t.Error(err)
		}
	}
}
