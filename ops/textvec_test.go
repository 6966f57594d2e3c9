package ops

import (
	"strings"
	"testing"

	"github.com/onyxrt/onyx/tensor"
)

func tvStrs(shape []int, v ...string) *tensor.Tensor { return tensor.From(shape, v) }

func TestTextTfIdfVectorizer(t *testing.T) {
	// Pool: unigrams a, b, c (coordinates 0-2), bigrams (a,b) and (b,a) (3, 4).
	pool := map[string]any{
		"pool_strings":  []string{"a", "b", "c", "a", "b", "b", "a"},
		"ngram_counts":  []int{0, 3},
		"ngram_indexes": []int{0, 1, 2, 3, 4},
	}
	with := func(extra map[string]any) map[string]any {
		m := map[string]any{"mode": "TF", "min_gram_length": 1, "max_gram_length": 2, "max_skip_count": 0}
		for k, v := range pool {
			m[k] = v
		}
		for k, v := range extra {
			m[k] = v
		}
		return m
	}
	abacb := tvStrs([]int{5}, "a", "b", "a", "c", "b")
	weights := []float64{0.5, 1, 2, 3, 4}
	cases := []struct {
		name  string
		attrs map[string]any
		in    *tensor.Tensor
		want  *tensor.Tensor
	}{
		// unigrams a:2 b:2 c:1; adjacent pairs ab ba ac cb
		{"TF uni+bigrams", with(nil), abacb, sgF32([]int{5}, 2, 2, 1, 1, 1)},
		// skip 1 adds the pairs at distance 2: aa, bc, ab
		{"TF skip 1", with(map[string]any{"max_skip_count": 1}), abacb, sgF32([]int{5}, 2, 2, 1, 2, 1)},
		{"TF bigrams only", with(map[string]any{"min_gram_length": 2}), abacb, sgF32([]int{5}, 0, 0, 0, 1, 1)},
		{"TF unigrams only", with(map[string]any{"max_gram_length": 1}), abacb, sgF32([]int{5}, 2, 2, 1, 0, 0)},
		{"IDF with weights", with(map[string]any{"mode": "IDF", "weights": weights}), abacb, sgF32([]int{5}, 0.5, 1, 2, 3, 4)},
		{"IDF without weights", with(map[string]any{"mode": "IDF"}), tvStrs([]int{2}, "c", "c"), sgF32([]int{5}, 0, 0, 1, 0, 0)},
		{"TFIDF with weights", with(map[string]any{"mode": "TFIDF", "weights": weights}), abacb, sgF32([]int{5}, 1, 2, 2, 3, 4)},
		{"permuted indexes", with(map[string]any{"ngram_indexes": []int{4, 3, 2, 1, 0}}), abacb, sgF32([]int{5}, 1, 1, 1, 2, 2)},
		// weights[i] belongs to the i-th n-gram, wherever ngram_indexes puts it
		{"permuted indexes, TFIDF", with(map[string]any{"ngram_indexes": []int{4, 3, 2, 1, 0}, "mode": "TFIDF", "weights": weights}),
			abacb, sgF32([]int{5}, 4, 3, 2, 2, 1)},
		{"sparse indexes", with(map[string]any{"ngram_indexes": []int{0, 2, 4, 6, 8}, "max_gram_length": 1}), abacb,
			sgF32([]int{9}, 2, 0, 2, 0, 1, 0, 0, 0, 0)},
		{"batch of rows", with(nil), tvStrs([]int{2, 3}, "a", "b", "x", "b", "a", "b"),
			sgF32([]int{2, 5}, 1, 1, 0, 1, 0, 1, 2, 0, 1, 1)},
		{"empty row", with(nil), tvStrs([]int{0}), sgF32([]int{5}, 0, 0, 0, 0, 0)},
		{"scalar", with(nil), tensor.Scalar("b"), sgF32([]int{5}, 0, 1, 0, 0, 0)},
		// Integer pools: the backend suite's pool (1-grams 2 3 5 4 at 0..3,
		// bigrams (5,6) (7,8) (6,7) at 4..6), int64 and int32 inputs.
		{"int64 skip 5", map[string]any{"mode": "TF", "min_gram_length": 1, "max_gram_length": 2, "max_skip_count": 5,
			"ngram_counts": []int{0, 4}, "ngram_indexes": []int{0, 1, 2, 3, 4, 5, 6}, "pool_int64s": []int{2, 3, 5, 4, 5, 6, 7, 8, 6, 7}},
			tensor.From([]int{12}, []int64{1, 1, 3, 3, 3, 7, 8, 6, 7, 5, 6, 8}), sgF32([]int{7}, 0, 3, 1, 0, 1, 3, 1)},
		{"int32 skip 0", map[string]any{"mode": "TF", "min_gram_length": 2, "max_gram_length": 2, "max_skip_count": 0,
			"ngram_counts": []int{0, 4}, "ngram_indexes": []int{0, 1, 2, 3, 4, 5, 6}, "pool_int64s": []int{2, 3, 5, 4, 5, 6, 7, 8, 6, 7}},
			tensor.From([]int{12}, []int32{1, 1, 3, 3, 3, 7, 8, 6, 7, 5, 6, 8}), sgF32([]int{7}, 0, 0, 0, 0, 1, 1, 1)},
	}
	for _, c := range cases {
		got, err := sgRun(registerText, "TfIdfVectorizer", 9, c.attrs, 1, c.in)
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		sgClose(t, c.name, got[0], c.want, 0)
	}

	bad := []struct {
		name  string
		attrs map[string]any
		in    *tensor.Tensor
		want  string
	}{
		{"bad mode", with(map[string]any{"mode": "BM25"}), abacb, "mode"},
		{"min > max", with(map[string]any{"min_gram_length": 3}), abacb, "min_gram_length"},
		{"max beyond counts", with(map[string]any{"max_gram_length": 3}), abacb, "ngram_counts"},
		{"ragged bigrams", with(map[string]any{"ngram_counts": []int{0, 2}}), abacb, "whole n-grams"},
		{"duplicate", with(map[string]any{"pool_strings": []string{"a", "a", "c", "a", "b", "b", "a"}}), abacb, "twice"},
		{"few indexes", with(map[string]any{"ngram_indexes": []int{0, 1, 2}}), abacb, "fewer"},
		{"negative index", with(map[string]any{"ngram_indexes": []int{0, 1, 2, 3, -4}}), abacb, "out of range"},
		{"weights length", with(map[string]any{"weights": []float64{1, 2}}), abacb, "weights"},
		{"int input, string pool", with(nil), tensor.From([]int{2}, []int64{1, 2}), "pool"},
		{"float input", with(nil), sgF32([]int{2}, 1, 2), "element type"},
		{"rank 3", with(nil), tvStrs([]int{1, 1, 1}, "a"), "[C] or [N, C]"},
	}
	for _, c := range bad {
		_, err := sgRun(registerText, "TfIdfVectorizer", 9, c.attrs, 1, c.in)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: got error %v, want one mentioning %q", c.name, err, c.want)
		}
	}
	noPool := with(nil)
	delete(noPool, "pool_strings")
	if _, err := sgRun(registerText, "TfIdfVectorizer", 9, noPool, 1, abacb); err == nil {
		t.Errorf("a node without a pool was accepted")
	}
}

