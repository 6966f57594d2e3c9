package data_test

import (
	"slices"
	"strings"
	"testing"

	"github.com/onyxrt/onyx/tensor"
	"github.com/onyxrt/onyx/train/data"
)

// counting is a data set whose example i has input i and label i%3.
type counting int

func (c counting) Len() int { return int(c) }
func (c counting) Batch(idx []int) (map[string]*tensor.Tensor, error) {
	x := make([]float32, len(idx))
	y := make([]int64, len(idx))
	for i, j := range idx {
		x[i], y[i] = float32(j), int64(j%3)
	}
	return map[string]*tensor.Tensor{data.Input: tensor.From([]int{len(idx)}, x), data.Label: tensor.From([]int{len(idx)}, y)}, nil
}

func TestBatches(t *testing.T) {
	cases := []struct {
		n, size int
		shuffle bool
		sizes   []int
	}{
		{10, 3, false, []int{3, 3, 3, 1}},
		{10, 5, true, []int{5, 5}},
		{4, 10, true, []int{4}},
		{0, 3, true, nil},
		{5, 0, false, nil},
	}
	for _, c := range cases {
		b := data.Batches(c.n, c.size, 42, c.shuffle)
		var sizes []int
		var all []int
		for _, bb := range b {
			sizes = append(sizes, len(bb))
			all = append(all, bb...)
		}
		if !slices.Equal(sizes, c.sizes) {
			t.Errorf("Batches(%d, %d): sizes %v, want %v", c.n, c.size, sizes, c.sizes)
		}
		slices.Sort(all)
		for i, v := range all {
			if v != i {
				t.Fatalf("Batches(%d, %d) is not a permutation: %v", c.n, c.size, all)
			}
		}
	}
	if !slices.Equal(data.Batches(5, 5, 1, false)[0], []int{0, 1, 2, 3, 4}) {
		t.Error("unshuffled batches are not in order")
	}
	a, b, c := data.Batches(100, 100, 7, true)[0], data.Batches(100, 100, 7, true)[0], data.Batches(100, 100, 8, true)[0]
	if !slices.Equal(a, b) || slices.Equal(a, c) {
		t.Error("same seed must give the same order, another seed another")
	}
	// Pinned so that a change of the shuffle (and of every seeded run) is noticed.
	if got := data.Batches(8, 8, 1, true)[0]; !slices.Equal(got, pinnedShuffle) {
		t.Errorf("Batches(8, 8, seed 1) = %v, want %v", got, pinnedShuffle)
	}
}

var pinnedShuffle = []int{0, 3, 7, 1, 2, 6, 5, 4}

func TestSplitAndSubset(t *testing.T) {
	ds := counting(10)
	for _, c := range []struct {
		f          float64
		train, val int
	}{{0.2, 8, 2}, {0, 10, 0}, {1, 0, 10}, {0.01, 9, 1}, {0.99, 1, 9}} {
		tr, va := data.Split(ds, c.f, 3)
		if tr.Len() != c.train || va.Len() != c.val {
			t.Errorf("Split(%g): %d/%d, want %d/%d", c.f, tr.Len(), va.Len(), c.train, c.val)
		}
		seen := map[float32]bool{}
		for _, part := range []data.Dataset{tr, va} {
			if part.Len() == 0 {
				continue
			}
			x, _ := batchAll(t, part)
			for _, v := range x.Float32s() {
				if seen[v] {
					t.Fatalf("Split(%g): example %g in both parts", c.f, v)
				}
				seen[v] = true
			}
		}
		if len(seen) != 10 {
			t.Errorf("Split(%g) covers %d examples, want 10", c.f, len(seen))
		}
	}
	tr1, _ := data.Split(ds, 0.3, 9)
	tr2, _ := data.Split(ds, 0.3, 9)
	x1, _ := batchAll(t, tr1)
	x2, _ := batchAll(t, tr2)
	if !slices.Equal(x1.Float32s(), x2.Float32s()) {
		t.Error("Split is not reproducible for one seed")
	}
	sub := data.Subset(ds, []int{7, 2})
	b, err := sub.Batch([]int{1, 0, 1})
	if err != nil || !slices.Equal(b[data.Input].Float32s(), []float32{2, 7, 2}) || !slices.Equal(b[data.Label].Int64s(), []int64{2, 1, 2}) {
		t.Errorf("Subset batch: %v, %v", b, err)
	}
	if _, err := sub.Batch([]int{2}); err == nil {
		t.Error("Subset index out of range: no error")
	}
	defer func() {
		if recover() == nil {
			t.Error("Split(1.5) did not panic")
		}
	}()
	data.Split(ds, 1.5, 0)
}

func TestOpenErrors(t *testing.T) {
	dir := t.TempDir()
	for _, c := range []struct {
		source, split string
		opts          data.Options
		want          string
	}{
		{"mnist", "", data.Options{}, "KIND:PATH"},
		{"parquet:" + dir, "", data.Options{}, "unknown kind"},
		{"mnist:" + dir, "", data.Options{Layout: "CHWN"}, "layout"},
		{"mnist:" + dir, "", data.Options{Size: [2]int{0, 3}}, "size"},
		{"mnist:" + dir, "", data.Options{Channels: 2}, "channels"},
		{"mnist:" + dir, "validation", data.Options{}, "splits"},
		{"mnist:" + dir, "train", data.Options{}, "no such file"},
		{"cifar10:" + dir, "test", data.Options{}, "no CIFAR-10"},
		{"speech:" + dir, "", data.Options{Features: "wavelet"}, "features"},
		{"imdb:" + dir, "dev", data.Options{}, "splits"},
	} {
		_, err := data.Open(c.source, c.split, c.opts)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("Open(%q, %q): error %v, want one mentioning %q", c.source, c.split, err, c.want)
		}
	}
}

func TestBatchIndexOutOfRange(t *testing.T) {
	ds, err := data.Open("csv:"+writeCSV(t), "", data.Options{})
	if err != nil {
		t.Fatal(err)
	}
	for _, idx := range [][]int{{-1}, {2}} {
		if _, err := ds.Batch(idx); err == nil {
			t.Errorf("Batch(%v) of 2 examples: no error", idx)
		}
	}
}

func writeCSV(t *testing.T) string {
	p := t.TempDir() + "/a.csv"
	writeFile(t, p, []byte("1,0\n2,1\n"))
	return p
}

// TestSeedAndLimit: Options.Seed permutes the examples like Batches does,
// then Limit keeps a prefix.
func TestSeedAndLimit(t *testing.T) {
	p := t.TempDir() + "/a.csv"
	writeFile(t, p, []byte("0,0\n1,1\n2,0\n3,1\n4,0\n5,1\n"))
	perm := data.Batches(6, 6, 11, true)[0]
	for _, limit := range []int{0, 3} {
		ds, err := data.Open("csv:"+p, "", data.Options{Seed: 11, Limit: limit})
		if err != nil {
			t.Fatal(err)
		}
		x, y := batchAll(t, ds)
		want := perm
		if limit > 0 {
			want = perm[:limit]
		}
		for i, j := range want {
			if x.Float32s()[i] != float32(j) || y.Int64s()[i] != int64(j%2) {
				t.Fatalf("limit %d: example %d is row %g, want row %d", limit, i, x.Float32s()[i], j)
			}
		}
	}
}
