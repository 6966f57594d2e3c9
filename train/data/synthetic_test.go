package data_test

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"image"
	"image/color"
	"image/jpeg"
	"image/png"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/onyxrt/onyx/tensor"
	"github.com/onyxrt/onyx/train/data"
)

func writeFile(t *testing.T, name string, b []byte) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(name), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(name, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

func mustOpen(t *testing.T, source, split string, opts data.Options) data.Dataset {
	t.Helper()
	ds, err := data.Open(source, split, opts)
	if err != nil {
		t.Fatal(err)
	}
	return ds
}

func TestNPZ(t *testing.T) {
	dir := t.TempDir()
	x := tensor.From([]int{5, 3}, []float64{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14})
	y := tensor.From([]int{5}, []uint8{0, 1, 2, 1, 0})
	imgs := make([]uint8, 4*2*3)
	for i := range imgs {
		imgs[i] = uint8(10 * i)
	}
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(data.WriteNPZ(filepath.Join(dir, "xy.npz"), map[string]*tensor.Tensor{"x": x, "y": y}))
	must(data.WriteNPZ(filepath.Join(dir, "keras.npz"), map[string]*tensor.Tensor{
		"x_train": tensor.From([]int{4, 2, 3}, imgs), "y_train": tensor.From([]int{4}, []int64{3, 1, 4, 1}),
		"x_test": tensor.From([]int{1, 2}, []int32{7, 8}), "y_test": tensor.From([]int{1}, []float32{0.5}),
	}))
	must(data.WriteNPZ(filepath.Join(dir, "named.npz"), map[string]*tensor.Tensor{
		"input": tensor.From([]int{2, 2}, []float32{1, 2, 3, 4}), "label": tensor.From([]int{2}, []bool{true, false})}))
	for _, name := range []string{"x", "y"} {
		f, err := os.Create(filepath.Join(dir, "pair", name+".npy"))
		if os.IsNotExist(err) {
			must(os.Mkdir(filepath.Join(dir, "pair"), 0o755))
			f, err = os.Create(filepath.Join(dir, "pair", name+".npy"))
		}
		must(err)
		must(data.WriteNPY(f, map[string]*tensor.Tensor{"x": x, "y": y}[name]))
		must(f.Close())
	}
	cases := []struct {
		name, source, split string
		opts                data.Options
		shape               []int
		x                   any
		y                   any
	}{
		{"x/y", "npz:" + filepath.Join(dir, "xy.npz"), "", data.Options{},
			[]int{5, 3}, []float32{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14}, []int64{0, 1, 2, 1, 0}},
		{"limit", "npz:" + filepath.Join(dir, "xy.npz"), "all", data.Options{Limit: 2},
			[]int{2, 3}, []float32{0, 1, 2, 3, 4, 5}, []int64{0, 1}},
		{"uint8 images", "npz:" + filepath.Join(dir, "keras.npz"), "train", data.Options{Limit: 1},
			[]int{1, 1, 2, 3}, []float32{0, 10. / 255, 20. / 255, 30. / 255, 40. / 255, 50. / 255}, []int64{3}},
		{"int inputs, float labels", "npz:" + filepath.Join(dir, "keras.npz"), "test", data.Options{},
			[]int{1, 2}, []int64{7, 8}, []float32{0.5}},
		{"input/label", "npz:" + filepath.Join(dir, "named.npz"), "", data.Options{},
			[]int{2, 2}, []float32{1, 2, 3, 4}, []int64{1, 0}},
		{"npy dir", "npy:" + filepath.Join(dir, "pair"), "", data.Options{Limit: 1},
			[]int{1, 3}, []float32{0, 1, 2}, []int64{0}},
		{"npy files", "npy:" + filepath.Join(dir, "pair", "x.npy") + "," + filepath.Join(dir, "pair", "y.npy"), "", data.Options{},
			[]int{5, 3}, []float32{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14}, []int64{0, 1, 2, 1, 0}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			ds := mustOpen(t, c.source, c.split, c.opts)
			xt, yt := batchAll(t, ds)
			if !slices.Equal(xt.Shape(), c.shape) {
				t.Errorf("input shape %v, want %v", xt.Shape(), c.shape)
			}
			if !equalData(xt.Data(), c.x) || !equalData(yt.Data(), c.y) {
				t.Errorf("got %v / %v, want %v / %v", xt.Data(), yt.Data(), c.x, c.y)
			}
		})
	}
	if _, err := data.Open("npz:"+filepath.Join(dir, "keras.npz"), "", data.Options{}); err == nil ||
		!strings.Contains(err.Error(), "x_train") {
		t.Errorf("npz without x/y and no split: error %v should list the arrays", err)
	}
}

