package data

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"github.com/onyxrt/onyx/tensor"
)

// Keras' IMDB conventions (keras.datasets.imdb.load_data).
const (
	IMDBPad       = 0 // padding
	IMDBStart     = 1 // start of a review
	IMDBOOV       = 2 // a word not in the index or beyond NumWords
	IMDBIndexFrom = 3 // word_index[w] + 3 is the id of w

	defaultNumWords = 10000
	defaultMaxLen   = 100
)

// IMDBClasses are the IMDB labels' names: 0 negative, 1 positive.
var IMDBClasses = []string{"neg", "pos"}

// openIMDB reads the labelled aclImdb reviews of split train (default) or
// test from p: the aclImdb tar(.gz), a directory holding it (or an
// extracted aclImdb/ tree), with imdb_word_index.json beside it.
func openIMDB(p, split string, opts Options) (Dataset, error) {
	split = strings.ToLower(split)
	if split == "" {
		split = "train"
	}
	if split != "train" && split != "test" {
		return nil, fmt.Errorf("imdb has splits train and test, not %q", split)
	}
	numWords, maxLen := opts.NumWords, opts.MaxLen
	if numWords == 0 {
		numWords = defaultNumWords
	}
	if maxLen == 0 {
		maxLen = defaultMaxLen
	}
	dir := p
	if st, err := os.Stat(p); err != nil {
		return nil, err
	} else if !st.IsDir() {
		dir = filepath.Dir(p)
	}
	index, err := LoadWordIndex(filepath.Join(dir, "imdb_word_index.json"))
	if err != nil {
		return nil, err
	}
	byClass := make([][]namedBlob, 2)
	add := func(name string, r io.Reader) error {
		// .../<split>/<pos|neg>/<id>_<rating>.txt
		parts := strings.Split(name, "/")
		if len(parts) < 3 || parts[len(parts)-3] != split || !strings.HasSuffix(name, ".txt") {
			return nil
		}
		c := -1
		switch parts[len(parts)-2] {
		case "neg":
			c = 0
		case "pos":
			c = 1
		}
		if c < 0 {
			return nil
		}
		b, err := io.ReadAll(r)
		if err != nil {
			return err
		}
		byClass[c] = keepFirst(append(byClass[c], namedBlob{name, b}), firstN(opts), byReviewID)
		return nil
	}
	if err := readIMDBFiles(p, add); err != nil {
		return nil, err
	}
	for _, items := range byClass {
		sort.Slice(items, func(a, b int) bool { return byReviewID(items[a], items[b]) })
	}
	// Not flattenClasses, which sorts by name: reviews go by numeric id.
	counts := []int{len(byClass[0]), len(byClass[1])}
	flat := append(append([]namedBlob(nil), byClass[0]...), byClass[1]...)
	order := interleave(counts)
	if len(order) == 0 {
		return nil, fmt.Errorf("no %s/{neg,pos}/*.txt reviews in %s", split, p)
	}
	keep := selectOrder(len(order), opts)
	x := make([]int64, len(keep)*maxLen)
	y := make([]int64, len(keep))
	err = parallel(len(keep), func(i int) error {
		j := order[keep[i]]
		if j >= counts[0] {
			y[i] = 1
		}
		seq := EncodeIMDB(string(flat[j].data), index, numWords)
		PadSequence(x[i*maxLen:(i+1)*maxLen], seq)
		return nil
	})
	if err != nil {
		return nil, err
	}
	return &arraySet{x: tensor.From([]int{len(keep), maxLen}, x), y: tensor.From([]int{len(keep)}, y), classes: IMDBClasses}, nil
}

