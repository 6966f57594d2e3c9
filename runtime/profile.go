package runtime

import "time"

// NodeTime is the time one node of a session compiled with
// Options.ProfileNodes spent in its kernel, summed over runs.
type NodeTime struct {
	// Node is the node's name; OpType its operator after the graph
	// passes (a fused node has the op type of the fusion, e.g. a Conv
	// that absorbed its activation).
	Node, OpType string
	// Calls counts the runs that executed the node.
	Calls int64
	// Total is the wall-clock time of those calls: with several threads,
	// the time the run waited for the node, not CPU time.
	Total time.Duration
}

// NodeTimes returns the time of each node that runs, in execution order,
// accumulated since Compile or the last ResetNodeTimes; nil unless the
// session was compiled with Options.ProfileNodes. Nodes folded into
// constants at Compile do not appear, and the nodes of subgraphs (If,
// Loop, Scan bodies) count in the time of the node that holds them.
func (s *Session) NodeTimes() []NodeTime {
	p := s.prog
	if p.prof == nil {
		return nil
	}
	out := make([]NodeTime, len(p.steps))
	for i := range p.steps {
		out[i] = NodeTime{
			Node:   p.steps[i].node,
			OpType: p.steps[i].opType,
			Calls:  p.prof[i].calls.Load(),
			Total:  time.Duration(p.prof[i].nanos.Load()),
		}
	}
	return out
}

// ResetNodeTimes sets the times NodeTimes reports back to zero (after
// warm-up runs, say). Runs in progress may still add to them.
func (s *Session) ResetNodeTimes() {
	for i := range s.prog.prof {
		s.prog.prof[i].calls.Store(0)
		s.prog.prof[i].nanos.Store(0)
	}
}