func equalData(a, b any) bool {
	switch a := a.(type) {
	case []float32:
		b, ok := b.([]float32)
		return ok && slices.EqualFunc(a, b, func(p, q float32) bool { return math.Abs(float64(p-q)) < 1e-6 })
	case []int64:
		b, ok := b.([]int64)
		return ok && slices.Equal(a, b)
	}
	return false
}

// npyBytes builds a .npy file by hand, as numpy would write it.
func npyBytes(header string, payload []byte) []byte {
	var b bytes.Buffer
	b.WriteString("\x93NUMPY\x01\x00")
	pad := 64 - (10+len(header)+1)%64
	header += strings.Repeat(" ", pad%64) + "\n"
	_ = binary.Write(&b, binary.LittleEndian, uint16(len(header)))
	b.WriteString(header)
	b.Write(payload)
	return b.Bytes()
}

func TestReadNPYVariants(t *testing.T) {
	be := make([]byte, 8)
	binary.BigEndian.PutUint32(be, math.Float32bits(1.5))
	binary.BigEndian.PutUint32(be[4:], math.Float32bits(-2))
	cases := []struct {
		name  string
		file  []byte
		shape []int
		want  any
	}{
		{"big-endian f4", npyBytes("{'descr': '>f4', 'fortran_order': False, 'shape': (2,), }", be), []int{2}, []float32{1.5, -2}},
		// Column-major [2,3]: memory 1 4 2 5 3 6 is the matrix [[1 2 3] [4 5 6]].
		{"fortran order", npyBytes("{'descr': '|u1', 'fortran_order': True, 'shape': (2, 3), }", []byte{1, 4, 2, 5, 3, 6}),
			[]int{2, 3}, []uint8{1, 2, 3, 4, 5, 6}},
		{"scalar", npyBytes("{'descr': '<i2', 'fortran_order': False, 'shape': (), }", []byte{0xff, 0xff}), []int{}, []int16{-1}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := data.ReadNPY(bytes.NewReader(c.file))
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(got.Shape(), c.shape) {
				t.Errorf("shape %v, want %v", got.Shape(), c.shape)
			}
			gs, ws := tensorString(got.Data()), tensorString(c.want)
			if gs != ws {
				t.Errorf("data %s, want %s", gs, ws)
			}
		})
	}
	for _, bad := range [][]byte{
		[]byte("not numpy"),
		npyBytes("{'descr': '|O', 'fortran_order': False, 'shape': (1,), }", make([]byte, 8)),
		npyBytes("{'descr': '<f4', 'fortran_order': False, 'shape': (4,), }", make([]byte, 8)), // short data
	} {
		if _, err := data.ReadNPY(bytes.NewReader(bad)); err == nil {
			t.Errorf("ReadNPY(%q...) succeeded", bad[:min(len(bad), 40)])
		}
	}
}