// readIMDBFiles calls add for every file of the aclImdb tree at p (an
// archive, a directory holding aclImdb_v1_labeled.tar.gz or aclImdb.tar.gz,
// or an extracted tree).
func readIMDBFiles(p string, add func(name string, r io.Reader) error) error {
	st, err := os.Stat(p)
	if err != nil {
		return err
	}
	if !st.IsDir() {
		return walkTar(p, add)
	}
	for _, a := range []string{"aclImdb_v1_labeled.tar.gz", "aclImdb_v1.tar.gz", "aclImdb.tar.gz"} {
		if _, err := os.Stat(filepath.Join(p, a)); err == nil {
			return walkTar(filepath.Join(p, a), add)
		}
	}
	root := p
	if _, err := os.Stat(filepath.Join(p, "aclImdb")); err == nil {
		root = filepath.Join(p, "aclImdb")
	}
	for _, sp := range []string{"train", "test"} {
		for _, c := range []string{"neg", "pos"} {
			d := filepath.Join(root, sp, c)
			ents, err := os.ReadDir(d)
			if err != nil {
				continue
			}
			for _, e := range ents {
				f, err := os.Open(filepath.Join(d, e.Name()))
				if err != nil {
					return err
				}
				err = add(path.Join(sp, c, e.Name()), f)
				f.Close()
				if err != nil {
					return err
				}
			}
		}
	}
	return nil
}

func byReviewID(a, b namedBlob) bool {
	ia, ib := reviewID(a.name), reviewID(b.name)
	if ia != ib {
		return ia < ib
	}
	return a.name < b.name
}

// reviewID is the numeric id of an aclImdb file name <id>_<rating>.txt.
func reviewID(name string) int {
	base := path.Base(name)
	id, _, _ := strings.Cut(base, "_")
	n, err := strconv.Atoi(id)
	if err != nil {
		return -1
	}
	return n
}

// LoadWordIndex reads a Keras word index (imdb_word_index.json: word ->
// frequency rank, 1 for the most frequent word).
func LoadWordIndex(name string) (map[string]int, error) {
	b, err := os.ReadFile(name)
	if err != nil {
		return nil, err
	}
	var m map[string]int
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	return m, nil
}

// kerasFilters are the characters Keras' text_to_word_sequence replaces by
// spaces (its default filters).
const kerasFilters = "!\"#$%&()*+,-./:;<=>?@[\\]^_`{|}~\t\n"

// Tokenize splits a review like Keras' text_to_word_sequence after
// removing the HTML line breaks of aclImdb: "<br />" becomes a space, the
// text is lower-cased, the Keras filter characters become spaces and the
// text is split at spaces (apostrophes stay inside words: "it's").
func Tokenize(text string) []string {
	text = strings.ReplaceAll(text, "<br />", " ")
	text = strings.ReplaceAll(text, "<br/>", " ")
	text = strings.ToLower(text)
	return strings.FieldsFunc(text, func(r rune) bool {
		return r == ' ' || (r < 128 && strings.ContainsRune(kerasFilters, r))
	})
}

// EncodeIMDB maps a review to Keras' imdb ids: the start id 1, then
// word_index[w]+3 per word, with the OOV id 2 for unknown words and for ids
// >= numWords (numWords <= 0: no cap).
func EncodeIMDB(text string, index map[string]int, numWords int) []int64 {
	words := Tokenize(text)
	seq := make([]int64, 0, len(words)+1)
	seq = append(seq, IMDBStart)
	for _, w := range words {
		id := int64(IMDBOOV)
		if r, ok := index[w]; ok {
			id = int64(r) + IMDBIndexFrom
		}
		if numWords > 0 && id >= int64(numWords) {
			id = IMDBOOV
		}
		seq = append(seq, id)
	}
	return seq
}

// PadSequence writes seq into dst like Keras pad_sequences with
// padding="pre" and truncating="pre": a long sequence keeps its last
// len(dst) ids, a short one is preceded by zeros.
func PadSequence(dst, seq []int64) {
	if len(seq) >= len(dst) {
		copy(dst, seq[len(seq)-len(dst):])
		return
	}
	pad := len(dst) - len(seq)
	clear(dst[:pad])
	copy(dst[pad:], seq)
}
