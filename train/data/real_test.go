package data_test

import (
	"image/png"
	"math"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/onyxrt/onyx/tensor"
	"github.com/onyxrt/onyx/train/data"
)

// sharedData returns ../shared/data/<sub> (the project's real data sets),
// skipping the test when it is absent, or failing it under CI=true.
func sharedData(t testing.TB, sub string) string {
	t.Helper()
	p := filepath.Join("..", "..", "..", "shared", "data", sub)
	if _, err := os.Stat(p); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("real data %s is missing (CI=true): %v", p, err)
		}
		t.Skipf("real data %s is not present: %v", p, err)
	}
	return p
}

func batchAll(t testing.TB, ds data.Dataset) (*tensor.Tensor, *tensor.Tensor) {
	t.Helper()
	idx := make([]int, ds.Len())
	for i := range idx {
		idx[i] = i
	}
	b, err := ds.Batch(idx)
	if err != nil {
		t.Fatal(err)
	}
	return b[data.Input], b[data.Label]
}

func classCounts(labels []int64, n int) []int {
	c := make([]int, n)
	for _, l := range labels {
		c[l]++
	}
	return c
}

func TestRealLoaders(t *testing.T) {
	cifarFirst20 := []int64{3, 8, 8, 0, 6, 6, 1, 6, 3, 1, 0, 9, 5, 7, 9, 8, 5, 7, 8, 6}
	cases := []struct {
		name, sub, kind, path, split string
		slow                         bool // reads a large archive: skipped with -short
		opts                         data.Options
		n                            int
		shape                        []int // of one batch of all examples
		dtype                        tensor.DType
		labels                       []int64 // first labels
		classes                      int     // labels lie in [0, classes)
		check                        func(t *testing.T, x, y *tensor.Tensor)
	}{
		{name: "mnist-test-full", sub: "mnist", kind: "mnist", split: "test", n: 10000,
			shape: []int{10000, 1, 28, 28}, dtype: tensor.Float32, labels: []int64{7, 2, 1, 0}, classes: 10,
			check: func(t *testing.T, x, y *tensor.Tensor) {
				want := []int{980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009}
				if got := classCounts(y.Int64s(), 10); !slices.Equal(got, want) {
					t.Errorf("class counts %v, want %v", got, want)
				}
				checkRange(t, x.Float32s(), 0, 1)
			}},
		{name: "mnist-train-limit", sub: "mnist", kind: "mnist", split: "train", opts: data.Options{Limit: 8}, n: 8,
			shape: []int{8, 1, 28, 28}, dtype: tensor.Float32, labels: []int64{5, 0, 4, 1, 9, 2, 1, 3}, classes: 10},
		{name: "mnist-nhwc-resized-rgb", sub: "mnist", kind: "mnist", split: "test",
			opts: data.Options{Limit: 2, Layout: "NHWC", Size: [2]int{14, 14}, Channels: 3}, n: 2,
			shape: []int{2, 14, 14, 3}, dtype: tensor.Float32, labels: []int64{7, 2}, classes: 10},
		{name: "cifar10-binary-first20", sub: "cifar10", kind: "cifar10", path: "test_batch_first20.bin", n: 20,
			shape: []int{20, 3, 32, 32}, dtype: tensor.Float32, labels: cifarFirst20, classes: 10,
			check: func(t *testing.T, x, _ *tensor.Tensor) {
				// Bit-exact with the lossless PNGs.
				for i, l := range cifarFirst20 {
					png := readPNG(t, sharedData(t, "cifar10"), i, l)
					if d := meanAbsDiff(x.Float32s()[i*3072:(i+1)*3072], png) * 255; d > 1e-4 { // float rounding only
						t.Errorf("image %d differs from its PNG by %g on average", i, d)
					}
				}
			}},
		{name: "cifar10-test-jpeg", sub: "cifar10", kind: "cifar10", split: "test", opts: data.Options{Limit: 20}, n: 20,
			shape: []int{20, 3, 32, 32}, dtype: tensor.Float32,
			labels:  []int64{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9}, // interleaved classes
			classes: 10,
			check: func(t *testing.T, x, _ *tensor.Tensor) {
				// Example 3 is test/cat/0000.jpg = test image 0, example 8 is
				// test/ship/0000.jpg = test image 1, example 18 ship/0001 = image 2:
				// equal up to JPEG noise (README: mean |diff| 4.5-8.1 of 255).
				dir := sharedData(t, "cifar10")
				for _, c := range []struct{ ex, img int }{{3, 0}, {8, 1}, {18, 2}, {0, 3}} {
					png := readPNG(t, dir, c.img, cifarFirst20[c.img])
					d := meanAbsDiff(x.Float32s()[c.ex*3072:(c.ex+1)*3072], png) * 255
					if d > 10 {
						t.Errorf("example %d differs from test image %d by %.1f/255 on average", c.ex, c.img, d)
					}
				}
			}},
		{name: "cifar10-train-jpeg", slow: true, sub: "cifar10", kind: "cifar10", split: "train", opts: data.Options{Limit: 12, Layout: "NHWC"}, n: 12,
			shape: []int{12, 32, 32, 3}, dtype: tensor.Float32, labels: []int64{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 0, 1}, classes: 10},
		{name: "imdb-train", slow: true, sub: "imdb", kind: "imdb", split: "train", opts: data.Options{Limit: 6}, n: 6,
			shape: []int{6, 100}, dtype: tensor.Int64, labels: []int64{0, 1, 0, 1, 0, 1}, classes: 2,
			check: func(t *testing.T, x, _ *tensor.Tensor) { checkSequences(t, x, 10000) }},
		{name: "speech-train", sub: "speech_commands_v0.01_subset", kind: "speech", split: "train", n: 205,
			shape: []int{205, 1, 20, 80}, dtype: tensor.Float32, classes: 30, labels: []int64{0, 1, 2, 3},
			check: func(t *testing.T, x, y *tensor.Tensor) {
				checkRange(t, x.Float32s(), float32(math.Log(1e-6))-1e-3, 20)
				for w, n := range classCounts(y.Int64s(), 30) {
					if n == 0 {
						t.Errorf("word %d has no training clip", w)
					}
				}
			}},
		{name: "speech-validation", sub: "speech_commands_v0.01_subset", kind: "speech", split: "validation", n: 44,
			shape: []int{44, 1, 20, 80}, dtype: tensor.Float32, classes: 30},
		{name: "speech-test-mfcc-nhwc", sub: "speech_commands_v0.01_subset", kind: "speech", split: "test",
			opts: data.Options{Features: "mfcc", Layout: "NHWC"}, n: 51,
			shape: []int{51, 20, 80, 1}, dtype: tensor.Float32, classes: 30},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if c.slow && testing.Short() {
				t.Skip("reads a whole archive; not run with -short")
			}
			p := filepath.Join(sharedData(t, c.sub), c.path)
			ds, err := data.Open(c.kind+":"+p, c.split, c.opts)
			if err != nil {
				t.Fatal(err)
			}
			if ds.Len() != c.n {
				t.Fatalf("Len %d, want %d", ds.Len(), c.n)
			}
			x, y := batchAll(t, ds)
			if !slices.Equal(x.Shape(), c.shape) || x.DType() != c.dtype {
				t.Errorf("input %v %v, want %v %v", x.DType(), x.Shape(), c.dtype, c.shape)
			}
			if y.DType() != tensor.Int64 || !slices.Equal(y.Shape(), []int{c.n}) {
				t.Errorf("label %v %v, want int64 [%d]", y.DType(), y.Shape(), c.n)
			}
			labels := y.Int64s()
			if len(c.labels) > 0 && !slices.Equal(labels[:len(c.labels)], c.labels) {
				t.Errorf("labels start %v, want %v", labels[:len(c.labels)], c.labels)
			}
			for i, l := range labels {
				if l < 0 || l >= int64(c.classes) {
					t.Fatalf("label %d of example %d is outside [0, %d)", l, i, c.classes)
				}
			}
			if cn, ok := ds.(data.ClassNamer); ok && cn.Classes() != nil && len(cn.Classes()) != c.classes {
				t.Errorf("%d class names, want %d", len(cn.Classes()), c.classes)
			}
			if c.check != nil {
				c.check(t, x, y)
			}
		})
	}
}

