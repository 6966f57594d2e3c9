package ops

import (
	"fmt"
	"strings"

	"github.com/onyxrt/onyx/tensor"
)

// String operators: StringNormalizer.

func registerStrings(r *Registry) {
	r.Register(&Def{Name: "StringNormalizer", Since: 10, Build: buildStringNormalizer})
}

// buildStringNormalizer drops stop words from a [C] or [1, C] string
// tensor and then lower- or upper-cases what is left. Case mapping is
// Unicode's simple per-rune mapping whatever the locale attribute says;
// case-insensitive stop-word matching compares lower-cased forms.
func buildStringNormalizer(b *Builder) (Kernel, error) {
	action := b.String("case_change_action", "NONE")
	sensitive := b.Int("is_case_sensitive", 0) != 0
	b.String("locale", "")
	stopwords := b.Strings("stopwords", nil)
	if err := b.Err(); err != nil {
		return nil, err
	}
	var change func(string) string
	switch action {
	case "NONE":
	case "LOWER":
		change = strings.ToLower
	case "UPPER":
		change = strings.ToUpper
	default:
		return nil, fmt.Errorf("case_change_action %q is not one of LOWER, UPPER, NONE", action)
	}
	stop := make(map[string]bool, len(stopwords))
	for _, w := range stopwords {
		if !sensitive {
			w = strings.ToLower(w)
		}
		stop[w] = true
	}
	return KernelFunc(func(rc *RunContext, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
		x, err := tensorArg(in, 0, "X")
		if err != nil {
			return nil, err
		}
		if x.DType() != tensor.String {
			return nil, ErrDType("StringNormalizer", x.DType())
		}
		s := x.Shape()
		if !(len(s) == 1 || (len(s) == 2 && s[0] == 1)) {
			return nil, fmt.Errorf("input must have shape [C] or [1, C], has %v", s)
		}
		out := []string{}
		for _, w := range tensor.Data[string](x) {
			key := w
			if !sensitive {
				key = strings.ToLower(w)
			}
			if stop[key] {
				continue
			}
			if change != nil {
				w = change(w)
			}
			out = append(out, w)
		}
		shape := []int{len(out)}
		if len(out) == 0 {
			// Everything was dropped: the spec's empty value is one "".
			out, shape[0] = []string{""}, 1
		}
		if len(s) == 2 {
			shape = []int{1, shape[0]}
		}
		y, err := tensor.FromSlice(shape, out)
		if err != nil {
			return nil, err
		}
		return rc.Results(y), nil
	}), nil
}
