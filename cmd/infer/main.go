// Command infer runs, inspects, checks and benchmarks ONNX models with
// Onyx.
//
//	infer run MODEL [INPUT...]     run a model on .npy/.pb/image inputs or --random
//	infer info MODEL               describe a model
//	infer check DIR...             run ONNX backend-format test cases
//	infer bench MODEL              measure latency
//	infer ops                      list the supported operators
//	infer train MODEL              train a model on a data source
//	infer eval MODEL               accuracy and confusion matrix on labelled data
//	infer finetune MODEL           transfer learning: cut, new head, train
//	infer explain MODEL IMAGE      saliency or integrated gradients as a heat map
//
// Results go to stdout, diagnostics to stderr. Exit status: 0 success, 1
// failure, 2 usage error.
package main

import (
	"fmt"
	"io"
	"os"

	"github.com/onyxrt/onyx/ops"
	"github.com/onyxrt/onyx/train"
)

// command is one subcommand.
type command struct {
	name    string
	summary string
	run     func(args []string, stdout, stderr io.Writer) int
}

func commands() []command {
	return []command{
		{"run", "run a model on inputs and print its outputs", cmdRun},
		{"info", "describe a model: producer, opsets, inputs, outputs, operators", cmdInfo},
		{"check", "run ONNX backend-format test cases and report failures", cmdCheck},
		{"bench", "measure a model's latency on generated inputs", cmdBench},
		{"ops", "list the supported operators and their opset versions", cmdOps},
		{"train", "train a model with initial weights on a labelled data set", cmdTrain},
		{"eval", "measure a classifier's accuracy and confusion matrix on labelled data", cmdEval},
		{"finetune", "replace a model's head with a new classifier and train it", cmdFinetune},
		{"explain", "draw which pixels of an image drive a class score (saliency map)", cmdExplain},
	}
}

func main() { os.Exit(run(os.Args[1:], os.Stdout, os.Stderr)) }

func run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		usage(stderr)
		if len(args) == 0 {
			return 2
		}
		return 0
	}
	for _, c := range commands() {
		if c.name == args[0] {
			return c.run(args[1:], stdout, stderr)
		}
	}
	fmt.Fprintf(stderr, "infer: unknown command %q\n", args[0])
	usage(stderr)
	return 2
}

// registry returns the operators the CLI runs models with: every ONNX
// operator Onyx implements plus those that need its autograd (Gradient).
func registry() *ops.Registry { return train.Registry() }

func usage(w io.Writer) {
	fmt.Fprintln(w, "usage: infer COMMAND [flags] [args]\n\ncommands:")
	for _, c := range commands() {
		fmt.Fprintf(w, "  %-8s %s\n", c.name, c.summary)
	}
	fmt.Fprintln(w, "\nRun 'infer COMMAND -h' for a command's flags and an example.")
}
