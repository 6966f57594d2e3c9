package main

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"

	"github.com/onyxrt/onyx/benchmarks/internal/fmaloop"
)

// A modelSpec is one row of the model table: a model file and the inputs
// that every runtime is fed. Paths are relative to the benchmarks folder.
type modelSpec struct {
	Name  string   `json:"name"`
	What  string   `json:"what"`
	Model string   `json:"model"`
	Feeds []string `json:"feeds"` // serialized TensorProtos, named after graph inputs
	Quick bool     `json:"-"`     // in the default --quick set
	// MFLOP is the floating-point work of one run (2 per multiply-add),
	// set for the MatMul models, whose GFLOP/s the SGEMM table shows.
	MFLOP float64 `json:"mflop,omitempty"`
}

// sgemmSizes are the n of the n×n×n SGEMM table.
var sgemmSizes = []int{64, 128, 256, 512, 1024}

// sharedModels is where the shared real-world models live (used in place,
// never copied).
const sharedModels = "../../shared/models"

// localCase is a case folder written by models/make_models.py.
func localCase(name string, nInputs int) []string {
	var feeds []string
	for i := range nInputs {
		feeds = append(feeds, fmt.Sprintf("models/%s/input_%d.pb", name, i))
	}
	return feeds
}

// modelSpecs lists every model of the model table, in table order.
func modelSpecs() []modelSpec {
	specs := []modelSpec{
		{Name: "mnist-cnn b1", What: "the seed's Keras-style MNIST CNN (models/mnist-cnn), batch 1", Model: "../models/mnist-cnn/model.onnx", Feeds: localCase("mnist_b1", 1), Quick: true},
		{Name: "mnist-cnn b64", What: "same, batch 64", Model: "../models/mnist-cnn/model.onnx", Feeds: localCase("mnist_b64", 1)},
		{Name: "cifar-cnn", What: "Keras CIFAR-10 example CNN (4 conv, dense 512), 1x3x32x32, random weights", Model: "models/cifar_cnn/model.onnx", Feeds: localCase("cifar_cnn", 1)},
		{Name: "lstm50x10", What: "LSTM(50) over 10 steps of [10,1,1], then Gemm", Model: "models/lstm50x10/model.onnx", Feeds: localCase("lstm50x10", 1), Quick: true},
		{Name: "embed-lstm64x100", What: "Embedding(5000,64) + LSTM(64) over 100 int64 tokens + Dense", Model: "models/embed_lstm64x100/model.onnx", Feeds: localCase("embed_lstm64x100", 1)},
		{Name: "speech-cnn", What: "keyword-spotting CNN on 1x1x20x80 MFCCs (3 conv blocks, BN folded)", Model: "models/speech_cnn/model.onnx", Feeds: localCase("speech_cnn", 1)},
		{Name: "mobilenet-v2", What: "torchvision MobileNetV2, 1x3x224x224, random weights", Model: "models/mobilenet_v2/model.onnx", Feeds: localCase("mobilenet_v2", 1)},
		{Name: "resnet-50", What: "torchvision ResNet-50, 1x3x224x224, random weights", Model: "models/resnet50/model.onnx", Feeds: localCase("resnet50", 1)},
	}
	// Every Keras model of ../shared/models/keras, fed its own
	// test_data_set_0/input_0.pb (the batch that file holds), then the
	// classic ImageNet architectures of ../shared/models/onnx-light (real
	// graphs and shapes, constant weights; opset 9), each fed its
	// test_data_set_0 image.
	specs = append(specs, sharedCases("keras", "keras/", "", "shared real-world Keras export, its test_data_set_0 input")...)
	specs = append(specs, sharedCases("onnx-light", "onnx-light/", "light_", "ONNX backend-test ImageNet architecture (weights constant), 1x3x224x224")...)
	return specs
}

// sharedCases lists the backend-layout cases of ../shared/models/dir,
// named prefix + the folder's name without trim, each fed its
// test_data_set_0 inputs.
func sharedCases(dir, prefix, trim, what string) []modelSpec {
	var specs []modelSpec
	models, _ := filepath.Glob(filepath.Join(sharedModels, dir, "*", "model.onnx"))
	sort.Strings(models)
	for _, m := range models {
		d := filepath.Dir(m)
		feeds, _ := filepath.Glob(filepath.Join(d, "test_data_set_0", "input_*.pb"))
		sort.Strings(feeds)
		specs = append(specs, modelSpec{
			Name:  prefix + strings.TrimPrefix(filepath.Base(d), trim),
			What:  what,
			Model: m,
			Feeds: feeds,
		})
	}
	return specs
}

// matmulSpec is the MatMul model of one SGEMM size: Y = A·B with both
// operands graph inputs (no weight pre-packing for anyone).
func matmulSpec(n int) modelSpec {
	name := fmt.Sprintf("matmul_%d", n)
	return modelSpec{
		Name:  fmt.Sprintf("matmul %d", n),
		What:  fmt.Sprintf("MatMul of two %dx%d graph inputs", n, n),
		Model: "models/" + name + "/model.onnx",
		Feeds: localCase(name, 2),
		MFLOP: 2 * float64(n) * float64(n) * float64(n) / 1e6,
	}
}

// fmaPeakSpec is the FMA loop that measures what one core sustains (see
// internal/fmaloop): no model, no inputs.
func fmaPeakSpec() modelSpec {
	return modelSpec{Name: "fma loop", What: fmt.Sprintf("independent %d-bit FMAs, no memory operands", 32*fmaloop.Lanes()), MFLOP: fmaloop.RunMFLOP()}
}

// selectModels picks specs by comma-separated names; "all" takes every
// one, "keras" every shared Keras model, and a name may end in "*".
func selectModels(all []modelSpec, sel string, quick bool) ([]modelSpec, error) {
	if sel == "" {
		if !quick {
			return all, nil
		}
		var out []modelSpec
		for _, s := range all {
			if s.Quick {
				out = append(out, s)
			}
		}
		return out, nil
	}
	var out []modelSpec
	for _, want := range strings.Split(sel, ",") {
		want = strings.TrimSpace(want)
		if want == "" || want == "none" {
			continue
		}
		found := false
		for _, s := range all {
			if match(want, s.Name) && !slices.ContainsFunc(out, func(o modelSpec) bool { return o.Name == s.Name }) {
				out = append(out, s)
				found = true
			} else if match(want, s.Name) {
				found = true
			}
		}
		if !found {
			var names []string
			for _, s := range all {
				names = append(names, s.Name)
			}
			return nil, fmt.Errorf("no model %q; known: all, keras, %s", want, strings.Join(names, ", "))
		}
	}
	return out, nil
}

func match(pattern, name string) bool {
	switch {
	case pattern == "all":
		return true
	case pattern == "keras":
		return strings.HasPrefix(name, "keras/")
	case strings.HasSuffix(pattern, "*"):
		return strings.HasPrefix(name, strings.TrimSuffix(pattern, "*"))
	}
	return pattern == name || strings.ReplaceAll(name, " ", "-") == pattern
}

// missingFiles lists the files of a spec that are not there.
func missingFiles(s modelSpec) []string {
	var miss []string
	for _, f := range append([]string{s.Model}, s.Feeds...) {
		if _, err := os.Stat(f); err != nil {
			miss = append(miss, f)
		}
	}
	if len(s.Feeds) == 0 {
		miss = append(miss, "(no input_*.pb)")
	}
	return miss
}