func TestTextRegexFullMatch(t *testing.T) {
	cases := []struct {
		pattern string
		in      *tensor.Tensor
		want    []bool
	}{
		{`[a-z]+@[a-z]+\.com`, tvStrs([]int{2, 2}, "abc@def.com", "x@y.org", "abc@def.com extra", ""), []bool{true, false, false, false}},
		{`a|ab`, tvStrs([]int{3}, "ab", "a", "abc"), []bool{true, true, false}},
		{`(?i)hello`, tvStrs([]int{2}, "HeLLo", "hello!"), []bool{true, false}},
		{`(?m)^x$`, tvStrs([]int{2}, "x", "x\nx"), []bool{true, false}},
		{``, tvStrs([]int{2}, "", " "), []bool{true, false}},
		{`\d{3}`, tensor.Scalar("123"), []bool{true}},
	}
	for _, c := range cases {
		got, err := sgRun(registerText, "RegexFullMatch", 20, map[string]any{"pattern": c.pattern}, 1, c.in)
		if err != nil {
			t.Fatalf("%q: %v", c.pattern, err)
		}
		sgClose(t, c.pattern, got[0], tensor.From(c.in.Shape(), c.want), 0)
	}
	for _, p := range []string{`a)|(b`, `(`, `x**`} {
		if _, err := sgRun(registerText, "RegexFullMatch", 20, map[string]any{"pattern": p}, 1, tvStrs([]int{1}, "a")); err == nil {
			t.Errorf("invalid pattern %q was accepted", p)
		}
	}
	if _, err := sgRun(registerText, "RegexFullMatch", 20, nil, 1, tvStrs([]int{1}, "a")); err == nil {
		t.Errorf("a node without a pattern was accepted")
	}
	if _, err := sgRun(registerText, "RegexFullMatch", 20, map[string]any{"pattern": "a"}, 1, sgF32([]int{1}, 1)); err == nil {
		t.Errorf("a float input was accepted")
	}
}