func tensorString(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

func TestCSV(t *testing.T) {
	dir := t.TempDir()
	files := map[string]string{
		"plain.csv":   "1,2,0\n3,4,1\n5,6,2\n",
		"header.csv":  "a,b,label\n1,2,0\n3,4,1\n",
		"classes.csv": "sepal,petal,species\n5.1,1.4,setosa\n6.3,4.9,virginica\n5.8,4.0,versicolor\n5.0,1.5,setosa\n",
		"first.csv":   "target, f1, f2\n1, 0.5, 0.25\n0, 1.5, 2.5\n",
		"regress.csv": "1,2,0.5\n3,4,1.25\n",
		"ragged.csv":  "1,2,0\n3,4\n",
		"text.csv":    "1,2,0\n3,x,1\n5,6,1\n",
	}
	for name, body := range files {
		writeFile(t, filepath.Join(dir, name), []byte(body))
	}
	cases := []struct {
		file    string
		opts    data.Options
		x       []float32
		y       any
		classes []string
		err     string
	}{
		{file: "plain.csv", x: []float32{1, 2, 3, 4, 5, 6}, y: []int64{0, 1, 2}},
		{file: "header.csv", x: []float32{1, 2, 3, 4}, y: []int64{0, 1}},
		{file: "classes.csv", opts: data.Options{Limit: 3}, x: []float32{5.1, 1.4, 6.3, 4.9, 5.8, 4.0}, y: []int64{0, 2, 1},
			classes: []string{"setosa", "versicolor", "virginica"}},
		{file: "first.csv", opts: data.Options{LabelColumn: "target"}, x: []float32{0.5, 0.25, 1.5, 2.5}, y: []int64{1, 0}},
		{file: "first.csv", opts: data.Options{LabelColumn: "0"}, x: []float32{0.5, 0.25, 1.5, 2.5}, y: []int64{1, 0}},
		{file: "plain.csv", opts: data.Options{LabelColumn: "-3"}, x: []float32{2, 0, 4, 1, 6, 2}, y: []int64{1, 3, 5}},
		{file: "regress.csv", x: []float32{1, 2, 3, 4}, y: []float32{0.5, 1.25}},
		{file: "ragged.csv", err: "fields"},
		{file: "text.csv", err: "not a number"},
		{file: "plain.csv", opts: data.Options{LabelColumn: "nope"}, err: "neither"},
	}
	for _, c := range cases {
		t.Run(c.file+"/"+c.opts.LabelColumn, func(t *testing.T) {
			ds, err := data.Open("csv:"+filepath.Join(dir, c.file), "", c.opts)
			if c.err != "" {
				if err == nil || !strings.Contains(err.Error(), c.err) {
					t.Fatalf("error %v, want one mentioning %q", err, c.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			x, y := batchAll(t, ds)
			if !equalData(x.Data(), c.x) || !equalData(y.Data(), c.y) {
				t.Errorf("got %v / %v, want %v / %v", x.Data(), y.Data(), c.x, c.y)
			}
			if got := ds.(data.ClassNamer).Classes(); !slices.Equal(got, c.classes) {
				t.Errorf("classes %v, want %v", got, c.classes)
			}
		})
	}
	if _, err := data.Open("csv:"+filepath.Join(dir, "plain.csv"), "train", data.Options{}); err == nil {
		t.Error("csv with split \"train\" succeeded")
	}
}

func encodeImage(t *testing.T, ext string, w, h int, c color.Color) []byte {
	t.Helper()
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			img.Set(x, y, c)
		}
	}
	var b bytes.Buffer
	var err error
	if ext == ".png" {
		err = png.Encode(&b, img)
	} else {
		err = jpeg.Encode(&b, img, &jpeg.Options{Quality: 100})
	}
	if err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func TestImageFolder(t *testing.T) {
	dir := t.TempDir()
	red, blue := color.RGBA{255, 0, 0, 255}, color.RGBA{0, 0, 255, 255}
	writeFile(t, filepath.Join(dir, "train", "red", "a.png"), encodeImage(t, ".png", 8, 6, red))
	writeFile(t, filepath.Join(dir, "train", "red", "b.jpg"), encodeImage(t, ".jpg", 4, 4, red))
	writeFile(t, filepath.Join(dir, "train", "red", "nested", "c.PNG"), encodeImage(t, ".png", 2, 2, red))
	writeFile(t, filepath.Join(dir, "train", "blue", "a.jpeg"), encodeImage(t, ".jpg", 16, 16, blue))
	writeFile(t, filepath.Join(dir, "train", "blue", "notes.txt"), []byte("not an image"))
	writeFile(t, filepath.Join(dir, "train", "stray.png"), encodeImage(t, ".png", 3, 3, blue))

	ds := mustOpen(t, "imagefolder:"+dir, "train", data.Options{Size: [2]int{4, 5}})
	if got := ds.(data.ClassNamer).Classes(); !slices.Equal(got, []string{"blue", "red"}) {
		t.Errorf("classes %v, want [blue red]", got)
	}
	x, y := batchAll(t, ds)
	// Interleaved: blue/a, red/a, red/b, red/nested/c.
	if !slices.Equal(y.Int64s(), []int64{0, 1, 1, 1}) {
		t.Errorf("labels %v, want [0 1 1 1]", y.Int64s())
	}
	if !slices.Equal(x.Shape(), []int{4, 3, 4, 5}) {
		t.Fatalf("shape %v, want [4 3 4 5]", x.Shape())
	}
	v := x.Float32s()
	per := 3 * 4 * 5
	for i, want := range [][3]float32{{0, 0, 1}, {1, 0, 0}, {1, 0, 0}, {1, 0, 0}} {
		for ch := 0; ch < 3; ch++ {
			for _, p := range v[i*per+ch*20 : i*per+(ch+1)*20] {
				if math.Abs(float64(p-want[ch])) > 0.02 {
					t.Fatalf("image %d channel %d has %g, want %g", i, ch, p, want[ch])
				}
			}
		}
	}
	// Grey, NHWC, the native size of the first image (16x16 blue).
	ds = mustOpen(t, "imagefolder:"+filepath.Join(dir, "train"), "", data.Options{Channels: 1, Layout: "nhwc", Limit: 2})
	x, _ = batchAll(t, ds)
	if !slices.Equal(x.Shape(), []int{2, 16, 16, 1}) {
		t.Fatalf("shape %v, want [2 16 16 1]", x.Shape())
	}
	if g := x.Float32s()[0]; math.Abs(float64(g-0.114)) > 0.01 {
		t.Errorf("grey of blue is %g, want ~0.114", g)
	}
	if _, err := data.Open("imagefolder:"+dir, "test", data.Options{}); err == nil {
		t.Error("missing split folder: no error")
	}
}

// TestIMDBSynthetic checks tokenizing, the word-id mapping, num_words and
// Keras pre-padding/pre-truncation on a tiny extracted aclImdb tree.
func TestIMDBSynthetic(t *testing.T) {
	dir := t.TempDir()
	index := map[string]int{"the": 1, "movie": 2, "good": 3, "bad": 4, "was": 5, "it's": 6}
	b, _ := json.Marshal(index)
	writeFile(t, filepath.Join(dir, "imdb_word_index.json"), b)
	writeFile(t, filepath.Join(dir, "aclImdb", "train", "pos", "10_9.txt"), []byte("The movie was GOOD!<br /><br />It's good."))
	writeFile(t, filepath.Join(dir, "aclImdb", "train", "pos", "9_8.txt"), []byte("good"))
	writeFile(t, filepath.Join(dir, "aclImdb", "train", "neg", "0_1.txt"), []byte("Bad, bad, BAD movie... unwatchable"))
	writeFile(t, filepath.Join(dir, "aclImdb", "test", "neg", "0_2.txt"), []byte("the"))

	ds := mustOpen(t, "imdb:"+dir, "train", data.Options{MaxLen: 6, NumWords: 8})
	x, y := batchAll(t, ds)
	// Order: neg 0, pos 9, pos 10 (interleaved, then by numeric id).
	if !slices.Equal(y.Int64s(), []int64{0, 1, 1}) {
		t.Errorf("labels %v, want [0 1 1]", y.Int64s())
	}
	// ids: the 4, movie 5, good 6, bad 7; was 8 and it's 9 are >= NumWords
	// (8) and become OOV 2, as does the unknown "unwatchable".
	got := x.Int64s()
	for i, row := range [][]int64{
		{1, 7, 7, 7, 5, 2}, // exactly MaxLen ids
		{0, 0, 0, 0, 1, 6}, // pre-padded [start good]
		{4, 5, 2, 6, 2, 6}, // [start the movie was good it's good] pre-truncated
	} {
		if !slices.Equal(got[i*6:(i+1)*6], row) {
			t.Errorf("review %d: %v, want %v", i, got[i*6:(i+1)*6], row)
		}
	}
	ds = mustOpen(t, "imdb:"+dir, "test", data.Options{})
	x, _ = batchAll(t, ds)
	if !slices.Equal(x.Shape(), []int{1, 100}) || x.Int64s()[98] != 1 || x.Int64s()[99] != 4 {
		t.Errorf("test review: shape %v, tail %v", x.Shape(), x.Int64s()[95:])
	}
}