func checkRange(t *testing.T, v []float32, lo, hi float32) {
	t.Helper()
	for i, f := range v {
		if !(f >= lo && f <= hi) {
			t.Fatalf("element %d = %g is outside [%g, %g]", i, f, lo, hi)
		}
	}
}

// checkSequences checks Keras-style padded id sequences: ids in [0,
// numWords), zeros only as a prefix, a padded review starts with id 1.
func checkSequences(t *testing.T, x *tensor.Tensor, numWords int64) {
	t.Helper()
	n, l := x.Shape()[0], x.Shape()[1]
	v := x.Int64s()
	padded := 0
	for i := 0; i < n; i++ {
		row := v[i*l : (i+1)*l]
		k := 0
		for k < l && row[k] == 0 {
			k++
		}
		if k > 0 {
			padded++
			if k == l || row[k] != data.IMDBStart {
				t.Errorf("review %d: padding not followed by the start id: %v", i, row[k:min(k+3, l)])
			}
		}
		for _, id := range row[k:] {
			if id < 1 || id >= numWords {
				t.Fatalf("review %d has id %d outside [1, %d)", i, id, numWords)
			}
		}
	}
	if l >= 500 && padded == 0 {
		t.Errorf("no review is shorter than %d ids", l)
	}
}

// readPNG reads test_first20_png/cifar10_<i>_<label>.png as CHW floats in
// [0,1].
func readPNG(t *testing.T, dir string, i int, label int64) []float32 {
	t.Helper()
	f, err := os.Open(filepath.Join(dir, "test_first20_png", "cifar10_"+twoDigits(i)+"_"+string(rune('0'+label))+".png"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	img, err := png.Decode(f)
	if err != nil {
		t.Fatal(err)
	}
	out := make([]float32, 3*32*32)
	for y := 0; y < 32; y++ {
		for x := 0; x < 32; x++ {
			r, g, b, _ := img.At(x, y).RGBA()
			out[0*1024+y*32+x] = float32(r>>8) / 255
			out[1*1024+y*32+x] = float32(g>>8) / 255
			out[2*1024+y*32+x] = float32(b>>8) / 255
		}
	}
	return out
}

func twoDigits(i int) string { return string([]byte{byte('0' + i/10), byte('0' + i%10)}) }

func meanAbsDiff(a, b []float32) float64 {
	var s float64
	for i := range a {
		s += math.Abs(float64(a[i] - b[i]))
	}
	return s / float64(len(a))
}

func TestIMDBWordIndex(t *testing.T) {
	dir := sharedData(t, "imdb")
	idx, err := data.LoadWordIndex(filepath.Join(dir, "imdb_word_index.json"))
	if err != nil {
		t.Fatal(err)
	}
	if len(idx) != 88584 {
		t.Errorf("%d words, want 88584", len(idx))
	}
	for w, r := range map[string]int{"the": 1, "and": 2, "a": 3, "of": 4} {
		if idx[w] != r {
			t.Errorf("rank of %q is %d, want %d", w, idx[w], r)
		}
	}
	got := data.EncodeIMDB("The film<br /><br />and THE, \"zzzqqq\" of it's", idx, 10000)
	// start, the+3, film, and+3, the+3, OOV, of+3, it's
	want := []int64{1, 4, int64(idx["film"] + 3), 5, 4, 2, 7, int64(idx["it's"] + 3)}
	if !slices.Equal(got, want) {
		t.Errorf("EncodeIMDB = %v, want %v", got, want)
	}
	if idx["it's"] == 0 || idx["film"] == 0 {
		t.Errorf("\"it's\" or \"film\" missing from the word index")
	}
	if capped := data.EncodeIMDB("the film", idx, 5); !slices.Equal(capped, []int64{1, 4, 2}) {
		t.Errorf("with num_words 5: %v, want [1 4 2]", capped)
	}
}

func TestSpeechSplits(t *testing.T) {
	dir := sharedData(t, "speech_commands_v0.01_subset")
	ds, err := data.Open("speech:"+dir, "", data.Options{Limit: 3})
	if err != nil {
		t.Fatal(err)
	}
	cls := ds.(data.ClassNamer).Classes()
	if len(cls) != 30 || cls[0] != "bed" || cls[29] != "zero" || !slices.IsSorted(cls) {
		t.Errorf("classes %v, want the 30 words sorted, bed..zero", cls)
	}
	// Words are interleaved: bed, bird, cat.
	_, y := batchAll(t, ds)
	if !slices.Equal(y.Int64s(), []int64{0, 1, 2}) {
		t.Errorf("first labels %v, want [0 1 2]", y.Int64s())
	}
}
