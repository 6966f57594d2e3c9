package main

import (
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"
)

const opsSynopsis = `usage: infer ops [--markdown | --json]

Lists the operators Onyx implements: name, domain, and the opset versions
at which each has an implementation (a model at opset V uses the largest
version not above V).

examples:
  infer ops
  infer ops --markdown > OPERATORS.md`

func cmdOps(args []string, stdout, stderr io.Writer) (code int) {
	defer recoverTo(stderr, "ops", &code)
	fs := newFlagSet("ops", opsSynopsis, stderr)
	markdown := fs.Bool("markdown", false, "print a Markdown table")
	asJSON := fs.Bool("json", false, "print a JSON array of {name, domain, versions}")
	pos, err := parseFlags(fs, args)
	if err != nil {
		return parseOutcome(err)
	}
	if len(pos) > 0 || *markdown && *asJSON {
		fmt.Fprintln(stderr, "infer ops: takes no arguments, and one of --markdown and --json at most")
		fs.Usage()
		return 2
	}
	list := registry().List()
	switch {
	case *asJSON:
		type opJSON struct {
			Name     string `json:"name"`
			Domain   string `json:"domain"`
			Versions []int  `json:"versions"`
		}
		out := make([]opJSON, len(list))
		for i, o := range list {
			out[i] = opJSON{o.Name, o.Domain, o.Versions}
		}
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(out); err != nil {
			fmt.Fprintln(stderr, "infer ops:", err)
			return 1
		}
	case *markdown:
		fmt.Fprintln(stdout, "| Operator | Domain | Versions |")
		fmt.Fprintln(stdout, "|---|---|---|")
		for _, o := range list {
			fmt.Fprintf(stdout, "| %s | %s | %s |\n", o.Name, o.Domain, versions(o.Versions))
		}
	default:
		tw := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', 0)
		for _, o := range list {
			fmt.Fprintf(tw, "%s\t%s\t%s\n", o.Name, o.Domain, versions(o.Versions))
		}
		tw.Flush()
		fmt.Fprintf(stderr, "%d operators\n", len(list))
	}
	return 0
}

func versions(v []int) string {
	s := make([]string, len(v))
	for i, x := range v {
		s[i] = strconv.Itoa(x)
	}
	return strings.Join(s, ", ")
}