func TestTextStringConcat(t *testing.T) {
	cases := []struct {
		a, b, want *tensor.Tensor
	}{
		{tvStrs([]int{2}, "ab", ""), tvStrs([]int{2}, "c", "d"), tvStrs([]int{2}, "abc", "d")},
		{tvStrs([]int{2, 1}, "x", "y"), tvStrs([]int{3}, "1", "2", "3"), tvStrs([]int{2, 3}, "x1", "x2", "x3", "y1", "y2", "y3")},
		{tensor.Scalar("pre-"), tvStrs([]int{2}, "a", "b"), tvStrs([]int{2}, "pre-a", "pre-b")},
		{tvStrs([]int{0, 2}), tvStrs([]int{2}, "a", "b"), tvStrs([]int{0, 2})},
	}
	for _, c := range cases {
		got, err := sgRun(registerText, "StringConcat", 20, nil, 1, c.a, c.b)
		if err != nil {
			t.Fatal(err)
		}
		sgClose(t, "StringConcat", got[0], c.want, 0)
	}
	if _, err := sgRun(registerText, "StringConcat", 20, nil, 1, tvStrs([]int{2}, "a", "b"), tvStrs([]int{3}, "a", "b", "c")); err == nil {
		t.Errorf("shapes [2] and [3] were accepted")
	}
	if _, err := sgRun(registerText, "StringConcat", 20, nil, 1, tvStrs([]int{1}, "a"), sgF32([]int{1}, 1)); err == nil {
		t.Errorf("a float operand was accepted")
	}
}

func TestTextStringSplit(t *testing.T) {
	cases := []struct {
		name  string
		attrs map[string]any
		in    *tensor.Tensor
		y     *tensor.Tensor
		z     []int64
	}{
		{"comma", map[string]any{"delimiter": ","}, tvStrs([]int{4}, "a,b,c", "d", "", "x,,y,"),
			tvStrs([]int{4, 4}, "a", "b", "c", "", "d", "", "", "", "", "", "", "", "x", "", "y", ""), []int64{3, 1, 0, 4}},
		{"maxsplit 1", map[string]any{"delimiter": ",", "maxsplit": 1}, tvStrs([]int{2}, "a,b,c", "d"),
			tvStrs([]int{2, 2}, "a", "b,c", "d", ""), []int64{2, 1}},
		{"maxsplit 0", map[string]any{"delimiter": ",", "maxsplit": 0}, tvStrs([]int{1}, "a,b"),
			tvStrs([]int{1, 1}, "a,b"), []int64{1}},
		{"two-character delimiter", map[string]any{"delimiter": "--"}, tvStrs([]int{1}, "a--b----c"),
			tvStrs([]int{1, 4}, "a", "b", "", "c"), []int64{4}},
		{"spaces", nil, tvStrs([]int{2, 1}, "  hello   world  ", "one"),
			tvStrs([]int{2, 1, 2}, "hello", "world", "one", ""), []int64{2, 1}},
		{"spaces, empty delimiter, maxsplit 1", map[string]any{"delimiter": "", "maxsplit": 1}, tvStrs([]int{2}, " a b  c ", "   "),
			tvStrs([]int{2, 2}, "a", "b  c", "", ""), []int64{2, 0}},
		{"all empty", map[string]any{"delimiter": ","}, tvStrs([]int{2}, "", ""), tvStrs([]int{2, 0}), []int64{0, 0}},
	}
	for _, c := range cases {
		got, err := sgRun(registerText, "StringSplit", 20, c.attrs, 2, c.in)
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		sgClose(t, c.name+" Y", got[0], c.y, 0)
		sgClose(t, c.name+" Z", got[1], tensor.From(c.in.Shape(), c.z), 0)
	}
	if _, err := sgRun(registerText, "StringSplit", 20, nil, 2, sgF32([]int{1}, 1)); err == nil {
		t.Errorf("a float input was accepted")
	}
}
